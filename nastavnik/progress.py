"""A pair's progress against its personal programme and its status for a month (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.11–§2.12: each pair works
by its personal programme, whose meeting plan follows the target model's sequence (intro, trial,
planning, joint work with feedback, final; nastavnik.meetings). A month of a pair is on track,
lagging (behind the plan by the policy's threshold), without contact (no meeting at all) or
missing the mentee's feedback; the rules are deterministic and explain themselves in Russian.
The monthly report (nastavnik.monthly) and the reminders (nastavnik.meeting_reminders) read them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from models import (
    Cycle,
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    PairMember,
    PairStatus,
    PersonalProgramme,
)
from nastavnik import pairs
from nastavnik.meetings import FEEDBACK_REQUIRED, sequence_problems
from nastavnik.policy import OrganisationPolicy, get_policy
from nastavnik.programmes import ProgrammeContent, month_label

_Id = TypeVar("_Id")  # a row id or key, for chunks()

# ---------------------------------------------------------------------------------------------
# Months
# ---------------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    """The first day of the day's month (the key of a month everywhere here)."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def previous_month(month: date) -> date:
    """The first day of the preceding month."""
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def month_end(month: date) -> date:
    """The last day of the month."""
    return next_month(month) - timedelta(days=1)


_MONTH_NUMBERS = {month_label(date(2000, n, 1)).split()[0]: n for n in range(1, 13)}


def month_of_label(label: str) -> date:
    """«Октябрь 2026» (a programme's month label) → 2026-10-01; ValueError for anything else."""
    name, _, year = label.strip().rpartition(" ")
    if name not in _MONTH_NUMBERS or not year.isdigit():
        raise ValueError(f"не месяц программы: «{label}» (ожидается, например, «Октябрь 2026»)")
    return date(int(year), _MONTH_NUMBERS[name], 1)


def parse_month(text: str) -> date:
    """«2026-10» (as in a report's address) → 2026-10-01; ValueError otherwise."""
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"месяц «{text}» не в формате ГГГГ-ММ") from None


# ---------------------------------------------------------------------------------------------
# Progress and the month's status
# ---------------------------------------------------------------------------------------------


class MonthStatus(StrEnum):
    """A pair's standing in one month, as the curator's summary counts it."""

    on_track = "on_track"
    lagging = "lagging"
    no_contact = "no_contact"
    missing_feedback = "missing_feedback"


STATUS_RU = {
    MonthStatus.on_track: "по плану",
    MonthStatus.lagging: "отстаёт от плана",
    MonthStatus.no_contact: "нет контакта",
    MonthStatus.missing_feedback: "нет отзывов наставляемого",
}
STATUS_ORDER = tuple(MonthStatus)
"""The order statuses are counted and printed in."""

FORMAT_RU = {
    MeetingFormat.in_person: "очно",
    MeetingFormat.online: "дистанционно",
    MeetingFormat.mixed: "смешанный формат",
}


@dataclass(frozen=True)
class MonthProgress:
    """One month of a pair's programme: meetings planned and held."""

    month: date
    planned: int
    held: int

    @property
    def label(self) -> str:
        return month_label(self.month)


@dataclass(frozen=True)
class MissingFeedback:
    """A meeting that needs a mentee's feedback, which has not come by its due day."""

    meeting_id: uuid.UUID
    mentee_id: uuid.UUID
    held_on: date
    kind: MeetingKind
    due_on: date


@dataclass(frozen=True)
class PairProgress:
    """A pair against its personal programme, from its first month to the month looked at."""

    pair_id: uuid.UUID
    month: date
    has_programme: bool
    months: list[MonthProgress]
    sequence_ru: list[str]
    missing_feedback: list[MissingFeedback]

    def of_month(self, month: date) -> MonthProgress:
        for item in self.months:
            if item.month == month:
                return item
        return MonthProgress(month, 0, 0)

    @property
    def planned_to_date(self) -> int:
        return sum(m.planned for m in self.months if m.month <= self.month)

    @property
    def held_to_date(self) -> int:
        return sum(m.held for m in self.months if m.month <= self.month)


def compute_progress(
    *,
    pair_id: uuid.UUID,
    programme: ProgrammeContent | None,
    logs: Sequence[MeetingLog | LoggedMeetingRow],
    mentee_ids: Sequence[uuid.UUID],
    feedback_given: set[tuple[uuid.UUID, uuid.UUID]],
    month: date,
    feedback_days: int,
) -> PairProgress:
    """Planned vs held per month up to the month's end, the sequence, overdue feedback.

    Feedback (rating and comment) is owed by every mentee of the pair on each joint-work and
    final meeting within `feedback_days`; it counts as missing once that day has passed by the
    month's end, so a meeting on the 30th is not held against the pair until next month."""
    month = month_start(month)
    as_of = month_end(month)
    logs = [log for log in logs if log.held_on <= as_of]
    planned: dict[date, int] = defaultdict(int)
    if programme is not None:
        for meeting in programme.meetings:
            planned[month_of_label(meeting.month)] += 1
    held: dict[date, int] = defaultdict(int)
    for log in logs:
        held[month_start(log.held_on)] += 1
    months = [
        MonthProgress(m, planned.get(m, 0), held.get(m, 0))
        for m in sorted(set(planned) | set(held))
        if m <= month
    ]
    missing = [
        MissingFeedback(
            log.id, mentee, log.held_on, log.kind, log.held_on + timedelta(days=feedback_days)
        )
        for log in sorted(logs, key=lambda item: (item.held_on, item.id))
        if log.kind in FEEDBACK_REQUIRED
        for mentee in mentee_ids
        if (log.id, mentee) not in feedback_given
        and log.held_on + timedelta(days=feedback_days) < as_of
    ]
    problems = sequence_problems((log.held_on, log.kind) for log in logs)
    return PairProgress(
        pair_id=pair_id,
        month=month,
        has_programme=programme is not None,
        months=months,
        sequence_ru=[f"{p.held_on:%d.%m.%Y}: {p.message_ru}" for p in problems],
        missing_feedback=missing,
    )


@dataclass(frozen=True)
class MonthAssessment:
    """A pair's status for a month, with its reasons in Russian."""

    status: MonthStatus
    reasons_ru: list[str]
    planned: int
    held: int
    planned_to_date: int
    held_to_date: int

    @property
    def status_ru(self) -> str:
        return STATUS_RU[self.status]


def assess_month(*, progress: PairProgress, lagging_behind: int) -> MonthAssessment:
    """The month's status: the most serious of no contact (no meeting at all in the month),
    lagging (held `lagging_behind` or more meetings fewer than planned from the programme's
    start to the month's end), missing feedback (a mentee's feedback that fell due this month
    has not come), else on track.
    Every condition that holds is given as a reason, so a lagging pair's missing feedback shows."""
    current = progress.of_month(progress.month)
    planned_to_date, held_to_date = progress.planned_to_date, progress.held_to_date
    behind = planned_to_date - held_to_date
    found: list[tuple[MonthStatus, str]] = []
    if current.held == 0:
        found.append(
            (
                MonthStatus.no_contact,
                f"в месяце «{current.label}» не было ни одной встречи"
                + (f" (по плану {current.planned})" if current.planned else ""),
            )
        )
    if progress.has_programme and behind >= lagging_behind:
        found.append(
            (
                MonthStatus.lagging,
                f"с начала программы проведено {held_to_date} встреч из {planned_to_date} "
                f"запланированных: отставание на {behind} (порог — {lagging_behind})",
            )
        )
    # Feedback that fell due this month makes the month's status; feedback owed since earlier
    # months was reported then and is only recalled, or one missed answer in November would
    # list the pair as «missing feedback» in every summary to the year's end.
    due_now = [m for m in progress.missing_feedback if m.due_on >= progress.month]
    earlier = len(progress.missing_feedback) - len(due_now)
    if due_now:
        found.append(
            (
                MonthStatus.missing_feedback,
                f"нет отзыва наставляемого о встречах, срок которого истёк: {len(due_now)}",
            )
        )
    reasons = [reason for _, reason in found]
    if earlier:
        reasons.append(f"не получено отзывов за прошлые месяцы: {earlier}")
    if not progress.has_programme:
        reasons.append("индивидуальная программа не составлена: план встреч неизвестен")
    reasons.extend(f"порядок встреч нарушен — {text}" for text in progress.sequence_ru)
    if not found:
        reasons.insert(
            0,
            f"в месяце проведено встреч: {current.held} (по плану {current.planned}); "
            f"с начала программы {held_to_date} из {planned_to_date}",
        )
    return MonthAssessment(
        status=found[0][0] if found else MonthStatus.on_track,
        reasons_ru=reasons,
        planned=current.planned,
        held=current.held,
        planned_to_date=planned_to_date,
        held_to_date=held_to_date,
    )


# ---------------------------------------------------------------------------------------------
# Reading the pairs of a month in a few queries
# ---------------------------------------------------------------------------------------------


def pairs_of_month(*, session: Session, cycle_id: uuid.UUID, month: date) -> list[MentorshipPair]:
    """The cycle's pairs going on during the month: still going on (pairs.ONGOING), or ended
    by date within or after it — a pair ending on May 31 is ended by the clock on June 1, the
    very day its May report is assembled."""
    month = month_start(month)
    return list(
        session.exec(
            select(MentorshipPair)
            .where(
                MentorshipPair.cycle_id == cycle_id,
                or_(
                    col(MentorshipPair.status).in_(pairs.ONGOING),
                    (col(MentorshipPair.status) == PairStatus.ended)
                    & (col(MentorshipPair.ends_on) >= month),
                ),
                or_(
                    col(MentorshipPair.starts_on).is_(None),
                    col(MentorshipPair.starts_on) <= month_end(month),
                ),
                or_(col(MentorshipPair.ends_on).is_(None), col(MentorshipPair.ends_on) >= month),
            )
            .order_by(col(MentorshipPair.created_at), col(MentorshipPair.id))
            # The matching's reasons (JSON, ≈0.5 KB a pair) only matter at pairing; read on
            # demand, they are not decoded for every pair on every reminder day.
            .options(defer(MentorshipPair.reasons))  # type: ignore[arg-type]
        )
    )


@dataclass(frozen=True, slots=True)
class LoggedMeetingRow:
    """A stored meeting's fields the month's rules and report read (a MeetingLog's columns
    read as plain values: a year of 2 000 pairs' logs costs seconds as ORM objects)."""

    id: uuid.UUID
    pair_id: uuid.UUID
    held_on: date
    kind: MeetingKind
    duration_minutes: int
    format: MeetingFormat
    topic: str
    done: str
    next_step: str

    def as_dict(self) -> dict[str, object]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


LOG_COLUMNS = tuple(getattr(MeetingLog, item.name) for item in fields(LoggedMeetingRow))


@dataclass
class PairsData:
    """Everything the rules need about a set of pairs, loaded at once."""

    programmes: dict[uuid.UUID, ProgrammeContent] = field(default_factory=dict)
    logs: dict[uuid.UUID, list[LoggedMeetingRow]] = field(default_factory=lambda: defaultdict(list))
    mentees: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    feedback: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)


def chunks(ids: Sequence[_Id], size: int = 500) -> Iterable[list[_Id]]:
    """The ids in slices small enough for one IN (...): SQLite caps a statement's parameters."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def load_pairs(*, session: Session, pair_ids: list[uuid.UUID], as_of: date) -> PairsData:
    """The pairs' latest programmes, logs and feedback up to `as_of`, and their mentees, in a
    few queries per 500 pairs (a month of 2 000 pairs must not cost 10 000 queries)."""
    data = PairsData()
    for ids in chunks(pair_ids):
        contents: dict[uuid.UUID, dict[str, Any]] = {}
        for pair_id, content in session.execute(
            select(PersonalProgramme.pair_id, PersonalProgramme.content)
            .where(col(PersonalProgramme.pair_id).in_(ids))
            .order_by(col(PersonalProgramme.version))
        ):
            if content:  # the latest version with content wins
                contents[pair_id] = content
        for pair_id, content in contents.items():
            data.programmes[pair_id] = ProgrammeContent.from_dict(content)
        logs = [
            LoggedMeetingRow(*row)
            for row in session.execute(
                select(*LOG_COLUMNS)
                .where(col(MeetingLog.pair_id).in_(ids), MeetingLog.held_on <= as_of)
                .order_by(col(MeetingLog.held_on), col(MeetingLog.id))
            )
        ]
        for log in logs:
            data.logs[log.pair_id].append(log)
        for member in session.exec(select(PairMember).where(col(PairMember.pair_id).in_(ids))):
            data.mentees[member.pair_id].append(member.mentee_id)
        for log_ids in chunks([log.id for log in logs if log.kind in FEEDBACK_REQUIRED]):
            data.feedback.update(
                session.exec(
                    select(MeetingFeedback.meeting_id, MeetingFeedback.mentee_id).where(
                        col(MeetingFeedback.meeting_id).in_(log_ids),
                        MeetingFeedback.given_on <= as_of,
                    )
                ).all()
            )
    return data


def cycle_policy(*, session: Session, cycle_id: uuid.UUID) -> tuple[Cycle, OrganisationPolicy]:
    """The cycle and its organisation's policy; LookupError for an unknown cycle."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    return cycle, get_policy(session=session, organization_id=cycle.organization_id)


def progress_of(
    *, data: PairsData, pair_id: uuid.UUID, month: date, rules: OrganisationPolicy
) -> PairProgress:
    """One loaded pair's progress up to the month's end under the organisation's policy."""
    return compute_progress(
        pair_id=pair_id,
        programme=data.programmes.get(pair_id),
        logs=data.logs.get(pair_id, []),
        mentee_ids=data.mentees.get(pair_id, []),
        feedback_given=data.feedback,
        month=month,
        feedback_days=rules.meeting_feedback_days,
    )


def pair_progress(*, session: Session, pair_id: uuid.UUID, month: date) -> PairProgress:
    """One pair's progress against its latest personal programme up to the month's end."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise LookupError(f"пара {pair_id} не найдена")
    _, rules = cycle_policy(session=session, cycle_id=pair.cycle_id)
    month = month_start(month)
    data = load_pairs(session=session, pair_ids=[pair_id], as_of=month_end(month))
    return progress_of(data=data, pair_id=pair_id, month=month, rules=rules)


def assess_pairs(
    *, session: Session, cycle_id: uuid.UUID, month: date
) -> dict[uuid.UUID, tuple[PairProgress, MonthAssessment]]:
    """Progress and status of each pair going on in the month, by pair id."""
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    month = month_start(month)
    pair_ids = [p.id for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)]
    data = load_pairs(session=session, pair_ids=pair_ids, as_of=month_end(month))
    result = {}
    for pair_id in pair_ids:
        progress = progress_of(data=data, pair_id=pair_id, month=month, rules=rules)
        result[pair_id] = (
            progress,
            assess_month(progress=progress, lagging_behind=rules.lagging_meetings_behind),
        )
    return result
