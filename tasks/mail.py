"""Delivery of queued e-mails."""

from __future__ import annotations

import asyncio
import uuid

from prefect import task

from nastavnik import mail
from nastavnik.db import get_engine
from nastavnik.settings import get_settings


async def _deliver_all(message_ids: list[str]) -> dict[str, int]:
    settings, engine = get_settings(), get_engine()
    counts: dict[str, int] = {}
    for message_id in message_ids:
        message = await mail.deliver_message(
            engine=engine, settings=settings, message_id=uuid.UUID(message_id)
        )
        counts[message.status.value] = counts.get(message.status.value, 0) + 1
    return counts


@task(name="deliver-messages", retries=2, retry_delay_seconds=[5, 30])
def deliver_messages(message_ids: list[str]) -> dict[str, int]:
    """Send the given outbox messages (each at most once); returns counts by status."""
    # Transient SMTP failures are retried with backoff inside the core; what is still
    # undelivered afterwards waits for the retry-deliveries flow instead of failing the stage.
    return asyncio.run(_deliver_all(message_ids))


@task(name="send-pending-messages", retries=1, retry_delay_seconds=[30])
def send_pending_messages(include_failed: bool = False) -> dict[str, int]:
    """Send everything waiting in the outbox (and failed messages when asked)."""
    summary = asyncio.run(
        mail.send_pending(
            engine=get_engine(), settings=get_settings(), include_failed=include_failed
        )
    )
    return {"sent": summary.sent, "failed": summary.failed, "retrying": summary.retrying}
