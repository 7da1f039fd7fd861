"""The one tabular reader: delimiters, duplicate headers, invisible characters, «ФИО», saved
column mappings, ignored columns, person lookup — for questionnaires, attendance and consents."""

from __future__ import annotations

import sys
import unicodedata
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from models import ImportKind, Participant, Person, Role
from nastavnik import pairing, repository, tabular, training
from nastavnik.db import make_engine, migrate
from nastavnik.questionnaires import QUESTIONNAIRE, import_file_transaction
from nastavnik.settings import get_settings
from nastavnik.tabular import (
    ImportFileError,
    PersonIndex,
    read_table,
    split_full_name,
)
from tests.test_questionnaires import write_csv as questionnaire_csv
from tests.test_questionnaires import write_xlsx as questionnaire_xlsx

FIXTURES = Path(__file__).parent / "fixtures" / "questionnaires"
SCHOOL_EXPORT = FIXTURES / "school_form_export.csv"
QUESTION = "Что бы вы хотели получить от наставника?"
MENTEE_HEADERS = ["Фамилия", "Имя", "Дата рождения", "Класс", "Форма наставничества", "Интересы"]
MENTEE_ROWS = [
    ["Орлова", "Вера", "01.02.2014", "6А", "ученик-ученик", "театр, шахматы"],
    ["Белов", "Иван", "03.04.2014", "6Б", "ученик-ученик", ""],
]


def write_csv(
    path: Path, headers: list[str], rows: list[list[Any]], *, delimiter: str = ";"
) -> Path:
    return questionnaire_csv(path, rows, headers=headers, delimiter=delimiter)


def write_xlsx(path: Path, headers: list[str], rows: list[list[Any]]) -> Path:
    return questionnaire_xlsx(path, rows, headers=headers)


def people(engine: Engine) -> dict[str, tuple[Person, Participant]]:
    with Session(engine) as session:
        rows = session.exec(select(Person, Participant).where(Participant.person_id == Person.id))
        return {person.full_name: (person, participant) for person, participant in rows}


def set_mapping(engine: Engine, org_id: uuid.UUID, header: str, field: str, spec=QUESTIONNAIRE):
    with Session(engine) as session:
        mapping = tabular.set_column_mapping(
            session=session, organization_id=org_id, spec=spec, header=header, field=field
        )
        session.commit()
        return mapping


# --- the realistic case: a school's own form export ------------------------------------------


def test_school_form_export_with_one_fio_column_and_own_question(engine, cycle_ids):
    """The issue's case: «ФИО» in one column and a question in the school's words."""
    org_id, cycle_id = cycle_ids
    first = import_file_transaction(
        engine=engine, cycle_id=cycle_id, path=SCHOOL_EXPORT, role=Role.mentee
    )
    assert first.ignored_columns == ["ID", QUESTION]
    assert first.accepted == 3
    assert [str(e) for e in first.rejected] == [
        "school_form_export.csv, строка 5, поле «ФИО»: ожидаются фамилия, имя и отчество "
        "через пробел, указано «Петров»"
    ]
    found = people(engine)
    assert set(found) == {
        "Абрамова Полина Сергеевна",
        "Гусейнов Эльчин Рашид оглы",
        "Ким Виктор",  # the zero-width space after «Ким» is gone
    }
    person, participant = found["Гусейнов Эльчин Рашид оглы"]
    assert (person.last_name, person.first_name, person.middle_name) == (
        "Гусейнов",
        "Эльчин",
        "Рашид оглы",
    )
    assert participant.requests == ""

    # The curator maps the question once; the same file then fills «Запрос».
    set_mapping(engine, org_id, QUESTION, "request")
    again = import_file_transaction(
        engine=engine, cycle_id=cycle_id, path=SCHOOL_EXPORT, role=Role.mentee
    )
    assert again.ignored_columns == ["ID"]
    assert (again.accepted, again.updated) == (0, 3)
    assert people(engine)["Ким Виктор"][1].requests == "Выбор профессии"


def test_saved_mapping_is_used_for_the_next_file_and_listed(engine, cycle_ids, tmp_path):
    org_id, cycle_id = cycle_ids
    set_mapping(engine, org_id, "  что бы вы хотели получить от наставника ", "Запрос")
    set_mapping(engine, org_id, "Школьный e-mail", "email")
    # the second file of the school: an XLSX of another class, with other spacing and case
    path = write_xlsx(
        tmp_path / "7b.xlsx",
        [
            "ФИО",
            "Дата рождения",
            "Форма",
            "ЧТО БЫ ВЫ ХОТЕЛИ ПОЛУЧИТЬ ОТ НАСТАВНИКА?*",
            "Школьный E-mail",
        ],
        [["Лебедев Максим Олегович", "05.05.2013", "ученик-ученик", "олимпиады", "M@school.ru"]],
    )
    report = import_file_transaction(engine=engine, cycle_id=cycle_id, path=path, role=Role.mentee)
    assert (report.accepted, report.rejected, report.ignored_columns) == (1, [], [])
    person, participant = people(engine)["Лебедев Максим Олегович"]
    assert (participant.requests, person.email) == ("олимпиады", "m@school.ru")
    with Session(engine) as session:
        listed = tabular.list_column_mappings(session=session, organization_id=org_id)
        assert [(m.kind, m.header, m.field_key) for m in listed] == [
            (ImportKind.questionnaire, "что бы вы хотели получить от наставника", "request"),
            (ImportKind.questionnaire, "Школьный e-mail", "email"),
        ]
        # setting it again replaces the field, not adds a row
        tabular.set_column_mapping(
            session=session,
            organization_id=org_id,
            spec=QUESTIONNAIRE,
            header="Школьный e-mail",
            field="phone",
        )
        assert len(tabular.list_column_mappings(session=session, organization_id=org_id)) == 2
        assert tabular.remove_column_mapping(
            session=session,
            organization_id=org_id,
            kind=ImportKind.questionnaire,
            header="ШКОЛЬНЫЙ E-MAIL",
        )
        assert not tabular.remove_column_mapping(
            session=session,
            organization_id=org_id,
            kind=ImportKind.questionnaire,
            header="Школьный e-mail",
        )
        with pytest.raises(ValueError, match="неизвестное поле «любимый цвет»; допустимы: "):
            tabular.set_column_mapping(
                session=session,
                organization_id=org_id,
                spec=QUESTIONNAIRE,
                header="Цвет",
                field="любимый цвет",
            )


def test_mappings_belong_to_one_organisation_and_one_kind(engine, cycle_ids, tmp_path):
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        other = repository.upsert_organization(
            session=session,
            code="school-8",
            name="Школа № 8",
            short_name="Ш8",
            director_name="Д",
            director_email="d@8.example",
            curator_name="К",
            curator_email="k@8.example",
        )
        other_id = other.id
        session.commit()
    set_mapping(engine, other_id, QUESTION, "request")
    set_mapping(engine, org_id, QUESTION, "session", spec=training.ATTENDANCE)
    with Session(engine) as session:
        assert (
            tabular.saved_mappings(session=session, organization_id=org_id, spec=QUESTIONNAIRE)
            == {}
        )
    report = import_file_transaction(
        engine=engine, cycle_id=cycle_id, path=SCHOOL_EXPORT, role=Role.mentee
    )
    assert QUESTION in report.ignored_columns


# --- formats through the one reader ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiters_are_sniffed_including_tab(engine, cycle_ids, tmp_path, delimiter):
    headers = ["Фамилия, имя, отчество", *MENTEE_HEADERS[2:]]
    rows = [["Орлова Вера Павловна", *MENTEE_ROWS[0][2:]], ["Белов Иван", *MENTEE_ROWS[1][2:]]]
    path = write_csv(tmp_path / "mentees.csv", headers, rows, delimiter=delimiter)
    report = import_file_transaction(
        engine=engine, cycle_id=cycle_ids[1], path=path, role=Role.mentee
    )
    assert (report.accepted, report.rejected, report.ignored_columns) == (2, [], [])
    assert people(engine)["Орлова Вера Павловна"][1].interests == "театр, шахматы"


def test_tab_separated_text_as_spreadsheets_save_it(tmp_path):
    """Excel's «Unicode text»: UTF-16 with a BOM, tab-separated, .txt."""
    path = tmp_path / "анкеты.txt"
    lines = ["\t".join(MENTEE_HEADERS), *("\t".join(row) for row in MENTEE_ROWS)]
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    table = read_table(path, QUESTIONNAIRE, max_bytes=10**6)
    assert list(table.columns) == [
        "Фамилия",
        "Имя",
        "Дата рождения",
        "Класс",
        "Форма наставничества",
        "Интересы",
    ]
    assert [r.values["Интересы"] for r in table.records] == ["театр, шахматы", ""]


def test_csv_tsv_and_xlsx_give_the_same_records(tmp_path):
    headers = ["Ф.И.О.", "E-mail", "Код занятия", "Явка", "Комментарий"]
    rows = [
        ["Алексеева Нина Петровна", "nina@school.ru", "vvodnoe", "да", "опоздала"],
        ["", "", "", "", ""],
        ["Сидоров Пётр", "", "praktikum", "нет", ""],
    ]
    files = [
        write_csv(tmp_path / "a.csv", headers, rows),
        write_csv(tmp_path / "b.csv", headers, rows, delimiter=","),
        write_csv(tmp_path / "c.tsv", headers, rows, delimiter="\t"),
        write_xlsx(tmp_path / "d.xlsx", headers, rows),
    ]
    tables = [read_table(path, training.ATTENDANCE, max_bytes=10**6) for path in files]
    first = tables[0]
    assert first.ignored == ["Комментарий"]
    assert [r.number for r in first.records] == [2, 4]  # the blank row 3 is skipped
    assert first.records[0].values == {
        "ФИО": "Алексеева Нина Петровна",
        "Фамилия": "Алексеева",
        "Имя": "Нина",
        "Отчество": "Петровна",
        "Электронная почта": "nina@school.ru",
        "Занятие": "vvodnoe",
        "Присутствовал": "да",
    }
    for table in tables[1:]:
        assert (table.columns, table.ignored, table.records) == (
            first.columns,
            first.ignored,
            first.records,
        )


def test_formula_looking_cells_stay_inert_text(tmp_path):
    path = write_csv(
        tmp_path / "f.csv", ["ФИО", "Интересы"], [["Орлов Иван", '=HYPERLINK("x";"y")']]
    )
    (record,) = read_table(path, QUESTIONNAIRE, max_bytes=10**6).records
    assert record.values["Интересы"] == '=HYPERLINK("x";"y")'


def test_size_limits_apply_to_every_kind(tmp_path):
    path = write_csv(tmp_path / "big.csv", ["ФИО", "Дата согласия"], [["Орлов Иван", ""]] * 200)
    with pytest.raises(ImportFileError, match="big.csv: файл слишком большой"):
        read_table(path, pairing.CONSENTS, max_bytes=1000)


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            ["Фамилия", "Имя", "Фамилия", "Форма"],
            "x.csv: столбец «Фамилия» встречается несколько раз: «Фамилия» (столбец A), "
            "«Фамилия» (столбец C)",
        ),
        (
            ["Фамилия", "Имя", "Last name", "Форма"],
            "x.csv: столбец «Фамилия» встречается несколько раз: «Фамилия», «Last name»",
        ),
        (
            ["ФИО", "Фамилия", "Форма", "E-mail", "Почта"],
            "x.csv: столбец «Фамилия» встречается несколько раз: «ФИО», «Фамилия»; "
            "столбец «Электронная почта» встречается несколько раз: «E-mail», «Почта»",
        ),
    ],
)
def test_a_field_in_two_columns_refuses_the_file(engine, cycle_ids, tmp_path, headers, message):
    path = write_csv(tmp_path / "x.csv", headers, [["А"] * len(headers)])
    with pytest.raises(ImportFileError) as caught:
        import_file_transaction(engine=engine, cycle_id=cycle_ids[1], path=path, role=Role.mentor)
    assert str(caught.value) == message
    assert people(engine) == {}


def test_a_saved_mapping_onto_a_present_field_is_a_duplicate(engine, cycle_ids, tmp_path):
    org_id, cycle_id = cycle_ids
    set_mapping(engine, org_id, "Пожелания", "request")
    path = write_csv(
        tmp_path / "x.csv",
        ["ФИО", "Форма", "Запрос", "Пожелания"],
        [["Орлов Иван", "учитель-учитель", "а", "б"]],
    )
    with pytest.raises(
        ImportFileError, match="«Запрос» встречается несколько раз: «Запрос», «Пожелания»"
    ):
        import_file_transaction(engine=engine, cycle_id=cycle_id, path=path, role=Role.mentor)


def test_missing_name_columns_mention_fio(engine, cycle_ids, tmp_path):
    path = write_csv(tmp_path / "x.csv", ["Имя", "Форма"], [["Иван", "учитель-учитель"]])
    with pytest.raises(ImportFileError) as caught:
        import_file_transaction(engine=engine, cycle_id=cycle_ids[1], path=path, role=Role.mentor)
    assert str(caught.value) == (
        "x.csv: нет обязательных столбцов: «Фамилия» (или один столбец «ФИО»)"
    )


# --- invisible characters ----------------------------------------------------------------------


def test_format_characters_are_stripped_from_names_and_headers(engine, cycle_ids, tmp_path):
    # U+202E would print «вовлеП» for «Петров»; U+200B, U+2066/U+2069 and a BOM are invisible.
    headers = ["\ufeffФамилия\u200b", "Имя", "Форма наставничества", "Интересы"]
    rows = [["\u202eПетров", "Ив\u200bан\u2066\u2069", "учитель-учитель", "\ufeffшахматы\u00ad"]]
    path = write_csv(tmp_path / "m.csv", headers, rows)
    report = import_file_transaction(
        engine=engine, cycle_id=cycle_ids[1], path=path, role=Role.mentor
    )
    assert (report.accepted, report.ignored_columns) == (1, [])
    person, participant = people(engine)["Петров Иван"]
    assert (person.last_name, person.first_name, participant.interests) == (
        "Петров",
        "Иван",
        "шахматы",
    )


def test_the_invisible_list_is_every_format_and_control_character():
    controls = {chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
    formats = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    stripped = tabular._INVISIBLE.sub("", "".join(sorted(controls | formats)))
    assert stripped == ""
    kept = [chr(c) for c in range(sys.maxunicode + 1) if tabular._INVISIBLE.fullmatch(chr(c))]
    assert set(kept) == controls | formats


# --- «ФИО» -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Иванов Иван Иванович", ("Иванов", "Иван", "Иванович")),
        ("  иванов   иван ", ("иванов", "иван", "")),
        ("Иванов, Иван", ("Иванов", "Иван", "")),
        ("Салтыков-Щедрин Михаил Евграфович", ("Салтыков-Щедрин", "Михаил", "Евграфович")),
        ("Мамедов Эльчин Рашид оглы", ("Мамедов", "Эльчин", "Рашид оглы")),
        ("Иванов", ("Иванов", "", "")),
        ("", ("", "", "")),
    ],
)
def test_full_name_split(text, parts):
    assert split_full_name(text) == parts


def test_attendance_and_consents_read_fio_the_same_way(tmp_path):
    for spec in (training.ATTENDANCE, pairing.CONSENTS, QUESTIONNAIRE):
        path = write_csv(tmp_path / "x.csv", ["Фамилия Имя Отчество"], [["Орлов Иван Ильич"]])
        (record,) = read_table(path, spec, max_bytes=10**6).records
        assert record.full_name == "Орлов Иван Ильич"
        assert (record.get("Фамилия"), record.get("Отчество")) == ("Орлов", "Ильич")


# --- people ------------------------------------------------------------------------------------


def test_person_lookup_by_email_or_full_name():
    def person(last: str, first: str, middle: str = "", email: str = "") -> Person:
        return Person(
            organization_id=uuid.uuid4(),
            person_key=str(uuid.uuid4()),
            last_name=last,
            first_name=first,
            middle_name=middle,
            email=email,
        )

    orlova = person("Орлова", "Алёна", "Игоревна", "A.Orlova@school.ru")
    twin_a, twin_b = person("Ким", "Виктор"), person("Ким", "Виктор")
    index = PersonIndex([(orlova, "mentor"), (orlova, "mentee"), (twin_a, 1), (twin_b, 2)])
    assert index.find(email="a.orlova@SCHOOL.ru", name="").found == "mentee"  # one person
    assert index.find(email="", name="орлова  алена игоревна").found == "mentee"
    assert index.find(email="", name="Орлова Алёна").field == "ФИО"
    assert index.find(email="x@y.ru", name="Орлова Алёна").found == "mentee"
    ambiguous = index.find(email="", name="Ким Виктор")
    assert (ambiguous.found, ambiguous.problem, ambiguous.typed) == (
        None,
        "ambiguous",
        "Ким Виктор",
    )
    missing = index.find(email="x@y.ru", name="")
    assert (missing.field, missing.problem) == ("Электронная почта", "not_found")
    assert index.find(email="", name="").problem == "missing"


def test_consents_file_with_a_mapped_column_and_ignored_ones(engine, cycle_ids, tmp_path):
    org_id, cycle_id = cycle_ids
    import_file_transaction(engine=engine, cycle_id=cycle_id, path=SCHOOL_EXPORT, role=Role.mentee)
    set_mapping(engine, org_id, "Подписано", "consent_date", spec=pairing.CONSENTS)
    path = write_csv(
        tmp_path / "согласия.csv",
        ["Ф.И.О.", "Подписано", "Класс"],
        [["Абрамова Полина", "20.11.2026", "7Б"], ["Ким Виктор", "", "8Б"], ["", "21.11.2026", ""]],
    )
    with Session(engine) as session:
        report = pairing.import_participation_consents(
            session=session,
            cycle_id=cycle_id,
            path=path,
            max_bytes=10**6,
            default_date=date(2026, 11, 24),
        )
        session.commit()
    assert (report.accepted, report.recorded, report.ignored_columns) == (2, 2, ["Класс"])
    assert [str(e) for e in report.rejected] == [
        "согласия.csv, строка 4, поле «ФИО»: обязательное поле не заполнено"
    ]


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI pointed at a fresh, migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", url)
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_cli_columns_verbs_and_ignored_columns(cli_database, monkeypatch):
    from deployments import cli

    app = cli.app
    monkeypatch.setattr(cli.console, "width", 200)  # tables keep long headers on one line
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "add-organization",
        *("school-7", "МБОУ «СШ № 7»", "СШ № 7"),
        *("--director-name", "Иванова М. П.", "--director-email", "director@school7.example"),
        *("--curator-name", "Петров О. И.", "--curator-email", "curator@school7.example"),
    )
    year = ("--org", "school-7", "--year", "2026/2027", "--role", "mentee")
    output = run("import", str(SCHOOL_EXPORT), *year)
    assert "принято 3" in output
    assert f"Не импортированы столбцы (нет такого поля): «ID», «{QUESTION}»" in output
    assert "nastavnik columns set --org school-7 --kind questionnaire" in output

    output = run(
        "columns", "set", "--org", "school-7", "--kind", "questionnaire", QUESTION, "request"
    )
    assert f"«{QUESTION}» → request («Запрос»)" in output
    assert QUESTION in run("columns", "list", "--org", "school-7")

    output = run("import", str(SCHOOL_EXPORT), *year)
    assert "обновлено 3" in output
    assert QUESTION not in output

    refused = runner.invoke(app, ["columns", "set", "--org", "school-7", "X", "цвет"])
    assert refused.exit_code == 1
    assert "неизвестное поле «цвет»" in refused.output

    assert "удалено" in run("columns", "remove", "--org", "school-7", QUESTION)
    assert QUESTION not in run("columns", "list", "--org", "school-7")
    assert runner.invoke(app, ["columns", "remove", "--org", "school-7", QUESTION]).exit_code == 1
