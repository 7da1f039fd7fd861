"""What a crash or a double click leaves behind, in the core: stale mail claims, code claims."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ApprovalDecision, ApprovalRequest, AuditEvent, Decision, OutboxMessage
from nastavnik import approvals, mail
from nastavnik.settings import Settings

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _queued(engine: Engine, run_id: uuid.UUID, key: str, claimed_until: datetime) -> uuid.UUID:
    with Session(engine) as session:
        message = mail.enqueue_message(
            session=session,
            idempotency_key=key,
            to_addr="director@school7.example",
            subject="Требуется утверждение",
            body_text="…",
            flow_run_id=run_id,
        )
        message.attempts, message.claimed_until = 1, claimed_until
        session.add(message)
        session.commit()
        return message.id


def test_claims_a_crashed_run_held_are_released_and_later_ones_kept(
    engine: Engine, settings: Settings
) -> None:
    run_id, crashed_at = uuid.uuid4(), T0
    lease = timedelta(seconds=max(60.0, 10 * settings.smtp_timeout_seconds))
    # Claimed by the process that died (its lease started before the crash) ...
    stale = _queued(engine, run_id, "a", T0 + lease / 2)
    # ... and by a live sender after the crash (the retry flow, say), which must keep it.
    live = _queued(engine, run_id, "b", T0 + (mail.CHUNK + 2) * lease)
    other_run = _queued(engine, uuid.uuid4(), "c", T0)

    released = mail.release_claims_of_ended_run(
        engine=engine, settings=settings, flow_run_id=run_id, ended_at=crashed_at
    )

    assert released == 1
    with Session(engine) as session:
        claims = {i: session.get(OutboxMessage, i).claimed_until for i in (stale, live, other_run)}  # type: ignore[union-attr]
    assert claims[stale] is None
    assert claims[live] is not None and claims[other_run] is not None


def _request(engine: Engine, cycle_id: uuid.UUID) -> ApprovalRequest:
    with Session(engine, expire_on_commit=False) as session:
        request = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key="registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры",
            summary="",
            approver_name="Директор",
            approver_email="d@example.ru",
            document_ids=[],
            now=T0,
            ttl=timedelta(days=14),
        )
        session.commit()
        return request


def _submit(engine: Engine, request: ApprovalRequest, code: str) -> bool:
    with Session(engine) as session:
        outcome = approvals.submit_decision(
            session=session,
            secret=b"k" * 32,
            request_id=request.id,
            decision=Decision.approve,
            comment="",
            approver_name="Директор",
            code=code,
            channel="web",
            now=T0,
        )
        session.commit()
        return outcome.accepted


def test_of_two_simultaneous_clicks_one_decides(engine: Engine, cycle_ids: tuple) -> None:
    request = _request(engine, cycle_ids[1])
    code = approvals.code_for_request(secret=b"k" * 32, request=request)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def click() -> None:
        barrier.wait(timeout=10)
        results.append(_submit(engine, request, code))

    if engine.dialect.name == "sqlite":
        # One writer at a time (the web app's decisions share its event loop): one after the other.
        barrier = threading.Barrier(1)
        click()
        click()
    else:
        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert sorted(results) == [False, True]
    with Session(engine) as session:
        actions = sorted(
            e.action
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.entity == f"approval:{request.id}")
            )
        )
        decisions = session.exec(
            select(ApprovalDecision).where(ApprovalDecision.request_id == request.id)
        ).all()
    assert actions == ["approval.approve", "approval.refused", "approval.requested"]
    assert len(decisions) == 1 and decisions[0].pause_key == "submitted-web"
    # A third click later is refused too: the decision stands, recorded once.
    assert not _submit(engine, request, code)
