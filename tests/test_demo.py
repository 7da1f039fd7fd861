"""The README's main job, end to end: `nastavnik demo --exit-when-done` on the embedded stack."""

from __future__ import annotations

import email
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # Closed connections linger in TIME_WAIT; only a live listener should count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stack_env(tmp_path: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "NASTAVNIK_"))
    }
    env.update(
        {
            "NASTAVNIK_DATA_DIR": str(tmp_path / "data"),
            "NASTAVNIK_PREFECT_PORT": str(ports["prefect"]),
            "NASTAVNIK_WEB_PORT": str(ports["web"]),
            "NASTAVNIK_WEB_BASE_URL": f"http://127.0.0.1:{ports['web']}",
            "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{ports['smtp']}",
            "COLUMNS": "200",
            # The test counts every e-mail and process: no scheduled runs beside the demo.
            "NASTAVNIK_SCHEDULES": "false",
        }
    )
    return env


def _run_to_the_end(tmp_path: Path, ports: dict[str, int], *args: str) -> str:
    """`nastavnik ARGS` on its own stack; its output once it exited 0."""
    result = subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        cwd=PROJECT_ROOT,
        env=_stack_env(tmp_path, ports),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _up(tmp_path: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "up"],
        cwd=PROJECT_ROOT,
        env=_stack_env(tmp_path, ports),
        stdout=subprocess.PIPE,
        text=True,
    )


def _assert_stopped_cleanly(
    stack: subprocess.Popen[str], tmp_path: Path, ports: dict[str, int]
) -> None:
    out, _ = stack.communicate(timeout=90)
    assert stack.returncode == 0, out
    assert out.rstrip().endswith("Stopped."), out
    assert _processes_with(str(tmp_path / "data")) == []
    assert all(_port_is_free(port) for port in ports.values())


@pytest.mark.flows
def test_up_serves_until_ctrl_c_and_leaves_no_process_behind(tmp_path: Path) -> None:
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    stack = _up(tmp_path, ports)
    assert stack.stdout is not None
    lines = []
    for line in stack.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    assert any(f"http://127.0.0.1:{ports['prefect']}" in line for line in lines), lines
    assert len(_processes_with(str(tmp_path / "data"))) >= 3  # the CLI, server, runner
    stack.send_signal(signal.SIGINT)
    _assert_stopped_cleanly(stack, tmp_path, ports)


@pytest.mark.flows
@pytest.mark.parametrize(
    ("signum", "moment"),
    [(signal.SIGINT, "first line"), (signal.SIGTERM, "server spawned")],
    ids=["ctrl-c-at-first-line", "sigterm-once-server-spawned"],
)
def test_a_stop_signal_during_start_up_stops_everything(
    tmp_path: Path, signum: int, moment: str
) -> None:
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    stack = _up(tmp_path, ports)
    assert stack.stdout is not None
    assert "Starting the embedded stack" in stack.stdout.readline()
    if moment == "server spawned":  # the CLI and the Prefect server, not yet answering
        deadline = time.monotonic() + 60
        while len(_processes_with(str(tmp_path / "data"))) < 2:
            assert time.monotonic() < deadline, "the Prefect server was not started"
            time.sleep(0.05)
    stack.send_signal(signum)
    _assert_stopped_cleanly(stack, tmp_path, ports)


@pytest.mark.flows
def test_the_demo_runs_the_school_year_on_the_simulated_clock_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    out = _run_to_the_end(tmp_path, ports, "demo", "--exit-when-done")
    assert "Demo complete" in out
    assert "куратор загрузил анкеты" in out and "срок кода истёк: новый код" in out
    # Six stages and three changes to pairs (§2.8–§2.10), each a deployed run.
    assert out.count(f"http://127.0.0.1:{ports['prefect']}/runs/flow-run/") == 9

    data = tmp_path / "data"
    with sqlite3.connect(data / "nastavnik.db") as db:
        documents = dict(
            db.execute(
                "SELECT doc_type, count(*) FROM document WHERE status = 'approved' GROUP BY 1"
            )
        )
        statuses = dict(db.execute("SELECT status, count(*) FROM outboxmessage GROUP BY status"))
        plan = {
            (number, occurrence): (status, start, finish, planned_start, planned_end)
            for number, occurrence, status, start, finish, planned_start, planned_end in db.execute(
                "SELECT number, occurrence, status, actual_start, actual_finish, planned_start,"
                " planned_end FROM planitem"
            )
        }
        keys = [key for (key,) in db.execute("SELECT idempotency_key FROM outboxmessage")]
        before_pairs = [
            str(uuid.UUID(row_id))
            for (row_id,) in db.execute(
                "SELECT id FROM planitem WHERE number IN ('9', '10', '11') AND occurrence <= 2"
                " AND planned_end < '2026-11-01'"
            )
        ]
        generations = dict(db.execute("SELECT approval_key, code_generation FROM approvalrequest"))
        pair_statuses = dict(db.execute("SELECT status, count(*) FROM mentorshippair GROUP BY 1"))
        requested = [day for (day,) in db.execute("SELECT requested_at FROM approvalrequest")]
        meetings = db.execute("SELECT count(*) FROM meetinglog").fetchone()[0]
        feedback = db.execute("SELECT count(*) FROM meetingfeedback").fetchone()[0]
        monthly = dict(db.execute("SELECT month, count(*) FROM monthlyreport GROUP BY 1"))
        summaries = db.execute(
            "SELECT count(*) FROM document WHERE unique_key LIKE 'monthly-summary:%'"
        ).fetchone()[0]
        changes = dict(db.execute("SELECT kind, status FROM pairchange"))
        completion_reports = db.execute("SELECT count(*) FROM completionreport").fetchone()[0]
        approved_titles = {
            title for (title,) in db.execute("SELECT title FROM document WHERE status = 'approved'")
        }
        change_orders = [
            title for (title,) in db.execute("SELECT title FROM document WHERE doc_type = 'order'")
        ]
    # Preparation (4 orders + the regulation), registers, the mentors' and the pairs' orders,
    # and the personal programmes, all approved in simulated time.
    # Three more orders change pairs during the year (termination, replacement, extension); the
    # year ends with the order on its results, the final event's and the rewards order.
    assert documents["order"] == 12 and documents["regulation"] == 1
    assert documents["register"] == 2 and documents["programme"] > 0
    assert all("2026-08-01" <= day[:10] <= "2027-07-31" for day in requested)
    assert {
        "Справка по результатам оценки и обратной связи",
        "Приказ об итогах реализации программы наставничества",
        "Приказ о поощрении наставников",
    } <= approved_titles
    assert completion_reports > 200 and documents.get("certificate", 0) > 0
    board = list((data / "publications").glob("*/honour-board.html"))
    assert len(board) == 1
    assert changes == {
        "termination": "approved",
        "replacement": "approved",
        "extension": "approved",
    }
    assert {"Приказ о замене наставника", "Приказ о продлении срока наставничества"} <= set(
        change_orders
    )
    # Months of meetings from the form's exports, a report per pair and month (November to
    # May: the pairs were fixed in November), and the curator's summary each month.
    assert meetings > 1000 and feedback > 1000
    assert sorted(monthly)[0] == "2026-11-01" and len(monthly) >= 7
    assert summaries == len(monthly)
    # The lagging pair: its mentor reminded of the missing logs, the curator told.
    assert any(k.startswith("meetings-logs:") and k.endswith(":mentor") for k in keys)
    assert any(k.startswith("meetings-logs-escalation:") for k in keys)
    # Every stage the product runs was started by the tick and finished by the director (the
    # completion stage waits until every pair's reports are settled: the extended pair's, 16
    # June; the final event follows it from 21 June, with the questionnaires in).
    for number in ("1", "4", "5", "8", "13", "14", "15"):
        assert plan[(number, 0)][0] in ("done", "done_late"), number
    # The site section came in late; the briefing planned for November was held in October.
    assert plan[("3", 0)][:3] == ("done_late", "2026-10-06", "2026-10-06")
    briefing = plan[("6", 0)]
    assert briefing[0] == "done" and briefing[2] < briefing[3]
    # The pairs worked until 31 May and the clock ended them (§2.5 counts active pairs only).
    assert pair_statuses.get("ended", 0) > 0 and "active" not in pair_statuses
    # The meetings stage's items (section V): the months before the pairs were fixed (1 November)
    # are skipped, with no reminder (the reports by the 20th: until the first month with pairs
    # was over); later months are done by the curator's evidence (the meetings export, the
    # quarter's monitoring) or by the monthly summary the tick made on the 1st.
    meetings_rows = {k: v[0] for k, v in plan.items() if k[0] in ("9", "10", "11")}
    assert [meetings_rows[("9", n)] for n in range(1, 10)] == ["skipped"] * 2 + ["done"] * 7
    assert [meetings_rows[("10", n)] for n in range(1, 10)] == ["skipped"] * 3 + ["done"] * 6
    assert [meetings_rows[("11", n)] for n in range(1, 5)] == ["skipped"] + ["done"] * 3
    assert not [k for k in keys if k.split(":")[:2] in (["roadmap", r] for r in before_pairs)]
    # The late item was reminded before, on and after its due day; the director who let the
    # mentors' order wait was reminded twice and the curator told; the expired code reissued.
    site = [k for k in keys if k.startswith("roadmap:") and k.endswith(":curator")]
    assert {k.split(":")[2] for k in site} >= {"before", "due", "overdue"}
    order_reminders = [k for k in keys if ":reminder-" in k]
    assert len(order_reminders) >= 2
    assert any(k.startswith("approval-escalate:") for k in keys)
    assert generations["training-attendance"] == 1
    reports = list((data / "reports").glob("roadmap-*.pdf"))
    assert len(reports) == 1 and reports[0].read_bytes().startswith(b"%PDF")
    # Every queued e-mail was delivered, and the SMTP sink got each exactly once.
    assert set(statuses) == {"sent"}
    message_ids = [
        email.message_from_bytes(p.read_bytes())["Message-ID"]
        for p in (data / "mail").glob("*.eml")
    ]
    assert len(message_ids) == len(set(message_ids)) == statuses["sent"]
    assert all(_port_is_free(port) for port in ports.values())
    assert _processes_with(str(tmp_path / "data")) == []


@pytest.mark.flows
def test_a_roadmap_written_from_the_docs_runs_its_year_with_the_curator_starting_training(
    tmp_path: Path,
) -> None:
    """`nastavnik year --simulate --roadmap FILE --sample 4` on the complete example of
    docs/roadmaps.md without its training row (roadmaps written blind often have none): the year
    runs, the curator starts training by hand, the pairs' rows follow their terms, the stages
    end. A quarter of the demo school's questionnaires: what is checked here does not depend
    on the organisation's size, and the year takes half the time."""
    text = (PROJECT_ROOT / "docs" / "roadmaps.md").read_text(encoding="utf-8")
    example = text.split("<!-- complete example -->\n```yaml\n", 1)[1].split("```", 1)[0]
    training_row = example.index('  - number: "2.2"')
    example = example[:training_row] + example[example.index('  - number: "2.3"') :]
    roadmap = tmp_path / "college.yaml"
    roadmap.write_text(example, encoding="utf-8")
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    out = _run_to_the_end(
        tmp_path,
        ports,
        "year",
        "--simulate",
        "--exit-when-done",
        "--roadmap",
        str(roadmap),
        "--sample",
        "4",
    )
    assert "Demo complete" in out
    assert "куратор запустил этап «training» вручную" in out
    with sqlite3.connect(tmp_path / "data" / "nastavnik.db") as db:
        (name,) = db.execute("SELECT name FROM organization WHERE code = 'sim-college'").fetchone()
        (participants,) = db.execute("SELECT count(*) FROM participant").fetchone()
        rows = {
            (number, occurrence): status
            for number, occurrence, status in db.execute(
                "SELECT number, occurrence, status FROM planitem"
            )
        }
    assert name == "ГАПОУ «Пример колледж»"
    # Every fourth of the demo school's ≈200 questionnaires.
    assert 30 <= participants <= 70, participants
    for stage_row in ("1.1", "2.1", "2.3", "3.3", "4.1", "4.3"):
        assert rows[(stage_row, 0)] in ("done", "done_late"), stage_row
    # The pairs' year: months before the pairs are skipped, the summaries close the reports.
    assert rows[("3.1", 1)] == rows[("3.2", 1)] == "skipped"
    assert "done" in {rows[("3.2", n)] for n in range(2, 10)}
    assert _processes_with(str(tmp_path / "data")) == []


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment mentions the marker (every process of the stack inherits it)."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


def test_a_sample_is_refused_without_a_roadmap(tmp_path: Path) -> None:
    """The demo school's own year follows its script with every questionnaire: `--sample`
    without `--roadmap` is refused before anything starts."""
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
    result = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "year", "--simulate", "--sample", "4"],
        cwd=PROJECT_ROOT,
        env=_stack_env(tmp_path, ports),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--sample только с --roadmap" in result.stdout
    assert not (tmp_path / "data" / "prefect").exists()
