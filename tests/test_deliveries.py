"""The operator's failed deliveries (issue 10 §3): list, retry, cancel, audited, sent once.

A real SMTP sink (aiosmtpd, scripted as in test_mail.py) and a real SQLite database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.tables import AuditEvent, OutboxStatus
from nastavnik import deliveries, mail
from nastavnik.settings import Settings
from tests.test_mail import (
    MINUTE,
    FakeClock,
    ScriptedController,
    ScriptedHandler,
    enqueue,
    free_port,
    load,
    with_url,
)

OPERATOR = "оператор Иванова"


@pytest.fixture
def sink() -> Iterator[tuple[ScriptedHandler, str]]:
    """A scripted aiosmtpd server (test_mail.py's), and its smtp:// URL."""
    handler = ScriptedHandler()
    port = free_port()
    controller = ScriptedController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def send(engine: Engine, settings: Settings, ids: list[UUID], clock: FakeClock) -> None:
    asyncio.run(
        mail.deliver_messages(engine=engine, settings=settings, message_ids=ids, clock=clock)
    )


def retry_pass(engine: Engine, settings: Settings, clock: FakeClock) -> mail.SendSummary:
    return asyncio.run(mail.send_pending(engine=engine, settings=settings, clock=clock))


def retry(
    engine: Engine, settings: Settings, clock: FakeClock, ids: list[UUID] | None
) -> tuple[list[UUID], dict[UUID, str], mail.SendSummary]:
    return asyncio.run(
        deliveries.retry_and_send(
            engine=engine,
            settings=settings,
            message_ids=ids,
            actor=OPERATOR,
            channel="test",
            clock=clock,
        )
    )


def audit(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.at))).all())


def cancel(engine: Engine, message_id: UUID, clock: FakeClock, reason: str = "уволился") -> None:
    with Session(engine) as session:
        deliveries.cancel(
            session=session,
            message_id=message_id,
            actor=OPERATOR,
            reason=reason,
            channel="test",
            now=clock(),
        )
        session.commit()


def test_a_451_burst_is_listed_retried_by_the_operator_and_received_once(
    engine: Engine, settings: Settings, sink: tuple[ScriptedHandler, str]
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    handler.data_replies = ["451 4.3.0 Try again later"] * 3
    message_id = enqueue(engine, to_addr="director@school7.example")

    send(engine, settings, [message_id], clock)
    with Session(engine) as session:
        [row] = deliveries.list_deliveries(session=session)
    assert row.status == OutboxStatus.retrying and row.attempts == 1
    assert row.server_answer == "451 4.3.0 Try again later"
    assert row.masked_address == "d*****r@school7.example"
    assert row.next_attempt_at == clock() + MINUTE

    # The operator does not wait for the minute: retry now (another 451), then again.
    retried, refused, summary = retry(engine, settings, clock, [message_id])
    assert (retried, refused, summary.retrying) == ([message_id], {}, 1)
    retried, _, summary = retry(engine, settings, clock, [message_id])
    assert summary.retrying == 1 and load(engine, message_id).attempts == 3
    # The burst is over: the scheduled pass and the operator race; the sink gets one message.
    clock.advance(timedelta(hours=1))
    assert retry_pass(engine, settings, clock).sent == 1
    _, refused, summary = retry(engine, settings, clock, [message_id])
    assert summary.sent == 0 and "уже отправлено" in refused[message_id]
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    assert len(handler.received) == 1
    assert load(engine, message_id).status == OutboxStatus.sent
    with Session(engine) as session:
        assert deliveries.list_deliveries(session=session) == []
    events = [e for e in audit(engine) if e.action == deliveries.RETRY_ACTION]
    assert len(events) == 2
    assert all(e.actor == OPERATOR and e.details["message_id"] == str(message_id) for e in events)
    assert "Здравствуйте" not in str([e.details for e in events])


def test_a_550_the_operator_fixes_is_retried_and_delivered_once(
    engine: Engine, settings: Settings, sink: tuple[ScriptedHandler, str]
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    handler.refuse = "curator"
    failing = enqueue(engine, key="k-550", to_addr="curator@school7.example")
    fine = enqueue(engine, key="k-ok", to_addr="director@school7.example")
    send(engine, settings, [failing, fine], clock)
    assert load(engine, failing).status == OutboxStatus.failed
    # A failed message waits for the operator: the scheduled pass leaves it alone.
    clock.advance(timedelta(hours=1))
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    with Session(engine) as session:
        [row] = deliveries.list_deliveries(session=session)
    assert row.status == OutboxStatus.failed and row.server_answer.startswith("550 5.1.1")

    handler.refuse = ""  # the mailbox is created at the school
    retried, refused, summary = retry(engine, settings, clock, None)  # retry all failed
    assert (retried, refused, summary.sent) == ([failing], {}, 1)
    assert retry(engine, settings, clock, None)[0] == []
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    assert len(handler.received) == 2  # each message once
    [event] = [e for e in audit(engine) if e.action == deliveries.RETRY_ACTION]
    assert event.details["from_status"] == "failed"


def test_cancel_stops_further_attempts(
    engine: Engine, settings: Settings, sink: tuple[ScriptedHandler, str]
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    handler.data_replies = ["451 4.3.0 Try again later"]
    message_id = enqueue(engine)
    send(engine, settings, [message_id], clock)
    cancel(engine, message_id, clock, reason="адрес устарел")
    clock.advance(timedelta(days=1))
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    asyncio.run(
        mail.send_pending(engine=engine, settings=settings, clock=clock, include_failed=True)
    )
    _, refused, _ = retry(engine, settings, clock, [message_id])
    assert "отменено" in refused[message_id]
    assert handler.received == [] and load(engine, message_id).status == OutboxStatus.cancelled
    with Session(engine) as session:
        assert deliveries.list_deliveries(session=session) == []
    [event] = [e for e in audit(engine) if e.action == deliveries.CANCEL_ACTION]
    assert event.details["reason"] == "адрес устарел" and event.actor == OPERATOR


def test_a_sent_message_cannot_be_retried_or_cancelled(
    engine: Engine, settings: Settings, sink: tuple[ScriptedHandler, str]
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    message_id = enqueue(engine)
    send(engine, settings, [message_id], clock)
    with pytest.raises(deliveries.DeliveryRefused, match="уже отправлено"):
        cancel(engine, message_id, clock)
    _, refused, summary = retry(engine, settings, clock, [message_id])
    assert message_id in refused and summary == mail.SendSummary()
    assert len(handler.received) == 1 and load(engine, message_id).status == OutboxStatus.sent
    assert [e for e in audit(engine) if e.action.startswith("delivery.")] == []


def test_a_message_being_sent_cannot_be_retried_or_cancelled(
    engine: Engine, settings: Settings
) -> None:
    clock = FakeClock()
    message_id = enqueue(engine)
    # A sender's claim on it, as mail._claim takes it.
    with Session(engine) as session:
        row = session.get(mail.OutboxMessage, message_id)
        assert row is not None
        row.claimed_until = clock() + MINUTE
        session.add(row)
        session.commit()
    with pytest.raises(deliveries.DeliveryRefused, match="прямо сейчас"):
        cancel(engine, message_id, clock)
    with Session(engine) as session, pytest.raises(deliveries.DeliveryRefused):
        deliveries.request_retry(
            session=session, message_id=message_id, actor=OPERATOR, channel="t", now=clock()
        )


def test_cancel_needs_a_reason_and_an_id_prefix_finds_the_message(engine: Engine) -> None:
    clock = FakeClock()
    message_id = enqueue(engine)
    with pytest.raises(deliveries.DeliveryRefused, match="причину"):
        cancel(engine, message_id, clock, reason="  ")
    with Session(engine) as session:
        found = deliveries.find_message(session=session, prefix=str(message_id)[:8])
        assert found.id == message_id
        with pytest.raises(deliveries.DeliveryRefused, match="нет"):
            deliveries.find_message(session=session, prefix="ffffffff")
        # Not tried yet: not listed, but the operator can still stop it by its id.
        assert deliveries.list_deliveries(session=session) == []
    cancel(engine, message_id, clock, reason="письмо ушло бы не тому")
    assert load(engine, message_id).status == OutboxStatus.cancelled


def test_operator_token_is_signed_and_expires() -> None:
    clock = FakeClock()
    secret = b"test-secret"
    token = deliveries.operator_token(secret=secret, now=clock(), days=1)
    assert deliveries.check_operator_token(secret=secret, token=token, now=clock())
    assert not deliveries.check_operator_token(secret=b"other", token=token, now=clock())
    assert not deliveries.check_operator_token(secret=secret, token=token[:-2], now=clock())
    assert not deliveries.check_operator_token(secret=secret, token="", now=clock())
    later = clock() + timedelta(days=1, seconds=1)
    assert not deliveries.check_operator_token(secret=secret, token=token, now=later)


def test_the_cli_lists_retries_and_cancels(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sqlite_engine: Engine,
    settings: Settings,
    sink: tuple[ScriptedHandler, str],
) -> None:
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    handler, url = sink
    handler.refuse = "curator"
    clock = FakeClock()
    failing = enqueue(sqlite_engine, key="k-550", to_addr="curator@school7.example")
    other = enqueue(sqlite_engine, key="k-other", to_addr="curator.old@school7.example")
    send(sqlite_engine, with_url(settings, url), [failing, other], clock)

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    monkeypatch.setenv("NASTAVNIK_SMTP_URL", url)
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    runner = CliRunner()
    try:
        listed = runner.invoke(cli_module.app, ["deliveries"])
        assert listed.exit_code == 0, listed.output
        assert "550 5.1.1 No such user" in listed.output and "c*****r@school7.example" in (
            listed.output
        )
        assert "curator@school7.example" not in listed.output
        assert runner.invoke(cli_module.app, ["deliveries", "retry"]).exit_code != 0
        cancelled = runner.invoke(
            cli_module.app,
            ["deliveries", "cancel", str(other)[:8], "--reason", "старый адрес"],
        )
        assert cancelled.exit_code == 0, cancelled.output
        handler.refuse = ""
        retried = runner.invoke(
            cli_module.app, ["deliveries", "retry", str(failing)[:8], "--operator", OPERATOR]
        )
        assert retried.exit_code == 0, retried.output
        assert "отправлено: 1" in retried.output
        again = runner.invoke(cli_module.app, ["deliveries", "retry", str(failing)])
        assert again.exit_code == 1 and "уже отправлено" in again.output
        assert "Недоставленных писем нет" in runner.invoke(cli_module.app, ["deliveries"]).output
        assert runner.invoke(cli_module.app, ["outbox"]).exit_code == 0
        link = runner.invoke(cli_module.app, ["deliveries", "link"])
        token = link.output.strip().rpartition("?token=")[2]
        assert deliveries.check_operator_token(
            secret=settings.approval_secret(), token=token, now=mail.utc_now()
        )
    finally:
        get_settings.cache_clear()
    assert len(handler.received) == 1
    assert load(sqlite_engine, other).status == OutboxStatus.cancelled
    actions = [(e.action, e.actor) for e in audit(sqlite_engine)]
    assert (deliveries.CANCEL_ACTION, f"cli:{os.environ.get('USER', 'operator')}") in actions
    assert (deliveries.RETRY_ACTION, OPERATOR) in actions


def test_the_web_page_refuses_a_bad_token_and_acts_with_a_good_one(
    engine: Engine, settings: Settings, sink: tuple[ScriptedHandler, str]
) -> None:
    from nastavnik.web import create_app
    from tests.test_web_approvals import Client, Resumes

    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    handler.refuse = "curator"
    failing = enqueue(engine, key="k-550", to_addr="curator@school7.example")
    other = enqueue(engine, key="k-other", to_addr="curator.old@school7.example")
    send(engine, settings, [failing, other], clock)
    web = Client(create_app(settings=settings, engine=engine, resume=Resumes(), clock=clock))
    token = deliveries.operator_token(secret=settings.approval_secret(), now=clock())
    forged = deliveries.operator_token(secret=b"another-installation", now=clock())

    # Without a token or a session: the sign-in page (GET) or 401 (POST).
    assert web.get("/operator/deliveries").status_code == 303
    assert web.post(f"/operator/deliveries/{failing}/retry").status_code == 401
    for bad in (forged, token[:-3]):
        assert web.get(f"/operator/deliveries?token={bad}").status_code == 403
        refused = web.post(f"/operator/deliveries/{failing}/retry?token={bad}")
        assert refused.status_code == 403
        refused = web.post(f"/operator/deliveries/{other}/cancel?token={bad}", data={"reason": "x"})
        assert refused.status_code == 403
    assert web.post(f"/operator/deliveries/retry-failed?token={forged}").status_code == 403
    assert [e for e in audit(engine) if e.action.startswith("delivery.")] == []
    assert handler.rcpt_calls == 2  # nothing was attempted again

    page = web.get(f"/operator/deliveries?token={token}")
    assert page.status_code == 200
    assert "c*****r@school7.example" in page.text and "550 5.1.1" in page.text
    assert "curator@school7.example" not in page.text
    assert 'name="viewport"' in page.text

    handler.refuse = ""
    retried = web.post(f"/operator/deliveries/{failing}/retry?token={token}")
    assert retried.status_code == 303
    assert retried.headers["location"].startswith("/operator/deliveries?token=")
    assert web.post(f"/operator/deliveries/{failing}/retry?token={token}").status_code == 409
    no_reason = web.post(f"/operator/deliveries/{other}/cancel?token={token}", data={"reason": ""})
    assert no_reason.status_code == 409 and "причину" in no_reason.text
    cancelled = web.post(
        f"/operator/deliveries/{other}/cancel?token={token}", data={"reason": "старый адрес"}
    )
    assert cancelled.status_code == 303
    after = web.get(cancelled.headers["location"])
    assert after.status_code == 200 and "Недоставленных писем нет" in after.text
    assert "Письмо отменено" in after.text

    assert len(handler.received) == 1
    assert load(engine, failing).status == OutboxStatus.sent
    assert load(engine, other).status == OutboxStatus.cancelled
    actions = sorted((e.action, e.details["channel"]) for e in audit(engine))
    assert actions == [(deliveries.CANCEL_ACTION, "web"), (deliveries.RETRY_ACTION, "web")]


def test_the_mail_sink_refuses_a_listed_mailbox_until_it_exists(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """The embedded sink answers 550 for an address in unknown-mailboxes.txt (the demo's failed
    delivery); once the mailbox exists, the operator's retry delivers the message once."""
    from nastavnik.smtp_sink import UNKNOWN_MAILBOXES, MailSink

    clock = FakeClock()
    directory = tmp_path / "sink"
    directory.mkdir()
    (directory / UNKNOWN_MAILBOXES).write_text("Director@College.example\n", encoding="utf-8")
    failing = enqueue(engine, key="k-sink-550", to_addr="director@college.example")
    fine = enqueue(engine, key="k-sink-ok", to_addr="curator@college.example")
    with MailSink(directory=directory) as mail_sink:
        configured = with_url(settings, mail_sink.url)
        send(engine, configured, [failing, fine], clock)
        row = load(engine, failing)
        assert row.status == OutboxStatus.failed
        assert "550" in row.last_error and "5.1.1" in row.last_error
        assert [m.rcpt_tos for m in mail_sink.messages] == [("curator@college.example",)]

        (directory / UNKNOWN_MAILBOXES).unlink()  # the college's mailbox is created
        retried, refused, summary = retry(engine, configured, clock, [failing])
        assert (retried, refused, summary.sent) == ([failing], {}, 1)
        assert retry(engine, configured, clock, None)[0] == []
        assert sorted(m.rcpt_tos[0] for m in mail_sink.messages) == [
            "curator@college.example",
            "director@college.example",
        ]
