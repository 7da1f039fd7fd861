"""Mail composition and delivery through the outbox: enqueue once, send at most once per claim."""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import hashlib
import logging
import mimetypes
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib
from jinja2 import TemplateNotFound
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.tables import Document, OutboxMessage, OutboxStatus
from nastavnik.rendering import get_jinja_env
from nastavnik.settings import Settings

logger = logging.getLogger(__name__)

# A claimed message carries this marker in last_error while it is being sent, so a concurrent
# sender (a flow's task and the "retry deliveries" flow, say) skips it instead of sending twice.
# The status enum has no "sending" value and the schema is shared, hence the marker.
IN_FLIGHT_PREFIX = "in flight until "

_ACTIVE = (OutboxStatus.pending, OutboxStatus.retrying)
_SCHEMES = {
    "smtp": (25, False, False),
    "smtps": (465, True, False),
    "smtp+starttls": (587, False, True),
}


# --------------------------------------------------------------------------- enqueueing


def _find_by_key(session: Session, idempotency_key: str) -> OutboxMessage | None:
    statement = select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    return session.exec(statement).first()


def enqueue_message(
    *,
    session: Session,
    idempotency_key: str,
    to_addr: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    document_ids: Sequence[UUID] = (),
    flow_run_id: UUID | None = None,
) -> OutboxMessage:
    """Add a message to the outbox once; an existing row with the key is returned untouched."""
    existing = _find_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        to_addr=to_addr,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        document_ids=[str(document_id) for document_id in document_ids],
        flow_run_id=flow_run_id,
    )
    try:
        # A savepoint, so losing a race to a concurrent insert keeps the caller's transaction.
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = _find_by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    return message


def render_mail(*, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Render (subject, text, html) from templates/mail/<template>.{subject.txt,txt,html}."""
    env = get_jinja_env()
    subject = env.get_template(f"mail/{template}.subject.txt").render(context)
    # A header is one line: newlines from the template's layout would break it.
    subject = " ".join(subject.split())
    body_text = env.get_template(f"mail/{template}.txt").render(context)
    try:
        body_html = env.get_template(f"mail/{template}.html").render(context)
    except TemplateNotFound:
        body_html = ""
    return subject, body_text, body_html


def enqueue_templated(
    *,
    session: Session,
    idempotency_key: str,
    to_addr: str,
    template: str,
    context: dict[str, Any],
    document_ids: Sequence[UUID] = (),
    flow_run_id: UUID | None = None,
) -> OutboxMessage:
    """Render a mail template and enqueue it (rendering is skipped when the key exists)."""
    existing = _find_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    subject, body_text, body_html = render_mail(template=template, context=context)
    return enqueue_message(
        session=session,
        idempotency_key=idempotency_key,
        to_addr=to_addr,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        document_ids=document_ids,
        flow_run_id=flow_run_id,
    )


def list_outbox(*, session: Session, status: OutboxStatus | None = None) -> list[OutboxMessage]:
    """Outbox messages, oldest first, optionally of one status."""
    statement = select(OutboxMessage).order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    if status is not None:
        statement = statement.where(OutboxMessage.status == status)
    return list(session.exec(statement).all())


# --------------------------------------------------------------------------- composing


def message_id_for(*, idempotency_key: str, settings: Settings) -> str:
    """The Message-ID of a logical message: the same on every resend, so clients deduplicate."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    address = email.utils.parseaddr(settings.mail_from)[1]
    domain = address.rpartition("@")[2] or "nastavnik.local"
    return f"<{digest}@{domain}>"


# Headers stored with set_raw are written as given; the others are folded as usual.
_POLICY = email.policy.default.clone(refold_source="none")


def _encode_text(value: str, name: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode()


def _encode_addresses(value: str) -> str:
    # One encoded word per display name: longer than 75 characters for long names, but every
    # decoder reads it back whole.
    pairs = email.utils.getaddresses([value])
    return ", ".join(email.utils.formataddr(pair, charset="utf-8") for pair in pairs)


def build_email(
    *, message: OutboxMessage, settings: Settings, attachments: list[tuple[str, bytes]]
) -> EmailMessage:
    """A MIME message: text and HTML alternatives plus attachments with UTF-8 (RFC 2231) names."""
    mail = EmailMessage(policy=_POLICY)
    # Pre-encoded, because Python 3.11's folder drops the space between encoded words of a long
    # Cyrillic subject ("утверждение:Приказ") and splits display names mid-word.
    mail.set_raw("From", _encode_addresses(settings.mail_from))
    mail.set_raw("To", _encode_addresses(message.to_addr))
    mail.set_raw("Subject", _encode_text(message.subject, "Subject"))
    mail["Date"] = email.utils.format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id_for(idempotency_key=message.idempotency_key, settings=settings)
    mail.set_content(message.body_text)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    for filename, data in attachments:
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail


def _document_file(settings: Settings, document: Document) -> Path:
    # Imported here: nastavnik.documents pulls in WeasyPrint (~1 s), which sending doesn't need.
    from nastavnik.documents import document_file

    return document_file(settings=settings, document=document)


def attachment_name(*, title: str) -> str:
    """The attachment's filename: the document's title, made safe for a file name, plus .pdf."""
    name = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', " ", title)
    return " ".join(name.split())[:150] + ".pdf"


def load_attachments(
    *, session: Session, settings: Settings, document_ids: Iterable[str]
) -> list[tuple[str, bytes]]:
    """Read each document's file; a missing row or file raises (it will not fix itself)."""
    attachments: list[tuple[str, bytes]] = []
    for document_id in document_ids:
        document = session.get(Document, UUID(str(document_id)))
        if document is None:
            raise LookupError(f"document {document_id} not found")
        path = _document_file(settings, document)
        attachments.append((attachment_name(title=document.title), path.read_bytes()))
    return attachments


# --------------------------------------------------------------------------- SMTP plumbing


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, parsed from the settings' smtp_url."""

    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False


def parse_smtp_url(*, url: str) -> SmtpTarget:
    """Parse smtp://, smtps:// (implicit TLS) or smtp+starttls:// with optional user:password."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"unsupported SMTP URL scheme {parts.scheme!r} (smtp, smtps, smtp+starttls)"
        )
    if not parts.hostname:
        raise ValueError("the SMTP URL has no host")
    default_port, use_tls, start_tls = _SCHEMES[scheme]
    return SmtpTarget(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def _client(settings: Settings) -> aiosmtplib.SMTP:
    target = parse_smtp_url(url=settings.smtp_url)
    return aiosmtplib.SMTP(
        hostname=target.hostname,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        # False, not None: None would upgrade opportunistically, which smtp:// does not ask for.
        start_tls=target.start_tls,
        timeout=settings.smtp_timeout_seconds,
    )


def _envelope(mail: EmailMessage) -> tuple[str, list[str]]:
    sender = email.utils.parseaddr(str(mail["From"]))[1]
    recipients = [addr for _, addr in email.utils.getaddresses([str(mail["To"])]) if addr]
    return sender, recipients


async def _send_fresh(settings: Settings, mail: EmailMessage) -> None:
    """Send over a connection of its own (connect, send, QUIT)."""
    sender, recipients = _envelope(mail)
    async with _client(settings) as smtp:
        await smtp.send_message(mail, sender=sender, recipients=recipients)


class _SharedConnection:
    """One SMTP connection reused for a batch; reconnects when the server drops it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None
        self.connections = 0
        self.connect_error: str | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        if self.connect_error is not None:
            # The server was unreachable moments ago: don't wait out a timeout per message.
            raise aiosmtplib.SMTPConnectError(f"not retried in this batch: {self.connect_error}")
        smtp = _client(self.settings)
        try:
            await smtp.connect()
        except (OSError, TimeoutError) as exc:
            self.connect_error = f"{type(exc).__name__}: {exc}"
            raise
        self.smtp = smtp
        self.connections += 1
        return smtp

    async def send(self, mail: EmailMessage) -> None:
        sender, recipients = _envelope(mail)
        reused = self.smtp is not None and self.smtp.is_connected
        smtp = self.smtp if reused and self.smtp is not None else await self._connect()
        try:
            await smtp.send_message(mail, sender=sender, recipients=recipients)
        except aiosmtplib.SMTPServerDisconnected:
            await self.close()
            if not reused:
                raise
            # An idle connection the server already closed: one fresh try within this attempt.
            smtp = await self._connect()
            await smtp.send_message(mail, sender=sender, recipients=recipients)
        except aiosmtplib.SMTPResponseException as exc:
            # 421 means the server is closing the channel; other replies leave it usable (RSET).
            if exc.code == 421:
                await self.close()
            raise
        except (OSError, TimeoutError):
            await self.close()
            raise

    async def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()


def classify_error(*, error: BaseException) -> tuple[bool, str]:
    """(transient, description): 4xx replies and network trouble are transient, the rest not."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        text = "; ".join(
            f"{refused.code} {refused.message} ({refused.recipient})"
            for refused in error.recipients
        )
        return any(400 <= code < 500 for code in codes), text
    if isinstance(error, aiosmtplib.SMTPResponseException):
        # Checked before OSError: a refused greeting is also a ConnectionError, but has a code.
        return 400 <= error.code < 500, f"{error.code} {error.message}"
    if isinstance(error, OSError | TimeoutError):
        return True, _describe_network_error(error)
    return False, f"{type(error).__name__}: {error}"


def _describe_network_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    # asyncio words a refused connection "Connect call failed"; name the errno for the operator.
    for cause in (error, error.__cause__):
        errno = getattr(cause, "errno", None)
        if isinstance(cause, OSError) and errno:
            reason = os.strerror(errno)
            if reason.lower() not in text.lower():
                text += f" ({reason})"
            break
    return text


# --------------------------------------------------------------------------- delivering


@dataclass(frozen=True)
class _Outcome:
    kind: str  # sent, transient, permanent, skipped
    message: OutboxMessage


@dataclass(frozen=True)
class SendSummary:
    """What a batch run did: messages sent, failed for good, left for a later retry, skipped."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0


def _lease(settings: Settings) -> timedelta:
    # Long enough for connect, EHLO, TLS, AUTH, MAIL, RCPT and DATA each taking the full timeout.
    return timedelta(seconds=max(60.0, 10 * settings.smtp_timeout_seconds))


def _in_flight(last_error: str, now: datetime) -> bool:
    if not last_error.startswith(IN_FLIGHT_PREFIX):
        return False
    try:
        until = datetime.fromisoformat(last_error.removeprefix(IN_FLIGHT_PREFIX))
    except ValueError:
        return False
    return until > now


def _claim(
    engine: Engine, settings: Settings, message_id: UUID, statuses: Sequence[OutboxStatus]
) -> tuple[OutboxMessage, bool]:
    """Take the message for one attempt; (row, True) only for the one caller that got it."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise LookupError(f"outbox message {message_id} not found")
        now = datetime.now(UTC)
        if row.status not in statuses or _in_flight(row.last_error, now):
            return row, False
        seen = row.attempts
        marker = IN_FLIGHT_PREFIX + (now + _lease(settings)).isoformat()
        # Optimistic claim: of concurrent callers that read the same row, only one matches.
        result = session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status).in_(list(statuses)),
                col(OutboxMessage.attempts) == seen,
            )
            .values(attempts=seen + 1, last_error=marker)
        )
        session.commit()
        session.refresh(row)
        return row, result.rowcount == 1


def _record(
    engine: Engine, message_id: UUID, attempt: int, status: OutboxStatus, error: str
) -> OutboxMessage:
    """Store an attempt's result in a short transaction of its own."""
    with Session(engine, expire_on_commit=False) as session:
        values: dict[str, Any] = {"status": status, "last_error": error}
        statement = update(OutboxMessage).where(col(OutboxMessage.id) == message_id)
        if status == OutboxStatus.sent:
            values["sent_at"] = datetime.now(UTC)
        else:
            # A failure is only ours to record while the claim is ours (no later claimant).
            statement = statement.where(col(OutboxMessage.attempts) == attempt)
        session.exec(statement.values(**values))
        session.commit()
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


async def _attempt(
    engine: Engine,
    settings: Settings,
    message_id: UUID,
    statuses: Sequence[OutboxStatus],
    send: Callable[[EmailMessage], Awaitable[None]],
) -> _Outcome:
    """One claimed attempt: build, send, record; the network I/O runs outside any transaction."""
    row, claimed = _claim(engine, settings, message_id, statuses)
    if not claimed:
        logger.info("outbox %s not sent now: status %s, %s", message_id, row.status, row.last_error)
        return _Outcome("skipped", row)
    try:
        with Session(engine) as session:
            attachments = load_attachments(
                session=session, settings=settings, document_ids=row.document_ids or []
            )
        mail = build_email(message=row, settings=settings, attachments=attachments)
    except Exception as exc:
        logger.exception("outbox %s cannot be composed", message_id)
        error = f"cannot compose: {type(exc).__name__}: {exc}"
        return _Outcome(
            "permanent", _record(engine, message_id, row.attempts, OutboxStatus.failed, error)
        )
    try:
        await send(mail)
    except Exception as exc:
        transient, error = classify_error(error=exc)
        status = OutboxStatus.retrying if transient else OutboxStatus.failed
        logger.warning(
            "outbox %s attempt %d to %s: %s (%s)",
            message_id,
            row.attempts,
            row.to_addr,
            error,
            status.value,
        )
        kind = "transient" if transient else "permanent"
        return _Outcome(kind, _record(engine, message_id, row.attempts, status, error))
    logger.info("outbox %s sent to %s (attempt %d)", message_id, row.to_addr, row.attempts)
    return _Outcome("sent", _record(engine, message_id, row.attempts, OutboxStatus.sent, ""))


def _statuses(include_failed: bool) -> tuple[OutboxStatus, ...]:
    return (*_ACTIVE, OutboxStatus.failed) if include_failed else _ACTIVE


async def deliver_message(
    *,
    engine: Engine,
    settings: Settings,
    message_id: UUID,
    retry_delays: Sequence[float] = (1, 5, 30),
    include_failed: bool = False,
) -> OutboxMessage:
    """Send one outbox message unless already sent, retrying transient failures after delays."""

    async def send(mail: EmailMessage) -> None:
        await _send_fresh(settings, mail)

    outcome = await _attempt(engine, settings, message_id, _statuses(include_failed), send)
    for delay in retry_delays:
        if outcome.kind != "transient":
            break
        await asyncio.sleep(delay)
        # After the first attempt the message is retrying, which the active statuses cover.
        outcome = await _attempt(engine, settings, message_id, _ACTIVE, send)
    return outcome.message


async def _send_round(
    engine: Engine,
    settings: Settings,
    message_ids: Sequence[UUID],
    statuses: Sequence[OutboxStatus],
    outcomes: dict[UUID, str],
) -> int:
    """Send a batch over one reused connection; returns how many connections were opened."""
    connection = _SharedConnection(settings)
    try:
        for message_id in message_ids:
            outcome = await _attempt(engine, settings, message_id, statuses, connection.send)
            outcomes[message_id] = outcome.kind
    finally:
        await connection.close()
    return connection.connections


async def send_pending(
    *,
    engine: Engine,
    settings: Settings,
    retry_delays: Sequence[float] = (1, 5, 30),
    include_failed: bool = False,
    limit: int | None = None,
) -> SendSummary:
    """Send every pending and retrying message (and failed ones if asked) in connection-reusing
    rounds: transient failures of a round are retried together after each delay."""
    statuses = _statuses(include_failed)
    with Session(engine) as session:
        statement = (
            select(OutboxMessage.id)
            .where(col(OutboxMessage.status).in_(list(statuses)))
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        )
        if limit is not None:
            statement = statement.limit(limit)
        message_ids = list(session.exec(statement).all())
    outcomes: dict[UUID, str] = {}
    await _send_round(engine, settings, message_ids, statuses, outcomes)
    for delay in retry_delays:
        again = [message_id for message_id, kind in outcomes.items() if kind == "transient"]
        if not again:
            break
        await asyncio.sleep(delay)
        await _send_round(engine, settings, again, _ACTIVE, outcomes)
    kinds = list(outcomes.values())
    summary = SendSummary(
        sent=kinds.count("sent"),
        failed=kinds.count("permanent"),
        retrying=kinds.count("transient"),
        skipped=kinds.count("skipped"),
    )
    logger.info("outbox batch: %s", summary)
    return summary
