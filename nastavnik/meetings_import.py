"""Meeting logs and feedback from an online form's export (CSV/XLSX), through the one reader.

Schools that collect on paper or in an online form export one row per meeting: the mentor and
the mentee by full name (or person key, or e-mail) within a cycle, the date, the kind in Russian,
the duration, format, topic, what was done, the next step, and — when the mentee answered in the
same form or in a feedback form — the rating and a comment. The contract is
``docs/meetings_import.md``.

All or nothing: a file with one bad row writes nothing (its errors name file, row and field),
so the curator fixes the file and imports it again; meetings feed the monthly reports, and a
half-imported month would report a pair as lagging. Re-importing the same file adds nothing
(one meeting per pair, day and kind; one feedback per meeting and mentee).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import false, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import (
    Cycle,
    ImportKind,
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    PairMember,
    Participant,
    Person,
    Role,
)
from nastavnik import meetings, repository
from nastavnik.db import session_scope
from nastavnik.meetings import MeetingRefused
from nastavnik.pairs import ONGOING
from nastavnik.progress import LOG_COLUMNS, LoggedMeetingRow
from nastavnik.tabular import (
    AMBIGUOUS,
    MISSING,
    REQUIRED_HINT,
    Field,
    ImportReport,
    PersonIndex,
    Record,
    TableSpec,
    fold_text,
    parse_date,
    read_table,
    saved_mappings,
)

MENTOR = "Наставник"
MENTEE = "Наставляемый"
HELD_ON = meetings.FIELD_DATE
KIND = meetings.FIELD_KIND
DURATION = meetings.FIELD_DURATION
FORMAT = meetings.FIELD_FORMAT
TOPIC = "Тема"
DONE = "Что сделано"
NEXT_STEP = "Следующий шаг"
RATING = meetings.FIELD_RATING
COMMENT = "Комментарий"
GIVEN_ON = meetings.FIELD_FEEDBACK_DATE

# The fields of a meeting-log export; the key is what `nastavnik columns set` takes.
MEETINGS = TableSpec(
    ImportKind.meeting,
    (
        Field("mentor", MENTOR, ("ФИО наставника", "Наставник (ФИО)", "Ваш наставник")),
        Field(
            "mentee",
            MENTEE,
            ("ФИО наставляемого", "Наставляемая", "Наставляемый (ФИО)", "Наставляемый(ая)"),
        ),
        Field("held_on", HELD_ON, ("Дата", "Дата проведения", "Дата проведения встречи")),
        Field("kind", KIND, ("Тип встречи", "Встреча", "Вид")),
        Field(
            "duration",
            DURATION,
            (
                "Длительность",
                "Длительность (мин)",
                "Длительность, минут",
                "Продолжительность",
                "Продолжительность, мин",
            ),
        ),
        Field("format", FORMAT, ("Формат встречи", "Форма проведения")),
        Field("topic", TOPIC, ("Тема встречи",)),
        Field("done", DONE, ("Что было сделано", "Содержание встречи", "Содержание")),
        Field("next_step", NEXT_STEP, ("Следующие шаги", "Задание к следующей встрече")),
        Field("rating", RATING, ("Оценка встречи", "Ваша оценка встречи", "Оценка (1-5)")),
        Field("comment", COMMENT, ("Комментарий наставляемого", "Отзыв", "Ваш отзыв")),
        Field("given_on", GIVEN_ON, ("Отметка времени", "Дата ответа")),
    ),
)


@dataclass
class MeetingImportReport(ImportReport):
    """An import's report: rows counted once; also how many meetings and feedback were new."""

    meetings_recorded: int = 0
    feedback_recorded: int = 0


class CycleParticipants:
    """A cycle's participants of one role by full name, e-mail or person key."""

    def __init__(self, session: Session, cycle_id: uuid.UUID, role: Role) -> None:
        rows = session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(Participant.cycle_id == cycle_id, Participant.role == role)
        ).all()
        self.index = PersonIndex((person, participant_id) for participant_id, person in rows)
        self.keys = {
            fold_text(person.person_key): participant_id for participant_id, person in rows
        }
        self.who = "наставник" if role == Role.mentor else "наставляемый"

    def find(self, typed: str) -> tuple[uuid.UUID | None, str]:
        """(participant, error message)."""
        if typed and fold_text(typed) in self.keys:
            return self.keys[fold_text(typed)], ""
        match = self.index.find(email=typed if "@" in typed else "", name=typed)
        if match.found is not None:
            return match.found, ""
        if match.problem == MISSING:
            return None, REQUIRED_HINT
        if match.problem == AMBIGUOUS:
            return None, f"несколько участников «{typed}» в цикле, укажите ФИО полностью"
        return None, f"{self.who} «{typed}» не найден среди участников цикла"


def pairs_by_members(
    session: Session, cycle_id: uuid.UUID
) -> dict[tuple[uuid.UUID, uuid.UUID], list[MentorshipPair]]:
    """The cycle's pairs by (mentor, mentee), earliest end first: files name people, not pairs."""
    found: dict[tuple[uuid.UUID, uuid.UUID], list[MentorshipPair]] = {}
    for pair, mentee_id in session.exec(
        select(MentorshipPair, PairMember.mentee_id)
        .join(PairMember, col(PairMember.pair_id) == col(MentorshipPair.id))
        .where(MentorshipPair.cycle_id == cycle_id)
        .order_by(col(MentorshipPair.created_at))
    ):
        found.setdefault((pair.mentor_id, mentee_id), []).append(pair)
    return found


def _the_pair(candidates: list[MentorshipPair]) -> MentorshipPair:
    # The same two people twice (a pair ended, then formed again): the one going on, else the
    # latest — whose refusal then says it has ended.
    ongoing = [p for p in candidates if p.status in ONGOING]
    return (ongoing or candidates)[-1]


@dataclass(frozen=True)
class _Row:
    number: int
    pair_id: uuid.UUID
    mentee_id: uuid.UUID
    held_on: date
    kind: MeetingKind
    duration: int | None
    format: MeetingFormat
    topic: str
    done: str
    next_step: str
    rating: int | None
    comment: str
    given_on: date


def _read_rows(
    session: Session, cycle_id: uuid.UUID, table_records: list[Record], report: ImportReport
) -> list[_Row]:
    mentors = CycleParticipants(session, cycle_id, Role.mentor)
    mentees = CycleParticipants(session, cycle_id, Role.mentee)
    pairs = pairs_by_members(session, cycle_id)
    rows: list[_Row] = []
    for record in table_records:
        number = record.number
        errors_before = len(report.rejected)
        mentor_id, problem = mentors.find(record.get(MENTOR))
        if mentor_id is None:
            report.reject(number, MENTOR, problem)
        mentee_id, problem = mentees.find(record.get(MENTEE))
        if mentee_id is None:
            report.reject(number, MENTEE, problem)
        pair = None
        if mentor_id is not None and mentee_id is not None:
            candidates = pairs.get((mentor_id, mentee_id))
            if candidates:
                pair = _the_pair(candidates)
            else:
                report.reject(
                    number,
                    MENTEE,
                    f"«{record.get(MENTEE)}» не в паре с наставником «{record.get(MENTOR)}»",
                )
        held_on = _date(record.get(HELD_ON), number, HELD_ON, report, required=True)
        kind = None
        typed = record.get(KIND)
        if not typed:
            report.reject(number, KIND, REQUIRED_HINT)
        else:
            kind = meetings.parse_kind(typed)
            if kind is None:
                report.reject(number, KIND, f"неизвестный вид «{typed}»; {meetings.KIND_HINT_RU}")
        duration = None
        typed = record.get(DURATION)
        if typed:
            duration = meetings.parse_minutes(typed)
            if duration is None:
                report.reject(number, DURATION, f"ожидается число минут, указано «{typed}»")
        meeting_format = MeetingFormat.in_person
        typed = record.get(FORMAT)
        if typed:
            parsed = meetings.parse_format(typed)
            if parsed is None:
                report.reject(
                    number, FORMAT, f"неизвестный формат «{typed}»; {meetings.FORMAT_HINT_RU}"
                )
            else:
                meeting_format = parsed
        rating = None
        typed = record.get(RATING)
        if typed:
            rating = int(typed) if typed.isdigit() else None
            if rating is None:
                report.reject(number, RATING, f"ожидается число от 1 до 5, указано «{typed}»")
        if not record.get(DURATION) and not record.get(RATING):
            report.reject(number, DURATION, f"{REQUIRED_HINT} (или укажите «{RATING}» для отзыва)")
        given_on = _date(record.get(GIVEN_ON), number, GIVEN_ON, report, required=False)
        if len(report.rejected) > errors_before:
            continue
        assert pair is not None and mentee_id is not None and held_on is not None and kind
        rows.append(
            _Row(
                number=number,
                pair_id=pair.id,
                mentee_id=mentee_id,
                held_on=held_on,
                kind=kind,
                duration=duration,
                format=meeting_format,
                topic=record.get(TOPIC),
                done=record.get(DONE),
                next_step=record.get(NEXT_STEP),
                rating=rating,
                comment=record.get(COMMENT),
                given_on=given_on or held_on,
            )
        )
    return rows


def _date(
    typed: str, number: int, field: str, report: ImportReport, *, required: bool
) -> date | None:
    if not typed:
        if required:
            report.reject(number, field, REQUIRED_HINT)
        return None
    parsed = parse_date(typed)
    if parsed is None:
        report.reject(number, field, f"ожидается дата ДД.ММ.ГГГГ, указано «{typed}»")
    return parsed


def _reject(report: ImportReport, number: int, refused: MeetingRefused, default_field: str) -> None:
    # The file has no «Пара» column: a pair that is not going on is named by its mentee's cell.
    field = MENTEE if refused.field_ru == meetings.FIELD_PAIR else refused.field_ru
    report.reject(number, field or default_field, refused.message_ru)


def import_meetings(
    *, session: Session, cycle_id: uuid.UUID, path: Path, max_bytes: int, today: date
) -> MeetingImportReport:
    """Validate one export and record every row, or none when a row is bad (flushed, the caller
    commits); one audit event per file with the counts."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    mappings = saved_mappings(session=session, organization_id=cycle.organization_id, spec=MEETINGS)
    table = read_table(path, MEETINGS, max_bytes=max_bytes, mappings=mappings)
    table.require((MENTOR, MENTEE, HELD_ON, KIND))
    report = MeetingImportReport(file=table.file, ignored_columns=table.ignored)
    rows = _read_rows(session, cycle_id, table.records, report)

    # Checked by the core's pure rules against what is stored, then written in one INSERT per
    # table:    # the benchmark's 2 000 pairs would spend minutes on a few queries per row.
    pairs = {
        pair.id: pair
        for pair in session.exec(select(MentorshipPair).where(MentorshipPair.cycle_id == cycle_id))
    }
    # Only the file's dates can hold a meeting it repeats (one per pair, day and kind): a
    # month's file then reads that month's logs, not the whole year's.
    in_cycle = col(MeetingLog.pair_id).in_(
        select(MentorshipPair.id).where(MentorshipPair.cycle_id == cycle_id)
    )
    days = [row.held_on for row in rows]
    in_file_dates = (
        (col(MeetingLog.held_on) >= min(days)) & (col(MeetingLog.held_on) <= max(days))
        if days
        else false()
    )
    stored = {
        (m.pair_id, m.held_on, m.kind): m
        for m in (
            LoggedMeetingRow(*row)
            for row in session.execute(select(*LOG_COLUMNS).where(in_cycle, in_file_dates))
        )
    }
    given = set(
        session.exec(
            select(MeetingFeedback.meeting_id, MeetingFeedback.mentee_id)
            .join(MeetingLog, col(MeetingLog.id) == col(MeetingFeedback.meeting_id))
            .where(in_cycle, in_file_dates)
        ).all()
    )
    # Rows for one INSERT each (a month's file is thousands of rows: ORM objects cost seconds).
    new_meetings: list[dict[str, object]] = []
    new_feedback: list[dict[str, object]] = []
    created_rows: set[int] = set()
    source = table.file
    # Meetings first: a feedback row may come before its meeting's row in the file.
    for row in rows:
        key = (row.pair_id, row.held_on, row.kind)
        if row.duration is None or key in stored:
            continue  # feedback only, or recorded before (the same meeting again adds nothing)
        try:
            meetings.check_meeting(
                pair=pairs[row.pair_id],
                held_on=row.held_on,
                duration_minutes=row.duration,
                today=today,
            )
        except MeetingRefused as refused:
            _reject(report, row.number, refused, HELD_ON)
            continue
        meeting = LoggedMeetingRow(
            id=uuid.uuid4(),
            pair_id=row.pair_id,
            held_on=row.held_on,
            kind=row.kind,
            duration_minutes=row.duration,
            format=row.format,
            topic=row.topic,
            done=row.done,
            next_step=row.next_step,
        )
        stored[key] = meeting
        new_meetings.append({**meeting.as_dict(), "source": f"{source}:{row.number}"})
        created_rows.add(row.number)
    for row in rows:
        if row.rating is None:
            continue
        found = stored.get((row.pair_id, row.held_on, row.kind))
        if found is None:
            report.reject(
                row.number,
                HELD_ON,
                f"встреча «{meetings.KIND_LABEL_RU[row.kind]}» {row.held_on:%d.%m.%Y} не записана: "
                f"отзыв не к чему привязать (укажите «{DURATION}», чтобы записать встречу)",
            )
            continue
        if (found.id, row.mentee_id) in given:
            continue
        try:
            meetings.check_feedback(
                meeting=found, rating=row.rating, given_on=row.given_on, today=today
            )
        except MeetingRefused as refused:
            _reject(report, row.number, refused, RATING)
            continue
        new_feedback.append(
            {
                "id": uuid.uuid4(),
                "meeting_id": found.id,
                "mentee_id": row.mentee_id,
                "rating": row.rating,
                "comment": row.comment,
                "given_on": row.given_on,
                "source": f"{source}:{row.number}",
            }
        )
        given.add((found.id, row.mentee_id))
        created_rows.add(row.number)
    report.rejected.sort(key=lambda e: e.row)
    if report.rejected:
        return report  # all or nothing: nothing was added to the session
    if new_meetings:
        session.execute(insert(MeetingLog), new_meetings)
    if new_feedback:
        session.execute(insert(MeetingFeedback), new_feedback)
    report.meetings_recorded, report.feedback_recorded = len(new_meetings), len(new_feedback)
    report.accepted = len(created_rows)
    report.unchanged = len(rows) - len(created_rows)
    if created_rows:
        # One event per file: counts and the file's name, no names of people.
        repository.record_audit(
            session=session,
            actor="curator",
            action="meetings.imported",
            cycle_id=cycle_id,
            entity=f"file:{source}",
            details={
                "meetings": report.meetings_recorded,
                "feedback": report.feedback_recorded,
                "pairs": len({m["pair_id"] for m in new_meetings}),
            },
        )
    return report


def import_meetings_transaction(
    *, engine: Engine, cycle_id: uuid.UUID, path: Path, max_bytes: int, today: date
) -> MeetingImportReport:
    """Import one export in its own transaction: committed once, or not at all."""
    with session_scope(engine) as session:
        return import_meetings(
            session=session, cycle_id=cycle_id, path=path, max_bytes=max_bytes, today=today
        )
