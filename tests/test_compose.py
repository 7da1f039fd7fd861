"""compose.yaml: valid against the Compose Specification's schema, and its pieces fit together.

`docker compose config` is not available on these machines (no compose plugin), so the file is
checked against the specification's JSON schema (tests/fixtures/compose-spec.json, from
github.com/compose-spec/compose-spec, schema/compose-spec.json at 170098b) and for what the
schema cannot see: dependencies on health, the databases the init script creates, the work
pool's template, the web app's factory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_follows_the_compose_specification(compose: dict) -> None:
    schema = json.loads((ROOT / "tests/fixtures/compose-spec.json").read_text())
    jsonschema.validate(compose, schema)


def test_services_wait_for_what_they_need(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "prefect-server", "migrate", "worker", "web"} <= services.keys()
    for name, service in services.items():
        for needed, rule in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{needed} has no healthcheck"
            if rule["condition"] == "service_completed_successfully":
                assert services[needed]["restart"] == "no", f"{needed} is not one-shot"
    for name in ("postgres", "prefect-server", "worker", "web"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["deploy"]["replicas"]
    assert "--limit" in services["worker"]["command"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_two_separate_databases_are_created_and_used(compose: dict) -> None:
    init = (ROOT / "deployments/compose/postgres-init.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", init))
    services = compose["services"]
    prefect_url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    app_url = services["web"]["environment"]["NASTAVNIK_DATABASE_URL"]
    assert prefect_url.startswith("postgresql+asyncpg://")
    assert app_url.startswith("postgresql+psycopg://")
    prefect_db, app_db = prefect_url.rsplit("/", 1)[1], app_url.rsplit("/", 1)[1]
    assert prefect_db != app_db
    assert {prefect_db, app_db} == created
    mount = "./deployments/compose/postgres-init.sql:/docker-entrypoint-initdb.d/"
    assert any(v.startswith(mount) for v in services["postgres"]["volumes"])


def test_work_pool_template_starts_the_engine_directly() -> None:
    from prefect.workers.process import ProcessWorker

    from deployments.production import work_pool_template

    ours = json.loads((ROOT / "deployments/compose/process-pool.json").read_text())
    default = ProcessWorker.get_default_base_job_template()
    assert ours == work_pool_template(default, python="python")
    assert ours["variables"]["properties"]["command"]["default"] == "python -m prefect.engine"


def test_commands_name_what_exists(compose: dict) -> None:
    from deployments import production

    web = compose["services"]["web"]["command"]
    factory = web[web.index("--factory") + 1]
    module, _, attribute = factory.partition(":")
    assert module == "deployments.production" and callable(getattr(production, attribute))
    assert "nastavnik prod migrate" in compose["services"]["migrate"]["command"][-1]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile
