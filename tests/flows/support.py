"""Driving deployed stage runs in tests: start, wait for a pause, answer it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import select

from deployments.prefect_api import read_run, resume_run, start_deployment
from models import ApprovalRequest, Decision, Document, OutboxMessage
from nastavnik import approvals, stages
from nastavnik.db import session_scope
from tests.flows.conftest import ORG, SECRET


def start(deployment: str, **params: Any) -> uuid.UUID:
    """Create a run of the deployment for the test organisation's 2026/2027 cycle."""
    params = {"organization_code": ORG["code"], "school_year": "2026/2027", **params}
    return asyncio.run(start_deployment(deployment, {"params": params}))


async def await_state(run_id: uuid.UUID, *, pause: str | None = None, timeout: float = 180) -> str:
    """Wait until the run is suspended at this pause key (or has finished); return the state."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = (await read_run(run_id)).state
        assert state is not None
        if state.is_final():
            return state.name
        if (
            pause is not None
            and state.name == "Suspended"
            and (state.state_details.pause_key == pause)
        ):
            return state.name
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"run {run_id} is {state.name} ({state.state_details.pause_key})")
        await asyncio.sleep(0.3)


def wait(run_id: uuid.UUID, pause: str | None = None) -> str:
    """Blocking :func:`await_state`."""
    return asyncio.run(await_state(run_id, pause=pause))


def request(run_id: uuid.UUID, approval_key: str) -> ApprovalRequest:
    """The run's approval request under this key."""
    with session_scope() as session:
        return session.exec(
            select(ApprovalRequest).where(
                ApprovalRequest.flow_run_id == run_id,
                ApprovalRequest.approval_key == approval_key,
            )
        ).one()


def code(run_id: uuid.UUID, approval_key: str) -> str:
    """The valid code of that request, as the approver's e-mail carries it."""
    return approvals.code_for_request(secret=SECRET.encode(), request=request(run_id, approval_key))


def answer(
    run_id: uuid.UUID,
    approval_key: str,
    decision: str = "approve",
    comment: str = "",
    **extra: Any,
) -> None:
    """Resume the run with a decision carrying the request's valid code."""
    run_input = {
        "decision": decision,
        "approval_code": code(run_id, approval_key),
        "approver_name": ORG["director_name"],
        "comment": comment,
        **extra,
    }
    asyncio.run(resume_run(run_id, run_input))


def documents(run_id: uuid.UUID) -> list[Document]:
    """Documents the run made."""
    with session_scope() as session:
        return list(session.exec(select(Document).where(Document.flow_run_id == run_id)))


def outbox(run_id: uuid.UUID) -> list[OutboxMessage]:
    """E-mails the run queued."""
    with session_scope() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.flow_run_id == run_id)))


def approved_earlier(
    cycle_id: uuid.UUID, *, stage: str, approval_key: str, document_ids: list[str]
) -> None:
    """An earlier stage's decision, as the director made it: request, approval, its ending."""
    now = approvals.now_utc()
    with session_scope() as session:
        opened = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage=stage,
            approval_key=approval_key,
            flow_run_id=uuid.uuid4(),
            title=approval_key,
            summary="",
            approver_name=ORG["director_name"],
            approver_email=ORG["director_email"],
            document_ids=[uuid.UUID(d) for d in document_ids],
            now=now,
            ttl=timedelta(days=14),
        )
        valid_code = approvals.code_for_request(secret=SECRET.encode(), request=opened)
        outcome = approvals.record_decision(
            session=session,
            secret=SECRET.encode(),
            request_id=opened.id,
            decision=Decision.approve,
            comment="",
            approver_name=ORG["director_name"],
            code=valid_code,
            pause_key=f"{approval_key}-1",
            channel="test",
            now=now,
        )
        assert outcome.accepted, outcome.message_ru
        stages.conclude_decision(
            session=session, request_id=opened.id, base_url="http://approvals.test"
        )


def state_message(run_id: uuid.UUID) -> str:
    """The message of the run's current state (a failed run's error)."""
    state = asyncio.run(read_run(run_id)).state
    assert state is not None
    return state.message or ""


def artifacts(run_id: uuid.UUID) -> list[Any]:
    """Every artifact of the run, every version of keyed ones included."""

    async def read() -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )

    return asyncio.run(read())
