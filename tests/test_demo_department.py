"""`nastavnik demo --department --exit-when-done`: a department and three organisations of different
kinds run the year; then everything the department can see is searched for every mentee's name,
e-mail and birth date (issue 10 §5, §7)."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from tests.test_demo import PROJECT_ROOT, _free_port, _port_is_free, _processes_with, _stack_env

DEPARTMENT = "kedrovy-department"
DEPARTMENT_ADDRESSES = ("head@edu-kedrovy.example.ru", "nastavnik@edu-kedrovy.example.ru")
POSTGRES_URL = os.environ.get("NASTAVNIK_TEST_POSTGRES_URL")
MEMBERS = {"demo-school": "school", "kedrovy-college": "college", "kedrovy-centre": "centre"}


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _mail_text(path: Path) -> tuple[list[str], str]:
    """The message's recipients and sender, and its text with the text of its PDF attachments."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    addresses = [str(message.get(h, "")) for h in ("To", "From", "Cc")]
    parts = [str(message.get("Subject", ""))]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_content_type() == "application/pdf":
            parts.append(_pdf_text(payload))
        elif part.get_content_maintype() == "text" or part.get_content_type() == "application/json":
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return addresses, "\n".join(parts)


def _json(value: object) -> object:
    """A JSON column as Python: SQLite gives its text, PostgreSQL the decoded value."""
    return json.loads(value) if isinstance(value, str) else value


def department_visible(data: Path, databases: Databases) -> dict[str, str]:
    """Everything the department sees, by where it is: its documents, the reports it received
    (payload and PDF), its dashboard page, its e-mails, and the Prefect artifacts and logs of its
    own runs and of the organisations' report runs."""
    from sqlmodel import Session, select

    from models import Document, Organization, ReportSubmission
    from nastavnik import dashboard, web
    from nastavnik.db import make_engine
    from nastavnik.documents import document_file
    from nastavnik.settings import Settings

    seen: dict[str, str] = {}
    settings = Settings(data_dir=data)
    engine = make_engine(databases.app)
    with Session(engine) as session:
        department = session.exec(select(Organization).where(Organization.code == DEPARTMENT)).one()
        for document in session.exec(
            select(Document).where(Document.organization_id == department.id)
        ):
            path = document_file(settings=settings, document=document)
            seen[f"document {document.title}"] = _pdf_text(path.read_bytes())
        for submission in session.exec(select(ReportSubmission)):
            seen[f"payload {submission.id}"] = json.dumps(submission.payload, ensure_ascii=False)
            pdf = data / submission.pdf_path  # stored relative to the data directory
            seen[f"report pdf {submission.id}"] = _pdf_text(pdf.read_bytes())
    now = datetime(2027, 8, 31, 12, tzinfo=UTC)
    app = web.create_app(
        settings=settings, engine=engine, resume=lambda *a, **k: None, clock=lambda: now
    )
    token = dashboard.dashboard_token(
        secret=settings.approval_secret(), department_code=DEPARTMENT, now=now
    )
    with TestClient(app) as client:
        page = client.get(f"/department/{DEPARTMENT}", params={"token": token, "year": "2026/2027"})
        assert page.status_code == 200, page.text[:500]
        seen["dashboard page"] = page.text
    for path in sorted((data / "mail").glob("*.eml")):
        # Headers first: only the department's mail and the analytic report's are read whole.
        headers = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        people = " ".join(str(headers.get(h, "")) for h in ("To", "From", "Cc"))
        if (
            any(a in people for a in DEPARTMENT_ADDRESSES)
            or "аналитическ" in str(headers.get("Subject", "")).lower()
        ):
            seen[f"mail {path.name}"] = _mail_text(path)[1]
    prefect = create_engine(databases.prefect)
    with prefect.connect() as connection:
        runs = {
            str(run_id)
            for run_id, tags in connection.execute(text("SELECT id, tags FROM flow_run"))
            if DEPARTMENT in _json(tags) or "organisation-report" in _json(tags)  # type: ignore[operator]
        }
        artifacts = connection.execute(
            text("SELECT flow_run_id, key, description, data FROM artifact")
        ).all()
        logs = connection.execute(text("SELECT flow_run_id, message FROM log")).all()
    prefect.dispose()
    for number, (run_id, key, description, data_) in enumerate(artifacts):
        if str(run_id) not in runs and not str(key or "").startswith("department-"):
            continue
        # Table artifacts are JSON with Cyrillic escaped: decode before searching.
        try:
            decoded = json.dumps(_json(data_), ensure_ascii=False)
        except (TypeError, ValueError):
            decoded = str(data_)
        seen[f"artifact {key} {number}"] = f"{description}\n{decoded}"
    seen["logs"] = "\n".join(message for run_id, message in logs if str(run_id) in runs)
    return seen


def mentee_identifiers(databases: Databases) -> set[str]:
    """Every mentee's «Фамилия Имя», e-mail and birth date (both spellings) in all organisations."""
    found: set[str] = set()
    for last, first, email_, born in _rows(
        databases.app,
        "SELECT p.last_name, p.first_name, p.email, p.birth_date FROM person p "
        "JOIN participant x ON x.person_id = p.id WHERE x.role = 'mentee'",
    ):
        found.add(f"{last} {first}")
        if email_:
            found.add(email_)
        if born:
            day = born if isinstance(born, date) else date.fromisoformat(born)
            found |= {day.isoformat(), f"{day:%d.%m.%Y}"}
    return found


@dataclass(frozen=True)
class Databases:
    """Where the demo left the application's and Prefect's data (SQLAlchemy URLs)."""

    app: str
    prefect: str


def _rows(url: str, query: str, **parameters: object) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), parameters)]
    finally:
        engine.dispose()


@pytest.fixture
def demo_run(tmp_path: Path) -> Iterator[tuple[list[str], Databases | None]]:
    """The demo's extra arguments and, on PostgreSQL, its databases (dropped afterwards)."""
    if not POSTGRES_URL:
        yield [], None
        return
    server = POSTGRES_URL.rsplit("/", 1)[0]
    name = f"demo_department_{uuid.uuid4().hex[:8]}"
    yield (
        [
            "--postgres",
            server.replace("postgresql+psycopg://", "postgresql://"),
            "--databases",
            name,
        ],
        Databases(app=f"{server}/{name}", prefect=f"{server}/{name}_prefect"),
    )
    import psycopg

    admin = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        for database in (name, f"{name}_prefect"):
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.flows
def test_the_department_demo_runs_its_year_and_shows_the_department_no_child(
    tmp_path: Path, demo_run: tuple[list[str], Databases | None]
) -> None:
    """On PostgreSQL (CI) the year runs on the production layout with two workers, one of them
    lost with its pairing run and the SMTP relay down, both in November (issue 11 §2, §5)."""
    extra, on_postgres = demo_run
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    result = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "demo", "--department", "--exit-when-done"]
        + extra,
        cwd=PROJECT_ROOT,
        env=_stack_env(tmp_path, ports),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "Demo complete" in result.stdout
    data = tmp_path / "data"
    databases = on_postgres or Databases(
        app=f"sqlite:///{data / 'nastavnik.db'}",
        prefect=f"sqlite:///{data / 'prefect' / 'prefect.db'}",
    )
    app = databases.app
    kinds = dict(_rows(app, "SELECT code, kind FROM organization"))
    submissions: dict[Any, list[tuple[Any, str]]] = {}
    for request_id, submitted_on, transport in _rows(
        app, "SELECT request_id, submitted_on, transport FROM reportsubmission"
    ):
        submissions.setdefault(request_id, []).append((submitted_on, transport))
    requests = [
        (code, kind, due, [s for s, _ in found], [t for _, t in found])
        for request_id, code, kind, due in _rows(
            app,
            "SELECT r.id, o.code, r.kind, r.due_on FROM reportrequest r "
            "JOIN organization o ON o.id = r.organization_id",
        )
        for found in [submissions.get(request_id, [])]
    ]
    department_docs = dict(
        _rows(
            app,
            "SELECT d.doc_type, d.status FROM document d JOIN organization o "
            "ON o.id = d.organization_id WHERE o.code = :code",
            code=DEPARTMENT,
        )
    )
    plan = dict(
        _rows(
            app,
            "SELECT p.number, p.status FROM planitem p JOIN cycle c ON c.id = p.cycle_id "
            "JOIN organization o ON o.id = c.organization_id WHERE o.code = :code",
            code=DEPARTMENT,
        )
    )
    outbox = dict(_rows(app, "SELECT status, count(*) FROM outboxmessage GROUP BY status"))
    retries = _rows(app, "SELECT count(*) FROM auditevent WHERE action = 'delivery.retry'")[0][0]
    if on_postgres:
        # November: a worker's machine lost with the pairing run it was running; the layout's
        # supervisor started the worker again, Prefect's crash detection marked the run
        # Crashed, and the year continued it as the same run.
        assert "потерян вместе с запуском" in result.stdout, result.stdout[-3000:]
        assert "продолжен тот же запуск" in result.stdout
        crashed = _rows(
            databases.prefect,
            "SELECT count(DISTINCT flow_run_id) FROM flow_run_state WHERE type = 'CRASHED'",
        )[0][0]
        assert crashed >= 1
        # November: the relay down; what it refused waited and went out later, each once (below).
        assert "SMTP-релей снова доступен" in result.stdout
        assert _rows(app, "SELECT count(*) FROM outboxmessage WHERE attempts > 1")[0][0] >= 1
    # No document made twice: each (organisation, type, title, content) once.
    documents = _rows(app, "SELECT organization_id, doc_type, title, content_hash FROM document")
    assert len(documents) == len(set(documents))
    # A department with three organisations of different kinds.
    assert kinds[DEPARTMENT] == "department"
    assert {code: kinds[code] for code in MEMBERS} == MEMBERS
    # Three requests to each organisation, each answered once, through the database.
    assert len(requests) == 9
    assert all(transports == ["database"] for *_, transports in requests)
    late = [(code, kind) for code, kind, due, submitted, _ in requests if submitted[0] > due]
    assert late == [("kedrovy-centre", "final")]
    # The informational-analytic report and the order on the year's results, approved.
    assert department_docs == {"report": "approved", "order": "approved"}
    assert plan["1."] == plan["2."] == "done" and plan["3."] == "done_late"
    assert plan["4."] in ("done", "done_late") and plan["5."] in ("done", "done_late")
    # The analytic report's e-mail to the college failed with 550; the operator retried it and
    # every message ended up delivered, each once.
    assert retries >= 1 and set(outbox) == {"sent"}
    eml_ids = [
        email.message_from_bytes(p.read_bytes())["Message-ID"]
        for p in (data / "mail").glob("*.eml")
    ]
    assert len(eml_ids) == len(set(eml_ids)) == outbox["sent"]

    # Nothing the department sees names a mentee, gives their e-mail or birth date.
    visible = department_visible(data, databases)
    assert any(k.startswith("artifact department-") for k in visible)
    assert any(k.startswith("report pdf") for k in visible)
    identifiers = mentee_identifiers(databases)
    assert len(identifiers) > 200
    leaks = {
        where: sorted(i for i in identifiers if i in text)
        for where, text in visible.items()
        if any(i in text for i in identifiers)
    }
    assert leaks == {}
    assert all(_port_is_free(port) for port in ports.values())
    assert _processes_with(str(data)) == []
