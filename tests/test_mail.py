"""Outbox and SMTP delivery against real aiosmtpd servers on 127.0.0.1 (no Prefect)."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.tables import Document, OutboxMessage, OutboxStatus
from nastavnik import mail
from nastavnik.settings import Settings
from nastavnik.smtp_sink import MailSink

FAST = (0.01, 0.01, 0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ScriptedHandler:
    """An aiosmtpd handler replying from scripts, counting connections, RCPTs and DATAs."""

    def __init__(
        self,
        *,
        rcpt_replies: list[str] | None = None,
        data_replies: list[str] | None = None,
        refuse: str = "",
    ) -> None:
        self.rcpt_replies = list(rcpt_replies or [])
        self.data_replies = list(data_replies or [])
        self.refuse = refuse  # recipients containing this get 550
        self.ehlos = 0
        self.rcpt_calls = 0
        self.data_calls = 0
        self.received: list[bytes] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_calls += 1
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        if self.refuse and self.refuse in address:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def server() -> Iterator[tuple[ScriptedHandler, str]]:
    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def with_url(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"smtp_url": url, "smtp_timeout_seconds": 3.0})


def enqueue(engine: Engine, key: str = "k-1", to_addr: str = "director@school7.example") -> UUID:
    with Session(engine) as session:
        row = mail.enqueue_message(
            session=session,
            idempotency_key=key,
            to_addr=to_addr,
            subject="Требуется утверждение: приказ № 37",
            body_text="Здравствуйте!",
            body_html="<p>Здравствуйте!</p>",
        )
        session.commit()
        return row.id


def load(engine: Engine, message_id: UUID) -> OutboxMessage:
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def approval_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "organization": {"name": "МБОУ «Средняя школа № 7»", "short_name": "СШ № 7"},
        "cycle": {"school_year": "2026/2027"},
        "request_title": "Приказ о закреплении наставнических пар",
        "summary": "12 пар, 2 группы.",
        "documents": [{"title": "Приказ", "label": "№ ПР-37", "url": "http://x/d/1"}],
        "approve_url": "http://127.0.0.1:8470/approve/abc?x=1&y=2",
        "code": "ABCD-1234",
        "expires_at": datetime(2026, 12, 8, tzinfo=UTC),
        "approver_name": "Иванова Мария Петровна",
    }
    context.update(overrides)
    return context


# --------------------------------------------------------------------------- delivery


def test_transient_4xx_retried_until_delivered(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.data_replies = ["451 4.3.0 Try again later"] * 2
    message_id = enqueue(engine)

    row = asyncio.run(
        mail.deliver_message(
            engine=engine,
            settings=with_url(settings, url),
            message_id=message_id,
            retry_delays=FAST,
        )
    )

    assert row.status == OutboxStatus.sent
    assert row.attempts == 3
    assert row.sent_at is not None
    assert row.last_error == ""
    assert len(handler.received) == 1
    assert handler.data_calls == 3


def test_permanent_5xx_fails_without_retry(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.rcpt_replies = ["550 5.1.1 No such user"]
    message_id = enqueue(engine)

    row = asyncio.run(
        mail.deliver_message(
            engine=engine,
            settings=with_url(settings, url),
            message_id=message_id,
            retry_delays=FAST,
        )
    )

    assert row.status == OutboxStatus.failed
    assert row.attempts == 1
    assert "550" in row.last_error and "No such user" in row.last_error
    assert handler.rcpt_calls == 1
    assert handler.data_calls == 0
    assert handler.received == []


def test_data_554_is_permanent(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.data_replies = ["554 5.7.1 Message rejected as spam"]
    message_id = enqueue(engine)
    row = asyncio.run(
        mail.deliver_message(
            engine=engine,
            settings=with_url(settings, url),
            message_id=message_id,
            retry_delays=FAST,
        )
    )
    assert row.status == OutboxStatus.failed
    assert row.last_error.startswith("554")
    assert handler.data_calls == 1


def test_refused_connection_stays_retrying_then_send_pending_delivers(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    configured = with_url(settings, f"smtp://127.0.0.1:{port}")
    message_id = enqueue(engine)

    row = asyncio.run(
        mail.deliver_message(
            engine=engine, settings=configured, message_id=message_id, retry_delays=(0.01,)
        )
    )
    assert row.status == OutboxStatus.retrying
    assert row.attempts == 2
    assert "refused" in row.last_error.lower()

    with MailSink(directory=tmp_path / "sink", port=port) as sink:
        summary = asyncio.run(
            mail.send_pending(engine=engine, settings=configured, retry_delays=FAST)
        )
        assert len(sink.messages) == 1
    assert summary == mail.SendSummary(sent=1)
    row = load(engine, message_id)
    assert row.status == OutboxStatus.sent
    assert row.attempts == 3


# --------------------------------------------------------------------------- idempotency


def test_enqueue_and_deliver_are_idempotent(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    first = enqueue(engine, key="approval:run-1:director")
    with Session(engine) as session:
        again = mail.enqueue_message(
            session=session,
            idempotency_key="approval:run-1:director",
            to_addr="x@example.org",
            subject="другая тема",
            body_text="другой текст",
        )
        session.commit()
        assert again.id == first
        assert again.subject == "Требуется утверждение: приказ № 37"
        assert len(session.exec(select(OutboxMessage)).all()) == 1

    with MailSink(directory=tmp_path / "sink") as sink:
        configured = with_url(settings, sink.url)
        for _ in range(2):
            row = asyncio.run(
                mail.deliver_message(engine=engine, settings=configured, message_id=first)
            )
            assert row.status == OutboxStatus.sent
        assert asyncio.run(mail.send_pending(engine=engine, settings=configured)).sent == 0
        assert len(sink.messages) == 1
        received = email.message_from_bytes(sink.messages[0].data, policy=default_policy)
    assert row.attempts == 1
    expected = mail.message_id_for(idempotency_key="approval:run-1:director", settings=configured)
    assert received["Message-ID"] == expected
    rebuilt = mail.build_email(message=row, settings=configured, attachments=[])
    assert rebuilt["Message-ID"] == expected


def test_concurrent_deliveries_send_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    message_id = enqueue(engine)
    with MailSink(directory=tmp_path / "sink") as sink:
        configured = with_url(settings, sink.url)

        async def both() -> list[OutboxMessage]:
            return list(
                await asyncio.gather(
                    mail.deliver_message(engine=engine, settings=configured, message_id=message_id),
                    mail.deliver_message(engine=engine, settings=configured, message_id=message_id),
                    mail.send_pending(engine=engine, settings=configured),
                )
            )

        asyncio.run(both())
        assert len(sink.messages) == 1
    row = load(engine, message_id)
    assert row.status == OutboxStatus.sent
    assert row.attempts == 1


def test_enqueue_race_keeps_the_callers_transaction(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = enqueue(engine, key="race")
    real_find = mail._find_by_key
    calls = {"n": 0}

    def stale_find(session: Session, key: str) -> OutboxMessage | None:
        # The first look-up misses, as if the other writer committed right after it.
        calls["n"] += 1
        return None if calls["n"] == 1 else real_find(session, key)

    monkeypatch.setattr(mail, "_find_by_key", stale_find)
    with Session(engine) as session:
        session.add(
            OutboxMessage(
                idempotency_key="other", to_addr="a@example.org", subject="s", body_text="b"
            )
        )
        session.flush()
        loser = mail.enqueue_message(
            session=session,
            idempotency_key="race",
            to_addr="a@example.org",
            subject="s",
            body_text="b",
        )
        session.commit()
        assert loser.id == winner
    with Session(engine) as session:
        keys = sorted(row.idempotency_key for row in mail.list_outbox(session=session))
    assert keys == ["other", "race"]


# --------------------------------------------------------------------------- composition


def test_build_email_russian_subject_attachments_and_escaping(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        row = mail.enqueue_templated(
            session=session,
            idempotency_key="tpl",
            to_addr="Иванова М. П. <director@s7.example>",
            template="approval_request",
            context=approval_context(approver_name="<script>alert(1)</script>"),
        )
        session.commit()
        session.refresh(row)
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 10
    built = mail.build_email(
        message=row, settings=settings, attachments=[("Приказ № 37 от 14.06.2026.pdf", pdf)]
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=default_policy)

    assert parsed["Subject"] == row.subject
    assert row.subject.startswith("Требуется утверждение: Приказ о закреплении")
    assert "\n" not in row.subject
    assert parsed["From"] == settings.mail_from
    assert parsed["Date"] is not None
    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Приказ № 37 от 14.06.2026.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == pdf
    assert b"filename*" in built.as_bytes()  # RFC 2231 parameter encoding
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "approve/abc?x=1&amp;y=2" in html
    assert "<script>alert(1)</script>" in text  # plain text is not escaped
    assert "ABCD-1234" in text and "8 декабря 2026 г." in text


def test_decision_notice_renders() -> None:
    subject, text, html = mail.render_mail(
        template="decision_notice",
        context={
            "organization": {"name": "МБОУ «СШ № 7»", "short_name": "СШ № 7"},
            "cycle": {"school_year": "2026/2027"},
            "request_title": "Приказ о закреплении пар",
            "decision_label": "требуются изменения",
            "comment": "Уточните состав групп & сроки",
            "approver_name": "Иванова М. П.",
            "decided_at": datetime(2026, 12, 1, tzinfo=UTC),
            "documents": [],
        },
    )
    assert subject == "Решение: требуются изменения — Приказ о закреплении пар (СШ № 7, 2026/2027)"
    assert "Уточните состав групп & сроки" in text
    assert "Уточните состав групп &amp; сроки" in html
    assert "1 декабря 2026 г." in text


def test_attachments_from_documents_are_delivered(
    engine: Engine, settings: Settings, cycle_ids: tuple, tmp_path: Path
) -> None:
    organization_id, cycle_id = cycle_ids
    with Session(engine) as session:
        document = Document(
            unique_key="order-37",
            organization_id=organization_id,
            cycle_id=cycle_id,
            doc_type="order",
            series="ПР",
            year=2026,
            number=37,
            doc_date=date(2026, 6, 14),
            title="Приказ № 37 о закреплении пар",
            content_hash="0" * 64,
            path="2026/order-37.pdf",
        )
        session.add(document)
        session.commit()
        session.refresh(document)
        path = mail._document_file(settings, document)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.7 test")
        row = mail.enqueue_message(
            session=session,
            idempotency_key="with-doc",
            to_addr="a@example.org",
            subject="Документы",
            body_text="См. вложение",
            document_ids=[document.id],
        )
        session.commit()
        message_id = row.id
    with MailSink(directory=tmp_path / "sink") as sink:
        asyncio.run(
            mail.deliver_message(
                engine=engine, settings=with_url(settings, sink.url), message_id=message_id
            )
        )
        received = email.message_from_bytes(sink.messages[0].data, policy=default_policy)
    (attachment,) = received.iter_attachments()
    assert attachment.get_filename() == "Приказ № 37 о закреплении пар.pdf"
    assert attachment.get_content() == b"%PDF-1.7 test"


def test_missing_document_file_fails_permanently(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    with Session(engine) as session:
        row = mail.enqueue_message(
            session=session,
            idempotency_key="no-doc",
            to_addr="a@example.org",
            subject="s",
            body_text="b",
            document_ids=[UUID(int=1)],
        )
        session.commit()
        message_id = row.id
    row = asyncio.run(
        mail.deliver_message(engine=engine, settings=with_url(settings, url), message_id=message_id)
    )
    assert row.status == OutboxStatus.failed
    assert "not found" in row.last_error
    assert handler.ehlos == 0


# --------------------------------------------------------------------------- batches


def test_send_pending_reuses_one_connection_and_retries_failed(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.refuse = "bad"
    handler.data_replies = ["451 4.3.0 Try again later"]  # the first message waits a round
    configured = with_url(settings, url)
    with Session(engine) as session:
        for n in range(20):
            to_addr = f"bad{n}@example.org" if n % 5 == 0 else f"user{n}@example.org"
            mail.enqueue_message(
                session=session,
                idempotency_key=f"batch-{n}",
                to_addr=to_addr,
                subject=f"Письмо {n}",
                body_text="Текст",
            )
        session.commit()

    summary = asyncio.run(mail.send_pending(engine=engine, settings=configured, retry_delays=FAST))
    assert summary == mail.SendSummary(sent=16, failed=4)
    assert len(handler.received) == 16
    assert handler.ehlos == 2  # one connection for the batch, one for the retry round
    with Session(engine) as session:
        failed = mail.list_outbox(session=session, status=OutboxStatus.failed)
        assert sorted(row.to_addr for row in failed) == [
            "bad0@example.org",
            "bad10@example.org",
            "bad15@example.org",
            "bad5@example.org",
        ]

    # Failed ones stay failed until the operator asks for them, once the cause is fixed.
    assert asyncio.run(mail.send_pending(engine=engine, settings=configured)) == mail.SendSummary()
    handler.refuse = ""
    summary = asyncio.run(
        mail.send_pending(engine=engine, settings=configured, include_failed=True)
    )
    assert summary == mail.SendSummary(sent=4)
    assert len(handler.received) == 20
    assert handler.ehlos == 3
    with Session(engine) as session:
        assert {row.status for row in mail.list_outbox(session=session)} == {OutboxStatus.sent}


def test_send_pending_without_server_leaves_messages_retrying(
    engine: Engine, settings: Settings
) -> None:
    configured = with_url(settings, f"smtp://127.0.0.1:{free_port()}")
    for n in range(3):
        enqueue(engine, key=f"down-{n}")
    summary = asyncio.run(
        mail.send_pending(engine=engine, settings=configured, retry_delays=(0.01,), limit=2)
    )
    assert summary == mail.SendSummary(retrying=2)
    with Session(engine) as session:
        rows = mail.list_outbox(session=session)
    assert [row.status for row in rows] == [
        OutboxStatus.retrying,
        OutboxStatus.retrying,
        OutboxStatus.pending,
    ]
    assert [row.attempts for row in rows] == [2, 2, 0]


# --------------------------------------------------------------------------- sink and URLs


def test_mail_sink_writes_eml_files(settings: Settings, tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    message = OutboxMessage(
        idempotency_key="eml",
        to_addr="Петров Олег <curator@s7.example>",
        subject="Решение: утверждено — приказ «О наставничестве»",
        body_text="Текст письма",
        body_html="<p>Текст письма</p>",
    )
    with MailSink(directory=directory) as sink:
        assert sink.port > 0
        built = mail.build_email(message=message, settings=settings, attachments=[])
        asyncio.run(mail._send_fresh(with_url(settings, sink.url), built))
        (received,) = sink.messages
    assert received.rcpt_tos == ("curator@s7.example",)
    files = sorted(directory.glob("*.eml"))
    assert files == [received.path]
    assert "-1-Решение-утверждено" in files[0].name
    raw = files[0].read_bytes()
    assert raw == received.data
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"] == message.subject
    assert parsed.get_body(("plain",)).get_content().strip() == "Текст письма"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:8025", mail.SmtpTarget("127.0.0.1", 8025)),
        ("smtps://mail.example.org", mail.SmtpTarget("mail.example.org", 465, use_tls=True)),
        (
            "smtp+starttls://user%40x.ru:p%3Ass%2Fw@smtp.x.ru",
            mail.SmtpTarget("smtp.x.ru", 587, "user@x.ru", "p:ss/w", start_tls=True),
        ),
    ],
)
def test_parse_smtp_url(url: str, expected: mail.SmtpTarget) -> None:
    assert mail.parse_smtp_url(url=url) == expected


def test_parse_smtp_url_rejects_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="scheme"):
        mail.parse_smtp_url(url="http://example.org")
