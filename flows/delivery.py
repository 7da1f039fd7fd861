"""The scheduled delivery flow: send what the outbox has due, every minute."""

from __future__ import annotations

from prefect import flow

from tasks.mail import retry_messages, send_pending_messages


@flow(name="retry-deliveries")
def retry_deliveries(
    include_failed: bool = False, message_ids: list[str] | None = None, operator: str = ""
) -> dict[str, int]:
    """Send pending e-mails and retrying ones whose next attempt is due (failed ones when asked);
    with message_ids, the operator's retry of just those messages (audited, never sent twice)."""
    if message_ids:
        return retry_messages(message_ids, operator=operator)
    return send_pending_messages(include_failed=include_failed)
