"""Consent rules for the registers of mentors and mentees.

Seed ``roadmap_school7_mineralnye_vody.txt``, item 7 («Формирование базы наставляемых»):
«сбор согласий на сбор и обработку персональных данных будущих наставников; сбор согласий на
сбор и обработку персональных данных от законных представителей несовершеннолетних участников».
Nobody without the needed consent enters a register (DESIGN §3, stage 1; §8, 152-ФЗ).
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Consent, ConsentKind, MentoringForm, Participant, Person, Role
from nastavnik.consents import (
    ConsentCheck,
    MissingConsent,
    check_consents,
    coming_of_age,
    is_minor,
    register_rows,
)

START = date(2026, 9, 1)  # the cycle_ids fixture's 2026/2027 cycle starts here
EVERYTHING = date(2026, 8, 1)


def add(
    engine: Engine,
    cycle_ids: tuple[uuid.UUID, uuid.UUID],
    last_name: str,
    *,
    born: date | None = None,
    role: Role = Role.mentee,
    grade: int | None = None,
    personal: tuple[date, date | None] | None = (EVERYTHING, None),
    guardian: tuple[date, date | None] | None = None,
    form: MentoringForm = MentoringForm.student_student,
) -> uuid.UUID:
    """A participant with the given consents (given_on, revoked_on); returns its id."""
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        person = Person(
            organization_id=org_id,
            person_key=last_name.casefold(),
            last_name=last_name,
            first_name="Иван",
            birth_date=born,
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
        )
        session.add(participant)
        for kind, dates in (
            (ConsentKind.personal_data, personal),
            (ConsentKind.guardian, guardian),
        ):
            if dates is not None:
                session.add(
                    Consent(
                        person_id=person.id,
                        cycle_id=cycle_id,
                        kind=kind,
                        given_on=dates[0],
                        revoked_on=dates[1],
                        guardian_name="Родитель" if kind is ConsentKind.guardian else "",
                    )
                )
        session.commit()
        return participant.id


def check(engine: Engine, cycle_id: uuid.UUID, on: date, role: Role | None = None) -> ConsentCheck:
    with Session(engine) as session:
        return check_consents(session=session, cycle_id=cycle_id, on=on, role=role)


def reasons(result: ConsentCheck) -> dict[str, str]:
    return {missing.full_name: missing.reason for missing in result.missing}


# --- age ---------------------------------------------------------------------------------------


def test_adult_exactly_on_the_18th_birthday():
    assert is_minor(date(2008, 9, 2), START)
    assert not is_minor(date(2008, 9, 1), START)
    assert not is_minor(date(2008, 8, 31), START)
    assert is_minor(date(2020, 1, 1), START)
    assert not is_minor(None, START)


def test_born_on_29_february_comes_of_age_on_28_february():
    assert coming_of_age(date(2008, 2, 29)) == date(2026, 2, 28)
    assert coming_of_age(date(2010, 2, 28)) == date(2028, 2, 28)
    assert is_minor(date(2008, 2, 29), date(2026, 2, 27))
    assert not is_minor(date(2008, 2, 29), date(2026, 2, 28))


# --- the rules ---------------------------------------------------------------------------------


def test_adult_with_personal_data_consent_is_eligible_and_without_it_is_not(engine, cycle_ids):
    teacher = add(engine, cycle_ids, "Орлова", born=date(1980, 5, 5), role=Role.mentor)
    add(engine, cycle_ids, "Лукин", born=date(1985, 5, 5), role=Role.mentor, personal=None)
    result = check(engine, cycle_ids[1], date(2026, 10, 1))
    assert result.eligible == [teacher]
    assert reasons(result) == {"Лукин Иван": "нет согласия на обработку персональных данных"}
    assert result.missing[0].role is Role.mentor


def test_minor_needs_a_guardian_consent_judged_on_the_cycle_start(engine, cycle_ids):
    """Minor means under 18 on the cycle's start date, whatever the day of the check."""
    add(engine, cycle_ids, "Белов", born=date(2008, 9, 2))  # 18 the day after the start
    adult = add(engine, cycle_ids, "Зуев", born=date(2008, 9, 1))  # 18 on the start day
    with_guardian = add(
        engine, cycle_ids, "Котов", born=date(2012, 1, 1), guardian=(EVERYTHING, None)
    )
    result = check(engine, cycle_ids[1], date(2027, 5, 1))  # Белов is 18 by now: still minor
    assert reasons(result) == {
        "Белов Иван": "несовершеннолетний: нет согласия законного представителя"
    }
    assert result.eligible == [adult, with_guardian]


def test_revocation_counts_from_its_date(engine, cycle_ids):
    pupil = add(
        engine,
        cycle_ids,
        "Морозова",
        born=date(2012, 3, 3),
        personal=(date(2026, 9, 10), date(2026, 10, 15)),
        guardian=(EVERYTHING, None),
    )
    assert check(engine, cycle_ids[1], date(2026, 10, 14)).eligible == [pupil]
    after = check(engine, cycle_ids[1], date(2026, 10, 15))
    assert after.eligible == []
    assert reasons(after) == {"Морозова Иван": "согласие отозвано 15.10.2026"}


def test_guardian_revocation_counts_from_its_date(engine, cycle_ids):
    pupil = add(
        engine, cycle_ids, "Гусев", born=date(2012, 3, 3), guardian=(EVERYTHING, date(2026, 11, 2))
    )
    assert check(engine, cycle_ids[1], date(2026, 11, 1)).eligible == [pupil]
    assert reasons(check(engine, cycle_ids[1], date(2026, 11, 2))) == {
        "Гусев Иван": "несовершеннолетний: согласие законного представителя отозвано 02.11.2026"
    }


def test_consent_given_in_the_future_is_not_yet_valid(engine, cycle_ids):
    teacher = add(
        engine, cycle_ids, "Титова", born=date(1990, 1, 1), personal=(date(2026, 9, 20), None)
    )
    assert reasons(check(engine, cycle_ids[1], date(2026, 9, 19))) == {
        "Титова Иван": "согласие действует только с 20.09.2026"
    }
    assert check(engine, cycle_ids[1], date(2026, 9, 20)).eligible == [teacher]


def test_several_problems_are_all_reported(engine, cycle_ids):
    add(engine, cycle_ids, "Юдин", born=date(2013, 1, 1), personal=None)
    add(
        engine,
        cycle_ids,
        "Ершов",
        born=date(2013, 1, 1),
        personal=(date(2026, 9, 1), date(2026, 9, 30)),
        guardian=(date(2026, 12, 1), None),
    )
    assert reasons(check(engine, cycle_ids[1], date(2026, 10, 1))) == {
        "Юдин Иван": "нет согласия на обработку персональных данных; несовершеннолетний: нет "
        "согласия законного представителя",
        "Ершов Иван": "согласие отозвано 30.09.2026; несовершеннолетний: согласие законного "
        "представителя действует только с 01.12.2026",
    }


def test_pupil_without_birth_date_is_presumed_minor(engine, cycle_ids):
    add(engine, cycle_ids, "Фомин", born=None, grade=10, role=Role.mentor)
    teacher = add(engine, cycle_ids, "Фомина", born=None, role=Role.mentor)
    result = check(engine, cycle_ids[1], date(2026, 10, 1))
    assert result.eligible == [teacher]
    assert reasons(result) == {
        "Фомин Иван": "несовершеннолетний: нет согласия законного представителя"
    }


def test_role_filter_sorting_and_default_date(engine, cycle_ids):
    b = add(engine, cycle_ids, "Ёлкина", born=date(1990, 1, 1), role=Role.mentor)
    a = add(engine, cycle_ids, "Елагина", born=date(1990, 1, 1), role=Role.mentor)
    c = add(engine, cycle_ids, "<b>Жуков</b>", born=date(1990, 1, 1), role=Role.mentor)
    mentee = add(engine, cycle_ids, "Абрамов", born=date(1990, 1, 1))
    result = check(engine, cycle_ids[1], date(2026, 10, 1), role=Role.mentor)
    assert result.eligible == [a, b, c]  # ё sorts as е; markup does not float a name up
    assert check(engine, cycle_ids[1], date(2026, 10, 1), role=Role.mentee).eligible == [mentee]
    with Session(engine) as session:
        assert len(check_consents(session=session, cycle_id=cycle_ids[1]).eligible) == 4


def test_unknown_cycle_is_an_error(engine, cycle_ids):
    with Session(engine) as session, pytest.raises(LookupError):
        check_consents(session=session, cycle_id=uuid.uuid4(), on=START)


def test_missing_consent_names_the_participant(engine, cycle_ids):
    participant = add(engine, cycle_ids, "Лаптев", born=date(1990, 1, 1), personal=None)
    missing = check(engine, cycle_ids[1], START).missing
    assert len(missing) == 1
    assert isinstance(missing[0], MissingConsent)
    assert missing[0].participant_id == participant
    assert (missing[0].full_name, missing[0].role) == ("Лаптев Иван", Role.mentee)


# --- registers ---------------------------------------------------------------------------------


def test_register_rows_hold_only_eligible_participants_in_name_order(engine, cycle_ids):
    add(
        engine,
        cycle_ids,
        "Сорокин",
        born=date(2013, 1, 1),
        grade=7,
        guardian=(EVERYTHING, None),
        personal=(date(2026, 8, 20), None),
    )
    add(engine, cycle_ids, "Антонов", born=date(2013, 1, 1), grade=7)  # no guardian consent
    add(engine, cycle_ids, "Белова", born=date(1999, 1, 1), form=MentoringForm.teacher_teacher)
    add(engine, cycle_ids, "Власов", born=date(1980, 1, 1), role=Role.mentor)
    with Session(engine) as session:
        rows = register_rows(
            session=session, cycle_id=cycle_ids[1], role=Role.mentee, on=date(2026, 10, 1)
        )
    assert [(r.number, r.full_name, r.grade_label, r.form) for r in rows] == [
        (1, "Белова Иван", "", "учитель–учитель"),
        (2, "Сорокин Иван", "7А", "ученик–ученик"),
    ]
    assert rows[1].consent_date == date(2026, 8, 20)
    assert rows[0].experience_years is None


def test_missing_consent_carries_the_pupils_class(engine, cycle_ids):
    add(engine, cycle_ids, "Панов", born=date(2013, 1, 1), grade=7)
    add(engine, cycle_ids, "Панова", born=date(1990, 1, 1), personal=None)
    result = check(engine, cycle_ids[1], START)
    assert {m.full_name: m.grade_label for m in result.missing} == {
        "Панов Иван": "7А",
        "Панова Иван": "",
    }
