"""A department's report requests to its member organisations and where each stands (no Prefect).

Seed ``roadmap_municipality_kedrovy.txt``: the department asks its organisations for the
informational report («Ноябрь 2021 г., далее - ежегодно или по запросу»), interim monitoring and
the final reports, each by a date. A request is submitted when a verified report for it is stored
(nastavnik.report_envelope); it is late when the sender's director approved it after the due date.

The department's daily tick (nastavnik.tick) opens one request per member organisation when a
roadmap item of kind ``reports`` opens, and queues the mail `mail_due` lists: the request to the
member's director and curator, reminders to the curator before and on the due date, then the
member's director, then the department's head. Every message is keyed by the request, its due
date and the kind, so each goes once per due date. The mail names organisations only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from models import (
    CLOSED_STATUSES,
    Cycle,
    Organization,
    PlanItem,
    ReportKind,
    ReportRequest,
    ReportSubmission,
)
from nastavnik import repository
from nastavnik.roadmap import CompletionKind, OrganisationKind


class RequestStatus(StrEnum):
    submitted = "submitted"  # on time
    submitted_late = "submitted_late"
    awaiting = "awaiting"  # not yet, the due date has not passed
    missing = "missing"  # not submitted and the due date has passed


STATUS_RU = {
    RequestStatus.submitted: "сдан в срок",
    RequestStatus.submitted_late: "сдан с опозданием",
    RequestStatus.awaiting: "ожидается",
    RequestStatus.missing: "не сдан",
}


REPORT_RU = {
    ReportKind.information: "информационный отчёт",
    ReportKind.interim: "отчёт промежуточного мониторинга",
    ReportKind.final: "итоговый отчёт",
}


class MembershipError(ValueError):
    """An organisation that cannot be made a member of this department."""


def add_member(
    *,
    session: Session,
    department_id: uuid.UUID,
    organization_id: uuid.UUID,
    actor: str = "department",
) -> Organization:
    """Make the organisation a member of the department (once; audited); it then gets the
    department's report requests."""
    department = session.get(Organization, department_id)
    organization = session.get(Organization, organization_id)
    if department is None or organization is None:
        raise LookupError("организация не найдена")
    if department.kind != OrganisationKind.department:
        raise MembershipError(
            f"«{department.code}» — не отдел образования (вид: {department.kind}); членов "
            "добавляют только организации вида department"
        )
    if organization.kind == OrganisationKind.department:
        raise MembershipError(
            f"«{organization.code}» — сам отдел образования; членами отдела бывают школы, "
            "колледжи и центры"
        )
    if organization.department_id == department.id:
        return organization
    previous = organization.department_id
    organization.department_id = department.id
    session.add(organization)
    session.flush()
    repository.record_audit(
        session=session,
        actor=actor,
        action="department.member_added",
        entity=f"organization:{organization.id}",
        details={
            "department": department.code,
            "organization": organization.code,
            "previous_department": str(previous) if previous else None,
        },
    )
    return organization


def members(*, session: Session, department_id: uuid.UUID) -> list[Organization]:
    """The department's member organisations, by code."""
    return list(
        session.exec(
            select(Organization)
            .where(Organization.department_id == department_id)
            .order_by(col(Organization.code))
        )
    )


def first_submission(*, session: Session, request_id: uuid.UUID) -> ReportSubmission | None:
    """The first report stored for a request (what lateness is judged by)."""
    return session.exec(
        select(ReportSubmission)
        .where(ReportSubmission.request_id == request_id)
        .order_by(col(ReportSubmission.submitted_on), col(ReportSubmission.received_at))
    ).first()


def latest_submission(*, session: Session, request_id: uuid.UUID) -> ReportSubmission | None:
    """The newest report stored for a request (what the department's figures read)."""
    return session.exec(
        select(ReportSubmission)
        .where(ReportSubmission.request_id == request_id)
        .order_by(
            col(ReportSubmission.submitted_on).desc(), col(ReportSubmission.received_at).desc()
        )
    ).first()


def status_of(
    request: ReportRequest, first: ReportSubmission | None, *, today: date
) -> RequestStatus:
    """Where one request stands on `today`, given its first submission (or None)."""
    if first is not None:
        return (
            RequestStatus.submitted
            if first.submitted_on <= request.due_on
            else RequestStatus.submitted_late
        )
    return RequestStatus.awaiting if today <= request.due_on else RequestStatus.missing


@dataclass(frozen=True)
class RequestState:
    request: ReportRequest
    status: RequestStatus
    submitted_on: date | None
    days_late: int  # after the due date: of the submission, or until today when missing


def request_states(
    *,
    session: Session,
    today: date,
    cycle_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
) -> list[RequestState]:
    """Every request of a department's cycle (or to one organisation, or of one department in
    every year) with its status on `today`."""
    query = select(ReportRequest).order_by(col(ReportRequest.due_on), col(ReportRequest.unique_key))
    if department_id is not None:
        query = query.where(ReportRequest.department_id == department_id)
    if cycle_id is not None:
        query = query.where(ReportRequest.cycle_id == cycle_id)
    if organization_id is not None:
        query = query.where(ReportRequest.organization_id == organization_id)
    states = []
    for request in session.exec(query):
        first = first_submission(session=session, request_id=request.id)
        status = status_of(request, first, today=today)
        until = first.submitted_on if first is not None else today
        states.append(
            RequestState(
                request=request,
                status=status,
                submitted_on=first.submitted_on if first is not None else None,
                days_late=max(0, (until - request.due_on).days),
            )
        )
    return states


# ---------------------------------------------------------------------------------------------
# Opening requests and the mail that chases them (the department's tick)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportReminders:
    """When a request is chased: days before the due date to remind the member's curator, and
    days overdue to tell the member's director, then the department's head."""

    remind_days_before: int = 3
    escalate_to_director_after: int = 1
    escalate_to_department_after: int = 7


@dataclass(frozen=True)
class Addressee:
    role: str  # director, curator (of the member) or department (the department's head)
    name: str
    email: str


@dataclass(frozen=True)
class RequestMail:
    """One keyed message the tick queues once (nastavnik.tick.MailBatch)."""

    key: str
    to: Addressee
    template: str
    context: dict[str, object]


def request_key(*, item: PlanItem, organization: Organization) -> str:
    """The request's unique key: the department's plan row and the member's code."""
    return f"report:{item.id}:{organization.code}"


def _department_of(session: Session, item: PlanItem) -> tuple[Cycle, Organization] | None:
    cycle = session.get(Cycle, item.cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {item.cycle_id} не найден")
    department = session.get(Organization, cycle.organization_id)
    if department is None or department.kind != OrganisationKind.department:
        return None
    return cycle, department


def is_open(item: PlanItem, *, today: date) -> bool:
    """Whether a reports item asks its members now: dated, its window opened, not closed."""
    return (
        item.completion_kind == CompletionKind.reports
        and item.completion_report is not None
        and item.status not in CLOSED_STATUSES
        and item.planned_start is not None
        and item.planned_end is not None
        and item.planned_start <= today
    )


def open_requests(*, session: Session, item: PlanItem, today: date) -> list[ReportRequest]:
    """One request per member organisation for a department's reports item whose window has
    opened, due on the item's planned end; returns those opened now (none on a second call)."""
    if not is_open(item, today=today):
        return []
    found = _department_of(session, item)
    if found is None:
        return []
    cycle, department = found
    assert item.planned_end is not None and item.completion_report is not None
    opened = []
    for member in members(session=session, department_id=department.id):
        key = request_key(item=item, organization=member)
        if session.exec(select(ReportRequest.id).where(ReportRequest.unique_key == key)).first():
            continue
        request = ReportRequest(
            unique_key=key,
            department_id=department.id,
            cycle_id=cycle.id,
            plan_item_id=item.id,
            organization_id=member.id,
            kind=ReportKind(item.completion_report),
            title=item.title,
            school_year=cycle.school_year,
            requested_on=today,
            due_on=item.planned_end,
        )
        session.add(request)
        opened.append(request)
    session.flush()
    for request in opened:
        repository.record_audit(
            session=session,
            actor="tick",
            action="report.requested",
            cycle_id=cycle.id,
            entity=f"reportrequest:{request.id}",
            details={"key": request.unique_key, "due": request.due_on.isoformat()},
            event_key=f"report-requested:{request.unique_key}",
        )
    return opened


def mail_due(
    *, session: Session, item: PlanItem, today: date, reminders: ReportReminders
) -> list[RequestMail]:
    """Every message due today for the item's requests, each keyed by the request, its due
    date and the kind (the caller queues each key once): the request itself to the member's
    director and curator; «before» and «due» reminders to the curator (not on the day the
    request went out); «overdue» to the member's director; and one message to the
    department's head naming the members still missing."""
    found = _department_of(session, item)
    if found is None:
        return []
    cycle, department = found
    requests = session.exec(
        select(ReportRequest)
        .where(ReportRequest.plan_item_id == item.id)
        .order_by(col(ReportRequest.unique_key))
    ).all()
    queued: list[RequestMail] = []
    missing: list[tuple[Organization, ReportRequest]] = []
    for request in requests:
        if first_submission(session=session, request_id=request.id) is not None:
            continue
        member = session.get(Organization, request.organization_id)
        assert member is not None
        director = Addressee("director", member.director_name, member.director_email)
        curator = Addressee("curator", member.curator_name, member.curator_email)
        due = request.due_on
        context: dict[str, object] = {
            "department": department,
            "organization": member,
            "request": request,
            "report_ru": REPORT_RU[ReportKind(request.kind)],
            "due": due,
            "days_overdue": max((today - due).days, 0),
        }
        prefix = f"{request.unique_key}:{due.isoformat()}"
        for person in (director, curator):
            queued.append(
                RequestMail(f"{prefix}:request:{person.role}", person, "report_request", context)
            )
        kind = _reminder_kind(request, today=today, reminders=reminders)
        if kind is not None:
            to = director if kind == "overdue" else curator
            queued.append(
                RequestMail(
                    f"{prefix}:{kind}:{to.role}",
                    to,
                    "report_request_reminder",
                    {**context, "kind": kind},
                )
            )
        if today > due and (today - due).days >= reminders.escalate_to_department_after:
            missing.append((member, request))
    if missing:
        due = missing[0][1].due_on
        head = Addressee("department", department.director_name, department.director_email)
        queued.append(
            RequestMail(
                f"report:{item.id}:{due.isoformat()}:escalate-department",
                head,
                "report_requests_escalation",
                {
                    "department": department,
                    "cycle": cycle,
                    "item": item,
                    "report_ru": REPORT_RU[ReportKind(item.completion_report or "final")],
                    "due": due,
                    "days_overdue": (today - due).days,
                    "missing": [member for member, _ in missing],
                },
            )
        )
    return queued


def _reminder_kind(
    request: ReportRequest, *, today: date, reminders: ReportReminders
) -> str | None:
    """«before» within the reminder window, «due» on the day, «overdue» from the day the
    member's director is told; nothing on the day the request itself went out."""
    due = request.due_on
    if today > due:
        overdue = (today - due).days >= reminders.escalate_to_director_after
        return "overdue" if overdue else None
    if today == request.requested_on:
        return None
    if today == due:
        return "due"
    if due - timedelta(days=reminders.remind_days_before) <= today:
        return "before"
    return None
