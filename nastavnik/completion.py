"""The completion stage: end-of-mentoring reports, their deadlines, the overdue list (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``):
- §2.13 «В течение 10 дней по завершении наставничества наставник составляет отчет о выполнении
  индивидуального плана лицом, в отношении которого осуществлялось наставничество»;
- §2.14 «В течение 10 дней по завершении наставничества лицо, в отношении которого
  осуществлялось наставничество, составляет отчет о процессе прохождения наставничества и работе
  наставника, включая оценку деятельности наставника»;
- §3.1 the director «утверждает отчет о выполнении индивидуального плана».
The 10 days are the organisation's policy (``report_deadline_days``).

When mentoring ends for a pair (nastavnik.pairs): on its end date (``ended`` by the clock, or
still marked going on while its end date has passed), or early by order (``terminated``, §2.10:
the order's date is its end). A pair whose mentor was replaced (§2.8) does not end: its mentees
go on with the new mentor, and their reports are due when that pair ends.

Each participant of a finished pair owes one report: the mentor on the programme, every mentee
on the process with a 1–10 evaluation of the mentor. Both answer the target model's monitoring
questionnaire in the same form (satisfaction with the programme and with the pair, expectations
met, usefulness, 1–10, and free text), so nobody fills in two forms. Reports come through the
personal link (valid 30 days after the pair's end, nastavnik.links) or from a form's export
(nastavnik.completion_import). A report is final once submitted: the director approves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from models import (
    CompletionReport,
    FinalInterview,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PlanFulfilment,
    Role,
)
from nastavnik import repository
from nastavnik.pairs import ONGOING
from nastavnik.progress import chunks, cycle_policy

FINISHED = (PairStatus.ended, PairStatus.terminated)
"""Pairs whose mentoring is over: reports are due from their end date."""

SCALE_MIN, SCALE_MAX = 1, 10
"""The questionnaire's scales (and the mentee's evaluation of the mentor): 1 — worst, 10 — best."""


# ---------------------------------------------------------------------------------------------
# Deadlines and statuses
# ---------------------------------------------------------------------------------------------


def report_due_on(*, ended_on: date, deadline_days: int) -> date:
    """The last day to submit a report: «в течение N дней по завершении» counts N calendar days
    after the last day of mentoring (ended May 31, 10 days → due June 10)."""
    return ended_on + timedelta(days=deadline_days)


class ReportStatus(StrEnum):
    """Where one expected report stands on a day."""

    due = "due"  # not submitted, the deadline has not passed
    submitted = "submitted"  # submitted on or before the deadline
    late = "late"  # submitted after the deadline
    overdue = "overdue"  # not submitted, the deadline has passed


STATUS_RU = {
    ReportStatus.due: "ожидается",
    ReportStatus.submitted: "сдан в срок",
    ReportStatus.late: "сдан с опозданием",
    ReportStatus.overdue: "просрочен",
}


def report_status(*, due_on: date, submitted_on: date | None, today: date) -> ReportStatus:
    """The status of a report due on `due_on`, submitted on `submitted_on` (None: not yet)."""
    if submitted_on is not None:
        return ReportStatus.submitted if submitted_on <= due_on else ReportStatus.late
    return ReportStatus.due if today <= due_on else ReportStatus.overdue


ROLE_REPORT_RU = {
    Role.mentor: "отчёт о выполнении индивидуального плана (п. 2.13)",
    Role.mentee: "отчёт о прохождении наставничества и оценка наставника (п. 2.14)",
}

FULFILMENT_RU = {
    PlanFulfilment.full: "выполнен полностью",
    PlanFulfilment.partial: "выполнен частично",
    PlanFulfilment.not_done: "не выполнен",
}


# ---------------------------------------------------------------------------------------------
# Which pairs have finished and who owes what
# ---------------------------------------------------------------------------------------------


def is_finished(pair: MentorshipPair, today: date) -> bool:
    """Whether the pair's mentoring is over on `today` (see the module's docstring)."""
    if pair.ends_on is None:
        return False
    if pair.status in FINISHED:
        return True
    return pair.status in ONGOING and pair.ends_on < today


def finished_pairs(*, session: Session, cycle_id: uuid.UUID, today: date) -> list[MentorshipPair]:
    """The cycle's pairs whose mentoring is over on `today`, oldest end first."""
    candidates = session.exec(
        select(MentorshipPair)
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.ends_on).is_not(None),
            or_(
                col(MentorshipPair.status).in_(FINISHED),
                col(MentorshipPair.status).in_(ONGOING) & (col(MentorshipPair.ends_on) < today),
            ),
        )
        .order_by(col(MentorshipPair.ends_on), col(MentorshipPair.created_at))
        # Not the matching's reasons (JSON): the daily reminders read the finished pairs.
        .options(defer(MentorshipPair.reasons))  # type: ignore[arg-type]
    ).all()
    return [p for p in candidates if is_finished(p, today)]


@dataclass(frozen=True)
class ExpectedReport:
    """One report a participant of a finished pair owes, and the one submitted if any."""

    pair_id: uuid.UUID
    cycle_id: uuid.UUID
    participant_id: uuid.UUID
    role: Role
    form: str
    ended_on: date
    ended_early: bool  # terminated by order (§2.10)
    due_on: date
    report: CompletionReport | None

    def status(self, today: date) -> ReportStatus:
        return report_status(
            due_on=self.due_on,
            submitted_on=self.report.submitted_on if self.report else None,
            today=today,
        )


def expected_reports(*, session: Session, cycle_id: uuid.UUID, today: date) -> list[ExpectedReport]:
    """Every report owed for the cycle's finished pairs: the mentor's, then each mentee's, with
    the report handed in by `today` (the same day always gives the same answer)."""
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    pair_list = finished_pairs(session=session, cycle_id=cycle_id, today=today)
    mentees: dict[uuid.UUID, list[uuid.UUID]] = {}
    submitted: dict[tuple[uuid.UUID, uuid.UUID], CompletionReport] = {}
    for ids in chunks([p.id for p in pair_list]):
        for member in session.exec(
            select(PairMember).where(col(PairMember.pair_id).in_(ids)).order_by(col(PairMember.id))
        ):
            mentees.setdefault(member.pair_id, []).append(member.mentee_id)
        for found in session.exec(
            select(CompletionReport).where(col(CompletionReport.pair_id).in_(ids))
        ):
            submitted[(found.pair_id, found.participant_id)] = found
    expected = []
    for pair in pair_list:
        assert pair.ends_on is not None
        due_on = report_due_on(ended_on=pair.ends_on, deadline_days=rules.report_deadline_days)
        owing = [(pair.mentor_id, Role.mentor)] + [
            (mentee_id, Role.mentee) for mentee_id in mentees.get(pair.id, [])
        ]
        for participant_id, role in owing:
            report: CompletionReport | None = submitted.get((pair.id, participant_id))
            if report is not None and report.submitted_on > today:
                report = None  # handed in later: not there yet on `today`
            expected.append(
                ExpectedReport(
                    pair_id=pair.id,
                    cycle_id=pair.cycle_id,
                    participant_id=participant_id,
                    role=role,
                    form=pair.form.value,
                    ended_on=pair.ends_on,
                    ended_early=pair.status == PairStatus.terminated,
                    due_on=due_on,
                    report=report,
                )
            )
    return expected


# ---------------------------------------------------------------------------------------------
# The stage's window: one run per cycle, once every pair's reports are settled
# ---------------------------------------------------------------------------------------------

COVERED = (PairStatus.active, PairStatus.extended, PairStatus.ended, PairStatus.terminated)
"""Pairs the completion stage covers: every pair fixed by order that ends. A replaced pair does
not end (its mentees go on in the new pair, which is covered instead)."""


@dataclass(frozen=True)
class ReportWindow:
    """Where the cycle's pairs stand for the completion stage on a day: a pair is settled once
    it has ended and every report on it is in or its deadline has passed."""

    today: date
    pairs: int  # pairs the stage covers
    settled: int
    awaiting: tuple[tuple[uuid.UUID, date], ...]  # ended, reports still coming: (pair, due on)
    going_on: tuple[tuple[uuid.UUID, date], ...]  # not ended yet: (pair, ends on)
    deadline_days: int

    @property
    def ready(self) -> bool:
        """Whether every covered pair is settled (the stage can gather the year's reports)."""
        return self.pairs > 0 and not self.awaiting and not self.going_on

    @property
    def settles_on(self) -> date | None:
        """The last day a report may still come in time, as the pairs' end dates stand now."""
        days = [due for _, due in self.awaiting] + [
            report_due_on(ended_on=ends, deadline_days=self.deadline_days)
            for _, ends in self.going_on
        ]
        return max(days) if days else None

    @property
    def reason_ru(self) -> str:
        """Why the stage waits, in Russian (counts and dates only, no names); "" when ready."""
        if self.ready:
            return ""
        if not self.pairs:
            return "пар, закреплённых приказом, нет"
        parts = []
        if self.going_on:
            last = max(ends for _, ends in self.going_on)
            parts.append(
                f"пар ещё не завершено: {len(self.going_on)} (последняя — {last:%d.%m.%Y})"
            )
        if self.awaiting:
            parts.append(f"пар, по которым срок отчётов ещё не истёк: {len(self.awaiting)}")
        settles = self.settles_on
        until = f"; срок последних отчётов — {settles:%d.%m.%Y}" if settles else ""
        return "ожидаются отчёты по завершении (п. 2.13–2.14): " + ", ".join(parts) + until


def report_window(*, session: Session, cycle_id: uuid.UUID, today: date) -> ReportWindow:
    """The cycle's pairs on `today`: settled, awaiting their reports, or still going on."""
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    covered = session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_(COVERED),
            col(MentorshipPair.ends_on).is_not(None),
        )
    ).all()
    outstanding: set[uuid.UUID] = {
        e.pair_id
        for e in expected_reports(session=session, cycle_id=cycle_id, today=today)
        if e.status(today) == ReportStatus.due
    }
    going_on, awaiting = [], []
    for pair in covered:
        assert pair.ends_on is not None
        if not is_finished(pair, today):
            going_on.append((pair.id, pair.ends_on))
        elif pair.id in outstanding:
            due = report_due_on(ended_on=pair.ends_on, deadline_days=rules.report_deadline_days)
            awaiting.append((pair.id, due))
    return ReportWindow(
        today=today,
        pairs=len(covered),
        settled=len(covered) - len(going_on) - len(awaiting),
        awaiting=tuple(sorted(awaiting, key=lambda item: (item[1], str(item[0])))),
        going_on=tuple(sorted(going_on, key=lambda item: (item[1], str(item[0])))),
        deadline_days=rules.report_deadline_days,
    )


def people_names(*, session: Session, participant_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Full names of participants (for the curator's and the director's eyes only)."""
    names: dict[uuid.UUID, str] = {}
    for ids in chunks(list(set(participant_ids))):
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            names[participant_id] = person.full_name
    return names


@dataclass(frozen=True)
class OverdueRow:
    """One overdue report in the curator's list (names: the list goes to the curator only)."""

    number: int
    participant_id: uuid.UUID
    pair_id: uuid.UUID
    full_name: str
    role: Role
    due_on: date
    days_overdue: int

    @property
    def what_ru(self) -> str:
        return ROLE_REPORT_RU[self.role]


def overdue_list(*, session: Session, cycle_id: uuid.UUID, today: date) -> list[OverdueRow]:
    """Reports not submitted whose deadline has passed, the most overdue first."""
    overdue = [
        e
        for e in expected_reports(session=session, cycle_id=cycle_id, today=today)
        if e.status(today) == ReportStatus.overdue
    ]
    names = people_names(session=session, participant_ids=[e.participant_id for e in overdue])
    overdue.sort(key=lambda e: (e.due_on, names.get(e.participant_id, "")))
    return [
        OverdueRow(
            number=index,
            participant_id=e.participant_id,
            pair_id=e.pair_id,
            full_name=names.get(e.participant_id, ""),
            role=e.role,
            due_on=e.due_on,
            days_overdue=(today - e.due_on).days,
        )
        for index, e in enumerate(overdue, start=1)
    ]


def status_counts(expected: list[ExpectedReport], today: date) -> dict[ReportStatus, int]:
    """How many expected reports are in each status (no names: for artifacts and logs)."""
    counts = dict.fromkeys(ReportStatus, 0)
    for item in expected:
        counts[item.status(today)] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Answers and submission
# ---------------------------------------------------------------------------------------------

# The form's fields in Russian: error messages and the import's columns name them alike.
FIELD_FULFILMENT = "Выполнение плана"
FIELD_RESULTS = "Результаты"
FIELD_DIFFICULTIES = "Трудности"
FIELD_PROPOSALS = "Предложения"
FIELD_MENTOR_RATING = "Оценка работы наставника"
FIELD_SATISFACTION_PROGRAMME = "Удовлетворённость программой"
FIELD_SATISFACTION_PAIR = "Удовлетворённость работой в паре"
FIELD_EXPECTATIONS = "Ожидания оправдались"
FIELD_USEFULNESS = "Польза"
FIELD_COMMENT = "Комментарий"

QUESTIONNAIRE_RU: tuple[tuple[str, str, str], ...] = (
    (
        "satisfaction_programme",
        FIELD_SATISFACTION_PROGRAMME,
        "Насколько вы удовлетворены программой наставничества в целом?",
    ),
    (
        "satisfaction_pair",
        FIELD_SATISFACTION_PAIR,
        "Насколько вы удовлетворены совместной работой в паре (группе)?",
    ),
    ("expectations_met", FIELD_EXPECTATIONS, "Насколько оправдались ваши ожидания?"),
    ("usefulness", FIELD_USEFULNESS, "Насколько полезным для вас было участие в программе?"),
)
"""The target model's monitoring questions (both sides), each on a 1–10 scale:
(attribute, field name, the question as the form asks it)."""

_FULFILMENT_WORDS = {
    "полностью": PlanFulfilment.full,
    "выполнен полностью": PlanFulfilment.full,
    "full": PlanFulfilment.full,
    "частично": PlanFulfilment.partial,
    "выполнен частично": PlanFulfilment.partial,
    "partial": PlanFulfilment.partial,
    "не выполнен": PlanFulfilment.not_done,
    "нет": PlanFulfilment.not_done,
    "not_done": PlanFulfilment.not_done,
}


class ReportRefused(Exception):
    """Why a report cannot be recorded, in Russian, with the field concerned and an HTTP status."""

    def __init__(self, message_ru: str, *, field_ru: str = "", status_code: int = 422) -> None:
        super().__init__(message_ru)
        self.message_ru = message_ru
        self.field_ru = field_ru
        self.status_code = status_code


@dataclass(frozen=True)
class ReportAnswers:
    """What a participant answered; validated by `parse_answers`."""

    satisfaction_programme: int
    satisfaction_pair: int
    expectations_met: int
    usefulness: int
    plan_fulfilment: PlanFulfilment | None = None
    results: str = ""
    difficulties: str = ""
    proposals: str = ""
    mentor_rating: int | None = None
    comment: str = ""


def parse_fulfilment(text: str) -> PlanFulfilment | None:
    """«полностью», «частично», «не выполнен» (or the stored names) → the value, else None."""
    return _FULFILMENT_WORDS.get(" ".join(text.strip().lower().split()))


def parse_scale(text: str, field_ru: str) -> int:
    """A 1–10 answer; ReportRefused naming the field otherwise."""
    typed = text.strip()
    if not typed:
        raise ReportRefused("обязательное поле не заполнено", field_ru=field_ru)
    if not typed.isdecimal() or not SCALE_MIN <= int(typed) <= SCALE_MAX:
        raise ReportRefused(
            f"ожидается число от {SCALE_MIN} до {SCALE_MAX}, указано «{typed}»", field_ru=field_ru
        )
    return int(typed)


def parse_answers(*, role: Role, values: Mapping[str, str]) -> ReportAnswers:
    """A report's answers from a form or a file's row, keyed by the attribute names
    (plan_fulfilment, results, …, comment); ReportRefused names the first bad field.

    The mentor must say how far the plan was carried out (§2.13) and what was achieved; the
    mentee must evaluate the mentor's work (§2.14); both answer the four 1–10 questions."""
    scales = {
        attribute: parse_scale(values.get(attribute, ""), field_ru)
        for attribute, field_ru, _ in QUESTIONNAIRE_RU
    }
    fulfilment: PlanFulfilment | None = None
    rating: int | None = None
    results = values.get("results", "").strip()
    if role == Role.mentor:
        typed = values.get("plan_fulfilment", "").strip()
        fulfilment = parse_fulfilment(typed)
        if fulfilment is None:
            raise ReportRefused(
                "обязательное поле не заполнено"
                if not typed
                else f"ожидается «полностью», «частично» или «не выполнен», указано «{typed}»",
                field_ru=FIELD_FULFILMENT,
            )
        if not results:
            raise ReportRefused(
                "опишите, что освоено по индивидуальному плану (п. 2.15)", field_ru=FIELD_RESULTS
            )
    else:
        rating = parse_scale(values.get("mentor_rating", ""), FIELD_MENTOR_RATING)
    return ReportAnswers(
        plan_fulfilment=fulfilment,
        results=results,
        difficulties=values.get("difficulties", "").strip(),
        proposals=values.get("proposals", "").strip(),
        mentor_rating=rating,
        comment=values.get("comment", "").strip(),
        **scales,
    )


def role_in_pair(*, session: Session, pair: MentorshipPair, participant_id: uuid.UUID) -> Role:
    """The participant's role in this pair; ReportRefused (403) when not in it."""
    if pair.mentor_id == participant_id:
        return Role.mentor
    member = session.exec(
        select(PairMember.id).where(
            PairMember.pair_id == pair.id, PairMember.mentee_id == participant_id
        )
    ).first()
    if member is None:
        raise ReportRefused("Отчёт по этой паре сдаёт только её участник.", status_code=403)
    return Role.mentee


def find_report(
    *, session: Session, pair_id: uuid.UUID, participant_id: uuid.UUID
) -> CompletionReport | None:
    """The participant's report on the pair, if submitted."""
    return session.exec(
        select(CompletionReport).where(
            CompletionReport.pair_id == pair_id,
            CompletionReport.participant_id == participant_id,
        )
    ).first()


def _refuse(
    session: Session,
    refused: ReportRefused,
    *,
    pair: MentorshipPair | None,
    participant_id: uuid.UUID,
    source: str,
    now: datetime,
) -> ReportRefused:
    # Audited apart from the work refused (ids only); the caller commits the audit.
    repository.record_audit(
        session=session,
        actor=f"participant:{participant_id}",
        action="completion_report.refused",
        cycle_id=pair.cycle_id if pair else None,
        entity=f"pair:{pair.id}" if pair else "completion-report",
        details={"reason": refused.message_ru, "source": source},
        at=now,
    )
    return refused


def check_submission(
    *,
    session: Session,
    pair_id: uuid.UUID,
    participant_id: uuid.UUID,
    today: date,
) -> tuple[MentorshipPair, Role]:
    """The pair and the participant's role when a report may be submitted now, else
    ReportRefused: not the pair's participant (403), the pair not finished, already submitted."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise ReportRefused("Пара не найдена.", status_code=404)
    role = role_in_pair(session=session, pair=pair, participant_id=participant_id)
    if not is_finished(pair, today):
        ends = f" {pair.ends_on:%d.%m.%Y}" if pair.ends_on else ""
        raise ReportRefused(
            f"Наставничество ещё не завершено (окончание{ends}): отчёт сдаётся по завершении "
            "(п. 2.13–2.14).",
            status_code=409,
        )
    existing = find_report(session=session, pair_id=pair_id, participant_id=participant_id)
    if existing is not None:
        raise ReportRefused(
            f"Отчёт уже сдан {existing.submitted_on:%d.%m.%Y}; изменить его может куратор.",
            status_code=409,
        )
    return pair, role


def submit_report(
    *,
    session: Session,
    pair_id: uuid.UUID,
    participant_id: uuid.UUID,
    values: Mapping[str, str],
    today: date,
    now: datetime,
    source: str,
) -> CompletionReport:
    """Record a participant's report on a finished pair: the mentor's or a mentee's, as the
    participant's role in the pair says (never as the form claims). ReportRefused says why not;
    refusals and the submission are audited (ids only)."""
    pair = session.get(MentorshipPair, pair_id)
    try:
        pair, role = check_submission(
            session=session, pair_id=pair_id, participant_id=participant_id, today=today
        )
        answers = parse_answers(role=role, values=values)
    except ReportRefused as refused:
        raise _refuse(
            session, refused, pair=pair, participant_id=participant_id, source=source, now=now
        ) from None
    _, rules = cycle_policy(session=session, cycle_id=pair.cycle_id)
    assert pair.ends_on is not None
    report = CompletionReport(
        pair_id=pair.id,
        participant_id=participant_id,
        role=role,
        ended_on=pair.ends_on,
        due_on=report_due_on(ended_on=pair.ends_on, deadline_days=rules.report_deadline_days),
        submitted_on=today,
        source=source,
        created_at=now,
        **answer_fields(answers),
    )
    session.add(report)
    session.flush()
    repository.record_audit(
        session=session,
        actor=f"participant:{participant_id}",
        action="completion_report.submitted",
        cycle_id=pair.cycle_id,
        entity=f"completion-report:{report.id}",
        details={
            "pair": str(pair.id),
            "role": role.value,
            "due_on": report.due_on.isoformat(),
            "status": report_status(due_on=report.due_on, submitted_on=today, today=today).value,
            "source": source,
        },
        at=now,
        event_key=f"completion_report.submitted:{report.id}",
    )
    return report


def answer_fields(answers: ReportAnswers) -> dict[str, Any]:
    """The answers as CompletionReport's fields."""
    return {
        "plan_fulfilment": answers.plan_fulfilment,
        "results": answers.results,
        "difficulties": answers.difficulties,
        "proposals": answers.proposals,
        "mentor_rating": answers.mentor_rating,
        "satisfaction_programme": answers.satisfaction_programme,
        "satisfaction_pair": answers.satisfaction_pair,
        "expectations_met": answers.expectations_met,
        "usefulness": answers.usefulness,
        "comment": answers.comment,
    }


def same_answers(report: CompletionReport, answers: ReportAnswers) -> bool:
    """Whether a stored report says exactly this (a re-imported row changes nothing)."""
    return all(getattr(report, key) == value for key, value in answer_fields(answers).items())


# ---------------------------------------------------------------------------------------------
# The participant's page
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPage:
    """What the report's page shows its participant."""

    role: Role
    finished: bool
    ended_on: date | None
    due_on: date | None
    status: ReportStatus | None
    report: CompletionReport | None

    @property
    def what_ru(self) -> str:
        return ROLE_REPORT_RU[self.role]

    @property
    def status_ru(self) -> str:
        return STATUS_RU[self.status] if self.status else ""


def report_page(
    *, session: Session, pair_id: uuid.UUID, participant_id: uuid.UUID, today: date
) -> ReportPage:
    """The participant's report page: whose report, its deadline and status, what was sent."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise ReportRefused("Пара не найдена.", status_code=404)
    role = role_in_pair(session=session, pair=pair, participant_id=participant_id)
    _, rules = cycle_policy(session=session, cycle_id=pair.cycle_id)
    finished = is_finished(pair, today)
    due_on = (
        report_due_on(ended_on=pair.ends_on, deadline_days=rules.report_deadline_days)
        if pair.ends_on
        else None
    )
    report = find_report(session=session, pair_id=pair_id, participant_id=participant_id)
    status = (
        report_status(
            due_on=due_on, submitted_on=report.submitted_on if report else None, today=today
        )
        if finished and due_on
        else None
    )
    return ReportPage(
        role=role,
        finished=finished,
        ended_on=pair.ends_on,
        due_on=due_on,
        status=status,
        report=report,
    )


# ---------------------------------------------------------------------------------------------
# The director's final interview with the mentee (§3.1)
# ---------------------------------------------------------------------------------------------


def record_interview(
    *,
    session: Session,
    pair_id: uuid.UUID,
    mentee_id: uuid.UUID,
    held_on: date,
    interviewer: str,
    notes: str,
    today: date,
    now: datetime,
) -> FinalInterview:
    """Record the director's interview with a mentee of a finished pair (§3.1: «по окончании
    периода наставничества»); the same interview again changes nothing, another date is refused
    (ReportRefused). Audited without names."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise ReportRefused("Пара не найдена.", status_code=404)
    if role_in_pair(session=session, pair=pair, participant_id=mentee_id) != Role.mentee:
        raise ReportRefused("Собеседование проводится с наставляемым пары.", status_code=403)
    if not is_finished(pair, today) or (pair.ends_on and held_on < pair.ends_on):
        ends = f"{pair.ends_on:%d.%m.%Y}" if pair.ends_on else "не установлен"
        raise ReportRefused(
            f"собеседование проводится по окончании наставничества (окончание {ends})",
            field_ru="Дата собеседования",
            status_code=409,
        )
    if held_on > today:
        raise ReportRefused(
            f"дата {held_on:%d.%m.%Y} ещё не наступила", field_ru="Дата собеседования"
        )
    if not interviewer.strip():
        raise ReportRefused("укажите, кто провёл собеседование", field_ru="Провёл")
    existing = session.exec(
        select(FinalInterview).where(
            FinalInterview.pair_id == pair_id, FinalInterview.mentee_id == mentee_id
        )
    ).first()
    if existing is not None:
        if existing.held_on == held_on:
            return existing
        raise ReportRefused(
            f"собеседование уже записано {existing.held_on:%d.%m.%Y}",
            field_ru="Дата собеседования",
            status_code=409,
        )
    interview = FinalInterview(
        pair_id=pair_id,
        mentee_id=mentee_id,
        held_on=held_on,
        interviewer=interviewer.strip(),
        notes=notes.strip(),
        created_at=now,
    )
    session.add(interview)
    session.flush()
    repository.record_audit(
        session=session,
        actor="director",
        action="final_interview.recorded",
        cycle_id=pair.cycle_id,
        entity=f"pair:{pair_id}",
        details={"mentee": str(mentee_id), "held_on": held_on.isoformat()},
        at=now,
        event_key=f"final_interview.recorded:{interview.id}",
    )
    return interview


def interviews(
    *, session: Session, pair_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], FinalInterview]:
    """The recorded interviews of these pairs by (pair, mentee)."""
    found: dict[tuple[uuid.UUID, uuid.UUID], FinalInterview] = {}
    for ids in chunks(pair_ids):
        for interview in session.exec(
            select(FinalInterview).where(col(FinalInterview.pair_id).in_(ids))
        ):
            found[(interview.pair_id, interview.mentee_id)] = interview
    return found
