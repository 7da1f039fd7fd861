"""Outbox throughput: messages per second to a local SMTP server, before and after the pool.

Each message carries a 100 KB PDF attachment (a stage's order, say), so ~140 KB go over the
wire. The server is aiosmtpd with a handler that only counts, in a process of its own so that it
does not share the sender's interpreter. Three ways of sending N queued messages, in one run:

- before: the outbox's path before this change, copied below: per message a claim, a fresh
  connection (connect, EHLO, send, QUIT) and a record, one message after another;
- one connection: ``mail.deliver_messages(connections=1)``;
- pool: ``mail.deliver_messages(connections=K)``.

Run: uv run python bench/mail.py [--messages 300] [--size-kb 100] [--pool 4] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import email.utils
import mimetypes
import multiprocessing
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.tables import Document, OutboxMessage, OutboxStatus
from nastavnik import mail, repository
from nastavnik.db import make_engine, migrate
from nastavnik.settings import Settings

# --------------------------------------------------------------------------- the server


class _CountingHandler:
    """Accepts every message and only counts it."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _serve(port: int, counter: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- the path before


IN_FLIGHT_PREFIX = "in flight until "
_POLICY = email.policy.default.clone(refold_source="none")


def _old_encode_text(value: str, name: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode()


def _old_encode_addresses(value: str) -> str:
    pairs = email.utils.getaddresses([value])
    return ", ".join(email.utils.formataddr(pair, charset="utf-8") for pair in pairs)


def _old_build_email(
    *, message: OutboxMessage, settings: Settings, attachments: list[tuple[str, bytes]]
) -> EmailMessage:
    """build_email as it was: the email package builds, aiosmtplib serialises."""
    built = EmailMessage(policy=_POLICY)
    built.set_raw("From", _old_encode_addresses(settings.mail_from))
    built.set_raw("To", _old_encode_addresses(message.to_addr))
    built.set_raw("Subject", _old_encode_text(message.subject, "Subject"))
    built["Date"] = email.utils.format_datetime(datetime.now(UTC))
    built["Message-ID"] = mail.message_id_for(
        idempotency_key=message.idempotency_key, settings=settings
    )
    built.set_content(message.body_text)
    if message.body_html:
        built.add_alternative(message.body_html, subtype="html")
    for filename, data in attachments:
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        built.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return built


def _old_envelope(built: EmailMessage) -> tuple[str, list[str]]:
    sender = email.utils.parseaddr(str(built["From"]))[1]
    recipients = [addr for _, addr in email.utils.getaddresses([str(built["To"])]) if addr]
    return sender, recipients


async def _old_send_fresh(settings: Settings, built: EmailMessage) -> None:
    sender, recipients = _old_envelope(built)
    async with mail._client(settings) as smtp:
        await smtp.send_message(built, sender=sender, recipients=recipients)


def _old_claim(engine: Engine, settings: Settings, message_id: UUID) -> tuple[OutboxMessage, bool]:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        now = datetime.now(UTC)
        if row.status not in mail._ACTIVE or row.last_error.startswith(IN_FLIGHT_PREFIX):
            return row, False
        seen = row.attempts
        marker = IN_FLIGHT_PREFIX + (now + mail._lease(settings)).isoformat()
        result = session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status).in_(list(mail._ACTIVE)),
                col(OutboxMessage.attempts) == seen,
            )
            .values(attempts=seen + 1, last_error=marker)
        )
        session.commit()
        session.refresh(row)
        return row, result.rowcount == 1


def _old_record(
    engine: Engine, message_id: UUID, attempt: int, status: OutboxStatus, error: str
) -> OutboxMessage:
    with Session(engine, expire_on_commit=False) as session:
        values: dict[str, Any] = {"status": status, "last_error": error}
        statement = update(OutboxMessage).where(col(OutboxMessage.id) == message_id)
        if status == OutboxStatus.sent:
            values["sent_at"] = datetime.now(UTC)
        else:
            statement = statement.where(col(OutboxMessage.attempts) == attempt)
        session.exec(statement.values(**values))
        session.commit()
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


async def _old_deliver_message(engine: Engine, settings: Settings, message_id: UUID) -> str:
    """deliver_message as it was, for a message that goes through at the first attempt."""
    row, claimed = _old_claim(engine, settings, message_id)
    if not claimed:
        return "skipped"
    with Session(engine) as session:
        attachments = mail.load_attachments(
            session=session, settings=settings, document_ids=row.document_ids or []
        )
    built = _old_build_email(message=row, settings=settings, attachments=attachments)
    try:
        await _old_send_fresh(settings, built)
    except Exception as exc:
        transient, error = mail.classify_error(error=exc)
        status = OutboxStatus.retrying if transient else OutboxStatus.failed
        _old_record(engine, message_id, row.attempts, status, error)
        return status.value
    _old_record(engine, message_id, row.attempts, OutboxStatus.sent, "")
    return "sent"


async def old_deliver_all(engine: Engine, settings: Settings, message_ids: list[UUID]) -> None:
    """tasks/mail.py's loop as it was: one message after another, each on its own connection."""
    for message_id in message_ids:
        await _old_deliver_message(engine, settings, message_id)


# --------------------------------------------------------------------------- the run


def _prepare(settings: Settings, engine: Engine, size_kb: int) -> UUID:
    """An organisation and one PDF document of size_kb to attach to every message."""
    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-7",
            name="МБОУ «Средняя школа № 7»",
            short_name="СШ № 7",
            director_name="Иванова Мария Петровна",
            director_email="director@school7.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school7.example",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        document = Document(
            unique_key="order-37",
            organization_id=org.id,
            cycle_id=cycle.id,
            doc_type="order",
            series="ПР",
            year=2026,
            number=37,
            doc_date=date(2026, 6, 14),
            title="Приказ № 37 о закреплении наставнических пар",
            content_hash="0" * 64,
            path="2026/order-37.pdf",
        )
        session.add(document)
        session.commit()
        path = mail._document_file(settings, document)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.7\n" + os.urandom(size_kb * 1024 - 9))
        return document.id


def _enqueue(engine: Engine, prefix: str, count: int, document_id: UUID) -> list[UUID]:
    with Session(engine) as session:
        ids = [
            mail.enqueue_message(
                session=session,
                idempotency_key=f"{prefix}:{n}",
                to_addr=f"Участник {n} <mentee{n}@school7.example>",
                subject=f"Приказ о закреплении наставнических пар — письмо {n}",
                body_text="Здравствуйте! Во вложении приказ о закреплении пар.",
                body_html="<p>Здравствуйте! Во вложении приказ о закреплении пар.</p>",
                document_ids=[document_id],
                recipient_role="mentee",
            ).id
            for n in range(count)
        ]
        session.commit()
    return ids


def _all_sent(engine: Engine, ids: list[UUID]) -> bool:
    with Session(engine) as session:
        statuses = session.exec(
            select(OutboxMessage.status).where(col(OutboxMessage.id).in_(ids))
        ).all()
    return len(statuses) == len(ids) and set(statuses) == {OutboxStatus.sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--size-kb", type=int, default=100)
    parser.add_argument("--pool", type=int, default=mail.DEFAULT_CONNECTIONS)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way; the best counts")
    args = parser.parse_args()

    port = _free_port()
    counter = multiprocessing.Value("i", 0)
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, counter, ready, stop), daemon=True)
    server.start()
    ready.wait(30)

    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        settings = Settings(
            data_dir=data / "data",
            database_url=f"sqlite:///{data / 'app.db'}",
            secret_key="bench-secret-key-0123456789abcdef",
            smtp_url=f"smtp://127.0.0.1:{port}",
        )
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        document_id = _prepare(settings, engine, args.size_kb)

        def pool(connections: int) -> Callable[[list[UUID]], Awaitable[Any]]:
            def send(ids: list[UUID]) -> Awaitable[Any]:
                return mail.deliver_messages(
                    engine=engine, settings=settings, message_ids=ids, connections=connections
                )

            return send

        ways: list[tuple[str, Callable[[list[UUID]], Awaitable[Any]]]] = [
            (
                "before (a connection per message)",
                lambda ids: old_deliver_all(engine, settings, ids),
            ),
            ("one connection", pool(1)),
            (f"pool of {args.pool} connections", pool(args.pool)),
        ]
        best: dict[str, float] = {}
        print(
            f"{args.messages} messages with a {args.size_kb} KB attachment each "
            f"to aiosmtpd on 127.0.0.1 (a counting handler, its own process)"
        )
        for run in range(args.repeat):
            for label, send in ways:
                ids = _enqueue(engine, f"{label}:{run}", args.messages, document_id)
                received = counter.value
                started, cpu = time.perf_counter(), time.process_time()
                asyncio.run(send(ids))
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                assert counter.value - received == args.messages, "the server missed messages"
                assert _all_sent(engine, ids), "a message was not recorded as sent"
                rate = args.messages / elapsed
                best[label] = max(best.get(label, 0.0), rate)
                print(
                    f"  run {run + 1}  {label:<36} {elapsed:6.2f} s  {rate:6.1f} msg/s"
                    f"  (sender's CPU {1000 * cpu / args.messages:5.1f} ms a message)"
                )
        engine.dispose()

    stop.set()
    server.join(10)
    baseline = best[ways[0][0]]
    print(
        f"best of {args.repeat} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    for label, _ in ways:
        print(f"  {label:<36} {best[label]:6.1f} msg/s  ×{best[label] / baseline:.1f}")


if __name__ == "__main__":
    main()
