"""Meeting logs of a pair: the target model's sequence and the feedback duty (no Prefect).

DESIGN §3 stage 4 and the regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``):
a pair meets in a fixed sequence — «встреча-знакомство», «пробная рабочая встреча»,
«встреча-планирование», «совместная работа» each with feedback, «итоговая встреча».
A meeting out of sequence is recorded (it happened) and flagged, never refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlmodel import Session, col, select

from models import (
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    PairMember,
    PairStatus,
)
from nastavnik import repository
from nastavnik.pairs import ONGOING
from nastavnik.tabular import parse_date

SEQUENCE: tuple[MeetingKind, ...] = (
    MeetingKind.intro,
    MeetingKind.trial,
    MeetingKind.planning,
    MeetingKind.joint_work,
    MeetingKind.final,
)
"""The kinds in the order the target model holds them; joint work repeats."""

FEEDBACK_REQUIRED = frozenset({MeetingKind.joint_work, MeetingKind.final})
"""Kinds after which the mentee gives feedback (rating and comment)."""

KIND_LABEL_RU = {
    MeetingKind.intro: "Встреча-знакомство",
    MeetingKind.trial: "Пробная рабочая встреча",
    MeetingKind.planning: "Встреча-планирование",
    MeetingKind.joint_work: "Совместная работа",
    MeetingKind.final: "Итоговая встреча",
}

_ONCE = frozenset({MeetingKind.intro, MeetingKind.trial, MeetingKind.planning, MeetingKind.final})


@dataclass(frozen=True)
class SequenceProblem:
    """A meeting held out of the target model's sequence, explained in Russian."""

    held_on: date
    kind: MeetingKind
    message_ru: str


def sequence_problems(meetings: Iterable[tuple[date, MeetingKind]]) -> list[SequenceProblem]:
    """Meetings held too early, once-only kinds held twice, and anything after the final meeting.

    Meetings are taken in date order (the order within a day follows the sequence, so an
    intro and a trial on the same day are fine).
    """
    ordered = sorted(meetings, key=lambda m: (m[0], SEQUENCE.index(m[1])))
    problems: list[SequenceProblem] = []
    seen: set[MeetingKind] = set()
    for held_on, kind in ordered:
        position = SEQUENCE.index(kind)
        missing = [k for k in SEQUENCE[:position] if k not in seen]
        if MeetingKind.final in seen:
            problems.append(
                SequenceProblem(held_on, kind, f"«{KIND_LABEL_RU[kind]}» после итоговой встречи")
            )
        elif missing:
            names = ", ".join(f"«{KIND_LABEL_RU[k]}»" for k in missing)
            problems.append(
                SequenceProblem(held_on, kind, f"«{KIND_LABEL_RU[kind]}» прежде, чем {names}")
            )
        elif kind in _ONCE and kind in seen:
            problems.append(
                SequenceProblem(held_on, kind, f"«{KIND_LABEL_RU[kind]}» проведена повторно")
            )
        seen.add(kind)
    return problems


# --- recording meetings and feedback --------------------------------------------------------

FORMAT_LABEL_RU = {
    MeetingFormat.in_person: "очно",
    MeetingFormat.online: "дистанционно",
    MeetingFormat.mixed: "смешанный формат",
}

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
"""A meeting lasts from five minutes to a working day; anything else is a typing error."""

MIN_RATING, MAX_RATING = 1, 5


class MeetingRefused(ValueError):
    """A meeting or feedback the regulation does not allow, explained in Russian and English.

    ``code`` names the rule for the audit log, ``field_ru`` the form's field the problem is in
    (an import names it in its row error)."""

    def __init__(self, code: str, message_ru: str, message_en: str, field_ru: str = "") -> None:
        super().__init__(f"{message_ru} ({message_en})")
        self.code = code
        self.message_ru = message_ru
        self.message_en = message_en
        self.field_ru = field_ru


# Form fields as the online form and the web page call them (import errors name them).
FIELD_PAIR = "Пара"
FIELD_DATE = "Дата встречи"
FIELD_KIND = "Вид встречи"
FIELD_DURATION = "Длительность, мин"
FIELD_FORMAT = "Формат"
FIELD_RATING = "Оценка"
FIELD_MENTEE = "Наставляемый"
FIELD_FEEDBACK_DATE = "Дата отзыва"


@dataclass(frozen=True)
class RecordedMeeting:
    """A meeting as stored, whether this call created it, and the pair's sequence problems now."""

    meeting: MeetingLog
    created: bool
    problems: list[SequenceProblem]

    @property
    def own_problems(self) -> list[SequenceProblem]:
        """The problems of this meeting itself (a meeting is one per pair, day and kind)."""
        return [
            p
            for p in self.problems
            if (p.held_on, p.kind) == (self.meeting.held_on, self.meeting.kind)
        ]


@dataclass(frozen=True)
class RecordedFeedback:
    """A mentee's feedback as stored and whether this call created it."""

    feedback: MeetingFeedback
    created: bool


def _pair(session: Session, pair_id: uuid.UUID) -> MentorshipPair:
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise MeetingRefused(
            "unknown_pair", "пара не найдена", f"pair {pair_id} is not known", FIELD_PAIR
        )
    return pair


def _mentee_ids(session: Session, pair_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.exec(select(PairMember.mentee_id).where(PairMember.pair_id == pair_id)))


def _meetings(session: Session, pair_id: uuid.UUID) -> list[MeetingLog]:
    return list(
        session.exec(
            select(MeetingLog)
            .where(MeetingLog.pair_id == pair_id)
            .order_by(col(MeetingLog.held_on), col(MeetingLog.created_at))
        )
    )


def pair_problems(*, session: Session, pair_id: uuid.UUID) -> list[SequenceProblem]:
    """The pair's meetings out of the target model's sequence, as they stand now."""
    return sequence_problems((m.held_on, m.kind) for m in _meetings(session, pair_id))


PAIR_STATUS_RU = {
    PairStatus.ended: "срок истёк",
    PairStatus.terminated: "прекращено досрочно",
    PairStatus.replaced: "наставник заменён",
    PairStatus.dropped: "пара отменена",
    PairStatus.draft: "пара ещё не утверждена",
    PairStatus.proposed: "пара ещё не утверждена",
}


def _require_mentor(pair: MentorshipPair, participant_id: uuid.UUID) -> None:
    if participant_id != pair.mentor_id:
        raise MeetingRefused(
            "not_mentor",
            "записать встречу может только наставник пары",
            "only the pair's mentor may record its meetings",
        )


def require_mentor(*, session: Session, pair_id: uuid.UUID, participant_id: uuid.UUID) -> None:
    """Refuse anyone but the pair's mentor before reading their form (a mentee's link)."""
    _require_mentor(_pair(session, pair_id), participant_id)


def check_meeting(
    *,
    pair: MentorshipPair,
    held_on: date,
    duration_minutes: int,
    today: date,
) -> None:
    """Refuse a meeting the pair cannot have had; the first broken rule is reported.

    A pure check (no queries), so an import checks thousands of rows without a query each."""
    if pair.status not in ONGOING:
        status_ru = PAIR_STATUS_RU.get(pair.status, pair.status.value)
        raise MeetingRefused(
            "pair_not_ongoing",
            f"наставничество этой пары не продолжается ({status_ru}): "
            "встречи больше не записываются",
            f"the pair is {pair.status.value}, not ongoing: no meetings are recorded",
            FIELD_PAIR,
        )
    if held_on > today:
        raise MeetingRefused(
            "future",
            f"дата встречи {held_on:%d.%m.%Y} ещё не наступила",
            f"the meeting date {held_on.isoformat()} is in the future",
            FIELD_DATE,
        )
    if pair.starts_on is not None and held_on < pair.starts_on:
        raise MeetingRefused(
            "before_start",
            f"встреча {held_on:%d.%m.%Y} раньше начала наставничества ({pair.starts_on:%d.%m.%Y})",
            f"the meeting on {held_on.isoformat()} precedes the pair's start "
            f"({pair.starts_on.isoformat()})",
            FIELD_DATE,
        )
    if pair.ends_on is not None and held_on > pair.ends_on:
        raise MeetingRefused(
            "after_end",
            f"встреча {held_on:%d.%m.%Y} позже окончания наставничества ({pair.ends_on:%d.%m.%Y})",
            f"the meeting on {held_on.isoformat()} follows the pair's end "
            f"({pair.ends_on.isoformat()})",
            FIELD_DATE,
        )
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise MeetingRefused(
            "duration",
            f"длительность встречи от {MIN_DURATION_MINUTES} до {MAX_DURATION_MINUTES} минут, "
            f"указано {duration_minutes}",
            f"a meeting lasts {MIN_DURATION_MINUTES}..{MAX_DURATION_MINUTES} minutes, "
            f"got {duration_minutes}",
            FIELD_DURATION,
        )


def _existing_meeting(
    session: Session, pair_id: uuid.UUID, held_on: date, kind: MeetingKind
) -> MeetingLog | None:
    return session.exec(
        select(MeetingLog).where(
            MeetingLog.pair_id == pair_id, MeetingLog.held_on == held_on, MeetingLog.kind == kind
        )
    ).first()


def record_meeting(
    *,
    session: Session,
    pair_id: uuid.UUID,
    held_on: date,
    kind: MeetingKind,
    duration_minutes: int,
    format: MeetingFormat,
    topic: str,
    done: str,
    next_step: str,
    source: str,
    recorded_by: uuid.UUID | None = None,
    today: date,
) -> RecordedMeeting:
    """Record one meeting of an ongoing pair (flushed, not committed); audited.

    One meeting per pair, day and kind: the same meeting again changes nothing and returns the
    stored one (a re-imported export, a form sent twice). Out of sequence is recorded and
    flagged, never refused (the meeting happened); a pair that is not going on, a date outside
    its term or in the future, a duration outside 5..480 minutes raise ``MeetingRefused``."""
    pair = _pair(session, pair_id)
    if recorded_by is not None:
        _require_mentor(pair, recorded_by)
    existing = _existing_meeting(session, pair_id, held_on, kind)
    if existing is not None:
        return RecordedMeeting(
            existing, created=False, problems=pair_problems(session=session, pair_id=pair_id)
        )
    check_meeting(pair=pair, held_on=held_on, duration_minutes=duration_minutes, today=today)
    meeting = MeetingLog(
        pair_id=pair_id,
        held_on=held_on,
        kind=kind,
        duration_minutes=duration_minutes,
        format=format,
        topic=topic.strip(),
        done=done.strip(),
        next_step=next_step.strip(),
        source=source,
        recorded_by=recorded_by,
    )
    session.add(meeting)
    session.flush()
    problems = pair_problems(session=session, pair_id=pair_id)
    recorded = RecordedMeeting(meeting, created=True, problems=problems)
    # Ids, dates and kinds only: the audit log never needs a child's name or the notes.
    repository.record_audit(
        session=session,
        actor=f"participant:{recorded_by}" if recorded_by else source or "curator",
        action="meeting.recorded",
        cycle_id=pair.cycle_id,
        entity=f"meeting:{meeting.id}",
        details={
            "pair": str(pair_id),
            "held_on": held_on.isoformat(),
            "kind": kind.value,
            "source": source,
            "out_of_sequence": [p.message_ru for p in recorded.own_problems],
        },
        event_key=f"meeting.recorded:{meeting.id}",
    )
    return recorded


def require_mentee(*, mentee_id: uuid.UUID, mentee_ids: Iterable[uuid.UUID]) -> None:
    """Refuse feedback from anyone but one of the pair's mentees."""
    if mentee_id not in mentee_ids:
        raise MeetingRefused(
            "not_mentee",
            "отзыв о встрече даёт только наставляемый этой пары",
            "only a mentee of the meeting's pair gives feedback on it",
            FIELD_MENTEE,
        )


class MeetingFacts(Protocol):
    """What the feedback rules read of a meeting (a MeetingLog, or its columns as read)."""

    @property
    def kind(self) -> MeetingKind: ...

    @property
    def held_on(self) -> date: ...


def check_feedback(*, meeting: MeetingFacts, rating: int, given_on: date, today: date) -> None:
    """Refuse feedback on a kind that takes none, a rating outside 1..5, an impossible date."""
    if meeting.kind not in FEEDBACK_REQUIRED:
        required = " и ".join(f"«{KIND_LABEL_RU[k]}»" for k in SEQUENCE if k in FEEDBACK_REQUIRED)
        raise MeetingRefused(
            "no_feedback_kind",
            f"отзыв даётся только о встречах {required}, "
            f"а эта встреча — «{KIND_LABEL_RU[meeting.kind]}»",
            f"feedback is given on joint-work and final meetings only, not on {meeting.kind.value}",
            FIELD_KIND,
        )
    if not MIN_RATING <= rating <= MAX_RATING:
        raise MeetingRefused(
            "rating",
            f"оценка от {MIN_RATING} до {MAX_RATING}, указано {rating}",
            f"a rating is {MIN_RATING}..{MAX_RATING}, got {rating}",
            FIELD_RATING,
        )
    if given_on < meeting.held_on:
        raise MeetingRefused(
            "before_meeting",
            f"отзыв не может быть дан раньше встречи ({meeting.held_on:%d.%m.%Y})",
            f"feedback cannot precede the meeting ({meeting.held_on.isoformat()})",
            FIELD_FEEDBACK_DATE,
        )
    if given_on > today:
        raise MeetingRefused(
            "future",
            f"дата отзыва {given_on:%d.%m.%Y} ещё не наступила",
            f"the feedback date {given_on.isoformat()} is in the future",
            FIELD_FEEDBACK_DATE,
        )


def record_feedback(
    *,
    session: Session,
    meeting_id: uuid.UUID,
    mentee_id: uuid.UUID,
    rating: int,
    comment: str,
    given_on: date,
    source: str,
    today: date,
    pair_id: uuid.UUID | None = None,
) -> RecordedFeedback:
    """Record a mentee's feedback on a joint-work or final meeting (flushed); audited.

    Only a mentee of the meeting's pair (and of ``pair_id`` when given: a link's pair) gives it,
    on or after the meeting's day and not in the future; once per meeting and mentee — the same
    feedback again changes nothing. Otherwise ``MeetingRefused``."""
    meeting = session.get(MeetingLog, meeting_id)
    if meeting is None or (pair_id is not None and meeting.pair_id != pair_id):
        raise MeetingRefused(
            "unknown_meeting",
            "встреча не найдена среди встреч вашей пары",
            f"meeting {meeting_id} is not one of the pair's meetings",
        )
    require_mentee(mentee_id=mentee_id, mentee_ids=_mentee_ids(session, meeting.pair_id))
    existing = session.exec(
        select(MeetingFeedback).where(
            MeetingFeedback.meeting_id == meeting_id, MeetingFeedback.mentee_id == mentee_id
        )
    ).first()
    if existing is not None:
        return RecordedFeedback(existing, created=False)
    check_feedback(meeting=meeting, rating=rating, given_on=given_on, today=today)
    feedback = MeetingFeedback(
        meeting_id=meeting_id,
        mentee_id=mentee_id,
        rating=rating,
        comment=comment.strip(),
        given_on=given_on,
        source=source,
    )
    session.add(feedback)
    session.flush()
    pair = session.get(MentorshipPair, meeting.pair_id)
    repository.record_audit(
        session=session,
        actor=f"participant:{mentee_id}",
        action="meeting.feedback",
        cycle_id=pair.cycle_id if pair else None,
        entity=f"meeting:{meeting_id}",
        details={"pair": str(meeting.pair_id), "given_on": given_on.isoformat(), "source": source},
        event_key=f"meeting.feedback:{feedback.id}",
    )
    return RecordedFeedback(feedback, created=True)


def record_refusal(
    *,
    session: Session,
    refused: MeetingRefused,
    actor: str,
    pair_id: uuid.UUID | None,
    channel: str,
    at: datetime | None = None,
) -> None:
    """Audit a refused meeting or feedback (the caller commits it apart from the refused work)."""
    pair = session.get(MentorshipPair, pair_id) if pair_id else None
    repository.record_audit(
        session=session,
        actor=actor,
        action="meeting.refused",
        cycle_id=pair.cycle_id if pair else None,
        entity=f"pair:{pair_id}" if pair_id else "meeting",
        details={"problem": refused.code, "channel": channel},
        at=at,
    )


# --- reading a pair's log -------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackDue:
    """A meeting of a required kind still waiting for one mentee's feedback."""

    meeting_id: uuid.UUID
    pair_id: uuid.UUID
    held_on: date
    kind: MeetingKind
    mentee_id: uuid.UUID


def feedback_due_for_pairs(*, session: Session, pair_ids: Iterable[uuid.UUID]) -> list[FeedbackDue]:
    """Every missing feedback of these pairs (three queries whatever the number of pairs)."""
    ids = list(pair_ids)
    if not ids:
        return []
    meetings = session.exec(
        select(MeetingLog)
        .where(
            col(MeetingLog.pair_id).in_(ids),
            col(MeetingLog.kind).in_(list(FEEDBACK_REQUIRED)),
        )
        .order_by(col(MeetingLog.held_on), col(MeetingLog.id))
    ).all()
    mentees: dict[uuid.UUID, list[uuid.UUID]] = {}
    for pair_id, mentee_id in session.exec(
        select(PairMember.pair_id, PairMember.mentee_id).where(col(PairMember.pair_id).in_(ids))
    ):
        mentees.setdefault(pair_id, []).append(mentee_id)
    given = set(
        session.exec(
            select(MeetingFeedback.meeting_id, MeetingFeedback.mentee_id).where(
                col(MeetingFeedback.meeting_id).in_([m.id for m in meetings])
            )
        ).all()
    )
    return [
        FeedbackDue(m.id, m.pair_id, m.held_on, m.kind, mentee_id)
        for m in meetings
        for mentee_id in sorted(mentees.get(m.pair_id, []))
        if (m.id, mentee_id) not in given
    ]


def feedback_due(*, session: Session, pair_id: uuid.UUID) -> list[FeedbackDue]:
    """The pair's joint-work and final meetings missing some mentee's feedback, oldest first."""
    return feedback_due_for_pairs(session=session, pair_ids=[pair_id])


@dataclass(frozen=True)
class LoggedMeeting:
    """One meeting of a pair's log with its feedback and its sequence flags."""

    meeting: MeetingLog
    feedback: list[MeetingFeedback]
    feedback_missing: list[uuid.UUID]  # mentees who still owe feedback
    problems: list[str]  # Russian, empty when in sequence

    @property
    def kind_ru(self) -> str:
        return KIND_LABEL_RU[self.meeting.kind]

    @property
    def format_ru(self) -> str:
        return FORMAT_LABEL_RU[self.meeting.format]

    @property
    def feedback_required(self) -> bool:
        return self.meeting.kind in FEEDBACK_REQUIRED


@dataclass(frozen=True)
class PairLog:
    """A pair's meetings in date order, flagged against the sequence."""

    pair_id: uuid.UUID
    meetings: list[LoggedMeeting]

    @property
    def problems(self) -> list[str]:
        return [p for m in self.meetings for p in m.problems]


def pair_log(*, session: Session, pair_id: uuid.UUID) -> PairLog:
    """The pair's meetings by date (a day's in sequence order) with their feedback and flags."""
    meetings = sorted(
        _meetings(session, pair_id), key=lambda m: (m.held_on, SEQUENCE.index(m.kind))
    )
    flags: dict[tuple[date, MeetingKind], list[str]] = {}
    for problem in sequence_problems((m.held_on, m.kind) for m in meetings):
        flags.setdefault((problem.held_on, problem.kind), []).append(problem.message_ru)
    feedback: dict[uuid.UUID, list[MeetingFeedback]] = {}
    if meetings:
        for item in session.exec(
            select(MeetingFeedback)
            .where(col(MeetingFeedback.meeting_id).in_([m.id for m in meetings]))
            .order_by(col(MeetingFeedback.given_on))
        ):
            feedback.setdefault(item.meeting_id, []).append(item)
    mentees = sorted(_mentee_ids(session, pair_id))
    logged = []
    for meeting in meetings:
        given = feedback.get(meeting.id, [])
        missing = (
            [m for m in mentees if m not in {f.mentee_id for f in given}]
            if meeting.kind in FEEDBACK_REQUIRED
            else []
        )
        logged.append(
            LoggedMeeting(meeting, given, missing, flags.get((meeting.held_on, meeting.kind), []))
        )
    return PairLog(pair_id, logged)


# --- reading form values (import, CLI, web) -------------------------------------------------

_KIND_WORDS: dict[str, MeetingKind] = {}
for _kind, _label in KIND_LABEL_RU.items():
    _KIND_WORDS[_kind.value] = _kind
    _KIND_WORDS[_label] = _kind
for _kind, _words in {
    MeetingKind.intro: ("знакомство", "встреча знакомство", "вводная встреча", "первая встреча"),
    MeetingKind.trial: ("пробная", "пробная встреча", "пробная рабочая"),
    MeetingKind.planning: ("планирование", "встреча по планированию"),
    MeetingKind.joint_work: (
        "совместная",
        "совместная работа",
        "рабочая встреча",
        "совместная работа наставника и наставляемого",
    ),
    MeetingKind.final: ("итоговая", "итоговая встреча", "завершающая встреча", "заключительная"),
}.items():
    for _word in _words:
        _KIND_WORDS[_word] = _kind

_FORMAT_WORDS: dict[str, MeetingFormat] = {
    "in_person": MeetingFormat.in_person,
    "очно": MeetingFormat.in_person,
    "очная": MeetingFormat.in_person,
    "очный": MeetingFormat.in_person,
    "лично": MeetingFormat.in_person,
    "online": MeetingFormat.online,
    "онлайн": MeetingFormat.online,
    "дистанционно": MeetingFormat.online,
    "дистанционная": MeetingFormat.online,
    "дистанционный": MeetingFormat.online,
    "mixed": MeetingFormat.mixed,
    "смешанный": MeetingFormat.mixed,
    "смешанная": MeetingFormat.mixed,
    "смешанно": MeetingFormat.mixed,
    "смешанный формат": MeetingFormat.mixed,
}


def _fold(text: str) -> str:
    # «Встреча-знакомство», «встреча – знакомство» and «встреча знакомство» are one kind.
    for dash in "-–—":
        text = text.replace(dash, " ")
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").split()).casefold().rstrip(".")


_KIND_LOOKUP = {_fold(word): kind for word, kind in _KIND_WORDS.items()}
_FORMAT_LOOKUP = {_fold(word): fmt for word, fmt in _FORMAT_WORDS.items()}
_MINUTES = re.compile(r"^(\d{1,4})\s*(?:мин(?:ут[аы]?)?\.?)?$")


def parse_kind(text: str) -> MeetingKind | None:
    """A kind from its Russian label («Совместная работа»), a short word or its code."""
    return _KIND_LOOKUP.get(_fold(text))


def parse_format(text: str) -> MeetingFormat | None:
    """A format from «очно», «дистанционно», «онлайн», «смешанный» or its code."""
    return _FORMAT_LOOKUP.get(_fold(text))


def parse_minutes(text: str) -> int | None:
    """Minutes from «45», «45 мин» or «45 минут»; None otherwise."""
    match = _MINUTES.match(text.strip().casefold())
    return int(match.group(1)) if match else None


KIND_HINT_RU = "допустимы: " + ", ".join(f"«{KIND_LABEL_RU[k]}»" for k in SEQUENCE)
FORMAT_HINT_RU = "допустимы: «очно», «дистанционно», «смешанный»"

NOT_YOURS = frozenset({"not_mentor", "not_mentee", "unknown_meeting", "unknown_pair"})
"""Refusals of who posted (answered as forbidden), not of what they typed."""


def _invalid(field_ru: str, message_ru: str, message_en: str) -> MeetingRefused:
    return MeetingRefused("invalid", message_ru, message_en, field_ru)


def form_date(text: str) -> date:
    """A date from a form: the browser's ГГГГ-ММ-ДД or a typed ДД.ММ.ГГГГ."""
    parsed = parse_date(text) if text.strip() else None
    if parsed is None:
        raise _invalid(FIELD_DATE, "укажите дату встречи", f"no valid meeting date: {text!r}")
    return parsed


def form_kind(text: str) -> MeetingKind:
    """A kind from a form's choice or a typed Russian label."""
    kind = parse_kind(text)
    if kind is None:
        raise _invalid(FIELD_KIND, f"выберите вид встречи; {KIND_HINT_RU}", f"no kind: {text!r}")
    return kind


def form_format(text: str) -> MeetingFormat:
    """A format from a form's choice; empty means in person."""
    fmt = parse_format(text) if text.strip() else MeetingFormat.in_person
    if fmt is None:
        raise _invalid(
            FIELD_FORMAT, f"неизвестный формат; {FORMAT_HINT_RU}", f"no format: {text!r}"
        )
    return fmt


def form_minutes(text: str) -> int:
    """Minutes from a form's number field."""
    minutes = parse_minutes(text)
    if minutes is None:
        raise _invalid(
            FIELD_DURATION, "укажите длительность встречи в минутах", f"no minutes: {text!r}"
        )
    return minutes


def form_rating(text: str) -> int:
    """A rating 1..5 from a form's choice."""
    if not text.strip().isdigit():
        raise _invalid(FIELD_RATING, "выберите оценку от 1 до 5", f"no rating: {text!r}")
    return int(text)


def form_meeting_id(text: str) -> uuid.UUID:
    """A meeting id from an address; a garbled one is no meeting of the pair."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise MeetingRefused(
            "unknown_meeting",
            "встреча не найдена среди встреч вашей пары",
            f"meeting {text!r} is not one of the pair's meetings",
        ) from None
