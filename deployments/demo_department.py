"""`nastavnik demo --department`: a municipal department and three member organisations of
different kinds run the 2026/2027 year together on the simulated clock.

The department (its roadmap written from seed ``roadmap_municipality_kedrovy.txt``) asks its
organisations for the informational report in November, interim monitoring in February and the
final reports in the second half of June; each organisation's director approves its report
through the e-mailed link and it is submitted; in July the department's head approves the
informational-analytic report and the order on the year's results, mailed to every director.
The demo school (on its roadmap), the college and the centre run with the generic script and
smaller populations (a quarter of the demo school's): the demo school's whole scripted year is
`make demo` itself.
Scripted: the centre's director lets the final report wait, so it is submitted late; the
college's mail server loses its director's mailbox in July, so the analytic report's e-mail to
the college fails (550); once the mailbox is back the operator retries it through the
`retry-deliveries` deployment and it is delivered once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from deployments.demo_data import trimmed_questionnaires
from deployments.year import (
    RunRequest,
    ScriptedDecision,
    YearScript,
    YearSimulation,
    run_together,
)
from models import OutboxStatus
from nastavnik import deliveries, report_requests, repository
from nastavnik.db import session_scope
from nastavnik.settings import Settings
from nastavnik.smtp_sink import UNKNOWN_MAILBOXES

SCHOOL_YEAR = "2026/2027"
OPERATOR = "Романова Т. С., оператор"
REPORT_KIND_RU = {"information": "информационный", "interim": "промежуточный", "final": "итоговый"}
# The college's director's mailbox is missing from before the analytic report (11–20 July) until
# after it is mailed; the operator retries once it is back.
MAILBOX_LOST, MAILBOX_RESTORED = date(2027, 7, 8), date(2027, 7, 26)

ROADMAPS = Path(__file__).resolve().parents[1] / "roadmaps"
DEPARTMENT_ROADMAP = ROADMAPS / "demo_department_kedrovy.yaml"

DEPARTMENT_ORG = {
    "code": "kedrovy-department",
    "name": "Отдел образования Администрации муниципального образования «Город Кедровый»",
    "short_name": "Отдел образования г. Кедровый",
    "city": "г. Кедровый",
    "director_name": "Кузнецова Ольга Петровна",  # the department's head approves its documents
    "director_email": "head@edu-kedrovy.example.ru",
    "curator_name": "Волков Андрей Сергеевич",  # the specialist who runs the target model
    "curator_email": "nastavnik@edu-kedrovy.example.ru",
}


@dataclass(frozen=True)
class Member:
    """A member organisation of the demo department: who, which roadmap, how big."""

    organization: dict[str, str]
    kind: str
    roadmap: Path
    seed: int
    keep_every: int  # every n-th questionnaire row of the generated school is kept

    @property
    def code(self) -> str:
        return self.organization["code"]


COLLEGE = Member(
    organization={
        "code": "kedrovy-college",
        "name": "ОГБПОУ «Кедровский промышленный колледж»",
        "short_name": "Кедровский колледж",
        "city": "г. Кедровый",
        "director_name": "Никитин Павел Андреевич",
        "director_email": "director@college-kedrovy.example.ru",
        "curator_name": "Белова Марина Олеговна",
        "curator_email": "curator@college-kedrovy.example.ru",
    },
    kind="college",
    roadmap=ROADMAPS / "lyceum_blagoveshchensk.yaml",
    seed=2027,
    keep_every=4,
)
CENTRE = Member(
    organization={
        "code": "kedrovy-centre",
        "name": "МБУ ДО «Центр детского творчества» г. Кедровый",
        "short_name": "ЦДТ",
        "city": "г. Кедровый",
        "director_name": "Соколова Анна Игоревна",
        "director_email": "director@cdt-kedrovy.example.ru",
        "curator_name": "Егоров Денис Владимирович",
        "curator_email": "curator@cdt-kedrovy.example.ru",
    },
    kind="centre",
    roadmap=ROADMAPS / "demo_school3_kedrovy.yaml",
    seed=2028,
    keep_every=4,
)


def upsert_department(*, members: list[dict[str, str]], kinds: dict[str, str]) -> uuid.UUID:
    """The department and its members, each of its kind and under the department."""
    with session_scope() as session:
        department = repository.upsert_organization(
            session=session, **DEPARTMENT_ORG, kind="department"
        )
        for organization in members:
            member = repository.upsert_organization(
                session=session, **organization, kind=kinds[organization["code"]]
            )
            report_requests.add_member(
                session=session, department_id=department.id, organization_id=member.id
            )
        session.commit()
        return department.id


def report_decisions(*, late_final: bool = False) -> dict[str, ScriptedDecision]:
    """How a member's director answers the department's report approvals."""
    return {
        "organisation-report-information": ScriptedDecision(2, comment="Отчёт утверждаю."),
        "organisation-report-interim": ScriptedDecision(2, comment="Утверждаю."),
        # The centre's director lets the final report wait past the department's deadline.
        "organisation-report-final": ScriptedDecision(
            20 if late_final else 2, comment="Итоговый отчёт утверждаю."
        ),
    }


def department_script(settings: Settings) -> YearScript:
    """What the department's head does, and the college's mailbox that goes missing in July."""
    refused = settings.mail_dir.resolve() / UNKNOWN_MAILBOXES
    college_director = COLLEGE.organization["director_email"]

    def mailbox_lost() -> str:
        refused.parent.mkdir(parents=True, exist_ok=True)
        refused.write_text(college_director + "\n", encoding="utf-8")
        return f"почтовый сервер колледжа: ящика {college_director} нет (письма вернутся с 550)"

    def mailbox_restored() -> str:
        refused.unlink(missing_ok=True)
        return f"ящик {college_director} восстановлен"

    def operator_retry() -> RunRequest | None:
        with session_scope() as session:
            failing = [
                row.message_id
                for row in deliveries.list_deliveries(session=session)
                if row.status == OutboxStatus.failed
            ]
        if not failing:
            return None
        return RunRequest(
            deployment="retry-deliveries/retry-deliveries",
            parameters={
                "message_ids": [str(message_id) for message_id in failing],
                "operator": OPERATOR,
            },
            run_name=f"{DEPARTMENT_ORG['code']} · {SCHOOL_YEAR} · retry-deliveries",
            line=f"оператор {OPERATOR}: повторная отправка писем с ошибкой ({len(failing)})",
        )

    return YearScript(
        actions={MAILBOX_LOST: [mailbox_lost], MAILBOX_RESTORED: [mailbox_restored]},
        runs={MAILBOX_RESTORED: [operator_retry]},
        decisions={
            # The analytic report and the order on the year's results, approved together.
            "analytic-report": ScriptedDecision(2, comment="Отчёт и приказ утверждаю."),
        },
    )


def with_report_decisions(script: YearScript, **kwargs: Any) -> YearScript:
    """A member's year script with its director's answers to the department's reports."""
    script.decisions.update(report_decisions(**kwargs))
    return script


def run_department_demo(
    *,
    settings: Settings,
    console: Console,
    exit_when_done: bool,
    postgres: str | None = None,
    workers: int = 2,
    databases: tuple[str, str] = ("nastavnik_demo_prefect", "nastavnik_demo"),
) -> int:
    """The department's year with its three organisations; returns the exit code.

    On the embedded stack by default; with ``postgres`` (a server URL without a database) on the
    production layout there, with ``workers`` process workers and the scripted faults
    (deployments/demo_production.py)."""
    from deployments.demo import (
        DEMO_ORG,
        DEMO_ROADMAP,
        YEAR_END,
        YEAR_START,
        DemoError,
        generic_script,
        link_decider,
        start_demo_cycle,
        use_simulated_clock,
    )
    from deployments.demo_production import Faults, print_faults, start_layout, wait_for_outbox
    from deployments.stack import EmbeddedStack, wait_for_interrupt
    from nastavnik.settings import get_settings

    started = time.monotonic()
    where = f"PostgreSQL, исполнителей: {workers}" if postgres else "встроенный стек"
    console.rule(
        f"Наставник — демо отдела образования: {SCHOOL_YEAR}, три организации, "
        f"время смоделировано ({where})"
    )
    faults: Faults | None = None
    stop: Any
    if postgres:
        console.print("Starting the production layout (PostgreSQL, Prefect server, workers, web)…")
        layout = start_layout(
            settings=settings, postgres=postgres, workers=workers, databases=databases
        )
        settings = get_settings()  # the layout's: its databases, its secret
        stop = layout.stop
        faults = Faults(layout, say=lambda line: console.print(f"[bold yellow]{line}[/]"))
    else:
        stack = EmbeddedStack(settings, environment={"NASTAVNIK_CLOCK": "simulated"})
        stop = stack.stop
    use_simulated_clock()
    members = [DEMO_ORG, COLLEGE.organization, CENTRE.organization]
    kinds = {DEMO_ORG["code"]: "school", COLLEGE.code: COLLEGE.kind, CENTRE.code: CENTRE.kind}
    upsert_department(members=members, kinds=kinds)
    if not postgres:
        console.print("Starting the embedded stack (Prefect server, runner, SMTP sink, web)…")
        stack.start()
    # A decision waits for its e-mail; with the relay down it comes with the retry schedule.
    decide = link_decider(settings, mail_timeout=300 if postgres else 60)
    demo_dir = settings.data_dir.resolve() / "demo"
    try:
        simulations: list[YearSimulation] = []

        def simulate(code: str, cycle_id: uuid.UUID, script: YearScript) -> None:
            simulations.append(
                YearSimulation(
                    settings=settings,
                    cycle_id=cycle_id,
                    script=script,
                    decide=decide,
                    on_line=lambda day, line: console.print(
                        f"[dim]{day:%d.%m.%Y}[/] {code}: {line}"
                    ),
                    # A run orphaned by a lost worker waits for the crash detection first.
                    run_timeout=900,
                )
            )

        department_cycle = start_demo_cycle(DEPARTMENT_ORG["code"], DEPARTMENT_ROADMAP)
        script = department_script(settings)
        if faults is not None:
            for day, actions in faults.actions().items():
                script.actions.setdefault(day, []).extend(actions)
        simulate(DEPARTMENT_ORG["code"], department_cycle, script)
        school = Member(
            organization=DEMO_ORG, kind="school", roadmap=DEMO_ROADMAP, seed=2026, keep_every=4
        )
        for member in (school, COLLEGE, CENTRE):
            cycle_id = start_demo_cycle(member.code, member.roadmap)
            files = trimmed_questionnaires(
                demo_dir / member.code, seed=member.seed, keep_every=member.keep_every
            )
            simulate(
                member.code,
                cycle_id,
                with_report_decisions(
                    generic_script(files=files, cycle_id=cycle_id),
                    late_final=member is CENTRE,
                ),
            )
        run_together(simulations, start=YEAR_START, end=YEAR_END)
        if faults is not None:
            faults.join()
            left = wait_for_outbox()
            if left:
                raise RuntimeError(f"{left} e-mails still wait for the relay after the year")
            print_faults(console, faults)
        _print_department(console, settings, department_cycle, time.monotonic() - started)
    except (DemoError, TimeoutError, RuntimeError) as error:
        console.print(f"[red]{error}[/]  Logs: {settings.data_dir.resolve() / 'logs'}")
        stop()
        return 1
    except BaseException:  # Ctrl-C: the stack's processes must not outlive us
        stop()
        raise
    finally:
        if exit_when_done:
            stop()
    if exit_when_done:
        return 0
    console.print("The stack stays up for browsing; Ctrl-C stops it.")
    try:
        wait_for_interrupt()
    finally:
        stop()
    return 0


def _print_department(
    console: Console, settings: Settings, department_cycle: uuid.UUID, seconds: float
) -> None:
    from sqlmodel import select

    from deployments.demo import YEAR_END
    from models import Document, DocumentStatus
    from nastavnik.documents import document_file

    console.rule("Отдел образования: отчёты организаций")
    with session_scope() as session:
        states = report_requests.request_states(
            session=session, today=YEAR_END, cycle_id=department_cycle
        )
        names = (
            {
                org.id: org.short_name
                for org in report_requests.members(
                    session=session, department_id=states[0].request.department_id
                )
            }
            if states
            else {}
        )
        table = Table("Организация", "Отчёт", "Срок", "Сдан", "Статус", title="Запросы отдела")
        for state in states:
            table.add_row(
                names.get(state.request.organization_id, "?"),
                REPORT_KIND_RU.get(state.request.kind, state.request.kind),
                f"{state.request.due_on:%d.%m.%Y}",
                f"{state.submitted_on:%d.%m.%Y}" if state.submitted_on else "—",
                report_requests.STATUS_RU[state.status],
            )
        documents = session.exec(
            select(Document).where(
                Document.cycle_id == department_cycle, Document.status == DocumentStatus.approved
            )
        ).all()
        paths = [(d.title, document_file(settings=settings, document=d)) for d in documents]
    console.print(table)
    for title, path in paths:
        console.print(f"{title}: {path.resolve()}")
    console.print(
        f"Мониторинг организаций: {settings.web_base_url}/department/{DEPARTMENT_ORG['code']} "
        f"(ссылка с токеном: nastavnik department dashboard-link {DEPARTMENT_ORG['code']})"
    )
    console.print(f"Demo complete in {seconds:.1f} s.")
