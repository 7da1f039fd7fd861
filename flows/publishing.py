"""What every stage flow shares: how a stage run starts and ends, the run's reference day."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import NamedTuple

from prefect.context import get_run_context

from tasks.common import reference_day
from tasks.publishing import ARTIFACT_OWNER, publish_mails
from tasks.stages import open_stage


def run_day() -> date:
    """The day the run first ran by the installation's clock: the same when it resumes later."""
    return reference_day()


# In a batch run (flows/batch.py), the member run id of the organisation being worked on.
_MEMBER_RUN: ContextVar[str | None] = ContextVar("nastavnik_member_run", default=None)


def prefect_run_id() -> str:
    """The id of the Prefect flow run being executed."""
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    assert flow_run is not None
    return str(flow_run.id)


def current_run_id() -> str:
    """The run the organisation's work is keyed on: the flow run, or in a batch run the
    organisation's member run (its documents, e-mails and approval requests its own)."""
    return _MEMBER_RUN.get() or prefect_run_id()


def in_batch() -> bool:
    """Whether this is one organisation's work inside a batch run."""
    return _MEMBER_RUN.get() is not None


def member_key(params: Mapping[str, object]) -> str:
    """What tells a batch run's members apart: the organisation and year, and the department's
    request an organisation report answers (one organisation may answer two on one day)."""
    key = f"{params['organization_code']}|{params['school_year']}"
    return f"{key}|{params['request_key']}" if params.get("request_key") else key


def member_run_id(batch_run_id: str, member: str) -> str:
    """The same id for the same member (``member_key``) of the same batch run, on every replay."""
    return str(uuid.uuid5(uuid.UUID(batch_run_id), member))


@contextmanager
def batch_member(*, member: str, organization_code: str) -> Iterator[str]:
    """Key the organisation's work in this batch run on its member run id."""
    member_run = member_run_id(prefect_run_id(), member)
    token, owner = _MEMBER_RUN.set(member_run), ARTIFACT_OWNER.set(organization_code)
    try:
        yield member_run
    finally:
        _MEMBER_RUN.reset(token)
        ARTIFACT_OWNER.reset(owner)


class StageRun(NamedTuple):
    """What every step of a stage run needs: the run, its reference day, the cycle."""

    flow_run_id: str
    on: date
    cycle_id: str


def start_stage(
    *, stage: str, organization_code: str, school_year: str, reference_date: date | None
) -> StageRun:
    """Resolve the cycle and refuse the stage if the decisions it depends on are missing."""
    cycle_id = open_stage(organization_code=organization_code, school_year=school_year, stage=stage)
    return StageRun(current_run_id(), reference_date or run_day(), cycle_id)


def finish_stage(outcome: str) -> str:
    """Once the stage is over: the table of every e-mail it queued (roles, masked addresses)."""
    publish_mails(flow_run_ids=[current_run_id()])
    return outcome
