"""A cycle's day as the daily tick does it, and many cycles' days side by side in processes.

The deployed tick (flows/cycle.py) and the simulated year (deployments/year.py) both run
`cycles_day`: for each cycle the plan's rules, the meetings and completion stages' day, the
plan's status (and a department's dashboard) as markdown, and one attempt at the day's e-mails.
It needs only the databases and the SMTP relay, never the Prefect server, so on PostgreSQL the
cycles' days run side by side in processes of their own (`day_processes`), and the tick is a few
task runs a day however many organisations it serves — one task run per cycle and step was
≈ 7 a cycle, ≈ 130 000 task runs a year for a department of fifty schools.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.exc import OperationalError

from nastavnik import (
    completion_reminders,
    dashboard,
    mail,
    monthly,
    plan,
    roadmap_report,
    tick,
)
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import Settings

logger = logging.getLogger(__name__)

# How often a cycle's day is tried when SQLite stays locked (it is idempotent per day).
TICK_ATTEMPTS = 3
# One per core. A day waits for the database or the relay a third of its time (py-spy over a
# department's simulated year), but PostgreSQL works on the same cores meanwhile: with two per
# core the simulated department's days took as long (bench/department.py, 6 schools: 56.2 s
# against 56.0 s) for 15 % more CPU.
DAY_PROCESSES_PER_CORE = 1
# Fewer cycles than this are done in the calling process: spawning the processes costs ≈1–2 s.
MIN_CYCLES_FOR_PROCESSES = 4


@dataclass
class OrganisationDay:
    """What one cycle's tick did on a day, made where it ran (this process or one of
    `day_processes`): plain data, no database rows."""

    cycle_id: uuid.UUID
    outcome: tick.TickOutcome
    starts: list[tuple[tick.StageStart, dict[str, str]]]  # with the stage's parameters
    meetings: monthly.MeetingsDay
    status_markdown: str  # "" for a cycle without a plan
    dashboard: tuple[str, str] | None  # (artifact key, markdown) for a department's cycle
    message_ids: list[uuid.UUID]  # e-mails queued today, each attempted once
    seconds: dict[str, float] = field(default_factory=dict)  # by part, where it ran

    @property
    def messages(self) -> int:
        return len(self.message_ids)


@dataclass(frozen=True)
class DayFailed:
    """A cycle whose day failed: the others' days are done all the same."""

    cycle_id: uuid.UUID
    error: str  # the exception's type and message (the traceback is logged where it failed)


def organisation_day(
    *,
    settings: Settings,
    cycle_id: uuid.UUID,
    day: date,
    now: datetime,
    policy: tick.ReminderPolicy | None = None,
) -> OrganisationDay:
    """The tick's work for one cycle on `day` (reminders by `policy`, else the organisation's);
    the same day twice changes and sends nothing more."""
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    # A run resumed this morning may hold SQLite's write lock past its 30 s busy timeout on
    # a loaded machine (a long document batch): the rules are idempotent per day, so they run
    # again from the start rather than failing the day.
    for attempt in range(1, TICK_ATTEMPTS + 1):
        try:
            outcome, starts, meetings, message_ids = _tick_rules(
                settings=settings, cycle_id=cycle_id, day=day, now=now, policy=policy
            )
            break
        except OperationalError as error:
            if "locked" not in str(error) or attempt == TICK_ATTEMPTS:
                raise
            time.sleep(1.0)
    seconds["tick rules"] = time.perf_counter() - began
    began = time.perf_counter()
    with session_scope() as session:
        status_markdown = ""  # a cycle without a plan (not ticked by the deployed tick) has none
        if plan.get_plan(session=session, cycle_id=cycle_id) is not None:
            report = roadmap_report.status_report(session=session, cycle_id=cycle_id, today=day)
            status_markdown = roadmap_report.status_markdown(
                report, web_base_url=settings.web_base_url
            )
        board = dashboard.dashboard_for_cycle(session=session, cycle_id=cycle_id, today=day)
        shown = None
        if board is not None:
            markdown = dashboard.dashboard_markdown(board, web_base_url=settings.web_base_url)
            shown = (dashboard.artifact_key(board.department_code), markdown)
    seconds["status and dashboard"] = time.perf_counter() - began
    if message_ids:
        # One attempt each, never waiting: what fails is the outbox's retry pass's to send.
        began = time.perf_counter()
        asyncio.run(
            mail.deliver_messages(engine=get_engine(), settings=settings, message_ids=message_ids)
        )
        seconds["mail"] = time.perf_counter() - began
    return OrganisationDay(
        cycle_id=cycle_id,
        outcome=outcome,
        starts=starts,
        meetings=meetings,
        status_markdown=status_markdown,
        dashboard=shown,
        message_ids=message_ids,
        seconds=seconds,
    )


def _tick_rules(
    *,
    settings: Settings,
    cycle_id: uuid.UUID,
    day: date,
    now: datetime,
    policy: tick.ReminderPolicy | None,
) -> tuple[
    tick.TickOutcome,
    list[tuple[tick.StageStart, dict[str, str]]],
    monthly.MeetingsDay,
    list[uuid.UUID],
]:
    with session_scope() as session:
        outcome = tick.run_tick(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            today=day,
            now=now,
            policy=policy,
        )
        starts = [
            (
                start,
                tick.stage_parameters(
                    session=session, cycle_id=cycle_id, stage=start.stage, day=day
                )["params"],
            )
            for start in outcome.starts
        ]
        session.commit()
        # The meetings stage's day, after the plan's rules: the ended month's reports and the
        # curator's summary when due, and the reminders about logs and feedback.
        meetings = monthly.run_day(
            session=session, settings=settings, cycle_id=cycle_id, today=day, now=now
        )
        # The completion stage's reminders about the §2.13–§2.14 reports due.
        completion_mail = completion_reminders.queue_reminders(
            session=session, settings=settings, cycle_id=cycle_id, today=day, now=now
        )
    return (
        outcome,
        starts,
        meetings,
        [*outcome.message_ids, *meetings.message_ids, *completion_mail],
    )


def cycles_day(
    *,
    settings: Settings,
    cycle_ids: Sequence[uuid.UUID],
    day: date,
    now: datetime,
    policies: Mapping[uuid.UUID, tick.ReminderPolicy] | None = None,
    pool: Executor | None = None,
) -> list[OrganisationDay | DayFailed]:
    """Each cycle's day, in the given order: side by side in the pool's processes, or here one
    after another. One organisation's failure does not stop the others' days: it comes back as
    DayFailed. A department's cycle is started first: its dashboard reads every member's
    figures, the longest day of all, so it does not finish last."""
    policies = policies or {}
    day_of = functools.partial(_day_or_failure, settings=settings, day=day, now=now)
    if pool is None:
        return [day_of(cycle_id, policies.get(cycle_id)) for cycle_id in cycle_ids]
    with session_scope() as session:
        departments = set(dashboard.department_cycles(session=session, cycle_ids=cycle_ids))
    order = sorted(cycle_ids, key=lambda cycle_id: cycle_id not in departments)  # stable
    submitted = {
        cycle_id: pool.submit(day_of, cycle_id, policies.get(cycle_id)) for cycle_id in order
    }
    return [submitted[cycle_id].result() for cycle_id in cycle_ids]


def _day_or_failure(
    cycle_id: uuid.UUID,
    policy: tick.ReminderPolicy | None,
    *,
    settings: Settings,
    day: date,
    now: datetime,
) -> OrganisationDay | DayFailed:
    try:
        return organisation_day(
            settings=settings, cycle_id=cycle_id, day=day, now=now, policy=policy
        )
    except Exception as error:  # noqa: BLE001 (one organisation's day must not stop the rest)
        logger.exception("цикл %s: день %s не выполнен", cycle_id, day)
        return DayFailed(cycle_id, f"{type(error).__name__}: {error}")


def day_process_count(*, cycles: int, settings: Settings) -> int:
    """How many processes the cycles' days run in: `settings.tick_processes` when set, else
    one per core on PostgreSQL (at most one per cycle; none below MIN_CYCLES_FOR_PROCESSES),
    and 1 — the calling process — on SQLite, which takes one writer at a time."""
    if settings.tick_processes:
        return max(1, min(settings.tick_processes, cycles))
    if cycles < MIN_CYCLES_FOR_PROCESSES or get_engine().dialect.name != "postgresql":
        return 1
    return min(cycles, DAY_PROCESSES_PER_CORE * (os.cpu_count() or 1))


@contextlib.contextmanager
def day_processes(count: int) -> Iterator[Executor | None]:
    """A pool of `count` processes for cycles' days (None for 1: the days run here)."""
    if count <= 1:
        yield None
        return
    # Spawned, not forked: the caller has threads (a flow run's, the simulation's artifacts)
    # and a connection pool that a forked child must not share.
    with ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_day_process,
        initargs=(dict(os.environ),),
    ) as pool:
        yield pool


def _day_process(environment: dict[str, str]) -> None:
    """A day process starts with its caller's environment: settings and the stored clock."""
    from nastavnik.clock import process_clock
    from nastavnik.settings import get_settings

    os.environ.update(environment)
    get_settings.cache_clear()
    process_clock.cache_clear()
