"""One stage for two schools in one batch run (flows/batch.py) on a real Prefect server.

A department's schools reach a roadmap step on the same day; the batch run does each school's
base formation under its own member run id and suspends once for both directors' decisions.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlmodel import select

from deployments.prefect_api import resume_run, start_deployment
from flows.recovery import wake_decided_runs
from models import ApprovalRequest, AuditEvent, Cycle, Document, DocumentStatus, Organization
from nastavnik import approvals, repository
from nastavnik.db import get_engine, session_scope
from nastavnik.web import create_app
from tests.flows import support
from tests.flows.conftest import ORG, SECRET, FlowStack

pytestmark = pytest.mark.flows

OTHER = {
    **ORG,
    "code": "school-3",
    "name": "МОУ «Средняя школа № 3»",
    "short_name": "СШ № 3",
    "director_name": "Орлова Вера Павловна",
    "director_email": "director@school3.example.ru",
    "curator_email": "curator@school3.example.ru",
}
KEY = "base-formation-registers"


def _requests(run_id: uuid.UUID) -> dict[str, ApprovalRequest]:
    """The batch run's requests by organisation code."""
    with session_scope() as session:
        rows = session.exec(
            select(ApprovalRequest, Organization)
            .join(Cycle, Cycle.id == ApprovalRequest.cycle_id)  # type: ignore[arg-type]
            .join(Organization, Organization.id == Cycle.organization_id)  # type: ignore[arg-type]
            .where(ApprovalRequest.batch_run_id == run_id)
        ).all()
        return {org.code: request for request, org in rows}


def _code(request: ApprovalRequest) -> str:
    return approvals.code_for_request(secret=SECRET.encode(), request=request)


def _documents(member_run: uuid.UUID) -> list[Document]:
    with session_scope() as session:
        return list(session.exec(select(Document).where(Document.flow_run_id == member_run)))


def _click(stack: FlowStack, request: ApprovalRequest, approver: str) -> httpx.Response:
    """The director's «Утвердить» on the e-mailed link's page (the web app, in process)."""
    app = create_app(settings=stack.settings, engine=get_engine(), resume=resume_run)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://approvals.test") as web:
            return await web.post(
                f"/approvals/{request.id}",
                data={"code": _code(request), "decision": "approve", "approver_name": approver},
            )

    return asyncio.run(post())


def _base_formation_for_both(stack: FlowStack, school_year: str) -> uuid.UUID:
    """A stage-batch run of base formation for the two schools, waiting for both decisions."""
    with session_scope() as session:
        repository.upsert_organization(session=session, **OTHER)
    members = [
        {
            "organization_code": org["code"],
            "school_year": school_year,
            "mentee_files": [str(stack.mentee_file)],
            "mentor_files": [str(stack.mentor_file)],
            "reference_date": f"{school_year[:4]}-10-01",
        }
        for org in (ORG, OTHER)
    ]
    run_id = asyncio.run(
        start_deployment(
            "stage-batch/stage-batch",
            {"params": {"stage": "base-formation", "members": members}},
        )
    )
    assert support.wait(run_id, pause="batch-1") == "Suspended", support.state_message(run_id)
    return run_id


def test_a_batch_run_does_base_formation_for_two_schools_and_waits_once(
    flow_stack: FlowStack,
) -> None:
    run_id = _base_formation_for_both(flow_stack, "2027/2028")

    # Each school's work is its own: a request, a code and three registers per member run.
    requests = _requests(run_id)
    assert sorted(requests) == [ORG["code"], OTHER["code"]]
    mine, theirs = requests[ORG["code"]], requests[OTHER["code"]]
    assert mine.approval_key == theirs.approval_key == KEY
    assert mine.flow_run_id != theirs.flow_run_id and run_id not in {
        mine.flow_run_id,
        theirs.flow_run_id,
    }
    assert mine.run_to_wake == theirs.run_to_wake == run_id
    for request in (mine, theirs):
        docs = _documents(request.flow_run_id)
        assert len(docs) == 3 and {d.status for d in docs} == {DocumentStatus.draft}
    with session_scope() as session:
        # One school's code cannot decide the other's request.
        assert (
            approvals.check_code(
                session=session,
                secret=SECRET.encode(),
                request=session.get(ApprovalRequest, theirs.id),  # type: ignore[arg-type]
                code=_code(mine),
                now=approvals.now_utc(),
            )
            == approvals.CodeProblem.forged
        )
    # The run's artifacts say whose they are (and name no one), and who it waits for.
    artifacts = support.artifacts(run_id)
    keys = {a.key for a in artifacts if a.key}
    assert {f"{ORG['code']}-questionnaire-import", f"{OTHER['code']}-questionnaire-import"} <= keys
    waiting = [str(a.data) for a in artifacts if a.key == "batch-waiting"]
    assert len(waiting) == 1
    for code, request in ((ORG["code"], mine), (OTHER["code"], theirs)):
        assert (
            f"| {code} | {request.title} | [открыть](http://approvals.test/approvals/{request.id})"
            in waiting[0]
        )

    # The first director decides on the web page: the run wakes, takes it, waits for the other.
    decided = _click(flow_stack, mine, ORG["director_name"])
    assert decided.status_code == 200, decided.text
    assert support.wait(run_id, pause="batch-2") == "Suspended", support.state_message(run_id)
    assert {d.status for d in _documents(mine.flow_run_id)} == {DocumentStatus.approved}
    assert {d.status for d in _documents(theirs.flow_run_id)} == {DocumentStatus.draft}
    for request in (mine, theirs):  # nothing recorded that the run has not taken
        assert asyncio.run(wake_decided_runs(request.cycle_id)) == []

    # The second in the Prefect UI's form, naming the school.
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": "approve",
                "approval_code": _code(theirs),
                "approver_name": OTHER["director_name"],
                "comment": "",
                "organization_code": OTHER["code"],
            },
        )
    )
    assert support.wait(run_id) == "Completed", support.state_message(run_id)
    assert {d.status for d in _documents(theirs.flow_run_id)} == {DocumentStatus.approved}

    # Nothing made or sent twice: one request mail and one decision notice per school.
    for request, org in ((mine, ORG), (theirs, OTHER)):
        kinds = sorted(
            m.idempotency_key.partition(":")[0] for m in support.outbox(request.flow_run_id)
        )
        assert kinds == ["approval-request", "decision-notice"], kinds
        assert len(flow_stack.mail_to(org["director_email"])) >= 1
        with session_scope() as session:
            actions = [
                e.action
                for e in session.exec(
                    select(AuditEvent).where(AuditEvent.entity == f"approval:{request.id}")
                )
            ]
        assert actions.count("approval.approve") == 1 and actions.count("approval.taken") == 1
        assert "approval.refused" not in actions


def test_the_deployed_tick_starts_a_stage_due_for_two_schools_as_one_batch_run(
    flow_stack: FlowStack,
) -> None:
    """Two schools of one roadmap reach base formation on the same day: the daily tick starts
    one batch run for both, named and tagged for both; its second run that day starts nothing."""
    from datetime import date
    from pathlib import Path

    from deployments.prefect_api import read_run
    from models import ItemStatus, Role
    from nastavnik import plan, questionnaires

    roadmap = Path(__file__).resolve().parents[2] / "roadmaps" / "demo_school3_kedrovy.yaml"
    year, day = "2030/2031", "2030-09-10"  # a year no other test ticks
    cycles = {}
    for code in ("batch-a", "batch-b"):
        with session_scope() as session:
            org = repository.upsert_organization(session=session, **{**ORG, "code": code})
            cycle_id = plan.start_cycle(
                session=session, organization_id=org.id, school_year=year, roadmap_path=roadmap
            ).id
            item = plan.find_item(session=session, cycle_id=cycle_id, number="1")
            plan.skip_item(
                session=session,
                item_id=item.id,
                today=date(2030, 9, 1),
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
        cycles[code] = cycle_id

    def tick() -> uuid.UUID:
        run_id = asyncio.run(start_deployment("cycle-tick/cycle-tick", {"day": day}))
        assert support.wait(run_id) == "Completed", support.state_message(run_id)
        return run_id

    def started() -> set[uuid.UUID | None]:
        with session_scope() as session:
            return {
                plan.find_item(session=session, cycle_id=c, number="4").flow_run_id
                for c in cycles.values()
            }

    first = tick()

    # A few task runs a day, however many organisations: the cycles' days are one task run,
    # the stage runs started are recorded in one (not a task run per cycle and step).
    def recorded() -> list[str] | None:  # the server records task runs from their events
        names = [task_run.name.rsplit("-", 1)[0] for task_run in support.task_runs(first)]
        return names if {"tick-cycles", "record-stages-started"} <= set(names) else None

    names = support.poll(recorded, timeout=30, what="the tick's task runs recorded")
    assert len(names) == len(set(names)), names
    runs = started()
    assert len(runs) == 1 and None not in runs
    batch_run_id = runs.pop()
    assert batch_run_id is not None
    batch = asyncio.run(read_run(batch_run_id))
    assert batch.name == f"2 орг. · {year} · base-formation"
    assert set(batch.tags) >= {"batch-a", "batch-b", year, "base-formation", "batch"}
    assert [m["organization_code"] for m in batch.parameters["params"]["members"]] == [
        "batch-a",
        "batch-b",
    ]
    assert support.wait(batch_run_id, "batch-1") == "Suspended", support.state_message(batch_run_id)
    assert sorted(_requests(batch_run_id)) == ["batch-a", "batch-b"]
    with session_scope() as session:
        for cycle_id in cycles.values():
            row = plan.find_item(session=session, cycle_id=cycle_id, number="4")
            assert row.status == ItemStatus.in_progress

    tick()
    assert started() == {batch_run_id}


def test_two_directors_deciding_at_once_both_wake_the_batch_run(flow_stack: FlowStack) -> None:
    """Both schools' directors press «Утвердить» in the same instant: the two wake-ups race for
    the one paused run (a Prefect server on PostgreSQL keeps one input per pause and answers
    the other 409: seen in CI's department demo); both pages still say the decision is taken,
    and the run takes both and completes."""
    run_id = _base_formation_for_both(flow_stack, "2028/2029")
    requests = _requests(run_id)

    async def both_at_once() -> list[httpx.Response]:
        together = asyncio.Barrier(2)

        async def wake_together(run: uuid.UUID, run_input: dict, approval_key: str) -> None:
            await together.wait()  # both decisions recorded, neither wake-up sent yet
            await resume_run(run, run_input, approval_key, background=True)

        app = create_app(settings=flow_stack.settings, engine=get_engine(), resume=wake_together)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://approvals.test") as web:
            return list(
                await asyncio.gather(
                    *(
                        web.post(
                            f"/approvals/{requests[org['code']].id}",
                            data={
                                "code": _code(requests[org["code"]]),
                                "decision": "approve",
                                "approver_name": org["director_name"],
                            },
                        )
                        for org in (ORG, OTHER)
                    )
                )
            )

    answers = asyncio.run(both_at_once())
    assert [a.status_code for a in answers] == [200, 200], [a.text[-300:] for a in answers]
    assert support.wait(run_id) == "Completed", support.state_message(run_id)
    for request in requests.values():
        assert {d.status for d in _documents(request.flow_run_id)} == {DocumentStatus.approved}
        assert asyncio.run(wake_decided_runs(request.cycle_id)) == []
