"""Crashed runs continued as the same run, by the tick and `nastavnik runs retry` (issue 11 §5)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Completed, Crashed, Running

from flows.recovery import (
    MAX_AUTOMATIC_CONTINUATIONS,
    NotRetryable,
    continue_crashed_runs,
    continue_run,
)

pytestmark = pytest.mark.flows


@flow(name="recovery-probe")
def probe() -> None:
    """A flow nobody runs: its runs only change state here."""


async def _run_in(states: list) -> uuid.UUID:
    async with get_client() as client:
        run = await client.create_flow_run(probe)
        for state in states:
            await client.set_flow_run_state(run.id, state, force=True)
        return run.id


async def _state(run_id: uuid.UUID) -> tuple[StateType, str]:
    async with get_client() as client:
        state = (await client.read_flow_run(run_id)).state
        assert state is not None
        return state.type, state.name


def test_only_crashed_runs_are_continued_and_a_few_times_at_most(flow_stack) -> None:
    crashed = asyncio.run(_run_in([Running(), Crashed()]))
    running = asyncio.run(_run_in([Running()]))
    completed = asyncio.run(_run_in([Running(), Completed()]))
    again_and_again = asyncio.run(
        _run_in([s for _ in range(MAX_AUTOMATIC_CONTINUATIONS + 1) for s in (Running(), Crashed())])
    )

    continued = asyncio.run(continue_crashed_runs([crashed, running, completed, again_and_again]))

    assert continued == [crashed]
    assert asyncio.run(_state(crashed)) == (StateType.SCHEDULED, "AwaitingRetry")
    assert asyncio.run(_state(running))[0] == StateType.RUNNING
    assert asyncio.run(_state(completed))[0] == StateType.COMPLETED
    # Crashed more often than the tick tries: left for the operator, who may still retry it.
    assert asyncio.run(_state(again_and_again))[0] == StateType.CRASHED
    asyncio.run(continue_run(again_and_again))
    assert asyncio.run(_state(again_and_again))[0] == StateType.SCHEDULED
    with pytest.raises(NotRetryable):
        asyncio.run(continue_run(running))
    assert asyncio.run(continue_crashed_runs([])) == []


def test_a_run_killed_between_its_suspension_and_its_inputs_schema_is_resumed(
    flow_stack,
) -> None:
    """Prefect sets a run Suspended, then saves the schema of the input it waits for: a process
    killed in between (its worker's machine lost) left a run that refused every decision
    («Run input schema not found»). The decision now completes the suspension and goes through."""
    from nastavnik import repository
    from nastavnik.db import session_scope
    from tests.conftest import FIXTURES
    from tests.flows import support
    from tests.flows.test_preparation_flow import PREP_ORG

    org = PREP_ORG | {
        "code": "school-2-recovery",
        "director_email": "director@recovery.example.ru",
        "curator_email": "curator@recovery.example.ru",  # not the preparation test's inbox
    }
    with session_scope() as session:
        repository.upsert_organization(session=session, **org)
    run_id = support.start(
        "preparation/preparation",
        organization_code=org["code"],
        roadmap_file=str(FIXTURES / "roadmaps" / "school2_small.yaml"),
        reference_date="2026-08-28",
    )
    assert support.wait(run_id, "preparation-orders-1") == "Suspended"

    async def forget_schema() -> None:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            keyset = run.state.state_details.run_input_keyset  # type: ignore[union-attr]
            await client.delete_flow_run_input(run_id, keyset["schema"])

    async def save_schema_again() -> None:
        # What a decision does when the run saved its schema in the same instant: no error.
        from deployments.prefect_api import _save_input_schema

        async with get_client() as client:
            await _save_input_schema(await client.read_flow_run(run_id), {"decision": "approve"})

    asyncio.run(save_schema_again())
    asyncio.run(forget_schema())
    support.answer(run_id, "preparation-orders")
    assert support.wait(run_id) == "Completed"


def test_a_waiting_run_marked_crashed_goes_back_to_waiting_for_its_decision(flow_stack) -> None:
    """Prefect's crash detection once marked a run Crashed that had suspended cleanly seconds
    after it started (the department demo): continuing it must not run it again (its input
    would be read as empty) but put it back to waiting, and the decision then completes it."""
    from nastavnik import repository
    from nastavnik.db import session_scope
    from tests.conftest import FIXTURES
    from tests.flows import support
    from tests.flows.test_preparation_flow import PREP_ORG

    org = PREP_ORG | {
        "code": "school-2-waiting",
        "director_email": "director@waiting.example.ru",
        "curator_email": "curator@waiting.example.ru",
    }
    with session_scope() as session:
        repository.upsert_organization(session=session, **org)
    run_id = support.start(
        "preparation/preparation",
        organization_code=org["code"],
        roadmap_file=str(FIXTURES / "roadmaps" / "school2_small.yaml"),
        reference_date="2026-08-28",
    )
    assert support.wait(run_id, "preparation-orders-1") == "Suspended"

    async def mark_crashed_then_continue() -> tuple[StateType, str]:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, Crashed(), force=True)
        await continue_run(run_id)
        return await _state(run_id)

    assert asyncio.run(mark_crashed_then_continue()) == (StateType.PAUSED, "Suspended")
    support.answer(run_id, "preparation-orders")
    assert support.wait(run_id) == "Completed"
