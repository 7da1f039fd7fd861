"""The roadmap format: the four seed roadmaps load, the committed JSON Schema is the model's, bad
files are refused with errors naming the file, the item and the field, and `nastavnik roadmap
check` prints the windows or the errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nastavnik.roadmap import (
    ROADMAP_SCHEMA,
    CompletionKind,
    OrganisationKind,
    Roadmap,
    RoadmapError,
    Stage,
    Window,
    WindowKind,
    describe_completion,
    load_roadmap,
    roadmap_json_schema,
    roadmap_schedule,
    stage_warnings,
)

ROOT = Path(__file__).parent.parent
ROADMAPS = ROOT / "roadmaps"
FILES = {
    "school7_mineralnye_vody.yaml": (OrganisationKind.school, 15),
    "municipality_kedrovy.yaml": (OrganisationKind.department, 25),
    "school2_ustyuzhna.yaml": (OrganisationKind.school, 37),
    "lyceum_blagoveshchensk.yaml": (OrganisationKind.college, 6),
    # The demo school's own, written in the seeds' manner (`make demo`).
    "demo_school3_kedrovy.yaml": (OrganisationKind.school, 15),
    # The demo department's, one year of Kedrovy's (`make demo ARGS=--department`).
    "demo_department_kedrovy.yaml": (OrganisationKind.department, 5),
}


def _load(name: str) -> Roadmap:
    return load_roadmap(ROADMAPS / name)


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_four_seed_roadmaps_load(name: str) -> None:
    roadmap = _load(name)
    kind, count = FILES[name]
    assert roadmap.kind is kind
    assert len(roadmap.items) == count
    assert len({item.key for item in roadmap.items}) == count
    for item, schedule in roadmap_schedule(roadmap, cycle="2026/2027"):
        if name != "demo_school3_kedrovy.yaml":  # no seed item recurs monthly; the demo's do
            assert item.completes.kind is not CompletionKind.recurring
        assert schedule.applies or schedule.kind is WindowKind.dated


def test_every_roadmap_file_is_a_seed_or_the_demo_schools() -> None:
    assert sorted(path.name for path in ROADMAPS.glob("*.yaml")) == sorted(FILES)


def test_school7_items_as_in_the_source() -> None:
    roadmap = _load("school7_mineralnye_vody.yaml")
    assert [item.number for item in roadmap.items] == [f"{n}." for n in range(1, 16)]
    by_number = {item.number: item for item in roadmap.items}
    # «7. Формирование базы наставляемых: … Август-сентябрь Ежегодно / Корректировка по запросам
    # Постоянно … Наличие базы наставляемых.»
    base = by_number["7."]
    assert base.title == "Формирование базы наставляемых:"
    assert base.due == "Август-сентябрь Ежегодно\nКорректировка по запросам Постоянно"
    assert base.completes.stage is Stage.base_formation
    assert base.result == "Наличие базы наставляемых."
    # «6. Самодиагностика … Июнь Ежегодно … Справка по результатам самодиагностики.»
    assert by_number["6."].completes.document == "self-diagnostics-memo"
    assert roadmap.forms == ("учитель–учитель", "ученик–ученик")


def test_kedrovy_splits_the_rows_with_two_due_rules() -> None:
    # «2. Назначение ответственного лица … Май 2021 г. Отдел образования … / Май-июнь 2021 г.
    # Образовательные организации»
    roadmap = _load("municipality_kedrovy.yaml")
    items = {item.key: item for item in roadmap.items}
    assert items["prep-2-department"].due == "Май 2021 г."
    assert items["prep-2-organisations"].due == "Май-июнь 2021 г."
    assert items["prep-2-department"].number == items["prep-2-organisations"].number == "2."
    # the source repeats «9.» (РЕАЛИЗАЦИЯ НАСТАВНИЧЕСТВА and ИНФОРМАЦИОННОЕ ОСВЕЩЕНИЕ)
    assert items["main-9"].number == items["main-9-publications"].number == "9."


def test_kedrovy_final_stage_falls_in_the_fifth_cycle() -> None:
    roadmap = _load("municipality_kedrovy.yaml")
    schedules = {
        item.key: schedule
        for item, schedule in roadmap_schedule(roadmap, cycle="2030/2031", first_cycle="2026/2027")
    }
    # «ЗАВЕРШАЮЩИЙ ЭТАП … 4. Организация итогового совещания … Декабрь 2024 г.»
    assert schedules["final-4"].windows == (Window(date(2030, 12, 1), date(2030, 12, 31)),)
    assert schedules["prep-1"].applies is False
    assert schedules["main-5"].kind is WindowKind.continuous


def test_kedrovy_asks_the_organisations_for_their_reports() -> None:
    # «1. Мониторинг вовлеченности … Информационный отчет»; «4. Промежуточный мониторинг
    # реализации наставничества»; «ЗАВЕРШАЮЩИЙ ЭТАП 1. Организация сбора отчетов
    # отобразовательных организаций … Итоговые отчетыобразовательных организаций»
    items = {item.key: item for item in _load("municipality_kedrovy.yaml").items}
    reports = {
        key: str(item.completes.report)
        for key, item in items.items()
        if item.completes.kind is CompletionKind.reports
    }
    assert reports == {"prep-1": "information", "main-4": "interim", "final-1": "final"}
    assert items["main-4"].due == "Ноябрь 2021 г., далее -  ежегодно или по запросу"
    # the department's own information report stays a document it issues
    assert items["final-5"].completes.document == "information-report"


def test_the_demo_departments_year() -> None:
    roadmap = _load("demo_department_kedrovy.yaml")
    schedules = roadmap_schedule(roadmap, cycle="2026/2027")
    rows = [
        (describe_completion(item.completes), schedule.windows[0].start, schedule.windows[0].end)
        for item, schedule in schedules
    ]
    assert rows == [
        ("reports: information", date(2026, 11, 1), date(2026, 11, 30)),
        ("reports: interim", date(2027, 2, 1), date(2027, 2, 28)),
        ("reports: final", date(2027, 6, 15), date(2027, 6, 30)),
        ("stage: department", date(2027, 7, 11), date(2027, 7, 20)),
        ("document: order", date(2027, 7, 21), date(2027, 7, 31)),
    ]


def test_lyceum_runs_the_college_forms() -> None:
    roadmap = _load("lyceum_blagoveshchensk.yaml")
    assert roadmap.forms == (
        "студент–студент",
        "преподаватель–студент",
        "преподаватель–преподаватель",
        "работодатель–студент",
        "мастер производственного обучения–обучающийся",
        "директор–педагог",
    )
    stages = [item.completes.stage for item in roadmap.items]
    assert stages == [
        Stage.preparation,
        Stage.base_formation,
        Stage.training,
        Stage.pairing,
        Stage.meetings,
        Stage.final_event,
    ]


def test_ustyuzhna_keeps_the_blank_dates() -> None:
    roadmap = _load("school2_ustyuzhna.yaml")
    items = {item.number: item for item in roadmap.items}
    # «1.3. Назначение куратора … до  Исакова Н.Р. Приказ ОО»: the date was left blank
    assert items["1.3."].due == "до"
    schedule = {item.key: s for item, s in roadmap_schedule(roadmap, cycle="2026/2027")}
    assert schedule["1.3."].undated
    # «3.4 Обучение наставников по отдельному графику»
    assert schedule["3.4"].kind is WindowKind.on_demand
    assert items["1.5."].due == "до 10 сентября 2020"
    assert schedule["1.5."].windows == (Window(date(2026, 8, 1), date(2026, 9, 10)),)


def test_the_committed_schema_is_the_models() -> None:
    committed = json.loads((ROOT / ROADMAP_SCHEMA).read_text(encoding="utf-8"))
    assert committed == roadmap_json_schema()
    assert committed["properties"]["items"]["minItems"] == 1
    assert "due" in committed["$defs"]["RoadmapItem"]["required"]


GOOD_ITEM = """\
  - number: "2.3"
    title: Формирование базы наставников
    stage: base-formation
    completes: {kind: stage, stage: base-formation}
    due: Август–сентябрь, ежегодно
"""


def _file(tmp_path: Path, items: str, forms: str = "[ученик–ученик]") -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(
        "title: Дорожная карта\norganisation: Школа\nkind: school\n"
        f"forms: {forms}\nschool_year: 2026/2027\nitems:\n{items}",
        encoding="utf-8",
    )
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(RoadmapError) as raised:
        load_roadmap(path)
    return raised.value.errors


def test_a_good_file_loads(tmp_path: Path) -> None:
    roadmap = load_roadmap(_file(tmp_path, GOOD_ITEM))
    assert roadmap.items[0].completes.stage is Stage.base_formation


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            ("due: Август–сентябрь, ежегодно", "due: завтра"),
            "пункт 2.3: поле due: не удалось прочитать срок «завтра»: не понимаю «завтра»",
        ),
        (("    due: Август–сентябрь, ежегодно\n", ""), "пункт 2.3: поле due: обязательное поле"),
        (
            ("stage: base-formation\n    completes", "stage: bases\n    completes"),
            "пункт 2.3: поле stage: ожидается одно из: 'preparation', 'base-formation'",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: stage}"),
            "пункт 2.3: поле completes: kind: stage требует поле stage",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: document}"),
            "пункт 2.3: поле completes: kind: document требует поле document",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: document, document: Справка}"),
            "пункт 2.3: поле completes.document: ожидается тип латиницей через дефис",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: recurring}"),
            "пункт 2.3: поле completes: kind: recurring, но срок «Август–сентябрь, ежегодно» не "
            "повторяется",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: reports}"),
            "пункт 2.3: поле completes: kind: reports требует поле report (какой отчёт сдают "
            "организации: information, interim или final)",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: reports, report: yearly}"),
            "пункт 2.3: поле completes.report: ожидается одно из: 'information', 'interim'",
        ),
        (
            ("{kind: stage, stage: base-formation}", "{kind: manual, report: final}"),
            "пункт 2.3: поле completes: поле report только для kind: reports, здесь kind: manual",
        ),
        (
            ('number: "2.3"', "number: 2.3"),
            'пункт 2.3: поле number: ожидается строка (номер возьмите в кавычки: "2.3")',
        ),
        (
            ("    due:", "    deadline: x\n    due:"),
            "пункт 2.3: поле deadline: нет такого поля в формате дорожной карты",
        ),
    ],
)
def test_bad_files_name_the_file_the_item_and_the_field(
    tmp_path: Path, change: tuple[str, str], error: str
) -> None:
    path = _file(tmp_path, GOOD_ITEM.replace(*change))
    errors = _errors(path)
    assert any(line.startswith(f"{path}: {error}") for line in errors), errors


def test_a_monthly_due_needs_a_recurring_completion(tmp_path: Path) -> None:
    monthly = GOOD_ITEM.replace("Август–сентябрь, ежегодно", "ежемесячно")
    assert _errors(_file(tmp_path, monthly)) == [
        f"{tmp_path / 'x.yaml'}: пункт 2.3: поле completes: срок «ежемесячно» повторяется в "
        "году, укажите kind: recurring"
    ]
    recurring = monthly.replace("{kind: stage, stage: base-formation}", "{kind: recurring}")
    assert load_roadmap(_file(tmp_path, recurring)).items[0].completes.kind is (
        CompletionKind.recurring
    )


def test_reports_are_a_departments_and_need_a_date(tmp_path: Path) -> None:
    reports = GOOD_ITEM.replace(
        "{kind: stage, stage: base-formation}", "{kind: reports, report: final}"
    )
    path = _file(tmp_path, reports)
    assert _errors(path) == [
        f"{path}: пункт 2.3: поле completes: kind: reports только в дорожной карте отдела "
        "образования (kind: department), здесь kind: school"
    ]
    path.write_text(path.read_text(encoding="utf-8").replace("kind: school", "kind: department"))
    assert load_roadmap(path).items[0].completes.report == "final"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Август–сентябрь, ежегодно", "по запросу")
    )
    assert _errors(path) == [
        f"{path}: пункт 2.3: поле completes: kind: reports требует срок с датой, к которому "
        "организации сдают отчёт; «по запросу» даты не даёт"
    ]


@pytest.mark.parametrize("due", ["еженедельно по средам", "по полугодиям (декабрь, май)"])
def test_a_weekly_duty_or_several_dates_may_be_recurring(tmp_path: Path, due: str) -> None:
    """Both were written `kind: recurring` by people who had read only docs/roadmaps.md."""
    item = (
        '  - number: "3.2"\n    title: Встречи пар\n    stage: meetings\n'
        f"    completes: {{kind: recurring}}\n    due: {due}\n"
    )
    assert load_roadmap(_file(tmp_path, item)).items[0].due == due


def test_repeated_numbers_need_ids(tmp_path: Path) -> None:
    errors = _errors(_file(tmp_path, GOOD_ITEM + GOOD_ITEM))
    assert errors == [
        f"{tmp_path / 'x.yaml'}: пункт 2.3: номер повторяется в файле; задайте пунктам с этим "
        "номером разные поля id"
    ]
    with_ids = GOOD_ITEM.replace("  - number", "  - id: a\n    number") + GOOD_ITEM.replace(
        "  - number", "  - id: b\n    number"
    )
    assert [item.key for item in load_roadmap(_file(tmp_path, with_ids)).items] == ["a", "b"]


def test_forms_are_written_with_an_en_dash(tmp_path: Path) -> None:
    errors = _errors(_file(tmp_path, GOOD_ITEM, forms="[ученик - ученик]"))
    assert errors == [
        f"{tmp_path / 'x.yaml'}: поле forms: форма «ученик - ученик»: пишите через короткое "
        "тире без пробелов, как «ученик–ученик»"
    ]


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD_ITEM + "  - number: [\n")
    (error,) = _errors(path)
    assert error.startswith(f"{path}: строка ")
    assert "ошибка YAML" in error


def test_a_colon_in_a_title_gets_a_hint_in_russian(tmp_path: Path) -> None:
    """Met writing a college's roadmap blind: «Наставничество: от идеи к практике» unquoted."""
    path = _file(tmp_path, GOOD_ITEM.replace("title: ", "title: Наставничество: от идеи; ", 1))
    (error,) = _errors(path)
    assert "mapping values are not allowed" in error and "возьмите текст в кавычки" in error


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run `nastavnik …` in-process; returns the exit code and the output."""
    from deployments import cli as command_line

    monkeypatch.setattr(command_line.console, "width", 250)  # table cells stay on one line

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(command_line.app, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    return run


def test_cli_check_prints_the_items_with_their_windows(cli: Cli) -> None:
    code, output = cli(
        "roadmap", "check", str(ROADMAPS / "school7_mineralnye_vody.yaml"), "--year", "2026/2027"
    )
    assert code == 0, output
    assert "Формирование базы наставляемых:" in output
    assert "01.08.2026–30.09.2026" in output  # «Август-сентябрь Ежегодно»
    assert "01.06.2027–30.06.2027" in output  # «Июнь Ежегодно»
    assert "по завершении программы наставничества" in output  # «По завершению программы»
    assert "пунктов 15, в 2026/2027 учебном году — 15; ошибок нет" in output


@pytest.mark.parametrize(
    ("name", "warned"),
    [
        # school №7's roadmap has no training item; Ustyuzhna trains «по отдельному графику»
        (
            "school7_mineralnye_vody.yaml",
            ["пункт 9. (этап pairing) ждёт этап training: в карте нет"],
        ),
        ("school2_ustyuzhna.yaml", ["пункт 3.5 (этап pairing) ждёт этап training: пункт 3.4"]),
        ("demo_school3_kedrovy.yaml", []),
        ("lyceum_blagoveshchensk.yaml", []),
    ],
)
def test_a_stage_waiting_for_an_undated_one_is_warned_of(name: str, warned: list[str]) -> None:
    schedules = roadmap_schedule(_load(name), cycle="2026/2027")
    warnings = stage_warnings(schedules)
    assert len(warnings) == len(warned)
    for warning, start in zip(warnings, warned, strict=True):
        assert warning.startswith(start) and "куратор запускает его вручную" in warning


def test_a_stage_opening_before_the_one_it_waits_for_is_warned_of(tmp_path: Path) -> None:
    """A school's roadmap forming pairs in October and training mentors in November (written
    blind): pairing waits for the mentors' order, so its October date will be missed."""
    items = (
        GOOD_ITEM + '  - number: "5.1"\n    title: Обучение наставников\n    stage: training\n'
        "    completes: {kind: stage, stage: training}\n    due: ноябрь\n"
        + '  - number: "6.1"\n    title: Формирование пар\n    stage: pairing\n'
        "    completes: {kind: stage, stage: pairing}\n    due: октябрь\n"
    )
    roadmap = load_roadmap(_file(tmp_path, items))
    (warning,) = stage_warnings(roadmap_schedule(roadmap, cycle="2026/2027"))
    assert warning.startswith("пункт 6.1 (этап pairing, с 01.10.2026) начнётся не раньше этапа")
    assert "training (с 01.11.2026)" in warning


def test_the_documentations_complete_example_loads_without_a_warning(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "roadmaps.md").read_text(encoding="utf-8")
    block = text.split("<!-- complete example -->\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    roadmap = load_roadmap(path)
    kinds = {item.completes.kind for item in roadmap.items}
    assert kinds == {
        CompletionKind.stage,
        CompletionKind.manual,
        CompletionKind.recurring,
        CompletionKind.document,
    }
    assert stage_warnings(roadmap_schedule(roadmap, cycle="2026/2027")) == []


@pytest.mark.parametrize(
    ("due", "shown"),
    [("1 раз в четверть", "4 раза:"), ("ежемесячно", "9 раз:"), ("1 раз в полугодие", "2 раза:")],
)
def test_occurrences_are_counted_in_russian(due: str, shown: str) -> None:
    from nastavnik.dates import parse_due
    from nastavnik.roadmap import describe_schedule

    schedule = parse_due(due, written_for="2026/2027", cycle="2026/2027")
    assert describe_schedule(schedule).startswith(shown)


def test_cli_check_warns_and_still_passes(cli: Cli) -> None:
    code, output = cli("roadmap", "check", str(ROADMAPS / "school2_ustyuzhna.yaml"))
    assert code == 0, output
    assert "предупреждение: пункт 3.5 (этап pairing) ждёт этап training" in output


def test_cli_check_the_demo_departments_roadmap(cli: Cli) -> None:
    code, output = cli("roadmap", "check", str(ROADMAPS / "demo_department_kedrovy.yaml"))
    assert code == 0, output
    assert "reports: final" in output and "15.06.2027–30.06.2027" in output
    assert "пунктов 5, в 2026/2027 учебном году — 5; ошибок нет" in output


def test_cli_check_a_later_year_of_a_multi_year_roadmap(cli: Cli) -> None:
    path = str(ROADMAPS / "municipality_kedrovy.yaml")
    code, output = cli("roadmap", "check", path, "--year", "2030/2031", "--first-year", "2026/2027")
    assert code == 0, output
    assert "01.12.2030–31.12.2030" in output  # «Декабрь 2024 г.»
    assert "не в этом году" in output


def test_cli_check_fails_with_the_errors(tmp_path: Path, cli: Cli) -> None:
    path = _file(tmp_path, GOOD_ITEM.replace("due: Август–сентябрь, ежегодно", "due: завтра"))
    code, output = cli("roadmap", "check", str(path))
    assert code == 1
    assert f"{path}: пункт 2.3: поле due: не удалось прочитать срок «завтра»" in output
    assert "Ошибок: 1. Формат описан в docs/roadmaps.md" in output


def test_cli_check_refuses_a_bad_year(cli: Cli) -> None:
    path = str(ROADMAPS / "lyceum_blagoveshchensk.yaml")
    code, output = cli("roadmap", "check", path, "--year", "2026")
    assert code == 1
    assert "ожидается вида 2026/2027" in output


def test_cli_schema_prints_the_committed_schema(cli: Cli) -> None:
    code, output = cli("roadmap", "schema")
    assert code == 0
    assert output == (ROOT / ROADMAP_SCHEMA).read_text(encoding="utf-8")
