"""The completion stage end to end: a real Prefect server and runner, a real SMTP server.

Regulation §2.13–§2.14: the reports within 10 days of the end; §3.1: the director approves
them. The run makes the reports' PDF, «Справка по результатам оценки и обратной связи» with its
charts, «Справка по результатам самодиагностики» and the order on the year's results, suspends
for the director, survives a refused code (resumed from the top: no second document or e-mail),
and marks the reports approved.
"""

from __future__ import annotations

import asyncio
import collections
import io
import uuid
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlmodel import select

from deployments.prefect_api import resume_run
from models import (
    CompletionReport,
    DocumentStatus,
    MentoringForm,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    Role,
)
from nastavnik import completion, repository
from nastavnik.db import session_scope
from nastavnik.documents import document_file
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack

pytestmark = pytest.mark.flows
COMPLETION_ORG = ORG | {
    "code": "school-2-completion",
    "director_email": "director@completion.example.ru",
    "curator_email": "curator@completion.example.ru",
}
DAY = date(2027, 6, 15)
SCALES = {"satisfaction_programme": "9", "satisfaction_pair": "9", "expectations_met": "8"}


def _person(session, org_id, cycle_id, name: str, role: Role) -> uuid.UUID:
    last, first, middle = name.split()
    person = Person(
        organization_id=org_id,
        person_key=name,
        last_name=last,
        first_name=first,
        middle_name=middle,
        email=f"{abs(hash(name)) % 10**8}@completion.example.ru",
    )
    session.add(person)
    session.flush()
    participant = Participant(
        cycle_id=cycle_id, person_id=person.id, role=role, form=MentoringForm.student_student
    )
    session.add(participant)
    session.flush()
    return participant.id


def _school() -> uuid.UUID:
    """Two finished pairs: one ended on its date with both reports in, one ended by order."""
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **COMPLETION_ORG)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        mentor = _person(session, org.id, cycle.id, "Лебедев Максим Олегович", Role.mentor)
        ids = []
        for mentee_name, status, ends_on in (
            ("Кузнецова Дарья Ильинична", PairStatus.ended, date(2027, 5, 31)),
            ("Соколов Артём Андреевич", PairStatus.terminated, date(2027, 2, 15)),
        ):
            mentee = _person(session, org.id, cycle.id, mentee_name, Role.mentee)
            pair = MentorshipPair(
                cycle_id=cycle.id,
                mentor_id=mentor,
                form=MentoringForm.student_student,
                status=status,
                starts_on=date(2026, 10, 1),
                ends_on=ends_on,
            )
            session.add(pair)
            session.flush()
            session.add(PairMember(pair_id=pair.id, mentee_id=mentee))
            ids.append((pair.id, mentee))
        (ended, mentee), _ = ids
        for participant_id, values in (
            (
                mentor,
                {**SCALES, "usefulness": "9", "plan_fulfilment": "full", "results": "Освоено"},
            ),
            (mentee, {**SCALES, "usefulness": "10", "mentor_rating": "10"}),
        ):
            completion.submit_report(
                session=session,
                pair_id=ended,
                participant_id=participant_id,
                values=values,
                today=date(2027, 6, 4),
                now=datetime(2027, 6, 4, 9, tzinfo=UTC),
                source="link",
            )
        return cycle.id


def _text(document) -> str:
    from nastavnik.settings import get_settings

    pdf = document_file(settings=get_settings(), document=document).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_the_completion_stage_end_to_end_without_duplicates(flow_stack: FlowStack) -> None:
    cycle_id = _school()
    # Completion follows the pairs' personal programmes, approved in the pairing stage.
    support.approved_earlier(
        cycle_id, stage="pairing", approval_key="programmes-approval", document_ids=[]
    )
    run_id = support.start(
        "completion/completion",
        organization_code=COMPLETION_ORG["code"],
        reference_date=DAY.isoformat(),
    )
    assert support.wait(run_id, "completion-reports-1") == "Suspended"
    made = {d.title: d for d in support.documents(run_id)}
    assert sorted(made) == [
        "Отчёты по завершении наставничества",
        "Приказ об итогах реализации программы наставничества",
        "Справка по результатам оценки и обратной связи",
        "Справка по результатам самодиагностики",
    ]
    assert {d.status for d in made.values()} == {DocumentStatus.draft}
    memo = _text(made["Справка по результатам оценки и обратной связи"])
    assert "Справка по результатам оценки и обратной связи" in memo
    assert "Диаграмма 1. Показатели программы наставничества" in memo
    assert "Кузнецова" not in memo  # no mentee in the memo
    reports = _text(made["Отчёты по завершении наставничества"])
    assert "Лебедев Максим Олегович — Кузнецова Дарья Ильинична" in reports
    assert "Отчёт не сдан." in reports  # the pair ended by order
    order = _text(made["Приказ об итогах реализации программы наставничества"])
    assert "Об итогах реализации программы наставничества" in order
    assert "досрочно по приказу (п. 2.10)" in order and "сдано 2 из 4" in order
    (request_mail,) = flow_stack.mail_to(COMPLETION_ORG["director_email"])
    assert "Отчёты по завершении наставничества" in request_mail["Subject"]

    # A wrong code is refused: the run waits again, resumed from the top, nothing repeats.
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": "approve",
                "approval_code": "not-a-code",
                "approver_name": ORG["director_name"],
                "comment": "",
            },
        )
    )
    assert support.wait(run_id, "completion-reports-2") == "Suspended"
    support.answer(run_id, "completion-reports")
    assert support.wait(run_id) == "Completed"

    documents = support.documents(run_id)
    assert len(documents) == 4
    assert {d.status for d in documents} == {DocumentStatus.approved}
    with session_scope() as session:
        approved = session.exec(
            select(CompletionReport.approved_on)
            .join(MentorshipPair)
            .where(MentorshipPair.cycle_id == cycle_id)
        ).all()
    assert len(approved) == 2 and None not in approved
    received = collections.Counter(
        address
        for message in flow_stack.sink.messages
        for address in message.rcpt_tos
        if address.endswith("@completion.example.ru")
    )
    # The director's request once, the curator's decision notice once; nobody else.
    assert received == {COMPLETION_ORG["director_email"]: 1, COMPLETION_ORG["curator_email"]: 1}
    tables = [a for a in support.artifacts(run_id) if a.type == "table"]
    assert tables and all("Кузнецова" not in str(a.data) for a in tables)
