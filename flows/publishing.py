"""Documents as Prefect artifacts: a link per document and a markdown summary."""

from __future__ import annotations

import uuid

from prefect.artifacts import create_link_artifact, create_markdown_artifact

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
