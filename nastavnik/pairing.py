"""Pairing in the database: matching input from the registers, draft pairs, written consents."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import (
    AuditEvent,
    ConsentKind,
    ConstraintKind,
    Cycle,
    ImportKind,
    MentorAdmission,
    MentoringForm,
    MentorshipPair,
    PairingConstraint,
    PairMember,
    PairStatus,
    Participant,
    Person,
    Role,
    SearchListEntry,
)
from models.tables import Consent
from nastavnik import consents, matching, repository
from nastavnik import pairs as pair_lifecycle
from nastavnik.clock import process_clock
from nastavnik.tabular import (
    AMBIGUOUS,
    EMAIL,
    MISSING,
    REQUIRED_HINT,
    Field,
    ImportReport,
    PersonIndex,
    TableSpec,
    parse_date,
    person_fields,
    read_table,
    saved_mappings,
)

# Questionnaire answers are free text («подготовка к ОГЭ по математике»); matching compares
# topics, so both sides are mapped onto one vocabulary by word stems.
TOPIC_STEMS: dict[str, tuple[str, ...]] = {
    "математика": ("матем", "алгебр", "геометр"),
    "физика": ("физик",),
    "информатика": ("информат", "программир", "python", "it-"),
    "русский язык": ("русск",),
    "литература": ("литератур", "чтец"),
    "английский язык": ("английск",),
    "история": ("истори",),
    "обществознание": ("обществозн",),
    "биология": ("биолог", "медицин"),
    "химия": ("хими",),
    "география": ("географ",),
    "профориентация": ("професс", "вуз", "профориент", "инженер"),
    "проектная деятельность": ("проект", "конференц"),
    "олимпиады": ("олимпиад",),
    "адаптация": ("адаптац", "общени", "сверстник"),
    "психология": ("психолог",),
    "методика преподавания": ("методик", "урок", "аттестац", "документац", "одар", "овз"),
    "классное руководство": ("классн", "родител", "дисциплин"),
    "лидерство": ("лидер",),
    "организация учёбы": ("тайм-менеджмент", "организация учёбы"),
}
# What an experienced teacher can be expected to help a young specialist with (§2.3).
TEACHER_MENTOR_TOPICS = frozenset({"методика преподавания", "классное руководство", "адаптация"})
TEACHER_MENTOR_MIN_YEARS = 5


def topics(*texts: str) -> frozenset[str]:
    """The vocabulary topics that free-text answers mention."""
    text = " ".join(texts).lower().replace("ё", "е")
    found = set()
    for topic, stems in TOPIC_STEMS.items():
        if any(stem.replace("ё", "е") in text for stem in stems):
            found.add(topic)
    return frozenset(found)


def _items(text: str) -> frozenset[str]:
    return frozenset(item.strip().lower() for item in re.split(r"[,;\n]", text) if item.strip())


@dataclass
class MatchingInput:
    """What the engine needs, plus names for documents."""

    mentees: list[matching.MenteeCandidate]
    mentors: list[matching.MentorCandidate]
    constraints: matching.Constraints
    names: dict[str, str]
    forms: dict[str, MentoringForm]


def _taken_mentees(*, session: Session, cycle_id: uuid.UUID) -> set[uuid.UUID]:
    """Mentees in a proposed, going-on or ended pair of this cycle: not matched again (a
    replaced mentee is in the new mentor's pair; an early-terminated one may be matched anew)."""
    rows = session.exec(
        select(PairMember.mentee_id)
        .join(MentorshipPair, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_(
                [PairStatus.proposed, *pair_lifecycle.ONGOING, PairStatus.ended]
            ),
        )
    ).all()
    return set(rows)


def _mentor_load_this_cycle(*, session: Session, cycle_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = session.exec(
        select(MentorshipPair.mentor_id, func.count(col(PairMember.id)))
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_([PairStatus.proposed, *pair_lifecycle.ONGOING]),
        )
        .group_by(col(MentorshipPair.mentor_id))
    ).all()
    return {mentor_id: int(count) for mentor_id, count in rows}


def build_input(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    on: date,
    include_mentees: frozenset[uuid.UUID] = frozenset(),
) -> MatchingInput:
    """Matching input: eligible mentees without a pair, admitted mentors with their load.

    ``include_mentees`` are kept though paired (a replacement looks for their new mentor)."""
    check = consents.check_consents(session=session, cycle_id=cycle_id, on=on)
    eligible = set(check.eligible)
    taken = _taken_mentees(session=session, cycle_id=cycle_id) - include_mentees
    admitted = {
        a.participant_id
        for a in session.exec(
            select(MentorAdmission).where(
                MentorAdmission.cycle_id == cycle_id, col(MentorAdmission.admitted).is_(True)
            )
        )
    }
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    # §2.5 counts the mentor's pairs still going on in the organisation's other cycles too.
    elsewhere = pair_lifecycle.active_mentee_load(
        session=session,
        organization_id=cycle.organization_id,
        today=on,
        exclude_cycle_ids=[cycle_id],
    )
    here = _mentor_load_this_cycle(session=session, cycle_id=cycle_id)
    names: dict[str, str] = {}
    forms: dict[str, MentoringForm] = {}
    mentees, mentors = [], []
    rows = session.exec(
        select(Participant, Person)
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(Participant.cycle_id == cycle_id)
    ).all()
    for participant, person in rows:
        key = str(participant.id)
        names[key] = person.full_name
        forms[key] = participant.form
        if participant.role == Role.mentee:
            if participant.id in taken:
                continue
            mentees.append(
                matching.MenteeCandidate(
                    id=key,
                    form=participant.form,
                    grade=participant.grade,
                    experience_years=participant.experience_years,
                    is_new_staff=participant.form in matching.TEACHER_FORMS
                    and (participant.experience_years or 0) == 0,
                    subjects=topics(participant.subjects) | _items(participant.subjects),
                    interests=_items(participant.interests),
                    requests=topics(participant.requests),
                    availability=frozenset(),
                    has_consents=participant.id in eligible,
                    wants_group=participant.wants_group,
                    category=participant.mentee_category,
                )
            )
        else:
            competencies = topics(participant.subjects, participant.position) | _items(
                participant.subjects
            )
            if (participant.experience_years or 0) >= TEACHER_MENTOR_MIN_YEARS and (
                participant.form in matching.TEACHER_FORMS
            ):
                competencies |= TEACHER_MENTOR_TOPICS
            mentors.append(
                matching.MentorCandidate(
                    id=key,
                    forms=frozenset({participant.form}),
                    grade=participant.grade,
                    experience_years=participant.experience_years,
                    is_employer=participant.form in matching.EMPLOYER_FORMS,
                    competencies=competencies,
                    interests=_items(participant.interests),
                    availability=frozenset(),
                    active_mentees=elsewhere.get(person.id, 0) + here.get(participant.id, 0),
                    has_consents=participant.id in eligible,
                    admitted=participant.id in admitted,
                    position=participant.position,
                )
            )
    constraints = session.exec(
        select(PairingConstraint).where(PairingConstraint.cycle_id == cycle_id)
    ).all()
    return MatchingInput(
        mentees=mentees,
        mentors=mentors,
        constraints=matching.Constraints(
            keep=frozenset(
                (str(c.mentee_id), str(c.mentor_id))
                for c in constraints
                if c.kind == ConstraintKind.keep
            ),
            forbid=frozenset(
                (str(c.mentee_id), str(c.mentor_id))
                for c in constraints
                if c.kind == ConstraintKind.forbid
            ),
        ),
        names=names,
        forms=forms,
    )


@dataclass
class DraftPairRow:
    """One pair or group as the curator and the documents see it."""

    pair_id: uuid.UUID
    number: int
    mentor_name: str
    mentee_names: list[str]
    form: str
    score: float
    reasons: list[str]
    is_group: bool
    locked: bool
    status: str
    consents_missing: list[str] = field(default_factory=list)


@dataclass
class MatchingSummary:
    """What one matching run produced."""

    matching_key: str
    matched: int
    unmatched: int
    total_score: float
    worst_name: str
    worst_score: float | None
    seconds: float


def run_matching(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    on: date,
    matching_key: str,
    policy: matching.Policy | None = None,
    actor: str = "curator",
) -> MatchingSummary:
    """Replace the cycle's unlocked draft pairs by a fresh optimal matching (once per key)."""
    done = session.exec(
        select(AuditEvent).where(
            AuditEvent.event_key == f"pairing.matched:{cycle_id}:{matching_key}"
        )
    ).first()
    if done is not None:
        return MatchingSummary(**done.details["summary"])
    data = build_input(session=session, cycle_id=cycle_id, on=on)
    result = matching.match(
        data.mentees, data.mentors, constraints=data.constraints, policy=policy or matching.Policy()
    )
    _drop_drafts(session=session, cycle_id=cycle_id)
    locked = data.constraints.keep
    for pair in result.pairs:
        _store_pair(
            session=session,
            cycle_id=cycle_id,
            mentor_id=pair.mentor_id,
            mentee_ids=[pair.mentee_id],
            form=data.forms[pair.mentee_id],
            score=pair.score,
            reasons=pair.reasons,
            locked=(pair.mentee_id, pair.mentor_id) in locked,
            matching_key=matching_key,
        )
    for group in result.groups:
        _store_pair(
            session=session,
            cycle_id=cycle_id,
            mentor_id=group.mentor_id,
            mentee_ids=group.mentee_ids,
            form=data.forms[group.mentee_ids[0]],
            score=group.score,
            reasons=group.reasons,
            locked=False,
            matching_key=matching_key,
        )
    _update_search_list(session=session, cycle_id=cycle_id, result=result)
    summary = MatchingSummary(
        matching_key=matching_key,
        matched=len(result.pairs) + sum(len(g.mentee_ids) for g in result.groups),
        unmatched=len(result.unmatched),
        total_score=round(result.total_score, 4),
        worst_name=data.names.get(result.worst_mentee_id or "", ""),
        worst_score=result.worst_score,
        seconds=round(float(result.stats.get("seconds", 0.0)), 4),
    )
    repository.record_audit(
        session=session,
        actor=actor,
        action="pairing.matched",
        cycle_id=cycle_id,
        entity=f"matching:{matching_key}",
        details={
            "summary": summary.__dict__,
            "constraints": {
                "keep": sorted(map(list, data.constraints.keep)),
                "forbid": sorted(map(list, data.constraints.forbid)),
            },
        },
        event_key=f"pairing.matched:{cycle_id}:{matching_key}",
    )
    session.flush()
    return summary


def _drop_drafts(*, session: Session, cycle_id: uuid.UUID) -> None:
    drafts = session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id, MentorshipPair.status == PairStatus.draft
        )
    ).all()
    for pair in drafts:
        for member in session.exec(select(PairMember).where(PairMember.pair_id == pair.id)):
            session.delete(member)
        session.flush()
        session.delete(pair)
    session.flush()


def _store_pair(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    mentor_id: str,
    mentee_ids: list[str],
    form: MentoringForm,
    score: float,
    reasons: list[str],
    locked: bool,
    matching_key: str,
) -> MentorshipPair:
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=uuid.UUID(mentor_id),
        form=form,
        is_group=len(mentee_ids) > 1,
        score=round(score, 4),
        reasons=reasons,
        locked=locked,
        matching_key=matching_key,
    )
    session.add(pair)
    session.flush()
    for mentee_id in mentee_ids:
        session.add(PairMember(pair_id=pair.id, mentee_id=uuid.UUID(mentee_id)))
    return pair


def _update_search_list(
    *, session: Session, cycle_id: uuid.UUID, result: matching.MatchResult
) -> None:
    entries = {
        e.mentee_id: e
        for e in session.exec(select(SearchListEntry).where(SearchListEntry.cycle_id == cycle_id))
    }
    for unmatched in result.unmatched:
        mentee_id = uuid.UUID(unmatched.mentee_id)
        entry = entries.get(mentee_id)
        if entry is None:
            session.add(
                SearchListEntry(cycle_id=cycle_id, mentee_id=mentee_id, reason=unmatched.reason)
            )
        else:
            entry.reason, entry.resolved = unmatched.reason, False
            session.add(entry)
    matched = {p.mentee_id for p in result.pairs} | {m for g in result.groups for m in g.mentee_ids}
    for matched_id in matched:
        entry = entries.get(uuid.UUID(matched_id))
        if entry is not None:
            entry.resolved = True
            session.add(entry)


def add_constraint(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
    kind: ConstraintKind,
    comment: str = "",
    actor: str = "curator",
) -> PairingConstraint:
    """Lock (keep) or forbid a mentee–mentor pair for the next matching run."""
    existing = session.exec(
        select(PairingConstraint).where(
            PairingConstraint.cycle_id == cycle_id,
            PairingConstraint.mentee_id == mentee_id,
            PairingConstraint.mentor_id == mentor_id,
        )
    ).first()
    constraint = existing or PairingConstraint(
        cycle_id=cycle_id, mentee_id=mentee_id, mentor_id=mentor_id, kind=kind
    )
    constraint.kind, constraint.comment = kind, comment
    session.add(constraint)
    repository.record_audit(
        session=session,
        actor=actor,
        action=f"pairing.{kind.value}",
        cycle_id=cycle_id,
        entity=f"pair:{mentee_id}:{mentor_id}",
        details={"comment": comment},
    )
    session.flush()
    return constraint


def _people(session: Session, participant_ids: set[uuid.UUID]) -> dict[uuid.UUID, Person]:
    if not participant_ids:
        return {}
    rows = session.exec(
        select(Participant.id, Person)
        .join(Person, col(Person.id) == col(Participant.person_id))
        .where(col(Participant.id).in_(participant_ids))
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def participation_consented(*, session: Session, cycle_id: uuid.UUID, on: date) -> set[uuid.UUID]:
    """Participants whose written consent to the pair (§2.6) is valid on the date."""
    rows = session.exec(
        select(Participant.id, Consent)
        .join(Consent, col(Consent.person_id) == col(Participant.person_id))
        .where(
            Participant.cycle_id == cycle_id,
            Consent.cycle_id == cycle_id,
            Consent.kind == ConsentKind.participation,
        )
    ).all()
    return {
        pid
        for pid, consent in rows
        if consent.given_on <= on and (consent.revoked_on is None or consent.revoked_on > on)
    }


def pair_rows(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    statuses: tuple[PairStatus, ...] = (PairStatus.draft,),
    on: date | None = None,
) -> list[DraftPairRow]:
    """Pairs of the cycle in these statuses, numbered, with who still owes a written consent."""
    pairs = session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(statuses)
        )
    ).all()
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if pairs:
        for member in session.exec(
            select(PairMember).where(col(PairMember.pair_id).in_([p.id for p in pairs]))
        ):
            members[member.pair_id].append(member.mentee_id)
    ids = {p.mentor_id for p in pairs} | {m for ms in members.values() for m in ms}
    people = _people(session, ids)
    on = on or process_clock().today()
    consented = participation_consented(session=session, cycle_id=cycle_id, on=on)
    rows = []
    for pair in pairs:
        mentee_ids = sorted(members[pair.id], key=lambda m: people[m].full_name)
        missing = [people[p].full_name for p in [pair.mentor_id, *mentee_ids] if p not in consented]
        rows.append(
            DraftPairRow(
                pair_id=pair.id,
                number=0,
                mentor_name=people[pair.mentor_id].full_name,
                mentee_names=[people[m].full_name for m in mentee_ids],
                form=pair.form.value,
                score=pair.score,
                reasons=list(pair.reasons),
                is_group=pair.is_group,
                locked=pair.locked,
                status=pair.status.value,
                consents_missing=missing,
            )
        )
    rows.sort(key=lambda r: (r.mentor_name, r.mentee_names))
    for number, row in enumerate(rows, start=1):
        row.number = number
    return rows


def search_list(*, session: Session, cycle_id: uuid.UUID) -> list[dict[str, str]]:
    """Mentees still without a mentor, with the reason."""
    entries = session.exec(
        select(SearchListEntry).where(
            SearchListEntry.cycle_id == cycle_id, col(SearchListEntry.resolved).is_(False)
        )
    ).all()
    people = _people(session, {e.mentee_id for e in entries})
    return sorted(
        ({"full_name": people[e.mentee_id].full_name, "reason": e.reason} for e in entries),
        key=lambda r: r["full_name"],
    )


def _participation_consent(
    session: Session, cycle_id: uuid.UUID, participant_id: uuid.UUID
) -> Consent | None:
    participant = session.get(Participant, participant_id)
    if participant is None or participant.cycle_id != cycle_id:
        raise LookupError(f"participant {participant_id} is not in this cycle")
    return session.exec(
        select(Consent).where(
            Consent.person_id == participant.person_id,
            Consent.cycle_id == cycle_id,
            Consent.kind == ConsentKind.participation,
        )
    ).first()


def record_participation_consent(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    participant_id: uuid.UUID,
    given_on: date,
    source: str = "cli",
) -> Consent:
    """Record a participant's written consent to the pair (§2.6), once per cycle."""
    consent = _participation_consent(session, cycle_id, participant_id)
    if consent is None:
        participant = session.get(Participant, participant_id)
        assert participant is not None
        consent = Consent(
            person_id=participant.person_id,
            cycle_id=cycle_id,
            kind=ConsentKind.participation,
            given_on=given_on,
            source=source,
        )
        session.add(consent)
        session.flush()
    return consent


def consent_form_rows(*, session: Session, cycle_id: uuid.UUID) -> list[dict[str, Any]]:
    """One written-consent form per participant of a draft pair who has not consented yet."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    rows = pair_rows(session=session, cycle_id=cycle_id, on=cycle.start_date)
    pairs = {
        p.id: p
        for p in session.exec(select(MentorshipPair).where(MentorshipPair.cycle_id == cycle_id))
    }
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for member in session.exec(select(PairMember).where(col(PairMember.pair_id).in_(list(pairs)))):
        members[member.pair_id].append(member.mentee_id)
    consented = participation_consented(session=session, cycle_id=cycle_id, on=date.max)
    people = _people(
        session, {p.mentor_id for p in pairs.values()} | {m for ms in members.values() for m in ms}
    )
    forms = []
    for row in rows:
        pair = pairs[row.pair_id]
        sides = [(pair.mentor_id, "mentor", members[pair.id])] + [
            (mentee, "mentee", [pair.mentor_id]) for mentee in members[pair.id]
        ]
        for participant_id, role, partner_ids in sides:
            if participant_id in consented:
                continue
            person = people[participant_id]
            forms.append(
                {
                    "participant_id": participant_id,
                    "participant": {
                        "full_name": person.full_name,
                        "role": role,
                        "is_minor": consents.is_minor(person.birth_date, cycle.start_date),
                        "guardian_name": "",
                    },
                    "partners": [people[p].full_name for p in partner_ids],
                    "form": pair.form.value,
                }
            )
    return forms


def propose(*, session: Session, pair_ids: list[uuid.UUID], order_document_id: uuid.UUID) -> None:
    """Pairs put into the order waiting for the director."""
    for pair_id in pair_ids:
        pair = session.get(MentorshipPair, pair_id)
        assert pair is not None
        pair.status, pair.order_document_id = PairStatus.proposed, order_document_id
        session.add(pair)
    session.flush()


PAIRING_ORDER_REASON = "приказ о закреплении наставнических пар/групп"


def settle(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    order_document_id: uuid.UUID,
    approved: bool,
    starts_on: date,
    ends_on: date,
) -> list[uuid.UUID]:
    """After the director's decision: the order's pairs become active, or drafts again."""
    order_pairs = session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id,
            MentorshipPair.order_document_id == order_document_id,
        )
    ).all()
    for pair in order_pairs:
        if pair.status != PairStatus.proposed:
            continue  # settled before (a resumed run): active already, or ended since
        if approved:
            pair.status, pair.starts_on, pair.ends_on = PairStatus.active, starts_on, ends_on
            pair_lifecycle.record_version(
                session=session,
                pair=pair,
                changed_on=starts_on,
                reason=PAIRING_ORDER_REASON,
                order_document_id=order_document_id,
            )
        else:
            pair.status, pair.order_document_id = PairStatus.draft, None
        session.add(pair)
    session.flush()
    return [p.id for p in order_pairs]


# The fields of a file of signed written consents; the key is what `nastavnik columns set` takes.
CONSENTS = TableSpec(
    ImportKind.consent,
    (
        *person_fields(full_name=("Участник",)),
        Field("consent_date", "Дата согласия", ("Дата", "Дата подписания")),
    ),
)


def import_participation_consents(
    *, session: Session, cycle_id: uuid.UUID, path: Path, max_bytes: int, default_date: date
) -> ImportReport:
    """Record the signed consents listed in a CSV/XLSX (ФИО or e-mail, Дата согласия)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    mappings = saved_mappings(session=session, organization_id=cycle.organization_id, spec=CONSENTS)
    table = read_table(path, CONSENTS, max_bytes=max_bytes, mappings=mappings)
    table.require((), person=True)
    people = PersonIndex(
        (person, participant_id)
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(Participant.cycle_id == cycle_id)
        )
    )
    report = ImportReport(file=table.file, ignored_columns=table.ignored)
    with session.begin_nested():
        for record in table.records:
            match = people.find(email=record.get(EMAIL.name), name=record.full_name)
            typed = record.get("Дата согласия")
            given_on = parse_date(typed) if typed else default_date
            if match.found is None:
                problem = (
                    "несколько участников" if match.problem == AMBIGUOUS else "участник не найден"
                )
                message = (
                    REQUIRED_HINT if match.problem == MISSING else f"{problem}: «{match.typed}»"
                )
                report.reject(record.number, match.field, message)
                continue
            if given_on is None:
                report.reject(record.number, "Дата согласия", f"неверная дата «{typed}»")
                continue
            known = _participation_consent(session, cycle_id, match.found) is not None
            record_participation_consent(
                session=session,
                cycle_id=cycle_id,
                participant_id=match.found,
                given_on=given_on,
                source=f"{table.file}:{record.number}",
            )
            if known:
                report.unchanged += 1
            else:
                report.accepted += 1
    return report
