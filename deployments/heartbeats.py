"""A flow run's process ends without waiting for its heartbeat thread to wake up.

Prefect 3.8.8 sends a flow run's heartbeats (crash detection, see README «Faults») from a daemon
thread that sleeps in one-second steps, and the synchronous engine joins that thread when the
run ends or suspends: every run's process waited up to a second (0.6 s on average, 13.9 s over
the 23 processes of bench/year.py's school year, by py-spy) before it could exit. Prefect's
asynchronous engine already leaves the thread without joining it; this makes the synchronous one
do the same. The thread still stops at its next step and sends nothing after the stop.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

import prefect
import prefect.flow_engine

logger = logging.getLogger(__name__)

PATCHED_VERSION = "3.8.8"


def heartbeats_without_join() -> bool:
    """Make the synchronous flow engine stop its heartbeat thread without joining it (the pinned
    Prefect version only); returns whether it was applied."""
    original = getattr(prefect.flow_engine, "_send_heartbeats", None)
    if prefect.__version__ != PATCHED_VERSION or original is None:
        logger.warning(
            "Prefect %s: run processes wait for their heartbeat thread", prefect.__version__
        )
        return False
    if getattr(original, "without_join", False):
        return True

    def send_heartbeats(engine: Any, join_on_exit: bool = True) -> AbstractContextManager[None]:
        return original(engine, join_on_exit=False)  # type: ignore[no-any-return]

    send_heartbeats.without_join = True  # type: ignore[attr-defined]
    prefect.flow_engine._send_heartbeats = send_heartbeats  # type: ignore[assignment]
    return True
