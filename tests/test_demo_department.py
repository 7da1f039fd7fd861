"""`nastavnik demo --department --exit-when-done`: a department and three organisations of different
kinds run the year; then everything the department can see is searched for every mentee's name,
e-mail and birth date (issue 10 §5, §7)."""

from __future__ import annotations

import email
import email.policy
import io
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.test_demo import PROJECT_ROOT, _free_port, _port_is_free, _processes_with, _stack_env

DEPARTMENT = "kedrovy-department"
DEPARTMENT_ADDRESSES = ("head@edu-kedrovy.example.ru", "nastavnik@edu-kedrovy.example.ru")
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


def department_visible(data: Path) -> dict[str, str]:
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
    engine = make_engine(f"sqlite:///{data / 'nastavnik.db'}")
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
    with sqlite3.connect(data / "prefect" / "prefect.db") as prefect:
        runs = [
            run_id
            for run_id, tags in prefect.execute("SELECT id, tags FROM flow_run")
            if DEPARTMENT in json.loads(tags) or "organisation-report" in json.loads(tags)
        ]
        marks = ",".join("?" for _ in runs)
        for number, (key, description, data_) in enumerate(
            prefect.execute(
                f"SELECT key, description, data FROM artifact WHERE flow_run_id IN ({marks}) "
                "OR key LIKE ?",
                [*runs, "department-%"],
            )
        ):
            # Table artifacts are JSON with Cyrillic escaped: decode before searching.
            try:
                text = json.dumps(json.loads(data_), ensure_ascii=False)
            except (TypeError, ValueError):
                text = str(data_)
            seen[f"artifact {key} {number}"] = f"{description}\n{text}"
        seen["logs"] = "\n".join(
            message
            for (message,) in prefect.execute(
                f"SELECT message FROM log WHERE flow_run_id IN ({marks})", runs
            )
        )
    return seen


def mentee_identifiers(data: Path) -> set[str]:
    """Every mentee's «Фамилия Имя», e-mail and birth date (both spellings) in all organisations."""
    found: set[str] = set()
    with sqlite3.connect(data / "nastavnik.db") as db:
        for last, first, email_, born in db.execute(
            "SELECT p.last_name, p.first_name, p.email, p.birth_date FROM person p "
            "JOIN participant x ON x.person_id = p.id WHERE x.role = 'mentee'"
        ):
            found.add(f"{last} {first}")
            if email_:
                found.add(email_)
            if born:
                day = date.fromisoformat(born)
                found |= {day.isoformat(), f"{day:%d.%m.%Y}"}
    return found


@pytest.mark.flows
def test_the_department_demo_runs_its_year_and_shows_the_department_no_child(
    tmp_path: Path,
) -> None:
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    result = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "demo", "--department", "--exit-when-done"],
        cwd=PROJECT_ROOT,
        env=_stack_env(tmp_path, ports),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "Demo complete" in result.stdout
    data = tmp_path / "data"
    with sqlite3.connect(data / "nastavnik.db") as db:
        kinds = dict(db.execute("SELECT code, kind FROM organization"))
        requests = list(
            db.execute(
                "SELECT o.code, r.kind, r.due_on, min(s.submitted_on), count(s.id), "
                "group_concat(s.transport) FROM reportrequest r "
                "JOIN organization o ON o.id = r.organization_id "
                "LEFT JOIN reportsubmission s ON s.request_id = r.id GROUP BY r.id"
            )
        )
        department_docs = dict(
            db.execute(
                "SELECT d.doc_type, d.status FROM document d JOIN organization o "
                "ON o.id = d.organization_id WHERE o.code = ?",
                (DEPARTMENT,),
            )
        )
        plan = dict(
            db.execute(
                "SELECT p.number, p.status FROM planitem p JOIN cycle c ON c.id = p.cycle_id "
                "JOIN organization o ON o.id = c.organization_id WHERE o.code = ?",
                (DEPARTMENT,),
            )
        )
        outbox = dict(db.execute("SELECT status, count(*) FROM outboxmessage GROUP BY 1"))
        retries = db.execute(
            "SELECT count(*) FROM auditevent WHERE action = 'delivery.retry'"
        ).fetchone()[0]
    # A department with three organisations of different kinds.
    assert kinds[DEPARTMENT] == "department"
    assert {code: kinds[code] for code in MEMBERS} == MEMBERS
    # Three requests to each organisation, each answered once, through the database.
    assert len(requests) == 9
    assert all(count == 1 and transports == "database" for *_, count, transports in requests)
    late = [(code, kind) for code, kind, due, submitted, *_ in requests if submitted > due]
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
    visible = department_visible(data)
    assert any(k.startswith("artifact department-") for k in visible)
    assert any(k.startswith("report pdf") for k in visible)
    identifiers = mentee_identifiers(data)
    assert len(identifiers) > 200
    leaks = {
        where: sorted(i for i in identifiers if i in text)
        for where, text in visible.items()
        if any(i in text for i in identifiers)
    }
    assert leaks == {}
    assert all(_port_is_free(port) for port in ports.values())
    assert _processes_with(str(data)) == []
