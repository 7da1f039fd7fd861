"""A department's report requests to its member organisations and where each stands (no Prefect).

Seed ``roadmap_municipality_kedrovy.txt``: the department asks its organisations for the
informational report («Ноябрь 2021 г., далее - ежегодно или по запросу»), interim monitoring and
the final reports, each by a date. A request is submitted when a verified report for it is stored
(nastavnik.report_envelope); it is late when the sender's director approved it after the due date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlmodel import Session, col, select

from models import Organization, ReportRequest, ReportSubmission


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
) -> list[RequestState]:
    """Every request of a department's cycle (or to one organisation) with its status on `today`."""
    query = select(ReportRequest).order_by(col(ReportRequest.due_on), col(ReportRequest.unique_key))
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
