"""An organisation's report to its department: built, signed, verified and stored once (no Prefect).

Issue 10 §2: «the organisation's report (indicators from its cycle, its roadmap status, its memo —
built automatically from its own data) is submitted after its director approves it. In one
installation this goes through the database; between installations it travels as an e-mail with a
signed machine-readable attachment (JSON with a schema, plus the PDF) or an HTTPS upload with a
per-organisation token; the receiver verifies and stores it once».

The envelope is ``{organization_code, request_key, payload, pdf_sha256, signed_at, signature}``:
the signature is HMAC-SHA256 over the canonical JSON of the rest, keyed by the organisation's
token. The department derives the token from its settings' secret
(``HMAC(secret, "department-report:" + code)``, printed by ``nastavnik department token``) and an
organisation in another installation sets it as ``NASTAVNIK_DEPARTMENT_TOKEN``; in one
installation both sides derive it. A submission is stored once per request and payload digest:
a resent report (a retried e-mail, an upload repeated) returns the stored one and changes nothing.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import (
    AuditEvent,
    Cycle,
    Document,
    Organization,
    OutboxMessage,
    ReportKind,
    ReportRequest,
    ReportSubmission,
    ReportTransport,
)
from nastavnik import documents, mail, repository
from nastavnik.org_report import (
    OrganisationFigures,
    OrganisationReport,
    canonical_json,
    organisation_figures,
    payload_digest,
    report_schema,
)
from nastavnik.settings import Settings

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "organisation-report.schema.json"
TEMPLATE = "organisation_report.html"
ENVELOPE_FIELDS = ("organization_code", "request_key", "payload", "pdf_sha256", "signed_at")
# Audit events that mark a request whose organisation-report run the tick has started.
RUN_STARTED = "organisation-report.run-started"

KIND_RU = {
    ReportKind.information: "информационный отчёт",
    ReportKind.interim: "промежуточный мониторинг",
    ReportKind.final: "итоговый отчёт",
}


class ReportRefused(Exception):
    """The receiver refuses a report; ``reason`` says why, in Russian, for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- tokens and signing


def department_token(*, secret: bytes, organization_code: str) -> str:
    """The organisation's token, derived by the department from its secret (hex)."""
    message = f"department-report:{organization_code}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signing_token(*, settings: Settings, organization_code: str) -> str:
    """The token this installation signs an organisation's reports with: the one the department
    gave (NASTAVNIK_DEPARTMENT_TOKEN), else derived here (department and school in one database)."""
    if settings.department_token is not None:
        return settings.department_token.get_secret_value()
    return department_token(secret=settings.approval_secret(), organization_code=organization_code)


def _signature(token: str, fields: dict[str, Any]) -> str:
    body = canonical_json({name: fields[name] for name in ENVELOPE_FIELDS})
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def sign_envelope(
    *, report: OrganisationReport, organization_code: str, pdf: bytes, token: str, now: datetime
) -> dict[str, Any]:
    """The signed envelope of an approved report and its PDF."""
    fields: dict[str, Any] = {
        "organization_code": organization_code,
        "request_key": report.request_key,
        "payload": report.model_dump(mode="json"),
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        "signed_at": now.isoformat(),
    }
    return {**fields, "signature": _signature(token, fields)}


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class RequestInfo:
    """What the organisation knows of the department's request it answers."""

    request_key: str
    kind: ReportKind
    school_year: str
    department_code: str
    organization_code: str
    title: str = ""
    due_on: date | None = None


def describe_request(
    *,
    session: Session,
    request_key: str,
    organization_code: str,
    kind: str | None = None,
    school_year: str | None = None,
    department_code: str | None = None,
) -> RequestInfo:
    """The request from this database when the department is here, else from what the caller
    says (a request that came by mail from another installation)."""
    request = _request_by_key(session, request_key)
    if request is not None:
        org = session.get(Organization, request.organization_id)
        department = session.get(Organization, request.department_id)
        assert org is not None and department is not None
        if org.code != organization_code:
            raise ValueError(
                f"запрос {request_key} адресован организации {org.code}, а не {organization_code}"
            )
        return RequestInfo(
            request_key=request.unique_key,
            kind=ReportKind(request.kind),
            school_year=request.school_year,
            department_code=department.code,
            organization_code=org.code,
            title=request.title,
            due_on=request.due_on,
        )
    if not (kind and school_year and department_code):
        raise ValueError(
            f"запрос {request_key} в этой установке неизвестен: укажите вид отчёта "
            "(report_kind), учебный год (school_year) и код управления (department_code)"
        )
    return RequestInfo(
        request_key=request_key,
        kind=ReportKind(kind),
        school_year=school_year,
        department_code=department_code,
        organization_code=organization_code,
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def memo_lines(figures: OrganisationFigures) -> list[str]:
    """The memo written from the figures: what was done, what is late, coverage, indicators."""
    roadmap, pairs, cover = figures.roadmap, figures.pairs, figures.coverage
    lines = [
        f"Текущий этап реализации целевой модели наставничества: {figures.current_stage_ru}.",
        f"Выполнено мероприятий дорожной карты: {roadmap.done} из {roadmap.total} "
        f"({_percent(roadmap.done_share)}), из них с нарушением срока — {roadmap.done_late}; "
        f"в работе — {roadmap.in_progress}, не начато — {roadmap.not_started}.",
    ]
    if roadmap.overdue:
        lines.append(
            f"Просрочено мероприятий: {roadmap.overdue} ({'; '.join(roadmap.overdue_items)})."
        )
    else:
        lines.append("Просроченных мероприятий нет.")
    lines.append(
        f"Наставников: {cover.mentors}, наставляемых: {cover.mentees}, из них закреплены за "
        f"наставником {cover.mentees_with_mentor} ({_percent(cover.share)})."
    )
    lines.append(
        f"Наставнических пар по приказу: {pairs.total}, продолжают работу {pairs.going_on}, "
        f"завершили {pairs.ended}, прекращены досрочно {pairs.terminated}, заменён наставник "
        f"в {pairs.replaced}; проведено встреч: {figures.meetings_held}."
    )
    computed = [i for i in figures.indicators if i.value is not None]
    if computed:
        values = "; ".join(
            f"{i.title_ru} — {_percent(i.value) if i.kind == 'share' else f'{i.value:.1f}'}"
            for i in computed
        )
        lines.append(f"Показатели: {values}.")
    else:
        lines.append("Показатели эффективности будут рассчитаны по итогам завершения пар.")
    return lines


def organisation_cycle(*, session: Session, organization_code: str, school_year: str) -> Cycle:
    """The organisation's cycle of the school year the request is for (created on first use)."""
    org = repository.get_organization(session=session, code=organization_code)
    return repository.get_or_create_cycle(
        session=session, organization_id=org.id, school_year=school_year
    )


def build_report(
    *,
    session: Session,
    request: RequestInfo,
    today: date,
    approved_by: str,
    approved_on: date | None = None,
    figures: OrganisationFigures | None = None,
) -> OrganisationReport:
    """The report payload: the figures of the organisation's cycle of the request's year (or the
    ones frozen when the director was asked) and the memo written from them. Aggregates only."""
    if figures is None:
        cycle = organisation_cycle(
            session=session,
            organization_code=request.organization_code,
            school_year=request.school_year,
        )
        figures = organisation_figures(session=session, cycle_id=cycle.id, today=today)
    return OrganisationReport(
        request_key=request.request_key,
        report_kind=request.kind.value,
        department_code=request.department_code,
        figures=figures,
        memo=memo_lines(figures),
        approved_by=approved_by,
        approved_on=approved_on or today,
    )


def report_title(request: RequestInfo) -> str:
    """The PDF's title: «Отчёт о реализации целевой модели наставничества (<вид отчёта>)»."""
    return f"Отчёт о реализации целевой модели наставничества ({KIND_RU[request.kind]})"


def issue_report_pdf(
    *,
    session: Session,
    settings: Settings,
    request: RequestInfo,
    report: OrganisationReport,
    cycle_id: uuid.UUID,
    doc_date: date,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The report's numbered PDF, one per request (the document the director approves)."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=f"organisation-report:{request.request_key}",
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="report",
        title=report_title(request),
        template=TEMPLATE,
        context={
            "report": report.model_dump(),
            "figures": report.figures,
            "request": request,
            "kind_ru": KIND_RU[request.kind],
        },
        doc_date=doc_date,
        flow_run_id=flow_run_id,
    )


# --------------------------------------------------------------------------- the receiver


def _request_by_key(session: Session, request_key: str) -> ReportRequest | None:
    return session.exec(
        select(ReportRequest).where(ReportRequest.unique_key == request_key)
    ).first()


@lru_cache(maxsize=1)
def _validator() -> Any:
    # Imported here: only the receiver needs it.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(report_schema())


def _schema_problem(payload: Any) -> str | None:
    errors = sorted(_validator().iter_errors(payload), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(корень)"
    return f"поле {where}: {first.message}"


def _organization(session: Session, code: str) -> Organization | None:
    return session.exec(select(Organization).where(Organization.code == code)).first()


def read_envelope(data: bytes | str) -> dict[str, Any]:
    """The envelope from its JSON text; ReportRefused when it is not an envelope."""
    try:
        envelope = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ReportRefused(f"конверт отчёта не является JSON: {error}") from None
    if not isinstance(envelope, dict):
        raise ReportRefused("конверт отчёта должен быть JSON-объектом")
    return envelope


@dataclass(frozen=True)
class Verified:
    """An envelope that passed every check, with what it names."""

    request: ReportRequest
    organization: Organization
    report: OrganisationReport
    digest: str


def verify(*, session: Session, envelope: dict[str, Any], pdf: bytes, secret: bytes) -> Verified:
    """Check an envelope and its PDF as the department receives them; ReportRefused otherwise:
    missing fields, a payload off the schema, an unknown organisation or request, a request of
    another organisation, a signature that does not match (changed on the way, or signed with
    another organisation's token), a payload of another organisation, a PDF that is not the
    signed one."""
    missing = [name for name in (*ENVELOPE_FIELDS, "signature") if name not in envelope]
    if missing:
        raise ReportRefused(f"в конверте нет полей: {', '.join(missing)}")
    code, key = str(envelope["organization_code"]), str(envelope["request_key"])
    org = _organization(session, code)
    if org is None:
        raise ReportRefused(f"организация {code} неизвестна управлению")
    token = department_token(secret=secret, organization_code=org.code)
    if not hmac.compare_digest(_signature(token, envelope), str(envelope["signature"])):
        raise ReportRefused(
            f"подпись отчёта не сходится: он изменён после подписания или подписан не ключом "
            f"организации {code}"
        )
    request = _request_by_key(session, key)
    if request is None:
        raise ReportRefused(f"запрос {key} управлению неизвестен")
    if request.organization_id != org.id:
        raise ReportRefused(f"запрос {key} адресован другой организации, а не {code}")
    payload = envelope["payload"]
    problem = _schema_problem(payload)
    if problem is not None:
        raise ReportRefused(f"отчёт не соответствует схеме organisation-report: {problem}")
    try:
        report = OrganisationReport.model_validate(payload)
    except ValidationError as error:
        raise ReportRefused(f"отчёт не соответствует схеме: {error.errors()[0]['msg']}") from None
    if report.figures.organization_code != code:
        raise ReportRefused(
            f"отчёт составлен организацией {report.figures.organization_code}, "
            f"а прислан от имени {code}"
        )
    if report.request_key != key:
        raise ReportRefused(f"отчёт отвечает на запрос {report.request_key}, а не на {key}")
    department = session.get(Organization, request.department_id)
    if department is not None and report.department_code != department.code:
        raise ReportRefused(
            f"отчёт адресован управлению {report.department_code}, а не {department.code}"
        )
    if report.figures.school_year != request.school_year:
        raise ReportRefused(
            f"отчёт за {report.figures.school_year} учебный год, а запрошен за "
            f"{request.school_year}"
        )
    if hashlib.sha256(pdf).hexdigest() != envelope["pdf_sha256"]:
        raise ReportRefused("PDF отчёта не тот, что подписан: контрольная сумма не совпадает")
    return Verified(request, org, report, payload_digest(payload))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "report"


def _write_once(target: Path, data: bytes) -> None:
    """Write a file under its final name at most once (temp file + rename)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def received_pdf_path(*, request_key: str, digest: str) -> str:
    """Where the receiver keeps a report's PDF, relative to the data dir (stable per content)."""
    return f"department/reports/{_safe(request_key)}/{digest}.pdf"


def _stored(session: Session, request_id: uuid.UUID, digest: str) -> ReportSubmission | None:
    return session.exec(
        select(ReportSubmission).where(
            ReportSubmission.request_id == request_id, ReportSubmission.digest == digest
        )
    ).first()


@dataclass(frozen=True)
class Received:
    """The stored submission, and whether this call stored it (False: it was there already)."""

    submission: ReportSubmission
    created: bool


def receive(
    *,
    session: Session,
    envelope: dict[str, Any],
    pdf: bytes,
    transport: ReportTransport,
    now: datetime,
    settings: Settings,
) -> Received:
    """Verify a report and store it once per request and content; a resent identical report
    returns the stored one and changes nothing. ReportRefused when a check fails (audited)."""
    try:
        checked = verify(
            session=session, envelope=envelope, pdf=pdf, secret=settings.approval_secret()
        )
    except ReportRefused as refused:
        repository.record_audit(
            session=session,
            actor=f"organisation:{envelope.get('organization_code', '?')}",
            action="department.report.refused",
            entity=f"report-request:{envelope.get('request_key', '?')}",
            details={"reason": refused.reason, "transport": transport.value},
            at=now,
        )
        raise
    existing = _stored(session, checked.request.id, checked.digest)
    if existing is not None:
        return Received(existing, False)
    relative = received_pdf_path(request_key=checked.request.unique_key, digest=checked.digest)
    _write_once(settings.data_dir / relative, pdf)
    submission = ReportSubmission(
        request_id=checked.request.id,
        organization_id=checked.organization.id,
        digest=checked.digest,
        signature=str(envelope["signature"]),
        payload=envelope["payload"],
        transport=transport,
        submitted_on=checked.report.approved_on,
        received_at=now,
        pdf_path=relative,
        pdf_digest=str(envelope["pdf_sha256"]),
    )
    try:
        # A savepoint: a concurrent receiver storing the same report keeps the caller's work.
        with session.begin_nested():
            session.add(submission)
    except IntegrityError:
        existing = _stored(session, checked.request.id, checked.digest)
        if existing is None:
            raise
        return Received(existing, False)
    repository.record_audit(
        session=session,
        actor=f"organisation:{checked.organization.code}",
        action="department.report.received",
        entity=f"report-request:{checked.request.unique_key}",
        details={"digest": checked.digest, "transport": transport.value},
        at=now,
        event_key=f"department.report.received:{checked.request.id}:{checked.digest}",
    )
    return Received(submission, True)


def report_attachments(message: bytes) -> tuple[dict[str, Any], bytes]:
    """The envelope (the .json attachment) and the PDF of a saved report e-mail."""
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    envelope_data: bytes | None = None
    pdf: bytes | None = None
    for part in parsed.iter_attachments():
        name = (part.get_filename() or "").lower()
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        if name.endswith(".json") or part.get_content_type() == "application/json":
            envelope_data = content
        elif name.endswith(".pdf") or part.get_content_type() == "application/pdf":
            pdf = content
    if envelope_data is None or pdf is None:
        raise ReportRefused(
            "в письме нет вложений отчёта: нужен конверт .json и PDF "
            f"(найдено: {'конверт' if envelope_data else 'нет конверта'}, "
            f"{'PDF' if pdf else 'нет PDF'})"
        )
    return read_envelope(envelope_data), pdf


# --------------------------------------------------------------------------- the sender's side


def outgoing_envelope_path(*, request_key: str, digest: str) -> str:
    """Where the sender keeps the envelope it sends by mail, relative to the data dir."""
    return f"department/outgoing/{_safe(request_key)}-{digest[:16]}.json"


def keep_outgoing_envelope(*, settings: Settings, envelope: dict[str, Any]) -> str:
    """Write the envelope once under a name stable per content; its path under the data dir.
    A retry reuses the first file, so the e-mail sent is the one queued."""
    relative = outgoing_envelope_path(
        request_key=str(envelope["request_key"]), digest=payload_digest(envelope["payload"])
    )
    data = json.dumps(envelope, ensure_ascii=False, indent=2).encode()
    _write_once(settings.data_dir / relative, data)
    return relative


def requests_to_answer(
    *, session: Session, organization_id: uuid.UUID, today: date
) -> list[ReportRequest]:
    """Requests to this organisation already made, with no report stored and no run started."""
    submitted = select(ReportSubmission.request_id)
    started = select(AuditEvent.entity).where(AuditEvent.action == RUN_STARTED)
    started_keys = {str(entity).removeprefix("report-request:") for entity in session.exec(started)}
    requests = session.exec(
        select(ReportRequest)
        .where(
            ReportRequest.organization_id == organization_id,
            col(ReportRequest.requested_on) <= today,
            col(ReportRequest.id).not_in(submitted),
        )
        .order_by(col(ReportRequest.due_on), col(ReportRequest.unique_key))
    )
    return [r for r in requests if r.unique_key not in started_keys]


def record_run_started(
    *, session: Session, request_key: str, flow_run_id: uuid.UUID, now: datetime
) -> None:
    """Remember that the organisation-report run for a request is started (once)."""
    repository.record_audit(
        session=session,
        actor="tick",
        action=RUN_STARTED,
        entity=f"report-request:{request_key}",
        flow_run_id=flow_run_id,
        details={"flow_run_id": str(flow_run_id)},
        at=now,
        event_key=f"{RUN_STARTED}:{request_key}",
    )


def report_mail_key(envelope: dict[str, Any]) -> str:
    """The outbox key of a report's e-mail: one per request and content, so a retried run
    or delivery never sends the same report twice."""
    return f"organisation-report:{envelope['request_key']}:{payload_digest(envelope['payload'])}"


def queue_report_mail(
    *,
    session: Session,
    settings: Settings,
    envelope: dict[str, Any],
    document_id: uuid.UUID,
    to_addr: str,
    flow_run_id: uuid.UUID | None = None,
) -> OutboxMessage:
    """Queue the report's e-mail to the department once: the envelope (JSON) and the PDF."""
    envelope_file = keep_outgoing_envelope(settings=settings, envelope=envelope)
    report = OrganisationReport.model_validate(envelope["payload"])
    return mail.enqueue_templated(
        session=session,
        idempotency_key=report_mail_key(envelope),
        to_addr=to_addr,
        template="organisation_report",
        context={
            "figures": report.figures,
            "request_key": report.request_key,
            "kind_ru": KIND_RU[ReportKind(report.report_kind)],
            "approved_on": report.approved_on,
        },
        document_ids=[f"{mail.FILE_ATTACHMENT}{envelope_file}", str(document_id)],
        flow_run_id=flow_run_id,
        recipient_role="department",
    )


def upload_url(department_url: str) -> str:
    """Where an organisation uploads its reports in the department's installation."""
    return f"{department_url.rstrip('/')}/department/reports"


def upload_report(
    *,
    envelope: dict[str, Any],
    pdf: bytes,
    department_url: str,
    token: str,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Upload a signed report to the department's installation; its answer («stored» or
    «already stored»: an upload repeated after a lost answer stores nothing twice).
    ReportRefused when the department refuses it (a wrong token, a refused report: retrying
    will not help); an httpx error for what may pass (a 5xx, no connection)."""
    with httpx.Client(transport=transport, timeout=timeout) as client:
        response = client.post(
            upload_url(department_url),
            headers={"Authorization": f"Bearer {token}"},
            files={
                "envelope": ("envelope.json", canonical_json(envelope), "application/json"),
                "pdf": ("report.pdf", pdf, "application/pdf"),
            },
        )
    if response.status_code in (401, 403, 422):
        try:
            reason = str(response.json().get("error", response.text))
        except ValueError:
            reason = response.text
        raise ReportRefused(f"управление не приняло отчёт ({response.status_code}): {reason}")
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


@dataclass(frozen=True)
class Submitted:
    """How a report left: stored here, uploaded, or queued by e-mail (its outbox id)."""

    transport: ReportTransport
    status: str  # stored, already stored, queued
    message_id: uuid.UUID | None = None


def submit_report(
    *,
    session: Session,
    settings: Settings,
    request: RequestInfo,
    report: OrganisationReport,
    document_id: uuid.UUID,
    now: datetime,
    flow_run_id: uuid.UUID | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> Submitted:
    """Send the approved report to the department by the way that reaches it: through this
    database when the request is here, else an HTTPS upload (NASTAVNIK_DEPARTMENT_URL), else
    an e-mail (NASTAVNIK_DEPARTMENT_EMAIL). Each way stores or sends it once however often
    this runs again."""
    document = session.get(Document, document_id)
    if document is None:
        raise LookupError(f"документ {document_id} не найден")
    pdf = documents.document_file(settings=settings, document=document).read_bytes()
    envelope = sign_envelope(
        report=report,
        organization_code=request.organization_code,
        pdf=pdf,
        token=signing_token(settings=settings, organization_code=request.organization_code),
        now=now,
    )
    if _request_by_key(session, request.request_key) is not None:
        received = receive(
            session=session,
            envelope=envelope,
            pdf=pdf,
            transport=ReportTransport.database,
            now=now,
            settings=settings,
        )
        status = "stored" if received.created else "already stored"
        return Submitted(ReportTransport.database, status)
    if settings.department_url:
        answer = upload_report(
            envelope=envelope,
            pdf=pdf,
            department_url=settings.department_url,
            token=signing_token(settings=settings, organization_code=request.organization_code),
            transport=http_transport,
        )
        return Submitted(ReportTransport.upload, str(answer.get("status", "stored")))
    if settings.department_email:
        message = queue_report_mail(
            session=session,
            settings=settings,
            envelope=envelope,
            document_id=document_id,
            to_addr=settings.department_email,
            flow_run_id=flow_run_id,
        )
        return Submitted(ReportTransport.email, "queued", message.id)
    raise ValueError(
        f"запрос {request.request_key} не из этой установки, а адрес управления не задан: "
        "укажите NASTAVNIK_DEPARTMENT_URL или NASTAVNIK_DEPARTMENT_EMAIL"
    )
