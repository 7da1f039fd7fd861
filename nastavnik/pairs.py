"""A pair's life cycle: active until its end date, then ended by the clock; history kept.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.5: «Максимальное число
лиц, в отношении которых наставник одновременно осуществляет наставничество, не может
превышать трех» — only pairs still going on count, whichever cycle of the organisation they
belong to; a pair that has ended (by date, replacement or early termination) counts nothing.
§2.8–§2.10 change a pair by order; each change is a `PairVersion` row with its date, reason and
order document (none for an ending by date).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models import Cycle, MentorshipPair, PairMember, PairStatus, PairVersion, Participant
from nastavnik import repository

ONGOING = (PairStatus.active, PairStatus.extended)
"""Statuses of a pair that is still going on: they count against §2.5 and end on their date."""

ENDED_BY_DATE = "срок наставничества истёк"
"""The reason recorded when the clock ends a pair on its end date."""


def record_version(
    *,
    session: Session,
    pair: MentorshipPair,
    changed_on: date,
    reason: str,
    order_document_id: uuid.UUID | None = None,
) -> PairVersion:
    """Append the pair's current state to its history as the next version."""
    last = session.exec(
        select(func.max(PairVersion.version)).where(PairVersion.pair_id == pair.id)
    ).one()
    version = PairVersion(
        pair_id=pair.id,
        version=(last or 0) + 1,
        status=pair.status,
        mentor_id=pair.mentor_id,
        starts_on=pair.starts_on,
        ends_on=pair.ends_on,
        changed_on=changed_on,
        reason=reason,
        order_document_id=order_document_id,
    )
    session.add(version)
    session.flush()
    return version


def history(*, session: Session, pair_id: uuid.UUID) -> list[PairVersion]:
    """A pair's versions, oldest first."""
    return list(
        session.exec(
            select(PairVersion)
            .where(PairVersion.pair_id == pair_id)
            .order_by(col(PairVersion.version))
        ).all()
    )


def _in_organisation(
    statement: SelectOfScalar[MentorshipPair], organization_id: uuid.UUID | None
) -> SelectOfScalar[MentorshipPair]:
    if organization_id is None:
        return statement
    return statement.join(Cycle, col(Cycle.id) == col(MentorshipPair.cycle_id)).where(
        Cycle.organization_id == organization_id
    )


def end_due_pairs(
    *,
    session: Session,
    today: date,
    organization_id: uuid.UUID | None = None,
    actor: str = "clock",
) -> list[uuid.UUID]:
    """End every going-on pair whose end date has passed (ends_on < today); the ids ended now.

    The same day twice ends nothing more. Each ending is audited (no names: ids and dates) and
    added to the pair's history without an order: the pairing order fixed the end date."""
    statement = select(MentorshipPair).where(
        col(MentorshipPair.status).in_(ONGOING),
        col(MentorshipPair.ends_on).is_not(None),
        col(MentorshipPair.ends_on) < today,
    )
    due = session.exec(
        _in_organisation(statement, organization_id).order_by(
            col(MentorshipPair.ends_on), col(MentorshipPair.id)
        )
    ).all()
    ended: list[uuid.UUID] = []
    for pair in due:
        pair.status = PairStatus.ended
        session.add(pair)
        record_version(session=session, pair=pair, changed_on=today, reason=ENDED_BY_DATE)
        repository.record_audit(
            session=session,
            actor=actor,
            action="pair.ended",
            cycle_id=pair.cycle_id,
            entity=f"pair:{pair.id}",
            details={"ends_on": pair.ends_on.isoformat() if pair.ends_on else None},
            event_key=f"pair.ended:{pair.id}",
        )
        ended.append(pair.id)
    session.flush()
    return ended


def active_mentee_load(
    *,
    session: Session,
    organization_id: uuid.UUID,
    today: date,
    exclude_cycle_ids: Iterable[uuid.UUID] = (),
) -> dict[uuid.UUID, int]:
    """Mentees per mentor (a Person: participants differ per cycle) in pairs going on today,
    across all the organisation's cycles except the excluded ones.

    A pair past its end date counts nothing even before the clock has marked it ended."""
    excluded = list(exclude_cycle_ids)
    statement = (
        select(Participant.person_id, func.count(col(PairMember.id)))
        .join(MentorshipPair, col(MentorshipPair.mentor_id) == col(Participant.id))
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .join(Cycle, col(Cycle.id) == col(MentorshipPair.cycle_id))
        .where(
            Cycle.organization_id == organization_id,
            col(MentorshipPair.status).in_(ONGOING),
            or_(col(MentorshipPair.ends_on).is_(None), col(MentorshipPair.ends_on) >= today),
        )
        .group_by(col(Participant.person_id))
    )
    if excluded:
        statement = statement.where(col(MentorshipPair.cycle_id).not_in(excluded))
    return {person_id: int(count) for person_id, count in session.exec(statement).all()}
