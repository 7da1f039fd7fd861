"""Delivery of queued e-mails."""

from __future__ import annotations

import uuid

from prefect import task

from models import OutboxStatus
from nastavnik import mail
from nastavnik.db import get_engine
from nastavnik.settings import get_settings


@task(name="deliver-messages", retries=2, retry_delay_seconds=[5, 30])
async def deliver_messages(message_ids: list[str]) -> dict[str, int]:
    """Send the given outbox messages (each at most once); returns counts by status."""
    settings = get_settings()
    counts: dict[str, int] = {}
    for message_id in message_ids:
        message = await mail.deliver_message(
            engine=get_engine(), settings=settings, message_id=uuid.UUID(message_id)
        )
        counts[message.status.value] = counts.get(message.status.value, 0) + 1
    return counts


@task(name="send-pending-messages", retries=1, retry_delay_seconds=[30])
async def send_pending_messages(include_failed: bool = False) -> dict[str, int]:
    """Send everything waiting in the outbox (and failed messages when asked)."""
    summary = await mail.send_pending(
        engine=get_engine(), settings=get_settings(), include_failed=include_failed
    )
    return {status.value: getattr(summary, status.value, 0)
            for status in (OutboxStatus.sent, OutboxStatus.failed, OutboxStatus.retrying)}
