"""The approval endpoint: signed one-click links, decision form, and the documents over http."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ApprovalDecision, ApprovalRequest, Cycle, Decision, Document, Organization
from nastavnik import approvals, documents
from nastavnik.rendering import get_jinja_env
from nastavnik.settings import Settings

# Resumes the suspended run with the decision as its input; supplied by the deployment layer.
Resumer = Callable[[uuid.UUID, dict[str, Any]], Awaitable[None]]


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = get_jinja_env().get_template(f"web/{template}").render(**context)
    return HTMLResponse(html, status_code=status_code)


def exceptions_from_form(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents returned for rework: form fields ``except_<number>`` with a comment."""
    exceptions = []
    for name, value in form.items():
        number = name.removeprefix("except_")
        if name.startswith("except_") and number.isdigit() and str(value).strip():
            exceptions.append({"number": int(number), "comment": str(value).strip()})
    return sorted(exceptions, key=lambda e: e["number"])


def create_app(*, settings: Settings, engine: Engine, resume: Resumer) -> FastAPI:
    """Build the web app for the given settings, database and run resumer."""
    app = FastAPI(title="Наставник — утверждение", docs_url=None, redoc_url=None)

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

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        with Session(engine) as session:
            pending = approvals.list_pending(session=session)
        return _page("index.html", pending=pending)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/approvals/{request_id}", response_class=HTMLResponse)
    def show(request_id: uuid.UUID, code: str = "") -> HTMLResponse:
        with Session(engine) as session:
            request, cycle, org, docs = load(session, request_id)
            decision = session.exec(
                select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
            ).first()
        return _page(
            "approval.html",
            request=request,
            cycle=cycle,
            organization=org,
            documents=docs,
            code=code,
            decision=decision,
            decision_labels=approvals.DECISION_LABEL_RU,
        )

    @app.post("/approvals/{request_id}", response_class=HTMLResponse)
    async def decide(
        http_request: Request,
        request_id: uuid.UUID,
        code: Annotated[str, Form()],
        decision: Annotated[Decision, Form()],
        approver_name: Annotated[str, Form()],
        comment: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        if decision == Decision.request_changes and not comment.strip():
            return _page(
                "result.html",
                status_code=422,
                ok=False,
                message="Для доработки нужен комментарий: что исправить.",
            )
        with Session(engine) as session:
            request, *_ = load(session, request_id)
            problem = approvals.precheck_submission(
                session=session,
                secret=settings.approval_secret(),
                request_id=request_id,
                code=code,
                channel="web",
                actor=approver_name,
                now=approvals.now_utc(),
            )
            session.commit()
            run_id, accepts_exceptions = request.flow_run_id, request.accepts_exceptions
        if problem is not None:
            return _page(
                "result.html", status_code=403, ok=False, message=approvals.CODE_PROBLEM_RU[problem]
            )
        run_input: dict[str, Any] = {
            "decision": decision.value,
            "approval_code": code,
            "approver_name": approver_name,
            "comment": comment,
        }
        if accepts_exceptions:
            run_input["exceptions"] = exceptions_from_form(dict(await http_request.form()))
        await resume(run_id, run_input)
        return _page(
            "result.html",
            ok=True,
            message=f"Решение передано: {approvals.DECISION_LABEL_RU[decision]}.",
        )

    @app.get("/documents/{document_id}.pdf")
    def document(document_id: uuid.UUID) -> FileResponse:
        with Session(engine) as session:
            doc = session.get(Document, document_id)
        if doc is None:
            raise HTTPException(404, "Документ не найден")
        path = documents.document_file(settings=settings, document=doc)
        return FileResponse(
            path, media_type="application/pdf", filename=f"{doc.title} {doc.label}.pdf"
        )

    return app
