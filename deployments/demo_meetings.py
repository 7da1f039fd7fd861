"""The demo school's meetings year: monthly exports of the online meeting form, and three changes.

Deterministic: pairs are taken in the order of their mentor's and first mentee's names, and
every date, duration and rating follows from that order and the pair's personal programme.
The script (deployments/demo.py) has the curator import each month's export on the 24th; the
first pair stops meeting after November (no contact: reminders to its mentor, then the
curator), the second leaves the mentee's feedback out, and three pairs change by order: a
replacement of the mentor (§2.8), an extension of the term (§2.9) and an early termination
(§2.10).
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from deployments.year import RunRequest
from models import (
    MeetingKind,
    MentorshipPair,
    PairChangeReason,
    PairMember,
    Participant,
    Person,
    PersonalProgramme,
)
from nastavnik import pair_changes, pairs, policy, progress
from nastavnik.meetings import KIND_LABEL_RU
from nastavnik.programmes import ProgrammeContent, month_label

EXPORT_DAY = 24
"""The day of each month the curator downloads the online form's export and imports it: before
the month's log reminders go out (three days before its end), so only the lagging pair's
mentor is reminded."""

NO_CONTACT_FROM = date(2026, 12, 1)
"""From this month on the first pair (in name order) logs nothing: the demo's lagging pair."""

COLUMNS = (
    "Наставник",
    "Наставляемый",
    "Дата встречи",
    "Вид встречи",
    "Длительность, мин",
    "Формат",
    "Тема",
    "Что сделано",
    "Следующий шаг",
    "Оценка",
    "Комментарий",
)
FORMATS = ("очно", "очно", "дистанционно")
COMMENTS = (
    "Было интересно, разобрали мои вопросы.",
    "Полезно, хочу продолжить эту тему.",
    "Понятно объяснили, стало легче.",
)


@dataclass(frozen=True)
class DemoPair:
    """A pair going on, with the names the export uses and its programme."""

    pair: MentorshipPair
    mentor_name: str
    mentee_names: list[str]
    programme: ProgrammeContent | None


def _name(person: Person) -> str:
    return " ".join(
        part for part in (person.last_name, person.first_name, person.middle_name) if part
    )


def going_on(*, session: Session, cycle_id: uuid.UUID) -> list[DemoPair]:
    """The cycle's pairs going on, in the order of their mentor's and first mentee's names."""
    found = []
    for pair in session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(pairs.ONGOING)
        )
    ):
        mentor = session.exec(
            select(Person)
            .join(Participant, col(Participant.person_id) == col(Person.id))
            .where(Participant.id == pair.mentor_id)
        ).one()
        mentees = session.exec(
            select(Person)
            .join(Participant, col(Participant.person_id) == col(Person.id))
            .join(PairMember, col(PairMember.mentee_id) == col(Participant.id))
            .where(PairMember.pair_id == pair.id)
        ).all()
        programme = session.exec(
            select(PersonalProgramme)
            .where(PersonalProgramme.pair_id == pair.id)
            .order_by(col(PersonalProgramme.version).desc())
        ).first()
        found.append(
            DemoPair(
                pair=pair,
                mentor_name=mentor.full_name,
                mentee_names=sorted(m.full_name for m in mentees),
                programme=ProgrammeContent.from_dict(programme.content)
                if programme and programme.content
                else None,
            )
        )
    return sorted(found, key=lambda p: (p.mentor_name, p.mentee_names))


def _month_rows(demo: DemoPair, index: int, month: date, export_day: date) -> list[list[str]]:
    """The export's rows for one pair and month: the programme's meetings of the month, weekly."""
    if demo.programme is None or demo.pair.starts_on is None or demo.pair.ends_on is None:
        return []
    label = month_label(month)
    planned = [m for m in demo.programme.meetings if m.month == label]
    first = max(month + timedelta(days=2 + index % 3), demo.pair.starts_on + timedelta(days=1))
    last = min(export_day, demo.pair.ends_on)
    rows = []
    for number, meeting in enumerate(planned):
        held_on = first + timedelta(days=7 * number)
        if held_on > last:
            break
        rating = ""
        comment = ""
        if meeting.feedback_required and index != 1:  # the second pair's mentee never answers
            rating = str(5 - (index + number) % 2)
            comment = COMMENTS[(index + number) % len(COMMENTS)]
        for mentee in demo.mentee_names:
            rows.append(
                [
                    demo.mentor_name,
                    mentee,
                    f"{held_on:%d.%m.%Y}",
                    KIND_LABEL_RU[meeting.kind],
                    str(45 if meeting.kind != MeetingKind.intro else 30),
                    FORMATS[(index + number) % len(FORMATS)],
                    meeting.title,
                    "Разобрали задачи месяца по программе, обсудили трудности.",
                    "Подготовить вопросы к следующей встрече.",
                    rating,
                    comment,
                ]
            )
    return rows


def write_month_export(
    *, session: Session, cycle_id: uuid.UUID, month: date, directory: Path
) -> tuple[Path, int]:
    """The online form's export for the month as the curator downloads it on the 24th; returns
    the file and how many pairs appear in it."""
    export_day = month.replace(day=EXPORT_DAY)
    rows: list[list[str]] = []
    pairs_logged = 0
    for index, demo in enumerate(going_on(session=session, cycle_id=cycle_id)):
        if index == 0 and month >= NO_CONTACT_FROM:
            continue  # the lagging pair: no contact
        pair_rows = _month_rows(demo, index, month, export_day)
        pairs_logged += bool(pair_rows)
        rows.extend(pair_rows)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"meetings_{month:%Y_%m}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path, pairs_logged


def replacement(
    *, session: Session, cycle_id: uuid.UUID, on: date, organization_code: str, school_year: str
) -> RunRequest | None:
    """The third pair's mentor asks to be relieved (§4.1): the best candidate the rules allow
    takes over, with written consent the same day."""
    demo_pairs = going_on(session=session, cycle_id=cycle_id)
    if len(demo_pairs) < 3:
        return None
    demo = demo_pairs[2]
    rules = policy.get_policy(
        session=session, organization_id=_organisation(session, cycle_id)
    ).matching_policy()
    candidates = pair_changes.replacement_candidates(
        session=session, pair_id=demo.pair.id, on=on, policy=rules
    )
    if not candidates:
        return None
    return RunRequest(
        deployment="pair-replacement/pair-replacement",
        parameters={
            "params": {
                "organization_code": organization_code,
                "school_year": school_year,
                "pair_id": str(demo.pair.id),
                "reason": PairChangeReason.mentor_request.value,
                "comment": "Заявление наставника о сложении обязанностей",
                "new_mentor_id": str(candidates[0].mentor_id),
                "consent_on": on.isoformat(),
                "consent_how": "письменное заявление о согласии",
            }
        },
        run_name=f"{organization_code} · {school_year} · pair-replacement",
        line=f"куратор: замена наставника пары № 3 (п. 2.8), кандидатов по правилам: "
        f"{len(candidates)}",
    )


def extension(
    *, session: Session, cycle_id: uuid.UUID, on: date, organization_code: str, school_year: str
) -> RunRequest | None:
    """The fourth pair's mentee was ill for a month (§2.9): the term is extended to 30 June."""
    demo_pairs = going_on(session=session, cycle_id=cycle_id)
    if len(demo_pairs) < 4:
        return None
    demo = demo_pairs[3]
    return RunRequest(
        deployment="pair-extension/pair-extension",
        parameters={
            "params": {
                "organization_code": organization_code,
                "school_year": school_year,
                "pair_id": str(demo.pair.id),
                "reason": PairChangeReason.illness.value,
                "comment": "Справка о болезни наставляемого",
                "new_ends_on": date(on.year, 6, 30).isoformat(),
            }
        },
        run_name=f"{organization_code} · {school_year} · pair-extension",
        line="куратор: продление срока наставничества пары № 4 до 30.06 (п. 2.9)",
    )


def termination(
    *, session: Session, cycle_id: uuid.UUID, on: date, organization_code: str, school_year: str
) -> RunRequest | None:
    """The fifth pair's mentee does not follow the plan (§2.10): the pair ends early and the
    mentee goes back on the search list."""
    demo_pairs = going_on(session=session, cycle_id=cycle_id)
    if len(demo_pairs) < 5:
        return None
    demo = demo_pairs[4]
    return RunRequest(
        deployment="pair-termination/pair-termination",
        parameters={
            "params": {
                "organization_code": organization_code,
                "school_year": school_year,
                "pair_id": str(demo.pair.id),
                "reason": PairChangeReason.mentee_non_performance.value,
                "comment": "Служебная записка куратора",
                "mentee_wants_new_mentor": True,
            }
        },
        run_name=f"{organization_code} · {school_year} · pair-termination",
        line="куратор: досрочное прекращение наставничества пары № 5 (п. 2.10)",
    )


def _organisation(session: Session, cycle_id: uuid.UUID) -> uuid.UUID:
    from models import Cycle

    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    return cycle.organization_id


def months(start: date, end: date) -> list[date]:
    """First days of the months from start's to end's, inclusive."""
    found, month = [], progress.month_start(start)
    while month <= end:
        found.append(month)
        month = progress.next_month(month)
    return found
