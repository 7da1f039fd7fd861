"""Runs whose process died, continued as the same run: by the daily tick, `nastavnik runs retry`
and the simulated year alike."""

from __future__ import annotations

import uuid

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.states import Scheduled

from flows.publishing import member_key, member_run_id
from nastavnik import mail
from nastavnik.db import get_engine
from nastavnik.settings import get_settings

# Runs a retry may set going again: their process died (Crashed) or the flow raised (Failed).
RETRYABLE = (StateType.CRASHED, StateType.FAILED)
# The tick continues a crashed run this many times; after that it waits for the operator.
MAX_AUTOMATIC_CONTINUATIONS = 3


class NotRetryable(RuntimeError):
    """The run is not crashed or failed, so there is nothing to retry."""


async def continue_run(flow_run_id: uuid.UUID) -> FlowRun:
    """Set a crashed or failed run Scheduled again; a worker or the runner starts it as the same
    run.

    Being the same run, its tasks cached before the crash come back Cached and the documents
    and e-mails keyed on the run id are found, not made again; the e-mails its dead process
    had claimed are released first, so the continued run sends them. Returns the run as it was.
    """
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        if run.state is None or run.state.type not in RETRYABLE:
            state = run.state.name if run.state else "no state"
            raise NotRetryable(f"flow run {flow_run_id} is {state}, not crashed or failed")
        history = sorted(await client.read_flow_run_states(flow_run_id), key=lambda s: s.timestamp)
        before = history[-2] if len(history) >= 2 else None
        if run.state.type == StateType.CRASHED and before is not None and before.is_paused():
            # The crash detection can mark a run that only waits for its decision (a run that
            # suspends seconds after it starts sends no more heartbeats, and the trigger may see
            # its heartbeat after its suspension): its process ended cleanly, so it goes back
            # to waiting, with the same pause and input keys, instead of running again.
            waiting = State(type=before.type, name=before.name, state_details=before.state_details)
            await client.set_flow_run_state(flow_run_id, waiting, force=True)
            return run
        for run_id in [flow_run_id, *batch_member_runs(run)]:
            mail.release_claims_of_ended_run(
                engine=get_engine(),
                settings=get_settings(),
                flow_run_id=run_id,
                ended_at=run.state.timestamp,
            )
        # Forced: the orchestration rules refuse leaving a terminal state otherwise.
        await client.set_flow_run_state(flow_run_id, Scheduled(name="AwaitingRetry"), force=True)
        return run


def batch_member_runs(run: FlowRun) -> list[uuid.UUID]:
    """A batch run's member run ids (its organisations' e-mails are queued under them)."""
    params = (run.parameters or {}).get("params")
    members = params.get("members") if isinstance(params, dict) else None
    if not isinstance(members, list):
        return []
    return [uuid.UUID(member_run_id(str(run.id), member_key(member))) for member in members]


async def continue_crashed_runs(flow_run_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Continue those of the runs that crashed (a lost worker, a killed process), each at most
    ``MAX_AUTOMATIC_CONTINUATIONS`` times; returns the ids continued now."""
    if not flow_run_ids:
        return []
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids))
        )
        crashed = []
        for run in runs:
            if run.state is None or run.state.type != StateType.CRASHED:
                continue
            history = await client.read_flow_run_states(run.id)
            if sum(s.type == StateType.CRASHED for s in history) <= MAX_AUTOMATIC_CONTINUATIONS:
                crashed.append(run.id)
    for run_id in crashed:
        await continue_run(run_id)
    return crashed


async def wake_decided_runs(cycle_id: uuid.UUID) -> list[uuid.UUID]:
    """Wake the cycle's runs that wait for a decision already recorded but not taken (the web
    page or the CLI recorded it, but the Prefect server did not answer their wake-up): stage,
    pair-change and report runs alike; returns the runs woken."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from nastavnik import approvals
    from nastavnik.db import session_scope

    with session_scope() as session:
        candidates = [
            (
                request.run_to_wake,
                request.approval_key,
                approvals.wake_input(request=request, decision=decision),
            )
            for request, decision in approvals.decisions_not_taken(
                session=session, cycle_id=cycle_id
            )
        ]
    if not candidates:
        return []
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[c[0] for c in candidates]))
        )
        paused = {
            run.id: run.state.state_details.pause_key
            for run in runs
            if run.state is not None and run.state.is_paused()
        }
        wakes = {
            run_id: run_input
            for run_id, approval_key, run_input in candidates
            if run_id in paused and approvals.waits_for(paused[run_id], approval_key)
        }
        for run_id, run_input in wakes.items():
            await client.resume_flow_run(run_id, run_input=run_input)
    return list(wakes)
