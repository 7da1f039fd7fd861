"""Tasks of the pairing stage: matching, draft, consents, the order, personal programmes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from prefect import task
from pydantic import BaseModel
from sqlmodel import col, select

from models import (
    Cycle,
    DocumentStatus,
    MentorshipPair,
    Organization,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    ProgrammeStatus,
)
from nastavnik import cycle_lists, documents, pairing, policy, programmes
from nastavnik.db import session_scope
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task
from tasks.common import document_context


def _org_cycle(session: Any, cycle_id: str) -> tuple[Organization, Cycle]:
    cycle = session.get(Cycle, uuid.UUID(cycle_id))
    assert cycle is not None
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    return org, cycle


class DraftSummary(BaseModel):
    """A matching round as the curator reviews it."""

    document_id: str
    matched: int
    unmatched: int
    total_score: float
    worst_score: float | None
    # Counts per form and per reason for the run's artifacts; the names are on the staff page.
    pairs: list[dict[str, Any]]
    search_list: list[dict[str, Any]]
    list_url: str


@run_cached_task(
    name="match-pairs",
    retries=1,
    retry_delay_seconds=[5],
)
def match_pairs(*, cycle_id: str, on: date, flow_run_id: str, round_no: int) -> DraftSummary:
    """Run the matching for this round and render the draft for the curator."""
    with session_scope() as session:
        org, cycle = _org_cycle(session, cycle_id)
        rules = policy.get_policy(session=session, organization_id=org.id)
        summary = pairing.run_matching(
            session=session,
            cycle_id=cycle.id,
            on=on,
            matching_key=f"{flow_run_id}-r{round_no}",
            policy=rules.matching_policy(),
        )
        rows = pairing.pair_rows(session=session, cycle_id=cycle.id, on=on)
        waiting = pairing.search_list(session=session, cycle_id=cycle.id)
        document = documents.issue_document(
            session=session,
            settings=get_settings(),
            unique_key=f"pairing:{flow_run_id}:draft-{round_no}",
            organization_id=org.id,
            cycle_id=cycle.id,
            doc_type="memo",
            title=f"Проект наставнических пар и групп (вариант {round_no})",
            template="pairing_draft.html",
            context={
                **document_context(org=org, cycle=cycle),
                "pairs": rows,
                "unmatched": waiting,
                "summary": {
                    "matched": summary.matched,
                    "unmatched": summary.unmatched,
                    "total_score": summary.total_score,
                    "worst_name": summary.worst_name,
                    "worst_score": summary.worst_score,
                },
            },
            doc_date=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        return DraftSummary(
            document_id=str(document.id),
            matched=summary.matched,
            unmatched=summary.unmatched,
            total_score=summary.total_score,
            worst_score=summary.worst_score,
            pairs=cycle_lists.pairs_table(rows),
            search_list=cycle_lists.search_list_table(waiting),
            list_url=cycle_lists.list_url(
                web_base_url=get_settings().web_base_url, cycle_id=cycle_id, page="pairs"
            ),
        )


@run_cached_task(
    name="render-consent-forms",
    retries=1,
    retry_delay_seconds=[5],
)
def render_consent_forms(
    *, cycle_id: str, on: date, starts_on: date, ends_on: date, flow_run_id: str, round_no: int
) -> list[str]:
    """A written-consent form (§2.6) for everyone in a draft pair who has not consented yet."""
    with session_scope() as session:
        org, cycle = _org_cycle(session, cycle_id)
        requests = [
            documents.DocumentRequest(
                # One form per person and cycle: a new matching round reuses it.
                unique_key=f"consent-form:{cycle.id}:{form['participant_id']}",
                organization_id=org.id,
                cycle_id=cycle.id,
                doc_type="consent",
                title=f"Согласие на участие в наставничестве: {form['participant']['full_name']}",
                template="consent_form.html",
                context={
                    **document_context(org=org, cycle=cycle),
                    "participant": form["participant"],
                    "partners": form["partners"],
                    "form": form["form"],
                    "starts_on": starts_on,
                    "ends_on": ends_on,
                },
                doc_date=on,
                flow_run_id=uuid.UUID(flow_run_id),
            )
            for form in pairing.consent_form_rows(session=session, cycle_id=cycle.id)
        ]
        issued = documents.issue_documents(
            session=session, settings=get_settings(), requests=requests
        )
        return [str(document.id) for document in issued]


class OrderDraft(BaseModel):
    """The pairing order and which pairs it holds or had to leave out."""

    document_id: str | None
    pair_ids: list[str]
    # Left out for want of a written consent: counted per form (names on the staff page).
    blocked_pairs: int
    blocked: list[dict[str, Any]]
    list_url: str


@run_cached_task(
    name="render-pairing-order",
    retries=1,
    retry_delay_seconds=[5],
)
def render_pairing_order(
    *, cycle_id: str, on: date, starts_on: date, ends_on: date, flow_run_id: str, round_no: int
) -> OrderDraft:
    """The order fixing every draft pair whose both sides consented in writing (§2.6)."""
    with session_scope() as session:
        org, cycle = _org_cycle(session, cycle_id)
        rows = pairing.pair_rows(session=session, cycle_id=cycle.id, on=on)
        ready = [r for r in rows if not r.consents_missing]
        blocked: dict[str, Any] = {
            "blocked_pairs": sum(1 for r in rows if r.consents_missing),
            "blocked": cycle_lists.blocked_pairs_table(rows),
            "list_url": cycle_lists.list_url(
                web_base_url=get_settings().web_base_url, cycle_id=cycle_id, page="pairs"
            ),
        }
        if not ready:
            return OrderDraft(document_id=None, pair_ids=[], **blocked)
        for number, row in enumerate(ready, start=1):
            row.number = number
        document = documents.issue_document(
            session=session,
            settings=get_settings(),
            unique_key=f"pairing:{flow_run_id}:order-{round_no}",
            organization_id=org.id,
            cycle_id=cycle.id,
            doc_type="order",
            title="Приказ о закреплении наставнических пар/групп",
            template="pairing_order.html",
            context={
                **document_context(org=org, cycle=cycle),
                "order_date": on,
                "pairs": [
                    {
                        "number": r.number,
                        "mentor_name": r.mentor_name,
                        "mentee_names": r.mentee_names,
                        "form": r.form,
                        "starts_on": starts_on,
                        "ends_on": ends_on,
                        "reasons": r.reasons,
                        "is_group": r.is_group,
                    }
                    for r in ready
                ],
            },
            doc_date=on,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        pairing.propose(
            session=session, pair_ids=[r.pair_id for r in ready], order_document_id=document.id
        )
        return OrderDraft(
            document_id=str(document.id),
            pair_ids=[str(r.pair_id) for r in ready],
            **blocked,
        )


def _members(session: Any, pair: MentorshipPair) -> list[tuple[Participant, Person]]:
    rows = session.exec(
        select(Participant, Person)
        .join(PairMember, col(PairMember.mentee_id) == col(Participant.id))
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(PairMember.pair_id == pair.id)
    ).all()
    return sorted(rows, key=lambda row: row[1].full_name)


# Kept for the run: a later pause's replay (in a batch run, every member's) does not do it again.
@run_cached_task(name="settle-pairing-order", retries=2, retry_delay_seconds=[1, 5])
def settle_pairing_order(
    *, cycle_id: str, document_id: str, approved: bool, starts_on: date, ends_on: date
) -> list[dict[str, Any]]:
    """Activate the order's pairs (or return them to draft); returns the participants' notices."""
    notices: list[dict[str, Any]] = []
    with session_scope() as session:
        pair_ids = pairing.settle(
            session=session,
            cycle_id=uuid.UUID(cycle_id),
            order_document_id=uuid.UUID(document_id),
            approved=approved,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        if not approved:
            return notices
        for pair_id in pair_ids:
            pair = session.get(MentorshipPair, pair_id)
            assert pair is not None
            mentor = session.get(Participant, pair.mentor_id)
            assert mentor is not None
            mentor_person = session.get(Person, mentor.person_id)
            assert mentor_person is not None
            members = _members(session, pair)
            common = {
                "is_group": pair.is_group,
                "form": pair.form.value,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "mentor_name": mentor_person.full_name,
                "mentee_names": [person.full_name for _, person in members],
            }
            for participant, person in [(mentor, mentor_person), *members]:
                notices.append(
                    common
                    | {
                        "key": f"{pair.id}:{participant.id}",
                        "to": person.email,
                        "recipient_name": f"{person.first_name} {person.middle_name}".strip(),
                    }
                )
    return notices


class ProgrammeItem(BaseModel):
    """One pair's personal programme awaiting the director."""

    number: int
    programme_id: str
    document_id: str
    label: str


@run_cached_task(
    name="render-programmes",
    retries=1,
    retry_delay_seconds=[5],
)
def render_programmes(*, cycle_id: str, on: date, flow_run_id: str) -> list[ProgrammeItem]:
    """A personal programme (§2.11–§2.12) for every active pair without an approved one."""
    items: list[ProgrammeItem] = []
    with session_scope() as session:
        org, cycle = _org_cycle(session, cycle_id)
        pairs = session.exec(
            select(MentorshipPair).where(
                MentorshipPair.cycle_id == cycle.id, MentorshipPair.status == PairStatus.active
            )
        ).all()
        rows = []
        for pair in pairs:
            mentor = session.get(Participant, pair.mentor_id)
            assert mentor is not None
            mentor_person = session.get(Person, mentor.person_id)
            assert mentor_person is not None
            rows.append((mentor_person.full_name, pair, mentor, _members(session, pair)))
        rows.sort(key=lambda row: row[0])
        planned: list[tuple[PersonalProgramme, dict[str, Any], str, documents.DocumentRequest]] = []
        for mentor_name, pair, _mentor, members in rows:
            assert pair.starts_on is not None and pair.ends_on is not None
            programme = session.exec(
                select(PersonalProgramme)
                .where(PersonalProgramme.pair_id == pair.id)
                .order_by(col(PersonalProgramme.version).desc())
            ).first()
            if programme is not None and programme.status == ProgrammeStatus.approved:
                continue
            if programme is None:
                programme = PersonalProgramme(pair_id=pair.id, version=1)
            elif programme.status == ProgrammeStatus.returned:
                # The director returned it: the corrected programme is a new version.
                programme = PersonalProgramme(pair_id=pair.id, version=programme.version + 1)
            mentee_names = [person.full_name for _, person in members]
            content = programmes.build_programme(
                form=pair.form,
                mentor_name=mentor_name,
                mentee_names=mentee_names,
                mentee_requests=[p.requests for p, _ in members if p.requests],
                subjects=sorted(
                    {s.strip() for p, _ in members for s in p.subjects.split(",") if s.strip()}
                ),
                starts_on=pair.starts_on,
                ends_on=pair.ends_on,
            )
            planned.append(
                (
                    programme,
                    content.as_dict(),
                    f"{mentor_name} — {', '.join(mentee_names)}",
                    documents.DocumentRequest(
                        unique_key=f"programme:{pair.id}:v{programme.version}",
                        organization_id=org.id,
                        cycle_id=cycle.id,
                        doc_type="programme",
                        title=f"Персонализированная программа наставничества: {mentor_name} — "
                        + ", ".join(mentee_names),
                        template="personal_programme.html",
                        context={
                            **document_context(org=org, cycle=cycle),
                            "programme": content.as_dict(),
                            "mentor_name": mentor_name,
                            "mentee_names": mentee_names,
                            "starts_on": pair.starts_on,
                            "ends_on": pair.ends_on,
                        },
                        doc_date=on,
                        flow_run_id=uuid.UUID(flow_run_id),
                    ),
                )
            )
        # One batch: the programmes render in parallel processes.
        issued = documents.issue_documents(
            session=session,
            settings=get_settings(),
            requests=[request for *_, request in planned],
        )
        for (programme, content_dict, label, _), document in zip(planned, issued, strict=True):
            programme.document_id, programme.content = document.id, content_dict
            session.add(programme)
            session.flush()
            items.append(
                ProgrammeItem(
                    number=len(items) + 1,
                    programme_id=str(programme.id),
                    document_id=str(document.id),
                    label=label,
                )
            )
    return items


# Kept for the run: a later pause's replay (in a batch run, every member's) does not do it again.
@run_cached_task(name="acknowledge-programmes", retries=2, retry_delay_seconds=[1, 5])
def acknowledge_programmes(*, programme_ids: list[str], on: date) -> None:
    """Record that the mentees have read their programmes (confirmed by the curator)."""
    with session_scope() as session:
        for programme_id in programme_ids:
            programme = session.get(PersonalProgramme, uuid.UUID(programme_id))
            assert programme is not None
            if programme.acknowledged_on is None:
                programme.acknowledged_on = on
                programme.status = ProgrammeStatus.acknowledged
                session.add(programme)


@task(name="apply-programme-decision", retries=2, retry_delay_seconds=[1, 5])
def apply_programme_decision(
    *, items: list[ProgrammeItem], approved: bool, exceptions: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Approve every programme but the exceptions, which go back with the director's comment."""
    returned = {int(e["number"]): str(e["comment"]) for e in exceptions}
    unknown = set(returned) - {item.number for item in items}
    result: dict[str, list[str]] = {
        "approved": [],
        "returned": [],
        "unknown": sorted(map(str, unknown)),
    }
    with session_scope() as session:
        for item in items:
            programme = session.get(PersonalProgramme, uuid.UUID(item.programme_id))
            assert programme is not None
            if approved and item.number not in returned:
                programme.status = ProgrammeStatus.approved
                documents.set_document_status(
                    session=session,
                    document_id=uuid.UUID(item.document_id),
                    status=DocumentStatus.approved,
                )
                result["approved"].append(item.document_id)
            else:
                programme.status = ProgrammeStatus.returned
                programme.director_comment = returned.get(item.number, "")
                result["returned"].append(item.document_id)
            session.add(programme)
    return result
