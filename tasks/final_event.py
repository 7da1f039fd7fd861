"""Tasks of the final event: ranking and nominations, the orders, the papers, the honour board."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from pydantic import BaseModel

from models import DocumentStatus
from nastavnik import awards, documents, final_event, honour_board, practices
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


def not_a_rule(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a transient failure, never a refusal by the rules."""
    try:
        state.result()
    except (final_event.NominationRefused, awards.AwardsRefused, LookupError):
        return False
    except Exception:
        return True
    return True


class RankingSummary(BaseModel):
    """What the curator is told about the ranking (counts; names only in the memo)."""

    memo_id: str
    mentors: int
    recommended: int
    nominated: int
    evidence_ru: str = ""  # which completion questionnaires the ranking had (no names)


class EventOrders(BaseModel):
    event_order_id: str
    rewards_order_id: str | None  # None: nobody nominated, no rewards order


class BoardSummary(BaseModel):
    shown: int
    left_out: int
    html_path: str
    pdf_path: str


@run_cached_task(
    name="rank-mentors",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=not_a_rule,
)
def rank_mentors(*, cycle_id: str, as_of: date, round_no: int, flow_run_id: str) -> RankingSummary:
    """Rank the mentors, nominate the recommended ones not decided yet, issue the memo."""
    settings = get_settings()
    with session_scope() as session:
        ranking = final_event.cycle_ranking(
            session=session,
            cycle_id=uuid.UUID(cycle_id),
            as_of=as_of,
            timezone=ZoneInfo(settings.timezone),
        )
        chosen = final_event.accept_recommendations(
            session=session,
            cycle_id=uuid.UUID(cycle_id),
            ranking=ranking,
            nominated_by="ranking",
            today=as_of,
        )
        memo = awards.issue_ranking_memo(
            session=session,
            settings=settings,
            cycle_id=uuid.UUID(cycle_id),
            ranking=ranking,
            as_of=as_of,
            round_no=round_no,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return RankingSummary(
            memo_id=str(memo.id),
            mentors=len(ranking),
            recommended=sum(entry.recommended is not None for entry in ranking),
            nominated=len(chosen),
            evidence_ru=final_event.ranking_evidence(
                session=session, cycle_id=uuid.UUID(cycle_id), ranking=ranking, as_of=as_of
            ).statement_ru,
        )


@run_cached_task(
    name="issue-final-event-orders",
    retries=1,
    retry_delay_seconds=[5],
    retry_condition_fn=not_a_rule,
)
def issue_orders(
    *,
    cycle_id: str,
    plan: dict[str, Any],
    order_date: date,
    round_no: int,
    flow_run_id: str,
) -> EventOrders:
    """The orders «О проведении итогового мероприятия» and «О поощрении наставников» (once per
    round), waiting for the director."""
    with session_scope() as session:
        common: dict[str, Any] = {
            "session": session,
            "settings": get_settings(),
            "cycle_id": uuid.UUID(cycle_id),
            "order_date": order_date,
            "round_no": round_no,
            "flow_run_id": uuid.UUID(flow_run_id),
        }
        event = awards.issue_event_order(**common, plan=awards.FinalEventPlan(**plan))
        if not awards.nominees(session=session, cycle_id=uuid.UUID(cycle_id)):
            return EventOrders(event_order_id=str(event.id), rewards_order_id=None)
        rewards = awards.issue_rewards_order(**common)
        return EventOrders(event_order_id=str(event.id), rewards_order_id=str(rewards.id))


@run_cached_task(
    name="issue-award-papers",
    retries=1,
    retry_delay_seconds=[5],
    retry_condition_fn=not_a_rule,
)
def issue_award_papers(
    *, cycle_id: str, doc_date: date, rewards_order_id: str, flow_run_id: str
) -> list[str]:
    """Every nominee's letter or certificate as one batch, approved with the order; their ids."""
    with session_scope() as session:
        papers = awards.issue_award_documents(
            session=session,
            settings=get_settings(),
            cycle_id=uuid.UUID(cycle_id),
            doc_date=doc_date,
            rewards_order_id=uuid.UUID(rewards_order_id),
            flow_run_id=uuid.UUID(flow_run_id),
        )
        for paper in papers:
            documents.set_document_status(
                session=session, document_id=paper.id, status=DocumentStatus.approved
            )
        return [str(paper.id) for paper in papers]


@task(name="publish-honour-board", retries=2, retry_delay_seconds=[1, 5])
def publish_board(*, cycle_id: str, on: date) -> BoardSummary:
    """Write the honour board (HTML and A3 PDF) of the consenting adults nominated."""
    settings = get_settings()
    with session_scope() as session:
        board = honour_board.publish_honour_board(
            session=session,
            settings=settings,
            cycle_id=uuid.UUID(cycle_id),
            on=on,
            photos_dir=settings.data_dir / "photos",
        )
    return BoardSummary(
        shown=board.shown,
        left_out=board.left_out,
        html_path=str(board.html_path),
        pdf_path=str(board.pdf_path),
    )


@task(name="publish-practice-bank", retries=2, retry_delay_seconds=[1, 5])
def publish_practice_bank(*, cycle_id: str, on: date) -> int:
    """Compile the best-practice bank (HTML and PDF with contents); how many practices."""
    with session_scope() as session:
        bank = practices.publish_bank(
            session=session, settings=get_settings(), cycle_id=uuid.UUID(cycle_id), on=on
        )
    return bank.practices
