"""Who is who in a cycle, for the staff pages only; counts for Prefect's artifacts (issue 11 §3).

Prefect's open-source server has no per-organisation access control: every Prefect user sees what
a run writes to its artifacts and logs. So an artifact carries counts per status, form or reason
and a link to a role-protected page of the web app (``/cycles/{cycle_id}/consents``, ``…/pairs``,
``…/mentors``) that lists the people to the organisation's curator and director; never a name,
e-mail, phone or birth date. The same rows feed both, so the counts and the lists agree.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from models import Cycle, Organization, PairStatus, Role
from nastavnik import consents, pairing, training

ROLE_RU = {Role.mentor: "наставник", Role.mentee: "наставляемый"}

# The staff pages a count points to: slug → its heading.
LIST_PAGES = {
    "consents": "Нет необходимых согласий",
    "pairs": "Пары, группы и лист поиска",
    "mentors": "Отбор и обучение наставников",
}


def list_url(*, web_base_url: str, cycle_id: uuid.UUID | str, page: str) -> str:
    """The role-protected page of the cycle that lists the people behind an artifact's counts."""
    if page not in LIST_PAGES:
        raise ValueError(f"unknown list page «{page}»; known: {', '.join(LIST_PAGES)}")
    return f"{web_base_url.rstrip('/')}/cycles/{cycle_id}/{page}"


def _counted(keys: Iterable[tuple[str, ...]], columns: Sequence[str], total: str) -> list[dict]:
    """One row per distinct key (in order of first appearance) with its count."""
    counts = Counter(keys)
    return [{**dict(zip(columns, key, strict=True)), total: n} for key, n in counts.items()]


# --- the artifacts' tables: counts only ----------------------------------------------------------


def consents_missing_table(missing: Sequence[consents.MissingConsent]) -> list[dict[str, Any]]:
    """Participants kept out of the registers, counted per role and reason."""
    return _counted(
        ((ROLE_RU[m.role], m.reason) for m in missing), ("Роль", "Причина"), "Участников"
    )


def pairs_table(rows: Sequence[pairing.DraftPairRow]) -> list[dict[str, Any]]:
    """The draft pairs counted per form: pairs, groups, mentees, locked by the curator, the
    lowest compatibility."""
    forms: dict[str, list[pairing.DraftPairRow]] = {}
    for row in rows:
        forms.setdefault(row.form, []).append(row)
    return [
        {
            "Форма": form,
            "Пар и групп": len(group),
            "Из них групп": sum(1 for r in group if r.is_group),
            "Наставляемых": sum(len(r.mentee_names) for r in group),
            "Закреплено куратором": sum(1 for r in group if r.locked),
            "Наименьшая совместимость": f"{min(r.score for r in group):.0%}",
        }
        for form, group in forms.items()
    ]


def search_list_table(waiting: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Mentees still without a mentor, counted per reason."""
    return _counted(((w["reason"],) for w in waiting), ("Причина",), "Наставляемых")


def blocked_pairs_table(rows: Sequence[pairing.DraftPairRow]) -> list[dict[str, Any]]:
    """Pairs left out of the order for want of a written consent, counted per form."""
    forms: dict[str, list[pairing.DraftPairRow]] = {}
    for row in rows:
        if row.consents_missing:
            forms.setdefault(row.form, []).append(row)
    return [
        {
            "Форма": form,
            "Пар и групп": len(group),
            "Нет письменного согласия, участников": sum(len(r.consents_missing) for r in group),
        }
        for form, group in forms.items()
    ]


def selected_mentors_table(selected: Sequence[training.SelectionRow]) -> list[dict[str, Any]]:
    """Mentors selected for training, counted per form."""
    return _counted(((r.form.value,) for r in selected), ("Форма",), "Отобрано")


def admissions_table(rows: Sequence[training.AdmissionRow]) -> list[dict[str, Any]]:
    """The training results of the selected mentors, counted per form."""
    forms: dict[str, list[training.AdmissionRow]] = {}
    for row in rows:
        forms.setdefault(row.form, []).append(row)
    return [
        {
            "Форма": form,
            "Обучались": len(group),
            "Допущены": sum(1 for r in group if r.admitted),
            "Не допущены": sum(1 for r in group if not r.admitted),
        }
        for form, group in forms.items()
    ]


# A rejected row's message may quote what was typed (a name, an address, a date): the artifact
# keeps the file, row, field and the kind of error, the typed value stays in the curator's file.
_QUOTED = re.compile(r"«[^»]*»")
_DATE = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b")
_EMAIL = re.compile(r"\S+@\S+")


def without_typed_values(message: str) -> str:
    """The error message with quoted values, dates and addresses left out."""
    return _EMAIL.sub("…", _DATE.sub("…", _QUOTED.sub("«…»", message)))


def rejected_rows_table(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rejected import rows (file, row, field, error) with no typed value in the message."""
    return [
        {**error, "Ошибка": without_typed_values(str(error.get("Ошибка", "")))} for error in errors
    ]


# --- the staff pages: the lists with names -------------------------------------------------------


@dataclass(frozen=True)
class CycleHeading:
    """Which cycle a list is about."""

    cycle_id: uuid.UUID
    organization: str
    school_year: str
    on: date


def heading(*, session: Session, cycle_id: uuid.UUID, on: date) -> CycleHeading:
    """The organisation and year of the cycle (LookupError for an unknown cycle)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError("Цикл не найден")
    organisation = session.get(Organization, cycle.organization_id)
    assert organisation is not None
    return CycleHeading(
        cycle_id=cycle.id,
        organization=organisation.short_name or organisation.name,
        school_year=cycle.school_year,
        on=on,
    )


@dataclass(frozen=True)
class ConsentsList:
    """Who lacks which consent on a date, and the counts the artifact shows."""

    heading: CycleHeading
    eligible: int
    missing: list[consents.MissingConsent]
    counts: list[dict[str, Any]]


def consents_list(*, session: Session, cycle_id: uuid.UUID, on: date) -> ConsentsList:
    """The participants kept out of the registers on the date, by name (staff only)."""
    top = heading(session=session, cycle_id=cycle_id, on=on)
    check = consents.check_consents(session=session, cycle_id=cycle_id, on=on)
    missing = sorted(check.missing, key=lambda m: (m.role.value, m.full_name))
    return ConsentsList(
        heading=top,
        eligible=len(check.eligible),
        missing=missing,
        counts=consents_missing_table(missing),
    )


@dataclass(frozen=True)
class PairsList:
    """The cycle's pairs by status, the search list and who owes a written consent."""

    heading: CycleHeading
    draft: list[pairing.DraftPairRow]
    active: list[pairing.DraftPairRow]
    waiting: list[dict[str, str]]


def pairs_list(*, session: Session, cycle_id: uuid.UUID, on: date) -> PairsList:
    """Draft and active pairs with names, and mentees still without a mentor (staff only)."""
    top = heading(session=session, cycle_id=cycle_id, on=on)
    return PairsList(
        heading=top,
        draft=pairing.pair_rows(session=session, cycle_id=cycle_id, on=on),
        active=pairing.pair_rows(
            session=session, cycle_id=cycle_id, statuses=(PairStatus.active,), on=on
        ),
        waiting=pairing.search_list(session=session, cycle_id=cycle_id),
    )


@dataclass(frozen=True)
class MentorsList:
    """The mentors' selection and training results (staff only)."""

    heading: CycleHeading
    rows: list[training.AdmissionRow]


def mentors_list(*, session: Session, cycle_id: uuid.UUID, on: date) -> MentorsList:
    """Every mentor with a selection decision: selected or not, trained, admitted."""
    top = heading(session=session, cycle_id=cycle_id, on=on)
    return MentorsList(
        heading=top, rows=training.admission_rows(session=session, cycle_id=cycle_id)
    )
