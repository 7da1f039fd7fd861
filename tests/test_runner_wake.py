"""The embedded runner polls when woken (deployments/runner_wake.py, deployments/serve.py)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable

import pytest

from deployments.runner_wake import drain, listening_socket, wake_address, wake_runner
from deployments.serve import serve_with_wake

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract UNIX sockets are Linux's"
)


def _api_url() -> str:
    return f"http://127.0.0.1:{uuid.uuid4().int % 60000 + 1024}/api/{uuid.uuid4().hex}"


def test_each_api_has_its_own_socket_and_a_wake_without_a_runner_is_harmless() -> None:
    url = _api_url()
    assert wake_address(url) == wake_address(url + "/")
    assert wake_address(url) != wake_address(_api_url())
    assert wake_runner(url) is False  # nobody listens: nothing raised, nothing waits


def test_wakes_reach_the_bound_socket_and_a_burst_drains_at_once() -> None:
    url = _api_url()
    sock = listening_socket(url)
    assert sock is not None
    try:
        assert listening_socket(url) is None  # a second runner for the same API: not bound
        assert [wake_runner(url) for _ in range(3)] == [True, True, True]
        assert drain(sock) == 3
        assert drain(sock) == 0
    finally:
        sock.close()


class FakePoller:
    """Prefect's scheduled-run poller as serve_with_wake uses it: counts its polls."""

    def __init__(self) -> None:
        self.polls = 0
        self.polled = asyncio.Event()
        self._submitting_flow_run_ids: set[uuid.UUID] = set()

    async def _get_and_submit_flow_runs(self) -> None:
        self.polls += 1
        self.polled.set()


class FakeRunner:
    """A started runner whose start() returns when told to stop."""

    def __init__(self) -> None:
        self.started = False
        self._scheduled_run_poller = FakePoller()
        self.stop = asyncio.Event()

    async def start(self) -> None:
        self.started = True
        await self.stop.wait()


async def _served(url: str, steps: Callable[[FakePoller], Awaitable[None]]) -> int:
    """Serve a fake runner with its wake socket, take the steps, stop it; returns its polls."""
    runner = FakeRunner()
    serving = asyncio.create_task(serve_with_wake(runner, url))
    while not runner.started:
        await asyncio.sleep(0.01)
    await steps(runner._scheduled_run_poller)
    runner.stop.set()
    await serving
    assert wake_runner(url) is False  # the socket is closed with the runner
    return runner._scheduled_run_poller.polls


def test_the_served_runner_polls_at_once_when_woken_and_not_otherwise() -> None:
    url = _api_url()

    async def steps(poller: FakePoller) -> None:
        await asyncio.sleep(0.2)
        assert poller.polls == 0  # no wake, no extra poll (the runner's own loop polls)
        assert wake_runner(url)
        await asyncio.wait_for(poller.polled.wait(), timeout=5)

    assert asyncio.run(_served(url, steps)) == 1


def test_a_run_whose_process_ended_is_looked_for_at_once() -> None:
    """Resumed while its previous process was still exiting, a run is skipped by the poll its
    wake caused (Prefect's poller still lists it as being submitted): when that process ends
    and the poller lets the run go, the served runner polls again at once."""
    url = _api_url()

    async def steps(poller: FakePoller) -> None:
        run_id = uuid.uuid4()
        poller._submitting_flow_run_ids.add(run_id)  # its previous process still exiting
        assert wake_runner(url)
        await asyncio.wait_for(poller.polled.wait(), timeout=5)
        poller.polled.clear()
        assert run_id in poller._submitting_flow_run_ids  # kept through the wrapping
        poller._submitting_flow_run_ids.discard(run_id)  # the process ended
        await asyncio.wait_for(poller.polled.wait(), timeout=5)

    assert asyncio.run(_served(url, steps)) == 2
