"""Serve every deployment of the catalog from one process (the embedded runner)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import typing
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any

import prefect
import prefect.flow_engine

from deployments.catalog import DEPLOYMENTS

logger = logging.getLogger(__name__)

# How the runner starts a flow run's process: "forkserver" (the default: forked from a warm
# process), "spawn" (Prefect's way for served flow objects: a fresh interpreter) or "engine"
# (`python -m prefect.engine`, as for a deployment served without its flow object).
# bench/approval_latency.py compares them.
POLL_SECONDS_ENV = "NASTAVNIK_RUNNER_POLL_SECONDS"
START_METHOD_ENV = "NASTAVNIK_RUNNER_START"
# Heavy libraries the flows import only inside the functions that need them.
PRELOAD_EXTRA = ("weasyprint", "openpyxl", "numpy", "ortools.graph.python.min_cost_flow")


def _with_resolved_annotations(flow: Any) -> Any:
    """The flow with its function's annotations as types, not strings.

    The runner pickles the flow object for the run's process, and cloudpickle sends the function
    by value (the module's name for it is the flow, not the function) with only the globals its
    code uses: annotations left as strings by ``from __future__ import annotations`` (say
    ``params: BaseFormationParams``) could not be resolved there, and Prefect's parameter
    validation would fail. Resolved here, they travel as references to their classes.
    """
    flow.fn.__annotations__ = typing.get_type_hints(flow.fn)
    return flow


def _module(entrypoint: str) -> str:
    return entrypoint.partition(":")[0].removesuffix(".py").replace("/", ".")


class _SpawnFromForkserver:
    """``multiprocessing`` as Prefect's flow engine sees it: "spawn" served by a fork server."""

    def __init__(self, context: BaseContext) -> None:
        self._context = context

    def get_context(self, method: str | None = None) -> BaseContext:
        """The fork server's context where Prefect asks for "spawn"."""
        return self._context if method == "spawn" else multiprocessing.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def start_runs_from_forkserver(modules: list[str]) -> bool:
    """Start flow run processes by forking a warm fork server instead of a fresh interpreter.

    Prefect 3.8.8's runner starts each run of a served flow with multiprocessing's "spawn": a new
    interpreter imports Prefect and the flow module again, 3-5 s on a 2-core machine and most of the
    time between an approval click and the resumed run. A fork server imports them once, when the
    runner starts, and forks every run from that process: the run's code and environment are the
    same (Prefect still sends the pickled flow and its environment to the child). This replaces
    the ``multiprocessing`` name in ``prefect.flow_engine``, so it is applied to the pinned
    version only; returns whether it was applied.
    """
    if prefect.__version__ != "3.8.8" or not hasattr(prefect.flow_engine, "multiprocessing"):
        logger.warning("Prefect %s: runs start with spawn (slower resume)", prefect.__version__)
        return False
    multiprocessing.set_forkserver_preload(modules)
    context = multiprocessing.get_context("forkserver")
    prefect.flow_engine.multiprocessing = _SpawnFromForkserver(context)  # type: ignore[assignment]
    from multiprocessing import forkserver

    forkserver.ensure_running()  # imports the modules now, not on the first approval
    return True


class _PollWhenReleased(set[Any]):
    """The poller's set of runs being submitted, which asks for a poll when a run leaves it.

    A run resumed while its previous process is still exiting is skipped by the poll its wake
    caused (its id is still in the set until that process ends); it would then wait for the
    next periodic poll. Released, it is looked for at once."""

    def __init__(self, ids: set[Any], *, on_release: Callable[[], None]) -> None:
        super().__init__(ids)
        self._on_release = on_release

    def discard(self, item: Any) -> None:
        super().discard(item)
        self._on_release()


async def serve_with_wake(runner: Any, api_url: str) -> None:
    """Run the runner; a datagram on its wake socket (deployments/runner_wake.py) makes it
    look for runs to start at once rather than at its next poll.

    The poll is Prefect 3.8.8's own (its scheduled-run poller's, which the periodic loop calls
    too; a run already being submitted is skipped), so it is used on that version only."""
    import asyncio

    from deployments.runner_wake import drain, listening_socket

    sock = listening_socket(api_url) if prefect.__version__ == "3.8.8" else None
    if sock is None:
        await runner.start()
        return
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    async def poll_when_woken() -> None:
        while True:
            await woken.wait()
            # A wake during this poll may be for a run its query no longer sees: poll again.
            woken.clear()
            poller = getattr(runner, "_scheduled_run_poller", None)
            if poller is None or not runner.started:
                continue
            if not isinstance(poller._submitting_flow_run_ids, _PollWhenReleased):
                poller._submitting_flow_run_ids = _PollWhenReleased(
                    poller._submitting_flow_run_ids, on_release=woken.set
                )
            try:
                await poller._get_and_submit_flow_runs()
            except Exception:  # the periodic poll finds the run anyway
                logger.warning("poll on wake failed", exc_info=True)

    def on_wake() -> None:
        drain(sock)
        woken.set()

    loop.add_reader(sock.fileno(), on_wake)
    polls = loop.create_task(poll_when_woken())
    try:
        await runner.start()
    finally:
        polls.cancel()
        loop.remove_reader(sock.fileno())
        sock.close()


def main() -> None:
    """Serve until interrupted."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    from nastavnik.settings import get_settings

    mode = os.environ.get(START_METHOD_ENV, "forkserver")
    # Half a second between polls for runs to start (Prefect's setting takes whole seconds):
    # a resumed run waits half as long for the runner, for one cheap query more per second.
    poll = float(os.environ.get(POLL_SECONDS_ENV, "0.5"))
    runner = Runner(pause_on_shutdown=True, limit=4, query_seconds=poll)
    settings = get_settings()
    scheduled = settings.schedules and settings.clock != "simulated"
    for spec in DEPLOYMENTS:
        flow = spec.load_flow()
        schedules = spec.schedules() if scheduled else []
        if mode == "engine":
            # A deployment without the flow object: each run is `python -m prefect.engine`,
            # which loads the deployment and imports the flow module again.
            deployment = flow.to_deployment(
                name=spec.name, description=spec.description, schedules=schedules
            )
            runner.add_deployment(deployment)
        else:
            # The runner keeps the flow object and hands it to the run's process.
            runner.add_flow(
                _with_resolved_annotations(flow),
                name=spec.name,
                description=spec.description,
                schedules=schedules,
            )
    if mode == "forkserver":
        start_runs_from_forkserver(
            [
                "prefect.flow_engine",
                "deployments.serve",
                *(_module(spec.entrypoint) for spec in DEPLOYMENTS),
                *PRELOAD_EXTRA,
                "deployments.warm",
            ]
        )
    from deployments.runner_wake import current_api_url

    try:
        asyncio.run(serve_with_wake(runner, current_api_url()))
    except (KeyboardInterrupt, TerminationSignal):
        logger.info("runner stopped")


if __name__ == "__main__":
    main()
