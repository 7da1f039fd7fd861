"""The department stage end to end (issue 10 §6): a real Prefect server and runner, a real SMTP
server. The run reads the member organisations' submitted reports, makes the informational-
analytic report and the order on the year's results, suspends for the department head, survives
a refused code (resumed from the top: no second document or e-mail), and on approval e-mails the
report to every member organisation's director, once."""

from __future__ import annotations

import asyncio
import collections

import pytest

from deployments.prefect_api import resume_run
from models import DocumentStatus
from nastavnik import analytic_report
from nastavnik.db import session_scope
from tests.flows import support
from tests.flows.conftest import FlowStack
from tests.test_analytic_report import APPROVER, DIRECTORS, HEAD, TODAY, make_department

pytestmark = pytest.mark.flows
MEMBER_DIRECTORS = {
    "director@school-1.example.ru",
    "director@college-2.example.ru",
    "director@centre-3.example.ru",
}


def test_the_department_stage_end_to_end_without_duplicates(flow_stack: FlowStack) -> None:
    with session_scope() as session:
        make_department(session)
    run_id = support.start(
        "department/department", organization_code="kedrovy", reference_date=TODAY.isoformat()
    )
    assert support.wait(run_id, "analytic-report-1") == "Suspended"
    made = {d.title: d for d in support.documents(run_id)}
    assert sorted(made) == [analytic_report.REPORT_TITLE, analytic_report.ORDER_TITLE]
    assert {d.status for d in made.values()} == {DocumentStatus.draft}
    (request_mail,) = flow_stack.mail_to("director@kedrovy.example.ru")
    assert "Информационно-аналитический отчёт" in request_mail["Subject"]
    assert "Отчёты представили 2 из 3 организаций" in request_mail.get_body(
        ("plain",)
    ).get_content().replace("\n", " ")

    # A wrong code is refused: the run waits again, resumed from the top, nothing repeats.
    asyncio.run(
        resume_run(
            run_id,
            {
                "decision": "approve",
                "approval_code": "not-a-code",
                "approver_name": HEAD,
                "comment": "",
            },
        )
    )
    assert support.wait(run_id, "analytic-report-2") == "Suspended"
    support.answer(run_id, "analytic-report", approver_name=HEAD)
    assert support.wait(run_id) == "Completed"

    documents = support.documents(run_id)
    assert len(documents) == 2
    assert {d.status for d in documents} == {DocumentStatus.approved}
    received = collections.Counter(
        address for message in flow_stack.sink.messages for address in message.rcpt_tos
    )
    # The head's request once; the report once to each member's director, attached.
    assert received["director@kedrovy.example.ru"] == 1
    assert {a: received[a] for a in MEMBER_DIRECTORS} == dict.fromkeys(MEMBER_DIRECTORS, 1)
    member_mail = flow_stack.mail_to("director@college-2.example.ru")[0]
    attachments = [part.get_filename() for part in member_mail.iter_attachments()]
    assert attachments and attachments[0].endswith(".pdf")
    queued = [m for m in support.outbox(run_id) if any(a in m.to_addr for a in MEMBER_DIRECTORS)]
    assert len(queued) == 3  # one outbox row per member, not one per resume
    # The artifact: counts and links, nobody named.
    markdown = [a for a in support.artifacts(run_id) if a.key == "department-analytic-report"]
    assert markdown and "| Не представили отчёт | 1 |" in str(markdown[-1].data)
    for artifact in support.artifacts(run_id):
        for person in [*DIRECTORS, APPROVER]:
            assert person.split()[0] not in str(artifact.data)
