"""`nastavnik final-event ranking|nominate|consent|honour-board|practice-bank|start`: the core's
rules and refusals reach the curator as Russian text and an exit status."""

from __future__ import annotations

from typer.testing import CliRunner

from nastavnik import repository
from tests.final_event_school import build_school


def test_final_event_commands(monkeypatch, tmp_path, sqlite_engine, settings) -> None:
    from sqlmodel import Session

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    with Session(sqlite_engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-final",
            name="МОУ «Средняя школа № 2»",
            short_name="СШ № 2",
            director_name="Иванова Мария Петровна",
            director_email="director@school2.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school2.example",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        session.commit()
        ids = (org.id, cycle.id)
    school = build_school(sqlite_engine, ids)

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    started: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        cli_module, "_start", lambda name, params, new=False: started.append((name, params))
    )
    runner = CliRunner()
    where = ["--org", "school-final", "--year", "2026/2027"]

    def run(*args: str):
        return runner.invoke(cli_module.app, ["final-event", *args, *where])

    try:
        ranking = run("ranking", "--on", "2027-06-20")
        assert ranking.exit_code == 0, ranking.output
        assert "Рейтинг наставников" in ranking.output
        assert "Дмитриев Денис Павлович" in ranking.output and "пары завершены: 1 из 1" in (
            ranking.output
        )
        refused = run("nominate", "Дмитриев", "--reward", "gift", "--on", "2027-06-20")
        assert refused.exit_code == 1 and "укажите комментарий" in refused.output
        chosen = run(
            "nominate", "Дмитриев", "--reward", "gift", "--comment", "Лучший дебют",
            "--on", "2027-06-20",
        )  # fmt: skip
        assert chosen.exit_code == 0 and "Дмитриев: ценный подарок" in chosen.output
        unknown = run("nominate", "Дмитриев", "--reward", "medal")
        assert unknown.exit_code == 2 and "неизвестный вид поощрения" in unknown.output
        child = run("consent", school.pupil.full_name)
        assert child.exit_code == 1 and "несовершеннолетний" in child.output
        adult = run("consent", "Борисов", "--on", "2027-06-01")
        assert adult.exit_code == 0 and "согласие на публикацию записано" in adult.output
        board = run("honour-board", "--on", "2027-06-20")
        assert board.exit_code == 0, board.output
        # Алексеева, Борисов (consented now), Дмитриев (nominated now, consented earlier).
        assert "На доске почёта: 3; не показаны (нет согласия или дети): 2" in board.output
        page = tmp_path / "data" / "publications" / str(school.cycle_id) / "honour-board.html"
        assert "Дмитриев Денис Павлович" in page.read_text()
        bank = run("practice-bank", "--on", "2027-06-20")
        assert bank.exit_code == 0 and "Практик в банке: 0" in bank.output
        start = run(
            "start", "--event-date", "2027-06-10", "--place", "актовый зал", "--time", "14:00"
        )
        assert start.exit_code == 0, start.output
        assert started == [
            (
                "final-event/final-event",
                {
                    "organization_code": "school-final",
                    "school_year": "2026/2027",
                    "event_title": "Итоги года наставничества",
                    "event_date": "2027-06-10",
                    "place": "актовый зал",
                    "time": "14:00",
                },
            )
        ]
    finally:
        get_settings.cache_clear()
