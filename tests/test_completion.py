"""The completion stage (no Prefect): deadlines at month and year ends, statuses, the overdue list,
reports submitted through the personal link by the right person only.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.13: «В течение 10 дней по
завершении наставничества наставник составляет отчет о выполнении индивидуального плана»; §2.14:
the mentee's report «о процессе прохождения наставничества и работе наставника, включая оценку
деятельности наставника», within the same 10 days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from models import (
    AuditEvent,
    CompletionReport,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    PlanFulfilment,
    Role,
)
from nastavnik import completion, links, policy
from nastavnik.completion import ReportStatus
from nastavnik.programmes import Meeting, ProgrammeContent
from nastavnik.web import create_app
from tests.test_web_approvals import Client, Clock, Resumes

MOSCOW = ZoneInfo("Europe/Moscow")
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
TERMINATED_ON = date(2027, 2, 15)
JUNE_12 = date(2027, 6, 12)

# ---------------------------------------------------------------------------------------------
# Deadline arithmetic: «в течение 10 дней по завершении» is N calendar days after the last day
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended_on", "days", "due_on"),
    [
        (date(2027, 5, 31), 10, date(2027, 6, 10)),  # the school year's end, into June
        (date(2026, 12, 25), 10, date(2027, 1, 4)),  # across the year's end
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # the year's last day
        (date(2027, 1, 31), 10, date(2027, 2, 10)),  # a 31-day month
        (date(2027, 2, 25), 10, date(2027, 3, 7)),  # February of a common year (28 days)
        (date(2028, 2, 25), 10, date(2028, 3, 6)),  # February of a leap year (29 days)
        (date(2027, 4, 30), 10, date(2027, 5, 10)),  # a 30-day month
        (date(2027, 6, 30), 90, date(2027, 9, 28)),  # the policy's longest deadline
    ],
)
def test_the_deadline_counts_calendar_days_after_the_end(ended_on, days, due_on) -> None:
    assert completion.report_due_on(ended_on=ended_on, deadline_days=days) == due_on


@pytest.mark.parametrize("typed", ["0", "11", "²", "7.5", "десять", "-3"])
def test_a_scale_answer_is_a_whole_number_from_1_to_10(typed) -> None:
    with pytest.raises(completion.ReportRefused) as refused:
        completion.parse_scale(typed, "Польза")
    assert refused.value.field_ru == "Польза" and f"указано «{typed}»" in refused.value.message_ru
    assert completion.parse_scale(" 10 ", "Польза") == 10


def test_statuses_on_either_side_of_the_deadline() -> None:
    due = date(2027, 6, 10)
    status = completion.report_status
    assert status(due_on=due, submitted_on=None, today=date(2027, 6, 10)) == ReportStatus.due
    assert status(due_on=due, submitted_on=None, today=date(2027, 6, 11)) == ReportStatus.overdue
    assert status(due_on=due, submitted_on=due, today=date(2027, 7, 1)) == ReportStatus.submitted
    late = date(2027, 6, 11)
    assert status(due_on=due, submitted_on=late, today=late) == ReportStatus.late


# ---------------------------------------------------------------------------------------------
# A school at the end of the year: three finished pairs and one going on
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID


@dataclass(frozen=True)
class School:
    org_id: uuid.UUID
    cycle_id: uuid.UUID
    ended: Pair  # A: ended on its date (marked by the clock), 4 meetings planned, 4 held
    terminated: Pair  # B: the same mentor, ended early by order on 15.02.2027, 3 planned, 1 held
    past_end: Pair  # C: its end date passed, not yet marked ended, 4 planned, 2 held
    going_on: Pair  # D: ends 30.06.2027


MENTOR_1 = "Смирнова Анна Ивановна"
MENTOR_2 = "Орлов Пётр Сергеевич"
MENTEES = {
    "ended": "Котов Илья Андреевич",
    "terminated": "Белова Мария Олеговна",
    "past_end": "Лисина Ольга Викторовна",
    "going_on": "Громов Павел Ильич",
}


def _participant(session: Session, school_ids, name: str, role: Role, form) -> uuid.UUID:
    org_id, cycle_id = school_ids
    existing = session.exec(
        select(Participant)
        .join(Person)
        .where(Person.person_key == name, Participant.cycle_id == cycle_id)
    ).first()
    if existing is not None:
        return existing.id
    last, first, middle = name.split()
    person = Person(
        organization_id=org_id,
        person_key=name,
        last_name=last,
        first_name=first,
        middle_name=middle,
        email=f"p{sum(map(ord, name)):x}@school7.example",
    )
    session.add(person)
    session.flush()
    participant = Participant(cycle_id=cycle_id, person_id=person.id, role=role, form=form)
    session.add(participant)
    session.flush()
    return participant.id


def _programme(form: MentoringForm) -> dict:
    """Four planned meetings: October, November, December and May."""
    months = ("Октябрь 2026", "Ноябрь 2026", "Декабрь 2026", "Май 2027")
    kinds = (MeetingKind.intro, MeetingKind.trial, MeetingKind.joint_work, MeetingKind.final)
    return ProgrammeContent(
        title="Индивидуальная программа наставничества",
        form=form,
        goals=["адаптация"],
        tasks_by_month=[],
        meetings=[Meeting(k, k.value, m, False) for k, m in zip(kinds, months, strict=True)],
        expected_results=[],
    ).as_dict()


def _pair(
    session: Session,
    school_ids,
    *,
    mentor: str,
    mentee: str,
    form: MentoringForm,
    status: PairStatus,
    ends_on: date,
    held: list[date],
) -> Pair:
    _, cycle_id = school_ids
    mentor_id = _participant(session, school_ids, mentor, Role.mentor, form)
    mentee_id = _participant(session, school_ids, mentee, Role.mentee, form)
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor_id,
        form=form,
        status=status,
        starts_on=STARTS_ON,
        ends_on=ends_on,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee_id))
    session.add(PersonalProgramme(pair_id=pair.id, content=_programme(form)))
    for number, day in enumerate(held):
        kind = list(MeetingKind)[min(number, len(MeetingKind) - 1)]
        session.add(MeetingLog(pair_id=pair.id, held_on=day, kind=kind, duration_minutes=45))
    session.flush()
    return Pair(pair.id, mentor_id, mentee_id)


@pytest.fixture
def school(engine, cycle_ids) -> School:
    """The year's end (see School): the hand-checked case of tests/test_indicators.py too."""
    pupils, teachers = MentoringForm.student_student, MentoringForm.teacher_teacher
    with Session(engine) as session:
        ended = _pair(
            session,
            cycle_ids,
            mentor=MENTOR_1,
            mentee=MENTEES["ended"],
            form=pupils,
            status=PairStatus.ended,
            ends_on=ENDS_ON,
            held=[date(2026, 10, 5), date(2026, 11, 9), date(2026, 12, 7), date(2027, 5, 24)],
        )
        terminated = _pair(
            session,
            cycle_ids,
            mentor=MENTOR_1,
            mentee=MENTEES["terminated"],
            form=pupils,
            status=PairStatus.terminated,
            ends_on=TERMINATED_ON,
            held=[date(2026, 10, 6)],
        )
        past_end = _pair(
            session,
            cycle_ids,
            mentor=MENTOR_2,
            mentee=MENTEES["past_end"],
            form=teachers,
            status=PairStatus.active,
            ends_on=ENDS_ON,
            held=[date(2026, 10, 7), date(2026, 11, 10)],
        )
        going_on = _pair(
            session,
            cycle_ids,
            mentor=MENTOR_2,
            mentee=MENTEES["going_on"],
            form=teachers,
            status=PairStatus.active,
            ends_on=date(2027, 6, 30),
            held=[],
        )
        session.commit()
    return School(*cycle_ids, ended, terminated, past_end, going_on)


MENTOR_ANSWERS = {
    "plan_fulfilment": "full",
    "results": "Освоил приёмы решения олимпиадных задач, работает самостоятельно.",
    "satisfaction_programme": "9",
    "satisfaction_pair": "9",
    "expectations_met": "8",
    "usefulness": "9",
}
MENTEE_ANSWERS = {
    "results": "Научился решать задачи повышенной сложности.",
    "mentor_rating": "10",
    "satisfaction_programme": "10",
    "satisfaction_pair": "9",
    "expectations_met": "9",
    "usefulness": "10",
    "comment": "Больше встреч весной.",
}


def submit(engine, pair_id, participant_id, values, on: date) -> CompletionReport:
    with Session(engine) as session:
        try:
            report = completion.submit_report(
                session=session,
                pair_id=pair_id,
                participant_id=participant_id,
                values=values,
                today=on,
                now=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
                source="test",
            )
        finally:
            session.commit()  # the report, or the refusal's audit
        session.refresh(report)
        return report


# ---------------------------------------------------------------------------------------------
# Who owes what, and the curator's overdue list
# ---------------------------------------------------------------------------------------------


def test_reports_are_owed_by_both_sides_of_every_finished_pair(engine, school) -> None:
    with Session(engine) as session:
        expected = completion.expected_reports(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
    owed = {(e.pair_id, e.participant_id): e for e in expected}
    assert set(owed) == {
        (school.ended.id, school.ended.mentor_id),
        (school.ended.id, school.ended.mentee_id),
        (school.terminated.id, school.terminated.mentor_id),
        (school.terminated.id, school.terminated.mentee_id),
        (school.past_end.id, school.past_end.mentor_id),
        (school.past_end.id, school.past_end.mentee_id),
    }  # the pair going on to 30.06 owes nothing yet
    assert owed[(school.ended.id, school.ended.mentee_id)].due_on == date(2027, 6, 10)
    early = owed[(school.terminated.id, school.terminated.mentor_id)]
    assert early.ended_early and early.due_on == date(2027, 2, 25)  # the order's date + 10


def test_the_deadline_follows_the_organisations_policy(engine, school) -> None:
    with Session(engine) as session:
        rules = policy.updated(policy.DEFAULT_POLICY, {"report_deadline_days": 14})
        policy.save_policy(session=session, organization_id=school.org_id, policy=rules)
        session.commit()
        expected = completion.expected_reports(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
    assert {e.due_on for e in expected if e.pair_id == school.ended.id} == {date(2027, 6, 14)}


def test_the_overdue_list_names_who_is_late_most_overdue_first(engine, school) -> None:
    submit(engine, school.ended.id, school.ended.mentor_id, MENTOR_ANSWERS, date(2027, 6, 5))
    submit(engine, school.ended.id, school.ended.mentee_id, MENTEE_ANSWERS, date(2027, 6, 8))
    with Session(engine) as session:
        rows = completion.overdue_list(session=session, cycle_id=school.cycle_id, today=JUNE_12)
        counts = completion.status_counts(
            completion.expected_reports(session=session, cycle_id=school.cycle_id, today=JUNE_12),
            JUNE_12,
        )
    assert [(r.full_name, r.role, r.due_on, r.days_overdue) for r in rows] == [
        (MENTEES["terminated"], Role.mentee, date(2027, 2, 25), 107),
        (MENTOR_1, Role.mentor, date(2027, 2, 25), 107),
        (MENTEES["past_end"], Role.mentee, date(2027, 6, 10), 2),
        (MENTOR_2, Role.mentor, date(2027, 6, 10), 2),
    ]
    assert counts == {
        ReportStatus.due: 0,
        ReportStatus.submitted: 2,
        ReportStatus.late: 0,
        ReportStatus.overdue: 4,
    }


def test_a_late_report_counts_as_late_not_overdue(engine, school) -> None:
    report = submit(
        engine, school.past_end.id, school.past_end.mentor_id, MENTOR_ANSWERS, date(2027, 6, 11)
    )
    assert report.due_on == date(2027, 6, 10) and report.role == Role.mentor
    with Session(engine) as session:
        expected = completion.expected_reports(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
    mine = next(e for e in expected if e.report and e.report.id == report.id)
    assert mine.status(JUNE_12) == ReportStatus.late


# ---------------------------------------------------------------------------------------------
# Submission rules in the core
# ---------------------------------------------------------------------------------------------


def test_a_report_before_the_end_is_refused(engine, school) -> None:
    with pytest.raises(completion.ReportRefused) as refused:
        submit(engine, school.going_on.id, school.going_on.mentee_id, MENTEE_ANSWERS, JUNE_12)
    assert refused.value.status_code == 409 and "ещё не завершено" in refused.value.message_ru


def test_only_a_participant_of_the_pair_submits_and_refusals_are_audited(engine, school) -> None:
    with pytest.raises(completion.ReportRefused) as refused:
        # The mentee of another pair.
        submit(engine, school.ended.id, school.past_end.mentee_id, MENTEE_ANSWERS, JUNE_12)
    assert refused.value.status_code == 403
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action)).all()
        assert "completion_report.refused" in actions
        assert session.exec(select(CompletionReport)).all() == []


def test_the_mentor_must_say_how_far_the_plan_was_carried_out(engine, school) -> None:
    values = {**MENTOR_ANSWERS, "plan_fulfilment": "наполовину"}
    with pytest.raises(completion.ReportRefused) as refused:
        submit(engine, school.ended.id, school.ended.mentor_id, values, JUNE_12)
    assert refused.value.field_ru == "Выполнение плана"
    assert "«наполовину»" in refused.value.message_ru
    with pytest.raises(completion.ReportRefused) as refused:
        submit(
            engine,
            school.ended.id,
            school.ended.mentee_id,
            {**MENTEE_ANSWERS, "usefulness": "11"},
            JUNE_12,
        )
    assert refused.value.field_ru == "Польза" and "от 1 до 10" in refused.value.message_ru


def test_a_report_is_submitted_once(engine, school) -> None:
    submit(engine, school.ended.id, school.ended.mentee_id, MENTEE_ANSWERS, date(2027, 6, 3))
    with pytest.raises(completion.ReportRefused) as refused:
        submit(engine, school.ended.id, school.ended.mentee_id, MENTEE_ANSWERS, date(2027, 6, 4))
    assert refused.value.status_code == 409 and "уже сдан 03.06.2027" in refused.value.message_ru


# ---------------------------------------------------------------------------------------------
# Through the personal link (web)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def web(engine, settings):
    clock = Clock(datetime(2027, 6, 5, 9, 0, tzinfo=UTC))
    app = create_app(settings=settings, engine=engine, resume=Resumes(), clock=clock)
    return Client(app), clock


def _token(engine, settings, pair_id, participant_id, now=datetime(2027, 6, 1, tzinfo=UTC)) -> str:
    with Session(engine) as session:
        link = links.issue_link(
            session=session,
            secret=settings.approval_secret(),
            participant_id=participant_id,
            pair_id=pair_id,
            now=now,
            timezone=MOSCOW,
            actor="test",
        )
        session.commit()
        return link.token


def _report(engine, pair_id, participant_id) -> CompletionReport | None:
    with Session(engine) as session:
        return completion.find_report(
            session=session, pair_id=pair_id, participant_id=participant_id
        )


def test_the_mentee_submits_through_the_link_and_sees_it_sent(engine, settings, school, web):
    client, _ = web
    token = _token(engine, settings, school.ended.id, school.ended.mentee_id)
    page = client.get(f"/p/{token}/completion")
    assert page.status_code == 200
    assert "Оценка работы наставника" in page.text and "до 10.06.2027" in page.text
    assert 'name="plan_fulfilment"' not in page.text  # the mentor's question is not asked
    # A mentee's link cannot file the mentor's report, whatever the form claims.
    sent = client.post(f"/p/{token}/completion", data={**MENTEE_ANSWERS, "plan_fulfilment": "full"})
    assert sent.status_code == 303
    report = _report(engine, school.ended.id, school.ended.mentee_id)
    assert report is not None
    assert (report.role, report.plan_fulfilment, report.mentor_rating) == (Role.mentee, None, 10)
    assert (report.submitted_on, report.source) == (date(2027, 6, 5), "link")
    again = client.get(f"/p/{token}/completion")
    assert "Отчёт сдан 05.06.2027" in again.text and 'type="submit"' not in again.text
    assert _report(engine, school.ended.id, school.ended.mentor_id) is None


def test_the_mentor_submits_the_plans_report(engine, settings, school, web):
    client, _ = web
    token = _token(engine, settings, school.ended.id, school.ended.mentor_id)
    page = client.get(f"/p/{token}/completion")
    assert 'name="plan_fulfilment"' in page.text and 'name="mentor_rating"' not in page.text
    missing = client.post(f"/p/{token}/completion", data={**MENTOR_ANSWERS, "plan_fulfilment": ""})
    assert missing.status_code == 422
    assert "Выполнение плана: обязательное поле не заполнено" in missing.text
    assert "Освоил приёмы" in missing.text  # what was typed is kept
    assert client.post(f"/p/{token}/completion", data=MENTOR_ANSWERS).status_code == 303
    report = _report(engine, school.ended.id, school.ended.mentor_id)
    assert report is not None and report.plan_fulfilment == PlanFulfilment.full


def test_forged_foreign_and_expired_links_submit_nothing(engine, settings, school, web):
    client, clock = web
    token = _token(engine, settings, school.ended.id, school.ended.mentee_id)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.post(f"/p/{forged}/completion", data=MENTEE_ANSWERS).status_code == 403
    # The link stays valid 30 days after the pair's end (31.05 → through 30.06), then not.
    clock.now = datetime(2027, 7, 1, 9, 0, tzinfo=UTC)
    assert client.post(f"/p/{token}/completion", data=MENTEE_ANSWERS).status_code == 410
    assert _report(engine, school.ended.id, school.ended.mentee_id) is None


def test_the_page_of_a_pair_going_on_has_no_form_yet(engine, settings, school, web):
    client, _ = web
    token = _token(engine, settings, school.going_on.id, school.going_on.mentee_id)
    page = client.get(f"/p/{token}/completion")
    assert page.status_code == 200 and "форма откроется" in page.text
    refused = client.post(f"/p/{token}/completion", data=MENTEE_ANSWERS)
    assert refused.status_code == 409
    assert _report(engine, school.going_on.id, school.going_on.mentee_id) is None


# ---------------------------------------------------------------------------------------------
# Reminders: once per due date and kind, then the curator
# ---------------------------------------------------------------------------------------------


def test_reminders_go_once_per_due_date_and_kind_then_to_the_curator(
    engine, settings, school, tmp_path
) -> None:
    import asyncio
    from datetime import timedelta

    from models import OutboxMessage
    from nastavnik import completion_reminders, mail
    from nastavnik.smtp_sink import MailSink

    submit(engine, school.ended.id, school.ended.mentor_id, MENTOR_ANSWERS, date(2027, 6, 5))
    submit(engine, school.terminated.id, school.terminated.mentor_id, MENTOR_ANSWERS, TERMINATED_ON)
    submit(engine, school.terminated.id, school.terminated.mentee_id, MENTEE_ANSWERS, TERMINATED_ON)
    # Owing, all due 10.06.2027: A's mentee (reports on 08.06), C's mentor and mentee.
    sent_per_day: dict[date, int] = {}
    with MailSink(directory=tmp_path / "sink") as sink:
        live = settings.model_copy(update={"smtp_url": sink.url})
        day = date(2027, 6, 6)
        while day <= date(2027, 6, 14):
            now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
            for attempt in range(2):  # the same day twice sends nothing more
                with Session(engine) as session:
                    queued = completion_reminders.queue_reminders(
                        session=session, settings=live, cycle_id=school.cycle_id, today=day, now=now
                    )
                    session.commit()
                if attempt == 0:
                    sent_per_day[day] = len(queued)
                else:
                    assert queued == []
                asyncio.run(mail.deliver_messages(engine=engine, settings=live, message_ids=queued))
            if day == date(2027, 6, 8):
                submit(engine, school.ended.id, school.ended.mentee_id, MENTEE_ANSWERS, day)
            day += timedelta(days=1)
        received = [m.rcpt_tos[0] for m in sink.messages]
    assert sent_per_day == {
        date(2027, 6, 6): 0,
        date(2027, 6, 7): 3,  # before: A's mentee, C's mentor and mentee (3 days ahead)
        date(2027, 6, 8): 0,
        date(2027, 6, 9): 0,
        date(2027, 6, 10): 2,  # due: C's two (A's mentee reported on 08.06)
        date(2027, 6, 11): 2,  # overdue
        date(2027, 6, 12): 0,
        date(2027, 6, 13): 1,  # the curator, 3 days overdue: one mail for the due date
        date(2027, 6, 14): 0,
    }
    assert len(received) == 8 and received.count("curator@school7.example") == 1
    with Session(engine) as session:
        messages = session.exec(select(OutboxMessage)).all()
    escalation = next(m for m in messages if m.recipient_role == "curator")
    assert MENTOR_2 in escalation.body_text and MENTEES["past_end"] in escalation.body_text
    assert MENTEES["ended"] not in escalation.body_text  # reported in time, not listed
    to_mentee = next(m for m in messages if m.recipient_role == "mentee")
    assert f"{settings.web_base_url}/p/" in to_mentee.body_text
    assert "/completion" in to_mentee.body_text


# ---------------------------------------------------------------------------------------------
# §3.1: the director's interview with the mentee after the end
# ---------------------------------------------------------------------------------------------


def _interview(engine, pair_id, mentee_id, held_on: date, today: date = JUNE_12):
    with Session(engine) as session:
        interview = completion.record_interview(
            session=session,
            pair_id=pair_id,
            mentee_id=mentee_id,
            held_on=held_on,
            interviewer="Иванова Мария Петровна",
            notes="Готов работать самостоятельно.",
            today=today,
            now=datetime(2027, 6, 12, 9, tzinfo=UTC),
        )
        session.commit()
        return interview.id


def test_the_final_interview_is_recorded_once_after_the_end(engine, school) -> None:
    first = _interview(engine, school.ended.id, school.ended.mentee_id, date(2027, 6, 7))
    assert _interview(engine, school.ended.id, school.ended.mentee_id, date(2027, 6, 7)) == first
    with pytest.raises(completion.ReportRefused, match="уже записано 07.06.2027"):
        _interview(engine, school.ended.id, school.ended.mentee_id, date(2027, 6, 8))
    with pytest.raises(completion.ReportRefused, match="по окончании наставничества"):
        _interview(engine, school.going_on.id, school.going_on.mentee_id, date(2027, 6, 7))
    with pytest.raises(completion.ReportRefused, match="по окончании наставничества"):
        _interview(engine, school.ended.id, school.ended.mentee_id, date(2027, 5, 20))
    with pytest.raises(completion.ReportRefused) as refused:
        _interview(engine, school.ended.id, school.ended.mentor_id, date(2027, 6, 7))
    assert refused.value.status_code == 403
