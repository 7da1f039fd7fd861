"""The organisation's report to its department as a deployed flow (issue 10 §2): the figures of
its cycle and the memo in a numbered PDF, the director's approval, then the signed report sent
once — through the database when the department is in this installation, else an HTTPS upload
or an e-mail with the JSON envelope and the PDF attached.

The member organisation's daily tick starts it for each request it has not answered; a request
that came by mail from another installation is answered by starting it with the request's key,
kind and the department's code.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import current_run_id, finish_stage, run_day
from tasks.organisation_report import prepare_organisation_report, submit_organisation_report
from tasks.publishing import publish_documents, publish_table

STAGE = "organisation-report"


class OrganisationReportParams(BaseModel):
    """Which organisation answers which request of its department, and on which day."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    request_key: str = Field(description="Ключ запроса управления")
    report_kind: str | None = Field(
        default=None,
        description="information, interim или final (для запроса из другой установки)",
    )
    department_code: str | None = Field(
        default=None, description="Код управления (для запроса из другой установки)"
    )
    reference_date: date | None = Field(
        default=None, description="Дата отчёта (по умолчанию — день запуска)"
    )


@flow(name="organisation-report")
def organisation_report(params: OrganisationReportParams) -> str:
    """The report to the director; on approval it is signed and sent to the department once."""
    return finish_stage(organisation_report_steps(params))


def organisation_report_steps(params: OrganisationReportParams) -> str:
    """The report's steps; returns the decision."""
    logger = get_run_logger()
    flow_run_id, on = current_run_id(), params.reference_date or run_day()
    prepared = prepare_organisation_report(
        organization_code=params.organization_code,
        request_key=params.request_key,
        school_year=params.school_year,
        report_kind=params.report_kind,
        department_code=params.department_code,
        on=on,
        flow_run_id=flow_run_id,
    )
    publish_documents([prepared.document_id], key="organisation-report")
    publish_table(
        key="organisation-report-figures",
        table=prepared.table(),
        description=f"{prepared.title}: запрос {params.request_key}",
    )
    kind = prepared.request["kind"]
    decision = request_approval(
        cycle_id=prepared.cycle_id,
        stage=STAGE,
        approval_key=f"organisation-report-{kind}",
        title=prepared.title,
        summary=" ".join(prepared.memo),
        document_ids=[prepared.document_id],
    )
    notices: list[str] = []
    if decision.approved:
        submitted = submit_organisation_report(
            prepared=prepared,
            approved_by=decision.approver_name,
            approved_on=max(on, decision.decided_on or on),
            flow_run_id=flow_run_id,
        )
        logger.info(
            "Отчёт по запросу %s: %s (%s)",
            params.request_key,
            submitted["status"],
            submitted["transport"],
        )
        notices = [submitted["message_id"]] if submitted["message_id"] else []
    settle_decision(decision, notices=notices)
    return decision.decision.value
