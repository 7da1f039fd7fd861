"""Approval click → run going again: seconds from the approval POST to the resumed run's Running.

Starts the embedded stack (Prefect server on SQLite, the runner, SMTP sink, web app) on free ports
in a temporary data directory, starts the real base-formation stage for a generated school once
per school year, waits until every run is suspended for the director, then approves them one at a
time through the e-mailed link, as the director does (GET the page, POST the form). For each click:
seconds from the POST to the run's Pending and Running states (the server's state timestamps); then
median and p95. Each configuration gets a fresh stack, one after another in the same run:

  before    the runner as it was: `python -m prefect.engine` per run (deployments served
            without their flow objects), poll every 2 s, no bytecode
  bytecode  the same with bytecode compiled (`uv sync --compile-bytecode`, compileall)
  spawn     flow objects served, Prefect's "spawn" per run, poll 1 s, bytecode (not by default)
  after     the stack's defaults: runs forked from a warm fork server, poll every 0.5 s, bytecode

and against the production layout (deployments/production.py: Prefect server and application
database on PostgreSQL at 127.0.0.1:5432 in throwaway databases, `prefect deploy --all`, one
process worker, the web app under uvicorn, an SMTP relay played by the local sink):

  production         the layout's defaults: worker polls every 0.5 s, each run one
                     `python -m prefect.engine` (no supervisor interpreter), bytecode compiled
  production-before  Prefect's defaults: worker polls every 10 s, supervisor then engine
  production-warm    as production, each run forked from a warm launcher beside the worker
                     (deployments/warm_engine.py, `nastavnik prod up --warm-engine`)
  production-polling as production-warm, but Prefect's own `prefect worker start` polling every
                     0.5 s instead of the layout's worker, which polls when the server's events
                     say a run is startable (deployments/worker.py)

"No bytecode" points the stack's processes at an empty PYTHONPYCACHEPREFIX (with
PYTHONDONTWRITEBYTECODE=1 nothing is written there), as on a machine where .pyc files were never
made. The lazy imports of WeasyPrint, openpyxl and numpy are in every configuration.

Besides POST → Pending/Running, each click is timed to the run's Completed (the stage's rest:
registers, PDFs, mail). `--configs after,production` measures the embedded runner as the
baseline and the production layout in the same run, and prints their ratio.

Run: uv run python bench/approval_latency.py [--approvals 10] [--configs before,bytecode,after]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from deployments.production import ProductionStack

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STAGE = "base-formation"
PAUSE_KEY = "base-formation-registers-1"


def _configs(scratch: Path) -> dict[str, dict[str, str]]:
    """Environment of the stack's processes per configuration."""
    empty_cache = scratch / "empty-pycache"
    return {
        "before": {
            "NASTAVNIK_RUNNER_START": "engine",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "NASTAVNIK_RUNNER_POLL_SECONDS": "2",
            "PYTHONPYCACHEPREFIX": str(empty_cache),
        },
        "bytecode": {
            "NASTAVNIK_RUNNER_START": "engine",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "NASTAVNIK_RUNNER_POLL_SECONDS": "2",
        },
        "spawn": {"NASTAVNIK_RUNNER_START": "spawn", "NASTAVNIK_RUNNER_POLL_SECONDS": "1"},
        "after": {},
        "production": {},
        "production-before": {"PREFECT_WORKER_QUERY_SECONDS": "10"},
        "production-warm": {},
        "production-polling": {},
    }


PRODUCTION_CONFIGS = {"production", "production-before", "production-warm", "production-polling"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _WebTrace(logging.Handler):
    """Log records of the web endpoint's thread: its phase timings and its Prefect API calls."""

    LOGGERS = ("nastavnik.web", "prefect.client", "httpx")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == "web":
            self.records.append((record.created, record.getMessage()))

    def attach(self) -> None:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.disabled = False
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self)

    def since(self, moment: float) -> list[str]:
        """What the web thread logged from ``moment`` on, in seconds after it."""
        return [f"+{at - moment:.2f} s {text}" for at, text in self.records if at >= moment]


def _submit(link: str, approver_name: str) -> tuple[float, float]:
    """Open the approval page, then POST the approval; wall-clock times around the POST."""
    import httpx

    page = httpx.get(link, timeout=30)
    page.raise_for_status()
    action = re.search(r'action="([^"]+)"', page.text)
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    assert action and code, f"no decision form at {link}"
    data = {"code": code.group(1), "decision": "approve", "approver_name": approver_name}
    url = httpx.URL(link).join(action.group(1))
    started = time.time()
    answer = httpx.post(url, data=data, timeout=60)
    answered = time.time()
    if answer.status_code != 200:
        raise RuntimeError(f"approval refused ({answer.status_code}): {answer.text[:300]}")
    return started, answered


async def _state_times(run_id: Any, since: float) -> dict[str, float]:
    """Seconds after ``since`` of the first Pending and Running states the server recorded."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        states = await client.read_flow_run_states(run_id)
    times: dict[str, float] = {}
    for state in sorted(states, key=lambda s: s.timestamp):
        moment = state.timestamp.timestamp() - since
        if moment >= 0 and state.type.value in {"PENDING", "RUNNING", "COMPLETED"}:
            times.setdefault(state.type.value.lower(), moment)
    return times


def measure(approvals: int) -> list[dict[str, float]]:
    """In this process: start the stack, suspend ``approvals`` runs, approve each, time it."""
    from sqlmodel import select

    from deployments.demo import DEMO_ORG, approval_link_from_mail
    from deployments.demo_data import write_demo_questionnaires
    from deployments.stack import EmbeddedStack
    from models import ApprovalRequest
    from nastavnik import repository
    from nastavnik.db import session_scope
    from nastavnik.settings import get_settings

    settings = get_settings()
    environment = json.loads(os.environ["BENCH_STACK_ENV"])
    layout = os.environ.get("BENCH_LAYOUT", "embedded")
    stack: Any
    if layout == "embedded":
        stack = EmbeddedStack(settings, environment=environment)
    else:
        stack = _production_stack(layout, environment)
        settings = get_settings()
    files = write_demo_questionnaires(settings.data_dir.resolve() / "demo")
    with session_scope() as session:
        repository.upsert_organization(session=session, **DEMO_ORG)
    started = time.monotonic()
    stack.start()
    _log(f"  stack up in {time.monotonic() - started:.1f} s")
    # Prefect reads its API URL when first imported: only now, with the stack's environment set.
    from deployments.prefect_api import start_deployment, wait_for_state

    trace = _WebTrace()
    trace.attach()
    results = []
    try:
        run_ids = []
        for number in range(approvals):
            params = {
                "organization_code": DEMO_ORG["code"],
                "school_year": f"{2026 + number}/{2027 + number}",
                "mentee_files": [str(p) for p in files.mentee_files],
                "mentor_files": [str(p) for p in files.mentor_files],
                "reference_date": date.today().isoformat(),
            }
            # One import at a time: concurrent imports into one SQLite file can hit "locked".
            run_id = asyncio.run(start_deployment(f"{STAGE}/{STAGE}", {"params": params}))
            run = asyncio.run(wait_for_state(run_id, names={"Suspended"}, timeout=600))
            assert run.state and run.state.state_details.pause_key == PAUSE_KEY, run.state
            run_ids.append(run_id)
        _log(f"  {approvals} runs suspended for approval")
        for run_id in run_ids:
            with session_scope() as session:
                request = session.exec(
                    select(ApprovalRequest).where(ApprovalRequest.flow_run_id == run_id)
                ).one()
            link, _ = approval_link_from_mail(settings.mail_dir, request.approver_email, request.id)
            posted, answered = _submit(link, request.approver_name)
            asyncio.run(wait_for_state(run_id, names={"Running"}, poll=0.1, timeout=120))
            times = asyncio.run(_state_times(run_id, posted)) | {"post": answered - posted}
            results.append(times)
            _log(
                f"  POST {times['post']:.2f} s → Pending {times['pending']:.2f} s"
                f" → Running {times['running']:.2f} s"
            )
            for line in trace.since(posted):
                _log(f"      {line}")
            trace.records.clear()
            run = asyncio.run(wait_for_state(run_id, names={"Completed"}, timeout=300))
            assert run.state and run.state.is_completed(), run.state
            results[-1] |= asyncio.run(_state_times(run_id, posted))
            _log(f"  → Completed {results[-1]['completed']:.2f} s")
    finally:
        stack.stop()
        if layout != "embedded":
            from deployments.production import drop_databases

            drop_databases(stack.config)
    return results


def _production_stack(layout: str, environment: dict[str, str]) -> Any:
    """The production layout in throwaway PostgreSQL databases, with an SMTP sink as relay."""
    from deployments.production import ProductionConfig, create_databases
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
        worker_limit=4,  # as the embedded runner's limit
        direct_engine=layout != "production-before",
        warm_engine=layout in ("production-warm", "production-polling"),
        woken_workers=layout != "production-polling",
    )
    create_databases(config)
    stack = _RelayedProductionStack(config, extra_environment=environment)
    # This process talks to the layout's Prefect and database too; Prefect reads its settings
    # when first imported, which is after this.
    os.environ.update(stack.environment)
    get_settings.cache_clear()
    stack.sink = MailSink(
        directory=settings.mail_dir, port=int(settings.smtp_url.rsplit(":", 1)[-1])
    )
    return stack


class _RelayedProductionStack(ProductionStack):
    """The production layout plus the local SMTP sink standing in for the relay."""

    sink: Any = None

    def start(self, *, deploy: bool = True) -> None:
        self.sink.start()
        super().start(deploy=deploy)

    def stop(self, timeout: float = 20) -> None:
        try:
            super().stop(timeout)
        finally:
            self.sink.stop()


def _quantile(values: list[float], n: int) -> float:
    """The upper (n-1)/n quantile: p90 for n=10, p95 for n=20."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=n, method="inclusive")[-1]


def _run_config(name: str, environment: dict[str, str], approvals: int, scratch: Path) -> Any:
    """One configuration in a fresh process, data directory and set of ports."""
    data = scratch / name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NASTAVNIK_"))}
    web_port = _free_port()
    env |= {
        "PYTHONDONTWRITEBYTECODE": "1",
        "NASTAVNIK_DATA_DIR": str(data),
        "NASTAVNIK_PREFECT_PORT": str(_free_port()),
        "NASTAVNIK_WEB_PORT": str(web_port),
        "NASTAVNIK_WEB_BASE_URL": f"http://127.0.0.1:{web_port}",
        "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{_free_port()}",
        "BENCH_STACK_ENV": json.dumps(environment),
        "BENCH_LAYOUT": name if name in PRODUCTION_CONFIGS else "embedded",
    }
    out = scratch / f"{name}.json"
    subprocess.run(
        [sys.executable, __file__, "--child", str(out), "--approvals", str(approvals)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
    )
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=10)
    parser.add_argument("--configs", default="before,bytecode,after")
    parser.add_argument("--keep", type=Path, help="keep data and logs in this directory")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.child.write_text(json.dumps(measure(args.approvals)))
        return

    with tempfile.TemporaryDirectory(prefix="approval-latency-") as tmp:
        scratch = args.keep.resolve() if args.keep else Path(tmp)
        configs = _configs(scratch)
        table = {}
        for name in args.configs.split(","):
            print(f"{name}: {configs[name] or 'stack defaults'}", flush=True)
            table[name] = _run_config(name, configs[name], args.approvals, scratch)
            print(_summary({name: table[name]}), flush=True)
    print()
    print(_summary(table))
    if "before" in table and "after" in table:
        ratio = statistics.median(r["running"] for r in table["before"]) / statistics.median(
            r["running"] for r in table["after"]
        )
        print(f"median POST → Running, before / after: {ratio:.1f}×")
    for name in PRODUCTION_CONFIGS & table.keys():
        if "after" in table:
            for step in ("running", "completed"):
                ratio = statistics.median(r[step] for r in table[name]) / statistics.median(
                    r[step] for r in table["after"]
                )
                print(f"median POST → {step.title()}, {name} / embedded (after): {ratio:.2f}×")


def _summary(table: dict[str, list[dict[str, float]]]) -> str:
    columns = ("pending", "running", "completed")
    head = "".join(f"{'→ ' + c.title():>17}" for c in columns)
    sub = "".join(f"{'median':>9}{'p90':>8}" for _ in columns)
    lines = [f"{'config':<18} {'n':>3} {'POST':>6}{head}", f"{'':<18} {'':>3} {'median':>6}{sub}"]
    for name, rows in table.items():
        post = statistics.median(r["post"] for r in rows)
        cells = ""
        for column in columns:
            values = [r[column] for r in rows if column in r]
            cells += f"{statistics.median(values):>9.2f}{_quantile(values, 10):>8.2f}"
        lines.append(f"{name:<18} {len(rows):>3} {post:>6.2f}{cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
