"""A cycle's execution plan: the roadmap's items dated for one school year, and their state.

Starting a cycle turns each roadmap item into a plan row with its planned window (a recurring
item into one row per occurrence). The state of a row follows what happened in the database —
an approved stage, an issued document, evidence the responsible attached — and every change
of state is an audit row. Nothing here sends mail or starts flows: that is the tick's job.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models import (
    CLOSED_STATUSES,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    Cycle,
    CyclePlan,
    Document,
    DocumentStatus,
    ItemStatus,
    MentorshipPair,
    PairStatus,
    PlanItem,
    ReportRequest,
)
from nastavnik import report_requests, repository
from nastavnik.clock import process_clock
from nastavnik.roadmap import (
    CompletionKind,
    Roadmap,
    RoadmapItem,
    Schedule,
    Stage,
    WindowKind,
    load_roadmap,
    roadmap_schedule,
)
from nastavnik.stages import MENTORS_ORDER_APPROVAL, PREPARATION_APPROVAL, REGISTERS_APPROVAL

# The decision that completes each stage the product runs: the newest request under the key.
STAGE_APPROVALS: dict[str, str] = {
    Stage.preparation: PREPARATION_APPROVAL,
    Stage.base_formation: REGISTERS_APPROVAL,
    Stage.training: MENTORS_ORDER_APPROVAL,
    Stage.pairing: "programmes-approval",
    Stage.completion: "completion-reports",
    # The final event asks in rounds («final-event-orders-1», …): any round's approval ends it.
    Stage.final_event: "final-event-orders",
    # The department head approves the analytic report and the order on the year (issue 10 §6).
    Stage.department: "analytic-report",
}

STATUS_RU = {
    ItemStatus.not_started: "не начат",
    ItemStatus.in_progress: "выполняется",
    ItemStatus.done: "выполнен",
    ItemStatus.done_late: "выполнен с опозданием",
    ItemStatus.overdue: "просрочен",
    ItemStatus.skipped: "пропущен",
}

OTHER_YEAR_NOTE = "пункт другого года многолетней дорожной карты"
NO_PAIRS_NOTE = "в эти сроки наставнические пары не работали"

# Pairs fixed by order: their terms are the meetings stage's year (a draft or dropped pair never
# worked; a replaced pair worked until its replacement).
WORKING_PAIRS = (
    PairStatus.active,
    PairStatus.extended,
    PairStatus.ended,
    PairStatus.replaced,
    PairStatus.terminated,
)
FINISHED_PAIRS = (PairStatus.ended, PairStatus.replaced, PairStatus.terminated)


class PlanExists(RuntimeError):
    """The cycle already runs a plan (starting a cycle twice changes nothing)."""


@dataclass(frozen=True)
class StatusChange:
    """One row whose status moved, for the tick's report."""

    item_id: uuid.UUID
    number: str
    occurrence: int
    old: ItemStatus
    new: ItemStatus


def _rows(
    cycle_id: uuid.UUID, position: int, item: RoadmapItem, schedule: Schedule
) -> list[PlanItem]:
    base: dict[str, Any] = {
        "cycle_id": cycle_id,
        "number": item.key,
        "position": position,
        "title": item.title,
        "section": item.section,
        "stage": str(item.stage),
        "completion_kind": str(item.completes.kind),
        "completion_stage": str(item.completes.stage) if item.completes.stage else None,
        "completion_document": item.completes.document,
        "completion_report": str(item.completes.report) if item.completes.report else None,
        "responsible": list(item.responsible),
        "due_rule": item.due,
        "result": item.result,
        "approval": item.approval,
        "window_kind": str(schedule.kind),
        "event": schedule.event,
        "days_after": schedule.days_after,
    }
    if not schedule.applies:
        return [PlanItem(**base, status=ItemStatus.skipped, note=OTHER_YEAR_NOTE)]
    windows = schedule.windows
    if len(windows) > 1 and (schedule.recurring or item.completes.kind != CompletionKind.stage):
        # «Январь, май»: each window is done on its own, like a recurring item's occurrence
        return [
            PlanItem(**base, occurrence=n, planned_start=w.start, planned_end=w.end)
            for n, w in enumerate(windows, start=1)
        ]
    if len(windows) > 1:  # a stage runs once: from its first window's start to the last's end
        return [PlanItem(**base, planned_start=windows[0].start, planned_end=windows[-1].end)]
    window = windows[0] if windows else None
    return [
        PlanItem(
            **base,
            planned_start=window.start if window else None,
            planned_end=window.end if window else None,
        )
    ]


def create_plan(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    roadmap: Roadmap,
    schedules: Sequence[tuple[RoadmapItem, Schedule]],
    first_cycle: str,
    roadmap_file: str = "",
    roadmap_text: str = "",
    actor: str = "curator",
) -> list[PlanItem]:
    """Write the cycle's plan: one row per item (per occurrence of a recurring one), once."""
    if session.exec(select(CyclePlan).where(CyclePlan.cycle_id == cycle_id)).first():
        raise PlanExists(f"цикл {cycle_id} уже выполняется по дорожной карте")
    session.add(
        CyclePlan(
            cycle_id=cycle_id,
            roadmap_title=roadmap.title,
            roadmap_file=roadmap_file,
            roadmap_text=roadmap_text,
            written_for=roadmap.school_year,
            first_cycle=first_cycle,
        )
    )
    rows = [
        row
        for position, (item, schedule) in enumerate(schedules)
        for row in _rows(cycle_id, position, item, schedule)
    ]
    session.add_all(rows)
    session.flush()
    repository.record_audit(
        session=session,
        actor=actor,
        action="plan.created",
        cycle_id=cycle_id,
        entity=f"cycleplan:{cycle_id}",
        details={"roadmap": roadmap.title, "items": len(schedules), "rows": len(rows)},
        event_key=f"plan-created:{cycle_id}",
        at=process_clock().now(),
    )
    return rows


def start_cycle(
    *,
    session: Session,
    organization_id: uuid.UUID,
    school_year: str,
    roadmap_path: Path | str,
    first_cycle: str | None = None,
    actor: str = "curator",
) -> Cycle:
    """The organisation's cycle for the year with its plan from the roadmap file (once)."""
    roadmap = load_roadmap(roadmap_path)
    first = first_cycle or school_year
    schedules = roadmap_schedule(roadmap, cycle=school_year, first_cycle=first)
    cycle = repository.get_or_create_cycle(
        session=session, organization_id=organization_id, school_year=school_year
    )
    create_plan(
        session=session,
        cycle_id=cycle.id,
        roadmap=roadmap,
        schedules=schedules,
        first_cycle=first,
        roadmap_file=str(Path(roadmap_path).resolve()),
        roadmap_text=Path(roadmap_path).read_text(encoding="utf-8"),
        actor=actor,
    )
    return cycle


def plan_items(*, session: Session, cycle_id: uuid.UUID) -> list[PlanItem]:
    """The cycle's plan rows in roadmap order."""
    return list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle_id)
            .order_by(col(PlanItem.position), col(PlanItem.occurrence))
        )
    )


def get_plan(*, session: Session, cycle_id: uuid.UUID) -> CyclePlan | None:
    """The roadmap the cycle runs, if a plan was made."""
    return session.exec(select(CyclePlan).where(CyclePlan.cycle_id == cycle_id)).first()


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


def _set_status(
    session: Session,
    item: PlanItem,
    status: ItemStatus,
    *,
    actor: str,
    today: date,
    details: dict[str, Any] | None = None,
) -> StatusChange | None:
    if item.status == status:
        return None
    change = StatusChange(item.id, item.number, item.occurrence, item.status, status)
    item.status = status
    item.updated_at = process_clock().now()
    session.add(item)
    repository.record_audit(
        session=session,
        actor=actor,
        action=f"plan.{status}",
        cycle_id=item.cycle_id,
        entity=f"planitem:{item.id}",
        details={
            "number": item.number,
            "occurrence": item.occurrence,
            "from": str(change.old),
            "day": today.isoformat(),
            **(details or {}),
        },
        at=item.updated_at,
    )
    return change


def _finished(item: PlanItem, on: date) -> ItemStatus:
    late = item.planned_end is not None and on > item.planned_end
    return ItemStatus.done_late if late else ItemStatus.done


def _cycle_requests(session: Session, cycle_id: uuid.UUID) -> list[ApprovalRequest]:
    """The cycle's approval requests, oldest first (a few dozen a year)."""
    return list(
        session.exec(
            select(ApprovalRequest)
            .where(ApprovalRequest.cycle_id == cycle_id)
            .order_by(col(ApprovalRequest.requested_at), col(ApprovalRequest.id))
        )
    )


def _stage_state(
    session: Session, item: PlanItem, requests: Sequence[ApprovalRequest]
) -> tuple[ItemStatus | None, dict[str, Any]]:
    """Done when the stage's deciding request is approved; in progress once a run asked anything.
    `requests`: the cycle's approval requests, oldest first (read once a refresh)."""
    stage = item.completion_stage or item.stage
    key = STAGE_APPROVALS.get(stage)
    if key is None:
        return None, {}
    deciding = next(
        (
            r
            for r in reversed(requests)
            if r.approval_key == key or r.approval_key.startswith(f"{key}-")
        ),
        None,
    )
    if deciding is not None and deciding.status == ApprovalStatus.approved:
        finished = _day(deciding.decided_at) or _day(deciding.requested_at)
        assert finished is not None
        item.actual_finish = finished
        item.flow_run_id = deciding.flow_run_id
        decision = session.exec(
            select(ApprovalDecision).where(ApprovalDecision.request_id == deciding.id)
        ).first()
        item.approver = decision.approver_name if decision else deciding.approver_name
        item.decision = str(decision.decision) if decision else str(deciding.status)
        item.document_ids = list(deciding.document_ids)
        item.actual_start = item.actual_start or finished
        return _finished(item, finished), {"request": str(deciding.id)}
    first = next((r for r in requests if r.stage == stage), None)
    if first is not None:
        item.actual_start = item.actual_start or _day(first.requested_at)
        item.flow_run_id = item.flow_run_id or first.flow_run_id
        return ItemStatus.in_progress, {}
    if item.flow_run_id is not None:  # the tick started the run; it has asked nothing yet
        return ItemStatus.in_progress, {}
    return None, {}


ROADMAP_DOCUMENTS: dict[str, tuple[str, str]] = {
    "evaluation-memo": ("memo", "Справка по результатам оценки и обратной связи"),
    "self-diagnostics-memo": ("memo", "Справка по результатам самодиагностики"),
    "order-rewards": ("order", "Приказ о поощрении наставников"),
}
"""A roadmap's document names the stages make, as (type, title): such a document completes the
item when it is approved (the roadmap says «evaluation-memo», the completion stage makes a memo
with that title)."""

EARLY_DOCUMENT_DAYS = 31
"""How long before an item's window a document of a broad type (`memo`, `order`) still counts."""

MONTHLY_SUMMARY = "monthly-summary"
"""The curator's monthly summary (nastavnik.monthly), made by the tick on the 1st for the month
before: it completes an occurrence of a recurring meetings row once issued (nobody approves it)."""
MONTHLY_SUMMARY_KEY = "monthly-summary:{cycle}:%"


def _document_state(
    session: Session, item: PlanItem, cycle: Cycle, today: date
) -> tuple[ItemStatus | None, dict[str, Any]]:
    """Done when a document of the type is approved in the cycle (issued, for a recurring row
    within its window); in progress while one waits as a draft."""
    if item.window_kind == WindowKind.after_event and item.planned_start is None:
        return None, {}  # its event has not happened: no document can be the one it asks for
    if item.completion_document == MONTHLY_SUMMARY:
        if item.planned_start is not None and today < item.planned_start:
            return None, {}  # the summary that completes it is made in its window
        return _summary_state(session, item, cycle)
    doc_type, title = ROADMAP_DOCUMENTS.get(item.completion_document or "", ("", ""))
    if not title and item.planned_start is not None:
        if today < item.planned_start - timedelta(days=EARLY_DOCUMENT_DAYS):
            return None, {}  # no document made today can count for it (below)
    query = select(Document).where(
        Document.cycle_id == cycle.id,
        Document.doc_type == (doc_type or item.completion_document),
    )
    if title:
        query = query.where(Document.title == title)
    if item.planned_start is not None and not title:
        # A document of a broad type made long before the item's window opened was made for
        # something else (the pairs' consent memo in October is not the satisfaction survey's
        # memo due in May); one made within the month before is the item done early.
        earliest = item.planned_start - timedelta(days=EARLY_DOCUMENT_DAYS)
        query = query.where(col(Document.doc_date) >= earliest)
    if item.occurrence and item.planned_end:
        query = query.where(col(Document.doc_date) <= item.planned_end)
    documents = list(session.exec(query.order_by(col(Document.doc_date))))
    approved = [d for d in documents if d.status == DocumentStatus.approved]
    if approved:
        document = approved[0]
        finished = _approved_on(session, cycle.id, document) or document.doc_date
        item.actual_finish = finished
        item.actual_start = item.actual_start or document.doc_date
        item.document_ids = sorted({*item.document_ids, str(document.id)})
        return _finished(item, finished), {"document": str(document.id)}
    if documents:
        item.actual_start = item.actual_start or documents[0].doc_date
        return ItemStatus.in_progress, {}
    return None, {}


def _summary_state(
    session: Session, item: PlanItem, cycle: Cycle
) -> tuple[ItemStatus | None, dict[str, Any]]:
    """Done when a monthly summary was made within the row's window (on the 1st, for the month
    before: «до 20 числа каждого месяца» is met by the summary made on the 1st)."""
    query = select(Document).where(
        col(Document.unique_key).like(MONTHLY_SUMMARY_KEY.format(cycle=cycle.id))
    )
    if item.planned_start is not None:
        query = query.where(col(Document.doc_date) >= item.planned_start)
    if item.planned_end is not None:
        query = query.where(col(Document.doc_date) <= item.planned_end)
    summary = session.exec(query.order_by(col(Document.doc_date))).first()
    if summary is None:
        return None, {}
    item.actual_start = item.actual_start or summary.doc_date
    item.actual_finish = summary.doc_date
    item.document_ids = sorted({*item.document_ids, str(summary.id)})
    return _finished(item, summary.doc_date), {"document": str(summary.id)}


def _approved_on(session: Session, cycle_id: uuid.UUID, document: Document) -> date | None:
    """The day the director approved the document, when a decision of the cycle did (an order
    dated on its drafting is done when it is signed)."""
    for request in session.exec(
        select(ApprovalRequest).where(
            ApprovalRequest.cycle_id == cycle_id,
            ApprovalRequest.status == ApprovalStatus.approved,
        )
    ):
        if str(document.id) in request.document_ids and request.decided_at is not None:
            return request.decided_at.date()
    return None


def _reports_state(
    session: Session, item: PlanItem, today: date
) -> tuple[ItemStatus | None, dict[str, Any]]:
    """In progress once the department's requests for the item exist; done when every member
    asked has submitted (on the day of the last first submission); overdue past the due date
    with submissions missing."""
    requests = list(
        session.exec(select(ReportRequest).where(ReportRequest.plan_item_id == item.id))
    )
    if not requests:
        return None, {}
    item.actual_start = item.actual_start or min(r.requested_on for r in requests)
    firsts = [report_requests.first_submission(session=session, request_id=r.id) for r in requests]
    submitted = [f.submitted_on for f in firsts if f is not None]
    details = {"requests": len(requests), "submitted": len(submitted)}
    if len(submitted) == len(requests):
        item.actual_finish = max(submitted)
        return _finished(item, item.actual_finish), details
    if item.planned_end is not None and today > item.planned_end:
        return ItemStatus.overdue, details
    return ItemStatus.in_progress, details


def event_day(*, session: Session, cycle_id: uuid.UUID, event: str) -> date | None:
    """When an event an item waits for happened (or is fixed to happen), if known yet."""
    if event in {"programme-end", "pair-end"}:
        ends = [
            p.ends_on
            for p in session.exec(
                select(MentorshipPair).where(
                    MentorshipPair.cycle_id == cycle_id,
                    col(MentorshipPair.status).in_(
                        [PairStatus.active, PairStatus.extended, PairStatus.ended]
                    ),
                )
            )
            if p.ends_on is not None
        ]
        return max(ends) if ends else None
    if event == "pairs-fixed":  # the day the director approved the first order fixing pairs
        return _first_approval_day(session, cycle_id, "pairing-order-%")
    if event == "bases-formed":  # the day the director approved the registers
        return _first_approval_day(session, cycle_id, REGISTERS_APPROVAL)
    if event == "preparation-done":  # the day the director approved the preparation orders
        return _first_approval_day(session, cycle_id, PREPARATION_APPROVAL)
    if event == "training-done":  # the day the director approved the mentors' order
        return _first_approval_day(session, cycle_id, MENTORS_ORDER_APPROVAL)
    return None


def _first_approval_day(session: Session, cycle_id: uuid.UUID, key: str) -> date | None:
    """The day the first request under `key` (a LIKE pattern) was approved, if one was."""
    approved = session.exec(
        select(ApprovalRequest)
        .where(
            ApprovalRequest.cycle_id == cycle_id,
            col(ApprovalRequest.approval_key).like(key),
            ApprovalRequest.status == ApprovalStatus.approved,
        )
        .order_by(col(ApprovalRequest.decided_at))
    ).first()
    return _day(approved.decided_at) if approved is not None else None


def refresh(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    today: date,
    actor: str = "tick",
    rows: list[PlanItem] | None = None,
) -> list[StatusChange]:
    """Bring every open row's status up to date with the database and the day (idempotent);
    `rows`: the cycle's plan rows when the caller has read them already."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    changes: list[StatusChange] = []
    terms: list[PairTerm] | None = None  # read once, for the first row of the meetings stage
    requests: list[ApprovalRequest] | None = None  # read once, for the first stage row
    for item in plan_items(session=session, cycle_id=cycle_id) if rows is None else rows:
        if item.status in CLOSED_STATUSES:
            continue
        if item.stage == Stage.meetings:
            if terms is None:
                terms = pair_terms(session=session, cycle_id=cycle_id)
            change = _refresh_meetings_item(session, item, terms, today=today, actor=actor)
            if change is not None:
                changes.append(change)
                session.add(item)
                continue
        if item.window_kind == WindowKind.after_event and item.planned_end is None:
            happened = event_day(session=session, cycle_id=cycle_id, event=item.event or "")
            if happened is not None:
                item.planned_start = happened
                item.planned_end = happened + timedelta(days=item.days_after or 0)
                session.add(item)
        status: ItemStatus | None = None
        details: dict[str, Any] = {}
        if item.completion_kind == CompletionKind.stage and item.stage == Stage.meetings:
            status, details = _meetings_state(item, terms or [], today)
        elif item.completion_kind == CompletionKind.stage:
            if requests is None:
                requests = _cycle_requests(session, cycle_id)
            status, details = _stage_state(session, item, requests)
        elif item.completion_kind == CompletionKind.document or (
            item.completion_kind == CompletionKind.recurring and item.completion_document
        ):
            status, details = _document_state(session, item, cycle, today)
        elif item.completion_kind == CompletionKind.reports:
            status, details = _reports_state(session, item, today)
        if status is None:
            status = _waiting_status(item, today)
        change = _set_status(session, item, status, actor=actor, today=today, details=details)
        if change:
            changes.append(change)
        session.add(item)
    session.flush()
    return changes


@dataclass(frozen=True)
class PairTerm:
    """A pair's term as the plan needs it: from, to (None: not fixed yet), whether it is over."""

    starts_on: date | None
    ends_on: date | None
    finished: bool


def pair_terms(*, session: Session, cycle_id: uuid.UUID) -> list[PairTerm]:
    """The terms of the cycle's pairs fixed by order (one query, no JSON columns)."""
    rows = session.execute(
        sa_select(
            col(MentorshipPair.starts_on), col(MentorshipPair.ends_on), col(MentorshipPair.status)
        ).where(
            col(MentorshipPair.cycle_id) == cycle_id, col(MentorshipPair.status).in_(WORKING_PAIRS)
        )
    )
    return [PairTerm(start, end, status in FINISHED_PAIRS) for start, end, status in rows]


def pairs_at_work(terms: Sequence[PairTerm], start: date, end: date) -> bool:
    """Whether any pair worked (or works) on some day from `start` to `end`."""
    return any(
        (t.starts_on is None or t.starts_on <= end) and (t.ends_on is None or t.ends_on >= start)
        for t in terms
    )


def _meetings_state(
    item: PlanItem, terms: Sequence[PairTerm], today: date
) -> tuple[ItemStatus | None, dict[str, Any]]:
    """The meetings stage (`completes: stage`) runs from the first pair's start and is done
    when every pair's term is over, on the last one's end."""
    if not terms:
        return None, {}
    starts = [t.starts_on for t in terms if t.starts_on is not None]
    if starts:
        item.actual_start = item.actual_start or min(starts)
    ends = [t.ends_on for t in terms if t.ends_on is not None]
    if all(t.finished for t in terms) and ends and max(ends) <= today:
        item.actual_finish = max(ends)
        return _finished(item, item.actual_finish), {"pairs": len(terms)}
    return ItemStatus.in_progress, {}


def _refresh_meetings_item(
    session: Session, item: PlanItem, terms: Sequence[PairTerm], *, today: date, actor: str
) -> StatusChange | None:
    """A row of the meetings stage whose window has passed with no pair at work (before the
    pairs were fixed, after they ended) is skipped: there was nothing to meet or report on."""
    if item.completion_kind == CompletionKind.stage:
        return None
    if item.planned_start is None or item.planned_end is None or today <= item.planned_end:
        return None
    start, end = _worked_in(item)
    if pairs_at_work(terms, start, end):
        return None
    item.note = NO_PAIRS_NOTE
    return _set_status(
        session,
        item,
        ItemStatus.skipped,
        actor=actor,
        today=today,
        details={"reason": NO_PAIRS_NOTE},
    )


def waits_for_pairs(item: PlanItem, terms: Sequence[PairTerm], today: date) -> bool:
    """Whether a row of the meetings stage has had no pair at work in its window so far: its
    responsible are not reminded of it (the pairs are not fixed yet, or have all ended)."""
    if item.stage != Stage.meetings or item.completion_kind == CompletionKind.stage:
        return False
    if item.planned_start is None or item.planned_end is None:
        return False
    start, end = _worked_in(item)
    return not pairs_at_work(terms, start, max(start, min(end, today)))


def _worked_in(item: PlanItem) -> tuple[date, date]:
    """The days whose work a meetings row is about: its window, or for a monthly summary's row
    the month before the window opens (the summary made on the 1st reports on it)."""
    assert item.planned_start is not None and item.planned_end is not None
    if item.completion_document == MONTHLY_SUMMARY:
        last = item.planned_start.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return item.planned_start, item.planned_end


def _waiting_status(item: PlanItem, today: date) -> ItemStatus:
    """The status of an open row that nothing has completed: by its window and the day."""
    if item.window_kind == WindowKind.on_demand or item.planned_end is None:
        return ItemStatus.in_progress if item.evidence else ItemStatus.not_started
    if today > item.planned_end:
        return ItemStatus.overdue
    if item.evidence or (item.planned_start and today >= item.planned_start and item.flow_run_id):
        return ItemStatus.in_progress
    if (
        item.window_kind == WindowKind.continuous
        and item.planned_start
        and today >= item.planned_start
    ):
        return ItemStatus.in_progress
    return ItemStatus.not_started


def find_item(
    *, session: Session, cycle_id: uuid.UUID, number: str, occurrence: int | None = None
) -> PlanItem:
    """A plan row by its roadmap number (and occurrence: the first open one if not given)."""
    rows = [
        r
        for r in plan_items(session=session, cycle_id=cycle_id)
        if r.number == number and (occurrence is None or r.occurrence == occurrence)
    ]
    if not rows:
        raise LookupError(f"в плане цикла нет пункта {number!r}")
    if occurrence is None and len(rows) > 1:
        open_rows = [r for r in rows if r.status not in CLOSED_STATUSES]
        return open_rows[0] if open_rows else rows[-1]
    return rows[0]


def item_on(*, session: Session, cycle_id: uuid.UUID, number: str, day: date) -> PlanItem | None:
    """The row of roadmap item `number` whose planned window holds `day` (a recurring item's
    occurrence of that month or quarter), if there is one."""
    for row in plan_items(session=session, cycle_id=cycle_id):
        start, end = row.planned_start, row.planned_end
        if row.number == number and start is not None and end is not None and start <= day <= end:
            return row
    return None


def close_item(
    *,
    session: Session,
    item_id: uuid.UUID,
    today: date,
    actor: str,
    evidence_kind: str,
    evidence: str,
) -> PlanItem:
    """The responsible closes an item with evidence (a file, a link or a note)."""
    if evidence_kind not in {"file", "link", "note"}:
        raise ValueError(f"доказательство {evidence_kind!r}: ожидается file, link или note")
    if not evidence.strip():
        raise ValueError("доказательство не может быть пустым")
    item = session.get(PlanItem, item_id)
    if item is None:
        raise LookupError(f"пункт плана {item_id} не найден")
    if item.status in CLOSED_STATUSES:
        return item
    item.evidence = [
        *item.evidence,
        {"kind": evidence_kind, "value": evidence, "by": actor, "on": today.isoformat()},
    ]
    item.actual_start = item.actual_start or today
    item.actual_finish = today
    _set_status(
        session,
        item,
        _finished(item, today),
        actor=actor,
        today=today,
        details={"evidence": evidence_kind},
    )
    session.add(item)
    session.flush()
    return item


def skip_item(
    *, session: Session, item_id: uuid.UUID, today: date, actor: str, reason: str
) -> PlanItem:
    """Mark an item skipped this year, with the reason (audited)."""
    if not reason.strip():
        raise ValueError("пропуск пункта требует причины")
    item = session.get(PlanItem, item_id)
    if item is None:
        raise LookupError(f"пункт плана {item_id} не найден")
    item.note = reason
    _set_status(
        session, item, ItemStatus.skipped, actor=actor, today=today, details={"reason": reason}
    )
    session.add(item)
    session.flush()
    return item


def record_stage_started(
    *, session: Session, item_id: uuid.UUID, flow_run_id: uuid.UUID, today: date
) -> PlanItem:
    """The tick started the item's stage flow: remember the run (once)."""
    item = session.get(PlanItem, item_id)
    if item is None:
        raise LookupError(f"пункт плана {item_id} не найден")
    if item.flow_run_id is None:
        item.flow_run_id = flow_run_id
        item.actual_start = item.actual_start or today
        _set_status(
            session,
            item,
            ItemStatus.in_progress,
            actor="tick",
            today=today,
            details={"flow_run": str(flow_run_id)},
        )
        session.add(item)
        session.flush()
    return item


def stage_runs_open(*, session: Session, cycle_id: uuid.UUID) -> list[uuid.UUID]:
    """The flow runs of the cycle's stage items not yet closed: those a crash may have stopped."""
    return [
        run_id
        for run_id in session.exec(
            select(PlanItem.flow_run_id).where(
                PlanItem.cycle_id == cycle_id,
                col(PlanItem.flow_run_id).is_not(None),
                col(PlanItem.status).not_in(list(CLOSED_STATUSES)),
            )
        )
        if run_id is not None
    ]


def cycles_to_tick(
    *, session: Session, today: date, organization_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Cycles with a plan whose school year (1 August to 31 August a year later) holds today."""
    query = select(Cycle).join(CyclePlan, col(CyclePlan.cycle_id) == col(Cycle.id))
    if organization_id is not None:
        query = query.where(Cycle.organization_id == organization_id)
    due = []
    for cycle in session.exec(query.order_by(col(Cycle.school_year))):
        first = int(cycle.school_year[:4])
        if date(first, 8, 1) <= today <= date(first + 1, 8, 31):
            due.append(cycle.id)
    return due
