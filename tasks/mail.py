"""Delivery of queued e-mails, and the table of a stage's e-mails."""

from __future__ import annotations

import asyncio
import uuid

from prefect import task

from nastavnik import deliveries, mail
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


def _counts(summary: mail.SendSummary) -> dict[str, int]:
    return {
        "sent": summary.sent,
        "failed": summary.failed,
        "retrying": summary.retrying,
        "skipped": summary.skipped,
    }


# The retries are for the database or the process, not for SMTP: delivery failures don't raise.
# Kept for the run: a resumed run does not attempt again what it attempted before its pause.
@run_cached_task(name="deliver-messages", retries=2, retry_delay_seconds=[1, 5])
def deliver_messages(message_ids: list[str]) -> dict[str, int]:
    """Make one attempt at each given outbox message, never waiting; returns counts by outcome."""
    return attempt_delivery(message_ids)


def attempt_delivery(message_ids: list[str]) -> dict[str, int]:
    """One attempt at each message, inside the task that queued them (a task run of its own
    costs the Prefect server ≈50 ms; an approval's opening and its ending were two each)."""
    if not message_ids:
        return _counts(mail.SendSummary())
    # What fails transiently is left to the retry-deliveries flow (next attempt in 1 min, 5 min,
    # 15 min, …), what fails permanently is failed with the server's answer: the stage goes on.
    summary = asyncio.run(
        mail.deliver_messages(
            engine=get_engine(),
            settings=get_settings(),
            message_ids=[uuid.UUID(message_id) for message_id in message_ids],
        )
    )
    return _counts(summary)


@task(name="send-pending-messages", retries=1, retry_delay_seconds=[10])
def send_pending_messages(include_failed: bool = False) -> dict[str, int]:
    """Send every pending message and every retrying one that is due (failed ones when asked)."""
    summary = asyncio.run(
        mail.send_pending(
            engine=get_engine(), settings=get_settings(), include_failed=include_failed
        )
    )
    return _counts(summary)


@task(name="mail-report")
def mail_report(message_ids: list[str]) -> list[dict[str, str]]:
    """Rows of a stage's mail table artifact: role, masked address, subject, status, outbox id."""
    with session_scope() as session:
        rows = mail.mail_report(
            session=session, message_ids=[uuid.UUID(message_id) for message_id in message_ids]
        )
    return [row.as_table_row() for row in rows]


# No task retries: the operator's retry is audited once and its outcome shown as it is.
@task(name="retry-messages")
def retry_messages(message_ids: list[str], operator: str = "") -> dict[str, int]:
    """The operator's retry of the given messages (audited), one attempt each; counts by outcome."""
    retried, refused, summary = asyncio.run(
        deliveries.retry_and_send(
            engine=get_engine(),
            settings=get_settings(),
            message_ids=[uuid.UUID(message_id) for message_id in message_ids],
            actor=operator.strip() or "deployment:retry-deliveries",
            channel="deployment",
        )
    )
    return {**_counts(summary), "retried": len(retried), "refused": len(refused)}
