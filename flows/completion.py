"""The completion stage as a deployed flow: the end-of-mentoring reports put to the director with
the evaluation memo, the self-diagnostics memo and the order on the year's results (§2.13–§2.14,
§3.1).

One run per cycle follows each pair from its own end date without waiting inside the flow: the
reports come in over the ten days after each pair's end (links, imports) with reminders from the
daily tick, pair by pair; the tick starts this run once every pair is settled (all its reports
in, or its deadline passed: nastavnik.completion.report_window). The run gathers the reports on
its reference day, makes the four documents, and suspends for the director's decision. Started
by hand before that, it says which pairs are not covered yet (docs/completion.md).
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from tasks.completion import (
    approve_completion_reports,
    completion_status,
    render_completion_documents,
)
from tasks.publishing import publish_documents, publish_table

STAGE = "completion"
APPROVAL_KEY = "completion-reports"


class CompletionParams(BaseModel):
    """Which cycle, and the day the reports are gathered on."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    reference_date: date | None = Field(
        default=None, description="Дата справки и приказа (по умолчанию — день запуска)"
    )


@flow(name="completion")
def completion(params: CompletionParams) -> str:
    """Reports, memo and order to the director; on approval the reports are marked approved."""
    return finish_stage(completion_steps(params))


def completion_steps(params: CompletionParams) -> str:
    """The stage's steps; returns the decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    status = completion_status(cycle_id=cycle_id, on=on)
    publish_table(
        key="completion-reports",
        table=[{"Статус отчёта": k, "Отчётов": v} for k, v in status.counts.items()],
        description=f"Отчёты по завершении наставничества: завершено пар {status.pairs}",
    )
    publish_table(
        key="completion-coverage",
        table=[
            {"Пары": "завершены, отчёты собраны или срок истёк", "Количество": status.settled},
            {"Пары": "завершены, срок отчётов не истёк", "Количество": status.awaiting},
            {"Пары": "ещё не завершены (не входят в документы)", "Количество": status.going_on},
        ],
        description=f"Пары цикла: {status.covered}. {status.window_ru}".strip(),
    )
    publish_table(key="completion-indicators", table=status.indicators, description="Показатели")
    document_ids = render_completion_documents(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id)
    publish_documents(document_ids, key="completion-documents")
    decision = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key=APPROVAL_KEY,
        title="Отчёты по завершении наставничества и приказ об итогах",
        summary=(
            f"Завершено пар: {status.pairs}; отчётов сдано {status.submitted} "
            f"из {status.expected}, просрочено {status.overdue}. Приложены отчёты, справки "
            "по результатам оценки и обратной связи и самодиагностики, проект приказа об итогах."
            + (f" Внимание: {status.window_ru}." if status.window_ru else "")
        ),
        document_ids=document_ids,
    )
    if decision.approved:
        approved = approve_completion_reports(
            cycle_id=cycle_id, on=max(on, decision.decided_on or on)
        )
        logger.info("Отчёты утверждены: %s", approved)
    settle_decision(decision)
    return decision.decision.value
