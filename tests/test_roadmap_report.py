"""The roadmap's status report: rows and counts, the Gantt chart, the PDF, the web page, the CLI.

Issue 7 §4: «a PDF «Отчёт о выполнении дорожной карты» with a Gantt chart (planned window and
actual bar per item, today's line, overdue in red) … as vector graphics in the PDF; the same
chart on a web page». Plans are built from hand-made schedules, as in tests/test_tick.py.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import AccountRole, ItemStatus
from nastavnik import plan, roadmap_report
from nastavnik.roadmap import (
    Completion,
    CompletionKind,
    OrganisationKind,
    Roadmap,
    RoadmapItem,
    Schedule,
    Stage,
    Window,
    WindowKind,
)
from nastavnik.roadmap_report import StatusRow
from tests.test_web_approvals import Client
from tests.web_support import sign_in_as

TODAY = date(2026, 11, 30)


def _item(number: str, title: str, stage: Stage, kind: CompletionKind, due: str) -> RoadmapItem:
    return RoadmapItem(
        number=number,
        title=title,
        stage=stage,
        completes=Completion(kind=kind),
        due=due,
        responsible=("Куратор", "Директор"),
    )


MANUAL = CompletionKind.manual
SITE = _item("1", "Раздел «Наставничество» на сайте", Stage.preparation, MANUAL, "До 01.10.2022")
BASE = _item("2", "Формирование базы наставников", Stage.base_formation, MANUAL, "Сентябрь")
TRAINING = _item("3", "Обучение наставников", Stage.training, MANUAL, "Октябрь–ноябрь")
WINTER = _item("4", "Зимняя школа наставников", Stage.training, MANUAL, "декабрь-январь")
MONTHLY = _item("5", "Встречи наставников", Stage.training, CompletionKind.recurring, "ежемесячно")
HELP = _item("6", "Консультации наставников", Stage.training, MANUAL, "По мере необходимости")
EVENT = _item("7", "Итоговый отчёт", Stage.completion, MANUAL, "По завершении программы")
OLD = _item("8", "Анкетирование 2022 года", Stage.preparation, MANUAL, "До 13.05.2022")
REPORT = _item("9", "Мониторинг программы", Stage.pairing, MANUAL, "ноябрь 2026")

ROADMAP = Roadmap(
    title="Дорожная карта СШ № 7",
    organisation="СШ № 7",
    kind=OrganisationKind.school,
    school_year="2022/2023",
    items=(SITE, BASE, TRAINING, WINTER, MONTHLY, HELP, EVENT, OLD, REPORT),
)


def _window(start: date, end: date) -> Schedule:
    return Schedule(WindowKind.dated, (Window(start, end),))


SCHEDULES = [
    (SITE, _window(date(2026, 9, 1), date(2026, 10, 1))),
    (BASE, _window(date(2026, 9, 1), date(2026, 9, 30))),
    (TRAINING, _window(date(2026, 10, 1), date(2026, 11, 30))),
    (WINTER, _window(date(2026, 12, 1), date(2027, 1, 31))),  # across New Year
    (
        MONTHLY,
        Schedule(
            WindowKind.dated,
            tuple(Window(date(2026, m, 1), date(2026, m, 28)) for m in (9, 10, 11)),
            recurring=True,
        ),
    ),
    (HELP, Schedule(WindowKind.on_demand)),
    (EVENT, Schedule(WindowKind.after_event, event="programme-end", days_after=10)),
    (OLD, Schedule(WindowKind.dated, (), applies=False)),
    (REPORT, _window(date(2026, 11, 1), date(2026, 11, 20))),
]


def _close(session: Session, cycle_id: uuid.UUID, number: str, on: date, occurrence=None) -> None:
    item = plan.find_item(session=session, cycle_id=cycle_id, number=number, occurrence=occurrence)
    plan.close_item(
        session=session,
        item_id=item.id,
        today=on,
        actor="curator",
        evidence_kind="link",
        evidence=f"https://school7.example/{number}",
    )


def _make_plan(engine: Engine, cycle_id: uuid.UUID) -> None:
    """The plan on 30.11.2026: some items done, one late, one overdue, one skipped."""
    with Session(engine) as session:
        plan.create_plan(
            session=session,
            cycle_id=cycle_id,
            roadmap=ROADMAP,
            schedules=SCHEDULES,
            first_cycle="2026/2027",
        )
        _close(session, cycle_id, "1", date(2026, 9, 20))  # on time
        _close(session, cycle_id, "2", date(2026, 10, 5))  # five days late
        _close(session, cycle_id, "5", date(2026, 9, 25), occurrence=1)
        item = plan.find_item(session=session, cycle_id=cycle_id, number="5", occurrence=2)
        plan.skip_item(
            session=session, item_id=item.id, today=TODAY, actor="curator", reason="каникулы"
        )
        plan.refresh(session=session, cycle_id=cycle_id, today=TODAY)
        session.commit()


@pytest.fixture
def planned(engine: Engine, cycle_ids: tuple) -> uuid.UUID:
    _make_plan(engine, cycle_ids[1])
    return cycle_ids[1]


def _report(engine: Engine, cycle_id: uuid.UUID) -> roadmap_report.StatusReport:
    with Session(engine) as session:
        return roadmap_report.status_report(session=session, cycle_id=cycle_id, today=TODAY)


def _by_label(rows: tuple[StatusRow, ...]) -> dict[str, StatusRow]:
    return {row.label: row for row in rows}


def test_rows_show_each_item_and_occurrence_with_its_state(engine: Engine, planned) -> None:
    report = _report(engine, planned)
    rows = _by_label(report.rows)
    assert list(rows) == ["1", "2", "3", "4", "5 (1)", "5 (2)", "5 (3)", "6", "7", "8", "9"]

    assert rows["1"].status == ItemStatus.done and rows["1"].days_late is None
    assert rows["1"].evidence[0].value == "https://school7.example/1"
    assert rows["2"].status_ru == "выполнен с опозданием"
    assert rows["2"].days_late == 5 and rows["2"].actual_ru == "05.10.2026"
    assert rows["3"].status == ItemStatus.not_started  # due today: not overdue yet
    winter = rows["4"]
    assert (winter.planned_start, winter.planned_end) == (date(2026, 12, 1), date(2027, 1, 31))
    assert winter.planned_ru == "01.12.2026–31.01.2027"
    assert rows["5 (2)"].status == ItemStatus.skipped and rows["5 (2)"].note == "каникулы"
    assert rows["5 (3)"].status == ItemStatus.overdue and rows["5 (3)"].days_late == 2
    assert rows["6"].planned_ru == "по мере необходимости"
    assert rows["7"].planned_ru == "после события, дата ещё не известна"
    assert rows["8"].note == plan.OTHER_YEAR_NOTE
    assert rows["9"].status_full_ru == "просрочен на 10 дн."
    assert rows["2"].status_full_ru == "выполнен с опозданием на 5 дн."
    assert rows["9"].due_rule == "ноябрь 2026"  # the source's words


def test_counts_per_status_and_per_stage(engine: Engine, planned) -> None:
    summary = _report(engine, planned).summary
    assert summary.total == 11
    assert summary.counts == {
        ItemStatus.done: 2,
        ItemStatus.done_late: 1,
        ItemStatus.in_progress: 0,
        ItemStatus.overdue: 2,
        ItemStatus.not_started: 4,
        ItemStatus.skipped: 2,
    }
    stages = {s.stage_ru: (s.total, s.counts[ItemStatus.overdue]) for s in summary.stages}
    assert stages == {
        "Подготовка": (2, 0),
        "Формирование базы": (1, 0),
        "Обучение наставников": (6, 1),
        "Формирование пар": (1, 1),
        "Завершение": (1, 0),
    }


def test_a_cycle_without_a_plan_is_refused_with_a_reason(engine: Engine, cycle_ids) -> None:
    with Session(engine) as session, pytest.raises(LookupError, match="нет плана"):
        roadmap_report.status_report(session=session, cycle_id=cycle_ids[1], today=TODAY)


def test_the_markdown_has_counts_items_and_the_page_link(engine: Engine, planned) -> None:
    markdown = roadmap_report.status_markdown(
        _report(engine, planned), web_base_url="https://nastavnik.example/"
    )
    assert f"(https://nastavnik.example/roadmap/{planned})" in markdown
    assert f"(https://nastavnik.example/roadmap/{planned}/report.pdf)" in markdown
    assert "| просрочен | 2 |" in markdown
    assert "| 4 | Зимняя школа наставников | Обучение наставников | декабрь-январь | " in markdown
    # Evidence is named by kind only: a note's free text stays out of the artifact.
    assert "school7.example/1" not in markdown


def test_the_markdown_changes_with_the_plan_not_with_the_day(engine: Engine, planned) -> None:
    def markdown(day: date) -> str:
        with Session(engine) as session:
            report = roadmap_report.status_report(session=session, cycle_id=planned, today=day)
        return roadmap_report.status_markdown(report, web_base_url="https://nastavnik.example")

    today, tomorrow = markdown(TODAY), markdown(TODAY + timedelta(days=1))
    assert "на 30.11.2026" in today and "на 01.12.2026" in tomorrow
    # Two rows overdue both days: «просрочен», not a count of days that grows each morning.
    assert "| просрочен | 2 |" in tomorrow and "просрочен на" not in tomorrow
    assert roadmap_report.same_status(today, tomorrow)
    assert not roadmap_report.same_status(None, today)  # nothing published yet
    with Session(engine) as session:
        _close(session, planned, "4", TODAY)  # the curator closes an item: a new version
        session.commit()
    assert not roadmap_report.same_status(today, markdown(TODAY + timedelta(days=1)))


def test_the_gantt_chart_is_vector_text_deterministic_and_marks_today(
    engine: Engine, planned
) -> None:
    rows = _report(engine, planned).rows
    svg = roadmap_report.gantt_svg(rows, TODAY)
    assert svg == roadmap_report.gantt_svg(rows, TODAY)  # same plan, same bytes
    assert svg.startswith("<?xml") and "<dc:date>" not in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "4. Зимняя школа наставников" in texts
    assert "5. Встречи наставников" in texts  # one line for the three occurrences
    assert texts.count("5. Встречи наставников") == 1
    assert {"сен\n2026", "янв\n2027", "фев"} & set(texts) or "сен" in " ".join(texts)
    assert "сегодня, 30.11.2026" in texts
    assert 'id="today"' in svg
    assert 'id="item-5 (1)-actual"' in svg and 'id="item-4-planned"' in svg
    assert any("по мере необходимости" in t for t in texts)
    # The overdue bar is red, the late one orange.
    assert re.search(r'<g id="item-9-actual">.*?fill: #c62828', svg, re.S)
    assert re.search(r'<g id="item-2-actual">.*?fill: #ef6c00', svg, re.S)
    # A different day moves today's line: the chart is not cached by the plan alone.
    assert roadmap_report.gantt_svg(rows, date(2026, 12, 1)) != svg


def test_the_pdf_reads_back_with_the_title_items_and_dates(engine: Engine, planned) -> None:
    report = _report(engine, planned)
    pdf = roadmap_report.render_report_pdf(report)
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert "Отчёт о выполнении дорожной карты" in flat
    assert "по состоянию на 30 ноября 2026 г." in flat
    assert "Зимняя школа наставников" in flat
    assert re.search(r"01\.12\.2026–\s?31\.01\.2027", flat)  # a window across New Year
    assert "просрочен на 10 дн." in flat
    assert "05.10.2026" in flat and "5 (3)" in flat
    # The chart's own text (from the SVG) is in the PDF as text: labels, months, today.
    assert "4. Зимняя школа наставников" in text
    assert "сегодня, 30.11.2026" in text
    assert not any(page.images for page in reader.pages)  # vectors, not a picture of the chart
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # landscape


def test_a_long_plan_prints_its_chart_over_pages_on_one_time_axis(engine: Engine, planned) -> None:
    rows = _report(engine, planned).rows
    pages = roadmap_report.gantt_pages(rows, TODAY, per_page=4)
    assert len(pages) == 3  # nine lines
    first_ticks = re.findall(r">(сен\n2026|янв\n2027)<", pages[0])
    assert first_ticks == re.findall(r">(сен\n2026|янв\n2027)<", pages[2])


# --------------------------------------------------------------------------- web page


def _web(engine: Engine, settings) -> Client:
    from nastavnik.web import create_app

    async def no_resume(run_id: uuid.UUID, run_input: dict, approval_key: str) -> None:
        raise AssertionError("the roadmap page resumes nothing")

    # 09:00 in Moscow on TODAY; the page's "today" is the organisations' local day.
    moment = datetime.combine(TODAY, time(6, 0), tzinfo=UTC)
    app = create_app(settings=settings, engine=engine, resume=no_resume, clock=lambda: moment)
    client = Client(app)
    sign_in_as(client, engine, role=AccountRole.curator)
    return client


def test_the_web_page_shows_counts_the_chart_and_the_items(
    engine: Engine, settings, planned
) -> None:
    page = _web(engine, settings).get(f"/roadmap/{planned}")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and 'id="today"' in html and "<?xml" not in html
    assert "по состоянию на 30 ноября 2026 г." in html
    assert '<td data-label="План" class="dates">01.12.2026–31.01.2027</td>' in html
    assert '<span class="status status-overdue">просрочен</span>' in html
    assert 'href="https://school7.example/1"' in html
    assert f'href="/roadmap/{planned}/report.pdf"' in html
    assert 'name="viewport"' in html and "@media (max-width: 700px)" in html


def test_the_web_serves_the_pdf_and_refuses_an_unknown_cycle(
    engine: Engine, settings, planned
) -> None:
    web = _web(engine, settings)
    response = web.get(f"/roadmap/{planned}/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Отчёт о выполнении дорожной карты" in text
    assert web.get(f"/roadmap/{uuid.uuid4()}").status_code == 404


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(monkeypatch, tmp_path, engine: Engine, cycle_ids):
    """The ``nastavnik`` CLI on the test's SQLite database, the simulated clock on TODAY."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI runs on the test's SQLite file")
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.clock import StoredClock, process_clock
    from nastavnik.settings import get_settings

    _make_plan(engine, cycle_ids[1])
    StoredClock(engine).set_day(TODAY)
    for name, value in {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "CLOCK": "simulated",
    }.items():
        monkeypatch.setenv(f"NASTAVNIK_{name}", value)
    get_settings.cache_clear()
    process_clock.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 250)
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli_module.app, list(args))
    get_settings.cache_clear()
    process_clock.cache_clear()


YEAR = ("--org", "school-7", "--year", "2026/2027")


def test_cli_status_shows_the_table_and_writes_the_pdf(cli, tmp_path) -> None:
    result = cli("roadmap", "status", *YEAR, "--pdf")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "Дорожная карта СШ № 7 — на 30.11.2026" in output
    assert "Зимняя школа наставников" in output and "01.12.2026–31.01.2027" in output
    assert "просрочен на 10 дн." in output
    assert "Всего строк плана: 11; выполнен: 2, выполнен с опозданием: 1" in output
    written = tmp_path / "data" / "reports" / "roadmap-school-7-2026-2027-2026-11-30.pdf"
    assert f"Отчёт о выполнении дорожной карты: {written}" in output
    assert "Отчёт о выполнении дорожной карты" in PdfReader(written).pages[0].extract_text()


def test_cli_status_of_a_simulated_year_is_on_its_simulated_day(cli, monkeypatch) -> None:
    """A data directory a simulated year ran in, read with the default (system) clock: the
    statuses were made on the simulated day, so is the report (no «просрочен на -175 дн.»)."""
    from nastavnik.clock import process_clock
    from nastavnik.settings import get_settings

    monkeypatch.setenv("NASTAVNIK_CLOCK", "system")
    get_settings.cache_clear()
    process_clock.cache_clear()
    result = cli("roadmap", "status", *YEAR)
    assert result.exit_code == 0, result.output
    assert "на 30.11.2026 (день моделирования)" in result.output
    assert "просрочен на 10 дн." in result.output


def test_cli_closes_and_skips_items_on_the_clock_day(cli, engine: Engine, cycle_ids) -> None:
    result = cli(
        "roadmap", "close", "3", *YEAR, "--evidence-kind", "file", "--evidence", "приказ.pdf"
    )
    assert result.exit_code == 0, result.output
    assert "Пункт 3: выполнен (30.11.2026)" in result.output  # due today: on time
    result = cli("roadmap", "skip", "5", *YEAR, "--occurrence", "3", "--reason", "карантин")
    assert result.exit_code == 0, result.output
    assert "Пункт 5 (3): пропущен — карантин" in result.output
    with Session(engine) as session:
        rows = _by_label(
            tuple(roadmap_report.status_rows(session=session, cycle_id=cycle_ids[1], today=TODAY))
        )
    assert rows["3"].evidence[0].value == "приказ.pdf" and rows["3"].actual_finish == TODAY
    assert rows["5 (3)"].note == "карантин"

    refused = cli("roadmap", "close", "42", *YEAR, "--evidence-kind", "note", "--evidence", "x")
    assert refused.exit_code == 1 and "нет пункта '42'" in refused.output
    wrong_kind = cli("roadmap", "close", "6", *YEAR, "--evidence-kind", "fax", "--evidence", "x")
    assert wrong_kind.exit_code == 1 and "ожидается file, link или note" in wrong_kind.output
    unknown = cli("roadmap", "status", "--org", "school-7", "--year", "2030/2031")
    assert unknown.exit_code == 1 and "нет цикла 2030/2031" in unknown.output


def test_the_tick_renders_the_status_markdown(cli, engine: Engine, cycle_ids) -> None:
    with Session(engine) as session:
        report = roadmap_report.status_report(session=session, cycle_id=cycle_ids[1], today=TODAY)
    markdown = roadmap_report.status_markdown(report, web_base_url="http://127.0.0.1:8470")
    assert markdown.startswith("## Отчёт о выполнении дорожной карты")
    assert "на 30.11.2026" in markdown and "| просрочен | 2 |" in markdown
