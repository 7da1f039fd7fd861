"""Meeting logs and the mentees' feedback in the core (DESIGN §3 stage 4, no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``): the pair meets in sequence —
«встреча-знакомство», «пробная рабочая встреча», «встреча-планирование», «совместная работа»
with feedback after each, «итоговая встреча» with feedback; §2.10 ends a pair early, after
which it has no meetings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import (
    AuditEvent,
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    PairStatus,
    Role,
)
from nastavnik import meetings
from nastavnik.meetings import MeetingRefused
from tests.test_links import _pair, _participant

K = MeetingKind
TODAY = date(2026, 11, 30)  # the pairs run from 1 October 2026 to 31 May 2027


@dataclass(frozen=True)
class Pairs:
    """Pair A (mentor A, mentee A) and pair B (mentor B, mentee B), active, one cycle."""

    org_id: uuid.UUID
    cycle_id: uuid.UUID
    pair_a: uuid.UUID
    pair_b: uuid.UUID
    mentor_a: uuid.UUID
    mentee_a: uuid.UUID
    mentor_b: uuid.UUID
    mentee_b: uuid.UUID


def make_pairs(engine: Engine, org_id: uuid.UUID, cycle_id: uuid.UUID) -> Pairs:
    """Two active pairs of the cycle, named like a school's export names them."""
    with Session(engine) as session:
        ids = [
            _participant(session, org_id, cycle_id, name, role)
            for name, role in [
                ("Смирнова Анна Сергеевна", Role.mentor),
                ("Кузнецов Илья Андреевич", Role.mentee),
                ("Орлов Павел Викторович", Role.mentor),
                ("Лебедева Вера Олеговна", Role.mentee),
            ]
        ]
        pair_a = _pair(session, cycle_id, ids[0], ids[1])
        pair_b = _pair(session, cycle_id, ids[2], ids[3])
        session.commit()
    return Pairs(org_id, cycle_id, pair_a, pair_b, *ids)


@pytest.fixture
def pairs(engine, cycle_ids) -> Pairs:
    """Two active pairs, 1 October 2026 – 31 May 2027."""
    return make_pairs(engine, *cycle_ids)


def record(
    session: Session,
    pair_id: uuid.UUID,
    held_on: date,
    kind: MeetingKind,
    *,
    duration: int = 45,
    recorded_by: uuid.UUID | None = None,
    today: date = TODAY,
) -> meetings.RecordedMeeting:
    return meetings.record_meeting(
        session=session,
        pair_id=pair_id,
        held_on=held_on,
        kind=kind,
        duration_minutes=duration,
        format=MeetingFormat.in_person,
        topic="Тема",
        done="Что сделано",
        next_step="Следующий шаг",
        source="test",
        recorded_by=recorded_by,
        today=today,
    )


def feedback(
    session: Session,
    meeting_id: uuid.UUID,
    mentee_id: uuid.UUID,
    *,
    rating: int = 5,
    given_on: date = TODAY,
) -> meetings.RecordedFeedback:
    return meetings.record_feedback(
        session=session,
        meeting_id=meeting_id,
        mentee_id=mentee_id,
        rating=rating,
        comment="Было полезно",
        given_on=given_on,
        source="test",
        today=TODAY,
    )


def _set_status(engine: Engine, pair_id: uuid.UUID, status: PairStatus) -> None:
    with Session(engine) as session:
        pair = session.get(MentorshipPair, pair_id)
        assert pair is not None
        pair.status = status
        session.add(pair)
        session.commit()


def test_a_meeting_is_recorded_once_and_audited_without_names(engine, pairs):
    with Session(engine) as session:
        first = record(
            session, pairs.pair_a, date(2026, 10, 5), K.intro, recorded_by=pairs.mentor_a
        )
        again = record(session, pairs.pair_a, date(2026, 10, 5), K.intro, duration=90)
        session.commit()
        assert first.created and not again.created
        assert again.meeting.id == first.meeting.id
        assert again.meeting.duration_minutes == 45  # the same meeting again changes nothing
        assert first.problems == []
        assert len(session.exec(select(MeetingLog)).all()) == 1
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "meeting.recorded")
        ).all()
    assert event.entity == f"meeting:{first.meeting.id}"
    assert event.actor == f"participant:{pairs.mentor_a}"
    assert event.details["kind"] == "intro"
    assert "Смирнова" not in str(event.details) and "Кузнецов" not in str(event.details)


@pytest.mark.parametrize(
    "status", [PairStatus.ended, PairStatus.terminated, PairStatus.replaced, PairStatus.draft]
)
def test_a_log_for_a_pair_that_is_not_going_on_is_refused(engine, pairs, status):
    _set_status(engine, pairs.pair_a, status)
    with Session(engine) as session:
        with pytest.raises(MeetingRefused) as refused:
            record(session, pairs.pair_a, date(2026, 10, 5), K.intro)
    assert refused.value.code == "pair_not_ongoing"
    assert "не продолжается" in refused.value.message_ru
    assert "not ongoing" in str(refused.value)


def test_an_extended_pair_goes_on_recording(engine, pairs):
    _set_status(engine, pairs.pair_a, PairStatus.extended)
    with Session(engine) as session:
        assert record(session, pairs.pair_a, date(2026, 10, 5), K.intro).created


@pytest.mark.parametrize(
    ("held_on", "duration", "code", "field"),
    [
        (date(2026, 9, 30), 45, "before_start", "Дата встречи"),
        (date(2026, 12, 1), 45, "future", "Дата встречи"),
        (date(2026, 10, 5), 4, "duration", "Длительность, мин"),
        (date(2026, 10, 5), 481, "duration", "Длительность, мин"),
    ],
)
def test_dates_outside_the_term_and_odd_durations_are_refused(
    engine, pairs, held_on, duration, code, field
):
    with Session(engine) as session:
        with pytest.raises(MeetingRefused) as refused:
            record(session, pairs.pair_a, held_on, K.intro, duration=duration)
    assert (refused.value.code, refused.value.field_ru) == (code, field)


def test_a_meeting_after_the_pairs_end_date_is_refused(engine, pairs):
    with Session(engine) as session:
        with pytest.raises(MeetingRefused, match="позже окончания наставничества"):
            record(session, pairs.pair_a, date(2027, 6, 1), K.final, today=date(2027, 6, 2))
        # The bounds themselves are inside the term, and 5 and 480 minutes are fine.
        record(session, pairs.pair_a, date(2026, 10, 1), K.intro, duration=5)
        record(
            session, pairs.pair_a, date(2027, 5, 31), K.final, duration=480, today=date(2027, 6, 2)
        )


def test_only_the_pairs_mentor_records_its_meetings(engine, pairs):
    with Session(engine) as session:
        for someone in (pairs.mentee_a, pairs.mentor_b):
            with pytest.raises(MeetingRefused) as refused:
                record(session, pairs.pair_a, date(2026, 10, 5), K.intro, recorded_by=someone)
            assert refused.value.code == "not_mentor"
        # Not even a meeting already recorded is handed back to someone else.
        record(session, pairs.pair_a, date(2026, 10, 5), K.intro, recorded_by=pairs.mentor_a)
        with pytest.raises(MeetingRefused, match="только наставник"):
            record(session, pairs.pair_a, date(2026, 10, 5), K.intro, recorded_by=pairs.mentee_a)


def test_joint_work_before_the_intro_is_recorded_and_flagged(engine, pairs):
    with Session(engine) as session:
        early = record(session, pairs.pair_a, date(2026, 10, 2), K.joint_work)
        assert early.created
        assert [p.message_ru for p in early.own_problems] == [
            "«Совместная работа» прежде, чем «Встреча-знакомство», "
            "«Пробная рабочая встреча», «Встреча-планирование»"
        ]
        intro = record(session, pairs.pair_a, date(2026, 10, 5), K.intro)
        assert intro.own_problems == []
        log = meetings.pair_log(session=session, pair_id=pairs.pair_a)
    assert [(m.meeting.kind, bool(m.problems)) for m in log.meetings] == [
        (K.joint_work, True),
        (K.intro, False),
    ]
    assert log.meetings[0].kind_ru == "Совместная работа"


def test_feedback_is_required_on_joint_work_and_the_final_meeting(engine, pairs):
    with Session(engine) as session:
        held = {
            kind: record(session, pairs.pair_a, day, kind).meeting
            for day, kind in [
                (date(2026, 10, 1), K.intro),
                (date(2026, 10, 1), K.trial),
                (date(2026, 10, 8), K.planning),
                (date(2026, 11, 5), K.joint_work),
                (date(2026, 11, 26), K.final),
            ]
        }
        due = meetings.feedback_due(session=session, pair_id=pairs.pair_a)
        assert [(d.kind, d.mentee_id) for d in due] == [
            (K.joint_work, pairs.mentee_a),
            (K.final, pairs.mentee_a),
        ]
        for kind in (K.intro, K.trial, K.planning):
            with pytest.raises(MeetingRefused) as refused:
                feedback(session, held[kind].id, pairs.mentee_a)
            assert refused.value.code == "no_feedback_kind"
            assert "только о встречах «Совместная работа» и «Итоговая встреча»" in str(
                refused.value
            )
        given = feedback(session, held[K.joint_work].id, pairs.mentee_a, rating=4)
        again = feedback(session, held[K.joint_work].id, pairs.mentee_a, rating=1)
        session.commit()
        assert given.created and not again.created
        assert again.feedback.rating == 4
        due = meetings.feedback_due(session=session, pair_id=pairs.pair_a)
        assert [d.kind for d in due] == [K.final]
        log = meetings.pair_log(session=session, pair_id=pairs.pair_a)
        assert len(session.exec(select(MeetingFeedback)).all()) == 1
    by_kind = {m.meeting.kind: m for m in log.meetings}
    assert [f.rating for f in by_kind[K.joint_work].feedback] == [4]
    assert by_kind[K.joint_work].feedback_missing == []
    assert by_kind[K.final].feedback_missing == [pairs.mentee_a]
    assert by_kind[K.intro].feedback_missing == [] and not by_kind[K.intro].feedback_required
    assert log.problems == []


def test_only_the_pairs_mentee_gives_feedback(engine, pairs):
    with Session(engine) as session:
        meeting = record(session, pairs.pair_a, date(2026, 11, 5), K.joint_work).meeting
        for someone in (pairs.mentee_b, pairs.mentor_a):
            with pytest.raises(MeetingRefused) as refused:
                feedback(session, meeting.id, someone)
            assert refused.value.code == "not_mentee"
        # A link's pair: another pair's meeting is not found among its meetings.
        with pytest.raises(MeetingRefused) as refused:
            meetings.record_feedback(
                session=session,
                meeting_id=meeting.id,
                mentee_id=pairs.mentee_b,
                rating=5,
                comment="",
                given_on=TODAY,
                source="link",
                today=TODAY,
                pair_id=pairs.pair_b,
            )
        assert refused.value.code == "unknown_meeting"


@pytest.mark.parametrize(
    ("rating", "given_on", "code"),
    [(0, TODAY, "rating"), (6, TODAY, "rating"), (5, date(2026, 11, 4), "before_meeting")],
)
def test_feedback_rating_and_date_are_checked(engine, pairs, rating, given_on, code):
    with Session(engine) as session:
        meeting = record(session, pairs.pair_a, date(2026, 11, 5), K.joint_work).meeting
        with pytest.raises(MeetingRefused) as refused:
            feedback(session, meeting.id, pairs.mentee_a, rating=rating, given_on=given_on)
    assert refused.value.code == code


def test_final_feedback_may_come_after_the_pair_has_ended(engine, pairs):
    """Links work 30 days past the end for the completion: the final feedback is still due."""
    with Session(engine) as session:
        final_id = record(session, pairs.pair_a, date(2026, 11, 26), K.final).meeting.id
        session.commit()
    _set_status(engine, pairs.pair_a, PairStatus.ended)
    with Session(engine) as session:
        assert feedback(session, final_id, pairs.mentee_a).created


def test_parsing_russian_labels():
    assert meetings.parse_kind("Встреча-знакомство") == K.intro
    assert meetings.parse_kind("встреча – знакомство") == K.intro
    assert meetings.parse_kind("СОВМЕСТНАЯ РАБОТА") == K.joint_work
    assert meetings.parse_kind("joint_work") == K.joint_work
    assert meetings.parse_kind("Итоговая") == K.final
    assert meetings.parse_kind("чаепитие") is None
    assert meetings.parse_format("Очно") == MeetingFormat.in_person
    assert meetings.parse_format("онлайн") == MeetingFormat.online
    assert meetings.parse_format("Смешанный формат") == MeetingFormat.mixed
    assert meetings.parse_minutes("45 мин") == 45
    assert meetings.parse_minutes("90") == 90
    assert meetings.parse_minutes("полтора часа") is None
