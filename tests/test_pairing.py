"""Pairing in the database: registers and admissions in, draft pairs and search list out.

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt) §2.5: a mentor has at most
three mentees at once — pairs still active from an earlier cycle count too; §2.6: pairs are
fixed with the written consent of both sides.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from models import ConstraintKind, MentorshipPair, PairMember, PairStatus, Participant, Person, Role
from nastavnik import matching, pairing, questionnaires, repository, training

ON = date(2026, 10, 1)
MENTEES = """Фамилия;Имя;Отчество;Дата рождения;Электронная почта;Класс;Форма наставничества;Запрос;Согласие на обработку персональных данных;Дата согласия;Согласие законного представителя
{rows}"""
MENTORS = """Фамилия;Имя;Отчество;Дата рождения;Электронная почта;Класс;Стаж;Форма наставничества;Предметы;Согласие на обработку персональных данных;Дата согласия;Согласие законного представителя
Лебедев;Максим;Олегович;02.04.2009;max@example.ru;11А;;Ученик – ученик;математика;Да;01.09.2026;Да
"""


def _mentee_rows(count: int) -> str:
    names = ["Кузнецова Дарья", "Соколов Артём", "Морозова Анна", "Волков Илья", "Зайцева Ева"]
    return "".join(
        f"{name.split()[0]};{name.split()[1]};;12.03.2014;m{i}@example.ru;6А;Ученик – ученик;"
        f"подготовка к ОГЭ по математике;Да;01.09.2026;Да\n"
        for i, name in enumerate(names[:count])
    )


def _setup(engine, cycle_id: uuid.UUID, tmp_path: Path, mentees: int) -> None:
    files = {"mentees.csv": MENTEES.format(rows=_mentee_rows(mentees)), "mentors.csv": MENTORS}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        role = Role.mentee if name == "mentees.csv" else Role.mentor
        questionnaires.import_file_transaction(
            engine=engine, cycle_id=cycle_id, path=path, role=role
        )
    with Session(engine) as session:
        mentor = session.exec(
            select(Participant).where(
                Participant.cycle_id == cycle_id, Participant.role == Role.mentor
            )
        ).one()
        training.set_admission(
            session=session,
            cycle_id=cycle_id,
            participant_id=mentor.id,
            admitted=True,
            reason="прошёл обучение",
        )
        session.commit()


def _ids(session: Session, cycle_id: uuid.UUID, role: Role) -> dict[str, uuid.UUID]:
    rows = session.exec(
        select(Participant, Person)
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(Participant.cycle_id == cycle_id, Participant.role == role)
    ).all()
    return {person.last_name: participant.id for participant, person in rows}


def test_a_mentor_takes_at_most_three_mentees_and_the_rest_wait_on_the_search_list(
    engine, cycle_ids, tmp_path
):
    """§2.5: «…не может превышать трех» — the other two mentees keep their reason."""
    _, cycle_id = cycle_ids
    _setup(engine, cycle_id, tmp_path, mentees=5)
    with Session(engine) as session:
        summary = pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        session.commit()
        assert (summary.matched, summary.unmatched) == (3, 2)
        waiting = pairing.search_list(session=session, cycle_id=cycle_id)
        assert len(waiting) == 2
        assert {w["reason"] for w in waiting} == {"вся ёмкость наставников занята"}


def test_pairs_still_active_from_an_earlier_cycle_use_up_the_mentors_capacity(
    engine, cycle_ids, tmp_path
):
    """§2.5 counts every mentee of the mentor at once, including last year's active pairs."""
    org_id, cycle_id = cycle_ids
    _setup(engine, cycle_id, tmp_path, mentees=3)
    with Session(engine) as session:
        mentor_person = session.exec(select(Person).where(Person.last_name == "Лебедев")).one()
        earlier = repository.get_or_create_cycle(
            session=session, organization_id=org_id, school_year="2025/2026"
        )
        old_mentor = Participant(
            cycle_id=earlier.id,
            person_id=mentor_person.id,
            role=Role.mentor,
            form=pairing.MentoringForm.student_student,
        )
        old_mentee_person = Person(
            organization_id=org_id, person_key="old", last_name="Орлова", first_name="Вера"
        )
        session.add_all([old_mentor, old_mentee_person])
        session.flush()
        old_mentee = Participant(
            cycle_id=earlier.id,
            person_id=old_mentee_person.id,
            role=Role.mentee,
            form=pairing.MentoringForm.student_student,
        )
        session.add(old_mentee)
        session.flush()
        pair = MentorshipPair(
            cycle_id=earlier.id,
            mentor_id=old_mentor.id,
            form=pairing.MentoringForm.student_student,
            status=PairStatus.active,
        )
        session.add(pair)
        session.flush()
        session.add_all([PairMember(pair_id=pair.id, mentee_id=old_mentee.id)])
        session.commit()
        summary = pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        assert (summary.matched, summary.unmatched) == (2, 1)


def test_matching_runs_once_per_key_and_honours_the_curators_constraints(
    engine, cycle_ids, tmp_path
):
    _, cycle_id = cycle_ids
    _setup(engine, cycle_id, tmp_path, mentees=2)
    with Session(engine) as session:
        mentees = _ids(session, cycle_id, Role.mentee)
        (mentor,) = _ids(session, cycle_id, Role.mentor).values()
        pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        pairing.add_constraint(
            session=session,
            cycle_id=cycle_id,
            mentee_id=mentees["Кузнецова"],
            mentor_id=mentor,
            kind=ConstraintKind.forbid,
            comment="конфликт",
        )
        again = pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        assert again.matched == 2  # same key: the recorded result, nothing recomputed
        second = pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r2")
        session.commit()
        assert (second.matched, second.unmatched) == (1, 1)
        rows = pairing.pair_rows(session=session, cycle_id=cycle_id, on=ON)
        assert [r.mentee_names for r in rows] == [["Соколов Артём"]]
        assert len(session.exec(select(MentorshipPair)).all()) == 1  # old drafts replaced


def test_written_consents_from_a_file_unblock_pairs_and_bad_rows_are_named(
    engine, cycle_ids, tmp_path
):
    """§2.6: a pair enters the order only with the written consent of both sides."""
    _, cycle_id = cycle_ids
    _setup(engine, cycle_id, tmp_path, mentees=1)
    consents_file = tmp_path / "consents.csv"
    consents_file.write_text(
        "ФИО;Электронная почта;Дата согласия\n"
        "Лебедев Максим Олегович;;20.11.2026\n"
        ";m0@example.ru;\n"
        "Неизвестный Человек;;\n"
        "Лебедев Максим Олегович;;31.02.2026\n",
        encoding="utf-8",
    )
    with Session(engine) as session:
        pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        (row,) = pairing.pair_rows(session=session, cycle_id=cycle_id, on=date(2026, 11, 25))
        assert sorted(row.consents_missing) == ["Кузнецова Дарья", "Лебедев Максим Олегович"]
        report = pairing.import_participation_consents(
            session=session,
            cycle_id=cycle_id,
            path=consents_file,
            max_bytes=10_000,
            default_date=date(2026, 11, 24),
        )
        session.commit()
        assert report.recorded == 2
        assert [str(e) for e in report.rejected] == [
            "consents.csv, строка 4, поле «ФИО»: участник не найден: «Неизвестный Человек»",
            "consents.csv, строка 5, поле «Дата согласия»: неверная дата «31.02.2026»",
        ]
        (row,) = pairing.pair_rows(session=session, cycle_id=cycle_id, on=date(2026, 11, 25))
        assert row.consents_missing == []
        forms = pairing.consent_form_rows(session=session, cycle_id=cycle_id)
        assert forms == []


def test_a_file_without_a_name_or_email_column_is_refused(engine, cycle_ids, tmp_path):
    _, cycle_id = cycle_ids
    path = tmp_path / "bad.csv"
    path.write_text("Кто;Когда\nx;y\n", encoding="utf-8")
    with Session(engine) as session, pytest.raises(questionnaires.ImportFileError, match="bad.csv"):
        pairing.import_participation_consents(
            session=session, cycle_id=cycle_id, path=path, max_bytes=10_000, default_date=ON
        )


def test_mentees_who_ask_for_a_group_are_matched_as_one_group(engine, cycle_ids, tmp_path):
    """«Групповая форма»: one mentor with 2–3 mentees, still within the §2.5 limit of three."""
    _, cycle_id = cycle_ids
    _setup(engine, cycle_id, tmp_path, mentees=0)
    group_file = tmp_path / "group.csv"
    group_file.write_text(
        "Фамилия;Имя;Дата рождения;Класс;Форма наставничества;Формат;Согласие на обработку персональных данных;Дата согласия;Согласие законного представителя\n"
        "Орлова;Вера;01.02.2014;6А;ученик-ученик;в группе;Да;01.09.2026;Да\n"
        "Белов;Иван;03.04.2014;6Б;ученик-ученик;Групповое;Да;01.09.2026;Да\n"
        "Титов;Лев;05.06.2014;6В;ученик-ученик;в группе;Да;01.09.2026;Да\n"
        "Жуков;Олег;07.08.2014;6В;ученик-ученик;раз в неделю;Да;01.09.2026;Да\n",
        encoding="utf-8",
    )
    report = questionnaires.import_file_transaction(
        engine=engine, cycle_id=cycle_id, path=group_file, role=Role.mentee
    )
    assert [str(e) for e in report.rejected] == [
        "group.csv, строка 5, поле «Формат»: ожидается «индивидуально» или «в группе», "
        "указано «раз в неделю»"
    ]
    with Session(engine) as session:
        summary = pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="r1")
        (row,) = pairing.pair_rows(session=session, cycle_id=cycle_id, on=ON)
        assert summary.matched == 3
        assert row.is_group and sorted(row.mentee_names) == [
            "Белов Иван",
            "Орлова Вера",
            "Титов Лев",
        ]


LYCEUM_MENTORS = """ФИО;Дата рождения;Курс;Стаж;Должность;Форма наставничества;Предметы;Согласие на обработку персональных данных;Дата согласия
Гусев Пётр Ильич;01.02.1970;;30;мастер производственного обучения;преподаватель/мастер производственного обучения - школьник;сварка;Да;01.09.2026
Белова Нина Юрьевна;01.02.1975;;25;заместитель директора по УПР;директор образовательной организации – педагог;управление;Да;01.09.2026
Осипов Юрий Львович;01.02.1980;;20;преподаватель;преподаватель - преподаватель;методика;Да;01.09.2026
Фомина Ксения Андреевна;01.02.2006;3 курс;;;студент-студент;математика;Да;01.09.2026
"""
LYCEUM_MENTEES = """ФИО;Дата рождения;Курс;Стаж;Категория наставляемого;Форма наставничества;Запрос;Согласие на обработку персональных данных;Дата согласия
Климов Денис Олегович;01.02.2008;1 курс;;;мастер производственного обучения – обучающийся;сварка;Да;01.09.2026
Седова Ирина Павловна;01.02.1990;;12;;директор–педагог;управление;Да;01.09.2026
Панова Вера Ильинична;01.02.1972;;28;Переход на дистанционное обучение;преподаватель – преподаватель;методика;Да;01.09.2026
Жукова Алла Петровна;01.02.2000;;2;молодой специалист;педагог–педагог;методика;Да;01.09.2026
Рыбин Олег Петрович;01.02.1970;;30;;преподаватель-преподаватель;методика;Да;01.09.2026
Ильин Глеб Ильич;01.02.2008;2 курс;;;студент-студент;математика;Да;01.09.2026
Лосев Марк Ильич;01.02.2006;3 курс;;;студент-студент;математика;Да;01.09.2026
"""


def test_a_colleges_forms_are_paired_by_their_rules(engine, cycle_ids, tmp_path):
    """The lyceum's forms (seed roadmap_lyceum_blagoveshchensk.txt) from its questionnaires:
    the master and the deputy director mentor by position, a senior student a younger one;
    §2.3 as written admits an experienced lecturer moving to distance teaching and refuses one
    without a category; «педагог–педагог» is the school's «учитель–учитель» (no mentor here)."""
    _, cycle_id = cycle_ids
    for name, text, role in (
        ("mentors.csv", LYCEUM_MENTORS, Role.mentor),
        ("mentees.csv", LYCEUM_MENTEES, Role.mentee),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        report = questionnaires.import_file_transaction(
            engine=engine, cycle_id=cycle_id, path=path, role=role
        )
        assert report.rejected == []
    with Session(engine) as session:
        for participant_id in _ids(session, cycle_id, Role.mentor).values():
            training.set_admission(
                session=session,
                cycle_id=cycle_id,
                participant_id=participant_id,
                admitted=True,
                reason="прошёл обучение",
            )
        pairing.run_matching(session=session, cycle_id=cycle_id, on=ON, matching_key="college")
        session.commit()
        mentors = {v: k for k, v in _ids(session, cycle_id, Role.mentor).items()}
        mentees = {v: k for k, v in _ids(session, cycle_id, Role.mentee).items()}
        pairs = {
            mentees[member.mentee_id]: (mentors[pair.mentor_id], pair.reasons)
            for pair, member in session.exec(
                select(MentorshipPair, PairMember).join(
                    PairMember, col(PairMember.pair_id) == col(MentorshipPair.id)
                )
            )
        }
        assert {mentee: mentor for mentee, (mentor, _) in pairs.items()} == {
            "Климов": "Гусев",
            "Седова": "Белова",
            "Ильин": "Фомина",
            "Панова": "Осипов",
        }
        assert "наставляемый: переход на дистанционное обучение (п. 2.3)" in pairs["Панова"][1]
        assert "запрошенная форма: студент–студент" in pairs["Ильин"][1]
        waiting = {
            w["full_name"].split()[0]: w["reason"]
            for w in pairing.search_list(session=session, cycle_id=cycle_id)
        }
        assert waiting == {
            "Жукова": matching.NO_MENTOR_OF_FORM,  # «педагог–педагог» is the school's form
            "Рыбин": matching.NOT_YOUNG_SPECIALIST,  # 30 years and no §2.3 category
            "Лосев": matching.NO_HIGHER_COURSE_MENTOR,  # on the mentor's course
        }
