"""Questionnaire import: formats, encodings, per-row errors, idempotence, untrusted input."""

from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from deployments.demo_data import write_demo_questionnaires
from models import (
    AuditEvent,
    Consent,
    ConsentKind,
    MenteeCategory,
    MentoringForm,
    Participant,
    Person,
    Role,
)
from nastavnik import questionnaires
from nastavnik.consents import check_consents
from nastavnik.questionnaires import (
    ImportFileError,
    ImportReport,
    RowError,
    canonical_header,
    import_file_transaction,
    import_questionnaire,
    parse_date,
    parse_form,
    parse_grade,
    parse_mentee_category,
    read_questionnaire,
)

FIXTURES = Path(__file__).parent / "fixtures" / "questionnaires"

HEADERS = [
    "Отметка времени",
    "Фамилия *",
    "Имя *",
    "Отчество",
    "Дата рождения *",
    "Класс",
    "Электронная почта",
    "Телефон",
    "Форма наставничества *",
    "Ваш запрос к наставнику",
    "Интересы",
    "Согласие на обработку персональных данных",
    "Согласие законного представителя",
    "ФИО законного представителя",
]
GOOD_ROWS = [
    [
        "15.09.2026 10:23:45",
        "Семёнова",
        "Алёна",
        "Игоревна",
        "03.04.2013",
        "7А",
        "Semenova.Alena@Example.ru",
        "+7 900 123-45-67",
        "Ученик – ученик",
        "подготовка к ОГЭ по математике; проектная деятельность",
        "шахматы, театр",
        "Да",
        "Да",
        "Семёнова Ольга Петровна",
    ],
    [
        "2026-09-16 08:00:00",
        "Ким",
        "Виктор",
        "",
        "2012-11-30",
        "10 б",
        "",
        "",
        "студент-ученик",
        "выбор профессии,\nподготовка к ЕГЭ",
        "",
        "Да",
        "16.09.2026",
        "",
    ],
]


def write_csv(
    path: Path,
    rows: list[list[Any]],
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
    headers: list[str] = HEADERS,
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]], *, headers: list[str] = HEADERS) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(
    engine: Engine, cycle_id: Any, path: Path, role: Role = Role.mentee, **kwargs: Any
) -> ImportReport:
    return import_file_transaction(engine=engine, cycle_id=cycle_id, path=path, role=role, **kwargs)


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Person, Participant, Consent)
        )


def people(engine: Engine) -> dict[str, tuple[Person, Participant]]:
    with Session(engine) as session:
        rows = session.exec(select(Person, Participant).where(Participant.person_id == Person.id))
        return {person.last_name: (person, participant) for person, participant in rows}


# --- formats and encodings -------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_in_every_encoding_and_delimiter(engine, cycle_ids, tmp_path, encoding, delimiter):
    path = write_csv(tmp_path / "mentees.csv", GOOD_ROWS, encoding=encoding, delimiter=delimiter)
    report = run(engine, cycle_ids[1], path)
    assert (report.accepted, report.updated, report.unchanged, report.rejected) == (2, 0, 0, [])
    assert report.consents_recorded == 4
    found = people(engine)
    person, participant = found["Семёнова"]
    assert (person.first_name, person.middle_name, person.birth_date) == (
        "Алёна",
        "Игоревна",
        date(2013, 4, 3),
    )
    assert person.email == "semenova.alena@example.ru"
    assert person.person_key == "semenova.alena@example.ru"
    assert person.phone == "+7 900 123-45-67"
    assert (participant.grade, participant.class_letter) == (7, "А")
    assert participant.form is MentoringForm.student_student
    assert participant.requests == "подготовка к ОГЭ по математике; проектная деятельность"
    assert (participant.source_file, participant.source_row) == ("mentees.csv", 2)
    kim, kim_participant = found["Ким"]
    assert kim.person_key == "ким|виктор||2012-11-30"
    assert (kim_participant.grade, kim_participant.class_letter) == (10, "Б")
    assert kim_participant.requests == "выбор профессии,\nподготовка к ЕГЭ"
    assert kim_participant.form is MentoringForm.university_student_pupil
    with Session(engine) as session:
        consents = {(c.person_id, c.kind): c for c in session.exec(select(Consent))}
    assert consents[(person.id, ConsentKind.personal_data)].given_on == date(2026, 9, 15)
    assert consents[(person.id, ConsentKind.personal_data)].source == "mentees.csv:2"
    guardian = consents[(person.id, ConsentKind.guardian)]
    assert (guardian.given_on, guardian.guardian_name) == (
        date(2026, 9, 15),
        "Семёнова Ольга Петровна",
    )
    assert consents[(kim.id, ConsentKind.guardian)].given_on == date(2026, 9, 16)


def test_xlsx_with_date_cells_numbers_and_gaps(engine, cycle_ids, tmp_path):
    rows: list[list[Any]] = [
        [
            datetime(2026, 9, 15, 10, 23),
            "Семёнова",
            "Алёна",
            None,
            datetime(2013, 4, 3),
            "7А",
            "a@example.ru",
            79001234567,
            "Ученик — ученик",
            "проектная деятельность",
            None,
            True,
            "Да",
            "Семёнова Ольга Петровна",
        ],
        [None] * len(HEADERS),
        [
            datetime(2026, 9, 16),
            "Ким",
            "Виктор",
            None,
            date(2012, 11, 30),
            11,
            None,
            None,
            "учитель–учитель",
            None,
            None,
            "Да",
            "Да",
            None,
        ],
    ]
    path = write_xlsx(tmp_path / "mentees.xlsx", rows)
    headers, raw = read_questionnaire(path, max_bytes=10**6)
    assert headers == HEADERS
    assert raw[0]["Отметка времени"] == "15.09.2026 10:23:00"
    assert raw[0]["Дата рождения *"] == "03.04.2013"
    assert raw[0]["Телефон"] == "79001234567"
    assert raw[0]["Согласие на обработку персональных данных"] == "Да"
    report = run(engine, cycle_ids[1], path)
    assert (report.accepted, report.rejected) == (2, [])
    found = people(engine)
    assert found["Семёнова"][0].birth_date == date(2013, 4, 3)
    assert found["Ким"][1].grade == 11
    assert found["Ким"][1].source_row == 4  # the blank row 3 is skipped but still counted


def test_committed_fixtures_import(engine, cycle_ids):
    """A Google Forms CSV saved by Excel (cp1251, ';', '*' in headers) and a Yandex-style XLSX."""
    report = run(engine, cycle_ids[1], FIXTURES / "mentees_google_forms_cp1251.csv")
    assert (report.accepted, report.rejected_rows) == (3, 1)
    assert [str(e) for e in report.rejected] == [
        "mentees_google_forms_cp1251.csv, строка 4, поле «Класс»: класс должен быть от 1 до 11, "
        "указано «12В»",
    ]
    report = run(engine, cycle_ids[1], FIXTURES / "mentors_teachers.xlsx", role=Role.mentor)
    assert (report.accepted, report.rejected) == (2, [])
    found = people(engine)
    assert found["Орлова"][1].experience_years == 27
    assert found["Орлова"][1].position == "учитель математики"
    assert found["Орлова"][1].form is MentoringForm.teacher_teacher


def test_headers_are_matched_loosely():
    assert canonical_header("  фамилия  * ") == "Фамилия"
    assert canonical_header("E-MAIL") == "Электронная почта"
    assert canonical_header("Ваш  запрос к наставнику?") == "Запрос"
    assert canonical_header("Опыт работы, лет") == "Стаж"
    assert canonical_header("Согласие законного представителя:") == (
        "Согласие законного представителя"
    )
    assert canonical_header("Любимый цвет") is None


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Ученик – ученик", MentoringForm.student_student),
        ("ученик-ученик", MentoringForm.student_student),
        ("УЧЕНИК—УЧЕНИК", MentoringForm.student_student),
        ("Учитель – учитель", MentoringForm.teacher_teacher),
        ("педагог - педагог", MentoringForm.teacher_teacher),
        ("Работодатель – ученик", MentoringForm.employer_student),
        ("Студент – ученик", MentoringForm.university_student_pupil),
        ("Преподаватель – студент", MentoringForm.teacher_student),
        # The lyceum's forms as its roadmap writes them (seed roadmap_lyceum_blagoveshchensk.txt).
        ("студент-студент", MentoringForm.student_student_college),
        ("преподаватель - преподаватель", MentoringForm.lecturer_lecturer),
        ("работодатель - студент", MentoringForm.employer_student_college),
        (
            "преподаватель/мастер производственного обучения - школьник",
            MentoringForm.master_student,
        ),
        ("Мастер производственного обучения – обучающийся", MentoringForm.master_student),
        ("мастер п/о – студент", MentoringForm.master_student),
        ("директор образовательной организации – педагог", MentoringForm.director_teacher),
        ("Директор–педагог", MentoringForm.director_teacher),
        *((form.value, form) for form in MentoringForm),
        ("Родитель – ученик", None),
        ("ученик", None),
    ],
)
def test_forms_are_normalised(text, form):
    assert parse_form(text) is form


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("7А", (7, "А")),
        ("10 Б", (10, "Б")),
        ("7-а", (7, "А")),
        ("11", (11, "")),
        ("9 «В»", (9, "В")),
        ("5 класс", (5, "")),
        ("8B", (8, "В")),
        ("14", (14, "")),
        ("2 курс", (2, "")),
        ("1-й курс", (1, "")),
        ("Курс 3", (3, "")),
        ("седьмой", None),
        ("7АБ", None),
    ],
)
def test_grades_are_parsed(text, grade):
    assert parse_grade(text) == grade


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Молодой специалист", MenteeCategory.young_specialist),
        ("молодой специалист (стаж от 0 до 3 лет)", MenteeCategory.young_specialist),
        ("Новый сотрудник", MenteeCategory.newcomer),
        ("новый сотрудник (смена места работы)", MenteeCategory.newcomer),
        ("Освоение новых методик", MenteeCategory.new_methods),
        ("освоение новых технологий", MenteeCategory.new_methods),
        ("Переход на дистанционное обучение", MenteeCategory.distance_teaching),
        ("Профессиональное выгорание", MenteeCategory.burnout),
        ("эмоциональное выгорание, хроническая усталость", MenteeCategory.burnout),
        *((c.value.upper(), c) for c in MenteeCategory),
        ("высшая категория", None),
        ("", None),
    ],
)
def test_mentee_categories_are_parsed_from_russian_answers(text, category):
    """§2.3 as written: young specialist, newcomer, or an experienced teacher mastering new
    methods, moving to distance teaching, or at risk of burnout."""
    assert parse_mentee_category(text) is category


def test_two_mentee_categories_in_one_answer_are_refused():
    with pytest.raises(ValueError, match="«молодой специалист», «профессиональное выгорание»"):
        parse_mentee_category("Молодой специалист, профессиональное выгорание")


def test_mentee_category_and_course_are_imported(engine, cycle_ids, tmp_path):
    """§2.3 «молодого специалиста (при опыте работы от 0 до 3 лет) или нового сотрудника (при
    смене места работы)», §2.3.4 «Педагог, находящийся в состоянии эмоционального выгорания»:
    the questionnaire carries the category; a college student's course goes to «Класс»."""
    headers = ["ФИО", "Форма наставничества", "Стаж", "Категория наставляемого педагога", "Курс"]
    rows = [
        ["Орлова Анна Ивановна", "преподаватель-преподаватель", "22", "Освоение новых методик", ""],
        ["Лукин Ян Петрович", "педагог–педагог", "14", "Профессиональное выгорание", ""],
        ["Рябова Ева Олеговна", "учитель-учитель", "1", "молодой специалист", ""],
        ["Зуев Лев Павлович", "студент-студент", "", "", "1 курс"],
        ["Титов Гай Ильич", "учитель-учитель", "30", "первая квалификационная", ""],
        ["Попов Иван Иванович", "учитель-учитель", "30", "Новый сотрудник; выгорание", ""],
        ["Юдин Олег Олегович", "студент-студент", "", "", "8 курс"],
    ]
    path = write_csv(tmp_path / "lyceum.csv", rows, headers=headers)
    report = run(engine, cycle_ids[1], path, role=Role.mentor)
    allowed = ", ".join(f"«{c.value}»" for c in MenteeCategory)
    assert [str(e) for e in report.rejected] == [
        "lyceum.csv, строка 6, поле «Категория наставляемого»: неизвестная категория "
        f"«первая квалификационная»; допустимы: {allowed}",
        "lyceum.csv, строка 7, поле «Категория наставляемого»: указано несколько категорий "
        "(«новый сотрудник», «профессиональное выгорание»), выберите одну: "
        "«Новый сотрудник; выгорание»",
        "lyceum.csv, строка 8, поле «Класс»: курс должен быть от 1 до 6, указано «8 курс»",
    ]
    stored = people(engine)
    assert stored["Орлова"][1].form is MentoringForm.lecturer_lecturer
    assert stored["Орлова"][1].mentee_category is MenteeCategory.new_methods
    assert stored["Лукин"][1].form is MentoringForm.teacher_teacher
    assert stored["Лукин"][1].mentee_category is MenteeCategory.burnout
    assert stored["Рябова"][1].mentee_category is MenteeCategory.young_specialist
    assert stored["Зуев"][1].form is MentoringForm.student_student_college
    assert (stored["Зуев"][1].grade, stored["Зуев"][1].mentee_category) == (1, None)
    # An emptied answer clears the stored category on re-import (present columns overwrite).
    rows[0][3] = ""
    report = run(engine, cycle_ids[1], write_csv(path, rows[:4], headers=headers), role=Role.mentor)
    assert (report.updated, report.unchanged) == (1, 3)
    assert people(engine)["Орлова"][1].mentee_category is None


def test_mentee_category_header_is_not_a_qualification_category():
    assert canonical_header("Категория наставляемого") == "Категория наставляемого"
    assert canonical_header("Основание для наставничества:") == "Категория наставляемого"
    assert canonical_header("Курс обучения") == "Класс"
    # A teacher's «квалификационная категория» (первая, высшая) is another question.
    assert canonical_header("Квалификационная категория") is None
    assert canonical_header("Категория") is None


def test_dates_are_parsed():
    assert parse_date("03.04.2013") == date(2013, 4, 3)
    assert parse_date("3.4.2013") == date(2013, 4, 3)
    assert parse_date("2013-04-03") == date(2013, 4, 3)
    assert parse_date("15.09.2026 10:23:45") == date(2026, 9, 15)
    assert parse_date("31.02.2013") is None
    assert parse_date("04/03/2013") is None


# --- per-row errors ---------------------------------------------------------------------------

BAD_ROWS = [
    # row 2: good
    [
        "15.09.2026",
        "Орлов",
        "Иван",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ],
    # row 3: impossible date
    [
        "15.09.2026",
        "Белов",
        "Глеб",
        "",
        "31.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ],
    # row 4: unknown form and bad e-mail
    [
        "15.09.2026",
        "Лукина",
        "Ева",
        "",
        "01.02.2013",
        "7А",
        "eva@",
        "",
        "Родитель – ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ],
    # row 5: empty surname
    [
        "15.09.2026",
        " ",
        "Иван",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ],
    # row 6: grade 14
    [
        "15.09.2026",
        "Зуев",
        "Лев",
        "",
        "01.02.2013",
        "14",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ],
    # row 7: fully blank: skipped silently
    [""] * len(HEADERS),
    # row 8: consent answer not understood, birth date after the cycle start
    [
        "15.09.2026",
        "Гусев",
        "Марк",
        "",
        "01.01.2030",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "может быть",
        "Да",
        "",
    ],
    # row 9: consent "Да" without any date to go by
    ["", "Титов", "Марк", "", "01.02.2013", "7А", "", "", "ученик-ученик", "", "", "Да", "", ""],
    # row 10: no birth date (mandatory for mentees) and an unreadable grade
    [
        "15.09.2026",
        "Юдин",
        "Марк",
        "",
        "",
        "седьмой",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "",
        "",
    ],
    # row 11: a name too long for a name
    [
        "15.09.2026",
        "Я" * 201,
        "Марк",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "",
        "",
    ],
    # row 12: a request longer than 2000 characters
    [
        "15.09.2026",
        "Котов",
        "Марк",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "ж" * 2001,
        "",
        "Да",
        "",
        "",
    ],
]
BAD_ROWS.append(
    # row 13: consent "Да" dated by an unreadable timestamp
    [
        "вчера",
        "Котов",
        "Лев",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "",
        "",
    ],
)
EXPECTED_ERRORS = [
    "bad.csv, строка 3, поле «Дата рождения»: неверная дата «31.02.2013», ожидается ДД.ММ.ГГГГ "
    "или ГГГГ-ММ-ДД",
    "bad.csv, строка 4, поле «Электронная почта»: неверный адрес электронной почты «eva@»",
    "bad.csv, строка 4, поле «Форма наставничества»: неизвестная форма наставничества "
    "«Родитель – ученик»; допустимы: ученик–ученик, учитель–учитель, работодатель–ученик, "
    "студент–ученик, преподаватель–студент, студент–студент, работодатель–студент, "
    "преподаватель–преподаватель, мастер производственного обучения–обучающийся, "
    "директор–педагог",
    "bad.csv, строка 5, поле «Фамилия»: обязательное поле не заполнено",
    "bad.csv, строка 6, поле «Класс»: класс должен быть от 1 до 11, указано «14»",
    "bad.csv, строка 8, поле «Дата рождения»: неправдоподобная дата рождения 01.01.2030",
    "bad.csv, строка 8, поле «Согласие на обработку персональных данных»: ожидается «Да», «Нет» "
    "или дата, указано «может быть»",
    "bad.csv, строка 9, поле «Согласие на обработку персональных данных»: согласие отмечено, но "
    "дата не указана: нужна «Отметка времени» или «Дата согласия»",
    "bad.csv, строка 10, поле «Дата рождения»: обязательное поле не заполнено",
    "bad.csv, строка 10, поле «Класс»: не удалось распознать класс «седьмой», ожидается, "
    "например, 7А или 10 Б",
    "bad.csv, строка 11, поле «Фамилия»: значение длиннее 200 символов (201)",
    "bad.csv, строка 12, поле «Запрос»: значение длиннее 2000 символов (2001)",
    "bad.csv, строка 13, поле «Отметка времени»: неверная дата «вчера», ожидается ДД.ММ.ГГГГ или "
    "ГГГГ-ММ-ДД",
]


def test_bad_rows_are_rejected_with_exact_errors_and_good_rows_kept(engine, cycle_ids, tmp_path):
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "bad.csv", BAD_ROWS))
    assert [str(error) for error in report.rejected] == EXPECTED_ERRORS
    assert (report.accepted, report.rejected_rows) == (1, 10)
    assert report.rejected[0] == RowError(
        file="bad.csv",
        row=3,
        field="Дата рождения",
        message="неверная дата «31.02.2013», ожидается ДД.ММ.ГГГГ или ГГГГ-ММ-ДД",
    )
    assert report.as_rows()[0] == {
        "Файл": "bad.csv",
        "Строка": 3,
        "Поле": "Дата рождения",
        "Ошибка": "неверная дата «31.02.2013», ожидается ДД.ММ.ГГГГ или ГГГГ-ММ-ДД",
    }
    assert list(people(engine)) == ["Орлов"]
    assert counts(engine) == (1, 1, 2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-2", "стаж не может быть отрицательным, указано «-2»"),
        ("много", "стаж должен быть целым числом лет, указано «много»"),
        ("120", "неправдоподобный стаж «120» (больше 70 лет)"),
    ],
)
def test_experience_is_checked(engine, cycle_ids, tmp_path, value, message):
    headers = ["Фамилия", "Имя", "Форма наставничества", "Стаж"]
    path = write_csv(
        tmp_path / "mentors.csv", [["Орлова", "Анна", "учитель-учитель", value]], headers=headers
    )
    report = run(engine, cycle_ids[1], path, role=Role.mentor)
    assert [str(e) for e in report.rejected] == [f"mentors.csv, строка 2, поле «Стаж»: {message}"]


def test_experience_in_words_and_zero_are_accepted(engine, cycle_ids, tmp_path):
    headers = ["Фамилия", "Имя", "Форма наставничества", "Опыт работы, лет"]
    rows = [["Орлова", "Анна", "учитель-учитель", "5 лет"], ["Лукин", "Ян", "учитель-учитель", "0"]]
    path = write_csv(tmp_path / "mentors.csv", rows, headers=headers, delimiter=",")
    report = run(engine, cycle_ids[1], path, role=Role.mentor)
    assert (report.accepted, report.rejected) == (2, [])
    assert people(engine)["Орлова"][1].experience_years == 5
    assert people(engine)["Лукин"][1].experience_years == 0


def test_same_person_twice_in_a_file_keeps_the_later_answer(engine, cycle_ids, tmp_path):
    first = list(GOOD_ROWS[0])
    later = list(GOOD_ROWS[0])
    later[9] = "адаптация в новом классе"
    path = write_csv(tmp_path / "mentees.csv", [first, GOOD_ROWS[1], later])
    report = run(engine, cycle_ids[1], path)
    assert [str(e) for e in report.rejected] == [
        "mentees.csv, строка 2, поле «Электронная почта»: повторная анкета того же человека, "
        "учтена строка 4",
    ]
    assert report.accepted == 2
    assert people(engine)["Семёнова"][1].requests == "адаптация в новом классе"
    again = run(engine, cycle_ids[1], path)
    assert (again.accepted, again.updated, again.unchanged) == (0, 0, 2)


# --- whole-file problems ----------------------------------------------------------------------


def test_missing_required_columns_refuse_the_file(engine, cycle_ids, tmp_path):
    path = write_csv(tmp_path / "mentees.csv", [["Орлов", "Иван"]], headers=["Фамилия", "Имя"])
    with pytest.raises(ImportFileError) as caught:
        run(engine, cycle_ids[1], path)
    assert str(caught.value) == (
        "mentees.csv: нет обязательных столбцов: «Форма наставничества», «Дата рождения»"
    )
    headers = ["Фамилия", "Имя", "Форма наставничества"]
    mentors = write_csv(
        tmp_path / "mentors.csv", [["Орлов", "Иван", "учитель-учитель"]], headers=headers
    )
    assert run(engine, cycle_ids[1], mentors, role=Role.mentor).accepted == 1
    with pytest.raises(ImportFileError, match="«Дата рождения»"):
        run(engine, cycle_ids[1], mentors, role=Role.mentee)


def test_oversized_file_is_refused_before_reading(engine, cycle_ids, tmp_path):
    path = write_csv(tmp_path / "big.csv", GOOD_ROWS * 50)
    with pytest.raises(ImportFileError) as caught:
        run(engine, cycle_ids[1], path, max_bytes=1024)
    assert str(caught.value).startswith("big.csv: файл слишком большой (")
    assert str(caught.value).endswith("допустимо не более 1 КБ")
    assert counts(engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "anketa.pdf",
            b"%PDF-1.4",
            "anketa.pdf: неподдерживаемый формат «.pdf», ожидается .csv или .xlsx",
        ),
        (
            "anketa",
            b"x",
            "anketa: неподдерживаемый формат «без расширения», ожидается .csv или .xlsx",
        ),
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0",
            "old.xls: формат .xls не поддерживается, сохраните файл как .xlsx или .csv",
        ),
        ("empty.csv", b"", "empty.csv: файл пуст или первая строка не содержит заголовков"),
        (
            "binary.csv",
            b"PK\x03\x04\x00\x00",
            "binary.csv: файл не похож на текстовый CSV (двоичные данные)",
        ),
        ("broken.xlsx", b"not a zip at all", "broken.xlsx: файл повреждён или не является XLSX"),
        (
            "dup.csv",
            "Фамилия;Имя;Фамилия наставляемого;Форма\nА;Б;В;Г\n".encode(),
            "dup.csv: столбец «Фамилия» встречается несколько раз: «Фамилия», «Фамилия "
            "наставляемого»",
        ),
    ],
)
def test_whole_file_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as caught:
        headers, _ = read_questionnaire(path, max_bytes=10**6)
        questionnaires._resolve_columns(headers, file=name, role=Role.mentor)
    assert str(caught.value) == message


def test_zip_bomb_xlsx_is_refused(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 10_000_000)
    assert path.stat().st_size < 50_000
    with pytest.raises(ImportFileError) as caught:
        read_questionnaire(path, max_bytes=50_000)
    assert str(caught.value) == "bomb.xlsx: содержимое XLSX слишком велико после распаковки"


# --- idempotence, identity, transactions -------------------------------------------------------


def test_reimport_changes_nothing_and_edits_count_as_updates(engine, cycle_ids, tmp_path):
    path = write_csv(tmp_path / "mentees.csv", GOOD_ROWS)
    first = run(engine, cycle_ids[1], path)
    assert (first.accepted, first.consents_recorded) == (2, 4)
    before = counts(engine)
    stamps = {k: (p.updated_at, q.updated_at) for k, (p, q) in people(engine).items()}
    again = run(engine, cycle_ids[1], path)
    assert (again.accepted, again.updated, again.unchanged, again.consents_recorded) == (0, 0, 2, 0)
    assert counts(engine) == before == (2, 2, 4)
    assert {k: (p.updated_at, q.updated_at) for k, (p, q) in people(engine).items()} == stamps

    edited = [list(GOOD_ROWS[0]), list(GOOD_ROWS[1])]
    edited[0][5] = "8А"  # moved up a grade
    edited[1][13] = "Ким Ирина Сергеевна"  # guardian named later
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "mentees.csv", edited))
    assert (report.accepted, report.updated, report.unchanged, report.consents_recorded) == (
        0,
        2,
        0,
        1,
    )
    assert counts(engine) == (2, 2, 4)
    after = people(engine)
    assert after["Семёнова"][1].grade == 8
    assert after["Семёнова"][1].updated_at > stamps["Семёнова"][1]
    assert after["Семёнова"][0].updated_at == stamps["Семёнова"][0]


def test_person_key_ignores_case_and_yo(engine, cycle_ids, tmp_path):
    row = [
        "15.09.2026",
        "Семёнов",
        "Пётр",
        "",
        "01.02.2013",
        "7А",
        "",
        "",
        "ученик-ученик",
        "",
        "",
        "Да",
        "Да",
        "",
    ]
    run(engine, cycle_ids[1], write_csv(tmp_path / "a.csv", [row]))
    row[1:3] = ["  СЕМЕНОВ ", "петр"]
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "b.csv", [row]))
    assert (report.accepted, report.updated) == (0, 1)  # same person, name re-typed
    assert counts(engine) == (1, 1, 2)
    assert people(engine)["СЕМЕНОВ"][0].person_key == "семенов|петр||2013-02-01"


def test_one_person_can_be_mentor_and_mentee(engine, cycle_ids, tmp_path):
    run(engine, cycle_ids[1], write_csv(tmp_path / "mentees.csv", GOOD_ROWS[:1]))
    headers = [
        "Фамилия",
        "Имя",
        "E-mail",
        "Форма наставничества",
        "Согласие на обработку персональных данных",
        "Дата согласия",
    ]
    mentor = [
        ["Семёнова", "Алёна", "semenova.alena@example.ru", "ученик-ученик", "Да", "01.09.2026"]
    ]
    report = run(
        engine,
        cycle_ids[1],
        write_csv(tmp_path / "mentors.csv", mentor, headers=headers),
        role=Role.mentor,
    )
    assert report.accepted == 1
    assert counts(engine) == (1, 2, 2)
    with Session(engine) as session:
        person = session.exec(select(Person)).one()
        assert person.birth_date == date(2013, 4, 3)  # not erased by the mentors' file
        consent = session.exec(
            select(Consent).where(Consent.kind == ConsentKind.personal_data)
        ).one()
        assert consent.given_on == date(2026, 9, 1)  # the earliest consent wins
    again = run(engine, cycle_ids[1], tmp_path / "mentees.csv")
    assert (again.updated, again.unchanged) == (0, 1)  # import order does not matter


def test_no_consent_keeps_an_existing_one_and_revocation_date_revokes_it(
    engine, cycle_ids, tmp_path
):
    run(engine, cycle_ids[1], write_csv(tmp_path / "mentees.csv", GOOD_ROWS[:1]))
    headers = [*HEADERS, "Дата отзыва согласия"]
    row = [*GOOD_ROWS[0], ""]
    row[11] = "Нет"
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "m.csv", [row], headers=headers))
    assert (report.unchanged, report.consents_recorded) == (1, 0)
    row[-1] = "15.10.2026"
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "m.csv", [row], headers=headers))
    assert (report.updated, report.consents_recorded) == (1, 1)
    with Session(engine) as session:
        consent = session.exec(
            select(Consent).where(Consent.kind == ConsentKind.personal_data)
        ).one()
        assert (consent.given_on, consent.revoked_on) == (date(2026, 9, 15), date(2026, 10, 15))
    row[11] = "Да"
    row[-1] = "01.09.2026"
    report = run(engine, cycle_ids[1], write_csv(tmp_path / "m.csv", [row], headers=headers))
    assert [str(e) for e in report.rejected] == [
        "m.csv, строка 2, поле «Дата отзыва согласия»: дата отзыва 01.09.2026 раньше даты "
        "согласия 15.09.2026",
    ]


def test_failing_import_leaves_nothing_and_keeps_the_callers_work(
    engine, cycle_ids, tmp_path, monkeypatch
):
    path = write_csv(tmp_path / "mentees.csv", GOOD_ROWS)
    real_merge_write = questionnaires._write_rows

    def write_then_fail(**kwargs: Any) -> None:
        real_merge_write(**kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(questionnaires, "_write_rows", write_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        run(engine, cycle_ids[1], path)
    assert counts(engine) == (0, 0, 0)

    with Session(engine) as session:
        session.add(AuditEvent(actor="curator", action="import started"))
        with pytest.raises(RuntimeError):
            import_questionnaire(
                session=session, cycle_id=cycle_ids[1], path=path, role=Role.mentee
            )
        session.commit()
    assert counts(engine) == (0, 0, 0)
    with Session(engine) as session:
        assert len(session.exec(select(AuditEvent)).all()) == 1


def test_the_caller_decides_whether_the_import_is_committed(engine, cycle_ids, tmp_path):
    path = write_csv(tmp_path / "mentees.csv", GOOD_ROWS)
    with Session(engine) as session:
        report = import_questionnaire(
            session=session, cycle_id=cycle_ids[1], path=path, role=Role.mentee
        )
        assert report.accepted == 2
        session.rollback()
    assert counts(engine) == (0, 0, 0)
    with Session(engine) as session:
        import_questionnaire(session=session, cycle_id=cycle_ids[1], path=path, role=Role.mentee)
        session.commit()
    assert counts(engine) == (2, 2, 4)


# --- untrusted input --------------------------------------------------------------------------

INERT = {
    "Отчество": "<script>alert(1)</script>",
    "Запрос": '=HYPERLINK("http://evil.example","нажми")',
    "Интересы": "=1+1",
    "Предметы": "@SUM(A1)",
    "Должность": "-2+3",
    "Телефон": "+7 900 000-00-00",
}
INERT_HEADERS = ["Фамилия", "Имя", *INERT, "Форма наставничества", "Стаж"]


def _inert_row(last_name: str) -> list[str]:
    return [last_name, "<b>Иван</b>", *INERT.values(), "учитель-учитель", "3"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formulas_and_html_are_kept_as_inert_text(engine, cycle_ids, tmp_path, suffix):
    rows = [_inert_row("+Орлов"), _inert_row("=Лукин")]
    if suffix == ".csv":
        path = write_csv(tmp_path / "mentors.csv", rows, headers=INERT_HEADERS)
    else:
        # openpyxl stores "=..." as formulas without a cached value: the formula text is kept
        path = write_xlsx(tmp_path / "mentors.xlsx", rows, headers=INERT_HEADERS)
    report = run(engine, cycle_ids[1], path, role=Role.mentor)
    assert (report.accepted, report.rejected) == (2, [])
    for last_name in ("+Орлов", "=Лукин"):
        person, participant = people(engine)[last_name]
        assert person.first_name == "<b>Иван</b>"
        assert person.middle_name == "<script>alert(1)</script>"
        assert person.phone == "+7 900 000-00-00"
        assert participant.requests == '=HYPERLINK("http://evil.example","нажми")'
        assert participant.interests == "=1+1"
        assert participant.subjects == "@SUM(A1)"
        assert participant.position == "-2+3"


def test_xlsx_formula_with_cached_value_gives_the_value(tmp_path):
    path = write_xlsx(
        tmp_path / "f.xlsx",
        [["Орлов", "Иван", "учитель-учитель", "=1+1"]],
        headers=["Фамилия", "Имя", "Форма наставничества", "Стаж"],
    )
    # Put a cached value in, as Excel would have saved it.
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files[sheet] = files[sheet].replace(b"<f>1+1</f><v />", b"<f>1+1</f><v>2</v>")
    assert b"<v>2</v>" in files[sheet]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    _, rows = read_questionnaire(path, max_bytes=10**6)
    assert rows[0]["Стаж"] == "2"


def test_control_characters_are_stripped(engine, cycle_ids, tmp_path):
    headers = ["Фамилия", "Имя", "Форма наставничества", "Интересы"]
    rows = [["Ор\x01лов\x1b", "Иван\x07", "учитель-учитель", "шахматы\r\n\tтеатр\x0c"]]
    run(
        engine, cycle_ids[1], write_csv(tmp_path / "m.csv", rows, headers=headers), role=Role.mentor
    )
    person, participant = people(engine)["Орлов"]
    assert person.first_name == "Иван"
    assert participant.interests == "шахматы\n\tтеатр"


# --- the demo school --------------------------------------------------------------------------


def test_demo_files_are_deterministic(tmp_path):
    one = write_demo_questionnaires(tmp_path / "one")
    two = write_demo_questionnaires(tmp_path / "two")
    other = write_demo_questionnaires(tmp_path / "other", seed=7)
    assert one.mentees_csv.read_bytes() == two.mentees_csv.read_bytes()
    assert one.mentors_csv.read_bytes() == two.mentors_csv.read_bytes()
    assert one.mentees_csv.read_bytes() != other.mentees_csv.read_bytes()
    for xlsx in ("mentees_xlsx", "mentors_xlsx"):
        assert read_questionnaire(getattr(one, xlsx), max_bytes=10**7) == read_questionnaire(
            getattr(two, xlsx), max_bytes=10**7
        )
    one.mentees_csv.read_bytes().decode("cp1251")
    assert one.mentors_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    assert {p.suffix for p, _ in one.files()} == {".csv", ".xlsx"}
    assert one.mentee_files == [one.mentees_csv, one.mentees_xlsx]
    assert one.mentor_files == [one.mentors_csv, one.mentors_xlsx]


def test_demo_school_imports_with_expected_counts_and_missing_consents(engine, cycle_ids, tmp_path):
    demo = write_demo_questionnaires(tmp_path / "demo")
    mentees = mentors = 0
    for path, role in demo.files():
        report = run(engine, cycle_ids[1], path, role=role)
        assert (report.accepted, report.rejected_rows) == demo.expected[path.name], path.name
        if role is Role.mentee:
            mentees += report.accepted
        else:
            mentors += report.accepted
    assert (mentees, mentors) == (150, 50)
    # two pupil mentors also filled in the seniors' mentee form: one person, two roles
    assert counts(engine)[:2] == (198, 200)
    for path, role in demo.files():
        again = run(engine, cycle_ids[1], path, role=role)
        assert (again.accepted, again.updated) == (0, 0), path.name
    with Session(engine) as session:
        check = check_consents(
            session=session, cycle_id=cycle_ids[1], on=demo.reference_date, role=Role.mentee
        )
        assert len(check.missing) == demo.expected_missing_mentees == 11
        reasons = sorted(m.reason for m in check.missing)
        assert reasons.count("несовершеннолетний: нет согласия законного представителя") == 8
        assert reasons.count("нет согласия на обработку персональных данных") == 2
        assert "согласие отозвано 15.10.2026" in reasons
        mentors_check = check_consents(
            session=session, cycle_id=cycle_ids[1], on=demo.reference_date, role=Role.mentor
        )
        assert len(mentors_check.missing) == demo.expected_missing_mentors == 2
        html = session.exec(select(Person).where(Person.last_name.startswith("<b>"))).one()
        assert html.last_name in {"<b>Смирнов</b>", "<b>Смирнова</b>"}
        inert = session.exec(select(Participant).where(Participant.interests == "=СУММ(A1:A3)"))
        assert len(inert.all()) == 1


def test_docs_list_every_column_and_alias():
    text = (Path(__file__).parents[1] / "docs" / "questionnaires.md").read_text(encoding="utf-8")
    table = {
        line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")
    }
    for canonical, aliases in questionnaires.HEADER_ALIASES.items():
        assert canonical in table, canonical
        for alias in aliases:
            assert alias in table[canonical], alias
