"""The retry-deliveries deployment with message_ids: the operator's retry of a failed e-mail."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import Session, select

from deployments.catalog import STAGE_DEPLOYMENTS
from deployments.prefect_api import start_deployment
from models.tables import AuditEvent, OutboxStatus
from nastavnik import mail
from nastavnik.db import get_engine
from tests.flows.conftest import FlowStack
from tests.flows.support import wait


def test_the_deployment_retries_the_given_failed_message_once(flow_stack: FlowStack) -> None:
    engine = get_engine()
    address = "department.operator@uo.example"
    with Session(engine) as session:
        message_id = mail.enqueue_message(
            session=session,
            idempotency_key="deliveries-flow:report",
            to_addr=address,
            subject="Отчёт о реализации целевой модели",
            body_text="Отчёт во вложении.",
        ).id
        session.commit()
    # One attempt with the server unreachable, and no automatic retries: failed for the operator.
    unreachable = flow_stack.settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:1"})
    asyncio.run(
        mail.deliver_messages(
            engine=engine,
            settings=unreachable,
            message_ids=[message_id],
            retry=mail.RetryPolicy(backoff=(timedelta(minutes=1),), max_attempts=1),
        )
    )
    with Session(engine) as session:
        row = session.get(mail.OutboxMessage, message_id)
        assert row is not None and row.status == OutboxStatus.failed

    deployment = STAGE_DEPLOYMENTS["retry-deliveries"]
    parameters = {"message_ids": [str(message_id)], "operator": "оператор Петрова"}
    for _ in range(2):  # the second run finds it sent and sends nothing
        run_id = asyncio.run(start_deployment(deployment, parameters))
        assert wait(run_id) == "Completed"

    assert len(flow_stack.mail_to(address)) == 1
    with Session(engine) as session:
        row = session.get(mail.OutboxMessage, message_id)
        assert row is not None and row.status == OutboxStatus.sent
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "delivery.retry"))
        assert [(e.actor, e.details["message_id"]) for e in events] == [
            ("оператор Петрова", str(message_id))
        ]
