"""The ``nastavnik`` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from deployments.catalog import STAGE_DEPLOYMENTS, prefect_yaml, run_label
from models import Decision, ImportKind, OutboxStatus, Role
from nastavnik import approvals, policy, repository, tabular
from nastavnik.db import get_engine, session_scope
from nastavnik.roadmap import OrganisationKind
from nastavnik.settings import get_settings
from nastavnik.tabular import ImportFileError, ImportReport, TableSpec

app = typer.Typer(
    help="Наставник: этапы программы наставничества на Prefect.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
# soft_wrap keeps links and paths on one line so they stay clickable and copyable
console = Console(soft_wrap=True)


def _use_embedded_prefect() -> None:
    # Point Prefect at the embedded server unless the operator configured another one.
    from deployments.stack import prefect_environment

    for key, value in prefect_environment(get_settings()).items():
        os.environ.setdefault(key, value)


@app.command()
def up() -> None:
    """Start the embedded stack (Prefect server, runner, SMTP sink, web) until Ctrl-C.

    Ctrl-C or SIGTERM at any moment, while starting or serving, stops everything that was
    started and exits with status 0; a stack that cannot start exits with status 1.
    """
    from deployments.stack import (
        EmbeddedStack,
        Interrupted,
        install_stop_signals,
        wait_for_interrupt,
    )

    stop = install_stop_signals()
    console.print("Starting the embedded stack (Prefect server, runner, SMTP sink, web)…")
    settings = get_settings()
    _warn_if_slow_pdf()
    stack = EmbeddedStack(settings, stop_requested=stop)
    try:
        stack.start()
    except Interrupted:
        console.print("Stopped.")
        return
    except (RuntimeError, TimeoutError) as error:
        console.print(f"[red]{error}[/]  Logs: {stack.logs_dir.resolve()}")
        raise typer.Exit(1) from None
    try:
        console.print(f"Prefect UI:       {stack.ui_url}")
        console.print(f"Approval web:     {settings.web_base_url}")
        console.print(f"SMTP sink:        {settings.smtp_url} → {settings.mail_dir.resolve()}")
        console.print("Ctrl-C stops everything.")
        wait_for_interrupt(stop)
    finally:
        stack.stop()
    console.print("Stopped.")


def _warn_if_slow_pdf() -> None:
    from nastavnik.documents import warn_if_slow_pdf

    warning = warn_if_slow_pdf()
    if warning:
        console.print(f"[bold red]WARNING:[/] {warning}")


@app.command()
def demo(
    exit_when_done: Annotated[bool, typer.Option(help="Stop the stack and exit when done")] = False,
    department: Annotated[
        bool,
        typer.Option(
            "--department",
            help="A municipal department with three organisations of different kinds instead",
        ),
    ] = False,
    postgres: Annotated[
        str | None,
        typer.Option(
            help="With --department: run on the production layout on this PostgreSQL server "
            "(URL without a database, e.g. postgresql://postgres@127.0.0.1:5432), with a worker "
            "lost and the SMTP relay down during the year",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="With --postgres: process workers")] = 2,
    databases: Annotated[
        str,
        typer.Option(
            help="With --postgres: the demo's databases, NAME and NAME_prefect (made anew)"
        ),
    ] = "nastavnik_demo",
) -> None:
    """Run the demo school's school year on a simulated clock (same as `year --simulate`)."""
    from deployments.demo import run_demo

    _warn_if_slow_pdf()
    if postgres and not department:
        raise typer.BadParameter("--postgres runs the department demo: add --department")
    if department:
        from deployments.demo_department import run_department_demo

        raise typer.Exit(
            run_department_demo(
                settings=get_settings(),
                console=console,
                exit_when_done=exit_when_done,
                postgres=postgres,
                workers=workers,
                databases=(f"{databases}_prefect", databases),
            )
        )
    raise typer.Exit(
        run_demo(settings=get_settings(), console=console, exit_when_done=exit_when_done)
    )


@app.command()
def year(
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Смоделировать учебный год демо-школы за минуты")
    ] = False,
    exit_when_done: Annotated[bool, typer.Option(help="Stop the stack and exit when done")] = False,
    roadmap: Annotated[
        Path | None,
        typer.Option(help="Дорожная карта (YAML) для моделирования вместо карты демо-школы"),
    ] = None,
    sample: Annotated[
        int,
        typer.Option(
            min=1,
            help="С --roadmap: каждая N-я анкета демо-школы (меньшая организация, год быстрее)",
        ),
    ] = 1,
) -> None:
    """A school year: a real one runs by the daily tick; --simulate runs the demo school's
    (with --roadmap, the demo school runs that roadmap's year; --sample N keeps every N-th of
    its questionnaires)."""
    if not simulate:
        console.print(
            "Настоящий учебный год ведёт ежедневный шаг (развёртывание cycle-tick, 07:00 МСК): "
            "начните цикл командой `nastavnik cycle start --org … --year … --roadmap …` на "
            "запущенном `nastavnik up`. Смоделировать год демо-школы: `nastavnik year --simulate`."
        )
        raise typer.Exit(0)
    if roadmap is None:
        if sample != 1:
            console.print(
                "--sample только с --roadmap: год демо-школы идёт по её сценарию со всеми анкетами",
                style="red",
            )
            raise typer.Exit(2)
        demo(exit_when_done=exit_when_done)
        return
    from deployments.demo import run_demo
    from nastavnik.roadmap import RoadmapError, load_roadmap

    try:
        load_roadmap(roadmap)
    except RoadmapError as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    _warn_if_slow_pdf()
    raise typer.Exit(
        run_demo(
            settings=get_settings(),
            console=console,
            exit_when_done=exit_when_done,
            roadmap=roadmap.resolve(),
            keep_every=sample,
        )
    )


cycle_app = typer.Typer(help="Годовой цикл по дорожной карте.", no_args_is_help=True)
app.add_typer(cycle_app, name="cycle")


@cycle_app.command("start")
def cycle_start(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год, например 2026/2027")],
    roadmap: Annotated[Path, typer.Option(help="Дорожная карта (YAML, см. docs/roadmaps.md)")],
    first_year: Annotated[
        str | None,
        typer.Option(help="Первый учебный год многолетней дорожной карты (по умолчанию этот)"),
    ] = None,
) -> None:
    """Start the annual cycle: the roadmap's items dated for the year become the cycle's plan."""
    from nastavnik import plan
    from nastavnik.roadmap import RoadmapError

    try:
        with session_scope() as session:
            organization = repository.get_organization(session=session, code=org)
            cycle = plan.start_cycle(
                session=session,
                organization_id=organization.id,
                school_year=year,
                roadmap_path=roadmap,
                first_cycle=first_year,
            )
            rows = plan.plan_items(session=session, cycle_id=cycle.id)
    except (RoadmapError, plan.PlanExists, LookupError, ValueError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    dated = sorted(r.planned_end for r in rows if r.planned_end is not None)
    console.print(
        f"Цикл {org} {year} начат: {len(rows)} строк плана, из них с датами {len(dated)}"
        + (f"; первый срок {dated[0]:%d.%m.%Y}" if dated else "")
    )
    console.print("Дальше его ведёт ежедневный шаг; состояние: `nastavnik roadmap status`.")


@cycle_app.command("tick")
def cycle_tick_now(
    org: Annotated[str | None, typer.Option(help="Только эта организация")] = None,
    day: Annotated[str | None, typer.Option(help="День (ГГГГ-ММ-ДД), по умолчанию сегодня")] = None,
) -> None:
    """Run the daily tick now on the running stack (it also runs by itself every morning)."""
    _use_embedded_prefect()
    from deployments.prefect_api import start_deployment

    parameters: dict[str, object] = {"organization_code": org}
    if day:
        parameters["day"] = day
    run_id = asyncio.run(start_deployment("cycle-tick/cycle-tick", parameters))
    console.print(f"Запущен ежедневный шаг: flow run {run_id}")


@app.command("deployments")
def deployments_(
    write: Annotated[
        Path | None, typer.Option(help="Write prefect.yaml here instead of printing it")
    ] = None,
) -> None:
    """Print (or write) prefect.yaml generated from the deployment catalog."""
    text = prefect_yaml()
    if write is None:
        console.print(text, markup=False, highlight=False)
    else:
        write.write_text(text, encoding="utf-8")
        console.print(f"{write}: {text.count('- name:')} deployments")


@app.command("add-organization")
def add_organization(
    code: str,
    name: str,
    short_name: str,
    director_name: Annotated[str, typer.Option()],
    director_email: Annotated[str, typer.Option()],
    curator_name: Annotated[str, typer.Option()],
    curator_email: Annotated[str, typer.Option()],
    city: str = "",
    kind: Annotated[
        OrganisationKind | None,
        typer.Option(help="Вид: school, college, centre или department (отдел образования)"),
    ] = None,
) -> None:
    """Register an organisation (or update it)."""
    with session_scope() as session:
        org = repository.upsert_organization(
            session=session,
            code=code,
            name=name,
            short_name=short_name,
            city=city,
            director_name=director_name,
            director_email=director_email,
            curator_name=curator_name,
            curator_email=curator_email,
            kind=kind,
        )
        console.print(f"Организация {org.code} ({org.kind}): {org.name}")


@app.command("import")
def import_(
    path: Path,
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год, например 2026/2027")],
    role: Annotated[Role, typer.Option(help="mentee или mentor")],
) -> None:
    """Import one questionnaire file (CSV, tab-separated text or XLSX) and show the report."""
    from nastavnik import questionnaires

    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=organization.id, school_year=year
        )
    _report_import(
        lambda: questionnaires.import_file_transaction(
            engine=get_engine(),
            cycle_id=cycle.id,
            path=path,
            role=role,
            max_bytes=get_settings().max_import_bytes,
        ),
        org=org,
        kind=ImportKind.questionnaire,
    )


def _report_import(run: Callable[[], ImportReport], *, org: str, kind: ImportKind) -> None:
    """Run one import; show its counts, rejected rows and the columns no field took."""
    try:
        report = run()
    except ImportFileError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    counts = (
        f"{report.file}: принято {report.accepted}, обновлено {report.updated}, "
        f"без изменений {report.unchanged}, отклонено строк {report.rejected_rows}"
    )
    if kind is ImportKind.questionnaire:
        counts += f", согласий записано {report.consents_recorded}"
    console.print(counts)
    if report.rejected:
        table = Table("Строка", "Поле", "Ошибка", title="Отклонённые строки")
        for row_error in report.rejected:
            table.add_row(str(row_error.row), row_error.field, row_error.message)
        console.print(table)
    if report.ignored_columns:
        listed = ", ".join(f"«{header}»" for header in report.ignored_columns)
        console.print(f"[yellow]Не импортированы столбцы (нет такого поля): {listed}[/]")
        console.print(
            f"Чтобы учитывать столбец: nastavnik columns set --org {org} --kind {kind.value} "
            '"<заголовок>" <поле>'
        )


NewRun = Annotated[
    bool,
    typer.Option("--new", help="Новый запуск, даже если прошлый с теми же параметрами прервался"),
]


def _start(deployment: str, params: dict[str, object], new: bool = False) -> None:
    _use_embedded_prefect()
    from deployments.prefect_api import start_deployment, start_or_retry

    run_name, tags = run_label(deployment, params)
    if new:
        run_id = asyncio.run(
            start_deployment(deployment, {"params": params}, run_name=run_name, tags=tags)
        )
        crashed = None
    else:
        run_id, crashed = asyncio.run(
            start_or_retry(deployment, {"params": params}, run_name=run_name, tags=tags)
        )
    if crashed is not None:
        console.print(
            f"Прошлый запуск этапа с теми же параметрами прервался аварийно: "
            f"продолжен тот же запуск {run_id} (документы и письма не повторяются)"
        )
    else:
        console.print(f"Запущено: {deployment}, flow run {run_id}")


@app.command("preparation")
def start_preparation(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    roadmap: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="Дорожная карта (YAML, docs/roadmaps.md)"),
    ],
    new: NewRun = False,
) -> None:
    """Start the preparation stage: orders, the regulation from the policy, the roadmap."""
    _start(
        STAGE_DEPLOYMENTS["preparation"],
        {"organization_code": org, "school_year": year, "roadmap_file": str(roadmap.resolve())},
        new,
    )


@app.command("base-formation")
def start_base_formation(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    mentees: Annotated[list[Path], typer.Option(help="Анкеты наставляемых")] = [],  # noqa: B006
    mentors: Annotated[list[Path], typer.Option(help="Анкеты наставников")] = [],  # noqa: B006
    new: NewRun = False,
) -> None:
    """Start base formation on the running stack (see `nastavnik up`)."""
    _start(
        STAGE_DEPLOYMENTS["base-formation"],
        {
            "organization_code": org,
            "school_year": year,
            "mentee_files": [str(p.resolve()) for p in mentees],
            "mentor_files": [str(p.resolve()) for p in mentors],
        },
        new,
    )


@app.command("training")
def start_training(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    attendance: Annotated[list[Path], typer.Option(help="Файлы посещаемости")] = [],  # noqa: B006
    new: NewRun = False,
) -> None:
    """Start the training stage (without attendance files it waits for the curator)."""
    _start(
        STAGE_DEPLOYMENTS["training"],
        {
            "organization_code": org,
            "school_year": year,
            "attendance_files": [str(p.resolve()) for p in attendance],
        },
        new,
    )


@app.command("pairing")
def start_pairing(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    new: NewRun = False,
) -> None:
    """Start the pairing stage."""
    _start(STAGE_DEPLOYMENTS["pairing"], {"organization_code": org, "school_year": year}, new)


def _cycle_id(org: str, year: str) -> uuid.UUID:
    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        return repository.get_or_create_cycle(
            session=session, organization_id=organization.id, school_year=year
        ).id


def _participant(cycle_id: uuid.UUID, name: str, role: Role | None = None) -> uuid.UUID:
    """The participant whose full name starts with ``name`` (or whose e-mail is ``name``)."""
    from sqlmodel import select

    from models import Participant, Person

    with session_scope() as session:
        query = (
            select(Participant, Person)
            .join(Person, Person.id == Participant.person_id)  # type: ignore[arg-type]
            .where(Participant.cycle_id == cycle_id)
        )
        matches = [
            participant.id
            for participant, person in session.exec(query)
            if (role is None or participant.role == role)
            and (person.full_name.lower().startswith(name.lower()) or person.email == name)
        ]
    if len(matches) != 1:
        raise typer.BadParameter(f"{len(matches)} участников подходят под «{name}»")
    return matches[0]


@app.command()
def attendance(
    path: Path,
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
) -> None:
    """Import a training attendance file (ФИО, Занятие, Присутствовал)."""
    from nastavnik import training

    _report_import(
        lambda: training.import_attendance_transaction(
            engine=get_engine(),
            cycle_id=_cycle_id(org, year),
            path=path,
            max_bytes=get_settings().max_import_bytes,
        ),
        org=org,
        kind=ImportKind.attendance,
    )


pairs_app = typer.Typer(
    help="Пары: проект пар и лист поиска; замена наставника, продление, досрочное прекращение.",
    invoke_without_command=True,
)
app.add_typer(pairs_app, name="pairs")
OrgOption = Annotated[str, typer.Option(help="Код организации")]
YearOption = Annotated[str, typer.Option(help="Учебный год")]
MenteeArgument = Annotated[str, typer.Argument(help="Наставляемый (начало ФИО или e-mail)")]


@pairs_app.callback()
def pairs(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="Код организации")] = None,
    year: Annotated[str | None, typer.Option(help="Учебный год")] = None,
) -> None:
    """Show the draft pairs, who still owes a written consent, and the search list."""
    if ctx.invoked_subcommand is not None:
        return
    if org is None or year is None:
        raise typer.BadParameter("нужны --org и --year")
    from nastavnik import pairing

    cycle_id = _cycle_id(org, year)
    with session_scope() as session:
        rows = pairing.pair_rows(session=session, cycle_id=cycle_id)
        waiting = pairing.search_list(session=session, cycle_id=cycle_id)
    table = Table(
        "№", "Наставник", "Наставляемые", "Форма", "Совм.", "Нет согласия", title="Проект пар"
    )
    for row in rows:
        table.add_row(
            str(row.number),
            row.mentor_name,
            ", ".join(row.mentee_names),
            row.form,
            f"{row.score:.0%}",
            ", ".join(row.consents_missing),
        )
    console.print(table)
    if waiting:
        listing = Table("ФИО", "Причина", title="Лист поиска наставника")
        for item in waiting:
            listing.add_row(item["full_name"], item["reason"])
        console.print(listing)


def _change_reason(kind: str, name: str) -> str:
    """The reason's value (what the flow takes) from its short name, or a clear refusal."""
    from models import PairChangeKind
    from nastavnik import pair_changes

    allowed = pair_changes.REASONS[PairChangeKind(kind)]
    for reason in allowed:
        if reason.name == name:
            return reason.value
    listing = "; ".join(f"{r.name} — {r.value}" for r in allowed)
    raise typer.BadParameter(f"основание «{name}» не подходит; допустимы: {listing}")


def _going_on_pair(org: str, year: str, mentee: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(cycle id, id of the mentee's pair going on)."""
    from nastavnik import pair_changes

    cycle_id = _cycle_id(org, year)
    mentee_id = _participant(cycle_id, mentee, Role.mentee)
    with session_scope() as session:
        try:
            pair = pair_changes.find_pair(session=session, cycle_id=cycle_id, mentee_id=mentee_id)
        except LookupError as error:
            raise typer.BadParameter(f"{mentee}: {error}") from None
        return cycle_id, pair.id


def _change_params(
    org: str, year: str, pair_id: uuid.UUID, reason: str, comment: str, on: str
) -> dict[str, object]:
    return {
        "organization_code": org,
        "school_year": year,
        "pair_id": str(pair_id),
        "reason": reason,
        "comment": comment,
        "requested_by": "curator",
        "reference_date": on or None,
    }


@pairs_app.command("replace")
def pairs_replace(
    mentee: MenteeArgument,
    org: OrgOption,
    year: YearOption,
    reason: Annotated[
        str,
        typer.Option(
            help="Основание п. 2.8: dismissal, transfer, mentor_request, mentee_request, "
            "non_performance, other"
        ),
    ] = "other",
    mentor: Annotated[
        str, typer.Option(help="Новый наставник (без него — показать кандидатов)")
    ] = "",
    consent_on: Annotated[str, typer.Option(help="Дата письменного согласия ГГГГ-ММ-ДД")] = "",
    consent_how: Annotated[str, typer.Option(help="Как получено согласие")] = "",
    comment: Annotated[str, typer.Option(help="Комментарий")] = "",
    on: Annotated[str, typer.Option("--date", help="Дата приказа ГГГГ-ММ-ДД")] = "",
) -> None:
    """Replace the mentor (§2.8): without --mentor, list the candidates the rules allow."""
    from nastavnik import pair_changes, policy
    from nastavnik.clock import process_clock

    reason_value = _change_reason("replacement", reason)
    cycle_id, pair_id = _going_on_pair(org, year, mentee)
    day = date.fromisoformat(on) if on else process_clock().today()
    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        rules = policy.get_policy(
            session=session, organization_id=organization.id
        ).matching_policy()
        if not mentor:
            candidates = pair_changes.replacement_candidates(
                session=session, pair_id=pair_id, on=day, policy=rules
            )
            table = Table(
                "Кандидат", "Совм.", "Свободных мест", "Причины", title="Кандидаты (п. 2.5, 2.6)"
            )
            for candidate in candidates:
                table.add_row(
                    candidate.full_name,
                    f"{candidate.score:.0%}",
                    str(candidate.free_places),
                    "; ".join(candidate.reasons),
                )
            console.print(table)
            if not candidates:
                console.print("Нет наставников, которые могут принять пару по правилам положения.")
            return
        mentor_id = _participant(cycle_id, mentor, Role.mentor)
        problem = pair_changes.replacement_problem(
            session=session, pair_id=pair_id, new_mentor_id=mentor_id, on=day, policy=rules
        )
    if problem:
        console.print(f"[red]{mentor} не может заменить наставника: {problem}[/]")
        raise typer.Exit(1)
    if not consent_on or not consent_how.strip():
        raise typer.BadParameter(
            "нужно письменное согласие нового наставника (п. 2.6): --consent-on и --consent-how"
        )
    _start(
        STAGE_DEPLOYMENTS["pair-replacement"],
        _change_params(org, year, pair_id, reason_value, comment, on)
        | {"new_mentor_id": str(mentor_id), "consent_on": consent_on, "consent_how": consent_how},
    )


@pairs_app.command("extend")
def pairs_extend(
    mentee: MenteeArgument,
    org: OrgOption,
    year: YearOption,
    until: Annotated[str, typer.Option(help="Новая дата окончания ГГГГ-ММ-ДД")],
    reason: Annotated[
        str, typer.Option(help="Основание п. 2.9: illness, business_trip, long_absence")
    ] = "long_absence",
    comment: Annotated[str, typer.Option(help="Комментарий")] = "",
    on: Annotated[str, typer.Option("--date", help="Дата приказа ГГГГ-ММ-ДД")] = "",
) -> None:
    """Extend the pair's term (§2.9) by order."""
    reason_value = _change_reason("extension", reason)
    _, pair_id = _going_on_pair(org, year, mentee)
    _start(
        STAGE_DEPLOYMENTS["pair-extension"],
        _change_params(org, year, pair_id, reason_value, comment, on)
        | {"new_ends_on": date.fromisoformat(until).isoformat()},
    )


@pairs_app.command("terminate")
def pairs_terminate(
    mentee: MenteeArgument,
    org: OrgOption,
    year: YearOption,
    new_mentor: Annotated[
        bool,
        typer.Option("--new-mentor/--no-new-mentor", help="Наставляемый хочет нового наставника"),
    ] = False,
    comment: Annotated[str, typer.Option(help="Комментарий")] = "",
    on: Annotated[str, typer.Option("--date", help="Дата приказа ГГГГ-ММ-ДД")] = "",
) -> None:
    """End the pair early (§2.10, the mentee's non-performance) by order."""
    reason_value = _change_reason("termination", "mentee_non_performance")
    _, pair_id = _going_on_pair(org, year, mentee)
    _start(
        STAGE_DEPLOYMENTS["pair-termination"],
        _change_params(org, year, pair_id, reason_value, comment, on)
        | {"mentee_wants_new_mentor": new_mentor},
    )


@pairs_app.command("history")
def pairs_history(mentee: MenteeArgument, org: OrgOption, year: YearOption) -> None:
    """The versions of the mentee's pair, across replacements, with the orders."""
    from nastavnik import pair_changes

    cycle_id = _cycle_id(org, year)
    mentee_id = _participant(cycle_id, mentee, Role.mentee)
    with session_scope() as session:
        try:
            pair = pair_changes.latest_pair(session=session, cycle_id=cycle_id, mentee_id=mentee_id)
        except LookupError as error:
            raise typer.BadParameter(f"{mentee}: {error}") from None
        rows = pair_changes.history(session=session, pair_id=pair.id)
    table = Table(
        "Пара",
        "Версия",
        "Статус",
        "Наставник",
        "Срок",
        "С",
        "Основание",
        "Приказ",
        title=f"История пары: {mentee}",
    )
    for row in rows:
        term = (
            f"{row.starts_on:%d.%m.%Y}–{row.ends_on:%d.%m.%Y}"
            if row.starts_on and row.ends_on
            else ""
        )
        table.add_row(
            str(row.pair_id)[:8],
            str(row.version),
            row.status.value,
            row.mentor_name,
            term,
            f"{row.changed_on:%d.%m.%Y}",
            row.reason,
            row.order_label,
        )
    console.print(table)


@app.command()
def constrain(
    mentee: Annotated[str, typer.Argument(help="Наставляемый (начало ФИО или e-mail)")],
    mentor: Annotated[str, typer.Argument(help="Наставник (начало ФИО или e-mail)")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    forbid: Annotated[bool, typer.Option("--forbid", help="Запретить пару")] = False,
    comment: Annotated[str, typer.Option(help="Комментарий")] = "",
) -> None:
    """Lock a pair (or forbid it with --forbid) for the next matching round."""
    from models import ConstraintKind
    from nastavnik import pairing

    cycle_id = _cycle_id(org, year)
    kind = ConstraintKind.forbid if forbid else ConstraintKind.keep
    with session_scope() as session:
        pairing.add_constraint(
            session=session,
            cycle_id=cycle_id,
            mentee_id=_participant(cycle_id, mentee, Role.mentee),
            mentor_id=_participant(cycle_id, mentor, Role.mentor),
            kind=kind,
            comment=comment,
        )
    console.print("Пара запрещена" if forbid else "Пара закреплена")


@app.command()
def consent(
    who: Annotated[str, typer.Argument(help="Участник (начало ФИО или e-mail)")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    given_on: Annotated[str, typer.Option(help="Дата согласия ГГГГ-ММ-ДД")] = "",
) -> None:
    """Record a participant's signed written consent to the pair (§2.6)."""
    from datetime import date

    from nastavnik import pairing

    cycle_id = _cycle_id(org, year)
    with session_scope() as session:
        pairing.record_participation_consent(
            session=session,
            cycle_id=cycle_id,
            participant_id=_participant(cycle_id, who),
            given_on=date.fromisoformat(given_on) if given_on else date.today(),
        )
    console.print("Согласие записано")


@app.command()
def consents(
    path: Path,
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
) -> None:
    """Record signed written consents from a CSV/XLSX (ФИО or e-mail, Дата согласия)."""
    from datetime import date

    from nastavnik import pairing

    cycle_id = _cycle_id(org, year)

    def run() -> ImportReport:
        with session_scope() as session:
            return pairing.import_participation_consents(
                session=session,
                cycle_id=cycle_id,
                path=path,
                max_bytes=get_settings().max_import_bytes,
                default_date=date.today(),
            )

    _report_import(run, org=org, kind=ImportKind.consent)


columns_app = typer.Typer(
    help="Сопоставление столбцов файлов организации с полями (запоминается для следующих файлов).",
    no_args_is_help=True,
)
app.add_typer(columns_app, name="columns")


def _table_spec(kind: ImportKind) -> TableSpec:
    # The importers are imported here, not at the top: the CLI should start fast.
    if kind is ImportKind.attendance:
        from nastavnik.training import ATTENDANCE

        return ATTENDANCE
    if kind is ImportKind.consent:
        from nastavnik.pairing import CONSENTS

        return CONSENTS
    if kind is ImportKind.meeting:
        from nastavnik.meetings_import import MEETINGS

        return MEETINGS
    from nastavnik.questionnaires import QUESTIONNAIRE

    return QUESTIONNAIRE


_KIND_OPTION = typer.Option(help="Вид файла: questionnaire, attendance, consent или meeting")


@columns_app.command("set")
def columns_set(
    header: Annotated[str, typer.Argument(help="Заголовок столбца, как в файле")],
    field: Annotated[str, typer.Argument(help="Поле: ключ (request) или название («Запрос»)")],
    org: Annotated[str, typer.Option(help="Код организации")],
    kind: Annotated[ImportKind, _KIND_OPTION] = ImportKind.questionnaire,
) -> None:
    """Map a column header to a field for this organisation's files of this kind."""
    spec = _table_spec(kind)
    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        try:
            mapping = tabular.set_column_mapping(
                session=session,
                organization_id=organization.id,
                spec=spec,
                header=header,
                field=field,
            )
        except ValueError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from error
        target = spec.field(mapping.field_key)
    assert target is not None
    console.print(f"{org}, {kind.value}: «{mapping.header}» → {target.key} («{target.name}»)")


@columns_app.command("list")
def columns_list(
    org: Annotated[str, typer.Option(help="Код организации")],
    kind: Annotated[ImportKind | None, _KIND_OPTION] = None,
) -> None:
    """Show the organisation's saved column mappings."""
    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        mappings = tabular.list_column_mappings(
            session=session, organization_id=organization.id, kind=kind
        )
    table = Table("Вид файла", "Столбец", "Поле", title=f"Сопоставления столбцов: {org}")
    for mapping in mappings:
        target = _table_spec(mapping.kind).field(mapping.field_key)
        name = f"{mapping.field_key} («{target.name}»)" if target else mapping.field_key
        table.add_row(mapping.kind.value, mapping.header, name)
    console.print(table)


@columns_app.command("remove")
def columns_remove(
    header: Annotated[str, typer.Argument(help="Заголовок столбца, как в файле")],
    org: Annotated[str, typer.Option(help="Код организации")],
    kind: Annotated[ImportKind, _KIND_OPTION] = ImportKind.questionnaire,
) -> None:
    """Forget a saved column mapping."""
    with session_scope() as session:
        organization = repository.get_organization(session=session, code=org)
        removed = tabular.remove_column_mapping(
            session=session, organization_id=organization.id, kind=kind, header=header
        )
    if not removed:
        console.print(f"[red]Сопоставление для «{header}» ({kind.value}) не найдено[/]")
        raise typer.Exit(1)
    console.print(f"Сопоставление для «{header}» ({kind.value}) удалено")


policy_app = typer.Typer(
    help="Политика организации: правила Положения о наставничестве (лимиты, сроки, формы).",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


def _show_policy(org: str, rules: policy.OrganisationPolicy, *, saved: bool) -> None:
    table = Table(title=f"Политика организации {org}")
    table.add_column("Параметр", no_wrap=True)  # typed back into `policy set`: never cut
    table.add_column("Значение")
    table.add_column("Смысл")
    for key in policy.KEYS:
        value = policy.display_value(getattr(rules, key))
        if key == "approval_code_valid_days" and not value:
            value = f"{get_settings().approval_ttl_days} (настройка)"
        table.add_row(key, value, policy.title_of(key))
    console.print(table)
    if not saved:
        console.print("Организация не меняла политику: действуют значения Положения по умолчанию.")


@policy_app.command("show")
def policy_show(org: Annotated[str, typer.Option(help="Код организации")]) -> None:
    """Show the organisation's policy (the regulation's defaults until it is set)."""
    try:
        with session_scope() as session:
            organization = repository.get_organization(session=session, code=org)
            rules = policy.get_policy(session=session, organization_id=organization.id)
            saved = policy.is_saved(session=session, organization_id=organization.id)
    except LookupError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    _show_policy(org, rules, saved=saved)


@policy_app.command("set")
def policy_set(
    assignments: Annotated[
        list[str], typer.Argument(help="ключ=значение, например max_mentees_per_mentor=2")
    ],
    org: Annotated[str, typer.Option(help="Код организации")],
    actor: Annotated[str, typer.Option(help="Кто меняет (для журнала)")] = "curator",
) -> None:
    """Change policy values; nothing is saved unless every value is valid."""
    try:
        with session_scope() as session:
            organization = repository.get_organization(session=session, code=org)
            current = policy.get_policy(session=session, organization_id=organization.id)
            rules = policy.apply_assignments(current, assignments)
            policy.save_policy(
                session=session, organization_id=organization.id, policy=rules, actor=actor
            )
    except policy.PolicyError as error:
        console.print(f"[red]Политика {org} не изменена:[/]")
        for line in error.errors:
            console.print(f"  {line}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except LookupError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    _show_policy(org, rules, saved=True)


links_app = typer.Typer(
    help="Личные ссылки наставников и наставляемых (без учётных записей, DESIGN §11).",
    no_args_is_help=True,
)
app.add_typer(links_app, name="links")


def _show_links(title: str, issued: list[Any]) -> None:
    from nastavnik import links

    base_url = get_settings().web_base_url
    table = Table("Участник", "Роль", "Действует до", "Ссылка", title=title)
    for link in issued:
        table.add_row(
            link.full_name,
            "наставник" if link.role == Role.mentor else "наставляемый",
            f"{link.expires_at:%d.%m.%Y}",
            links.link_url(base_url=base_url, token=link.token),
        )
    console.print(table)


@links_app.command("issue")
def links_issue(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    actor: Annotated[str, typer.Option(help="Кто выдаёт (для журнала)")] = "curator",
) -> None:
    """Print the personal link of every mentor and mentee of every active pair."""
    from zoneinfo import ZoneInfo

    from nastavnik import links

    settings = get_settings()
    try:
        cycle_id = _cycle_id(org, year)
        with session_scope() as session:
            issued = links.issue_for_cycle(
                session=session,
                secret=settings.approval_secret(),
                cycle_id=cycle_id,
                now=approvals.now_utc(),
                timezone=ZoneInfo(settings.timezone),
                actor=actor,
            )
    except (LookupError, ValueError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    if not issued:
        console.print(f"В {org} за {year} нет действующих пар: ссылки выдавать некому.")
        return
    _show_links(f"Личные ссылки участников, {org} {year}", issued)
    console.print("Отозванные ссылки не показаны: nastavnik links reissue УЧАСТНИК выпустит новые.")


@links_app.command("revoke")
def links_revoke(
    participant: Annotated[str, typer.Argument(help="Участник (начало ФИО или e-mail)")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    actor: Annotated[str, typer.Option(help="Кто отзывает (для журнала)")] = "curator",
) -> None:
    """Revoke the participant's links: they stop working at once."""
    from nastavnik import links

    try:
        participant_id = _participant(_cycle_id(org, year), participant)
        with session_scope() as session:
            revoked = links.revoke_links(
                session=session, participant_id=participant_id, now=approvals.now_utc(), actor=actor
            )
    except LookupError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    if not revoked:
        console.print(f"У «{participant}» нет действующих ссылок: отзывать нечего.")
        return
    console.print(f"Ссылки «{participant}» отозваны: {revoked}. Новую выпустит links reissue.")


@links_app.command("reissue")
def links_reissue(
    participant: Annotated[str, typer.Argument(help="Участник (начало ФИО или e-mail)")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    actor: Annotated[str, typer.Option(help="Кто выпускает (для журнала)")] = "curator",
) -> None:
    """Issue the participant new links; every earlier link of theirs stops working."""
    from zoneinfo import ZoneInfo

    from nastavnik import links

    settings = get_settings()
    try:
        participant_id = _participant(_cycle_id(org, year), participant)
        with session_scope() as session:
            issued = links.reissue_links(
                session=session,
                secret=settings.approval_secret(),
                participant_id=participant_id,
                now=approvals.now_utc(),
                timezone=ZoneInfo(settings.timezone),
                actor=actor,
            )
    except (LookupError, ValueError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    if not issued:
        console.print(f"«{participant}» не входит ни в одну пару: ссылку выдать не к чему.")
        raise typer.Exit(1)
    _show_links("Новые личные ссылки (прежние больше не действуют)", issued)


approvals_app = typer.Typer(invoke_without_command=True)
app.add_typer(approvals_app, name="approvals")


@approvals_app.callback()
def list_approvals(ctx: typer.Context) -> None:
    """List approval requests waiting for a decision (expired codes marked); see reissue."""
    if ctx.invoked_subcommand is not None:
        return
    now = approvals.now_utc()
    with session_scope() as session:
        pending = approvals.list_pending(session=session)
    table = Table(
        "ID", "Запрос", "Запрошено", "Действителен до", "Кому", "Код", title="Ожидают решения"
    )
    expired = 0
    for request in pending:
        is_expired = approvals.is_expired(request=request, now=now)
        expired += is_expired
        table.add_row(
            str(request.id)[:8],
            request.title,
            f"{request.requested_at:%d.%m.%Y %H:%M}",
            f"{request.expires_at:%d.%m.%Y %H:%M}",
            request.approver_name,
            "[red]истёк[/]" if is_expired else "действует",
        )
    console.print(table)
    if expired:
        console.print(
            f"Кодов с истёкшим сроком: {expired}. Новый код и ссылку директору: "
            "nastavnik approvals reissue <ID>"
        )


@approvals_app.command("reissue")
def reissue(
    request_id: Annotated[str, typer.Argument(help="ID запроса (можно первые символы)")],
    actor: Annotated[str, typer.Option(help="Кто выпускает код (для журнала)")] = "curator",
    send: Annotated[
        bool, typer.Option("--send/--queue-only", help="Отправить письмо сразу")
    ] = True,
) -> None:
    """Issue a new code and link to the approver; the earlier code stops working."""
    from nastavnik import approval_mail, mail

    settings = get_settings()
    try:
        with session_scope() as session:
            request = approvals.find_request(session=session, prefix=request_id)
            request, message = approval_mail.reissue_with_mail(
                session=session,
                settings=settings,
                request_id=request.id,
                actor=actor,
                now=approvals.now_utc(),
            )
    except (LookupError, ValueError) as error:
        console.print(f"[red]Новый код не выпущен: {error}[/]")
        raise typer.Exit(2) from error
    console.print(
        f"Новый код для «{request.title}» (выпуск № {request.code_generation}) действует до "
        f"{request.expires_at:%d.%m.%Y %H:%M}; прежний код больше не принимается."
    )
    if send:
        message = asyncio.run(
            mail.deliver_message(engine=get_engine(), settings=settings, message_id=message.id)
        )
    console.print(
        f"Письмо {request.approver_name} <{request.approver_email}>: {message.status.value} "
        f"(outbox {str(message.id)[:8]})"
    )
    if message.status != OutboxStatus.sent:
        console.print(
            f"{message.last_error or 'Письмо ждёт в очереди'}: его отправит retry-deliveries "
            "(см. nastavnik outbox)."
        )


@app.command()
def approve(
    request_id: Annotated[str, typer.Argument(help="ID запроса (можно первые символы)")],
    code: Annotated[str, typer.Option(help="Код подтверждения из письма")],
    name: Annotated[str, typer.Option(help="ФИО принимающего решение")],
    reject: Annotated[bool, typer.Option("--reject", help="Отклонить")] = False,
    changes: Annotated[bool, typer.Option("--changes", help="На доработку")] = False,
    comment: Annotated[str, typer.Option(help="Комментарий")] = "",
    except_: Annotated[
        list[str],
        typer.Option("--except", help="Не утверждать программу: «номер=комментарий»"),
    ] = [],  # noqa: B006
) -> None:
    """Decide an approval request from the command line."""
    if reject and changes:
        raise typer.BadParameter("choose --reject or --changes, not both")
    decision = (
        Decision.reject if reject else Decision.request_changes if changes else Decision.approve
    )
    exceptions = [_programme_exception(item) for item in except_]
    with session_scope() as session:
        request = approvals.find_request(session=session, prefix=request_id)
        outcome = approvals.submit_decision(
            session=session,
            secret=get_settings().approval_secret(),
            request_id=request.id,
            decision=decision,
            comment=comment,
            approver_name=name,
            code=code,
            channel="cli",
            now=approvals.now_utc(),
            details={"exceptions": exceptions} if exceptions else {},
        )
        run_id, approval_key = request.run_to_wake, request.approval_key
    if not outcome.accepted:
        console.print(f"[red]{outcome.message_ru}[/]")
        raise typer.Exit(2)
    _use_embedded_prefect()
    from deployments.prefect_api import resume_run

    run_input: dict[str, object] = {  # recorded already: the wake-up needs no code
        "decision": decision.value,
        "approval_code": "",
        "approver_name": name,
        "comment": comment,
    }
    if exceptions:
        run_input["exceptions"] = exceptions
    try:
        asyncio.run(resume_run(run_id, run_input, approval_key))
    except Exception as error:  # the decision is recorded; the run takes it when woken
        console.print(
            f"[yellow]Решение сохранено: {approvals.DECISION_LABEL_RU[decision]}; сервер "
            f"процессов не ответил ({error}): этап продолжится при следующей проверке.[/]"
        )
        return
    console.print(f"Решение передано: {approvals.DECISION_LABEL_RU[decision]}")


def _programme_exception(item: str) -> dict[str, object]:
    number, _, comment = item.partition("=")
    if not number.strip().isdigit() or not comment.strip():
        raise typer.BadParameter(f"«{item}»: ожидается «номер=комментарий»")
    return {"number": int(number), "comment": comment.strip()}


runs = typer.Typer(help="Запуски этапов в Prefect.", no_args_is_help=True)
app.add_typer(runs, name="runs")


@runs.command("retry")
def retry_run(
    run_id: Annotated[str, typer.Argument(help="ID запуска (flow run) из Prefect")],
) -> None:
    """Continue a crashed or failed stage run as the same run (no new documents or e-mails)."""
    _use_embedded_prefect()
    from deployments.prefect_api import retry_run as retry
    from flows.recovery import NotRetryable

    try:
        flow_run_id = uuid.UUID(run_id)
    except ValueError:
        raise typer.BadParameter(f"«{run_id}» is not a flow run id") from None
    try:
        run = asyncio.run(retry(flow_run_id))
    except NotRetryable as error:
        console.print(f"[red]Не перезапущено: {error}[/]")
        raise typer.Exit(2) from None
    state = run.state.name if run.state else "?"
    console.print(f"Запуск {flow_run_id} ({state}) поставлен в очередь заново")


@app.command()
def outbox(
    status: Annotated[OutboxStatus | None, typer.Option(help="Только с этим статусом")] = None,
) -> None:
    """Show queued e-mails and their delivery status."""
    from nastavnik import mail

    with session_scope() as session:
        messages = mail.list_outbox(session=session, status=status)
    table = Table("ID", "Кому", "Тема", "Статус", "Попыток", "Ответ сервера", title="Исходящие")
    for message in messages:
        table.add_row(
            str(message.id)[:8],
            message.to_addr,
            message.subject,
            message.status.value,
            str(message.attempts),
            message.last_error[:60],
        )
    console.print(table)


@app.command()
def audit(cycle: Annotated[str | None, typer.Option(help="ID цикла")] = None) -> None:
    """Show the audit trail."""
    with session_scope() as session:
        events = repository.list_audit(
            session=session, cycle_id=uuid.UUID(cycle) if cycle else None
        )
    table = Table("Когда", "Кто", "Действие", "Объект", "Подробности", title="Журнал")
    for event in events:
        table.add_row(
            f"{event.at:%d.%m.%Y %H:%M:%S}",
            event.actor,
            event.action,
            event.entity,
            str(event.details)[:80],
        )
    console.print(table)


roadmap_app = typer.Typer(
    help="Дорожные карты: проверка файла, сроки по годам, выполнение в цикле.", no_args_is_help=True
)
app.add_typer(roadmap_app, name="roadmap")


@roadmap_app.command("check")
def roadmap_check(
    path: Annotated[Path, typer.Argument(help="Файл дорожной карты (YAML)")],
    year: Annotated[
        str | None,
        typer.Option(help="Учебный год цикла, например 2026/2027 (по умолчанию — год файла)"),
    ] = None,
    first_cycle: Annotated[
        str | None,
        typer.Option(
            "--first-year", help="Первый учебный год многолетней карты (по умолчанию — --year)"
        ),
    ] = None,
) -> None:
    """Check a roadmap file and show its items with their windows for a school year."""
    from nastavnik import roadmap as roadmaps

    try:
        roadmap = roadmaps.load_roadmap(path)
    except roadmaps.RoadmapError as error:
        for line in error.errors:
            console.print(line, style="red", markup=False)
        console.print(f"Ошибок: {len(error.errors)}. Формат описан в docs/roadmaps.md")
        raise typer.Exit(1) from None
    cycle = year or roadmap.school_year
    try:
        for school_year in (cycle, first_cycle or cycle):
            roadmaps.first_year(school_year)
        schedules = roadmaps.roadmap_schedule(roadmap, cycle=cycle, first_cycle=first_cycle)
    except ValueError as error:  # a bad --year, or a date the years move out of range
        console.print(f"{path}: {error}", style="red", markup=False)
        raise typer.Exit(1) from None
    table = Table(
        "№",
        "Пункт",
        "Этап",
        "Закрывает",
        "Срок в источнике",
        f"Сроки {cycle}",
        title=f"{roadmap.title} ({roadmap.organisation})",
    )
    for item, schedule in schedules:
        table.add_row(
            item.key,
            item.title if len(item.title) <= 80 else item.title[:79] + "…",
            item.stage.value,
            roadmaps.describe_completion(item.completes),
            item.due or "—",
            roadmaps.describe_schedule(schedule),
            style=None if schedule.applies else "dim",
        )
    console.print(table)
    for warning in roadmaps.stage_warnings(schedules):
        console.print(f"{path}: предупреждение: {warning}", style="yellow", markup=False)
    applying = sum(1 for _item, schedule in schedules if schedule.applies)
    console.print(
        f"{path}: пунктов {len(schedules)}, в {cycle} учебном году — {applying}; ошибок нет"
    )


@roadmap_app.command("schema")
def roadmap_schema() -> None:
    """Print the roadmap file's JSON Schema (roadmaps/roadmap.schema.json holds it)."""
    from nastavnik.roadmap import roadmap_json_schema_text

    typer.echo(roadmap_json_schema_text(), nl=False)


_STATUS_STYLE = {
    "done": "green",
    "done_late": "dark_orange",
    "in_progress": "blue",
    "overdue": "bold red",
    "not_started": "dim",
    "skipped": "dim",
}


def _existing_cycle_id(org: str, year: str) -> uuid.UUID:
    """The organisation's cycle for the year; exit 1 naming what is missing (nothing created)."""
    from sqlmodel import select

    from models import Cycle

    with session_scope() as session:
        try:
            organization = repository.get_organization(session=session, code=org)
        except LookupError:
            console.print(f"[red]Организация {org!r} не найдена[/]")
            raise typer.Exit(1) from None
        cycle = session.exec(
            select(Cycle).where(Cycle.organization_id == organization.id, Cycle.school_year == year)
        ).first()
        if cycle is None:
            console.print(f"[red]У организации {org!r} нет цикла {year}[/]")
            raise typer.Exit(1)
        return cycle.id


def _reporting_day() -> tuple[date, str]:
    """The day a report is made on, and a note when it is a simulated one: the installation's
    clock, or the simulated day its database still holds (a data directory a simulated year
    ran in, read with the default clock): its statuses were made on that day, not today."""
    from nastavnik.clock import StoredClock, SystemClock, process_clock

    clock = process_clock()
    if isinstance(clock, SystemClock):
        stored = StoredClock(get_engine(), clock.zone)
        if stored.stored() is not None:
            return stored.today(), " (день моделирования)"
    return clock.today(), ""


@roadmap_app.command("status")
def roadmap_status(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    pdf: Annotated[bool, typer.Option("--pdf", help="Сформировать отчёт в PDF")] = False,
) -> None:
    """Show the plan's items with their windows, actual dates and statuses (--pdf: the report)."""
    from nastavnik import roadmap_report

    cycle_id = _existing_cycle_id(org, year)
    today, simulated = _reporting_day()
    with session_scope() as session:
        try:
            report = roadmap_report.status_report(session=session, cycle_id=cycle_id, today=today)
        except LookupError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from None
    table = Table(
        "№",
        "Пункт",
        "Этап",
        "Срок",
        "План",
        "Факт",
        "Статус",
        "Подтверждение",
        title=f"{report.roadmap_title} — на {report.today:%d.%m.%Y}{simulated}",
    )
    for row in report.rows:
        style = _STATUS_STYLE[row.status.value]
        status = row.status_full_ru
        table.add_row(
            row.label,
            row.title,
            row.stage_ru,
            row.due_rule,
            row.planned_ru,
            row.actual_ru,
            f"[{style}]{status}[/]",
            row.confirmation_ru,
        )
    console.print(table)
    counts = report.summary.counts
    console.print(
        "Всего строк плана: "
        f"{report.summary.total}; "
        + ", ".join(
            f"{label}: {counts[status]}" for status, label, _ in roadmap_report.status_legend()
        )
    )
    if pdf:
        path = roadmap_report.save_report_pdf(settings=get_settings(), report=report)
        console.print(f"Отчёт о выполнении дорожной карты: {path.resolve()}")


ItemOccurrence = Annotated[
    int | None, typer.Option(help="Который раз повторяющегося пункта (1, 2, …)")
]


def _change_item(
    item: str,
    *,
    org: str,
    year: str,
    occurrence: int | None,
    refused_ru: str,
    change: Callable[[Any, uuid.UUID, date], Any],
) -> tuple[str, str, date]:
    """Find a plan row and change it on the process clock's day; exit 1 naming what failed.
    Returns the row's label, its new status in Russian and the day."""
    from nastavnik import plan
    from nastavnik.clock import process_clock

    cycle_id = _existing_cycle_id(org, year)
    today = process_clock().today()
    try:
        with session_scope() as session:
            row = plan.find_item(
                session=session, cycle_id=cycle_id, number=item, occurrence=occurrence
            )
            row = change(session, row.id, today)
            label = f"{row.number} ({row.occurrence})" if row.occurrence else row.number
            return label, plan.STATUS_RU[row.status], today
    except (LookupError, ValueError) as error:
        console.print(f"[red]Пункт {item} {refused_ru}: {error}[/]")
        raise typer.Exit(1) from None


@roadmap_app.command("close")
def roadmap_close(
    item: Annotated[str, typer.Argument(help="Номер пункта дорожной карты")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    evidence_kind: Annotated[str, typer.Option(help="file, link или note")],
    evidence: Annotated[str, typer.Option(help="Путь к файлу, ссылка или текст")],
    occurrence: ItemOccurrence = None,
    actor: Annotated[str, typer.Option(help="Кто закрывает (для журнала)")] = "curator",
) -> None:
    """Close a manual item with evidence: a file, a link or a note."""
    from nastavnik import plan

    label, status, today = _change_item(
        item,
        org=org,
        year=year,
        occurrence=occurrence,
        refused_ru="не закрыт",
        change=lambda session, item_id, today: plan.close_item(
            session=session,
            item_id=item_id,
            today=today,
            actor=actor,
            evidence_kind=evidence_kind,
            evidence=evidence,
        ),
    )
    console.print(f"Пункт {label}: {status} ({today:%d.%m.%Y})")


@roadmap_app.command("skip")
def roadmap_skip(
    item: Annotated[str, typer.Argument(help="Номер пункта дорожной карты")],
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    reason: Annotated[str, typer.Option(help="Почему пункт не выполняется в этом году")],
    occurrence: ItemOccurrence = None,
    actor: Annotated[str, typer.Option(help="Кто решил (для журнала)")] = "curator",
) -> None:
    """Mark an item skipped this year, with the reason."""
    from nastavnik import plan

    label, _, _ = _change_item(
        item,
        org=org,
        year=year,
        occurrence=occurrence,
        refused_ru="не пропущен",
        change=lambda session, item_id, today: plan.skip_item(
            session=session, item_id=item_id, today=today, actor=actor, reason=reason
        ),
    )
    console.print(f"Пункт {label}: пропущен — {reason}")


# --- meetings: logs and feedback (issue 8, §2) -------------------------------------------------

meetings_app = typer.Typer(
    help="Журнал встреч пар и отзывы наставляемых (для школ, собирающих их на бумаге или в форме).",
    no_args_is_help=True,
)
app.add_typer(meetings_app, name="meetings")

PairOption = Annotated[
    str, typer.Option("--pair", help="Пара: наставник (начало ФИО или e-mail) или ID пары")
]
MenteeOption = Annotated[
    str | None,
    typer.Option(help="Наставляемый (начало ФИО), если у наставника несколько пар"),
]


def _meeting_pair(org: str, year: str, pair: str, mentee: str | None) -> uuid.UUID:
    """The pair named by its id, or by its mentor (and mentee when the mentor has several)."""
    from sqlmodel import col, select

    from models import MentorshipPair, PairMember
    from nastavnik.pairs import ONGOING

    try:
        return uuid.UUID(pair)
    except ValueError:
        pass
    cycle_id = _cycle_id(org, year)
    mentor_id = _participant(cycle_id, pair, Role.mentor)
    mentee_id = _participant(cycle_id, mentee, Role.mentee) if mentee else None
    with session_scope() as session:
        query = select(MentorshipPair).where(MentorshipPair.mentor_id == mentor_id)
        if mentee_id is not None:
            query = query.join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id)).where(
                PairMember.mentee_id == mentee_id
            )
        found = session.exec(query.order_by(col(MentorshipPair.created_at))).all()
        ongoing = [p.id for p in found if p.status in ONGOING]
        ids = ongoing or [p.id for p in found][-1:]
    if len(ids) != 1:
        raise typer.BadParameter(
            f"пар, подходящих под «{pair}»: {len(ids)}; уточните --mentee или укажите ID пары"
        )
    return ids[0]


def _parsed(value: str, parse: Callable[[str], Any], hint: str) -> Any:
    parsed = parse(value)
    if parsed is None:
        raise typer.BadParameter(f"«{value}»: {hint}")
    return parsed


@meetings_app.command("record")
def meetings_record(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    pair: PairOption,
    held_on: Annotated[str, typer.Option("--date", help="Дата встречи, ДД.ММ.ГГГГ")],
    kind: Annotated[str, typer.Option(help="Вид встречи: «Встреча-знакомство», … или intro")],
    minutes: Annotated[int, typer.Option(help="Длительность, мин")],
    meeting_format: Annotated[
        str, typer.Option("--format", help="очно, дистанционно или смешанный")
    ] = "очно",
    topic: Annotated[str, typer.Option(help="Тема")] = "",
    done: Annotated[str, typer.Option(help="Что сделано")] = "",
    next_step: Annotated[str, typer.Option(help="Следующий шаг")] = "",
    mentee: MenteeOption = None,
) -> None:
    """Record one meeting of a pair (from the mentor's paper log)."""
    from nastavnik import meetings
    from nastavnik.clock import process_clock

    pair_id = _meeting_pair(org, year, pair, mentee)
    day = _parsed(held_on, tabular.parse_date, "ожидается дата ДД.ММ.ГГГГ")
    try:
        with session_scope() as session:
            recorded = meetings.record_meeting(
                session=session,
                pair_id=pair_id,
                held_on=day,
                kind=_parsed(kind, meetings.parse_kind, meetings.KIND_HINT_RU),
                duration_minutes=minutes,
                format=_parsed(meeting_format, meetings.parse_format, meetings.FORMAT_HINT_RU),
                topic=topic,
                done=done,
                next_step=next_step,
                source="cli",
                today=process_clock().today(),
            )
            label = meetings.KIND_LABEL_RU[recorded.meeting.kind]
            flags = [p.message_ru for p in recorded.own_problems]
    except meetings.MeetingRefused as refused:
        console.print(f"[red]Не записано: {refused.message_ru}[/]")
        raise typer.Exit(1) from None
    status = "записана" if recorded.created else "уже была записана, ничего не изменено"
    console.print(f"Встреча «{label}» {day:%d.%m.%Y}: {status}.")
    for flag in flags:
        console.print(f"[yellow]Нарушена последовательность: {flag}[/]")


@meetings_app.command("feedback")
def meetings_feedback(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    pair: PairOption,
    held_on: Annotated[str, typer.Option("--date", help="Дата встречи, ДД.ММ.ГГГГ")],
    kind: Annotated[str, typer.Option(help="Вид встречи: «Совместная работа» или «Итоговая»")],
    rating: Annotated[int, typer.Option(help="Оценка от 1 до 5")],
    comment: Annotated[str, typer.Option(help="Комментарий наставляемого")] = "",
    given_on: Annotated[
        str | None, typer.Option("--given-on", help="Дата отзыва (по умолчанию — сегодня)")
    ] = None,
    mentee: MenteeOption = None,
) -> None:
    """Record a mentee's feedback on a joint-work or final meeting (from a paper form)."""
    from sqlmodel import select

    from models import MeetingLog
    from nastavnik import meetings
    from nastavnik.clock import process_clock

    pair_id = _meeting_pair(org, year, pair, mentee)
    day = _parsed(held_on, tabular.parse_date, "ожидается дата ДД.ММ.ГГГГ")
    meeting_kind = _parsed(kind, meetings.parse_kind, meetings.KIND_HINT_RU)
    today = process_clock().today()
    given = (
        _parsed(given_on, tabular.parse_date, "ожидается дата ДД.ММ.ГГГГ") if given_on else today
    )
    with session_scope() as session:
        meeting = session.exec(
            select(MeetingLog).where(
                MeetingLog.pair_id == pair_id,
                MeetingLog.held_on == day,
                MeetingLog.kind == meeting_kind,
            )
        ).first()
    if meeting is None:
        console.print(f"[red]Встреча «{kind}» {day:%d.%m.%Y} у этой пары не записана.[/]")
        raise typer.Exit(1)
    if mentee:
        mentee_id = _participant(_cycle_id(org, year), mentee, Role.mentee)
    else:
        mentee_id = _only_mentee(pair_id)
    try:
        with session_scope() as session:
            recorded = meetings.record_feedback(
                session=session,
                meeting_id=meeting.id,
                mentee_id=mentee_id,
                rating=rating,
                comment=comment,
                given_on=given,
                source="cli",
                today=today,
            )
    except meetings.MeetingRefused as refused:
        console.print(f"[red]Не записано: {refused.message_ru}[/]")
        raise typer.Exit(1) from None
    status = "записан" if recorded.created else "уже был записан, ничего не изменено"
    console.print(f"Отзыв о встрече {day:%d.%m.%Y}: {status}.")


def _only_mentee(pair_id: uuid.UUID) -> uuid.UUID:
    from sqlmodel import select

    from models import PairMember

    with session_scope() as session:
        mentees = session.exec(select(PairMember.mentee_id).where(PairMember.pair_id == pair_id))
        ids = list(mentees)
    if len(ids) != 1:
        raise typer.BadParameter("в группе несколько наставляемых: укажите --mentee")
    return ids[0]


def _import_all_or_nothing(
    importer: Callable[..., Any], *, path: Path, org: str, year: str, kind: ImportKind
) -> Any:
    """Run a one-transaction import of the cycle's file and print its report; exit 1 when a row
    was refused (then nothing was written)."""
    from nastavnik.clock import process_clock

    cycle_id = _cycle_id(org, year)
    outcome: list[Any] = []

    def run() -> ImportReport:
        report = importer(
            engine=get_engine(),
            cycle_id=cycle_id,
            path=path,
            max_bytes=get_settings().max_import_bytes,
            today=process_clock().today(),
        )
        outcome.append(report)
        return report

    _report_import(run, org=org, kind=kind)
    if outcome[0].rejected:
        console.print("[red]Файл не импортирован: исправьте строки выше и загрузите его снова.[/]")
        raise typer.Exit(1)
    return outcome[0]


@meetings_app.command("import")
def meetings_import(
    path: Path,
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
) -> None:
    """Import an online form's export of meetings and feedback (all rows, or none)."""
    from nastavnik.meetings_import import MeetingImportReport, import_meetings_transaction

    report: MeetingImportReport = _import_all_or_nothing(
        import_meetings_transaction, path=path, org=org, year=year, kind=ImportKind.meeting
    )
    console.print(
        f"Новых встреч: {report.meetings_recorded}, новых отзывов: {report.feedback_recorded}."
    )


@meetings_app.command("log")
def meetings_log(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    pair: PairOption,
    mentee: MenteeOption = None,
) -> None:
    """Show a pair's meetings in date order, with feedback and sequence flags."""
    from nastavnik import meetings

    pair_id = _meeting_pair(org, year, pair, mentee)
    with session_scope() as session:
        log = meetings.pair_log(session=session, pair_id=pair_id)
        due = meetings.feedback_due(session=session, pair_id=pair_id)
    table = Table(
        "Дата", "Вид", "Мин", "Формат", "Тема", "Отзыв", "Замечания", title="Встречи пары"
    )
    for item in log.meetings:
        if item.feedback:
            feedback = ", ".join(f"{f.rating}/5" for f in item.feedback)
        else:
            feedback = "ждём" if item.feedback_missing else "—"
        table.add_row(
            f"{item.meeting.held_on:%d.%m.%Y}",
            item.kind_ru,
            str(item.meeting.duration_minutes),
            item.format_ru,
            item.meeting.topic,
            feedback,
            "; ".join(item.problems),
            style="yellow" if item.problems else None,
        )
    console.print(table)
    if not log.meetings:
        console.print("Встреч пока не записано.")
    if due:
        console.print(f"Ждут отзыва наставляемого: {len(due)}.")


# --- completion: the end-of-mentoring reports (issue 9, §2.13–§2.14) ---------------------------

completion_app = typer.Typer(
    help="Отчёты по завершении наставничества: сроки, просроченные, импорт из формы.",
    no_args_is_help=True,
)
app.add_typer(completion_app, name="completion")


@completion_app.command("start")
def completion_start(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    on: Annotated[
        str | None, typer.Option("--date", help="Дата справки и приказа, ГГГГ-ММ-ДД")
    ] = None,
    new: NewRun = False,
) -> None:
    """Start the completion stage: reports, memo and order to the director."""
    params: dict[str, object] = {"organization_code": org, "school_year": year}
    if on:
        params["reference_date"] = on
    _start(STAGE_DEPLOYMENTS["completion"], params, new)


@completion_app.command("import")
def completion_import(
    path: Path,
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
) -> None:
    """Import a form's export of the end-of-mentoring reports (all rows, or none)."""
    from nastavnik.completion_import import CompletionImportReport, import_reports_transaction

    report: CompletionImportReport = _import_all_or_nothing(
        import_reports_transaction, path=path, org=org, year=year, kind=ImportKind.completion
    )
    console.print(f"Новых отчётов: {report.reports_recorded}.")


@completion_app.command("status")
def completion_status(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
) -> None:
    """The reports owed for the finished pairs by status, and who is overdue (for the curator)."""
    from nastavnik import completion
    from nastavnik.clock import process_clock

    cycle_id, today = _cycle_id(org, year), process_clock().today()
    with session_scope() as session:
        expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
        overdue = completion.overdue_list(session=session, cycle_id=cycle_id, today=today)
    counts = completion.status_counts(expected, today)
    console.print(
        f"Отчётов по завершённым парам: {len(expected)} — "
        + ", ".join(f"{completion.STATUS_RU[s]} {n}" for s, n in counts.items())
    )
    if overdue:
        table = Table("№", "ФИО", "Отчёт", "Срок", "Просрочен, дн.", title="Просроченные отчёты")
        for row in overdue:
            table.add_row(
                str(row.number),
                row.full_name,
                row.what_ru,
                f"{row.due_on:%d.%m.%Y}",
                str(row.days_overdue),
            )
        console.print(table)


@completion_app.command("interview")
def completion_interview(
    org: Annotated[str, typer.Option(help="Код организации")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    mentee: Annotated[str, typer.Option(help="Наставляемый (начало ФИО или e-mail)")],
    held_on: Annotated[str, typer.Option("--date", help="Дата собеседования, ДД.ММ.ГГГГ")],
    by: Annotated[str, typer.Option("--by", help="Кто провёл (ФИО директора)")],
    notes: Annotated[str, typer.Option(help="Итоги собеседования")] = "",
) -> None:
    """Record the director's interview with a mentee after the end of mentoring (§3.1)."""
    from sqlmodel import select

    from models import PairMember
    from nastavnik import completion
    from nastavnik.clock import process_clock
    from nastavnik.tabular import parse_date

    cycle_id, today = _cycle_id(org, year), process_clock().today()
    mentee_id = _participant(cycle_id, mentee, Role.mentee)
    day = _parsed(held_on, parse_date, "ожидается дата ДД.ММ.ГГГГ")
    with session_scope() as session:
        mine = set(
            session.exec(select(PairMember.pair_id).where(PairMember.mentee_id == mentee_id))
        )
        finished = [
            pair.id
            for pair in completion.finished_pairs(session=session, cycle_id=cycle_id, today=today)
            if pair.id in mine
        ]
    if not finished:
        console.print(f"[red]У «{mentee}» нет завершённой пары в {year} учебном году.[/]")
        raise typer.Exit(1)
    try:
        with session_scope() as session:
            completion.record_interview(
                session=session,
                pair_id=finished[-1],
                mentee_id=mentee_id,
                held_on=day,
                interviewer=by,
                notes=notes,
                today=today,
                now=process_clock().now(),
            )
    except completion.ReportRefused as refused:
        console.print(f"[red]{refused.field_ru or 'Собеседование'}: {refused.message_ru}[/]")
        raise typer.Exit(1) from None
    console.print(f"Собеседование {day:%d.%m.%Y} записано (п. 3.1 Положения).")


# ---------------------------------------------------------------------------------------------
# The final event (issue 9): ranking, nominations, publication consent, honour board
# ---------------------------------------------------------------------------------------------

final_event_app = typer.Typer(
    help="Итоговое мероприятие: рейтинг наставников, выдвижение к поощрению, доска почёта, "
    "банк лучших практик.",
    no_args_is_help=True,
)
app.add_typer(final_event_app, name="final-event")
RewardOption = Annotated[
    str,
    typer.Option(
        help="gratitude — благодарность, honour_certificate — почётная грамота, "
        "gift — ценный подарок, bonus — премия, none — не выдвигать"
    ),
]


def _final_event_day(on: str | None) -> date:
    from nastavnik.clock import process_clock

    return date.fromisoformat(on) if on else process_clock().today()


@final_event_app.command("start")
def final_event_start(
    org: OrgOption,
    year: YearOption,
    event_date: Annotated[str, typer.Option(help="Дата мероприятия, ГГГГ-ММ-ДД")],
    place: Annotated[str, typer.Option(help="Место проведения")],
    title: Annotated[str, typer.Option(help="Название")] = "Итоги года наставничества",
    time: Annotated[str, typer.Option(help="Время начала, например 14:00")] = "",
    new: NewRun = False,
) -> None:
    """Start the final event: ranking, nominations, orders, letters, honour board."""
    _start(
        STAGE_DEPLOYMENTS["final-event"],
        {
            "organization_code": org,
            "school_year": year,
            "event_title": title,
            "event_date": event_date,
            "place": place,
            "time": time,
        },
        new,
    )


@final_event_app.command("ranking")
def final_event_ranking(
    org: OrgOption,
    year: YearOption,
    on: Annotated[str | None, typer.Option(help="Данные на дату, ГГГГ-ММ-ДД")] = None,
    reasons: Annotated[bool, typer.Option(help="Показать обоснование")] = True,
) -> None:
    """The mentors' ranking with the reasons and the curator's nominations."""
    from zoneinfo import ZoneInfo

    from nastavnik import final_event

    cycle_id = _cycle_id(org, year)
    with session_scope() as session:
        ranking = final_event.cycle_ranking(
            session=session,
            cycle_id=cycle_id,
            as_of=_final_event_day(on),
            timezone=ZoneInfo(get_settings().timezone),
        )
        chosen = {
            n.mentor_id: n for n in final_event.nominations(session=session, cycle_id=cycle_id)
        }
        evidence = final_event.ranking_evidence(
            session=session, cycle_id=cycle_id, ranking=ranking, as_of=_final_event_day(on)
        )
    table = Table("№", "Наставник", "Балл", "Рекомендация", "Решение", title="Рейтинг наставников")
    for entry in ranking:
        nomination = chosen.get(entry.mentor_id)
        table.add_row(
            str(entry.rank),
            entry.record.full_name,
            f"{entry.score:.1f}",
            final_event.REWARD_LABEL_RU[entry.recommended] if entry.recommended else "—",
            final_event.REWARD_LABEL_RU[nomination.reward] if nomination else "—",
        )
        if reasons:
            table.add_row("", "; ".join(entry.reasons_ru), "", "", "", style="dim")
    console.print(table)
    console.print(evidence.statement_ru)


@final_event_app.command("nominate")
def final_event_nominate(
    org: OrgOption,
    year: YearOption,
    mentor: Annotated[str, typer.Argument(help="Наставник (начало ФИО или e-mail)")],
    reward: RewardOption,
    comment: Annotated[str, typer.Option(help="Обоснование (нужно, если не как в рейтинге)")] = "",
    on: Annotated[str | None, typer.Option(help="Дата решения, ГГГГ-ММ-ДД")] = None,
) -> None:
    """Nominate a mentor for a reward (or `--reward none` to withdraw)."""
    from zoneinfo import ZoneInfo

    from models import RewardKind
    from nastavnik import final_event

    try:
        kind = None if reward == "none" else RewardKind(reward)
    except ValueError:
        raise typer.BadParameter(f"неизвестный вид поощрения «{reward}»") from None
    cycle_id = _cycle_id(org, year)
    mentor_id = _participant(cycle_id, mentor, Role.mentor)
    day = _final_event_day(on)
    with session_scope() as session:
        ranking = final_event.cycle_ranking(
            session=session,
            cycle_id=cycle_id,
            as_of=day,
            timezone=ZoneInfo(get_settings().timezone),
        )
        try:
            final_event.nominate(
                session=session,
                cycle_id=cycle_id,
                ranking=ranking,
                mentor_id=mentor_id,
                reward=kind,
                nominated_by="curator (cli)",
                today=day,
                comment=comment,
            )
        except final_event.NominationRefused as error:
            console.print(str(error), style="red", markup=False)
            raise typer.Exit(1) from None
    label = final_event.REWARD_LABEL_RU[kind] if kind else "не выдвигается"
    console.print(f"{mentor}: {label}")


@final_event_app.command("consent")
def final_event_consent(
    org: OrgOption,
    year: YearOption,
    person: Annotated[str, typer.Argument(help="Участник (начало ФИО или e-mail)")],
    on: Annotated[str | None, typer.Option(help="Дата согласия (отзыва), ГГГГ-ММ-ДД")] = None,
    revoke: Annotated[bool, typer.Option(help="Отозвать согласие")] = False,
    source: Annotated[str, typer.Option(help="Откуда согласие")] = "письменное заявление",
) -> None:
    """Record (or revoke) an adult's written consent to publication on the honour board."""
    from models import Participant
    from nastavnik import honour_board

    cycle_id = _cycle_id(org, year)
    participant_id = _participant(cycle_id, person)
    day = _final_event_day(on)
    with session_scope() as session:
        participant = session.get(Participant, participant_id)
        assert participant is not None
        try:
            if revoke:
                honour_board.revoke_publication_consent(
                    session=session,
                    person_id=participant.person_id,
                    cycle_id=cycle_id,
                    revoked_on=day,
                )
            else:
                honour_board.record_publication_consent(
                    session=session,
                    person_id=participant.person_id,
                    cycle_id=cycle_id,
                    given_on=day,
                    source=source,
                )
        except honour_board.PublicationRefused as error:
            console.print(str(error), style="red", markup=False)
            raise typer.Exit(1) from None
    console.print(f"{person}: согласие на публикацию {'отозвано' if revoke else 'записано'}")


@final_event_app.command("honour-board")
def final_event_honour_board(
    org: OrgOption,
    year: YearOption,
    on: Annotated[str | None, typer.Option(help="На дату, ГГГГ-ММ-ДД")] = None,
    photos: Annotated[
        Path | None, typer.Option(file_okay=False, help="Папка с фото <ключ>.jpg/.png")
    ] = None,
) -> None:
    """Write the honour board: a web page and an A3 PDF (consenting adults only)."""
    from nastavnik import honour_board

    cycle_id = _cycle_id(org, year)
    with session_scope() as session:
        board = honour_board.publish_honour_board(
            session=session,
            settings=get_settings(),
            cycle_id=cycle_id,
            on=_final_event_day(on),
            photos_dir=photos,
        )
    console.print(
        f"На доске почёта: {board.shown}; не показаны (нет согласия или дети): {board.left_out}"
    )
    console.print(f"Страница: {board.html_path.resolve()}")
    console.print(f"Плакат A3: {board.pdf_path.resolve()}")


@final_event_app.command("practice-bank")
def final_event_practice_bank(
    org: OrgOption,
    year: YearOption,
    on: Annotated[str | None, typer.Option(help="На дату, ГГГГ-ММ-ДД")] = None,
) -> None:
    """Compile the best-practice bank: a web page and a PDF with contents."""
    from nastavnik import practices

    cycle_id = _cycle_id(org, year)
    with session_scope() as session:
        bank = practices.publish_bank(
            session=session, settings=get_settings(), cycle_id=cycle_id, on=_final_event_day(on)
        )
    console.print(f"Практик в банке: {bank.practices}")
    console.print(f"Страница: {bank.html_path.resolve()}")
    console.print(f"PDF: {bank.pdf_path.resolve()}")


# --- Failed deliveries an operator can act on (issue 10 §3) --------------------------------------

deliveries_app = typer.Typer(
    help="Недоставленные письма: список, повторная отправка, отмена (всё в журнале).",
    invoke_without_command=True,
)
app.add_typer(deliveries_app, name="deliveries")
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Кто действует (в журнал); по умолчанию пользователь ОС")
]


def _operator_name(name: str) -> str:
    return name.strip() or f"cli:{os.environ.get('USER', 'operator')}"


@deliveries_app.callback()
def deliveries_list(ctx: typer.Context) -> None:
    """List e-mails that failed or wait for a retry: the server's answer, attempts, next try."""
    if ctx.invoked_subcommand is not None:
        return
    from nastavnik import deliveries

    with session_scope() as session:
        rows = deliveries.list_deliveries(session=session)
    table = Table(
        "ID",
        "Статус",
        "Кому",
        "Адрес",
        "Тема",
        "Попыток",
        "Ответ сервера",
        "Следующая попытка",
        title="Недоставленные и ждущие письма",
    )
    for row in rows:
        table.add_row(
            str(row.message_id)[:8],
            row.status_ru,
            row.role_ru,
            row.masked_address,
            row.subject,
            str(row.attempts),
            row.server_answer[:80],
            f"{row.next_attempt_at:%d.%m %H:%M} UTC" if row.next_attempt_at else "—",
        )
    console.print(table)
    if not rows:
        console.print("Недоставленных писем нет.")


@deliveries_app.command("retry")
def deliveries_retry(
    message_id: Annotated[
        str | None, typer.Argument(help="ID письма (можно первые символы)")
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="Все недоставленные")] = False,
    operator: OperatorOption = "",
) -> None:
    """Send one message again now, or every failed one (--all); a sent one is never resent."""
    from nastavnik import deliveries

    if (message_id is None) == (not all_failed):
        raise typer.BadParameter("укажите ID письма или --all")
    ids = None
    if message_id is not None:
        with session_scope() as session:
            try:
                ids = [deliveries.find_message(session=session, prefix=message_id).id]
            except deliveries.DeliveryRefused as refused:
                console.print(f"[red]{refused.message_ru}[/]")
                raise typer.Exit(1) from None
    retried, refusals, summary = asyncio.run(
        deliveries.retry_and_send(
            engine=get_engine(),
            settings=get_settings(),
            message_ids=ids,
            actor=_operator_name(operator),
            channel="cli",
        )
    )
    for reason in refusals.values():
        console.print(f"[red]Не повторено: {reason}[/]")
    console.print(
        f"Повторено: {len(retried)}; отправлено: {summary.sent}, ждут повтора: "
        f"{summary.retrying}, не доставлено: {summary.failed}."
    )
    if refusals:
        raise typer.Exit(1)


@deliveries_app.command("cancel")
def deliveries_cancel(
    message_id: Annotated[str, typer.Argument(help="ID письма (можно первые символы)")],
    reason: Annotated[str, typer.Option("--reason", help="Почему письмо отменяется")],
    operator: OperatorOption = "",
) -> None:
    """Cancel a failing or waiting message for good (a sent one cannot be cancelled)."""
    from nastavnik import deliveries
    from nastavnik.mail import utc_now

    try:
        with session_scope() as session:
            found = deliveries.find_message(session=session, prefix=message_id).id
            deliveries.cancel(
                session=session,
                message_id=found,
                actor=_operator_name(operator),
                reason=reason,
                channel="cli",
                now=utc_now(),
            )
    except deliveries.DeliveryRefused as refused:
        console.print(f"[red]Не отменено: {refused.message_ru}[/]")
        raise typer.Exit(1) from None
    console.print(f"Письмо {str(found)[:8]} отменено.")


@deliveries_app.command("link")
def deliveries_link(
    days: Annotated[int, typer.Option(help="Сколько дней действует ссылка")] = 30,
) -> None:
    """Print the operator's page address with a signed token that expires (no sign-in needed)."""
    from nastavnik import deliveries
    from nastavnik.mail import utc_now

    settings = get_settings()
    token = deliveries.operator_token(secret=settings.approval_secret(), now=utc_now(), days=days)
    console.print(f"{settings.web_base_url.rstrip('/')}/operator/deliveries?token={token}")


# --- Staff accounts for the web pages (issue 11 §3) ----------------------------------------------

users_app = typer.Typer(
    help="Учётные записи для входа на страницы: куратор, директор, управление, оператор.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Option("--email", help="Адрес электронной почты (логин)")],
    role: Annotated[str, typer.Option("--role", help="curator | director | department | operator")],
    org: Annotated[
        str, typer.Option("--org", help="Код организации (для управления — код управления)")
    ] = "",
    name: Annotated[str, typer.Option("--name", help="Имя для страниц")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Прочитать пароль из первой строки stdin")
    ] = False,
) -> None:
    """Add an account; the password is asked for or read from stdin, never an argument."""
    import sys

    from models import AccountRole
    from nastavnik import accounts

    try:
        chosen = AccountRole(role.strip().lower())
    except ValueError:
        console.print(f"[red]Нет роли «{role}»: curator, director, department или operator.[/]")
        raise typer.Exit(2) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Пароль", hide_input=True, confirmation_prompt="Ещё раз")
    try:
        with session_scope() as session:
            account = accounts.add_account(
                session=session,
                email=email,
                role=chosen,
                organisation_code=org.strip() or None,
                password=password,
                display_name=name,
            )
            added = f"{account.email} ({accounts.ROLE_RU[account.role]})"
    except accounts.AccountRefused as refused:
        console.print(f"[red]Не добавлено: {refused}.[/]")
        raise typer.Exit(1) from None
    console.print(f"Учётная запись добавлена: {added}.")


@users_app.command("list")
def users_list() -> None:
    """List the accounts: e-mail, name, role, organisation, whether active."""
    from nastavnik import accounts

    table = Table("Почта", "Имя", "Роль", "Организация", "Активна", title="Учётные записи")
    with session_scope() as session:
        for account, organisation in accounts.list_accounts(session=session):
            table.add_row(
                account.email,
                account.display_name,
                accounts.ROLE_RU[account.role],
                organisation.code if organisation else "—",
                "да" if account.active else "нет",
            )
    console.print(table)


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="Адрес учётной записи")]) -> None:
    """Disable an account: its sessions stop working at once, it cannot sign in."""
    from nastavnik import accounts

    try:
        with session_scope() as session:
            accounts.set_active(session=session, email=email, active=False)
    except accounts.AccountRefused as refused:
        console.print(f"[red]{refused}.[/]")
        raise typer.Exit(1) from None
    console.print(f"Учётная запись {email.strip().lower()} отключена.")


# --- the department's informational-analytic report (issue 10 §6) ------------------------------


@app.command("analytic-report")
def analytic_report_start(
    org: Annotated[str, typer.Option(help="Код отдела образования")],
    year: Annotated[str, typer.Option(help="Учебный год")],
    on: Annotated[
        str | None, typer.Option("--date", help="Дата отчёта и приказа, ГГГГ-ММ-ДД")
    ] = None,
    new: NewRun = False,
) -> None:
    """Start the department stage: the analytic report and the order to the department head."""
    params: dict[str, object] = {"organization_code": org, "school_year": year}
    if on:
        params["reference_date"] = on
    _start(STAGE_DEPLOYMENTS["department"], params, new)


# --- The department (issue 10) -------------------------------------------------------------------

department_app = typer.Typer(
    help="Управление образования: его организации, запросы отчётов, мониторинг.",
    no_args_is_help=True,
)
app.add_typer(department_app, name="department")


@department_app.command("dashboard-link")
def department_dashboard_link(
    department_code: Annotated[str, typer.Argument(help="Код управления образования")],
    year: Annotated[
        str | None, typer.Option(help="Учебный год, например 2026/2027 (по умолчанию текущий)")
    ] = None,
    days: Annotated[int, typer.Option(help="Сколько дней действует ссылка")] = 30,
) -> None:
    """Print the department's dashboard address with a signed token (until sign-in, issue 11)."""
    from nastavnik import dashboard
    from nastavnik.dates import school_year_of
    from nastavnik.mail import utc_now

    settings = get_settings()
    with session_scope() as session:
        try:
            dashboard.find_department(session=session, code=department_code)
        except LookupError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from None
    now = utc_now()
    token = dashboard.dashboard_token(
        secret=settings.approval_secret(), department_code=department_code, now=now, days=days
    )
    console.print(
        dashboard.dashboard_url(
            web_base_url=settings.web_base_url,
            department_code=department_code,
            token=token,
            school_year=year or school_year_of(now.date()),
        )
    )


_KIND_RU = {
    "school": "школа",
    "college": "колледж",
    "centre": "центр доп. образования",
    "department": "отдел образования",
}


def _organization_or_exit(session: Any, code: str) -> Any:
    try:
        return repository.get_organization(session=session, code=code)
    except LookupError:
        console.print(f"[red]Организация {code!r} не найдена[/]")
        raise typer.Exit(1) from None


@department_app.command("add-member")
def department_add_member(
    department: Annotated[str, typer.Argument(help="Код отдела образования")],
    organization: Annotated[str, typer.Argument(help="Код организации-участника")],
) -> None:
    """Make an organisation a member of the department: it gets the department's requests."""
    from nastavnik import report_requests

    with session_scope() as session:
        dept = _organization_or_exit(session, department)
        org = _organization_or_exit(session, organization)
        try:
            report_requests.add_member(
                session=session, department_id=dept.id, organization_id=org.id, actor="cli"
            )
        except report_requests.MembershipError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from None
        console.print(f"{org.code} ({org.short_name}) — участник отдела {dept.code}")


@department_app.command("members")
def department_members(
    department: Annotated[str, typer.Argument(help="Код отдела образования")],
) -> None:
    """List the department's member organisations."""
    from nastavnik import report_requests

    with session_scope() as session:
        dept = _organization_or_exit(session, department)
        members = report_requests.members(session=session, department_id=dept.id)
        table = Table("Код", "Организация", "Вид", "Директор", "Куратор", title=dept.name)
        for org in members:
            table.add_row(
                org.code,
                org.short_name,
                _KIND_RU.get(org.kind, org.kind),
                f"{org.director_name} <{org.director_email}>",
                f"{org.curator_name} <{org.curator_email}>",
            )
    console.print(table)
    console.print(f"Участников: {len(members)}")


@department_app.command("requests")
def department_requests(
    department: Annotated[str, typer.Argument(help="Код отдела образования")],
    year: Annotated[str | None, typer.Option(help="Учебный год, например 2026/2027")] = None,
    on: Annotated[
        str | None, typer.Option(help="На день (ГГГГ-ММ-ДД), по умолчанию сегодня")
    ] = None,
) -> None:
    """The department's report requests: who submitted, late, or not yet."""
    from sqlmodel import select

    from models import Cycle, Organization, ReportKind
    from nastavnik import report_requests
    from nastavnik.clock import process_clock

    day = date.fromisoformat(on) if on else process_clock().today()
    with session_scope() as session:
        dept = _organization_or_exit(session, department)
        cycle_id = None
        if year is not None:
            cycle = session.exec(
                select(Cycle).where(Cycle.organization_id == dept.id, Cycle.school_year == year)
            ).first()
            if cycle is None:
                console.print(f"[red]У отдела {department!r} нет цикла {year}[/]")
                raise typer.Exit(1)
            cycle_id = cycle.id
        states = report_requests.request_states(
            session=session, today=day, department_id=dept.id, cycle_id=cycle_id
        )
        names = {
            org.id: org.short_name
            for org in report_requests.members(session=session, department_id=dept.id)
        }
        for state in states:
            if state.request.organization_id not in names:  # a former member
                former = session.get(Organization, state.request.organization_id)
                names[state.request.organization_id] = former.short_name if former else "—"
    table = Table(
        "Организация",
        "Отчёт",
        "Срок",
        "Статус",
        "Сдан",
        "Дней просрочки",
        title=f"Запросы отчётов {dept.short_name}"
        + (f", {year}" if year else "")
        + f" на {day:%d.%m.%Y}",
    )
    style = {
        report_requests.RequestStatus.submitted: "green",
        report_requests.RequestStatus.submitted_late: "dark_orange",
        report_requests.RequestStatus.awaiting: "blue",
        report_requests.RequestStatus.missing: "bold red",
    }
    for state in states:
        request = state.request
        table.add_row(
            names[request.organization_id],
            report_requests.REPORT_RU[ReportKind(request.kind)],
            f"{request.due_on:%d.%m.%Y}",
            report_requests.STATUS_RU[state.status],
            f"{state.submitted_on:%d.%m.%Y}" if state.submitted_on else "—",
            str(state.days_late) if state.days_late else "—",
            style=style[state.status],
        )
    console.print(table)
    counts = dict.fromkeys(report_requests.RequestStatus, 0)
    for state in states:
        counts[state.status] += 1
    console.print(
        "; ".join(
            f"{report_requests.STATUS_RU[status]}: {count}" for status, count in counts.items()
        )
    )


# --- The department's side of organisations' reports (issue 10 §2) -------------------------------


@department_app.command("token")
def department_token(
    organization_code: Annotated[str, typer.Argument(help="Код организации")],
) -> None:
    """Print the organisation's token for its reports (its NASTAVNIK_DEPARTMENT_TOKEN)."""
    from nastavnik.report_envelope import department_token as derive

    with session_scope() as session:
        repository.get_organization(session=session, code=organization_code)
    console.print(
        derive(secret=get_settings().approval_secret(), organization_code=organization_code)
    )


def _receive_report(envelope_data: bytes, pdf: bytes, transport: str) -> None:
    from models import ReportTransport
    from nastavnik.mail import utc_now
    from nastavnik.report_envelope import ReportRefused, read_envelope, receive

    refusal = ""
    try:
        envelope = read_envelope(envelope_data)
    except ReportRefused as refused:
        refusal = refused.reason
    else:
        with session_scope() as session:
            try:
                received = receive(
                    session=session,
                    envelope=envelope,
                    pdf=pdf,
                    transport=ReportTransport(transport),
                    now=utc_now(),
                    settings=get_settings(),
                )
            except ReportRefused as refused:
                refusal = refused.reason  # the refusal is audited and committed
            else:
                submission, created = received.submission, received.created
    if refusal:
        console.print(f"[red]Отчёт не принят: {refusal}[/]")
        raise typer.Exit(1)
    state = "принят" if created else "уже был принят, ничего не изменено"
    console.print(
        f"Отчёт по запросу {envelope['request_key']} от {envelope['organization_code']} "
        f"{state} (сдан {submission.submitted_on:%d.%m.%Y}, PDF: {submission.pdf_path})."
    )


@department_app.command("receive")
def department_receive(
    envelope_file: Annotated[Path, typer.Argument(help="Конверт отчёта (.json)", exists=True)],
    pdf_file: Annotated[Path, typer.Argument(help="Отчёт в PDF", exists=True)],
) -> None:
    """Take an organisation's report from its envelope and PDF (verified, stored once)."""
    _receive_report(envelope_file.read_bytes(), pdf_file.read_bytes(), "upload")


@department_app.command("receive-mail")
def department_receive_mail(
    message_file: Annotated[Path, typer.Argument(help="Сохранённое письмо (.eml)", exists=True)],
) -> None:
    """Take an organisation's report from a saved e-mail (its .json and .pdf attachments)."""
    from nastavnik.report_envelope import ReportRefused, report_attachments

    try:
        envelope, pdf = report_attachments(message_file.read_bytes())
    except ReportRefused as refused:
        console.print(f"[red]Отчёт не принят: {message_file}: {refused.reason}[/]")
        raise typer.Exit(1) from None
    import json

    _receive_report(json.dumps(envelope).encode(), pdf, "email")


prod_app = typer.Typer(
    help="Производственная схема: Prefect и приложение на PostgreSQL, процессные воркеры, веб.",
    no_args_is_help=True,
)
app.add_typer(prod_app, name="prod")

PostgresOption = Annotated[
    str,
    typer.Option(
        "--postgres",
        envvar="NASTAVNIK_POSTGRES_URL",
        help="Сервер PostgreSQL без имени базы, например postgresql://postgres@127.0.0.1:5432",
    ),
]
PrefectDbOption = Annotated[str, typer.Option(help="База данных сервера Prefect")]
AppDbOption = Annotated[str, typer.Option(help="База данных приложения")]


def _prod_config(postgres: str, prefect_db: str, app_db: str, **options: Any) -> Any:
    from deployments.production import ProductionConfig

    return ProductionConfig.on_ports_of(
        get_settings(),
        postgres=postgres,
        prefect_database=prefect_db,
        app_database=app_db,
        **options,
    )


@prod_app.command("init")
def prod_init(
    postgres: PostgresOption = "postgresql://postgres@127.0.0.1:5432",
    prefect_db: PrefectDbOption = "prefect",
    app_db: AppDbOption = "nastavnik",
) -> None:
    """Create Prefect's and the application's databases and apply the migrations."""
    from deployments.production import create_databases, migrate_application

    config = _prod_config(postgres, prefect_db, app_db)
    created = create_databases(config)
    migrate_application(config)
    console.print(f"Созданы базы: {', '.join(created) or 'нет, обе уже были'}; миграции применены.")


@prod_app.command("migrate")
def prod_migrate() -> None:
    """Apply the application's migrations to NASTAVNIK_DATABASE_URL (compose's one-shot service)."""
    from nastavnik.db import make_engine, migrate

    migrate(make_engine(get_settings().resolved_database_url))
    console.print("Миграции применены.")


@prod_app.command("env")
def prod_env(
    postgres: PostgresOption = "postgresql://postgres@127.0.0.1:5432",
    prefect_db: PrefectDbOption = "prefect",
    app_db: AppDbOption = "nastavnik",
) -> None:
    """Print the environment of the layout's processes, as export lines for a shell."""
    from deployments.production import shell_environment

    for line in shell_environment(_prod_config(postgres, prefect_db, app_db)):
        print(line)


@prod_app.command("up")
def prod_up(
    postgres: PostgresOption = "postgresql://postgres@127.0.0.1:5432",
    prefect_db: PrefectDbOption = "prefect",
    app_db: AppDbOption = "nastavnik",
    workers: Annotated[int, typer.Option(help="Сколько процессных воркеров")] = 2,
    limit: Annotated[
        int, typer.Option(help="Запусков одновременно на воркер (0 — без предела)")
    ] = 1,
    web_workers: Annotated[int, typer.Option(help="Процессов веб-приложения (uvicorn)")] = 2,
    deploy: Annotated[bool, typer.Option(help="Выполнить prefect deploy --all")] = True,
    warm_engine: Annotated[
        bool, typer.Option(help="Запускать прогоны ответвлением от «тёплого» процесса воркера")
    ] = True,
) -> None:
    """Start the production layout here until Ctrl-C or SIGTERM, then stop every process.

    Databases and migrations, the Prefect server on PostgreSQL, the process work pool and
    `prefect deploy --all`, the workers and the web app under uvicorn; mail goes to
    NASTAVNIK_SMTP_URL (a real relay).
    """
    from deployments.production import ProductionStack
    from deployments.stack import install_stop_signals

    config = _prod_config(
        postgres,
        prefect_db,
        app_db,
        workers=workers,
        worker_limit=limit or None,
        web_workers=web_workers,
        warm_engine=warm_engine,
    )
    stop = install_stop_signals()
    stack = ProductionStack(config)
    console.print("Запуск: базы и миграции, сервер Prefect, пул и развёртывания, воркеры, веб…")
    try:
        stack.start(deploy=deploy)
        if stop.is_set():
            return
        console.print(f"Prefect UI:  http://{config.host}:{config.prefect_port}")
        console.print(f"Веб:         {config.web_url}  (проверка: /healthz)")
        console.print(f"Почта:       {config.settings.smtp_url}")
        console.print(
            f"Воркеры:     {workers} × до {limit or '∞'} запусков; журналы {stack.logs_dir}"
        )
        console.print("Ctrl-C останавливает всё.")
        stop.wait()
    except (RuntimeError, TimeoutError) as error:
        console.print(f"[red]{error}[/]  Журналы: {stack.logs_dir}")
        raise typer.Exit(1) from None
    finally:
        stack.stop()
    console.print("Остановлено.")


@prod_app.command("health")
def prod_health(
    postgres: PostgresOption = "postgresql://postgres@127.0.0.1:5432",
) -> None:
    """Check Prefect's /api/health and the web app's /healthz; exit 1 when one fails."""
    from deployments.production import health

    result = health(_prod_config(postgres, "prefect", "nastavnik"))
    for name, ok in result.items():
        console.print(f"{name}: {'в порядке' if ok else '[red]не отвечает[/]'}")
    if not all(result.values()):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
