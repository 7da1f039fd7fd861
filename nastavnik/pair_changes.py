"""Changes to a pair by the director's order (no Prefect): replacement of the mentor, extension
of the term, early termination.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``):
- §2.8 «Замена наставника производится в следующих случаях: прекращение трудового договора с
  наставником; перевод …; просьба наставника или лица, в отношении которого осуществляется
  наставничество; неисполнение наставником функций наставничества …; возникновение иных
  обстоятельств …» (the mentor's request is their right under §4.1, the mentee's under §5.1);
- §2.9 «Срок наставничества … может быть продлен в случае временной нетрудоспособности,
  командировки или иного продолжительного отсутствия по уважительным причинам …»;
- §2.10 «Наставничество прекращается до истечения срока … в случае неисполнения лицом, в
  отношении которого осуществляется наставничество, обязанностей …».
The new mentor is appointed as the first one was: under the matching engine's hard rules
(§2.5 at most three mentees at once, counted across the organisation's pairs going on; §2.6
written consent; the form's rules; admitted mentors only) and fixed by order (§2.7).

A change is a `PairChange` row: requested (with its reason) → ordered (its order waits for the
director) → approved (applied to the pair) or rejected (nothing changes). Applying is
idempotent: a resumed flow applies nothing twice and gets the same notices back.

A replacement keeps the old pair as history (status ``replaced``) and starts a new pair row
with the new mentor from the order's day to the old end date; the change links the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    Cycle,
    Document,
    MentorshipPair,
    Organization,
    PairChange,
    PairChangeKind,
    PairChangeReason,
    PairChangeStatus,
    PairMember,
    PairStatus,
    PairVersion,
    Participant,
    Person,
    PersonalProgramme,
    ProgrammeStatus,
    SearchListEntry,
)
from models.tables import DocumentStatus
from nastavnik import documents, links, matching, pairing, programmes, repository
from nastavnik import pairs as pair_lifecycle
from nastavnik.settings import Settings

REASONS: dict[PairChangeKind, tuple[PairChangeReason, ...]] = {
    PairChangeKind.replacement: (
        PairChangeReason.dismissal,
        PairChangeReason.transfer,
        PairChangeReason.mentor_request,
        PairChangeReason.mentee_request,
        PairChangeReason.non_performance,
        PairChangeReason.other,
    ),
    PairChangeKind.extension: (
        PairChangeReason.illness,
        PairChangeReason.business_trip,
        PairChangeReason.long_absence,
    ),
    PairChangeKind.termination: (PairChangeReason.mentee_non_performance,),
}
"""The reasons the regulation allows for each change (§2.8, §2.9, §2.10)."""

CLAUSE = {
    PairChangeKind.replacement: "2.8",
    PairChangeKind.extension: "2.9",
    PairChangeKind.termination: "2.10",
}

ORDER_TITLE = {
    PairChangeKind.replacement: "Приказ о замене наставника",
    PairChangeKind.extension: "Приказ о продлении срока наставничества",
    PairChangeKind.termination: "Приказ о досрочном прекращении наставничества",
}

ORDER_TEMPLATE = {
    PairChangeKind.replacement: "order_mentor_replacement.html",
    PairChangeKind.extension: "order_term_extension.html",
    PairChangeKind.termination: "order_early_termination.html",
}

CHANGE_LABEL = {
    PairChangeKind.replacement: "замена наставника",
    PairChangeKind.extension: "продление срока наставничества",
    PairChangeKind.termination: "досрочное прекращение наставничества",
}

STATUS_AFTER = {
    PairChangeKind.replacement: PairStatus.replaced,
    PairChangeKind.extension: PairStatus.extended,
    PairChangeKind.termination: PairStatus.terminated,
}

SEARCH_LIST_REASON = "наставничество прекращено досрочно (п. 2.10): ждёт нового наставника"
BREAK_TASK = "Перерыв в работе пары: {reason} (срок продлён, п. 2.9)"

OPEN = (PairChangeStatus.requested, PairChangeStatus.ordered)


class PairChangeError(ValueError):
    """A change the regulation does not allow, in Russian, naming the rule."""


# ---------------------------------------------------------------------------------------------
# Reading the pair


def _pair(session: Session, pair_id: uuid.UUID) -> MentorshipPair:
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise LookupError(f"пара {pair_id} не найдена")
    return pair


def mentee_ids(*, session: Session, pair_id: uuid.UUID) -> list[uuid.UUID]:
    """The pair's mentees, in a stable order."""
    return sorted(session.exec(select(PairMember.mentee_id).where(PairMember.pair_id == pair_id)))


def _person(session: Session, participant_id: uuid.UUID) -> Person:
    participant = session.get(Participant, participant_id)
    person = session.get(Person, participant.person_id) if participant else None
    if person is None:
        raise LookupError(f"участник {participant_id} не найден")
    return person


def _mentor_label(session: Session, participant_id: uuid.UUID) -> str:
    participant = session.get(Participant, participant_id)
    person = session.get(Person, participant.person_id) if participant else None
    return person.full_name if person else f"участник {participant_id}"


def _names(session: Session, participant_ids: Iterable[uuid.UUID]) -> list[str]:
    return sorted(_person(session, p).full_name for p in participant_ids)


def _require_ongoing(pair: MentorshipPair, on: date) -> None:
    if pair.status not in pair_lifecycle.ONGOING:
        raise PairChangeError(
            f"пара {pair.id} не действует (статус {pair.status.value}): изменять нечего"
        )
    if pair.ends_on is not None and pair.ends_on < on:
        raise PairChangeError(f"срок пары {pair.id} истёк {pair.ends_on:%d.%m.%Y}")


def _require_reason(kind: PairChangeKind, reason: PairChangeReason) -> None:
    if reason not in REASONS[kind]:
        allowed = "; ".join(r.value for r in REASONS[kind])
        raise PairChangeError(
            f"причина «{reason.value}» не предусмотрена п. {CLAUSE[kind]} положения; "
            f"допустимы: {allowed}"
        )


def open_change(*, session: Session, pair_id: uuid.UUID) -> PairChange | None:
    """The pair's change still waiting (requested or ordered), if any."""
    return session.exec(
        select(PairChange).where(PairChange.pair_id == pair_id, col(PairChange.status).in_(OPEN))
    ).first()


def _existing(session: Session, request_key: str) -> PairChange | None:
    return session.exec(select(PairChange).where(PairChange.request_key == request_key)).first()


def _new_change(
    *,
    session: Session,
    request_key: str,
    pair: MentorshipPair,
    kind: PairChangeKind,
    reason: PairChangeReason,
    requested_on: date,
    requested_by: str,
    comment: str,
    flow_run_id: uuid.UUID | None,
    **fields: Any,
) -> PairChange:
    waiting = open_change(session=session, pair_id=pair.id)
    if waiting is not None:
        raise PairChangeError(
            f"по паре {pair.id} уже ждёт решения изменение от {waiting.requested_on:%d.%m.%Y} "
            f"({waiting.kind.value}): сначала решение директора"
        )
    change = PairChange(
        request_key=request_key,
        pair_id=pair.id,
        cycle_id=pair.cycle_id,
        kind=kind,
        reason=reason,
        comment=comment,
        requested_on=requested_on,
        requested_by=requested_by,
        flow_run_id=flow_run_id,
        **fields,
    )
    session.add(change)
    session.flush()
    repository.record_audit(
        session=session,
        actor=requested_by or "curator",
        action=f"pair.{kind.value}.requested",
        cycle_id=pair.cycle_id,
        entity=f"pair:{pair.id}",
        details={"change": str(change.id), "reason": reason.name},
        event_key=f"pair.change.requested:{change.id}",
    )
    return change


# ---------------------------------------------------------------------------------------------
# Replacement (§2.8): candidates under the matching engine's hard rules


@dataclass(frozen=True)
class Candidate:
    """A mentor who may take over the pair: score, reasons, places left under §2.5."""

    mentor_id: uuid.UUID
    full_name: str
    score: float
    reasons: list[str]
    free_places: int


@dataclass
class _Field:
    mentees: list[matching.MenteeCandidate]
    mentors: dict[str, matching.MentorCandidate]
    names: dict[str, str]
    forbid: frozenset[tuple[str, str]]


def _field(session: Session, pair: MentorshipPair, on: date) -> _Field:
    members = frozenset(mentee_ids(session=session, pair_id=pair.id))
    data = pairing.build_input(
        session=session, cycle_id=pair.cycle_id, on=on, include_mentees=members
    )
    wanted = {str(m) for m in members}
    return _Field(
        mentees=[m for m in data.mentees if m.id in wanted],
        mentors={m.id: m for m in data.mentors},
        names=data.names,
        forbid=data.constraints.forbid,
    )


def _mentor_problem(
    field: _Field, mentor_id: str, pair: MentorshipPair, policy: matching.Policy
) -> str | None:
    """Why this mentor cannot take over the pair (Russian, naming the rule), or None."""
    if mentor_id == str(pair.mentor_id):
        return "это нынешний наставник пары"
    mentor = field.mentors.get(mentor_id)
    if mentor is None:
        return "не наставник этого цикла"
    if not mentor.admitted:
        return "не допущен к наставничеству по итогам обучения"
    for mentee in field.mentees:
        if (mentee.id, mentor_id) in field.forbid:
            return "пара запрещена куратором"
        problem = matching.check_pair(mentee, mentor, policy=policy)
        if problem:
            return problem
    free = matching.remaining_capacity(mentor, policy=policy)
    if free < len(field.mentees):
        return (
            f"у наставника уже {mentor.active_mentees} наставляемых: больше "
            f"{policy.max_mentees_per_mentor} одновременно нельзя (п. 2.5)"
        )
    return None


def replacement_candidates(
    *, session: Session, pair_id: uuid.UUID, on: date, policy: matching.Policy
) -> list[Candidate]:
    """Mentors who may replace the pair's mentor on the day, best match first."""
    pair = _pair(session, pair_id)
    field = _field(session, pair, on)
    candidates = []
    for mentor_id, mentor in field.mentors.items():
        if _mentor_problem(field, mentor_id, pair, policy) is not None:
            continue
        scored = [matching.score(m, mentor, policy.weights) for m in field.mentees]
        value = sum(s for s, _ in scored) / len(scored) if scored else 0.0
        candidates.append(
            Candidate(
                mentor_id=uuid.UUID(mentor_id),
                full_name=field.names[mentor_id],
                score=round(value, 4),
                reasons=scored[0][1] if scored else [],
                free_places=matching.remaining_capacity(mentor, policy=policy),
            )
        )
    return sorted(candidates, key=lambda c: (-c.score, c.full_name, str(c.mentor_id)))


def replacement_problem(
    *,
    session: Session,
    pair_id: uuid.UUID,
    new_mentor_id: uuid.UUID,
    on: date,
    policy: matching.Policy,
) -> str | None:
    """Why this mentor cannot take over the pair on the day (naming the rule), or None."""
    pair = _pair(session, pair_id)
    return _mentor_problem(_field(session, pair, on), str(new_mentor_id), pair, policy)


def request_replacement(
    *,
    session: Session,
    request_key: str,
    pair_id: uuid.UUID,
    reason: PairChangeReason,
    new_mentor_id: uuid.UUID,
    consent_on: date,
    consent_how: str,
    requested_on: date,
    requested_by: str,
    policy: matching.Policy,
    comment: str = "",
    flow_run_id: uuid.UUID | None = None,
) -> PairChange:
    """Record a replacement of the mentor with the new mentor's written consent (§2.6, §2.8).

    The same request_key returns the change recorded before. Refused (PairChangeError) when
    the reason is not §2.8's, the pair is not going on, the new mentor breaks a hard rule or
    the consent is missing or dated after the request (it must precede the order)."""
    existing = _existing(session, request_key)
    if existing is not None:
        return existing
    _require_reason(PairChangeKind.replacement, reason)
    pair = _pair(session, pair_id)
    _require_ongoing(pair, requested_on)
    if not consent_how.strip():
        raise PairChangeError("нужно письменное согласие нового наставника (п. 2.6): как получено")
    if consent_on > requested_on:
        raise PairChangeError(
            f"согласие нового наставника датировано {consent_on:%d.%m.%Y}, позже запроса "
            f"{requested_on:%d.%m.%Y}: согласие даётся до приказа (п. 2.6)"
        )
    problem = _mentor_problem(_field(session, pair, requested_on), str(new_mentor_id), pair, policy)
    if problem:
        raise PairChangeError(
            f"{_mentor_label(session, new_mentor_id)} не может заменить наставника: {problem}"
        )
    pairing.record_participation_consent(
        session=session,
        cycle_id=pair.cycle_id,
        participant_id=new_mentor_id,
        given_on=consent_on,
        source=consent_how,
    )
    return _new_change(
        session=session,
        request_key=request_key,
        pair=pair,
        kind=PairChangeKind.replacement,
        reason=reason,
        requested_on=requested_on,
        requested_by=requested_by,
        comment=comment,
        flow_run_id=flow_run_id,
        new_mentor_id=new_mentor_id,
        mentor_consent_on=consent_on,
        mentor_consent_how=consent_how.strip(),
    )


# ---------------------------------------------------------------------------------------------
# Extension (§2.9) and early termination (§2.10)


def request_extension(
    *,
    session: Session,
    request_key: str,
    pair_id: uuid.UUID,
    reason: PairChangeReason,
    new_ends_on: date,
    requested_on: date,
    requested_by: str,
    comment: str = "",
    flow_run_id: uuid.UUID | None = None,
) -> PairChange:
    """Record an extension of the pair's term to new_ends_on (§2.9)."""
    existing = _existing(session, request_key)
    if existing is not None:
        return existing
    _require_reason(PairChangeKind.extension, reason)
    pair = _pair(session, pair_id)
    _require_ongoing(pair, requested_on)
    if pair.ends_on is None or new_ends_on <= pair.ends_on:
        current = f"{pair.ends_on:%d.%m.%Y}" if pair.ends_on else "не задан"
        raise PairChangeError(
            f"новый срок {new_ends_on:%d.%m.%Y} не позже нынешнего ({current}): продлевать нечего"
        )
    return _new_change(
        session=session,
        request_key=request_key,
        pair=pair,
        kind=PairChangeKind.extension,
        reason=reason,
        requested_on=requested_on,
        requested_by=requested_by,
        comment=comment,
        flow_run_id=flow_run_id,
        new_ends_on=new_ends_on,
    )


def request_termination(
    *,
    session: Session,
    request_key: str,
    pair_id: uuid.UUID,
    reason: PairChangeReason,
    mentee_wants_new_mentor: bool,
    requested_on: date,
    requested_by: str,
    comment: str = "",
    flow_run_id: uuid.UUID | None = None,
) -> PairChange:
    """Record an early termination of the pair for the mentee's non-performance (§2.10)."""
    existing = _existing(session, request_key)
    if existing is not None:
        return existing
    _require_reason(PairChangeKind.termination, reason)
    pair = _pair(session, pair_id)
    _require_ongoing(pair, requested_on)
    return _new_change(
        session=session,
        request_key=request_key,
        pair=pair,
        kind=PairChangeKind.termination,
        reason=reason,
        requested_on=requested_on,
        requested_by=requested_by,
        comment=comment,
        flow_run_id=flow_run_id,
        mentee_wants_new_mentor=mentee_wants_new_mentor,
    )


# ---------------------------------------------------------------------------------------------
# The order


def order_context(*, session: Session, change_id: uuid.UUID) -> dict[str, Any]:
    """What the change's order prints: the pair, the reason with its clause, the change."""
    change = get_change(session=session, change_id=change_id)
    pair = _pair(session, change.pair_id)
    members = mentee_ids(session=session, pair_id=pair.id)
    context: dict[str, Any] = {
        "change": {
            "kind": change.kind.value,
            "reason": change.reason.value,
            "clause": CLAUSE[change.kind],
            "requested_on": change.requested_on,
            "mentor_name": _person(session, pair.mentor_id).full_name,
            "mentee_names": _names(session, members),
            "form": pair.form.value,
            "is_group": pair.is_group,
            "starts_on": pair.starts_on,
            "ends_on": pair.ends_on,
            "new_ends_on": change.new_ends_on,
            "new_mentor_name": (
                _person(session, change.new_mentor_id).full_name if change.new_mentor_id else ""
            ),
            "mentor_consent_on": change.mentor_consent_on,
            "mentor_consent_how": change.mentor_consent_how,
            "mentee_wants_new_mentor": change.mentee_wants_new_mentor,
        },
        "order_date": change.requested_on,
    }
    return context


def mark_ordered(*, session: Session, change_id: uuid.UUID, order_document_id: uuid.UUID) -> None:
    """The change's order is rendered and waits for the director."""
    change = get_change(session=session, change_id=change_id)
    if change.status == PairChangeStatus.requested:
        change.status, change.order_document_id = PairChangeStatus.ordered, order_document_id
        session.add(change)
        session.flush()


def get_change(*, session: Session, change_id: uuid.UUID) -> PairChange:
    """The change request, or LookupError."""
    change = session.get(PairChange, change_id)
    if change is None:
        raise LookupError(f"изменение {change_id} не найдено")
    return change


# ---------------------------------------------------------------------------------------------
# The programme


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_span(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def shift_programme(
    content: programmes.ProgrammeContent,
    *,
    starts_on: date,
    old_ends_on: date,
    new_ends_on: date,
    on: date,
    reason: str,
) -> programmes.ProgrammeContent:
    """The programme re-planned for a term extended on the day ``on`` (§2.9).

    Months before ``on``'s month stay as they were; the remaining months (tasks and meetings)
    move later by the extension's length in months, and the months freed in between are a
    break in the pair's work — the absence the term was extended for."""
    shift = max(0, _month_span(old_ends_on, new_ends_on))
    from_month = date(on.year, on.month, 1)
    # The programme names its months by label («Февраль 2027»): each label's first day.
    months = [_add_months(starts_on, i) for i in range(_month_span(starts_on, old_ends_on) + 1)]
    first_day = {programmes.month_label(month): month for month in months}

    def remaining(label: str) -> bool:
        return first_day.get(label, from_month) >= from_month

    def moved(label: str) -> str:
        if not remaining(label) or label not in first_day:
            return label
        return programmes.month_label(_add_months(first_day[label], shift))

    before = [(m, tasks) for m, tasks in content.tasks_by_month if not remaining(m)]
    later = [(moved(m), tasks) for m, tasks in content.tasks_by_month if remaining(m)]
    pause_from = max(from_month, months[0])
    pause = [
        (programmes.month_label(_add_months(pause_from, i)), [BREAK_TASK.format(reason=reason)])
        for i in range(shift)
    ]
    return replace(
        content,
        tasks_by_month=[*before, *pause, *later],
        meetings=[replace(m, month=moved(m.month)) for m in content.meetings],
    )


def _latest_programme(session: Session, pair_id: uuid.UUID) -> PersonalProgramme | None:
    return session.exec(
        select(PersonalProgramme)
        .where(PersonalProgramme.pair_id == pair_id)
        .order_by(col(PersonalProgramme.version).desc())
    ).first()


def issue_programme_document(
    *,
    session: Session,
    settings: Settings,
    change_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
) -> Document | None:
    """The PDF of the programme version an approved change made (the replacement's handed-over
    programme, the extension's re-planned one), once; None when there is nothing to print."""
    change = get_change(session=session, change_id=change_id)
    if change.status != PairChangeStatus.approved or change.kind == PairChangeKind.termination:
        return None
    pair = _pair(session, change.resulting_pair_id or change.pair_id)
    programme = _latest_programme(session, pair.id)
    if programme is None or programme.document_id is not None or not programme.content:
        return None
    cycle = session.get(Cycle, pair.cycle_id)
    assert cycle is not None
    mentor_name = _person(session, pair.mentor_id).full_name
    mentee_names = _names(session, mentee_ids(session=session, pair_id=pair.id))
    document = documents.issue_document(
        session=session,
        settings=settings,
        unique_key=f"programme:{pair.id}:v{programme.version}",
        organization_id=cycle.organization_id,
        cycle_id=cycle.id,
        doc_type="programme",
        title=f"Персонализированная программа наставничества: {mentor_name} — "
        + ", ".join(mentee_names),
        template="personal_programme.html",
        context={
            "cycle": {"school_year": cycle.school_year},
            "programme": programme.content,
            "mentor_name": mentor_name,
            "mentee_names": mentee_names,
            "starts_on": pair.starts_on,
            "ends_on": pair.ends_on,
        },
        doc_date=on,
        flow_run_id=flow_run_id,
    )
    if programme.status == ProgrammeStatus.approved:
        documents.set_document_status(
            session=session, document_id=document.id, status=DocumentStatus.approved
        )
    programme.document_id = document.id
    session.add(programme)
    session.flush()
    return document


# ---------------------------------------------------------------------------------------------
# The decision


@dataclass(frozen=True)
class LinkContext:
    """What issuing participants' links needs (DESIGN §11)."""

    secret: bytes
    base_url: str
    timezone: ZoneInfo
    now: datetime


def _version_reason(change: PairChange) -> str:
    """«замена наставника (п. 2.8): просьба наставника …» — the history's reason."""
    return f"{CHANGE_LABEL[change.kind]} (п. {CLAUSE[change.kind]}): {change.reason.value}"


def _apply_replacement(
    session: Session,
    change: PairChange,
    pair: MentorshipPair,
    on: date,
    actor: str,
    scored: list[tuple[float, list[str]]],
) -> None:
    assert change.new_mentor_id is not None
    members = mentee_ids(session=session, pair_id=pair.id)
    new_pair = MentorshipPair(
        cycle_id=pair.cycle_id,
        mentor_id=change.new_mentor_id,
        form=pair.form,
        is_group=pair.is_group,
        status=PairStatus.active,
        score=round(sum(v for v, _ in scored) / len(scored), 4) if scored else 0.0,
        reasons=[_version_reason(change), *(scored[0][1] if scored else [])],
        matching_key=f"replacement:{change.id}",
        starts_on=on,
        ends_on=pair.ends_on,
        order_document_id=change.order_document_id,
    )
    session.add(new_pair)
    session.flush()
    for mentee_id in members:
        session.add(PairMember(pair_id=new_pair.id, mentee_id=mentee_id))
    pair_lifecycle.record_version(
        session=session,
        pair=new_pair,
        changed_on=on,
        reason=_version_reason(change),
        order_document_id=change.order_document_id,
    )
    # The personal programme goes on with the new mentor (its PDF is printed anew).
    programme = _latest_programme(session, pair.id)
    if programme is not None and programme.content:
        session.add(
            PersonalProgramme(
                pair_id=new_pair.id,
                version=1,
                status=programme.status,
                acknowledged_on=programme.acknowledged_on,
                content=dict(programme.content),
            )
        )
    change.resulting_pair_id = new_pair.id
    # Both sides' links to the old pair stop; the new pair's links are issued with the notices.
    links.revoke_pair_links(
        session=session,
        pair_id=pair.id,
        participant_ids=[pair.mentor_id, *members],
        now=datetime.combine(on, time(), tzinfo=UTC),
        actor=actor,
    )


def _apply_extension(session: Session, change: PairChange, pair: MentorshipPair, on: date) -> None:
    assert change.new_ends_on is not None and pair.ends_on is not None
    programme = _latest_programme(session, pair.id)
    if programme is not None and programme.content and pair.starts_on is not None:
        content = shift_programme(
            programmes.ProgrammeContent.from_dict(programme.content),
            starts_on=pair.starts_on,
            old_ends_on=pair.ends_on,
            new_ends_on=change.new_ends_on,
            on=on,
            reason=change.reason.value,
        )
        session.add(
            PersonalProgramme(
                pair_id=pair.id,
                version=programme.version + 1,
                status=programme.status,
                acknowledged_on=programme.acknowledged_on,
                content=content.as_dict(),
            )
        )
    pair.ends_on = change.new_ends_on


def _apply_termination(
    session: Session, change: PairChange, pair: MentorshipPair, on: date, actor: str
) -> None:
    members = mentee_ids(session=session, pair_id=pair.id)
    pair.ends_on = on
    if change.mentee_wants_new_mentor:
        for mentee_id in members:
            entry = session.exec(
                select(SearchListEntry).where(
                    SearchListEntry.cycle_id == pair.cycle_id,
                    SearchListEntry.mentee_id == mentee_id,
                )
            ).first()
            entry = entry or SearchListEntry(
                cycle_id=pair.cycle_id, mentee_id=mentee_id, reason=SEARCH_LIST_REASON
            )
            entry.reason, entry.resolved = SEARCH_LIST_REASON, False
            session.add(entry)
    links.revoke_pair_links(
        session=session,
        pair_id=pair.id,
        participant_ids=[pair.mentor_id, *members],
        now=datetime.combine(on, time(), tzinfo=UTC),
        actor=actor,
    )


def settle(
    *,
    session: Session,
    change_id: uuid.UUID,
    approved: bool,
    on: date,
    policy: matching.Policy,
    actor: str = "director",
) -> PairChange:
    """After the director's decision: apply the change to the pair (approved) or leave the pair
    as it was (rejected). Applied once: a settled change is returned as it is.

    A replacement is checked again on the day (the new mentor may have taken other mentees
    since the request): a breach of §2.5 or another hard rule refuses it with PairChangeError.
    """
    change = get_change(session=session, change_id=change_id)
    if change.status not in OPEN:
        return change
    pair = _pair(session, change.pair_id)
    if not approved:
        change.status, change.decided_on = PairChangeStatus.rejected, on
        session.add(change)
        session.flush()
        return change
    _require_ongoing(pair, on)
    if change.kind == PairChangeKind.replacement:
        assert change.new_mentor_id is not None
        field = _field(session, pair, on)
        problem = _mentor_problem(field, str(change.new_mentor_id), pair, policy)
        if problem:
            raise PairChangeError(
                f"{_mentor_label(session, change.new_mentor_id)} не может заменить "
                f"наставника на {on:%d.%m.%Y}: {problem}"
            )
        scored = [
            matching.score(m, field.mentors[str(change.new_mentor_id)], policy.weights)
            for m in field.mentees
        ]
        _apply_replacement(session, change, pair, on, actor, scored)
    elif change.kind == PairChangeKind.extension:
        _apply_extension(session, change, pair, on)
    else:
        _apply_termination(session, change, pair, on, actor)
    pair.status = STATUS_AFTER[change.kind]
    session.add(pair)
    pair_lifecycle.record_version(
        session=session,
        pair=pair,
        changed_on=on,
        reason=_version_reason(change),
        order_document_id=change.order_document_id,
    )
    change.status, change.decided_on = PairChangeStatus.approved, on
    session.add(change)
    repository.record_audit(
        session=session,
        actor=actor,
        action=f"pair.{change.kind.value}",
        cycle_id=pair.cycle_id,
        entity=f"pair:{pair.id}",
        details={
            "change": str(change.id),
            "order": str(change.order_document_id),
            "on": on.isoformat(),
            **({"new_pair": str(change.resulting_pair_id)} if change.resulting_pair_id else {}),
        },
        event_key=f"pair.change.applied:{change.id}",
    )
    session.flush()
    return change


def notices(
    *, session: Session, change_id: uuid.UUID, link_context: LinkContext, actor: str = "director"
) -> list[dict[str, Any]]:
    """Who is told of an approved change and what (the same list on every call): the old and
    the new mentor, the mentees, the curator; participants of a pair going on get its link."""
    change = get_change(session=session, change_id=change_id)
    if change.status != PairChangeStatus.approved:
        return []
    pair = _pair(session, change.pair_id)
    cycle = session.get(Cycle, pair.cycle_id)
    assert cycle is not None
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    going_on = _pair(session, change.resulting_pair_id) if change.resulting_pair_id else pair
    members = mentee_ids(session=session, pair_id=pair.id)
    common: dict[str, Any] = {
        "kind": change.kind.value,
        "title": ORDER_TITLE[change.kind],
        "reason": change.reason.value,
        "clause": CLAUSE[change.kind],
        "decided_on": change.decided_on,
        "form": pair.form.value,
        "is_group": pair.is_group,
        "old_mentor_name": _person(session, pair.mentor_id).full_name,
        "mentor_name": _person(session, going_on.mentor_id).full_name,
        "mentee_names": _names(session, members),
        "starts_on": going_on.starts_on,
        "ends_on": going_on.ends_on,
        "search_list": change.mentee_wants_new_mentor,
    }
    recipients: list[tuple[str, uuid.UUID | None]] = []
    if change.kind == PairChangeKind.replacement:
        recipients.append(("old_mentor", pair.mentor_id))
        recipients.append(("new_mentor", going_on.mentor_id))
    else:
        recipients.append(("mentor", pair.mentor_id))
    recipients.extend(("mentee", m) for m in members)
    out = []
    for role, participant_id in recipients:
        assert participant_id is not None
        person = _person(session, participant_id)
        url = ""
        if role != "old_mentor" and going_on.status in links.PAIRS_WITH_PAGES:
            issued = links.issue_link(
                session=session,
                secret=link_context.secret,
                participant_id=participant_id,
                pair_id=going_on.id,
                now=link_context.now,
                timezone=link_context.timezone,
                actor=actor,
            )
            url = links.link_url(base_url=link_context.base_url, token=issued.token)
        out.append(
            common
            | {
                "key": f"{change.id}:{role}:{participant_id}",
                "role": role,
                "to": person.email,
                "recipient_name": f"{person.first_name} {person.middle_name}".strip(),
                "link": url,
            }
        )
    out.append(
        common
        | {
            "key": f"{change.id}:curator",
            "role": "curator",
            "to": org.curator_email,
            "recipient_name": org.curator_name,
            "link": "",
        }
    )
    return out


# ---------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class HistoryRow:
    """One version of a pair as `nastavnik pairs history` prints it."""

    pair_id: uuid.UUID
    version: int
    status: PairStatus
    mentor_name: str
    starts_on: date | None
    ends_on: date | None
    changed_on: date
    reason: str
    order_label: str
    order_id: uuid.UUID | None


def pair_chain(*, session: Session, pair_id: uuid.UUID) -> list[uuid.UUID]:
    """The pair and the pairs before and after it through replacements, oldest first."""
    chain = [pair_id]
    while True:
        before = session.exec(
            select(PairChange.pair_id).where(PairChange.resulting_pair_id == chain[0])
        ).first()
        if before is None or before in chain:
            break
        chain.insert(0, before)
    while True:
        after = session.exec(
            select(PairChange.resulting_pair_id).where(
                PairChange.pair_id == chain[-1], col(PairChange.resulting_pair_id).is_not(None)
            )
        ).first()
        if after is None or after in chain:
            break
        chain.append(after)
    return chain


def history(*, session: Session, pair_id: uuid.UUID) -> list[HistoryRow]:
    """Every version of the pair across replacements, oldest first, with the orders."""
    rows = []
    for chained in pair_chain(session=session, pair_id=pair_id):
        versions: list[PairVersion] = pair_lifecycle.history(session=session, pair_id=chained)
        for v in versions:
            order = session.get(Document, v.order_document_id) if v.order_document_id else None
            rows.append(
                HistoryRow(
                    pair_id=chained,
                    version=v.version,
                    status=v.status,
                    mentor_name=_person(session, v.mentor_id).full_name,
                    starts_on=v.starts_on,
                    ends_on=v.ends_on,
                    changed_on=v.changed_on,
                    reason=v.reason,
                    order_label=f"{order.label} от {order.doc_date:%d.%m.%Y}" if order else "",
                    order_id=v.order_document_id,
                )
            )
    return rows


def find_pair(*, session: Session, cycle_id: uuid.UUID, mentee_id: uuid.UUID) -> MentorshipPair:
    """The mentee's pair going on in the cycle (what the CLI changes)."""
    pair = session.exec(
        select(MentorshipPair)
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            PairMember.mentee_id == mentee_id,
            col(MentorshipPair.status).in_(pair_lifecycle.ONGOING),
        )
    ).first()
    if pair is None:
        raise LookupError("у наставляемого нет действующей пары в этом цикле")
    return pair


def latest_pair(*, session: Session, cycle_id: uuid.UUID, mentee_id: uuid.UUID) -> MentorshipPair:
    """The mentee's most recent pair of the cycle, whatever its status (for the history)."""
    pair = session.exec(
        select(MentorshipPair)
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(MentorshipPair.cycle_id == cycle_id, PairMember.mentee_id == mentee_id)
        .order_by(col(MentorshipPair.created_at).desc())
    ).first()
    if pair is None:
        raise LookupError("у наставляемого нет пар в этом цикле")
    return pair
