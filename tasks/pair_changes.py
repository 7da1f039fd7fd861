"""Tasks of the changes to a pair: the request, its order, the decision applied."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from pydantic import BaseModel
from sqlmodel import Session

from models import Cycle, MentorshipPair, Organization, PairChangeReason
from nastavnik import approvals, documents, pair_changes, policy
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.common import document_context


def not_a_rule(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a transient failure, never a refusal by the regulation's rules."""
    try:
        state.result()
    except (pair_changes.PairChangeError, LookupError):
        return False
    except Exception:
        return True
    return True


class PreparedChange(BaseModel):
    """A recorded change request and what the director is told about it."""

    change_id: str
    kind: str
    reason: str
    candidates: int  # mentors the hard rules allow (replacement only)


def _rules(session: Session, cycle_id: uuid.UUID) -> Any:
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    return policy.get_policy(session=session, organization_id=cycle.organization_id)


def _pair_cycle(session: Session, pair_id: str, cycle_id: str) -> MentorshipPair:
    pair = session.get(MentorshipPair, uuid.UUID(pair_id))
    if pair is None or pair.cycle_id != uuid.UUID(cycle_id):
        raise LookupError(f"пара {pair_id} не найдена в этом цикле")
    return pair


@run_cached_task(
    name="request-pair-change",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=not_a_rule,
)
def request_pair_change(
    *,
    cycle_id: str,
    pair_id: str,
    kind: str,
    reason: PairChangeReason,
    on: date,
    requested_by: str,
    comment: str,
    flow_run_id: str,
    new_mentor_id: str | None = None,
    consent_on: date | None = None,
    consent_how: str = "",
    new_ends_on: date | None = None,
    mentee_wants_new_mentor: bool = False,
) -> PreparedChange:
    """Record the change (once per run) after checking the regulation's rules for it."""
    with session_scope() as session:
        pair = _pair_cycle(session, pair_id, cycle_id)
        common: dict[str, Any] = {
            "session": session,
            "request_key": f"run:{flow_run_id}",
            "pair_id": pair.id,
            "reason": reason,
            "requested_on": on,
            "requested_by": requested_by,
            "comment": comment,
            "flow_run_id": uuid.UUID(flow_run_id),
        }
        candidates = 0
        if kind == "replacement":
            if new_mentor_id is None or consent_on is None:
                raise pair_changes.PairChangeError(
                    "нужен новый наставник и дата его письменного согласия"
                )
            rules = _rules(session, pair.cycle_id).matching_policy()
            candidates = len(
                pair_changes.replacement_candidates(
                    session=session, pair_id=pair.id, on=on, policy=rules
                )
            )
            change = pair_changes.request_replacement(
                **common,
                new_mentor_id=uuid.UUID(new_mentor_id),
                consent_on=consent_on,
                consent_how=consent_how,
                policy=rules,
            )
        elif kind == "extension":
            if new_ends_on is None:
                raise pair_changes.PairChangeError("нужна новая дата окончания наставничества")
            change = pair_changes.request_extension(**common, new_ends_on=new_ends_on)
        else:
            change = pair_changes.request_termination(
                **common, mentee_wants_new_mentor=mentee_wants_new_mentor
            )
        return PreparedChange(
            change_id=str(change.id),
            kind=change.kind.value,
            reason=change.reason.value,
            candidates=candidates,
        )


@run_cached_task(
    name="render-pair-change-order",
    retries=1,
    retry_delay_seconds=[5],
)
def render_pair_change_order(*, cycle_id: str, change_id: str, on: date, flow_run_id: str) -> str:
    """The change's numbered order (one per change), waiting for the director; its id."""
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        change = pair_changes.get_change(session=session, change_id=uuid.UUID(change_id))
        document = documents.issue_document(
            session=session,
            settings=get_settings(),
            unique_key=f"pair-change:{change.id}:order",
            organization_id=org.id,
            cycle_id=cycle.id,
            doc_type="order",
            title=pair_changes.ORDER_TITLE[change.kind],
            template=pair_changes.ORDER_TEMPLATE[change.kind],
            context={
                **document_context(org=org, cycle=cycle),
                **pair_changes.order_context(session=session, change_id=change.id),
            },
            doc_date=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        pair_changes.mark_ordered(
            session=session, change_id=change.id, order_document_id=document.id
        )
        return str(document.id)


@task(
    name="settle-pair-change", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=not_a_rule
)
def settle_pair_change(
    *, change_id: str, approved: bool, on: date, flow_run_id: str
) -> list[dict[str, Any]]:
    """Apply the decision to the pair (once) and return the notices of everyone concerned."""
    settings = get_settings()
    with session_scope() as session:
        change = pair_changes.get_change(session=session, change_id=uuid.UUID(change_id))
        rules = _rules(session, change.cycle_id).matching_policy()
        pair_changes.settle(
            session=session, change_id=change.id, approved=approved, on=on, policy=rules
        )
        pair_changes.issue_programme_document(
            session=session,
            settings=settings,
            change_id=change.id,
            on=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return pair_changes.notices(
            session=session,
            change_id=change.id,
            link_context=pair_changes.LinkContext(
                secret=settings.approval_secret(),
                base_url=settings.web_base_url,
                timezone=ZoneInfo(settings.timezone),
                now=approvals.now_utc(),
            ),
        )
