"""The approver's e-mail with the current code and one-click link, composed in one place."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from models import ApprovalRequest, Cycle, Document, Organization, OutboxMessage
from nastavnik import access, approvals, mail, policy
from nastavnik.settings import Settings
from nastavnik.stages import document_links, mail_attachments


def approval_url(*, base_url: str, request_id: uuid.UUID, code: str) -> str:
    """The one-click link the director opens."""
    return f"{base_url.rstrip('/')}/approvals/{request_id}?code={code}"


def approver_of(*, org: Organization, role: str) -> tuple[str, str]:
    """Name and e-mail of whoever decides for this role in the organisation."""
    if role == "director":
        return org.director_name, org.director_email
    if role == "curator":
        return org.curator_name, org.curator_email
    raise ValueError(f"unknown approver role {role!r}")


def idempotency_key(*, request: ApprovalRequest, reminder_round: int | None = None) -> str:
    """One logical message per code generation: the first mail, then one per reissue; and one
    per reminder round (the same link again)."""
    key = f"approval-request:{request.id}"
    if request.code_generation:
        key += f":reissue-{request.code_generation}"
    return key if reminder_round is None else f"{key}:reminder-{reminder_round}"


def enqueue_request_mail(
    *,
    session: Session,
    settings: Settings,
    request: ApprovalRequest,
    reminder: tuple[int, int] | None = None,
) -> OutboxMessage:
    """Queue the approver's e-mail with the request's current code (once per generation);
    with ``reminder`` (round, days waited) the same link again, once per round."""
    cycle = session.get(Cycle, request.cycle_id)
    assert cycle is not None
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    code = approvals.code_for_request(secret=settings.approval_secret(), request=request)
    document_ids = [uuid.UUID(d) for d in request.document_ids]
    documents = [d for d in (session.get(Document, i) for i in document_ids) if d is not None]
    return mail.enqueue_templated(
        session=session,
        idempotency_key=idempotency_key(
            request=request, reminder_round=reminder[0] if reminder else None
        ),
        to_addr=request.approver_email,
        template="approval_request",
        context={
            "organization": org,
            "cycle": cycle,
            "request_title": request.title,
            "summary": request.summary,
            "approver_name": request.approver_name,
            "code": code,
            # Signed links that expire with the code: the approver needs no account to read them.
            "documents": [
                {
                    **link,
                    "url": access.signed_document_url(
                        base_url=settings.web_base_url,
                        secret=settings.approval_secret(),
                        document_id=document.id,
                        expires_at=request.expires_at,
                    ),
                }
                for link, document in zip(
                    document_links(base_url=settings.web_base_url, documents=documents),
                    documents,
                    strict=True,
                )
            ],
            "approve_url": approval_url(
                base_url=settings.web_base_url, request_id=request.id, code=code
            ),
            "expires_at": request.expires_at,
            "reissued": request.code_generation > 0 and reminder is None,
            "waiting_days": reminder[1] if reminder else 0,
            "linked_only": len(documents) - len(mail_attachments(documents)),
        },
        document_ids=mail_attachments(documents),
        flow_run_id=request.flow_run_id,
    )


def open_request_with_mail(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    stage: str,
    approval_key: str,
    flow_run_id: uuid.UUID,
    title: str,
    summary: str,
    document_ids: list[uuid.UUID],
    now: datetime,
    role: str = "director",
    accepts_exceptions: bool = False,
    batch_run_id: uuid.UUID | None = None,
) -> tuple[ApprovalRequest, OutboxMessage]:
    """Open the run's request for the organisation's approver and queue their e-mail (both once)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} does not exist")
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    approver_name, approver_email = approver_of(org=org, role=role)
    request = approvals.open_request(
        session=session,
        cycle_id=cycle.id,
        stage=stage,
        approval_key=approval_key,
        flow_run_id=flow_run_id,
        title=title,
        summary=summary,
        approver_name=approver_name,
        approver_email=approver_email,
        document_ids=document_ids,
        role=role,
        accepts_exceptions=accepts_exceptions,
        batch_run_id=batch_run_id,
        now=now,
        ttl=approval_ttl(session=session, settings=settings, organization_id=org.id),
    )
    return request, enqueue_request_mail(session=session, settings=settings, request=request)


def approval_ttl(*, session: Session, settings: Settings, organization_id: uuid.UUID) -> timedelta:
    """How long the organisation's approval codes are valid (its policy, else the setting)."""
    return policy.get_policy(session=session, organization_id=organization_id).approval_ttl(
        default_days=settings.approval_ttl_days
    )


def reissue_with_mail(
    *, session: Session, settings: Settings, request_id: uuid.UUID, actor: str, now: datetime
) -> tuple[ApprovalRequest, OutboxMessage]:
    """Give a pending request a new code (earlier ones stop working) and queue the new e-mail."""
    pending = session.get(ApprovalRequest, request_id)
    cycle = session.get(Cycle, pending.cycle_id) if pending is not None else None
    ttl = (
        approval_ttl(session=session, settings=settings, organization_id=cycle.organization_id)
        if cycle is not None
        else timedelta(days=settings.approval_ttl_days)  # reissue_code refuses the unknown id
    )
    request = approvals.reissue_code(
        session=session, request_id=request_id, actor=actor, now=now, ttl=ttl
    )
    return request, enqueue_request_mail(session=session, settings=settings, request=request)
