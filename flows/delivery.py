"""The operator's delivery flow: resend what the outbox could not deliver."""

from __future__ import annotations

from prefect import flow

from tasks.mail import send_pending_messages


@flow(name="retry-deliveries")
def retry_deliveries(include_failed: bool = False) -> dict[str, int]:
    """Send pending and retrying e-mails, and failed ones when the operator asks."""
    return send_pending_messages(include_failed=include_failed)
