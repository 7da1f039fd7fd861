"""Training (обучение наставников) as a deployed stage flow."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.approvals import request_approval, settle_decision
from flows.publishing import finish_stage, start_stage
from models import Decision
from tasks.common import queue_notices
from tasks.mail import deliver_messages
from tasks.publishing import LIST_NOTE, publish_documents, publish_table
from tasks.training import (
    appoint_mentors,
    decide_admissions,
    import_attendance,
    invitations,
    render_mentors_order,
    schedule_training,
    select_mentors,
)

STAGE = "training"


class TrainingParams(BaseModel):
    """What the curator gives when starting the training stage."""

    organization_code: str = Field(description="Код организации")
    school_year: str = Field(description="Учебный год, например 2026/2027")
    attendance_files: list[str] = Field(
        default_factory=list,
        description="Посещаемость (CSV/XLSX); без файлов этап ждёт отметки куратора",
    )
    min_mandatory_share: float = Field(
        default=1.0, description="Доля обязательных занятий для допуска (1.0 — все)"
    )
    reference_date: date | None = Field(default=None, description="Дата документов")


@flow(name=STAGE)
def training(params: TrainingParams) -> str:
    """Select mentors, train them, admit them, and have the director appoint them by order."""
    return finish_stage(training_steps(params))


def training_steps(params: TrainingParams) -> str:
    """The stage's steps; returns the last decision."""
    logger = get_run_logger()
    flow_run_id, on, cycle_id = start_stage(
        stage=STAGE,
        organization_code=params.organization_code,
        school_year=params.school_year,
        reference_date=params.reference_date,
    )

    selection = select_mentors(cycle_id=cycle_id, on=on)
    publish_table(
        key="training-demand",
        table=selection.demand,
        description="Потребность в наставниках по формам",
    )
    publish_table(
        key="training-selected",
        table=selection.selected,
        description=f"Отобраны для обучения, по формам. {LIST_NOTE}{selection.list_url}",
    )
    sessions = schedule_training(cycle_id=cycle_id)
    notices = [n | {"sessions": sessions} for n in invitations(cycle_id=cycle_id)]
    deliver_messages(
        queue_notices(
            cycle_id=cycle_id,
            flow_run_id=flow_run_id,
            template="training_invitation",
            notices=notices,
            document_ids=[],
        )
    )

    if params.attendance_files:
        errors = import_attendance(cycle_id=cycle_id, files=params.attendance_files)
        if errors:
            publish_table(
                key="attendance-errors", table=errors, description="Отклонённые строки посещаемости"
            )
    else:
        held = request_approval(
            cycle_id=cycle_id,
            stage=STAGE,
            approval_key="training-attendance",
            role="curator",
            title="Обучение наставников: отметьте посещаемость",
            summary=(
                f"Отобрано для обучения: {selection.selected_count}. После занятий "
                "внесите посещаемость (nastavnik attendance …) и подтвердите."
            ),
            document_ids=[],
        )
        if held.decision != Decision.approve:
            # Free text may name a child: it stays in the approval record, out of Prefect's logs.
            logger.warning("Training stopped by the curator (comment in the approval record)")
            return held.decision.value

    admissions = decide_admissions(
        cycle_id=cycle_id, min_mandatory_share=params.min_mandatory_share
    )
    publish_table(
        key="training-results",
        table=admissions.rows,
        description=f"Результаты обучения, по формам. {LIST_NOTE}{admissions.list_url}",
    )
    order_id = render_mentors_order(cycle_id=cycle_id, on=on, flow_run_id=flow_run_id)
    publish_documents([order_id], key="training-documents")
    outcome = request_approval(
        cycle_id=cycle_id,
        stage=STAGE,
        approval_key="training-order",
        title=f"Приказ о назначении наставников на {params.school_year} учебный год",
        summary=(
            "Допущено к наставничеству по итогам обучения: "
            f"{admissions.admitted} из {admissions.selected}."
        ),
        document_ids=[order_id],
    )
    appointment_notices: list[str] = []
    if outcome.approved:
        appointed = appoint_mentors(cycle_id=cycle_id, on=on)
        appointment_notices = queue_notices(
            cycle_id=cycle_id,
            flow_run_id=flow_run_id,
            template="mentor_appointed",
            notices=appointed,
            document_ids=[order_id],
        )
    settle_decision(outcome, notices=appointment_notices)
    return outcome.decision.value
