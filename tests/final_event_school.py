"""A small school at the end of the year for the final event's tests: four nominated mentors
(one a pupil), their mentees (children), contacts everywhere, consents to publication of some."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import (
    Consent,
    ConsentKind,
    MentoringForm,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    RewardKind,
    Role,
)
from nastavnik import final_event, honour_board

STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
BOARD_DAY = date(2027, 6, 20)


@dataclass(frozen=True)
class Mentor:
    participant_id: uuid.UUID
    person_id: uuid.UUID
    full_name: str


@dataclass(frozen=True)
class School:
    org_id: uuid.UUID
    cycle_id: uuid.UUID
    consenting: Mentor  # adult, consent to publication in force — on the board
    silent: Mentor  # adult, never consented
    revoked: Mentor  # adult, consent revoked before the board's day
    pupil: Mentor  # a minor mentor (ученик–ученик)
    not_nominated: Mentor  # adult with consent, not nominated
    children: list[str]  # the mentees' names
    contacts: list[str]  # every e-mail and phone in the school


def _person(session, org_id, cycle_id, name, role, form, *, birth, grade=None, position=""):
    last, first, middle = name.split()
    key = f"p{sum(map(ord, name)):x}"
    person = Person(
        organization_id=org_id,
        person_key=key,
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth,
        email=f"{key}@school2.example",
        phone=f"+7 900 {sum(map(ord, name)) % 1000:03d}-11-22",
    )
    session.add(person)
    session.flush()
    participant = Participant(
        cycle_id=cycle_id,
        person_id=person.id,
        role=role,
        form=form,
        grade=grade,
        class_letter="А" if grade else "",
        position=position,
    )
    session.add(participant)
    session.flush()
    return Mentor(participant.id, person.id, person.full_name), person


def build_school(engine: Engine, cycle_ids: tuple) -> School:
    org_id, cycle_id = cycle_ids
    teachers = MentoringForm.teacher_teacher
    pupils = MentoringForm.student_student
    contacts: list[str] = []
    children: list[str] = []
    with Session(engine) as session:

        def mentor(name, form, mentee, *, birth, grade=None, position="") -> Mentor:
            made, person = _person(
                session, org_id, cycle_id, name, Role.mentor, form,
                birth=birth, grade=grade, position=position,
            )  # fmt: skip
            contacts.extend([person.email, person.phone])
            mentee_made, mentee_person = _person(
                session, org_id, cycle_id, mentee, Role.mentee, form,
                birth=date(2013, 3, 4), grade=7,
            )  # fmt: skip
            contacts.extend([mentee_person.email, mentee_person.phone])
            children.append(mentee_person.full_name)
            pair = MentorshipPair(
                cycle_id=cycle_id,
                mentor_id=made.participant_id,
                form=form,
                status=PairStatus.ended,
                starts_on=STARTS_ON,
                ends_on=ENDS_ON,
            )
            session.add(pair)
            session.flush()
            session.add(PairMember(pair_id=pair.id, mentee_id=mentee_made.participant_id))
            return made

        consenting = mentor(
            "Алексеева Анна Петровна", teachers, "Кузнецова Ольга Игоревна",
            birth=date(1980, 5, 1), position="учитель математики",
        )  # fmt: skip
        silent = mentor(
            "Борисов Борис Ильич", teachers, "Соколов Иван Андреевич",
            birth=date(1975, 1, 2), position="учитель физики",
        )  # fmt: skip
        revoked = mentor(
            "Ветрова Вера Олеговна", teachers, "Морозова Дарья Сергеевна",
            birth=date(1990, 7, 3), position="учитель истории",
        )  # fmt: skip
        pupil = mentor(
            "Гусев Глеб Артёмович", pupils, "Лебедев Максим Юрьевич",
            birth=date(2010, 9, 9), grade=10,
        )  # fmt: skip
        not_nominated = mentor(
            "Дмитриев Денис Павлович", teachers, "Фёдорова Алиса Романовна",
            birth=date(1985, 2, 2), position="учитель химии",
        )  # fmt: skip
        for adult in (consenting, revoked, not_nominated):
            honour_board.record_publication_consent(
                session=session,
                person_id=adult.person_id,
                cycle_id=cycle_id,
                given_on=date(2027, 5, 1),
                source="заявление",
            )
        honour_board.revoke_publication_consent(
            session=session, person_id=revoked.person_id, cycle_id=cycle_id,
            revoked_on=date(2027, 6, 1),
        )  # fmt: skip
        # A consent row for the pupil written around the rules (an import gone wrong): the board
        # must still leave the child out.
        session.add(
            Consent(
                person_id=pupil.person_id,
                cycle_id=cycle_id,
                kind=ConsentKind.publication,
                given_on=date(2027, 5, 1),
            )
        )
        ranking = final_event.cycle_ranking(session=session, cycle_id=cycle_id, as_of=BOARD_DAY)
        for chosen, reward in (
            (consenting, RewardKind.honour_certificate),
            (silent, RewardKind.bonus),
            (revoked, RewardKind.gift),
            (pupil, RewardKind.gratitude),
        ):
            final_event.nominate(
                session=session,
                cycle_id=cycle_id,
                ranking=ranking,
                mentor_id=chosen.participant_id,
                reward=reward,
                nominated_by="curator",
                today=BOARD_DAY,
                comment="Представление куратора по итогам года",
            )
        session.commit()
    return School(
        org_id, cycle_id, consenting, silent, revoked, pupil, not_nominated, children, contacts
    )
