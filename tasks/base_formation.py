"""Tasks of the base-formation stage: import, consent check, registers."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models import Cycle, Organization, Role
from nastavnik import consents, cycle_lists, documents, questionnaires, repository
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.common import document_context


class ImportSummary(BaseModel):
    """One file's import outcome, as the flow shows it."""

    file: str
    role: str
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    consents: int = 0
    errors: list[dict[str, str | int]] = []
    ignored_columns: list[str] = []  # headers no field (or saved mapping) took


class ConsentSummary(BaseModel):
    """How many may enter the registers; those missing a consent counted per role and reason
    (the names are on the staff page at ``list_url``)."""

    eligible: int
    missing_count: int
    missing: list[dict[str, Any]]
    list_url: str


def _import_one(*, cycle_id: uuid.UUID, path: Path, role: Role) -> ImportSummary:
    try:
        report = questionnaires.import_file_transaction(
            engine=get_engine(),
            cycle_id=cycle_id,
            path=path,
            role=role,
            max_bytes=get_settings().max_import_bytes,
        )
    except questionnaires.ImportFileError as error:
        row: dict[str, str | int] = {
            "Файл": path.name,
            "Строка": "",
            "Поле": "",
            "Ошибка": cycle_lists.without_typed_values(str(error)),
        }
        return ImportSummary(file=path.name, role=role.value, errors=[row])
    return ImportSummary(
        file=report.file,
        role=role.value,
        accepted=report.accepted,
        updated=report.updated,
        unchanged=report.unchanged,
        consents=report.consents_recorded,
        ignored_columns=report.ignored_columns,
        # Shown in the run's artifact: the typed values stay out of the messages.
        errors=cycle_lists.rejected_rows_table(report.as_rows()),
    )


@run_cached_task(
    name="import-questionnaires",
    retries=1,
    retry_delay_seconds=[5],
)
def import_questionnaires(
    *, cycle_id: str, mentee_files: list[str], mentor_files: list[str], flow_run_id: str
) -> list[ImportSummary]:
    """Import every questionnaire file, one transaction each; returns the import reports."""
    summaries = []
    for role, files in ((Role.mentee, mentee_files), (Role.mentor, mentor_files)):
        for name in files:
            summary = _import_one(cycle_id=uuid.UUID(cycle_id), path=Path(name), role=role)
            summaries.append(summary)
            with session_scope() as session:
                repository.record_audit(
                    session=session,
                    actor="curator",
                    action="questionnaire.imported",
                    cycle_id=uuid.UUID(cycle_id),
                    flow_run_id=uuid.UUID(flow_run_id),
                    entity=f"file:{summary.file}",
                    details=summary.model_dump(exclude={"errors"})
                    | {"rejected_rows": len({e["Строка"] for e in summary.errors})},
                    event_key=f"questionnaire.imported:{flow_run_id}:{role.value}:{name}",
                )
    return summaries


@run_cached_task(
    name="check-consents",
    retries=1,
    retry_delay_seconds=[5],
)
def check_consents(*, cycle_id: str, on: date) -> ConsentSummary:
    """How many may enter the registers on the date; the missing consents counted."""
    with session_scope() as session:
        check = consents.check_consents(session=session, cycle_id=uuid.UUID(cycle_id), on=on)
        return ConsentSummary(
            eligible=len(check.eligible),
            missing_count=len(check.missing),
            missing=cycle_lists.consents_missing_table(check.missing),
            list_url=cycle_lists.list_url(
                web_base_url=get_settings().web_base_url, cycle_id=cycle_id, page="consents"
            ),
        )


@run_cached_task(
    name="render-registers",
    retries=1,
    retry_delay_seconds=[5],
)
def render_registers(*, cycle_id: str, on: date, flow_run_id: str) -> list[str]:
    """Render the mentee and mentor registers and the missing-consents memo; returns ids."""
    settings = get_settings()
    ids = []
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        base = document_context(org=org, cycle=cycle)
        check = consents.check_consents(session=session, cycle_id=cycle.id, on=on)
        specs: list[tuple[str, str, str, str, dict[str, Any]]] = [
            (
                "register-mentees",
                "register",
                "Реестр наставляемых",
                "register_mentees.html",
                {
                    "rows": consents.register_rows(
                        session=session, cycle_id=cycle.id, role=Role.mentee, on=on
                    )
                },
            ),
            (
                "register-mentors",
                "register",
                "Реестр наставников",
                "register_mentors.html",
                {
                    "rows": consents.register_rows(
                        session=session, cycle_id=cycle.id, role=Role.mentor, on=on
                    )
                },
            ),
            (
                "consents-missing",
                "memo",
                "Справка об отсутствующих согласиях",
                "consents_missing.html",
                {"missing": check.missing},
            ),
        ]
        for slug, doc_type, title, template, extra in specs:
            document = documents.issue_document(
                session=session,
                settings=settings,
                unique_key=f"base-formation:{flow_run_id}:{slug}",
                organization_id=org.id,
                cycle_id=cycle.id,
                doc_type=doc_type,
                title=f"{title} {cycle.school_year}",
                template=template,
                context={**base, **extra},
                doc_date=on,
                flow_run_id=uuid.UUID(flow_run_id),
            )
            ids.append(str(document.id))
    return ids
