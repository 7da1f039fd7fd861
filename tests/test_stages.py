"""The stage rules every stage shares: prerequisites and the ending after a decision (no Prefect).

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt, §2.7): «Наставники и
наставнические пары/группы закрепляются приказом» — training works from the registers the
director approved, pairing from mentors appointed by an approved order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models import Decision, Document, DocumentStatus, OutboxMessage
from nastavnik import approvals, stages

SECRET = b"test-secret-key-0123456789abcdef"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def _document(session: Session, org_id: uuid.UUID, cycle_id: uuid.UUID, number: int) -> Document:
    document = Document(
        unique_key=f"test:{uuid.uuid4()}",
        organization_id=org_id,
        cycle_id=cycle_id,
        doc_type="register",
        series="",
        year=2026,
        number=number,
        doc_date=date(2026, 10, 1),
        title=f"Реестр {number}",
        content_hash="0" * 64,
        path=f"{number}.pdf",
    )
    session.add(document)
    session.flush()
    return document


def _decided(
    engine,
    cycle_id: uuid.UUID,
    decision: Decision,
    *,
    key: str = stages.REGISTERS_APPROVAL,
    document_ids: tuple[uuid.UUID, ...] = (),
    at: datetime = T0,
    accepts_exceptions: bool = False,
) -> uuid.UUID:
    with Session(engine) as session:
        request = approvals.open_request(
            session=session,
            cycle_id=cycle_id,
            stage="base-formation",
            approval_key=key,
            flow_run_id=uuid.uuid4(),
            title="Реестры наставляемых и наставников",
            summary="",
            approver_name="Иванова М. П.",
            approver_email="director@school7.example",
            document_ids=list(document_ids),
            now=at,
            ttl=timedelta(days=14),
            accepts_exceptions=accepts_exceptions,
        )
        outcome = approvals.record_decision(
            session=session,
            secret=SECRET,
            request_id=request.id,
            decision=decision,
            comment="Исправьте реестр" if decision != Decision.approve else "",
            approver_name="Иванова М. П.",
            code=approvals.code_for_request(secret=SECRET, request=request),
            pause_key=f"{key}-1",
            channel="test",
            now=at + timedelta(hours=1),
        )
        assert outcome.accepted
        session.commit()
        return request.id


def test_training_needs_the_registers_approved(engine, cycle_ids) -> None:
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        with pytest.raises(stages.StageNotReady) as refused:
            stages.require_prerequisites(session=session, cycle_id=cycle_id, stage="training")
    message = str(refused.value)
    assert "реестры наставляемых и наставников не утверждены директором" in message
    assert "2026/2027" in message and "Формирование базы" in message

    _decided(engine, cycle_id, Decision.approve)
    with Session(engine) as session:
        stages.require_prerequisites(session=session, cycle_id=cycle_id, stage="training")
        # Base formation has no prerequisite of its own.
        assert (
            stages.missing_prerequisites(session=session, cycle_id=cycle_id, stage="base-formation")
            == []
        )


def test_the_newest_decision_counts(engine, cycle_ids) -> None:
    # Approved registers, then base formation ran again and its registers went back for changes.
    _, cycle_id = cycle_ids
    _decided(engine, cycle_id, Decision.approve, at=T0)
    _decided(engine, cycle_id, Decision.request_changes, at=T0 + timedelta(days=3))
    with Session(engine) as session:
        missing = stages.missing_prerequisites(session=session, cycle_id=cycle_id, stage="training")
    assert [p.approval_key for p in missing] == [stages.REGISTERS_APPROVAL]


def test_pairing_needs_the_mentors_order_approved(engine, cycle_ids) -> None:
    _, cycle_id = cycle_ids
    _decided(engine, cycle_id, Decision.approve)  # registers alone are not enough
    with Session(engine) as session:
        with pytest.raises(stages.StageNotReady, match="приказ о назначении наставников"):
            stages.require_prerequisites(session=session, cycle_id=cycle_id, stage="pairing")
    _decided(engine, cycle_id, Decision.reject, key=stages.MENTORS_ORDER_APPROVAL)
    with Session(engine) as session:
        with pytest.raises(stages.StageNotReady):
            stages.require_prerequisites(session=session, cycle_id=cycle_id, stage="pairing")
    _decided(
        engine, cycle_id, Decision.approve, key=stages.MENTORS_ORDER_APPROVAL, at=T0 + timedelta(1)
    )
    with Session(engine) as session:
        stages.require_prerequisites(session=session, cycle_id=cycle_id, stage="pairing")


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (Decision.approve, DocumentStatus.approved),
        (Decision.reject, DocumentStatus.rejected),
        (Decision.request_changes, DocumentStatus.draft),
    ],
)
def test_a_decision_sets_its_documents_and_notifies_the_curator_once(
    engine, cycle_ids, decision: Decision, status: DocumentStatus
) -> None:
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        ids = tuple(_document(session, org_id, cycle_id, n).id for n in (1, 2))
        session.commit()
    request_id = _decided(engine, cycle_id, decision, document_ids=ids)

    for _ in range(2):  # a resumed run concludes again: nothing changes twice
        with Session(engine) as session:
            ending = stages.conclude_decision(
                session=session, request_id=request_id, base_url="http://web.test/"
            )
            session.commit()
    with Session(engine) as session:
        assert {session.get(Document, i).status for i in ids} == {status}  # type: ignore[union-attr]
        notices = session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith("decision-notice"))  # type: ignore[attr-defined]
        ).all()
    assert ending.decision == decision and ending.documents_updated == 0
    assert [m.id for m in notices] == ending.message_ids
    assert notices[0].to_addr == "curator@school7.example"
    assert approvals.DECISION_LABEL_RU[decision] in notices[0].body_text
    assert f"http://web.test/documents/{ids[0]}.pdf" in notices[0].body_text


def test_a_decision_with_exceptions_leaves_document_statuses_to_the_stage(
    engine, cycle_ids
) -> None:
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        document_id = _document(session, org_id, cycle_id, 1).id
        session.commit()
    request_id = _decided(
        engine, cycle_id, Decision.approve, document_ids=(document_id,), accepts_exceptions=True
    )
    with Session(engine) as session:
        ending = stages.conclude_decision(
            session=session, request_id=request_id, base_url="http://web.test", notify=()
        )
        assert session.get(Document, document_id).status == DocumentStatus.draft  # type: ignore[union-attr]
    assert ending.message_ids == [] and ending.documents_updated == 0


def test_pairs_work_from_october_to_may_unless_the_curator_says() -> None:
    assert stages.pair_term(school_year="2026/2027") == (date(2026, 10, 1), date(2027, 5, 31))
    # A pairing stage run in November starts its pairs on its day, not back in October.
    assert stages.pair_term(school_year="2026/2027", not_before=date(2026, 11, 1)) == (
        date(2026, 11, 1),
        date(2027, 5, 31),
    )
    assert stages.pair_term(school_year="2026/2027", not_before=date(2026, 9, 1))[0] == date(
        2026, 10, 1
    )
    assert stages.pair_term(school_year="2026/2027", starts_on=date(2026, 11, 30)) == (
        date(2026, 11, 30),
        date(2027, 5, 31),
    )
    with pytest.raises(ValueError, match="2026/2027|must look like"):
        stages.pair_term(school_year="2026")
    with pytest.raises(ValueError, match="before they start"):
        stages.pair_term(school_year="2026/2027", ends_on=date(2026, 9, 1))
