"""A process worker that looks for runs to start when there is something to start.

Prefect's process worker asks the server for runs every PREFECT_WORKER_QUERY_SECONDS. At the
half second the layout needed for a resumed run to start soon after its approval, two idle
workers cost the Prefect server ≈6 CPU-seconds a minute (8.4 s against 2.5 s at Prefect's 10 s,
measured on this machine's layout), around the clock, and a simulated department's year a
sixth of the server's time. This worker is Prefect's own `ProcessWorker`, started the same way,
but each poll first waits until

- the server says a flow run entered a Scheduled-type state (created from a deployment,
  resumed by a decision, retried): its flow-run events, over the websocket the Prefect UI uses,
  so it works across machines and containers as the polling does;
- one of this worker's runs ended, so its slot is free for a run that queued meanwhile;
- or `--fallback-seconds` passed (a run scheduled ahead becoming due, an event missed while
  the websocket reconnected).

Run: python -m deployments.worker --pool nastavnik --name worker-1 [--limit 1]
     [--fallback-seconds 5] [--with-healthcheck]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from typing import Any

logger = logging.getLogger("nastavnik.worker")

# Seconds a poll waits for a reason at most: a run scheduled ahead starts at most this late.
FALLBACK_SECONDS = 5.0
# Events that can make a run startable: a flow run entering a state of this type.
STARTABLE_STATE_TYPE = "SCHEDULED"
FLOW_RUN_EVENTS = "prefect.flow-run."
# Seconds between attempts to subscribe again when the server's event stream is gone.
RESUBSCRIBE_SECONDS = 2.0


class Wake:
    """Why the next poll should happen now; a poll clears it first."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Whether something woke it within `timeout` seconds (cleared on return)."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()


def startable(event: Any) -> bool:
    """Whether a Prefect event says a flow run may be ready for a worker."""
    return bool(
        event.event.startswith(FLOW_RUN_EVENTS)
        and event.resource.get("prefect.state-type") == STARTABLE_STATE_TYPE
    )


async def wake_on_events(wake: Wake) -> None:
    """Set `wake` for every startable flow-run event, subscribing again whenever the stream
    ends (the server restarted, the network hiccuped); the fallback poll covers the gap."""
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter

    flow_runs = EventFilter(event=EventNameFilter(prefix=[FLOW_RUN_EVENTS]))  # type: ignore[call-arg]
    while True:
        try:
            async with get_events_subscriber(filter=flow_runs) as subscriber:
                async for event in subscriber:
                    if startable(event):
                        wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 — the worker goes on polling meanwhile
            logger.warning("flow-run events unavailable (%s): polling only", error)
        await asyncio.sleep(RESUBSCRIBE_SECONDS)


def woken_worker(worker: Any, wake: Wake, *, fallback_seconds: float) -> Any:
    """The worker with its poll waiting for `wake` (or the fallback), and each run's end
    setting it. Prefect's loop calls `get_and_submit_flow_runs`, the poll submits through
    `_submit_scheduled_flow_runs` and the submission calls `run` on the instance, so wrapping
    these there changes nothing else of the worker."""
    poll, submit, run = (
        worker.get_and_submit_flow_runs,
        worker._submit_scheduled_flow_runs,
        worker.run,
    )
    running: set[Any] = set()  # ids of the runs whose process this worker has not seen end

    async def get_and_submit_flow_runs() -> Any:
        await wake.wait(fallback_seconds)
        return await poll()

    async def submit_unless_running(flow_run_response: list[Any]) -> Any:
        # A run resumed while its suspended process is still ending (a decision taken at
        # once) is offered again before it left this worker's slot: Prefect's limiter then
        # refuses the same run twice with a RuntimeError, which stopped the whole worker (seen
        # in a department's year). Its end wakes the poll that submits it.
        return await submit([e for e in flow_run_response if e.flow_run.id not in running])

    async def run_then_wake(*args: Any, **kwargs: Any) -> Any:
        flow_run = kwargs["flow_run"] if "flow_run" in kwargs else args[0]
        run_id = getattr(flow_run, "id", None)
        running.add(run_id)
        try:
            return await run(*args, **kwargs)
        finally:
            running.discard(run_id)
            # The slot is released right after `run` returns, before the poll task can run.
            wake.set()

    worker.get_and_submit_flow_runs = get_and_submit_flow_runs
    worker._submit_scheduled_flow_runs = submit_unless_running
    worker.run = run_then_wake
    return worker


async def serve(
    *,
    pool: str,
    name: str | None,
    limit: int | None,
    fallback_seconds: float,
    with_healthcheck: bool,
) -> None:
    """Run the process worker on `pool` until it is stopped (as `prefect worker start` does:
    the same settings, and a first SIGTERM or SIGINT lets its runs go on)."""
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS, PREFECT_WORKER_PREFETCH_SECONDS
    from prefect.utilities.processutils import setup_signal_handlers_worker
    from prefect.workers.process import ProcessWorker

    setup_signal_handlers_worker(os.getpid(), "the process worker", logger.info)
    wake = Wake()
    worker = woken_worker(
        ProcessWorker(
            work_pool_name=pool,
            name=name,
            limit=limit,
            prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(),
            heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
        ),
        wake,
        fallback_seconds=fallback_seconds,
    )
    listener = asyncio.create_task(wake_on_events(wake))
    try:
        await worker.start(with_healthcheck=with_healthcheck, printer=logger.info)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--name")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--fallback-seconds", type=float, default=FALLBACK_SECONDS)
    parser.add_argument("--with-healthcheck", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(
        serve(
            pool=args.pool,
            name=args.name,
            limit=args.limit,
            fallback_seconds=args.fallback_seconds,
            with_healthcheck=args.with_healthcheck,
        )
    )


if __name__ == "__main__":
    main()
