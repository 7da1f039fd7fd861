"""Tasks of the organisation's report to its department: prepare (figures, PDF), then submit."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from typing import Any

from prefect import task
from pydantic import BaseModel

from models import Organization, ReportKind
from nastavnik import report_envelope
from nastavnik.clock import process_clock
from nastavnik.db import session_scope
from nastavnik.org_report import OrganisationFigures
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


class PreparedReport(BaseModel):
    """The report put to the director: the request, the figures frozen on the day, the PDF."""

    cycle_id: str
    document_id: str
    request: dict[str, Any]  # RequestInfo's fields
    figures: dict[str, Any]  # OrganisationFigures, as JSON (aggregates only)
    memo: list[str]
    title: str

    def request_info(self) -> report_envelope.RequestInfo:
        """The request as the core takes it."""
        fields = dict(self.request)
        fields["kind"] = ReportKind(fields["kind"])
        due_on = fields.get("due_on")
        fields["due_on"] = date.fromisoformat(due_on) if isinstance(due_on, str) else due_on
        return report_envelope.RequestInfo(**fields)

    def table(self) -> list[dict[str, str]]:
        """The figures as an artifact's rows."""
        figures = OrganisationFigures.model_validate(self.figures)
        return [
            {"Показатель": "Текущий этап", "Значение": figures.current_stage_ru},
            {
                "Показатель": "Мероприятий дорожной карты выполнено",
                "Значение": f"{figures.roadmap.done} из {figures.roadmap.total}",
            },
            {"Показатель": "Просрочено", "Значение": str(figures.roadmap.overdue)},
            {"Показатель": "Пар по приказу", "Значение": str(figures.pairs.total)},
            {
                "Показатель": "Наставляемых с наставником",
                "Значение": (
                    f"{figures.coverage.mentees_with_mentor} из {figures.coverage.mentees}"
                ),
            },
            {"Показатель": "Встреч проведено", "Значение": str(figures.meetings_held)},
        ]


# On the embedded stack's SQLite a stage's document batch (a pairing's programmes) can hold the
# write lock for a while: the report's numbering waits and tries again.
@run_cached_task(
    name="prepare-organisation-report",
    retries=3,
    retry_delay_seconds=[5, 30, 60],
)
def prepare_organisation_report(
    *,
    organization_code: str,
    request_key: str,
    school_year: str,
    report_kind: str | None,
    department_code: str | None,
    on: date,
    flow_run_id: str,
) -> PreparedReport:
    """The request, the organisation's figures on the day and the report's numbered PDF."""
    with session_scope() as session:
        info = report_envelope.describe_request(
            session=session,
            request_key=request_key,
            organization_code=organization_code,
            kind=report_kind,
            school_year=school_year,
            department_code=department_code,
        )
        cycle = report_envelope.organisation_cycle(
            session=session, organization_code=organization_code, school_year=info.school_year
        )
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        report = report_envelope.build_report(
            session=session, request=info, today=on, approved_by=org.director_name
        )
        document = report_envelope.issue_report_pdf(
            session=session,
            settings=get_settings(),
            request=info,
            report=report,
            cycle_id=cycle.id,
            doc_date=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return PreparedReport(
            cycle_id=str(cycle.id),
            document_id=str(document.id),
            request={
                **dataclasses.asdict(info),
                "kind": info.kind.value,
                "due_on": info.due_on.isoformat() if info.due_on else None,
            },
            figures=report.figures.model_dump(mode="json"),
            memo=report.memo,
            title=document.title,
        )


def _may_pass(task: Any, task_run: Any, state: Any) -> bool:
    """Retry what may pass (the department's server down); a refusal will not change."""
    try:
        state.result()
    except report_envelope.ReportRefused:
        return False
    except Exception:
        return True
    return True


@task(
    name="submit-organisation-report",
    retries=3,
    retry_delay_seconds=[5, 30, 120],
    retry_condition_fn=_may_pass,
)
def submit_organisation_report(
    *, prepared: PreparedReport, approved_by: str, approved_on: date, flow_run_id: str
) -> dict[str, str]:
    """Sign the approved report and send it to the department once (database, upload or mail)."""
    info = prepared.request_info()
    with session_scope() as session:
        report = report_envelope.build_report(
            session=session,
            request=info,
            today=approved_on,
            approved_by=approved_by,
            approved_on=approved_on,
            figures=OrganisationFigures.model_validate(prepared.figures),
        )
        submitted = report_envelope.submit_report(
            session=session,
            settings=get_settings(),
            request=info,
            report=report,
            document_id=uuid.UUID(prepared.document_id),
            now=process_clock().now(),
            flow_run_id=uuid.UUID(flow_run_id),
        )
    return {
        "transport": submitted.transport.value,
        "status": submitted.status,
        "message_id": str(submitted.message_id) if submitted.message_id else "",
    }


@task(name="organisation-reports-to-start", retries=2, retry_delay_seconds=[1, 5])
def reports_to_start(cycle_ids: list[str], day: date) -> list[dict[str, str]]:
    """The department's requests to the cycles' organisations still to answer: run parameters."""
    from models import Cycle

    wanted: list[dict[str, str]] = []
    with session_scope() as session:
        for cycle_id in cycle_ids:
            cycle = session.get(Cycle, uuid.UUID(cycle_id))
            assert cycle is not None
            org = session.get(Organization, cycle.organization_id)
            assert org is not None
            requests = report_envelope.requests_to_answer(
                session=session, organization_id=org.id, today=day
            )
            wanted += [
                {
                    "organization_code": org.code,
                    "school_year": r.school_year,
                    "request_key": r.unique_key,
                }
                for r in requests
                if r.school_year == cycle.school_year
            ]
    return wanted


@task(name="record-organisation-reports-started", retries=2, retry_delay_seconds=[1, 5])
def record_reports_started(request_keys: list[str], flow_run_id: str) -> None:
    """Remember the organisation-report run started for the requests (the tick starts it once)."""
    with session_scope() as session:
        for request_key in request_keys:
            report_envelope.record_run_started(
                session=session,
                request_key=request_key,
                flow_run_id=uuid.UUID(flow_run_id),
                now=process_clock().now(),
            )
