"""Approval codes and decisions in the core, with a fake clock."""

import base64
import email
import email.policy
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models import ApprovalDecision, ApprovalStatus, AuditEvent, Decision
from nastavnik import approval_mail, approvals, mail

SECRET = b"test-secret-key-0123456789abcdef"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def request_id(engine, cycle_ids):
    """A pending approval request opened at T0 with the default 14-day lifetime."""
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        request = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key="registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры",
            summary="",
            approver_name="Директор",
            approver_email="d@example.ru",
            document_ids=[],
            now=T0,
            ttl=timedelta(days=14),
        )
        session.commit()
        return request.id


def _decide(engine, request_id, code, *, pause_key="registers:1", now=T0 + timedelta(days=1)):
    with Session(engine) as session:
        outcome = approvals.record_decision(
            session=session,
            secret=SECRET,
            request_id=request_id,
            decision=Decision.approve,
            comment="",
            approver_name="Иванова М. П.",
            code=code,
            pause_key=pause_key,
            channel="test",
            now=now,
        )
        session.commit()
        return outcome


def _code(engine, request_id, secret=SECRET):
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)
        return approvals.code_for_request(secret=secret, request=request)


def test_opening_the_same_request_twice_gives_one_row(engine, request_id):
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)
        again = approvals.open_request(
            session=session,
            cycle_id=request.cycle_id,
            stage="base-formation",
            approval_key="registers",
            flow_run_id=request.flow_run_id,
            title="Реестры",
            summary="",
            approver_name="Директор",
            approver_email="d@example.ru",
            document_ids=[],
            now=T0 + timedelta(hours=5),
            ttl=timedelta(days=14),
        )
        assert again.id == request_id


def test_valid_code_decides_once_and_rerun_of_same_pause_is_accepted(engine, request_id):
    code = _code(engine, request_id)
    assert _decide(engine, request_id, code).accepted
    # A resumed flow re-runs from the top and sees the same pause again: not a replay.
    assert _decide(engine, request_id, code, now=T0 + timedelta(days=30)).accepted
    with Session(engine) as session:
        assert session.get(approvals.ApprovalRequest, request_id).status == ApprovalStatus.approved
        assert len(session.exec(select(ApprovalDecision)).all()) == 1


def test_used_code_presented_at_another_pause_is_a_replay(engine, request_id):
    code = _code(engine, request_id)
    assert _decide(engine, request_id, code).accepted
    outcome = _decide(engine, request_id, code, pause_key="registers:2")
    assert not outcome.accepted and outcome.problem == approvals.CodeProblem.replayed


def test_code_signed_with_another_secret_is_forged_and_audited(engine, request_id):
    outcome = _decide(engine, request_id, _code(engine, request_id, secret=b"x" * 32))
    assert outcome.problem == approvals.CodeProblem.forged
    with Session(engine) as session:
        assert session.get(approvals.ApprovalRequest, request_id).status == ApprovalStatus.pending
        refused = session.exec(select(AuditEvent).where(AuditEvent.action == "approval.refused"))
        assert [e.details["problem"] for e in refused] == ["forged"]


def test_code_expires_after_fourteen_days(engine, request_id):
    code = _code(engine, request_id)
    late = _decide(engine, request_id, code, now=T0 + timedelta(days=14, seconds=1))
    assert late.problem == approvals.CodeProblem.expired
    assert _decide(
        engine, request_id, code, pause_key="registers:2", now=T0 + timedelta(days=13, hours=23)
    ).accepted


def test_tampered_expiry_breaks_the_signature(engine, request_id):
    code = _code(engine, request_id)
    expires, _, signature = code.partition("-")
    outcome = _decide(engine, request_id, f"{int(expires) + 86400 * 30}-{signature}")
    assert outcome.problem == approvals.CodeProblem.forged


@pytest.mark.parametrize("code", ["", "abc", "123-short", "x" * 40])
def test_malformed_codes_are_refused(engine, request_id, code):
    assert _decide(engine, request_id, code).problem == approvals.CodeProblem.malformed


def test_web_form_exceptions_keep_only_numbered_fields_with_a_comment():
    from nastavnik.web import exceptions_from_form

    form = {"except_2": " Уточните задачи ", "except_1": "", "except_x": "?", "comment": "ok"}
    assert exceptions_from_form(form) == [{"number": 2, "comment": "Уточните задачи"}]


# --------------------------------------------------------------------------- reissue


def _reissue(engine, settings, request_id, now):
    with Session(engine) as session:
        request, message = approval_mail.reissue_with_mail(
            session=session, settings=settings, request_id=request_id, actor="curator", now=now
        )
        session.commit()
        return approvals.code_for_request(secret=SECRET, request=request), message.id


def _audit(engine, action):
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_reissue_after_expiry_gives_a_working_code_and_refuses_the_old_one(
    engine, settings, request_id
):
    old = _code(engine, request_id)
    day20 = T0 + timedelta(days=20)
    assert _decide(engine, request_id, old, now=day20).problem == approvals.CodeProblem.expired
    new, _ = _reissue(engine, settings, request_id, now=day20)
    assert new != old
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)
        assert request.code_generation == 1
        assert not approvals.is_expired(request=request, now=day20 + timedelta(days=13))
        assert approvals.is_expired(request=request, now=day20 + timedelta(days=14))
    refused = _decide(engine, request_id, old, pause_key="registers:2", now=day20)
    assert refused.problem == approvals.CodeProblem.superseded
    assert _decide(engine, request_id, new, pause_key="registers:3", now=day20).accepted
    assert [e.details["problem"] for e in _audit(engine, "approval.refused")] == [
        "expired",
        "superseded",
    ]
    (reissued,) = _audit(engine, "approval.reissued")
    assert reissued.actor == "curator" and reissued.details["generation"] == 1
    assert reissued.entity == f"approval:{request_id}"


def test_old_code_is_refused_even_before_its_own_expiry(engine, settings, request_id):
    old = _code(engine, request_id)
    first, _ = _reissue(engine, settings, request_id, now=T0 + timedelta(days=1))
    second, _ = _reissue(engine, settings, request_id, now=T0 + timedelta(days=2))
    for attempt, code in enumerate([old, first], start=1):
        outcome = _decide(engine, request_id, code, pause_key=f"registers:{attempt}")
        assert outcome.problem == approvals.CodeProblem.superseded
    with Session(engine) as session:
        submitted = approvals.submit_decision(
            session=session,
            secret=SECRET,
            request_id=request_id,
            decision=approvals.Decision.approve,
            comment="",
            approver_name="x",
            code=first,
            channel="cli",
            now=T0 + timedelta(days=3),
        )
        session.commit()
    assert submitted.problem == approvals.CodeProblem.superseded
    assert len(_audit(engine, "approval.refused")) == 3
    assert _decide(engine, request_id, second, pause_key="registers:9").accepted


def test_code_of_the_old_format_still_decides_a_request_never_reissued(engine, request_id):
    # Codes mailed before code generations existed are signed without one.
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)
        expires = int(request.expires_at.replace(tzinfo=UTC).timestamp())
        message = f"{request.flow_run_id}|registers|director|{expires}".encode()
    digest = hmac.new(SECRET, message, hashlib.sha256).digest()
    legacy = f"{expires}-{base64.b32encode(digest[:15]).decode()}"
    assert legacy == _code(engine, request_id)
    assert _decide(engine, request_id, legacy).accepted


def test_a_decided_request_is_not_reissued(engine, settings, request_id):
    assert _decide(engine, request_id, _code(engine, request_id)).accepted
    with pytest.raises(ValueError, match="already decided"):
        _reissue(engine, settings, request_id, now=T0 + timedelta(days=2))
    assert _audit(engine, "approval.reissued") == []


def test_reissue_mail_is_queued_once_per_reissue_with_the_new_link(engine, settings, cycle_ids):
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        request, first = approval_mail.open_request_with_mail(
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
        request_id, first_key = request.id, first.idempotency_key
        session.commit()
    assert first_key == f"approval-request:{request_id}"
    new, message_id = _reissue(engine, settings, request_id, now=T0 + timedelta(days=20))
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)
        # The same generation again (a retried task, a second CLI call that failed later)
        # finds the message already queued.
        again = approval_mail.enqueue_request_mail(
            session=session, settings=settings, request=request
        )
        assert again.id == message_id
    second_new, _ = _reissue(engine, settings, request_id, now=T0 + timedelta(days=21))
    with Session(engine) as session:
        messages = mail.list_outbox(session=session)
    assert [m.idempotency_key for m in messages] == [
        f"approval-request:{request_id}",
        f"approval-request:{request_id}:reissue-1",
        f"approval-request:{request_id}:reissue-2",
    ]
    reissued = messages[1]
    assert reissued.to_addr == "director@school7.example"
    link = f"{settings.web_base_url}/approvals/{request_id}?code={new}"
    assert link in reissued.body_text and new in reissued.body_text
    assert "прежняя ссылка и прежний код больше не действуют" in reissued.body_text
    assert reissued.subject.startswith("Новый код — Требуется утверждение")
    assert "больше не действуют" not in messages[0].body_text
    assert second_new in messages[2].body_text and new not in messages[2].body_text


def test_expired_requests_are_told_apart_in_the_pending_list(engine, settings, request_id):
    with Session(engine) as session:
        (pending,) = approvals.list_pending(session=session)
        assert not approvals.is_expired(request=pending, now=T0 + timedelta(days=13))
        assert approvals.is_expired(request=pending, now=T0 + timedelta(days=14))


def test_a_signed_code_for_an_expiry_never_issued_is_not_accepted(engine, request_id):
    with Session(engine) as session:
        request = session.get(approvals.ApprovalRequest, request_id)

        def signed(expires_at):
            return approvals.make_code(
                secret=SECRET,
                flow_run_id=request.flow_run_id,
                approval_key="registers",
                role="director",
                expires_at=expires_at,
            )

        past, later = signed(T0 - timedelta(minutes=1)), signed(T0 + timedelta(days=30))
    assert _decide(engine, request_id, past).problem == approvals.CodeProblem.expired
    outcome = _decide(engine, request_id, later, pause_key="registers:2")
    assert outcome.problem == approvals.CodeProblem.forged


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(monkeypatch, tmp_path, sqlite_engine):
    """The ``nastavnik`` CLI on the test's SQLite database and a real SMTP sink; yields
    (invoke, sink)."""
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings
    from nastavnik.smtp_sink import MailSink

    with MailSink(directory=tmp_path / "sink") as sink:
        for name, value in {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": SECRET.decode(),
            "SMTP_URL": sink.url,
        }.items():
            monkeypatch.setenv(f"NASTAVNIK_{name}", value)
        get_settings.cache_clear()
        monkeypatch.setattr(cli_module.console, "width", 200)
        runner = CliRunner()
        yield (lambda *args: runner.invoke(cli_module.app, list(args))), sink
    get_settings.cache_clear()


def _open_at(engine, cycle_id, moment):
    with Session(engine) as session:
        request = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key="registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры",
            summary="",
            approver_name="Иванова Мария Петровна",
            approver_email="director@school7.example",
            document_ids=[],
            now=moment,
            ttl=timedelta(days=14),
        )
        session.commit()
        return request.id


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the CLI's own database
def test_cli_lists_expired_codes_and_reissues_by_id_prefix(cli, sqlite_engine, cycle_ids):
    invoke, sink = cli
    _, cycle_id = cycle_ids
    # The CLI reads the real clock: one request long expired, one fresh.
    now = approvals.now_utc()
    stale = _open_at(sqlite_engine, cycle_id, now - timedelta(days=30))
    fresh = _open_at(sqlite_engine, cycle_id, now)
    old = _code(sqlite_engine, stale)

    listed = invoke("approvals")
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[1]: line for line in listed.output.splitlines() if "Реестры" in line}
    assert "истёк" in rows[str(stale)[:8]] and "действует" in rows[str(fresh)[:8]]
    assert "nastavnik approvals reissue" in listed.output

    reissued = invoke("approvals", "reissue", str(stale)[:8], "--actor", "Петров О. И.")
    assert reissued.exit_code == 0, reissued.output
    assert "прежний код больше не принимается" in reissued.output
    assert "sent" in reissued.output
    (received,) = sink.messages
    assert received.rcpt_tos == ("director@school7.example",)
    new = _code(sqlite_engine, stale)
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert f"/approvals/{stale}?code={new}" in parsed.get_body(("plain",)).get_content()
    assert _decide(sqlite_engine, stale, old, now=now).problem == approvals.CodeProblem.superseded
    assert _decide(sqlite_engine, stale, new, pause_key="registers:2", now=now).accepted
    (event,) = _audit(sqlite_engine, "approval.reissued")
    assert event.actor == "Петров О. И."

    assert "истёк" not in invoke("approvals").output
    decided = invoke("approvals", "reissue", str(stale)[:8])
    assert decided.exit_code == 2 and "already decided" in decided.output


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_cli_reissue_queue_only_leaves_the_mail_in_the_outbox(cli, sqlite_engine, cycle_ids):
    invoke, sink = cli
    request_id = _open_at(sqlite_engine, cycle_ids[1], approvals.now_utc())
    result = invoke("approvals", "reissue", str(request_id)[:8], "--queue-only")
    assert result.exit_code == 0, result.output
    assert sink.messages == []
    with Session(sqlite_engine) as session:
        (queued,) = mail.list_outbox(session=session)
    assert queued.idempotency_key == f"approval-request:{request_id}:reissue-1"
    assert queued.status.value == "pending"
    assert "retry-deliveries" in result.output


def test_the_approvers_mail_attaches_orders_and_links_personal_documents(
    engine, settings, cycle_ids
):
    """Approving a school's programmes is one decision over a hundred and more documents: the
    e-mail attaches the order, and each pair's programme goes by its signed link only."""
    from nastavnik.documents import DocumentRequest, issue_documents

    org_id, cycle_id = cycle_ids
    base = {
        "organization_id": org_id,
        "cycle_id": cycle_id,
        "template": "register_mentees.html",
        "context": {"cycle": {"school_year": "2026/2027"}, "rows": []},
        "doc_date": T0.date(),
    }
    with Session(engine) as session:
        order, *programmes = issue_documents(
            session=session,
            settings=settings,
            requests=[
                DocumentRequest(unique_key="order", doc_type="order", title="Приказ", **base),
                *(
                    DocumentRequest(
                        unique_key=f"programme-{n}",
                        doc_type="programme",
                        title=f"Индивидуальная программа: пара № {n}",
                        **base,
                    )
                    for n in (1, 2)
                ),
            ],
        )
        request, message = approval_mail.open_request_with_mail(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            stage="pairing",
            approval_key="programmes",
            flow_run_id=uuid.uuid4(),
            title="Индивидуальные программы",
            summary="",
            document_ids=[order.id, *(p.id for p in programmes)],
            now=T0,
        )
        session.commit()
        assert message.document_ids == [str(order.id)]
        assert "Личные документы (2) во вложение не включены" in message.body_text
        for document in (order, *programmes):
            assert f"/documents/{document.id}.pdf?" in message.body_text  # a signed link each
        attachments = mail.load_attachments(
            session=session, settings=settings, document_ids=message.document_ids
        )
    assert [name for name, _ in attachments] == ["Приказ.pdf"]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # SQLite's own refusal
def test_a_run_takes_a_recorded_decision_when_another_process_wrote_meanwhile(
    monkeypatch, tmp_path, sqlite_engine, cycle_ids
):
    """SQLite refuses a write at once ("database is locked", no busy wait) when another process
    committed after this transaction's first read; the run's taking of the decision (a read,
    then the `approval.taken` audit) starts again instead of failing the run (seen in the
    department demo on SQLite: an organisation-report run failed on its replay)."""
    from nastavnik.settings import get_settings
    from tasks import approvals as approval_tasks

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    request_id = _open_at(sqlite_engine, cycle_ids[1], T0)
    with Session(sqlite_engine) as session:
        approvals.submit_decision(
            session=session,
            secret=SECRET,
            request_id=request_id,
            decision=Decision.approve,
            comment="",
            approver_name="Иванова М. П.",
            code=_code(sqlite_engine, request_id),
            channel="web",
            now=T0 + timedelta(days=1),
        )
        session.commit()
    real_mark_taken, interrupted = approvals.mark_taken, []

    def mark_taken_after_another_write(**kwargs):
        if not interrupted:  # another process (the web app, a run) commits in between, once
            interrupted.append(True)
            with Session(sqlite_engine) as other:
                other.add(AuditEvent(actor="other", action="other.write", entity="x", details={}))
                other.commit()
        return real_mark_taken(**kwargs)

    monkeypatch.setattr(approvals, "mark_taken", mark_taken_after_another_write)
    try:
        taken = approval_tasks.decision_on_record(str(request_id))
    finally:
        get_settings.cache_clear()
    assert interrupted and taken is not None and taken["decision"] == "approve"
    assert [e.action for e in _audit(sqlite_engine, "approval.taken")] == ["approval.taken"]
