"""Tasks of the annual cycle's daily tick: what is due, stage runs started, the plan's state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from prefect import task

from nastavnik import plan, tick
from nastavnik.clock import process_clock
from nastavnik.db import session_scope
from nastavnik.settings import get_settings


@dataclass(frozen=True)
class TickSummary:
    """What a tick did for one cycle, by ids and counts (no names: it goes to artifacts)."""

    cycle_id: str
    day: date
    starts: list[dict[str, str]]
    waiting: list[str]
    changes: list[dict[str, str]]
    message_ids: list[str]
    reissued: list[str]
    ended_pairs: int


@task(name="cycles-to-tick", retries=2, retry_delay_seconds=[1, 5])
def cycles_to_tick(day: date, organization_code: str | None = None) -> list[str]:
    """Ids of the cycles whose plan runs on this day (one organisation's, when given)."""
    from nastavnik import repository

    with session_scope() as session:
        org_id = None
        if organization_code:
            org_id = repository.get_organization(session=session, code=organization_code).id
        ids = plan.cycles_to_tick(session=session, today=day, organization_id=org_id)
    return [str(i) for i in ids]


@task(name="stage-runs-open", retries=2, retry_delay_seconds=[1, 5])
def stage_runs_open(cycle_id: str) -> list[str]:
    """Ids of the flow runs of the cycle's stage items not yet closed."""
    with session_scope() as session:
        ids = plan.stage_runs_open(session=session, cycle_id=uuid.UUID(cycle_id))
    return [str(i) for i in ids]


@task(name="tick-cycle", retries=2, retry_delay_seconds=[1, 5])
def tick_cycle(cycle_id: str, day: date) -> TickSummary:
    """Bring the cycle's plan up to date and queue what is due today (idempotent per day)."""
    with session_scope() as session:
        outcome = tick.run_tick(
            session=session,
            settings=get_settings(),
            cycle_id=uuid.UUID(cycle_id),
            today=day,
            now=process_clock().now(),
        )
    return TickSummary(
        cycle_id=cycle_id,
        day=day,
        starts=[
            {"item_id": str(s.item_id), "number": s.number, "stage": s.stage}
            for s in outcome.starts
        ],
        waiting=outcome.waiting,
        changes=[
            {"number": c.number, "occurrence": str(c.occurrence), "from": c.old, "to": c.new}
            for c in outcome.changes
        ],
        message_ids=[str(m) for m in outcome.message_ids],
        reissued=[str(r) for r in outcome.reissued],
        ended_pairs=len(outcome.ended_pairs),
    )


@task(name="record-stage-started", retries=2, retry_delay_seconds=[1, 5])
def record_stage_started(item_id: str, flow_run_id: str, day: date) -> None:
    """Remember the run the tick started for a plan row."""
    with session_scope() as session:
        plan.record_stage_started(
            session=session,
            item_id=uuid.UUID(item_id),
            flow_run_id=uuid.UUID(flow_run_id),
            today=day,
        )


@task(name="stage-parameters", retries=2, retry_delay_seconds=[1, 5])
def stage_parameters(cycle_id: str, stage: str, day: date) -> dict[str, dict[str, str]]:
    """The parameters of a stage flow the tick starts: organisation, year, the plan's day."""
    with session_scope() as session:
        return tick.stage_parameters(
            session=session, cycle_id=uuid.UUID(cycle_id), stage=stage, day=day
        )
