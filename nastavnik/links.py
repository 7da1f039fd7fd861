"""Participants' personal links: signed, scoped to one person and one pair, revocable (no Prefect).

DESIGN §11: «Mentors and mentees have no accounts. Each gets a personal signed link (HMAC over
person, pair or cycle, purpose and expiry, from the settings' secret) … it opens their own page
only …, expires 30 days after the pair ends (a policy setting …), can be revoked and re-issued,
and every use is audited. Forged, expired, revoked or someone else's links are refused.»

A link's token carries the participant, the pair, the expiry and the link generation, signed
like an approval code (nastavnik/approvals.py). Nothing secret is stored: the table
``participantlink`` keeps only the generation and the revocation, so a reissue (the next
generation) refuses every earlier link, as ``code_generation`` does for approval codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    AuditEvent,
    Cycle,
    Document,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    ParticipantLink,
    Person,
    PersonalProgramme,
    Role,
)
from nastavnik import policy, repository
from nastavnik.pairs import ONGOING
from nastavnik.progress import chunks

# What a link opens; another purpose (a monthly report, say) will be signed under its own word,
# so a link for one page never opens another.
PAIR_PAGE = "pair-page"
# Pairs whose members still have a page: a pair that never started or was dropped has none;
# an extended pair goes on (§2.9); a replaced or terminated one is closed by its order.
PAIRS_WITH_PAGES = (PairStatus.active, PairStatus.extended, PairStatus.ended)

_SIGNATURE_BYTES = 16
# participant id, pair id, expiry (unix seconds), generation, signature
_TOKEN = struct.Struct(f">16s16sqI{_SIGNATURE_BYTES}s")


class LinkProblem(StrEnum):
    """Why a participant's link was refused."""

    malformed = "malformed"
    forged = "forged"
    foreign = "foreign"
    superseded = "superseded"
    revoked = "revoked"
    expired = "expired"


LINK_PROBLEM_RU = {
    LinkProblem.malformed: "ссылка повреждена: скопируйте её из письма целиком",
    LinkProblem.forged: "ссылка не выдавалась этой программой наставничества",
    LinkProblem.foreign: "ссылка выдана не участнику этой пары",
    LinkProblem.superseded: "ссылка заменена новой: откройте ссылку из последнего письма",
    LinkProblem.revoked: "ссылка отозвана куратором",
    LinkProblem.expired: "срок действия ссылки истёк",
}
# Refused as forbidden (403) or as gone for good (410): a revoked or expired link did work once.
GONE = frozenset({LinkProblem.superseded, LinkProblem.revoked, LinkProblem.expired})


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _signature(
    *,
    secret: bytes,
    participant_id: uuid.UUID,
    pair_id: uuid.UUID,
    purpose: str,
    expires: int,
    generation: int,
) -> bytes:
    message = f"participant-link|{participant_id}|{pair_id}|{purpose}|{expires}|g{generation}"
    return hmac.new(secret, message.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def make_token(
    *,
    secret: bytes,
    participant_id: uuid.UUID,
    pair_id: uuid.UUID,
    expires_at: datetime,
    generation: int,
    purpose: str = PAIR_PAGE,
) -> str:
    """A link token: the ids, expiry and generation in the clear, and their HMAC (URL-safe)."""
    expires = int(_as_utc(expires_at).timestamp())
    signature = _signature(
        secret=secret,
        participant_id=participant_id,
        pair_id=pair_id,
        purpose=purpose,
        expires=expires,
        generation=generation,
    )
    packed = _TOKEN.pack(participant_id.bytes, pair_id.bytes, expires, generation, signature)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


@dataclass(frozen=True)
class TokenFields:
    """What a token says about itself, before anyone believes it."""

    participant_id: uuid.UUID
    pair_id: uuid.UUID
    expires: int
    generation: int
    signature: bytes


def read_token(token: str) -> TokenFields | None:
    """The token's fields, or None when it is not a token at all."""
    text = token.strip()
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        participant, pair, expires, generation, signature = _TOKEN.unpack(packed)
    except (binascii.Error, ValueError, struct.error):
        return None
    return TokenFields(
        uuid.UUID(bytes=participant), uuid.UUID(bytes=pair), expires, generation, signature
    )


def link_url(*, base_url: str, token: str) -> str:
    """The participant's page for this token."""
    return f"{base_url.rstrip('/')}/p/{token}"


def link_expiry(*, ends_on: date, valid_days: int, timezone: ZoneInfo) -> datetime:
    """The moment a link stops working: the end of the N-th day after the pair's last day."""
    last_day = ends_on + timedelta(days=valid_days)
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=timezone).astimezone(UTC)


def pair_participants(*, session: Session, pair: MentorshipPair) -> list[uuid.UUID]:
    """The pair's mentor, then its mentees."""
    mentees = session.exec(select(PairMember.mentee_id).where(PairMember.pair_id == pair.id))
    return [pair.mentor_id, *mentees]


def _expiry_for(*, session: Session, pair: MentorshipPair, timezone: ZoneInfo) -> datetime:
    if pair.ends_on is None:
        raise ValueError(f"пара {pair.id} без даты окончания: ссылку выдать нельзя")
    cycle = session.get(Cycle, pair.cycle_id)
    assert cycle is not None
    rules = policy.get_policy(session=session, organization_id=cycle.organization_id)
    return link_expiry(
        ends_on=pair.ends_on, valid_days=rules.participant_link_valid_days, timezone=timezone
    )


def _state(
    *, session: Session, participant_id: uuid.UUID, pair_id: uuid.UUID
) -> ParticipantLink | None:
    return session.exec(
        select(ParticipantLink).where(
            ParticipantLink.participant_id == participant_id, ParticipantLink.pair_id == pair_id
        )
    ).first()


def _audit(
    *,
    session: Session,
    pair: MentorshipPair | None,
    participant_id: uuid.UUID | None,
    actor: str,
    action: str,
    at: datetime,
    details: dict[str, Any],
    event_key: str | None = None,
) -> None:
    # Ids only: the audit log never needs a child's name to explain a link.
    repository.record_audit(
        session=session,
        actor=actor or "unknown",
        action=action,
        cycle_id=pair.cycle_id if pair else None,
        entity=f"participant:{participant_id}" if participant_id else "participant-link",
        at=at,
        details=details,
        event_key=event_key,
    )


def _issued_key(state: ParticipantLink, expires_at: datetime) -> str:
    """The audit key of one issue: once per link state, generation and expiry."""
    return f"link.issued:{state.id}:{state.generation}:{int(expires_at.timestamp())}"


def _audit_issued(
    *,
    session: Session,
    pair: MentorshipPair,
    state: ParticipantLink,
    expires_at: datetime,
    actor: str,
    at: datetime,
) -> None:
    _audit(
        session=session,
        pair=pair,
        participant_id=state.participant_id,
        actor=actor,
        action="link.issued",
        at=at,
        details={
            "pair": str(pair.id),
            "generation": state.generation,
            "expires_at": expires_at.isoformat(),
        },
        event_key=_issued_key(state, expires_at),
    )


@dataclass(frozen=True)
class IssuedLink:
    """One participant's current link to one pair."""

    participant_id: uuid.UUID
    pair_id: uuid.UUID
    full_name: str
    role: Role
    token: str
    expires_at: datetime
    generation: int


def issue_link(
    *,
    session: Session,
    secret: bytes,
    participant_id: uuid.UUID,
    pair_id: uuid.UUID,
    now: datetime,
    timezone: ZoneInfo,
    actor: str,
) -> IssuedLink:
    """The participant's current link to the pair (the same link on every call); audited once.

    Raises LookupError for an unknown pair and ValueError when the participant is not in the
    pair, the pair has no page (not active or ended) or its link is revoked (reissue it).
    """
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise LookupError(f"пара {pair_id} не найдена")
    if pair.status not in PAIRS_WITH_PAGES:
        raise ValueError(f"пара {pair_id} не действует ({pair.status}): ссылку выдать нельзя")
    if participant_id not in pair_participants(session=session, pair=pair):
        raise ValueError(f"участник {participant_id} не входит в пару {pair_id}")
    state = _state(session=session, participant_id=participant_id, pair_id=pair_id)
    if state is None:
        state = ParticipantLink(participant_id=participant_id, pair_id=pair_id, issued_at=now)
        session.add(state)
        session.flush()
    if state.revoked_at is not None:
        raise ValueError(f"ссылка участника {participant_id} отозвана: выпустите новую")
    expires_at = _expiry_for(session=session, pair=pair, timezone=timezone)
    token = make_token(
        secret=secret,
        participant_id=participant_id,
        pair_id=pair_id,
        expires_at=expires_at,
        generation=state.generation,
    )
    _audit_issued(
        session=session,
        pair=pair,
        state=state,
        expires_at=expires_at,
        actor=actor,
        at=now,
    )
    participant = session.get(Participant, participant_id)
    person = session.get(Person, participant.person_id) if participant else None
    assert participant is not None and person is not None
    return IssuedLink(
        participant_id=participant_id,
        pair_id=pair_id,
        full_name=person.full_name,
        role=participant.role,
        token=token,
        expires_at=expires_at,
        generation=state.generation,
    )


def personal_url(
    *,
    session: Session,
    secret: bytes,
    base_url: str,
    timezone: ZoneInfo,
    participant_id: uuid.UUID,
    pair_id: uuid.UUID,
    now: datetime,
    path: str = "",
    actor: str = "tick",
) -> str:
    """The participant's current link to a page of the pair (issued if needed), or "" when the
    link is closed (revoked, or a pair with no page): a mail then says to ask the curator."""
    try:
        link = issue_link(
            session=session,
            secret=secret,
            participant_id=participant_id,
            pair_id=pair_id,
            now=now,
            timezone=timezone,
            actor=actor,
        )
    except ValueError:
        return ""
    return link_url(base_url=base_url, token=link.token) + path


def personal_urls(
    *,
    session: Session,
    secret: bytes,
    base_url: str,
    timezone: ZoneInfo,
    wanted: Sequence[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
    path: str = "",
    actor: str = "tick",
) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """personal_url for many (participant, pair) at once, in a few queries per 500 pairs rather
    than ten per link: a day's reminders link hundreds of participants. Each link is issued and
    audited as issue_link does; "" where it is closed (revoked, a pair with no page)."""
    wanted = list(dict.fromkeys(wanted))
    pair_ids = list({pair_id for _, pair_id in wanted})
    pairs: dict[uuid.UUID, MentorshipPair] = {}
    members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    states: dict[tuple[uuid.UUID, uuid.UUID], ParticipantLink] = {}
    for ids in chunks(pair_ids):
        pairs.update(
            (pair.id, pair)
            for pair in session.exec(select(MentorshipPair).where(col(MentorshipPair.id).in_(ids)))
        )
        for pair_id, mentee_id in session.exec(
            select(PairMember.pair_id, PairMember.mentee_id).where(col(PairMember.pair_id).in_(ids))
        ):
            members[pair_id].add(mentee_id)
        for state in session.exec(
            select(ParticipantLink).where(col(ParticipantLink.pair_id).in_(ids))
        ):
            states[(state.participant_id, state.pair_id)] = state
    urls: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    issuing: list[tuple[uuid.UUID, MentorshipPair, ParticipantLink]] = []
    for participant_id, pair_id in wanted:
        pair = pairs.get(pair_id)
        if pair is None:
            raise LookupError(f"пара {pair_id} не найдена")
        urls[(participant_id, pair_id)] = ""
        in_pair = participant_id == pair.mentor_id or participant_id in members[pair_id]
        if pair.status not in PAIRS_WITH_PAGES or pair.ends_on is None or not in_pair:
            continue
        found = states.get((participant_id, pair_id))
        if found is None:
            found = ParticipantLink(participant_id=participant_id, pair_id=pair_id, issued_at=now)
            states[(participant_id, pair_id)] = found
            session.add(found)
        if found.revoked_at is None:
            issuing.append((participant_id, pair, found))
    session.flush()
    events: dict[str, tuple[uuid.UUID, MentorshipPair, ParticipantLink, datetime]] = {}
    for participant_id, pair, state in issuing:
        expires_at = _expiry_for(session=session, pair=pair, timezone=timezone)
        token = make_token(
            secret=secret,
            participant_id=participant_id,
            pair_id=pair.id,
            expires_at=expires_at,
            generation=state.generation,
        )
        urls[(participant_id, pair.id)] = link_url(base_url=base_url, token=token) + path
        events[_issued_key(state, expires_at)] = (participant_id, pair, state, expires_at)
    audited: set[str | None] = set()
    for keys in chunks(list(events)):
        audited.update(
            session.exec(
                select(AuditEvent.event_key).where(col(AuditEvent.event_key).in_(keys))
            ).all()
        )
    for key, (_, pair, state, expires_at) in events.items():
        if key not in audited:
            _audit_issued(
                session=session,
                pair=pair,
                state=state,
                expires_at=expires_at,
                actor=actor,
                at=now,
            )
    return urls


def active_pairs(*, session: Session, cycle_id: uuid.UUID) -> list[MentorshipPair]:
    """The cycle's pairs going on (active or extended), in a stable order."""
    return list(
        session.exec(
            select(MentorshipPair)
            .where(MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(ONGOING))
            .order_by(col(MentorshipPair.created_at), col(MentorshipPair.id))
        )
    )


def issue_for_cycle(
    *,
    session: Session,
    secret: bytes,
    cycle_id: uuid.UUID,
    now: datetime,
    timezone: ZoneInfo,
    actor: str,
) -> list[IssuedLink]:
    """Links for every mentor and mentee of every pair going on; revoked links are left out."""
    issued = []
    for pair in active_pairs(session=session, cycle_id=cycle_id):
        for participant_id in pair_participants(session=session, pair=pair):
            state = _state(session=session, participant_id=participant_id, pair_id=pair.id)
            if state is not None and state.revoked_at is not None:
                continue
            issued.append(
                issue_link(
                    session=session,
                    secret=secret,
                    participant_id=participant_id,
                    pair_id=pair.id,
                    now=now,
                    timezone=timezone,
                    actor=actor,
                )
            )
    return issued


def _participant_pairs(*, session: Session, participant_id: uuid.UUID) -> list[MentorshipPair]:
    """The pairs with a page that this participant belongs to (as mentor or mentee)."""
    as_mentor = select(MentorshipPair).where(MentorshipPair.mentor_id == participant_id)
    as_mentee = (
        select(MentorshipPair)
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(PairMember.mentee_id == participant_id)
    )
    pairs = [*session.exec(as_mentor), *session.exec(as_mentee)]
    return [p for p in pairs if p.status in PAIRS_WITH_PAGES]


def revoke_links(*, session: Session, participant_id: uuid.UUID, now: datetime, actor: str) -> int:
    """Revoke the participant's links to all their pairs; returns how many were revoked. Audited."""
    revoked = 0
    for pair in _participant_pairs(session=session, participant_id=participant_id):
        state = _state(session=session, participant_id=participant_id, pair_id=pair.id)
        if state is None:
            state = ParticipantLink(participant_id=participant_id, pair_id=pair.id, issued_at=now)
        if state.revoked_at is not None:
            continue
        state.revoked_at = now
        session.add(state)
        session.flush()
        revoked += 1
        _audit(
            session=session,
            pair=pair,
            participant_id=participant_id,
            actor=actor,
            action="link.revoked",
            at=now,
            details={"pair": str(pair.id), "generation": state.generation},
        )
    return revoked


def revoke_pair_links(
    *,
    session: Session,
    pair_id: uuid.UUID,
    participant_ids: list[uuid.UUID],
    now: datetime,
    actor: str,
) -> int:
    """Revoke these participants' links to one pair only (a changed pair); how many. Audited."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise LookupError(f"пара {pair_id} не найдена")
    revoked = 0
    for participant_id in participant_ids:
        state = _state(session=session, participant_id=participant_id, pair_id=pair_id)
        if state is None:
            state = ParticipantLink(participant_id=participant_id, pair_id=pair_id, issued_at=now)
        if state.revoked_at is not None:
            continue
        state.revoked_at = now
        session.add(state)
        session.flush()
        revoked += 1
        _audit(
            session=session,
            pair=pair,
            participant_id=participant_id,
            actor=actor,
            action="link.revoked",
            at=now,
            details={"pair": str(pair_id), "generation": state.generation},
        )
    return revoked


def reissue_links(
    *,
    session: Session,
    secret: bytes,
    participant_id: uuid.UUID,
    now: datetime,
    timezone: ZoneInfo,
    actor: str,
) -> list[IssuedLink]:
    """New links for all the participant's pairs: the next generation, so every earlier link
    is refused (as superseded); a revocation is lifted. Audited."""
    issued = []
    for pair in _participant_pairs(session=session, participant_id=participant_id):
        state = _state(session=session, participant_id=participant_id, pair_id=pair.id)
        if state is None:
            state = ParticipantLink(participant_id=participant_id, pair_id=pair.id, issued_at=now)
        else:
            state.generation += 1
            state.revoked_at, state.issued_at = None, now
        session.add(state)
        session.flush()
        _audit(
            session=session,
            pair=pair,
            participant_id=participant_id,
            actor=actor,
            action="link.reissued",
            at=now,
            details={"pair": str(pair.id), "generation": state.generation},
        )
        issued.append(
            issue_link(
                session=session,
                secret=secret,
                participant_id=participant_id,
                pair_id=pair.id,
                now=now,
                timezone=timezone,
                actor=actor,
            )
        )
    return issued


@dataclass(frozen=True)
class LinkCheck:
    """The outcome of opening a link: whose page it opens, or why it was refused."""

    problem: LinkProblem | None
    participant_id: uuid.UUID | None = None
    pair_id: uuid.UUID | None = None

    @property
    def message_ru(self) -> str:
        assert self.problem is not None
        return LINK_PROBLEM_RU[self.problem].capitalize() + "."


def _problem(
    *,
    session: Session,
    secret: bytes,
    fields: TokenFields,
    purpose: str,
    now: datetime,
    timezone: ZoneInfo,
) -> tuple[LinkProblem | None, MentorshipPair | None]:
    expected = _signature(
        secret=secret,
        participant_id=fields.participant_id,
        pair_id=fields.pair_id,
        purpose=purpose,
        expires=fields.expires,
        generation=fields.generation,
    )
    if not hmac.compare_digest(expected, fields.signature):
        return LinkProblem.forged, None
    pair = session.get(MentorshipPair, fields.pair_id)
    if pair is None:
        return LinkProblem.forged, None
    if fields.participant_id not in pair_participants(session=session, pair=pair):
        # Signed by us, yet the person is not (or no longer) in this pair.
        return LinkProblem.foreign, pair
    state = _state(session=session, participant_id=fields.participant_id, pair_id=pair.id)
    if state is None or fields.generation > state.generation:
        # Signed with our secret, yet never issued.
        return LinkProblem.forged, pair
    if fields.generation < state.generation:
        return LinkProblem.superseded, pair
    if state.revoked_at is not None or pair.status not in PAIRS_WITH_PAGES:
        return LinkProblem.revoked, pair
    # The earlier of the signed expiry and today's rule (the pair's end, the policy's N): an
    # early termination or a shorter policy shortens links already sent.
    current = _expiry_for(session=session, pair=pair, timezone=timezone)
    if min(fields.expires, int(current.timestamp())) <= int(_as_utc(now).timestamp()):
        return LinkProblem.expired, pair
    return None, pair


def check_link(
    *,
    session: Session,
    secret: bytes,
    token: str,
    now: datetime,
    timezone: ZoneInfo,
    channel: str,
    purpose: str = PAIR_PAGE,
) -> LinkCheck:
    """Whose page this token opens, or why not; every use, opened or refused, is audited."""
    fields = read_token(token)
    if fields is None:
        _audit(
            session=session,
            pair=None,
            participant_id=None,
            actor="unknown",
            action="link.refused",
            at=now,
            details={"problem": LinkProblem.malformed.value, "channel": channel},
        )
        return LinkCheck(LinkProblem.malformed)
    problem, pair = _problem(
        session=session, secret=secret, fields=fields, purpose=purpose, now=now, timezone=timezone
    )
    # Who used the link is known only when we signed it; a forgery names nobody.
    signed = problem != LinkProblem.forged
    _audit(
        session=session,
        pair=pair,
        participant_id=fields.participant_id if signed else None,
        actor=f"participant:{fields.participant_id}" if signed else "unknown",
        action="link.refused" if problem else "link.opened",
        at=now,
        details={
            "pair": str(fields.pair_id),
            "generation": fields.generation,
            "purpose": purpose,
            "channel": channel,
            **({"problem": problem.value} if problem else {}),
        },
    )
    if problem is not None:
        return LinkCheck(problem, fields.participant_id, fields.pair_id)
    return LinkCheck(None, fields.participant_id, fields.pair_id)


@dataclass(frozen=True)
class PairPage:
    """What a participant sees of their pair."""

    full_name: str
    role: Role
    mentor_name: str
    mentee_names: list[str]
    form: str
    starts_on: date | None
    ends_on: date | None
    status: PairStatus
    programme: Document | None
    participant_id: uuid.UUID | None = None
    pair_id: uuid.UUID | None = None


def pair_page(*, session: Session, participant_id: uuid.UUID, pair_id: uuid.UUID) -> PairPage:
    """The participant's page of the pair: the mentor's full name, the mentees' first names
    (a child's surname is not shown to the other side), the term and the personal programme."""
    pair = session.get(MentorshipPair, pair_id)
    participant = session.get(Participant, participant_id)
    if pair is None or participant is None:
        raise LookupError(f"пара {pair_id} или участник {participant_id} не найдены")
    person = session.get(Person, participant.person_id)
    mentor = session.get(Participant, pair.mentor_id)
    mentor_person = session.get(Person, mentor.person_id) if mentor else None
    assert person is not None and mentor_person is not None
    mentees = session.exec(
        select(Participant, Person)
        .join(PairMember, col(PairMember.mentee_id) == col(Participant.id))
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(PairMember.pair_id == pair_id)
        .order_by(col(Person.first_name))
    ).all()
    programme = session.exec(
        select(PersonalProgramme)
        .where(
            PersonalProgramme.pair_id == pair_id, col(PersonalProgramme.document_id).is_not(None)
        )
        .order_by(col(PersonalProgramme.version).desc())
    ).first()
    document = (
        session.get(Document, programme.document_id)
        if programme is not None and programme.document_id is not None
        else None
    )
    return PairPage(
        full_name=person.full_name,
        role=participant.role,
        mentor_name=mentor_person.full_name,
        mentee_names=[p.first_name for _, p in mentees],
        form=pair.form.value,
        starts_on=pair.starts_on,
        ends_on=pair.ends_on,
        status=pair.status,
        programme=document,
        participant_id=participant_id,
        pair_id=pair_id,
    )
