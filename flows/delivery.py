"""The scheduled delivery flow: send what the outbox has due, every minute."""

from __future__ import annotations

from prefect import flow

from tasks.mail import send_pending_messages


@flow(name="retry-deliveries")
def retry_deliveries(include_failed: bool = False) -> dict[str, int]:
    """Send pending e-mails and retrying ones whose next attempt is due (failed ones when asked)."""
    return send_pending_messages(include_failed=include_failed)
