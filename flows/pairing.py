"""Pairing (формирование наставнических пар/групп) as a deployed stage flow."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import ProgrammesApprovalInput, request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import Decision
from tasks.common import queue_notices
from tasks.pairing import (
    acknowledge_programmes,
    apply_programme_decision,
    match_pairs,
    render_consent_forms,
    render_pairing_order,
    render_programmes,
    settle_pairing_order,
)
from tasks.publishing import LIST_NOTE, publish_documents, publish_table
from tasks.stages import pair_term

STAGE = "pairing"
MAX_ROUNDS = 10


class PairingParams(BaseModel):
    """What the curator gives when starting the pairing stage."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    starts_on: date | None = Field(default=None, description="Начало работы пар (1 октября)")
    ends_on: date | None = Field(default=None, description="Окончание (31 мая)")
    reference_date: date | None = Field(default=None, description="Дата документов")


@flow(name=STAGE)
def pairing(params: PairingParams) -> str:
    """Match, collect written consents, fix pairs by order, approve personal programmes."""
    return finish_stage(pairing_steps(params))


def pairing_steps(params: PairingParams) -> str:
    """The stage's steps; returns the last decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    starts_on, ends_on = pair_term(
        school_year=params.school_year,
        starts_on=params.starts_on,
        ends_on=params.ends_on,
        not_before=on,
    )

    for round_no in range(1, MAX_ROUNDS + 1):
        # 1. Draft pairs for the curator, who may lock or forbid pairs and ask for a re-run.
        draft = match_pairs(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id, round_no=round_no)
        publish_table(
            key=f"pairing-draft-{round_no}",
            table=draft.pairs,
            description=(
                f"Проект пар, вариант {round_no}: пары по формам. {LIST_NOTE}{draft.list_url}"
            ),
        )
        if draft.search_list:
            publish_table(
                key=f"pairing-search-list-{round_no}",
                table=draft.search_list,
                description=(
                    "Наставляемые без наставника (лист поиска) по причинам. "
                    f"{LIST_NOTE}{draft.list_url}"
                ),
            )
        # 2. Written consent of both sides (§2.6): forms to sign, status recorded by the curator.
        consent_forms = render_consent_forms(
            cycle_id=cycle_id,
            on=on,
            starts_on=starts_on,
            ends_on=ends_on,
            flow_run_id=flow_run_id,
            round_no=round_no,
        )
        publish_documents([draft.document_id, *consent_forms], key=f"pairing-round-{round_no}")
        review = request_approval(
            cycle_id=cycle_id,
            stage=STAGE,
            approval_key=f"pairing-review-{round_no}",
            role="curator",
            title=f"Проект наставнических пар (вариант {round_no})",
            summary=(
                f"Подобрано наставляемых: {draft.matched}, без наставника: "
                f"{draft.unmatched}; бланков согласий: {len(consent_forms)}. Закрепите или "
                "запретите пары и внесите письменные согласия, затем подтвердите "
                "(«на доработку» — подобрать заново)."
            ),
            document_ids=[draft.document_id],
        )
        if review.decision == Decision.request_changes:
            continue
        if review.decision == Decision.reject:
            # Free text may name a child: it stays in the approval record, out of Prefect's logs.
            logger.warning("Pairing stopped by the curator (comment in the approval record)")
            return review.decision.value

        # 3. The order fixing the pairs whose both sides consented; the director decides.
        # It is made on the day the curator confirmed the review, with the consents of that day.
        order_day = max(on, review.decided_on or on)
        order = render_pairing_order(
            cycle_id=cycle_id,
            on=order_day,
            starts_on=starts_on,
            ends_on=ends_on,
            flow_run_id=flow_run_id,
            round_no=round_no,
        )
        if order.blocked:
            publish_table(
                key=f"pairing-blocked-{round_no}",
                table=order.blocked,
                description=(
                    f"Не вошли в приказ: нет письменного согласия. {LIST_NOTE}{order.list_url}"
                ),
            )
        if order.document_id is None:
            logger.warning("No pair has both written consents yet; back to the curator")
            continue
        publish_documents([order.document_id], key=f"pairing-order-{round_no}")
        decision = request_approval(
            cycle_id=cycle_id,
            stage=STAGE,
            approval_key=f"pairing-order-{round_no}",
            title="Приказ о закреплении наставнических пар/групп",
            summary=(
                f"Пар и групп в приказе: {len(order.pair_ids)}; не вошли из-за "
                f"отсутствия согласий: {order.blocked_pairs}."
            ),
            document_ids=[order.document_id],
        )
        # 4. Approved pairs become active and dated; participants get their pair by e-mail.
        notices = settle_pairing_order(
            cycle_id=cycle_id,
            document_id=order.document_id,
            approved=decision.approved,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        settle_decision(
            decision,
            notices=queue_notices(
                cycle_id=cycle_id,
                flow_run_id=flow_run_id,
                template="pair_assigned",
                notices=notices,
                document_ids=[order.document_id],
                attach=False,  # the order lists every pair: each participant gets their own
            ),
        )
        if decision.approved:
            break
        if decision.decision == Decision.reject:
            return decision.decision.value
    else:
        logger.error("No approved order after %d rounds", MAX_ROUNDS)
        return "unfinished"

    # 5. Personal programmes: read by the mentees, approved by the director in one decision.
    items = render_programmes(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id)
    document_ids = [item.document_id for item in items]
    publish_documents(document_ids, key="personal-programmes")
    ack = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key="programmes-acknowledged",
        role="curator",
        title="Персональные программы: ознакомление наставляемых",
        summary=(
            f"Программ: {len(items)}. Подтвердите, что наставляемые ознакомились с программами."
        ),
        document_ids=document_ids,
    )
    if ack.decision != Decision.approve:
        return ack.decision.value
    acknowledge_programmes(programme_ids=[i.programme_id for i in items], on=on)
    listing = "; ".join(f"{i.number}. {i.label}" for i in items)
    verdict = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key="programmes-approval",
        title="Персонализированные программы наставничества",
        summary=(
            f"Программ: {len(items)} ({listing}). Можно утвердить все, кроме указанных "
            "номеров, с комментарием к каждой."
        ),
        document_ids=document_ids,
        input_type=ProgrammesApprovalInput,
    )
    result = apply_programme_decision(
        items=items,
        approved=verdict.approved,
        exceptions=list(verdict.details.get("exceptions", [])),
    )
    publish_table(
        key="programmes-decision",
        table=[{"Утверждено": len(result["approved"]), "Возвращено": len(result["returned"])}],
        description="Решение по персональным программам",
    )
    # The programmes' statuses were set one by one above, exceptions included.
    settle_decision(verdict, set_document_status=False)
    return verdict.decision.value
