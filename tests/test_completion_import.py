"""End-of-mentoring reports from a form's export: all or nothing, errors naming file, row and
field, re-import idempotent (nastavnik.completion_import; contract: docs/completion_import.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import CompletionReport, PlanFulfilment, Role
from nastavnik import completion_import
from nastavnik.tabular import ImportFileError
from tests.test_completion import JUNE_12, MENTEES, MENTOR_1, MENTOR_2, school  # noqa: F401

HEADER = (
    "ФИО наставника;ФИО наставляемого;Кто заполняет;Дата сдачи;Выполнение плана;Результаты;"
    "Оценка работы наставника;Удовлетворённость программой;Удовлетворённость работой в паре;"
    "Ожидания оправдались;Польза;Комментарий"
)
GOOD = [
    f"{MENTOR_1};{MENTEES['ended']};наставник;05.06.2027;полностью;Решает задачи сам;;9;9;8;9;",
    f"{MENTOR_1};{MENTEES['ended']};наставляемый;08.06.2027;;Научился;10;10;9;9;10;Спасибо",
    f"{MENTOR_2};{MENTEES['past_end']};Наставляемый;09.06.2027;;;8;8;8;7;8;",
]


def _file(tmp_path: Path, rows: list[str], name: str = "otchety.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _import(engine, school, path: Path):  # noqa: F811
    with Session(engine) as session:
        result = completion_import.import_reports(
            session=session, cycle_id=school.cycle_id, path=path, max_bytes=1 << 20, today=JUNE_12
        )
        session.commit()
        return result


def _stored(engine) -> list[CompletionReport]:
    with Session(engine) as session:
        return list(session.exec(select(CompletionReport)).all())


def test_a_good_file_records_every_report_and_again_changes_nothing(
    engine,
    school,  # noqa: F811
    tmp_path,
) -> None:
    path = _file(tmp_path, GOOD)
    first = _import(engine, school, path)
    assert (first.accepted, first.unchanged, first.rejected) == (3, 0, [])
    stored = {(r.pair_id, r.participant_id): r for r in _stored(engine)}
    mentor = stored[(school.ended.id, school.ended.mentor_id)]
    assert (mentor.role, mentor.plan_fulfilment, mentor.mentor_rating) == (
        Role.mentor,
        PlanFulfilment.full,
        None,
    )
    assert mentor.source == "otchety.csv:2" and mentor.due_on == date(2027, 6, 10)
    mentee = stored[(school.past_end.id, school.past_end.mentee_id)]
    assert (mentee.role, mentee.mentor_rating, mentee.submitted_on) == (
        Role.mentee,
        8,
        date(2027, 6, 9),
    )
    again = _import(engine, school, path)
    assert (again.accepted, again.unchanged, again.rejected) == (0, 3, [])
    assert len(_stored(engine)) == 3


def test_one_bad_row_writes_nothing_and_each_error_names_file_row_and_field(
    engine,
    school,  # noqa: F811
    tmp_path,
) -> None:
    rows = [
        *GOOD,
        f"{MENTOR_1};{MENTEES['ended']};наставник;06.06.2027;наполовину;;;9;9;9;9;",
        f"{MENTOR_2};Неизвестный Ученик;наставляемый;06.06.2027;;;8;8;8;8;12;",
        f"{MENTOR_2};{MENTEES['going_on']};наставляемый;06.06.2027;;;8;8;8;8;8;",
        f"{MENTOR_2};{MENTEES['past_end']};директор;01.05.2027;;;8;8;8;8;8;",
    ]
    result = _import(engine, school, _file(tmp_path, rows))
    assert [str(e) for e in result.rejected] == [
        "otchety.csv, строка 5, поле «Выполнение плана»: ожидается «полностью», «частично» "
        "или «не выполнен», указано «наполовину»",
        "otchety.csv, строка 6, поле «Наставляемый»: наставляемый «Неизвестный Ученик» "
        "не найден среди участников цикла",
        "otchety.csv, строка 6, поле «Польза»: ожидается число от 1 до 10, указано «12»",
        "otchety.csv, строка 7, поле «Наставляемый»: наставничество пары ещё не завершено "
        "(окончание 30.06.2027)",
        "otchety.csv, строка 8, поле «Кто заполняет»: ожидается «наставник» или «наставляемый», "
        "указано «директор»",
    ]
    assert result.accepted == 0 and _stored(engine) == []


def test_a_changed_report_on_re_import_is_an_error(engine, school, tmp_path) -> None:  # noqa: F811
    _import(engine, school, _file(tmp_path, GOOD))
    changed = [GOOD[0].replace(";9;9;8;9;", ";3;3;3;3;"), *GOOD[1:]]
    result = _import(engine, school, _file(tmp_path, changed, "otchety2.csv"))
    assert len(result.rejected) == 1
    error = result.rejected[0]
    assert (error.file, error.row, error.field) == ("otchety2.csv", 2, "Кто заполняет")
    assert "уже сдан (05.06.2027) с другими ответами" in error.message
    assert {r.satisfaction_programme for r in _stored(engine) if r.role == Role.mentor} == {9}


def test_a_file_without_the_required_columns_is_refused(engine, school, tmp_path) -> None:  # noqa: F811
    path = tmp_path / "bad.csv"
    path.write_text("ФИО наставника;Польза\nСмирнова Анна Ивановна;5\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="bad.csv: нет обязательных столбцов"):
        _import(engine, school, path)


def test_cli_imports_and_lists_the_overdue(monkeypatch, tmp_path, engine, school) -> None:  # noqa: F811
    """The curator's terminal: `nastavnik completion import|status`."""
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.clock import FixedClock
    from nastavnik.settings import get_settings

    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs on the SQLite file the command line opens")
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("nastavnik.clock.process_clock", lambda: FixedClock.on(JUNE_12))
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    runner = CliRunner()
    where = ["--org", "school-7", "--year", "2026/2027"]
    try:
        imported = runner.invoke(
            cli_module.app, ["completion", "import", str(_file(tmp_path, GOOD)), *where]
        )
        assert imported.exit_code == 0, imported.output
        assert "принято 3" in imported.output and "Новых отчётов: 3" in imported.output
        bad = _file(tmp_path, [GOOD[0].replace(";9;9;8;9;", ";9;9;8;99;")], "bad.csv")
        refused = runner.invoke(cli_module.app, ["completion", "import", str(bad), *where])
        assert refused.exit_code == 1 and "Файл не импортирован" in refused.output
        status = runner.invoke(cli_module.app, ["completion", "status", *where])
        assert status.exit_code == 0, status.output
        assert "Отчётов по завершённым парам: 6" in status.output
        assert "просрочен 3" in status.output
        assert MENTEES["terminated"] in status.output and MENTOR_2 in status.output
        interview = [
            "completion", "interview", *where, "--mentee", "Котов", "--date", "07.06.2027",
            "--by", "Иванова Мария Петровна", "--notes", "Готов работать самостоятельно",
        ]  # fmt: skip
        recorded = runner.invoke(cli_module.app, interview)
        assert recorded.exit_code == 0, recorded.output
        assert "Собеседование 07.06.2027 записано" in recorded.output
        early = runner.invoke(
            cli_module.app, [*interview[:6], "--mentee", "Громов", *interview[8:]]
        )
        assert early.exit_code == 1 and "нет завершённой пары" in early.output
    finally:
        get_settings.cache_clear()
