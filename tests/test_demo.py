"""The README's main job, end to end: `nastavnik demo --exit-when-done` on the embedded stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@pytest.mark.flows
def test_demo_runs_base_formation_and_leaves_nothing_running(tmp_path: Path) -> None:
    ports = {"prefect": _free_port(), "web": _free_port(), "smtp": _free_port()}
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
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "nastavnik.cli", "demo", "--exit-when-done"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Base formation complete" in out
    assert "Отклонённые строки анкет" in out and "Нет необходимых согласий" in out
    assert f"http://127.0.0.1:{ports['web']}/approvals/" in out
    assert f"http://127.0.0.1:{ports['prefect']}/runs/flow-run/" in out

    data = tmp_path / "data"
    pdfs = list((data / "documents").rglob("*.pdf"))
    assert len(pdfs) == 3 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    emails = list((data / "mail").glob("*.eml"))
    assert len(emails) == 2  # the director's request and the curator's notice, once each
    assert all(_port_is_free(port) for port in ports.values())
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
