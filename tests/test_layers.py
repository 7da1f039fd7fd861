"""The layers hold: flows → tasks → core → models, and one list of deployments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deployments.catalog import DEPLOYMENTS, prefect_yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nastavnik", "models", "tasks", "flows", "deployments")
# What each layer may import from the project (the outer layer may import everything).
ALLOWED = {
    "models": {"models"},
    "nastavnik": {"nastavnik", "models"},
    "tasks": {"tasks", "nastavnik", "models"},
    "flows": {"flows", "tasks", "nastavnik", "models"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every project module the file imports, at the top or inside functions."""
    found: set[str] = set()
    package = _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{package}.{base}".rstrip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_layers_below_it(layer: str) -> None:
    offending = {
        f"{name} imports {imported}"
        for name, path in _modules().items()
        if name.split(".")[0] == layer
        for imported in _imports(path)
        if imported.split(".")[0] not in ALLOWED[layer]
    }
    assert offending == set()


def test_no_module_imports_one_that_imports_it_back() -> None:
    modules = _modules()
    graph = {
        name: {imported for imported in _imports(path) if imported in modules} - {name}
        for name, path in modules.items()
    }
    mutual = {
        tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph[b]
    }
    assert mutual == set()


def test_prefect_yaml_is_generated_from_the_catalog() -> None:
    committed = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert committed == prefect_yaml(), "run `nastavnik deployments --write prefect.yaml`"


def test_every_catalog_entry_names_its_flow() -> None:
    for spec in DEPLOYMENTS:
        flow = spec.load_flow()
        assert flow.name == spec.flow_name
        assert (ROOT / spec.entrypoint.split(":")[0]).is_file()


def test_the_tick_starts_only_deployed_stages_and_is_deployed_on_a_daily_cron() -> None:
    from deployments.catalog import DEPLOYMENTS, STAGE_DEPLOYMENTS
    from flows.cycle import stage_deployment
    from nastavnik.tick import RUNNABLE_STAGES

    assert {stage_deployment(s) for s in RUNNABLE_STAGES} <= set(STAGE_DEPLOYMENTS.values())
    (tick,) = [spec for spec in DEPLOYMENTS if spec.name == "cycle-tick"]
    (schedule,) = tick.schedules()
    assert tick.cron == "0 7 * * *" and schedule.timezone == "Europe/Moscow"
