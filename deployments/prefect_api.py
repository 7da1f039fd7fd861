"""The few Prefect client calls the CLI and the web endpoint need."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.flow_runs import aresume_flow_run


async def resume_run(flow_run_id: uuid.UUID, run_input: dict[str, Any]) -> None:
    """Resume a suspended run with the decision as its input."""
    await aresume_flow_run(flow_run_id, run_input=run_input)


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


async def start_deployment(name: str, parameters: dict[str, Any]) -> uuid.UUID:
    """Create a run of the deployment and return its id without waiting."""
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        return run.id


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
