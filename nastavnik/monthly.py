"""The meetings stage's output: progress per pair, the mentor's monthly report, the curator's
monthly summary and the reminders about missing logs and feedback (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §4.2: the mentor is obliged
«не реже 1 раза в месяц докладывать куратору и руководителю о результатах достигнутых в процессе
осуществления наставничества»; §2.11–§2.12: each pair works by its personal programme. DESIGN §3
stage 4: the report is assembled from the meeting logs at the month's end and confirmed by the
mentor through the personal link; the curator gets a summary (on track / lagging / no contact /
missing feedback) as a PDF — names allowed, it goes to the curator only — and a table artifact
with counts and links only.

Everything here reads the logs as they are; recording them is nastavnik/meetings.py's business.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models import (
    Cycle,
    Document,
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    Organization,
    OutboxMessage,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
)
from nastavnik import documents, links, mail, pairs, repository, tick
from nastavnik.meetings import FEEDBACK_REQUIRED, KIND_LABEL_RU, sequence_problems
from nastavnik.policy import OrganisationPolicy, get_policy
from nastavnik.programmes import ProgrammeContent, month_label
from nastavnik.settings import Settings

# ---------------------------------------------------------------------------------------------
# Months
# ---------------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    """The first day of the day's month (the key of a month everywhere here)."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def previous_month(month: date) -> date:
    """The first day of the preceding month."""
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def month_end(month: date) -> date:
    """The last day of the month."""
    return next_month(month) - timedelta(days=1)


_MONTH_NUMBERS = {month_label(date(2000, n, 1)).split()[0]: n for n in range(1, 13)}


def month_of_label(label: str) -> date:
    """«Октябрь 2026» (a programme's month label) → 2026-10-01; ValueError for anything else."""
    name, _, year = label.strip().rpartition(" ")
    if name not in _MONTH_NUMBERS or not year.isdigit():
        raise ValueError(f"не месяц программы: «{label}» (ожидается, например, «Октябрь 2026»)")
    return date(int(year), _MONTH_NUMBERS[name], 1)


def parse_month(text: str) -> date:
    """«2026-10» (as in a report's address) → 2026-10-01; ValueError otherwise."""
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"месяц «{text}» не в формате ГГГГ-ММ") from None


# ---------------------------------------------------------------------------------------------
# Progress and the month's status
# ---------------------------------------------------------------------------------------------


class MonthStatus(StrEnum):
    """A pair's standing in one month, as the curator's summary counts it."""

    on_track = "on_track"
    lagging = "lagging"
    no_contact = "no_contact"
    missing_feedback = "missing_feedback"


STATUS_RU = {
    MonthStatus.on_track: "по плану",
    MonthStatus.lagging: "отстаёт от плана",
    MonthStatus.no_contact: "нет контакта",
    MonthStatus.missing_feedback: "нет отзывов наставляемого",
}
STATUS_ORDER = tuple(MonthStatus)
"""The order statuses are counted and printed in."""

FORMAT_RU = {
    MeetingFormat.in_person: "очно",
    MeetingFormat.online: "дистанционно",
    MeetingFormat.mixed: "смешанный формат",
}


@dataclass(frozen=True)
class MonthProgress:
    """One month of a pair's programme: meetings planned and held."""

    month: date
    planned: int
    held: int

    @property
    def label(self) -> str:
        return month_label(self.month)


@dataclass(frozen=True)
class MissingFeedback:
    """A meeting that needs a mentee's feedback, which has not come by its due day."""

    meeting_id: uuid.UUID
    mentee_id: uuid.UUID
    held_on: date
    kind: MeetingKind
    due_on: date


@dataclass(frozen=True)
class PairProgress:
    """A pair against its personal programme, from its first month to the month looked at."""

    pair_id: uuid.UUID
    month: date
    has_programme: bool
    months: list[MonthProgress]
    sequence_ru: list[str]
    missing_feedback: list[MissingFeedback]

    def of_month(self, month: date) -> MonthProgress:
        for item in self.months:
            if item.month == month:
                return item
        return MonthProgress(month, 0, 0)

    @property
    def planned_to_date(self) -> int:
        return sum(m.planned for m in self.months if m.month <= self.month)

    @property
    def held_to_date(self) -> int:
        return sum(m.held for m in self.months if m.month <= self.month)


def compute_progress(
    *,
    pair_id: uuid.UUID,
    programme: ProgrammeContent | None,
    logs: Sequence[MeetingLog],
    mentee_ids: Sequence[uuid.UUID],
    feedback_given: set[tuple[uuid.UUID, uuid.UUID]],
    month: date,
    feedback_days: int,
) -> PairProgress:
    """Planned vs held per month up to the month's end, the sequence, overdue feedback.

    Feedback (rating and comment) is owed by every mentee of the pair on each joint-work and
    final meeting within `feedback_days`; it counts as missing once that day has passed by the
    month's end, so a meeting on the 30th is not held against the pair until next month."""
    month = month_start(month)
    as_of = month_end(month)
    logs = [log for log in logs if log.held_on <= as_of]
    planned: dict[date, int] = defaultdict(int)
    if programme is not None:
        for meeting in programme.meetings:
            planned[month_of_label(meeting.month)] += 1
    held: dict[date, int] = defaultdict(int)
    for log in logs:
        held[month_start(log.held_on)] += 1
    months = [
        MonthProgress(m, planned.get(m, 0), held.get(m, 0))
        for m in sorted(set(planned) | set(held))
        if m <= month
    ]
    missing = [
        MissingFeedback(
            log.id, mentee, log.held_on, log.kind, log.held_on + timedelta(days=feedback_days)
        )
        for log in sorted(logs, key=lambda item: (item.held_on, item.id))
        if log.kind in FEEDBACK_REQUIRED
        for mentee in mentee_ids
        if (log.id, mentee) not in feedback_given
        and log.held_on + timedelta(days=feedback_days) < as_of
    ]
    problems = sequence_problems((log.held_on, log.kind) for log in logs)
    return PairProgress(
        pair_id=pair_id,
        month=month,
        has_programme=programme is not None,
        months=months,
        sequence_ru=[f"{p.held_on:%d.%m.%Y}: {p.message_ru}" for p in problems],
        missing_feedback=missing,
    )


@dataclass(frozen=True)
class MonthAssessment:
    """A pair's status for a month, with its reasons in Russian."""

    status: MonthStatus
    reasons_ru: list[str]
    planned: int
    held: int
    planned_to_date: int
    held_to_date: int

    @property
    def status_ru(self) -> str:
        return STATUS_RU[self.status]


def assess_month(*, progress: PairProgress, lagging_behind: int) -> MonthAssessment:
    """The month's status: the most serious of no contact (no meeting at all in the month),
    lagging (held `lagging_behind` or more meetings fewer than planned from the programme's
    start to the month's end), missing feedback (a mentee's feedback overdue), else on track.
    Every condition that holds is given as a reason, so a lagging pair's missing feedback shows."""
    current = progress.of_month(progress.month)
    planned_to_date, held_to_date = progress.planned_to_date, progress.held_to_date
    behind = planned_to_date - held_to_date
    found: list[tuple[MonthStatus, str]] = []
    if current.held == 0:
        found.append(
            (
                MonthStatus.no_contact,
                f"в месяце «{current.label}» не было ни одной встречи"
                + (f" (по плану {current.planned})" if current.planned else ""),
            )
        )
    if progress.has_programme and behind >= lagging_behind:
        found.append(
            (
                MonthStatus.lagging,
                f"с начала программы проведено {held_to_date} встреч из {planned_to_date} "
                f"запланированных: отставание на {behind} (порог — {lagging_behind})",
            )
        )
    if progress.missing_feedback:
        count = len(progress.missing_feedback)
        found.append(
            (
                MonthStatus.missing_feedback,
                f"нет отзыва наставляемого о встречах, срок которого истёк: {count}",
            )
        )
    reasons = [reason for _, reason in found]
    if not progress.has_programme:
        reasons.append("индивидуальная программа не составлена: план встреч неизвестен")
    reasons.extend(f"порядок встреч нарушен — {text}" for text in progress.sequence_ru)
    if not found:
        reasons.insert(
            0,
            f"в месяце проведено встреч: {current.held} (по плану {current.planned}); "
            f"с начала программы {held_to_date} из {planned_to_date}",
        )
    return MonthAssessment(
        status=found[0][0] if found else MonthStatus.on_track,
        reasons_ru=reasons,
        planned=current.planned,
        held=current.held,
        planned_to_date=planned_to_date,
        held_to_date=held_to_date,
    )


# ---------------------------------------------------------------------------------------------
# Reading the pairs of a month in a few queries
# ---------------------------------------------------------------------------------------------


def pairs_of_month(*, session: Session, cycle_id: uuid.UUID, month: date) -> list[MentorshipPair]:
    """The cycle's pairs going on during the month: still going on (pairs.ONGOING), or ended
    by date within or after it — a pair ending on May 31 is ended by the clock on June 1, the
    very day its May report is assembled."""
    month = month_start(month)
    return list(
        session.exec(
            select(MentorshipPair)
            .where(
                MentorshipPair.cycle_id == cycle_id,
                or_(
                    col(MentorshipPair.status).in_(pairs.ONGOING),
                    (col(MentorshipPair.status) == PairStatus.ended)
                    & (col(MentorshipPair.ends_on) >= month),
                ),
                or_(
                    col(MentorshipPair.starts_on).is_(None),
                    col(MentorshipPair.starts_on) <= month_end(month),
                ),
            )
            .order_by(col(MentorshipPair.created_at), col(MentorshipPair.id))
        )
    )


@dataclass
class _PairsData:
    """Everything the rules need about a set of pairs, loaded at once."""

    programmes: dict[uuid.UUID, ProgrammeContent] = field(default_factory=dict)
    logs: dict[uuid.UUID, list[MeetingLog]] = field(default_factory=lambda: defaultdict(list))
    mentees: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    feedback: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)


def _chunks(ids: list[uuid.UUID], size: int = 500) -> Iterable[list[uuid.UUID]]:
    # SQLite caps the parameters of one statement.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _load(session: Session, pair_ids: list[uuid.UUID], as_of: date) -> _PairsData:
    data = _PairsData()
    for ids in _chunks(pair_ids):
        for programme in session.exec(
            select(PersonalProgramme)
            .where(col(PersonalProgramme.pair_id).in_(ids))
            .order_by(col(PersonalProgramme.version))
        ):
            if programme.content:  # the latest version with content wins
                data.programmes[programme.pair_id] = ProgrammeContent.from_dict(programme.content)
        logs = session.exec(
            select(MeetingLog)
            .where(col(MeetingLog.pair_id).in_(ids), MeetingLog.held_on <= as_of)
            .order_by(col(MeetingLog.held_on), col(MeetingLog.id))
        ).all()
        for log in logs:
            data.logs[log.pair_id].append(log)
        for member in session.exec(select(PairMember).where(col(PairMember.pair_id).in_(ids))):
            data.mentees[member.pair_id].append(member.mentee_id)
        for log_ids in _chunks([log.id for log in logs if log.kind in FEEDBACK_REQUIRED]):
            data.feedback.update(
                session.exec(
                    select(MeetingFeedback.meeting_id, MeetingFeedback.mentee_id).where(
                        col(MeetingFeedback.meeting_id).in_(log_ids),
                        MeetingFeedback.given_on <= as_of,
                    )
                ).all()
            )
    return data


def _policy_of(session: Session, cycle_id: uuid.UUID) -> tuple[Cycle, OrganisationPolicy]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    return cycle, get_policy(session=session, organization_id=cycle.organization_id)


def _progress(
    data: _PairsData, pair_id: uuid.UUID, month: date, rules: OrganisationPolicy
) -> PairProgress:
    return compute_progress(
        pair_id=pair_id,
        programme=data.programmes.get(pair_id),
        logs=data.logs.get(pair_id, []),
        mentee_ids=data.mentees.get(pair_id, []),
        feedback_given=data.feedback,
        month=month,
        feedback_days=rules.meeting_feedback_days,
    )


def pair_progress(*, session: Session, pair_id: uuid.UUID, month: date) -> PairProgress:
    """One pair's progress against its latest personal programme up to the month's end."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise LookupError(f"пара {pair_id} не найдена")
    _, rules = _policy_of(session, pair.cycle_id)
    month = month_start(month)
    return _progress(_load(session, [pair_id], month_end(month)), pair_id, month, rules)


def assess_pairs(
    *, session: Session, cycle_id: uuid.UUID, month: date
) -> dict[uuid.UUID, tuple[PairProgress, MonthAssessment]]:
    """Progress and status of each pair going on in the month, by pair id."""
    _, rules = _policy_of(session, cycle_id)
    month = month_start(month)
    pair_ids = [p.id for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)]
    data = _load(session, pair_ids, month_end(month))
    result = {}
    for pair_id in pair_ids:
        progress = _progress(data, pair_id, month, rules)
        result[pair_id] = (
            progress,
            assess_month(progress=progress, lagging_behind=rules.lagging_meetings_behind),
        )
    return result


# ---------------------------------------------------------------------------------------------
# The mentor's monthly report (§4.2)
# ---------------------------------------------------------------------------------------------


def _report_content(
    *,
    month: date,
    logs: Sequence[MeetingLog],
    programme: ProgrammeContent | None,
    progress: PairProgress,
    assessment: MonthAssessment,
) -> dict[str, Any]:
    label = month_label(month)
    in_month = [log for log in logs if month_start(log.held_on) == month]
    planned_tasks = next(
        (tasks for name, tasks in (programme.tasks_by_month if programme else []) if name == label),
        [],
    )
    planned_meetings = [
        m.title for m in (programme.meetings if programme else []) if m.month == label
    ]
    return {
        "month": month.isoformat(),
        "month_label": label,
        "meetings": [
            {
                "held_on": log.held_on.isoformat(),
                "held_on_ru": f"{log.held_on:%d.%m.%Y}",
                "kind": log.kind.value,
                "kind_ru": KIND_LABEL_RU[log.kind],
                "duration_minutes": log.duration_minutes,
                "format_ru": FORMAT_RU.get(log.format, str(log.format)),
                "topic": log.topic,
                "done": log.done,
                "next_step": log.next_step,
            }
            for log in in_month
        ],
        "planned_meetings": planned_meetings,
        "planned_tasks": list(planned_tasks),
        "planned": assessment.planned,
        "held": assessment.held,
        "planned_to_date": assessment.planned_to_date,
        "held_to_date": assessment.held_to_date,
        "status": assessment.status.value,
        "status_ru": assessment.status_ru,
        "reasons": assessment.reasons_ru,
        "missing_feedback": len(progress.missing_feedback),
    }


def assemble_monthly_reports(
    *, session: Session, cycle_id: uuid.UUID, month: date, now: datetime
) -> list[MonthlyReport]:
    """One report per pair going on in the month, built from its logs and its programme's tasks
    of the month. Idempotent per (pair, month): a report waiting for the mentor is brought up to
    date with logs recorded late; a confirmed one is what the mentor signed and never changes."""
    _, rules = _policy_of(session, cycle_id)
    month = month_start(month)
    pair_ids = [p.id for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)]
    data = _load(session, pair_ids, month_end(month))
    existing: dict[uuid.UUID, MonthlyReport] = {}
    for ids in _chunks(pair_ids):
        for report in session.exec(
            select(MonthlyReport).where(
                col(MonthlyReport.pair_id).in_(ids), MonthlyReport.month == month
            )
        ):
            existing[report.pair_id] = report
    reports: list[MonthlyReport] = []
    for pair_id in pair_ids:
        found = existing.get(pair_id)
        if found is not None and found.status == MonthlyReportStatus.confirmed:
            reports.append(found)
            continue
        progress = _progress(data, pair_id, month, rules)
        content = _report_content(
            month=month,
            logs=data.logs.get(pair_id, []),
            programme=data.programmes.get(pair_id),
            progress=progress,
            assessment=assess_month(
                progress=progress, lagging_behind=rules.lagging_meetings_behind
            ),
        )
        if found is None:
            found = MonthlyReport(pair_id=pair_id, month=month, content=content, assembled_at=now)
            session.add(found)
        elif found.content != content:
            found.content = content
            session.add(found)
        reports.append(found)
    session.flush()
    return reports


class ReportRefused(Exception):
    """Why a report cannot be shown or confirmed through this link, in Russian."""

    def __init__(self, message_ru: str, status_code: int = 403) -> None:
        super().__init__(message_ru)
        self.message_ru = message_ru
        self.status_code = status_code


def report_for(*, session: Session, pair_id: uuid.UUID, month: date) -> MonthlyReport:
    """The pair's report on the month; ReportRefused (404) when it is not assembled yet."""
    report = session.exec(
        select(MonthlyReport).where(
            MonthlyReport.pair_id == pair_id, MonthlyReport.month == month_start(month)
        )
    ).first()
    if report is None:
        raise ReportRefused(
            f"Доклад за {month_label(month_start(month)).lower()} ещё не сформирован: "
            "он собирается из записей о встречах после окончания месяца.",
            404,
        )
    return report


def confirm_report(
    *,
    session: Session,
    pair_id: uuid.UUID,
    month: date,
    participant_id: uuid.UUID,
    comment: str,
    now: datetime,
) -> MonthlyReport:
    """The mentor confirms the report on the month (§4.2); only the pair's mentor may, once.
    Confirming again changes nothing; the confirmation and any refusal are audited."""
    pair = session.get(MentorshipPair, pair_id)
    report = report_for(session=session, pair_id=pair_id, month=month)
    assert pair is not None
    if pair.mentor_id != participant_id:
        repository.record_audit(
            session=session,
            actor=f"participant:{participant_id}",
            action="monthly_report.refused",
            cycle_id=pair.cycle_id,
            entity=f"monthly-report:{report.id}",
            details={"reason": "not the pair's mentor"},
            at=now,
        )
        raise ReportRefused("Подтвердить доклад может только наставник этой пары.")
    if report.status == MonthlyReportStatus.confirmed:
        return report
    report.status = MonthlyReportStatus.confirmed
    report.mentor_comment = comment.strip()
    report.confirmed_at = now
    session.add(report)
    repository.record_audit(
        session=session,
        actor=f"participant:{participant_id}",
        action="monthly_report.confirmed",
        cycle_id=pair.cycle_id,
        entity=f"monthly-report:{report.id}",
        details={"pair": str(pair_id), "month": report.month.isoformat()},
        at=now,
        event_key=f"monthly_report.confirmed:{report.id}",
    )
    session.flush()
    return report


# ---------------------------------------------------------------------------------------------
# The curator's monthly summary
# ---------------------------------------------------------------------------------------------

SUMMARY_TEMPLATE = "monthly_summary.html"
SUMMARY_DOC_TYPE = "report"


@dataclass(frozen=True)
class SummaryRow:
    """One pair in the curator's summary (names: the PDF goes to the curator only)."""

    number: int
    pair_id: uuid.UUID
    mentor_name: str
    mentee_names: list[str]
    form: str
    status: MonthStatus
    reasons: list[str]
    planned: int
    held: int
    confirmed: bool

    @property
    def status_ru(self) -> str:
        return STATUS_RU[self.status]


@dataclass(frozen=True)
class MonthlySummary:
    """The month of a cycle: every pair's report, counted per status and per form."""

    cycle_id: uuid.UUID
    month: date
    rows: list[SummaryRow]

    @property
    def month_label(self) -> str:
        return month_label(self.month)

    @property
    def counts(self) -> dict[MonthStatus, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUS_ORDER}

    @property
    def by_form(self) -> dict[str, dict[MonthStatus, int]]:
        forms = sorted({r.form for r in self.rows})
        return {
            form: {
                s: sum(1 for r in self.rows if r.form == form and r.status == s)
                for s in STATUS_ORDER
            }
            for form in forms
        }

    def needing_attention(self, status: MonthStatus) -> list[SummaryRow]:
        return [r for r in self.rows if r.status == status]

    @property
    def confirmed(self) -> int:
        return sum(1 for r in self.rows if r.confirmed)


def monthly_summary(*, session: Session, cycle_id: uuid.UUID, month: date) -> MonthlySummary:
    """The summary of the month's assembled reports (assemble them first)."""
    month = month_start(month)
    pair_list = pairs_of_month(session=session, cycle_id=cycle_id, month=month)
    by_id = {p.id: p for p in pair_list}
    names: dict[uuid.UUID, str] = {}
    for ids in _chunks(list({p.mentor_id for p in pair_list})):
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            names[participant_id] = person.full_name
    mentees: dict[uuid.UUID, list[str]] = defaultdict(list)
    reports: dict[uuid.UUID, MonthlyReport] = {}
    for ids in _chunks(list(by_id)):
        for pair_id, person in session.exec(
            select(PairMember.pair_id, Person)
            .join(Participant, col(Participant.id) == col(PairMember.mentee_id))
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(PairMember.pair_id).in_(ids))
            .order_by(col(Person.last_name), col(Person.first_name))
        ):
            mentees[pair_id].append(person.full_name)
        for report in session.exec(
            select(MonthlyReport).where(
                col(MonthlyReport.pair_id).in_(ids), MonthlyReport.month == month
            )
        ):
            reports[report.pair_id] = report
    rows: list[SummaryRow] = []
    for pair in pair_list:
        stored = reports.get(pair.id)
        if stored is None:
            continue
        rows.append(
            SummaryRow(
                number=len(rows) + 1,
                pair_id=pair.id,
                mentor_name=names.get(pair.mentor_id, ""),
                mentee_names=mentees.get(pair.id, []),
                form=pair.form.value,
                status=MonthStatus(stored.content["status"]),
                reasons=list(stored.content.get("reasons", [])),
                planned=int(stored.content.get("planned", 0)),
                held=int(stored.content.get("held", 0)),
                confirmed=stored.status == MonthlyReportStatus.confirmed,
            )
        )
    return MonthlySummary(cycle_id=cycle_id, month=month, rows=rows)


def summary_key(*, cycle_id: uuid.UUID, month: date) -> str:
    """The summary document's unique key: one per cycle and month, never made twice."""
    return f"monthly-summary:{cycle_id}:{month_start(month):%Y-%m}"


def summary_document(*, session: Session, cycle_id: uuid.UUID, month: date) -> Document | None:
    """The month's summary PDF if it was made."""
    key = summary_key(cycle_id=cycle_id, month=month)
    return session.exec(select(Document).where(Document.unique_key == key)).first()


def summary_title(month: date) -> str:
    """The document's title (no names: it is shown in artifacts and the run's logs)."""
    return f"Сводка о ходе наставничества за {month_label(month_start(month)).lower()}"


def issue_summary_document(
    *,
    session: Session,
    settings: Settings,
    summary: MonthlySummary,
    on: date,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The curator's summary PDF for the month (the existing one if it was made before)."""
    cycle = session.get(Cycle, summary.cycle_id)
    assert cycle is not None
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=summary_key(cycle_id=summary.cycle_id, month=summary.month),
        organization_id=cycle.organization_id,
        cycle_id=cycle.id,
        doc_type=SUMMARY_DOC_TYPE,
        title=summary_title(summary.month),
        template=SUMMARY_TEMPLATE,
        context={
            "cycle": {"school_year": cycle.school_year},
            "summary": summary,
            "statuses": [(s, STATUS_RU[s]) for s in STATUS_ORDER],
            "attention": [
                (STATUS_RU[s], summary.needing_attention(s))
                for s in STATUS_ORDER
                if s != MonthStatus.on_track
            ],
        },
        doc_date=on,
        flow_run_id=flow_run_id,
    )


def summary_table_rows(summary: MonthlySummary) -> list[dict[str, str | int]]:
    """The summary as a table artifact: counts per form and status, and a total (no names)."""
    headers = {s: STATUS_RU[s].capitalize() for s in STATUS_ORDER}
    rows: list[dict[str, str | int]] = []
    for form, counts in summary.by_form.items():
        rows.append(
            {
                "Форма": form,
                "Пар": sum(counts.values()),
                **{headers[s]: counts[s] for s in STATUS_ORDER},
            }
        )
    rows.append(
        {
            "Форма": "Всего",
            "Пар": len(summary.rows),
            **{headers[s]: summary.counts[s] for s in STATUS_ORDER},
        }
    )
    return rows


def summary_markdown(summary: MonthlySummary, *, document_url: str) -> str:
    """The artifact's description: counts and the link to the curator's PDF, no names."""
    return (
        f"{summary_title(summary.month)}: пар {len(summary.rows)}, "
        f"доклады подтверждены {summary.confirmed}. Сводка с перечнем пар (PDF, для куратора): "
        f"{document_url}"
    )


# ---------------------------------------------------------------------------------------------
# Reminders: mentors without logs in the month, mentees with feedback due
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    name: str
    email: str


def _people(session: Session, participant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Person]:
    found = {}
    for ids in _chunks(list(set(participant_ids))):
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            found[participant_id] = _Person(person.full_name, person.email)
    return found


def _queue(
    session: Session,
    queued: list[uuid.UUID],
    *,
    key: str,
    to: tick.Recipient,
    template: str,
    context: dict[str, object],
) -> None:
    # As the tick's items: the key says what, for whom and which due date, so once only.
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)).first():
        return
    message = mail.enqueue_templated(
        session=session,
        idempotency_key=key,
        to_addr=f"{to.name} <{to.email}>",
        template=template,
        context={**context, "recipient": to},
        recipient_role=to.role,
    )
    queued.append(message.id)


def _personal_url(
    session: Session,
    settings: Settings,
    *,
    participant_id: uuid.UUID,
    pair_id: uuid.UUID,
    now: datetime,
    path: str = "",
) -> str:
    """The participant's personal link (DESIGN §11), or "" when the pair has no page."""
    try:
        link = links.issue_link(
            session=session,
            secret=settings.approval_secret(),
            participant_id=participant_id,
            pair_id=pair_id,
            now=now,
            timezone=ZoneInfo(settings.timezone),
            actor="tick",
        )
    except ValueError:  # revoked, or a pair with no page: the mail says to ask the curator
        return ""
    return links.link_url(base_url=settings.web_base_url, token=link.token) + path


def queue_reminders(
    *, session: Session, settings: Settings, cycle_id: uuid.UUID, today: date, now: datetime
) -> list[uuid.UUID]:
    """Reminders due today, the ids of the messages queued now (none twice: keyed by the pair or
    meeting, its due date and the kind, as the tick's item reminders).

    Logs of a month are due on its last day (the report is assembled from them): a mentor with
    no meeting recorded in the month is reminded before, on and after that day; feedback on a
    joint-work or final meeting is due `meeting_feedback_days` after it. Both escalate to the
    curator after `escalate_to_curator_after_days`, in one mail per due date listing who is
    missing. The days come from the organisation's policy, read as tick.ReminderPolicy."""
    cycle, rules = _policy_of(session, cycle_id)
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    policy = tick.reminder_policy(rules)
    curator = tick.Recipient("curator", org.curator_name, org.curator_email)
    base: dict[str, object] = {"organization": org, "cycle": cycle}
    queued: list[uuid.UUID] = []

    # Mentors: the current month (reminders before its end) and the previous one (on and after).
    current = month_start(today)
    for month in (previous_month(current), current):
        due = month_end(month)
        kinds = tick.reminder_kinds(due=due, today=today, policy=policy, ladder=["curator"])
        if not kinds:
            continue
        going_on = [
            p
            for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)
            if p.status in pairs.ONGOING
        ]
        with_logs: set[uuid.UUID] = set()
        for ids in _chunks([p.id for p in going_on]):
            with_logs.update(
                session.exec(
                    select(MeetingLog.pair_id).where(
                        col(MeetingLog.pair_id).in_(ids),
                        MeetingLog.held_on >= month,
                        MeetingLog.held_on <= due,
                    )
                ).all()
            )
        silent = [p for p in going_on if p.id not in with_logs]
        people = _people(session, (p.mentor_id for p in silent))
        context = {**base, "month_label": month_label(month), "due": due}
        for pair in silent:
            mentor = people.get(pair.mentor_id)
            if mentor is None or not mentor.email:
                continue
            url = _personal_url(
                session, settings, participant_id=pair.mentor_id, pair_id=pair.id, now=now
            )
            for kind in (k for k in kinds if not k.startswith("escalate-")):
                _queue(
                    session,
                    queued,
                    key=f"meetings-logs:{pair.id}:{due.isoformat()}:{kind}:mentor",
                    to=tick.Recipient("mentor", mentor.name, mentor.email),
                    template="meeting_logs_reminder",
                    context={**context, "kind": kind, "link": url},
                )
        if "escalate-curator" in kinds and silent:
            _queue(
                session,
                queued,
                key=f"meetings-logs-escalation:{cycle_id}:{due.isoformat()}:curator",
                to=curator,
                template="meetings_escalation",
                context={
                    **context,
                    "what": "logs",
                    "days_overdue": (today - due).days,
                    "names": sorted(
                        people[p.mentor_id].name for p in silent if p.mentor_id in people
                    ),
                },
            )

    # Mentees: feedback due on meetings recent enough to still be reminded or escalated.
    feedback_days = rules.meeting_feedback_days
    oldest = today - timedelta(days=feedback_days + policy.escalate_to_curator_after)
    recent = session.exec(
        select(MeetingLog, MentorshipPair)
        .join(MentorshipPair, col(MentorshipPair.id) == col(MeetingLog.pair_id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_(links.PAIRS_WITH_PAGES + pairs.ONGOING),
            col(MeetingLog.kind).in_(FEEDBACK_REQUIRED),
            MeetingLog.held_on >= oldest,
            MeetingLog.held_on <= today,
        )
        .order_by(col(MeetingLog.held_on), col(MeetingLog.id))
    ).all()
    data = _load(session, list({pair.id for _, pair in recent}), today)
    owed: dict[date, list[tuple[MeetingLog, MentorshipPair, uuid.UUID]]] = defaultdict(list)
    for log, pair in recent:
        for owing in data.mentees.get(pair.id, []):
            if (log.id, owing) not in data.feedback:
                owed[log.held_on + timedelta(days=feedback_days)].append((log, pair, owing))
    people = _people(session, (m for items in owed.values() for _, _, m in items))
    for due, items in sorted(owed.items()):
        kinds = tick.reminder_kinds(due=due, today=today, policy=policy, ladder=["curator"])
        for log, pair, mentee_id in items:
            mentee = people.get(mentee_id)
            if mentee is None or not mentee.email:
                continue
            url = _personal_url(
                session, settings, participant_id=mentee_id, pair_id=pair.id, now=now
            )
            for kind in (k for k in kinds if not k.startswith("escalate-")):
                _queue(
                    session,
                    queued,
                    key=f"meeting-feedback:{log.id}:{mentee_id}:{due.isoformat()}:{kind}:mentee",
                    to=tick.Recipient("mentee", mentee.name, mentee.email),
                    template="meeting_feedback_reminder",
                    context={
                        **base,
                        "kind": kind,
                        "due": due,
                        "held_on": log.held_on,
                        "kind_ru": KIND_LABEL_RU[log.kind],
                        "link": url,
                    },
                )
        if "escalate-curator" in kinds:
            _queue(
                session,
                queued,
                key=f"meeting-feedback-escalation:{cycle_id}:{due.isoformat()}:curator",
                to=curator,
                template="meetings_escalation",
                context={
                    **base,
                    "what": "feedback",
                    "due": due,
                    "days_overdue": (today - due).days,
                    "names": sorted({people[m].name for _, _, m in items if m in people}),
                },
            )
    session.flush()
    return queued


# ---------------------------------------------------------------------------------------------
# The day's work for the tick
# ---------------------------------------------------------------------------------------------


@dataclass
class MeetingsDay:
    """What the meetings stage did on one tick day for one cycle (ids and counts, no names)."""

    day: date
    month: date | None = None  # the month whose reports were assembled today
    reports: int = 0
    document_id: uuid.UUID | None = None
    table_rows: list[dict[str, str | int]] = field(default_factory=list)
    description: str = ""
    message_ids: list[uuid.UUID] = field(default_factory=list)


def run_day(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    today: date,
    now: datetime,
    flow_run_id: uuid.UUID | None = None,
) -> MeetingsDay:
    """The month's reports and the curator's summary when a month has ended and its summary is
    not made yet (the first of the month, or the next tick after a missed one), and the
    reminders due today. Running it twice on a day assembles and sends nothing twice."""
    outcome = MeetingsDay(day=today)
    month = previous_month(month_start(today))
    if summary_document(session=session, cycle_id=cycle_id, month=month) is None and pairs_of_month(
        session=session, cycle_id=cycle_id, month=month
    ):
        reports = assemble_monthly_reports(session=session, cycle_id=cycle_id, month=month, now=now)
        summary = monthly_summary(session=session, cycle_id=cycle_id, month=month)
        document = issue_summary_document(
            session=session, settings=settings, summary=summary, on=today, flow_run_id=flow_run_id
        )
        outcome.month, outcome.reports, outcome.document_id = month, len(reports), document.id
        outcome.table_rows = summary_table_rows(summary)
        url = f"{settings.web_base_url.rstrip('/')}/documents/{document.id}.pdf"
        outcome.description = summary_markdown(summary, document_url=url)
    outcome.message_ids = queue_reminders(
        session=session, settings=settings, cycle_id=cycle_id, today=today, now=now
    )
    return outcome
