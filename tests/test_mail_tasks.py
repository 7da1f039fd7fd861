"""The mail tasks as a stage calls them (their functions, without the Prefect engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from models.tables import OutboxStatus
from nastavnik import mail
from nastavnik.settings import get_settings
from nastavnik.smtp_sink import MailSink
from tasks.mail import deliver_messages, mail_report, send_pending_messages


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    """The tasks' settings point at a fresh SQLite file and a local SMTP sink."""
    with MailSink(directory=tmp_path / "mail") as sink:
        monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'tasks.db'}")
        monkeypatch.setenv("NASTAVNIK_SECRET_KEY", "test-secret-key-0123456789abcdef")
        monkeypatch.setenv("NASTAVNIK_SMTP_URL", sink.url)
        get_settings.cache_clear()
        yield sink
    get_settings.cache_clear()


def test_a_stage_delivers_then_reports_its_mails(sink: MailSink) -> None:
    from nastavnik.db import get_engine

    with Session(get_engine()) as session:
        ids = [
            str(
                mail.enqueue_message(
                    session=session,
                    idempotency_key=f"notice:{n}",
                    to_addr=address,
                    subject=f"Уведомление {n}",
                    body_text="Текст",
                    recipient_role=role,
                ).id
            )
            for n, (address, role) in enumerate(
                [("director@school7.example", "director"), ("mentor@school7.example", "mentor")]
            )
        ]
        session.commit()

    assert deliver_messages.fn(ids) == {"sent": 2, "failed": 0, "retrying": 0, "skipped": 0}
    assert deliver_messages.fn(ids) == {"sent": 0, "failed": 0, "retrying": 0, "skipped": 2}
    assert send_pending_messages.fn() == {"sent": 0, "failed": 0, "retrying": 0, "skipped": 0}
    assert len(sink.messages) == 2

    rows = mail_report.fn(ids)
    assert [(row["Кому"], row["Адрес"], row["Статус"]) for row in rows] == [
        ("директор", "d*****r@school7.example", "отправлено"),
        ("наставник", "m*****r@school7.example", "отправлено"),
    ]
    assert [row["ID письма"] for row in rows] == ids
    assert set(rows[0]) == {"Кому", "Адрес", "Тема", "Статус", "Ответ сервера", "ID письма"}
    with Session(get_engine()) as session:
        assert {row.status for row in mail.list_outbox(session=session)} == {OutboxStatus.sent}


def test_the_operators_retry_through_the_deployment_task(sink: MailSink) -> None:
    """retry-deliveries with message_ids: those messages are retried (audited), sent once."""
    import asyncio

    from sqlmodel import select

    from models.tables import AuditEvent
    from nastavnik.db import get_engine
    from tasks.mail import retry_messages

    engine = get_engine()
    with Session(engine) as session:
        message_id = mail.enqueue_message(
            session=session,
            idempotency_key="report:school-7",
            to_addr="department@uo.example",
            subject="Отчёт о наставничестве",
            body_text="Текст",
        ).id
        session.commit()
    unreachable = get_settings().model_copy(update={"smtp_url": "smtp://127.0.0.1:1"})
    asyncio.run(
        mail.deliver_messages(engine=engine, settings=unreachable, message_ids=[message_id])
    )
    assert retry_messages.fn([str(message_id)], operator="оператор")["sent"] == 1
    again = retry_messages.fn([str(message_id)])
    assert (again["sent"], again["retried"], again["refused"]) == (0, 0, 1)
    assert len(sink.messages) == 1
    with Session(engine) as session:
        row = session.get(mail.OutboxMessage, message_id)
        assert row is not None and row.status == OutboxStatus.sent
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "delivery.retry"))
        assert [(e.actor, e.details["channel"]) for e in events] == [("оператор", "deployment")]
