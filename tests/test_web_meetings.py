"""Meetings on the participant's personal link (issue 8 §2, DESIGN §11), with a fixed clock.

The mentor records a meeting, the mentee gives feedback on each joint-work and final meeting;
only the link's owner in the right role may post, refusals are audited, and a saved form
redirects (POST-redirect-GET) so a reload posts nothing again.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Session, select

from models import (
    AuditEvent,
    MeetingFeedback,
    MeetingFormat,
    MeetingKind,
    MeetingLog,
    MentorshipPair,
    PairStatus,
)
from nastavnik import links, meetings
from tests.test_links import (  # noqa: F401
    DURING_TERM,
    MOSCOW,
    _issue,
    _with_byte_flipped,
    school,
    web,
)

TODAY = date(2026, 11, 30)  # the web clock's day (DURING_TERM, Moscow)
MEETING_FORM = {
    "held_on": "2026-10-05",
    "kind": "intro",
    "duration_minutes": "40",
    "format": "in_person",
    "topic": "Знакомство",
    "done": "Рассказали о себе",
    "next_step": "Пробная встреча",
}


def _logs(engine) -> list[MeetingLog]:
    with Session(engine) as session:
        return list(session.exec(select(MeetingLog)))


def _refusals(engine) -> list[str]:
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "meeting.refused"))
        return sorted(e.details["problem"] for e in events)


def _meeting(engine, pair_id: uuid.UUID, held_on: date, kind: MeetingKind) -> uuid.UUID:
    with Session(engine) as session:
        recorded = meetings.record_meeting(
            session=session,
            pair_id=pair_id,
            held_on=held_on,
            kind=kind,
            duration_minutes=45,
            format=MeetingFormat.online,
            topic="Совместная работа",
            done="",
            next_step="",
            source="test",
            today=TODAY,
        )
        session.commit()
        return recorded.meeting.id


def test_the_mentor_records_a_meeting_from_the_link(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    page = client.get(f"/p/{token}")
    assert f'action="/p/{token}/meetings"' in page.text
    assert "Встреч пока не записано." in page.text
    saved = client.post(f"/p/{token}/meetings", data=MEETING_FORM)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/p/{token}?done=meeting#meetings"
    shown = client.get(saved.headers["location"])
    assert "Встреча записана." in shown.text
    assert "05.10.2026 · Встреча-знакомство" in shown.text and "40 мин · очно" in shown.text
    # The same form sent twice (a double tap) records one meeting.
    assert client.post(f"/p/{token}/meetings", data=MEETING_FORM).status_code == 303
    (log,) = _logs(engine)
    assert (log.source, log.recorded_by, log.kind) == ("link", school.mentor_a, MeetingKind.intro)


def test_the_page_flags_a_meeting_out_of_sequence(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    early = {**MEETING_FORM, "kind": "joint_work", "held_on": "2026-10-02"}
    assert client.post(f"/p/{token}/meetings", data=early).status_code == 303
    page = client.get(f"/p/{token}")
    assert "Нарушена последовательность: «Совместная работа» прежде, чем" in page.text
    assert "Ждёт отзыва наставляемого" in page.text


def test_the_mentee_gives_feedback_on_joint_work(engine, settings, school, web):  # noqa: F811
    client, _ = web
    intro = _meeting(engine, school.pair_a, date(2026, 10, 5), MeetingKind.intro)
    joint = _meeting(engine, school.pair_a, date(2026, 11, 9), MeetingKind.joint_work)
    token = _issue(engine, settings, school.mentee_a, school.pair_a)
    page = client.get(f"/p/{token}")
    assert f'action="/p/{token}/feedback/{joint}"' in page.text
    assert f"/feedback/{intro}" not in page.text  # no feedback on an intro
    assert f'action="/p/{token}/meetings"' not in page.text  # a mentee records no meetings
    saved = client.post(f"/p/{token}/feedback/{joint}", data={"rating": "5", "comment": "Класс"})
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"])
    assert "Спасибо! Отзыв записан." in shown.text and "Ваш отзыв: 5 из 5" in shown.text
    with Session(engine) as session:
        (feedback,) = session.exec(select(MeetingFeedback)).all()
    assert (feedback.mentee_id, feedback.rating, feedback.comment) == (
        school.mentee_a,
        5,
        "Класс",
    )
    assert (feedback.given_on, feedback.source) == (TODAY, "link")
    # The mentor sees that feedback came, not what the child wrote.
    mentor_page = client.get(f"/p/{_issue(engine, settings, school.mentor_a, school.pair_a)}")
    assert "Отзыв получен" in mentor_page.text and "Класс" not in mentor_page.text


def test_a_mentees_link_cannot_record_meetings(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentee_a, school.pair_a)
    refused = client.post(f"/p/{token}/meetings", data=MEETING_FORM)
    assert refused.status_code == 403
    assert "Записать встречу может только наставник пары." in refused.text
    assert _logs(engine) == []
    assert _refusals(engine) == ["not_mentor"]


def test_feedback_on_another_pairs_meeting_is_refused(engine, settings, school, web):  # noqa: F811
    client, _ = web
    theirs = _meeting(engine, school.pair_b, date(2026, 11, 9), MeetingKind.joint_work)
    ours = _meeting(engine, school.pair_a, date(2026, 11, 9), MeetingKind.joint_work)
    mentee_a = _issue(engine, settings, school.mentee_a, school.pair_a)
    refused = client.post(f"/p/{mentee_a}/feedback/{theirs}", data={"rating": "1"})
    assert refused.status_code == 403
    assert "Встреча не найдена среди встреч вашей пары." in refused.text
    garbled = client.post(f"/p/{mentee_a}/feedback/not-an-id", data={"rating": "1"})
    assert garbled.status_code == 403
    # The mentor cannot give the mentee's feedback.
    mentor_a = _issue(engine, settings, school.mentor_a, school.pair_a)
    as_mentor = client.post(f"/p/{mentor_a}/feedback/{ours}", data={"rating": "5"})
    assert as_mentor.status_code == 403
    assert "Отзыв о встрече даёт только наставляемый этой пары." in as_mentor.text
    # Feedback on a kind that needs none is refused too.
    intro = _meeting(engine, school.pair_a, date(2026, 10, 5), MeetingKind.intro)
    not_needed = client.post(f"/p/{mentee_a}/feedback/{intro}", data={"rating": "5"})
    assert not_needed.status_code == 422
    with Session(engine) as session:
        assert session.exec(select(MeetingFeedback)).all() == []
    assert _refusals(engine) == [
        "no_feedback_kind",
        "not_mentee",
        "unknown_meeting",
        "unknown_meeting",
    ]


def test_a_bad_form_is_explained_and_kept(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    short = client.post(f"/p/{token}/meetings", data={**MEETING_FORM, "duration_minutes": "3"})
    assert short.status_code == 422
    assert "Длительность встречи от 5 до 480 минут, указано 3." in short.text
    assert 'value="Знакомство"' in short.text  # what was typed stays in the form
    future = client.post(f"/p/{token}/meetings", data={**MEETING_FORM, "held_on": "2026-12-01"})
    assert future.status_code == 422 and "ещё не наступила" in future.text
    empty = client.post(f"/p/{token}/meetings", data={**MEETING_FORM, "held_on": ""})
    assert empty.status_code == 422 and "Укажите дату встречи." in empty.text
    assert _logs(engine) == []
    assert _refusals(engine) == ["duration", "future", "invalid"]


def test_a_forged_link_posts_nothing(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    refused = client.post(f"/p/{_with_byte_flipped(token, -1)}/meetings", data=MEETING_FORM)
    assert refused.status_code == 403
    assert _logs(engine) == []


def test_an_extended_pair_has_a_page_and_an_ended_one_records_nothing(
    engine,
    settings,
    school,  # noqa: F811
    web,  # noqa: F811
):
    client, _ = web

    def set_status(status: PairStatus) -> None:
        with Session(engine) as session:
            pair = session.get(MentorshipPair, school.pair_a)
            assert pair is not None
            pair.status = status
            session.add(pair)
            session.commit()

    set_status(PairStatus.extended)
    with Session(engine) as session:
        issued = links.issue_for_cycle(
            session=session,
            secret=settings.approval_secret(),
            cycle_id=school.cycle_id,
            now=DURING_TERM,
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
    assert (school.mentor_a, school.pair_a) in {(i.participant_id, i.pair_id) for i in issued}
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    assert client.get(f"/p/{token}").status_code == 200
    assert client.post(f"/p/{token}/meetings", data=MEETING_FORM).status_code == 303
    set_status(PairStatus.ended)
    page = client.get(f"/p/{token}")
    assert page.status_code == 200 and f'action="/p/{token}/meetings"' not in page.text
    late = client.post(f"/p/{token}/meetings", data={**MEETING_FORM, "kind": "trial"})
    assert late.status_code == 422 and "не продолжается" in late.text
    assert len(_logs(engine)) == 1
