"""The main job: a demo school's base formation on the embedded stack, approved by link."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from models import ApprovalRequest, Document
from nastavnik import repository
from nastavnik.db import session_scope
from nastavnik.demo_data import write_demo_questionnaires
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


def _approval_link_from_mail(
    mail_dir: Path, to_addr: str, request_id: uuid.UUID, timeout: float = 60
) -> tuple[str, Path]:
    """The one-click link in the director's e-mail for this request, as the director sees it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to_addr not in str(message["To"]):
                continue
            body = message.get_body(preferencelist=("plain",))
            match = LINK.search(body.get_content() if body else "")
            if match and str(request_id) in match.group(0):
                return match.group(0), path
        time.sleep(0.5)
    raise TimeoutError(f"no approval e-mail to {to_addr} arrived in {mail_dir}")


def run_demo(*, settings: Settings, console: Console, exit_when_done: bool) -> int:
    """Generate the demo school, run base formation, approve by link; returns the exit code."""
    from deployments.prefect_api import start_deployment, wait_for_state
    from deployments.stack import EmbeddedStack

    started = time.monotonic()
    demo_dir = settings.data_dir.resolve() / "demo"
    files = write_demo_questionnaires(demo_dir)
    with session_scope() as session:
        repository.upsert_organization(session=session, **DEMO_ORG)
    console.rule("Наставник — демо: формирование базы наставляемых и наставников")
    stack = EmbeddedStack(settings)
    console.print("Starting the embedded stack (Prefect server, runner, SMTP sink, web)…")
    stack.start()
    try:
        params = {
            "organization_code": DEMO_ORG["code"],
            "school_year": SCHOOL_YEAR,
            "mentee_files": [str(p) for p in files.mentee_files],
            "mentor_files": [str(p) for p in files.mentor_files],
            "reference_date": date.today().isoformat(),
        }
        run_id = asyncio.run(start_deployment("base-formation/base-formation", {"params": params}))
        run_url = f"{stack.ui_url}/runs/flow-run/{run_id}"
        console.print(f"Flow run started: {run_url}")
        run = asyncio.run(wait_for_state(run_id, names={"Suspended"}, timeout=300))
        if run.state is None or run.state.name != "Suspended":
            console.print(
                f"[red]The run ended as {run.state.name if run.state else '?'}; "
                f"see {run_url} and {stack.logs_dir}[/]"
            )
            return 1
        request_id = _print_import_summary(console, run_id)
        link, eml = _approval_link_from_mail(
            settings.mail_dir, DEMO_ORG["director_email"], request_id
        )
        console.print(f"Director's e-mail: {eml.resolve()}")
        console.print(f"Approval link:     {link}")
        approve_by_link(link, approver_name=DEMO_ORG["director_name"], comment="Реестры утверждаю.")
        console.print("Approved through the link as the director; waiting for the run…")
        run = asyncio.run(wait_for_state(run_id, names={"Completed"}, timeout=300))
        if run.state is None or not run.state.is_completed():
            console.print(f"[red]The run ended as {run.state.name if run.state else '?'}[/]")
            return 1
        _print_where(console, settings, run_id, run_url, time.monotonic() - started)
        if exit_when_done:
            return 0
        console.print("The stack stays up for browsing; Ctrl-C stops it.")
        from nastavnik.cli import _wait_for_interrupt

        _wait_for_interrupt()
        return 0
    finally:
        stack.stop()


def approve_by_link(link: str, *, approver_name: str, comment: str) -> None:
    """Open the link and press «Утвердить», as the director does in a browser."""
    page = httpx.get(link, timeout=30)
    page.raise_for_status()
    form_action = re.search(r'action="([^"]+)"', page.text)
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    if not form_action or not code:
        raise RuntimeError(f"the approval page at {link} has no decision form")
    target = httpx.URL(link).join(form_action.group(1))
    answer = httpx.post(
        target,
        data={
            "code": code.group(1),
            "decision": "approve",
            "approver_name": approver_name,
            "comment": comment,
        },
        timeout=60,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"approval refused ({answer.status_code}): {answer.text[:300]}")


def _print_import_summary(console: Console, run_id: uuid.UUID) -> uuid.UUID:
    """Show what the flow's artifacts say: files imported, rows rejected, consents missing."""
    from deployments.prefect_api import read_table_artifacts

    tables = asyncio.run(read_table_artifacts(run_id))
    titles = {
        "questionnaire-import": "Импорт анкет",
        "questionnaire-errors": "Отклонённые строки анкет",
        "consents-missing": "Нет необходимых согласий: в реестры не включены",
    }
    for key, title in titles.items():
        rows = tables.get(key, [])
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=title)
        for row in rows:
            table.add_row(*(str(value) for value in row.values()))
        console.print(table)
    with session_scope() as session:
        request = session.exec(
            select(ApprovalRequest).where(ApprovalRequest.flow_run_id == run_id)
        ).one()
    console.print(f"Waiting for the director: {request.title}")
    console.print(f"  {request.summary}")
    return request.id


def _print_where(
    console: Console, settings: Settings, run_id: uuid.UUID, run_url: str, seconds: float
) -> None:
    from nastavnik.documents import document_file

    table = Table("Документ", "Номер", "Дата", "Статус", "Страниц", title="Документы")
    paths = []
    with session_scope() as session:
        docs = session.exec(select(Document).where(Document.flow_run_id == run_id)).all()
        for doc in docs:
            table.add_row(
                doc.title, doc.label, f"{doc.doc_date:%d.%m.%Y}", doc.status.value, str(doc.pages)
            )
            paths.append(document_file(settings=settings, document=doc).resolve())
    console.print(table)
    console.print("PDF files:")
    for path in paths:
        console.print(f"  {path}")
    mails = sorted(settings.mail_dir.resolve().glob("*.eml"))
    console.print(f"E-mails (.eml): {settings.mail_dir.resolve()} ({len(mails)} files)")
    for path in mails[-5:]:
        console.print(f"  {path.name}")
    console.print(f"Prefect UI run: {run_url}")
    console.print(f"Base formation complete in {seconds:.1f} s.")
