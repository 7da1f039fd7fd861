"""Tasks of the annual cycle's daily tick: what is due, every cycle's day, stage runs started.

A few task runs a day, however many organisations the installation serves: the cycles' days
are one task (nastavnik/tick_day.py runs them side by side in processes), not a task run per
cycle and step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import task

from nastavnik import plan, tick_day
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


@dataclass(frozen=True)
class CycleDay:
    """What the tick did for one cycle on a day, for the flow to start and publish: ids,
    counts and markdown (no names: it goes to runs and artifacts), or why it failed."""

    summary: TickSummary
    starts: list[dict[str, Any]]  # item_id, number, stage and the stage run's parameters
    month: date | None  # the month whose reports and curator's summary were made today
    monthly_reports: int
    monthly_document_id: str | None
    monthly_table: list[dict[str, str | int]]
    monthly_description: str
    status_markdown: str
    dashboard: dict[str, str] | None  # a department's: its artifact key and markdown
    failure: str | None = None


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
def stage_runs_open(cycle_ids: list[str]) -> list[str]:
    """Ids of the flow runs of the cycles' stage items not yet closed."""
    with session_scope() as session:
        return [
            str(run_id)
            for cycle_id in cycle_ids
            for run_id in plan.stage_runs_open(session=session, cycle_id=uuid.UUID(cycle_id))
        ]


@task(name="tick-cycles", retries=2, retry_delay_seconds=[1, 5])
def tick_cycles(cycle_ids: list[str], day: date) -> list[CycleDay]:
    """Every cycle's day — the plan's rules, the meetings and completion stages' day, the status,
    one attempt at the mail — side by side in processes; idempotent per day."""
    settings = get_settings()
    ids = [uuid.UUID(cycle_id) for cycle_id in cycle_ids]
    processes = tick_day.day_process_count(cycles=len(ids), settings=settings)
    with tick_day.day_processes(processes) as pool:
        days = tick_day.cycles_day(
            settings=settings, cycle_ids=ids, day=day, now=process_clock().now(), pool=pool
        )
    return [cycle_day(done, day) for done in days]


def cycle_day(done: tick_day.OrganisationDay | tick_day.DayFailed, day: date) -> CycleDay:
    """A cycle's day as the flow gets it: plain data from the core's outcome."""
    if isinstance(done, tick_day.DayFailed):
        nothing = TickSummary(str(done.cycle_id), day, [], [], [], [], [], 0)
        return CycleDay(nothing, [], None, 0, None, [], "", "", None, failure=done.error)
    outcome, meetings = done.outcome, done.meetings
    summary = TickSummary(
        cycle_id=str(done.cycle_id),
        day=day,
        starts=[
            {"item_id": str(start.item_id), "number": start.number, "stage": start.stage}
            for start, _ in done.starts
        ],
        waiting=outcome.waiting,
        changes=[
            {"number": c.number, "occurrence": str(c.occurrence), "from": c.old, "to": c.new}
            for c in outcome.changes
        ],
        message_ids=[str(m) for m in done.message_ids],
        reissued=[str(r) for r in outcome.reissued],
        ended_pairs=len(outcome.ended_pairs),
    )
    return CycleDay(
        summary=summary,
        starts=[
            {**plain, "params": params}
            for plain, (_, params) in zip(summary.starts, done.starts, strict=True)
        ],
        month=meetings.month,
        monthly_reports=meetings.reports,
        monthly_document_id=str(meetings.document_id) if meetings.document_id else None,
        monthly_table=meetings.table_rows,
        monthly_description=meetings.description,
        status_markdown=done.status_markdown,
        dashboard=(
            {"key": done.dashboard[0], "markdown": done.dashboard[1]} if done.dashboard else None
        ),
    )


@task(name="record-stages-started", retries=2, retry_delay_seconds=[1, 5])
def record_stages_started(started: list[tuple[str, str]], day: date) -> None:
    """Remember the run the tick started for each plan row: (item id, flow run id)."""
    with session_scope() as session:
        for item_id, flow_run_id in started:
            plan.record_stage_started(
                session=session,
                item_id=uuid.UUID(item_id),
                flow_run_id=uuid.UUID(flow_run_id),
                today=day,
            )
