"""The meetings stage's month (no Prefect): progress against the personal programme, the
month's status, the mentor's report confirmed through the personal link, the curator's summary
(PDF read back, artifact rows without names) and reminders counted on a real SMTP server.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §4.2: the mentor is obliged
«не реже 1 раза в месяц докладывать куратору и руководителю о результатах достигнутых в процессе
осуществления наставничества»; the target model's sequence asks feedback on joint work and the
final meeting (nastavnik.meetings.FEEDBACK_REQUIRED).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlmodel import Session, col, select

from models import (
    AuditEvent,
    Document,
    MeetingFeedback,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    OutboxMessage,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    Role,
)
from nastavnik import documents, links, mail, meeting_reminders, monthly, policy, progress
from nastavnik.programmes import build_programme
from nastavnik.smtp_sink import MailSink
from nastavnik.web import create_app
from tests.test_web_approvals import Client, Clock, Resumes

K = MeetingKind
MOSCOW = ZoneInfo("Europe/Moscow")
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
NOVEMBER = date(2026, 11, 1)
DEC_FIRST = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def _log(pair_id: uuid.UUID, held_on: date, kind: MeetingKind, **extra: object) -> MeetingLog:
    return MeetingLog(pair_id=pair_id, held_on=held_on, kind=kind, duration_minutes=45, **extra)


# ---------------------------------------------------------------------------------------------
# A school: four pairs, each with its personal programme (October 2026 – May 2027)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_name: str
    mentee_name: str


@dataclass(frozen=True)
class School:
    org_id: uuid.UUID
    cycle_id: uuid.UUID
    on_track: Pair
    lagging: Pair
    silent: Pair
    no_feedback: Pair


def _person(
    session: Session, org_id, cycle_id, name: str, role: Role, form, email: str
) -> uuid.UUID:
    last, first, middle = name.split()
    person = Person(
        organization_id=org_id,
        person_key=name,
        last_name=last,
        first_name=first,
        middle_name=middle,
        email=email,
    )
    session.add(person)
    session.flush()
    participant = Participant(cycle_id=cycle_id, person_id=person.id, role=role, form=form)
    session.add(participant)
    session.flush()
    return participant.id


def _pair(
    session: Session, org_id, cycle_id, mentor: str, mentee: str, form, mentor_id=None
) -> Pair:
    """A pair with its programme; a new mentor unless ``mentor_id`` names one already there."""
    if mentor_id is None:
        mentor_id = _person(session, org_id, cycle_id, mentor, Role.mentor, form, _address(mentor))
    mentee_id = _person(session, org_id, cycle_id, mentee, Role.mentee, form, _address(mentee))
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor_id,
        form=form,
        status=PairStatus.active,
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee_id))
    content = build_programme(
        form=form,
        mentor_name=mentor,
        mentee_names=[mentee],
        mentee_requests=["подготовка к олимпиаде по математике"],
        subjects=["математика"],
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(PersonalProgramme(pair_id=pair.id, content=content.as_dict()))
    session.flush()
    return Pair(pair.id, mentor_id, mentee_id, mentor, mentee)


def _address(name: str) -> str:
    """An ASCII address per person: the mail's To header carries the name, not the address."""
    return f"p{sum(map(ord, name)):x}@school7.example"


def _feedback(session: Session, log: MeetingLog, mentee_id: uuid.UUID) -> None:
    session.add(
        MeetingFeedback(
            meeting_id=log.id,
            mentee_id=mentee_id,
            rating=5,
            comment="Полезно",
            given_on=log.held_on,
        )
    )


@pytest.fixture
def school(engine, cycle_ids) -> School:
    """November 2026: one pair on track, one lagging, one silent, one owing feedback."""
    org_id, cycle_id = cycle_ids
    student, teacher = MentoringForm.student_student, MentoringForm.teacher_teacher
    with Session(engine) as session:
        a = _pair(
            session, org_id, cycle_id, "Смирнова Анна Сергеевна", "Кузнецов Илья Андреевич", student
        )
        b = _pair(
            session, org_id, cycle_id, "Орлов Павел Викторович", "Лебедева Вера Олеговна", student
        )
        c = _pair(session, org_id, cycle_id, "Зайцев Глеб Ильич", "Морозова Ника Павловна", teacher)
        d = _pair(
            session, org_id, cycle_id, "Фёдорова Ольга Игоревна", "Титов Марк Денисович", teacher
        )
        opening = [(date(2026, 10, 1), K.intro), (date(2026, 10, 8), K.trial)]
        for pair in (a, c, d):
            for day, kind in [*opening, (date(2026, 10, 15), K.planning)]:
                session.add(_log(pair.id, day, kind))
        for day, kind in opening:
            session.add(_log(b.id, day, kind))
        # B holds its planning meeting a month late: 3 of 5 meetings by the end of November.
        session.add(_log(b.id, date(2026, 11, 3), K.planning, topic="План на год"))
        for day in (date(2026, 11, 5), date(2026, 11, 19)):
            log = _log(
                a.id,
                day,
                K.joint_work,
                topic="Олимпиадные задачи",
                done="Разобрали пять задач",
                next_step="Пробный тур",
            )
            session.add(log)
            session.flush()
            _feedback(session, log, a.mentee_id)
        given = _log(d.id, date(2026, 11, 5), K.joint_work)
        session.add(given)
        session.flush()
        _feedback(session, given, d.mentee_id)
        # Feedback due on Nov 15 never came; the one due on Dec 1 is not late by November's end.
        session.add(_log(d.id, date(2026, 11, 12), K.joint_work))
        session.add(_log(d.id, date(2026, 11, 28), K.joint_work))
        session.commit()
    return School(org_id, cycle_id, a, b, c, d)


# ---------------------------------------------------------------------------------------------
# Progress and status
# ---------------------------------------------------------------------------------------------


def test_planned_vs_held_per_month_follows_the_personal_programme(engine, school) -> None:
    with Session(engine) as session:
        found = progress.pair_progress(session=session, pair_id=school.lagging.id, month=NOVEMBER)
    # The programme plans intro, trial and planning in October and two joint-work meetings in
    # each month between the opening and the closing one.
    assert [(m.label, m.planned, m.held) for m in found.months] == [
        ("Октябрь 2026", 3, 2),
        ("Ноябрь 2026", 2, 1),
    ]
    assert (found.planned_to_date, found.held_to_date) == (5, 3)
    assert found.sequence_ru == []


def test_each_pair_gets_one_status_for_the_month_with_reasons(engine, school) -> None:
    with Session(engine) as session:
        assessed = progress.assess_pairs(session=session, cycle_id=school.cycle_id, month=NOVEMBER)
    status = {pair_id: a.status for pair_id, (_, a) in assessed.items()}
    assert status == {
        school.on_track.id: progress.MonthStatus.on_track,
        school.lagging.id: progress.MonthStatus.lagging,
        school.silent.id: progress.MonthStatus.no_contact,
        school.no_feedback.id: progress.MonthStatus.missing_feedback,
    }
    silent = assessed[school.silent.id][1]
    # No contact outranks lagging, and both are said.
    assert silent.reasons_ru[0] == "в месяце «Ноябрь 2026» не было ни одной встречи (по плану 2)"
    assert "отставание на 2 (порог — 2)" in silent.reasons_ru[1]
    owing = assessed[school.no_feedback.id]
    assert [(m.held_on, m.due_on) for m in owing[0].missing_feedback] == [
        (date(2026, 11, 12), date(2026, 11, 15))
    ]


def test_the_lagging_threshold_is_the_organisations_policy(engine, school) -> None:
    with Session(engine) as session:
        policy.save_policy(
            session=session,
            organization_id=school.org_id,
            policy=policy.updated(policy.DEFAULT_POLICY, {"lagging_meetings_behind": 3}),
        )
        assessed = progress.assess_pairs(session=session, cycle_id=school.cycle_id, month=NOVEMBER)
    assert assessed[school.lagging.id][1].status == progress.MonthStatus.on_track


def test_meetings_out_of_sequence_are_given_as_reasons() -> None:
    pair_id = uuid.uuid4()
    logs = [
        _log(pair_id, date(2026, 10, 1), K.joint_work),
        _log(pair_id, date(2026, 10, 5), K.intro),
    ]
    found = progress.compute_progress(
        pair_id=pair_id,
        programme=None,
        logs=logs,
        mentee_ids=[],
        feedback_given=set(),
        month=date(2026, 10, 1),
        feedback_days=3,
    )
    assessment = progress.assess_month(progress=found, lagging_behind=2)
    assert assessment.status == progress.MonthStatus.on_track
    assert "индивидуальная программа не составлена: план встреч неизвестен" in (
        assessment.reasons_ru
    )
    assert any("прежде, чем «Встреча-знакомство»" in r for r in assessment.reasons_ru)


def test_feedback_missed_in_an_earlier_month_is_recalled_but_not_the_months_status() -> None:
    pair_id, mentee = uuid.uuid4(), uuid.uuid4()
    logs = [
        _log(pair_id, date(2026, 10, 1), K.intro),
        _log(pair_id, date(2026, 10, 2), K.trial),
        _log(pair_id, date(2026, 10, 5), K.planning),
        _log(pair_id, date(2026, 10, 12), K.joint_work),  # its feedback never came
        _log(pair_id, date(2026, 11, 9), K.joint_work),
        _log(pair_id, date(2026, 11, 23), K.joint_work),
    ]
    given = {(log.id, mentee) for log in logs[4:]}

    def assessed(month: date) -> progress.MonthAssessment:
        found = progress.compute_progress(
            pair_id=pair_id,
            programme=None,
            logs=logs,
            mentee_ids=[mentee],
            feedback_given=given,
            month=month,
            feedback_days=3,
        )
        return progress.assess_month(progress=found, lagging_behind=2)

    # October: the answer due on 15 October did not come.
    assert assessed(date(2026, 10, 1)).status == progress.MonthStatus.missing_feedback
    # November: everything due in November came; October's gap is recalled, not re-listed.
    november = assessed(date(2026, 11, 1))
    assert november.status == progress.MonthStatus.on_track
    assert "не получено отзывов за прошлые месяцы: 1" in november.reasons_ru


# ---------------------------------------------------------------------------------------------
# The mentor's report
# ---------------------------------------------------------------------------------------------


def test_reports_are_assembled_once_per_pair_and_month_from_the_logs(engine, school) -> None:
    with Session(engine) as session:
        first = monthly.assemble_monthly_reports(
            session=session, cycle_id=school.cycle_id, month=NOVEMBER, now=DEC_FIRST
        )
        session.commit()
        again = monthly.assemble_monthly_reports(
            session=session, cycle_id=school.cycle_id, month=NOVEMBER, now=DEC_FIRST
        )
        session.commit()
        assert [r.id for r in first] == [r.id for r in again]
        assert len(session.exec(select(MonthlyReport)).all()) == 4
        report = monthly.report_for(session=session, pair_id=school.on_track.id, month=NOVEMBER)
        content = report.content
    assert content["month_label"] == "Ноябрь 2026"
    assert [
        (m["held_on"], m["kind_ru"], m["topic"], m["next_step"]) for m in content["meetings"]
    ] == [
        ("2026-11-05", "Совместная работа", "Олимпиадные задачи", "Пробный тур"),
        ("2026-11-19", "Совместная работа", "Олимпиадные задачи", "Пробный тур"),
    ]
    assert (
        "Доклад наставника куратору о результатах наставничества за месяц"
        in (content["planned_tasks"])
    )
    assert (content["planned"], content["held"], content["status"]) == (2, 2, "on_track")


def test_a_waiting_report_takes_late_logs_and_a_confirmed_one_never_changes(engine, school) -> None:
    with Session(engine) as session:
        monthly.assemble_monthly_reports(
            session=session, cycle_id=school.cycle_id, month=NOVEMBER, now=DEC_FIRST
        )
        monthly.confirm_report(
            session=session,
            pair_id=school.on_track.id,
            month=NOVEMBER,
            participant_id=school.on_track.mentor_id,
            comment="",
            now=DEC_FIRST,
        )
        session.add(_log(school.silent.id, date(2026, 11, 25), K.joint_work))
        session.add(_log(school.on_track.id, date(2026, 11, 26), K.joint_work))
        session.commit()
        monthly.assemble_monthly_reports(
            session=session, cycle_id=school.cycle_id, month=NOVEMBER, now=DEC_FIRST
        )
        silent = monthly.report_for(session=session, pair_id=school.silent.id, month=NOVEMBER)
        signed = monthly.report_for(session=session, pair_id=school.on_track.id, month=NOVEMBER)
    assert silent.content["held"] == 1 and silent.content["status"] != "no_contact"
    assert signed.content["held"] == 2


@pytest.fixture
def web(engine, settings):
    clock = Clock(DEC_FIRST)
    return Client(create_app(settings=settings, engine=engine, resume=Resumes(), clock=clock))


def _token(engine, settings, participant_id, pair_id) -> str:
    with Session(engine) as session:
        link = links.issue_link(
            session=session,
            secret=settings.approval_secret(),
            participant_id=participant_id,
            pair_id=pair_id,
            now=DEC_FIRST,
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
        return link.token


def test_only_the_pairs_mentor_confirms_the_report_through_a_valid_link(
    engine, settings, school, web
) -> None:
    pair = school.on_track
    with Session(engine) as session:
        monthly.assemble_monthly_reports(
            session=session, cycle_id=school.cycle_id, month=NOVEMBER, now=DEC_FIRST
        )
        session.commit()
    mentor = _token(engine, settings, pair.mentor_id, pair.id)
    mentee = _token(engine, settings, pair.mentee_id, pair.id)

    page = web.get(f"/p/{mentor}/reports/2026-11")
    assert page.status_code == 200
    assert "Подтвердить доклад" in page.text and "Олимпиадные задачи" in page.text
    assert 'name="viewport"' in page.text  # a phone's width
    seen = web.get(f"/p/{mentee}/reports/2026-11")
    assert seen.status_code == 200 and "Подтвердить доклад" not in seen.text
    refused = web.post(f"/p/{mentee}/reports/2026-11", data={"comment": "всё хорошо"})
    assert refused.status_code == 403
    forged = mentor[:-4] + ("AAAA" if not mentor.endswith("AAAA") else "BBBB")
    assert web.post(f"/p/{forged}/reports/2026-11", data={"comment": ""}).status_code == 403
    assert web.get(f"/p/{mentor}/reports/2026-10").status_code == 404  # not assembled
    assert web.get(f"/p/{mentor}/reports/ноябрь").status_code == 404
    with Session(engine) as session:
        report = monthly.report_for(session=session, pair_id=pair.id, month=NOVEMBER)
        assert report.status == MonthlyReportStatus.assembled

    done = web.post(f"/p/{mentor}/reports/2026-11", data={"comment": "Готовимся к туру"})
    assert done.status_code == 200 and "Доклад подтверждён" in done.text
    web.post(f"/p/{mentor}/reports/2026-11", data={"comment": "ещё раз"})
    with Session(engine) as session:
        report = monthly.report_for(session=session, pair_id=pair.id, month=NOVEMBER)
        events = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).startswith("monthly_report."))
        ).all()
    assert report.status == MonthlyReportStatus.confirmed
    assert report.mentor_comment == "Готовимся к туру"
    assert sorted(events) == ["monthly_report.confirmed", "monthly_report.refused"]


# ---------------------------------------------------------------------------------------------
# The curator's summary
# ---------------------------------------------------------------------------------------------


def _pdf_text(settings, document: Document) -> str:
    data = documents.document_file(settings=settings, document=document).read_bytes()
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_the_month_end_makes_the_curators_summary_once(engine, settings, school) -> None:
    with Session(engine) as session:
        day = monthly.run_day(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            today=date(2026, 12, 1),
            now=DEC_FIRST,
        )
        session.commit()
        again = monthly.run_day(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            today=date(2026, 12, 1),
            now=DEC_FIRST,
        )
        session.commit()
        assert day.month == NOVEMBER and day.reports == 4 and day.document_id is not None
        assert again.month is None and again.message_ids == []
        summaries = session.exec(
            select(Document).where(col(Document.unique_key).startswith("monthly-summary:"))
        ).all()
        assert len(summaries) == 1
        text = _pdf_text(settings, summaries[0])
        people = session.exec(select(Person)).all()
    assert "Сводка о ходе наставничества за ноябрь 2026" in text
    assert "Отстаёт от плана: 1" in text and "Нет контакта: 1" in text
    assert "Нет отзывов наставляемого: 1" in text
    assert "Доклады наставников подтверждены: 0 из 4" in text
    # Names in the curator's PDF: those needing attention, not the pair on track.
    for pair in (school.lagging, school.silent, school.no_feedback):
        assert pair.mentor_name in text and pair.mentee_name in text
    assert school.on_track.mentor_name not in text

    # The artifact: counts per form and a link, no one's name.
    total = day.table_rows[-1]
    assert total == {
        "Форма": "Всего",
        "Пар": 4,
        "По плану": 1,
        "Отстаёт от плана": 1,
        "Нет контакта": 1,
        "Нет отзывов наставляемого": 1,
    }
    assert {row["Форма"] for row in day.table_rows} == {
        MentoringForm.student_student.value,
        MentoringForm.teacher_teacher.value,
        "Всего",
    }
    published = f"{day.table_rows} {day.description}"
    assert f"/documents/{day.document_id}.pdf" in day.description
    for person in people:
        assert person.last_name not in published and person.first_name not in published


# ---------------------------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------------------------


def _remind_and_deliver(engine, live, cycle_id, day: date, now: datetime) -> list[uuid.UUID]:
    """The day's meetings reminders queued (committed) and delivered; returns the queued ids."""
    with Session(engine) as session:
        queued = meeting_reminders.queue_reminders(
            session=session, settings=live, cycle_id=cycle_id, today=day, now=now
        )
        session.commit()
    asyncio.run(mail.deliver_messages(engine=engine, settings=live, message_ids=queued))
    return queued


def test_reminders_go_only_to_those_missing_once_per_due_date_then_to_the_curator(
    engine, settings, school, tmp_path
) -> None:
    with MailSink(directory=tmp_path / "sink") as sink:
        live = settings.model_copy(update={"smtp_url": sink.url})
        sent_per_day: dict[date, int] = {}
        day = date(2026, 11, 27)
        while day <= date(2026, 12, 4):
            now = datetime.combine(day, DEC_FIRST.timetz())
            for attempt in range(2):  # the same day twice sends nothing more
                queued = _remind_and_deliver(engine, live, school.cycle_id, day, now)
                if attempt == 0:
                    sent_per_day[day] = len(queued)
                else:
                    assert queued == []
            day += timedelta(days=1)
        received = [(m.rcpt_tos[0], m) for m in sink.messages]

    by_address: dict[str, int] = {}
    for address, _ in received:
        by_address[address] = by_address.get(address, 0) + 1
    # The silent pair's mentor: before, on and after November's last day; the mentee owing
    # feedback on Nov 28 (due Dec 1): before, on and after its due day; the curator: once about
    # the logs (3 days after Nov 30) and once about the feedback (3 days after Dec 1).
    assert by_address == {
        _address(school.silent.mentor_name): 3,
        _address(school.no_feedback.mentee_name): 3,
        "curator@school7.example": 2,
    }
    assert sent_per_day == {
        date(2026, 11, 27): 1,  # mentor: before
        date(2026, 11, 28): 1,  # mentee: before
        date(2026, 11, 29): 0,
        date(2026, 11, 30): 1,  # mentor: due
        date(2026, 12, 1): 2,  # mentor: overdue; mentee: due
        date(2026, 12, 2): 1,  # mentee: overdue
        date(2026, 12, 3): 1,  # curator: logs
        date(2026, 12, 4): 1,  # curator: feedback
    }
    with Session(engine) as session:
        mentor_mail = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.to_addr).contains(_address(school.silent.mentor_name))
            )
        ).first()
        escalations = session.exec(
            select(OutboxMessage).where(OutboxMessage.recipient_role == "curator")
        ).all()
    assert mentor_mail is not None
    assert f"{settings.web_base_url}/p/" in mentor_mail.body_text  # the personal link
    assert any(school.silent.mentor_name in m.body_text for m in escalations)
    assert any(school.no_feedback.mentee_name in m.body_text for m in escalations)


def test_a_mentor_of_two_silent_pairs_gets_one_reminder_a_day_listing_both(
    engine, settings, school, tmp_path
) -> None:
    # The silent pair's mentor takes a second mentee in November, and logs nothing for either.
    with Session(engine) as session:
        second_id = _pair(
            session,
            school.org_id,
            school.cycle_id,
            school.silent.mentor_name,
            "Белова Дарья Игоревна",
            MentoringForm.teacher_teacher,
            mentor_id=school.silent.mentor_id,
        ).id
        session.commit()
    with MailSink(directory=tmp_path / "sink") as sink:
        live = settings.model_copy(update={"smtp_url": sink.url})
        for day in (date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1)):
            _remind_and_deliver(
                engine, live, school.cycle_id, day, datetime.combine(day, DEC_FIRST.timetz())
            )
        received = {m.rcpt_tos[0] for m in sink.messages}
    assert _address(school.silent.mentor_name) in received
    with Session(engine) as session:
        # Before, on and after November's last day: one mail each, not one per pair.
        november = list(
            session.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.idempotency_key).startswith(
                        f"meetings-logs:{school.silent.mentor_id}:2026-11-30:"
                    )
                )
            )
        )
        bodies = [m.body_text for m in november]
        page_links = {
            pair_id: links.personal_urls(
                session=session,
                secret=settings.approval_secret(),
                base_url=settings.web_base_url,
                timezone=ZoneInfo(settings.timezone),
                wanted=[(school.silent.mentor_id, pair_id)],
                now=DEC_FIRST,
            )[(school.silent.mentor_id, pair_id)]
            for pair_id in (school.silent.id, second_id)
        }
    assert len(bodies) == 3 and {m.status.value for m in november} == {"sent"}
    for body in bodies:
        assert "ваших пар" in body
        # Each mentee by name, each pair's own page (the links already issued, not new ones).
        assert "1. Наставляемый: Белова Дарья Игоревна" in body
        assert f"2. Наставляемый: {school.silent.mentee_name}" in body
        assert all(link and link in body for link in page_links.values())


@pytest.fixture
def installation(engine, settings, monkeypatch):
    """The installation's settings from the environment, on this test's database: what the
    tick's task and its day processes read."""
    from nastavnik.settings import get_settings

    for name, value in {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "SMTP_URL": settings.smtp_url,
    }.items():
        monkeypatch.setenv(f"NASTAVNIK_{name}", value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_the_tick_assembles_the_ended_month_once_and_reports_counts_only(
    installation, school
) -> None:
    from tasks.cycle import tick_cycles

    (first,) = tick_cycles.fn([str(school.cycle_id)], date(2026, 12, 1))
    (second,) = tick_cycles.fn([str(school.cycle_id)], date(2026, 12, 1))
    assert (first.month, first.monthly_reports) == (NOVEMBER, 4) and first.monthly_document_id
    assert first.monthly_table[-1]["Пар"] == 4
    assert second.month is None and second.summary.message_ids == []


def test_the_days_in_processes_do_the_same_and_one_failure_spares_the_rest(
    installation, school
) -> None:
    """The tick's days side by side in processes (a department's many organisations): the
    month is assembled there as here; a cycle whose day fails comes back as DayFailed while the
    others' are done, and the same day again here does nothing twice."""
    from nastavnik import tick_day

    missing, day = uuid.uuid4(), date(2026, 12, 1)
    now = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    with tick_day.day_processes(2) as pool:
        assert pool is not None
        done, failed = tick_day.cycles_day(
            settings=installation, cycle_ids=[school.cycle_id, missing], day=day, now=now, pool=pool
        )
    assert isinstance(done, tick_day.OrganisationDay) and done.cycle_id == school.cycle_id
    assert (done.meetings.month, done.meetings.reports) == (NOVEMBER, 4)
    assert isinstance(failed, tick_day.DayFailed) and failed.cycle_id == missing
    assert failed.error.startswith("LookupError")
    (again,) = tick_day.cycles_day(
        settings=installation, cycle_ids=[school.cycle_id], day=day, now=now
    )
    assert isinstance(again, tick_day.OrganisationDay)
    assert again.meetings.month is None and again.message_ids == []


def test_without_monthly_reports_in_the_regulation_only_reminders_go_out(
    engine, settings, school
) -> None:
    with Session(engine) as session:
        policy.save_policy(
            session=session,
            organization_id=school.org_id,
            policy=policy.updated(policy.DEFAULT_POLICY, {"monthly_mentor_report": False}),
        )
        day = monthly.run_day(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            today=date(2026, 12, 1),
            now=DEC_FIRST,
        )
        assert session.exec(select(MonthlyReport)).all() == []
    assert day.month is None and day.document_id is None and day.message_ids
