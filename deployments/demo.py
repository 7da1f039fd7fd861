"""The main job: a demo school's school year on a simulated clock, every decision by link."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import os
import re
import threading
import time
import uuid
import weakref
from datetime import date, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlmodel import col, select

from deployments import demo_meetings
from deployments.catalog import run_label
from deployments.demo_data import (
    trimmed_questionnaires,
    write_demo_attendance,
    write_demo_questionnaires,
)
from deployments.year import (
    Action,
    Decide,
    RunAction,
    RunRequest,
    ScriptedDecision,
    YearScript,
    YearSimulation,
)
from models import CLOSED_STATUSES, ApprovalRequest, Document, PlanItem, Role
from nastavnik import (
    pairing,
    plan,
    progress,
    questionnaires,
    repository,
    roadmap_report,
    tick,
    training,
)
from nastavnik.clock import StoredClock, process_clock
from nastavnik.db import get_engine, session_scope
from nastavnik.programmes import month_label
from nastavnik.roadmap import STAGE_NEEDS, Stage
from nastavnik.settings import Settings, get_settings
from nastavnik.stages import missing_prerequisites

DEMO_ORG = {
    "code": "demo-school",
    "name": "МБОУ «Средняя общеобразовательная школа № 3» г. Кедровый",
    "short_name": "СОШ № 3",
    "city": "г. Кедровый",
    "director_name": "Смирнова Елена Викторовна",
    "director_email": "director@school3.example.ru",
    "curator_name": "Орлов Игорь Николаевич",
    "curator_email": "curator@school3.example.ru",
}
SCHOOL_YEAR = "2026/2027"
DEMO_ROADMAP = Path(__file__).resolve().parents[1] / "roadmaps" / "demo_school3_kedrovy.yaml"
YEAR_START, YEAR_END = date(2026, 8, 1), date(2027, 8, 31)
LINK = re.compile(r"https?://\S+/approvals/[0-9a-f-]{36}\?code=[0-9]+-[A-Z2-7]{24}")
TABLE_TITLES = {
    "questionnaire-import": "Импорт анкет",
    "questionnaire-errors": "Отклонённые строки анкет",
    # Counts only: the names are on the staff pages /cycles/<cycle>/… (issue 11 §3).
    "consents-missing": "Нет необходимых согласий: в реестры не включены (по ролям и причинам)",
    "training-demand": "Потребность в наставниках по формам",
    "training-results": "Результаты обучения (по формам)",
    "pairing-blocked-1": "Не вошли в приказ: нет письменного согласия (по формам)",
    "programmes-decision": "Решение по персональным программам",
}


class DemoError(RuntimeError):
    """A step of the demo did not end as expected."""


def approval_link_from_mail(
    mail_dir: Path, to_addr: str, request_id: uuid.UUID, timeout: float = 60
) -> tuple[str, Path]:
    """The newest one-click link in the approver's e-mails for this request (a reminder carries
    the same link, a reissue a new one), as the approver sees it."""
    return Mailboxes(mail_dir).newest_link(to_addr, request_id, timeout=timeout)


class Mailboxes:
    """The sink's mail directory read as the approvers' mailboxes: each message's recipients
    are read once, when it first appears, so finding a link costs the approver's own mail, not
    the whole year's (a department's year holds ≈1 800 messages per school; reading them all
    for each of its ≈14 decisions per school grew with the square of the schools)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self._seen: set[str] = set()
        self._by_recipient: dict[str, list[tuple[int, str]]] = {}  # address → (mtime, name)
        self._lock = threading.Lock()  # the simulation's decisions of a day run side by side

    def _refresh(self) -> None:
        if not self.mail_dir.is_dir():
            return
        for entry in os.scandir(self.mail_dir):
            if not entry.name.endswith(".eml") or entry.name in self._seen:
                continue
            self._seen.add(entry.name)
            with open(entry.path, "rb") as handle:
                headers = BytesHeaderParser(policy=email.policy.default).parsebytes(
                    handle.read(8192)
                )
            for _, address in email.utils.getaddresses([str(headers.get("To") or "")]):
                self._by_recipient.setdefault(address.lower(), []).append(
                    (entry.stat().st_mtime_ns, entry.name)
                )

    def newest_link(
        self, to_addr: str, request_id: uuid.UUID, *, timeout: float = 60
    ) -> tuple[str, Path]:
        """The newest link for the request in the mail to `to_addr`, waiting up to `timeout`
        seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._refresh()
                mine = sorted(self._by_recipient.get(to_addr.lower(), []), reverse=True)
            for _, name in mine:  # newest first: only the newest link counts
                path = self.mail_dir / name
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                match = LINK.search(body.get_content() if body else "")  # type: ignore[attr-defined]
                if match and str(request_id) in match.group(0):
                    return match.group(0), path
            if time.monotonic() > deadline:
                raise TimeoutError(f"no approval e-mail to {to_addr} arrived in {self.mail_dir}")
            time.sleep(0.5)


def decide_by_link(
    link: str,
    *,
    approver_name: str,
    decision: str = "approve",
    comment: str = "",
    exceptions: dict[int, str] | None = None,
    client: httpx.Client | None = None,
) -> None:
    """Open the link and press the decision's button, as the approver does in a browser."""
    if client is None:
        with httpx.Client() as own:
            return decide_by_link(
                link,
                approver_name=approver_name,
                decision=decision,
                comment=comment,
                exceptions=exceptions,
                client=own,
            )
    try:
        page = client.get(link, timeout=30)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        # A kept-alive connection the server closed as it was reused: the page was never
        # asked for (a browser asks again, on a new connection).
        page = client.get(link, timeout=30)
    page.raise_for_status()
    form_action = re.search(r'action="([^"]+)"', page.text)
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    if not form_action or not code:
        raise DemoError(f"the approval page at {link} has no decision form")
    data = {
        "code": code.group(1),
        "decision": decision,
        "approver_name": approver_name,
        "comment": comment,
    }
    data |= {f"except_{number}": text for number, text in (exceptions or {}).items()}
    answer = client.post(httpx.URL(link).join(form_action.group(1)), data=data, timeout=60)
    if answer.status_code != 200:
        raise DemoError(f"decision refused ({answer.status_code}): {answer.text[:300]}")


class Demo:
    """Drives the stage runs of the demo school like its curator and director would."""

    def __init__(self, *, settings: Settings, console: Console, ui_url: str) -> None:
        self.settings, self.console, self.ui_url = settings, console, ui_url
        self.runs: dict[str, uuid.UUID] = {}

    def start(self, stage: str, **params: Any) -> uuid.UUID:
        from deployments.prefect_api import start_deployment

        params = {"organization_code": DEMO_ORG["code"], "school_year": SCHOOL_YEAR, **params}
        run_id = asyncio.run(start_deployment(f"{stage}/{stage}", {"params": params}))
        self.runs[stage] = run_id
        self.console.rule(f"{stage}: {self.ui_url}/runs/flow-run/{run_id}")
        return run_id

    def wait(self, run_id: uuid.UUID, pause: str | None = None) -> None:
        """Wait for the pause (or for completion when ``pause`` is None)."""
        from deployments.prefect_api import wait_for_state

        deadline = time.monotonic() + 300
        while True:
            run = asyncio.run(wait_for_state(run_id, names={"Suspended", "Completed"}))
            state = run.state
            assert state is not None
            if pause is None and state.is_completed():
                return
            if pause is not None and state.state_details.pause_key == pause:
                return
            if state.is_final():
                raise DemoError(f"the run ended as {state.name}; see {self.ui_url} and the logs")
            if time.monotonic() > deadline:
                raise DemoError(f"the run did not reach {pause or 'completion'} in 300 s")
            time.sleep(0.5)

    def decide(
        self,
        run_id: uuid.UUID,
        approval_key: str,
        *,
        decision: str = "approve",
        comment: str = "",
        exceptions: dict[int, str] | None = None,
    ) -> None:
        """Wait for the request, find its link in the e-mail, decide through the web page."""
        self.wait(run_id, f"{approval_key}-1")
        with session_scope() as session:
            request = session.exec(
                select(ApprovalRequest).where(
                    ApprovalRequest.flow_run_id == run_id,
                    ApprovalRequest.approval_key == approval_key,
                )
            ).one()
        link, eml = approval_link_from_mail(
            self.settings.mail_dir, request.approver_email, request.id
        )
        who = "curator" if request.role == "curator" else "director"
        self.console.print(f"[bold]{request.title}[/] — waiting for the {who}")
        self.console.print(f"  {request.summary}")
        self.console.print(f"  e-mail: {eml.resolve()}")
        self.console.print(f"  link:   {link}")
        decide_by_link(
            link,
            approver_name=request.approver_name,
            decision=decision,
            comment=comment,
            exceptions=exceptions,
        )
        label = {"approve": "approved", "reject": "rejected"}.get(decision, "sent back")
        extra = f" except {sorted(exceptions)}" if exceptions else ""
        self.console.print(f"  → {label}{extra} by the {who} through the link")

    def show_tables(self, run_id: uuid.UUID, keys: list[str], limit: int = 12) -> None:
        """Print the run's table artifacts (first rows) under their Russian titles."""
        from deployments.prefect_api import read_table_artifacts

        tables = asyncio.run(read_table_artifacts(run_id))
        for key in keys:
            rows = tables.get(key, [])
            if not rows:
                continue
            more = f" (first {limit} of {len(rows)})" if len(rows) > limit else ""
            table = Table(*rows[0].keys(), title=TABLE_TITLES.get(key, key) + more)
            for row in rows[:limit]:
                table.add_row(*(str(value) for value in row.values()))
            self.console.print(table)


def run_demo(
    *,
    settings: Settings,
    console: Console,
    exit_when_done: bool,
    roadmap: Path | None = None,
    keep_every: int = 1,
) -> int:
    """The demo school's 2026/2027 year on a simulated clock, on the embedded stack; returns
    the exit code. With `roadmap`, the demo school runs that roadmap's year instead, under an
    organisation of its own, with a generic script (see generic_script), from every
    `keep_every`-th of the demo school's questionnaires (a smaller organisation, a faster year)."""
    from deployments.stack import EmbeddedStack

    started = time.monotonic()
    use_simulated_clock()
    demo_dir = settings.data_dir.resolve() / "demo"
    files = (
        trimmed_questionnaires(demo_dir, keep_every=keep_every)
        if roadmap is not None and keep_every > 1
        else write_demo_questionnaires(demo_dir)
    )
    organization = DEMO_ORG if roadmap is None else simulated_organization(roadmap)
    with session_scope() as session:
        repository.upsert_organization(session=session, **organization)
    console.rule(
        f"Наставник — демо: учебный год {SCHOOL_YEAR} по дорожной карте, время смоделировано"
    )
    # Every process of the stack reads the simulated day from the database.
    stack = EmbeddedStack(settings, environment={"NASTAVNIK_CLOCK": "simulated"})
    console.print("Starting the embedded stack (Prefect server, runner, SMTP sink, web)…")
    stack.start()
    demo = Demo(settings=settings, console=console, ui_url=stack.ui_url)
    try:
        cycle_id = start_demo_cycle(organization["code"], roadmap or DEMO_ROADMAP)
        script = (
            year_script(settings=settings, files=files, cycle_id=cycle_id)
            if roadmap is None
            else generic_script(files=files, cycle_id=cycle_id)
        )
        simulation = YearSimulation(
            settings=settings,
            cycle_id=cycle_id,
            script=script,
            decide=link_decider(settings),
            on_line=lambda day, line: console.print(f"[dim]{day:%d.%m.%Y}[/]  {line}"),
        )
        log = simulation.run(start=YEAR_START, end=YEAR_END)
        demo.runs.update(log.runs)
        _print_year(console, settings, cycle_id, log)
        _print_where(console, settings, demo, time.monotonic() - started)
    except (DemoError, TimeoutError, RuntimeError) as error:
        console.print(f"[red]{error}[/]  Logs: {stack.logs_dir.resolve()}")
        stack.stop()
        return 1
    except BaseException:  # Ctrl-C during a stage: the stack's processes must not outlive us
        stack.stop()
        raise
    finally:
        if exit_when_done:
            stack.stop()
    if exit_when_done:
        return 0
    console.print("The stack stays up for browsing; Ctrl-C stops it.")
    from deployments.stack import wait_for_interrupt

    try:
        wait_for_interrupt()
    finally:
        stack.stop()
    return 0


def use_simulated_clock() -> None:
    """This process (it serves the web endpoint) and the stack's read the stored clock."""
    os.environ["NASTAVNIK_CLOCK"] = "simulated"
    get_settings.cache_clear()
    process_clock.cache_clear()


def simulated_org(roadmap: Path) -> str:
    """The code of the organisation a roadmap's simulated year runs under."""
    slug = re.sub(r"[^a-z0-9]+", "-", roadmap.stem.lower()).strip("-") or "roadmap"
    return f"sim-{slug}"[:64]


def simulated_organization(roadmap: Path) -> dict[str, str]:
    """The organisation a roadmap's simulated year runs as: the roadmap's name and kind (a
    school, a college or a centre), the demo school's people and staff addresses."""
    from nastavnik.roadmap import OrganisationKind, load_roadmap

    written = load_roadmap(roadmap)
    organization = {
        **DEMO_ORG,
        "code": simulated_org(roadmap),
        "name": written.organisation,
        "short_name": written.organisation[:60],
    }
    if written.kind is not OrganisationKind.department:
        organization["kind"] = written.kind.value
    return organization


def start_demo_cycle(org_code: str = DEMO_ORG["code"], roadmap: Path = DEMO_ROADMAP) -> uuid.UUID:
    """The organisation's cycle with its plan from the roadmap (kept if it exists)."""
    with session_scope() as session:
        org = repository.get_organization(session=session, code=org_code)
        try:
            cycle = plan.start_cycle(
                session=session,
                organization_id=org.id,
                school_year=SCHOOL_YEAR,
                roadmap_path=roadmap,
            )
        except plan.PlanExists:
            cycle = repository.get_or_create_cycle(
                session=session, organization_id=org.id, school_year=SCHOOL_YEAR
            )
        return cycle.id


# How long the scripted people's browser keeps an idle connection (uvicorn's keep-alive: 5 s).
KEEPALIVE_SECONDS = 2.0


def link_decider(settings: Settings, *, mail_timeout: float = 60) -> Decide:
    """The director (or curator) decides through the newest link in their e-mail, waiting up
    to ``mail_timeout`` seconds for it to arrive."""
    # One browser for the year: a new httpx client loads certifi's bundle (≈30 ms) each time.
    # Idle connections are dropped after 2 s, before uvicorn closes them (5 s): reusing one as
    # the server closes it reset a page request in a department's year (bench/department.py).
    browser = httpx.Client(limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS))
    mailboxes = Mailboxes(settings.mail_dir)

    def decide(request: ApprovalRequest, scripted: ScriptedDecision) -> None:
        link, _ = mailboxes.newest_link(request.approver_email, request.id, timeout=mail_timeout)
        decide_by_link(
            link,
            approver_name=request.approver_name,
            decision=scripted.decision,
            comment=scripted.comment,
            exceptions=scripted.exceptions or None,
            client=browser,
        )

    weakref.finalize(decide, browser.close)
    return decide


def _import_questionnaires(files: Any, cycle_id: uuid.UUID) -> str:
    lines = []
    for path, role in [
        *((p, Role.mentee) for p in files.mentee_files),
        *((p, Role.mentor) for p in files.mentor_files),
    ]:
        report = questionnaires.import_file_transaction(
            engine=get_engine(), cycle_id=cycle_id, path=path, role=role
        )
        lines.append(f"{path.name}: принято {report.accepted}, отклонено {report.rejected_rows}")
    return "куратор загрузил анкеты — " + "; ".join(lines)


def _import_attendance(directory: Path, cycle_id: uuid.UUID) -> str:
    with session_scope() as session:
        path = write_demo_attendance(directory, session=session, cycle_id=cycle_id)
    report = training.import_attendance_transaction(
        engine=get_engine(), cycle_id=cycle_id, path=path, max_bytes=10_000_000
    )
    return f"куратор загрузил посещаемость {path.name}: {report.accepted} отметок"


def _record_consents(cycle_id: uuid.UUID, clock: StoredClock, leave_out: int) -> str:
    today = clock.today()
    with session_scope() as session:
        forms = pairing.consent_form_rows(session=session, cycle_id=cycle_id)
        given = forms[: len(forms) - leave_out]
        for form in given:
            pairing.record_participation_consent(
                session=session,
                cycle_id=cycle_id,
                participant_id=form["participant_id"],
                given_on=today,
                source="demo",
            )
    return f"письменные согласия (§2.6) получены: {len(given)} из {len(forms)}"


def generic_script(*, files: Any, cycle_id: uuid.UUID) -> YearScript:
    """For any roadmap: the questionnaires arrive a week after the base-formation window opens,
    every decision comes two days after it is asked, with the inputs it needs; a stage the
    roadmap does not date that a dated one waits for (training, in a roadmap that only pairs) is
    started by the curator by hand, from the day the waiting one's window opens; nothing else
    happens: manual items stay open and show as overdue, as they would if nobody closed them."""
    clock = StoredClock(get_engine())
    directory = files.directory
    with session_scope() as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
    opens = sorted(
        r.planned_start
        for r in rows
        if r.completion_stage == "base-formation" and r.planned_start is not None
    )
    actions: dict[date, list[Action]] = {}
    if opens:
        actions[opens[0] + timedelta(days=7)] = [lambda: _import_questionnaires(files, cycle_id)]
    return YearScript(
        runs=_stages_by_hand(rows, cycle_id, clock),
        actions=actions,
        decisions={
            "training-attendance": ScriptedDecision(
                2, before=lambda: _import_attendance(directory, cycle_id)
            ),
            "pairing-review": ScriptedDecision(
                2, before=lambda: _record_consents(cycle_id, clock, leave_out=0)
            ),
            **{
                key: ScriptedDecision(2)
                for key in (
                    "preparation-orders",
                    "base-formation-registers",
                    "training-order",
                    "pairing-order",
                    "programmes-acknowledged",
                    "programmes-approval",
                    "completion-reports",
                    "final-event-nominations",
                    "final-event-orders",
                )
            },
        },
    )


def _stages_by_hand(
    rows: list[PlanItem], cycle_id: uuid.UUID, clock: StoredClock
) -> dict[date, list[RunAction]]:
    """The curator starts by hand a stage that a dated stage waits for and that no dated row
    starts: checked weekly from the waiting stage's first day, once its own prerequisites are
    met (as the warning of `roadmap check` says she would)."""
    dated = {
        r.completion_stage: r.planned_start
        for r in sorted(rows, key=lambda r: r.planned_start or date.max, reverse=True)
        if r.completion_kind == "stage" and r.completion_stage and r.planned_start is not None
    }
    runs: dict[date, list[RunAction]] = {}
    for stage, opens in dated.items():
        needed = STAGE_NEEDS.get(Stage(stage))
        if needed is None or needed.value in dated:
            continue
        for week in range(0, 52):
            day = opens + timedelta(weeks=week)
            if day > YEAR_END:
                break
            runs.setdefault(day, []).append(_start_by_hand(needed.value, cycle_id, clock))
    return runs


def _start_by_hand(stage: str, cycle_id: uuid.UUID, clock: StoredClock) -> RunAction:
    def action() -> RunRequest | None:
        with session_scope() as session:
            if tick.stage_started(session, cycle_id, stage):
                return None
            if missing_prerequisites(session=session, cycle_id=cycle_id, stage=stage):
                return None
            parameters = tick.stage_parameters(
                session=session, cycle_id=cycle_id, stage=stage, day=clock.today()
            )
        deployment = f"{stage}/{stage}"
        run_name, _ = run_label(deployment, dict(parameters["params"]))
        return RunRequest(
            deployment=deployment,
            parameters=dict(parameters),
            run_name=run_name or f"{stage} (вручную)",
            line=f"куратор запустил этап «{stage}» вручную: в дорожной карте он не датирован",
            idempotency_key=f"by-hand:{cycle_id}:{stage}",
        )

    return action


def _import_meetings(settings: Settings, cycle_id: uuid.UUID, month: date, today: date) -> str:
    """The curator imports the month's export of the online meeting form (all or nothing)."""
    from nastavnik import meetings_import

    with session_scope() as session:
        path, pairs_logged = demo_meetings.write_month_export(
            session=session,
            cycle_id=cycle_id,
            month=month,
            directory=settings.data_dir.resolve() / "demo" / "meetings",
        )
        report = meetings_import.import_meetings(
            session=session,
            cycle_id=cycle_id,
            path=path,
            max_bytes=settings.max_import_bytes,
            today=today,
        )
        if report.rejected:
            raise DemoError(f"{path.name}: {report.rejected[0]}")
    if not pairs_logged:
        return f"выгрузка формы встреч за {month_label(month).lower()}: пар ещё нет"
    return (
        f"куратор импортировал выгрузку формы встреч за {month_label(month).lower()}: "
        f"пар {pairs_logged}, встреч {report.meetings_recorded}, отзывов {report.feedback_recorded}"
    )


def _year_end(settings: Settings, cycle_id: uuid.UUID, clock: StoredClock, step: str) -> str:
    """A step of the year's end the school's people take (see deployments/demo_meetings.py)."""
    today, now = clock.today(), clock.now()
    with session_scope() as session:
        if step == "final-event-inputs":
            consents, described = demo_meetings.final_event_inputs(
                session=session, cycle_id=cycle_id, today=today, now=now
            )
            return f"наставники: согласий на публикацию {consents}, практик в банк {described}"
        if step.startswith("confirm:"):
            month = date.fromisoformat(step.removeprefix("confirm:"))
            confirmed = demo_meetings.confirm_monthly_reports(
                session=session, cycle_id=cycle_id, month=month, now=now
            )
            return (
                f"наставники подтвердили отчёты за {month_label(month).lower()} (п. 4.2): "
                f"{confirmed}"
            )
        if step == "nominations":
            nominated = demo_meetings.curator_nominations(
                session=session, cycle_id=cycle_id, today=today
            )
            return f"куратор выдвинул к поощрению наставников: {nominated}"
        if step == "reports":
            pairs_done, reports = demo_meetings.submit_completion_reports(
                session=session, cycle_id=cycle_id, today=today, now=now
            )
            return (
                f"отчёты по завершении (п. 2.13–2.14) по ссылкам: пар {pairs_done}, "
                f"отчётов {reports}"
            )
        held = demo_meetings.record_interviews(
            session=session,
            cycle_id=cycle_id,
            today=today,
            now=now,
            interviewer=DEMO_ORG["director_name"],
            count=10,
        )
        return f"директор провёл итоговые собеседования с наставляемыми (п. 3.1): {held}"


def _change(make: Any, cycle_id: uuid.UUID, clock: StoredClock) -> RunAction:
    """A change to a pair the curator asks for on the day (None when the pair is not there)."""

    def action() -> RunRequest | None:
        with session_scope() as session:
            request: RunRequest | None = make(
                session=session,
                cycle_id=cycle_id,
                on=clock.today(),
                organization_code=DEMO_ORG["code"],
                school_year=SCHOOL_YEAR,
            )
            return request

    return action


def year_script(*, settings: Settings, files: Any, cycle_id: uuid.UUID) -> YearScript:
    """What the demo school's curator and director do during the year, and when."""
    demo_dir = settings.data_dir.resolve() / "demo"
    clock = StoredClock(get_engine())  # the simulated day, as every process of the stack sees it

    def import_questionnaires() -> str:
        return _import_questionnaires(files, cycle_id)

    def import_attendance() -> str:
        return _import_attendance(demo_dir, cycle_id)

    def record_consents() -> str:
        return _record_consents(cycle_id, clock, leave_out=1)  # one signed form is missing

    def close(number: str, kind: str, evidence: str, actor: str) -> Action:
        def action() -> str:
            with session_scope() as session:
                item = plan.find_item(session=session, cycle_id=cycle_id, number=number)
                closed = plan.close_item(
                    session=session,
                    item_id=item.id,
                    today=clock.today(),
                    actor=actor,
                    evidence_kind=kind,
                    evidence=evidence,
                )
                return f"{actor} закрыл(а) пункт {number}: {plan.STATUS_RU[closed.status]}"

        return action

    def import_meetings(month: date) -> Action:
        return lambda: _import_meetings(settings, cycle_id, month, clock.today())

    def settle_occurrence(number: str, evidence: str) -> Action:
        """The curator closes the occurrence of a recurring item of the meetings stage whose
        window holds today with its evidence, if it is still open."""

        def action() -> str:
            today = clock.today()
            with session_scope() as session:
                row = plan.item_on(session=session, cycle_id=cycle_id, number=number, day=today)
                if row is None or row.status in CLOSED_STATUSES:
                    return ""
                row = plan.close_item(
                    session=session,
                    item_id=row.id,
                    today=today,
                    actor="куратор",
                    evidence_kind="note",
                    evidence=evidence,
                )
                status = plan.STATUS_RU[row.status]
                return f"куратор: пункт {number} ({row.occurrence}) — {status}: {evidence}"

        return action

    def year_end(step: str) -> Action:
        return lambda: _year_end(settings, cycle_id, clock, step)

    # The meetings year: each month's export imported on the 24th, October to May.
    meeting_months = demo_meetings.months(date(2026, 10, 1), date(2027, 5, 1))
    exports = {
        month.replace(day=demo_meetings.EXPORT_DAY): [import_meetings(month)]
        for month in meeting_months
    }
    # Item 9 (the pairs' meetings, once a month): the month's export is its evidence.
    for month in meeting_months[1:]:
        exports[month.replace(day=demo_meetings.EXPORT_DAY)].append(
            settle_occurrence(
                "9", f"Журналы встреч за {month_label(month).lower()} (выгрузка формы)"
            )
        )
    # Mentors confirm the month's report through their link within days of its assembly (item
    # 10, the reports by the 20th, is done by the curator's summary the tick makes on the 1st).
    confirmations = {
        progress.next_month(month).replace(day=3): [year_end(f"confirm:{month.isoformat()}")]
        for month in meeting_months[1:]
    }
    return YearScript(
        runs={
            # The termination frees a place (§2.5) that the replacement's candidates need: the
            # demo school's mentors of the pupils' form are all at three mentees by December.
            date(2027, 1, 18): [_change(demo_meetings.termination, cycle_id, clock)],
            date(2027, 2, 8): [_change(demo_meetings.replacement, cycle_id, clock)],
            date(2027, 3, 9): [_change(demo_meetings.extension, cycle_id, clock)],
        },
        actions={
            **exports,
            **confirmations,
            date(2026, 9, 7): [import_questionnaires],
            # Item 11, the curator's monitoring once a quarter, from the monthly summaries.
            **{
                day: [settle_occurrence("11", "Справка по итогам мониторинга за четверть")]
                for day in (date(2026, 12, 20), date(2027, 3, 20), date(2027, 5, 20))
            },
            # Late: the site section was due by 01.10.2026.
            date(2026, 10, 6): [
                close(
                    "3",
                    "link",
                    "https://school3-kedrovy.example.ru/nastavnichestvo",
                    "заместитель директора",
                )
            ],
            # Early: the briefing planned for November was held in October.
            date(2026, 10, 20): [
                close("6", "note", "Протокол № 2 инструктивного совещания наставников", "куратор")
            ],
            date(2027, 5, 25): [
                close("2", "file", "protokoly_roditelskih_sobranii_2026_2027.pdf", "куратор")
            ],
            # The mentors' consents to publication and their practices, before the year's end.
            date(2027, 5, 12): [year_end("final-event-inputs")],
            # The pairs ended on 31 May; their reports are due within ten days (§2.13–§2.14).
            date(2027, 6, 7): [year_end("reports")],
            # The extended pair ended on 15 June and reports the next day: every pair is then
            # settled and the tick starts the completion stage (item 13); the final event
            # (item 15, from 21 June) ranks the mentors with the questionnaires in.
            date(2027, 6, 16): [year_end("reports")],
            date(2027, 6, 17): [
                close("12", "note", "Отчёты сданы, кроме одной пары (в списке куратора)", "куратор")
            ],
            date(2027, 6, 15): [year_end("interviews")],
        },
        decisions={
            "preparation-orders": ScriptedDecision(1, comment="Утверждаю."),
            "base-formation-registers": ScriptedDecision(2, comment="Реестры утверждаю."),
            # Training takes a fortnight: the code expires, the tick issues a new one, the
            # director decides through the new link.
            "training-attendance": ScriptedDecision(
                16, comment="Обучение проведено.", before=import_attendance
            ),
            # The director lets the order wait: reminders on days 3 and 6, the curator on day 7.
            "training-order": ScriptedDecision(9, comment="Приказ подписан."),
            "pairing-review": ScriptedDecision(
                2, comment="Пары проверены, согласия собраны.", before=record_consents
            ),
            "pairing-order": ScriptedDecision(1),
            "programmes-acknowledged": ScriptedDecision(3, comment="Наставляемые ознакомлены."),
            "programmes-approval": ScriptedDecision(
                2, exceptions={2: "Уточните задачи на декабрь и январь."}
            ),
            "pair-replacement": ScriptedDecision(1, comment="Замену согласовываю."),
            "pair-extension": ScriptedDecision(1, comment="Продлить."),
            "pair-termination": ScriptedDecision(2, comment="Согласна."),
            "final-event-nominations": ScriptedDecision(
                1, comment="Выдвижение подтверждаю.", before=year_end("nominations")
            ),
            "final-event-orders": ScriptedDecision(1, comment="Приказы подписаны."),
            "completion-reports": ScriptedDecision(2, comment="Отчёты и справку утверждаю."),
        },
    )


def _print_year(console: Console, settings: Settings, cycle_id: uuid.UUID, log: Any) -> None:
    console.rule("Дорожная карта: итог года")
    with session_scope() as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
    table = Table("№", "Пункт", "Срок", "План", "Факт", "Статус", title="Выполнение дорожной карты")
    for row in rows:
        number = f"{row.number} ({row.occurrence})" if row.occurrence else row.number
        planned = (
            f"{row.planned_start:%d.%m}–{row.planned_end:%d.%m.%Y}"
            if row.planned_start and row.planned_end
            else "—"
        )
        actual = f"{row.actual_finish:%d.%m.%Y}" if row.actual_finish else "—"
        status = plan.STATUS_RU[row.status]
        title = row.title if len(row.title) <= 60 else row.title[:59] + "…"
        table.add_row(number, title, row.due_rule, planned, actual, status)
    console.print(table)
    console.print(
        f"Дней с событиями: {log.days_ticked}; решений по ссылкам: {log.decisions}; "
        f"писем от ежедневного шага: {log.messages}"
    )
    console.print(
        "Время по частям: "
        + ", ".join(f"{what} {seconds:.1f} с" for what, seconds in log.seconds.items())
    )
    with session_scope() as session:
        report = roadmap_report.status_report(session=session, cycle_id=cycle_id, today=YEAR_END)
    path = roadmap_report.save_report_pdf(settings=settings, report=report)
    console.print(f"Отчёт о выполнении дорожной карты с диаграммой Ганта: {path.resolve()}")
    console.print(
        f"Страница дорожной карты: {settings.web_base_url}/roadmap/{cycle_id} (после входа; "
        "учётная запись: nastavnik users add --email … --role curator --org <код>)"
    )


def _print_where(console: Console, settings: Settings, demo: Demo, seconds: float) -> None:
    from nastavnik.documents import document_file

    console.rule("Where everything is")
    run_ids = list(demo.runs.values())
    with session_scope() as session:
        docs = session.exec(
            select(Document)
            .where(col(Document.flow_run_id).in_(run_ids))
            .order_by(col(Document.created_at))
        ).all()
        table = Table("Документ", "Номер", "Статус", "Стр.", "Файл", title="Документы")
        by_type: dict[str, int] = {}
        for doc in docs:
            by_type[doc.doc_type] = by_type.get(doc.doc_type, 0) + 1
            if doc.doc_type in {"consent", "programme"} and by_type[doc.doc_type] > 2:
                continue
            path = document_file(settings=settings, document=doc).resolve()
            pages = str(doc.pages) if doc.pages else "—"  # a personal one: made on opening
            table.add_row(doc.title, doc.label, doc.status.value, pages, str(path))
    console.print(table)
    console.print(
        f"{len(docs)} documents in {(settings.documents_dir).resolve()} "
        f"(consent forms: {by_type.get('consent', 0)}, programmes: {by_type.get('programme', 0)};"
        " a personal document becomes a PDF when first opened)"
    )
    mails = sorted(settings.mail_dir.resolve().glob("*.eml"))
    console.print(f"E-mails (.eml): {settings.mail_dir.resolve()} ({len(mails)} files)")
    for stage, run_id in demo.runs.items():
        console.print(f"Prefect UI, {stage}: {demo.ui_url}/runs/flow-run/{run_id}")
    console.print(f"Demo complete in {seconds:.1f} s.")
