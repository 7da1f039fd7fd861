"""The department's tick leaves its dashboard as a markdown artifact (issue 10 §4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from models import Role
from nastavnik import plan, questionnaires, repository
from nastavnik.db import get_engine, session_scope
from tests.flows.conftest import MENTEES, ORG, FlowStack

pytestmark = pytest.mark.flows
ROADMAPS = Path(__file__).resolve().parents[2] / "roadmaps"


def test_the_department_tick_publishes_the_dashboard_without_names(
    flow_stack: FlowStack,
) -> None:
    from deployments.prefect_api import start_deployment
    from tests.flows import support

    with session_scope() as session:
        department = repository.upsert_organization(
            session=session, **{**ORG, "code": "uo-flow", "short_name": "УО Кедровый"}
        )
        department.kind = "department"
        plan.start_cycle(
            session=session,
            organization_id=department.id,
            school_year="2026/2027",
            roadmap_path=ROADMAPS / "municipality_kedrovy.yaml",
        )
        school = repository.upsert_organization(
            session=session, **{**ORG, "code": "uo-flow-school", "short_name": "СШ № 9"}
        )
        school.department_id = department.id
        school_cycle = repository.get_or_create_cycle(
            session=session, organization_id=school.id, school_year="2026/2027"
        ).id
    questionnaires.import_file_transaction(
        engine=get_engine(), cycle_id=school_cycle, path=flow_stack.mentee_file, role=Role.mentee
    )

    run_id = asyncio.run(
        start_deployment(
            "cycle-tick/cycle-tick", {"day": "2026-09-10", "organization_code": "uo-flow"}
        )
    )
    assert support.wait(run_id) == "Completed"
    published = [a for a in support.artifacts(run_id) if a.key == "department-uo-flow-dashboard"]
    assert len(published) == 1
    markdown = str(published[0].data)
    assert "[СШ № 9](" in markdown and f"/roadmap/{school_cycle})" in markdown
    assert "0/3 (0 %)" in markdown  # three mentees imported, none in a pair yet
    for line in MENTEES.splitlines()[1:]:
        last_name, first_name, _, birth, address = line.split(";")[:5]
        for value in (last_name, first_name, birth, address):
            assert value not in markdown
