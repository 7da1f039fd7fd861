"""Tasks of the department's dashboard: the markdown the department's tick publishes."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import task

from nastavnik import dashboard
from nastavnik.db import session_scope
from nastavnik.settings import get_settings


@task(name="render-department-dashboard", retries=2, retry_delay_seconds=[1, 5])
def render_department_dashboard(cycle_id: str, on: date) -> dict[str, str] | None:
    """The dashboard's artifact key and markdown when the cycle is a department's, else None."""
    with session_scope() as session:
        board = dashboard.dashboard_for_cycle(
            session=session, cycle_id=uuid.UUID(cycle_id), today=on
        )
    if board is None:
        return None
    markdown = dashboard.dashboard_markdown(board, web_base_url=get_settings().web_base_url)
    return {"key": dashboard.artifact_key(board.department_code), "markdown": markdown}
