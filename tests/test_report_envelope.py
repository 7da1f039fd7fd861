"""The organisation's report to its department (issue 10 §2): built from its own figures, signed,
refused when tampered with or sent for another organisation, stored once however often resent."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models import AuditEvent, Cycle, OutboxMessage, ReportSubmission, ReportTransport
from nastavnik import mail, report_requests
from nastavnik.org_report import payload_digest, report_schema
from nastavnik.report_envelope import (
    SCHEMA_PATH,
    ReportRefused,
    build_report,
    department_token,
    describe_request,
    issue_report_pdf,
    memo_lines,
    queue_report_mail,
    receive,
    record_run_started,
    report_attachments,
    requests_to_answer,
    sign_envelope,
    signing_token,
)
from nastavnik.settings import Settings
from tests.department_support import (
    DIRECTOR,
    KEY_7,
    KEY_8,
    NOW,
    REPORT_DAY,
    Department,
    build_department,
    request_info,
    signed,
)

PDF = b"%PDF-1.7 report"


@pytest.fixture
def department(engine: Engine, cycle_ids: tuple) -> Department:
    return build_department(engine, cycle_ids)


def take(
    engine: Engine,
    settings: Settings,
    envelope: dict[str, Any],
    pdf: bytes = PDF,
    transport: ReportTransport = ReportTransport.database,
) -> tuple[uuid.UUID, bool]:
    with Session(engine) as session:
        try:
            received = receive(
                session=session,
                envelope=envelope,
                pdf=pdf,
                transport=transport,
                now=NOW,
                settings=settings,
            )
        finally:
            session.commit()  # a refusal is audited
        return received.submission.id, received.created


def submissions(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(ReportSubmission)).one())


def refused(engine: Engine, settings: Settings, envelope: dict[str, Any], pdf: bytes = PDF) -> str:
    with pytest.raises(ReportRefused) as caught:
        take(engine, settings, envelope, pdf)
    assert submissions(engine) == 0
    return caught.value.reason


def test_the_published_schema_is_the_payloads() -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == report_schema()


def test_a_report_is_stored_once_however_often_it_is_resent(
    engine: Engine, settings: Settings, department: Department
) -> None:
    envelope = signed(engine, settings)
    first, created = take(engine, settings, envelope)
    assert created
    # The same report again (a retried run, a second upload): the stored one, nothing new.
    again, created_again = take(engine, settings, copy.deepcopy(envelope))
    assert (again, created_again) == (first, False)
    # Signed again later (another signed_at): the same payload, still the one submission.
    later = {**envelope, "signed_at": "2026-11-16T09:00:00+00:00"}
    later = sign_envelope(
        report=build_report_from(envelope),
        organization_code="school-7",
        pdf=PDF,
        token=signing_token(settings=settings, organization_code="school-7"),
        now=NOW.replace(day=16),
    )
    assert take(engine, settings, later) == (first, False)
    assert submissions(engine) == 1
    with Session(engine) as session:
        stored = session.get(ReportSubmission, first)
        assert stored is not None
        assert stored.digest == payload_digest(envelope["payload"])
        assert stored.submitted_on == REPORT_DAY and stored.transport == ReportTransport.database
        assert (settings.data_dir / stored.pdf_path).read_bytes() == PDF
        [state] = report_requests.request_states(
            session=session, today=REPORT_DAY, organization_id=department.school.org_id
        )
        assert state.status == report_requests.RequestStatus.submitted
        received = session.exec(
            select(AuditEvent).where(AuditEvent.action == "department.report.received")
        ).all()
        assert len(received) == 1


def build_report_from(envelope: dict[str, Any]) -> Any:
    from nastavnik.org_report import OrganisationReport

    return OrganisationReport.model_validate(envelope["payload"])


def test_a_tampered_payload_or_signature_is_refused(
    engine: Engine, settings: Settings, department: Department
) -> None:
    envelope = signed(engine, settings)
    changed = copy.deepcopy(envelope)
    changed["payload"]["figures"]["coverage"]["mentees_with_mentor"] += 3
    assert "подпись отчёта не сходится" in refused(engine, settings, changed)
    forged = {**envelope, "signature": "0" * 64}
    assert "подпись отчёта не сходится" in refused(engine, settings, forged)
    # Signed with a token the department never gave.
    foreign_key = signed(engine, settings, token="not-the-department-token")
    assert "подпись отчёта не сходится" in refused(engine, settings, foreign_key)


def test_a_pdf_other_than_the_signed_one_is_refused(
    engine: Engine, settings: Settings, department: Department
) -> None:
    reason = refused(engine, settings, signed(engine, settings), pdf=b"%PDF-1.7 other")
    assert "PDF отчёта не тот" in reason


def test_a_report_sent_for_another_organisation_is_refused(
    engine: Engine, settings: Settings, department: Department
) -> None:
    # school-7 answers school-8's request with its own valid signature.
    reason = refused(engine, settings, signed(engine, settings, key=KEY_8))
    assert reason == f"запрос {KEY_8} адресован другой организации, а не school-7"
    # school-7's figures sent in school-8's name with school-8's token (a leaked token).
    reason = refused(engine, settings, signed(engine, settings, key=KEY_8, code="school-8"))
    assert reason == "отчёт составлен организацией school-7, а прислан от имени school-8"
    # In school-8's name but signed with school-7's token.
    token_7 = signing_token(settings=settings, organization_code="school-7")
    disguised = signed(engine, settings, key=KEY_8, code="school-8", token=token_7)
    assert "подпись отчёта не сходится" in refused(engine, settings, disguised)
    with Session(engine) as session:
        refusals = session.exec(
            select(AuditEvent).where(AuditEvent.action == "department.report.refused")
        ).all()
    assert len(refusals) == 3


def test_an_unknown_request_or_organisation_and_a_payload_off_the_schema_are_refused(
    engine: Engine, settings: Settings, department: Department
) -> None:
    token = signing_token(settings=settings, organization_code="school-7")
    envelope = signed(engine, settings)

    def resigned(**changes: Any) -> dict[str, Any]:
        fields = {**envelope, **changes}
        from nastavnik.report_envelope import _signature

        return {**fields, "signature": _signature(token, fields)}

    unknown = resigned(request_key="edu-kedrovy:2026/2027:final:school-7")
    assert refused(engine, settings, unknown) == (
        "запрос edu-kedrovy:2026/2027:final:school-7 управлению неизвестен"
    )
    assert "организация school-99 неизвестна" in refused(
        engine, settings, {**envelope, "organization_code": "school-99"}
    )
    payload = copy.deepcopy(envelope["payload"])
    del payload["approved_by"]
    reason = refused(engine, settings, resigned(payload=payload))
    assert reason.startswith("отчёт не соответствует схеме organisation-report")
    assert "approved_by" in reason
    assert refused(engine, settings, {"payload": {}}).startswith("в конверте нет полей")


def test_the_department_token_is_per_organisation_and_configurable(settings: Settings) -> None:
    secret = settings.approval_secret()
    token_7 = department_token(secret=secret, organization_code="school-7")
    assert token_7 == department_token(secret=secret, organization_code="school-7")
    assert token_7 != department_token(secret=secret, organization_code="school-8")
    assert signing_token(settings=settings, organization_code="school-7") == token_7
    elsewhere = settings.model_copy(
        update={"department_token": SecretStr("given-by-the-department")}
    )
    assert signing_token(settings=elsewhere, organization_code="school-7") == (
        "given-by-the-department"
    )


def test_the_memo_is_written_from_the_figures(engine: Engine, department: Department) -> None:
    with Session(engine) as session:
        report = build_report(
            session=session,
            request=request_info(session),
            today=REPORT_DAY,
            approved_by=DIRECTOR,
        )
    figures = report.figures
    assert (figures.coverage.mentees, figures.coverage.mentees_with_mentor) == (5, 5)
    assert report.memo == memo_lines(figures)
    assert "закреплены за наставником 5 (100 %)" in report.memo[3]
    assert "Наставнических пар по приказу: 5" in report.memo[4]
    assert report.department_code == "edu-kedrovy" and report.report_kind == "information"


def test_a_request_from_another_installation_needs_its_kind_year_and_department(
    engine: Engine, department: Department
) -> None:
    with Session(engine) as session:
        with pytest.raises(ValueError, match="в этой установке неизвестен"):
            describe_request(session=session, request_key="remote-1", organization_code="school-7")
        info = describe_request(
            session=session,
            request_key="remote-1",
            organization_code="school-7",
            kind="final",
            school_year="2026/2027",
            department_code="edu-other",
        )
        assert (info.kind, info.department_code) == ("final", "edu-other")
        with pytest.raises(ValueError, match="адресован организации school-8"):
            describe_request(session=session, request_key=KEY_8, organization_code="school-7")


def test_the_pdf_carries_the_figures_and_no_childs_name(
    engine: Engine, settings: Settings, department: Department
) -> None:
    with Session(engine) as session:
        info = request_info(session)
        report = build_report(session=session, request=info, today=REPORT_DAY, approved_by=DIRECTOR)
        cycle = session.exec(
            select(Cycle).where(Cycle.organization_id == department.school.org_id)
        ).one()
        document = issue_report_pdf(
            session=session,
            settings=settings,
            request=info,
            report=report,
            cycle_id=cycle.id,
            doc_date=REPORT_DAY,
        )
        again = issue_report_pdf(
            session=session,
            settings=settings,
            request=info,
            report=report,
            cycle_id=cycle.id,
            doc_date=REPORT_DAY,
        )
        session.commit()
        assert again.id == document.id
        path = settings.documents_dir / document.path
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages)
    assert "Отчёт о реализации целевой модели наставничества" in text
    assert KEY_7 in text.replace(" ", "") and "Пояснительная записка" in text
    assert "Наставляемых, закреплённых за наставником 5 (100 %)" in text
    for indicator in report.figures.indicators:
        assert indicator.title_ru.split()[0] in text
    school = department.school
    for secret_thing in [*school.children, *school.contacts]:
        assert secret_thing not in text
    for child in school.children:
        assert child.split()[0] not in text  # not even a surname


def test_the_email_carries_the_envelope_and_pdf_and_is_taken_once(
    engine: Engine, settings: Settings, department: Department
) -> None:
    envelope = signed(engine, settings, pdf=b"%PDF-1.7 mailed")
    with Session(engine) as session:
        cycle = session.exec(
            select(Cycle).where(Cycle.organization_id == department.school.org_id)
        ).one()
        info = request_info(session)
        document = issue_report_pdf(
            session=session,
            settings=settings,
            request=info,
            report=build_report_from(envelope),
            cycle_id=cycle.id,
            doc_date=REPORT_DAY,
        )
        pdf = (settings.documents_dir / document.path).read_bytes()
        envelope = signed(engine, settings, pdf=pdf)
        first = queue_report_mail(
            session=session,
            settings=settings,
            envelope=envelope,
            document_id=document.id,
            to_addr="reports@edu-kedrovy.example",
        )
        second = queue_report_mail(
            session=session,
            settings=settings,
            envelope={**envelope, "signed_at": "2026-11-16T00:00:00+00:00"},
            document_id=document.id,
            to_addr="reports@edu-kedrovy.example",
        )
        session.commit()
        assert first.id == second.id
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 1
        attachments = mail.load_attachments(
            session=session, settings=settings, document_ids=first.document_ids
        )
        data = mail.render_email(message=first, settings=settings, attachments=attachments)
    names = [name for name, _ in attachments]
    assert names[0].endswith(".json") and names[1].endswith(".pdf")
    taken, pdf_taken = report_attachments(data)
    assert taken == envelope and pdf_taken == pdf
    stored, created = take(engine, settings, taken, pdf_taken, ReportTransport.email)
    assert created
    assert take(engine, settings, *report_attachments(data), ReportTransport.email) == (
        stored,
        False,
    )
    assert submissions(engine) == 1
    without_pdf = data.replace(b"application/pdf", b"text/plain").replace(b".pdf", b".txt")
    with pytest.raises(ReportRefused, match="нет вложений отчёта"):
        report_attachments(without_pdf)


def test_requests_to_answer_leave_out_submitted_and_started_ones(
    engine: Engine, settings: Settings, department: Department
) -> None:
    org_id = department.school.org_id
    with Session(engine) as session:
        assert requests_to_answer(session=session, organization_id=org_id, today=REPORT_DAY)
        assert (
            requests_to_answer(
                session=session, organization_id=org_id, today=REPORT_DAY.replace(day=1, month=10)
            )
            == []
        )
        record_run_started(session=session, request_key=KEY_7, flow_run_id=uuid.uuid4(), now=NOW)
        record_run_started(session=session, request_key=KEY_7, flow_run_id=uuid.uuid4(), now=NOW)
        session.commit()
        assert requests_to_answer(session=session, organization_id=org_id, today=REPORT_DAY) == []
        other = requests_to_answer(
            session=session, organization_id=department.other_id, today=REPORT_DAY
        )
        assert [r.unique_key for r in other] == [KEY_8]


def test_a_submitted_request_is_not_to_answer(
    engine: Engine, settings: Settings, department: Department
) -> None:
    take(engine, settings, signed(engine, settings))
    with Session(engine) as session:
        assert (
            requests_to_answer(
                session=session, organization_id=department.school.org_id, today=REPORT_DAY
            )
            == []
        )


def test_the_schema_file_is_written_as_published(tmp_path: Path) -> None:
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(report_schema(), ensure_ascii=False, indent=2) + "\n"
