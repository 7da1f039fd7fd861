"""The meetings stage's month: the mentor's monthly report and the curator's summary (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §4.2: the mentor is obliged
«не реже 1 раза в месяц докладывать куратору и руководителю о результатах достигнутых в процессе
осуществления наставничества». DESIGN §3 stage 4: the report is assembled from the meeting logs
at the month's end and confirmed by the mentor through the personal link; the curator gets a
summary (on track / lagging / no contact / missing feedback, nastavnik.progress) as a PDF —
names allowed, it goes to the curator only — and a table artifact with counts and links only.

Everything here reads the logs as they are; recording them is another module's business.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Cycle,
    Document,
    MeetingLog,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    PairMember,
    Participant,
    Person,
)
from nastavnik import documents, meeting_reminders, repository
from nastavnik.meetings import KIND_LABEL_RU
from nastavnik.programmes import ProgrammeContent, month_label
from nastavnik.progress import (
    FORMAT_RU,
    STATUS_ORDER,
    STATUS_RU,
    LoggedMeetingRow,
    MonthAssessment,
    MonthStatus,
    PairProgress,
    assess_month,
    chunks,
    cycle_policy,
    load_pairs,
    month_end,
    month_start,
    pairs_of_month,
    previous_month,
    progress_of,
)
from nastavnik.settings import Settings

# ---------------------------------------------------------------------------------------------
# The mentor's monthly report (§4.2)
# ---------------------------------------------------------------------------------------------


def _report_content(
    *,
    month: date,
    logs: Sequence[MeetingLog | LoggedMeetingRow],
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
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    month = month_start(month)
    pair_ids = [p.id for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)]
    data = load_pairs(session=session, pair_ids=pair_ids, as_of=month_end(month))
    existing: dict[uuid.UUID, MonthlyReport] = {}
    for ids in chunks(pair_ids):
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
        progress = progress_of(data=data, pair_id=pair_id, month=month, rules=rules)
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
    for ids in chunks(list({p.mentor_id for p in pair_list})):
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            names[participant_id] = person.full_name
    mentees: dict[uuid.UUID, list[str]] = defaultdict(list)
    reports: dict[uuid.UUID, MonthlyReport] = {}
    for ids in chunks(list(by_id)):
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
        # Opened by the curator, if at all: rendered then (the tick makes one for every
        # organisation on the 1st, ≈0.5 s each).
        render_on_opening=True,
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
    reminders due today. Running it twice on a day assembles and sends nothing twice. An
    organisation whose regulation has no monthly report (policy ``monthly_mentor_report``) gets
    the reminders only."""
    outcome = MeetingsDay(day=today)
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    month = previous_month(month_start(today))
    if (
        rules.monthly_mentor_report
        and summary_document(session=session, cycle_id=cycle_id, month=month) is None
        and pairs_of_month(session=session, cycle_id=cycle_id, month=month)
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
    outcome.message_ids = meeting_reminders.queue_reminders(
        session=session, settings=settings, cycle_id=cycle_id, today=today, now=now
    )
    return outcome
