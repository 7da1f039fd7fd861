"""A run's process stops its heartbeat thread without waiting for it (deployments/heartbeats.py)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import prefect.flow_engine
import pytest

from deployments.heartbeats import heartbeats_without_join


class _Engine:
    """What Prefect's heartbeat context reads of a flow run engine."""

    heartbeat_seconds = 30
    flow_run = None
    logger = logging.getLogger("test-heartbeats")

    def __init__(self) -> None:
        self.sent: list[threading.Thread] = []
        self.sending = threading.Event()
        self.release = threading.Event()

    def _build_heartbeat_event_template(self) -> tuple[dict[str, str], list[object]]:
        return {"prefect.resource.id": "prefect.flow-run.test"}, []

    def _emit_flow_run_heartbeat(self, resource: object, related: object) -> None:
        """Holds the heartbeat thread until the test releases it."""
        self.sent.append(threading.current_thread())
        self.sending.set()
        self.release.wait(timeout=30)


def test_the_run_goes_on_while_its_heartbeat_thread_stops_at_its_next_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefects_own = prefect.flow_engine._send_heartbeats
    joins: list[bool] = []

    def recorded(engine: Any, join_on_exit: bool = True) -> Any:
        joins.append(join_on_exit)
        return prefects_own(engine, join_on_exit=join_on_exit)

    # Restored after the test: the patch is process-wide, as in a run's process.
    monkeypatch.setattr(prefect.flow_engine, "_send_heartbeats", recorded)
    assert heartbeats_without_join()
    assert heartbeats_without_join()  # applied once, whatever the number of imports
    engine = _Engine()

    with prefect.flow_engine._send_heartbeats(engine):  # type: ignore[arg-type]
        assert engine.sending.wait(timeout=30)  # the first heartbeat goes at once
    heartbeat_thread = engine.sent[0]

    # The run went on with its thread still held: Prefect's own context would have waited for
    # it here (up to 2 s; it sleeps in one-second steps between heartbeats).
    assert heartbeat_thread.is_alive()
    engine.release.set()
    heartbeat_thread.join(timeout=30)
    assert not heartbeat_thread.is_alive()
    assert len(engine.sent) == 1  # nothing sent after the stop
    assert joins == [False]  # Prefect's context was asked not to join (it would wait up to 2 s)
