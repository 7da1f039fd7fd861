"""Tasks around approval requests: open (with the director's e-mail) and record decisions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from prefect import task

from models import Cycle, Decision, Document, Organization
from nastavnik import approvals, mail
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import WITHIN_RUN


def approval_url(*, base_url: str, request_id: uuid.UUID, code: str) -> str:
    """The one-click link the director opens."""
    return f"{base_url.rstrip('/')}/approvals/{request_id}?code={code}"


def document_links(*, base_url: str, documents: list[Document]) -> list[dict[str, str]]:
    """Title, number label and URL of each document, for e-mails and pages."""
    return [
        {"title": d.title, "label": d.label, "url": f"{base_url.rstrip('/')}/documents/{d.id}.pdf"}
        for d in documents
    ]


def approver_of(*, org: Organization, role: str) -> tuple[str, str]:
    """Name and e-mail of whoever decides for this role in the organisation."""
    if role == "director":
        return org.director_name, org.director_email
    if role == "curator":
        return org.curator_name, org.curator_email
    raise ValueError(f"unknown approver role {role!r}")


@task(
    name="open-approval-request",
    retries=2,
    retry_delay_seconds=[1, 5],
    cache_policy=WITHIN_RUN,
    persist_result=True,
)
def open_approval_request(
    *,
    cycle_id: str,
    stage: str,
    approval_key: str,
    flow_run_id: str,
    title: str,
    summary: str,
    document_ids: list[str],
    role: str = "director",
    accepts_exceptions: bool = False,
) -> dict[str, str]:
    """Create the approval request and queue the approver's e-mail; returns their ids."""
    settings = get_settings()
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        approver_name, approver_email = approver_of(org=org, role=role)
        request = approvals.open_request(
            session=session,
            cycle_id=cycle.id,
            stage=stage,
            approval_key=approval_key,
            flow_run_id=uuid.UUID(flow_run_id),
            title=title,
            summary=summary,
            approver_name=approver_name,
            approver_email=approver_email,
            document_ids=[uuid.UUID(d) for d in document_ids],
            role=role,
            accepts_exceptions=accepts_exceptions,
            now=approvals.now_utc(),
            ttl=timedelta(days=settings.approval_ttl_days),
        )
        code = approvals.code_for_request(secret=settings.approval_secret(), request=request)
        documents = [session.get(Document, uuid.UUID(d)) for d in request.document_ids]
        message = mail.enqueue_templated(
            session=session,
            idempotency_key=f"approval-request:{request.id}",
            to_addr=approver_email,
            template="approval_request",
            context={
                "organization": org,
                "cycle": cycle,
                "request_title": title,
                "summary": summary,
                "approver_name": approver_name,
                "code": code,
                "documents": document_links(
                    base_url=settings.web_base_url, documents=[d for d in documents if d]
                ),
                "approve_url": approval_url(
                    base_url=settings.web_base_url, request_id=request.id, code=code
                ),
                "expires_at": request.expires_at,
            },
            document_ids=[uuid.UUID(d) for d in request.document_ids],
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return {"request_id": str(request.id), "message_id": str(message.id)}


@task(name="record-decision", retries=2, retry_delay_seconds=[1, 5])
def record_decision(
    *,
    request_id: str,
    decision: str,
    comment: str,
    approver_name: str,
    code: str,
    pause_key: str,
    details: dict[str, Any] | None = None,
) -> dict[str, object]:
    """Check the submitted code and record the decision, or audit the refusal."""
    settings = get_settings()
    with session_scope() as session:
        outcome = approvals.record_decision(
            session=session,
            secret=settings.approval_secret(),
            request_id=uuid.UUID(request_id),
            decision=Decision(decision),
            comment=comment,
            approver_name=approver_name,
            code=code,
            pause_key=pause_key,
            channel="prefect",
            now=approvals.now_utc(),
            details=details,
        )
    return {
        "accepted": outcome.accepted,
        "decision": outcome.decision.value,
        "comment": outcome.comment,
        "approver_name": outcome.approver_name,
        "problem": outcome.problem.value if outcome.problem else None,
        "message": outcome.message_ru,
    }
