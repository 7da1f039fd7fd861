"""The approval web endpoint with a fake run resumer and a fixed clock (no Prefect)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from models import AccountRole, ApprovalRequest, AuditEvent
from nastavnik import approval_mail, approvals
from nastavnik.web import create_app
from tests.web_support import sign_in_as

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the web app."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Resumes:
    """Records the runs the web app resumes and the input it sends them."""

    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, dict]] = []
        self.approval_keys: list[str] = []

    async def __call__(self, run_id: uuid.UUID, run_input: dict, approval_key: str) -> None:
        self.calls.append((run_id, run_input))
        self.approval_keys.append(approval_key)


class Client:
    """Synchronous requests to the app through httpx's ASGI transport."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.cookies = httpx.Cookies()  # kept between requests, as a browser keeps a session

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://web.test", cookies=self.cookies
            ) as web:
                response = await web.request(method, url, **kwargs)
                self.cookies = httpx.Cookies(web.cookies)
                return response

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def request_row(engine, settings, cycle_ids) -> ApprovalRequest:
    """A pending request opened at T0 (14-day code), its first mail queued."""
    _, cycle_id = cycle_ids
    with Session(engine, expire_on_commit=False) as session:
        request, _ = approval_mail.open_request_with_mail(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key="registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры наставников и наставляемых",
            summary="",
            document_ids=[],
            now=T0,
        )
        session.commit()
    return request


@pytest.fixture
def web(engine, settings):
    """A test client of the app, its fake resumer and its clock (at T0 + 1 day)."""
    resumes, clock = Resumes(), Clock(T0 + timedelta(days=1))
    app = create_app(settings=settings, engine=engine, resume=resumes, clock=clock)
    return Client(app), resumes, clock


def _code(engine, settings, request_id) -> str:
    with Session(engine) as session:
        request = session.get(ApprovalRequest, request_id)
        return approvals.code_for_request(secret=settings.approval_secret(), request=request)


def _refusals(engine) -> list[dict]:
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "approval.refused"))
        return [e.details for e in events]


def _form(code: str | None = None, **fields: str) -> dict[str, str]:
    form = {"decision": "approve", "approver_name": "Иванова Мария Петровна", "comment": ""}
    if code is not None:
        form["code"] = code
    return form | fields


def test_link_without_code_shows_the_page_with_a_field_for_the_code(web, request_row):
    client, resumes, _ = web
    page = client.get(f"/approvals/{request_row.id}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Не указан код подтверждения" in page.text
    assert '<input type="text" name="code"' in page.text
    assert resumes.calls == []


@pytest.mark.parametrize("code", [None, "", "   "])
def test_form_without_code_answers_with_the_page_not_json(web, request_row, engine, code):
    client, resumes, _ = web
    answer = client.post(f"/approvals/{request_row.id}", data=_form(code, comment="Согласна"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Не указан код подтверждения" in answer.text
    assert request_row.title in answer.text and "Согласна" in answer.text
    assert resumes.calls == [] and _refusals(engine) == []


def test_form_without_decision_or_name_answers_with_the_page(web, request_row, engine, settings):
    client, resumes, _ = web
    code = _code(engine, settings, request_row.id)
    no_decision = client.post(f"/approvals/{request_row.id}", data={"code": code})
    assert no_decision.status_code == 422 and "Выберите решение" in no_decision.text
    no_name = client.post(f"/approvals/{request_row.id}", data=_form(code, approver_name=" "))
    assert no_name.status_code == 422 and "Укажите ФИО" in no_name.text
    assert resumes.calls == []


def test_after_a_reissue_the_new_link_resumes_and_the_old_one_is_refused(
    web, request_row, engine, settings
):
    client, resumes, clock = web
    old = _code(engine, settings, request_row.id)
    clock.now = T0 + timedelta(days=20)  # the old code has expired: the curator reissues
    expired_page = client.get(f"/approvals/{request_row.id}", params={"code": old})
    assert "срок действия кода подтверждения истёк" in expired_page.text.lower()
    assert "выпустить новый код" in expired_page.text
    with Session(engine) as session:
        approval_mail.reissue_with_mail(
            session=session,
            settings=settings,
            request_id=request_row.id,
            actor="curator",
            now=clock.now,
        )
        session.commit()
    new = _code(engine, settings, request_row.id)

    old_page = client.get(f"/approvals/{request_row.id}", params={"code": old})
    assert old_page.status_code == 200 and "заменён новым" in old_page.text
    assert f'value="{old}"' not in old_page.text
    refused = client.post(f"/approvals/{request_row.id}", data=_form(old))
    assert refused.status_code == 403 and "заменён новым" in refused.text
    assert resumes.calls == []
    assert [(r["problem"], r["channel"]) for r in _refusals(engine)] == [("superseded", "web")]

    page = client.get(f"/approvals/{request_row.id}", params={"code": new})
    assert page.status_code == 200 and f'value="{new}"' in page.text
    assert "Не указан код" not in page.text and "истёк" not in page.text
    decided = client.post(f"/approvals/{request_row.id}", data=_form(new, comment="Утверждаю"))
    assert decided.status_code == 200 and "Решение передано: утверждено" in decided.text
    assert resumes.calls == [
        (
            request_row.flow_run_id,
            {
                "decision": "approve",
                "approval_code": "",
                "approver_name": "Иванова Мария Петровна",
                "comment": "Утверждаю",
            },
        )
    ]


def test_index_marks_requests_whose_code_expired(web, request_row, engine):
    client, _, clock = web
    sign_in_as(client, engine, role=AccountRole.director)
    assert "срок кода истёк" not in client.get("/").text
    clock.now = T0 + timedelta(days=15)
    index = client.get("/")
    assert request_row.title in index.text and "срок кода истёк" in index.text


class FailingResumes(Resumes):
    """A Prefect server that does not answer the wake-up."""

    async def __call__(self, run_id: uuid.UUID, run_input: dict, approval_key: str) -> None:
        await super().__call__(run_id, run_input, approval_key)
        raise httpx.ConnectError("Prefect server down")


def test_a_decision_is_kept_when_the_run_cannot_be_woken(engine, settings, request_row):
    resumes, clock = FailingResumes(), Clock(T0 + timedelta(days=1))
    client = Client(create_app(settings=settings, engine=engine, resume=resumes, clock=clock))
    code = _code(engine, settings, request_row.id)

    saved = client.post(f"/approvals/{request_row.id}", data=_form(code, comment="Утверждаю"))
    assert saved.status_code == 202, saved.text
    assert "Решение сохранено: утверждено" in saved.text and "повторять" in saved.text
    assert resumes.approval_keys == ["registers"]
    with Session(engine) as session:
        request = session.get(ApprovalRequest, request_row.id)
        decision = approvals.recorded_decision(session=session, request_id=request_row.id)
        assert request is not None and decision is not None
        # What the daily tick wakes the run with later: the decision, not the spent code.
        assert approvals.wake_input(request=request, decision=decision) == {
            "decision": "approve",
            "approval_code": "",
            "approver_name": "Иванова Мария Петровна",
            "comment": "Утверждаю",
        }
    assert request.status.value == "approved"

    again = client.post(f"/approvals/{request_row.id}", data=_form(code))
    assert again.status_code == 409 and "уже передано" in again.text
    assert len(resumes.calls) == 1
