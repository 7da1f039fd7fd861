"""Matching engine: mentees to mentors, exact lexicographic optimum (count, then score).

Pure: frozen dataclasses in, dataclasses out; no Prefect, no database. The flows adapt DB rows.

Hard rules come from the regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``):
§2.2 pupil mentor on a higher level, §2.3 teacher–teacher mentees are young specialists (0–3
years), new staff, or experienced teachers mastering new methods, moving to distance teaching or
at risk of burnout, §2.4.4 employer mentors with 5+ years, §2.5 at most three mentees at once,
§2.6 written consent of both sides, §3.1 the director (curator) sets capacity and fixes pairs.
A college's forms (seed ``roadmap_lyceum_blagoveshchensk.txt``) follow the same rules where
they are alike: a student mentor from a higher course, employers with 5+ years, lecturers as
teachers; a master of vocational training and the director (deputy) mentor in their own forms.

The optimum is found with OR-Tools min-cost flow on each mentee's top-k mentors; the pruned
optimum is then *certified* against the full edge set (a min-cut test for the count and
reduced-cost potentials for the score) and widened where the certificate fails, so the result
is optimal for all eligible edges, not just the kept ones. See docs/matching.md.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from models import MenteeCategory, MentoringForm

SCALE = 10_000
"""Scores in [0, 1] become integer arc costs ``round(score * SCALE)`` (OR-Tools needs integers)."""

EXPERIENCE_FULL_YEARS = 10
"""Experience gap (years) at which the experience term saturates at 1."""

GRADE_FULL_GAP = 3
"""Grade gap (pupil mentor over pupil mentee) at which the experience term saturates at 1."""

FORMS: tuple[MentoringForm, ...] = tuple(MentoringForm)
_FORM_CODE = {form: code for code, form in enumerate(FORMS)}
PEER_FORMS = frozenset({MentoringForm.student_student, MentoringForm.student_student_college})
"""Forms where the mentor is a pupil (student) of a higher grade (course) than the mentee."""
TEACHER_FORMS = frozenset({MentoringForm.teacher_teacher, MentoringForm.lecturer_lecturer})
"""Forms whose mentees §2.3 restricts (a lecturer–lecturer mentee is read as a teacher's)."""
EMPLOYER_FORMS = frozenset({MentoringForm.employer_student, MentoringForm.employer_student_college})
"""Forms whose mentor is an employer with experience (§2.4.4)."""
_GAP_UNITS = {
    MentoringForm.student_student: ("класс", "класса", "классов"),
    MentoringForm.student_student_college: ("курс", "курса", "курсов"),
}
_VOCATIONAL_MASTER = re.compile(r"мастер\w*\s*(производственного\s+обучения|п\s*/\s*о\b)")
_LECTURER = re.compile(r"преподавател")
_DIRECTOR = re.compile(r"директор")
_CHUNK_CELLS = 262_144  # score-block cells: ~1 MB float32 arrays stay in cache

# Unmatched reasons (Russian, shown to the curator as is).
NO_CONSENTS = "нет согласий (п. 2.6)"
NOT_YOUNG_SPECIALIST = (
    "не молодой специалист и не новый сотрудник; не указано ни освоение новых методик, ни "
    "переход на дистанционное обучение, ни профессиональное выгорание (п. 2.3)"
)
NO_EXPERIENCE = "не указан стаж: нельзя проверить п. 2.3"
NOT_SENIOR_PUPIL = "не ученик старших классов (п. 2.4)"
NO_MENTOR_OF_FORM = "нет наставника этой формы"
MENTORS_WITHOUT_CONSENTS = "у наставников этой формы нет согласий (п. 2.6)"
NO_HIGHER_GRADE_MENTOR = "нет наставника из более старшего класса (п. 2.2)"
NO_HIGHER_COURSE_MENTOR = "нет наставника со старшего курса (форма «студент–студент»)"
NO_EXPERIENCED_EMPLOYER = "нет наставника-работодателя со стажем от 5 лет (п. 2.4.4)"
NO_VOCATIONAL_MASTER = "нет наставника — мастера производственного обучения"
NO_DIRECTOR = "нет наставника — директора или заместителя директора"
ALL_FORBIDDEN = "все возможные наставники запрещены куратором"
NO_CAPACITY = "вся ёмкость наставников занята"
GROUP_NOT_FORMED = "группа не набралась: назначен индивидуально"


@dataclass(frozen=True)
class MenteeCandidate:
    """A mentee's questionnaire answers, as far as matching needs them."""

    id: str
    form: MentoringForm
    grade: int | None
    experience_years: int | None
    is_new_staff: bool
    subjects: frozenset[str]
    interests: frozenset[str]
    requests: frozenset[str]
    availability: frozenset[str]
    has_consents: bool
    wants_group: bool = False
    category: MenteeCategory | None = None
    """A teacher's (lecturer's) §2.3 category from the questionnaire, if answered."""


@dataclass(frozen=True)
class MentorCandidate:
    """A mentor from the register: forms offered, competencies, capacity, admission."""

    id: str
    forms: frozenset[MentoringForm]
    grade: int | None
    experience_years: int | None
    is_employer: bool
    competencies: frozenset[str]
    interests: frozenset[str]
    availability: frozenset[str]
    capacity: int = 3
    """Total mentees at once set by the director (§3.1), earlier cycles' pairs included."""
    active_mentees: int = 0
    """Pairs from earlier cycles still active: they count against the §2.5 limit."""
    has_consents: bool = False
    admitted: bool = False
    """Selected and trained this cycle (DESIGN §3, stage 2): only admitted mentors are paired."""
    position: str = ""
    """The questionnaire's «Должность»: who may mentor as a master or as the director."""


@dataclass(frozen=True)
class Constraints:
    """Curator's decisions: pairs to lock in and pairs never to propose."""

    keep: frozenset[tuple[str, str]] = frozenset()
    """(mentee_id, mentor_id) pairs that must appear in the result."""
    forbid: frozenset[tuple[str, str]] = frozenset()
    """(mentee_id, mentor_id) pairs that must not appear in the result."""


@dataclass(frozen=True)
class Weights:
    """Weights of the compatibility score (normalised by their sum, so any scale works)."""

    subject: float = 0.4
    """Share of the mentee's subjects that the mentor covers with competencies."""
    request: float = 0.3
    """Share of the mentee's request keywords that the mentor covers with competencies."""
    interest: float = 0.15
    """Jaccard similarity of interests (common ground for the «равный – равному» variant)."""
    availability: float = 0.1
    """Overlap coefficient of availability slots (can they meet at all)."""
    experience: float = 0.05
    """Experience (years) or grade gap, saturating at 10 years or 3 grades."""


@dataclass(frozen=True)
class Policy:
    """The regulation's hard rules as configurable policy; defaults are the regulation's."""

    max_mentees_per_mentor: int = 3
    """§2.5: «Максимальное число лиц, в отношении которых наставник одновременно осуществляет
    наставничество, не может превышать трех.»"""
    young_specialist_max_years: int = 3
    """§2.3: «молодого специалиста (при опыте работы от 0 до 3 лет) или нового сотрудника
    (при смене места работы)»."""
    experienced_teacher_categories: frozenset[MenteeCategory] = frozenset(
        {MenteeCategory.new_methods, MenteeCategory.distance_teaching, MenteeCategory.burnout}
    )
    """§2.3 as written: an experienced teacher is a mentee too when §2.3.5 «овладеть
    современными программами, цифровыми навыками и технологиями», when moving to distance
    teaching, or §2.3.4 «Педагог, находящийся в состоянии эмоционального выгорания, хронической
    усталости». An empty set is the narrow reading (young specialists and newcomers only)."""
    employer_min_years: int = 5
    """§2.4.4: «Неравнодушный профессионал с большим (от 5 лет) опытом работы»."""
    pupil_mentor_min_grade_gap: int = 1
    """§2.2: «один из обучающихся находится на более высокой ступени образования»: grade gap."""
    pupil_mentor_higher_stage: bool = False
    """§2.2 read strictly: a higher *stage* (1–4, 5–9, 10–11), not just a higher grade."""
    employer_mentee_min_grade: int | None = None
    """§2.4: «обучающегося старших классов средней школы»; e.g. 8 or 10 when set, off by default."""
    student_mentor_min_course_gap: int = 1
    """«студент–студент»: the mentor studies on a higher course (`grade` holds the course)."""
    master_form_admits_lecturers: bool = False
    """«мастер производственного обучения–обучающийся»: the lyceum's roadmap writes
    «преподаватель/мастер производственного обучения»; set to let lecturers mentor in it too."""
    require_consents: bool = True
    """§2.6: «с обязательным письменным согласием лица, назначаемого наставником, и лица, в
    отношении которого осуществляется наставничество»."""
    group_min: int = 2
    """Smallest group (DESIGN §3: «пар/групп»); fewer group-wanting mentees become pairs."""
    group_max: int = 3
    """Largest group; it never exceeds the §2.5 limit since a group counts person by person."""
    group_forms: frozenset[MentoringForm] = frozenset(MentoringForm)
    """Forms where group mentoring is offered (§2.2.6 classroom hours, §2.3.6 seminars, §2.4.5)."""
    weights: Weights = field(default_factory=Weights)


@dataclass
class Pair:
    """A proposed (or locked) mentor–mentee pair with its score and main reasons."""

    mentee_id: str
    mentor_id: str
    score: float
    reasons: list[str]
    locked: bool = False


@dataclass
class Group:
    """A mentor with 2–3 mentees who asked for group mentoring."""

    mentor_id: str
    mentee_ids: list[str]
    score: float
    reasons: list[str]


@dataclass
class Unmatched:
    """A mentee left without a mentor: stays on the search list with the reason."""

    mentee_id: str
    reason: str


@dataclass
class MatchResult:
    """Pairs, groups and unmatched mentees, with totals and solver statistics."""

    pairs: list[Pair]
    groups: list[Group]
    unmatched: list[Unmatched]
    total_score: float
    worst_score: float | None
    worst_mentee_id: str | None
    stats: dict[str, Any]

    def assignment(self) -> dict[str, str]:
        """Mentee id → mentor id over pairs and groups."""
        out = {p.mentee_id: p.mentor_id for p in self.pairs}
        for g in self.groups:
            out.update(dict.fromkeys(g.mentee_ids, g.mentor_id))
        return out


# --------------------------------------------------------------------------------------------
# Rules


def remaining_capacity(mentor: MentorCandidate, *, policy: Policy = Policy()) -> int:
    """New mentees this mentor can take: §2.5 limit and director's capacity minus active pairs."""
    return max(0, min(mentor.capacity, policy.max_mentees_per_mentor) - mentor.active_mentees)


def _stage(grade: int) -> int:
    """Level of general education: 1 (grades 1–4), 2 (5–9), 3 (10–11)."""
    return 1 if grade <= 4 else 2 if grade <= 9 else 3


def mentee_violation(mentee: MenteeCandidate, *, policy: Policy = Policy()) -> str | None:
    """Why this mentee cannot be paired at all (consents, §2.3, §2.4), or None."""
    if policy.require_consents and not mentee.has_consents:
        return NO_CONSENTS
    if mentee.form in TEACHER_FORMS:
        reason = _teacher_mentee_violation(mentee, policy)
        if reason:
            return reason
    if mentee.form is MentoringForm.employer_student and policy.employer_mentee_min_grade:
        if mentee.grade is None or mentee.grade < policy.employer_mentee_min_grade:
            return NOT_SENIOR_PUPIL
    return None


def _teacher_mentee_violation(mentee: MenteeCandidate, policy: Policy) -> str | None:
    """§2.3 as written: young specialist (0–3 years), newcomer, or an admitted category."""
    category = mentee.category
    if mentee.is_new_staff or category is MenteeCategory.newcomer:
        return None
    if category is not None and category in policy.experienced_teacher_categories:
        return None
    years = mentee.experience_years
    if category is MenteeCategory.young_specialist:
        if years is None or years <= policy.young_specialist_max_years:
            return None  # declared in the questionnaire; a stated experience must agree
        return (
            f"указано «молодой специалист», но стаж {years} "
            f"{_plural(years, 'год', 'года', 'лет')} — больше "
            f"{policy.young_specialist_max_years} (п. 2.3)"
        )
    if years is None:
        return NO_EXPERIENCE
    if years <= policy.young_specialist_max_years:
        return None
    if category is not None:
        return f"категория «{category.value}» не допускается положением организации (п. 2.3)"
    return NOT_YOUNG_SPECIALIST


def is_vocational_master(position: str) -> bool:
    """«мастер производственного обучения» (also «мастер п/о») in a position."""
    return bool(_VOCATIONAL_MASTER.search(_fold(position)))


def is_director(position: str) -> bool:
    """The director or a deputy director («заместитель директора», «и. о. директора»)."""
    return bool(_DIRECTOR.search(_fold(position)))


def _fold(text: str) -> str:
    return " ".join(text.replace("ё", "е").split()).casefold()


def _mentor_form_violation(
    mentor: MentorCandidate, form: MentoringForm, policy: Policy
) -> str | None:
    """Why this mentor cannot mentor in this form regardless of the mentee, or None."""
    if form not in mentor.forms or not mentor.admitted:
        return NO_MENTOR_OF_FORM
    if policy.require_consents and not mentor.has_consents:
        return MENTORS_WITHOUT_CONSENTS
    if form in EMPLOYER_FORMS and not (
        mentor.is_employer
        and mentor.experience_years is not None
        and mentor.experience_years >= policy.employer_min_years
    ):
        return NO_EXPERIENCED_EMPLOYER
    if form is MentoringForm.master_student and not (
        is_vocational_master(mentor.position)
        or (policy.master_form_admits_lecturers and _LECTURER.search(_fold(mentor.position)))
    ):
        return NO_VOCATIONAL_MASTER
    if form is MentoringForm.director_teacher and not is_director(mentor.position):
        return NO_DIRECTOR
    return None


def _min_gap(form: MentoringForm, policy: Policy) -> int:
    """Smallest grade (course) gap of a peer form's mentor over its mentee."""
    if form is MentoringForm.student_student_college:
        return policy.student_mentor_min_course_gap
    return policy.pupil_mentor_min_grade_gap


def _grade_ok(
    mentee_grade: int | None, mentor_grade: int | None, policy: Policy, form: MentoringForm
) -> bool:
    """§2.2: the pupil mentor is on a higher level; a college student on a higher course."""
    if mentee_grade is None or mentor_grade is None:
        return False
    if mentor_grade - mentee_grade < _min_gap(form, policy):
        return False
    if form is not MentoringForm.student_student:
        return True
    return not policy.pupil_mentor_higher_stage or _stage(mentor_grade) > _stage(mentee_grade)


def check_pair(
    mentee: MenteeCandidate, mentor: MentorCandidate, *, policy: Policy = Policy()
) -> str | None:
    """Hard-rule violation of this pair in Russian (capacity and curator bans aside), or None."""
    reason = mentee_violation(mentee, policy=policy) or _mentor_form_violation(
        mentor, mentee.form, policy
    )
    if reason:
        return reason
    if mentee.form in PEER_FORMS and not _grade_ok(mentee.grade, mentor.grade, policy, mentee.form):
        return _PAIR_RULE_REASON[mentee.form]
    return None


_PAIR_RULE_REASON = {
    MentoringForm.student_student: NO_HIGHER_GRADE_MENTOR,
    MentoringForm.student_student_college: NO_HIGHER_COURSE_MENTOR,
}


def _category_reason(mentee: MenteeCandidate) -> str | None:
    """Why a teacher is a mentee (§2.3), shown with the pair: the questionnaire's category."""
    if mentee.category is None or mentee.form not in TEACHER_FORMS:
        return None
    return f"наставляемый: {mentee.category.value} (п. 2.3)"


# --------------------------------------------------------------------------------------------
# Score


def _plural(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form for n (1 год, 2 года, 5 лет)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _listing(items: Iterable[str], limit: int = 3) -> str:
    """Sorted, comma-separated, at most `limit` items (deterministic reasons)."""
    ordered = sorted(items)
    text = ", ".join(ordered[:limit])
    return text + (" и др." if len(ordered) > limit else "")


def _experience_gap(mentee: MenteeCandidate, mentor: MentorCandidate) -> tuple[int, int]:
    """(gap, saturation) of the experience term: grades (courses) for peer pairs, else years."""
    if mentee.form in PEER_FORMS:
        gap = (mentor.grade or 0) - (mentee.grade or 0)
        return max(0, gap), GRADE_FULL_GAP
    gap = (mentor.experience_years or 0) - (mentee.experience_years or 0)
    return max(0, gap), EXPERIENCE_FULL_YEARS


def score(
    mentee: MenteeCandidate, mentor: MentorCandidate, weights: Weights = Weights()
) -> tuple[float, list[str]]:
    """Compatibility in [0, 1] from the questionnaires and its main reasons in Russian."""
    # The engine computes the same floats with numpy in the same operation order, so that
    # the reference and the vectorised scores round to the same integers.
    subj = mentee.subjects & mentor.competencies
    req = mentee.requests & mentor.competencies
    inter = mentee.interests & mentor.interests
    slots = mentee.availability & mentor.availability
    f_subj = len(subj) / len(mentee.subjects) if mentee.subjects else 0.0
    f_req = len(req) / len(mentee.requests) if mentee.requests else 0.0
    union = len(mentee.interests) + len(mentor.interests) - len(inter)
    f_int = len(inter) / union if union else 0.0
    low = min(len(mentee.availability), len(mentor.availability))
    f_av = len(slots) / low if low else 0.0
    gap, full = _experience_gap(mentee, mentor)
    f_exp = min(gap, full) / full
    w = weights
    total = (
        w.subject * f_subj
        + w.request * f_req
        + w.interest * f_int
        + w.availability * f_av
        + w.experience * f_exp
    )
    wsum = w.subject + w.request + w.interest + w.availability + w.experience
    value = total / wsum if wsum > 0 else 0.0

    # Texts only for the (at most three) reasons shown: this runs once per proposed pair.
    factors: list[tuple[float, int]] = []  # (−contribution, factor)
    if subj:
        factors.append((-w.subject * f_subj, 0))
    if req:
        factors.append((-w.request * f_req, 1))
    if inter:
        factors.append((-w.interest * f_int, 2))
    if slots:
        factors.append((-w.availability * f_av, 3))
    if gap:
        factors.append((-w.experience * f_exp, 4))
    factors.sort()  # largest contribution first, ties in factor order
    reasons = []
    for negative, which in factors[:3]:
        if negative >= 0:
            continue
        if which == 0:
            label = "общий предмет" if len(subj) == 1 else "общие предметы"
            reasons.append(f"{label}: {_listing(subj)}")
        elif which == 1:
            reasons.append(f"закрывает запрос: {_listing(req)}")
        elif which == 2:
            reasons.append(f"совпадают интересы: {_listing(inter)}")
        elif which == 3:
            reasons.append(f"удобное время: {_listing(slots)}")
        elif mentee.form in PEER_FORMS:
            reasons.append(f"наставник старше на {gap} {_plural(gap, *_GAP_UNITS[mentee.form])}")
        else:
            reasons.append(f"разница в опыте: {gap} {_plural(gap, 'год', 'года', 'лет')}")
    reasons.append(f"запрошенная форма: {mentee.form.value}")
    category = _category_reason(mentee)
    if category:
        reasons.append(category)
    return value, reasons


def int_score(value: float) -> int:
    """The integer the solver optimises: round-half-even of score × SCALE."""
    return round(value * SCALE)


# --------------------------------------------------------------------------------------------
# Vectorised data


def _bitsets(sets: Sequence[frozenset[str]], vocab: dict[str, int]) -> np.ndarray:
    """One row of uint64 words per set, one bit per vocabulary item."""
    words = max(1, (len(vocab) + 63) // 64)
    out = np.zeros((len(sets), words), dtype=np.uint64)
    rows = np.array([row for row, items in enumerate(sets) for _ in items], dtype=np.int64)
    bits = np.array([vocab[x] for items in sets for x in items], dtype=np.int64)
    if len(rows):
        np.bitwise_or.at(out, (rows, bits // 64), np.left_shift(1, bits % 64).astype(np.uint64))
    return out


def _popcount(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|A ∩ B| of every row of a (n, W) against every row of b (m, W): an (n, m) matrix."""
    # Bit counting instead of BLAS products of 0/1 matrices: no threads to fight over on a
    # small shared machine, and 1–2 ns per cell.
    if a.shape[1] == 1:
        return np.bitwise_count(a[:, 0, None] & b[None, :, 0])
    return np.bitwise_count(a[:, None, :] & b[None, :, :]).sum(axis=2, dtype=np.uint16)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64 where den > 0, else 0.0 (matches ``x / y if y else 0.0``)."""
    num, den = np.broadcast_arrays(num, den)
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _vocab(sets: Iterable[frozenset[str]]) -> dict[str, int]:
    """Sorted vocabulary → index (sorted so the layout is independent of input order)."""
    return {item: i for i, item in enumerate(sorted(set().union(*sets)))}


def _mask_texts(mask: np.ndarray, names: list[str], limit: int = 3) -> list[str]:
    """`_listing` of the items of each row's bit mask (one row of uint64 words per set)."""
    if not len(mask):
        return []
    uniq, inverse = np.unique(mask, axis=0, return_inverse=True)
    texts = []
    for words in uniq.tolist():
        items = []
        for w, word in enumerate(words):
            while word:
                low = word & -word
                items.append(names[64 * w + low.bit_length() - 1])
                word ^= low
        text = ", ".join(items[:limit])
        texts.append(text + (" и др." if len(items) > limit else ""))
    return [texts[x] for x in inverse.reshape(-1).tolist()]


def _stage_np(grades: np.ndarray) -> np.ndarray:
    """Vectorised `_stage`."""
    return np.where(grades <= 4, 1, np.where(grades <= 9, 2, 3))


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


class _Data:
    """Mentees and mentors as numpy arrays (sorted by id) for scoring and rule checks.

    Two score paths: `approx` ranks whole blocks fast (bit-set overlap counts, float32), and
    `exact` recomputes chosen edges in float64 with the very operations of `score`, so the
    solver's integers equal ``int_score(score(...))``.
    """

    def __init__(
        self, mentees: Sequence[MenteeCandidate], mentors: Sequence[MentorCandidate], policy: Policy
    ) -> None:
        self.mentees = mentees
        self.mentors = mentors
        self.policy = policy
        w = policy.weights
        self.w = (w.subject, w.request, w.interest, w.availability, w.experience)
        self.wsum = w.subject + w.request + w.interest + w.availability + w.experience
        comp = _vocab(
            [m.subjects | m.requests for m in mentees] + [r.competencies for r in mentors]
        )
        inter = _vocab([m.interests for m in mentees] + [r.interests for r in mentors])
        slots = _vocab([m.availability for m in mentees] + [r.availability for r in mentors])
        self.comp_names, self.inter_names, self.slot_names = list(comp), list(inter), list(slots)
        self.e_n_subj = np.array([len(m.subjects) for m in mentees], dtype=np.int64)
        self.e_n_req = np.array([len(m.requests) for m in mentees], dtype=np.int64)
        self.e_n_int = np.array([len(m.interests) for m in mentees], dtype=np.int64)
        self.e_n_av = np.array([len(m.availability) for m in mentees], dtype=np.int64)
        self.r_n_int = np.array([len(r.interests) for r in mentors], dtype=np.int64)
        self.r_n_av = np.array([len(r.availability) for r in mentors], dtype=np.int64)
        wsum = self.wsum if self.wsum > 0 else 1.0
        # Per-mentee factors of the approximate score: weight × SCALE / Σ weights / set size.
        self.e_subj_w = (w.subject * SCALE / wsum / np.maximum(self.e_n_subj, 1)).astype(np.float32)
        self.e_req_w = (w.request * SCALE / wsum / np.maximum(self.e_n_req, 1)).astype(np.float32)
        self.e_subj = _bitsets([m.subjects for m in mentees], comp)
        self.e_req = _bitsets([m.requests for m in mentees], comp)
        self.e_int = _bitsets([m.interests for m in mentees], inter)
        self.e_av = _bitsets([m.availability for m in mentees], slots)
        self.r_comp = _bitsets([r.competencies for r in mentors], comp)
        self.r_int = _bitsets([r.interests for r in mentors], inter)
        self.r_av = _bitsets([r.availability for r in mentors], slots)
        self.e_grade = np.array([_or(m.grade, -1) for m in mentees], dtype=np.int64)
        self.e_exp = np.array([_or(m.experience_years, 0) for m in mentees], dtype=np.int64)
        self.r_grade = np.array([_or(r.grade, -1) for r in mentors], dtype=np.int64)
        self.r_exp = np.array([_or(r.experience_years, 0) for r in mentors], dtype=np.int64)
        # Grades as the score sees them (None → 0), distinct from the rule's "unknown" (-1).
        self.e_grade0 = np.maximum(self.e_grade, 0)
        self.r_grade0 = np.maximum(self.r_grade, 0)
        # Peer forms measure the experience term in grades (courses), the others in years.
        e_form = np.array([_FORM_CODE[m.form] for m in mentees], dtype=np.int64)
        self.e_peer = np.isin(e_form, [_FORM_CODE[f] for f in PEER_FORMS])
        # §2.3 categories shown with teachers' pairs (none in most schools: a sparse dict).
        self.e_category_reason = {
            i: text for i, m in enumerate(mentees) if (text := _category_reason(m)) is not None
        }
        f32 = np.float32
        self.e_n_int_f, self.r_n_int_f = self.e_n_int.astype(f32), self.r_n_int.astype(f32)
        self.e_n_av_f, self.r_n_av_f = self.e_n_av.astype(f32), self.r_n_av.astype(f32)
        self.e_grade0_f, self.r_grade0_f = self.e_grade0.astype(f32), self.r_grade0.astype(f32)
        self.e_exp_f, self.r_exp_f = self.e_exp.astype(f32), self.r_exp.astype(f32)
        self.w_s = [f32(x * SCALE / wsum) for x in self.w]  # weights × SCALE / Σ weights

    def _terms(self, e: np.ndarray, r: np.ndarray) -> dict[str, np.ndarray]:
        """Overlap masks, factors, gaps and float64 scores of edges (e[t], r[t]), as `score`."""
        s_subj, s_req = self.e_subj[e] & self.r_comp[r], self.e_req[e] & self.r_comp[r]
        s_int, s_av = self.e_int[e] & self.r_int[r], self.e_av[e] & self.r_av[r]

        def count(a: np.ndarray) -> np.ndarray:
            return np.bitwise_count(a).sum(axis=-1, dtype=np.int64)

        c_subj, c_req, c_int, c_av = count(s_subj), count(s_req), count(s_int), count(s_av)
        f_subj = _ratio(c_subj, self.e_n_subj[e])
        f_req = _ratio(c_req, self.e_n_req[e])
        f_int = _ratio(c_int, self.e_n_int[e] + self.r_n_int[r] - c_int)
        f_av = _ratio(c_av, np.minimum(self.e_n_av[e], self.r_n_av[r]))
        pupils = self.e_peer[e]
        gap = np.where(pupils, self.r_grade0[r] - self.e_grade0[e], self.r_exp[r] - self.e_exp[e])
        gap = np.maximum(gap, 0)
        full = np.where(pupils, GRADE_FULL_GAP, EXPERIENCE_FULL_YEARS)
        f_exp = np.minimum(gap, full) / full
        w1, w2, w3, w4, w5 = self.w
        total = w1 * f_subj + w2 * f_req + w3 * f_int + w4 * f_av + w5 * f_exp
        value = total / self.wsum if self.wsum > 0 else np.zeros_like(total)
        return {
            "value": value,
            "masks": (s_subj, s_req, s_int, s_av),
            "counts": (c_subj, c_req, c_int, c_av),
            "factors": (f_subj, f_req, f_int, f_av, f_exp),
            "gap": gap,
            "pupils": pupils,
        }

    def exact(self, e: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Integer scores of edges (e[t], r[t]), bit-for-bit those of `int_score(score(...))`."""

        def count(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.bitwise_count(a[e] & b[r]).sum(axis=-1, dtype=np.int64)

        c_subj, c_req = count(self.e_subj, self.r_comp), count(self.e_req, self.r_comp)
        c_int, c_av = count(self.e_int, self.r_int), count(self.e_av, self.r_av)
        f_subj = _ratio(c_subj, self.e_n_subj[e])
        f_req = _ratio(c_req, self.e_n_req[e])
        f_int = _ratio(c_int, self.e_n_int[e] + self.r_n_int[r] - c_int)
        f_av = _ratio(c_av, np.minimum(self.e_n_av[e], self.r_n_av[r]))
        pupils = self.e_peer[e]
        gap = np.where(pupils, self.r_grade0[r] - self.e_grade0[e], self.r_exp[r] - self.e_exp[e])
        full = np.where(pupils, GRADE_FULL_GAP, EXPERIENCE_FULL_YEARS)
        f_exp = np.minimum(np.maximum(gap, 0), full) / full
        w1, w2, w3, w4, w5 = self.w
        total = w1 * f_subj + w2 * f_req + w3 * f_int + w4 * f_av + w5 * f_exp
        value = total / self.wsum if self.wsum > 0 else np.zeros_like(total)
        return np.rint(value * SCALE).astype(np.int64)

    def scores_and_reasons(
        self, e: np.ndarray, r: np.ndarray
    ) -> tuple[list[float], list[list[str]]]:
        """`score(mentees[e[t]], mentors[r[t]], weights)` for every edge, vectorised.

        The floats come from the same operations as `score`; the reasons' listings are built
        once per distinct overlap bit mask (vocabularies are sorted, so bit order is the
        listing order) and the three largest contributions are picked by a stable sort.
        """
        if not len(e):
            return [], []
        t = self._terms(e, r)
        n = len(e)
        present = np.stack(
            [*(c > 0 for c in t["counts"]), t["gap"] > 0], axis=1
        )  # a factor with an empty overlap (or no gap) gives no reason
        neg = -np.stack([w * f for w, f in zip(self.w, t["factors"], strict=True)], axis=1)
        neg = np.where(present, neg, np.inf)
        top = np.argsort(neg, axis=1, kind="stable")[:, :3]
        shown = (np.take_along_axis(neg, top, axis=1) < 0).tolist()
        top_l = top.tolist()
        names = (self.comp_names, self.comp_names, self.inter_names, self.slot_names)
        texts = [_mask_texts(m, v) for m, v in zip(t["masks"], names, strict=True)]
        counts = t["counts"][0].tolist()
        gaps = t["gap"].tolist()
        pupils = t["pupils"].tolist()
        e_list = e.tolist()
        forms = [f"запрошенная форма: {self.mentees[i].form.value}" for i in e_list]
        category_reason = self.e_category_reason
        prefix = ("", "закрывает запрос: ", "совпадают интересы: ", "удобное время: ")
        reasons: list[list[str]] = []
        subj_t, req_t, int_t, av_t = texts
        for p in range(n):
            out: list[str] = []
            for k, ok in zip(top_l[p], shown[p], strict=True):
                if not ok:
                    continue
                if k == 0:
                    label = "общий предмет" if counts[p] == 1 else "общие предметы"
                    out.append(f"{label}: {subj_t[p]}")
                elif k == 1:
                    out.append(prefix[1] + req_t[p])
                elif k == 2:
                    out.append(prefix[2] + int_t[p])
                elif k == 3:
                    out.append(prefix[3] + av_t[p])
                elif pupils[p]:
                    g = gaps[p]
                    units = _GAP_UNITS[self.mentees[e_list[p]].form]
                    out.append(f"наставник старше на {g} {_plural(g, *units)}")
                else:
                    g = gaps[p]
                    out.append(f"разница в опыте: {g} {_plural(g, 'год', 'года', 'лет')}")
            out.append(forms[p])
            if category_reason and e_list[p] in category_reason:
                out.append(category_reason[e_list[p]])
            reasons.append(out)
        return t["value"].tolist(), reasons

    def approx(self, rows: np.ndarray, cols: np.ndarray, form: MentoringForm) -> np.ndarray:
        """float32 scores × SCALE of mentees `rows` (all of `form`) against mentors `cols`."""
        # In-place float32 arithmetic on cache-sized blocks: this is the engine's hot loop.
        r_comp = self.r_comp[cols]
        s = _popcount(self.e_subj[rows], r_comp) * self.e_subj_w[rows, None]
        s += _popcount(self.e_req[rows], r_comp) * self.e_req_w[rows, None]
        c = _popcount(self.e_int[rows], self.r_int[cols]).astype(np.float32)
        den = self.e_n_int_f[rows, None] + self.r_n_int_f[None, cols]
        den -= c
        np.maximum(den, 1, out=den)  # union 0 means no interests at all: the count is 0 too
        c *= self.w_s[2]
        c /= den
        s += c
        c = _popcount(self.e_av[rows], self.r_av[cols]).astype(np.float32)
        den = np.minimum(self.e_n_av_f[rows, None], self.r_n_av_f[None, cols])
        np.maximum(den, 1, out=den)
        c *= self.w_s[3]
        c /= den
        s += c
        if form in PEER_FORMS:
            gap = self.r_grade0_f[None, cols] - self.e_grade0_f[rows, None]
            full = GRADE_FULL_GAP
        else:
            gap = self.r_exp_f[None, cols] - self.e_exp_f[rows, None]
            full = EXPERIENCE_FULL_YEARS
        np.clip(gap, 0, full, out=gap)
        gap *= self.w_s[4] / np.float32(full)
        s += gap
        return s

    def pair_ok(self, rows: np.ndarray, cols: np.ndarray, form: MentoringForm) -> np.ndarray:
        """Pairwise hard rules (beyond the per-mentee and per-mentor ones): §2.2 grades, courses."""
        if form not in PEER_FORMS:
            return np.ones((len(rows), len(cols)), dtype=bool)
        eg = self.e_grade[rows][:, None]
        rg = self.r_grade[cols][None, :]
        ok = (eg >= 0) & (rg >= 0) & (rg - eg >= _min_gap(form, self.policy))
        if form is MentoringForm.student_student and self.policy.pupil_mentor_higher_stage:
            ok &= _stage_np(rg) > _stage_np(eg)
        return ok


# The float32 approximation differs from the exact score × SCALE by far less than this, and the
# exact integer is a rounding of it: bounds derived from `approx` add this margin.
_APPROX_MARGIN = 0.6


# --------------------------------------------------------------------------------------------
# Candidate generation and the flow


@dataclass
class _Edges:
    """Kept candidate edges (global mentee index, global mentor index, integer score)."""

    mentee: np.ndarray
    mentor: np.ndarray
    iscore: np.ndarray


class _Problem:
    """The free part of the instance: eligible mentees, per-form mentor pools, bans."""

    def __init__(
        self,
        data: _Data,
        free: list[int],
        capacity: np.ndarray,
        forbid: dict[int, set[int]],
    ) -> None:
        self.data = data
        self.capacity = capacity
        self.forbid = forbid
        self.by_form: dict[MentoringForm, np.ndarray] = {}
        self.pool: dict[MentoringForm, np.ndarray] = {}
        # One pass over the mentees (ten forms; a college or a school uses a few of them).
        free_by_form: dict[MentoringForm, list[int]] = defaultdict(list)
        for i in free:
            free_by_form[data.mentees[i].form].append(i)
        for form in FORMS:
            if form not in free_by_form:
                continue
            rows = np.array(free_by_form[form], dtype=np.int64)
            cols = [
                j
                for j, r in enumerate(data.mentors)
                if capacity[j] > 0 and _mentor_form_violation(r, form, data.policy) is None
            ]
            self.by_form[form] = rows
            self.pool[form] = np.array(cols, dtype=np.int64)
        self.form_reasons: dict[MentoringForm, list[str | None]] = {}
        self.form_ok: dict[MentoringForm, np.ndarray] = {}
        self._keys: dict[MentoringForm, _Keys] = {}
        self.ub = np.full(len(data.mentees), -1, dtype=np.int64)  # bound on omitted int scores
        self.degree = np.zeros(len(data.mentees), dtype=np.int64)  # eligible edges

    def parts(self) -> list[list[MentoringForm]]:
        """Forms grouped into independent parts: two forms are joined by a mentor in both pools."""
        owner = {form: form for form in self.by_form}

        def find(form: MentoringForm) -> MentoringForm:
            while owner[form] is not form:
                form = owner[form]
            return form

        forms = list(self.by_form)
        for a, fa in enumerate(forms):
            for fb in forms[a + 1 :]:
                if np.intersect1d(self.pool[fa], self.pool[fb]).size:
                    owner[find(fb)] = find(fa)
        groups: dict[MentoringForm, list[MentoringForm]] = defaultdict(list)
        for form in forms:
            groups[find(form)].append(form)
        return list(groups.values())

    def block(
        self, rows: np.ndarray, form: MentoringForm, cols: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(eligible mask, approximate scores × SCALE) of `rows` against the pool (or `cols`)."""
        cols = self.pool[form] if cols is None else cols
        ok = self.data.pair_ok(rows, cols, form)
        if self.forbid:
            col_pos = {int(j): p for p, j in enumerate(cols)}
            for r, i in enumerate(rows):
                for j in self.forbid.get(int(i), ()):
                    if j in col_pos:
                        ok[r, col_pos[j]] = False
        return ok, self.data.approx(rows, cols, form)

    def keys(self, form: MentoringForm) -> _Keys:
        """The form's ranking keys, scored once per `match` call and reused by every round."""
        if form not in self._keys:
            self._keys[form] = self._build_keys(form)
        return self._keys[form]

    def drop_keys(self, forms: Iterable[MentoringForm]) -> None:
        """Free a finished part's key matrices."""
        for form in forms:
            self._keys.pop(form, None)

    def _build_keys(self, form: MentoringForm) -> _Keys:
        """Score every eligible (mentee, mentor) cell of the form once, as int16 keys.

        Peer forms' («ученик–ученик», «студент–студент») rows and columns are sorted by grade
        (course): the §2.2 rule is monotone in the mentor's grade, so each mentee grade's
        eligible mentors are a suffix of the columns and the cells the rule excludes (about a
        quarter) are never scored.
        """
        data = self.data
        rows, cols = self.by_form[form], self.pool[form]
        if form in PEER_FORMS:
            rows = rows[np.lexsort((rows, data.e_grade[rows]))]
            cols = cols[np.lexsort((cols, data.r_grade[cols]))]
            bounds = np.flatnonzero(np.diff(data.e_grade[rows])) + 1
        else:
            bounds = np.zeros(0, dtype=np.int64)
        n, m = len(rows), len(cols)
        key = np.full((n, m), -1, dtype=np.int16)
        degree = np.zeros(n, dtype=np.int64)
        groups: list[tuple[int, int, int]] = []
        for r0, r1 in zip([0, *bounds.tolist()], [*bounds.tolist(), n], strict=True):
            ok = data.pair_ok(rows[r0 : r0 + 1], cols, form)[0]
            start = int(np.argmax(ok)) if ok.any() else m
            groups.append((r0, r1, start))
            if start == m:
                continue
            holes = np.flatnonzero(~ok[start:])  # none while the rule is monotone in grade
            degree[r0:r1] = m - start - len(holes)
            step = max(1, _CHUNK_CELLS // (m - start))
            for b in range(r0, r1, step):
                e = min(r1, b + step)
                approx = data.approx(rows[b:e], cols[start:], form)
                approx += np.float32(0.5)  # keys: rounded half up, non-negative
                block = key[b:e, start:]
                block[...] = approx
                if len(holes):
                    block[:, holes] = -1
        if self.forbid:
            row_pos = {int(i): a for a, i in enumerate(rows)}
            col_pos = {int(j): b for b, j in enumerate(cols)}
            for i, banned in self.forbid.items():
                a = row_pos.get(i)
                if a is None:
                    continue
                for j in banned:
                    column = col_pos.get(j)
                    if column is not None and key[a, column] >= 0:
                        key[a, column] = -1
                        degree[a] -= 1
        self.degree[rows] = degree
        return _Keys(rows, cols, key, degree, groups)


@dataclass
class _Keys:
    """int16 ranking keys of one form's mentees (`rows`) against its mentor pool (`cols`).

    `key[a, b]` is the float32 approximate score × SCALE of mentee `rows[a]` and mentor
    `cols[b]` rounded half up, or -1 where a hard rule or a ban excludes the pair; the exact
    integer score is at most key + 1. Rows come in `groups` (first row, end row, first
    eligible column): left of the first eligible column every key is -1.
    """

    rows: np.ndarray
    cols: np.ndarray
    key: np.ndarray
    degree: np.ndarray
    groups: list[tuple[int, int, int]]


def _row_top(
    keys: _Keys, k: int, shift: np.ndarray | None = None, local: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's k best columns by key (plus `shift[column]` when given).

    Returns (row position, column position) lists and each row's (k+1)-th best key (-1 if
    none), for all rows or the row positions `local`.
    """
    n, m = keys.key.shape
    out_r: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    nxt_all = np.full(n, -1, dtype=np.int64)
    for r0, r1, start in keys.groups:
        if start >= m:
            continue
        if local is None:
            pos = np.arange(r0, r1)
        else:
            pos = local[(local >= r0) & (local < r1)]
        step = max(1, _CHUNK_CELLS // (m - start))
        for b in range(0, len(pos), step):
            p = pos[b : b + step]
            if local is None:
                block = keys.key[p[0] : p[-1] + 1, start:]
            else:
                block = keys.key[p, start:]
            if shift is not None:
                block = np.where(block >= 0, block + shift[start:], shift.dtype.type(-1))
            e, c, nxt = _top_k_rows(block, keys.degree[p], k)
            out_r.append(p[e])
            out_c.append(c + start)
            nxt_all[p] = nxt
    if not out_r:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, nxt_all
    return np.concatenate(out_r), np.concatenate(out_c), nxt_all


def _col_top(keys: _Keys, side: int) -> tuple[np.ndarray, np.ndarray]:
    """About `side` best rows of every column (all of them on small instances).

    A heuristic (where mentors are scarce the optimum is decided on their side): the column
    threshold comes from a strided row sample, so a column may get a few fewer; every column
    with an eligible row gets at least its best one.
    """
    key = keys.key
    n, m = key.shape
    if not side or not n or not m:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    stride = max(1, min(side // 4, n // (8 * side)))
    sample = key[::stride]
    q = min(len(sample), -(-side // stride) + 1)
    thr = _col_kth_largest(sample, q)
    np.maximum(thr, 0, out=thr)
    r, c = _nonzero(key >= thr[None, :])
    kv = key[r, c]
    order = np.lexsort((r, -kv.astype(np.int32), c))
    r, c = r[order], c[order]
    pos = np.arange(len(c)) - np.searchsorted(c, np.arange(m))[c]
    keep = pos < side
    return r[keep], c[keep]


def _col_kth_largest(a: np.ndarray, q: int) -> np.ndarray:
    """Each column's q-th largest value (duplicates counted), as ``np.partition`` gives it.

    Cheaper than partitioning every column: the smallest of q disjoint row groups' maxima is
    q distinct elements' minimum, so at most the q-th largest; only the few cells at or above
    it are sorted.
    """
    m = a.shape[1]
    low = a[0::q].max(axis=0)  # groups interleaved: rows come sorted by grade
    for g in range(1, q):
        np.minimum(low, a[g::q].max(axis=0), out=low)
    r, c = _nonzero(a >= low[None, :])
    v = a[r, c]
    order = np.lexsort((-v.astype(np.int64), c))
    c, v = c[order], v[order]
    return v[np.searchsorted(c, np.arange(m)) + q - 1]


def _top_k_rows(
    key: np.ndarray, degree: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the k best columns (key desc, column asc) as (row, col) lists, and the k+1-th key.

    A threshold from a strided sample keeps only a few dozen candidates per row, so the exact
    ordering sorts those instead of partitioning every row of thousands (20× faster); rows whose
    threshold left fewer than k+1 candidates fall back to all eligible columns.
    """
    n, m = key.shape
    stride = max(1, min(m // 8, (k + 1) // 2))
    sample = key[:, ::stride]
    q = min(sample.shape[1], 6)
    thr = np.partition(sample, sample.shape[1] - q, axis=1)[:, sample.shape[1] - q]
    thr = np.maximum(thr, 0).astype(key.dtype)
    mask = key >= thr[:, None]
    short = np.count_nonzero(mask, axis=1) < np.minimum(degree, k + 1)
    if short.any():
        mask[short] = key[short] >= 0
    flat = np.flatnonzero(mask)
    kv = key.ravel()[flat] if key.flags.c_contiguous else key[np.divmod(flat, m)]
    top = int(kv.max()) if len(kv) else 0
    span = top - (int(kv.min()) if len(kv) else 0) + 1
    if n * span * m < 2**62:
        # One sort of a composite (row, key desc, column) instead of a three-key lexsort.
        row = flat // m
        comp = np.sort((row * span + (top - kv.astype(np.int64))) * m + flat % m)
        r, rest = np.divmod(comp, span * m)
        c = rest % m
        kv = top - rest // m
    else:
        r, c = np.divmod(flat, m)
        order = np.lexsort((c, -kv.astype(np.int64), r))
        r, c, kv = r[order], c[order], kv[order]
    starts = np.searchsorted(r, np.arange(n))
    pos = np.arange(len(r)) - starts[r]
    nxt = np.full(n, -1, dtype=np.int64)
    at_k = pos == k
    nxt[r[at_k]] = kv[at_k]
    keep = pos < k
    return r[keep], c[keep], nxt


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a 2-D mask, via the flat indices (several times faster on big masks)."""
    flat = np.flatnonzero(mask)
    return np.divmod(flat, mask.shape[1])


def _present(values: np.ndarray, size: int) -> np.ndarray:
    """Sorted distinct values of a non-negative int array below `size` (np.unique, faster)."""
    seen = np.zeros(size, dtype=bool)
    seen[values] = True
    return np.flatnonzero(seen)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: cheaper than np.unique's hashing here)."""
    values = np.sort(values)
    if len(values):
        values = values[np.concatenate([[True], values[1:] != values[:-1]])]
    return values


def _dedupe(edges: _Edges, n_mentors: int) -> _Edges:
    """Each (mentee, mentor) once, sorted by mentee then mentor (a canonical order)."""
    key = edges.mentee * (n_mentors + 1) + edges.mentor
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = order[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else order
    return _Edges(edges.mentee[first], edges.mentor[first], edges.iscore[first])


def _concat(parts: list[_Edges]) -> _Edges:
    """Edge lists one after another."""
    return _Edges(*(np.concatenate([getattr(p, a) for p in parts]) for a in _Edges.__annotations__))


def _solve(edges: _Edges, n_mentees: int, capacity: np.ndarray) -> np.ndarray:
    """Max flow of min cost on the kept edges; returns the flow on each edge (0/1)."""
    if not len(edges.mentee):
        return np.zeros(0, dtype=np.int64)
    n_mentors = len(capacity)
    source, sink = n_mentees + n_mentors, n_mentees + n_mentors + 1
    used_mentees = _present(edges.mentee, n_mentees)
    used_mentors = _present(edges.mentor, n_mentors)
    tails = np.concatenate(
        [np.full(len(used_mentees), source), edges.mentee, n_mentees + used_mentors]
    )
    heads = np.concatenate(
        [used_mentees, n_mentees + edges.mentor, np.full(len(used_mentors), sink)]
    )
    caps = np.concatenate(
        [np.ones(len(used_mentees)), np.ones(len(edges.mentee)), capacity[used_mentors]]
    )
    # No "unmatched" arcs and no BIG constant: SolveMaxFlowWithMinCost maximises the flow first
    # (the number of matched mentees) and only then minimises cost (maximises the score).
    costs = np.concatenate(
        [np.zeros(len(used_mentees)), -edges.iscore, np.zeros(len(used_mentors))]
    )
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        caps.astype(np.int64),
        costs.astype(np.int64),
    )
    smcf.set_node_supply(source, len(used_mentees))
    smcf.set_node_supply(sink, -len(used_mentees))
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: status {status}")
    first = len(used_mentees)
    arcs = np.arange(first, first + len(edges.mentee))
    return np.asarray(smcf.flows(arcs), dtype=np.int64)


def _residual(
    edges: _Edges, flow: np.ndarray, n_mentees: int, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Residual arcs (tails, heads, costs) of the pruned solution; also the source node."""
    n_mentors = len(capacity)
    source, sink = n_mentees + n_mentors, n_mentees + n_mentors + 1
    matched = np.zeros(n_mentees, dtype=bool)
    matched[edges.mentee[flow == 1]] = True
    load = np.bincount(edges.mentor[flow == 1], minlength=n_mentors)
    mentees = _present(edges.mentee, n_mentees)
    mentors = _present(edges.mentor, n_mentors)
    used = flow == 1
    tails = [
        np.full(int((~matched[mentees]).sum()), source),
        mentees[matched[mentees]],
        edges.mentee[~used],
        n_mentees + edges.mentor[used],
        n_mentees + mentors[load[mentors] < capacity[mentors]],
        np.full(int((load[mentors] > 0).sum()), sink),
    ]
    heads = [
        mentees[~matched[mentees]],
        np.full(int(matched[mentees].sum()), source),
        n_mentees + edges.mentor[~used],
        edges.mentee[used],
        np.full(int((load[mentors] < capacity[mentors]).sum()), sink),
        n_mentees + mentors[load[mentors] > 0],
    ]
    costs = [
        np.zeros(len(tails[0]), dtype=np.int64),
        np.zeros(len(tails[1]), dtype=np.int64),
        -edges.iscore[~used],
        edges.iscore[used],
        np.zeros(len(tails[4]), dtype=np.int64),
        np.zeros(len(tails[5]), dtype=np.int64),
    ]
    return (
        np.concatenate(tails).astype(np.int64),
        np.concatenate(heads).astype(np.int64),
        np.concatenate(costs).astype(np.int64),
        source,
    )


def _reachable(tails: np.ndarray, heads: np.ndarray, n_nodes: int, source: int) -> np.ndarray:
    """Nodes reachable from the source in the residual graph (the source side of a min cut)."""
    reach = np.zeros(n_nodes, dtype=bool)
    reach[source] = True
    while True:
        new = heads[reach[tails] & ~reach[heads]]
        if not len(new):
            return reach
        reach[new] = True


def _potentials(
    residual: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    n_nodes: int,
    n_mentees: int,
    edges: _Edges,
    flow: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """Node potentials with every residual arc's reduced cost ≥ 0, chosen to certify the most.

    Bellman–Ford on the reversed residual graph gives the smallest non-negative potentials
    (low mentor "prices"); each mentee's potential is then raised to the largest value its
    incoming arcs allow (its mentor's price + its score, or the source's when unmatched), which
    only helps its outgoing arcs. An omitted arc i→r is fine when score ≤ d[i] − d[r].
    """
    tails, heads, costs, source = residual
    order = np.argsort(tails, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    back = np.zeros(n_nodes, dtype=np.int64)  # shortest path from each node, capped at 0
    changed = np.ones(n_nodes, dtype=bool)
    # Incoming arcs of each node (CSR by head, arc numbers in tail order): when few nodes
    # changed, their arcs are gathered from it instead of testing every arc's head.
    by_head = np.argsort(heads, kind="stable")
    in_ptr = np.concatenate([[0], np.cumsum(np.bincount(heads, minlength=n_nodes))])
    in_deg = np.diff(in_ptr)
    small = len(heads) // 16
    # Bellman–Ford relaxing only arcs into nodes that changed in the last pass; arcs sorted by
    # tail turn the per-node minimum into one reduceat instead of a slow ufunc.at.
    for _ in range(n_nodes + 1):
        nodes = np.flatnonzero(changed)
        deg = in_deg[nodes]
        total = int(deg.sum())
        if total < small:
            # The same sorted arc list as below: each arc has one head.
            first = np.repeat(in_ptr[nodes] - np.cumsum(deg) + deg, deg)
            active = np.sort(by_head[first + np.arange(total)])
        else:
            active = np.flatnonzero(changed[heads])
        if not len(active):
            break
        t = tails[active]
        v = back[heads[active]] + costs[active]
        starts = np.flatnonzero(np.concatenate([[True], t[1:] != t[:-1]]))
        best = np.minimum.reduceat(v, starts)
        nodes = t[starts]
        better = best < back[nodes]
        changed[:] = False
        back[nodes[better]] = best[better]
        changed[nodes[better]] = True
    else:
        raise RuntimeError("negative cycle in the residual graph: the pruned optimum is wrong")
    d = -back
    # Incoming arcs of a mentee: source→mentee (cost 0) when unmatched, mentor→mentee (cost
    # +score) along its matched edge. Raise to the tightest of them.
    d[edges.mentee] = d[source]
    used = flow == 1
    d[edges.mentee[used]] = d[n_mentees + edges.mentor[used]] + edges.iscore[used]
    # A mentor with room but no kept edge has only its arc to the sink (cost 0) in the full
    # residual graph: its potential must be at least the sink's.
    isolated = np.ones(len(capacity), dtype=bool)
    isolated[edges.mentor] = False
    isolated &= capacity > 0
    d[n_mentees + np.flatnonzero(isolated)] = d[n_nodes - 1]
    return d


# --------------------------------------------------------------------------------------------
# The engine


def match(
    mentees: Sequence[MenteeCandidate],
    mentors: Sequence[MentorCandidate],
    *,
    constraints: Constraints = Constraints(),
    policy: Policy = Policy(),
    top_k: int = 20,
) -> MatchResult:
    """Most mentees matched, then highest total score, under the regulation's hard rules."""
    started = time.perf_counter()
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    mentees = sorted(mentees, key=lambda m: m.id)
    mentors = sorted(mentors, key=lambda r: r.id)
    _check_unique([m.id for m in mentees], "наставляемых")
    _check_unique([r.id for r in mentors], "наставников")
    e_index = {m.id: i for i, m in enumerate(mentees)}
    r_index = {r.id: j for j, r in enumerate(mentors)}
    capacity = np.array([remaining_capacity(r, policy=policy) for r in mentors], dtype=np.int64)

    locked = _locked_pairs(mentees, mentors, constraints, policy, e_index, r_index, capacity)
    forbid: dict[int, set[int]] = defaultdict(set)
    for mentee_id, mentor_id in constraints.forbid:
        if mentee_id in e_index and mentor_id in r_index:
            forbid[e_index[mentee_id]].add(r_index[mentor_id])

    unmatched_reason: dict[int, str] = {}
    free: list[int] = []
    for i, m in enumerate(mentees):
        if i in locked:
            continue
        reason = mentee_violation(m, policy=policy)
        if reason:
            unmatched_reason[i] = reason
        else:
            free.append(i)

    data = _Data(mentees, mentors, policy)
    problem = _Problem(data, free, capacity, forbid)
    assignment, solve_stats = _optimise(problem, top_k)

    for i in free:
        if i not in assignment:
            unmatched_reason[i] = _diagnose(problem, i, capacity, assignment)

    result = _build_result(mentees, mentors, locked, assignment, unmatched_reason, policy, data)
    result.stats.update(solve_stats)
    result.stats.update(
        mentees=len(mentees),
        mentors=len(mentors),
        locked=len(locked),
        capacity_left=int(capacity.sum()) - len(assignment),
        seconds=round(time.perf_counter() - started, 4),
    )
    return result


def _check_unique(ids: list[str], what: str) -> None:
    """Duplicate ids would make the result ambiguous: refuse them."""
    seen: set[str] = set()
    for x in ids:
        if x in seen:
            raise ValueError(f"повторяющийся id среди {what}: {x}")
        seen.add(x)


def _locked_pairs(
    mentees: list[MenteeCandidate],
    mentors: list[MentorCandidate],
    constraints: Constraints,
    policy: Policy,
    e_index: dict[str, int],
    r_index: dict[str, int],
    capacity: np.ndarray,
) -> dict[int, int]:
    """Validate the curator's locked pairs and take their places (mentee index → mentor index)."""
    locked: dict[int, int] = {}
    for mentee_id, mentor_id in sorted(constraints.keep):
        name = f"закреплённая пара ({mentee_id}, {mentor_id})"
        if mentee_id not in e_index or mentor_id not in r_index:
            raise ValueError(f"{name}: нет такого наставляемого или наставника")
        if (mentee_id, mentor_id) in constraints.forbid:
            raise ValueError(f"{name}: одновременно запрещена куратором")
        i, j = e_index[mentee_id], r_index[mentor_id]
        if i in locked:
            raise ValueError(f"{name}: наставляемый уже закреплён за другим наставником")
        violation = check_pair(mentees[i], mentors[j], policy=policy)
        if violation:
            raise ValueError(f"{name} нарушает правило: {violation}")
        if capacity[j] <= 0:
            raise ValueError(
                f"{name} нарушает правило: у наставника уже "
                f"{mentors[j].active_mentees} + закреплённые, больше нельзя (п. 2.5)"
            )
        capacity[j] -= 1
        locked[i] = j
    return locked


def _optimise(problem: _Problem, top_k: int) -> tuple[dict[int, int], dict[str, Any]]:
    """Solve each independent part on top-k edges, certify it on all edges, widen if needed."""
    n, m = len(problem.data.mentees), len(problem.data.mentors)
    assignment: dict[int, int] = {}
    stats = dict.fromkeys(("kept_edges", "eligible_edges", "rounds", "widened_mentees"), 0)
    times = dict.fromkeys(("candidates_seconds", "solve_seconds", "certify_seconds"), 0.0)
    # Forms share no mentor across parts, so each part is its own flow problem: a part that
    # needs widening is re-solved alone.
    for forms in problem.parts():
        mentees = np.concatenate([problem.by_form[f] for f in forms])
        t0 = time.perf_counter()
        picked: list[tuple[np.ndarray, np.ndarray]] = []
        for form in forms:
            keys = problem.keys(form)
            r, c, nxt = _row_top(keys, top_k)
            # The kept set only grows, so the (k+1)-th key bounds every omitted edge for good.
            problem.ub[keys.rows] = np.where(nxt >= 0, nxt + 1, -1)  # exact ≤ key + 1
            picked.append((keys.rows[r], keys.cols[c]))
            # Each mentor's best few mentees too: where mentors are scarce the optimum is
            # decided on their side, which the mentees' top-k lists miss.
            r, c = _col_top(keys, top_k)
            picked.append((keys.rows[r], keys.cols[c]))
        edges = _scored(problem.data, picked, m)
        times["candidates_seconds"] += time.perf_counter() - t0
        k_reduced = max(1, top_k // 2)
        widen_all = True
        while True:
            stats["rounds"] += 1
            t0 = time.perf_counter()
            flow = _solve(edges, n, problem.capacity)
            times["solve_seconds"] += time.perf_counter() - t0
            if not (problem.ub[mentees] >= 0).any():
                break  # every eligible edge is kept: the pruned optimum is the optimum
            t0 = time.perf_counter()
            residual = _residual(edges, flow, n, problem.capacity)
            n_nodes = n + m + 2
            reach = _reachable(residual[0], residual[1], n_nodes, residual[3])
            dist = _potentials(residual, n_nodes, n, edges, flow, problem.capacity)
            violations = _certify(problem, edges, forms, reach, dist)
            times["certify_seconds"] += time.perf_counter() - t0
            if not len(violations.mentee):
                break
            # Widen by reduced score (score + the mentor's potential, i.e. score minus the
            # mentor's "price" in the dual): the first time for every row of the part, after
            # that for the violating mentees only, with k doubling. The violating edges are
            # added too, so every round adds at least one new edge: the loop ends, at worst
            # on the full graph.
            bad = np.unique(violations.mentee)
            stats["widened_mentees"] += len(bad)
            t0 = time.perf_counter()
            picked = [(violations.mentee, violations.mentor)]
            for form in forms:
                keys = problem.keys(form)
                local = None if widen_all else np.flatnonzero(_contains(bad, keys.rows))
                if local is not None and not len(local):
                    continue
                r, c, _ = _row_top(keys, k_reduced, shift=_narrow(dist[n + keys.cols]), local=local)
                picked.append((keys.rows[r], keys.cols[c]))
            widen_all = False
            k_reduced *= 2
            edges = _dedupe(_concat([edges, _scored(problem.data, picked, m)]), m)
            times["candidates_seconds"] += time.perf_counter() - t0
        used = flow == 1
        assignment.update(
            zip(edges.mentee[used].tolist(), edges.mentor[used].tolist(), strict=True)
        )
        stats["kept_edges"] += len(edges.mentee)
        stats["eligible_edges"] += int(problem.degree[mentees].sum())
        problem.drop_keys(forms)
    return assignment, {**stats, **{key: round(v, 4) for key, v in times.items()}}


def _narrow(shift: np.ndarray) -> np.ndarray:
    """Column shifts as int32 when key + shift cannot overflow it (halves the memory traffic)."""
    if len(shift) and shift.min() >= 0 and shift.max() < 2**31 - 2 * SCALE:
        return shift.astype(np.int32)
    return shift


def _scored(data: _Data, picked: list[tuple[np.ndarray, np.ndarray]], n_mentors: int) -> _Edges:
    """Chosen (mentee, mentor) lists as deduplicated edges with exact integer scores."""
    mentee = np.concatenate([e for e, _ in picked]).astype(np.int64)
    mentor = np.concatenate([r for _, r in picked]).astype(np.int64)
    key = _sorted_unique(mentee * (n_mentors + 1) + mentor)
    mentee, mentor = key // (n_mentors + 1), key % (n_mentors + 1)
    return _Edges(mentee, mentor, data.exact(mentee, mentor))


def _certify(
    problem: _Problem,
    edges: _Edges,
    forms: list[MentoringForm],
    reach: np.ndarray,
    dist: np.ndarray,
) -> _Edges:
    """Omitted eligible edges that could improve the pruned optimum (none: it is optimal).

    Count: the pruned max flow is maximum on the full graph iff no omitted edge leaves the
    source side S of the residual graph (mentee in S, mentor not in S) — then S stays a cut.
    Score: with potentials d (shortest distances in the residual graph) every kept arc has a
    reduced cost ≥ 0; if every omitted arc i→r also has −score + d[i] − d[r] ≥ 0, no negative
    cycle exists in the full residual graph, so the flow is of minimum cost for its value.
    """
    data = problem.data
    n, m = len(data.mentees), len(data.mentors)
    kept = np.sort(edges.mentee * (m + 1) + edges.mentor)
    found: list[_Edges] = []
    for form in forms:
        keys = problem.keys(form)
        rows, cols = keys.rows, keys.cols
        local = np.flatnonzero(problem.ub[rows] >= 0)
        if not len(local) or not len(cols):
            continue
        # An omitted arc i→r can only fail if d[r] > d[i] − ub[i] (score ≤ ub[i]) or, for the
        # cut, if i is on the source side and r is not. Scan just those rows and columns,
        # rows in order of their threshold so that each block needs few columns.
        d_r = dist[n + cols]
        limit = dist[rows[local]] - problem.ub[rows[local]]
        in_s = reach[rows[local]]
        scan = (limit < d_r.max()) | in_s
        order = np.argsort(limit[scan], kind="stable")
        local, limit, in_s = local[scan][order], limit[scan][order], in_s[scan][order]
        outside = ~reach[n + cols]
        step = max(1, _CHUNK_CELLS // len(cols))
        for start in range(0, len(local), step):
            block_pos = local[start : start + step]
            col_mask = d_r > limit[start : start + step].min()
            if in_s[start : start + step].any():
                col_mask |= outside
            col_pos = np.flatnonzero(col_mask)
            if not len(col_pos):
                continue
            block_rows = rows[block_pos]
            key = keys.key[block_pos[:, None], col_pos[None, :]]
            cut = reach[block_rows][:, None] & outside[col_pos][None, :]
            slack = dist[block_rows][:, None] - d_r[col_pos][None, :]  # largest fine score
            maybe = (key >= 0) & (cut | (key.astype(np.int64) + 1 > slack))
            r_pos, c_pos = _nonzero(maybe)
            e, r = block_rows[r_pos], cols[col_pos[c_pos]]
            fresh = ~_contains(kept, e * (m + 1) + r)
            e, r, is_cut = e[fresh], r[fresh], cut[r_pos, c_pos][fresh]
            iscore = data.exact(e, r)
            bad = is_cut | (iscore > dist[e] - dist[n + r])
            found.append(_Edges(e[bad], r[bad], iscore[bad]))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return _Edges(empty, empty, empty)
    return _concat(found)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of keys in a sorted array (faster than np.isin for repeated lookups)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _diagnose(problem: _Problem, i: int, capacity: np.ndarray, assignment: dict[int, int]) -> str:
    """The Russian reason why an eligible mentee ended up unmatched."""
    data = problem.data
    mentee = data.mentees[i]
    if mentee.form not in problem.form_reasons:
        problem.form_reasons[mentee.form] = [
            _mentor_form_violation(r, mentee.form, data.policy) for r in data.mentors
        ]
    reasons = problem.form_reasons[mentee.form]
    if all(r == NO_MENTOR_OF_FORM for r in reasons):
        return NO_MENTOR_OF_FORM
    if all(r in (NO_MENTOR_OF_FORM, MENTORS_WITHOUT_CONSENTS) for r in reasons):
        return MENTORS_WITHOUT_CONSENTS
    if mentee.form not in problem.form_ok:
        problem.form_ok[mentee.form] = np.array(
            [j for j, r in enumerate(reasons) if r is None], dtype=np.int64
        )
    form_ok = problem.form_ok[mentee.form]
    if not len(form_ok):
        # The form's own mentor rule (employer's years, master, director) excludes them all.
        return next(
            r for r in reasons if r and r not in (NO_MENTOR_OF_FORM, MENTORS_WITHOUT_CONSENTS)
        )
    pair_ok = data.pair_ok(np.array([i]), form_ok, mentee.form)[0]
    if not pair_ok.any():
        return _PAIR_RULE_REASON[mentee.form]
    candidates = set(form_ok[pair_ok].tolist())
    if candidates <= problem.forbid.get(i, set()):
        return ALL_FORBIDDEN
    return NO_CAPACITY


def _build_result(
    mentees: list[MenteeCandidate],
    mentors: list[MentorCandidate],
    locked: dict[int, int],
    assignment: dict[int, int],
    unmatched_reason: dict[int, str],
    policy: Policy,
    data: _Data,
) -> MatchResult:
    """Pairs, groups (group-wanting mentees sharing a mentor and a form), totals."""
    # Scores and reasons of all pairs at once, equal to `score(...)` of each.
    chosen = {**assignment, **locked}
    values, texts = data.scores_and_reasons(
        np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen)),
        np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen)),
    )
    scored = dict(zip(chosen, zip(values, texts, strict=True), strict=True))
    pairs: list[Pair] = []
    groups: list[Group] = []
    for i, j in sorted(locked.items()):
        value, reasons = scored[i]
        pairs.append(Pair(mentees[i].id, mentors[j].id, value, reasons, locked=True))
    pools: dict[tuple[int, MentoringForm], list[int]] = defaultdict(list)
    for i, j in sorted(assignment.items()):
        m = mentees[i]
        if m.wants_group and m.form in policy.group_forms:
            pools[(j, m.form)].append(i)
            continue
        value, reasons = scored[i]
        pairs.append(Pair(m.id, mentors[j].id, value, reasons))
    for (j, _form), members in sorted(pools.items()):
        # Cut into groups of group_max while at least group_min remain; leftovers are pairs.
        rest = list(members)
        while len(rest) >= policy.group_min:
            size = min(policy.group_max, len(rest))
            if 0 < len(rest) - size < policy.group_min and size > policy.group_min:
                size -= 1  # leave a viable second group rather than a lone pair
            chunk, rest = rest[:size], rest[size:]
            values = [scored[i][0] for i in chunk]
            common = _common_reasons([scored[i][1] for i in chunk])
            groups.append(
                Group(
                    mentors[j].id, [mentees[i].id for i in chunk], sum(values) / len(values), common
                )
            )
        for i in rest:
            value, reasons = scored[i]
            pairs.append(Pair(mentees[i].id, mentors[j].id, value, [*reasons, GROUP_NOT_FORMED]))
    pairs.sort(key=lambda p: p.mentee_id)
    unmatched = [Unmatched(mentees[i].id, r) for i, r in sorted(unmatched_reason.items())]
    total = sum(v for v, _ in scored.values())
    worst_score: float | None = None
    worst_id: str | None = None
    if scored:
        worst_i = min(scored, key=lambda i: (scored[i][0], mentees[i].id))
        worst_score, worst_id = scored[worst_i][0], mentees[worst_i].id
    stats: dict[str, Any] = {
        "matched": len(scored),
        "unmatched": len(unmatched),
        "objective": sum(int_score(v) for v, _ in scored.values()),
    }
    return MatchResult(pairs, groups, unmatched, total, worst_score, worst_id, stats)


def _common_reasons(all_reasons: list[list[str]]) -> list[str]:
    """Reasons every member shares, in the first member's order (the form at least)."""
    first, *others = all_reasons
    return [r for r in first if all(r in o for o in others)]
