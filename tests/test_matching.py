"""Matching engine: the regulation's hard rules, exact optimality, edge cases, determinism.

Regulation: seed ``regulation_and_roadmap_school2_ustyuzhna.txt`` (§2.2–§2.6, §3.1). No Prefect,
no database: the engine is pure.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import MentoringForm
from nastavnik.matching import (
    ALL_FORBIDDEN,
    NO_CAPACITY,
    NO_CONSENTS,
    NO_EXPERIENCED_EMPLOYER,
    NO_HIGHER_GRADE_MENTOR,
    NO_MENTOR_OF_FORM,
    NOT_YOUNG_SPECIALIST,
    Constraints,
    MatchResult,
    MenteeCandidate,
    MentorCandidate,
    Policy,
    Weights,
    check_pair,
    int_score,
    match,
    remaining_capacity,
    score,
)

SS = MentoringForm.student_student
TT = MentoringForm.teacher_teacher
ES = MentoringForm.employer_student


def mentee(id: str = "e1", form: MentoringForm = SS, **kw: object) -> MenteeCandidate:
    """A mentee that passes every rule unless told otherwise."""
    base: dict[str, object] = {
        "grade": 6 if form is not TT else None,
        "experience_years": 1 if form is TT else None,
        "is_new_staff": False,
        "subjects": frozenset({"математика"}),
        "interests": frozenset({"шахматы"}),
        "requests": frozenset({"олимпиада"}),
        "availability": frozenset({"вторник"}),
        "has_consents": True,
    }
    base.update(kw)
    return MenteeCandidate(id=id, form=form, **base)  # type: ignore[arg-type]


def mentor(id: str = "r1", forms: frozenset[MentoringForm] = frozenset({SS}), **kw: object):
    """A mentor that passes every rule for its forms unless told otherwise."""
    pupil = SS in forms
    base: dict[str, object] = {
        "grade": 10 if pupil else None,
        "experience_years": None if pupil else 20,
        "is_employer": ES in forms,
        "competencies": frozenset({"математика", "олимпиада"}),
        "interests": frozenset({"шахматы"}),
        "availability": frozenset({"вторник"}),
        "capacity": 3,
        "active_mentees": 0,
        "has_consents": True,
        "admitted": True,
    }
    base.update(kw)
    return MentorCandidate(id=id, forms=forms, **base)  # type: ignore[arg-type]


def matched(result: MatchResult) -> dict[str, str]:
    return result.assignment()


def reason_of(result: MatchResult, mentee_id: str) -> str:
    return next(u.reason for u in result.unmatched if u.mentee_id == mentee_id)


# ---------------------------------------------------------------------------------------------
# Hard rules, one by one


def test_pupil_mentor_must_be_in_a_higher_grade() -> None:
    """§2.2: «один из обучающихся находится на более высокой ступени образования»."""
    same = mentor(grade=6)
    lower = mentor("r2", grade=5)
    result = match([mentee(grade=6)], [same, lower])
    assert matched(result) == {}
    assert reason_of(result, "e1") == NO_HIGHER_GRADE_MENTOR
    assert check_pair(mentee(grade=6), mentor(grade=7)) is None
    assert check_pair(mentee(grade=None), mentor(grade=9)) == NO_HIGHER_GRADE_MENTOR


def test_pupil_mentor_higher_stage_when_read_strictly() -> None:
    """§2.2 read as «ступень образования» (1–4, 5–9, 10–11): grade 7 cannot mentor grade 6."""
    strict = Policy(pupil_mentor_higher_stage=True)
    assert check_pair(mentee(grade=6), mentor(grade=7), policy=strict) == NO_HIGHER_GRADE_MENTOR
    assert check_pair(mentee(grade=6), mentor(grade=10), policy=strict) is None
    assert matched(match([mentee(grade=6)], [mentor(grade=7)], policy=strict)) == {}


def test_teacher_mentee_must_be_young_specialist_or_new_staff() -> None:
    """§2.3: «молодого специалиста (при опыте работы от 0 до 3 лет) или нового сотрудника
    (при смене места работы)»."""
    teacher = mentor(forms=frozenset({TT}))
    young = mentee("e1", TT, experience_years=3)
    veteran = mentee("e2", TT, experience_years=4)
    newcomer = mentee("e3", TT, experience_years=15, is_new_staff=True)
    result = match([young, veteran, newcomer], [teacher])
    assert matched(result) == {"e1": "r1", "e3": "r1"}
    assert reason_of(result, "e2") == NOT_YOUNG_SPECIALIST
    relaxed = Policy(young_specialist_max_years=5)
    assert matched(match([veteran], [teacher], policy=relaxed)) == {"e2": "r1"}


def test_employer_mentor_needs_five_years() -> None:
    """§2.4.4: «Неравнодушный профессионал с большим (от 5 лет) опытом работы»."""
    pupil = mentee(form=ES, grade=10)
    junior = mentor("r1", frozenset({ES}), experience_years=4)
    not_employer = mentor("r2", frozenset({ES}), experience_years=30, is_employer=False)
    result = match([pupil], [junior, not_employer])
    assert matched(result) == {}
    assert reason_of(result, "e1") == NO_EXPERIENCED_EMPLOYER
    senior = mentor("r3", frozenset({ES}), experience_years=5)
    assert matched(match([pupil], [junior, senior])) == {"e1": "r3"}


def test_at_most_three_mentees_at_once() -> None:
    """§2.5: «Максимальное число лиц, в отношении которых наставник одновременно осуществляет
    наставничество, не может превышать трех»."""
    mentees = [mentee(f"e{i}") for i in range(5)]
    result = match(mentees, [mentor(capacity=10)])
    assert len(matched(result)) == 3
    assert {u.reason for u in result.unmatched} == {NO_CAPACITY}


def test_active_pairs_of_earlier_cycles_count_against_the_limit() -> None:
    """§2.5 counts persons mentored «одновременно»: pairs still active from earlier cycles use
    the same three places."""
    mentees = [mentee(f"e{i}") for i in range(3)]
    result = match(mentees, [mentor(active_mentees=2)])
    assert len(matched(result)) == 1
    assert remaining_capacity(mentor(active_mentees=5)) == 0  # never negative
    assert matched(match(mentees, [mentor(active_mentees=5)])) == {}


def test_director_sets_a_smaller_capacity() -> None:
    """§3.1: the director «определяет число лиц, в отношении которых наставник одновременно
    осуществляет наставничество» — a per-mentor capacity, earlier active pairs included."""
    mentees = [mentee(f"e{i}") for i in range(3)]
    assert len(matched(match(mentees, [mentor(capacity=1)]))) == 1
    assert matched(match(mentees, [mentor(capacity=2, active_mentees=2)])) == {}


def test_written_consent_of_both_sides() -> None:
    """§2.6: «с обязательным письменным согласием лица, назначаемого наставником, и лица, в
    отношении которого осуществляется наставничество»."""
    result = match([mentee(has_consents=False)], [mentor()])
    assert reason_of(result, "e1") == NO_CONSENTS
    assert matched(match([mentee()], [mentor(has_consents=False)])) == {}
    assert matched(
        match([mentee()], [mentor(has_consents=False)], policy=Policy(require_consents=False))
    ) == {"e1": "r1"}


def test_only_admitted_mentors_of_the_requested_form() -> None:
    """§2.7 and DESIGN §3 stage 2: only selected (trained) mentors, approved by order, are paired;
    and the form must be one the mentor offers (§2.1)."""
    result = match([mentee()], [mentor(admitted=False), mentor("r2", frozenset({TT}))])
    assert matched(result) == {}
    assert reason_of(result, "e1") == NO_MENTOR_OF_FORM


def test_forbidden_pairs_are_never_proposed() -> None:
    """§3.1: the director «вносит необходимые изменения» — a curator's ban is a hard rule."""
    ban = Constraints(forbid=frozenset({("e1", "r1")}))
    result = match([mentee()], [mentor()], constraints=ban)
    assert matched(result) == {}
    assert reason_of(result, "e1") == ALL_FORBIDDEN
    result = match([mentee()], [mentor(), mentor("r2")], constraints=ban)
    assert matched(result) == {"e1": "r2"}


# ---------------------------------------------------------------------------------------------
# Locked pairs


def test_locked_pair_is_honoured_even_if_worse() -> None:
    """§2.7 «Утверждение кандидатуры наставника осуществляется приказом»: a pair the curator
    locks stays, even when the optimiser would prefer another mentor."""
    good = mentor("r1")
    poor = mentor("r2", competencies=frozenset(), interests=frozenset(), availability=frozenset())
    free = match([mentee()], [good, poor])
    assert matched(free) == {"e1": "r1"}
    locked = match(
        [mentee()], [good, poor], constraints=Constraints(keep=frozenset({("e1", "r2")}))
    )
    assert matched(locked) == {"e1": "r2"}
    assert locked.pairs[0].locked


def test_locked_pair_takes_a_place_of_the_three() -> None:
    """§2.5: a locked pair counts against «не может превышать трех»."""
    mentees = [mentee(f"e{i}") for i in range(4)]
    keep = Constraints(keep=frozenset({("e3", "r1")}))
    result = match(mentees, [mentor()], constraints=keep)
    assert len(matched(result)) == 3 and matched(result)["e3"] == "r1"


@pytest.mark.parametrize(
    ("the_mentee", "the_mentor", "needle"),
    [
        (mentee(grade=9), mentor(grade=8), "2.2"),
        (mentee(form=TT, experience_years=10), mentor(forms=frozenset({TT})), "2.3"),
        (mentee(form=ES, grade=10), mentor(forms=frozenset({ES}), experience_years=2), "2.4.4"),
        (mentee(has_consents=False), mentor(), "2.6"),
        (mentee(), mentor(active_mentees=3), "2.5"),
    ],
)
def test_locked_pair_breaking_a_rule_raises(
    the_mentee: MenteeCandidate, the_mentor: MentorCandidate, needle: str
) -> None:
    """A locked pair that breaks a hard rule is refused with the pair and the clause named."""
    keep = Constraints(keep=frozenset({(the_mentee.id, the_mentor.id)}))
    with pytest.raises(ValueError, match=r"\(e1, r1\)") as err:
        match([the_mentee], [the_mentor], constraints=keep)
    assert needle in str(err.value)


def test_locked_and_forbidden_at_once_raises() -> None:
    pair = frozenset({("e1", "r1")})
    with pytest.raises(ValueError, match="запрещена"):
        match([mentee()], [mentor()], constraints=Constraints(keep=pair, forbid=pair))


# ---------------------------------------------------------------------------------------------
# Edge cases


def test_empty_input() -> None:
    result = match([], [])
    assert (result.pairs, result.groups, result.unmatched) == ([], [], [])
    assert result.total_score == 0 and result.worst_score is None
    assert match([mentee()], []).unmatched[0].reason == NO_MENTOR_OF_FORM
    assert match([], [mentor()]).pairs == []


def test_more_mentees_than_capacity() -> None:
    mentees = [mentee(f"e{i}") for i in range(10)]
    mentors = [mentor("r1"), mentor("r2", capacity=2)]
    result = match(mentees, mentors)
    assert len(matched(result)) == 5
    assert len(result.unmatched) == 5 and {u.reason for u in result.unmatched} == {NO_CAPACITY}


def test_all_pairs_forbidden() -> None:
    mentees = [mentee("e1"), mentee("e2")]
    mentors = [mentor("r1"), mentor("r2")]
    ban = Constraints(forbid=frozenset((e.id, r.id) for e in mentees for r in mentors))
    result = match(mentees, mentors, constraints=ban)
    assert matched(result) == {}
    assert {u.reason for u in result.unmatched} == {ALL_FORBIDDEN}


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="повторяющийся"):
        match([mentee(), mentee()], [mentor()])


def test_reasons_are_in_russian_and_name_the_match() -> None:
    value, reasons = score(mentee(), mentor(competencies=frozenset({"математика"})))
    assert 0 < value <= 1
    assert reasons[0] == "общий предмет: математика"
    assert "запрошенная форма: ученик–ученик" in reasons
    teacher = mentor(forms=frozenset({TT}), experience_years=19)
    _, reasons = score(mentee(form=TT, experience_years=1), teacher, Weights(experience=1))
    assert reasons[0] == "разница в опыте: 18 лет"


# ---------------------------------------------------------------------------------------------
# Groups


def test_group_wanting_mentees_with_one_mentor_form_a_group() -> None:
    """DESIGN §3 «пар/групп»; a group counts person by person against §2.5's three."""
    mentees = [mentee(f"e{i}", wants_group=True) for i in range(4)]
    result = match(mentees, [mentor()])
    assert len(result.groups) == 1 and len(result.groups[0].mentee_ids) == 3
    assert len(result.unmatched) == 1 and result.unmatched[0].reason == NO_CAPACITY


def test_a_lone_group_wanting_mentee_gets_a_pair() -> None:
    result = match([mentee(wants_group=True), mentee("e2")], [mentor()])
    assert result.groups == []
    assert len(result.pairs) == 2
    assert any("группа не набралась" in r for p in result.pairs for r in p.reasons)


# ---------------------------------------------------------------------------------------------
# Optimality against brute force


VOCAB = ["математика", "физика", "история", "олимпиада"]
INTERESTS = ["шахматы", "театр", "футбол"]
SLOTS = ["пн", "вт", "ср"]
FORMS = [SS, TT, ES]


def subsets(pool: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(pool), max_size=len(pool))


mentees_st = st.builds(
    MenteeCandidate,
    id=st.just(""),
    form=st.sampled_from(FORMS),
    grade=st.one_of(st.none(), st.integers(1, 11)),
    experience_years=st.one_of(st.none(), st.integers(0, 6)),
    is_new_staff=st.booleans(),
    subjects=subsets(VOCAB),
    interests=subsets(INTERESTS),
    requests=subsets(VOCAB),
    availability=subsets(SLOTS),
    has_consents=st.integers(0, 9).map(bool),
    wants_group=st.booleans(),
)
mentors_st = st.builds(
    MentorCandidate,
    id=st.just(""),
    forms=st.frozensets(st.sampled_from(FORMS), min_size=1),
    grade=st.one_of(st.none(), st.integers(1, 11)),
    experience_years=st.one_of(st.none(), st.integers(0, 25)),
    is_employer=st.booleans(),
    competencies=subsets(VOCAB),
    interests=subsets(INTERESTS),
    availability=subsets(SLOTS),
    capacity=st.integers(1, 3),
    active_mentees=st.integers(0, 2),
    has_consents=st.integers(0, 9).map(bool),
    admitted=st.integers(0, 9).map(bool),
)


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[MenteeCandidate], list[MentorCandidate], Constraints]:
    es = [replace(e, id=f"e{i}") for i, e in enumerate(draw(st.lists(mentees_st, max_size=6)))]
    rs = [replace(r, id=f"r{j}") for j, r in enumerate(draw(st.lists(mentors_st, max_size=4)))]
    all_pairs = [(e.id, r.id) for e in es for r in rs]
    forbid = (
        draw(st.frozensets(st.sampled_from(all_pairs), max_size=3)) if all_pairs else frozenset()
    )
    return es, rs, Constraints(forbid=forbid)


def brute_force(
    mentees: list[MenteeCandidate], mentors: list[MentorCandidate], constraints: Constraints
) -> tuple[int, int]:
    """Best (matched count, Σ integer score) over every assignment, by exhaustive search."""
    options = []
    for e in mentees:
        options.append(
            [
                (j, int_score(score(e, r)[0]))
                for j, r in enumerate(mentors)
                if check_pair(e, r) is None and (e.id, r.id) not in constraints.forbid
            ]
        )
    left = [remaining_capacity(r) for r in mentors]
    best = (0, 0)

    def go(i: int, count: int, total: int) -> None:
        nonlocal best
        if i == len(mentees):
            best = max(best, (count, total))
            return
        go(i + 1, count, total)
        for j, s in options[i]:
            if left[j]:
                left[j] -= 1
                go(i + 1, count + 1, total + s)
                left[j] += 1

    go(0, 0, 0)
    return best


def check_feasible(
    result: MatchResult,
    mentees: list[MenteeCandidate],
    mentors: list[MentorCandidate],
    constraints: Constraints,
) -> None:
    """Every proposed pair keeps the hard rules; no mentor exceeds §2.5 with earlier pairs."""
    by_id_e = {e.id: e for e in mentees}
    by_id_r = {r.id: r for r in mentors}
    load: dict[str, int] = {}
    for e_id, r_id in result.assignment().items():
        assert check_pair(by_id_e[e_id], by_id_r[r_id]) is None
        assert (e_id, r_id) not in constraints.forbid
        load[r_id] = load.get(r_id, 0) + 1
    for r_id, n in load.items():
        r = by_id_r[r_id]
        assert n <= remaining_capacity(r)
        assert n + r.active_mentees <= min(3, r.capacity)
    assert len(result.assignment()) + len(result.unmatched) == len(mentees)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_optimal_against_brute_force(
    case: tuple[list[MenteeCandidate], list[MentorCandidate], Constraints],
) -> None:
    """Lexicographic optimum: most matched mentees, then the largest total integer score."""
    mentees, mentors, constraints = case
    result = match(mentees, mentors, constraints=constraints)
    check_feasible(result, mentees, mentors, constraints)
    assert (result.stats["matched"], result.stats["objective"]) == brute_force(
        mentees, mentors, constraints
    )


@FAST
@given(instances())
def test_pruned_to_one_candidate_still_optimal(
    case: tuple[list[MenteeCandidate], list[MentorCandidate], Constraints],
) -> None:
    """top_k=1 prunes hard; the certificate widens until the full-graph optimum is reached."""
    mentees, mentors, constraints = case
    result = match(mentees, mentors, constraints=constraints, top_k=1)
    check_feasible(result, mentees, mentors, constraints)
    assert (result.stats["matched"], result.stats["objective"]) == brute_force(
        mentees, mentors, constraints
    )


def test_pruning_fallback_on_a_known_instance() -> None:
    """top_k=1 keeps each mentee's best mentor and each mentor's best mentee: e1–r1, e2–r1,
    e3–r3, e3–r2. That pruned graph matches two; the full graph three (e1 moves to r2, its
    second choice, to free r1 for e2, whose only eligible mentor it is). The certificate
    finds the omitted edge e1–r2 and the engine returns the optimum."""
    e1 = mentee("e1", grade=6, subjects=frozenset({"математика"}))
    e2 = mentee("e2", grade=9, subjects=frozenset({"литература"}))
    e3 = mentee("e3", grade=6, subjects=frozenset({"история", "биология"}))
    r1 = mentor("r1", grade=11, capacity=1, competencies=frozenset({"математика", "физика"}))
    r2 = mentor("r2", grade=9, capacity=1, competencies=frozenset({"история", "химия"}))
    r3 = mentor("r3", grade=9, capacity=1, competencies=frozenset({"история", "биология"}))
    full = match([e1, e2, e3], [r1, r2, r3], top_k=10)
    pruned = match([e1, e2, e3], [r1, r2, r3], top_k=1)
    assert matched(full) == {"e1": "r2", "e2": "r1", "e3": "r3"}
    assert matched(pruned) == matched(full)
    assert full.stats["rounds"] == 1 and pruned.stats["rounds"] > 1
    assert pruned.stats["kept_edges"] < full.stats["kept_edges"]


# ---------------------------------------------------------------------------------------------
# Determinism


def test_same_input_in_any_order_gives_the_same_result() -> None:
    rng = random.Random(3)
    subjects = ["математика", "физика", "история", "химия", "биология"]
    mentees = [
        mentee(f"e{i:02d}", subjects=frozenset(rng.sample(subjects, 2)), grade=rng.randint(5, 8))
        for i in range(30)
    ]
    mentors = [
        mentor(f"r{j}", competencies=frozenset(rng.sample(subjects, 3)), grade=rng.randint(9, 11))
        for j in range(8)
    ]
    first = match(mentees, mentors, top_k=2)
    for _ in range(3):
        rng.shuffle(mentees)
        rng.shuffle(mentors)
        again = match(mentees, mentors, top_k=2)
        assert (again.pairs, again.groups, again.unmatched) == (
            first.pairs,
            first.groups,
            first.unmatched,
        )
        assert again.worst_mentee_id == first.worst_mentee_id
