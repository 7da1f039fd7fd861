"""Meeting logs and feedback from an online form's export, through the one reader (no Prefect).

The issue: «Also from a CSV/XLSX export of an online form … for schools that collect on paper».
A bad row names file, row and field; a file is imported whole or not at all; the same file
twice adds nothing.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import AuditEvent, MeetingFeedback, MeetingKind, MeetingLog, PairStatus
from nastavnik import meetings, tabular
from nastavnik.meetings_import import MEETINGS, import_meetings_transaction
from nastavnik.tabular import ImportFileError
from tests.test_meetings import Pairs, _set_status, make_pairs

FIXTURES = Path(__file__).parent / "fixtures" / "meetings"
TODAY = date(2026, 11, 30)
MAX_BYTES = 5 * 1024 * 1024


@pytest.fixture
def pairs(engine, cycle_ids) -> Pairs:
    """Pair A (Смирнова — Кузнецов) and pair B (Орлов — Лебедева), active."""
    return make_pairs(engine, *cycle_ids)


def run(engine, pairs: Pairs, path: Path, today: date = TODAY):
    return import_meetings_transaction(
        engine=engine, cycle_id=pairs.cycle_id, path=path, max_bytes=MAX_BYTES, today=today
    )


def _count(engine, table) -> int:
    with Session(engine) as session:
        return len(session.exec(select(table)).all())


def test_a_form_export_records_the_meetings_and_flags_the_sequence(engine, pairs):
    report = run(engine, pairs, FIXTURES / "form_export.csv")
    assert report.rejected == []
    assert (report.accepted, report.unchanged, report.meetings_recorded) == (6, 0, 6)
    assert report.ignored_columns == []  # «Отметка времени» dates the feedback
    with Session(engine) as session:
        log_a = meetings.pair_log(session=session, pair_id=pairs.pair_a)
        log_b = meetings.pair_log(session=session, pair_id=pairs.pair_b)
    assert [m.meeting.kind for m in log_a.meetings] == [
        MeetingKind.intro,
        MeetingKind.trial,
        MeetingKind.planning,
        MeetingKind.joint_work,
    ]
    first = log_a.meetings[0].meeting
    assert (first.held_on, first.duration_minutes, first.topic) == (
        date(2026, 10, 5),
        40,
        "Знакомство",
    )
    assert first.done == "Рассказали о себе, обсудили интересы"
    assert first.source == "form_export.csv:2"
    assert [m.meeting.duration_minutes for m in log_a.meetings][1] == 45  # «45 мин»
    assert log_a.problems == []
    # Pair B worked together before it got acquainted: recorded and flagged.
    assert [(m.meeting.kind, bool(m.problems)) for m in log_b.meetings] == [
        (MeetingKind.joint_work, True),
        (MeetingKind.intro, False),
    ]


def test_reimporting_the_same_file_adds_nothing(engine, pairs):
    run(engine, pairs, FIXTURES / "form_export.csv")
    audited = _count(engine, AuditEvent)
    again = run(engine, pairs, FIXTURES / "form_export.csv")
    assert (again.accepted, again.unchanged, again.meetings_recorded) == (0, 6, 0)
    assert _count(engine, MeetingLog) == 6
    assert _count(engine, AuditEvent) == audited


def test_feedback_from_an_xlsx_export_attaches_to_the_logged_meetings(engine, pairs):
    run(engine, pairs, FIXTURES / "form_export.csv")
    report = run(engine, pairs, FIXTURES / "feedback_export.xlsx")
    assert report.rejected == []
    assert (report.accepted, report.feedback_recorded) == (2, 2)
    with Session(engine) as session:
        given = {f.mentee_id: f for f in session.exec(select(MeetingFeedback))}
        due = meetings.feedback_due(session=session, pair_id=pairs.pair_a)
    assert given[pairs.mentee_a].rating == 5
    assert given[pairs.mentee_a].given_on == date(2026, 11, 10)  # the form's timestamp
    assert given[pairs.mentee_a].comment == "Было интересно, разобрались с задачами"
    assert given[pairs.mentee_b].rating == 4
    assert due == []
    again = run(engine, pairs, FIXTURES / "feedback_export.xlsx")
    assert (again.accepted, again.unchanged) == (0, 2)
    assert _count(engine, MeetingFeedback) == 2


def test_feedback_without_its_meeting_is_refused(engine, pairs):
    report = run(engine, pairs, FIXTURES / "feedback_export.xlsx")
    assert [(e.row, e.field) for e in report.rejected] == [(2, "Дата встречи"), (3, "Дата встречи")]
    assert "не записана" in report.rejected[0].message
    assert _count(engine, MeetingFeedback) == 0


def test_a_bad_file_names_file_row_and_field_and_writes_nothing(engine, pairs):
    report = run(engine, pairs, FIXTURES / "bad_rows.csv")
    assert [str(e) for e in report.rejected] == [
        "bad_rows.csv, строка 3, поле «Вид встречи»: неизвестный вид «Чаепитие»; допустимы: "
        "«Встреча-знакомство», «Пробная рабочая встреча», «Встреча-планирование», "
        "«Совместная работа», «Итоговая встреча»",
        "bad_rows.csv, строка 4, поле «Длительность, мин»: ожидается число минут, "
        "указано «полчаса»",
        "bad_rows.csv, строка 5, поле «Наставляемый»: «Лебедева Вера Олеговна» не в паре "
        "с наставником «Смирнова Анна Сергеевна»",
        "bad_rows.csv, строка 6, поле «Длительность, мин»: длительность встречи от 5 до 480 "
        "минут, указано 3",
    ]
    assert report.rejected_rows == 4
    # All or nothing: the good row 2 is not recorded either, and nothing is audited.
    assert (report.accepted, report.meetings_recorded) == (0, 0)
    assert _count(engine, MeetingLog) == 0
    assert _count(engine, AuditEvent) == 0


def test_a_row_for_an_ended_pair_refuses_the_file(engine, pairs, tmp_path):
    _set_status(engine, pairs.pair_b, PairStatus.ended)
    report = run(engine, pairs, FIXTURES / "form_export.csv")
    assert {(e.row, e.field) for e in report.rejected} == {(6, "Наставляемый"), (7, "Наставляемый")}
    assert "не продолжается (срок истёк)" in report.rejected[0].message
    assert _count(engine, MeetingLog) == 0


def test_future_meetings_are_refused(engine, pairs):
    report = run(engine, pairs, FIXTURES / "form_export.csv", today=date(2026, 11, 1))
    assert [(e.row, e.field) for e in report.rejected] == [(5, "Дата встречи")]
    assert "ещё не наступила" in report.rejected[0].message


def test_a_file_without_the_pairs_columns_is_refused(engine, pairs, tmp_path):
    path = tmp_path / "no_mentee.csv"
    path.write_text("Наставник;Дата встречи;Вид встречи\nСмирнова;05.10.2026;Знакомство\n")
    with pytest.raises(
        ImportFileError, match="no_mentee.csv: нет обязательных столбцов: «Наставляемый»"
    ):
        run(engine, pairs, path)


def test_a_saved_column_mapping_reads_the_schools_own_header(engine, pairs, tmp_path):
    source = (FIXTURES / "form_export.csv").read_text(encoding="utf-8")
    path = tmp_path / "own_headers.csv"
    path.write_text(source.replace("Следующий шаг", "Домашнее задание"), encoding="utf-8")
    with Session(engine) as session:
        tabular.set_column_mapping(
            session=session,
            organization_id=pairs.org_id,
            spec=MEETINGS,
            header="Домашнее задание",
            field="next_step",
        )
        session.commit()
    report = run(engine, pairs, path)
    assert report.rejected == [] and "Домашнее задание" not in report.ignored_columns
    with Session(engine) as session:
        steps = {m.next_step for m in session.exec(select(MeetingLog))}
    assert "Составить план" in steps


def test_person_keys_identify_the_pair(engine, pairs, tmp_path):
    # The fixtures' person keys are the full names; an upper-case key still matches.
    path = tmp_path / "keys.csv"
    shutil.copy(FIXTURES / "form_export.csv", path)
    text = path.read_text(encoding="utf-8").replace(
        "Орлов Павел Викторович", "ОРЛОВ ПАВЕЛ ВИКТОРОВИЧ"
    )
    path.write_text(text, encoding="utf-8")
    assert run(engine, pairs, path).rejected == []


def test_cli_imports_records_and_shows_a_pairs_log(monkeypatch, tmp_path, engine, settings, pairs):
    """The curator's terminal: `nastavnik meetings import|record|feedback|log`."""
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.clock import FixedClock
    from nastavnik.settings import get_settings

    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs on the SQLite file the command line opens")
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("nastavnik.clock.process_clock", lambda: FixedClock.on(TODAY))
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    runner = CliRunner()
    where = ["--org", "school-7", "--year", "2026/2027"]
    try:
        imported = runner.invoke(
            cli_module.app, ["meetings", "import", str(FIXTURES / "form_export.csv"), *where]
        )
        assert imported.exit_code == 0, imported.output
        assert "принято 6" in imported.output and "Новых встреч: 6" in imported.output
        bad = runner.invoke(
            cli_module.app, ["meetings", "import", str(FIXTURES / "bad_rows.csv"), *where]
        )
        assert bad.exit_code == 1
        assert "Файл не импортирован" in bad.output and "Чаепитие" in bad.output
        recorded = runner.invoke(
            cli_module.app,
            [
                "meetings", "record", *where, "--pair", "Орлов", "--date", "20.10.2026",
                "--kind", "Пробная рабочая встреча", "--minutes", "40", "--topic", "Проект",
            ],
        )  # fmt: skip
        assert recorded.exit_code == 0, recorded.output
        assert "Встреча «Пробная рабочая встреча» 20.10.2026: записана." in recorded.output
        refused = runner.invoke(
            cli_module.app,
            [
                "meetings", "record", *where, "--pair", "Орлов", "--date", "20.12.2026",
                "--kind", "планирование", "--minutes", "40",
            ],
        )  # fmt: skip
        assert refused.exit_code == 1
        assert "ещё не наступила" in refused.output
        given = runner.invoke(
            cli_module.app,
            [
                "meetings", "feedback", *where, "--pair", "Орлов", "--date", "07.10.2026",
                "--kind", "совместная работа", "--rating", "4", "--comment", "Понравилось",
            ],
        )  # fmt: skip
        assert given.exit_code == 0, given.output
        assert "Отзыв о встрече 07.10.2026: записан." in given.output
        shown = runner.invoke(cli_module.app, ["meetings", "log", *where, "--pair", "Орлов"])
        assert shown.exit_code == 0, shown.output
        assert "Совместная работа" in shown.output and "4/5" in shown.output
        assert "прежде, чем «Встреча-знакомство»" in shown.output
        assert "Пробная рабочая встреча" in shown.output
    finally:
        get_settings.cache_clear()
