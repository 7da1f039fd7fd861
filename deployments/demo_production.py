"""`nastavnik demo --department --postgres`: the department's year on the production layout,
with a worker's machine lost and the SMTP relay down along the way (issue 11 §2, §5).

The layout is deployments/production.py's: Prefect's and the application's databases on the
PostgreSQL server (made anew for the demo), the Prefect server, process workers each running
one flow at a time, the web app under uvicorn; the local SMTP sink stands in for the relay.
Two faults are part of the script:

- **a worker's machine is lost** in the middle of a run: the worker, its warm launcher and the
  run's process are killed at once (SIGKILL). So that the run is caught mid-run on a machine of
  any speed (a fast one runs each of the pairing run's stretches in under a second), the demo
  holds the pairing constraints' table locked from the morning the stage starts: the run waits
  in its matching step, Running, until its machine is lost; the lock is let go right after.
  The layout's supervisor starts the worker again, as compose's ``restart: unless-stopped`` or
  systemd would. The orphaned run stays Running until its heartbeats stop and Prefect's crash
  detection (the automation the layout installs) marks it Crashed; the year then continues it
  as the same run, so its finished tasks come back cached and its documents and e-mails, found
  by their keys, are not made again.
- **the SMTP relay is down** for a while: every e-mail tried then fails transiently and waits
  in the outbox (next attempt in 1 min, 5 min, 15 min …); stages go on; the
  ``retry-deliveries`` schedule (every minute) sends them once the relay is back. The demo
  holds the relay down for ``RELAY_OUTAGE_SECONDS`` so the year fits in CI; a ten-minute outage
  meets the same path (attempts at 0, 1, 6 and 21 minutes).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from rich.console import Console

from deployments.production import ProductionConfig, ProductionStack
from models import OutboxMessage, OutboxStatus, PairingConstraint
from nastavnik.db import session_scope
from nastavnik.settings import Settings, get_settings
from nastavnik.smtp_sink import MailSink

DEFAULT_DATABASES = ("nastavnik_demo_prefect", "nastavnik_demo")
# In November's pairing stage: a worker's machine is lost while it renders the programmes.
WORKER_LOST, TARGET_STAGE = date(2026, 11, 1), "pairing"
# The department's November requests and the organisations' reports go out with the relay down.
RELAY_DOWN = date(2026, 11, 2)
RELAY_OUTAGE_SECONDS = 30.0
# A run counts as working once it has been Running this long (not one about to suspend).
RUN_WORKING_SECONDS = 3.0
# The table the pairing run reads in its matching step and nothing else reads that day: held
# locked, it keeps the run Running (waiting on the database) until the worker is lost.
HELD_TABLE = str(PairingConstraint.__tablename__)


@dataclass
class DemoLayout:
    """The production layout the demo runs on, and the relay standing in for a real one."""

    config: ProductionConfig
    stack: ProductionStack
    sink: MailSink

    def stop(self) -> None:
        """Stop every process of the layout and the relay (the databases stay for a look)."""
        try:
            self.stack.stop()
        finally:
            self.sink.stop()


def start_layout(
    *,
    settings: Settings,
    postgres: str,
    workers: int,
    databases: tuple[str, str] = DEFAULT_DATABASES,
) -> DemoLayout:
    """Make the demo's two databases anew, then start the layout; this process talks to them."""
    from deployments.production import create_databases, drop_databases
    from nastavnik.clock import process_clock

    prefect_database, app_database = databases
    config = ProductionConfig.on_ports_of(
        settings,
        postgres=postgres,
        prefect_database=prefect_database,
        app_database=app_database,
        workers=workers,
        worker_limit=1,
        web_workers=1,
    )
    drop_databases(config)  # a demo starts from nothing, as on a fresh data directory
    create_databases(config)
    stack = ProductionStack(config, extra_environment={"NASTAVNIK_CLOCK": "simulated"})
    # Prefect reads its settings when first imported in this process, which is after this.
    os.environ.update(stack.environment)
    get_settings.cache_clear()
    process_clock.cache_clear()
    port = int(settings.smtp_url.rsplit(":", 1)[-1].split("/")[0])
    sink = MailSink(directory=settings.mail_dir, port=port).start()
    try:
        stack.start()
    except BaseException:
        sink.stop()
        raise
    return DemoLayout(config=config, stack=stack, sink=sink)


@dataclass
class Faults:
    """The two scripted faults; what happened is told through ``say`` as it happens."""

    layout: DemoLayout
    say: Callable[[str], None]
    relay_outage_seconds: float = RELAY_OUTAGE_SECONDS
    happened: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def actions(self) -> dict[date, list[Callable[[], str]]]:
        """The faults as the department's scripted actions."""
        return {WORKER_LOST: [self.lose_a_worker_mid_run], RELAY_DOWN: [self.relay_down]}

    def _background(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def lose_a_worker_mid_run(self) -> str:
        """From now on, the worker of the first pairing run seen working loses its machine.

        The table the run's matching step reads is locked before the day's runs start (this
        is a scripted action of the morning), so the run waits there, Running, whatever the
        machine's speed; the lock is let go once the worker is lost (or the watch gave up)."""
        import psycopg

        hold = psycopg.connect(
            self.layout.config.database_url(self.layout.config.app_database), autocommit=False
        )
        hold.execute(f"LOCK TABLE {HELD_TABLE} IN ACCESS EXCLUSIVE MODE")

        def watch() -> None:
            try:
                self._watch_and_lose()
            finally:
                hold.rollback()
                hold.close()

        self._background(watch)
        return (
            "сбой: машина исполнителя будет потеряна посреди ближайшего запуска этапа "
            f"«{TARGET_STAGE}»"
        )

    def _working_run(self) -> tuple[int, str] | None:
        """(worker number, run name) of a run of the target stage that has been Running for
        a while (a long one: the personal programmes are rendered then), if any."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        running = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=running))
        for run in runs:
            if f"· {TARGET_STAGE}" not in (run.name or "") or not run.infrastructure_pid:
                continue
            assert run.state is not None
            if (datetime.now(UTC) - run.state.timestamp).total_seconds() < RUN_WORKING_SECONDS:
                continue
            pid = int(str(run.infrastructure_pid).rsplit(":", 1)[-1])
            number = self.layout.stack.worker_of(pid)
            if number is not None:
                return number, run.name
        return None

    def _watch_and_lose(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self._working_run()
            if found is not None:
                number, name = found
                killed = self.layout.stack.lose_worker(number)
                self._tell(
                    f"исполнитель {number} потерян вместе с запуском «{name}» (убито процессов: "
                    f"{len(killed)}); супервизор запускает его заново"
                )
                return
            time.sleep(0.5)
        self._tell("сбой исполнителя не случился: за 10 минут ни одного подходящего запуска")

    def relay_down(self) -> str:
        """Stop the relay; it comes back after ``relay_outage_seconds``."""
        self.layout.sink.stop()
        self.happened.append(f"SMTP-релей остановлен на {self.relay_outage_seconds:.0f} с")

        def come_back() -> None:
            time.sleep(self.relay_outage_seconds)
            self.layout.sink.start()
            self._tell("SMTP-релей снова доступен: письма уйдут при повторной отправке")

        self._background(come_back)
        return f"сбой: SMTP-релей недоступен {self.relay_outage_seconds:.0f} с"

    def _tell(self, line: str) -> None:
        self.happened.append(line)
        self.say(line)

    def join(self, timeout: float = 60) -> None:
        """Wait for the faults' threads (the relay must be back before the year's end)."""
        for thread in self._threads:
            thread.join(timeout)


def wait_for_outbox(timeout: float = 600) -> int:
    """Wait until no e-mail waits for a (re)try (the retry schedule sends what the relay
    refused); returns how many still wait when the time is up."""
    from sqlmodel import col, func, select

    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            waiting = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.status).in_([OutboxStatus.pending, OutboxStatus.retrying]))
            ).one()
        if not waiting or time.monotonic() > deadline:
            return int(waiting)
        time.sleep(2)


def print_faults(console: Console, faults: Faults) -> None:
    """What the faults did, at the end of the demo."""
    console.rule("Сбои")
    for line in faults.happened:
        console.print(line)
    for name in faults.layout.stack.restarts:
        console.print(f"супервизор запустил заново: {name}")
