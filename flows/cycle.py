"""The annual cycle's daily tick as a deployed flow on a cron schedule (DESIGN §7)."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import flow, get_run_logger
from prefect.deployments import run_deployment
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.recovery import continue_crashed_runs, wake_decided_runs
from nastavnik.clock import process_clock
from nastavnik.settings import get_settings
from nastavnik.tick import (
    BATCH_DEPLOYMENT,
    DueStart,
    StageStart,
    batch_idempotency_key,
    batch_label,
    batches,
    report_batch_key,
    split_evenly,
)
from tasks.cycle import (
    TickSummary,
    cycles_to_tick,
    record_stages_started,
    stage_runs_open,
    tick_cycles,
)
from tasks.organisation_report import record_reports_started, reports_to_start
from tasks.publishing import publish_markdown, publish_table
from tasks.roadmap import publish_plan_statuses

REPORT_STAGE = "organisation-report"


def stage_deployment(stage: str) -> str:
    """``<flow>/<deployment>`` of a stage: every stage flow is deployed under its own name."""
    return f"{stage}/{stage}"


@flow(name="cycle-tick")
def cycle_tick(day: date | None = None, organization_code: str | None = None) -> list[TickSummary]:
    """Do what each running cycle's roadmap has due today; running it twice a day is harmless."""
    logger = get_run_logger()
    day = day or process_clock().today()
    cycle_ids = cycles_to_tick(day, organization_code)
    # A stage run whose worker was lost is marked Crashed by the crash detection; the tick
    # continues it as the same run (a few times at most, then the operator decides).
    open_runs = [uuid.UUID(i) for i in stage_runs_open(cycle_ids)]
    continued: list[uuid.UUID] = run_coro_as_sync(continue_crashed_runs(open_runs)) or []
    for run_id in continued:
        logger.warning("Запуск %s прерван (Crashed): продолжен тот же запуск", run_id)
    for cycle_id in cycle_ids:
        # A decision recorded while the Prefect server did not answer its wake-up.
        woken: list[uuid.UUID] = run_coro_as_sync(wake_decided_runs(uuid.UUID(cycle_id))) or []
        for run_id in woken:
            logger.warning("Запуск %s ждал принятого решения: продолжен", run_id)
    # Every cycle's day: the plan's rules, the meetings and completion stages, status, mail.
    days = tick_cycles(cycle_ids, day)
    due = [
        DueStart(
            uuid.UUID(done.summary.cycle_id),
            StageStart(uuid.UUID(s["item_id"]), s["number"], s["stage"]),
            s["params"],
        )
        for done in days
        for s in done.starts
    ]
    # The day's stages: one run per stage, for every organisation it is due for (flows/batch.py).
    started: list[tuple[str, str]] = []
    for group in batches(due, max_size=get_settings().batch_size):
        flow_run_id = start_stage_runs(group)
        started += [(str(start.start.item_id), flow_run_id) for start in group]
        for start in group:
            logger.info("Пункт %s: запущен этап %s", start.start.number, start.start.stage)
    if started:
        record_stages_started(started, day)
    for done in days:
        if done.month is not None:  # the meetings stage's month: reports and the summary
            publish_table(
                key=f"monthly-summary-{done.summary.cycle_id}",
                table=done.monthly_table,
                description=done.monthly_description,
            )
        if done.dashboard is not None:  # a department's own cycle: its organisations (issue 10)
            publish_markdown(
                key=done.dashboard["key"],
                markdown=done.dashboard["markdown"],
                description="Мониторинг организаций",
            )
    publish_plan_statuses(
        {done.summary.cycle_id: done.status_markdown for done in days if done.status_markdown}
    )
    # The department's requests to its organisations not yet answered (issue 10 §2).
    reports = reports_to_start(cycle_ids, day)
    for chunk in split_evenly(reports, get_settings().batch_size):
        start_organisation_reports(chunk, day)
    failed = [done for done in days if done.failure is not None]
    if failed:
        raise RuntimeError(
            "День не выполнен для циклов: "
            + "; ".join(f"{done.summary.cycle_id} ({done.failure})" for done in failed)
        )
    return [done.summary for done in days]


def start_stage_runs(group: list[DueStart]) -> str:
    """Start the stage for the organisations due today: its own run for one, a batch run for
    several; the key makes the server hand back the same run if this tick runs again."""
    stage = group[0].start.stage
    if len(group) == 1:
        params = group[0].params
        flow_run = run_deployment(
            stage_deployment(stage),
            parameters={"params": params},
            flow_run_name=f"{params['organization_code']} · {params['school_year']} · {stage}",
            tags=[params["organization_code"], params["school_year"], stage],
            timeout=0,
            as_subflow=False,
            idempotency_key=f"tick:{group[0].start.item_id}",
        )
        return str(flow_run.id)  # type: ignore[union-attr]
    members: list[dict[str, object]] = [dict(due.params) for due in group]
    return start_batch_run(stage, members, idempotency_key=batch_idempotency_key(group))


def start_batch_run(stage: str, members: list[dict[str, object]], *, idempotency_key: str) -> str:
    """One stage-batch run for these organisations' parameters, named and tagged for all."""
    name, tags = batch_label(stage, members)
    flow_run = run_deployment(
        BATCH_DEPLOYMENT,
        parameters={"params": {"stage": stage, "members": members}},
        flow_run_name=name,
        tags=tags,
        timeout=0,
        as_subflow=False,
        idempotency_key=idempotency_key,
    )
    return str(flow_run.id)  # type: ignore[union-attr]


def start_organisation_reports(reports: list[dict[str, str]], day: date) -> None:
    """Start the organisation-report runs for the requests to answer: a run of its own for
    one, a batch run for several; the key makes the server hand back the same run if the tick
    runs again."""
    logger = get_run_logger()
    if not reports:
        return
    members: list[dict[str, object]] = [
        {**report, "reference_date": day.isoformat()} for report in reports
    ]
    if len(reports) == 1:
        report = reports[0]
        org, year, key = report["organization_code"], report["school_year"], report["request_key"]
        flow_run = run_deployment(
            stage_deployment(REPORT_STAGE),
            parameters={"params": members[0]},
            flow_run_name=f"{org} · {year} · {REPORT_STAGE}",
            tags=[org, year, REPORT_STAGE],
            timeout=0,
            as_subflow=False,
            idempotency_key=f"organisation-report:{key}",
        )
        run_id = str(flow_run.id)  # type: ignore[union-attr]
    else:
        run_id = start_batch_run(
            REPORT_STAGE,
            members,
            idempotency_key=report_batch_key([r["request_key"] for r in reports]),
        )
    record_reports_started([report["request_key"] for report in reports], run_id)
    for report in reports:
        logger.info("Запрос управления %s: запущен отчёт организации", report["request_key"])
