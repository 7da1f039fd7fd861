"""Artifacts name no one (issue 11 §3): every Prefect user sees a run's artifacts, so the tasks that
build them give counts per role, form and reason and a link to the staff page; the staff pages list
the people to the organisation's curator and director only, never to a department."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from deployments.demo_data import DemoFiles, write_demo_questionnaires
from models import AccountRole, Organization, Participant, Person, Role
from nastavnik import cycle_lists, questionnaires, repository, training
from nastavnik.settings import Settings
from tests.test_web_access import _app
from tests.test_web_approvals import Client
from tests.web_support import sign_in_as


@pytest.fixture
def task_settings(engine: Engine, settings: Settings, monkeypatch) -> Iterator[Settings]:
    """The tasks open the installation's database and settings: this test's."""
    from nastavnik.settings import get_settings

    for name, value in {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "SMTP_URL": settings.smtp_url,
        "WEB_BASE_URL": "https://nastavnik.test",
    }.items():
        monkeypatch.setenv(f"NASTAVNIK_{name}", value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def demo(engine: Engine, cycle_ids: tuple, tmp_path: Path) -> DemoFiles:
    """The demo school's questionnaires (150 mentees, most of them children, and 50 mentors)."""
    return write_demo_questionnaires(tmp_path / "demo")


def personal_data(engine: Engine, cycle_id) -> list[str]:
    """Every participant's name, e-mail, phone and birth date as they could be printed."""
    values: set[str] = set()
    with Session(engine) as session:
        people = session.exec(
            select(Person)
            .join(Participant, Participant.person_id == Person.id)
            .where(Participant.cycle_id == cycle_id)
        ).all()
    for person in people:
        values |= {person.full_name, f"{person.last_name} {person.first_name}"}
        values |= {person.email, person.phone}
        if person.birth_date is not None:
            values |= {f"{person.birth_date:%d.%m.%Y}", person.birth_date.isoformat()}
    return sorted(v for v in values if v and len(v) > 3)


def assert_names_no_one(shown: object, personal: list[str]) -> None:
    text = json.dumps(shown, ensure_ascii=False, default=str)
    leaked = [value for value in personal if value in text]
    assert not leaked, leaked[:5]


def test_the_tasks_artifact_rows_count_and_link_but_name_no_one(
    engine, cycle_ids, demo, task_settings, tmp_path
) -> None:
    from tasks.base_formation import check_consents, import_questionnaires
    from tasks.pairing import match_pairs, render_pairing_order
    from tasks.training import decide_admissions, import_attendance, select_mentors

    cycle_id, on = cycle_ids[1], demo.reference_date
    reports = import_questionnaires.fn(
        cycle_id=str(cycle_id),
        mentee_files=[str(p) for p in demo.mentee_files],
        mentor_files=[str(p) for p in demo.mentor_files],
        flow_run_id="00000000-0000-0000-0000-000000000001",
    )
    personal = personal_data(engine, cycle_id)
    assert len(personal) > 500  # names, addresses, phones and birth dates of 198 people
    errors = [e for r in reports for e in r.errors]
    assert errors and {"Файл", "Строка", "Поле", "Ошибка"} <= set(errors[0])

    consents = check_consents.fn(cycle_id=str(cycle_id), on=on)
    assert consents.missing_count == demo.expected_missing_mentees + demo.expected_missing_mentors
    assert sum(row["Участников"] for row in consents.missing) == consents.missing_count
    assert {row["Роль"] for row in consents.missing} == {"наставник", "наставляемый"}
    assert consents.list_url == f"https://nastavnik.test/cycles/{cycle_id}/consents"

    selection = select_mentors.fn(cycle_id=str(cycle_id), on=on)
    assert sum(row["Отобрано"] for row in selection.selected) == selection.selected_count > 0
    assert selection.list_url.endswith(f"/cycles/{cycle_id}/mentors")
    with Session(engine) as session:
        training.schedule_sessions(
            session=session,
            cycle_id=cycle_id,
            sessions=training.default_sessions(school_year="2026/2027"),
        )
        session.commit()
        rows = training.admission_rows(session=session, cycle_id=cycle_id)
        chosen = next(r.full_name for r in rows if r.selected)
        passed_over = next(r.full_name for r in rows if not r.selected)
    attendance = tmp_path / "явка.csv"
    attendance.write_text(
        "ФИО;Занятие;Присутствовал\n"
        f"{chosen};vvodnoe;да\n{passed_over};vvodnoe;да\n"
        f"Незнакомов Пётр Ильич;vvodnoe;да\n{chosen};лекция;да\n",
        encoding="utf-8",
    )
    attendance_errors = import_attendance.fn(cycle_id=str(cycle_id), files=[str(attendance)])
    assert len(attendance_errors) == 3
    personal.append("Незнакомов Пётр")
    admissions = decide_admissions.fn(cycle_id=str(cycle_id), min_mandatory_share=0.0)
    assert sum(row["Обучались"] for row in admissions.rows) == admissions.selected > 0

    with Session(engine) as session:
        for participant in session.exec(
            select(Participant).where(
                Participant.cycle_id == cycle_id, Participant.role == Role.mentor
            )
        ):
            training.set_admission(
                session=session,
                cycle_id=cycle_id,
                participant_id=participant.id,
                admitted=True,
                reason="прошёл обучение",
            )
        session.commit()
    draft = match_pairs.fn(
        cycle_id=str(cycle_id),
        on=on,
        flow_run_id="00000000-0000-0000-0000-000000000002",
        round_no=1,
    )
    assert sum(row["Наставляемых"] for row in draft.pairs) == draft.matched > 0
    assert sum(row["Наставляемых"] for row in draft.search_list) == draft.unmatched > 0
    order = render_pairing_order.fn(
        cycle_id=str(cycle_id),
        on=on,
        starts_on=date(2026, 12, 1),
        ends_on=date(2027, 5, 31),
        flow_run_id="00000000-0000-0000-0000-000000000002",
        round_no=1,
    )
    # No one has signed the written consent yet: every pair waits, counted per form.
    assert order.document_id is None
    assert sum(row["Пар и групп"] for row in order.blocked) == order.blocked_pairs > 0
    assert order.list_url.endswith(f"/cycles/{cycle_id}/pairs")

    assert_names_no_one(
        {
            "import": [r.model_dump() for r in reports],
            "attendance": attendance_errors,
            "consents": consents.model_dump(),
            "selection": selection.model_dump(),
            "admissions": admissions.model_dump(),
            "draft": draft.model_dump(),
            "order": order.model_dump(),
        },
        personal,
    )


def test_typed_values_are_left_out_of_rejected_rows() -> None:
    rows = cycle_lists.rejected_rows_table(
        [
            {"Файл": "a.csv", "Строка": 3, "Поле": "ФИО", "Ошибка": "«Иванов Пётр» не отобран(а)"},
            {"Файл": "a.csv", "Строка": 4, "Поле": "Дата", "Ошибка": "неправдоподобная 01.02.1900"},
            {"Файл": "a.csv", "Строка": 5, "Поле": "Почта", "Ошибка": "адрес ivan@x.ru неверен"},
        ]
    )
    assert [r["Ошибка"] for r in rows] == [
        "«…» не отобран(а)",
        "неправдоподобная …",
        "адрес … неверен",
    ]
    assert [(r["Файл"], r["Строка"], r["Поле"]) for r in rows][0] == ("a.csv", 3, "ФИО")


def test_the_staff_pages_list_people_to_the_curator_and_director_only(
    engine, settings, cycle_ids, demo
) -> None:
    org_id, cycle_id = cycle_ids
    for path, role in demo.files():
        questionnaires.import_file_transaction(
            engine=engine, cycle_id=cycle_id, path=path, role=role
        )
    with Session(engine) as session:
        school = session.get(Organization, org_id)
        assert school is not None
        department = repository.upsert_organization(
            session=session,
            code="uo-test",
            name="Управление образования",
            short_name="УО",
            director_name="Начальник",
            director_email="head@uo.example",
            curator_name="Специалист",
            curator_email="spec@uo.example",
        )
        department.kind, school.department_id = "department", department.id
        session.add_all([department, school])
        other = repository.upsert_organization(
            session=session,
            code="school-8",
            name="Школа № 8",
            short_name="Ш8",
            director_name="Директор",
            director_email="d@8.example",
            curator_name="Куратор",
            curator_email="c@8.example",
        )
        session.commit()
        listing = cycle_lists.consents_list(
            session=session, cycle_id=cycle_id, on=demo.reference_date
        )
        child = next(m for m in listing.missing if m.role == Role.mentee)
        other_code = other.code
    pages = [f"/cycles/{cycle_id}/{page}" for page in cycle_lists.LIST_PAGES]
    for role in (AccountRole.curator, AccountRole.director):
        client = Client(_app(settings, engine))
        sign_in_as(client, engine, role=role, org_code="school-7")
        answers = [client.get(page) for page in pages]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert child.full_name in answers[0].text
    # A department sees its members' figures, never a child's name; another school sees nothing.
    client = Client(_app(settings, engine))
    sign_in_as(client, engine, role=AccountRole.department, org_code="uo-test")
    assert [client.get(page).status_code for page in pages] == [403, 403, 403]
    client = Client(_app(settings, engine))
    sign_in_as(client, engine, role=AccountRole.curator, org_code=other_code)
    assert [client.get(page).status_code for page in pages] == [404, 404, 404]
