"""Tell the embedded runner to look for runs to start now, instead of at its next poll.

The embedded runner (deployments/serve.py) finds runs to start by asking the Prefect server every
half second: a run just created, or resumed by a decision, waits a quarter of a second on
average before its process starts (≈6 s of a simulated school year's 23 processes). Whoever
creates or resumes a run on the embedded stack sends one datagram to the runner's wake socket,
and the runner polls at once; the periodic poll stays, for runs created elsewhere (the deployed
tick's, the Prefect UI's).

The socket is a Linux abstract UNIX datagram socket named after the Prefect API URL, so no file
is left behind, every stack (tests run several at once) has its own, and a sender on a layout
without one (production's workers poll for themselves) gets "connection refused" and goes on.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import sys

logger = logging.getLogger(__name__)

WAKE = b"poll"


def wake_address(api_url: str) -> str | None:
    """The wake socket's abstract name for the runner serving this API, or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:24]
    return f"\0nastavnik-runner-{digest}"


def current_api_url() -> str:
    """The Prefect API URL this process talks to (from Prefect's settings)."""
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "")


def wake_runner(api_url: str | None = None) -> bool:
    """Ask the runner serving this API to poll now; False when none listens (harmless)."""
    address = wake_address(api_url if api_url is not None else current_api_url())
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(WAKE, address)
        except OSError:  # nobody listens (no runner, or workers), or its queue is full
            return False
    return True


def listening_socket(api_url: str) -> socket.socket | None:
    """The runner's bound, non-blocking wake socket, or None (off Linux, or name taken)."""
    address = wake_address(api_url)
    if address is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError as error:
        logger.warning("runner wake socket not bound (%s): runs start at the next poll", error)
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> int:
    """Read every waiting datagram; returns how many there were (a burst means one poll)."""
    count = 0
    while True:
        try:
            sock.recv(64)
        except (BlockingIOError, InterruptedError):
            return count
        count += 1
