"""Artifacts of a stage run: tables and documents, made once per run.

A resumed run starts again from the top, and a keyed artifact gets a new version each time it
is created: made by steps kept for the run (tasks.caching.run_once), each artifact is created
once, without a task run of its own (the artifacts are the flow's).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from models import Document
from nastavnik import documents, mail
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_once

# Before the link to a staff page (nastavnik.cycle_lists) in a table artifact's description: the
# artifact shows counts, the page lists the people to the curator and director, signed in.
LIST_NOTE = "Список с ФИО (вход для куратора и директора): "


# In a batch run, the organisation whose artifacts are being made (flows/publishing.py sets it):
# its code goes before each key and description, so one run's artifacts tell them apart.
ARTIFACT_OWNER: ContextVar[str] = ContextVar("nastavnik_artifact_owner", default="")


def owned(key: str, description: str) -> tuple[str, str]:
    """The artifact's key and description, with the batch member's organisation if any."""
    owner = ARTIFACT_OWNER.get()
    if not owner:
        return key, description
    slug = re.sub(r"[^a-z0-9-]+", "-", owner.lower()).strip("-")
    return f"{slug}-{key}", f"{owner}: {description}"


def publish_table(*, key: str, table: list[dict[str, Any]], description: str) -> None:
    """A table artifact of the run (once per run, owner and content)."""
    key, description = owned(key, description)
    _publish_table(key=key, table=table, description=description)


@run_once
def _publish_table(*, key: str, table: list[dict[str, Any]], description: str) -> None:
    create_table_artifact(key=key, table=table, description=description)


def publish_documents(document_ids: list[str], *, key: str) -> None:
    """The documents' artifacts (once per run, owner and documents)."""
    key, description = owned(key, "Документы этапа")
    _publish_documents(document_ids, key=key, description=description)


@run_once
def _publish_documents(document_ids: list[str], *, key: str, description: str) -> None:
    """A link artifact per document of the organisation (orders, registers, memos) and one
    summary table; per-person documents (consent forms, programmes) only in the table, by
    number, since every Prefect user sees artifacts and their titles name people."""
    base_url = get_settings().web_base_url.rstrip("/")
    lines = ["| Документ | Номер | Дата | Статус |", "|---|---|---|---|"]
    with session_scope() as session:
        for document_id in document_ids:
            document = session.get(Document, uuid.UUID(document_id))
            assert document is not None
            url = f"{base_url}/documents/{document.id}.pdf"
            title = documents.public_title(document)
            if not documents.names_people(document):
                create_link_artifact(
                    link=url, link_text=f"{title} {document.label}", description=title
                )
            lines.append(
                f"| [{title}]({url}) | {document.label} | "
                f"{document.doc_date:%d.%m.%Y} | {document.status.value} |"
            )
    create_markdown_artifact(markdown="\n".join(lines), key=key, description=description)


@run_once
def publish_mails(*, flow_run_ids: list[str]) -> int:
    """The table of the e-mails the run queued (role, masked address, subject, status, id);
    a batch run's are its organisations' member runs'."""
    with session_scope() as session:
        ids = [
            message_id
            for run_id in flow_run_ids
            for message_id in mail.run_message_ids(session=session, flow_run_id=uuid.UUID(run_id))
        ]
        rows = [row.as_table_row() for row in mail.mail_report(session=session, message_ids=ids)]
    create_table_artifact(key="stage-mail", table=rows, description="Письма этапа")
    return len(rows)


def publish_markdown(*, key: str, markdown: str, description: str) -> None:
    """A markdown artifact of the run (once per run, owner and content)."""
    key, description = owned(key, description)
    _publish_markdown(key=key, markdown=markdown, description=description)


@run_once
def _publish_markdown(*, key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(markdown=markdown, key=key, description=description)
