"""Tasks every stage shares: its prerequisites and its ending after a decision."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect.states import State

from nastavnik import repository, stages
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.mail import attempt_delivery


def _not_a_rule(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Retry what the database or the process failed, never a stage refused by its rules."""
    try:
        state.result()
    except stages.StageNotReady:
        return False
    except Exception:  # noqa: BLE001 (anything else may be transient)
        return True
    return True


@run_cached_task(
    name="open-stage",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_not_a_rule,
)
def open_stage(*, organization_code: str, school_year: str, stage: str) -> str:
    """The organisation's cycle for the year (created on first use), once the decisions the
    stage depends on are taken; once a run: a resumed run's were when it first started."""
    with session_scope() as session:
        org = repository.get_organization(session=session, code=organization_code)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year=school_year
        )
        stages.require_prerequisites(session=session, cycle_id=cycle.id, stage=stage)
        return str(cycle.id)


@run_cached_task(
    name="conclude-decision",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def conclude_decision(
    *,
    request_id: str,
    notify: tuple[str, ...] = ("curator",),
    set_document_status: bool = True,
    notices: tuple[str, ...] = (),
) -> list[str]:
    """Set the documents' status from the decision, queue its notices and send them with the
    stage's own (`notices`, queued before); returns every outbox id sent."""
    with session_scope() as session:
        ending = stages.conclude_decision(
            session=session,
            request_id=uuid.UUID(request_id),
            base_url=get_settings().web_base_url,
            notify=notify,
            set_document_status=set_document_status,
        )
        message_ids = [*(str(message_id) for message_id in ending.message_ids), *notices]
    attempt_delivery(message_ids)  # after the commit, one attempt each (the outbox: once)
    return message_ids


@run_cached_task(name="pair-term")
def pair_term(
    *, school_year: str, starts_on: date | None, ends_on: date | None, not_before: date | None
) -> tuple[date, date]:
    """When the cycle's pairs work (1 October, or the stage's day if later, to 31 May)."""
    return stages.pair_term(
        school_year=school_year, starts_on=starts_on, ends_on=ends_on, not_before=not_before
    )
