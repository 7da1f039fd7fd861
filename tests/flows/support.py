"""Driving deployed stage runs in tests: start, wait for a pause, answer it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlmodel import select

from deployments.prefect_api import read_run, resume_run, start_deployment
from models import ApprovalRequest, Decision, Document, OutboxMessage
from nastavnik import approvals, stages
from nastavnik.db import session_scope
from tests.flows.conftest import ORG, SECRET

T = TypeVar("T")


def start(deployment: str, **params: Any) -> uuid.UUID:
    """Create a run of the deployment for the test organisation's 2026/2027 cycle."""
    params = {"organization_code": ORG["code"], "school_year": "2026/2027", **params}
    return asyncio.run(start_deployment(deployment, {"params": params}))


async def await_state(run_id: uuid.UUID, *, pause: str | None = None, timeout: float = 180) -> str:
    """Wait until the run is suspended at this pause key (or has finished); return the state."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = (await read_run(run_id)).state
        assert state is not None
        if state.is_final():
            return state.name
        if (
            pause is not None
            and state.name == "Suspended"
            and (state.state_details.pause_key == pause)
        ):
            return state.name
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"run {run_id} is {state.name} ({state.state_details.pause_key})")
        await asyncio.sleep(0.3)


def wait(run_id: uuid.UUID, pause: str | None = None) -> str:
    """Blocking :func:`await_state`."""
    return asyncio.run(await_state(run_id, pause=pause))


def request(run_id: uuid.UUID, approval_key: str) -> ApprovalRequest:
    """The run's approval request under this key."""
    with session_scope() as session:
        return session.exec(
            select(ApprovalRequest).where(
                ApprovalRequest.flow_run_id == run_id,
                ApprovalRequest.approval_key == approval_key,
            )
        ).one()


def code(run_id: uuid.UUID, approval_key: str) -> str:
    """The valid code of that request, as the approver's e-mail carries it."""
    return approvals.code_for_request(secret=SECRET.encode(), request=request(run_id, approval_key))


def answer(
    run_id: uuid.UUID,
    approval_key: str,
    decision: str = "approve",
    comment: str = "",
    **extra: Any,
) -> None:
    """Resume the run with a decision carrying the request's valid code."""
    run_input = {
        "decision": decision,
        "approval_code": code(run_id, approval_key),
        "approver_name": ORG["director_name"],
        "comment": comment,
        **extra,
    }
    asyncio.run(resume_run(run_id, run_input))


def documents(run_id: uuid.UUID) -> list[Document]:
    """Documents the run made."""
    with session_scope() as session:
        return list(session.exec(select(Document).where(Document.flow_run_id == run_id)))


def outbox(run_id: uuid.UUID) -> list[OutboxMessage]:
    """E-mails the run queued."""
    with session_scope() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.flow_run_id == run_id)))


def approved_earlier(
    cycle_id: uuid.UUID, *, stage: str, approval_key: str, document_ids: list[str]
) -> None:
    """An earlier stage's decision, as the director made it: request, approval, its ending."""
    now = approvals.now_utc()
    with session_scope() as session:
        opened = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage=stage,
            approval_key=approval_key,
            flow_run_id=uuid.uuid4(),
            title=approval_key,
            summary="",
            approver_name=ORG["director_name"],
            approver_email=ORG["director_email"],
            document_ids=[uuid.UUID(d) for d in document_ids],
            now=now,
            ttl=timedelta(days=14),
        )
        valid_code = approvals.code_for_request(secret=SECRET.encode(), request=opened)
        outcome = approvals.record_decision(
            session=session,
            secret=SECRET.encode(),
            request_id=opened.id,
            decision=Decision.approve,
            comment="",
            approver_name=ORG["director_name"],
            code=valid_code,
            pause_key=f"{approval_key}-1",
            channel="test",
            now=now,
        )
        assert outcome.accepted, outcome.message_ru
        stages.conclude_decision(
            session=session, request_id=opened.id, base_url="http://approvals.test"
        )


def state_message(run_id: uuid.UUID) -> str:
    """The message of the run's current state (a failed run's error)."""
    state = asyncio.run(read_run(run_id)).state
    assert state is not None
    return state.message or ""


def artifacts(run_id: uuid.UUID) -> list[Any]:
    """Every artifact of the run, every version of keyed ones included."""

    async def read() -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )

    return asyncio.run(read())


def task_runs(run_id: uuid.UUID) -> list[Any]:
    """Every task run of the flow run the server has recorded (from the runs' events)."""

    async def read() -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )

    return asyncio.run(read())


def shown_data(artifact: Any) -> str:
    """The artifact's data as its reader sees it: a table is stored as JSON with escaped
    Cyrillic, decoded here so that a name in it would be found."""
    data = artifact.data
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return data
    return json.dumps(data, ensure_ascii=False)


def participant_data(cycle_id: uuid.UUID) -> list[str]:
    """Every participant's name, e-mail, phone and birth date, as an artifact could print them."""
    from models import Participant, Person

    values: set[str] = set()
    with session_scope() as session:
        people = session.exec(
            select(Person)
            .join(Participant, Participant.person_id == Person.id)  # type: ignore[arg-type]
            .where(Participant.cycle_id == cycle_id)
        ).all()
        for person in people:
            values |= {person.full_name, f"{person.last_name} {person.first_name}"}
            values |= {person.email, person.phone}
            if person.birth_date is not None:
                values |= {f"{person.birth_date:%d.%m.%Y}", person.birth_date.isoformat()}
    return sorted(v for v in values if v and len(v) > 3)


def assert_artifacts_name_no_one(run_id: uuid.UUID, cycle_id: uuid.UUID) -> list[str]:
    """Every Prefect user sees a run's artifacts: none carries a participant's name, e-mail,
    phone or birth date (issue 11 §3); returns the keys of the run's artifacts."""
    personal = participant_data(cycle_id)
    assert personal, "the cycle has no participants to look for"
    made = artifacts(run_id)
    for artifact in made:
        shown = f"{artifact.key} {artifact.description} {shown_data(artifact)}"
        leaked = [value for value in personal if value in shown]
        assert not leaked, (artifact.key, leaked[:3])
    return [a.key for a in made if a.key]


# --------------------------------------------------------------------------- processes of our own
# The crash-safety tests stop and start a Prefect server and kill flow-run processes, which the
# shared harness server cannot take: they run a stack of their own with these pieces.


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(condition: Callable[[], T], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Call ``condition`` until it returns something truthy; raise naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def flow_run_pids(run_id: uuid.UUID) -> list[int]:
    """Processes started for this flow run (the runner puts its id in their environment)."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def pids_connected_to(port: int) -> list[int]:
    """Processes with a TCP connection to this local port (from /proc: socket inode → fd).

    A run forked from the runner's fork server keeps the fork server's initial environment,
    so :func:`flow_run_pids` cannot see it; its connection to a server of ours names it.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            pids.append(int(entry.name))
    return pids


@dataclass
class PrefectServer:
    """``prefect server start`` as a subprocess on its own port, home and SQLite database."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 420) -> float:
        """Start it and wait until it answers; returns the seconds that took."""
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start"]
                + ["--host", "127.0.0.1", "--port", str(self.port), "--no-ui", "--no-scheduler"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Prefect server exited; see {self.log}")
            try:
                return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        poll(healthy, timeout=timeout, what=f"Prefect server on port {self.port}", every=0.3)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop it (its whole process group) and wait until the port is closed."""
        if self.process is None:
            return
        stop_process_group(self.process)
        self.process = None


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM a process started with ``start_new_session``, SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class SmtpGate:
    """A TCP front for an SMTP server: forwards connections, or while closed holds them silent.

    A held connection gets no greeting: the client sits in its connect timeout, which is where a
    test catches a stage "in delivery" with its message claimed but not sent.
    """

    def __init__(self, *, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holding = False
        self.held = 0  # connections accepted while closed
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="smtp-gate", daemon=True
        )

    def start(self) -> SmtpGate:
        """Listen on a free port in a background thread."""
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Stop listening and the thread."""

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.holding:
                self.held += 1
                # Say nothing; wait for the client to give up or to die.
                while await reader.read(4096):
                    pass
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
