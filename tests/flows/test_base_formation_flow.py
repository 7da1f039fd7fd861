"""Base formation against a real Prefect server, runner and SMTP server.

Regulation §3 (seed regulation_and_roadmap_school2_ustyuzhna.txt): «Формирование базы
наставляемых … База наставляемых с перечнем запросов» — the registers the director approves.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from deployments.prefect_api import read_run, resume_run, start_deployment
from models import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    Document,
    DocumentStatus,
    OutboxMessage,
)
from nastavnik import approvals, mail
from nastavnik.db import get_engine, session_scope
from nastavnik.web import create_app
from tests.flows import support
from tests.flows.conftest import ORG, SECRET, FlowStack

pytestmark = pytest.mark.flows


def _start(stack: FlowStack, reference_date: str | None = "2026-10-01") -> uuid.UUID:
    params = {
        "organization_code": ORG["code"],
        "school_year": "2026/2027",
        "mentee_files": [str(stack.mentee_file)],
        "mentor_files": [str(stack.mentor_file)],
    }
    if reference_date is not None:
        params["reference_date"] = reference_date
    return asyncio.run(start_deployment("base-formation/base-formation", {"params": params}))


async def _wait(run_id: uuid.UUID, *, suspended_at: int | None = None, timeout: float = 120) -> str:
    """Wait until the run is suspended at the n-th pause (or finished); returns the state name."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = await read_run(run_id)
        state = run.state
        assert state is not None
        if state.is_final():
            return state.name
        if (
            suspended_at is not None
            and state.name == "Suspended"
            and state.state_details.pause_key == f"base-formation-registers-{suspended_at}"
        ):
            return state.name
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"run {run_id} is {state.name} ({state.state_details.pause_key})")
        await asyncio.sleep(0.3)


def wait(run_id: uuid.UUID, **kwargs: object) -> str:
    return asyncio.run(_wait(run_id, **kwargs))  # type: ignore[arg-type]


def _request(run_id: uuid.UUID) -> ApprovalRequest:
    with session_scope() as session:
        return session.exec(
            select(ApprovalRequest).where(ApprovalRequest.flow_run_id == run_id)
        ).one()


def _valid_code(run_id: uuid.UUID) -> str:
    return approvals.code_for_request(secret=SECRET.encode(), request=_request(run_id))


def _resume(run_id: uuid.UUID, code: str, decision: str = "approve", comment: str = "") -> None:
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": decision,
                "approval_code": code,
                "approver_name": ORG["director_name"],
                "comment": comment,
            },
        )
    )


def _documents(run_id: uuid.UUID) -> list[Document]:
    with session_scope() as session:
        return list(session.exec(select(Document).where(Document.flow_run_id == run_id)))


def _outbox(run_id: uuid.UUID) -> list[OutboxMessage]:
    with session_scope() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.flow_run_id == run_id)))


def _refusals(run_id: uuid.UUID) -> list[str]:
    with session_scope() as session:
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.flow_run_id == run_id, AuditEvent.action == "approval.refused"
            )
        )
        return [e.details["problem"] for e in events]


def _received(stack: FlowStack, address: str, idempotency_key: str) -> list:
    """What the SMTP server received for the outbox message with this key."""
    message_id = mail.message_id_for(idempotency_key=idempotency_key, settings=stack.settings)
    return [m for m in stack.mail_to(address) if m["Message-ID"] == message_id]


def _director_mail(stack: FlowStack, request_id: uuid.UUID) -> list:
    return _received(stack, ORG["director_email"], f"approval-request:{request_id}")


def _curator_mail(stack: FlowStack, request_id: uuid.UUID) -> list:
    return _received(stack, ORG["curator_email"], f"decision-notice:{request_id}:curator")


def test_approval_with_valid_code_completes_without_duplicate_mail_or_documents(
    flow_stack: FlowStack,
) -> None:
    run_id = _start(flow_stack)
    assert wait(run_id, suspended_at=1) == "Suspended"
    request = _request(run_id)
    director_mail = _director_mail(flow_stack, request.id)
    assert len(director_mail) == 1
    assert _valid_code(run_id) in director_mail[0].get_body(("plain",)).get_content()
    documents_before = {d.id for d in _documents(run_id)}
    assert len(documents_before) == 3

    _resume(run_id, _valid_code(run_id), comment="Утверждаю")
    assert wait(run_id) == "Completed"

    # The resumed run re-ran from the top: still one e-mail to the director, one document each.
    assert len(_director_mail(flow_stack, request.id)) == 1
    assert len(_curator_mail(flow_stack, request.id)) == 1
    assert {d.id for d in _documents(run_id)} == documents_before
    assert {d.status for d in _documents(run_id)} == {DocumentStatus.approved}
    assert sorted(m.status.value for m in _outbox(run_id)) == ["sent", "sent"]
    assert _request(run_id).status == ApprovalStatus.approved
    with session_scope() as session:
        actions = [
            e.action
            for e in session.exec(select(AuditEvent).where(AuditEvent.flow_run_id == run_id))
        ]
    assert actions.count("approval.requested") == 1 and actions.count("approval.approve") == 1

    # The resumed run took the results of the steps before the pause from the result store:
    # each of them has the one task run of the run's first start, none a Cached replay; the
    # artifacts have none (made once per run by the flow itself).
    def recorded_to_the_end() -> list | None:
        runs = support.task_runs(run_id)
        # The e-mails go out inside the tasks that queue them: no deliver-messages run.
        done = any(
            r.name.startswith("conclude-decision") and r.state_name == "Completed" for r in runs
        )
        return runs if done else None

    recorded = support.poll(
        recorded_to_the_end, timeout=30, what="the resumed run's last task run recorded"
    )
    names = [r.name.rsplit("-", 1)[0] for r in recorded]
    before_pause = ["open-stage", "import-questionnaires"]
    before_pause += ["check-consents", "render-registers", "open-approval-request"]
    assert {name: names.count(name) for name in before_pause} == dict.fromkeys(before_pause, 1)
    assert [r.state_name for r in recorded if r.state_name != "Completed"] == []
    assert names.count("record-decision") == 1 and names.count("conclude-decision") == 1
    assert "deliver-messages" not in names
    assert not [name for name in names if name.startswith("publish-")]

    # Artifacts were made once although the run started twice (before and after the pause).
    made = support.artifacts(run_id)
    keyed = [a.key for a in made if a.key]
    assert len(keyed) == len(set(keyed)) and {"questionnaire-import", "stage-mail"} <= set(keyed)
    # One link artifact per document (Prefect stores a link as markdown «[title](url)»).
    links = [str(a.data) for a in made if not a.key]
    for document_id in documents_before:
        url = f"http://approvals.test/documents/{document_id}.pdf"
        assert sum(url in link for link in links) == 1, (url, links)
    # The stage's mail: both e-mails, sent, with roles and masked addresses only.
    data = next(a.data for a in made if a.key == "stage-mail")
    rows = json.loads(data) if isinstance(data, str) else data
    assert [(r["Адрес"], r["Статус"]) for r in rows] == [
        ("d*****r@school2.example.ru", "отправлено"),
        ("c*****r@school2.example.ru", "отправлено"),
    ]
    assert "director@" not in json.dumps(rows, ensure_ascii=False)
    # A minor without a legal representative's consent is counted, not named (issue 11 §3).
    cycle_id = _request(run_id).cycle_id
    keys = support.assert_artifacts_name_no_one(run_id, cycle_id)
    assert "consents-missing" in keys
    missing = next(a for a in made if a.key == "consents-missing")
    shown = support.shown_data(missing)
    assert "наставляемый" in shown and "законного представителя" in shown
    assert f"/cycles/{cycle_id}/consents" in str(missing.description)


def test_forged_expired_and_replayed_codes_are_refused_and_the_run_keeps_waiting(
    flow_stack: FlowStack,
) -> None:
    # A code already used by an earlier run, to replay later.
    earlier = _start(flow_stack)
    assert wait(earlier, suspended_at=1) == "Suspended"
    used_code = _valid_code(earlier)
    _resume(earlier, used_code)
    assert wait(earlier) == "Completed"

    run_id = _start(flow_stack)
    assert wait(run_id, suspended_at=1) == "Suspended"
    request = _request(run_id)
    forged = approvals.make_code(
        secret=b"not-the-secret-0123456789",
        flow_run_id=run_id,
        approval_key=request.approval_key,
        role="director",
        expires_at=request.expires_at,
    )
    _resume(run_id, forged)
    assert wait(run_id, suspended_at=2) == "Suspended"
    expired = approvals.make_code(
        secret=SECRET.encode(),
        flow_run_id=run_id,
        approval_key=request.approval_key,
        role="director",
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    _resume(run_id, expired)
    assert wait(run_id, suspended_at=3) == "Suspended"
    _resume(run_id, used_code)
    assert wait(run_id, suspended_at=4) == "Suspended"

    assert _refusals(run_id) == ["forged", "expired", "replayed"]
    assert _request(run_id).status == ApprovalStatus.pending

    _resume(run_id, _valid_code(run_id))
    assert wait(run_id) == "Completed"
    # Four resumes, four re-runs from the top: still exactly one e-mail to the director.
    assert len(_director_mail(flow_stack, request.id)) == 1
    assert len(_documents(run_id)) == 3
    assert _refusals(run_id) == ["forged", "expired", "replayed"]


def test_request_for_changes_is_recorded_and_the_curator_gets_the_comment(
    flow_stack: FlowStack,
) -> None:
    run_id = _start(flow_stack)
    assert wait(run_id, suspended_at=1) == "Suspended"
    comment = "Добавьте запросы наставляемых 8 класса"
    _resume(run_id, _valid_code(run_id), decision="request_changes", comment=comment)
    assert wait(run_id) == "Completed"
    request = _request(run_id)
    assert request.status == ApprovalStatus.changes_requested
    notices = _curator_mail(flow_stack, request.id)
    assert len(notices) == 1
    assert comment in notices[0].get_body(("plain",)).get_content()
    assert {d.status for d in _documents(run_id)} == {DocumentStatus.draft}


def test_web_link_resumes_the_run_and_refuses_a_second_click(flow_stack: FlowStack) -> None:
    run_id = _start(flow_stack, reference_date=None)  # the run's own day
    assert wait(run_id, suspended_at=1) == "Suspended"
    request = _request(run_id)
    code = _valid_code(run_id)
    app = create_app(settings=flow_stack.settings, engine=get_engine(), resume=resume_run)

    async def click() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://approvals.test") as web:
            page = await web.get(f"/approvals/{request.id}", params={"code": code})
            assert page.status_code == 200 and request.title in page.text
            # The approver reads the documents through the page's signed links (no account).
            for document_id in request.document_ids:
                key = page.text.split(f"/documents/{document_id}.pdf?key=")[1].split('"')[0]
                pdf = await web.get(f"/documents/{document_id}.pdf", params={"key": key})
                assert pdf.content.startswith(b"%PDF")
            decided = await web.post(
                f"/approvals/{request.id}",
                data={
                    "code": code,
                    "decision": "approve",
                    "approver_name": ORG["director_name"],
                    "comment": "",
                },
            )
            await _wait(run_id)
            again = await web.post(
                f"/approvals/{request.id}",
                data={"code": code, "decision": "reject", "approver_name": "Кто-то", "comment": ""},
            )
            return decided, again

    decided, again = asyncio.run(click())
    assert decided.status_code == 200, decided.text
    assert asyncio.run(read_run(run_id)).state.name == "Completed"  # type: ignore[union-attr]
    assert again.status_code == 409 and "уже был использован" in again.text
    created = asyncio.run(read_run(run_id)).created
    assert created is not None
    # Without a reference date the documents carry the run's own day (the installation's, in
    # Moscow: after 21:00 UTC it is already tomorrow), the same after resume.
    from zoneinfo import ZoneInfo

    from nastavnik.clock import DEFAULT_TIMEZONE

    run_day = created.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    assert {d.doc_date for d in _documents(run_id)} == {run_day}
    assert _request(run_id).status == ApprovalStatus.approved
