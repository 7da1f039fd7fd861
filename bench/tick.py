"""The deployed daily tick for a department of N organisations: wall, task runs and CPU per day.

Brings up the production layout (deployments/production.py: Prefect server and application
database on PostgreSQL 127.0.0.1:5432 in throwaway databases, `prefect deploy --all`), pauses its
work pool so that the stage runs the tick starts stay scheduled (only the tick is measured),
creates the department of `bench/department.py` with N member schools, each cycle's plan from
its roadmap, and then runs the `cycle-tick` flow (flows/cycle.py) in this process for each of
the first days of the year 2026/2027 on the stored clock. Printed per day:

  wall        seconds of the tick's flow run
  task runs   the tick's task runs, as the Prefect server recorded them
  CPU         seconds of the Prefect server, and of this process with its children (the tick's
              own work, the organisations' days in their processes)

The first day starts the preparation stage for every organisation (batch runs of ≤ 10); the
days after it bring the plans up to date and queue what falls due.

Run: uv run python bench/tick.py [--organisations 50] [--days 3]

Measured 2026-12-02 10:37–10:45, this machine, one bench at a time, 50 schools + the department
(51 cycles): e64d46f (a task run per cycle and step; this script copied into a git worktree)
and 8a0a85f (the cycles' days in one task run, side by side in two processes), new, old, new:

                        e64d46f                      8a0a85f (second run; first run)
  2026-08-01  wall      10.2 s                       4.2 s (6.3 s)
              task runs 508                          6
              CPU       server 12.6 s, tick 6.1 s    server 1.2 s (2.2), tick 4.3 s (6.7)
  2026-08-02  wall      10.1 s                       3.1 s (5.1 s)
              task runs 358                          5
              CPU       server 12.9 s, tick 5.7 s    server 0.9 s (1.8), tick 3.5 s (5.5)
  2026-08-03  wall      10.1 s                       3.1 s (4.1 s)
              task runs 358                          5
              CPU       server 12.5 s, tick 5.2 s    server 0.6 s (1.0), tick 4.2 s (6.2)

A day's tick for fifty schools: 1.6–3.3× shorter, 70× fewer task runs, the Prefect server's
CPU 6–20× less (≈ 12.5 CPU-s a day before: ≈ 4 600 CPU-s and 130 000 task runs a year, now
≈ 250–800 CPU-s and ≈ 2 000 task runs). The tick's own CPU stays about the same: the two day
processes it spawns cost ≈ 1 CPU-s each to start (imports), what the task runs' bookkeeping
cost in the tick's process before. At 500 schools the old tick would have made ≈ 3 600 task
runs a day; now still 5–7, with the days spread over the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from department import (  # noqa: E402 (the department bench's organisations and helpers)
    DEPARTMENT_ROADMAP,
    PROJECT_ROOT,
    SCHOOL_ROADMAP,
    _free_port,
    _log,
    member,
)

FIRST_DAY = date(2026, 8, 1)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """This process's CPU seconds and its ended children's (the day processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _task_run_names(flow_run_id: Any) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    names: list[str] = []
    async with get_client() as client:
        while True:  # the server answers at most 200 a request
            page = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=200,
                offset=len(names),
            )
            names += [run.name.rsplit("-", 1)[0] for run in page]
            if len(page) < 200:
                return sorted(names)


def _recorded_task_runs(flow_run_id: Any) -> list[str]:
    """The tick's task runs once the server's count stops growing (it records their events)."""
    names: list[str] = []
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < 2.0:
        time.sleep(0.25)
        latest = asyncio.run(_task_run_names(flow_run_id))
        if len(latest) != len(names):
            names, stable_since = latest, time.monotonic()
    return names


async def _pause_pool(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    async with get_client() as client:
        await client.update_work_pool(name, WorkPoolUpdate(is_paused=True))


def measure(organisations: int, days: int) -> list[dict[str, Any]]:
    """In this process: the layout, the department and its members, then the ticks."""
    from deployments.production import (
        ProductionConfig,
        ProductionStack,
        create_databases,
        drop_databases,
    )
    from nastavnik.settings import get_settings
    from nastavnik.smtp_sink import MailSink

    suffix = os.urandom(4).hex()
    settings = get_settings()
    config = ProductionConfig(
        settings=settings,
        prefect_database=f"bench_prefect_{suffix}",
        app_database=f"bench_nastavnik_{suffix}",
        prefect_port=settings.prefect_port,
        web_port=settings.web_port,
        workers=1,
        worker_limit=1,
    )
    create_databases(config)
    stack = ProductionStack(config, extra_environment={"NASTAVNIK_CLOCK": "simulated"})
    os.environ.update(stack.environment)  # before Prefect is first imported here
    get_settings.cache_clear()
    sink = MailSink(
        directory=settings.mail_dir,
        port=int(settings.smtp_url.rsplit(":", 1)[-1]),
        keep_messages=False,
    ).start()
    try:
        stack.start()
        asyncio.run(_pause_pool(config.work_pool))
        return _ticks(stack, organisations, days)
    finally:
        stack.stop()
        sink.stop()
        drop_databases(config)


def _ticks(stack: Any, organisations: int, days: int) -> list[dict[str, Any]]:
    from deployments.demo import start_demo_cycle, use_simulated_clock
    from deployments.demo_department import DEPARTMENT_ORG, upsert_department
    from flows.cycle import cycle_tick
    from nastavnik.clock import StoredClock
    from nastavnik.db import get_engine

    use_simulated_clock()
    members = [member(number) for number in range(1, organisations + 1)]
    upsert_department(members=members, kinds={m["code"]: "school" for m in members})
    start_demo_cycle(DEPARTMENT_ORG["code"], DEPARTMENT_ROADMAP)
    for organization in members:
        start_demo_cycle(organization["code"], SCHOOL_ROADMAP)
    server = stack.processes["prefect-server"].pid
    clock = StoredClock(get_engine())
    results = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        clock.set_day(day)
        server_before, own_before = _cpu_seconds(server), _own_cpu_seconds()
        began = time.perf_counter()
        state = cycle_tick(day=day, return_state=True)
        wall = time.perf_counter() - began
        names = _recorded_task_runs(state.state_details.flow_run_id)
        result = {
            "day": day.isoformat(),
            "state": state.type.value,
            "wall": wall,
            "task_runs": len(names),
            "kinds": {name: names.count(name) for name in sorted(set(names))},
            "server_cpu": _cpu_seconds(server) - server_before,
            "tick_cpu": _own_cpu_seconds() - own_before,
        }
        _log(report(result))
        results.append(result)
    return results


def report(result: dict[str, Any]) -> str:
    kinds = ", ".join(f"{name} {count}" for name, count in result["kinds"].items())
    return (
        f"{result['day']} ({result['state']}): wall {result['wall']:.1f} s,"
        f" {result['task_runs']} task runs; CPU: server {result['server_cpu']:.1f} s,"
        f" tick {result['tick_cpu']:.1f} s\n  task runs: {kinds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--organisations", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        results = measure(args.organisations, args.days)
        print(f"{args.organisations} organisation(s) + the department:")
        for result in results:
            print(report(result))
        return
    # A fresh process with its own data directory and ports: Prefect reads its settings once.
    with tempfile.TemporaryDirectory(prefix="tick-bench-") as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NASTAVNIK_"))}
        web_port = _free_port()
        env |= {
            "NASTAVNIK_DATA_DIR": scratch,
            "NASTAVNIK_PREFECT_PORT": str(_free_port()),
            "NASTAVNIK_WEB_PORT": str(web_port),
            "NASTAVNIK_WEB_BASE_URL": f"http://127.0.0.1:{web_port}",
            "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{_free_port()}",
        }
        command = [sys.executable, __file__, "--child"]
        command += ["--organisations", str(args.organisations), "--days", str(args.days)]
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
