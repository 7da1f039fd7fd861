"""Tasks several stages share: the cycle, document statuses, participant notices."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect import get_run_logger

from models import Cycle, Document, Organization
from nastavnik import mail
from nastavnik.clock import process_clock
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from nastavnik.stages import document_links
from tasks.caching import run_cached_task


@run_cached_task(name="reference-day")
def reference_day() -> date:
    """The installation's day when the run first ran; the same when it resumes days later."""
    # The clock, not the run's creation time: a simulated year's runs are dated in its days.
    return process_clock().today()


def document_context(*, org: Organization, cycle: Cycle) -> dict[str, Any]:
    """The organisation and cycle as every document template expects them."""
    return {
        "organization": {
            "name": org.name,
            "short_name": org.short_name,
            "city": org.city,
            "director_name": org.director_name,
            "curator_name": org.curator_name,
        },
        "cycle": {"school_year": cycle.school_year},
    }


@run_cached_task(
    name="queue-notices",
    retries=2,
    retry_delay_seconds=[1, 5],
)
def queue_notices(
    *,
    cycle_id: str,
    flow_run_id: str,
    template: str,
    notices: list[dict[str, Any]],
    document_ids: list[str],
    attach: bool = True,
) -> list[str]:
    """Queue one templated e-mail per notice (keyed by its ``key``); returns outbox ids.

    Each notice carries ``key``, ``to``, ``recipient_name`` and its template's own fields;
    the organisation, cycle and document links are added here. Without ``attach`` the documents
    are only named (number and date): an order listing every pair names other people's children,
    so each participant is told their own pair and the order it was fixed by.
    """
    settings = get_settings()
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        docs = [session.get(Document, uuid.UUID(d)) for d in document_ids]
        links = document_links(base_url=settings.web_base_url, documents=[d for d in docs if d])
        if not attach:
            links = [{**link, "url": ""} for link in links]
        drafts = []
        for notice in notices:
            if not notice.get("to"):
                # By key only: a notice holds names (the recipient's, the pair's), and every
                # Prefect user reads the run's logs.
                get_run_logger().warning(
                    "%s notice %s has no address: not sent", template, notice.get("key")
                )
                continue
            drafts.append(
                mail.TemplatedMessage(
                    idempotency_key=f"{template}:{cycle_id}:{notice['key']}",
                    to_addr=notice["to"],
                    template=template,
                    context={"organization": org, "cycle": cycle, "documents": links, **notice},
                    recipient_role="",  # from the address
                    document_ids=tuple(document_ids) if attach else (),
                    flow_run_id=uuid.UUID(flow_run_id),
                )
            )
        queued = mail.enqueue_templated_many(session=session, messages=drafts)
    return [str(queued[draft.idempotency_key]) for draft in drafts]
