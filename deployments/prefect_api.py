"""The few Prefect client calls the CLI and the web endpoint need."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.exceptions import (
    FlowPauseTimeout,
    NotPausedError,
    ObjectNotFound,
    PrefectHTTPStatusError,
)

from deployments.runner_wake import wake_runner
from flows.recovery import continue_run
from nastavnik.approvals import BATCH_PAUSE_PREFIX, waits_for

logger = logging.getLogger(__name__)

# Seconds before sending a request again after the server's first, second, … 503.
BUSY_RETRY_DELAYS = (0.1, 0.3, 0.9, 2.7, 8.1)
# How long a run just suspended gets to save its input's schema itself (Prefect does it right
# after the state) before a decision saves it for a process that was killed in between.
SCHEMA_GRACE_SECONDS = 5.0
# How long a wake-up that lost a race with another one gives the winner's state to land.
WOKEN_GRACE_SECONDS = 5.0


class RetrySoonWhenBusy:
    """An httpx response hook: Prefect's client retries a 503 after tenths of a second.

    The SQLite-backed server answers 503 ("database is locked", SQLITE_BUSY_SNAPSHOT) when a
    request that read and then writes meets another writer's commit in between (its services
    and the runner write often, most just as a run ends). It rolls the request back, so sending
    it again is safe. The client waits 2 s, 4 s, … unless the answer carries Retry-After, which
    it honours: measured, such 503s made about one approval in 10-20 take 2.2-7.6 s, not 0.1 s,
    and one stage start in three of a simulated year 1.8 s. With the client's default 5 retries
    these delays try for 12 s in all (its own: 62 s), then the approver gets the page asking to
    try again; further retries use its own back-off.

    The delays count per request (Prefect's client sends the same request object again), so one
    hook serves every request of a long-lived client.
    """

    _ATTEMPTS = "nastavnik_busy_answers"

    def __init__(self, delays: Iterable[float] = BUSY_RETRY_DELAYS) -> None:
        self._delays = tuple(delays)

    async def __call__(self, response: httpx.Response) -> None:
        if response.status_code == 503 and "Retry-After" not in response.headers:
            extensions = response.request.extensions
            answered = int(extensions.get(self._ATTEMPTS, 0))
            extensions[self._ATTEMPTS] = answered + 1
            if answered < len(self._delays):
                response.headers["Retry-After"] = str(self._delays[answered])


# Prefect's get_client() reuses a client made with equal settings (the simulation's, the
# approval endpoint's): one dict, one hook.
BUSY_SERVER_SETTINGS: dict[str, Any] = {"event_hooks": {"response": [RetrySoonWhenBusy()]}}


# How long a decision's wake-up waits for a run that is not paused yet (it was still on its way
# to its pause when the approver clicked) before leaving the decision to the run's own check.
WAIT_FOR_PAUSE_SECONDS = 15.0


async def resume_run(
    flow_run_id: uuid.UUID,
    run_input: dict[str, Any],
    approval_key: str | None = None,
    *,
    background: bool = False,
) -> None:
    """Resume a suspended run with the decision as its input.

    Prefect's ``aresume_flow_run``, with a client that retries the server's 503 soon. With
    ``approval_key`` the decision is already recorded (web page, CLI): the run is only woken if
    it waits for that decision, and it is waited for a little if it is still on its way to the
    pause (``background``: in a task of the caller's event loop, so the web page answers at
    once); a run that already went past (it read the decision itself) is left alone.
    """
    async with get_client(httpx_settings=BUSY_SERVER_SETTINGS) as client:
        run = await client.read_flow_run(flow_run_id)
        if approval_key is not None and background and run.state and run.state.is_running():
            task = asyncio.create_task(resume_run(flow_run_id, run_input, approval_key))
            _BACKGROUND_WAKES.add(task)
            task.add_done_callback(_wake_finished)
            return
        if approval_key is not None:
            waiting = await _waiting_for(client, run, approval_key)
            if waiting is None:
                return
            run = waiting
        if run.state is None or not run.state.is_paused():
            raise NotPausedError("Cannot resume a run that isn't paused!")
        try:
            result = await client.resume_flow_run(flow_run_id, run_input=run_input)
        except PrefectHTTPStatusError as error:
            # Two wake-ups of one batch run at once (two directors decide the same second):
            # the server keeps one input per pause and answers the other 409. The run woken by
            # the first takes this recorded decision too before it waits again.
            if (
                approval_key is not None
                and error.response.status_code == 409
                and await _woken_meanwhile(client, flow_run_id)
            ):
                return
            raise
        refusal = str(getattr(result.details, "reason", "") or "")
        if result.status == SetStateStatus.REJECT and "schema not found" in refusal:
            # Prefect sets the run Suspended, then saves its input's schema: a decision taken in
            # that instant waits for it, and a process killed in between (its worker lost)
            # leaves a run nobody could resume: finish its suspension as it would have.
            if not await _schema_saved(client, run, timeout=SCHEMA_GRACE_SECONDS):
                await _save_input_schema(run, run_input)
            result = await client.resume_flow_run(flow_run_id, run_input=run_input)
        if (
            result.status == SetStateStatus.REJECT
            and approval_key is not None
            and await _woken_meanwhile(client, flow_run_id)
        ):
            # Another decision of the same batch run woke it in the meantime (two directors
            # at once): the run takes this recorded one too before it waits again.
            return
    if result.status == SetStateStatus.REJECT:
        if result.state is not None and result.state.type == StateType.FAILED:
            raise FlowPauseTimeout("Flow run can no longer be resumed.")
        reason = getattr(result.details, "reason", None)
        raise RuntimeError(f"Cannot resume this run: {reason}")
    wake_runner()  # the embedded runner starts its process now, not at its next poll


async def _woken_meanwhile(client: Any, flow_run_id: uuid.UUID) -> bool:
    """Whether the run left its pause, within a moment, for something else than an end (another
    wake-up's state lands just after its input)."""
    deadline = time.monotonic() + WOKEN_GRACE_SECONDS
    while True:
        state = (await client.read_flow_run(flow_run_id)).state
        if state is not None and not state.is_paused():
            return not state.is_final()
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


_BACKGROUND_WAKES: set[asyncio.Task[None]] = set()  # kept referenced until they finish


def _wake_finished(task: asyncio.Task[None]) -> None:
    _BACKGROUND_WAKES.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("waking a run for a recorded decision failed", exc_info=task.exception())


async def wake_for_decision(
    flow_run_id: uuid.UUID, run_input: dict[str, Any], approval_key: str
) -> None:
    """The web page's wake-up: resume the run now if it waits, or later in the background if it
    is still on its way to its pause (the decision is recorded already)."""
    await resume_run(flow_run_id, run_input, approval_key, background=True)


async def _waiting_for(client: Any, run: FlowRun, approval_key: str) -> FlowRun | None:
    """The run if it is paused for this approval, after waiting up to WAIT_FOR_PAUSE_SECONDS
    for a run still on its way there; None when it need not be woken: it ended or crashed, is
    paused for another decision, or is about to start (it reads the recorded decision then)."""
    deadline = time.monotonic() + WAIT_FOR_PAUSE_SECONDS
    while True:
        state = run.state
        if state is not None and state.is_paused():
            return run if waits_for(state.state_details.pause_key, approval_key) else None
        if state is None or state.is_final() or state.is_scheduled() or state.is_pending():
            return None
        if time.monotonic() > deadline:  # still running: it read the decision on its way
            return None
        await asyncio.sleep(0.2)
        run = await client.read_flow_run(run.id)


async def _schema_saved(client: Any, run: FlowRun, *, timeout: float) -> bool:
    """Whether the suspended run's input schema is saved, waiting up to `timeout` for it."""
    assert run.state is not None
    keyset = run.state.state_details.run_input_keyset
    if not keyset:
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.read_flow_run_input(run.id, keyset["schema"])
            return True
        except ObjectNotFound:
            pass
        except PrefectHTTPStatusError as error:
            if error.response.status_code != 404:
                raise
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def _save_input_schema(run: FlowRun, run_input: dict[str, Any]) -> None:
    """Save the schema of the decision the suspended run waits for, under its state's keys."""
    from flows.approvals import ApprovalInput, ProgrammesApprovalInput

    assert run.state is not None
    keyset = run.state.state_details.run_input_keyset
    if not keyset:
        return
    # The programmes' approval is the one decision that may carry exceptions; a batch run's
    # form (flows/batch.py) carries them too, and the organisation's code.
    input_type: type[ApprovalInput] = (
        ProgrammesApprovalInput if "exceptions" in run_input else ApprovalInput
    )
    if (run.state.state_details.pause_key or "").startswith(BATCH_PAUSE_PREFIX):
        from flows.batch import BatchDecisionInput

        input_type = BatchDecisionInput
    try:
        # RunInput.save is Prefect's synchronous call: in a thread, away from this event loop.
        await asyncio.to_thread(input_type.save, keyset, run.id)  # type: ignore[arg-type]
    except PrefectHTTPStatusError as error:
        if error.response.status_code != 409:  # 409: the run's process saved it after all
            raise


async def read_run(flow_run_id: uuid.UUID) -> FlowRun:
    """The flow run as the server sees it now."""
    async with get_client() as client:
        return await client.read_flow_run(flow_run_id)


async def wait_for_state(
    flow_run_id: uuid.UUID, *, names: set[str], timeout: float = 300, poll: float = 0.5
) -> FlowRun:
    """Poll until the run reaches one of the state names (or a final state); raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        run = await read_run(flow_run_id)
        if run.state is not None and (run.state.name in names or run.state.is_final()):
            return run
        if time.monotonic() > deadline:
            state = run.state.name if run.state else "no state"
            raise TimeoutError(f"flow run {flow_run_id} still {state} after {timeout:.0f} s")
        await asyncio.sleep(poll)


async def start_deployment(
    name: str,
    parameters: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    run_name: str | None = None,
    tags: list[str] | None = None,
) -> uuid.UUID:
    """Create a run of the deployment and return its id without waiting (the same run again
    for the same idempotency key)."""
    async with get_client(httpx_settings=BUSY_SERVER_SETTINGS) as client:
        deployment = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(
            deployment.id,
            parameters=parameters,
            idempotency_key=idempotency_key,
            name=run_name,
            tags=tags,
        )
    wake_runner()
    return run.id


async def latest_run(name: str, parameters: dict[str, Any]) -> FlowRun | None:
    """The deployment's most recent run with exactly these parameters, if there is one."""
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])
            )
        )
    same = [run for run in runs if run.parameters == parameters]
    return max(same, key=lambda run: str(run.created), default=None)


async def retry_run(flow_run_id: uuid.UUID) -> FlowRun:
    """Continue a crashed or failed run as the same run (flows/recovery.py's one function, the
    daily tick's too), and tell the embedded runner to start it now."""
    run = await continue_run(flow_run_id)
    wake_runner()
    return run


async def start_or_retry(
    name: str,
    parameters: dict[str, Any],
    *,
    run_name: str | None = None,
    tags: list[str] | None = None,
) -> tuple[uuid.UUID, FlowRun | None]:
    """Start a run of the deployment, or retry its latest run with these parameters if that
    one crashed (a new run would number its documents anew); returns the run id and the
    crashed run when it was retried."""
    latest = await latest_run(name, parameters)
    if latest is not None and latest.state is not None and latest.state.type == StateType.CRASHED:
        return latest.id, await retry_run(latest.id)
    return await start_deployment(name, parameters, run_name=run_name, tags=tags), None


async def read_table_artifacts(flow_run_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The run's table artifacts by key (the newest of each key)."""
    import json

    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                type=ArtifactFilterType(any_=["table"]),
            )
        )
    tables: dict[str, list[dict[str, Any]]] = {}
    for artifact in sorted(artifacts, key=lambda a: str(a.created)):
        data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        if artifact.key and isinstance(data, list):
            tables[artifact.key] = data
    return tables
