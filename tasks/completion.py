"""Tasks of the completion stage: the reports' status, the documents, the approval recorded."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import task
from pydantic import BaseModel

from nastavnik import completion, completion_documents, indicators
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


class CompletionStatus(BaseModel):
    """Where the cycle's reports stand, by counts only (artifacts and logs: no names)."""

    pairs: int
    expected: int
    counts: dict[str, int]  # Russian status → reports
    submitted: int  # in time or late
    overdue: int
    indicators: list[dict[str, str]]
    covered: int = 0  # pairs fixed by order that end (completion.report_window)
    settled: int = 0  # ended, every report in or its deadline passed
    awaiting: int = 0  # ended, reports still coming in time
    going_on: int = 0  # not ended yet: not in this run's documents
    window_ru: str = ""  # why the stage would still wait ("" when every pair is settled)


@run_cached_task(
    name="completion-status",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def completion_status(*, cycle_id: str, on: date) -> CompletionStatus:
    """The reports' statuses and the indicators of the cycle on the day."""
    with session_scope() as session:
        expected = completion.expected_reports(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
        counts = completion.status_counts(expected, on)
        window = completion.report_window(session=session, cycle_id=uuid.UUID(cycle_id), today=on)
        result = indicators.cycle_indicators(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
    return CompletionStatus(
        pairs=result.pairs,
        expected=len(expected),
        counts={completion.STATUS_RU[s]: n for s, n in counts.items()},
        submitted=counts[completion.ReportStatus.submitted] + counts[completion.ReportStatus.late],
        overdue=counts[completion.ReportStatus.overdue],
        indicators=indicators.indicators_table_rows(result),
        covered=window.pairs,
        settled=window.settled,
        awaiting=len(window.awaiting),
        going_on=len(window.going_on),
        window_ru=window.reason_ru,
    )


@run_cached_task(
    name="render-completion-documents",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def render_completion_documents(*, cycle_id: str, on: date, flow_run_id: str) -> list[str]:
    """The reports, the evaluation and self-diagnostics memos, the order: their ids, in order."""
    settings, run_id, cycle = get_settings(), uuid.UUID(flow_run_id), uuid.UUID(cycle_id)
    with session_scope() as session:
        issued = completion_documents.issue_completion_documents(
            session=session, settings=settings, cycle_id=cycle, on=on, flow_run_id=run_id
        )
        return [str(document.id) for document in issued]


@task(name="approve-completion-reports", retries=2, retry_delay_seconds=[1, 5])
def approve_completion_reports(*, cycle_id: str, on: date) -> int:
    """Record the director's approval on the submitted reports (§3.1); how many, once."""
    with session_scope() as session:
        return completion_documents.approve_reports(
            session=session, cycle_id=uuid.UUID(cycle_id), on=on
        )
