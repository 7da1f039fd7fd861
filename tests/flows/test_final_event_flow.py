"""The final event end to end: a real Prefect server and runner, a real SMTP server.

Regulation §2.16: rewards by order (благодарность, почётная грамота, ценный подарок, премия);
the ranking advises, the curator nominates (an override needs a comment), the director approves
the orders «О проведении итогового мероприятия» and «О поощрении наставников»; then every
nominee's letter or certificate is made as one batch and the honour board is published with
consenting adults only. A refused code resumes the run from the top: nothing is made twice.
"""

from __future__ import annotations

import asyncio
import collections
import io
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlmodel import select

from deployments.prefect_api import resume_run
from models import (
    DocumentStatus,
    MeetingFeedback,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorNomination,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    RewardKind,
    Role,
)
from nastavnik import final_event, honour_board, practices, programmes, repository
from nastavnik.db import session_scope
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack

pytestmark = pytest.mark.flows
FINAL_ORG = ORG | {
    "code": "school-2-final",
    "director_email": "director@final.example.ru",
    "curator_email": "curator@final.example.ru",
}
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
RANKING_DAY = date(2027, 6, 2)


def _mentor(session, org_id, cycle_id, name, *, birth, grade, held_share, rating) -> uuid.UUID:
    """A mentor with one ended pair, its programme, `held_share` of it held, rated `rating`."""
    last, first, middle = name.split()
    form = MentoringForm.student_student if grade else MentoringForm.teacher_teacher
    key = f"m{sum(map(ord, name)):x}"
    person = Person(
        organization_id=org_id,
        person_key=key,
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth,
        email=f"{key}@final.example.ru",
    )
    session.add(person)
    session.flush()
    mentor = Participant(
        cycle_id=cycle_id, person_id=person.id, role=Role.mentor, form=form, grade=grade
    )
    mentee_person = Person(
        organization_id=org_id,
        person_key=f"{key}-mentee",
        last_name="Ребёнок",
        first_name=first,
        middle_name="Тестович",
        birth_date=date(2013, 1, 1),
        email=f"{key}-mentee@final.example.ru",
    )
    session.add(mentee_person)
    session.flush()
    mentee = Participant(
        cycle_id=cycle_id, person_id=mentee_person.id, role=Role.mentee, form=form, grade=7
    )
    session.add_all([mentor, mentee])
    session.flush()
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor.id,
        form=form,
        status=PairStatus.ended,
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee.id))
    content = programmes.build_programme(
        form=form,
        mentor_name=name,
        mentee_names=[mentee_person.full_name],
        mentee_requests=[],
        subjects=["математика"],
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(PersonalProgramme(pair_id=pair.id, content=content.as_dict()))
    for number in range(int(len(content.meetings) * held_share)):
        log = MeetingLog(
            pair_id=pair.id,
            held_on=date(2026, 10, 1 + number),
            kind=MeetingKind.joint_work,
            duration_minutes=45,
        )
        session.add(log)
        session.flush()
        session.add(
            MeetingFeedback(
                meeting_id=log.id, mentee_id=mentee.id, rating=rating, given_on=log.held_on
            )
        )
    return mentor.id


def _school() -> dict[str, uuid.UUID]:
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **FINAL_ORG)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        ids = {
            "cycle": cycle.id,
            "best": _mentor(
                session, org.id, cycle.id, "Громова Ирина Васильевна",
                birth=date(1975, 2, 14), grade=None, held_share=1.0, rating=5,
            ),
            "weak": _mentor(
                session, org.id, cycle.id, "Орлов Пётр Ильич",
                birth=date(1980, 3, 3), grade=None, held_share=0.5, rating=4,
            ),
            "pupil": _mentor(
                session, org.id, cycle.id, "Лебедев Максим Олегович",
                birth=date(2009, 4, 2), grade=11, held_share=1.0, rating=5,
            ),
        }  # fmt: skip
        best = session.get(Participant, ids["best"])
        assert best is not None
        best_pair = session.exec(
            select(MentorshipPair).where(MentorshipPair.mentor_id == ids["best"])
        ).one()
        practices.submit_practice(
            session=session,
            pair_id=best_pair.id,
            participant_id=ids["best"],
            title="Математический квест для адаптации",
            summary="Задачи-подсказки по школе.",
            results="Быстрая адаптация.",
            now=datetime(2027, 5, 30, 9, tzinfo=UTC),
            today=date(2027, 5, 30),
        )
        honour_board.record_publication_consent(
            session=session,
            person_id=best.person_id,
            cycle_id=cycle.id,
            given_on=date(2027, 5, 20),
            source="заявление",
        )
        return ids


def _text(settings, document) -> str:
    from nastavnik.documents import document_file

    reader = PdfReader(io.BytesIO(document_file(settings=settings, document=document).read_bytes()))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return re.sub(r"(\w)[-\u2010] (\w)", r"\1\2", text)  # words hyphenated in narrow cells


def test_final_event_end_to_end_without_duplicates(flow_stack: FlowStack) -> None:
    ids = _school()
    # The ranking reads the pairs' year: the final event follows the approved programmes.
    support.approved_earlier(
        ids["cycle"], stage="pairing", approval_key="programmes-approval", document_ids=[]
    )
    run_id = support.start(
        "final-event/final-event",
        organization_code=FINAL_ORG["code"],
        event_title="Наставник года",
        event_date="2027-06-10",
        place="актовый зал",
        time="14:00",
        reference_date=RANKING_DAY.isoformat(),
    )
    assert support.wait(run_id, "final-event-nominations-1-1") == "Suspended"
    (memo,) = support.documents(run_id)
    assert memo.doc_type == "memo" and "Громова Ирина Васильевна" in _text(
        flow_stack.settings, memo
    )
    # The ranking nominated the recommended; the curator adds the weaker mentor with a reason.
    with session_scope() as session:
        chosen = {
            n.mentor_id: n.reward
            for n in final_event.nominations(session=session, cycle_id=ids["cycle"])
        }
        assert chosen == {
            ids["best"]: RewardKind.honour_certificate,
            ids["pupil"]: RewardKind.honour_certificate,
        }
        ranking = final_event.cycle_ranking(
            session=session, cycle_id=ids["cycle"], as_of=RANKING_DAY
        )
        final_event.nominate(
            session=session,
            cycle_id=ids["cycle"],
            ranking=ranking,
            mentor_id=ids["weak"],
            reward=RewardKind.gratitude,
            nominated_by="curator",
            today=RANKING_DAY,
            comment="Пара работала в дистанционном формате по болезни наставляемого",
        )
    support.answer(run_id, "final-event-nominations-1")
    assert support.wait(run_id, "final-event-orders-1-1") == "Suspended"
    orders = [d for d in support.documents(run_id) if d.doc_type == "order"]
    assert sorted(d.title for d in orders) == [
        "Приказ о поощрении наставников",
        "Приказ о проведении итогового мероприятия",
    ]
    rewards = next(d for d in orders if "поощрении" in d.title)
    text = _text(flow_stack.settings, rewards)
    assert "Объявить благодарность наставникам: Орлов Пётр Ильич" in text
    assert "по болезни наставляемого" in text  # the curator's reason is the override's basis
    assert "благодарность" in text  # not broken across lines in the appendix

    # A wrong code: refused, audited, and the run resumes from the top to wait again.
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": "approve",
                "approval_code": "not-a-code",
                "approver_name": FINAL_ORG["director_name"],
                "comment": "",
            },
        )
    )
    assert support.wait(run_id, "final-event-orders-1-2") == "Suspended"
    support.answer(run_id, "final-event-orders-1")
    assert support.wait(run_id) == "Completed"

    made = support.documents(run_id)
    kinds = collections.Counter(d.doc_type for d in made)
    assert kinds == {"memo": 1, "order": 2, "certificate": 3}
    assert len({d.unique_key for d in made}) == len(made)
    # The ranking memo takes the curator's confirmation, the orders and papers the director's.
    assert {d.status for d in made} == {DocumentStatus.approved}
    papers = {d.unique_key.split(":")[2]: d for d in made if d.doc_type == "certificate"}
    assert "ПОЧЁТНАЯ ГРАМОТА" in _text(flow_stack.settings, papers[str(ids["best"])])
    weak_letter = _text(flow_stack.settings, papers[str(ids["weak"])])
    assert "БЛАГОДАРСТВЕННОЕ ПИСЬМО" in weak_letter and "Уважаемый Пётр Ильич!" in weak_letter
    assert f"{rewards.label} «О поощрении наставников»" in weak_letter

    board = (
        flow_stack.settings.data_dir / "publications" / str(ids["cycle"]) / "honour-board.html"
    ).read_text()
    assert "Громова Ирина Васильевна" in board
    for absent in ("Орлов", "Лебедев", "Ребёнок", "@"):
        assert absent not in board
    bank = (
        flow_stack.settings.data_dir / "publications" / str(ids["cycle"]) / "practice-bank.html"
    ).read_text()
    assert "Математический квест для адаптации" in bank and "Громова Ирина Васильевна" in bank
    with session_scope() as session:
        assert len(session.exec(select(MentorNomination)).all()) >= 3
    # The director was asked once, the curator once and told of the decision once.
    received = collections.Counter(
        address
        for message in flow_stack.sink.messages
        for address in message.rcpt_tos
        if address.endswith("@final.example.ru")
    )
    assert received == {FINAL_ORG["director_email"]: 1, FINAL_ORG["curator_email"]: 2}
