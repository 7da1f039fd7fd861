"""Flow runs of a process worker forked from a warm process instead of a fresh interpreter.

A process worker starts every run as ``python -m prefect.engine``: the new interpreter imports
Prefect, the application's models and the flow module again, seconds on a 2-core machine and
most of the time between an approval and the resumed run's Running. As the embedded runner does
(deployments/serve.py), a launcher imports them once and forks each run from itself:

- ``python -m deployments.warm_engine serve SOCKET`` — the launcher, one per worker (started
  beside it by ``nastavnik prod up --warm-engine``);
- ``python -m deployments.warm_engine run`` — the work pool's command: a small client that passes
  its environment, working directory and standard streams to the launcher, relays signals to
  the forked run and exits with its status. Without a launcher it becomes
  ``python -m prefect.engine`` itself, so a run never depends on the launcher being up.

The client imports nothing but the standard library (``deployments/__init__.py`` is empty).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

SOCKET_ENV = "NASTAVNIK_WARM_ENGINE_SOCKET"
# What the launcher imports before forking, as the embedded runner's fork server does
# (deployments/serve.py): the PostgreSQL driver (≈0.1 s a process), WeasyPrint and the other
# heavy libraries the stages use (most runs of a school's year render a document: ≈1 s each
# for the import and the first PDF), then deployments.warm, which configures the mappers,
# compiles the templates and renders a first document. ProductionStack.wait_healthy waits for
# the launchers, so the layout's first runs find them ready.
PRELOAD = (
    "prefect.flow_engine",
    "prefect.deployments.steps",
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
    "weasyprint",
    "openpyxl",
    "numpy",
    "ortools.graph.python.min_cost_flow",
    "models",
    "deployments.warm",
)


def _engine() -> None:
    os.execv(sys.executable, [sys.executable, "-m", "prefect.engine", *sys.argv[2:]])


def run() -> None:
    """The work pool's command: the run forked by the launcher, or the engine itself."""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        _engine()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)  # type: ignore[arg-type]
    except OSError:
        _engine()
    request = {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[2:]}
    socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    stream = connection.makefile("r")
    pid = int(stream.readline())

    def relay(number: int, _frame: Any) -> None:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, relay)
    status = stream.readline()
    sys.exit(int(status) if status.strip() else 1)


def _run_engine(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked run: the client's streams, directory and environment, then the engine."""
    import runpy

    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["prefect.engine", *request["argv"]]
    code = 0
    sys.modules.pop("prefect.engine", None)  # run as __main__, as `python -m` does
    try:
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _serve_one(connection: socket.socket) -> None:
    """In a child of the launcher: fork the run, tell the client its pid, then its status."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not message.endswith(b"\n"):
        message += connection.recv(1 << 20)
    request = json.loads(message)
    os.setsid()  # the run and this child leave the launcher's group, as a worker's runs do
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run_engine(request, fds)
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    print(f"forked run process {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    connection.sendall(f"{code if code >= 0 else 128 - code}\n".encode())


def serve(path: str) -> None:
    """The launcher: import once, then fork a child per client connection until stopped."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    from deployments.catalog import DEPLOYMENTS

    for spec in DEPLOYMENTS:
        spec.load_flow()
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"warm engine launcher ready on {path}", flush=True)
    try:
        while True:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    _serve_one(connection)
                finally:
                    os._exit(0)
            connection.close()
            while True:  # reap finished children without blocking
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        run()
