"""Crash safety with real processes: a killed flow run, a restarted server, a double click.

These tests stop and start a Prefect server and SIGKILL a flow run's process, which the shared
harness server cannot take: the module runs a stack of its own — ``prefect server start`` on a
free port with its own home and SQLite database, a ``deployments.serve`` runner, an SMTP sink
behind a gate that can hold connections silent, and the approval web app under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextvars
import email
import email.message
import email.policy
import email.utils
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import func, select

from deployments.catalog import STAGE_DEPLOYMENTS
from deployments.prefect_api import read_run, resume_run
from models import ApprovalDecision, AuditEvent, Document, DocumentStatus, OutboxStatus
from nastavnik import repository
from nastavnik.db import get_engine, session_scope
from nastavnik.settings import Settings, get_settings
from nastavnik.smtp_sink import MailSink
from nastavnik.web import create_app
from tests.flows import support
from tests.flows.conftest import MENTEES, MENTORS, ORG, PROJECT_ROOT, SECRET

pytestmark = pytest.mark.flows

logger = logging.getLogger(__name__)
PAUSE = "base-formation-registers"
DEPLOYMENT = STAGE_DEPLOYMENTS["base-formation"]
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/approvals/[0-9a-f-]{36})\?code=([\w-]+)")


@dataclass
class Stack:
    """The module's own server, runner, SMTP gate and sink, and web endpoint."""

    settings: Settings
    server: support.PrefectServer
    runner: subprocess.Popen[bytes]
    sink: MailSink
    gate: support.SmtpGate
    web_url: str
    mentee_file: Path
    mentor_file: Path
    startup_seconds: float

    def messages(self) -> list[email.message.EmailMessage]:
        """Every message the sink accepted, parsed."""
        return [
            email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in self.sink.messages
        ]

    def mail_to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages() if address in str(m["To"])]

    def stage_args(self) -> list[str]:
        """``nastavnik base-formation`` arguments for the test organisation's files."""
        return [
            "base-formation",
            "--org",
            ORG["code"],
            "--year",
            "2026/2027",
            "--mentees",
            str(self.mentee_file),
            "--mentors",
            str(self.mentor_file),
        ]


def _serve_web(settings: Settings, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(settings=settings, engine=get_engine(), resume=resume_run)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    # The copied context carries the Prefect settings pointing at this module's server.
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(server.run,), name="web", daemon=True)
    thread.start()
    support.poll(lambda: server.started, timeout=30, what="web endpoint")
    return server, thread


def _deployments_served(api_url: str) -> bool:
    return all(
        httpx.get(f"{api_url}/deployments/name/{name}", timeout=5).status_code == 200
        for name in STAGE_DEPLOYMENTS.values()
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prefect server + runner + gated SMTP sink + approval web app, all of this module's own."""
    data_dir = tmp_path_factory.mktemp("crash-stack")
    sink = MailSink(directory=data_dir / "mail", port=0).start()
    gate = support.SmtpGate(target_port=sink.port).start()
    server_port, web_port = support.free_port(), support.free_port()
    api_url = f"http://127.0.0.1:{server_port}/api"
    env = {
        "PREFECT_HOME": str(data_dir / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "NASTAVNIK_DATA_DIR": str(data_dir),
        "NASTAVNIK_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
        "NASTAVNIK_SECRET_KEY": SECRET,
        "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{gate.port}",
        # A held connection keeps the stage in delivery this long: the window for the kill.
        "NASTAVNIK_SMTP_TIMEOUT_SECONDS": "30",
        "NASTAVNIK_WEB_BASE_URL": f"http://127.0.0.1:{web_port}",
        # The test counts every e-mail: no retry-deliveries run every minute beside it.
        "NASTAVNIK_SCHEDULES": "false",
    }
    saved_env = dict(os.environ)
    os.environ.update(env)
    get_settings.cache_clear()
    server = support.PrefectServer(server_port, os.environ.copy(), data_dir / "server.log")
    runner: subprocess.Popen[bytes] | None = None
    web: tuple[uvicorn.Server, threading.Thread] | None = None
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            started = time.monotonic()
            logger.info("Prefect server up in %.1f s", server.start())
            with (data_dir / "runner.log").open("ab") as log:
                runner = subprocess.Popen(
                    [sys.executable, "-m", "deployments.serve"],
                    cwd=PROJECT_ROOT,
                    env=os.environ.copy(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            support.poll(
                lambda: _deployments_served(api_url), timeout=300, what="deployments served"
            )
            startup = time.monotonic() - started
            logger.info("server and runner with its deployments up in %.1f s", startup)
            with session_scope() as session:
                repository.upsert_organization(session=session, **ORG)
            mentee_file = data_dir / "mentees.csv"
            mentee_file.write_text(MENTEES, encoding="cp1251")
            mentor_file = data_dir / "mentors.csv"
            mentor_file.write_text(MENTORS, encoding="utf-8-sig")
            web = _serve_web(get_settings(), web_port)
            yield Stack(
                get_settings(),
                server,
                runner,
                sink,
                gate,
                f"http://127.0.0.1:{web_port}",
                mentee_file,
                mentor_file,
                startup,
            )
    finally:
        if web is not None:
            web[0].should_exit = True
            web[1].join(timeout=10)
        if runner is not None:
            support.stop_process_group(runner)
        server.stop()
        gate.stop()
        sink.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()


def _nastavnik(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``nastavnik`` command as the curator runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cli(*args: str) -> str:
    result = _nastavnik(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _run_id(output: str) -> uuid.UUID:
    match = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", output)
    assert match, output
    return uuid.UUID(match.group(0))


def _state(run_id: uuid.UUID) -> StateType | None:
    state = asyncio.run(read_run(run_id)).state
    return state.type if state else None


def _state_names(run_id: uuid.UUID) -> list[str]:
    async def names() -> list[str]:
        async with get_client() as client:
            states = await client.read_flow_run_states(run_id)
        return [s.name for s in sorted(states, key=lambda s: s.timestamp)]

    return asyncio.run(names())


def _count(model: type) -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _link(stack: Stack, run_id: uuid.UUID) -> tuple[str, str]:
    """The approval link of this run's request, as the director's e-mail carries it."""
    request_id = str(support.request(run_id, PAUSE).id)
    for message in stack.mail_to(ORG["director_email"]):
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        for url, code in LINK.findall(body.get_content()):
            if url.endswith(request_id):
                return url, code
    raise AssertionError(f"no approval link for request {request_id} in the director's mail")


def _click(url: str, code: str) -> httpx.Response:
    """What the director's browser sends on «Утвердить»."""
    return httpx.post(
        url,
        data={"code": code, "decision": "approve", "approver_name": ORG["director_name"]},
        timeout=60,
    )


def _decisions_and_refusals(
    request_id: uuid.UUID,
) -> tuple[list[ApprovalDecision], list[AuditEvent]]:
    """The decisions recorded on the request, and the refusals audited for it."""
    with session_scope() as session:
        decisions = session.exec(
            select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
        ).all()
        refusals = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity == f"approval:{request_id}",
                AuditEvent.action == "approval.refused",
            )
        ).all()
        return list(decisions), list(refusals)


def _kill_in_delivery(stack: Stack, run_id: uuid.UUID) -> None:
    """SIGKILL the run's process once its registers exist and it is sending the approval mail
    (claimed, connected to the silent server); wait until the runner marks the run Crashed."""

    def in_delivery() -> list[int]:
        claimed = [
            m
            for m in support.outbox(run_id)
            if m.idempotency_key.startswith("approval-request:") and m.claimed_until is not None
        ]
        if len(support.documents(run_id)) == 3 and claimed and stack.gate.held:
            return support.flow_run_pids(run_id) or support.pids_connected_to(stack.gate.port)
        return []

    pids = support.poll(in_delivery, timeout=240, what="run rendered and sending the approval")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    support.poll(
        lambda: _state(run_id) == StateType.CRASHED, timeout=60, what="runner marks it Crashed"
    )


def test_run_killed_in_delivery_is_continued_without_duplicates(stack: Stack) -> None:
    """SIGKILL after the registers are rendered, before the approval mail went out; the stage
    started again continues the same run: no duplicate documents, numbers or e-mails."""
    documents_before, mail_before = _count(Document), len(stack.sink.messages)
    stack.gate.holding = True  # the SMTP server accepts and says nothing
    try:
        run_id = _run_id(_cli(*stack.stage_args()))
        _kill_in_delivery(stack, run_id)
    finally:
        stack.gate.holding = False
    assert len(support.documents(run_id)) == 3
    assert [m.status for m in support.outbox(run_id)] == [OutboxStatus.pending]
    assert len(stack.sink.messages) == mail_before

    # Starting the stage again with the same parameters continues the crashed run.
    output = _cli(*stack.stage_args())
    assert "продолжен тот же запуск" in output and str(run_id) in output, output
    assert support.wait(run_id, pause=f"{PAUSE}-1") == "Suspended"
    support.answer(run_id, PAUSE)
    assert support.wait(run_id) == "Completed"

    assert "Crashed" in _state_names(run_id)
    docs = support.documents(run_id)
    assert _count(Document) - documents_before == len(docs) == 3
    assert len({(d.series, d.year, d.number) for d in docs}) == 3
    assert {d.status for d in docs} == {DocumentStatus.approved}
    messages = support.outbox(run_id)
    assert sorted(m.idempotency_key.partition(":")[0] for m in messages) == [
        "approval-request",
        "decision-notice",
    ]
    assert {m.status for m in messages} == {OutboxStatus.sent}
    received = stack.messages()[mail_before:]
    assert len({str(m["Message-ID"]) for m in received}) == len(received) == 2
    assert sorted(email.utils.parseaddr(str(m["To"]))[1] for m in received) == sorted(
        [ORG["director_email"], ORG["curator_email"]]
    )

    # A finished run is not retried.
    result = _nastavnik("runs", "retry", str(run_id))
    assert result.returncode == 2 and "not crashed or failed" in result.stdout, result.stdout


def test_link_resumes_after_server_restart(stack: Stack) -> None:
    """The Prefect server stops and starts again while the run waits for the director."""
    run_id = support.start(
        DEPLOYMENT,
        mentee_files=[str(stack.mentee_file)],
        mentor_files=[str(stack.mentor_file)],
    )
    assert support.wait(run_id, pause=f"{PAUSE}-1") == "Suspended"
    url, code = _link(stack, run_id)

    stack.server.stop()
    restart_seconds = stack.server.start()
    logger.info("Prefect server restarted in %.1f s", restart_seconds)
    assert _state(run_id) == StateType.PAUSED

    response = _click(url, code)
    assert response.status_code == 200, response.text
    assert "Решение передано" in response.text
    assert support.wait(run_id) == "Completed", restart_seconds
    assert stack.runner.poll() is None, "the runner must outlive the server's restart"


def test_a_decision_taken_while_the_server_is_down_is_kept_and_taken_later(
    stack: Stack,
) -> None:
    """The director decides while the Prefect server is down: the page says the decision is
    saved; once the server is back the daily tick's wake-up lets the run take it (no new click)."""
    from flows.recovery import wake_decided_runs

    run_id = support.start(
        DEPLOYMENT,
        mentee_files=[str(stack.mentee_file)],
        mentor_files=[str(stack.mentor_file)],
    )
    assert support.wait(run_id, pause=f"{PAUSE}-1") == "Suspended"
    url, code = _link(stack, run_id)

    stack.server.stop()
    try:
        response = _click(url, code)
    finally:
        stack.server.start()
    assert response.status_code == 202, response.text
    assert "Решение сохранено" in response.text
    assert _state(run_id) == StateType.PAUSED

    request = support.request(run_id, PAUSE)
    assert asyncio.run(wake_decided_runs(request.cycle_id)) == [run_id]
    assert support.wait(run_id) == "Completed"
    assert asyncio.run(wake_decided_runs(request.cycle_id)) == []  # nothing waits any more
    decisions, refusals = _decisions_and_refusals(request.id)
    assert [d.pause_key for d in decisions] == ["submitted-web"] and refusals == []
    assert {d.status for d in support.documents(run_id)} == {DocumentStatus.approved}


def test_two_clicks_at_once_one_decision(stack: Stack) -> None:
    """Two POSTs of the same link at the same moment: one decision, one refusal page."""
    run_id = support.start(
        DEPLOYMENT,
        mentee_files=[str(stack.mentee_file)],
        mentor_files=[str(stack.mentor_file)],
    )
    assert support.wait(run_id, pause=f"{PAUSE}-1") == "Suspended"
    url, code = _link(stack, run_id)

    barrier = threading.Barrier(2)
    responses: list[httpx.Response] = []

    def click() -> None:
        barrier.wait(timeout=30)
        responses.append(_click(url, code))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [(r.status_code, r.text[:300]) for r in responses]
    refused = next(r for r in responses if r.status_code != 200)
    assert "уже" in refused.text, refused.text
    assert support.wait(run_id) == "Completed"
    request = support.request(run_id, PAUSE)
    decisions, refusals = _decisions_and_refusals(request.id)
    assert len(decisions) == 1
    assert len(refusals) == 1
    assert _state_names(run_id).count("Resuming") == 1
