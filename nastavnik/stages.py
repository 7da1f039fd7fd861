"""What every stage shares: its prerequisites and how it ends after a decision (no Prefect).

A stage ends the same way whatever it decided: the decision sets the status of the documents it
concerned, the people who must know are e-mailed through the outbox, and the flow delivers the
mail. Prerequisites are checked here so that no stage runs on data the director has not approved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    Cycle,
    Decision,
    Document,
    DocumentStatus,
    Organization,
)
from nastavnik import mail
from nastavnik.approvals import DECISION_LABEL_RU
from nastavnik.documents import names_people
from nastavnik.repository import school_year_start

# Approval keys the stage flows use for the decisions later stages depend on.
# Preparation's orders are no prerequisite: organisations that already run the programme under
# their own orders start with base formation.
PREPARATION_APPROVAL = "preparation-orders"
REGISTERS_APPROVAL = "base-formation-registers"
MENTORS_ORDER_APPROVAL = "training-order"


@dataclass(frozen=True)
class Prerequisite:
    """A decision a stage needs first: the newest request under this key must be approved."""

    approval_key: str
    what_ru: str
    how_ru: str


PREREQUISITES: dict[str, tuple[Prerequisite, ...]] = {
    "training": (
        Prerequisite(
            REGISTERS_APPROVAL,
            "реестры наставляемых и наставников не утверждены директором",
            "проведите этап «Формирование базы» и получите решение директора",
        ),
    ),
    "pairing": (
        Prerequisite(
            MENTORS_ORDER_APPROVAL,
            "приказ о назначении наставников не утверждён директором",
            "проведите этап «Обучение наставников» и получите решение директора",
        ),
    ),
    "completion": (
        Prerequisite(
            "programmes-approval",
            "персонализированные программы не утверждены директором",
            "проведите этап «Формирование пар» и получите решение директора",
        ),
    ),
    # The ranking reads the pairs' meetings and feedback: the year's final event (end of May in
    # the roadmaps) may come before the completion reports of June.
    "final-event": (
        Prerequisite(
            "programmes-approval",
            "персонализированные программы не утверждены директором",
            "проведите этап «Формирование пар» и получите решение директора",
        ),
    ),
}


class StageNotReady(RuntimeError):
    """A stage was started before the decisions it depends on were made."""

    def __init__(self, stage: str, school_year: str, missing: list[Prerequisite]) -> None:
        self.stage, self.missing = stage, missing
        reasons = "; ".join(f"{p.what_ru} ({p.how_ru})" for p in missing)
        super().__init__(
            f"Этап «{stage}» на {school_year} учебный год не может начаться: {reasons}"
        )


def latest_request(
    *, session: Session, cycle_id: uuid.UUID, approval_key: str
) -> ApprovalRequest | None:
    """The newest approval request of the cycle under this key, if any."""
    return session.exec(
        select(ApprovalRequest)
        .where(ApprovalRequest.cycle_id == cycle_id, ApprovalRequest.approval_key == approval_key)
        .order_by(col(ApprovalRequest.requested_at).desc())
        .limit(1)
    ).first()


def missing_prerequisites(
    *, session: Session, cycle_id: uuid.UUID, stage: str
) -> list[Prerequisite]:
    """The prerequisites of the stage that the cycle does not meet yet."""
    missing = []
    for prerequisite in PREREQUISITES.get(stage, ()):
        request = latest_request(
            session=session, cycle_id=cycle_id, approval_key=prerequisite.approval_key
        )
        if request is None or request.status != ApprovalStatus.approved:
            missing.append(prerequisite)
    return missing


def require_prerequisites(*, session: Session, cycle_id: uuid.UUID, stage: str) -> None:
    """Raise StageNotReady naming what is missing, or return when the stage may start."""
    missing = missing_prerequisites(session=session, cycle_id=cycle_id, stage=stage)
    if missing:
        cycle = session.get(Cycle, cycle_id)
        raise StageNotReady(stage, cycle.school_year if cycle else "?", missing)


def pair_term(
    *,
    school_year: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
    not_before: date | None = None,
) -> tuple[date, date]:
    """When the pairs of the school year work: 1 October to 31 May unless the curator says.

    A pairing stage that runs after 1 October starts its pairs on its own day (`not_before`):
    pairs fixed by a November order have no October to meet, report or be reminded of."""
    first = school_year_start(school_year).year
    default_start = date(first, 10, 1)
    if not_before is not None:
        default_start = max(default_start, not_before)
    starts = starts_on or default_start
    ends = ends_on or date(first + 1, 5, 31)
    if ends <= starts:
        raise ValueError(
            f"pairs cannot end ({ends:%d.%m.%Y}) before they start ({starts:%d.%m.%Y})"
        )
    return starts, ends


def document_links(*, base_url: str, documents: list[Document]) -> list[dict[str, str]]:
    """Title, number label and URL of each document, for e-mails and pages."""
    return [
        {"title": d.title, "label": d.label, "url": f"{base_url.rstrip('/')}/documents/{d.id}.pdf"}
        for d in documents
    ]


def mail_attachments(documents: list[Document]) -> list[uuid.UUID]:
    """The documents an e-mail carries as files. A personal one (a pair's programme, a consent
    form: a hundred and more a school) goes by its link only and becomes a PDF when opened."""
    return [d.id for d in documents if not names_people(d)]


# Documents a decision leaves as they are: «request changes» keeps the draft for the rework.
DOCUMENT_STATUS_AFTER = {
    Decision.approve: DocumentStatus.approved,
    Decision.reject: DocumentStatus.rejected,
}


@dataclass(frozen=True)
class StageEnding:
    """What concluding a decision did: documents whose status changed, mail queued."""

    decision: Decision
    documents_updated: int
    message_ids: list[uuid.UUID]


def conclude_decision(
    *,
    session: Session,
    request_id: uuid.UUID,
    base_url: str,
    notify: tuple[str, ...] = ("curator",),
    set_document_status: bool = True,
) -> StageEnding:
    """Apply a recorded decision: document statuses, then the decision notice per recipient.

    Idempotent: statuses are set to the same value again and each notice has its own key. A
    request that returns single documents (``accepts_exceptions``) leaves their statuses to the
    stage, which knows which ones were returned.
    """
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise LookupError(f"approval request {request_id} does not exist")
    decision = session.exec(
        select(ApprovalDecision).where(ApprovalDecision.request_id == request.id)
    ).one()
    cycle = session.get(Cycle, request.cycle_id)
    assert cycle is not None
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    documents = [
        document
        for document in (session.get(Document, uuid.UUID(i)) for i in request.document_ids)
        if document is not None
    ]

    updated = 0
    status = DOCUMENT_STATUS_AFTER.get(decision.decision)
    if set_document_status and status is not None and not request.accepts_exceptions:
        for document in documents:
            if document.status != status:
                document.status = status
                session.add(document)
                updated += 1
        session.flush()

    addresses = {"curator": org.curator_email, "director": org.director_email}
    message_ids = []
    for recipient in notify:
        message = mail.enqueue_templated(
            session=session,
            idempotency_key=f"decision-notice:{request.id}:{recipient}",
            to_addr=addresses[recipient],
            template="decision_notice",
            context={
                "organization": org,
                "cycle": cycle,
                "request_title": request.title,
                "decision_label": DECISION_LABEL_RU[decision.decision],
                "comment": decision.comment,
                "approver_name": decision.approver_name,
                "decided_at": decision.decided_at,
                "documents": document_links(base_url=base_url, documents=documents),
                "linked_only": len(documents) - len(mail_attachments(documents)),
            },
            document_ids=mail_attachments(documents),
            flow_run_id=request.flow_run_id,
        )
        message_ids.append(message.id)
    return StageEnding(decision.decision, updated, message_ids)
