"""One stage for several organisations in one run: the daily tick's starts of a day, batched.

A department's schools reach the same roadmap step on the same days. Run one by one, every
organisation's stage is a flow run of its own, started by a worker in a process of its own and
started again after each decision: seconds of Prefect's protocol per start (bench/department.py,
issue 11 §4). A batch run does each organisation's steps in turn, each keyed on the
organisation's member run id (flows/publishing.py: its documents, e-mails and approval requests
its own, as in a run of its own), and when some of them wait for a decision it suspends once
for all of them. The web page and the CLI record each decision before they wake the run, so a
wake-up finds every decision taken meanwhile; an organisation whose stage fails does not stop
the others (the run fails at its end, naming them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.flow_runs import suspend_flow_run
from pydantic import BaseModel, Field

from flows.approvals import AwaitingDecision, ProgrammesApprovalInput
from flows.base_formation import BaseFormationParams, base_formation_steps
from flows.completion import CompletionParams, completion_steps
from flows.department import DepartmentParams, department_steps
from flows.final_event import FinalEventParams, final_event_steps
from flows.organisation_report import OrganisationReportParams, organisation_report_steps
from flows.pairing import PairingParams, pairing_steps
from flows.preparation import PreparationParams, preparation_steps
from flows.publishing import batch_member, member_key
from flows.training import TrainingParams, training_steps
from nastavnik.approvals import BATCH_PAUSE_PREFIX
from nastavnik.settings import get_settings
from tasks.approvals import decision_on_record, record_decision
from tasks.publishing import publish_mails, publish_markdown

# Each stage the tick starts: its parameters' model and its steps (the stage flow's body).
STAGE_STEPS: dict[str, tuple[type[BaseModel], Callable[[Any], str]]] = {
    "preparation": (PreparationParams, preparation_steps),
    "base-formation": (BaseFormationParams, base_formation_steps),
    "training": (TrainingParams, training_steps),
    "pairing": (PairingParams, pairing_steps),
    "completion": (CompletionParams, completion_steps),
    "final-event": (FinalEventParams, final_event_steps),
    "department": (DepartmentParams, department_steps),
    "organisation-report": (OrganisationReportParams, organisation_report_steps),
}


class BatchParams(BaseModel):
    """Which stage, and each organisation's parameters for it."""

    stage: str = Field(description="Этап: preparation, base-formation, training, pairing, …")
    members: list[dict[str, Any]] = Field(
        description="Параметры этапа для каждой организации (как у запуска этапа)"
    )


class BatchDecisionInput(ProgrammesApprovalInput):
    """A decision for one of the organisations the batch run waits for (the Prefect UI's form);
    the web page and the CLI record theirs before waking the run and send it only to wake it."""

    organization_code: str = Field(
        default="", description="Код организации, если решения ждут несколько"
    )


@flow(name="stage-batch")
def stage_batch(params: BatchParams) -> dict[str, str]:
    """Do one stage for several organisations, suspending once for all their decisions."""
    logger = get_run_logger()
    model, steps = STAGE_STEPS[params.stage]
    members = [model.model_validate(member) for member in params.members]
    outcomes: dict[str, str] = {}
    failures: dict[str, str] = {}
    member_runs: list[str] = []
    for wait in itertools.count(1):
        waiting: dict[str, AwaitingDecision] = {}
        for raw, member in zip(params.members, members, strict=True):
            key, org = member_key(raw), str(raw["organization_code"])
            if key in outcomes or key in failures:
                continue
            with batch_member(member=key, organization_code=org) as member_run:
                if member_run not in member_runs:
                    member_runs.append(member_run)
                try:
                    outcomes[key] = steps(member)
                except AwaitingDecision as awaiting:
                    waiting[key] = awaiting
                except Exception as error:  # one organisation's stage does not stop the others
                    logger.exception("%s: этап «%s» не выполнен", org, params.stage)
                    failures[key] = f"{type(error).__name__}: {error}"
        if not waiting:
            break
        # A decision recorded while the others were worked on: take it now, not after a pause.
        if any(decision_on_record(a.request_id) is not None for a in waiting.values()):
            continue
        logger.info("Ждут решения: %s", len(waiting))
        publish_markdown(
            key="batch-waiting",
            markdown=waiting_markdown(waiting, web_base_url=get_settings().web_base_url),
            description=f"Этап «{params.stage}»: организации, ждущие решения",
        )
        answer = suspend_flow_run(
            wait_for_input=BatchDecisionInput, key=f"{BATCH_PAUSE_PREFIX}{wait}"
        )
        _record_form_decision(answer, waiting, pause_key=f"{BATCH_PAUSE_PREFIX}{wait}")
    publish_mails(flow_run_ids=member_runs)
    if failures:
        raise RuntimeError(
            f"Этап «{params.stage}» не выполнен для организаций: "
            + "; ".join(f"{key.split('|')[0]} ({why})" for key, why in failures.items())
        )
    return {key.split("|")[0]: outcome for key, outcome in outcomes.items()}


def waiting_markdown(waiting: dict[str, AwaitingDecision], *, web_base_url: str) -> str:
    """Who the batch run waits for: organisation, question and its page (the code is in the
    approver's e-mail), for whoever answers in the Prefect UI's form."""
    base = web_base_url.rstrip("/")
    lines = ["| Организация | Решение | Страница решения |", "|---|---|---|"]
    for key, awaiting in waiting.items():
        url = f"{base}/approvals/{awaiting.request_id}"
        lines.append(f"| {key.split('|')[0]} | {awaiting.title} | [открыть]({url}) |")
    return "\n".join(lines)


def _record_form_decision(
    answer: BatchDecisionInput, waiting: dict[str, AwaitingDecision], *, pause_key: str
) -> None:
    """A decision typed into the Prefect UI's form: checked and recorded for its organisation
    (the web page's and the CLI's are recorded already; they carry a spent code or none)."""
    logger = get_run_logger()
    if not answer.approval_code.strip():
        return
    chosen = [
        awaiting
        for key, awaiting in waiting.items()
        if not answer.organization_code or key.split("|")[0] == answer.organization_code
    ]
    awaiting = chosen[0] if len(chosen) == 1 else None
    if awaiting is None:
        logger.warning("Решение не учтено: укажите код одной из организаций, ждущих решения")
        return
    if decision_on_record(awaiting.request_id) is not None:
        return
    result = record_decision(
        request_id=awaiting.request_id,
        decision=answer.decision.value,
        comment=answer.comment,
        approver_name=answer.approver_name,
        code=answer.approval_code,
        pause_key=pause_key,
        details=answer.details(),
    )
    logger.info("%s: %s", answer.organization_code or "решение", result["message"])
