"""The web pages: approvals by signed code, participants' pages by signed link, and the staff's
pages (roadmap, documents, deliveries) behind sign-in and roles (web_access, access)."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import (
    AccountRole,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    Cycle,
    Decision,
    Document,
    MentorshipPair,
    Organization,
    OutboxStatus,
    ReportTransport,
    Role,
)
from nastavnik import (
    access,
    approvals,
    completion,
    cycle_lists,
    dashboard,
    deliveries,
    documents,
    links,
    meetings,
    monthly,
    practices,
    progress,
    report_envelope,
    roadmap_report,
)
from nastavnik.dates import school_year_of
from nastavnik.pairs import ONGOING
from nastavnik.rendering import get_jinja_env
from nastavnik.settings import Settings
from nastavnik.web_access import (
    DepartmentOrLink,
    OperatorOrLink,
    Signed,
    SignInRequired,
    csrf_token,
    current_viewer,
    install_sign_in,
    require_cycle_access,
    require_role,
)

logger = logging.getLogger(__name__)

# Resumes the suspended run with the decision as its input; supplied by the deployment layer.
# Wakes the run waiting for a decision: (run id, the decision as resume input, approval key).
Resumer = Callable[[uuid.UUID, dict[str, Any], str], Awaitable[None]]


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = get_jinja_env().get_template(f"web/{template}").render(**context)
    return HTMLResponse(html, status_code=status_code)


# Shown once after a participant's form was saved (POST-redirect-GET carries only this word).
MEETING_NOTICES_RU = {
    "meeting": "Встреча записана.",
    "feedback": "Спасибо! Отзыв записан.",
}

# What the approver can do about a code that no longer works.
NEW_CODE_HINT_RU = "Попросите куратора выпустить новый код: он придёт новым письмом."
MISSING_CODE_RU = (
    "Не указан код подтверждения. Откройте ссылку из письма целиком "
    "или вставьте код из письма в поле ниже."
)


def refusal_message(problem: approvals.CodeProblem) -> str:
    """Why a code was refused, with what to do next when a new code would help."""
    message = approvals.CODE_PROBLEM_RU[problem].capitalize() + "."
    if problem in (approvals.CodeProblem.expired, approvals.CodeProblem.superseded):
        message += " " + NEW_CODE_HINT_RU
    return message


def exceptions_from_form(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents returned for rework: form fields ``except_<number>`` with a comment."""
    exceptions = []
    for name, value in form.items():
        number = name.removeprefix("except_")
        if name.startswith("except_") and number.isdigit() and str(value).strip():
            exceptions.append({"number": int(number), "comment": str(value).strip()})
    return sorted(exceptions, key=lambda e: e["number"])


def checked_link(
    session: Session,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
    token: str,
    channel: str,
) -> links.LinkCheck | HTMLResponse:
    """A participant's link checked and its use audited (committed at once, so a refusal is kept
    too), or the refusal page: 410 for a link that is gone, 403 for one that never was theirs."""
    check = links.check_link(
        session=session,
        secret=settings.approval_secret(),
        token=token,
        now=clock(),
        timezone=ZoneInfo(settings.timezone),
        channel=channel,
    )
    session.commit()
    if check.problem is not None:
        return _page(
            "link_refused.html",
            status_code=410 if check.problem in links.GONE else 403,
            message=check.message_ru,
        )
    return check


def create_app(
    *,
    settings: Settings,
    engine: Engine,
    resume: Resumer,
    clock: Callable[[], datetime] = approvals.now_utc,
) -> FastAPI:
    """Build the web app for the given settings, database, run resumer and clock."""
    app = FastAPI(title="Наставник", docs_url=None, redoc_url=None, openapi_url=None)
    install_sign_in(app, settings=settings, engine=engine, clock=clock)

    def load(
        session: Session, request_id: uuid.UUID
    ) -> tuple[ApprovalRequest, Cycle, Organization, list[Document]]:
        request = session.get(ApprovalRequest, request_id)
        if request is None:
            raise HTTPException(404, "Запрос на утверждение не найден")
        cycle = session.get(Cycle, request.cycle_id)
        org = session.get(Organization, cycle.organization_id) if cycle else None
        assert cycle is not None and org is not None
        docs = [
            d
            for d in (session.get(Document, uuid.UUID(i)) for i in request.document_ids)
            if d is not None
        ]
        return request, cycle, org, docs

    def approval_page(
        session: Session,
        request_id: uuid.UUID,
        code: str,
        message: str,
        status_code: int = 200,
        comment: str = "",
    ) -> HTMLResponse:
        request, cycle, org, docs = load(session, request_id)
        decision = session.exec(
            select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
        ).first()
        # The approver holding a valid code opens the documents through signed links that expire
        # with the code; without one the plain addresses ask for sign-in.
        code_ok = bool(code) and (
            approvals.check_code(
                session=session,
                secret=settings.approval_secret(),
                request=request,
                code=code,
                now=clock(),
            )
            is None
        )
        document_urls = {
            d.id: access.signed_document_url(
                base_url="",
                secret=settings.approval_secret(),
                document_id=d.id,
                expires_at=request.expires_at,
            )
            if code_ok
            else f"/documents/{d.id}.pdf"
            for d in docs
        }
        return _page(
            "approval.html",
            status_code=status_code,
            request=request,
            cycle=cycle,
            organization=org,
            documents=docs,
            document_urls=document_urls,
            code=code,
            message=message,
            comment=comment,
            expired=approvals.is_expired(request=request, now=clock()),
            decision=decision,
            decision_labels=approvals.DECISION_LABEL_RU,
        )

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, viewer: Signed) -> HTMLResponse:
        # The pending approvals of the organisations this account may see.
        now = clock()
        with Session(engine) as session:
            visible = access.visible_organisations(session=session, viewer=viewer)
            pending = []
            for approval in approvals.list_pending(session=session):
                cycle = session.get(Cycle, approval.cycle_id)
                if cycle is not None and cycle.organization_id in visible:
                    pending.append(approval)
        expired = {r.id for r in pending if approvals.is_expired(request=r, now=now)}
        return _page(
            "index.html",
            pending=pending,
            expired=expired,
            viewer=viewer,
            csrf_token=csrf_token(request),
            operator=access.may_operate_deliveries(viewer),
        )

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/approvals/{request_id}", response_class=HTMLResponse)
    def show(request_id: uuid.UUID, code: str = "") -> HTMLResponse:
        # Opening a link is not a use of its code (mail scanners open links too): a bad
        # code is explained here and audited only when submitted.
        code = code.strip()
        with Session(engine) as session:
            request, *_ = load(session, request_id)
            message = ""
            if request.status == ApprovalStatus.pending and not code:
                message = MISSING_CODE_RU
            elif request.status == ApprovalStatus.pending:
                problem = approvals.check_code(
                    session=session,
                    secret=settings.approval_secret(),
                    request=request,
                    code=code,
                    now=clock(),
                )
                if problem is not None:
                    message, code = refusal_message(problem), ""
            return approval_page(session, request_id, code, message)

    @app.post("/approvals/{request_id}", response_class=HTMLResponse)
    async def decide(
        http_request: Request,
        request_id: uuid.UUID,
        code: Annotated[str, Form()] = "",
        decision: Annotated[str, Form()] = "",
        approver_name: Annotated[str, Form()] = "",
        comment: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        # Missing fields are answered with the page and a message, never a JSON error.
        code, approver_name = code.strip(), approver_name.strip()
        problem_ru = ""
        if not code:
            problem_ru = MISSING_CODE_RU
        elif decision not in {d.value for d in Decision}:
            problem_ru = "Выберите решение: утвердить, на доработку или отклонить."
        elif not approver_name:
            problem_ru = "Укажите ФИО принимающего решение."
        elif decision == Decision.request_changes and not comment.strip():
            problem_ru = "Для доработки нужен комментарий: что исправить."
        if problem_ru:
            with Session(engine) as session:
                return approval_page(
                    session, request_id, code, problem_ru, status_code=422, comment=comment
                )
        chosen = Decision(decision)
        form = dict(await http_request.form())
        # The decision is recorded here, then the run is woken: a run that cannot be woken now
        # (the Prefect server down) takes it when it is. The database work stays on the event
        # loop on purpose: it takes milliseconds, and two clicks' writes never overlap; in
        # threads, one reading before the other's commit would fail with SQLite's "database is
        # locked" (SQLITE_BUSY_SNAPSHOT) instead of the refusal.
        # Phase timings (debug log): where an approval's seconds go, read by the latency bench.
        started = time.perf_counter()
        with Session(engine) as session:
            request, *_ = load(session, request_id)
            details: dict[str, Any] = (
                {"exceptions": exceptions_from_form(form)} if request.accepts_exceptions else {}
            )
            outcome = approvals.submit_decision(
                session=session,
                secret=settings.approval_secret(),
                request_id=request_id,
                decision=chosen,
                comment=comment,
                approver_name=approver_name,
                code=code,
                channel="web",
                now=clock(),
                details=details,
            )
            session.commit()
            run_id, approval_key = request.run_to_wake, request.approval_key
        recorded_at = time.perf_counter()
        if not outcome.accepted:
            assert outcome.problem is not None
            # A second click, at once or later: the request is decided already (409).
            replayed = outcome.problem == approvals.CodeProblem.replayed
            message = refusal_message(outcome.problem)
            if replayed:
                message += " Решение по этой ссылке уже передано; повторное нажатие не учтено."
            return _page(
                "result.html", status_code=409 if replayed else 403, ok=False, message=message
            )
        # The wake-up carries the decision without the spent code: Prefect keeps a run's input
        # where every Prefect user can read it, and the run takes the decision from the database.
        run_input: dict[str, Any] = {
            "decision": chosen.value,
            "approval_code": "",
            "approver_name": approver_name,
            "comment": comment,
        }
        if "exceptions" in details:
            run_input["exceptions"] = details["exceptions"]
        try:
            await resume(run_id, run_input, approval_key)
        except Exception:
            logger.exception("waking run %s for approval %s failed", run_id, request_id)
            return _page(
                "result.html",
                status_code=202,
                ok=True,
                message=f"Решение сохранено: {approvals.DECISION_LABEL_RU[chosen]}. "
                "Сервер процессов сейчас не ответил: этап продолжится, как только ответит "
                "(не позднее ежедневной проверки); повторять решение не нужно.",
            )
        resumed_at = time.perf_counter()
        page = _page(
            "result.html",
            ok=True,
            message=f"Решение передано: {approvals.DECISION_LABEL_RU[chosen]}.",
        )
        logger.debug(
            "approval %s phases: record %.3f s, resume %.3f s, page %.3f s",
            request_id,
            recorded_at - started,
            resumed_at - recorded_at,
            time.perf_counter() - resumed_at,
        )
        return page

    @app.get("/documents/{document_id}.pdf")
    def document(request: Request, document_id: uuid.UUID, key: str = "") -> FileResponse:
        # A signed link that has not expired (the approver's), or an account that may see the
        # document's organisation; another organisation's document is answered as missing.
        signed = bool(key) and access.check_document_token(
            secret=settings.approval_secret(), document_id=document_id, token=key, now=clock()
        )
        viewer = None if signed else current_viewer(request)
        if not signed and viewer is None:
            raise SignInRequired
        with Session(engine) as session:
            doc = session.get(Document, document_id)
            if viewer is not None and not access.may_see_document(
                session=session, viewer=viewer, document_id=document_id
            ):
                doc = None
        if doc is None:
            raise HTTPException(404, "Документ не найден")
        path = documents.document_file(settings=settings, document=doc)
        return FileResponse(
            path, media_type="application/pdf", filename=f"{doc.title} {doc.label}.pdf"
        )

    def pair_page_for(token: str, channel: str) -> links.PairPage | HTMLResponse:
        """The link owner's pair, or the refusal page; every use is audited (DESIGN §11)."""
        with Session(engine) as session:
            check = checked_link(
                session, settings=settings, clock=clock, token=token, channel=channel
            )
            if isinstance(check, HTMLResponse):
                return check
            assert check.participant_id is not None and check.pair_id is not None
            return links.pair_page(
                session=session, participant_id=check.participant_id, pair_id=check.pair_id
            )

    @app.get("/p/{token}", response_class=HTMLResponse)
    def participant_page(token: str, done: str = "") -> HTMLResponse:
        # A personal link opens its owner's own page only.
        page = pair_page_for(token, "web")
        if isinstance(page, HTMLResponse):
            return page
        return participant_view(page, token, notice=MEETING_NOTICES_RU.get(done, ""))

    @app.get("/p/{token}/programme.pdf")
    def participant_programme(token: str) -> Response:
        # The programme through the personal link, checked like the page itself.
        page = pair_page_for(token, "web:programme")
        if isinstance(page, HTMLResponse):
            return page
        if page.programme is None:
            return _page(
                "link_refused.html",
                status_code=404,
                heading="Программы пока нет",
                message="Индивидуальная программа наставничества вашей пары ещё не утверждена.",
            )
        path = documents.document_file(settings=settings, document=page.programme)
        return FileResponse(
            path,
            media_type="application/pdf",
            filename=f"{page.programme.title} {page.programme.label}.pdf",
        )

    def today() -> date:
        return clock().astimezone(ZoneInfo(settings.timezone)).date()

    def load_report(cycle_id: uuid.UUID) -> roadmap_report.StatusReport:
        with Session(engine) as session:
            try:
                return roadmap_report.status_report(
                    session=session, cycle_id=cycle_id, today=today()
                )
            except LookupError as error:
                raise HTTPException(404, str(error)) from None

    @app.get("/roadmap/{cycle_id}", response_class=HTMLResponse)
    def roadmap(
        request: Request,
        cycle_id: uuid.UUID,
        viewer: Annotated[access.Viewer, Depends(require_cycle_access())],
    ) -> HTMLResponse:
        # The plan holds roadmap items, dates and staff decisions, no children's data.
        report = load_report(cycle_id)
        chart = roadmap_report.gantt_svg(report.rows, report.today)
        return _page(
            "roadmap.html",
            report=report,
            chart=Markup(roadmap_report.inline_svg(chart)),  # matplotlib's own SVG, text escaped
            statuses=roadmap_report.status_legend(),
            viewer=viewer,
            csrf_token=csrf_token(request),
        )

    @app.get("/roadmap/{cycle_id}/report.pdf", dependencies=[Depends(require_cycle_access())])
    def roadmap_pdf(cycle_id: uuid.UUID) -> Response:
        report = load_report(cycle_id)
        name = roadmap_report.report_file_name(report)
        return Response(
            roadmap_report.render_report_pdf(report),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    # --- meetings on the participant's page (issue 8 §2): the mentor records, the mentee rates ---

    def participant_view(
        page: links.PairPage,
        token: str,
        *,
        notice: str = "",
        error: str = "",
        status_code: int = 200,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        assert page.pair_id is not None
        with Session(engine) as session:
            log = meetings.pair_log(session=session, pair_id=page.pair_id)
        return _page(
            "participant.html",
            status_code=status_code,
            page=page,
            token=token,
            log=log,
            can_record=page.role == Role.mentor and page.status in ONGOING,
            kinds=[(k.value, meetings.KIND_LABEL_RU[k]) for k in meetings.SEQUENCE],
            formats=list(meetings.FORMAT_LABEL_RU.items()),
            today=today(),
            notice=notice,
            error=error,
            form=form or {},
        )

    def meeting_refused(
        page: links.PairPage, token: str, refused: meetings.MeetingRefused, form: dict[str, str]
    ) -> HTMLResponse:
        """The page again with the reason; audited apart from the refused work (DESIGN §11)."""
        with Session(engine) as session:
            meetings.record_refusal(
                session=session,
                refused=refused,
                actor=f"participant:{page.participant_id}",
                pair_id=page.pair_id,
                channel="web",
                at=clock(),
            )
            session.commit()
        forbidden = refused.code in meetings.NOT_YOURS
        return participant_view(
            page,
            token,
            error=refused.message_ru[:1].upper() + refused.message_ru[1:] + ".",
            status_code=403 if forbidden else 422,
            form={} if forbidden else form,
        )

    @app.post("/p/{token}/meetings", response_class=HTMLResponse)
    def post_meeting(
        token: str,
        held_on: Annotated[str, Form()] = "",
        kind: Annotated[str, Form()] = "",
        duration_minutes: Annotated[str, Form()] = "",
        meeting_format: Annotated[str, Form(alias="format")] = "",
        topic: Annotated[str, Form()] = "",
        done: Annotated[str, Form()] = "",
        next_step: Annotated[str, Form()] = "",
    ) -> Response:
        page = pair_page_for(token, "web:meetings")
        if isinstance(page, HTMLResponse):
            return page
        assert page.pair_id is not None and page.participant_id is not None
        form = {
            "held_on": held_on,
            "kind": kind,
            "duration_minutes": duration_minutes,
            "format": meeting_format,
            "topic": topic,
            "done": done,
            "next_step": next_step,
        }
        try:
            with Session(engine) as session:
                # Who may post comes before what was posted: a mentee's link learns nothing more.
                meetings.require_mentor(
                    session=session, pair_id=page.pair_id, participant_id=page.participant_id
                )
                meetings.record_meeting(
                    session=session,
                    pair_id=page.pair_id,
                    held_on=meetings.form_date(held_on),
                    kind=meetings.form_kind(kind),
                    duration_minutes=meetings.form_minutes(duration_minutes),
                    format=meetings.form_format(meeting_format),
                    topic=topic,
                    done=done,
                    next_step=next_step,
                    source="link",
                    recorded_by=page.participant_id,
                    today=today(),
                )
                session.commit()
        except meetings.MeetingRefused as refused:
            return meeting_refused(page, token, refused, form)
        # POST-redirect-GET: a reload does not post the meeting again.
        return RedirectResponse(f"/p/{token}?done=meeting#meetings", status_code=303)

    @app.post("/p/{token}/feedback/{meeting_id}", response_class=HTMLResponse)
    def post_feedback(
        token: str,
        meeting_id: str,
        rating: Annotated[str, Form()] = "",
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        page = pair_page_for(token, "web:feedback")
        if isinstance(page, HTMLResponse):
            return page
        assert page.pair_id is not None and page.participant_id is not None
        try:
            with Session(engine) as session:
                meetings.record_feedback(
                    session=session,
                    meeting_id=meetings.form_meeting_id(meeting_id),
                    mentee_id=page.participant_id,
                    rating=meetings.form_rating(rating),
                    comment=comment,
                    given_on=today(),
                    source="link",
                    today=today(),
                    pair_id=page.pair_id,
                )
                session.commit()
        except meetings.MeetingRefused as refused:
            return meeting_refused(page, token, refused, {"comment": comment})
        return RedirectResponse(f"/p/{token}?done=feedback#meetings", status_code=303)

    _monthly_report_routes(app, settings=settings, engine=engine, clock=clock)
    _completion_report_routes(app, settings=settings, engine=engine, clock=clock)
    _practice_routes(app, settings=settings, engine=engine, clock=clock)
    _operator_delivery_routes(app, settings=settings, engine=engine, clock=clock)
    _department_dashboard_routes(app, settings=settings, engine=engine, clock=clock)
    _department_report_routes(app, settings=settings, engine=engine, clock=clock)
    _cycle_list_routes(app, settings=settings, engine=engine, clock=clock)
    return app


# --- The operator's failed deliveries (issue 10 §3) ----------------------------------------------

DELIVERY_NOTICES_RU = {
    "retried": "Письмо отправлено снова: его состояние ниже или его больше нет в списке.",
    "retried-all": "Недоставленные письма отправлены снова.",
    "cancelled": "Письмо отменено: его больше не отправят.",
}


def _operator_delivery_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET /operator/deliveries: failing and waiting e-mails with retry and cancel (POST, then a
    redirect), for a signed-in operator (forms carry the CSRF token). An operator without an
    account may still open it with a signed operator link that expires, ?token=… (`nastavnik
    deliveries link` prints the address; HMAC of the settings' secret); a bad one answers 403.
    Every action is audited."""
    actor = "web:operator"

    def listing(
        request: Request,
        viewer: access.Viewer | None,
        token: str,
        notice: str = "",
        refused: bool = False,
    ) -> HTMLResponse:
        with Session(engine) as session:
            rows = deliveries.list_deliveries(session=session)
        failed = sum(1 for row in rows if row.status == OutboxStatus.failed)
        return _page(
            "operator_deliveries.html",
            409 if refused else 200,
            rows=rows,
            failed=failed,
            token=token,
            notice=notice,
            refused=refused,
            viewer=viewer,
            csrf_token=csrf_token(request),
        )

    def back(token: str, done: str) -> RedirectResponse:
        query = urlencode({"token": token, "done": done} if token else {"done": done})
        return RedirectResponse(f"/operator/deliveries?{query}", status_code=303)

    @app.get("/operator/deliveries", response_class=HTMLResponse)
    def operator_deliveries(
        request: Request, viewer: OperatorOrLink, token: str = "", done: str = ""
    ) -> HTMLResponse:
        return listing(request, viewer, token, DELIVERY_NOTICES_RU.get(done, ""))

    @app.post("/operator/deliveries/retry-failed", response_model=None)
    async def operator_retry_failed(viewer: OperatorOrLink, token: str = "") -> Response:
        await deliveries.retry_and_send(
            engine=engine,
            settings=settings,
            message_ids=None,
            actor=actor if viewer is None else f"{actor}:{viewer.email}",
            channel="web",
            clock=clock,
        )
        return back(token, "retried-all")

    @app.post("/operator/deliveries/{message_id}/retry", response_model=None)
    async def operator_retry(
        request: Request, message_id: uuid.UUID, viewer: OperatorOrLink, token: str = ""
    ) -> Response:
        _, refusals, _ = await deliveries.retry_and_send(
            engine=engine,
            settings=settings,
            message_ids=[message_id],
            actor=actor if viewer is None else f"{actor}:{viewer.email}",
            channel="web",
            clock=clock,
        )
        if refusals:
            return listing(request, viewer, token, refusals[message_id], refused=True)
        return back(token, "retried")

    @app.post("/operator/deliveries/{message_id}/cancel", response_model=None)
    def operator_cancel(
        request: Request,
        message_id: uuid.UUID,
        viewer: OperatorOrLink,
        reason: Annotated[str, Form()] = "",
        token: str = "",
    ) -> Response:
        with Session(engine) as session:
            try:
                deliveries.cancel(
                    session=session,
                    message_id=message_id,
                    actor=actor if viewer is None else f"{actor}:{viewer.email}",
                    reason=reason,
                    channel="web",
                    now=clock(),
                )
            except deliveries.DeliveryRefused as refusal:
                return listing(request, viewer, token, refusal.message_ru, refused=True)
            session.commit()
        return back(token, "cancelled")


# --- The department's dashboard (issue 10 §4) ----------------------------------------------------


def _department_dashboard_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET /department/{code}?year=2026/2027&kind=school: the member organisations' figures and
    charts, aggregates only, for the department's signed-in accounts; or with a token signed for
    this department that expires, ?token=… (`nastavnik department dashboard-link CODE` prints the
    address); a bad one answers 403."""

    @app.get("/department/{code}", response_class=HTMLResponse)
    def department_page(
        request: Request,
        code: str,
        viewer: DepartmentOrLink,
        token: str = "",
        year: str = "",
        kind: str = "",
    ) -> HTMLResponse:
        today = clock().astimezone(ZoneInfo(settings.timezone)).date()
        school_year = year.strip() or school_year_of(today)
        with Session(engine) as session:
            try:
                department = dashboard.find_department(session=session, code=code)
                board = dashboard.department_dashboard(
                    session=session,
                    department_id=department.id,
                    school_year=school_year,
                    today=today,
                    kind=kind or None,
                )
            except LookupError as error:
                raise HTTPException(404, str(error)) from None
            except ValueError as error:
                raise HTTPException(422, str(error)) from None
        charts = {
            name: Markup(roadmap_report.inline_svg(svg))  # matplotlib's own SVG, text escaped
            for name, svg in dashboard.dashboard_charts(board).items()
        }
        return _page(
            "department_dashboard.html",
            board=board,
            charts=charts,
            token=token,
            viewer=viewer,
            csrf_token=csrf_token(request),
            kinds=[(k, dashboard.KIND_RU[k]) for k in dashboard.MEMBER_KINDS],
            percent=dashboard.percent,
        )


# --- The mentor's monthly report (§4.2) through the personal link --------------------------------


def _monthly_report_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET/POST /p/{token}/reports/{month}: the pair's report on the month (2026-10), shown to
    the pair's members and confirmed by its mentor only; every use of the link is audited."""

    def report_page(
        token: str, month_text: str, channel: str, comment: str | None = None
    ) -> HTMLResponse:
        with Session(engine) as session:
            check = checked_link(
                session, settings=settings, clock=clock, token=token, channel=channel
            )
            if isinstance(check, HTMLResponse):
                return check
            assert check.participant_id is not None and check.pair_id is not None
            try:
                month = progress.parse_month(month_text)
                report = monthly.report_for(session=session, pair_id=check.pair_id, month=month)
                message, ok = "", True
                if comment is not None:
                    report = monthly.confirm_report(
                        session=session,
                        pair_id=check.pair_id,
                        month=month,
                        participant_id=check.participant_id,
                        comment=comment,
                        now=clock(),
                    )
                    message = "Доклад подтверждён и передан куратору."
            except ValueError as error:
                return _page(
                    "link_refused.html", 404, heading="Нет такого месяца", message=str(error)
                )
            except monthly.ReportRefused as refused:
                session.commit()  # the refusal's audit
                return _page(
                    "link_refused.html",
                    refused.status_code,
                    heading="Доклад недоступен",
                    message=refused.message_ru,
                )
            session.commit()
            page = links.pair_page(
                session=session, participant_id=check.participant_id, pair_id=check.pair_id
            )
            mentor = session.get(MentorshipPair, check.pair_id)
            return _page(
                "monthly_report.html",
                page=page,
                report=report,
                token=token,
                month=month_text,
                message=message,
                ok=ok,
                can_confirm=mentor is not None and mentor.mentor_id == check.participant_id,
            )

    @app.get("/p/{token}/reports/{month}", response_class=HTMLResponse)
    def monthly_report(token: str, month: str) -> HTMLResponse:
        return report_page(token, month, "web:report")

    @app.post("/p/{token}/reports/{month}", response_class=HTMLResponse)
    def confirm_monthly_report(
        token: str, month: str, comment: Annotated[str, Form()] = ""
    ) -> HTMLResponse:
        return report_page(token, month, "web:report-confirm", comment=comment)


# --- The end-of-mentoring report (§2.13–§2.14) through the personal link -------------------------


def _completion_report_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET/POST /p/{token}/completion: the link owner's own report on the finished pair — the
    mentor's on the programme, a mentee's on the process with the evaluation of the mentor (the
    role comes from the link, never from the form) and the monitoring questionnaire. Every use
    of the link is audited; a refused submission is audited and shown with its reason."""

    def today() -> date:
        return clock().astimezone(ZoneInfo(settings.timezone)).date()

    def view(
        token: str,
        channel: str,
        *,
        values: dict[str, str] | None = None,
    ) -> Response:
        with Session(engine) as session:
            check = checked_link(
                session, settings=settings, clock=clock, token=token, channel=channel
            )
            if isinstance(check, HTMLResponse):
                return check
            assert check.participant_id is not None and check.pair_id is not None
            error, field_ru, status_code = "", "", 200
            if values is not None:
                try:
                    completion.submit_report(
                        session=session,
                        pair_id=check.pair_id,
                        participant_id=check.participant_id,
                        values=values,
                        today=today(),
                        now=clock(),
                        source="link",
                    )
                    session.commit()
                    # POST-redirect-GET: a reload does not submit the report again.
                    return RedirectResponse(f"/p/{token}/completion", status_code=303)
                except completion.ReportRefused as refused:
                    session.commit()  # the refusal's audit
                    error, field_ru = refused.message_ru, refused.field_ru
                    status_code = refused.status_code
            try:
                report = completion.report_page(
                    session=session,
                    pair_id=check.pair_id,
                    participant_id=check.participant_id,
                    today=today(),
                )
            except completion.ReportRefused as refused:
                return _page(
                    "link_refused.html",
                    refused.status_code,
                    heading="Отчёт недоступен",
                    message=refused.message_ru,
                )
            page = links.pair_page(
                session=session, participant_id=check.participant_id, pair_id=check.pair_id
            )
            return _page(
                "completion_report.html",
                status_code=status_code,
                page=page,
                report=report,
                token=token,
                error=(f"{field_ru}: {error}" if field_ru else error),
                form=values or {},
                questions=completion.QUESTIONNAIRE_RU,
                fulfilment=[(k.value, v) for k, v in completion.FULFILMENT_RU.items()],
                fulfilment_ru=completion.FULFILMENT_RU,
                scale=range(completion.SCALE_MIN, completion.SCALE_MAX + 1),
            )

    @app.get("/p/{token}/completion", response_class=HTMLResponse)
    def completion_report(token: str) -> Response:
        return view(token, "web:completion")

    @app.post("/p/{token}/completion", response_class=HTMLResponse)
    def submit_completion_report(
        token: str,
        plan_fulfilment: Annotated[str, Form()] = "",
        results: Annotated[str, Form()] = "",
        difficulties: Annotated[str, Form()] = "",
        proposals: Annotated[str, Form()] = "",
        mentor_rating: Annotated[str, Form()] = "",
        satisfaction_programme: Annotated[str, Form()] = "",
        satisfaction_pair: Annotated[str, Form()] = "",
        expectations_met: Annotated[str, Form()] = "",
        usefulness: Annotated[str, Form()] = "",
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        values = {
            "plan_fulfilment": plan_fulfilment,
            "results": results,
            "difficulties": difficulties,
            "proposals": proposals,
            "mentor_rating": mentor_rating,
            "satisfaction_programme": satisfaction_programme,
            "satisfaction_pair": satisfaction_pair,
            "expectations_met": expectations_met,
            "usefulness": usefulness,
            "comment": comment,
        }
        return view(token, "web:completion-submit", values=values)


# --- The best-practice bank: the mentor describes a practice through the link (issue 9) ---------


def _practice_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET/POST /p/{token}/practice: the pair's mentor describes a practice for the bank (a
    mentee's link is refused); every use of the link is audited."""

    def checked(token: str) -> tuple[uuid.UUID, uuid.UUID] | HTMLResponse:
        """(participant, pair) of a valid link, or the refusal page."""
        with Session(engine) as session:
            check = checked_link(
                session, settings=settings, clock=clock, token=token, channel="web:practice"
            )
        if isinstance(check, HTMLResponse):
            return check
        assert check.participant_id is not None and check.pair_id is not None
        return check.participant_id, check.pair_id

    def page(
        token: str,
        participant_id: uuid.UUID,
        pair_id: uuid.UUID,
        *,
        form: dict[str, str] | None = None,
        notice: str = "",
        error: str = "",
        status_code: int = 200,
    ) -> HTMLResponse:
        with Session(engine) as session:
            pair = session.get(MentorshipPair, pair_id)
            assert pair is not None
            if pair.mentor_id != participant_id:
                return _page(
                    "link_refused.html",
                    403,
                    heading="Только для наставника",
                    message="Практику в банк лучших практик описывает наставник пары.",
                )
            practice = practices.practice_of(
                session=session, cycle_id=pair.cycle_id, mentor_id=participant_id
            )
        if form is None:
            form = {
                "title": practice.title if practice else "",
                "summary": practice.summary if practice else "",
                "results": practice.results if practice else "",
            }
        return _page(
            "practice.html",
            status_code=status_code,
            token=token,
            practice=practice,
            form=form,
            limits={"title": practices.TITLE_MAX, "text": practices.TEXT_MAX},
            notice=notice,
            error=error,
        )

    @app.get("/p/{token}/practice", response_class=HTMLResponse)
    def practice_form(token: str, done: str = "") -> HTMLResponse:
        owner = checked(token)
        if isinstance(owner, HTMLResponse):
            return owner
        return page(token, *owner, notice="Практика сохранена. Спасибо!" if done else "")

    @app.post("/p/{token}/practice", response_class=HTMLResponse)
    def post_practice(
        token: str,
        title: Annotated[str, Form()] = "",
        summary: Annotated[str, Form()] = "",
        results: Annotated[str, Form()] = "",
    ) -> Response:
        owner = checked(token)
        if isinstance(owner, HTMLResponse):
            return owner
        participant_id, pair_id = owner
        now = clock()
        with Session(engine) as session:
            try:
                practices.submit_practice(
                    session=session,
                    pair_id=pair_id,
                    participant_id=participant_id,
                    title=title,
                    summary=summary,
                    results=results,
                    now=now,
                    today=now.astimezone(ZoneInfo(settings.timezone)).date(),
                )
            except practices.PracticeRefused as refused:
                session.commit()  # the refusal's audit
                if refused.status_code == 403:
                    return page(token, participant_id, pair_id)
                form = {"title": title, "summary": summary, "results": results}
                return page(
                    token,
                    participant_id,
                    pair_id,
                    form=form,
                    error=refused.message_ru,
                    status_code=422,
                )
            session.commit()
        # POST-redirect-GET: a reload does not post the practice again.
        return RedirectResponse(f"/p/{token}/practice?done=1", status_code=303)


def _department_report_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """POST /department/reports: an organisation of another installation uploads its signed
    report (multipart: ``envelope`` — the JSON, ``pdf`` — the report) with
    ``Authorization: Bearer <its token>`` (`nastavnik department token`). 401 on a wrong token,
    422 with the reason on a refused report, 200 when stored or stored already (a resent report
    changes nothing)."""

    @app.post("/department/reports")
    async def department_report_upload(request: Request) -> JSONResponse:
        form = await request.form()
        envelope_field, pdf_field = form.get("envelope"), form.get("pdf")
        if envelope_field is None or pdf_field is None or isinstance(pdf_field, str):
            return JSONResponse(
                {"error": "нужны поля формы envelope (JSON) и pdf (файл)"}, status_code=422
            )
        envelope_data = (
            envelope_field.encode()
            if isinstance(envelope_field, str)
            else await envelope_field.read()
        )
        pdf = await pdf_field.read()
        try:
            envelope = report_envelope.read_envelope(envelope_data)
        except report_envelope.ReportRefused as refused:
            return JSONResponse({"error": refused.reason}, status_code=422)
        code = str(envelope.get("organization_code", ""))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = report_envelope.department_token(
            secret=settings.approval_secret(), organization_code=code
        )
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
            return JSONResponse(
                {"error": "ключ организации не подходит: получите его в управлении"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        with Session(engine) as session:
            try:
                received = report_envelope.receive(
                    session=session,
                    envelope=envelope,
                    pdf=pdf,
                    transport=ReportTransport.upload,
                    now=clock(),
                    settings=settings,
                )
            except report_envelope.ReportRefused as refused:
                session.commit()  # the refusal is audited
                return JSONResponse({"error": refused.reason}, status_code=422)
            session.commit()
            submission = received.submission
            return JSONResponse(
                {
                    "status": "stored" if received.created else "already stored",
                    "submission_id": str(submission.id),
                    "digest": submission.digest,
                    "submitted_on": submission.submitted_on.isoformat(),
                }
            )


# --- Who is who in a cycle: the lists behind the artifacts' counts (issue 11 §3) ----------------

# The organisation's own staff only: a department sees its members' figures, never a child's name.
CYCLE_LIST_ROLES = (AccountRole.curator, AccountRole.director)


def _cycle_list_routes(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """GET /cycles/{cycle_id}/consents, …/pairs, …/mentors: the people behind the counts a run's
    artifacts show (who lacks which consent; the pairs, groups and search list; the mentors'
    selection and training), for the curator and director of the cycle's organisation only."""

    def today() -> date:
        return clock().astimezone(ZoneInfo(settings.timezone)).date()

    def list_page(
        request: Request, viewer: access.Viewer, template: str, build: Callable[..., Any]
    ) -> HTMLResponse:
        cycle_id = uuid.UUID(str(request.path_params["cycle_id"]))
        with Session(engine) as session:
            try:
                listing = build(session=session, cycle_id=cycle_id, on=today())
            except LookupError as error:
                raise HTTPException(404, str(error)) from None
        return _page(
            template,
            listing=listing,
            pages=cycle_lists.LIST_PAGES,
            role_ru=cycle_lists.ROLE_RU,
            viewer=viewer,
            csrf_token=csrf_token(request),
        )

    staff = [Depends(require_cycle_access()), Depends(require_role(*CYCLE_LIST_ROLES))]

    @app.get("/cycles/{cycle_id}/consents", response_class=HTMLResponse, dependencies=staff)
    def cycle_consents(request: Request, cycle_id: uuid.UUID, viewer: Signed) -> HTMLResponse:
        return list_page(request, viewer, "cycle_consents.html", cycle_lists.consents_list)

    @app.get("/cycles/{cycle_id}/pairs", response_class=HTMLResponse, dependencies=staff)
    def cycle_pairs(request: Request, cycle_id: uuid.UUID, viewer: Signed) -> HTMLResponse:
        return list_page(request, viewer, "cycle_pairs.html", cycle_lists.pairs_list)

    @app.get("/cycles/{cycle_id}/mentors", response_class=HTMLResponse, dependencies=staff)
    def cycle_mentors(request: Request, cycle_id: uuid.UUID, viewer: Signed) -> HTMLResponse:
        return list_page(request, viewer, "cycle_mentors.html", cycle_lists.mentors_list)
