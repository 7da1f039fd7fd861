"""Tasks of the department stage: the analytic report's counts, its documents, its e-mails."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel

from models import Document
from nastavnik import analytic_report
from nastavnik.db import session_scope
from nastavnik.report_requests import RequestStatus
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


class DepartmentSummary(BaseModel):
    """The report's counts for the approval request and the logs (no one named)."""

    members: int
    submitted: int
    missing: int
    late: int
    pairs: str
    coverage: str


@run_cached_task(
    name="analytic-summary",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def analytic_summary(*, cycle_id: str, on: date) -> DepartmentSummary:
    """How many organisations submitted, were late or are missing, and the main totals."""
    with session_scope() as session:
        report = analytic_report.build_report(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
    return DepartmentSummary(
        members=report.members,
        submitted=len(report.rows),
        missing=len(report.missing),
        late=sum(1 for r in report.rows if r.status == RequestStatus.submitted_late),
        pairs=report.total("pairs").value_ru,
        coverage=report.total("coverage").value_ru,
    )


@run_cached_task(
    name="render-department-documents",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def render_department_documents(*, cycle_id: str, on: date, flow_run_id: str) -> list[str]:
    """The analytic report and the order on the year's results: their ids, in order."""
    settings, run_id, cycle = get_settings(), uuid.UUID(flow_run_id), uuid.UUID(cycle_id)
    with session_scope() as session:
        report = analytic_report.issue_report(
            session=session, settings=settings, cycle_id=cycle, on=on, flow_run_id=run_id
        )
        order = analytic_report.issue_order(
            session=session,
            settings=settings,
            cycle_id=cycle,
            on=on,
            report_document=report,
            flow_run_id=run_id,
        )
        return [str(report.id), str(order.id)]


@task(name="queue-analytic-report-mail", retries=2, retry_delay_seconds=[1, 5])
def queue_analytic_report_mail(*, cycle_id: str, report_id: str, flow_run_id: str) -> list[str]:
    """Queue the approved report to every member organisation's director (once); outbox ids."""
    with session_scope() as session:
        queued = analytic_report.queue_report_mail(
            session=session,
            settings=get_settings(),
            cycle_id=uuid.UUID(cycle_id),
            document_id=uuid.UUID(report_id),
            flow_run_id=uuid.UUID(flow_run_id),
        )
    return [str(message_id) for message_id in queued]


@run_cached_task(name="publish-department-summary")
def publish_department_summary(*, cycle_id: str, on: date, document_ids: list[str]) -> None:
    """The run's markdown artifact: the report's counts and totals, links to its documents."""
    base_url = get_settings().web_base_url.rstrip("/")
    with session_scope() as session:
        report = analytic_report.build_report(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
        links = []
        for document_id in document_ids:
            document = session.get(Document, uuid.UUID(document_id))
            assert document is not None
            links.append(
                (f"{document.title} {document.label}", f"{base_url}/documents/{document.id}.pdf")
            )
    create_markdown_artifact(
        markdown=analytic_report.summary_markdown(report, links=links),
        key="department-analytic-report",
        description="Информационно-аналитический отчёт: итоги по организациям",
    )
