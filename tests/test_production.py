"""The production layout brought up here on PostgreSQL: one deployed flow through a worker.

Throwaway database names, free ports, a temporary data directory; both databases are dropped
and no process of the layout is left afterwards. Skipped when PostgreSQL at 127.0.0.1:5432
does not answer.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from deployments.production import (
    CRASH_DETECTION,
    DEFAULT_POSTGRES,
    ProductionConfig,
    ProductionStack,
    drop_databases,
    health,
    marked_processes,
    postgres_reachable,
)
from nastavnik.settings import Settings

pytestmark = [
    pytest.mark.flows,
    pytest.mark.skipif(
        not postgres_reachable(DEFAULT_POSTGRES), reason="no PostgreSQL at 127.0.0.1:5432"
    ),
]
DEPLOYMENT = "retry-deliveries"  # short, no parameters, touches the application's database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_deployment(api: str, name: str, timeout: float = 240) -> dict:
    """Create a run through Prefect's REST API and wait until it is final."""
    deployment = httpx.get(f"{api}/deployments/name/{name}/{name}", timeout=30).json()
    run = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=30
    ).json()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=30).json()
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run['id']} still {run['state']['name']} after {timeout:.0f} s")


def _seconds(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def _tables(config: ProductionConfig, database: str) -> set[str]:
    with psycopg.connect(config.database_url(database)) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def _scheduled_runs(config: ProductionConfig, deployment: str, timeout: float = 150) -> int:
    """How many Scheduled runs the server's scheduler made for the deployment (waits for one)."""
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(config.database_url(config.prefect_database)) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM flow_run f JOIN deployment d ON d.id = f.deployment_id "
                "WHERE d.name = %s AND f.auto_scheduled",
                (deployment,),
            ).fetchone()
        if count or time.monotonic() > deadline:
            return int(count)
        time.sleep(2)


def test_layout_runs_a_deployed_flow_on_a_worker_and_stops_clean(tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    web_port = _free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        smtp_url=f"smtp://127.0.0.1:{_free_port()}",
        web_base_url=f"http://127.0.0.1:{web_port}",
        secret_key="production-test-secret-0123456789",  # type: ignore[arg-type]
    )
    config = ProductionConfig(
        settings=settings,
        prefect_database=f"test_prefect_{suffix}",
        app_database=f"test_nastavnik_{suffix}",
        prefect_port=_free_port(),
        web_port=web_port,
        workers=1,
        worker_limit=1,
        web_workers=1,
        warm_engine=True,
        # The worker's poll waits for the server's flow-run events (deployments/worker.py):
        # with no fallback within the test, a run starts only if the event woke it.
        worker_fallback_seconds=900,
    )
    stack = ProductionStack(config)
    try:
        stack.prepare()
        stack.start_server()
        stack.deploy(names=(DEPLOYMENT,))
        stack.start_worker(1)
        stack.start_web()
        stack.wait_healthy()
        assert health(config) == {"prefect": True, "web": True}

        # Forked from the worker's warm launcher…
        run = _run_deployment(config.prefect_api_url, DEPLOYMENT)
        assert run["state"]["type"] == "COMPLETED", run["state"]
        assert run["work_pool_name"] == config.work_pool
        assert _seconds(run["created"], run["start_time"]) < 60
        assert "forked run process" in (stack.logs_dir / "warm-engine-1.log").read_text()
        # …and, with the launcher gone, a plain `python -m prefect.engine`.
        launcher = stack.processes.pop("warm-engine-1")
        launcher.terminate()
        launcher.wait(timeout=30)
        run = _run_deployment(config.prefect_api_url, DEPLOYMENT)
        assert run["state"]["type"] == "COMPLETED", run["state"]

        # The server's scheduler creates the scheduled deployments' runs: retry-deliveries
        # every minute (SQLAlchemy 2.1 broke that in Prefect 3.8.8's scheduler: pinned < 2.1).
        assert _scheduled_runs(config, DEPLOYMENT) >= 1
        # The crash detection is installed (issue 11 §5).
        found = httpx.post(f"{config.prefect_api_url}/automations/filter", json={}, timeout=10)
        assert CRASH_DETECTION in {a["name"] for a in found.json()}

        # Two databases, each with its own schema: the application's and Prefect's.
        app_tables = _tables(config, config.app_database)
        prefect_tables = _tables(config, config.prefect_database)
        assert {"organization", "alembic_version"} <= app_tables
        assert "flow_run" in prefect_tables and "flow_run" not in app_tables
        assert "organization" not in prefect_tables
        assert marked_processes(stack.marker)
    finally:
        stack.stop()
        try:
            assert marked_processes(stack.marker) == []
            assert health(config) == {"prefect": False, "web": False}
        finally:
            drop_databases(config)
    with psycopg.connect(config.database_url("postgres")) as connection:
        names = {r[0] for r in connection.execute("SELECT datname FROM pg_database").fetchall()}
    assert not {config.prefect_database, config.app_database} & names
    assert os.environ.get("PREFECT_API_URL") != config.prefect_api_url
