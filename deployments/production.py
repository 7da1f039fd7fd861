"""The production layout on one machine's PostgreSQL: Prefect server, process workers, web app.

The same flows as the embedded stack (`nastavnik up`), deployed from ``prefect.yaml`` to a
process work pool instead of served by one runner:

- two databases on one PostgreSQL server, Prefect's and the application's, kept apart;
- the application's Alembic migrations applied before anything else starts;
- ``prefect server start`` with ``PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://…``;
- the process work pool, ``prefect deploy --all``, N process workers (``deployments/worker.py``:
  Prefect's, polling when the server's events say a run is startable), each limited to one
  concurrent run when asked;
- the web app (``nastavnik.web.create_app``) under uvicorn with several worker processes;
- mail through whatever relay ``NASTAVNIK_SMTP_URL`` names; health checks on both HTTP services.

``compose.yaml`` at the repository root runs the same pieces in containers.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deployments.loopback_tls import client_tls_environment
from nastavnik.settings import Settings

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
WORK_POOL = "nastavnik"
# Every process of one layout carries this variable (the flow-run processes a worker starts
# inherit it too, though they lead sessions of their own): stopping finds them all by it.
MARKER_ENV = "NASTAVNIK_PRODUCTION_ID"
# Seconds at least between a worker's queries for runs to start. Prefect's default is 10 s: a
# resumed run (state Resuming, a Scheduled state) waited for it. The layout's workers
# (deployments/worker.py) query when the server's events say a run is startable or one of their
# runs ended, and at the latest every WORKER_FALLBACK_SECONDS: polling every half second cost the
# Prefect server ≈6 CPU-seconds a minute with two idle workers.
WORKER_QUERY_SECONDS = 0.5
WORKER_FALLBACK_SECONDS = 5.0
# Seconds before its scheduled time a worker takes a run (Prefect's default is 10 s, to hide a
# slow infrastructure's start). A run taken early holds its worker's one slot until the server
# lets it start at the scheduled time: measured in bench/department.py, each minute's
# retry-deliveries run sat ≈9 s between Submitting and Running while stage runs queued behind
# it. A warm launcher starts a run in ≈0.4 s: one second ahead is enough.
WORKER_PREFETCH_SECONDS = 1
# Seconds between a flow run's heartbeat events (Prefect's minimum; its default is 180 s). A run
# whose process died with its machine stops sending them; the automation below marks it Crashed.
HEARTBEAT_SECONDS = 30
CRASH_DETECTION = "nastavnik: crash runs that stopped sending heartbeats"
# Flow modules import Prefect, SQLModel, Jinja… once; compiled bytecode makes each run's process
# start faster (these machines set PYTHONDONTWRITEBYTECODE, so nothing else compiles it).
SOURCE_PACKAGES = ("nastavnik", "models", "tasks", "flows", "deployments")


@dataclass(frozen=True)
class ProductionConfig:
    """Where the pieces of the production layout live and how many there are."""

    settings: Settings
    postgres: str = DEFAULT_POSTGRES  # server URL without a database name
    prefect_database: str = "prefect"
    app_database: str = "nastavnik"
    host: str = "127.0.0.1"
    prefect_port: int = 4200
    web_port: int = 8470
    workers: int = 2
    worker_limit: int | None = 1  # concurrent runs per worker; None: no limit
    web_workers: int = 2
    work_pool: str = WORK_POOL
    query_seconds: float = WORKER_QUERY_SECONDS
    # Workers poll when the server's events say a run is startable (deployments/worker.py),
    # at the latest every worker_fallback_seconds; False: Prefect's `prefect worker start`,
    # polling every query_seconds.
    woken_workers: bool = True
    worker_fallback_seconds: float = WORKER_FALLBACK_SECONDS
    # Start each run with `python -m prefect.engine` (False: Prefect's supervisor, then engine).
    direct_engine: bool = True
    # Fork each run from a warm launcher beside its worker (deployments/warm_engine.py):
    # measured, approval → Running 4.1 s median instead of 22 s with a fresh engine per run
    # (on a loaded machine; 0.84 s on a quiet one with the event-woken workers).
    warm_engine: bool = True

    @classmethod
    def on_ports_of(
        cls,
        settings: Settings,
        *,
        postgres: str,
        prefect_database: str,
        app_database: str,
        **options: Any,
    ) -> ProductionConfig:
        """The layout with the settings' Prefect and web ports."""
        return cls(
            settings=settings,
            postgres=postgres,
            prefect_database=prefect_database,
            app_database=app_database,
            prefect_port=settings.prefect_port,
            web_port=settings.web_port,
            **options,
        )

    def database_url(self, name: str, driver: str = "postgresql") -> str:
        """A URL for one database of the server, with the given SQLAlchemy driver."""
        scheme, rest = self.postgres.rstrip("/").split("://", 1)
        assert scheme.startswith("postgres"), f"not a PostgreSQL URL: {self.postgres}"
        return f"{driver}://{rest}/{name}"

    @property
    def prefect_database_url(self) -> str:
        """Prefect's server database, through asyncpg (installed with Prefect)."""
        return self.database_url(self.prefect_database, "postgresql+asyncpg")

    @property
    def app_database_url(self) -> str:
        """The application's database, through psycopg 3."""
        return self.database_url(self.app_database, "postgresql+psycopg")

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"


def environment(config: ProductionConfig) -> dict[str, str]:
    """Environment of every process of the layout (server, workers and their runs, web)."""
    settings = config.settings
    data_dir = settings.data_dir.resolve()
    secret = settings.approval_secret().decode()
    return client_tls_environment(config.prefect_api_url, data_dir / "prefect") | {
        "PREFECT_HOME": str(data_dir / "prefect"),
        "PREFECT_API_URL": config.prefect_api_url,
        "PREFECT_UI_API_URL": config.prefect_api_url,
        "PREFECT_API_DATABASE_CONNECTION_URL": config.prefect_database_url,
        "PREFECT_SERVER_API_HOST": config.host,
        "PREFECT_SERVER_API_PORT": str(config.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": str(config.query_seconds),
        "PREFECT_WORKER_PREFETCH_SECONDS": str(WORKER_PREFETCH_SECONDS),
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NASTAVNIK_CODE_DIR": str(PROJECT_ROOT),  # prefect.yaml's pull step goes there
        "NASTAVNIK_DATA_DIR": str(data_dir),
        "NASTAVNIK_DATABASE_URL": config.app_database_url,
        "NASTAVNIK_SMTP_URL": settings.smtp_url,
        "NASTAVNIK_WEB_BASE_URL": settings.web_base_url,
        "NASTAVNIK_SECRET_KEY": secret,
    }


def _admin_connection(config: ProductionConfig) -> Any:
    import psycopg

    return psycopg.connect(config.database_url("postgres"), autocommit=True, connect_timeout=5)


def postgres_reachable(postgres: str = DEFAULT_POSTGRES) -> bool:
    """Whether the PostgreSQL server answers (tests skip without it)."""
    import psycopg

    try:
        with psycopg.connect(f"{postgres.rstrip('/')}/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def create_databases(config: ProductionConfig) -> list[str]:
    """Create Prefect's and the application's databases where missing; return those created."""
    from psycopg import sql

    created = []
    with _admin_connection(config) as connection:
        for name in (config.prefect_database, config.app_database):
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def drop_databases(config: ProductionConfig) -> None:
    """Drop both databases (tests and benches use throwaway names)."""
    from psycopg import sql

    with _admin_connection(config) as connection:
        for name in (config.prefect_database, config.app_database):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def migrate_application(config: ProductionConfig) -> None:
    """Apply the application's Alembic migrations to its database."""
    from nastavnik.db import make_engine, migrate

    engine = make_engine(config.app_database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def compile_bytecode() -> None:
    """Compile the project's modules once, so no run's process compiles them again."""
    import compileall

    for package in SOURCE_PACKAGES:
        compileall.compile_dir(PROJECT_ROOT / package, quiet=1, workers=1)


def work_pool_template(
    default: dict[str, Any], python: str = sys.executable, *, warm: bool = False
) -> dict[str, Any]:
    """The process pool's job template, starting each run with ``python -m prefect.engine``.

    Without a command, Prefect 3.8.8's process worker starts a workspace supervisor interpreter
    that prepares the run and then replaces itself with ``python -m prefect.engine``: two
    interpreter starts, each importing Prefect (seconds here). The engine runs the deployment's
    pull step (``set_working_directory``) and imports the flow itself, so one start is enough.
    ``default`` is Prefect's own template (``prefect work-pool get-default-base-job-template``).
    ``warm``: the run is forked from a warm launcher (deployments/warm_engine.py) where a worker
    has one, else the same engine command.
    """
    template = json.loads(json.dumps(default))
    module = "deployments.warm_engine run" if warm else "prefect.engine"
    template["variables"]["properties"]["command"]["default"] = f"{python} -m {module}"
    return template


def crash_detection_automation(within_seconds: int = 3 * HEARTBEAT_SECONDS) -> dict[str, Any]:
    """Prefect's documented detection of "zombie" runs (docs: detect-zombie-flows), for a run
    whose process died without a word — its worker's machine lost, the kernel's OOM killer: after a
    heartbeat, expect another one or the run's end within ``within_seconds``, else mark it
    Crashed. A crashed run is continued as the same run (``nastavnik runs retry``, the simulated
    year). Suspended and Paused count as an end: a run waiting for a decision has no process."""
    ends = ("Completed", "Failed", "Cancelled", "Crashed", "Suspended", "Paused")
    return {
        "name": CRASH_DETECTION,
        "description": "A flow run that stopped sending heartbeats is marked Crashed.",
        "enabled": True,
        "trigger": {
            "type": "event",
            "posture": "Proactive",
            "after": ["prefect.flow-run.heartbeat"],
            "expect": ["prefect.flow-run.heartbeat", *(f"prefect.flow-run.{e}" for e in ends)],
            "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": within_seconds,
        },
        "actions": [
            {
                "type": "change-flow-run-state",
                "state": "CRASHED",
                "message": f"No heartbeat for {within_seconds} s: the run's process is gone.",
            }
        ],
    }


def ensure_crash_detection(api_url: str) -> bool:
    """Create the crash-detection automation unless the server has it; True when created."""
    found = httpx.post(
        f"{api_url}/automations/filter",
        json={"automations": {"name": {"any_": [CRASH_DETECTION]}}},
        timeout=30,
    )
    found.raise_for_status()
    if any(a["name"] == CRASH_DETECTION for a in found.json()):
        return False
    created = httpx.post(f"{api_url}/automations/", json=crash_detection_automation(), timeout=30)
    created.raise_for_status()
    return True


def health(config: ProductionConfig, timeout: float = 3) -> dict[str, bool]:
    """Whether Prefect's ``/api/health`` and the web app's ``/healthz`` answer 200."""
    checks = {"prefect": f"{config.prefect_api_url}/health", "web": f"{config.web_url}/healthz"}
    result = {}
    for name, url in checks.items():
        try:
            result[name] = httpx.get(url, timeout=timeout).status_code == 200
        except httpx.HTTPError:
            result[name] = False
    return result


def web_app() -> Any:
    """The web app as uvicorn's factory (``--factory deployments.production:web_app``) builds it
    in each of its worker processes, from the environment's settings."""
    from deployments.prefect_api import wake_for_decision
    from nastavnik.db import get_engine
    from nastavnik.settings import get_settings
    from nastavnik.web import create_app

    return create_app(settings=get_settings(), engine=get_engine(), resume=wake_for_decision)


def _signal_group(group: int, number: int) -> bool:
    """Send a signal to a process group; False when the group has no process left."""
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left
        return True
    return True


def _parent(pid: int) -> int:
    """The parent's pid, 0 when the process is gone (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # The command name in parentheses may hold spaces: the fields after its last ")" are fixed.
    return int(stat.rsplit(")", 1)[1].split()[1])


def marked_processes(marker: str) -> list[int]:
    """Ids of the live processes whose environment carries this layout's marker (Linux)."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "\nState:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class ProductionStack:
    """Starts the production layout's processes here, and stops every one of them."""

    config: ProductionConfig
    # Extra environment for every process (the bench and the tests add theirs).
    extra_environment: dict[str, str] = field(default_factory=dict)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Workers started again after they exited on their own (what the supervisor did).
    restarts: list[str] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _supervising: threading.Event = field(default_factory=threading.Event)

    @property
    def logs_dir(self) -> Path:
        return self.config.settings.data_dir.resolve() / "logs"

    @property
    def environment(self) -> dict[str, str]:
        return environment(self.config) | self.extra_environment | {MARKER_ENV: self.marker}

    def prepare(self) -> None:
        """Databases and migrations: what must exist before any process starts."""
        created = create_databases(self.config)
        if created:
            logger.info("created databases %s", created)
        migrate_application(self.config)
        compile_bytecode()

    def start(self, *, deploy: bool = True) -> None:
        """Prepare, then start the server, pool and deployments, workers and web; wait healthy."""
        try:
            self.prepare()
            self.start_server()
            if deploy:
                self.deploy()
            for number in range(1, self.config.workers + 1):
                self.start_worker(number)
            self.start_web()
            self.wait_healthy()
            self.supervise()
        except BaseException:
            self.stop()
            raise

    def supervise(self, every: float = 1.0) -> None:
        """Start again, in a background thread, any worker (or its launcher) that exits on its
        own — as compose's ``restart: unless-stopped`` does: a worker lost with its machine,
        or one that stopped on an error of its own (Prefect 3.8.8's process worker can stop on
        a resumed run it still counts against its limit)."""
        self._supervising.set()

        def watch() -> None:
            while self._supervising.is_set():
                for number in range(1, self.config.workers + 1):
                    with self._lock:
                        if not self._supervising.is_set():
                            return
                        names = [f"worker-{number}"]
                        if self.config.warm_engine:
                            names.append(f"warm-engine-{number}")
                        gone = [
                            n
                            for n in names
                            if n not in self.processes or self.processes[n].poll() is not None
                        ]
                        if gone:
                            for name in names:  # the pair is started together
                                process = self.processes.pop(name, None)
                                if process is not None and process.poll() is None:
                                    _signal_group(process.pid, signal.SIGKILL)
                                    process.wait(timeout=10)
                            logger.warning("worker %s exited (%s): started again", number, gone)
                            self.restarts.append(f"worker-{number}")
                            self.start_worker(number)
                time.sleep(every)

        threading.Thread(target=watch, name="supervisor", daemon=True).start()

    def _spawn(
        self, name: str, command: list[str], extra: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log = (self.logs_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=os.environ | self.environment | (extra or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def _prefect(self, *arguments: str, timeout: float = 300) -> str:
        """Run a Prefect CLI command against this layout's server; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", *arguments],
            cwd=PROJECT_ROOT,
            env=os.environ | self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start_server(self, timeout: float = 180) -> None:
        """The Prefect server on PostgreSQL (it migrates its own database on start)."""
        config = self.config
        server = self._spawn(
            "prefect-server",
            [sys.executable, "-m", "prefect", "server", "start", "--host", config.host]
            + ["--port", str(config.prefect_port)],
        )
        self._wait_for(f"{config.prefect_api_url}/health", server, timeout)

    def deploy(self, names: tuple[str, ...] = ()) -> None:
        """The process work pool (one engine start per run) and every deployment of prefect.yaml
        (or only those ``names``)."""
        pool = ["work-pool", "create", self.config.work_pool, "--type", "process", "--overwrite"]
        with tempfile.TemporaryDirectory(prefix="nastavnik-pool-") as scratch:
            if self.config.direct_engine:
                # Prefect's default template from its CLI: this process does not import Prefect,
                # whose settings (the API URL) are fixed at import, maybe before a caller sets them.
                default, ours = Path(scratch) / "default.json", Path(scratch) / "pool.json"
                self._prefect(
                    *("work-pool", "get-default-base-job-template", "--type", "process"),
                    *("--file", str(default)),
                )
                ours.write_text(
                    json.dumps(
                        work_pool_template(
                            json.loads(default.read_text()), warm=self.config.warm_engine
                        )
                    )
                )
                pool += ["--base-job-template", str(ours)]
            self._prefect(*pool)
        which = [f"--name={name}" for name in names] or ["--all"]
        self._prefect("deploy", *which, timeout=600)
        ensure_crash_detection(self.config.prefect_api_url)

    def start_worker(self, number: int) -> None:
        """One process worker on the pool, limited to ``worker_limit`` concurrent runs."""
        if self.config.woken_workers:
            # Prefect's process worker, polling when a run becomes startable.
            command = [sys.executable, "-m", "deployments.worker", "--pool", self.config.work_pool]
            command += ["--fallback-seconds", str(self.config.worker_fallback_seconds)]
        else:
            command = [sys.executable, "-m", "prefect", "worker", "start", "--type", "process"]
            command += ["--pool", self.config.work_pool]
        command += ["--name", f"worker-{number}-{self.marker[:8]}"]
        if self.config.worker_limit:
            command += ["--limit", str(self.config.worker_limit)]
        extra = {}
        if self.config.warm_engine:
            from deployments.warm_engine import SOCKET_ENV

            # In the temporary directory: a socket's path must stay under 108 bytes.
            path = Path(tempfile.gettempdir()) / f"nastavnik-{self.marker[:12]}-{number}.sock"
            self._spawn(
                f"warm-engine-{number}",
                [sys.executable, "-m", "deployments.warm_engine", "serve", str(path)],
            )
            extra[SOCKET_ENV] = str(path)
        self._spawn(f"worker-{number}", command, extra)

    def worker_processes(self, number: int) -> list[int]:
        """Worker ``number``'s processes: the worker, its warm launcher, and the runs it started
        (forked by the launcher, each leading a session of its own)."""
        roots = {
            process.pid
            for name, process in self.processes.items()
            if name in (f"worker-{number}", f"warm-engine-{number}") and process.poll() is None
        }
        found = set(roots)
        for pid in marked_processes(self.marker):
            chain: list[int] = []
            current = pid
            while current > 1 and current not in found and len(chain) < 16:
                chain.append(current)
                current = _parent(current)
            if current in found:
                found.update(chain)
        return sorted(found)

    def worker_of(self, pid: int) -> int | None:
        """The number of the worker this process belongs to, if any."""
        for number in range(1, self.config.workers + 1):
            if pid in self.worker_processes(number):
                return number
        return None

    def lose_worker(self, number: int) -> list[int]:
        """Kill worker ``number`` with everything it runs at once (SIGKILL: its machine is
        lost); returns the pids killed. Its runs are left Running until the crash detection
        marks them Crashed."""
        with self._lock:  # the supervisor starts it again afterwards, not half-way
            killed = self.worker_processes(number)
            for pid in killed:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for name in (f"worker-{number}", f"warm-engine-{number}"):
                process = self.processes.get(name)
                if process is not None:
                    process.wait(timeout=10)
        return killed

    def start_web(self) -> None:
        """The web app under uvicorn with ``web_workers`` processes."""
        config = self.config
        self._spawn(
            "web",
            [sys.executable, "-m", "uvicorn", "--factory", "deployments.production:web_app"]
            + ["--host", config.host, "--port", str(config.web_port)]
            + ["--workers", str(config.web_workers), "--log-level", "warning"],
        )

    def _wait_for(self, url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited; see the logs in {self.logs_dir}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")

    def wait_healthy(self, timeout: float = 120) -> None:
        """Until both health checks answer, every warm launcher listens and every worker is
        still running (a run that comes before its worker's launcher listens starts cold)."""
        self._wait_for(f"{self.config.web_url}/healthz", self.processes["web"], timeout)
        deadline = time.monotonic() + timeout
        for name, process in list(self.processes.items()):
            if not name.startswith("warm-engine-"):
                continue
            log = self.logs_dir / f"{name}.log"
            while "launcher ready on" not in (log.read_text() if log.exists() else ""):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} is not listening; see {log}")
                time.sleep(0.1)
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.logs_dir / (name + '.log')}")

    def stop(self, timeout: float = 20) -> None:
        """Stop web, workers, then the server; then whatever they started and left behind."""
        with self._lock:
            self._supervising.clear()  # nothing is started again from now on
        # One after another, so that workers still reach the server while they stop.
        for process in reversed(self.processes.values()):
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            _signal_group(process.pid, signal.SIGKILL)
        self.processes.clear()
        # Flow-run processes lead sessions of their own, out of their worker's group.
        deadline = time.monotonic() + 10
        while (left := marked_processes(self.marker)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM if time.monotonic() < deadline - 5 else 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)

    def __enter__(self) -> ProductionStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def shell_environment(config: ProductionConfig) -> Iterator[str]:
    """``export NAME=value`` lines for a shell that runs the pieces by hand."""
    import shlex

    for name, value in environment(config).items():
        if name == "NASTAVNIK_SECRET_KEY":  # a secret is not printed; every process reads it
            yield f"# {name}: set it, or every process reads {config.settings.data_dir}/secret_key"
            continue
        yield f"export {name}={shlex.quote(value)}"
