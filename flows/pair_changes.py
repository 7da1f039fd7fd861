"""Changes to a pair as deployed flows: replacement of the mentor (§2.8), extension of the term
(§2.9), early termination (§2.10) — each by a numbered order the director approves."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import PairChangeKind, PairChangeReason
from nastavnik.pair_changes import ORDER_TITLE
from tasks.common import queue_notices
from tasks.pair_changes import render_pair_change_order, request_pair_change, settle_pair_change
from tasks.publishing import publish_documents, publish_table

STAGE = "pair-changes"


class PairChangeParams(BaseModel):
    """What every change names: the pair, why, who asks."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    pair_id: str = Field(description="ID пары (nastavnik pairs history покажет)")
    reason: PairChangeReason = Field(description="Основание по положению")
    comment: str = Field(default="", description="Комментарий (в приказ не входит)")
    requested_by: str = Field(default="curator", description="Кто просит (для журнала)")
    reference_date: date | None = Field(default=None, description="Дата приказа")


class ReplacementParams(PairChangeParams):
    """Replacement of the mentor (§2.8) with the new mentor's written consent (§2.6)."""

    new_mentor_id: str = Field(description="ID нового наставника (участник цикла)")
    consent_on: date = Field(description="Дата письменного согласия нового наставника")
    consent_how: str = Field(description="Как получено согласие (например, заявление)")


class ExtensionParams(PairChangeParams):
    """Extension of the term (§2.9)."""

    new_ends_on: date = Field(description="Новая дата окончания наставничества")


class TerminationParams(PairChangeParams):
    """Early termination (§2.10)."""

    mentee_wants_new_mentor: bool = Field(
        default=False, description="Наставляемый хочет нового наставника (в лист поиска)"
    )


@flow(name="pair-replacement")
def pair_replacement(params: ReplacementParams) -> str:
    """Replace the pair's mentor by order: the new mentor under the hard rules, with consent."""
    return finish_stage(
        _change_steps(
            PairChangeKind.replacement,
            params,
            new_mentor_id=params.new_mentor_id,
            consent_on=params.consent_on,
            consent_how=params.consent_how,
        )
    )


@flow(name="pair-extension")
def pair_extension(params: ExtensionParams) -> str:
    """Extend the pair's term by order; the programme's remaining months move later."""
    return finish_stage(
        _change_steps(PairChangeKind.extension, params, new_ends_on=params.new_ends_on)
    )


@flow(name="pair-termination")
def pair_termination(params: TerminationParams) -> str:
    """End the pair early by order; the mentee back on the search list if they wish."""
    return finish_stage(
        _change_steps(
            PairChangeKind.termination,
            params,
            mentee_wants_new_mentor=params.mentee_wants_new_mentor,
        )
    )


def _change_steps(kind: PairChangeKind, params: PairChangeParams, **specific: Any) -> str:
    """Request → order → the director's decision → the change applied and everyone told."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    # 1. The request, checked against the regulation (a refusal fails the run with the rule).
    change = request_pair_change(
        cycle_id=cycle_id,
        pair_id=params.pair_id,
        kind=kind.value,
        reason=params.reason,
        on=on,
        requested_by=params.requested_by,
        comment=params.comment,
        flow_run_id=flow_run_id,
        **specific,
    )
    summary = {"Изменение": ORDER_TITLE[kind], "Основание": change.reason}
    if kind == PairChangeKind.replacement:
        summary["Кандидатов по правилам"] = str(change.candidates)
    publish_table(key=f"pair-change-{kind.value}", table=[summary], description="Изменение пары")
    # 2. The numbered order, then the director decides.
    order_id = render_pair_change_order(
        cycle_id=cycle_id, change_id=change.change_id, on=on, flow_run_id=flow_run_id
    )
    publish_documents([order_id], key=f"pair-change-order-{kind.value}")
    decision = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key=f"pair-{kind.value}",
        title=ORDER_TITLE[kind],
        summary=f"Основание: {change.reason}. Проект приказа приложен.",
        document_ids=[order_id],
    )
    # 3. Applied once on the day of the decision (or nothing changes), then everyone is told.
    notices = settle_pair_change(
        change_id=change.change_id,
        approved=decision.approved,
        on=max(on, decision.decided_on or on),
        flow_run_id=flow_run_id,
    )
    settle_decision(
        decision,
        notices=queue_notices(
            cycle_id=cycle_id,
            flow_run_id=flow_run_id,
            template="pair_change",
            notices=notices,
            document_ids=[order_id],
        ),
    )
    if not decision.approved:
        logger.warning("%s: not approved (%s)", ORDER_TITLE[kind], decision.decision.value)
    return decision.decision.value
