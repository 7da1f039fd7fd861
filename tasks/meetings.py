"""Tasks of the meetings stage's month: the mentors' reports, the curator's summary, reminders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from prefect import task

from nastavnik import monthly
from nastavnik.clock import process_clock
from nastavnik.db import session_scope
from nastavnik.settings import get_settings


@dataclass(frozen=True)
class MeetingsDaySummary:
    """What the meetings stage did on a tick day, by ids and counts (no names: artifacts)."""

    cycle_id: str
    day: date
    month: date | None
    reports: int
    document_id: str | None
    table_rows: list[dict[str, str | int]]
    description: str
    message_ids: list[str]


@task(name="meetings-day", retries=2, retry_delay_seconds=[1, 5])
def meetings_day(cycle_id: str, day: date) -> MeetingsDaySummary:
    """Assemble the ended month's reports and summary when due, queue today's reminders."""
    with session_scope() as session:
        outcome = monthly.run_day(
            session=session,
            settings=get_settings(),
            cycle_id=uuid.UUID(cycle_id),
            today=day,
            now=process_clock().now(),
        )
    return MeetingsDaySummary(
        cycle_id=cycle_id,
        day=day,
        month=outcome.month,
        reports=outcome.reports,
        document_id=str(outcome.document_id) if outcome.document_id else None,
        table_rows=outcome.table_rows,
        description=outcome.description,
        message_ids=[str(m) for m in outcome.message_ids],
    )
