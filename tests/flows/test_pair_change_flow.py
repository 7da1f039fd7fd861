"""A replacement of the mentor end to end: a real Prefect server and runner, a real SMTP server.

Regulation §2.8 (the mentor's request, §4.1): the curator names the new mentor, whose written
consent (§2.6) is recorded before the order; the director approves «О замене наставника»;
the old pair is kept as history, the mentee goes on with the new mentor, and the old mentor,
the new mentor, the mentee and the curator are told — once, whatever the resumes.
"""

from __future__ import annotations

import asyncio
import collections
import io
import re
import uuid
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import select

from deployments.prefect_api import resume_run
from models import (
    Consent,
    ConsentKind,
    DocumentStatus,
    MentorAdmission,
    MentoringForm,
    MentorshipPair,
    PairChange,
    PairChangeStatus,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    ProgrammeStatus,
    Role,
)
from nastavnik import pair_changes, pairs, programmes, repository
from nastavnik.db import session_scope
from nastavnik.documents import document_file
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack

pytestmark = pytest.mark.flows
CHANGES_ORG = ORG | {
    "code": "school-2-changes",
    "director_email": "director@changes.example.ru",
    "curator_email": "curator@changes.example.ru",
}
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
ORDER_DAY = date(2027, 2, 10)
OLD, NEW, MENTEE = (
    "old.mentor@changes.example.ru",
    "new.mentor@changes.example.ru",
    "pupil@changes.example.ru",
)


def _participant(session, cycle_id, org_id, last, first, email, role, grade) -> Participant:
    person = Person(
        organization_id=org_id,
        person_key=email,
        last_name=last,
        first_name=first,
        middle_name="Тестович",
        email=email,
    )
    session.add(person)
    session.flush()
    participant = Participant(
        cycle_id=cycle_id,
        person_id=person.id,
        role=role,
        form=MentoringForm.student_student,
        grade=grade,
        subjects="математика",
    )
    session.add(participant)
    session.flush()
    if role == Role.mentor:
        session.add(
            MentorAdmission(cycle_id=cycle_id, participant_id=participant.id, admitted=True)
        )
    # Pupils: the personal-data consent and their guardian's (§2.6 checks them for the match).
    for kind in (ConsentKind.personal_data, ConsentKind.guardian):
        session.add(
            Consent(person_id=person.id, cycle_id=cycle_id, kind=kind, given_on=date(2026, 9, 1))
        )
    return participant


def _school() -> tuple[uuid.UUID, uuid.UUID]:
    """A pair going on with its approved programme and a second admitted mentor; the ids of
    the pair and of that mentor."""
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **CHANGES_ORG)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        old = _participant(session, cycle.id, org.id, "Лебедев", "Максим", OLD, Role.mentor, 10)
        new = _participant(session, cycle.id, org.id, "Орлова", "Вера", NEW, Role.mentor, 11)
        mentee = _participant(
            session, cycle.id, org.id, "Кузнецова", "Дарья", MENTEE, Role.mentee, 7
        )
        pair = MentorshipPair(
            cycle_id=cycle.id,
            mentor_id=old.id,
            form=MentoringForm.student_student,
            status=PairStatus.active,
            starts_on=STARTS_ON,
            ends_on=ENDS_ON,
        )
        session.add(pair)
        session.flush()
        session.add(PairMember(pair_id=pair.id, mentee_id=mentee.id))
        pairs.record_version(session=session, pair=pair, changed_on=STARTS_ON, reason="приказ")
        content = programmes.build_programme(
            form=pair.form,
            mentor_name="Лебедев Максим Тестович",
            mentee_names=["Кузнецова Дарья Тестович"],
            mentee_requests=[],
            subjects=["математика"],
            starts_on=STARTS_ON,
            ends_on=ENDS_ON,
        )
        session.add(
            PersonalProgramme(
                pair_id=pair.id,
                version=1,
                status=ProgrammeStatus.approved,
                content=content.as_dict(),
            )
        )
        return pair.id, new.id


def _text(document) -> str:
    from nastavnik.settings import get_settings

    pdf = document_file(settings=get_settings(), document=document).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return re.sub(r"(\w)[-\u2010] (\w)", r"\1\2", text)


def test_a_replacement_by_order_end_to_end_without_duplicates(flow_stack: FlowStack) -> None:
    pair_id, new_mentor_id = _school()
    run_id = support.start(
        "pair-replacement/pair-replacement",
        organization_code=CHANGES_ORG["code"],
        pair_id=str(pair_id),
        reason=pair_changes.PairChangeReason.mentor_request.value,
        new_mentor_id=str(new_mentor_id),
        consent_on="2027-02-08",
        consent_how="письменное заявление",
        reference_date=ORDER_DAY.isoformat(),
    )
    assert support.wait(run_id, "pair-replacement-1") == "Suspended"
    (order,) = support.documents(run_id)
    assert (order.title, order.status) == ("Приказ о замене наставника", DocumentStatus.draft)
    text = _text(order)
    assert f"Приказ о замене наставника № {order.number}" in text
    assert "п. 2.8 Положения" in text and "просьба наставника" in text
    assert "Назначить наставником Кузнецова Дарья Тестович Орлова Вера Тестович" in text
    assert "от 8 февраля 2027 г. (письменное заявление)" in text
    (request_mail,) = flow_stack.mail_to(CHANGES_ORG["director_email"])
    assert request_mail["Subject"].startswith("Требуется утверждение: Приказ о замене наставника")

    # A wrong code is refused and the run waits again: a second resume from the top.
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
    assert support.wait(run_id, "pair-replacement-2") == "Suspended"
    support.answer(run_id, "pair-replacement")
    assert support.wait(run_id) == "Completed"

    with session_scope() as session:
        change = session.exec(select(PairChange).where(PairChange.pair_id == pair_id)).one()
        assert change.status == PairChangeStatus.approved
        old_pair = session.get(MentorshipPair, pair_id)
        new_pair = session.get(MentorshipPair, change.resulting_pair_id)
        assert old_pair.status == PairStatus.replaced
        assert (new_pair.mentor_id, new_pair.status) == (new_mentor_id, PairStatus.active)
        history = pair_changes.history(session=session, pair_id=new_pair.id)
        assert [(row.status, row.order_id) for row in history] == [
            (PairStatus.active, None),
            (PairStatus.replaced, order.id),
            (PairStatus.active, order.id),
        ]
    # One order, approved; the programme handed over is printed for the new pair.
    made = support.documents(run_id)
    assert sorted(d.doc_type for d in made) == ["order", "programme"]
    assert {d.status for d in made} == {DocumentStatus.approved}
    programme = next(d for d in made if d.doc_type == "programme")
    assert "Орлова Вера Тестович" in _text(programme)

    # Every concerned person got exactly one notice (the curator also the decision notice).
    received = collections.Counter(
        address
        for message in flow_stack.sink.messages
        for address in message.rcpt_tos
        if address.endswith("@changes.example.ru")
    )
    assert received == {
        CHANGES_ORG["director_email"]: 1,
        CHANGES_ORG["curator_email"]: 2,
        OLD: 1,
        NEW: 1,
        MENTEE: 1,
    }
    (to_new,) = flow_stack.mail_to(NEW)
    body = to_new.get_body(preferencelist=("plain",)).get_content()
    assert to_new["Subject"].startswith("Приказ о замене наставника")
    assert "С 10 февраля 2027 г. наставник — Орлова Вера Тестович" in body
    assert "http://approvals.test/p/" in body
    assert any(part.get_filename() for part in to_new.iter_attachments())
    (to_old,) = flow_stack.mail_to(OLD)
    assert (
        "вы освобождены от обязанностей наставника"
        in to_old.get_body(preferencelist=("plain",)).get_content()
    )


def test_a_rejected_termination_changes_nothing(flow_stack: FlowStack) -> None:
    """§2.10 asked for, the director rejects the order: the pair goes on, the mentee is not on
    the search list, nobody but the curator (the decision) is written to."""
    with session_scope() as session:
        org = repository.get_organization(session=session, code=CHANGES_ORG["code"])
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        mentor = _participant(
            session,
            cycle.id,
            org.id,
            "Громов",
            "Илья",
            "gromov@rejected.example.ru",
            Role.mentor,
            11,
        )
        mentee = _participant(
            session,
            cycle.id,
            org.id,
            "Зайцев",
            "Антон",
            "zaitsev@rejected.example.ru",
            Role.mentee,
            8,
        )
        pair = MentorshipPair(
            cycle_id=cycle.id,
            mentor_id=mentor.id,
            form=MentoringForm.student_student,
            status=PairStatus.active,
            starts_on=STARTS_ON,
            ends_on=ENDS_ON,
        )
        session.add(pair)
        session.flush()
        session.add(PairMember(pair_id=pair.id, mentee_id=mentee.id))
        pair_id = pair.id
    before = len(flow_stack.sink.messages)
    run_id = support.start(
        "pair-termination/pair-termination",
        organization_code=CHANGES_ORG["code"],
        pair_id=str(pair_id),
        reason=pair_changes.PairChangeReason.mentee_non_performance.value,
        mentee_wants_new_mentor=True,
        reference_date=ORDER_DAY.isoformat(),
    )
    assert support.wait(run_id, "pair-termination-1") == "Suspended"
    (order,) = support.documents(run_id)
    text = _text(order)
    assert "О досрочном прекращении наставничества" in text and "п. 2.10 Положения" in text
    support.answer(run_id, "pair-termination", decision="reject", comment="дать время")
    assert support.wait(run_id) == "Completed"

    with session_scope() as session:
        assert session.get(MentorshipPair, pair_id).status == PairStatus.active
        change = session.exec(select(PairChange).where(PairChange.pair_id == pair_id)).one()
        assert change.status == PairChangeStatus.rejected
        assert session.get(type(order), order.id).status == DocumentStatus.rejected
        assert pairs.history(session=session, pair_id=pair_id) == []
    received = sorted(a for m in flow_stack.sink.messages[before:] for a in m.rcpt_tos)
    assert received == sorted([CHANGES_ORG["director_email"], CHANGES_ORG["curator_email"]])
