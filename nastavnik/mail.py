"""Mail composition and delivery through the outbox: enqueue once, send at most once per claim.

A stage makes one attempt per message over a few reused connections and never waits: what fails
transiently gets a next attempt time (1 min, 5 min, 15 min, 1 h, 3 h, then every 6 h) and the
retry-deliveries flow, run every minute, sends what is due.
"""

from __future__ import annotations

import asyncio
import base64
import email.policy
import email.utils
import hashlib
import logging
import mimetypes
import os
import re
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from uuid import UUID, uuid4

import aiosmtplib
from jinja2 import TemplateNotFound
from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.tables import (
    Document,
    Organization,
    OutboxMessage,
    OutboxStatus,
    Participant,
    Person,
    Role,
)
from nastavnik.clock import process_clock
from nastavnik.rendering import get_jinja_env
from nastavnik.settings import Settings

logger = logging.getLogger(__name__)

_ACTIVE = (OutboxStatus.pending, OutboxStatus.retrying)
_OUTBOX_COLUMNS = tuple(OutboxMessage.__table__.columns)  # type: ignore[attr-defined]
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
    document_ids: Sequence[UUID | str] = (),
    flow_run_id: UUID | None = None,
    recipient_role: str | None = None,
) -> OutboxMessage:
    """Add a message to the outbox once; an existing row with the key is returned untouched.

    recipient_role (director, curator, mentor, mentee, …) is inferred from the address when
    not given (see infer_recipient_role).
    """
    existing = _find_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    return _add_message(
        session=session,
        idempotency_key=idempotency_key,
        to_addr=to_addr,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        document_ids=document_ids,
        flow_run_id=flow_run_id,
        recipient_role=recipient_role,
    )


def _add_message(
    *,
    session: Session,
    idempotency_key: str,
    to_addr: str,
    subject: str,
    body_text: str,
    body_html: str,
    document_ids: Sequence[UUID | str],
    flow_run_id: UUID | None,
    recipient_role: str | None,
) -> OutboxMessage:
    """A new outbox row under a key not seen before; a concurrent insert of the same key wins."""
    if recipient_role is None:
        recipient_role = infer_recipient_role(session=session, to_addr=to_addr)
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        to_addr=to_addr,
        recipient_role=recipient_role,
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
    document_ids: Sequence[UUID | str] = (),
    flow_run_id: UUID | None = None,
    recipient_role: str | None = None,
) -> OutboxMessage:
    """Render a mail template and enqueue it (rendering is skipped when the key exists)."""
    existing = _find_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    subject, body_text, body_html = render_mail(template=template, context=context)
    return _add_message(
        session=session,
        idempotency_key=idempotency_key,
        to_addr=to_addr,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        document_ids=document_ids,
        flow_run_id=flow_run_id,
        recipient_role=recipient_role,
    )


@dataclass(frozen=True)
class TemplatedMessage:
    """A templated message to add to the outbox under its key."""

    idempotency_key: str
    to_addr: str
    template: str
    context: dict[str, Any]
    recipient_role: str
    document_ids: tuple[str, ...] = ()  # attached when sent
    flow_run_id: UUID | None = None


# Rows per executemany (SQLAlchemy splits them into statements within the drivers' limits).
_ROWS_PER_INSERT = 1000


def insert_templated_many(
    *, session: Session, messages: Sequence[TemplatedMessage]
) -> dict[str, UUID]:
    """Templated messages added under keys the caller has just found unused, a few hundred rows
    per statement (INSERT … ON CONFLICT DO NOTHING, no savepoint: the tick queues thousands of
    reminders a year, and one round trip each was a third of its time); the new rows' ids by
    key (a key a concurrent insert won is left out)."""
    rows = []
    for draft in messages:
        subject, body_text, body_html = render_mail(template=draft.template, context=draft.context)
        rows.append(
            _outbox_row(
                idempotency_key=draft.idempotency_key,
                to_addr=draft.to_addr,
                recipient_role=draft.recipient_role,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                document_ids=list(draft.document_ids),
                flow_run_id=draft.flow_run_id,
            )
        )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement executed with every row: SQLAlchemy compiles it once and sends the rows a
    # batch of VALUES at a time ("insertmanyvalues"), instead of compiling a statement with a
    # few thousand bound values for each batch (half of the tick's CPU for its mail).
    statement = (
        insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(col(OutboxMessage.idempotency_key), col(OutboxMessage.id))
    )
    inserted: dict[str, UUID] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        result = session.execute(statement, rows[start : start + _ROWS_PER_INSERT])
        for key, message_id in result:
            inserted[key] = UUID(str(message_id))
    return inserted


def enqueue_templated_many(
    *, session: Session, messages: Sequence[TemplatedMessage]
) -> dict[str, UUID]:
    """Each message's outbox id by key: the row already under its key, or a new one (rendered
    and inserted with the others in one statement); a notice batch of a few hundred costs a
    few round trips instead of five each (enqueue_templated). A recipient_role of "" is
    inferred from the address (infer_recipient_roles)."""
    keys = [draft.idempotency_key for draft in messages]
    ids = _ids_by_key(session, keys)
    new = list({d.idempotency_key: d for d in messages if d.idempotency_key not in ids}.values())
    unknown = {d.to_addr for d in new if not d.recipient_role}
    roles = infer_recipient_roles(session=session, addresses=unknown) if unknown else {}
    drafts = [
        d if d.recipient_role else replace(d, recipient_role=roles.get(d.to_addr, "")) for d in new
    ]
    ids |= insert_templated_many(session=session, messages=drafts)
    lost = [d.idempotency_key for d in drafts if d.idempotency_key not in ids]
    if lost:  # a concurrent insert of the same keys won: theirs are the messages
        ids |= _ids_by_key(session, lost)
    return {key: ids[key] for key in keys}


def _ids_by_key(session: Session, keys: Sequence[str]) -> dict[str, UUID]:
    found: dict[str, UUID] = {}
    for start in range(0, len(keys), _ROWS_PER_INSERT):
        statement = select(OutboxMessage.idempotency_key, OutboxMessage.id).where(
            col(OutboxMessage.idempotency_key).in_(keys[start : start + _ROWS_PER_INSERT])
        )
        found.update(dict(session.exec(statement).all()))  # type: ignore[arg-type]
    return found


def _outbox_row(**values: Any) -> dict[str, Any]:
    """An outbox row's values: those given, and each other column's model default (building an
    OutboxMessage to read them costs ≈0.3 ms a message, a quarter of the tick's mail)."""
    row = {}
    for column in _OUTBOX_COLUMNS:
        if column.name in values:
            row[column.name] = values[column.name]
        else:
            field = OutboxMessage.model_fields[column.name]
            row[column.name] = field.get_default(call_default_factory=True)
    return row


def insert_templated(
    *,
    session: Session,
    idempotency_key: str,
    to_addr: str,
    template: str,
    context: dict[str, Any],
    recipient_role: str,
) -> UUID | None:
    """One templated message added under a key the caller has just found unused
    (insert_templated_many); its id, or None when a concurrent insert of the key won."""
    draft = TemplatedMessage(idempotency_key, to_addr, template, context, recipient_role)
    return insert_templated_many(session=session, messages=[draft]).get(idempotency_key)


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


def _encode_text(value: str, name: str) -> str:
    # One line: a CR or LF in a value would end the header (and could start another).
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


@lru_cache(maxsize=1024)
def _encode_addresses(value: str) -> str:
    # One encoded word per display name: longer than 75 characters for long names, but every
    # decoder reads it back whole.
    pairs = email.utils.getaddresses([" ".join(value.split())])
    return ", ".join(email.utils.formataddr(pair, charset="utf-8") for pair in pairs)


# A MIME part as written: its header lines and its encoded body (no trailing line break).
_Part = tuple[list[str], bytes]


def _base64(data: bytes) -> bytes:
    # 76-character lines, encoded in C: the email package's encoder and generator take ~7 ms
    # for a 100 KB attachment, which capped a batch at ~40 messages a second.
    return base64.encodebytes(data).rstrip(b"\n").replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> _Part:
    lines = text.splitlines()
    if text.isascii() and all(len(line) <= 78 for line in lines):
        body, encoding = "\r\n".join(lines).encode("ascii"), "7bit"
    else:
        body, encoding = _base64(text.encode("utf-8")), "base64"
    headers = [f'Content-Type: text/{subtype}; charset="utf-8"']
    return [*headers, f"Content-Transfer-Encoding: {encoding}"], body


def _filename_parameter(filename: str) -> str:
    """filename="…" for short ASCII names, else RFC 2231 (UTF-8, split into continuations);
    every line stays within 78 characters."""
    if filename.isascii() and len(filename) <= 40 and not set(filename) & set('"\\\r\n'):
        return f' filename="{filename}"'
    encoded = quote(filename, safe="")
    # Pieces of at most 45 characters, never splitting a %XX escape.
    pieces, start = [], 0
    while start < len(encoded):
        end = min(start + 45, len(encoded))
        percent = encoded.rfind("%", max(start, end - 2), end)
        if percent != -1 and end < len(encoded):
            end = percent
        pieces.append(encoded[start:end])
        start = end
    if len(pieces) == 1:
        return f"\r\n filename*=utf-8''{encoded}"
    pieces[0] = "utf-8''" + pieces[0]
    return "".join(f"\r\n filename*{n}*={piece};" for n, piece in enumerate(pieces)).rstrip(";")


def attachment_part(*, filename: str, data: bytes) -> _Part:
    """An attachment's MIME part: type from the file name, base64 body, its name in UTF-8."""
    mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = [
        f"Content-Type: {mime}",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: attachment;{_filename_parameter(filename)}",
    ]
    return headers, _base64(data)


def _multipart(subtype: str, parts: Sequence[_Part]) -> _Part:
    # "=_" never occurs in base64, and nobody writing a text body can guess the random part.
    boundary = f"=_{uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = b"".join(delimiter + _join(part) + b"\r\n" for part in parts)
    return [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'], (
        body + f"--{boundary}--".encode("ascii")
    )


def _join(part: _Part) -> bytes:
    headers, body = part
    # UTF-8 only for an address that is not ASCII (sent with SMTPUTF8); the rest is ASCII.
    return "\r\n".join(headers).encode("utf-8") + b"\r\n\r\n" + body


def render_email(
    *,
    message: OutboxMessage,
    settings: Settings,
    attachments: Sequence[tuple[str, bytes] | _Part],
    now: datetime | None = None,
) -> bytes:
    """The message as sent, CRLF line ends: text and HTML alternatives plus attachments with
    UTF-8 (RFC 2231) names. An attachment is (filename, data) or an attachment_part()."""
    # From, To and Subject are encoded here, because Python 3.11's folder drops the space
    # between encoded words of a long Cyrillic subject and splits display names mid-word.
    headers = [
        f"From: {_encode_addresses(settings.mail_from)}",
        f"To: {_encode_addresses(message.to_addr)}",
        f"Subject: {_encode_text(message.subject, 'Subject')}",
        # The installation's day: in a simulated year, mail is dated in simulated time.
        f"Date: {email.utils.format_datetime(now or process_clock().now())}",
        f"Message-ID: {message_id_for(idempotency_key=message.idempotency_key, settings=settings)}",
        "MIME-Version: 1.0",
    ]
    content = _text_part(message.body_text, "plain")
    if message.body_html:
        content = _multipart("alternative", [content, _text_part(message.body_html, "html")])
    if attachments:
        parts = [
            item if isinstance(item[0], list) else attachment_part(filename=item[0], data=item[1])
            for item in attachments
        ]
        content = _multipart("mixed", [content, *parts])
    return _join(([*headers, *content[0]], content[1])) + b"\r\n"


@dataclass(frozen=True)
class Outgoing:
    """A message ready for SMTP: its bytes and its envelope."""

    data: bytes
    sender: str
    recipients: list[str]

    async def send(self, smtp: aiosmtplib.SMTP) -> None:
        """Send it over a connected client (SMTPUTF8 when an address is not ASCII)."""
        addresses = [self.sender, *self.recipients]
        options = [] if all(address.isascii() for address in addresses) else ["SMTPUTF8"]
        await smtp.sendmail(self.sender, self.recipients, self.data, mail_options=options)


def outgoing_email(
    *,
    message: OutboxMessage,
    settings: Settings,
    attachments: Sequence[tuple[str, bytes] | _Part],
    now: datetime | None = None,
) -> Outgoing:
    """The message rendered for sending, with its envelope from the sender and the To line."""
    data = render_email(message=message, settings=settings, attachments=attachments, now=now)
    sender = email.utils.parseaddr(settings.mail_from)[1]
    recipients = [addr for _, addr in email.utils.getaddresses([message.to_addr]) if addr]
    return Outgoing(data, sender, recipients)


def build_email(
    *, message: OutboxMessage, settings: Settings, attachments: list[tuple[str, bytes]]
) -> EmailMessage:
    """The message render_email() sends, parsed back (to read it as a mail client would)."""
    data = render_email(message=message, settings=settings, attachments=attachments)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _document_file(settings: Settings, document: Document) -> Path:
    # Imported here: nastavnik.documents pulls in WeasyPrint (~1 s), which sending doesn't need.
    from nastavnik.documents import document_file

    return document_file(settings=settings, document=document)


def attachment_name(*, title: str) -> str:
    """The attachment's filename: the document's title, made safe for a file name, plus .pdf."""
    name = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', " ", title)
    return " ".join(name.split())[:150] + ".pdf"


# An outbox attachment that is a file under the data dir rather than a document:
# "file:<path relative to the data dir>" among a message's document_ids.
FILE_ATTACHMENT = "file:"


def load_attachments(
    *, session: Session, settings: Settings, document_ids: Iterable[str]
) -> list[tuple[str, bytes]]:
    """Read each document's file (or a "file:" entry's); a missing row or file raises (it will
    not fix itself)."""
    attachments: list[tuple[str, bytes]] = []
    for document_id in document_ids:
        if str(document_id).startswith(FILE_ATTACHMENT):
            # A file kept under the data dir (a report's signed JSON envelope), named as stored.
            path = settings.data_dir / str(document_id).removeprefix(FILE_ATTACHMENT)
            attachments.append((path.name, path.read_bytes()))
            continue
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


async def _send_fresh(settings: Settings, outgoing: Outgoing) -> None:
    """Send over a connection of its own (connect, send, QUIT)."""
    async with _client(settings) as smtp:
        await outgoing.send(smtp)


class _SharedConnection:
    """One SMTP connection reused for a batch; reconnects when the server drops it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None
        self.connections = 0
        self.connect_error: str | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        if self.connect_error is not None:
            # The server was unreachable or stalled moments ago: don't wait out a timeout per
            # message; what is left waits for the retry-deliveries flow.
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

    async def send(self, outgoing: Outgoing) -> None:
        reused = self.smtp is not None and self.smtp.is_connected
        smtp = self.smtp if reused and self.smtp is not None else await self._connect()
        try:
            try:
                await outgoing.send(smtp)
            except aiosmtplib.SMTPServerDisconnected:
                await self.close()
                if not reused:
                    raise
                # An idle connection the server already closed: one fresh try in this attempt.
                smtp = await self._connect()
                await outgoing.send(smtp)
        except aiosmtplib.SMTPResponseException as exc:
            # 421 means the server is closing the channel; other replies leave it usable (RSET).
            if exc.code == 421:
                await self.close()
            raise
        except (OSError, TimeoutError) as exc:
            await self.close()
            if isinstance(exc, TimeoutError):
                # A server that stalls would cost the stage a timeout per message: stop asking.
                self.connect_error = f"{type(exc).__name__}: {exc or 'timed out'}"
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

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC: the default clock of every delivery function."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """When a transiently failed message is tried again, and after how many attempts never."""

    # The n-th transient failure waits the n-th delay; the last delay repeats.
    backoff: tuple[timedelta, ...] = (
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
    )
    # 16 attempts span about 2.7 days, then the message is failed for the operator.
    max_attempts: int = 16

    def delay(self, *, attempts: int) -> timedelta:
        """How long a message waits after its attempts-th attempt failed transiently."""
        return self.backoff[min(max(attempts, 1), len(self.backoff)) - 1]


RETRY_POLICY = RetryPolicy()
# Connections a batch opens at most: a few overlap the server's round trips (bench/mail.py);
# real providers limit connections and rates more than that anyway.
DEFAULT_CONNECTIONS = 4


@dataclass(frozen=True)
class SendSummary:
    """What a batch did: messages sent, failed for good, left for a later retry, skipped."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0


def _lease(settings: Settings) -> timedelta:
    # Long enough for connect, EHLO, TLS, AUTH, MAIL, RCPT and DATA each taking the full timeout.
    return timedelta(seconds=max(60.0, 10 * settings.smtp_timeout_seconds))


def _utc(moment: datetime) -> datetime:
    # SQLite stores times without their offset: compare UTC with UTC only.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(include_failed: bool) -> tuple[OutboxStatus, ...]:
    return (*_ACTIVE, OutboxStatus.failed) if include_failed else _ACTIVE


def _attemptable(statuses: Sequence[OutboxStatus], now: datetime) -> Any:
    """Rows of these statuses whose next attempt is due and that nobody holds a claim on."""
    next_attempt = col(OutboxMessage.next_attempt_at)
    claimed = col(OutboxMessage.claimed_until)
    return and_(
        col(OutboxMessage.status).in_(list(statuses)),
        or_(next_attempt.is_(None), next_attempt <= now),
        or_(claimed.is_(None), claimed <= now),
    )


# Messages a sender claims together and records together: two short transactions per chunk
# instead of two per message. A crash between sending and recording leaves at most one chunk
# to be sent again once its claim expires (with the same Message-ID, so clients deduplicate).
CHUNK = 10


@dataclass(frozen=True)
class _Result:
    """An attempt's outcome, to be recorded with the rest of its chunk."""

    message_id: UUID
    attempt: int
    status: OutboxStatus
    error: str = ""
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


def _claim(
    engine: Engine,
    message_ids: Sequence[UUID],
    statuses: Sequence[OutboxStatus],
    now: datetime,
    until: datetime,
) -> list[OutboxMessage]:
    """Take the given messages that are attemptable now, until `until`; returns the rows this
    caller got (with their attempt counted), in the order given. Of concurrent callers only one
    gets a message: PostgreSQL locks the rows (skipping those another claim holds) and re-checks
    the condition, SQLite runs one writer at a time."""
    ordered = sorted(dict.fromkeys(message_ids))
    candidates = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.id).in_(ordered), _attemptable(statuses, now))
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(candidates), _attemptable(statuses, now))
            .values(attempts=col(OutboxMessage.attempts) + 1, claimed_until=until)
            .returning(col(OutboxMessage.id))
            .execution_options(synchronize_session=False)
        )
        got = set(claimed.scalars().all())
        rows = (
            session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(got))).all()
            if got
            else []
        )
        session.commit()
    by_id = {row.id: row for row in rows}
    return [by_id[message_id] for message_id in dict.fromkeys(message_ids) if message_id in by_id]


def _record(engine: Engine, results: Sequence[_Result]) -> None:
    """Store attempts' results in one short transaction, releasing their claims: one statement
    executed for all the sent messages, one for the rest (a batch of hundreds of reminders
    was as many round trips)."""
    if not results:
        return
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    recorded = update(table).values(
        status=bindparam("r_status"),
        last_error=bindparam("r_error"),
        next_attempt_at=bindparam("r_next"),
        claimed_until=None,
        sent_at=func.coalesce(bindparam("r_sent_at", type_=table.c.sent_at.type), table.c.sent_at),
    )
    sent = recorded.where(table.c.id == bindparam("r_id"))
    # A failure is only ours to record while the claim is ours (no later claimant); a message
    # the server accepted is recorded as sent whatever happened meanwhile.
    failed = recorded.where(
        table.c.id == bindparam("r_id"), table.c.attempts == bindparam("r_attempt")
    )

    def parameters(sent_ones: bool) -> list[dict[str, Any]]:
        return [
            {
                "r_id": r.message_id,
                "r_attempt": r.attempt,
                "r_status": r.status,
                "r_error": r.error,
                "r_next": r.next_attempt_at,
                "r_sent_at": r.sent_at,
            }
            for r in results
            if (r.status == OutboxStatus.sent) == sent_ones
        ]

    with Session(engine) as session:
        connection = session.connection()
        for statement, rows in ((sent, parameters(True)), (failed, parameters(False))):
            if rows:
                connection.execute(statement, rows)
        session.commit()


def _release(engine: Engine, rows: Sequence[OutboxMessage]) -> None:
    """Give back claimed messages that were not attempted, uncounting the attempt."""
    with Session(engine) as session:
        for row in rows:
            session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.attempts) == row.attempts)
                .values(attempts=row.attempts - 1, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        session.commit()


# Attachments a batch keeps encoded: a stage often sends one document to many recipients.
_CACHED_PARTS = 32


@dataclass(frozen=True)
class _Job:
    """What every attempt of one batch shares."""

    engine: Engine
    settings: Settings
    statuses: tuple[OutboxStatus, ...]
    clock: Clock
    retry: RetryPolicy
    # The messages' Date: the installation's time (simulated in a simulated year), read once a
    # batch rather than from the database for each message.
    dated: datetime | None
    parts: OrderedDict[str, _Part] = field(default_factory=OrderedDict)

    def now(self) -> datetime:
        return _utc(self.clock())

    def attachments(self, document_ids: Sequence[str]) -> list[_Part]:
        """The documents' attachment parts, read and encoded once per batch."""
        keys = [str(document_id) for document_id in document_ids]
        missing = [key for key in keys if key not in self.parts]
        found = {key: self.parts[key] for key in keys if key in self.parts}
        if missing:
            with Session(self.engine) as session:
                loaded = load_attachments(
                    session=session, settings=self.settings, document_ids=missing
                )
            for key, (filename, data) in zip(missing, loaded, strict=True):
                found[key] = self.parts[key] = attachment_part(filename=filename, data=data)
            while len(self.parts) > _CACHED_PARTS:
                self.parts.popitem(last=False)
        return [found[key] for key in keys]


async def _attempt(
    job: _Job, row: OutboxMessage, send: Callable[[Outgoing], Awaitable[None]]
) -> _Result:
    """One attempt at a claimed message: build and send it; the caller records the result."""
    attempt = row.attempts
    try:
        attachments = job.attachments(row.document_ids or [])
        outgoing = outgoing_email(
            message=row, settings=job.settings, attachments=attachments, now=job.dated
        )
    except Exception as exc:
        logger.exception("outbox %s cannot be composed", row.id)
        error = f"cannot compose: {type(exc).__name__}: {exc}"
        return _Result(row.id, attempt, OutboxStatus.failed, error)
    try:
        await send(outgoing)
    except Exception as exc:
        transient, error = classify_error(error=exc)
        # A failed message the operator sends again gets this one attempt, no automatic retries.
        retry = transient and row.status != OutboxStatus.failed
        if retry and attempt >= job.retry.max_attempts:
            retry, error = False, f"gave up after {attempt} attempts: {error}"
        status = OutboxStatus.retrying if retry else OutboxStatus.failed
        next_attempt = job.now() + job.retry.delay(attempts=attempt) if retry else None
        logger.warning(
            "outbox %s attempt %d to %s: %s (%s%s)",
            row.id,
            attempt,
            mask_address(address=row.to_addr),
            error,
            status.value,
            f", next at {next_attempt:%Y-%m-%d %H:%M:%S} UTC" if next_attempt else "",
        )
        return _Result(row.id, attempt, status, error, next_attempt)
    logger.info(
        "outbox %s sent to %s (attempt %d)", row.id, mask_address(address=row.to_addr), attempt
    )
    return _Result(row.id, attempt, OutboxStatus.sent, sent_at=job.now())


async def _deliver(job: _Job, message_ids: Sequence[UUID], connections: int) -> SendSummary:
    """One attempt per message over up to `connections` connections, each reused for many."""
    queue = deque(dict.fromkeys(message_ids))
    results: list[_Result] = []
    skipped = 0
    lease = _lease(job.settings)

    async def worker() -> None:
        nonlocal skipped
        connection = _SharedConnection(job.settings)
        try:
            while queue:
                chunk = [queue.popleft() for _ in range(min(CHUNK, len(queue)))]
                now = job.now()
                # A message's lease for each, and one to spare.
                until = now + lease * (len(chunk) + 1)
                # The database calls run in threads, so the other connections keep sending.
                rows = await asyncio.to_thread(_claim, job.engine, chunk, job.statuses, now, until)
                skipped += len(chunk) - len(rows)
                done: list[_Result] = []
                try:
                    for index, row in enumerate(rows):
                        if job.now() + lease > until:
                            # Stalled past the claim: what is left may be someone else's now.
                            await asyncio.to_thread(_release, job.engine, rows[index:])
                            skipped += len(rows) - index
                            break
                        done.append(await _attempt(job, row, connection.send))
                finally:
                    await asyncio.to_thread(_record, job.engine, done)
                    results.extend(done)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(connections, len(queue))))))
    statuses = [result.status for result in results]
    return SendSummary(
        sent=statuses.count(OutboxStatus.sent),
        failed=statuses.count(OutboxStatus.failed),
        retrying=statuses.count(OutboxStatus.retrying),
        skipped=skipped,
    )


async def deliver_messages(
    *,
    engine: Engine,
    settings: Settings,
    message_ids: Sequence[UUID],
    connections: int = DEFAULT_CONNECTIONS,
    include_failed: bool = False,
    clock: Clock = utc_now,
    retry: RetryPolicy = RETRY_POLICY,
) -> SendSummary:
    """One attempt for each given message that is due, over a few reused connections, never
    waiting: a transient failure gets its next attempt time for the retry-deliveries flow,
    a permanent one fails at once with the server's answer; sent messages are skipped."""
    dated = process_clock().now() if message_ids else None
    job = _Job(engine, settings, _statuses(include_failed), clock, retry, dated)
    summary = await _deliver(job, message_ids, connections)
    logger.info("outbox batch of %d: %s", len(message_ids), summary)
    return summary


async def deliver_message(
    *,
    engine: Engine,
    settings: Settings,
    message_id: UUID,
    include_failed: bool = False,
    clock: Clock = utc_now,
    retry: RetryPolicy = RETRY_POLICY,
) -> OutboxMessage:
    """One attempt to send one outbox message (none if it is sent, claimed or not yet due)."""
    await deliver_messages(
        engine=engine,
        settings=settings,
        message_ids=[message_id],
        connections=1,
        include_failed=include_failed,
        clock=clock,
        retry=retry,
    )
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise LookupError(f"outbox message {message_id} not found")
        return row


def due_messages(
    *,
    session: Session,
    now: datetime,
    include_failed: bool = False,
    limit: int | None = None,
) -> list[UUID]:
    """Ids of the messages a retry pass at `now` would attempt, oldest first."""
    statement = (
        select(OutboxMessage.id)
        .where(_attemptable(_statuses(include_failed), _utc(now)))
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.exec(statement).all())


def next_attempt_time(*, session: Session) -> datetime | None:
    """When the earliest retrying message is due (None when nothing is retrying)."""
    statement = select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.status == OutboxStatus.retrying
    )
    moment = session.exec(statement).one()
    return _utc(moment) if moment is not None else None


async def send_pending(
    *,
    engine: Engine,
    settings: Settings,
    include_failed: bool = False,
    limit: int | None = None,
    connections: int = DEFAULT_CONNECTIONS,
    clock: Clock = utc_now,
    retry: RetryPolicy = RETRY_POLICY,
) -> SendSummary:
    """The retry pass: one attempt for every pending message and every retrying one whose next
    attempt is due (and failed ones, once, if the operator asks), without waiting."""
    with Session(engine) as session:
        message_ids = due_messages(
            session=session, now=clock(), include_failed=include_failed, limit=limit
        )
    if not message_ids:
        return SendSummary()
    return await deliver_messages(
        engine=engine,
        settings=settings,
        message_ids=message_ids,
        connections=connections,
        include_failed=include_failed,
        clock=clock,
        retry=retry,
    )


# --------------------------------------------------------------------------- reporting

ROLE_LABELS_RU = {
    "director": "директор",
    "curator": "куратор",
    "mentor": "наставник",
    "mentee": "наставляемый",
}
STATUS_LABELS_RU = {
    OutboxStatus.pending: "в очереди",
    OutboxStatus.retrying: "ждёт повторной отправки",
    OutboxStatus.sent: "отправлено",
    OutboxStatus.failed: "не доставлено",
    OutboxStatus.cancelled: "отменено оператором",
}
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def mask_address(*, address: str) -> str:
    """An address masked for reports: director@school7.ru → d*****r@school7.ru.

    The display name is dropped; the stars do not reveal the local part's length.
    """
    addr = email.utils.parseaddr(address)[1] or address.strip()
    if not addr:
        return ""
    local, at, domain = addr.rpartition("@")
    if not at:
        local, domain = addr, ""
    if len(local) <= 2:
        masked = local[:1] + "*****"
    else:
        masked = local[0] + "*****" + local[-1]
    return f"{masked}@{domain}" if at else masked


def mask_addresses_in(*, text: str) -> str:
    """The text with every e-mail address in it masked (server answers quote the recipient)."""
    return _ADDRESS.sub(lambda match: mask_address(address=match.group(0)), text)


def infer_recipient_role(*, session: Session, to_addr: str) -> str:
    """The recipient's role from the address: an organisation's director or curator, else a
    participant's role (mentor before mentee); "" when the address is nobody's we know."""
    return infer_recipient_roles(session=session, addresses=[to_addr]).get(to_addr, "")


def infer_recipient_roles(*, session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """infer_recipient_role for several addresses at once (three queries in all)."""
    by_address: dict[str, list[str]] = {}
    for to_addr in addresses:
        address = email.utils.parseaddr(to_addr)[1].strip().lower()
        if address:
            by_address.setdefault(address, []).append(to_addr)
    found: dict[str, str] = {}
    for role, column in (
        ("curator", Organization.curator_email),
        ("director", Organization.director_email),  # a director's address before a curator's
    ):
        for value in session.exec(
            select(column).where(func.lower(col(column)).in_(list(by_address)))
        ).all():
            found[str(value).strip().lower()] = role
    participants = session.exec(
        select(func.lower(col(Person.email)), Participant.role)
        .join(Person, col(Participant.person_id) == col(Person.id))
        .where(func.lower(col(Person.email)).in_([a for a in by_address if a not in found]))
    ).all()
    for address, participant_role in sorted(participants, key=lambda row: row[1] != Role.mentor):
        found.setdefault(address, Role(participant_role).value)
    return {
        to_addr: found.get(address, "") for address, raws in by_address.items() for to_addr in raws
    }
    for role, column in (
        ("director", Organization.director_email),
        ("curator", Organization.curator_email),
    ):
        found = session.exec(
            select(Organization.id).where(func.lower(col(column)) == address).limit(1)
        ).first()
        if found is not None:
            return role
    roles = set(
        session.exec(
            select(Participant.role)
            .join(Person, col(Participant.person_id) == col(Person.id))
            .where(func.lower(col(Person.email)) == address)
        ).all()
    )
    for participant_role in (Role.mentor, Role.mentee):
        if participant_role in roles:
            return participant_role.value
    return ""


@dataclass(frozen=True)
class MailReportRow:
    """One e-mail of a stage as its run reports it: no full address, no display name."""

    message_id: UUID
    role: str
    masked_address: str
    subject: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    server_answer: str

    def as_table_row(self) -> dict[str, str]:
        """The row of the stage's mail table artifact, with Russian column names."""
        status = STATUS_LABELS_RU[self.status]
        if self.status == OutboxStatus.retrying and self.next_attempt_at is not None:
            status += f" (попытка {self.attempts + 1} в {self.next_attempt_at:%d.%m %H:%M} UTC)"
        return {
            "Кому": ROLE_LABELS_RU.get(self.role, self.role or "—"),
            "Адрес": self.masked_address,
            "Тема": self.subject,
            "Статус": status,
            "Ответ сервера": self.server_answer,
            "ID письма": str(self.message_id),
        }


def mail_report(*, session: Session, message_ids: Sequence[UUID]) -> list[MailReportRow]:
    """Rows for a stage's mail table: role, masked address, subject, status, server answer, id;
    in the order given, unknown ids left out."""
    rows: list[MailReportRow] = []
    for message_id in dict.fromkeys(message_ids):
        message = session.get(OutboxMessage, message_id)
        if message is None:
            continue
        role = message.recipient_role or infer_recipient_role(
            session=session, to_addr=message.to_addr
        )
        rows.append(
            MailReportRow(
                message_id=message.id,
                role=role,
                masked_address=mask_address(address=message.to_addr),
                subject=message.subject,
                status=message.status,
                attempts=message.attempts,
                next_attempt_at=_utc(message.next_attempt_at) if message.next_attempt_at else None,
                server_answer=mask_addresses_in(text=message.last_error),
            )
        )
    return rows


def run_message_ids(*, session: Session, flow_run_id: UUID) -> list[UUID]:
    """The outbox messages a stage run queued, oldest first."""
    return list(
        session.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.flow_run_id == flow_run_id)
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        )
    )


def release_claims_of_ended_run(
    *, engine: Engine, settings: Settings, flow_run_id: UUID, ended_at: datetime
) -> int:
    """Free the claims a run's process still held when it died (a crash leaves them taken).

    Only claims taken before the run ended are released: a later one belongs to a live sender
    (the retry flow, say). Returns how many messages can be sent again.
    """
    with Session(engine) as session:
        result = session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.flow_run_id) == flow_run_id,
                col(OutboxMessage.status).in_(list(_ACTIVE)),
                col(OutboxMessage.claimed_until).is_not(None),
                # A claim lasts a lease per message of its chunk, one more for good measure.
                col(OutboxMessage.claimed_until) <= _utc(ended_at) + _lease(settings) * (CHUNK + 1),
            )
            .values(claimed_until=None)
        )
        session.commit()
        return int(result.rowcount)
