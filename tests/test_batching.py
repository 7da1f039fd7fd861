"""Batch runs without Prefect: the day's starts grouped by stage, the wake rules, member ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.publishing import member_key, member_run_id
from models import ApprovalRequest, Decision
from nastavnik import approvals, repository, tick

T0 = datetime(2027, 10, 1, 9, 0, tzinfo=UTC)
SECRET = b"k" * 32


def _due(stage: str, org: str) -> tick.DueStart:
    start = tick.StageStart(uuid.uuid4(), "2.1", stage)
    return tick.DueStart(
        uuid.uuid4(), start, {"organization_code": org, "school_year": "2027/2028"}
    )


def test_the_days_starts_are_grouped_by_stage_in_the_order_first_due() -> None:
    starts = [
        _due("pairing", "school-1"),
        _due("training", "school-1"),
        _due("pairing", "school-2"),
        _due("pairing", "school-3"),
    ]
    groups = tick.batches(starts, max_size=10)
    assert [[d.params["organization_code"] for d in g] for g in groups] == [
        ["school-1", "school-2", "school-3"],
        ["school-1"],
    ]
    assert [g[0].start.stage for g in groups] == ["pairing", "training"]
    # The same rows give the same key whatever their order (a second tick gets the same run).
    key = tick.batch_idempotency_key(groups[0])
    assert key == tick.batch_idempotency_key(list(reversed(groups[0])))
    assert key.startswith("tick-batch:pairing:")
    assert key != tick.batch_idempotency_key(groups[0][:2])


def test_a_stage_due_for_more_than_a_batch_is_split_into_runs_of_nearly_equal_size() -> None:
    starts = [_due("pairing", f"school-{n}") for n in range(21)]
    groups = tick.batches(starts, max_size=10)
    assert [len(g) for g in groups] == [7, 7, 7]
    assert [d for g in groups for d in g] == starts
    assert [len(g) for g in tick.batches(starts[:10], max_size=10)] == [10]
    assert [len(g) for g in tick.batches(starts[:3], max_size=1)] == [1, 1, 1]
    assert tick.split_evenly([], 5) == []


def test_a_batch_run_is_named_by_its_count_and_tagged_with_every_school() -> None:
    members: list[dict[str, object]] = [
        {"organization_code": "school-2", "school_year": "2027/2028"},
        {"organization_code": "school-1", "school_year": "2027/2028"},
    ]
    name, tags = tick.batch_label("pairing", members)
    assert name == "2 орг. · 2027/2028 · pairing"
    assert tags == ["school-1", "school-2", "2027/2028", "pairing", "batch"]


def test_member_run_ids_are_stable_and_apart() -> None:
    run = str(uuid.uuid4())
    school = {"organization_code": "school-1", "school_year": "2027/2028"}
    first = member_run_id(run, member_key(school))
    assert first == member_run_id(run, member_key(dict(school)))
    assert first != member_run_id(run, member_key({**school, "organization_code": "school-2"}))
    assert first != member_run_id(str(uuid.uuid4()), member_key(school))
    # One organisation answering two of its department's requests on one day: two members.
    reports = [member_key({**school, "request_key": key}) for key in ("info-1", "interim-1")]
    assert len({member_run_id(run, key) for key in reports}) == 2


def test_which_pauses_wait_for_a_decision() -> None:
    assert approvals.waits_for("base-formation-registers-2", "base-formation-registers")
    assert approvals.waits_for("batch-3", "base-formation-registers")
    assert not approvals.waits_for("pairing-order-1-1", "base-formation-registers")
    assert not approvals.waits_for(None, "base-formation-registers")


def _request(engine: Engine, cycle_id: uuid.UUID, *, batch_run_id: uuid.UUID) -> ApprovalRequest:
    with Session(engine, expire_on_commit=False) as session:
        request = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key="base-formation-registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры",
            summary="",
            approver_name="Директор",
            approver_email="d@example.ru",
            document_ids=[],
            now=T0,
            ttl=timedelta(days=14),
            batch_run_id=batch_run_id,
        )
        session.commit()
        return request


def test_a_recorded_decision_wakes_its_batch_run_until_the_run_takes_it(
    engine: Engine, cycle_ids: tuple
) -> None:
    batch_run, (org_id, cycle_id) = uuid.uuid4(), cycle_ids
    with Session(engine) as session:
        other = repository.get_or_create_cycle(
            session=session, organization_id=org_id, school_year="2027/2028"
        ).id
        session.commit()
    decided, waiting = (_request(engine, c, batch_run_id=batch_run) for c in (cycle_id, other))
    assert decided.run_to_wake == batch_run and decided.flow_run_id != batch_run
    with Session(engine) as session:
        outcome = approvals.submit_decision(
            session=session,
            secret=SECRET,
            request_id=decided.id,
            decision=Decision.request_changes,
            comment="Исправить классы",
            approver_name="Директор",
            code=approvals.code_for_request(secret=SECRET, request=decided),
            channel="web",
            now=T0 + timedelta(days=1),
        )
        session.commit()
    assert outcome.accepted
    with Session(engine) as session:
        found = approvals.decisions_not_taken(session=session, flow_run_ids=[batch_run])
        assert [(r.id, d.decision) for r, d in found] == [(decided.id, Decision.request_changes)]
        assert approvals.wake_input(request=found[0][0], decision=found[0][1]) == {
            "decision": "request_changes",
            "approval_code": "",
            "approver_name": "Директор",
            "comment": "Исправить классы",
        }
        assert approvals.decisions_not_taken(session=session, flow_run_ids=[uuid.uuid4()]) == []
        request = session.get(ApprovalRequest, decided.id)
        assert request is not None
        approvals.mark_taken(session=session, request=request, now=T0 + timedelta(days=1))
        approvals.mark_taken(session=session, request=request, now=T0 + timedelta(days=2))
        session.commit()
    with Session(engine) as session:
        assert approvals.decisions_not_taken(session=session, flow_run_ids=[batch_run]) == []
    assert waiting.status.value == "pending"
