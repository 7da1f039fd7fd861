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

from models import MenteeCategory, MentoringForm
from nastavnik.matching import (
    ALL_FORBIDDEN,
    NO_CAPACITY,
    NO_CONSENTS,
    NO_DIRECTOR,
    NO_EXPERIENCE,
    NO_EXPERIENCED_EMPLOYER,
    NO_HIGHER_COURSE_MENTOR,
    NO_HIGHER_GRADE_MENTOR,
    NO_MENTOR_OF_FORM,
    NO_VOCATIONAL_MASTER,
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
SSC = MentoringForm.student_student_college
ESC = MentoringForm.employer_student_college
LL = MentoringForm.lecturer_lecturer
MS = MentoringForm.master_student
DT = MentoringForm.director_teacher


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
    pupil = bool(forms & {SS, SSC})
    base: dict[str, object] = {
        "grade": 10 if pupil else None,
        "experience_years": None if pupil else 20,
        "is_employer": bool(forms & {ES, ESC}),
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


# ---------------------------------------------------------------------------------------------
# §2.3 as written: who may be a teacher–teacher (lecturer–lecturer) mentee


@pytest.mark.parametrize("form", [TT, LL])
@pytest.mark.parametrize(
    "category",
    [MenteeCategory.new_methods, MenteeCategory.distance_teaching, MenteeCategory.burnout],
)
def test_experienced_teacher_in_a_section_2_3_category_is_a_mentee(
    form: MentoringForm, category: MenteeCategory
) -> None:
    """§2.3 as written. §2.3.4, Наставляемый: «Педагог, находящийся в состоянии эмоционального
    выгорания, хронической усталости»; §2.3.5: «педагог-новатор – консервативный педагог», «более
    молодой педагог помогает опытному представителю «старой школы» овладеть современными
    программами, цифровыми навыками и технологиями»; moving to distance teaching (issue 7 §3)."""
    teacher = mentor(forms=frozenset({form}))
    veteran = mentee("e1", form, experience_years=25, category=category)
    result = match([veteran], [teacher])
    assert matched(result) == {"e1": "r1"}
    assert f"наставляемый: {category.value} (п. 2.3)" in result.pairs[0].reasons
    assert result.pairs[0].reasons == score(veteran, teacher)[1]
    # The narrow reading (young specialists and newcomers only) is a policy choice.
    narrow = Policy(experienced_teacher_categories=frozenset())
    refused = match([veteran], [teacher], policy=narrow)
    assert reason_of(refused, "e1") == (
        f"категория «{category.value}» не допускается положением организации (п. 2.3)"
    )


@pytest.mark.parametrize("form", [TT, LL])
def test_section_2_3_young_specialists_and_newcomers(form: MentoringForm) -> None:
    """§2.3: «молодого специалиста (при опыте работы от 0 до 3 лет) или нового сотрудника
    (при смене места работы)»; an experienced teacher without a §2.3 category is refused."""
    teacher = mentor(forms=frozenset({form}))
    young = mentee("e1", form, experience_years=2, category=MenteeCategory.young_specialist)
    newcomer = mentee("e2", form, experience_years=20, category=MenteeCategory.newcomer)
    veteran = mentee("e3", form, experience_years=20)
    claimed = mentee("e4", form, experience_years=7, category=MenteeCategory.young_specialist)
    unknown = mentee("e5", form, experience_years=None)
    declared = mentee("e6", form, experience_years=None, category=MenteeCategory.young_specialist)
    result = match(
        [young, newcomer, veteran, claimed, unknown, declared], [teacher, replace(teacher, id="r2")]
    )
    assert set(matched(result)) == {"e1", "e2", "e6"}
    assert reason_of(result, "e3") == NOT_YOUNG_SPECIALIST
    assert (
        reason_of(result, "e4") == "указано «молодой специалист», но стаж 7 лет — больше 3 (п. 2.3)"
    )
    assert reason_of(result, "e5") == NO_EXPERIENCE
    reasons = {p.mentee_id: p.reasons for p in result.pairs}
    assert "наставляемый: новый сотрудник (п. 2.3)" in reasons["e2"]


# ---------------------------------------------------------------------------------------------
# A college's forms (seed roadmap_lyceum_blagoveshchensk.txt, «Формы наставничества»)


def test_student_student_mentor_is_on_a_higher_course() -> None:
    """«студент-студент»: the mentor is a senior student (`grade` is the course)."""
    first = mentee("e1", SSC, grade=1)
    third = mentor("r1", frozenset({SSC}), grade=3)
    same = mentor("r2", frozenset({SSC}), grade=1)
    result = match([first], [same, third])
    assert matched(result) == {"e1": "r1"}
    assert "наставник старше на 2 курса" in score(first, third, Weights(experience=1))[1]
    assert result.pairs[0].reasons == score(first, third)[1]
    result = match([first], [same])
    assert reason_of(result, "e1") == NO_HIGHER_COURSE_MENTOR
    assert check_pair(mentee("e1", SSC, grade=None), third) == NO_HIGHER_COURSE_MENTOR
    two_up = Policy(student_mentor_min_course_gap=3)
    assert check_pair(first, third, policy=two_up) == NO_HIGHER_COURSE_MENTOR
    # The school's strict stage reading (§2.2) does not apply to courses.
    assert check_pair(first, third, policy=Policy(pupil_mentor_higher_stage=True)) is None
    # A school pupil mentor cannot serve a college form, and the other way round.
    assert check_pair(first, mentor("r3", frozenset({SS}), grade=11)) == NO_MENTOR_OF_FORM


def test_employer_student_mentor_is_an_employer_with_five_years() -> None:
    """«работодатель - студент»: the employer mentor as §2.4.4 «с большим (от 5 лет) опытом
    работы»; the mentee is a student of any course."""
    student = mentee("e1", ESC, grade=1)
    junior = mentor("r1", frozenset({ESC}), experience_years=4)
    not_employer = mentor("r2", frozenset({ESC}), experience_years=30, is_employer=False)
    result = match([student], [junior, not_employer])
    assert reason_of(result, "e1") == NO_EXPERIENCED_EMPLOYER
    senior = mentor("r3", frozenset({ESC}), experience_years=5)
    assert senior.is_employer
    assert matched(match([student], [junior, senior])) == {"e1": "r3"}
    # The school's «старших классов» option (§2.4) is about grades, not a college's courses.
    policy = Policy(employer_mentee_min_grade=10)
    assert check_pair(student, senior, policy=policy) is None


def test_lecturer_lecturer_is_like_teacher_teacher() -> None:
    """«преподаватель - преподаватель»: the same §2.3 rule as «учитель – учитель»."""
    lecturer = mentor("r1", frozenset({LL}))
    young = mentee("e1", LL, experience_years=1)
    veteran = mentee("e2", LL, experience_years=10)
    result = match([young, veteran], [lecturer, mentor("r2", frozenset({TT}))])
    assert matched(result) == {"e1": "r1"}
    assert reason_of(result, "e2") == NOT_YOUNG_SPECIALIST


@pytest.mark.parametrize(
    ("position", "ok"),
    [
        ("Мастер производственного обучения", True),
        ("мастер п/о", True),
        ("старший мастер производственного обучения", True),
        ("преподаватель", False),
        ("", False),
    ],
)
def test_master_student_mentor_is_a_master_of_vocational_training(position: str, ok: bool) -> None:
    """«преподаватель/мастер производственного обучения - школьник»: by default only a master
    of vocational training mentors in it; a policy lets lecturers in too."""
    student = mentee("e1", MS, grade=1)
    master = mentor("r1", frozenset({MS}), position=position)
    result = match([student], [master])
    assert (matched(result) == {"e1": "r1"}) is ok
    if not ok:
        assert reason_of(result, "e1") == NO_VOCATIONAL_MASTER
    lecturers = Policy(master_form_admits_lecturers=True)
    assert (check_pair(student, master, policy=lecturers) is None) is (ok or bool(position))


@pytest.mark.parametrize(
    ("position", "ok"),
    [
        ("Директор", True),
        ("заместитель директора по учебно-воспитательной работе", True),
        ("И. о. директора", True),
        ("учитель математики", False),
        ("мастер производственного обучения", False),
    ],
)
def test_director_teacher_mentor_is_the_director_or_a_deputy(position: str, ok: bool) -> None:
    """«директор образовательной организации – педагог»: the director (or a deputy) mentors."""
    teacher = mentee("e1", DT, experience_years=12)
    head = mentor("r1", frozenset({DT}), position=position)
    result = match([teacher], [head])
    assert (matched(result) == {"e1": "r1"}) is ok
    if not ok:
        assert reason_of(result, "e1") == NO_DIRECTOR
    # §2.3 restricts teacher–teacher mentees, not the director's: experience does not matter.
    assert check_pair(teacher, mentor("r1", frozenset({DT}), position="директор")) is None


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
        (mentee(form=SSC, grade=2), mentor(forms=frozenset({SSC}), grade=2), "старшего курса"),
        (mentee(form=MS), mentor(forms=frozenset({MS}), position="преподаватель"), "мастера"),
        (mentee(form=DT), mentor(forms=frozenset({DT}), position="учитель"), "директора"),
        (
            mentee(form=LL, experience_years=12, category=MenteeCategory.young_specialist),
            mentor(forms=frozenset({LL})),
            "2.3",
        ),
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
COLLEGE_FORMS = [SSC, ESC, LL, MS, DT, TT]  # the lyceum's forms and the alias «педагог–педагог»
POSITIONS = ["", "мастер производственного обучения", "заместитель директора", "преподаватель"]


def subsets(pool: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(pool), max_size=len(pool))


def mentees_st(forms: list[MentoringForm]) -> st.SearchStrategy[MenteeCandidate]:
    return st.builds(
        MenteeCandidate,
        id=st.just(""),
        form=st.sampled_from(forms),
        grade=st.one_of(st.none(), st.integers(1, 11)),
        experience_years=st.one_of(st.none(), st.integers(0, 6)),
        is_new_staff=st.booleans(),
        subjects=subsets(VOCAB),
        interests=subsets(INTERESTS),
        requests=subsets(VOCAB),
        availability=subsets(SLOTS),
        has_consents=st.integers(0, 9).map(bool),
        wants_group=st.booleans(),
        category=st.one_of(st.none(), st.sampled_from(list(MenteeCategory))),
    )


def mentors_st(forms: list[MentoringForm]) -> st.SearchStrategy[MentorCandidate]:
    return st.builds(
        MentorCandidate,
        id=st.just(""),
        forms=st.frozensets(st.sampled_from(forms), min_size=1),
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
        position=st.sampled_from(POSITIONS),
    )


@st.composite
def instances(
    draw: st.DrawFn, forms: list[MentoringForm] = FORMS
) -> tuple[list[MenteeCandidate], list[MentorCandidate], Constraints]:
    drawn_mentees = draw(st.lists(mentees_st(forms), max_size=6))
    drawn_mentors = draw(st.lists(mentors_st(forms), max_size=4))
    es = [replace(e, id=f"e{i}") for i, e in enumerate(drawn_mentees)]
    rs = [replace(r, id=f"r{j}") for j, r in enumerate(drawn_mentors)]
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
@given(instances(COLLEGE_FORMS))
def test_college_forms_optimal_against_brute_force(
    case: tuple[list[MenteeCandidate], list[MentorCandidate], Constraints],
) -> None:
    """The college's forms and their rules keep the exact lexicographic optimum."""
    mentees, mentors, constraints = case
    for top_k in (20, 1):
        result = match(mentees, mentors, constraints=constraints, top_k=top_k)
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
