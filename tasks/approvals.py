"""Tasks around approval requests: open (with the director's e-mail) and record decisions."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy.exc import OperationalError

from models import ApprovalRequest, Decision
from nastavnik import approval_mail, approvals
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.mail import attempt_delivery


@run_cached_task(
    name="open-approval-request",
    retries=2,
    retry_delay_seconds=[1, 5],
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
    batch_run_id: str | None = None,
) -> dict[str, str]:
    """Create the approval request and e-mail the approver (one attempt); returns their ids."""
    with session_scope() as session:
        request, message = approval_mail.open_request_with_mail(
            session=session,
            settings=get_settings(),
            cycle_id=uuid.UUID(cycle_id),
            stage=stage,
            approval_key=approval_key,
            flow_run_id=uuid.UUID(flow_run_id),
            title=title,
            summary=summary,
            document_ids=[uuid.UUID(d) for d in document_ids],
            role=role,
            accepts_exceptions=accepts_exceptions,
            batch_run_id=uuid.UUID(batch_run_id) if batch_run_id else None,
            now=approvals.now_utc(),
        )
        opened = {"request_id": str(request.id), "message_id": str(message.id)}
    # After the commit: the mail goes out for a request that exists (the outbox sends it once).
    attempt_delivery([opened["message_id"]])
    return opened


# Kept for the run: a run resumed at a later pause gets back the same input for each earlier
# pause key, and the decision recorded for it then.
@run_cached_task(name="record-decision", retries=2, retry_delay_seconds=[1, 5])
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
        decided_on = (
            approvals.decision_day(session=session, request_id=uuid.UUID(request_id))
            if outcome.accepted
            else None
        )
    return {
        "accepted": outcome.accepted,
        "decided_on": decided_on.isoformat() if decided_on else None,
        "decision": outcome.decision.value,
        "comment": outcome.comment,
        "approver_name": outcome.approver_name,
        "problem": outcome.problem.value if outcome.problem else None,
        "message": outcome.message_ru,
    }


# How often taking a recorded decision is tried when SQLite refuses its write (see below).
TAKE_ATTEMPTS = 4


def decision_on_record(request_id: str) -> dict[str, Any] | None:
    """The decision already recorded on the request (from the web page or the CLI), or None;
    found, it is audited as taken by the run (once), so nothing wakes the run for it again.

    Not a task: a waiting run reads it before each pause and on every replay, and it must be
    read afresh each time (a cached answer would hide the decision that just came in).
    """
    for attempt in range(1, TAKE_ATTEMPTS + 1):
        try:
            return _take_recorded_decision(request_id)
        except OperationalError as error:
            # SQLite: this transaction reads, then writes the audit event; another process's
            # commit in between refuses the write at once ("database is locked", the busy
            # timeout does not apply). A fresh transaction reads the new snapshot.
            if "locked" not in str(error) or attempt == TAKE_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _take_recorded_decision(request_id: str) -> dict[str, Any] | None:
    with session_scope() as session:
        decided = approvals.recorded_decision(session=session, request_id=uuid.UUID(request_id))
        if decided is None:
            return None
        request = session.get(ApprovalRequest, uuid.UUID(request_id))
        assert request is not None
        approvals.mark_taken(session=session, request=request, now=approvals.now_utc())
        return {
            "decision": decided.decision.value,
            "comment": decided.comment,
            "approver_name": decided.approver_name,
            "details": dict(decided.details or {}),
            "decided_on": approvals.local_day(decided.decided_at).isoformat(),
        }
