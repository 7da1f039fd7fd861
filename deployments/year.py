"""A school year on a simulated clock: the tick's logic day by day, stage flows as deployments.

The simulation moves the installation's stored clock (`NASTAVNIK_CLOCK=simulated`) to each day
on which something is due — a window opens, a reminder or an escalation falls due, a scripted
person acts — runs the tick's rules for that day (in this process, or for several organisations
on PostgreSQL side by side in processes of its own), starts the stage flows the tick asks for as
deployments, and answers their approvals as the script says: the same code as production, only
the days are skipped between events. The web endpoint and the runner's flow
processes read the same stored clock, so codes expire and documents are dated in simulated time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import col, select

from deployments.catalog import run_label
from models import (
    ApprovalRequest,
    ApprovalStatus,
    Cycle,
    ItemStatus,
    Organization,
    PlanItem,
)
from nastavnik import (
    plan,
    progress,
    report_envelope,
    roadmap_report,
    tick,
    tick_day,
)
from nastavnik.approvals import BATCH_PAUSE_PREFIX
from nastavnik.clock import StoredClock
from nastavnik.db import get_engine, session_scope
from nastavnik.policy import OrganisationPolicy
from nastavnik.programmes import month_label
from nastavnik.settings import Settings

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.client.schemas.objects import State
    from prefect.context import AsyncClientContext

T = TypeVar("T")
Action = Callable[[], str]  # does something a person does; returns a line for the log


@dataclass(frozen=True)
class RunRequest:
    """A deployed flow a person starts (a change to a pair, say): what, with what, and why."""

    deployment: str  # "<flow>/<deployment>"
    parameters: dict[str, object]
    run_name: str
    line: str
    idempotency_key: str | None = None  # default: the script's day and the run's name


RunAction = Callable[[], RunRequest | None]  # None: nothing to start today


@dataclass(frozen=True)
class ScriptedDecision:
    """How the approver answers one approval key: after how many days, what, with what first."""

    after_days: int = 0
    decision: str = "approve"
    comment: str = ""
    exceptions: dict[int, str] = field(default_factory=dict)
    before: Action | None = None  # e.g. the curator imports attendance, then the director decides


@dataclass
class YearScript:
    """What the people of the school do during the simulated year."""

    actions: dict[date, list[Action]] = field(default_factory=dict)
    decisions: dict[str, ScriptedDecision] = field(default_factory=dict)
    runs: dict[date, list[RunAction]] = field(default_factory=dict)

    def decision_for(self, approval_key: str) -> ScriptedDecision:
        """The scripted answer; keys with a round number («pairing-order-1») match their stem."""
        if approval_key in self.decisions:
            return self.decisions[approval_key]
        stem = approval_key.rsplit("-", 1)[0]
        return self.decisions.get(stem, ScriptedDecision())


Decide = Callable[[ApprovalRequest, ScriptedDecision], None]
# The simulation's part that is the wall time of the organisations' ticks run side by side (the
# parts inside them, "tick rules" and the rest, are then the processes' time added up).
TICKS_SIDE_BY_SIDE = "ticks side by side (wall)"
# How often one run may crash and be continued before the simulation gives up on it.
MAX_CRASH_RETRIES = 3


@dataclass
class YearLog:
    """What happened, for the console and the benchmark."""

    days_ticked: int = 0
    runs: dict[str, uuid.UUID] = field(default_factory=dict)
    decisions: int = 0
    messages: int = 0
    crashes_continued: int = 0
    lines: list[tuple[date, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # The slowest single steps (seconds, part, day): one stuck call hides in a part's total.
    slowest: list[tuple[float, str, date]] = field(default_factory=list)
    day: date | None = None

    def add(self, day: date, line: str) -> None:
        self.lines.append((day, line))

    def timed(self, what: str, started: float) -> None:
        self.took(what, time.perf_counter() - started)

    def took(self, what: str, seconds: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + seconds
        if self.day is not None:
            self.slowest = sorted([*self.slowest, (seconds, what, self.day)], reverse=True)[:5]


@dataclass
class OrganisationEvening:
    """A cycle's plan after the day's runs: what changed, and the days ahead on which its tick
    has something to do (from its rows, pairs and waiting decisions)."""

    changes: list[plan.StatusChange]
    days: set[date]


def organisation_evening(
    *, cycle_id: uuid.UUID, day: date, policy: tick.ReminderPolicy, report_deadline_days: int
) -> OrganisationEvening:
    """The plan refreshed after the day's runs and the cycle's days ahead (the database only)."""
    with session_scope() as session:
        changes = plan.refresh(session=session, cycle_id=cycle_id, today=day)
    with session_scope() as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
        # Only the terms: a whole pair row carries its JSON columns, decoded for each day.
        pair_terms = plan.pair_terms(session=session, cycle_id=cycle_id)
        terms = [(t.starts_on, t.ends_on) for t in pair_terms if t.starts_on and t.ends_on]
        pending = list(
            session.exec(
                select(ApprovalRequest).where(
                    ApprovalRequest.cycle_id == cycle_id,
                    ApprovalRequest.status == ApprovalStatus.pending,
                )
            )
        )
    days = interesting_days(rows=rows, pending=pending, policy=policy, terms=pair_terms)
    days |= meeting_days(terms=terms, policy=policy, report_deadline_days=report_deadline_days)
    return OrganisationEvening(changes=changes, days=days)


@dataclass
class _Pending:
    request_id: uuid.UUID
    run_id: uuid.UUID
    approval_key: str
    due: date


# How often the simulation reads its runs' states: at first, and at most while none changes.
POLL_FIRST, POLL_MAX = 0.1, 0.5


def interesting_days(
    *,
    rows: list[PlanItem],
    pending: list[ApprovalRequest],
    policy: tick.ReminderPolicy,
    terms: Sequence[plan.PairTerm] = (),
) -> set[date]:
    """Days on which the tick has something to do for these rows and waiting decisions (a
    meetings row with no pair at work in its window has none: it is skipped on a later tick)."""
    days: set[date] = set()
    for row in rows:
        if row.status in plan.CLOSED_STATUSES:
            continue
        if row.planned_end and plan.waits_for_pairs(row, terms, row.planned_end):
            continue
        if row.planned_start:
            days.add(row.planned_start)
        if row.planned_end:
            end = row.planned_end
            days |= {
                end - timedelta(days=policy.remind_days_before),
                end,
                end + timedelta(days=1),
                end + timedelta(days=policy.escalate_to_curator_after),
                end + timedelta(days=policy.escalate_to_director_after),
            }
            if row.completion_kind == "reports":  # a department chasing its members' reports
                days |= {
                    end + timedelta(days=policy.report_escalate_to_director_after),
                    end + timedelta(days=policy.report_escalate_to_department_after),
                }
    for request in pending:
        start = request.requested_at.date()
        every = policy.approval_remind_every
        days |= {start + timedelta(days=every * n) for n in range(1, 6)}
        days.add(start + timedelta(days=policy.approval_escalate_after))
        days.add(request.expires_at.date() + timedelta(days=1))
    return days


def meeting_days(
    *,
    terms: list[tuple[date, date]],
    policy: tick.ReminderPolicy,
    report_deadline_days: int,
) -> set[date]:
    """Days on which the meetings stage has something to do, from the pairs' terms (start, end):
    each month of the terms ends (reminders before, on and after its last day, the escalation)
    and its reports are assembled on the first of the next month."""
    days: set[date] = set()
    if not terms:
        return days
    month = progress.month_start(min(start for start, _ in terms))
    last = progress.month_start(max(end for _, end in terms))
    for _, ends_on in terms:
        # The §2.13–§2.14 reports are due the policy's days after the pair's end: reminded
        # before and on the day, then the curator is told.
        due = ends_on + timedelta(days=report_deadline_days)
        days |= {
            due - timedelta(days=policy.remind_days_before),
            due,
            due + timedelta(days=policy.escalate_to_curator_after),
        }
    while month <= last:
        end = progress.month_end(month)
        days |= {
            end - timedelta(days=policy.remind_days_before),
            end,
            end + timedelta(days=1),
            end + timedelta(days=policy.escalate_to_curator_after),
        }
        month = progress.next_month(month)
    return days


class ArtifactPublisher:
    """Creates artifacts in a background thread, in the order given, over one Prefect client.

    The simulation's day does not wait for the server's answer (≈50 ms each, one or two a day):
    the artifact's content is made on the day, only the call goes on beside the next steps.
    `close()` waits for every one and raises the first error."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="artifacts")
        self._thread.start()
        self._pending: list[concurrent.futures.Future[None]] = []
        self._client: PrefectClient | None = None
        self._order: asyncio.Lock | None = None

    async def _create(self, artifact: ArtifactCreate) -> None:
        from prefect.client.orchestration import get_client

        if self._order is None:
            self._order = asyncio.Lock()  # FIFO: artifacts with one key keep their order
        async with self._order:
            if self._client is None:
                self._client = await get_client().__aenter__()
            await self._client.create_artifact(artifact=artifact)

    def publish(self, artifact: ArtifactCreate) -> None:
        """Queue the artifact's creation."""
        self._pending.append(asyncio.run_coroutine_threadsafe(self._create(artifact), self._loop))

    def close(self) -> None:
        """Wait for every queued artifact, then stop the thread."""
        try:
            for future in self._pending:
                future.result()
        finally:
            if self._client is not None:
                client, self._client = self._client, None
                asyncio.run_coroutine_threadsafe(
                    client.__aexit__(None, None, None), self._loop
                ).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> ArtifactPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PrefectCalls:
    """One event loop and one Prefect client for the simulation's calls to the server.

    `asyncio.run()` per call made a loop and, through `get_client()`, a client each time: a new
    connection and a TLS context loaded from certifi's bundle (≈30 ms; a year makes a hundred
    of them). Here `get_client()` inside a call returns the one client, kept open until
    `close()`."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._client_context: AsyncClientContext | None = None
        self._lock = (
            threading.Lock()
        )  # one call at a time: the organisations' people act in threads

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run the coroutine on the simulation's loop and return its result."""
        with self._lock:
            if self._client_context is None:
                self._runner.run(self._open())
            return self._runner.run(coroutine)

    async def _open(self) -> None:
        from prefect.context import AsyncClientContext

        # Entered in the runner's context, which every later call runs in: get_client() there
        # finds this client.
        context = AsyncClientContext()
        await context.__aenter__()
        self._client_context = context

    def close(self) -> None:
        """Close the client and the loop."""
        try:
            if self._client_context is not None:
                self._runner.run(self._client_context.__aexit__(None, None, None))
        finally:
            self._client_context = None
            self._runner.close()

    def __enter__(self) -> PrefectCalls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class YearSimulation:
    """Runs one cycle's year on the stored clock with a script of human actions."""

    def __init__(
        self,
        *,
        settings: Settings,
        cycle_id: uuid.UUID,
        script: YearScript,
        decide: Decide,
        on_line: Callable[[date, str], None] = lambda day, line: None,
        policy: tick.ReminderPolicy | None = None,
        run_timeout: float = 600,
    ) -> None:
        self.settings, self.cycle_id, self.script, self.decide = settings, cycle_id, script, decide
        self.on_line = on_line
        rules = self._organisation_rules(cycle_id)
        self.policy = policy or tick.reminder_policy(rules)
        self.report_deadline_days = rules.report_deadline_days
        self.clock = StoredClock(get_engine())
        self.run_timeout = run_timeout
        self.log = YearLog()
        self.publisher: ArtifactPublisher | None = None  # run_together's, shared by its cycles
        self.prefect: PrefectCalls | None = None  # run_together's too
        self.waiting: list[_Pending] = []
        self.active_runs: set[uuid.UUID] = set()
        self.told_waits: set[str] = set()  # items whose stage waits, said once each
        self.status_shown: str | None = None  # the plan's status artifact last published
        self.due_starts: list[tick.DueStart] = []  # the day's stages, for run_together
        self.crash_retries: dict[uuid.UUID, int] = {}

    @staticmethod
    def _organisation_rules(cycle_id: uuid.UUID) -> OrganisationPolicy:
        from models import Cycle
        from nastavnik.policy import get_policy

        with session_scope() as session:
            cycle = session.get(Cycle, cycle_id)
            if cycle is None:
                raise LookupError(f"цикл {cycle_id} не найден")
            return get_policy(session=session, organization_id=cycle.organization_id)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine calling the Prefect server (on run_together's loop and client)."""
        if self.prefect is not None:
            return self.prefect.run(coroutine)
        return asyncio.run(coroutine)

    def _say(self, day: date, line: str) -> None:
        self.log.add(day, line)
        self.on_line(day, line)

    def run(self, *, start: date, end: date) -> YearLog:
        """Simulate from `start` to `end` (both inclusive); returns the log."""
        run_together([self], start=start, end=end)
        return self.log

    def _do_scripted(self, day: date) -> None:
        self.log.day = day  # each day starts here
        for action in self.script.actions.get(day, []):
            began = time.perf_counter()
            line = action()
            if line:  # an action with nothing left to do says nothing
                self._say(day, line)
            self.log.timed("scripted actions", began)
        for run_action in self.script.runs.get(day, []):
            began = time.perf_counter()
            request = run_action()
            if request is not None:
                run_id = self._start_run(request, day)
                self.log.runs[request.run_name] = run_id
                self.active_runs.add(run_id)
                self._say(day, request.line)
            self.log.timed("starting stage runs", began)
        for pending in [p for p in self.waiting if p.due <= day]:
            self.waiting.remove(pending)
            self._answer(day, pending)

    def _tick(self, day: date, now: datetime) -> None:
        """The day's tick for this cycle, here in this process."""
        self._apply_day(
            day,
            tick_day.organisation_day(
                settings=self.settings,
                cycle_id=self.cycle_id,
                day=day,
                now=now,
                policy=self.policy,
            ),
        )

    def _apply_day(self, day: date, work: tick_day.OrganisationDay) -> None:
        """Say, start and publish what the cycle's tick did on `day` (wherever it ran)."""
        self.log.days_ticked += 1
        for part, seconds in work.seconds.items():
            self.log.took(part, seconds)
        began = time.perf_counter()
        # As the deployed tick does (tasks/roadmap.py): a new version when the status changed.
        if not roadmap_report.same_status(self.status_shown, work.status_markdown):
            self._publish_artifact(
                key=f"roadmap-{self.cycle_id}",
                kind="markdown",
                data=work.status_markdown,
                description="Выполнение дорожной карты",
            )
            self.status_shown = work.status_markdown
        if work.dashboard is not None:  # a department's cycle: its organisations' dashboard
            key, markdown = work.dashboard
            self._publish_markdown(key=key, markdown=markdown, description="Мониторинг организаций")
        self.log.timed("status artifact", began)
        outcome, meetings = work.outcome, work.meetings
        self._say_changes(day, outcome.changes)
        for reason in outcome.waiting:  # «2.3: приказ о назначении наставников не утверждён»
            number, _, why = reason.partition(": ")
            if number not in self.told_waits:
                self.told_waits.add(number)
                self._say(day, f"пункт {number}: этап ждёт — {why}")
        # Started by run_together: the day's stages of every organisation, batched by stage.
        self.due_starts += [
            tick.DueStart(self.cycle_id, start, params) for start, params in work.starts
        ]
        if outcome.ended_pairs:
            self._say(day, f"пар завершено по сроку: {len(outcome.ended_pairs)}")
        for reissued in outcome.reissued:
            self._say(day, f"срок кода истёк: новый код по запросу {str(reissued)[:8]}")
        if meetings.month is not None:
            began = time.perf_counter()
            self._publish_table(
                key=f"monthly-summary-{self.cycle_id}",
                rows=meetings.table_rows,
                description=meetings.description,
            )
            self.log.timed("status artifact", began)
            self._say(
                day,
                f"отчёты наставников за {month_label(meetings.month).lower()}: "
                f"{meetings.reports}, сводка куратору",
            )
        if work.messages:
            self.log.messages += work.messages
            self._say(day, f"писем: {work.messages} (напоминания, запросы, эскалации)")

    def _report_started(self, day: date, request: RunRequest, run_id: uuid.UUID) -> None:
        """Record the run started for one of the department's requests to this organisation."""
        with session_scope() as session:
            report_envelope.record_run_started(
                session=session,
                request_key=str(request.idempotency_key).removeprefix("organisation-report:"),
                flow_run_id=run_id,
                now=self.clock.now(),
            )
        self.log.runs[request.run_name] = run_id
        self.active_runs.add(run_id)
        self._say(day, request.line)

    def _organisation_reports(self, day: date) -> list[RunRequest]:
        """The department's requests to this organisation to answer today, as the deployed tick
        starts them (flows/cycle.py start_organisation_reports)."""
        with session_scope() as session:
            cycle = session.get(Cycle, self.cycle_id)
            assert cycle is not None
            org = session.get(Organization, cycle.organization_id)
            assert org is not None
            requests = report_envelope.requests_to_answer(
                session=session, organization_id=org.id, today=day
            )
            return [
                RunRequest(
                    deployment="organisation-report/organisation-report",
                    parameters={
                        "params": {
                            "organization_code": org.code,
                            "school_year": request.school_year,
                            "request_key": request.unique_key,
                            "reference_date": day.isoformat(),
                        }
                    },
                    run_name=f"{org.code} · {request.school_year} · organisation-report",
                    line=f"запрос отдела «{request.title}»: отчёт организации на утверждение",
                    idempotency_key=f"organisation-report:{request.unique_key}",
                )
                for request in requests
                if request.school_year == cycle.school_year
            ]

    def _publish_markdown(self, *, key: str, markdown: str, description: str) -> None:
        self._publish_artifact(key=key, kind="markdown", data=markdown, description=description)

    def _publish_table(
        self, *, key: str, rows: list[dict[str, str | int]], description: str
    ) -> None:
        """A table artifact, as the deployed tick leaves the month's summary (counts only)."""
        self._publish_artifact(key=key, kind="table", data=rows, description=description)

    def _publish_artifact(self, *, key: str, kind: str, data: object, description: str) -> None:
        """Made on the day; created by run_together's publisher beside the next steps."""
        from prefect.client.schemas.actions import ArtifactCreate

        artifact = ArtifactCreate(key=key, type=kind, data=data, description=description)
        if self.publisher is not None:
            self.publisher.publish(artifact)
            return
        with ArtifactPublisher() as publisher:
            publisher.publish(artifact)

    def _refresh(self, day: date) -> set[date]:
        """The plan after the day's runs, here in this process; the cycle's days ahead."""
        return self._apply_evening(
            day,
            organisation_evening(
                cycle_id=self.cycle_id,
                day=day,
                policy=self.policy,
                report_deadline_days=self.report_deadline_days,
            ),
        )

    def _apply_evening(self, day: date, evening: OrganisationEvening) -> set[date]:
        self._say_changes(day, evening.changes)
        return evening.days

    def _say_changes(self, day: date, changes: list[plan.StatusChange]) -> None:
        for change in changes:
            number = (
                f"{change.number} ({change.occurrence})" if change.occurrence else change.number
            )
            self._say(day, f"пункт {number}: {plan.STATUS_RU[change.new]}")

    def _start_stage(self, group: list[tick.DueStart]) -> uuid.UUID:
        """The stage's own run for one organisation, a batch run for several (flows/batch.py),
        as the deployed tick starts them."""
        from deployments.prefect_api import start_deployment

        stage = group[0].start.stage
        if len(group) == 1:
            deployment = f"{stage}/{stage}"
            run_name, tags = run_label(deployment, dict(group[0].params))
            return self._call(
                start_deployment(
                    deployment,
                    {"params": group[0].params},
                    idempotency_key=f"tick:{group[0].start.item_id}",
                    run_name=run_name,
                    tags=tags,
                )
            )
        members: list[dict[str, object]] = [dict(due.params) for due in group]
        return self._start_batch(stage, members, tick.batch_idempotency_key(group))

    def _start_batch(
        self, stage: str, members: list[dict[str, object]], idempotency_key: str
    ) -> uuid.UUID:
        """One stage-batch run for these organisations, as the deployed tick starts it."""
        from deployments.prefect_api import start_deployment

        name, tags = tick.batch_label(stage, members)
        return self._call(
            start_deployment(
                tick.BATCH_DEPLOYMENT,
                {"params": {"stage": stage, "members": members}},
                idempotency_key=idempotency_key,
                run_name=name,
                tags=tags,
            )
        )

    def _started(self, day: date, due: tick.DueStart, run_id: uuid.UUID) -> None:
        """Record the run started for one of this cycle's plan rows."""
        with session_scope() as session:
            plan.record_stage_started(
                session=session, item_id=due.start.item_id, flow_run_id=run_id, today=day
            )
        self.log.runs[due.start.stage] = run_id
        self.active_runs.add(run_id)
        self._say(day, f"пункт {due.start.number}: запущен этап «{due.start.stage}»")

    def _start_run(self, request: RunRequest, day: date) -> uuid.UUID:
        from deployments.prefect_api import start_deployment

        params = request.parameters.get("params")
        _, tags = run_label(request.deployment, params if isinstance(params, dict) else {})
        return self._call(
            start_deployment(
                request.deployment,
                dict(request.parameters),
                idempotency_key=request.idempotency_key
                or f"script:{day.isoformat()}:{request.run_name}",
                run_name=request.run_name,
                tags=tags,
            )
        )

    def _settle_runs(self, day: date) -> None:
        """Wait for every active run to pause or finish; answer pauses due today."""
        while self.active_runs:
            began = time.perf_counter()
            settled = self._call(self._wait_all_settled())
            self.log.timed("waiting for runs", began)
            answered_now = False
            for run_id, state_name, pause_key in settled:
                if state_name == "Crashed" and self._continue_crashed(day, run_id):
                    answered_now = True  # settle again: the same run goes on
                    continue
                if state_name != "Suspended":
                    self.active_runs.discard(run_id)
                    if state_name != "Completed":
                        raise RuntimeError(f"run {run_id} ended as {state_name}")
                    continue
                for request in self._awaited(run_id, pause_key):
                    if any(p.request_id == request.id for p in self.waiting):
                        continue
                    scripted = self.script.decision_for(request.approval_key)
                    pending = _Pending(
                        request.id,
                        run_id,
                        request.approval_key,
                        day + timedelta(days=scripted.after_days),
                    )
                    if scripted.after_days == 0:
                        self._answer(day, pending)
                        answered_now = True
                    else:
                        self.waiting.append(pending)
                        self._say(day, f"«{request.title}» ждёт решения до {pending.due:%d.%m.%Y}")
            if not answered_now:
                return

    def _continue_crashed(self, day: date, run_id: uuid.UUID) -> bool:
        """A run whose process died (its worker's machine lost, say) goes on as the same run, as
        `nastavnik runs retry` does: its finished tasks come back cached and its documents and
        e-mails are found by their keys, not made again. False once it crashed too often."""
        from deployments.prefect_api import retry_run
        from flows.recovery import NotRetryable

        self.crash_retries[run_id] = self.crash_retries.get(run_id, 0) + 1
        if self.crash_retries[run_id] > MAX_CRASH_RETRIES:
            return False
        try:
            self._call(retry_run(run_id))
        except NotRetryable:  # a batch run another organisation's turn continued already
            return True
        self.log.crashes_continued += 1
        self._say(day, f"запуск {str(run_id)[:8]} прерван (Crashed): продолжен тот же запуск")
        return True

    async def _wait_all_settled(self) -> list[tuple[uuid.UUID, str, str | None]]:
        from prefect.client.orchestration import get_client

        deadline = time.monotonic() + self.run_timeout
        waiting_keys = {p.run_id for p in self.waiting}
        # One client and one query a poll for all the active runs; the poll backs off while
        # nothing changes (a long run, or runs queued behind busy workers, is polled every half
        # second, not ten times a second: the server's CPU is the workers' too).
        interval, seen = POLL_FIRST, None
        async with get_client() as client:
            while True:
                states = await self._run_states(client)
                now_seen = [(run_id, name) for run_id, name, _, _ in states]
                interval = POLL_FIRST if now_seen != seen else min(interval * 1.5, POLL_MAX)
                seen = now_seen
                settled = all(
                    state.is_final()
                    or (
                        name == "Suspended"
                        and (run_id in waiting_keys or self._has_open_request(run_id, key))
                    )
                    for run_id, name, key, state in states
                )
                if settled:
                    return [(run_id, name, key) for run_id, name, key, _ in states]
                if time.monotonic() > deadline:
                    raise TimeoutError(f"runs did not settle: {[(s[0], s[1]) for s in states]}")
                await asyncio.sleep(interval)

    async def _run_states(
        self, client: PrefectClient
    ) -> list[tuple[uuid.UUID, str, str | None, State]]:
        """Each active run's state name, pause key and state, in one query."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        ids = list(self.active_runs)
        found = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
        )
        by_id = {run.id: run for run in found}
        states = []
        for run_id in ids:
            run = by_id.get(run_id) or await client.read_flow_run(run_id)
            state = run.state
            assert state is not None
            states.append((run_id, str(state.name), state.state_details.pause_key, state))
        return states

    def _has_open_request(self, run_id: uuid.UUID, pause_key: str | None) -> bool:
        if not pause_key:
            return False
        with session_scope() as session:
            if pause_key.startswith(BATCH_PAUSE_PREFIX):  # any organisation's, in a batch run
                waits = ApprovalRequest.batch_run_id == run_id
            else:
                waits = (ApprovalRequest.flow_run_id == run_id) & (
                    ApprovalRequest.approval_key == pause_key.rsplit("-", 1)[0]
                )
            found = session.exec(
                select(ApprovalRequest.id).where(
                    waits, ApprovalRequest.status == ApprovalStatus.pending
                )
            ).first()
        return found is not None

    def _awaited(self, run_id: uuid.UUID, pause_key: str | None) -> list[ApprovalRequest]:
        """This cycle's requests the paused run waits for: its pause's, or in a batch run every
        pending one of this cycle."""
        key = pause_key or ""
        if not key.startswith(BATCH_PAUSE_PREFIX):
            return [self._request(run_id, key.rsplit("-", 1)[0])]
        with session_scope() as session:
            return list(
                session.exec(
                    select(ApprovalRequest)
                    .where(
                        ApprovalRequest.batch_run_id == run_id,
                        ApprovalRequest.cycle_id == self.cycle_id,
                        ApprovalRequest.status == ApprovalStatus.pending,
                    )
                    .order_by(col(ApprovalRequest.requested_at))
                )
            )

    def _request(self, run_id: uuid.UUID, approval_key: str) -> ApprovalRequest:
        with session_scope() as session:
            return session.exec(
                select(ApprovalRequest).where(
                    ApprovalRequest.flow_run_id == run_id,
                    ApprovalRequest.approval_key == approval_key,
                )
            ).one()

    def _answer(self, day: date, pending: _Pending) -> None:
        scripted = self.script.decision_for(pending.approval_key)
        if scripted.before is not None:
            self._say(day, scripted.before())
        with session_scope() as session:
            request = session.get(ApprovalRequest, pending.request_id)
        assert request is not None
        began = time.perf_counter()
        self.decide(request, scripted)
        self.log.timed("decisions", began)
        self.log.decisions += 1
        self.active_runs.add(pending.run_id)
        self._say(day, f"«{request.title}»: решение «{scripted.decision}»")

    def _next_day(self, day: date, end: date, *, busy: bool, days: set[date]) -> date:
        """The next day on which this cycle has something to do: the days ahead its data gives
        (organisation_evening), the script's, and tomorrow after a busy day."""
        days = days | set(self.script.actions) | set(self.script.runs)
        days |= {p.due for p in self.waiting}
        if busy:
            days.add(day + timedelta(days=1))
        days.add(end)  # the year's last tick: pairs past their term end, overdue items show
        later = sorted(d for d in days if day < d <= end)
        return later[0] if later else end + timedelta(days=1)


def run_together(
    simulations: list[YearSimulation],
    *,
    start: date,
    end: date,
    concurrent: bool | None = None,
    processes: int | None = None,
) -> None:
    """Simulate several organisations' cycles (a department and its schools) day by day on the
    one stored clock.

    On SQLite (``concurrent`` False) each day every organisation in turn acts, ticks and lets its
    runs settle before the next one's turn: one writer at a time, so one organisation's long
    document batch never holds the lock while another's tick waits for it. On PostgreSQL (the
    default there), where concurrent writers are fine, every organisation acts, then their
    ticks run side by side in ``processes`` processes (default: one per core, at most one per
    organisation; 1: in this process), and all the day's runs are then settled together, so the
    workers run several organisations' stages at once (bench/department.py measures both)."""
    if not simulations:
        return
    if concurrent is None:
        concurrent = get_engine().dialect.name == "postgresql"
    if processes is None:
        cores = os.cpu_count() or 1
        processes = (
            min(len(simulations), tick_day.DAY_PROCESSES_PER_CORE * cores) if concurrent else 1
        )
    with contextlib.ExitStack() as stack:
        publisher = stack.enter_context(ArtifactPublisher())
        prefect = stack.enter_context(PrefectCalls())
        pool = stack.enter_context(tick_day.day_processes(processes if concurrent else 1))
        # The organisations' people act side by side too (threads: they mostly wait for the
        # web page and the mail), each organisation's in its own order.
        people = (
            stack.enter_context(ThreadPoolExecutor(max_workers=min(len(simulations), 8)))
            if pool is not None
            else None
        )
        for simulation in simulations:
            simulation.publisher, simulation.prefect = publisher, prefect
        try:
            _run_days(
                simulations, start=start, end=end, concurrent=concurrent, pool=pool, people=people
            )
        finally:
            for simulation in simulations:
                simulation.publisher, simulation.prefect = None, None


def _run_days(
    simulations: list[YearSimulation],
    *,
    start: date,
    end: date,
    concurrent: bool,
    pool: Executor | None = None,
    people: Executor | None = None,
) -> None:
    clock = simulations[0].clock
    day = start
    while day <= end:
        clock.set_day(day)
        now = clock.now()
        marks = [len(simulation.log.lines) for simulation in simulations]
        if concurrent:
            _act_all(simulations, day, people)
            _tick_all(simulations, day, now, pool)
            _start_due(simulations, day)
            for simulation in simulations:
                simulation._settle_runs(day)
            # The department's tick opened the day's requests before the members start their
            # reports (after their stage runs of the day settled).
            _start_reports(simulations, day)
            for simulation in simulations:
                simulation._settle_runs(day)
        else:
            for simulation in simulations:
                simulation._do_scripted(day)
                simulation._tick(day, now)
                _start_due([simulation], day)
                simulation._settle_runs(day)
                _start_reports([simulation], day)
                simulation._settle_runs(day)
        # What the day's runs finished shows on the same day.
        ahead = _refresh_all(simulations, day, pool)
        # A day on which something happened may let a stage start on the next one, as the
        # daily tick of a real year would see the next morning.
        busy = any(
            not line.startswith("писем")
            for simulation, mark in zip(simulations, marks, strict=True)
            for _, line in simulation.log.lines[mark:]
        )
        day = min(
            simulation._next_day(day, end, busy=busy, days=days)
            for simulation, days in zip(simulations, ahead, strict=True)
        )


def _act_all(simulations: list[YearSimulation], day: date, people: Executor | None) -> None:
    """What every organisation's people do today (actions, decisions), one organisation after
    another or side by side in threads."""
    if people is None:
        for simulation in simulations:
            simulation._do_scripted(day)
        return
    for done in [people.submit(simulation._do_scripted, day) for simulation in simulations]:
        done.result()


def _tick_all(
    simulations: list[YearSimulation],
    day: date,
    now: datetime,
    pool: Executor | None,
) -> None:
    """Every organisation's tick of the day: in the pool's processes side by side, or here one
    after another; what each did is said and started here, in the organisations' order."""
    if pool is None:
        for simulation in simulations:
            simulation._tick(day, now)
        return
    began = time.perf_counter()
    # The deployed tick's days (flows/cycle.py), for one installation: the same settings.
    days = tick_day.cycles_day(
        settings=simulations[0].settings,
        cycle_ids=[simulation.cycle_id for simulation in simulations],
        day=day,
        now=now,
        policies={simulation.cycle_id: simulation.policy for simulation in simulations},
        pool=pool,
    )
    for simulation, work in zip(simulations, days, strict=True):
        if isinstance(work, tick_day.DayFailed):  # a simulated year stops at its first failure
            raise RuntimeError(f"{day}: день цикла {work.cycle_id} не выполнен: {work.error}")
        simulation._apply_day(day, work)
    simulations[0].log.took(TICKS_SIDE_BY_SIDE, time.perf_counter() - began)


def _refresh_all(
    simulations: list[YearSimulation], day: date, pool: Executor | None
) -> list[set[date]]:
    """Every organisation's plan after the day's runs, side by side in the pool's processes or
    here; the days ahead of each."""
    if pool is None:
        return [simulation._refresh(day) for simulation in simulations]
    began = time.perf_counter()
    evenings = [
        pool.submit(
            organisation_evening,
            cycle_id=simulation.cycle_id,
            day=day,
            policy=simulation.policy,
            report_deadline_days=simulation.report_deadline_days,
        )
        for simulation in simulations
    ]
    ahead = [
        simulation._apply_evening(day, evening.result())
        for simulation, evening in zip(simulations, evenings, strict=True)
    ]
    simulations[0].log.took(TICKS_SIDE_BY_SIDE, time.perf_counter() - began)
    return ahead


def _start_due(simulations: list[YearSimulation], day: date) -> None:
    """Start the stages the day's ticks found due: one run per stage for all the organisations
    it is due for (a batch run for several, flows/batch.py), as the deployed tick does."""
    by_cycle = {simulation.cycle_id: simulation for simulation in simulations}
    due = [d for simulation in simulations for d in simulation.due_starts]
    for simulation in simulations:
        simulation.due_starts = []
    for group in tick.batches(due, max_size=simulations[0].settings.batch_size):
        first = by_cycle[group[0].cycle_id]
        began = time.perf_counter()
        run_id = first._start_stage(group)
        for start in group:
            by_cycle[start.cycle_id]._started(day, start, run_id)
        first.log.timed("starting stage runs", began)


def _start_reports(simulations: list[YearSimulation], day: date) -> None:
    """Start the report runs for the department's requests the organisations answer today (after
    their stage runs of the day settled): a run of its own for one, a batch run for several."""
    wanted = [(s, request) for s in simulations for request in s._organisation_reports(day)]
    for chunk in tick.split_evenly(wanted, simulations[0].settings.batch_size):
        _start_report_run(chunk, day)


def _start_report_run(wanted: list[tuple[YearSimulation, RunRequest]], day: date) -> None:
    """One run for these organisations' reports, recorded for each of their requests."""
    first, began = wanted[0][0], time.perf_counter()
    if len(wanted) == 1:
        run_id = first._start_run(wanted[0][1], day)
    else:
        members: list[dict[str, object]] = [
            dict(request.parameters["params"])  # type: ignore[call-overload]
            for _, request in wanted
        ]
        keys = [str(m["request_key"]) for m in members]
        run_id = first._start_batch("organisation-report", members, tick.report_batch_key(keys))
    for simulation, request in wanted:
        simulation._report_started(day, request, run_id)
    first.log.timed("starting stage runs", began)


def status_counts(*, cycle_id: uuid.UUID) -> dict[ItemStatus, int]:
    """How many plan rows are in each status."""
    with session_scope() as session:
        rows = session.exec(select(PlanItem.status).where(PlanItem.cycle_id == cycle_id)).all()
    counts = dict.fromkeys(ItemStatus, 0)
    for status in rows:
        counts[ItemStatus(status)] += 1
    return counts
