"""The department stage as a deployed flow: the informational-analytic report across the member
organisations and the department's order on the year's results (issue 10 §6).

The organisations' reports arrive over the weeks before (nastavnik.report_requests); this run
reads them on its reference day, makes the report and the order, suspends for the department
head's decision, and on approval e-mails the report to every member organisation's director.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from tasks.department import (
    analytic_summary,
    publish_department_summary,
    queue_analytic_report_mail,
    render_department_documents,
)
from tasks.publishing import publish_documents

STAGE = "department"
APPROVAL_KEY = "analytic-report"


class DepartmentParams(BaseModel):
    """Which department and year, and the day the organisations' reports are read on."""

    organization_code: str = Field(description="Код отдела образования")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    reference_date: date | None = Field(
        default=None, description="Дата отчёта и приказа (по умолчанию — день запуска)"
    )


@flow(name="department")
def department(params: DepartmentParams) -> str:
    """Analytic report and order to the department head; on approval, the report to members."""
    return finish_stage(department_steps(params))


def department_steps(params: DepartmentParams) -> str:
    """The stage's steps; returns the decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    summary = analytic_summary(cycle_id=cycle_id, on=on)
    document_ids = render_department_documents(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id)
    publish_documents(document_ids, key="department-documents")
    publish_department_summary(cycle_id=cycle_id, on=on, document_ids=document_ids)
    decision = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key=APPROVAL_KEY,
        title="Информационно-аналитический отчёт и приказ об итогах года",
        summary=(
            f"Отчёты представили {summary.submitted} из {summary.members} организаций "
            f"(с опозданием — {summary.late}, не представили — {summary.missing}); "
            f"наставнических пар: {summary.pairs}, охват: {summary.coverage}. Приложены "
            "информационно-аналитический отчёт и проект приказа об итогах реализации целевой "
            "модели наставничества."
        ),
        document_ids=document_ids,
    )
    notices: list[str] = []
    if decision.approved:
        notices = queue_analytic_report_mail(
            cycle_id=cycle_id, report_id=document_ids[0], flow_run_id=flow_run_id
        )
        logger.info("Отчёт направлен организациям: %s", len(notices))
    settle_decision(decision, notices=notices)
    return decision.decision.value
