"""Approval requests, signed one-time approval codes and recorded decisions (no Prefect)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import ApprovalDecision, ApprovalRequest, ApprovalStatus, Decision
from nastavnik import repository

DECISION_STATUS = {
    Decision.approve: ApprovalStatus.approved,
    Decision.reject: ApprovalStatus.rejected,
    Decision.request_changes: ApprovalStatus.changes_requested,
}
DECISION_LABEL_RU = {
    Decision.approve: "утверждено",
    Decision.reject: "отклонено",
    Decision.request_changes: "направлено на доработку",
}


class CodeProblem(StrEnum):
    """Why an approval code was refused."""

    malformed = "malformed"
    forged = "forged"
    expired = "expired"
    replayed = "replayed"


CODE_PROBLEM_RU = {
    CodeProblem.malformed: "код подтверждения имеет неверный формат",
    CodeProblem.forged: "код подтверждения не подходит к этому запросу",
    CodeProblem.expired: "срок действия кода подтверждения истёк",
    CodeProblem.replayed: "код подтверждения уже был использован",
}


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _signature(
    *, secret: bytes, flow_run_id: uuid.UUID, approval_key: str, role: str, expires: int
) -> str:
    message = f"{flow_run_id}|{approval_key}|{role}|{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode()


def make_code(
    *, secret: bytes, flow_run_id: uuid.UUID, approval_key: str, role: str, expires_at: datetime
) -> str:
    """An approval code: its expiry (unix seconds) and an HMAC over run, key, role and expiry."""
    expires = int(_as_utc(expires_at).timestamp())
    signature = _signature(
        secret=secret,
        flow_run_id=flow_run_id,
        approval_key=approval_key,
        role=role,
        expires=expires,
    )
    return f"{expires}-{signature}"


def code_digest(code: str) -> str:
    """What the database keeps of a used code: its SHA-256, never the code itself."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def code_for_request(*, secret: bytes, request: ApprovalRequest) -> str:
    """The code that answers this request (deterministic, so it is never stored)."""
    return make_code(
        secret=secret,
        flow_run_id=request.flow_run_id,
        approval_key=request.approval_key,
        role=request.role,
        expires_at=request.expires_at,
    )


def check_code(
    *, session: Session, secret: bytes, request: ApprovalRequest, code: str, now: datetime
) -> CodeProblem | None:
    """Why this code cannot decide this request, or None when it can."""
    code = code.strip()
    expires_text, _, signature = code.partition("-")
    if not expires_text.isdigit() or len(signature) != 24:
        return CodeProblem.malformed
    used = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.code_digest == code_digest(code))
    ).first()
    if used is not None:
        return CodeProblem.replayed
    expected = _signature(
        secret=secret,
        flow_run_id=request.flow_run_id,
        approval_key=request.approval_key,
        role=request.role,
        expires=int(expires_text),
    )
    if not hmac.compare_digest(expected, signature.upper()):
        return CodeProblem.forged
    if int(expires_text) <= int(_as_utc(now).timestamp()):
        return CodeProblem.expired
    if request.status != ApprovalStatus.pending:
        return CodeProblem.replayed
    return None


def open_request(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    stage: str,
    approval_key: str,
    flow_run_id: uuid.UUID,
    title: str,
    summary: str,
    approver_name: str,
    approver_email: str,
    document_ids: list[uuid.UUID],
    now: datetime,
    ttl: timedelta,
    role: str = "director",
    accepts_exceptions: bool = False,
) -> ApprovalRequest:
    """The run's request under this key, created (and audited) on first call only."""
    existing = session.exec(
        select(ApprovalRequest).where(
            ApprovalRequest.flow_run_id == flow_run_id, ApprovalRequest.approval_key == approval_key
        )
    ).first()
    if existing is not None:
        return existing
    request = ApprovalRequest(
        cycle_id=cycle_id,
        stage=stage,
        approval_key=approval_key,
        role=role,
        flow_run_id=flow_run_id,
        title=title,
        summary=summary,
        approver_name=approver_name,
        approver_email=approver_email,
        document_ids=[str(d) for d in document_ids],
        requested_at=now,
        expires_at=now + ttl,
        accepts_exceptions=accepts_exceptions,
    )
    session.add(request)
    session.flush()
    repository.record_audit(
        session=session,
        actor="system",
        action="approval.requested",
        cycle_id=cycle_id,
        flow_run_id=flow_run_id,
        entity=f"approval:{request.id}",
        at=now,
        details={"title": title, "approver": approver_name, "documents": request.document_ids},
        event_key=f"approval.requested:{request.id}",
    )
    return request


@dataclass(frozen=True)
class DecisionOutcome:
    """What became of one submitted decision."""

    accepted: bool
    request_id: uuid.UUID
    decision: Decision
    comment: str
    approver_name: str
    problem: CodeProblem | None = None

    @property
    def message_ru(self) -> str:
        if self.accepted:
            return f"Решение принято: {DECISION_LABEL_RU[self.decision]}"
        assert self.problem is not None
        return f"Решение не принято: {CODE_PROBLEM_RU[self.problem]}"


def record_decision(
    *,
    session: Session,
    secret: bytes,
    request_id: uuid.UUID,
    decision: Decision,
    comment: str,
    approver_name: str,
    code: str,
    pause_key: str,
    channel: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> DecisionOutcome:
    """Check the code and record the decision; refusals are audited and change nothing else.

    Re-running the same pause (a resumed flow starts again from the top) returns the
    decision already recorded for it instead of calling the code a replay.
    """
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise LookupError(f"approval request {request_id} does not exist")
    recorded = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
    ).first()
    if recorded is not None and recorded.pause_key == pause_key:
        return DecisionOutcome(
            True, request_id, recorded.decision, recorded.comment, recorded.approver_name
        )
    problem = check_code(session=session, secret=secret, request=request, code=code, now=now)
    if problem is None:
        try:
            with session.begin_nested():
                session.add(
                    ApprovalDecision(
                        request_id=request_id,
                        decision=decision,
                        comment=comment,
                        approver_name=approver_name,
                        code_digest=code_digest(code),
                        pause_key=pause_key,
                        details=details or {},
                        decided_at=now,
                    )
                )
                request.status = DECISION_STATUS[decision]
                request.decided_at = now
                session.add(request)
        except IntegrityError:
            problem = CodeProblem.replayed
    if problem is not None:
        repository.record_audit(
            session=session,
            actor=approver_name or "unknown",
            action="approval.refused",
            cycle_id=request.cycle_id,
            flow_run_id=request.flow_run_id,
            entity=f"approval:{request_id}",
            at=now,
            details={
                "problem": problem.value,
                "channel": channel,
                "pause_key": pause_key,
                "decision": decision.value,
            },
            event_key=f"approval.refused:{request_id}:{pause_key}",
        )
        return DecisionOutcome(False, request_id, decision, comment, approver_name, problem)
    repository.record_audit(
        session=session,
        actor=approver_name,
        action=f"approval.{decision.value}",
        cycle_id=request.cycle_id,
        flow_run_id=request.flow_run_id,
        entity=f"approval:{request_id}",
        at=now,
        details={
            "comment": comment,
            "channel": channel,
            "pause_key": pause_key,
            "documents": request.document_ids,
        },
        event_key=f"approval.decided:{request_id}",
    )
    return DecisionOutcome(True, request_id, decision, comment, approver_name)


def precheck_submission(
    *,
    session: Session,
    secret: bytes,
    request_id: uuid.UUID,
    code: str,
    channel: str,
    actor: str,
    now: datetime,
) -> CodeProblem | None:
    """Check a code before resuming a run (web link, CLI); a refusal is audited."""
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise LookupError(f"approval request {request_id} does not exist")
    problem = check_code(session=session, secret=secret, request=request, code=code, now=now)
    if problem is not None:
        repository.record_audit(
            session=session,
            actor=actor or "unknown",
            action="approval.refused",
            cycle_id=request.cycle_id,
            flow_run_id=request.flow_run_id,
            entity=f"approval:{request_id}",
            at=now,
            details={"problem": problem.value, "channel": channel},
        )
    return problem


def list_pending(*, session: Session) -> list[ApprovalRequest]:
    """Requests still waiting for a decision, oldest first."""
    return list(
        session.exec(
            select(ApprovalRequest)
            .where(ApprovalRequest.status == ApprovalStatus.pending)
            .order_by(ApprovalRequest.requested_at)  # type: ignore[arg-type]
        )
    )


def find_request(*, session: Session, prefix: str) -> ApprovalRequest:
    """The request whose id starts with ``prefix`` (CLI users type short ids)."""
    matches = [r for r in session.exec(select(ApprovalRequest)) if str(r.id).startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} approval requests match {prefix!r}")
    return matches[0]


def now_utc() -> datetime:
    """The real clock; tests pass their own ``now`` instead."""
    return datetime.now(UTC)
