"""The completion stage as a deployed flow: the end-of-mentoring reports put to the director with
the evaluation memo, the self-diagnostics memo and the order on the year's results (§2.13–§2.14,
§3.1).

The reports come in over the days after each pair's end (links, imports), with reminders from
the daily tick; this run gathers them on its reference day, makes the four documents, and
suspends for the director's decision — no flow waits for a date.
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
        ),
        document_ids=document_ids,
    )
    if decision.approved:
        approved = approve_completion_reports(
            cycle_id=cycle_id, on=max(on, decision.decided_on or on)
        )
        logger.info("Отчёты утверждены: %s", approved)
    settle_decision(decision)
    return finish_stage(decision.decision.value)
