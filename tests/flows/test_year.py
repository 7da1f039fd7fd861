"""The four seed roadmaps' years on the simulated clock, against the real Prefect test server.

Each organisation starts its cycle from its roadmap in `roadmaps/`; the tick's rules run day by
day in this process while the stage flows run as deployments on the runner. Stages the product
runs (base formation, training, pairing, preparation) are driven to their end by a generic script
— questionnaires arrive when the base-formation window opens, every decision comes a day later;
the items of stages not built yet stay «не начат» and are reported so.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from deployments.demo_data import write_demo_attendance
from deployments.prefect_api import resume_run
from deployments.year import ScriptedDecision, YearScript, YearSimulation
from models import ApprovalRequest, ItemStatus, Role
from nastavnik import approvals, pairing, plan, questionnaires, repository, training
from nastavnik.clock import StoredClock
from nastavnik.db import get_engine, session_scope
from nastavnik.roadmap import load_roadmap
from tests.flows.conftest import ORG, SECRET, FlowStack

pytestmark = pytest.mark.flows
ROADMAPS = Path(__file__).resolve().parents[2] / "roadmaps"
SEEDS = [
    "school7_mineralnye_vody.yaml",
    "municipality_kedrovy.yaml",
    "school2_ustyuzhna.yaml",
    "lyceum_blagoveshchensk.yaml",
]


def _decide_by_api(request: ApprovalRequest, scripted: ScriptedDecision) -> None:
    run_input: dict[str, object] = {
        "decision": scripted.decision,
        "approval_code": approvals.code_for_request(secret=SECRET.encode(), request=request),
        "approver_name": request.approver_name,
        "comment": scripted.comment,
    }
    if request.accepts_exceptions:
        run_input["exceptions"] = [
            {"number": n, "comment": c} for n, c in scripted.exceptions.items()
        ]
    asyncio.run(resume_run(request.flow_run_id, run_input))


def _script(stack: FlowStack, cycle_id: uuid.UUID, tmp: Path) -> YearScript:
    clock = StoredClock(get_engine())
    with session_scope() as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
    base = [r for r in rows if r.completion_stage == "base-formation" and r.planned_start]

    def questionnaires_arrive() -> str:
        for path, role in ((stack.mentee_file, Role.mentee), (stack.mentor_file, Role.mentor)):
            questionnaires.import_file_transaction(
                engine=get_engine(), cycle_id=cycle_id, path=path, role=role
            )
        return "анкеты загружены"

    def attendance() -> str:
        with session_scope() as session:
            path = write_demo_attendance(tmp, session=session, cycle_id=cycle_id)
        training.import_attendance_transaction(
            engine=get_engine(), cycle_id=cycle_id, path=path, max_bytes=1_000_000
        )
        return "посещаемость загружена"

    def consents() -> str:
        with session_scope() as session:
            for form in pairing.consent_form_rows(session=session, cycle_id=cycle_id):
                pairing.record_participation_consent(
                    session=session,
                    cycle_id=cycle_id,
                    participant_id=form["participant_id"],
                    given_on=clock.today(),
                    source="test",
                )
        return "согласия получены"

    actions = {}
    if base:
        # The questionnaires come in a week after the window opens: the tick asks for them first.
        actions[min(r.planned_start for r in base if r.planned_start) + timedelta(days=7)] = [
            questionnaires_arrive
        ]
    return YearScript(
        actions=actions,
        decisions={
            "training-attendance": ScriptedDecision(1, before=attendance),
            "pairing-review": ScriptedDecision(1, before=consents),
            "base-formation-registers": ScriptedDecision(1),
            "training-order": ScriptedDecision(1),
            "pairing-order": ScriptedDecision(1),
            "programmes-acknowledged": ScriptedDecision(1),
            "programmes-approval": ScriptedDecision(1),
            "preparation-orders": ScriptedDecision(1),
        },
    )


@pytest.mark.parametrize("file_name", SEEDS)
def test_a_seed_roadmaps_year_runs_on_the_simulated_clock(
    flow_stack: FlowStack, file_name: str, tmp_path: Path
) -> None:
    roadmap = load_roadmap(ROADMAPS / file_name)
    code = "year-" + file_name.split("_")[0]
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **{**ORG, "code": code})
        cycle = plan.start_cycle(
            session=session,
            organization_id=org.id,
            school_year="2026/2027",
            roadmap_path=ROADMAPS / file_name,
        )
        cycle_id = cycle.id
    simulation = YearSimulation(
        settings=flow_stack.settings,
        cycle_id=cycle_id,
        script=_script(flow_stack, cycle_id, tmp_path),
        decide=_decide_by_api,
    )
    try:
        log = simulation.run(start=date(2026, 8, 1), end=date(2027, 8, 31))
    finally:
        StoredClock(get_engine()).clear()  # the other flow tests run on the real time

    with session_scope() as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
        requests = session.exec(
            select(ApprovalRequest).where(ApprovalRequest.cycle_id == cycle_id)
        ).all()
    assert len({r.number for r in rows}) == len(roadmap.items)
    stages_run = {r.completion_stage for r in rows if r.completion_kind == "stage"}
    for row in rows:
        if row.status == ItemStatus.skipped:
            # an item of another year of a multi-year roadmap, or a meetings window with no pair
            assert row.note == plan.OTHER_YEAR_NOTE or (
                row.note == plan.NO_PAIRS_NOTE and row.stage == "meetings"
            ), row.number
        elif row.completion_kind == "stage" and row.completion_stage in log.runs:
            assert row.status in (ItemStatus.done, ItemStatus.done_late), row.number
            assert row.actual_finish is not None and row.flow_run_id is not None
    # Every stage of the roadmap the product runs ran as a deployment and was approved, unless
    # the stage it needs first is not one the roadmap dates (school №7 has no training item,
    # Ustyuzhna trains «по отдельному графику»): then it waits for the curator, never starts blind.
    needs = {"training": "base-formation", "pairing": "training"}
    for stage in stages_run & {"preparation", "base-formation", "training", "pairing"}:
        if stage in log.runs:
            continue
        undated = all(
            r.planned_start is None
            for r in rows
            if r.completion_kind == "stage" and r.completion_stage == stage
        )
        assert undated or needs.get(stage) not in log.runs, (stage, sorted(log.runs))
    if "base-formation" in stages_run:
        assert "base-formation" in log.runs
    assert all(r.status == "approved" for r in requests if r.status != "pending")
    # Decisions and documents are dated in simulated time, not today.
    for request in requests:
        assert date(2026, 8, 1) <= request.requested_at.date() <= date(2027, 8, 31)


def test_the_deployed_tick_starts_a_due_stage_once_and_publishes_the_plan(
    flow_stack: FlowStack,
) -> None:
    """The cron deployment itself: a due, ready stage started as a named, tagged deployment
    run; the same day's second tick starts nothing and sends nothing more."""
    from deployments.prefect_api import read_run, start_deployment
    from models import OutboxMessage
    from tests.flows import support

    code = "tick-school"
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **{**ORG, "code": code})
        cycle_id = plan.start_cycle(
            session=session,
            organization_id=org.id,
            school_year="2026/2027",
            roadmap_path=ROADMAPS / "demo_school3_kedrovy.yaml",
        ).id
        # Preparation is decided already; the base-formation window (August–September) is open.
        item = plan.find_item(session=session, cycle_id=cycle_id, number="1")
        plan.skip_item(
            session=session,
            item_id=item.id,
            today=date(2026, 9, 1),
            actor="curator",
            reason="приказы изданы в прошлом году",
        )
    for path, role in (
        (flow_stack.mentee_file, Role.mentee),
        (flow_stack.mentor_file, Role.mentor),
    ):
        questionnaires.import_file_transaction(
            engine=get_engine(), cycle_id=cycle_id, path=path, role=role
        )

    def tick() -> uuid.UUID:
        run_id = asyncio.run(
            start_deployment(
                "cycle-tick/cycle-tick", {"day": "2026-09-10", "organization_code": code}
            )
        )
        assert support.wait(run_id) == "Completed"
        return run_id

    first = tick()
    with session_scope() as session:
        base = plan.find_item(session=session, cycle_id=cycle_id, number="4")
        assert base.status == ItemStatus.in_progress and base.flow_run_id is not None
        base_run_id = base.flow_run_id
        # The tick's own messages (the stage run it started sends its own).
        tick_mail = select(OutboxMessage).where(
            col(OutboxMessage.idempotency_key).startswith("roadmap:")
        )
        mails = len(session.exec(tick_mail).all())
    stage_run = asyncio.run(read_run(base_run_id))
    assert stage_run.name == f"{code} · 2026/2027 · base-formation"
    assert set(stage_run.tags) >= {code, "2026/2027", "base-formation"}
    assert stage_run.parameters["params"]["reference_date"] == "2026-09-10"
    markdown = [a for a in support.artifacts(first) if a.key == f"roadmap-{cycle_id}"]
    assert markdown and "Формирование базы" in str(markdown[0].data)

    tick()
    with session_scope() as session:
        again = plan.find_item(session=session, cycle_id=cycle_id, number="4")
        assert again.flow_run_id == base_run_id
        assert len(session.exec(tick_mail).all()) == mails
    assert support.wait(base_run_id, "base-formation-registers-1") == "Suspended"
    # The plan's status artifact gets a new version only when the status changed: a tick with
    # nothing new since the last one publishes none.
    tick()
    assert not [a for a in support.artifacts(tick()) if a.key == f"roadmap-{cycle_id}"]
