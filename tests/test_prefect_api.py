"""Prefect's client with the busy-server hook the approval endpoint resumes runs with."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun

from deployments.prefect_api import RetrySoonWhenBusy

API = "http://prefect.test/api"


class BusyServer:
    """Answers 503 ("database is locked") to the first requests, then the flow run."""

    def __init__(self, busy_answers: int, retry_after: str | None = None) -> None:
        self.busy_answers = busy_answers
        self.retry_after = retry_after
        self.run = FlowRun(flow_id=uuid.uuid4(), name="test-run")
        self.requests = 0
        self.retry_after_seen: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests <= self.busy_answers:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return httpx.Response(
                503, json={"exception_message": "Service Unavailable"}, headers=headers
            )
        return httpx.Response(200, json=self.run.model_dump(mode="json"))


def _read_run(
    server: BusyServer, hook: RetrySoonWhenBusy, *, reads: int = 1
) -> tuple[FlowRun, list[str | None]]:
    """Read the run `reads` times through one Prefect client; also the Retry-After each 503
    ended up with."""
    seen: list[str | None] = []

    async def record(response: httpx.Response) -> None:
        if response.status_code == 503:
            seen.append(response.headers.get("Retry-After"))

    async def read() -> FlowRun:
        settings = {
            "transport": httpx.MockTransport(server),
            "event_hooks": {"response": [hook, record]},
        }
        async with PrefectClient(API, httpx_settings=settings) as client:
            for _ in range(reads - 1):
                await client.read_flow_run(server.run.id)
            return await client.read_flow_run(server.run.id)

    return asyncio.run(read()), seen


def test_busy_answers_are_retried_after_the_short_delays() -> None:
    server = BusyServer(busy_answers=2)
    run, seen = _read_run(server, RetrySoonWhenBusy(delays=(0.01, 0.02, 0.04)))
    assert run.id == server.run.id
    assert server.requests == 3
    assert seen == ["0.01", "0.02"]


def test_the_servers_own_retry_after_is_kept() -> None:
    server = BusyServer(busy_answers=1, retry_after="0.03")
    run, seen = _read_run(server, RetrySoonWhenBusy(delays=(0.01,)))
    assert run.id == server.run.id and seen == ["0.03"]


def test_after_the_short_delays_the_clients_own_back_off_applies() -> None:
    server = BusyServer(busy_answers=2)
    # The second 503 waits for Prefect's own back-off (seconds), then the run comes.
    run, seen = _read_run(server, RetrySoonWhenBusy(delays=(0.01,)))
    assert run.id == server.run.id and seen == ["0.01", None]


class EveryOtherBusy(BusyServer):
    """Answers 503 to every request's first attempt."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.requests % 2 == 0:
            self.requests += 1
            return httpx.Response(503, json={"exception_message": "Service Unavailable"})
        self.requests += 1
        return httpx.Response(200, json=self.run.model_dump(mode="json"))


def test_one_hook_gives_each_request_its_own_short_delays() -> None:
    """The simulation's and the endpoint's long-lived clients share one hook (BUSY_SERVER_
    SETTINGS): a request's busy answers must not use up the next request's short delays."""
    server = EveryOtherBusy(busy_answers=0)
    run, seen = _read_run(server, RetrySoonWhenBusy(delays=(0.01,)), reads=3)
    assert run.id == server.run.id
    assert seen == ["0.01", "0.01", "0.01"] and server.requests == 6
