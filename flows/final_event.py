"""The final event (итоговое мероприятие) as a deployed flow: the mentors' ranking, the curator's
nominations, the two orders the director approves, the letters and certificates, the honour
board (§2.16 of the regulation; the roadmaps' «Итоговые мероприятия по наставничеству»)."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import Decision
from tasks.final_event import (
    issue_award_papers,
    issue_orders,
    publish_board,
    publish_practice_bank,
    rank_mentors,
)
from tasks.publishing import publish_documents, publish_table
from tasks.stages import conclude_decision

STAGE = "final-event"
MAX_ROUNDS = 10


class FinalEventParams(BaseModel):
    """What the curator gives when starting the final event."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    event_title: str = Field(default="Итоги года наставничества", description="Название")
    event_date: date = Field(description="Дата итогового мероприятия")
    place: str = Field(description="Место проведения")
    time: str = Field(default="", description="Время начала, например 14:00")
    reference_date: date | None = Field(default=None, description="Дата рейтинга и приказов")


@flow(name=STAGE)
def final_event(params: FinalEventParams) -> str:
    """Ranking → nominations → orders → director's approval → letters → honour board and the
    best-practice bank."""
    return finish_stage(final_event_steps(params))


def final_event_steps(params: FinalEventParams) -> str:
    """The stage's steps; returns the director's last decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    plan = {
        "title": params.event_title,
        "held_on": params.event_date,
        "place": params.place,
        "time": params.time,
    }
    for round_no in range(1, MAX_ROUNDS + 1):
        # 1. The ranking advises; the recommended are nominated unless the curator decided.
        ranking = rank_mentors(
            cycle_id=cycle_id, as_of=on, round_no=round_no, flow_run_id=flow_run_id
        )
        publish_table(
            key=f"final-event-ranking-{round_no}",
            table=[
                {
                    "Наставников": ranking.mentors,
                    "Рекомендовано": ranking.recommended,
                    "Выдвинуто": ranking.nominated,
                }
            ],
            description=f"Рейтинг наставников (имена — в справке). {ranking.evidence_ru}",
        )
        publish_documents([ranking.memo_id], key=f"final-event-memo-{round_no}")
        # 2. The curator changes the nominations (`nastavnik final-event nominate`), confirms.
        review = request_approval(
            cycle_id=cycle_id,
            stage=STAGE,
            approval_key=f"final-event-nominations-{round_no}",
            role="curator",
            title="Рейтинг наставников и выдвижение к поощрению",
            summary=(
                f"Наставников в рейтинге: {ranking.mentors}, выдвинуто: {ranking.nominated}. "
                f"{ranking.evidence_ru} "
                "Измените выдвижение при необходимости (nastavnik final-event nominate, "
                "с комментарием), затем подтвердите; «на доработку» — пересчитать рейтинг."
            ),
            document_ids=[ranking.memo_id],
        )
        # The memo takes the curator's decision (approved, or back for changes); no notice: the
        # curator decided it herself.
        conclude_decision(request_id=review.request_id, notify=())
        if review.decision == Decision.request_changes:
            continue
        if review.decision == Decision.reject:
            # Free text may name a child: it stays in the approval record, out of Prefect's logs.
            logger.warning("Final event stopped by the curator (comment in the approval record)")
            return review.decision.value
        # 3. The two orders, made on the day the curator confirmed; the director decides.
        orders = issue_orders(
            cycle_id=cycle_id,
            plan=plan,
            order_date=max(on, review.decided_on or on),
            round_no=round_no,
            flow_run_id=flow_run_id,
        )
        order_ids = [orders.event_order_id]
        if orders.rewards_order_id:
            order_ids.append(orders.rewards_order_id)
        publish_documents(order_ids, key=f"final-event-orders-{round_no}")
        decision = request_approval(
            cycle_id=cycle_id,
            stage=STAGE,
            approval_key=f"final-event-orders-{round_no}",
            title="Приказы о проведении итогового мероприятия и о поощрении наставников",
            summary=f"Приказов: {len(order_ids)}; выдвинуто к поощрению: {ranking.nominated}.",
            document_ids=order_ids,
        )
        settle_decision(decision)
        if decision.approved:
            break
        if decision.decision == Decision.reject:
            return decision.decision.value
    else:
        logger.error("No approved orders after %d rounds", MAX_ROUNDS)
        return "unfinished"

    # 4. The papers as one batch, then the honour board (consenting adults only).
    if orders.rewards_order_id:
        papers = issue_award_papers(
            cycle_id=cycle_id,
            doc_date=params.event_date,
            rewards_order_id=orders.rewards_order_id,
            flow_run_id=flow_run_id,
        )
        publish_documents(papers, key="final-event-awards")
    published_on = max(on, decision.decided_on or on)
    board = publish_board(cycle_id=cycle_id, on=published_on)
    practices = publish_practice_bank(cycle_id=cycle_id, on=published_on)
    publish_table(
        key="honour-board",
        table=[
            {
                "На доске почёта": board.shown,
                "Не показаны": board.left_out,
                "Практик в банке": practices,
            }
        ],
        description="Доска почёта (только совершеннолетние с согласием) и банк лучших практик",
    )
    return decision.decision.value
