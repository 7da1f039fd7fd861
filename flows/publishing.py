"""What every stage flow shares: how a stage run starts and ends, the run's reference day."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from prefect.context import get_run_context

from tasks.common import reference_day, resolve_cycle
from tasks.publishing import publish_mails
from tasks.stages import check_prerequisites


def run_day() -> date:
    """The day the run first ran by the installation's clock: the same when it resumes later."""
    return reference_day()


def current_run_id() -> str:
    """The id of the flow run being executed."""
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    assert flow_run is not None
    return str(flow_run.id)


class StageRun(NamedTuple):
    """What every step of a stage run needs: the run, its reference day, the cycle."""

    flow_run_id: str
    on: date
    cycle_id: str


def start_stage(
    *, stage: str, organization_code: str, school_year: str, reference_date: date | None
) -> StageRun:
    """Resolve the cycle and refuse the stage if the decisions it depends on are missing."""
    cycle_id = resolve_cycle(organization_code=organization_code, school_year=school_year)
    check_prerequisites(cycle_id=cycle_id, stage=stage)
    return StageRun(current_run_id(), reference_date or run_day(), cycle_id)


def finish_stage(outcome: str) -> str:
    """Once the stage is over: the table of every e-mail it queued (roles, masked addresses)."""
    publish_mails(flow_run_id=current_run_id())
    return outcome
