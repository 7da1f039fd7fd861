"""Tasks of the training stage: selection, sessions, attendance, admissions, the order."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlmodel import select

from models import (
    Cycle,
    MentorAdmission,
    Organization,
    Participant,
    Person,
)
from nastavnik import cycle_lists, documents, policy, training
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.common import document_context


class SelectionSummary(BaseModel):
    """Demand per form and who was selected for training."""

    demand: list[dict[str, Any]]
    selected_count: int
    # Counted per form for the run's artifact; the names are on the staff page at list_url.
    selected: list[dict[str, Any]]
    not_selected: int
    list_url: str


@run_cached_task(
    name="select-mentors",
    retries=1,
    retry_delay_seconds=[5],
)
def select_mentors(*, cycle_id: str, on: date) -> SelectionSummary:
    """Pick mentors from the approved register against this year's requests."""
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        rules = policy.get_policy(session=session, organization_id=cycle.organization_id)
        result = training.select_mentors(
            session=session,
            cycle_id=cycle.id,
            on=on,
            max_mentees_per_mentor=rules.max_mentees_per_mentor,
        )
        return SelectionSummary(
            demand=[
                {
                    "Форма": d.form.value,
                    "Наставляемых": d.mentees,
                    "Нужно наставников": d.mentors_needed,
                    "В реестре": d.mentors_available,
                }
                for d in result.demand
            ],
            selected_count=len(result.selected),
            selected=cycle_lists.selected_mentors_table(result.selected),
            not_selected=len(result.not_selected),
            list_url=cycle_lists.list_url(
                web_base_url=get_settings().web_base_url, cycle_id=cycle_id, page="mentors"
            ),
        )


@run_cached_task(
    name="schedule-training",
    retries=1,
    retry_delay_seconds=[5],
)
def schedule_training(*, cycle_id: str) -> list[dict[str, Any]]:
    """Schedule the default sessions (kept if the curator already scheduled them)."""
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        sessions = training.schedule_sessions(
            session=session,
            cycle_id=cycle.id,
            sessions=training.default_sessions(school_year=cycle.school_year),
        )
        return [
            {"code": s.code, "title": s.title, "held_on": s.held_on, "mandatory": s.mandatory}
            for s in sessions
        ]


@run_cached_task(
    name="invitations",
    retries=1,
    retry_delay_seconds=[5],
)
def invitations(*, cycle_id: str) -> list[dict[str, Any]]:
    """One invitation notice per selected mentor."""
    with session_scope() as session:
        rows = session.exec(
            select(MentorAdmission, Participant, Person)
            .join(Participant, Participant.id == MentorAdmission.participant_id)  # type: ignore[arg-type]
            .join(Person, Person.id == Participant.person_id)  # type: ignore[arg-type]
            .where(MentorAdmission.cycle_id == uuid.UUID(cycle_id), MentorAdmission.selected)
        ).all()
        return [
            {
                "key": str(participant.id),
                "to": person.email,
                "recipient_name": f"{person.first_name} {person.middle_name}".strip(),
                "form": participant.form.value,
            }
            for _, participant, person in rows
        ]


@run_cached_task(
    name="import-attendance",
    retries=1,
    retry_delay_seconds=[5],
)
def import_attendance(*, cycle_id: str, files: list[str]) -> list[dict[str, str | int]]:
    """Import attendance files, one transaction each; returns the rejected rows."""
    errors: list[dict[str, str | int]] = []
    for name in files:
        report = training.import_attendance_transaction(
            engine=get_engine(),
            cycle_id=uuid.UUID(cycle_id),
            path=Path(name),
            max_bytes=get_settings().max_import_bytes,
        )
        # Shown in the run's artifact: the typed names and addresses stay out of the messages.
        errors.extend(cycle_lists.rejected_rows_table(report.as_rows()))
    return errors


class AdmissionsSummary(BaseModel):
    """The training results counted per form, as the order's request summarises them (the names
    are on the staff page at list_url)."""

    rows: list[dict[str, Any]]
    list_url: str
    selected: int
    admitted: int


@run_cached_task(
    name="decide-admissions",
    retries=1,
    retry_delay_seconds=[5],
)
def decide_admissions(*, cycle_id: str, min_mandatory_share: float) -> AdmissionsSummary:
    """Admit the selected mentors who attended enough mandatory sessions."""
    with session_scope() as session:
        rows = [
            row
            for row in training.decide_admissions(
                session=session,
                cycle_id=uuid.UUID(cycle_id),
                min_mandatory_share=min_mandatory_share,
            )
            if row.selected
        ]
        return AdmissionsSummary(
            rows=cycle_lists.admissions_table(rows),
            list_url=cycle_lists.list_url(
                web_base_url=get_settings().web_base_url, cycle_id=cycle_id, page="mentors"
            ),
            selected=len(rows),
            admitted=sum(1 for r in rows if r.admitted),
        )


@run_cached_task(
    name="render-mentors-order",
    retries=1,
    retry_delay_seconds=[5],
)
def render_mentors_order(*, cycle_id: str, on: date, flow_run_id: str) -> str:
    """The order appointing the admitted mentors; returns the document id."""
    with session_scope() as session:
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        org = session.get(Organization, cycle.organization_id)
        assert org is not None
        admitted = [
            r for r in training.admission_rows(session=session, cycle_id=cycle.id) if r.admitted
        ]
        mentors = [
            {
                "number": number,
                "full_name": r.full_name,
                "position": r.position,
                "form": r.form,
                "training_result": r.training_result,
            }
            for number, r in enumerate(admitted, start=1)
        ]
        document = documents.issue_document(
            session=session,
            settings=get_settings(),
            unique_key=f"training:{flow_run_id}:order-mentors",
            organization_id=org.id,
            cycle_id=cycle.id,
            doc_type="order",
            title=f"Приказ о назначении наставников на {cycle.school_year} учебный год",
            template="order_mentors.html",
            context={
                **document_context(org=org, cycle=cycle),
                "mentors": mentors,
                "curator_name_appointed": "",
                "order_date": on,
            },
            doc_date=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return str(document.id)


# Kept for the run: a later pause's replay (in a batch run, every member's) does not do it again.
@run_cached_task(name="appoint-mentors", retries=2, retry_delay_seconds=[1, 5])
def appoint_mentors(*, cycle_id: str, on: date) -> list[dict[str, Any]]:
    """Date the appointment of the admitted mentors; returns their notices."""
    with session_scope() as session:
        training.mark_appointed(session=session, cycle_id=uuid.UUID(cycle_id), on=on)
        ids = training.admitted_mentor_ids(session=session, cycle_id=uuid.UUID(cycle_id))
        notices = []
        for participant_id in ids:
            participant = session.get(Participant, participant_id)
            assert participant is not None
            person = session.get(Person, participant.person_id)
            assert person is not None
            notices.append(
                {
                    "key": str(participant.id),
                    "to": person.email,
                    "recipient_name": f"{person.first_name} {person.middle_name}".strip(),
                    "form": participant.form.value,
                }
            )
        return notices
