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
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from deployments.year import RunRequest
from models import (
    MeetingKind,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    PairChangeReason,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    RewardKind,
)
from nastavnik import (
    completion,
    final_event,
    honour_board,
    monthly,
    pair_changes,
    pairs,
    policy,
    practices,
    progress,
)
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


def going_on(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    statuses: tuple[PairStatus, ...] = pairs.ONGOING,
) -> list[DemoPair]:
    """The cycle's pairs in these statuses (going on, unless told), in the order of their
    mentor's and first mentee's names."""
    # Four queries for all the pairs, not four a pair: the year's script asks this every month.
    found_pairs = list(
        session.exec(
            select(MentorshipPair).where(
                MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(statuses)
            )
        )
    )
    pair_ids = [pair.id for pair in found_pairs]
    mentor_names = {
        participant_id: person.full_name
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Participant.person_id) == col(Person.id))
            .where(col(Participant.id).in_([pair.mentor_id for pair in found_pairs]))
        )
    }
    mentee_names: dict[uuid.UUID, list[str]] = {pair_id: [] for pair_id in pair_ids}
    for pair_id, person in session.exec(
        select(PairMember.pair_id, Person)
        .join(Participant, col(PairMember.mentee_id) == col(Participant.id))
        .join(Person, col(Participant.person_id) == col(Person.id))
        .where(col(PairMember.pair_id).in_(pair_ids))
    ):
        mentee_names[pair_id].append(person.full_name)
    newest_programme: dict[uuid.UUID, PersonalProgramme] = {}
    for newer in session.exec(
        select(PersonalProgramme)
        .where(col(PersonalProgramme.pair_id).in_(pair_ids))
        .order_by(col(PersonalProgramme.version).desc())
    ):
        newest_programme.setdefault(newer.pair_id, newer)
    found = []
    for pair in found_pairs:
        programme = newest_programme.get(pair.id)
        found.append(
            DemoPair(
                pair=pair,
                mentor_name=mentor_names[pair.mentor_id],
                mentee_names=sorted(mentee_names[pair.id]),
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
    """The fourth pair's mentee was ill for two weeks (§2.9): the term is extended to 15 June
    (its reports are due ten days later: the completion stage waits for them)."""
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
                "new_ends_on": date(on.year, 6, 15).isoformat(),
            }
        },
        run_name=f"{organization_code} · {school_year} · pair-extension",
        line="куратор: продление срока наставничества пары № 4 до 15.06 (п. 2.9)",
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


# ---------------------------------------------------------------------------------------------
# The year's end: completion reports, the director's interviews, the final event's inputs
# ---------------------------------------------------------------------------------------------

FINISHED = (PairStatus.ended, PairStatus.terminated)


def submit_completion_reports(
    *, session: Session, cycle_id: uuid.UUID, today: date, now: datetime
) -> tuple[int, int]:
    """Mentors and mentees of the finished pairs hand in their §2.13–§2.14 reports, all but the
    lagging pair (its reports become overdue: reminders, the curator's list); returns (pairs,
    reports)."""
    handed, reports = 0, 0
    # Pairs still marked going on count once their end date has passed (the tick marks them
    # later that day). The lagging pair is the first of those ending on the year's common end
    # date, so every year-end step picks the same one (never the extended or terminated pair).
    listed = going_on(session=session, cycle_id=cycle_id, statuses=(*FINISHED, *pairs.ONGOING))
    if not listed:
        return 0, 0
    common_end = Counter(demo.pair.ends_on for demo in listed).most_common(1)[0][0]
    lagging = next(demo.pair.id for demo in listed if demo.pair.ends_on == common_end)
    for index, demo in enumerate(listed):
        if demo.pair.id == lagging or not completion.is_finished(demo.pair, today):
            continue
        scales = {
            "satisfaction_programme": str(8 + index % 3),
            "satisfaction_pair": str(9 - index % 2),
            "expectations_met": str(7 + index % 4),
            "usefulness": str(8 + index % 3),
        }
        members = session.exec(
            select(PairMember.mentee_id).where(PairMember.pair_id == demo.pair.id)
        ).all()
        answers: list[tuple[uuid.UUID, dict[str, str]]] = [
            (
                demo.pair.mentor_id,
                {
                    **scales,
                    "plan_fulfilment": "полностью" if index % 5 else "частично",
                    "results": "Задачи индивидуального плана выполнены, результаты обсуждены.",
                },
            ),
            *((mentee, {**scales, "mentor_rating": str(9 + index % 2)}) for mentee in members),
        ]
        for participant_id, values in answers:
            if completion.find_report(
                session=session, pair_id=demo.pair.id, participant_id=participant_id
            ):
                continue
            completion.submit_report(
                session=session,
                pair_id=demo.pair.id,
                participant_id=participant_id,
                values=values,
                today=today,
                now=now,
                source="link",
            )
            reports += 1
        handed += 1
    return handed, reports


def record_interviews(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    today: date,
    now: datetime,
    interviewer: str,
    count: int,
) -> int:
    """The director's final interviews (§3.1) with the mentees of the first finished pairs."""
    held = 0
    for demo in going_on(session=session, cycle_id=cycle_id, statuses=FINISHED)[:count]:
        for mentee_id in session.exec(
            select(PairMember.mentee_id).where(PairMember.pair_id == demo.pair.id)
        ).all():
            completion.record_interview(
                session=session,
                pair_id=demo.pair.id,
                mentee_id=mentee_id,
                held_on=today,
                interviewer=interviewer,
                notes="Цели программы достигнуты; наставляемый хочет продолжить в следующем году.",
                today=today,
                now=now,
            )
            held += 1
    return held


def final_event_inputs(
    *, session: Session, cycle_id: uuid.UUID, today: date, now: datetime
) -> tuple[int, int]:
    """Adult mentors agree to publication on the honour board (minors are never asked) and three
    mentors describe a practice for the bank; returns (consents, practices)."""
    consents, described = 0, 0
    for index, demo in enumerate(going_on(session=session, cycle_id=cycle_id)):
        mentor = session.get(Participant, demo.pair.mentor_id)
        assert mentor is not None
        person = session.get(Person, mentor.person_id)
        assert person is not None
        if mentor.grade is None and index % 4 != 3:  # an adult; every fourth keeps it private
            try:
                honour_board.record_publication_consent(
                    session=session,
                    person_id=person.id,
                    cycle_id=cycle_id,
                    given_on=today,
                    source="заявление о согласии на публикацию",
                )
            except honour_board.PublicationRefused:
                continue  # a minor: never asked
            consents += 1
        if described < 3 and mentor.grade is None:
            practices.submit_practice(
                session=session,
                pair_id=demo.pair.id,
                participant_id=mentor.id,
                title=f"Практика наставничества № {described + 1}: совместный проект",
                summary="Наставляемый ведёт проект под руководством наставника, встречи раз "
                "в две недели, результаты обсуждаются с классом.",
                results="Проект представлен на школьной конференции.",
                now=now,
                today=today,
            )
            described += 1
    return consents, described


def confirm_monthly_reports(
    *, session: Session, cycle_id: uuid.UUID, month: date, now: datetime
) -> int:
    """Mentors confirm their pairs' reports on the month through their links (§4.2), all but
    the lagging pair's mentor; returns how many were confirmed now."""
    confirmed = 0
    ended = (*pairs.ONGOING, PairStatus.ended, PairStatus.terminated, PairStatus.replaced)
    demo_pairs = going_on(session=session, cycle_id=cycle_id, statuses=ended)
    reports = {
        report.pair_id: report
        for report in session.exec(
            select(MonthlyReport).where(
                MonthlyReport.month == month,
                col(MonthlyReport.pair_id).in_([demo.pair.id for demo in demo_pairs]),
            )
        )
    }
    for index, demo in enumerate(demo_pairs):
        report = reports.get(demo.pair.id)
        if index == 0 or report is None or report.status == MonthlyReportStatus.confirmed:
            continue
        monthly.confirm_report(
            session=session,
            pair_id=demo.pair.id,
            month=month,
            participant_id=demo.pair.mentor_id,
            comment="",
            now=now,
        )
        confirmed += 1
    return confirmed


def curator_nominations(*, session: Session, cycle_id: uuid.UUID, today: date) -> int:
    """The curator puts forward the ranking's first five (§2.16), following its advice where it
    gives one and saying why where it gives none; returns how many were nominated."""
    ranking = final_event.cycle_ranking(session=session, cycle_id=cycle_id, as_of=today)
    for ranked in ranking[:5]:
        reward = ranked.recommended or RewardKind.gratitude
        final_event.nominate(
            session=session,
            cycle_id=cycle_id,
            ranking=ranking,
            mentor_id=ranked.mentor_id,
            reward=reward,
            nominated_by="куратор",
            today=today,
            comment=""
            if ranked.recommended == reward
            else "Пара работала весь год без пропусков, отзывы наставляемых высокие.",
        )
    return min(5, len(ranking))
