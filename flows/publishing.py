"""What every stage flow shares: documents as artifacts, the run's reference day."""

from __future__ import annotations

import uuid
from datetime import date

from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.context import get_run_context

from models import Document
from nastavnik.db import session_scope
from nastavnik.settings import get_settings


def publish_documents(document_ids: list[str], *, key: str) -> None:
    """Emit a link artifact per document (served by the web endpoint) and one summary table."""
    base_url = get_settings().web_base_url.rstrip("/")
    lines = ["| Документ | Номер | Дата | Статус |", "|---|---|---|---|"]
    with session_scope() as session:
        for document_id in document_ids:
            document = session.get(Document, uuid.UUID(document_id))
            assert document is not None
            url = f"{base_url}/documents/{document.id}.pdf"
            create_link_artifact(
                link=url, link_text=f"{document.title} {document.label}", description=document.title
            )
            lines.append(
                f"| [{document.title}]({url}) | {document.label} | "
                f"{document.doc_date:%d.%m.%Y} | {document.status.value} |"
            )
    create_markdown_artifact(markdown="\n".join(lines), key=key, description="Документы этапа")


def run_day() -> date:
    """The day the run was created: stays the same when a resumed run starts again days later."""
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    assert flow_run is not None
    moment = flow_run.created or flow_run.expected_start_time
    return moment.date() if moment else date.today()
