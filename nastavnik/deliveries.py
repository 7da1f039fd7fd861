"""Failed deliveries an operator can act on: list, retry one or all, cancel (no Prefect).

Issue 10 §3. The outbox (nastavnik/mail.py) retries transient failures by itself; what it gives
up on (a 550, or 16 transient failures) is failed and waits for the operator, who can send it
again once the cause is fixed, or cancel it for good. Every action is audited (actor, action,
message id and the status it changed, never a message body).

Retrying never sends a message twice: an operator's retry only makes the message due again
(a conditional UPDATE that refuses sent, cancelled and claimed messages); the sending is the
outbox's own claim-then-send (mail.deliver_messages), which lets one sender at a time attempt a
message and skips one already sent.

The web page /operator/deliveries (nastavnik/web.py) has no sign-in yet (issue 11): it is opened
with a signed operator token (operator_token below), HMAC over a purpose word and an expiry from
the settings' secret, as approval codes and participants' links are signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from models.tables import OutboxMessage, OutboxStatus
from nastavnik import mail, repository
from nastavnik.settings import Settings

# What the operator sees: what failed for good, then what the outbox is still retrying (a pending
# message has not been tried yet: nothing to act on, though it can be cancelled by its id).
LISTED = (OutboxStatus.failed, OutboxStatus.retrying)
# Statuses the operator may act on: a sent message is done and a cancelled one stays cancelled.
_OPEN = (*LISTED, OutboxStatus.pending)

RETRY_ACTION = "delivery.retry"
CANCEL_ACTION = "delivery.cancel"


class DeliveryRefused(Exception):
    """An operator's action that cannot be done; message_ru says why, for the page or the CLI."""

    def __init__(self, message_ru: str) -> None:
        super().__init__(message_ru)
        self.message_ru = message_ru


@dataclass(frozen=True)
class DeliveryRow:
    """One failing or waiting message as the operator sees it: masked address, no body."""

    message_id: UUID
    status: OutboxStatus
    role: str
    masked_address: str
    subject: str
    attempts: int
    server_answer: str
    next_attempt_at: datetime | None
    created_at: datetime

    @property
    def status_ru(self) -> str:
        return mail.STATUS_LABELS_RU[self.status]

    @property
    def role_ru(self) -> str:
        return mail.ROLE_LABELS_RU.get(self.role, self.role or "—")


def _utc(moment: datetime) -> datetime:
    # SQLite gives times back without their offset.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_deliveries(
    *, session: Session, statuses: tuple[OutboxStatus, ...] = LISTED
) -> list[DeliveryRow]:
    """Messages that failed or are being retried: failed first, then oldest first."""
    order = {status: index for index, status in enumerate(LISTED)}
    messages = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.status).in_(list(statuses)))
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    ).all()
    rows = [
        DeliveryRow(
            message_id=message.id,
            status=message.status,
            role=message.recipient_role,
            masked_address=mail.mask_address(address=message.to_addr),
            subject=message.subject,
            attempts=message.attempts,
            server_answer=mail.mask_addresses_in(text=message.last_error),
            next_attempt_at=_utc(message.next_attempt_at) if message.next_attempt_at else None,
            created_at=_utc(message.created_at),
        )
        for message in messages
    ]
    return sorted(rows, key=lambda row: order.get(row.status, len(order)))


def find_message(*, session: Session, prefix: str) -> OutboxMessage:
    """The outbox message whose id is or starts with `prefix` (the CLI shows the first 8)."""
    text = prefix.strip().lower()
    if len(text) < 4:
        raise DeliveryRefused("укажите ID письма (хотя бы 4 первых символа)")
    try:
        message = session.get(OutboxMessage, UUID(text))
    except ValueError:
        matches = [
            message
            for message in session.exec(select(OutboxMessage)).all()
            if str(message.id).startswith(text)
        ]
        if len(matches) > 1:
            raise DeliveryRefused(f"ID «{prefix}» подходит к нескольким письмам") from None
        message = matches[0] if matches else None
    if message is None:
        raise DeliveryRefused(f"письма с ID «{prefix}» нет")
    return message


def _not_claimed(now: datetime) -> Any:
    claimed = col(OutboxMessage.claimed_until)
    return or_(claimed.is_(None), claimed <= now)


def _refusal(message: OutboxMessage | None, message_id: UUID) -> DeliveryRefused:
    if message is None:
        return DeliveryRefused(f"письма с ID «{message_id}» нет")
    if message.status == OutboxStatus.sent:
        return DeliveryRefused("письмо уже отправлено: повторять и отменять нечего")
    if message.status == OutboxStatus.cancelled:
        return DeliveryRefused("письмо отменено: его больше не отправляют")
    return DeliveryRefused("письмо отправляется прямо сейчас: попробуйте через минуту")


def _move_open_message(
    *, session: Session, message_id: UUID, now: datetime, to_status: OutboxStatus
) -> OutboxStatus:
    """Set a pending, retrying or failed message that no sender holds to ``to_status``; returns
    the status it had. One conditional UPDATE: whatever a sender did since the read, a sent,
    cancelled or claimed message is not touched (refused, saying why)."""
    message = session.get(OutboxMessage, message_id)
    before = message.status if message is not None else None
    result: CursorResult[Any] = session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(
            and_(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status).in_(list(_OPEN)),
                _not_claimed(now),
            )
        )
        .values(status=to_status, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1 or before is None:
        if message is not None:
            session.refresh(message)
        raise _refusal(message, message_id)
    return before


def request_retry(
    *, session: Session, message_id: UUID, actor: str, channel: str, now: datetime
) -> OutboxStatus:
    """Make one failing or waiting message due now (a failed one back in the queue, with the
    outbox's automatic retries); returns the status it had. The caller sends it (the outbox's
    claim decides who does) and commits. Refused for a sent, cancelled or claimed message."""
    now = _utc(now)
    before = _move_open_message(
        session=session, message_id=message_id, now=now, to_status=OutboxStatus.pending
    )
    repository.record_audit(
        session=session,
        actor=actor,
        action=RETRY_ACTION,
        entity=f"outboxmessage:{message_id}",
        details={"message_id": str(message_id), "from_status": before.value, "channel": channel},
        at=now,
    )
    session.expire_all()
    return before


def request_retry_failed(
    *, session: Session, actor: str, channel: str, now: datetime
) -> list[UUID]:
    """request_retry for every failed message (claimed ones are skipped); returns their ids."""
    failed = session.exec(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.failed)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    ).all()
    retried: list[UUID] = []
    for message_id in failed:
        try:
            request_retry(
                session=session, message_id=message_id, actor=actor, channel=channel, now=now
            )
        except DeliveryRefused:
            continue  # sent or claimed meanwhile: not ours to retry
        retried.append(message_id)
    return retried


def cancel(
    *, session: Session, message_id: UUID, actor: str, reason: str, channel: str, now: datetime
) -> OutboxStatus:
    """Cancel a failing or waiting message for good; returns the status it had. Refused for a
    sent or claimed one (a sender is attempting it); the caller commits."""
    reason = " ".join(reason.split())
    if not reason:
        raise DeliveryRefused("укажите причину отмены")
    now = _utc(now)
    before = _move_open_message(
        session=session, message_id=message_id, now=now, to_status=OutboxStatus.cancelled
    )
    repository.record_audit(
        session=session,
        actor=actor,
        action=CANCEL_ACTION,
        entity=f"outboxmessage:{message_id}",
        details={
            "message_id": str(message_id),
            "from_status": before.value,
            "reason": reason[:500],
            "channel": channel,
        },
        at=now,
    )
    session.expire_all()
    return before


async def retry_and_send(
    *,
    engine: Engine,
    settings: Settings,
    message_ids: Sequence[UUID] | None,
    actor: str,
    channel: str,
    clock: mail.Clock = mail.utc_now,
) -> tuple[list[UUID], dict[UUID, str], mail.SendSummary]:
    """Retry the given messages (None: every failed one) and make one attempt at each now.

    Returns the ids retried, the refusals by id (Russian) and what the attempt did. The retry is
    committed before sending: the outbox's claim keeps a concurrent retry pass from sending too.
    """
    refused: dict[UUID, str] = {}
    with Session(engine) as session:
        if message_ids is None:
            retried = request_retry_failed(
                session=session, actor=actor, channel=channel, now=clock()
            )
        else:
            retried = []
            for message_id in dict.fromkeys(message_ids):
                try:
                    request_retry(
                        session=session,
                        message_id=message_id,
                        actor=actor,
                        channel=channel,
                        now=clock(),
                    )
                except DeliveryRefused as refusal:
                    refused[message_id] = refusal.message_ru
                    continue
                retried.append(message_id)
        session.commit()
    summary = mail.SendSummary()
    if retried:
        summary = await mail.deliver_messages(
            engine=engine, settings=settings, message_ids=retried, clock=clock
        )
    return retried, refused, summary


# --------------------------------------------------------------------------- the operator's token

OPERATOR_PAGE = "operator-deliveries"
TOKEN_DAYS = 30
_SIGNATURE_BYTES = 16
_TOKEN = struct.Struct(f">q{_SIGNATURE_BYTES}s")  # expiry (unix seconds), signature


def _signature(secret: bytes, expires: int, page: str = OPERATOR_PAGE) -> bytes:
    payload = f"{page}:{expires}".encode()
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def page_token(*, secret: bytes, page: str, now: datetime, days: int = TOKEN_DAYS) -> str:
    """A token that opens one staff page (signed under its own word) until `days` from now."""
    expires = int((_utc(now) + timedelta(days=days)).timestamp())
    raw = _TOKEN.pack(expires, _signature(secret, expires, page))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_page_token(*, secret: bytes, page: str, token: str, now: datetime) -> bool:
    """Whether the token was signed with this secret for this page and is unexpired."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        expires, signature = _TOKEN.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        return False
    if not hmac.compare_digest(signature, _signature(secret, expires, page)):
        return False
    return _utc(now).timestamp() < expires


def operator_token(*, secret: bytes, now: datetime, days: int = TOKEN_DAYS) -> str:
    """A token that opens /operator/deliveries until `days` from now (issue 11 brings sign-in)."""
    return page_token(secret=secret, page=OPERATOR_PAGE, now=now, days=days)


def check_operator_token(*, secret: bytes, token: str, now: datetime) -> bool:
    """Whether the token was signed with this secret for the operator's page and is unexpired."""
    return check_page_token(secret=secret, page=OPERATOR_PAGE, token=token, now=now)
