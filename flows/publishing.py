"""What every stage flow shares: the run's reference day."""

from __future__ import annotations

from datetime import date

from prefect.context import get_run_context


def run_day() -> date:
    """The day the run was created: stays the same when a resumed run starts again days later."""
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    assert flow_run is not None
    moment = flow_run.created or flow_run.expected_start_time
    return moment.date() if moment else date.today()
