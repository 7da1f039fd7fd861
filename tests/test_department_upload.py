"""Reports uploaded over HTTPS to the department (issue 10 §2): the organisation's token as Bearer,
401 on a wrong one, 422 with the reason on a refused report, a repeated upload stored once; and
the department's CLI taking a report from files or a saved e-mail."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from models import ReportSubmission, ReportTransport
from nastavnik.report_envelope import ReportRefused, signing_token, upload_report
from nastavnik.settings import Settings, get_settings
from nastavnik.web import create_app
from tests.department_support import NOW, Department, build_department, signed

PDF = b"%PDF-1.7 uploaded"
URL = "https://edu-kedrovy.example"


@pytest.fixture
def department(engine: Engine, cycle_ids: tuple) -> Department:
    return build_department(engine, cycle_ids)


async def _no_resume(*_: Any) -> None:
    raise AssertionError("nothing is resumed here")


@pytest.fixture
def web(engine: Engine, settings: Settings) -> TestClient:
    app = create_app(settings=settings, engine=engine, resume=_no_resume, clock=lambda: NOW)
    return TestClient(app)


def through(client: TestClient) -> httpx.MockTransport:
    """upload_report's HTTP, handed to the department's app."""

    def handle(request: httpx.Request) -> httpx.Response:
        return client.request(
            request.method, request.url.path, headers=request.headers, content=request.content
        )

    return httpx.MockTransport(handle)


def stored(engine: Engine) -> list[ReportSubmission]:
    with Session(engine) as session:
        return list(session.exec(select(ReportSubmission)))


def test_an_upload_repeated_is_stored_once(
    engine: Engine, settings: Settings, department: Department, web: TestClient
) -> None:
    envelope = signed(engine, settings, pdf=PDF)
    token = signing_token(settings=settings, organization_code="school-7")
    first = upload_report(
        envelope=envelope, pdf=PDF, department_url=URL, token=token, transport=through(web)
    )
    assert first["status"] == "stored"
    # The answer was lost and the organisation uploads again: the same submission.
    again = upload_report(
        envelope=envelope, pdf=PDF, department_url=URL + "/", token=token, transport=through(web)
    )
    assert again == {**first, "status": "already stored"}
    [submission] = stored(engine)
    assert submission.transport == ReportTransport.upload
    assert str(submission.id) == first["submission_id"]


def test_a_wrong_token_is_401_and_a_refused_report_422(
    engine: Engine, settings: Settings, department: Department, web: TestClient
) -> None:
    envelope = signed(engine, settings, pdf=PDF)
    files = {"envelope": ("e.json", json.dumps(envelope)), "pdf": ("r.pdf", PDF)}
    answer = web.post("/department/reports", files=files)
    assert answer.status_code == 401
    other = signing_token(settings=settings, organization_code="school-8")
    answer = web.post(
        "/department/reports", files=files, headers={"Authorization": f"Bearer {other}"}
    )
    assert answer.status_code == 401
    with pytest.raises(ReportRefused, match="401"):
        upload_report(
            envelope=envelope, pdf=PDF, department_url=URL, token=other, transport=through(web)
        )
    token = signing_token(settings=settings, organization_code="school-7")
    tampered = copy.deepcopy(envelope)
    tampered["payload"]["figures"]["meetings_held"] = 99
    answer = web.post(
        "/department/reports",
        files={"envelope": ("e.json", json.dumps(tampered)), "pdf": ("r.pdf", PDF)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert "подпись отчёта не сходится" in answer.json()["error"]
    answer = web.post(
        "/department/reports",
        files={"envelope": ("e.json", json.dumps(envelope)), "pdf": ("r.pdf", b"%PDF other")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422 and "PDF отчёта не тот" in answer.json()["error"]
    assert stored(engine) == []


@pytest.fixture
def cli_env(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine
) -> Iterator[None]:
    """The CLI's settings and database: the test's SQLite file and data dir."""
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_prints_the_token_and_receives_files_once(
    engine: Engine,
    sqlite_engine: Engine,
    settings: Settings,
    cycle_ids: tuple,
    cli_env: None,
    tmp_path: Path,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs on the SQLite file the command line opens")
    from deployments.cli import app

    build_department(sqlite_engine, cycle_ids)
    runner = CliRunner()
    token = runner.invoke(app, ["department", "token", "school-7"])
    assert token.exit_code == 0, token.output
    assert token.output.strip() == signing_token(settings=settings, organization_code="school-7")
    envelope_file, pdf_file = tmp_path / "report.json", tmp_path / "report.pdf"
    envelope_file.write_text(json.dumps(signed(sqlite_engine, settings, pdf=PDF)))
    pdf_file.write_bytes(PDF)
    first = runner.invoke(app, ["department", "receive", str(envelope_file), str(pdf_file)])
    assert first.exit_code == 0 and "принят" in first.output, first.output
    again = runner.invoke(app, ["department", "receive", str(envelope_file), str(pdf_file)])
    assert again.exit_code == 0 and "уже был принят" in again.output
    pdf_file.write_bytes(b"%PDF changed")
    refused = runner.invoke(app, ["department", "receive", str(envelope_file), str(pdf_file)])
    assert refused.exit_code == 1 and "PDF отчёта не тот" in refused.output
    with Session(sqlite_engine) as session:
        assert session.exec(select(func.count()).select_from(ReportSubmission)).one() == 1


@pytest.fixture
def school_installation(tmp_path: Path) -> Iterator[Engine]:
    """school-7's own installation: its database with build_school's cycle, no department."""
    from nastavnik import repository
    from nastavnik.db import make_engine, migrate
    from tests.final_event_school import build_school

    engine = make_engine(f"sqlite:///{tmp_path / 'school.db'}")
    migrate(engine)
    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-7",
            name="МБОУ «Средняя школа № 7»",
            short_name="СШ № 7",
            director_name="Иванова Мария Петровна",
            director_email="director@school7.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school7.example",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        session.commit()
        ids = (org.id, cycle.id)
    build_school(engine, ids)
    yield engine
    engine.dispose()


def test_another_installation_uploads_or_mails_its_report_and_it_is_stored_once(
    engine: Engine,
    settings: Settings,
    department: Department,
    web: TestClient,
    school_installation: Engine,
    tmp_path: Path,
) -> None:
    from pydantic import SecretStr

    from models import Cycle
    from nastavnik import mail
    from nastavnik.report_envelope import (
        build_report,
        describe_request,
        issue_report_pdf,
        receive,
        report_attachments,
        submit_report,
    )
    from tests.department_support import DIRECTOR, KEY_7, REPORT_DAY

    given = signing_token(settings=settings, organization_code="school-7")  # by the department
    school_settings = Settings(
        data_dir=tmp_path / "school-data",
        database_url=f"sqlite:///{tmp_path / 'school.db'}",
        secret_key="school-secret-key-0123456789abcdef",
        department_token=SecretStr(given),
        department_url=URL,
    )
    with Session(school_installation) as session:
        # The request came by mail: its key, kind and the department's code are typed in.
        info = describe_request(
            session=session,
            request_key=KEY_7,
            organization_code="school-7",
            kind="information",
            school_year="2026/2027",
            department_code="edu-kedrovy",
        )
        report = build_report(session=session, request=info, today=REPORT_DAY, approved_by=DIRECTOR)
        cycle_id = session.exec(select(Cycle.id)).one()
        document = issue_report_pdf(
            session=session,
            settings=school_settings,
            request=info,
            report=report,
            cycle_id=cycle_id,
            doc_date=REPORT_DAY,
        )
        outcomes = [
            submit_report(
                session=session,
                settings=school_settings,
                request=info,
                report=report,
                document_id=document.id,
                now=NOW,
                http_transport=through(web),
            )
            for _ in range(2)  # the task retried after a lost answer
        ]
        assert [(o.transport, o.status) for o in outcomes] == [
            (ReportTransport.upload, "stored"),
            (ReportTransport.upload, "already stored"),
        ]
        # No web address: the report goes by e-mail, queued once however often submitted.
        by_mail = school_settings.model_copy(
            update={"department_url": None, "department_email": "reports@edu-kedrovy.example"}
        )
        queued = {
            submit_report(
                session=session,
                settings=by_mail,
                request=info,
                report=report,
                document_id=document.id,
                now=NOW,
            ).message_id
            for _ in range(2)
        }
        [message_id] = queued
        message = session.get(mail.OutboxMessage, message_id)
        assert message is not None
        data = mail.render_email(
            message=message,
            settings=by_mail,
            attachments=mail.load_attachments(
                session=session, settings=by_mail, document_ids=message.document_ids
            ),
        )
        nowhere = by_mail.model_copy(update={"department_email": None})
        with pytest.raises(ValueError, match="NASTAVNIK_DEPARTMENT_URL"):
            submit_report(
                session=session,
                settings=nowhere,
                request=info,
                report=report,
                document_id=document.id,
                now=NOW,
            )
        session.commit()
    # The department takes the e-mail: the same report as the upload, nothing new.
    envelope, pdf = report_attachments(data)
    with Session(engine) as session:
        received = receive(
            session=session,
            envelope=envelope,
            pdf=pdf,
            transport=ReportTransport.email,
            now=NOW,
            settings=settings,
        )
        session.commit()
    assert not received.created
    [submission] = stored(engine)
    assert submission.transport == ReportTransport.upload


def test_the_cli_takes_a_report_from_a_saved_email_once(
    engine: Engine,
    sqlite_engine: Engine,
    settings: Settings,
    cycle_ids: tuple,
    cli_env: None,
    tmp_path: Path,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs on the SQLite file the command line opens")
    from deployments.cli import app
    from nastavnik import mail
    from nastavnik.report_envelope import queue_report_mail
    from tests.department_support import request_info
    from tests.test_report_envelope import build_report_from, issue_report_pdf

    department = build_department(sqlite_engine, cycle_ids)
    with Session(sqlite_engine) as session:
        from models import Cycle

        cycle_id = session.exec(
            select(Cycle.id).where(Cycle.organization_id == department.school.org_id)
        ).one()
        envelope = signed(sqlite_engine, settings)
        document = issue_report_pdf(
            session=session,
            settings=settings,
            request=request_info(session),
            report=build_report_from(envelope),
            cycle_id=cycle_id,
            doc_date=NOW.date(),
        )
        pdf = (settings.documents_dir / document.path).read_bytes()
        envelope = signed(sqlite_engine, settings, pdf=pdf)
        message = queue_report_mail(
            session=session,
            settings=settings,
            envelope=envelope,
            document_id=document.id,
            to_addr="reports@edu-kedrovy.example",
        )
        data = mail.render_email(
            message=message,
            settings=settings,
            attachments=mail.load_attachments(
                session=session, settings=settings, document_ids=message.document_ids
            ),
        )
        session.commit()
    saved = tmp_path / "report.eml"
    saved.write_bytes(data)
    runner = CliRunner()
    first = runner.invoke(app, ["department", "receive-mail", str(saved)])
    assert first.exit_code == 0 and "принят" in first.output, first.output
    again = runner.invoke(app, ["department", "receive-mail", str(saved)])
    assert again.exit_code == 0 and "уже был принят" in again.output, again.output
    [submission] = stored(sqlite_engine)
    assert submission.transport == ReportTransport.email
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"Subject: hello\r\n\r\nno attachments\r\n")
    refused = runner.invoke(app, ["department", "receive-mail", str(plain)])
    assert refused.exit_code == 1 and "нет вложений отчёта" in refused.output
