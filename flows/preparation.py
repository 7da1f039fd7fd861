"""Preparation (подготовка: приказы, положение, дорожная карта) as a deployed stage flow."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import Decision
from nastavnik.stages import PREPARATION_APPROVAL
from tasks.preparation import render_preparation_documents
from tasks.publishing import publish_documents, publish_table

STAGE = "preparation"


class PreparationParams(BaseModel):
    """What the curator gives when starting the preparation stage."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    roadmap_file: str = Field(description="Дорожная карта организации (YAML, docs/roadmaps.md)")
    reference_date: date | None = Field(default=None, description="Дата приказов")


@flow(name=STAGE)
def preparation(params: PreparationParams) -> str:
    """Orders, the regulation from the organisation's policy and the roadmap, for the director."""
    return finish_stage(preparation_steps(params))


def preparation_steps(params: PreparationParams) -> str:
    """The stage's steps; returns the decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )
    rendered = render_preparation_documents(
        cycle_id=cycle_id, on=on, flow_run_id=flow_run_id, roadmap_file=params.roadmap_file
    )
    publish_table(
        key="preparation-policy",
        table=rendered.policy_table,
        description="Политика организации: по ней напечатано Положение",
    )
    publish_table(
        key="preparation-roadmap",
        table=rendered.roadmap_table,
        description="Дорожная карта (приложение к Положению и к приказу)",
    )
    publish_documents(rendered.document_ids, key="preparation-documents")

    outcome = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key=PREPARATION_APPROVAL,
        title=(
            f"Приказы о внедрении целевой модели наставничества на {params.school_year} учебный год"
        ),
        summary=(
            "Приказы: о внедрении целевой модели наставничества, об утверждении положения, "
            "о назначении куратора, об утверждении дорожной карты; Положение о наставничестве "
            f"(формы: {', '.join(rendered.forms)}); мероприятий в дорожной карте: "
            f"{len(rendered.roadmap_table)}."
        ),
        document_ids=rendered.document_ids,
    )
    settle_decision(outcome)
    if outcome.decision == Decision.approve:
        logger.info("Preparation documents approved by %s", outcome.approver_name)
    else:
        logger.warning(
            "Preparation documents not approved (%s): %s — change the policy or the roadmap "
            "(nastavnik policy set …) and run the stage again",
            outcome.decision.value,
            outcome.comment,
        )
    return outcome.decision.value
