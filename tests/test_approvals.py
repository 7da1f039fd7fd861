"""Approval codes and decisions in the core, with a fake clock."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models import ApprovalDecision, ApprovalStatus, AuditEvent, Decision
from nastavnik import approvals

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
