"""The organisation's report to its department end to end (issue 10 §2): a real Prefect server and
runner, a real SMTP server. The run makes the report's PDF, suspends for the director, survives
a refused code (resumed from the top: no second document or e-mail), and on approval stores the
signed report in the department's table once — both are in this installation."""

from __future__ import annotations

import asyncio
import collections
import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import select

from deployments.prefect_api import resume_run
from models import (
    DocumentStatus,
    MentoringForm,
    MentorshipPair,
    Organization,
    PairMember,
    PairStatus,
    Participant,
    Person,
    ReportKind,
    ReportRequest,
    ReportSubmission,
    ReportTransport,
    Role,
)
from nastavnik import repository
from nastavnik.db import session_scope
from nastavnik.documents import document_file
from nastavnik.settings import get_settings
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack

pytestmark = pytest.mark.flows
SCHOOL = ORG | {
    "code": "school-2-report",
    "director_email": "director@report.example.ru",
    "curator_email": "curator@report.example.ru",
}
DEPARTMENT = {
    "code": "edu-report",
    "name": "Управление образования Кедровского округа",
    "short_name": "УО",
    "director_name": "Кедрова Елена Павловна",
    "director_email": "head@edu-report.example.ru",
    "curator_name": "Орлов Павел Андреевич",
    "curator_email": "methodist@edu-report.example.ru",
}
KEY = "edu-report:2026/2027:information:school-2-report"
DAY = date(2026, 11, 16)
CHILD = "Кузнецова Дарья Ильинична"


def _department_and_school() -> None:
    with session_scope() as session:
        department = repository.upsert_organization(session=session, **DEPARTMENT)
        department.kind = "department"
        school = repository.upsert_organization(session=session, **SCHOOL)
        school.department_id = department.id
        session.add_all([department, school])
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=school.id, school_year="2026/2027"
        )
        people = []
        for name, role in (("Громова Ирина Васильевна", Role.mentor), (CHILD, Role.mentee)):
            last, first, middle = name.split()
            person = Person(
                organization_id=school.id,
                person_key=name,
                last_name=last,
                first_name=first,
                middle_name=middle,
                email=f"{role.value}@report.example.ru",
            )
            session.add(person)
            session.flush()
            participant = Participant(
                cycle_id=cycle.id,
                person_id=person.id,
                role=role,
                form=MentoringForm.student_student,
            )
            session.add(participant)
            session.flush()
            people.append(participant.id)
        pair = MentorshipPair(
            cycle_id=cycle.id,
            mentor_id=people[0],
            form=MentoringForm.student_student,
            status=PairStatus.active,
            starts_on=date(2026, 10, 1),
            ends_on=date(2027, 5, 31),
        )
        session.add(pair)
        session.flush()
        session.add(PairMember(pair_id=pair.id, mentee_id=people[1]))
        department_cycle = repository.get_or_create_cycle(
            session=session, organization_id=department.id, school_year="2026/2027"
        )
        session.add(
            ReportRequest(
                unique_key=KEY,
                department_id=department.id,
                cycle_id=department_cycle.id,
                organization_id=school.id,
                kind=ReportKind.information,
                title="Информационный отчёт",
                school_year="2026/2027",
                requested_on=date(2026, 11, 1),
                due_on=date(2026, 11, 20),
            )
        )


def _submissions() -> list[ReportSubmission]:
    with session_scope() as session:
        return list(
            session.exec(
                select(ReportSubmission).join(ReportRequest).where(ReportRequest.unique_key == KEY)
            )
        )


def test_the_report_is_approved_and_stored_once_without_duplicates(
    flow_stack: FlowStack,
) -> None:
    _department_and_school()
    run_id = support.start(
        "organisation-report/organisation-report",
        organization_code=SCHOOL["code"],
        request_key=KEY,
        reference_date=DAY.isoformat(),
    )
    assert support.wait(run_id, "organisation-report-information-1") == "Suspended"
    [document] = support.documents(run_id)
    assert document.status == DocumentStatus.draft
    assert document.title == (
        "Отчёт о реализации целевой модели наставничества (информационный отчёт)"
    )
    pdf = document_file(settings=get_settings(), document=document).read_bytes()
    text = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split()
    )
    assert "Наставляемых, закреплённых за наставником 1 (100 %)" in text
    assert "Кузнецова" not in text and "Дарья" not in text
    assert _submissions() == []

    # A wrong code is refused: the run waits again, resumed from the top, nothing repeats.
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": "approve",
                "approval_code": "not-a-code",
                "approver_name": SCHOOL["director_name"],
                "comment": "",
            },
        )
    )
    assert support.wait(run_id, "organisation-report-information-2") == "Suspended"
    support.answer(run_id, "organisation-report-information")
    assert support.wait(run_id) == "Completed"

    [document] = support.documents(run_id)
    assert document.status == DocumentStatus.approved
    [submission] = _submissions()
    assert submission.transport == ReportTransport.database
    assert submission.payload["approved_by"] == ORG["director_name"]
    assert submission.payload["figures"]["organization_code"] == SCHOOL["code"]
    assert CHILD.split()[0] not in str(submission.payload)
    with session_scope() as session:
        school = repository.get_organization(session=session, code=SCHOOL["code"])
        assert submission.organization_id == school.id
        assert session.get(Organization, school.department_id) is not None
    received = collections.Counter(
        address
        for message in flow_stack.sink.messages
        for address in message.rcpt_tos
        if address.endswith("report.example.ru")
    )
    # The director's request once, the curator's decision notice once; nobody else.
    assert received == {SCHOOL["director_email"]: 1, SCHOOL["curator_email"]: 1}
    tables = [a for a in support.artifacts(run_id) if a.type == "table"]
    assert tables and all("Кузнецова" not in str(a.data) for a in tables)


def test_the_members_tick_starts_the_report_run_once(flow_stack: FlowStack) -> None:
    """The member organisation's daily tick starts one named, tagged organisation-report run per
    unanswered request; the same day's second tick hands back the same run."""
    from pathlib import Path

    from deployments.prefect_api import read_run, start_deployment
    from models import AuditEvent
    from nastavnik import plan
    from nastavnik.report_envelope import RUN_STARTED

    code, key = "school-2-tick-report", "edu-report:2026/2027:information:school-2-tick-report"
    roadmap = Path(__file__).resolve().parents[2] / "roadmaps" / "demo_school3_kedrovy.yaml"
    with session_scope() as session:
        department = repository.upsert_organization(
            session=session, **{**DEPARTMENT, "director_email": "head@edu-tick.example.ru"}
        )
        school = repository.upsert_organization(
            session=session,
            **{
                **SCHOOL,
                "code": code,
                "director_email": "director@tick.example.ru",
                "curator_email": "curator@tick.example.ru",
            },
        )
        school.department_id = department.id
        session.add(school)
        cycle_id = plan.start_cycle(
            session=session,
            organization_id=school.id,
            school_year="2026/2027",
            roadmap_path=roadmap,
        ).id
        # Only the report is due here: every roadmap row is set aside.
        for item in plan.plan_items(session=session, cycle_id=cycle_id):
            plan.skip_item(
                session=session,
                item_id=item.id,
                today=date(2026, 9, 1),
                actor="curator",
                reason="не в этом тесте",
            )
        department_cycle = repository.get_or_create_cycle(
            session=session, organization_id=department.id, school_year="2026/2027"
        )
        session.add(
            ReportRequest(
                unique_key=key,
                department_id=department.id,
                cycle_id=department_cycle.id,
                organization_id=school.id,
                kind=ReportKind.information,
                title="Информационный отчёт",
                school_year="2026/2027",
                requested_on=date(2026, 11, 1),
                due_on=date(2026, 11, 20),
            )
        )

    def tick() -> None:
        run_id = asyncio.run(
            start_deployment(
                "cycle-tick/cycle-tick", {"day": DAY.isoformat(), "organization_code": code}
            )
        )
        assert support.wait(run_id) == "Completed"

    def started() -> list[AuditEvent]:
        with session_scope() as session:
            return list(
                session.exec(
                    select(AuditEvent).where(
                        AuditEvent.action == RUN_STARTED,
                        AuditEvent.entity == f"report-request:{key}",
                    )
                )
            )

    tick()
    [event] = started()
    report_run = asyncio.run(read_run(event.flow_run_id))  # type: ignore[arg-type]
    assert report_run.name == f"{code} · 2026/2027 · organisation-report"
    assert set(report_run.tags) >= {code, "2026/2027", "organisation-report"}
    assert report_run.parameters["params"]["request_key"] == key
    tick()
    assert [e.flow_run_id for e in started()] == [event.flow_run_id]
    assert support.wait(event.flow_run_id, "organisation-report-information-1") == "Suspended"  # type: ignore[arg-type]
