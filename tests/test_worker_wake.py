"""deployments/worker.py: a worker's poll waits for a reason — a startable run's event, the end
of one of its runs, or the fallback — and never misses one that came while it polled.

The worker itself (Prefect's ProcessWorker with these waits) runs in tests/test_production.py,
where a run starts although the fallback is longer than the test."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from prefect.events import Event

from deployments.worker import Wake, startable, woken_worker


def _event(name: str, state_type: str) -> Event:
    return Event(
        event=name,
        resource={
            "prefect.resource.id": "prefect.flow-run.0195",
            "prefect.state-type": state_type,
        },
    )


def test_startable_events_are_flow_runs_entering_a_scheduled_state() -> None:
    assert startable(_event("prefect.flow-run.Scheduled", "SCHEDULED"))
    assert startable(_event("prefect.flow-run.Resuming", "SCHEDULED"))  # a decision's wake-up
    assert startable(_event("prefect.flow-run.AwaitingRetry", "SCHEDULED"))
    assert not startable(_event("prefect.flow-run.Running", "RUNNING"))
    assert not startable(_event("prefect.flow-run.Suspended", "PAUSED"))
    assert not startable(_event("prefect.task-run.Scheduled", "SCHEDULED"))


class _Worker:
    """What woken_worker wraps of Prefect's worker: its poll and a run's execution."""

    def __init__(self) -> None:
        self.polls: list[float] = []
        self.submitted: list[list[str]] = []
        self.run_started = asyncio.Event()
        self.finish_run = asyncio.Event()

    async def get_and_submit_flow_runs(self) -> list[Any]:
        self.polls.append(time.monotonic())
        return []

    async def _submit_scheduled_flow_runs(self, flow_run_response: list[Any]) -> list[Any]:
        self.submitted.append([entry.flow_run.id for entry in flow_run_response])
        return []

    async def run(self, **_: Any) -> SimpleNamespace:
        self.run_started.set()
        await self.finish_run.wait()
        return SimpleNamespace(status_code=0)


def test_a_poll_waits_for_a_wake_or_the_fallback() -> None:
    async def scenario() -> None:
        wake, worker = Wake(), _Worker()
        began = time.monotonic()
        await woken_worker(worker, wake, fallback_seconds=0.3).get_and_submit_flow_runs()
        assert worker.polls[-1] - began >= 0.3  # nothing woke it: the fallback

        wake, worker = Wake(), _Worker()
        later = asyncio.create_task(
            woken_worker(worker, wake, fallback_seconds=5).get_and_submit_flow_runs()
        )
        await asyncio.sleep(0.05)
        assert worker.polls == []  # still waiting
        began = time.monotonic()
        wake.set()  # an event: a run became startable
        await later
        assert len(worker.polls) == 1 and worker.polls[0] - began < 2.0

    asyncio.run(scenario())


def test_a_wake_during_a_poll_is_kept_for_the_next_one() -> None:
    async def scenario() -> None:
        wake, worker = Wake(), _Worker()
        poll = worker.get_and_submit_flow_runs

        async def slow_poll() -> list[Any]:
            wake.set()  # the event arrives while the server answers
            return await poll()

        worker.get_and_submit_flow_runs = slow_poll  # type: ignore[method-assign]
        woken = woken_worker(worker, wake, fallback_seconds=5)
        wake.set()
        await woken.get_and_submit_flow_runs()
        began = time.monotonic()
        await woken.get_and_submit_flow_runs()  # at once, not after the fallback
        assert time.monotonic() - began < 2.0 and len(worker.polls) == 2

    asyncio.run(scenario())


def test_a_run_ending_frees_its_slot_and_wakes_the_poll() -> None:
    async def scenario() -> None:
        wake, worker = Wake(), _Worker()
        woken = woken_worker(worker, wake, fallback_seconds=5)
        running = asyncio.create_task(woken.run(flow_run=None, configuration=None))
        await worker.run_started.wait()
        waiting = asyncio.create_task(woken.get_and_submit_flow_runs())
        await asyncio.sleep(0.05)
        assert worker.polls == []
        began = time.monotonic()
        worker.finish_run.set()
        assert (await running).status_code == 0
        await waiting
        assert len(worker.polls) == 1 and worker.polls[0] - began < 2.0

    asyncio.run(scenario())


def test_a_run_offered_again_before_its_process_ended_waits_for_its_end() -> None:
    """A suspended run resumed at once is offered while its process is still ending: it is
    not submitted twice (Prefect's limiter refused it, stopping the worker), but after."""

    def offered(run_id: str) -> SimpleNamespace:
        return SimpleNamespace(flow_run=SimpleNamespace(id=run_id))

    async def scenario() -> None:
        wake, worker = Wake(), _Worker()
        woken = woken_worker(worker, wake, fallback_seconds=5)
        ending = asyncio.create_task(
            woken.run(flow_run=SimpleNamespace(id="resumed"), configuration=None)
        )
        await worker.run_started.wait()
        await woken._submit_scheduled_flow_runs([offered("resumed"), offered("other")])
        assert worker.submitted == [["other"]]
        worker.finish_run.set()
        await ending
        await woken._submit_scheduled_flow_runs([offered("resumed")])
        assert worker.submitted[-1] == ["resumed"]

    asyncio.run(scenario())
