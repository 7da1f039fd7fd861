"""Tasks of the roadmap's execution log: the status report the tick publishes."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import task
from prefect.artifacts import Artifact, create_markdown_artifact

from nastavnik import roadmap_report
from nastavnik.db import session_scope
from nastavnik.settings import get_settings


@task(name="render-status-report", retries=2, retry_delay_seconds=[1, 5])
def render_status_report(cycle_id: str, on: date) -> str:
    """The plan's status on the day as markdown for the artifact (no children's names)."""
    with session_scope() as session:
        report = roadmap_report.status_report(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
    return roadmap_report.status_markdown(report, web_base_url=get_settings().web_base_url)


@task(name="publish-plan-status", retries=2, retry_delay_seconds=[1, 5])
def publish_plan_status(cycle_id: str, on: date) -> bool:
    """The plan's state as the cycle's markdown artifact: a new version when it changed."""
    key = f"roadmap-{cycle_id}"
    markdown = render_status_report.fn(cycle_id, on)
    latest = Artifact.get(key=key)  # in a sync task: the artifact, not a coroutine
    previous = getattr(latest, "data", None)
    if roadmap_report.same_status(previous if isinstance(previous, str) else None, markdown):
        return False
    create_markdown_artifact(key=key, markdown=markdown, description="Выполнение дорожной карты")
    return True
