"""Preparation against a real Prefect server, runner and SMTP server.

DESIGN §3, stage 0: orders approving the regulation, appointing the curator and approving the
roadmap; the director approves. The regulation is printed from the organisation's policy: this
organisation set §2.13's «В течение 10 дней по завершении наставничества» to 14 days.
"""

from __future__ import annotations

import collections

import pytest

from models import DocumentStatus
from nastavnik import mail, policy, repository
from nastavnik.db import session_scope
from nastavnik.documents import document_file
from tests.conftest import FIXTURES
from tests.flows import support
from tests.flows.conftest import ORG, FlowStack
from tests.test_preparation_documents import text_of

pytestmark = pytest.mark.flows
# An organisation of its own: its policy must not change the other flow tests' school.
PREP_ORG = ORG | {
    "code": "school-2-preparation",
    "director_email": "director@prep.example.ru",
    "curator_email": "curator@prep.example.ru",
}


def test_preparation_orders_and_regulation_approved_by_the_director(
    flow_stack: FlowStack,
) -> None:
    with session_scope() as session:
        org = repository.upsert_organization(session=session, **PREP_ORG)
        policy.save_policy(
            session=session,
            organization_id=org.id,
            policy=policy.updated(policy.DEFAULT_POLICY, {"report_deadline_days": 14}),
        )
    run_id = support.start(
        "preparation/preparation",
        organization_code=PREP_ORG["code"],
        roadmap_file=str(FIXTURES / "roadmaps" / "school2_small.yaml"),
        reference_date="2026-08-28",
    )
    assert support.wait(run_id, "preparation-orders-1") == "Suspended"
    drafts = support.documents(run_id)
    assert [d.title for d in drafts if d.doc_type == "order"] == [
        "Приказ о внедрении целевой модели наставничества",
        "Приказ об утверждении положения о системе наставничества",
        "Приказ о назначении куратора",
        "Приказ об утверждении дорожной карты",
    ]
    assert {d.status for d in drafts} == {DocumentStatus.draft}
    (request_mail,) = flow_stack.mail_to(PREP_ORG["director_email"])
    assert request_mail["Subject"].startswith("Требуется утверждение: Приказы о внедрении")

    support.answer(run_id, "preparation-orders")
    assert support.wait(run_id) == "Completed"

    # Resumed from the top: the same five documents, now approved; nothing issued twice.
    approved = support.documents(run_id)
    assert sorted(d.id for d in approved) == sorted(d.id for d in drafts)
    assert {d.status for d in approved} == {DocumentStatus.approved}
    regulation = next(d for d in approved if d.doc_type == "regulation")
    text = text_of(document_file(settings=flow_stack.settings, document=regulation).read_bytes())
    assert "В течение 14 дней по завершении наставничества наставник" in text
    assert "3.7 Завершение наставничества" in text  # the roadmap appendix

    (notice,) = flow_stack.mail_to(PREP_ORG["curator_email"])
    assert notice["Subject"].startswith("Решение: утверждено — Приказы о внедрении")
    keys = [m.idempotency_key for m in support.outbox(run_id)]
    expected = {mail.message_id_for(idempotency_key=k, settings=flow_stack.settings) for k in keys}
    received = collections.Counter(
        m["Message-ID"]
        for address in (PREP_ORG["director_email"], PREP_ORG["curator_email"])
        for m in flow_stack.mail_to(address)
    )
    assert {mid: received[mid] for mid in expected} == dict.fromkeys(expected, 1)

    keyed = [a.key for a in support.artifacts(run_id) if a.key]
    assert len(keyed) == len(set(keyed))
    assert {"preparation-policy", "preparation-roadmap", "preparation-documents"} <= set(keyed)
    assert "stage-mail" in keyed
