"""Consent rules: who may enter the registers of mentors and mentees (152-ФЗ, the regulation).

A participant is eligible on a date when a personal-data consent is in force on that date; a
minor (under 18 on the cycle's start date) also needs the guardian's consent in force. A consent
is in force from ``given_on`` (inclusive) until ``revoked_on`` (exclusive).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlmodel import Session, select

from models import Consent, ConsentKind, Cycle, Participant, Person, Role
from nastavnik.clock import process_clock

ADULT_AGE = 18
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class MissingConsent:
    """A participant kept out of the register, with the reasons in Russian."""

    participant_id: UUID
    person_id: UUID
    full_name: str
    role: Role
    reason: str
    grade_label: str = ""


@dataclass
class ConsentCheck:
    """Participants allowed into the register (sorted by full name) and those kept out."""

    eligible: list[UUID]
    missing: list[MissingConsent]


@dataclass
class RegisterRow:
    """One line of a register of mentors or mentees."""

    number: int
    participant_id: UUID
    person_id: UUID
    full_name: str
    grade_label: str
    form: str
    requests: str
    interests: str
    subjects: str
    experience_years: int | None
    position: str
    consent_date: date | None


def coming_of_age(birth_date: date) -> date:
    """The 18th birthday; for 29 February it is 28 February (ГК РФ, ст. 192, п. 3)."""
    year = birth_date.year + ADULT_AGE
    day = min(birth_date.day, calendar.monthrange(year, birth_date.month)[1])
    return date(year, birth_date.month, day)


def is_minor(birth_date: date | None, on: date) -> bool:
    """Whether a person born on ``birth_date`` is under 18 on ``on`` (unknown: not a minor)."""
    return birth_date is not None and on < coming_of_age(birth_date)


def _name_key(person: Person) -> tuple[str, ...]:
    # Sort by letters only, so markup or quotes typed into a form do not float a name to the top.
    def letters(text: str) -> str:
        text = _TAG.sub("", text).replace("ё", "е").replace("Ё", "Е").casefold()
        return "".join(ch for ch in text if ch.isalnum() or ch in " -")

    parts = (person.last_name, person.first_name, person.middle_name)
    return (*(letters(part) for part in parts), str(person.id))


def _grade_label(participant: Participant) -> str:
    if participant.grade is None:
        return ""
    return f"{participant.grade}{participant.class_letter}"


def _problem(consent: Consent | None, on: date, *, what: str, missing: str) -> str | None:
    if consent is None:
        return missing
    if consent.given_on > on:
        return f"{what} действует только с {consent.given_on:%d.%m.%Y}"
    if consent.revoked_on is not None and consent.revoked_on <= on:
        return f"{what} отозвано {consent.revoked_on:%d.%m.%Y}"
    return None


def _load(
    session: Session, cycle_id: UUID, role: Role | None
) -> tuple[Cycle, list[tuple[Participant, Person]], dict[tuple[UUID, ConsentKind], Consent]]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    query = select(Participant, Person).where(
        Participant.person_id == Person.id, Participant.cycle_id == cycle_id
    )
    if role is not None:
        query = query.where(Participant.role == role)
    pairs = [(participant, person) for participant, person in session.exec(query)]
    pairs.sort(key=lambda pair: (_name_key(pair[1]), pair[0].role.value))
    consents = {
        (c.person_id, c.kind): c
        for c in session.exec(select(Consent).where(Consent.cycle_id == cycle_id))
    }
    return cycle, pairs, consents


def check_consents(
    *, session: Session, cycle_id: UUID, on: date | None = None, role: Role | None = None
) -> ConsentCheck:
    """Split the cycle's participants into eligible ones and ones missing a valid consent."""
    on = on or process_clock().today()
    cycle, pairs, consents = _load(session, cycle_id, role)
    check = ConsentCheck(eligible=[], missing=[])
    for participant, person in pairs:
        reasons = []
        personal = _problem(
            consents.get((person.id, ConsentKind.personal_data)),
            on,
            what="согласие",
            missing="нет согласия на обработку персональных данных",
        )
        if personal:
            reasons.append(personal)
        # A pupil whose birth date is unknown is presumed a minor: safer for children's data.
        minor = is_minor(person.birth_date, cycle.start_date) or (
            person.birth_date is None and participant.grade is not None
        )
        if minor:
            guardian = _problem(
                consents.get((person.id, ConsentKind.guardian)),
                on,
                what="согласие законного представителя",
                missing="нет согласия законного представителя",
            )
            if guardian:
                reasons.append(f"несовершеннолетний: {guardian}")
        if reasons:
            check.missing.append(
                MissingConsent(
                    participant_id=participant.id,
                    person_id=person.id,
                    full_name=person.full_name,
                    role=participant.role,
                    reason="; ".join(reasons),
                    grade_label=_grade_label(participant),
                )
            )
        else:
            check.eligible.append(participant.id)
    return check


def register_rows(
    *, session: Session, cycle_id: UUID, role: Role, on: date | None = None
) -> list[RegisterRow]:
    """The register of one role: eligible participants only, numbered in order of name."""
    on = on or process_clock().today()
    eligible = set(check_consents(session=session, cycle_id=cycle_id, on=on, role=role).eligible)
    _, pairs, consents = _load(session, cycle_id, role)
    rows: list[RegisterRow] = []
    for participant, person in pairs:
        if participant.id not in eligible:
            continue
        consent = consents.get((person.id, ConsentKind.personal_data))
        rows.append(
            RegisterRow(
                number=len(rows) + 1,
                participant_id=participant.id,
                person_id=person.id,
                full_name=person.full_name,
                grade_label=_grade_label(participant),
                form=participant.form.value,
                requests=participant.requests,
                interests=participant.interests,
                subjects=participant.subjects,
                experience_years=participant.experience_years,
                position=participant.position,
                consent_date=consent.given_on if consent else None,
            )
        )
    return rows
