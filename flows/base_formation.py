"""Base formation (формирование базы наставляемых и наставников) as a deployed stage flow."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import Decision
from tasks.base_formation import check_consents, import_questionnaires, render_registers
from tasks.publishing import LIST_NOTE, publish_documents, publish_table

STAGE = "base-formation"


class BaseFormationParams(BaseModel):
    """What the curator gives when starting base formation."""

    organization_code: str = Field(description="Код организации, например school-7")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    mentee_files: list[str] = Field(default_factory=list, description="Анкеты наставляемых")
    mentor_files: list[str] = Field(default_factory=list, description="Анкеты наставников")
    reference_date: date | None = Field(
        default=None, description="Дата проверки согласий и дата документов (по умолчанию сегодня)"
    )


@flow(name=STAGE, log_prints=False)
def base_formation(params: BaseFormationParams) -> str:
    """Import questionnaires, check consents, render registers, get the director's decision."""
    return finish_stage(base_formation_steps(params))


def base_formation_steps(params: BaseFormationParams) -> str:
    """The stage's steps; returns the last decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    reports = import_questionnaires(
        cycle_id=cycle_id,
        mentee_files=params.mentee_files,
        mentor_files=params.mentor_files,
        flow_run_id=flow_run_id,
    )
    publish_table(
        key="questionnaire-import",
        table=[
            {
                "Файл": r.file,
                "Роль": r.role,
                "Принято": r.accepted,
                "Обновлено": r.updated,
                "Без изменений": r.unchanged,
                "Отклонено строк": len({e["Строка"] for e in r.errors}),
                "Не импортированы столбцы": ", ".join(r.ignored_columns),
            }
            for r in reports
        ],
        description="Импорт анкет",
    )
    errors = [e for r in reports for e in r.errors]
    rejected_rows = len({(e["Файл"], e["Строка"]) for e in errors})
    if errors:
        publish_table(
            key="questionnaire-errors", table=errors, description="Отклонённые строки анкет"
        )
    consent_check = check_consents(cycle_id=cycle_id, on=on)
    if consent_check.missing:
        publish_table(
            key="consents-missing",
            table=consent_check.missing,
            description=(
                "Нет необходимых согласий: в реестры не включены. "
                f"{LIST_NOTE}{consent_check.list_url}"
            ),
        )
    document_ids = render_registers(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id)
    publish_documents(document_ids, key="base-formation-documents")

    outcome = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key="base-formation-registers",
        title=f"Реестры наставляемых и наставников на {params.school_year} учебный год",
        summary=(
            f"В реестры включено участников: {consent_check.eligible}; "
            f"не включено из-за согласий: {consent_check.missing_count}; "
            f"отклонено строк анкет: {rejected_rows}."
        ),
        document_ids=document_ids,
    )
    settle_decision(outcome)
    if outcome.decision == Decision.approve:
        logger.info("Registers approved by %s", outcome.approver_name)
    else:
        logger.warning(
            "Registers not approved (%s): %s — correct the data and run the stage again",
            outcome.decision.value,
            outcome.comment,
        )
    return outcome.decision.value
