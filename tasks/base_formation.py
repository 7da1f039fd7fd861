"""Tasks of the base-formation stage: import, consent check, registers."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from prefect import task

from models import Cycle, DocumentStatus, Organization, Role
from nastavnik import consents, documents, questionnaires, repository
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import get_settings
from tasks.approvals import PERSISTED


@task(name="resolve-cycle", retries=2, retry_delay_seconds=[1, 5], **PERSISTED)
def resolve_cycle(*, organization_code: str, school_year: str) -> str:
    """The id of the organisation's cycle for the school year (created on first use)."""
    with session_scope() as session:
        org = repository.get_organization(session=session, code=organization_code)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year=school_year
        )
        return str(cycle.id)


@task(name="import-questionnaires", retries=1, retry_delay_seconds=[5], **PERSISTED)
def import_questionnaires(
    *, cycle_id: str, mentee_files: list[str], mentor_files: list[str]
) -> list[dict[str, object]]:
    """Import every questionnaire file, one transaction each; returns the import reports."""
    settings = get_settings()
    reports = []
    for role, files in ((Role.mentee, mentee_files), (Role.mentor, mentor_files)):
        for name in files:
            try:
                report = questionnaires.import_file_transaction(
                    engine=get_engine(), cycle_id=uuid.UUID(cycle_id), path=Path(name),
                    role=role, max_bytes=settings.max_import_bytes,
                )
            except questionnaires.ImportFileError as error:
                reports.append({"file": Path(name).name, "role": role.value, "accepted": 0,
                                "updated": 0, "unchanged": 0, "consents": 0,
                                "errors": [{"Файл": Path(name).name, "Строка": "",
                                            "Поле": "", "Ошибка": str(error)}]})
                continue
            reports.append({"file": report.file, "role": role.value,
                            "accepted": report.accepted, "updated": report.updated,
                            "unchanged": report.unchanged,
                            "consents": report.consents_recorded,
                            "errors": report.as_rows()})
    return reports


@task(name="check-consents", retries=1, retry_delay_seconds=[5], **PERSISTED)
def check_consents(*, cycle_id: str, on: date) -> dict[str, object]:
    """Who may enter the registers on the date, and who is missing which consent."""
    with session_scope() as session:
        check = consents.check_consents(session=session, cycle_id=uuid.UUID(cycle_id), on=on)
        return {
            "eligible": len(check.eligible),
            "missing": [{"ФИО": m.full_name,
                         "Роль": "наставник" if m.role == Role.mentor else "наставляемый",
                         "Причина": m.reason} for m in check.missing],
        }


def _document_context(*, org: Organization, cycle: Cycle) -> dict[str, object]:
    return {
        "organization": {"name": org.name, "short_name": org.short_name, "city": org.city,
                         "director_name": org.director_name, "curator_name": org.curator_name},
        "cycle": {"school_year": cycle.school_year},
    }


@task(name="render-registers", retries=1, retry_delay_seconds=[5], **PERSISTED)
def render_registers(*, cycle_id: str, on: date, flow_run_id: str) -> list[str]:
    """Render the mentee and mentor registers and the missing-consents memo; returns ids."""
    settings = get_settings()
    ids = []
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        base = _document_context(org=org, cycle=cycle)
        check = consents.check_consents(session=session, cycle_id=cycle.id, on=on)
        specs = [
            ("register-mentees", "register", "Реестр наставляемых", "register_mentees.html",
             {"rows": consents.register_rows(session=session, cycle_id=cycle.id,
                                             role=Role.mentee, on=on)}),
            ("register-mentors", "register", "Реестр наставников", "register_mentors.html",
             {"rows": consents.register_rows(session=session, cycle_id=cycle.id,
                                             role=Role.mentor, on=on)}),
            ("consents-missing", "memo", "Справка об отсутствующих согласиях", "consents_missing.html",
             {"missing": check.missing}),
        ]
        for slug, doc_type, title, template, extra in specs:
            document = documents.issue_document(
                session=session, settings=settings,
                unique_key=f"base-formation:{flow_run_id}:{slug}",
                organization_id=org.id, cycle_id=cycle.id, doc_type=doc_type,
                title=f"{title} {cycle.school_year}", template=template,
                context={**base, **extra}, doc_date=on, flow_run_id=uuid.UUID(flow_run_id),
            )
            ids.append(str(document.id))
    return ids


@task(name="set-documents-status", retries=2, retry_delay_seconds=[1, 5])
def set_documents_status(*, document_ids: list[str], status: str) -> None:
    """Mark documents approved or rejected after the director's decision."""
    with session_scope() as session:
        for document_id in document_ids:
            documents.set_document_status(session=session, document_id=uuid.UUID(document_id),
                                          status=DocumentStatus(status))
