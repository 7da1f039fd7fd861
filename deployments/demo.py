"""The main job: a demo school's year from base formation to pairing, every decision by link."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlmodel import col, select

from deployments.demo_data import write_demo_attendance, write_demo_questionnaires
from models import ApprovalRequest, Document
from nastavnik import pairing, repository, training
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import Settings

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
LINK = re.compile(r"https?://\S+/approvals/[0-9a-f-]{36}\?code=[0-9]+-[A-Z2-7]{24}")
TABLE_TITLES = {
    "questionnaire-import": "Импорт анкет",
    "questionnaire-errors": "Отклонённые строки анкет",
    "consents-missing": "Нет необходимых согласий: в реестры не включены",
    "training-demand": "Потребность в наставниках по формам",
    "training-results": "Результаты обучения",
    "pairing-blocked-1": "Не вошли в приказ: нет письменного согласия",
    "programmes-decision": "Решение по персональным программам",
}


class DemoError(RuntimeError):
    """A step of the demo did not end as expected."""


def approval_link_from_mail(
    mail_dir: Path, to_addr: str, request_id: uuid.UUID, timeout: float = 60
) -> tuple[str, Path]:
    """The one-click link in the approver's e-mail for this request, as the approver sees it."""
    deadline = time.monotonic() + timeout
    seen: set[Path] = set()
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            if path in seen:
                continue
            seen.add(path)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to_addr not in str(message["To"]):
                continue
            body = message.get_body(preferencelist=("plain",))
            match = LINK.search(body.get_content() if body else "")  # type: ignore[attr-defined]
            if match and str(request_id) in match.group(0):
                return match.group(0), path
        time.sleep(0.5)
    raise TimeoutError(f"no approval e-mail to {to_addr} arrived in {mail_dir}")


def decide_by_link(
    link: str,
    *,
    approver_name: str,
    decision: str = "approve",
    comment: str = "",
    exceptions: dict[int, str] | None = None,
) -> None:
    """Open the link and press the decision's button, as the approver does in a browser."""
    page = httpx.get(link, timeout=30)
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
    answer = httpx.post(httpx.URL(link).join(form_action.group(1)), data=data, timeout=60)
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


def run_demo(*, settings: Settings, console: Console, exit_when_done: bool) -> int:
    """Generate the demo school and run its stages on the embedded stack; returns the exit code."""
    from deployments.stack import EmbeddedStack

    started = time.monotonic()
    files = write_demo_questionnaires(settings.data_dir.resolve() / "demo")
    with session_scope() as session:
        repository.upsert_organization(session=session, **DEMO_ORG)
    console.rule("Наставник — демо: формирование базы → обучение наставников → пары")
    stack = EmbeddedStack(settings)
    console.print("Starting the embedded stack (Prefect server, runner, SMTP sink, web)…")
    stack.start()
    demo = Demo(settings=settings, console=console, ui_url=stack.ui_url)
    try:
        today = date.today().isoformat()
        _base_formation(demo, files, today)
        _training(demo, today)
        _pairing(demo, today)
        _print_where(console, settings, demo, time.monotonic() - started)
    except (DemoError, TimeoutError) as error:
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


def _base_formation(demo: Demo, files: Any, today: str) -> None:
    run_id = demo.start(
        "base-formation",
        mentee_files=[str(p) for p in files.mentee_files],
        mentor_files=[str(p) for p in files.mentor_files],
        reference_date=today,
    )
    demo.wait(run_id, "base-formation-registers-1")
    demo.show_tables(run_id, ["questionnaire-import", "questionnaire-errors", "consents-missing"])
    demo.decide(run_id, "base-formation-registers", comment="Реестры утверждаю.")
    demo.wait(run_id)


def _training(demo: Demo, today: str) -> None:
    run_id = demo.start("training", reference_date=today)
    demo.wait(run_id, "training-attendance-1")
    demo.show_tables(run_id, ["training-demand"])
    # The curator enters the attendance of the sessions held (as `nastavnik attendance` does).
    with session_scope() as session:
        cycle_id = _cycle_id(session)
        path = write_demo_attendance(
            demo.settings.data_dir.resolve() / "demo", session=session, cycle_id=cycle_id
        )
    report = training.import_attendance_transaction(
        engine=get_engine(), cycle_id=cycle_id, path=path, max_bytes=10_000_000
    )
    demo.console.print(
        f"Attendance {path.name}: {report.accepted} marks, {report.rejected_rows} row rejected: "
        + "; ".join(str(e) for e in report.rejected)
    )
    demo.decide(run_id, "training-attendance", comment="Обучение проведено.")
    demo.wait(run_id, "training-order-1")
    demo.show_tables(run_id, ["training-results"])
    demo.decide(run_id, "training-order")
    demo.wait(run_id)


def _pairing(demo: Demo, today: str) -> None:
    run_id = demo.start("pairing", reference_date=today, starts_on=today)
    demo.wait(run_id, "pairing-review-1-1")
    demo.show_tables(run_id, ["pairing-draft-1", "pairing-search-list-1"], limit=8)
    # Signed consent forms come back (as `nastavnik consent` records them); one is still missing.
    with session_scope() as session:
        cycle_id = _cycle_id(session)
        forms = pairing.consent_form_rows(session=session, cycle_id=cycle_id)
        for form in forms[:-1]:
            pairing.record_participation_consent(
                session=session,
                cycle_id=cycle_id,
                participant_id=form["participant_id"],
                given_on=date.fromisoformat(today),
                source="demo",
            )
    demo.console.print(f"Written consents (§2.6) recorded: {len(forms) - 1} of {len(forms)}")
    demo.decide(run_id, "pairing-review-1", comment="Пары проверены, согласия собраны.")
    demo.wait(run_id, "pairing-order-1-1")
    demo.show_tables(run_id, ["pairing-blocked-1"])
    demo.decide(run_id, "pairing-order-1")
    demo.decide(run_id, "programmes-acknowledged", comment="Наставляемые ознакомлены.")
    demo.decide(
        run_id, "programmes-approval", exceptions={2: "Уточните задачи на декабрь и январь."}
    )
    demo.wait(run_id)
    demo.show_tables(run_id, ["programmes-decision"])


def _cycle_id(session: Any) -> uuid.UUID:
    org = repository.get_organization(session=session, code=DEMO_ORG["code"])
    return repository.get_or_create_cycle(
        session=session, organization_id=org.id, school_year=SCHOOL_YEAR
    ).id


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
            table.add_row(doc.title, doc.label, doc.status.value, str(doc.pages), str(path))
    console.print(table)
    console.print(
        f"{len(docs)} PDFs in {(settings.documents_dir).resolve()} "
        f"(consent forms: {by_type.get('consent', 0)}, programmes: {by_type.get('programme', 0)})"
    )
    mails = sorted(settings.mail_dir.resolve().glob("*.eml"))
    console.print(f"E-mails (.eml): {settings.mail_dir.resolve()} ({len(mails)} files)")
    for stage, run_id in demo.runs.items():
        console.print(f"Prefect UI, {stage}: {demo.ui_url}/runs/flow-run/{run_id}")
    console.print(f"Demo complete in {seconds:.1f} s.")
