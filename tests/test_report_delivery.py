"""Issue 10 §3: «Nothing is delivered twice to the department when a report is retried». The
report's e-mail through a scripted SMTP server (test_mail.py's): a 451 burst, a 550 the operator
fixes; the department receives the message once and stores the report once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models import Cycle, OutboxStatus, ReportSubmission, ReportTransport
from nastavnik import deliveries, mail
from nastavnik.report_envelope import (
    build_report,
    issue_report_pdf,
    queue_report_mail,
    receive,
    report_attachments,
    sign_envelope,
    signing_token,
)
from nastavnik.settings import Settings
from tests.department_support import (
    DIRECTOR,
    NOW,
    REPORT_DAY,
    Department,
    build_department,
    request_info,
)
from tests.test_deliveries import retry, retry_pass, send, sink  # noqa: F401 (fixture)
from tests.test_mail import FakeClock, ScriptedHandler, load, with_url

DEPARTMENT_MAILBOX = "reports@edu-kedrovy.example"


@pytest.fixture
def department(engine: Engine, cycle_ids: tuple) -> Department:
    return build_department(engine, cycle_ids)


def queue_report(engine: Engine, settings: Settings, department: Department) -> uuid.UUID:
    """school-7's approved report queued for the department (twice: a retried run)."""
    with Session(engine) as session:
        info = request_info(session)
        report = build_report(session=session, request=info, today=REPORT_DAY, approved_by=DIRECTOR)
        cycle = session.exec(
            select(Cycle).where(Cycle.organization_id == department.school.org_id)
        ).one()
        document = issue_report_pdf(
            session=session,
            settings=settings,
            request=info,
            report=report,
            cycle_id=cycle.id,
            doc_date=REPORT_DAY,
        )
        pdf = (settings.documents_dir / document.path).read_bytes()
        token = signing_token(settings=settings, organization_code="school-7")
        ids = {
            queue_report_mail(
                session=session,
                settings=settings,
                envelope=sign_envelope(
                    report=report,
                    organization_code="school-7",
                    pdf=pdf,
                    token=token,
                    now=NOW + timedelta(minutes=minute),
                ),
                document_id=document.id,
                to_addr=DEPARTMENT_MAILBOX,
            ).id
            for minute in (0, 5)
        }
        session.commit()
    [message_id] = ids
    return message_id


def department_takes(engine: Engine, settings: Settings, received: list[bytes]) -> list[bool]:
    """The department takes every message its mailbox got (as `department receive-mail` does)."""
    created = []
    for data in received:
        envelope, pdf = report_attachments(data)
        with Session(engine) as session:
            outcome = receive(
                session=session,
                envelope=envelope,
                pdf=pdf,
                transport=ReportTransport.email,
                now=NOW,
                settings=settings,
            )
            session.commit()
        created.append(outcome.created)
    return created


def submissions(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(ReportSubmission)).one())


def test_a_451_burst_delivers_the_report_once_and_it_is_stored_once(
    engine: Engine,
    settings: Settings,
    sink: tuple[ScriptedHandler, str],  # noqa: F811
    department: Department,
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    message_id = queue_report(engine, settings, department)
    handler.data_replies = ["451 4.3.0 Try again later"] * 3
    send(engine, settings, [message_id], clock)
    assert load(engine, message_id).status == OutboxStatus.retrying
    retry(engine, settings, clock, [message_id])  # the operator, during the burst
    clock.advance(timedelta(minutes=5))
    retry_pass(engine, settings, clock)  # the scheduled pass: the last 451
    clock.advance(timedelta(hours=1))
    assert retry_pass(engine, settings, clock).sent == 1
    # Everyone tries again afterwards: nothing more leaves.
    retry(engine, settings, clock, [message_id])
    clock.advance(timedelta(hours=6))
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    send(engine, settings, [message_id], clock)
    assert len(handler.received) == 1
    assert department_takes(engine, settings, handler.received) == [True]
    # The department's operator takes the same e-mail again: nothing changes.
    assert department_takes(engine, settings, handler.received) == [False]
    assert submissions(engine) == 1


def test_a_550_the_operator_fixes_delivers_the_report_once(
    engine: Engine,
    settings: Settings,
    sink: tuple[ScriptedHandler, str],  # noqa: F811
    department: Department,
) -> None:
    handler, url = sink
    settings, clock = with_url(settings, url), FakeClock()
    message_id = queue_report(engine, settings, department)
    handler.refuse = "reports@"  # the department's mailbox does not exist yet
    send(engine, settings, [message_id], clock)
    assert load(engine, message_id).status == OutboxStatus.failed
    clock.advance(timedelta(hours=1))
    assert retry_pass(engine, settings, clock) == mail.SendSummary()
    with Session(engine) as session:
        [row] = deliveries.list_deliveries(session=session)
    assert row.server_answer.startswith("550") and row.role_ru
    handler.refuse = ""  # the department creates the mailbox; the operator retries all
    retried, refused, summary = retry(engine, settings, clock, None)
    assert (retried, refused, summary.sent) == ([message_id], {}, 1)
    assert retry(engine, settings, clock, None)[0] == []
    asyncio.run(
        mail.send_pending(engine=engine, settings=settings, clock=clock, include_failed=True)
    )
    assert len(handler.received) == 1
    assert department_takes(engine, settings, handler.received * 2) == [True, False]
    assert submissions(engine) == 1
