"""The approval step shared by every stage flow: ask, suspend, check the code, record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import get_run_logger
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from flows.publishing import current_run_id, in_batch, prefect_run_id
from models import Decision
from tasks.approvals import decision_on_record, open_approval_request, record_decision
from tasks.stages import conclude_decision


class ApprovalInput(RunInput):
    """A decision, as the Prefect UI's resume form asks for it."""

    decision: Decision = Field(
        description="approve — утвердить; reject — отклонить; request_changes — на доработку"
    )
    approval_code: str = Field(description="Код подтверждения из письма")
    approver_name: str = Field(description="ФИО принимающего решение")
    comment: str = Field(default="", description="Комментарий (обязателен при доработке)")

    def details(self) -> dict[str, Any]:
        """What beyond the plain decision is worth recording with it."""
        return {}


class ProgrammeException(BaseModel):
    """One personal programme returned for rework while the rest are approved."""

    number: int = Field(description="Номер программы в списке")
    comment: str = Field(description="Что исправить")


class ProgrammesApprovalInput(ApprovalInput):
    """Approval of all personal programmes at once, with per-programme exceptions."""

    exceptions: list[ProgrammeException] = Field(
        default_factory=list,
        description="Программы, которые не утверждаются (номер и комментарий)",
    )

    def details(self) -> dict[str, Any]:
        return {"exceptions": [e.model_dump() for e in self.exceptions]}


@dataclass(frozen=True)
class ApprovalOutcome:
    """The accepted decision on one approval request."""

    request_id: str
    decision: Decision
    comment: str
    approver_name: str
    details: dict[str, Any] = field(default_factory=dict)
    decided_on: date | None = None

    @property
    def approved(self) -> bool:
        return self.decision == Decision.approve


class AwaitingDecision(Exception):  # noqa: N818 (not an error: a state of the organisation)
    """One organisation of a batch run waits for a decision; the batch run suspends for all."""

    def __init__(self, request_id: str, title: str) -> None:
        super().__init__(f"«{title}» ждёт решения")
        self.request_id, self.title = request_id, title


def request_approval(
    *,
    cycle_id: str,
    stage: str,
    approval_key: str,
    title: str,
    summary: str,
    document_ids: list[str],
    role: str = "director",
    input_type: type[ApprovalInput] = ApprovalInput,
) -> ApprovalOutcome:
    """Ask the approver, suspend until a decision with a valid code arrives, and return it.

    In a batch run (flows/batch.py) the organisation's work stops here with AwaitingDecision
    instead, and the batch run suspends once for all its organisations.

    Each wait has its own stable pause key ``<key>-<attempt>`` (Prefect allows lowercase,
    digits and dashes): a refused code is audited and the run suspends again under the next
    key, and everything before the pause is cached or idempotent, so no side effect repeats.
    """
    logger = get_run_logger()
    opened = open_approval_request(
        cycle_id=cycle_id,
        stage=stage,
        approval_key=approval_key,
        flow_run_id=current_run_id(),
        title=title,
        summary=summary,
        document_ids=document_ids,
        role=role,
        accepts_exceptions=issubclass(input_type, ProgrammesApprovalInput),
        batch_run_id=prefect_run_id() if in_batch() else None,
    )
    attempt = 1
    while True:
        # The web page and the CLI record the decision before they wake the run; a run replayed
        # after its pause (or continued after a crash) finds it here and does not wait again.
        if (recorded := decision_on_record(opened["request_id"])) is not None:
            return _outcome(opened["request_id"], recorded)
        if in_batch():  # the batch run waits once for all its organisations
            raise AwaitingDecision(opened["request_id"], title)
        pause_key = f"{approval_key}-{attempt}"
        answer = suspend_flow_run(wait_for_input=input_type, key=pause_key)
        if (recorded := decision_on_record(opened["request_id"])) is not None:
            logger.info("%s: решение принято (%s)", title, recorded["approver_name"])
            return _outcome(opened["request_id"], recorded)
        # The decision came with the input itself (the Prefect UI's form): check its code.
        result = record_decision(
            request_id=opened["request_id"],
            decision=answer.decision.value,
            comment=answer.comment,
            approver_name=answer.approver_name,
            code=answer.approval_code,
            pause_key=pause_key,
            details=answer.details(),
        )
        if result["accepted"]:
            logger.info("%s: %s (%s)", title, result["message"], answer.approver_name)
            # Read back as recorded, and audited as taken: nothing wakes the run for it again.
            recorded = decision_on_record(opened["request_id"])
            assert recorded is not None
            return _outcome(opened["request_id"], recorded)
        logger.warning("%s: %s; waiting for a valid decision", title, result["message"])
        attempt += 1


def _outcome(request_id: str, recorded: dict[str, Any]) -> ApprovalOutcome:
    return ApprovalOutcome(
        request_id,
        Decision(recorded["decision"]),
        recorded["comment"],
        recorded["approver_name"],
        recorded["details"],
        date.fromisoformat(recorded["decided_on"]),
    )


def settle_decision(
    outcome: ApprovalOutcome,
    *,
    notices: list[str] | None = None,
    set_document_status: bool = True,
) -> list[str]:
    """The one stage ending: documents' status from the decision, notices, then delivery.

    ``notices`` are outbox ids the stage queued for this outcome (e.g. participants told of
    their pair); the decision notice to the curator is queued here. Returns every id delivered.
    """
    return conclude_decision(
        request_id=outcome.request_id,
        set_document_status=set_document_status,
        notices=tuple(notices or ()),
    )
