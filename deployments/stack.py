"""The embedded stack: local Prefect server, runner serving the deployments, SMTP sink, web."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deployments.loopback_tls import client_tls_environment
from nastavnik.settings import Settings

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Environment for every process of the stack: Prefect on SQLite under the data directory."""
    data_dir = settings.data_dir.resolve()
    api_url = f"http://127.0.0.1:{settings.prefect_port}/api"
    return client_tls_environment(api_url, data_dir / "prefect") | {
        "PREFECT_HOME": str(data_dir / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The runner looks for resumed runs every second (an approval waits half of it on average).
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NASTAVNIK_DATA_DIR": str(data_dir),
        "NASTAVNIK_DATABASE_URL": settings.resolved_database_url,
        "NASTAVNIK_SMTP_URL": settings.smtp_url,
        "NASTAVNIK_WEB_BASE_URL": settings.web_base_url,
    }


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting; what had started is stopped."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A flag that signal handlers may set at any moment.

    Not a ``threading.Event``: its ``set`` takes a lock, and a handler running in the main thread
    while that thread holds the same lock inside ``Event.wait`` would deadlock. Waits poll the
    flag every 50 ms instead.
    """

    def __init__(self) -> None:
        self._requested = False

    def set(self) -> None:
        """Ask for a stop."""
        self._requested = True

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._requested

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a stop is asked for or ``timeout`` seconds pass; return whether it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._requested:
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                break
            time.sleep(left)
        return self._requested


def install_stop_signals() -> StopRequest:
    """From now on Ctrl-C (SIGINT) and SIGTERM only set the returned stop request.

    Nothing is interrupted half-way (a process being spawned, a port being bound, a stop in
    progress): the stack checks the request between its steps and in every wait, so a signal at
    any moment of start-up, serving or shutdown ends in the same orderly stop.
    """
    stop = StopRequest()
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: stop.set())
    return stop


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _signal_group(group: int, number: int) -> bool:
    """Send a signal to a process group; False when the group has no process left."""
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left, which cannot be signalled
        return True
    return True


def _smtp_port(settings: Settings) -> int:
    return int(settings.smtp_url.rsplit(":", 1)[-1].split("/")[0])


@dataclass
class EmbeddedStack:
    """Starts and stops everything a newcomer needs on one machine."""

    settings: Settings
    # Extra environment for the stack's processes (the bench compares runner settings with it).
    environment: dict[str, str] = field(default_factory=dict)
    # Set (by install_stop_signals' handlers) to abandon start-up at the next step.
    stop_requested: StopRequest = field(default_factory=StopRequest)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _sink: object | None = None
    _web: object | None = None
    _web_thread: threading.Thread | None = None

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.prefect_port}"

    @property
    def logs_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def start(self) -> None:
        """Start the server, wait for it, then the runner, the SMTP sink and the web endpoint.

        Raises ``Interrupted`` (after stopping what had started) once ``stop_requested`` is set.
        """
        busy = [
            p
            for p in (self.settings.prefect_port, self.settings.web_port, _smtp_port(self.settings))
            if not _port_free(p)
        ]
        if busy:
            raise RuntimeError(f"ports already in use: {busy} (is another stack running?)")
        os.environ.update(prefect_environment(self.settings) | self.environment)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._check_stop()
            self._spawn(
                "prefect-server",
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.settings.prefect_port),
                ],
            )
            self._wait_for_server()
            self._check_stop()
            self._spawn("runner", [sys.executable, "-m", "deployments.serve"])
            self._wait_for_deployments()
            self._check_stop()
            self._start_sink()
            self._check_stop()
            self._start_web()
            self._check_stop()
        except BaseException:
            self.stop()
            raise

    def _check_stop(self) -> None:
        if self.stop_requested.is_set():
            raise Interrupted("stopped during start-up")

    def _pause(self, seconds: float) -> None:
        """Sleep between polls, but give up start-up as soon as a stop is requested."""
        self.stop_requested.wait(seconds)
        self._check_stop()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.logs_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)

    def _wait_for_server(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.ui_url}/api/health"
        while time.monotonic() < deadline:
            if self.processes[0].poll() is not None:
                raise RuntimeError(
                    f"Prefect server exited; see {self.logs_dir / 'prefect-server.log'}"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            self._pause(0.5)
        raise TimeoutError(f"Prefect server did not answer on {url} within {timeout:.0f} s")

    def _wait_for_deployments(self, timeout: float = 120) -> None:
        """Wait until the runner has registered every deployment it serves."""
        from deployments.catalog import STAGE_DEPLOYMENTS

        deadline = time.monotonic() + timeout
        for name in STAGE_DEPLOYMENTS.values():
            url = f"{self.ui_url}/api/deployments/name/{name}"
            while httpx.get(url, timeout=5).status_code != 200:
                if self.processes[-1].poll() is not None:
                    raise RuntimeError(f"runner exited; see {self.logs_dir / 'runner.log'}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"deployment {name} was not served in {timeout:.0f} s")
                self._pause(0.5)

    def _start_sink(self) -> None:
        from nastavnik.smtp_sink import MailSink

        sink = MailSink(directory=self.settings.mail_dir, port=_smtp_port(self.settings))
        sink.start()
        self._sink = sink

    def _start_web(self) -> None:
        import uvicorn

        from deployments.prefect_api import wake_for_decision
        from nastavnik.db import get_engine
        from nastavnik.web import create_app

        app = create_app(settings=self.settings, engine=get_engine(), resume=wake_for_decision)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.settings.web_port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="web", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        self._web, self._web_thread = server, thread
        while not server.started and time.monotonic() < deadline:
            self._pause(0.05)

    def stop(self) -> None:
        """Stop everything, children first; nothing is left running, whatever fails on the way."""
        try:
            if self._web is not None:
                self._web.should_exit = True  # type: ignore[attr-defined]
                if self._web_thread is not None:
                    self._web_thread.join(timeout=10)
                self._web = None
        finally:
            try:
                if self._sink is not None:
                    self._sink.stop()  # type: ignore[attr-defined]
                    self._sink = None
            finally:
                self._stop_processes()

    def _stop_processes(self) -> None:
        # Each process leads its own group (start_new_session): the group also holds what it
        # started itself (the runner's fork server and flow-run processes, the server's workers).
        for process in reversed(self.processes):
            _signal_group(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            deadline = time.monotonic() + 5
            while _signal_group(process.pid, 0) and time.monotonic() < deadline:
                time.sleep(0.1)
            _signal_group(process.pid, signal.SIGKILL)
        self.processes.clear()

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_interrupt(stop: StopRequest | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (or until ``stop``, from install_stop_signals, is set)."""
    (stop or install_stop_signals()).wait()
