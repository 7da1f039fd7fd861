"""Outbox and SMTP delivery against real aiosmtpd servers on 127.0.0.1 (no Prefect).

Time is a fake clock: the backoff between attempts is skipped over, never slept.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.tables import (
    Document,
    MentoringForm,
    OutboxMessage,
    OutboxStatus,
    Participant,
    Person,
    Role,
)
from nastavnik import mail
from nastavnik.settings import Settings
from nastavnik.smtp_sink import MailSink

MINUTE = timedelta(minutes=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeClock:
    """The delivery functions' clock: moved by the test (and by a server that takes its time)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


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
        self.rcpt_replies_for: dict[str, str] = {}  # the reply to recipients containing the key
        self.drops = 0  # DATA commands to cut off after the first line of the message
        self.on_data: Callable[[], str | None] | None = None  # a reply instead of 250, or None
        self.stall_seconds = 0.0  # how long DATA keeps the client waiting for its reply
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
        for part, reply in self.rcpt_replies_for.items():
            if part in address:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.on_data is not None:
            reply = self.on_data()
            if reply is not None:
                return reply
        self.received.append(envelope.original_content)
        return "250 OK"

    def message_ids(self) -> list[str]:
        """The Message-ID of every message accepted, in order of arrival."""
        parser = BytesHeaderParser(policy=default_policy)
        return [str(parser.parsebytes(data)["Message-ID"]) for data in self.received]


class DroppingSMTP(SMTP):
    """aiosmtpd's server, except that it hangs up in the middle of DATA while `drops` last."""

    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        if handler.drops > 0 and self.envelope is not None and self.envelope.rcpt_tos:
            handler.drops -= 1
            handler.data_calls += 1
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readuntil(b"\r\n")  # the message's first line, then nothing
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class ScriptedController(Controller):
    def factory(self) -> SMTP:
        return DroppingSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def server() -> Iterator[tuple[ScriptedHandler, str]]:
    handler = ScriptedHandler()
    port = free_port()
    controller = ScriptedController(handler, hostname="127.0.0.1", port=port)
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


def enqueue_many(engine: Engine, count: int, prefix: str = "notice") -> list[UUID]:
    """Queue `count` small messages at once (the outbox rows enqueue_message would make)."""
    rows = [
        OutboxMessage(
            idempotency_key=f"{prefix}:{n}",
            to_addr=f"mentee{n}@school7.example",
            recipient_role="mentee",
            subject=f"Ваш наставник, письмо {n}",
            body_text="Здравствуйте! " * 50,
            created_at=datetime(2026, 11, 30, tzinfo=UTC) + timedelta(microseconds=n),
        )
        for n in range(count)
    ]
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
    return [row.id for row in rows]


def load(engine: Engine, message_id: UUID) -> OutboxMessage:
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def load_all(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return mail.list_outbox(session=session)


def aware(moment: datetime | None) -> datetime | None:
    """A time read back from the database, in UTC (SQLite drops the offset)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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


# --------------------------------------------------------------------------- one attempt, backoff


def test_transient_4xx_waits_for_its_next_attempt_time(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.data_replies = ["451 4.3.0 Try again later"] * 2
    configured, clock = with_url(settings, url), FakeClock()
    message_id = enqueue(engine)

    def attempt() -> OutboxMessage:
        return asyncio.run(
            mail.deliver_message(
                engine=engine, settings=configured, message_id=message_id, clock=clock
            )
        )

    row = attempt()
    assert (row.status, row.attempts, handler.data_calls) == (OutboxStatus.retrying, 1, 1)
    assert row.last_error == "451 4.3.0 Try again later"
    assert aware(row.next_attempt_at) == clock.now + MINUTE
    assert row.claimed_until is None

    clock.advance(MINUTE - timedelta(seconds=1))
    assert attempt().attempts == 1  # not due yet: no attempt at all
    assert handler.data_calls == 1

    clock.advance(timedelta(seconds=1))
    row = attempt()
    assert (row.status, row.attempts) == (OutboxStatus.retrying, 2)
    assert aware(row.next_attempt_at) == clock.now + 5 * MINUTE

    clock.advance(5 * MINUTE)
    row = attempt()
    assert (row.status, row.attempts) == (OutboxStatus.sent, 3)
    assert aware(row.sent_at) == clock.now
    assert row.last_error == "" and row.next_attempt_at is None and row.claimed_until is None
    assert len(handler.received) == 1
    assert handler.data_calls == 3


def test_retry_policy_grows_and_caps() -> None:
    policy = mail.RETRY_POLICY
    delays = [policy.delay(attempts=n) for n in range(1, 9)]
    assert delays == [
        MINUTE,
        5 * MINUTE,
        15 * MINUTE,
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=6),
        timedelta(hours=6),
    ]
    assert policy.max_attempts == 16
    assert sum(delays[:-1], timedelta()) + 9 * timedelta(hours=6) > timedelta(days=2)


def test_transient_failures_back_off_then_give_up(engine: Engine, settings: Settings) -> None:
    configured = with_url(settings, f"smtp://127.0.0.1:{free_port()}")  # nobody listens
    policy, clock = mail.RetryPolicy(max_attempts=5), FakeClock()
    message_id = enqueue(engine)
    asyncio.run(
        mail.deliver_message(
            engine=engine, settings=configured, message_id=message_id, clock=clock, retry=policy
        )
    )
    waits = []
    while (row := load(engine, message_id)).status == OutboxStatus.retrying:
        due = aware(row.next_attempt_at)
        assert due is not None
        waits.append(due - clock.now)
        clock.now = due - timedelta(seconds=1)
        assert (
            asyncio.run(
                mail.send_pending(engine=engine, settings=configured, clock=clock, retry=policy)
            )
            == mail.SendSummary()
        )
        clock.now = due
        asyncio.run(
            mail.send_pending(engine=engine, settings=configured, clock=clock, retry=policy)
        )
    assert waits == [MINUTE, 5 * MINUTE, 15 * MINUTE, timedelta(hours=1)]
    assert row.status == OutboxStatus.failed and row.attempts == 5
    assert row.last_error.startswith("gave up after 5 attempts: ")
    assert "refused" in row.last_error.lower()
    assert row.next_attempt_at is None


def test_permanent_5xx_fails_without_retry(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.rcpt_replies = ["550 5.1.1 No such user"]
    message_id = enqueue(engine)

    row = asyncio.run(
        mail.deliver_message(engine=engine, settings=with_url(settings, url), message_id=message_id)
    )

    assert row.status == OutboxStatus.failed
    assert row.attempts == 1
    assert "550" in row.last_error and "No such user" in row.last_error
    assert row.next_attempt_at is None
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
        mail.deliver_message(engine=engine, settings=with_url(settings, url), message_id=message_id)
    )
    assert row.status == OutboxStatus.failed
    assert row.last_error.startswith("554")
    assert handler.data_calls == 1


def test_refused_connection_stays_retrying_then_the_retry_pass_delivers(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    configured, clock = with_url(settings, f"smtp://127.0.0.1:{port}"), FakeClock()
    message_id = enqueue(engine)

    row = asyncio.run(
        mail.deliver_message(engine=engine, settings=configured, message_id=message_id, clock=clock)
    )
    assert row.status == OutboxStatus.retrying
    assert row.attempts == 1
    assert "refused" in row.last_error.lower()

    with MailSink(directory=tmp_path / "sink", port=port) as sink:
        clock.advance(MINUTE)
        summary = asyncio.run(mail.send_pending(engine=engine, settings=configured, clock=clock))
        assert len(sink.messages) == 1
    assert summary == mail.SendSummary(sent=1)
    row = load(engine, message_id)
    assert row.status == OutboxStatus.sent
    assert row.attempts == 2


def test_a_stage_with_smtp_down_makes_one_attempt_each_and_moves_on(
    engine: Engine, settings: Settings
) -> None:
    configured, clock = with_url(settings, f"smtp://127.0.0.1:{free_port()}"), FakeClock()
    ids = enqueue_many(engine, 40)
    summary = asyncio.run(
        mail.deliver_messages(engine=engine, settings=configured, message_ids=ids, clock=clock)
    )
    assert summary == mail.SendSummary(retrying=40)
    rows = load_all(engine)
    assert {(row.status, row.attempts) for row in rows} == {(OutboxStatus.retrying, 1)}
    assert {aware(row.next_attempt_at) for row in rows} == {clock.now + MINUTE}
    with Session(engine) as session:
        assert mail.next_attempt_time(session=session) == clock.now + MINUTE
        assert mail.due_messages(session=session, now=clock.now) == []
        assert len(mail.due_messages(session=session, now=clock.now + MINUTE)) == 40


def test_a_stalling_server_costs_a_stage_one_timeout_not_one_per_message(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.stall_seconds = 5  # the client gives up after 1 s
    configured = settings.model_copy(update={"smtp_url": url, "smtp_timeout_seconds": 1.0})
    ids = enqueue_many(engine, 20)
    summary = asyncio.run(
        mail.deliver_messages(engine=engine, settings=configured, message_ids=ids, connections=1)
    )
    assert summary == mail.SendSummary(retrying=20)
    assert handler.ehlos <= 1 and handler.data_calls <= 1
    rows = load_all(engine)
    assert {(row.status, row.attempts) for row in rows} == {(OutboxStatus.retrying, 1)}
    assert sum("not retried in this batch" in row.last_error for row in rows) >= 19


def test_a_crashed_senders_claim_expires_and_the_retry_pass_sends(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    configured, clock = with_url(settings, url), FakeClock()
    message_id = enqueue(engine)
    # A sender claimed the message and died before sending it.
    lease = timedelta(seconds=60)  # a lease as a sender takes (10 × the 3 s timeout, ≥ 60 s)
    (row,) = mail._claim(engine, [message_id], [OutboxStatus.pending], clock.now, clock.now + lease)
    assert row.attempts == 1

    def retry_pass() -> mail.SendSummary:
        return asyncio.run(mail.send_pending(engine=engine, settings=configured, clock=clock))

    assert retry_pass() == mail.SendSummary()
    assert asyncio.run(
        mail.deliver_messages(
            engine=engine, settings=configured, message_ids=[message_id], clock=clock
        )
    ) == mail.SendSummary(skipped=1)
    clock.advance(lease)
    assert retry_pass() == mail.SendSummary(sent=1)
    assert load(engine, message_id).attempts == 2
    assert len(handler.received) == 1


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


# The context of a meeting-logs reminder (templates/mail/meeting_logs_reminder.*).
REMINDER_CONTEXT = {
    "organization": {"name": "МБОУ СОШ № 7", "short_name": "СОШ № 7"},
    "cycle": {"school_year": "2026/2027"},
    "recipient": {"name": "Орлов Игорь Николаевич"},
    "kind": "due",
    "month_label": "Октябрь 2026",
    "due": date(2026, 10, 31),
    "pairs": [{"mentees": "Иванова Мария Петровна", "link": ""}],
}


def test_a_templated_insert_under_a_taken_key_adds_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    first = enqueue(engine, key="roadmap:item-1:due:curator")
    context = REMINDER_CONTEXT
    with Session(engine) as session:

        def insert(key: str) -> UUID | None:
            return mail.insert_templated(
                session=session,
                idempotency_key=key,
                to_addr="Орлов <curator@school7.example.ru>",
                template="meeting_logs_reminder",
                context=context,
                recipient_role="curator",
            )

        taken, new = insert("roadmap:item-1:due:curator"), insert("roadmap:item-2:due:curator")
        session.commit()
    assert taken is None and new is not None and new != first
    with Session(engine) as session:
        row = session.get(OutboxMessage, new)
        assert row is not None and row.status == OutboxStatus.pending
        assert row.recipient_role == "curator" and row.subject and row.body_text
        assert row.document_ids == [] and row.attempts == 0
    with MailSink(directory=tmp_path / "sink") as sink:
        configured = with_url(settings, sink.url)
        sent = asyncio.run(mail.deliver_message(engine=engine, settings=configured, message_id=new))
        assert sent.status == OutboxStatus.sent and len(sink.messages) == 1


def test_many_templated_inserts_span_batches_and_skip_taken_keys(engine: Engine) -> None:
    context = REMINDER_CONTEXT
    taken = enqueue(engine, key="reminder:1000")
    count = mail._ROWS_PER_INSERT + 201  # more rows than one executemany
    drafts = [
        mail.TemplatedMessage(
            f"reminder:{n}",
            f"mentor{n}@school7.example.ru",
            "meeting_logs_reminder",
            context,
            "mentor",
        )
        for n in range(count)
    ]
    with Session(engine) as session:
        inserted = mail.insert_templated_many(session=session, messages=drafts)
        session.commit()
    assert len(inserted) == count - 1 and "reminder:1000" not in inserted
    assert len(set(inserted.values())) == count - 1 and taken not in inserted.values()
    with Session(engine) as session:
        row = session.get(OutboxMessage, inserted[f"reminder:{count - 1}"])
        assert row is not None and row.to_addr == f"mentor{count - 1}@school7.example.ru"
        assert row.status == OutboxStatus.pending and row.attempts == 0 and row.last_error == ""
        assert row.document_ids == [] and row.recipient_role == "mentor"
        assert row.created_at is not None and row.subject and "Иванова" in row.body_text


def test_a_notice_batch_keeps_queued_messages_and_infers_each_new_ones_role(
    engine: Engine, cycle_ids: tuple
) -> None:
    organization_id, cycle_id = cycle_ids
    with Session(engine) as session:
        for key, email_address, roles in (
            ("orlov", "Orlov@mail.example", (Role.mentee, Role.mentor)),  # a pupil who mentors
            ("kuznetsova", "kuznetsova.d@mail.example", (Role.mentee,)),
        ):
            person = Person(
                organization_id=organization_id,
                person_key=key,
                last_name=key,
                first_name="Имя",
                email=email_address,
            )
            session.add(person)
            session.flush()
            for role in roles:
                session.add(
                    Participant(
                        cycle_id=cycle_id,
                        person_id=person.id,
                        role=role,
                        form=MentoringForm.student_student,
                    )
                )
        session.commit()
    queued_before = enqueue(engine, key="notice:curator", to_addr="curator@school7.example")
    document_id = str(uuid4())
    addresses = {
        "notice:director": "Иванова Мария Петровна <DIRECTOR@school7.example>",
        "notice:curator": "curator@school7.example",
        "notice:mentor": "orlov@mail.example",
        "notice:mentee": "Кузнецова <Kuznetsova.D@mail.example>",
        "notice:stranger": "someone@else.example",
    }
    drafts = [
        mail.TemplatedMessage(
            key, to_addr, "decision_notice", {}, recipient_role="", document_ids=(document_id,)
        )
        for key, to_addr in addresses.items()
    ]
    rendered: list[str] = []
    with Session(engine) as session:
        original = mail.render_mail

        def render(*, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
            rendered.append(template)
            return "Тема", "Текст", ""

        mail.render_mail = render  # type: ignore[assignment]
        try:
            ids = mail.enqueue_templated_many(session=session, messages=drafts)
            again = mail.enqueue_templated_many(session=session, messages=drafts)
        finally:
            mail.render_mail = original  # type: ignore[assignment]
        session.commit()
    assert list(ids) == list(addresses) and again == ids and ids["notice:curator"] == queued_before
    assert len(rendered) == 4  # the queued one and the second batch are not rendered again
    with Session(engine) as session:
        rows = {
            row.idempotency_key: row
            for row in session.exec(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(list(ids.values())))
            )
        }
    assert {key: row.recipient_role for key, row in rows.items()} == {
        "notice:director": "director",
        "notice:curator": "curator",  # queued before (by enqueue_message)
        "notice:mentor": "mentor",
        "notice:mentee": "mentee",
        "notice:stranger": "",
    }
    assert rows["notice:mentee"].document_ids == [document_id]
    assert rows["notice:curator"].document_ids == []


def test_concurrent_deliveries_send_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    message_id = enqueue(engine)
    with MailSink(directory=tmp_path / "sink") as sink:
        configured = with_url(settings, sink.url)

        async def both() -> list[Any]:
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


def test_concurrent_senders_in_threads_send_each_message_once(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    configured = with_url(settings, url)
    ids = enqueue_many(engine, 300)
    errors: list[BaseException] = []

    def guarded(run: Callable[[], Any]) -> Callable[[], None]:
        def target() -> None:
            try:
                run()
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        return target

    # Two stage tasks over the same messages and the retry flow, at the same moment.
    senders = [
        lambda: asyncio.run(
            mail.deliver_messages(engine=engine, settings=configured, message_ids=ids)
        ),
        lambda: asyncio.run(
            mail.deliver_messages(engine=engine, settings=configured, message_ids=ids[::-1])
        ),
        lambda: asyncio.run(mail.send_pending(engine=engine, settings=configured)),
    ]
    threads = [threading.Thread(target=guarded(sender)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    message_ids = handler.message_ids()
    assert len(message_ids) == 300 and len(set(message_ids)) == 300
    assert {(row.status, row.attempts) for row in load_all(engine)} == {(OutboxStatus.sent, 1)}


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
    data = mail.render_email(
        message=row, settings=settings, attachments=[("Приказ № 37 от 14.06.2026.pdf", pdf)]
    )
    parsed = email.message_from_bytes(data, policy=default_policy)

    assert parsed["Subject"] == row.subject
    assert row.subject.startswith("Требуется утверждение: Приказ о закреплении")
    assert "\n" not in row.subject
    assert parsed["From"] == settings.mail_from
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Иванова М. П.", "director@s7.example")
    assert parsed["Date"] is not None
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Message-ID"] == mail.message_id_for(idempotency_key="tpl", settings=settings)
    assert parsed.get_content_type() == "multipart/mixed"
    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Приказ № 37 от 14.06.2026.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == pdf
    assert b"filename*" in data  # RFC 2231 parameter encoding
    assert parsed.defects == [] and all(part.defects == [] for part in parsed.walk())
    # SMTP's rules: CRLF line ends only, no line over 998 octets, headers in ASCII.
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert data.split(b"\r\n\r\n")[0].isascii()
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "approve/abc?x=1&amp;y=2" in html
    assert "<script>alert(1)</script>" in text  # plain text is not escaped
    assert "ABCD-1234" in text and "8 декабря 2026 г." in text


@pytest.mark.parametrize(
    "filename",
    [
        "order-37.pdf",
        "Приказ № 37 «О закреплении» – 100% (копия).pdf",
        mail.attachment_name(title="Персональная программа наставничества " * 4 + "№ 5"),
    ],
)
def test_attachment_names_round_trip(settings: Settings, filename: str) -> None:
    message = OutboxMessage(idempotency_key="f", to_addr="a@x.ru", subject="s", body_text="b")
    data = mail.render_email(message=message, settings=settings, attachments=[(filename, b"%")])
    parsed = email.message_from_bytes(data, policy=default_policy)
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == filename
    assert attachment.get_content() == b"%"
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_plain_ascii_text_goes_as_is_and_the_rest_as_base64(settings: Settings) -> None:
    ascii_only = OutboxMessage(
        idempotency_key="a", to_addr="a@x.ru", subject="Hello", body_text=".hidden\nline 2\n"
    )
    data = mail.render_email(message=ascii_only, settings=settings, attachments=[])
    parsed = email.message_from_bytes(data, policy=default_policy)
    assert parsed.get_content_type() == "text/plain"
    assert parsed["Content-Transfer-Encoding"] == "7bit"
    assert parsed.get_content().replace("\r\n", "\n") == ".hidden\nline 2\n"
    russian = OutboxMessage(
        idempotency_key="r", to_addr="a@x.ru", subject="Привет", body_text="Текст\n" * 3
    )
    parsed = email.message_from_bytes(
        mail.render_email(message=russian, settings=settings, attachments=[]),
        policy=default_policy,
    )
    assert parsed["Content-Transfer-Encoding"] == "base64"
    assert parsed.get_content() == "Текст\n" * 3


def test_header_values_stay_on_their_line(settings: Settings) -> None:
    message = OutboxMessage(
        idempotency_key="h",
        to_addr="a@x.ru",
        subject="Тема\r\nBcc: victim@example.org",
        body_text="b",
    )
    parsed = email.message_from_bytes(
        mail.render_email(message=message, settings=settings, attachments=[]),
        policy=default_policy,
    )
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Тема Bcc: victim@example.org"


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
    handler.data_replies = ["451 4.3.0 Try again later"]  # the first message waits a minute
    configured, clock = with_url(settings, url), FakeClock()
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

    def retry_pass(include_failed: bool = False) -> mail.SendSummary:
        return asyncio.run(
            mail.send_pending(
                engine=engine,
                settings=configured,
                include_failed=include_failed,
                connections=1,
                clock=clock,
            )
        )

    assert retry_pass() == mail.SendSummary(sent=15, failed=4, retrying=1)
    assert len(handler.received) == 15
    assert handler.ehlos == 1  # one connection for the whole batch
    with Session(engine) as session:
        failed = mail.list_outbox(session=session, status=OutboxStatus.failed)
        assert sorted(row.to_addr for row in failed) == [
            "bad0@example.org",
            "bad10@example.org",
            "bad15@example.org",
            "bad5@example.org",
        ]
        assert all("550 5.1.1 No such user" in row.last_error for row in failed)
    assert retry_pass() == mail.SendSummary()  # the 451 one is not due yet
    clock.advance(MINUTE)
    assert retry_pass() == mail.SendSummary(sent=1)
    assert handler.ehlos == 2

    # Failed ones stay failed until the operator asks for them, once the cause is fixed.
    clock.advance(timedelta(hours=1))
    assert retry_pass() == mail.SendSummary()
    handler.refuse = ""
    assert retry_pass(include_failed=True) == mail.SendSummary(sent=4)
    assert len(handler.received) == 20
    assert handler.ehlos == 3
    with Session(engine) as session:
        assert {row.status for row in mail.list_outbox(session=session)} == {OutboxStatus.sent}


def test_the_operators_retry_of_a_failed_message_is_one_attempt(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.rcpt_replies = ["550 5.1.1 No such user", "451 4.7.1 Greylisted"]
    configured = with_url(settings, url)
    message_id = enqueue(engine)
    for include_failed in (False, True):
        row = asyncio.run(
            mail.deliver_message(
                engine=engine,
                settings=configured,
                message_id=message_id,
                include_failed=include_failed,
            )
        )
    assert (row.status, row.attempts) == (OutboxStatus.failed, 2)
    assert row.last_error.startswith("451 4.7.1 Greylisted")


def test_send_pending_without_server_leaves_messages_retrying(
    engine: Engine, settings: Settings
) -> None:
    configured = with_url(settings, f"smtp://127.0.0.1:{free_port()}")
    for n in range(3):
        enqueue(engine, key=f"down-{n}")
    summary = asyncio.run(mail.send_pending(engine=engine, settings=configured, limit=2))
    assert summary == mail.SendSummary(retrying=2)
    rows = load_all(engine)
    assert [row.status for row in rows] == [
        OutboxStatus.retrying,
        OutboxStatus.retrying,
        OutboxStatus.pending,
    ]
    assert [row.attempts for row in rows] == [1, 1, 0]


# --------------------------------------------------------------------------- misbehaving servers


def deliver_like_a_stage_then_retry_every_minute(
    engine: Engine, settings: Settings, ids: list[UUID], clock: FakeClock, connections: int
) -> tuple[mail.SendSummary, int]:
    """The stage's one pass, then the retry-deliveries flow every (fake) minute until nothing is
    pending or retrying; returns the stage's summary and how many retry passes ran."""
    stage = asyncio.run(
        mail.deliver_messages(
            engine=engine,
            settings=settings,
            message_ids=ids,
            connections=connections,
            clock=clock,
        )
    )
    passes = 0
    while any(row.status in mail._ACTIVE for row in load_all(engine)):
        passes += 1
        assert passes <= 30, "still undelivered after half an hour of retry passes"
        clock.advance(MINUTE)
        asyncio.run(
            mail.send_pending(
                engine=engine, settings=settings, connections=connections, clock=clock
            )
        )
    return stage, passes


def assert_all_delivered_once(
    engine: Engine, settings: Settings, handler: ScriptedHandler, count: int
) -> None:
    received = handler.message_ids()
    assert len(received) == count
    assert len(set(received)) == count, "a message arrived twice"
    expected = {
        mail.message_id_for(idempotency_key=f"notice:{n}", settings=settings) for n in range(count)
    }
    assert set(received) == expected
    assert {row.status for row in load_all(engine)} == {OutboxStatus.sent}


def test_451_to_the_first_50_messages(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.data_replies = ["451 4.3.0 Mailbox busy, try again"] * 50
    configured, clock = with_url(settings, url), FakeClock()
    ids = enqueue_many(engine, 300)

    stage, passes = deliver_like_a_stage_then_retry_every_minute(engine, configured, ids, clock, 3)

    assert stage == mail.SendSummary(sent=250, retrying=50)
    assert passes == 1
    assert_all_delivered_once(engine, configured, handler, 300)
    assert handler.ehlos <= 2 * 3  # a pool of 3 for the stage, then for the retry pass


def test_451_for_8_seconds(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    configured, clock = with_url(settings, url), FakeClock()
    busy_until = clock.now + timedelta(seconds=8)

    def busy_for_8_seconds() -> str | None:
        # Each message takes the server 50 ms of (fake) time.
        clock.advance(timedelta(milliseconds=50))
        return (
            "451 4.3.2 System not accepting network messages" if clock.now <= busy_until else None
        )

    handler.on_data = busy_for_8_seconds
    ids = enqueue_many(engine, 300)

    stage, passes = deliver_like_a_stage_then_retry_every_minute(engine, configured, ids, clock, 1)

    assert stage == mail.SendSummary(sent=140, retrying=160)
    assert passes == 1
    assert_all_delivered_once(engine, configured, handler, 300)


def test_connection_dropped_mid_data_20_times(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.drops = 20
    configured, clock = with_url(settings, url), FakeClock()
    ids = enqueue_many(engine, 300)

    stage, passes = deliver_like_a_stage_then_retry_every_minute(engine, configured, ids, clock, 1)

    assert handler.drops == 0
    # Each drop costs the message it cut off one attempt, and a new connection.
    assert stage == mail.SendSummary(sent=280, retrying=20)
    assert handler.ehlos == 21 + 1
    assert passes == 1
    assert_all_delivered_once(engine, configured, handler, 300)


def test_550_fails_every_message_at_once_with_the_servers_answer(
    engine: Engine, settings: Settings, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    handler.refuse = "@"
    configured, clock = with_url(settings, url), FakeClock()
    ids = enqueue_many(engine, 300)

    stage, passes = deliver_like_a_stage_then_retry_every_minute(engine, configured, ids, clock, 3)

    assert stage == mail.SendSummary(failed=300)
    assert passes == 0
    assert handler.received == [] and handler.data_calls == 0
    assert handler.rcpt_calls == 300
    rows = load_all(engine)
    assert {(row.status, row.attempts) for row in rows} == {(OutboxStatus.failed, 1)}
    assert all(row.last_error == f"550 5.1.1 No such user ({row.to_addr})" for row in rows)
    clock.advance(timedelta(days=1))
    assert asyncio.run(mail.send_pending(engine=engine, settings=configured, clock=clock)) == (
        mail.SendSummary()
    )


# --------------------------------------------------------------------------- the stage's mail table


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("director@school7.ru", "d*****r@school7.ru"),
        ("Иванова М. П. <director@s7.example>", "d*****r@s7.example"),
        ("ab@x.ru", "a*****@x.ru"),
        ("a@x.ru", "a*****@x.ru"),
        ("postmaster", "p*****r"),
        ("", ""),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mail.mask_address(address=address) == masked


def test_mail_report_rows_for_the_stage_artifact(
    engine: Engine, settings: Settings, cycle_ids: tuple, server: tuple[ScriptedHandler, str]
) -> None:
    handler, url = server
    organization_id, cycle_id = cycle_ids
    with Session(engine) as session:
        person = Person(
            organization_id=organization_id,
            person_key="kuznetsova",
            last_name="Кузнецова",
            first_name="Дарья",
            email="Kuznetsova.D@mail.example",
        )
        session.add(person)
        session.flush()
        session.add(
            Participant(
                cycle_id=cycle_id,
                person_id=person.id,
                role=Role.mentee,
                form=MentoringForm.student_student,
            )
        )
        session.commit()
    recipients = [
        ("Иванова Мария Петровна <director@school7.example>", None),
        ("curator@school7.example", None),
        ("kuznetsova.d@mail.example", None),
        ("lebedev@mail.example", "mentor"),
        ("someone@else.example", None),
    ]
    ids = []
    with Session(engine) as session:
        for n, (to_addr, role) in enumerate(recipients):
            row = mail.enqueue_message(
                session=session,
                idempotency_key=f"report-{n}",
                to_addr=to_addr,
                subject=f"Тема {n}",
                body_text="Текст",
                recipient_role=role,
            )
            ids.append(row.id)
        session.commit()
        assert [row.recipient_role for row in mail.list_outbox(session=session)] == [
            "director",
            "curator",
            "mentee",
            "mentor",
            "",
        ]
    handler.rcpt_replies_for = {
        "curator": "550 5.1.1 No such user",
        "kuznetsova": "451 4.2.0 Mailbox busy",
    }
    clock = FakeClock()
    asyncio.run(
        mail.deliver_messages(
            engine=engine,
            settings=with_url(settings, url),
            message_ids=ids[:3],
            connections=1,
            clock=clock,
        )
    )

    with Session(engine) as session:
        rows = mail.mail_report(session=session, message_ids=[*ids, uuid4(), ids[0]])
    assert [row.message_id for row in rows] == ids
    assert [row.as_table_row() for row in rows] == [
        {
            "Кому": "директор",
            "Адрес": "d*****r@school7.example",
            "Тема": "Тема 0",
            "Статус": "отправлено",
            "Ответ сервера": "",
            "ID письма": str(ids[0]),
        },
        {
            "Кому": "куратор",
            "Адрес": "c*****r@school7.example",
            "Тема": "Тема 1",
            "Статус": "не доставлено",
            "Ответ сервера": "550 5.1.1 No such user (c*****r@school7.example)",
            "ID письма": str(ids[1]),
        },
        {
            "Кому": "наставляемый",
            "Адрес": "k*****d@mail.example",
            "Тема": "Тема 2",
            "Статус": "ждёт повторной отправки (попытка 2 в 01.12 09:01 UTC)",
            "Ответ сервера": "451 4.2.0 Mailbox busy (k*****d@mail.example)",
            "ID письма": str(ids[2]),
        },
        {
            "Кому": "наставник",
            "Адрес": "l*****v@mail.example",
            "Тема": "Тема 3",
            "Статус": "в очереди",
            "Ответ сервера": "",
            "ID письма": str(ids[3]),
        },
        {
            "Кому": "—",
            "Адрес": "s*****e@else.example",
            "Тема": "Тема 4",
            "Статус": "в очереди",
            "Ответ сервера": "",
            "ID письма": str(ids[4]),
        },
    ]


def test_mail_report_infers_the_role_of_rows_queued_without_one(
    engine: Engine, cycle_ids: tuple
) -> None:
    with Session(engine) as session:
        session.add(
            OutboxMessage(
                idempotency_key="old",
                to_addr="director@school7.example",
                subject="s",
                body_text="b",
            )
        )
        session.commit()
        (row,) = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key) == "old")
        ).all()
        assert row.recipient_role == ""
        (report,) = mail.mail_report(session=session, message_ids=[row.id])
    assert report.role == "director"


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
        outgoing = mail.outgoing_email(message=message, settings=settings, attachments=[])
        asyncio.run(mail._send_fresh(with_url(settings, sink.url), outgoing))
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


def test_a_relay_sink_keeps_files_only(settings: Settings, tmp_path: Path) -> None:
    message = OutboxMessage(
        idempotency_key="relay", to_addr="curator@s7.example", subject="Тема", body_text="Текст"
    )
    with MailSink(directory=tmp_path / "relay", keep_messages=False) as sink:
        outgoing = mail.outgoing_email(message=message, settings=settings, attachments=[])
        asyncio.run(mail._send_fresh(with_url(settings, sink.url), outgoing))
        assert sink.messages == []  # a year's ≈ 90 000 messages are not held in memory
    (saved,) = (tmp_path / "relay").glob("*.eml")
    assert email.message_from_bytes(saved.read_bytes(), policy=default_policy)["To"]


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


def test_a_relay_down_for_ten_minutes_delays_mail_and_loses_none(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 11 §5: the relay refuses connections from 09:00 to 09:10; what was tried then waits
    (1 min, then 5 min after the second refusal) and goes out once when it is back at 09:10."""
    sink = MailSink(directory=tmp_path / "mail").start()
    relay = with_url(settings, sink.url)
    ids = [enqueue(engine, key=f"outage-{n}") for n in range(3)]
    sink.stop()  # the relay goes down
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def attempt(minutes: float) -> mail.SendSummary:
        return asyncio.run(
            mail.send_pending(
                engine=engine, settings=relay, clock=lambda: t0 + timedelta(minutes=minutes)
            )
        )

    first = asyncio.run(
        mail.deliver_messages(engine=engine, settings=relay, message_ids=ids, clock=lambda: t0)
    )
    assert (first.sent, first.retrying, first.failed) == (0, 3, 0)
    assert attempt(0.5).retrying == 0  # not due before its minute is up
    assert attempt(1).retrying == 3  # 09:01: refused again, next at 09:06
    assert attempt(5).retrying == 0
    assert attempt(6).retrying == 3  # 09:06: refused a third time, next at 09:21
    sink.start()  # 09:10: the relay is back, on the same port
    assert attempt(10).sent == 0  # nothing is due before 09:21
    assert attempt(21).sent == 3
    assert attempt(30) == mail.SendSummary()
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))).all()
    assert {row.status for row in rows} == {OutboxStatus.sent}
    assert [row.attempts for row in rows] == [4, 4, 4]
    assert len(sink.messages) == 3
    assert len({m.data.split(b"Message-ID:")[1][:80] for m in sink.messages}) == 3
    sink.stop()
