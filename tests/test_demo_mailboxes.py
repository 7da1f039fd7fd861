"""The simulated approvers' mailboxes: the newest link for a request, read incrementally."""

import os
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from deployments.demo import Mailboxes

CODE = "1790000000-" + "A" * 24


def _mail(directory: Path, name: str, to: str, link: str, mtime: int) -> Path:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = "Решение"
    message.set_content(f"Откройте: {link}\n")
    path = directory / f"{name}.eml"
    path.write_bytes(bytes(message))
    os.utime(path, ns=(mtime, mtime))
    return path


def test_the_newest_link_of_the_approver_for_the_request_is_found_as_mail_arrives(
    tmp_path: Path,
) -> None:
    request, other = uuid.uuid4(), uuid.uuid4()
    link = f"http://127.0.0.1:8000/approvals/{request}?code={CODE}"
    director = "Иванова Мария <director@school.example>"
    _mail(tmp_path, "1", director, link, mtime=1_000)
    _mail(tmp_path, "2", "curator@school.example", link.replace("A" * 24, "B" * 24), mtime=2_000)
    _mail(tmp_path, "3", director, f"http://127.0.0.1:8000/approvals/{other}?code={CODE}", 3_000)
    boxes = Mailboxes(tmp_path)
    assert boxes.newest_link("director@school.example", request, timeout=0) == (
        link,
        tmp_path / "1.eml",
    )
    # A reissued code arrives later: the newest one counts, read without re-reading the rest.
    reissued = link.replace("A" * 24, "C" * 24)
    _mail(tmp_path, "4", director, reissued, mtime=4_000)
    assert boxes.newest_link("DIRECTOR@school.example", request, timeout=0)[0] == reissued
    with pytest.raises(TimeoutError, match="nobody@school.example"):
        boxes.newest_link("nobody@school.example", request, timeout=0)


def test_a_page_request_reset_on_a_kept_alive_connection_is_asked_again() -> None:
    """The server closed the kept-alive connection as the scripted approver reused it: the
    page is asked for again (as a browser does) and the decision goes through once."""
    import httpx

    from deployments.demo import decide_by_link

    calls: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if calls == ["GET"]:
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if request.method == "GET":
            form = '<form action="/approvals/1/decide"><input name="code" value="c-1"></form>'
            return httpx.Response(200, text=form)
        assert b"decision=approve" in request.content
        return httpx.Response(200, text="Решение принято")

    with httpx.Client(transport=httpx.MockTransport(server)) as client:
        decide_by_link(
            "http://127.0.0.1:8470/approvals/1?code=c-1", approver_name="Директор", client=client
        )
    assert calls == ["GET", "GET", "POST"]
