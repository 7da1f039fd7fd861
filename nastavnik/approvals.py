"""Approval requests, signed one-time approval codes and recorded decisions (no Prefect)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from models import ApprovalDecision, ApprovalRequest, ApprovalStatus, AuditEvent, Decision
from nastavnik import repository
from nastavnik.clock import process_clock
from nastavnik.settings import get_settings

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
    superseded = "superseded"


CODE_PROBLEM_RU = {
    CodeProblem.malformed: "код подтверждения имеет неверный формат",
    CodeProblem.forged: "код подтверждения не подходит к этому запросу",
    CodeProblem.expired: "срок действия кода подтверждения истёк",
    CodeProblem.replayed: "код подтверждения уже был использован",
    CodeProblem.superseded: (
        "код подтверждения заменён новым: откройте ссылку из последнего письма"
    ),
}


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _audit_request(
    *,
    session: Session,
    request: ApprovalRequest,
    actor: str,
    action: str,
    at: datetime,
    details: dict[str, Any],
    event_key: str | None = None,
) -> None:
    """An audit event about the request, tied to its cycle and run."""
    repository.record_audit(
        session=session,
        actor=actor,
        action=action,
        cycle_id=request.cycle_id,
        flow_run_id=request.flow_run_id,
        entity=f"approval:{request.id}",
        at=at,
        details=details,
        event_key=event_key,
    )


def _signature(
    *,
    secret: bytes,
    flow_run_id: uuid.UUID,
    approval_key: str,
    role: str,
    expires: int,
    generation: int = 0,
) -> str:
    message = f"{flow_run_id}|{approval_key}|{role}|{expires}"
    if generation:
        # Generation 0 is signed as before generations existed, so mailed codes stay valid.
        message += f"|g{generation}"
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode()


def _expires(moment: datetime) -> int:
    return int(_as_utc(moment).timestamp())


def make_code(
    *,
    secret: bytes,
    flow_run_id: uuid.UUID,
    approval_key: str,
    role: str,
    expires_at: datetime,
    generation: int = 0,
) -> str:
    """An approval code: its expiry (unix seconds) and an HMAC over run, key, role, expiry and
    the request's code generation."""
    expires = _expires(expires_at)
    signature = _signature(
        secret=secret,
        flow_run_id=flow_run_id,
        approval_key=approval_key,
        role=role,
        expires=expires,
        generation=generation,
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
        generation=request.code_generation,
    )


def _signed_by_earlier_generation(
    *, secret: bytes, request: ApprovalRequest, expires: int, signature: str
) -> bool:
    return any(
        hmac.compare_digest(
            _signature(
                secret=secret,
                flow_run_id=request.flow_run_id,
                approval_key=request.approval_key,
                role=request.role,
                expires=expires,
                generation=generation,
            ),
            signature,
        )
        for generation in range(request.code_generation)
    )


def check_code(
    *, session: Session, secret: bytes, request: ApprovalRequest, code: str, now: datetime
) -> CodeProblem | None:
    """Why this code cannot decide this request, or None when it can.

    Only the request's current code is valid: signed for the request's current code
    generation and carrying the expiry stored on the request. A reissue (next generation,
    later expiry) makes every earlier code fail as superseded, whatever expiry it carries;
    expiry is judged by the request, not only by the code.
    """
    code = code.strip()
    expires_text, _, signature = code.partition("-")
    signature = signature.upper()
    if not expires_text.isdigit() or len(signature) != 24:
        return CodeProblem.malformed
    used = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.code_digest == code_digest(code))
    ).first()
    if used is not None:
        return CodeProblem.replayed
    code_expires, request_expires = int(expires_text), _expires(request.expires_at)
    expected = _signature(
        secret=secret,
        flow_run_id=request.flow_run_id,
        approval_key=request.approval_key,
        role=request.role,
        expires=code_expires,
        generation=request.code_generation,
    )
    if not hmac.compare_digest(expected, signature):
        if _signed_by_earlier_generation(
            secret=secret, request=request, expires=code_expires, signature=signature
        ):
            return CodeProblem.superseded
        return CodeProblem.forged
    if min(code_expires, request_expires) <= int(_as_utc(now).timestamp()):
        return CodeProblem.expired
    if code_expires != request_expires:
        # Signed with our secret for this generation, yet never issued for this request.
        return CodeProblem.forged
    if request.status != ApprovalStatus.pending:
        return CodeProblem.replayed
    return None


def is_expired(*, request: ApprovalRequest, now: datetime) -> bool:
    """Whether the request's current code has run out (a reissue gives a new one)."""
    return _expires(request.expires_at) <= int(_as_utc(now).timestamp())


def reissue_code(
    *, session: Session, request_id: uuid.UUID, actor: str, now: datetime, ttl: timedelta
) -> ApprovalRequest:
    """Give a pending request a new code: the next generation and a later expiry; audited.

    Every earlier code is refused from then on (as superseded). Raises ValueError for a
    request that is already decided.
    """
    request = session.get(ApprovalRequest, request_id, with_for_update=True)
    if request is None:
        raise LookupError(f"approval request {request_id} does not exist")
    if request.status != ApprovalStatus.pending:
        raise ValueError(f"approval request {request_id} is already decided ({request.status})")
    previous_expires_at = _as_utc(request.expires_at)
    request.code_generation += 1
    request.expires_at = now + ttl
    session.add(request)
    session.flush()
    _audit_request(
        session=session,
        request=request,
        actor=actor or "unknown",
        action="approval.reissued",
        at=now,
        details={
            "generation": request.code_generation,
            "previous_expires_at": previous_expires_at.isoformat(),
            "expires_at": _as_utc(request.expires_at).isoformat(),
        },
        event_key=f"approval.reissued:{request.id}:{request.code_generation}",
    )
    return request


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
    batch_run_id: uuid.UUID | None = None,
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
        batch_run_id=batch_run_id,
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
    accept_replay: bool = True,
) -> DecisionOutcome:
    """Check the code and record the decision; refusals are audited and change nothing else.

    Re-running the same pause (a resumed flow starts again from the top) returns the
    decision already recorded for it instead of calling the code a replay; a submission from
    the web page or the CLI (``accept_replay`` False) never does: a second click is refused.
    """
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise LookupError(f"approval request {request_id} does not exist")
    recorded = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
    ).first()
    if accept_replay and recorded is not None and recorded.pause_key == pause_key:
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
        _audit_request(
            session=session,
            request=request,
            actor=approver_name or "unknown",
            action="approval.refused",
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
    _audit_request(
        session=session,
        request=request,
        actor=approver_name,
        action=f"approval.{decision.value}",
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


# The pause key recorded with a decision submitted on the web page or with the CLI.
SUBMITTED_PREFIX = "submitted-"


def submit_decision(
    *,
    session: Session,
    secret: bytes,
    request_id: uuid.UUID,
    decision: Decision,
    comment: str,
    approver_name: str,
    code: str,
    channel: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> DecisionOutcome:
    """Record a decision submitted on the web page or with the CLI, before its run is woken.

    The decision is the database's from this moment: the run takes it when it wakes, whenever
    that is (at once; or, when the Prefect server did not answer, at the next wake-up), and it
    is never lost with a failed resume. Of two clicks at once, one records it and the other is
    refused as a replay (the decision is unique per request), both audited.
    """
    return record_decision(
        session=session,
        secret=secret,
        request_id=request_id,
        decision=decision,
        comment=comment,
        approver_name=approver_name,
        code=code,
        pause_key=f"{SUBMITTED_PREFIX}{channel}",
        channel=channel,
        now=now,
        details=details,
        accept_replay=False,
    )


def recorded_decision(*, session: Session, request_id: uuid.UUID) -> ApprovalDecision | None:
    """The decision recorded on the request, by whichever channel, if there is one."""
    return session.exec(
        select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
    ).first()


# A batch run (flows/batch.py) waits for all its organisations' decisions under this pause key.
BATCH_PAUSE_PREFIX = "batch-"


def waits_for(pause_key: str | None, approval_key: str) -> bool:
    """Whether a run paused under ``pause_key`` may be waiting for this approval's decision:
    its own pause (``<approval_key>-<n>``) or a batch run's (which waits for several)."""
    key = pause_key or ""
    return key.startswith(BATCH_PAUSE_PREFIX) or key.rsplit("-", 1)[0] == approval_key


def _taken_key(request_id: uuid.UUID) -> str:
    return f"approval.taken:{request_id}"


def mark_taken(*, session: Session, request: ApprovalRequest, now: datetime) -> None:
    """Audit, once, that the request's run has taken its decision (and need not be woken)."""
    repository.record_audit(
        session=session,
        actor="system",
        action="approval.taken",
        cycle_id=request.cycle_id,
        flow_run_id=request.flow_run_id,
        entity=f"approval:{request.id}",
        at=now,
        event_key=_taken_key(request.id),
    )


def decisions_not_taken(
    *,
    session: Session,
    flow_run_ids: list[uuid.UUID] | None = None,
    cycle_id: uuid.UUID | None = None,
) -> list[tuple[ApprovalRequest, ApprovalDecision]]:
    """Requests decided on the web page or with the CLI whose run has not taken the decision
    yet (of these runs, or of this cycle): what a paused run is woken for."""
    # Only the page's and the CLI's (submit_decision): a decision typed into the Prefect UI's
    # form is recorded by the run itself, which takes it there and then.
    query = (
        select(ApprovalRequest, ApprovalDecision)
        .join(
            ApprovalDecision,
            ApprovalDecision.request_id == ApprovalRequest.id,  # type: ignore[arg-type]
        )
        .where(col(ApprovalDecision.pause_key).startswith(SUBMITTED_PREFIX))
    )
    if flow_run_ids is not None:
        query = query.where(
            or_(
                ApprovalRequest.flow_run_id.in_(flow_run_ids),  # type: ignore[attr-defined]
                ApprovalRequest.batch_run_id.in_(flow_run_ids),  # type: ignore[union-attr]
            )
        )
    if cycle_id is not None:
        query = query.where(ApprovalRequest.cycle_id == cycle_id)
    rows = session.exec(query).all()
    keys = [_taken_key(request.id) for request, _ in rows]
    taken = set(
        session.exec(select(AuditEvent.event_key).where(AuditEvent.event_key.in_(keys)))  # type: ignore[union-attr]
    )
    return [
        (request, decision) for request, decision in rows if _taken_key(request.id) not in taken
    ]


def wake_input(*, request: ApprovalRequest, decision: ApprovalDecision) -> dict[str, Any]:
    """The resume input that wakes a run for a decision already recorded: the decision as the
    run's form has it, without the code (used with the decision), which the run does not need."""
    run_input: dict[str, Any] = {
        "decision": decision.decision.value,
        "approval_code": "",
        "approver_name": decision.approver_name,
        "comment": decision.comment,
    }
    if request.accepts_exceptions:
        run_input["exceptions"] = list((decision.details or {}).get("exceptions", []))
    return run_input


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


def local_day(moment: datetime) -> date:
    """The organisations' calendar day of a stored moment (stored in UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(get_settings().timezone)).date()


def decision_day(*, session: Session, request_id: uuid.UUID) -> date | None:
    """The day the request was decided, as first recorded (a resumed run reads it again)."""
    decided = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
    ).first()
    return local_day(decided.decided_at) if decided else None


def now_utc() -> datetime:
    """The process clock's time (real, or simulated by the settings); tests pass their own."""
    return process_clock().now()
