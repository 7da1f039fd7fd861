"""Training and pairing against a real Prefect server, runner and SMTP server.

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt): pairs are fixed by the
director's order with the written consent of both sides (§2.6); a personal programme per pair is
approved by the director (§2.11–§2.12).
"""

from __future__ import annotations

import collections
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from models import (
    ApprovalDecision,
    MentorshipPair,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    ProgrammeStatus,
    Role,
)
from nastavnik import mail, pairing, questionnaires, repository, stages, training
from nastavnik.db import get_engine, session_scope
from tasks.base_formation import render_registers
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack

pytestmark = pytest.mark.flows
CONSENT_DAY = date(2026, 11, 24)


def _cycle_id() -> uuid.UUID:
    with session_scope() as session:
        org = repository.get_organization(session=session, code=ORG["code"])
        return repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        ).id


def _import_questionnaires(stack: FlowStack) -> uuid.UUID:
    """Base formation's outcome: questionnaires imported, registers approved by the director."""
    cycle_id = _cycle_id()
    for path, role in ((stack.mentee_file, Role.mentee), (stack.mentor_file, Role.mentor)):
        questionnaires.import_file_transaction(
            engine=get_engine(), cycle_id=cycle_id, path=path, role=role
        )
    registers = render_registers.fn(
        cycle_id=str(cycle_id), on=date(2026, 10, 1), flow_run_id=str(uuid.uuid4())
    )
    support.approved_earlier(
        cycle_id,
        stage="base-formation",
        approval_key=stages.REGISTERS_APPROVAL,
        document_ids=registers,
    )
    return cycle_id


def _assert_each_mail_received_once(stack: FlowStack, run_id: uuid.UUID) -> None:
    """Every queued e-mail of the run reached the SMTP server exactly once, whatever the resumes."""
    keys = [m.idempotency_key for m in support.outbox(run_id)]
    expected = {mail.message_id_for(idempotency_key=k, settings=stack.settings) for k in keys}
    received = collections.Counter(
        m["Message-ID"]
        for address in {m.to_addr for m in support.outbox(run_id)}
        for m in stack.mail_to(address)
    )
    assert {mid: received[mid] for mid in expected} == dict.fromkeys(expected, 1)


def test_training_selects_admits_and_appoints_mentors_by_order(
    flow_stack: FlowStack, tmp_path: Path
) -> None:
    cycle_id = _import_questionnaires(flow_stack)
    with session_scope() as session:
        training.schedule_sessions(
            session=session,
            cycle_id=cycle_id,
            sessions=training.default_sessions(school_year="2026/2027"),
        )
    attendance = tmp_path / "attendance.csv"
    attendance.write_text(
        "ФИО;Занятие;Присутствовал\n"
        + "".join(
            f"{name};{code};да\n"
            for name in ("Громова Ирина Васильевна", "Лебедев Максим Олегович")
            for code in ("vvodnoe", "praktikum", "sobesedovanie")
        ),
        encoding="utf-8",
    )
    run_id = support.start(
        "training/training", attendance_files=[str(attendance)], reference_date="2026-11-20"
    )
    assert support.wait(run_id, "training-order-1") == "Suspended"
    order = support.request(run_id, "training-order")
    assert "Допущено к наставничеству по итогам обучения: 2" in order.summary

    support.answer(run_id, "training-order")
    assert support.wait(run_id) == "Completed"
    with session_scope() as session:
        assert len(training.admitted_mentor_ids(session=session, cycle_id=cycle_id)) == 2
    appointed = [m for m in support.outbox(run_id) if m.subject.startswith("Вы назначены")]
    assert sorted(m.to_addr for m in appointed) == ["gromova@example.ru", "max.l@example.ru"]
    _assert_each_mail_received_once(flow_stack, run_id)
    assert [d.status.value for d in support.documents(run_id)] == ["approved"]
    # The selection and the results are counted per form; the names are on the staff page.
    keys = support.assert_artifacts_name_no_one(run_id, cycle_id)
    assert {"training-selected", "training-results"} <= set(keys)


def test_pairing_with_changes_then_approval_and_programmes_with_an_exception(
    flow_stack: FlowStack,
) -> None:
    cycle_id = _import_questionnaires(flow_stack)
    with session_scope() as session:
        mentors = session.exec(
            select(Participant).where(
                Participant.cycle_id == cycle_id, Participant.role == Role.mentor
            )
        ).all()
        for mentor in mentors:
            training.set_admission(
                session=session,
                cycle_id=cycle_id,
                participant_id=mentor.id,
                admitted=True,
                reason="прошёл обучение",
            )
    support.approved_earlier(
        cycle_id, stage="training", approval_key=stages.MENTORS_ORDER_APPROVAL, document_ids=[]
    )
    run_id = support.start("pairing/pairing", reference_date="2026-11-25")

    assert support.wait(run_id, "pairing-review-1-1") == "Suspended"
    with session_scope() as session:
        rows = pairing.pair_rows(session=session, cycle_id=cycle_id)
        assert {(r.mentor_name, tuple(r.mentee_names)) for r in rows} == {
            ("Громова Ирина Васильевна", ("Васильева Ольга Игоревна",)),
            ("Лебедев Максим Олегович", ("Кузнецова Дарья Ильинична",)),
        }
        # Written consents of three of the four people arrive first.
        for participant_id in _participants(session, cycle_id, exclude="Кузнецова"):
            pairing.record_participation_consent(
                session=session,
                cycle_id=cycle_id,
                participant_id=participant_id,
                given_on=CONSENT_DAY,
            )
    support.answer(run_id, "pairing-review-1")

    assert support.wait(run_id, "pairing-order-1-1") == "Suspended"
    assert "Пар и групп в приказе: 1; не вошли из-за отсутствия согласий: 1" in (
        support.request(run_id, "pairing-order-1").summary
    )
    support.answer(
        run_id,
        "pairing-order-1",
        decision="request_changes",
        comment="Дождитесь согласия законного представителя Кузнецовой",
    )

    assert support.wait(run_id, "pairing-review-2-1") == "Suspended"
    with session_scope() as session:
        (kuznetsova,) = _participants(session, cycle_id, only="Кузнецова")
        pairing.record_participation_consent(
            session=session, cycle_id=cycle_id, participant_id=kuznetsova, given_on=CONSENT_DAY
        )
    support.answer(run_id, "pairing-review-2")

    assert support.wait(run_id, "pairing-order-2-1") == "Suspended"
    assert "Пар и групп в приказе: 2; не вошли из-за отсутствия согласий: 0" in (
        support.request(run_id, "pairing-order-2").summary
    )
    support.answer(run_id, "pairing-order-2")

    assert support.wait(run_id, "programmes-acknowledged-1") == "Suspended"
    support.answer(run_id, "programmes-acknowledged")
    assert support.wait(run_id, "programmes-approval-1") == "Suspended"
    support.answer(
        run_id,
        "programmes-approval",
        exceptions=[{"number": 2, "comment": "Уточните задачи на декабрь"}],
    )
    assert support.wait(run_id) == "Completed"

    with session_scope() as session:
        pairs = session.exec(
            select(MentorshipPair).where(MentorshipPair.cycle_id == cycle_id)
        ).all()
        assert {p.status for p in pairs} == {PairStatus.active}
        # The flow tests share one database: this cycle's programmes only.
        programmes = session.exec(
            select(PersonalProgramme).where(
                col(PersonalProgramme.pair_id).in_([pair.id for pair in pairs])
            )
        ).all()
        assert sorted(p.status.value for p in programmes) == ["approved", "returned"]
        returned = next(p for p in programmes if p.status == ProgrammeStatus.returned)
        assert returned.director_comment == "Уточните задачи на декабрь"
        decision = session.exec(
            select(ApprovalDecision).where(
                ApprovalDecision.request_id == support.request(run_id, "programmes-approval").id
            )
        ).one()
        assert decision.details == {
            "exceptions": [{"number": 2, "comment": "Уточните задачи на декабрь"}]
        }

    # Consent forms are made once per person even though matching ran twice.
    consent_forms = [d for d in support.documents(run_id) if d.doc_type == "consent"]
    assert len(consent_forms) == 4
    assert len({d.unique_key for d in support.documents(run_id)}) == len(support.documents(run_id))
    pair_mail = [m for m in support.outbox(run_id) if m.subject.startswith("Наставническая")]
    assert len(pair_mail) == 4  # two pairs, both sides
    # Each side is told its own pair and the order's number, without the order attached: the
    # order lists every pair, other people's children included (152-ФЗ).
    assert all(m.document_ids == [] and "Приказ о закреплении" in m.body_text for m in pair_mail)
    for message in pair_mail:
        received = [
            r
            for r in flow_stack.mail_to(message.to_addr.split("<")[-1].rstrip(">"))
            if str(r["Subject"]).startswith("Наставническая")
        ]
        assert received and all(not list(r.iter_attachments()) for r in received)
    _assert_each_mail_received_once(flow_stack, run_id)
    # Pairs, the search list and the pairs waiting for a consent are counted, nobody named.
    keys = support.assert_artifacts_name_no_one(run_id, cycle_id)
    assert {"pairing-draft-1", "pairing-blocked-1", "pairing-draft-2"} <= set(keys)
    blocked = next(a for a in support.artifacts(run_id) if a.key == "pairing-blocked-1")
    assert f"/cycles/{cycle_id}/pairs" in str(blocked.description)


def _participants(
    session: Session, cycle_id: uuid.UUID, *, exclude: str = "", only: str = ""
) -> list[uuid.UUID]:
    """Participants of the cycle by surname: all but ``exclude``, or only ``only``."""
    rows = session.exec(
        select(Participant, Person)
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(Participant.cycle_id == cycle_id)
    ).all()
    return [
        participant.id
        for participant, person in rows
        if (not exclude or not person.last_name.startswith(exclude))
        and (not only or person.last_name.startswith(only))
    ]


def test_training_and_pairing_refuse_to_start_before_the_decisions_they_depend_on(
    flow_stack: FlowStack,
) -> None:
    # A year nobody has worked on: no approved registers, no order appointing mentors.
    refusals = {}
    for deployment in ("training/training", "pairing/pairing"):
        run_id = support.start(deployment, school_year="2030/2031")
        assert support.wait(run_id) == "Failed"
        refusals[deployment] = support.state_message(run_id)

        # Refused by a rule, not by the database: the stage's opening task is not retried.
        def failed_tasks(run_id: uuid.UUID = run_id) -> list:
            return [r for r in support.task_runs(run_id) if r.state_name == "Failed"]

        opened = support.poll(failed_tasks, timeout=30, what="the refused run's task recorded")
        assert len(support.task_runs(run_id)) == 1
        assert [(r.name.rsplit("-", 1)[0], r.state_name, r.run_count) for r in opened] == [
            ("open-stage", "Failed", 1)
        ]
    assert (
        "реестры наставляемых и наставников не утверждены директором"
        in (refusals["training/training"])
    )
    assert (
        "приказ о назначении наставников не утверждён директором" in (refusals["pairing/pairing"])
    )
    assert all("2030/2031" in message for message in refusals.values())
    with session_scope() as session:
        org = repository.get_organization(session=session, code=ORG["code"])
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2030/2031"
        )
        # Nothing was started: no sessions scheduled, nobody selected, no documents.
        assert training.session_plan(session=session, cycle_id=cycle.id)[0].code == "vvodnoe"
        assert training.selected_mentors(session=session, cycle_id=cycle.id) == []
