"""The programme's indicators at completion, each with its formula in Russian (no Prefect).

What the evaluation memo («Справка по результатам оценки и обратной связи», seed
``roadmap_school7_mineralnye_vody.txt`` item 5) and the final event's ranking read. Every
indicator is a numerator over a denominator that anyone can recount from the database: the
formula says which rows are counted, so the same data always gives the same figures.

The population is the cycle's pairs whose mentoring is over on the day (nastavnik.completion:
ended on their date or terminated by order; a pair whose mentor was replaced goes on as a new
pair). Satisfaction comes from the end-of-mentoring reports' questionnaire (1–10); meetings held
come from the meeting logs and planned ones from each pair's personal programme, counted up to
the month the pair ended (nastavnik.progress).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    CompletionReport,
    Cycle,
    MeetingFeedback,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    PairStatus,
    Participant,
    Person,
    PlanFulfilment,
    Role,
)
from nastavnik import completion, consents
from nastavnik.progress import (
    chunks,
    compute_progress,
    cycle_policy,
    load_pairs,
    month_start,
    next_month,
)

SHARE, MEAN = "share", "mean"


@dataclass(frozen=True)
class Indicator:
    """One figure with how it was computed: value = numerator / denominator."""

    key: str
    title_ru: str
    formula_ru: str
    numerator: float
    denominator: int
    kind: str = SHARE  # share: shown in per cent; mean: a mean on the 1–10 scale

    @property
    def value(self) -> float | None:
        """The figure (a share 0–1 or a mean 1–10), None when nothing was counted."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def value_ru(self) -> str:
        """«66,7 %», «8,5 из 10», or «нет данных»."""
        if self.value is None:
            return "нет данных"
        if self.kind == SHARE:
            return f"{self.value * 100:.1f} %".replace(".", ",")
        return f"{self.value:.1f} из 10".replace(".", ",")

    @property
    def counted_ru(self) -> str:
        """«2 из 3» for a share, «по 3 ответам» for a mean: the figure is checkable."""
        if self.kind == SHARE:
            return f"{self.numerator:g} из {self.denominator}"
        return f"по {self.denominator} ответам"


def share(key: str, title_ru: str, formula_ru: str, hits: int, total: int) -> Indicator:
    """A share: hits out of total."""
    return Indicator(key, title_ru, formula_ru, hits, total, SHARE)


def mean(key: str, title_ru: str, formula_ru: str, scores: Iterable[int]) -> Indicator:
    """A mean of 1–10 answers."""
    values = list(scores)
    return Indicator(key, title_ru, formula_ru, float(sum(values)), len(values), MEAN)


# ---------------------------------------------------------------------------------------------
# The per-mentor scorecard
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MentorScorecard:
    """One mentor's figures for the year on a day: the one per-mentor computation that the
    evaluation memo prints and the final event's ranking scores (names are adults'; None means
    «no data», never zero).

    The mentor's pairs are every pair fixed by order (COUNTED); figures about the end of
    mentoring (mentees completed, the §2.13–§2.14 reports) count the pairs finished by the day."""

    mentor_id: uuid.UUID  # the Participant (mentor) of the cycle
    full_name: str
    minor: bool  # a pupil mentor (under 18, or a pupil whose birth date is unknown)
    forms: tuple[str, ...]
    pairs: int  # pairs fixed by order, whatever became of them
    pairs_completed: int  # pairs ended on their end date by the day (not terminated)
    mentees: int  # mentees of the mentor's finished pairs
    mentees_completed: int  # of those, mentees of pairs ended on their date (not terminated)
    meetings_planned: int  # by the personal programmes, to the pair's end month (or the day's)
    meetings_held: int  # from the meeting logs over the same months
    reports_due: int  # the mentor's own completion reports (§2.13) owed by the day
    reports_on_time: int
    monthly_reports_due: int  # §4.2 monthly reports whose confirmation day has passed
    monthly_reports_on_time: int  # confirmed by the policy's day of the next month
    meeting_rating: float | None  # the mentees' mean meeting feedback, 1–5
    ratings_count: int  # how many feedback ratings that mean is over
    feedback_comments: int  # written feedback comments
    mentor_rating: float | None  # the mentees' evaluation of the mentor (§2.14), 1–10
    mentee_satisfaction: float | None  # the mentees' satisfaction with the pair, 1–10
    mentee_reports_received: int  # mentees' completion reports handed in by the day
    mentee_reports_expected: int  # mentees of every pair that ends (those still going on too)
    plans_fulfilled: int  # the mentor's reports saying the plan was carried out fully

    @property
    def completion_share(self) -> float | None:
        return self.mentees_completed / self.mentees if self.mentees else None

    @property
    def meetings_share(self) -> float | None:
        return self.meetings_held / self.meetings_planned if self.meetings_planned else None

    @property
    def on_time_share(self) -> float | None:
        return self.reports_on_time / self.reports_due if self.reports_due else None

    @property
    def monthly_on_time_share(self) -> float | None:
        if not self.monthly_reports_due:
            return None
        return self.monthly_reports_on_time / self.monthly_reports_due

    @property
    def reasons_ru(self) -> list[str]:
        """The scorecard in words, as a ranking shows its reasons."""
        reasons = [
            f"наставляемых: {self.mentees}, завершили программу: {self.mentees_completed}",
            f"встреч проведено {self.meetings_held} из {self.meetings_planned} по программам",
            f"отчёты наставника в срок: {self.reports_on_time} из {self.reports_due}",
        ]
        if self.mentor_rating is not None:
            reasons.append(f"оценка наставляемыми: {self.mentor_rating:.1f} из 10")
        if self.mentee_satisfaction is not None:
            reasons.append(
                f"удовлетворённость наставляемых работой в паре: {self.mentee_satisfaction:.1f}"
                " из 10"
            )
        return [r.replace(".", ",") for r in reasons]


# ---------------------------------------------------------------------------------------------
# The cycle's indicators
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormSatisfaction:
    """Satisfaction with the programme in one form of mentoring, per side."""

    form: str
    mentors: Indicator
    mentees: Indicator


@dataclass(frozen=True)
class CycleIndicators:
    """The cycle's indicators on a day."""

    cycle_id: uuid.UUID
    today: date
    pairs: int
    overall: list[Indicator]
    by_form: list[FormSatisfaction]
    scorecards: list[MentorScorecard] = field(default_factory=list)

    def get(self, key: str) -> Indicator:
        return next(i for i in self.overall if i.key == key)


F_COMPLETED = (
    "Доля наставляемых, завершивших программу = наставляемые пар, завершённых по окончании срока, "
    "/ все наставляемые завершённых пар (по сроку и досрочно по приказу, п. 2.10)."
)
F_ON_TIME = (
    "Отчёты в срок = отчёты, сданные не позднее N дней после завершения наставничества "
    "(п. 2.13–2.14), / отчёты, которые должны быть сданы (наставник и каждый наставляемый "
    "завершённой пары)."
)
F_MEETINGS = (
    "Встречи: проведено / запланировано = встречи из журналов завершённых пар / встречи, "
    "запланированные их индивидуальными программами по месяц завершения включительно."
)
F_SAT_MENTEES = (
    "Удовлетворённость наставляемых программой = среднее ответов наставляемых «Насколько вы "
    "удовлетворены программой наставничества в целом?» (1–10) в сданных отчётах."
)
F_SAT_MENTORS = (
    "Удовлетворённость наставников программой = среднее ответов наставников на тот же вопрос "
    "(1–10) в сданных отчётах."
)
F_MENTOR_RATING = (
    "Оценка работы наставников = среднее оценок наставника наставляемыми (п. 2.14, 1–10) "
    "в сданных отчётах."
)
F_EXPECTATIONS = (
    "Ожидания оправдались = среднее ответов всех участников «Насколько оправдались ваши "
    "ожидания?» (1–10)."
)
F_USEFULNESS = (
    "Польза участия = среднее ответов всех участников «Насколько полезным для вас было "
    "участие в программе?» (1–10)."
)


def pair_meetings(
    *, session: Session, cycle_id: uuid.UUID, pair_list: list[MentorshipPair], today: date
) -> dict[uuid.UUID, tuple[int, int]]:
    """(planned, held) per pair, from its programme's first month to its end month (or the
    day's month for a pair still going on): what the memo and the ranking both count."""
    if not pair_list:
        return {}
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    data = load_pairs(session=session, pair_ids=[p.id for p in pair_list], as_of=today)
    result = {}
    for pair in pair_list:
        last = min(pair.ends_on, today) if pair.ends_on else today
        progress = compute_progress(
            pair_id=pair.id,
            programme=data.programmes.get(pair.id),
            logs=data.logs.get(pair.id, []),
            mentee_ids=data.mentees.get(pair.id, []),
            feedback_given=data.feedback,
            month=month_start(last),
            feedback_days=rules.meeting_feedback_days,
        )
        result[pair.id] = (progress.planned_to_date, progress.held_to_date)
    return result


def _mean_or_none(values: list[int]) -> float | None:
    return round(fmean(values), 2) if values else None


def cycle_indicators(
    *, session: Session, cycle_id: uuid.UUID, today: date, with_scorecards: bool = True
) -> CycleIndicators:
    """Every indicator of the cycle on `today`, by form and per mentor (reproducible: the same
    database and day give the same figures). Without scorecards (the department's figures,
    counted every morning for each member), the per-mentor cards are left empty."""
    pair_list = completion.finished_pairs(session=session, cycle_id=cycle_id, today=today)
    expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
    meetings = pair_meetings(session=session, cycle_id=cycle_id, pair_list=pair_list, today=today)
    by_pair = {p.id: p for p in pair_list}
    mentee_items = [e for e in expected if e.role == Role.mentee]
    reports = [e.report for e in expected if e.report is not None]
    mentee_reports = [r for r in reports if r.role == Role.mentee]
    mentor_reports = [r for r in reports if r.role == Role.mentor]
    on_time = [e for e in expected if e.status(today) == completion.ReportStatus.submitted]
    owed = [e for e in expected if e.status(today) != completion.ReportStatus.due or e.report]
    overall = [
        share(
            "completed",
            "Наставляемые, завершившие программу",
            F_COMPLETED,
            sum(1 for e in mentee_items if not e.ended_early),
            len(mentee_items),
        ),
        share("reports_on_time", "Отчёты сданы в срок", F_ON_TIME, len(on_time), len(owed)),
        share(
            "meetings",
            "Встречи: проведено от запланированного",
            F_MEETINGS,
            sum(held for _, held in meetings.values()),
            sum(planned for planned, _ in meetings.values()),
        ),
        mean(
            "satisfaction_mentees",
            "Удовлетворённость наставляемых программой",
            F_SAT_MENTEES,
            (r.satisfaction_programme for r in mentee_reports),
        ),
        mean(
            "satisfaction_mentors",
            "Удовлетворённость наставников программой",
            F_SAT_MENTORS,
            (r.satisfaction_programme for r in mentor_reports),
        ),
        mean(
            "mentor_rating",
            "Оценка работы наставников наставляемыми",
            F_MENTOR_RATING,
            (r.mentor_rating for r in mentee_reports if r.mentor_rating is not None),
        ),
        mean(
            "expectations",
            "Ожидания оправдались",
            F_EXPECTATIONS,
            (r.expectations_met for r in reports),
        ),
        mean("usefulness", "Польза участия", F_USEFULNESS, (r.usefulness for r in reports)),
    ]
    forms = sorted({p.form.value for p in pair_list})
    by_form = [
        FormSatisfaction(
            form=form,
            mentors=mean(
                "satisfaction_mentors",
                f"Наставники, «{form}»",
                F_SAT_MENTORS,
                (r.satisfaction_programme for r in mentor_reports if _form(by_pair, r) == form),
            ),
            mentees=mean(
                "satisfaction_mentees",
                f"Наставляемые, «{form}»",
                F_SAT_MENTEES,
                (r.satisfaction_programme for r in mentee_reports if _form(by_pair, r) == form),
            ),
        )
        for form in forms
    ]
    return CycleIndicators(
        cycle_id=cycle_id,
        today=today,
        pairs=len(pair_list),
        overall=overall,
        by_form=by_form,
        scorecards=(
            mentor_scorecards(session=session, cycle_id=cycle_id, today=today)
            if with_scorecards
            else []
        ),
    )


def _form(by_pair: dict[uuid.UUID, MentorshipPair], report: CompletionReport) -> str:
    return by_pair[report.pair_id].form.value


def _mentors(session: Session, mentor_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, bool]]:
    """Each mentor's full name and whether they are a minor on the cycle's start (a pupil whose
    birth date is unknown is presumed one, as nastavnik.consents does)."""
    found: dict[uuid.UUID, tuple[str, bool]] = {}
    for ids in chunks(mentor_ids):
        for participant, person in session.exec(
            select(Participant, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            cycle = session.get(Cycle, participant.cycle_id)
            assert cycle is not None
            minor = consents.is_minor(person.birth_date, cycle.start_date) or (
                person.birth_date is None and participant.grade is not None
            )
            found[participant.id] = (person.full_name, minor)
    return found


COUNTED = (
    PairStatus.active,
    PairStatus.extended,
    PairStatus.ended,
    PairStatus.replaced,
    PairStatus.terminated,
)
"""A mentor's pairs in the cycle: everything fixed by an order, not drafts or dropped proposals."""


def _local_day(moment: datetime, timezone: tzinfo) -> date:
    # SQLite gives naive datetimes back: they were written in UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(timezone).date()


def _monthly_on_time(
    reports: list[MonthlyReport], *, report_day: int, today: date, timezone: tzinfo
) -> tuple[int, int]:
    """(due, on time) of §4.2 monthly reports: the report on a month is due on the policy's
    day of the next month and counts once that day has passed by `today`."""
    due = on_time = 0
    for report in reports:
        due_on = next_month(report.month).replace(day=report_day)
        if due_on > today:
            continue
        due += 1
        on_time += (
            report.status == MonthlyReportStatus.confirmed
            and report.confirmed_at is not None
            and _local_day(report.confirmed_at, timezone) <= due_on
        )
    return due, on_time


def mentor_scorecards(
    *, session: Session, cycle_id: uuid.UUID, today: date, timezone: tzinfo | None = None
) -> list[MentorScorecard]:
    """Every mentor of the cycle with a pair fixed by order, with the figures up to `today`,
    sorted by name (reproducible: the same database and day give the same cards).

    Meetings from the personal programmes and the logs (pair_meetings), meeting ratings and
    comments from the mentees' feedback, §4.2 monthly reports, and the §2.13–§2.14 completion
    reports of the pairs finished by the day (a report counts from the day it was handed in)."""
    timezone = timezone or ZoneInfo("Europe/Moscow")
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    pair_list = list(
        session.exec(
            select(MentorshipPair)
            .where(MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(COUNTED))
            .order_by(col(MentorshipPair.created_at), col(MentorshipPair.id))
        ).all()
    )
    pairs_of: dict[uuid.UUID, list[MentorshipPair]] = defaultdict(list)
    for pair in pair_list:
        pairs_of[pair.mentor_id].append(pair)
    pair_ids = [p.id for p in pair_list]
    meetings = pair_meetings(session=session, cycle_id=cycle_id, pair_list=pair_list, today=today)
    expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
    items_of: dict[uuid.UUID, list[completion.ExpectedReport]] = defaultdict(list)
    for item in expected:
        items_of[item.pair_id].append(item)
    data = load_pairs(session=session, pair_ids=pair_ids, as_of=today)
    meeting_pair = {log.id: pair_id for pair_id, logs in data.logs.items() for log in logs}
    feedback: dict[uuid.UUID, list[MeetingFeedback]] = defaultdict(list)
    for ids in chunks(list(meeting_pair)):
        for answer in session.exec(
            select(MeetingFeedback).where(
                col(MeetingFeedback.meeting_id).in_(ids), MeetingFeedback.given_on <= today
            )
        ):
            feedback[meeting_pair[answer.meeting_id]].append(answer)
    monthly: dict[uuid.UUID, list[MonthlyReport]] = defaultdict(list)
    for ids in chunks(pair_ids):
        for report in session.exec(
            select(MonthlyReport).where(col(MonthlyReport.pair_id).in_(ids))
        ):
            monthly[report.pair_id].append(report)
    people = _mentors(session, list(pairs_of))
    ending = {p.id for p in pair_list if p.status != PairStatus.replaced and p.ends_on}
    cards = []
    for mentor_id, mentor_pairs in pairs_of.items():
        items = [item for pair in mentor_pairs for item in items_of.get(pair.id, [])]
        own = [e for e in items if e.role == Role.mentor]
        mentees = [e for e in items if e.role == Role.mentee]
        mentee_reports = [e.report for e in mentees if e.report is not None]
        given = [answer for pair in mentor_pairs for answer in feedback.get(pair.id, [])]
        monthly_due, monthly_on_time = _monthly_on_time(
            [r for pair in mentor_pairs for r in monthly.get(pair.id, [])],
            report_day=rules.mentor_report_day,
            today=today,
            timezone=timezone,
        )
        cards.append(
            MentorScorecard(
                mentor_id=mentor_id,
                full_name=people[mentor_id][0],
                minor=people[mentor_id][1],
                forms=tuple(sorted({p.form.value for p in mentor_pairs})),
                pairs=len(mentor_pairs),
                pairs_completed=sum(
                    1
                    for p in mentor_pairs
                    if p.status != PairStatus.terminated and completion.is_finished(p, today)
                ),
                mentees=len(mentees),
                mentees_completed=sum(1 for e in mentees if not e.ended_early),
                meetings_planned=sum(meetings[p.id][0] for p in mentor_pairs),
                meetings_held=sum(meetings[p.id][1] for p in mentor_pairs),
                reports_due=sum(
                    1 for e in own if e.status(today) != completion.ReportStatus.due or e.report
                ),
                reports_on_time=sum(
                    1 for e in own if e.status(today) == completion.ReportStatus.submitted
                ),
                monthly_reports_due=monthly_due,
                monthly_reports_on_time=monthly_on_time,
                meeting_rating=_mean_or_none([answer.rating for answer in given]),
                ratings_count=len(given),
                feedback_comments=sum(1 for answer in given if answer.comment.strip()),
                mentor_rating=_mean_or_none(
                    [r.mentor_rating for r in mentee_reports if r.mentor_rating is not None]
                ),
                mentee_satisfaction=_mean_or_none([r.satisfaction_pair for r in mentee_reports]),
                mentee_reports_received=len(mentee_reports),
                mentee_reports_expected=sum(
                    len(data.mentees.get(p.id, [])) for p in mentor_pairs if p.id in ending
                ),
                plans_fulfilled=sum(
                    1
                    for e in own
                    if e.report is not None and e.report.plan_fulfilment == PlanFulfilment.full
                ),
            )
        )
    cards.sort(key=lambda card: (card.full_name, str(card.mentor_id)))
    return cards


def indicators_table_rows(indicators: CycleIndicators) -> list[dict[str, str]]:
    """The indicators as a table artifact: title, value, what was counted (no names)."""
    return [
        {"Показатель": i.title_ru, "Значение": i.value_ru, "Расчёт": i.counted_ru}
        for i in indicators.overall
    ]
