"""The final event's ranking of mentors and the curator's nominations (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.16 «В целях поощрения
наставника … работодатель вправе предусмотреть: объявление благодарности, награждение почетной
грамотой организации, вручение ценного подарка; материальное поощрение»; §4.2 the mentor reports
«не реже 1 раза в месяц». The weights are nastavnik.final_event's docstring; the figures below
are worked out by hand from them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from models import (
    AuditEvent,
    CompletionReport,
    MeetingFeedback,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorNomination,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    RewardKind,
    Role,
)
from nastavnik import final_event, indicators
from nastavnik.final_event import NominationRefused, rank_mentors
from nastavnik.indicators import MentorScorecard
from nastavnik.programmes import build_programme

FORM = MentoringForm.teacher_teacher
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
AS_OF = date(2027, 6, 15)


def _record(name: str, **figures: object) -> MentorScorecard:
    values: dict[str, object] = {
        "mentor_id": uuid.UUID(int=sum(map(ord, name))),
        "full_name": name,
        "minor": False,
        "forms": (FORM.value,),
        "pairs": 1,
        "pairs_completed": 1,
        "mentees": 1,
        "mentees_completed": 1,
        "meetings_held": 10,
        "meetings_planned": 10,
        "reports_due": 0,
        "reports_on_time": 0,
        "monthly_reports_due": 8,
        "monthly_reports_on_time": 8,
        "meeting_rating": 5.0,
        "ratings_count": 10,
        "feedback_comments": 0,
        "mentor_rating": None,
        "mentee_satisfaction": None,
        "mentee_reports_received": 0,
        "mentee_reports_expected": 1,
        "plans_fulfilled": 0,
    }
    values.update(figures)
    return MentorScorecard(**values)  # type: ignore[arg-type]


# Hand-checked (weights 30/25/20/15/10; no satisfaction data → out of 85):
# А: 18/20 meetings → 27.0; rating 4.6 → 0.9·25 = 22.5; reports 8/8 → 20; pairs 2/2 → 10;
#    79.5 / 85 = 93.53 → 93.5 → почётная грамота.
# Б and В: 10/10 → 30; rating 4.0 → 18.75; reports 6/8 → 15; 1/1 → 10; 73.75 / 85 = 86.76 → 86.8
#    → благодарность; equal scores: Б has 5 written comments, В 3, so Б is above although В
#    comes first in the alphabet.
# Г: 3/10 → 9; no rating; reports 2/4 → 10; 0/1 pairs completed → 0; 19 / 60 = 31.67 → 31.7;
#    no pair completed → nothing advised.
# Д: no pair, no figure → 0, last.
RECORDS = [
    _record("Дмитриев Дмитрий", pairs=0, pairs_completed=0, meetings_held=0,
            meetings_planned=0, monthly_reports_due=0, monthly_reports_on_time=0,
            meeting_rating=None, ratings_count=0),
    _record("Григорьева Галина", pairs_completed=0, meetings_held=3, monthly_reports_due=4,
            monthly_reports_on_time=2, meeting_rating=None, ratings_count=0),
    _record("Вершинина Вера", meeting_rating=4.0, monthly_reports_on_time=6, feedback_comments=3),
    _record("Борисов Борис", meeting_rating=4.0, monthly_reports_on_time=6, feedback_comments=5),
    _record("Алексеева Анна", pairs=2, pairs_completed=2, meetings_held=18,
            meetings_planned=20, meeting_rating=4.6, feedback_comments=1),
]  # fmt: skip


def test_ranking_on_a_hand_checked_case() -> None:
    ranking = rank_mentors(RECORDS)
    assert [(r.rank, r.record.full_name, r.score, r.recommended) for r in ranking] == [
        (1, "Алексеева Анна", 93.5, RewardKind.honour_certificate),
        (2, "Борисов Борис", 86.8, RewardKind.gratitude),
        (3, "Вершинина Вера", 86.8, RewardKind.gratitude),
        (4, "Григорьева Галина", 31.7, None),
        (5, "Дмитриев Дмитрий", 0.0, None),
    ]
    first = ranking[0].reasons_ru
    assert "встречи: проведено 18 из 20 по программам (90 %) → 27,0 из 30 баллов" in first
    assert "оценка наставляемых: средняя 4,60 из 5 (10 отз.) → 22,5 из 25 баллов" in first
    assert "доклады в срок: 8 из 8 → 20,0 из 20 баллов" in first
    assert "удовлетворённость: анкет нет (ожидается 1) — не учитывается" in first
    assert any(line.startswith("итог пересчитан на 85 баллов из 100") for line in first)
    assert first[-1] == "предлагается почётная грамота (балл не ниже 90)"
    # The tie says why.
    assert ranking[2].reasons_ru[-2] == (
        "равный балл с «Борисов Борис»: ниже, так как у того больше письменных отзывов (5 против 3)"
    )
    assert ranking[3].reasons_ru[-1] == "поощрение не предлагается: нет завершённых пар"
    assert "данных для оценки нет" in ranking[4].reasons_ru


def test_ranking_is_deterministic_whatever_the_input_order() -> None:
    expected = [r.mentor_id for r in rank_mentors(RECORDS)]
    assert [r.mentor_id for r in rank_mentors(list(reversed(RECORDS)))] == expected
    # A full tie is broken by the name (ё folded), then by the id.
    twins = [_record("Ёжиков Егор"), _record("Ежов Егор")]
    assert [r.record.full_name for r in rank_mentors(twins)] == ["Ёжиков Егор", "Ежов Егор"]
    assert rank_mentors(twins)[1].reasons_ru[-2].endswith("по алфавиту")


# ---------------------------------------------------------------------------------------------
# From the meetings tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class School:
    cycle_id: uuid.UUID
    strong: uuid.UUID  # mentor participant ids
    weak: uuid.UUID
    planned: int  # meetings planned by one programme
    strong_pair: uuid.UUID | None = None
    strong_mentee: uuid.UUID | None = None


def _participant(session: Session, org_id, cycle_id, name: str, role: Role) -> uuid.UUID:
    last, first, middle = name.split()
    person = Person(
        organization_id=org_id,
        person_key=name,
        last_name=last,
        first_name=first,
        middle_name=middle,
        email=f"p{sum(map(ord, name)):x}@school2.example",
    )
    session.add(person)
    session.flush()
    participant = Participant(cycle_id=cycle_id, person_id=person.id, role=role, form=FORM)
    session.add(participant)
    session.flush()
    return participant.id


def _pair(session, org_id, cycle_id, mentor_id, mentee: str, status: PairStatus):
    mentee_id = _participant(session, org_id, cycle_id, mentee, Role.mentee)
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor_id,
        form=FORM,
        status=status,
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee_id))
    content = build_programme(
        form=FORM,
        mentor_name="Наставник",
        mentee_names=[mentee],
        mentee_requests=["освоение цифровых инструментов"],
        subjects=["информатика"],
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(PersonalProgramme(pair_id=pair.id, content=content.as_dict()))
    session.flush()
    return pair, mentee_id, content


def _school(engine, cycle_ids) -> School:
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        strong = _participant(session, org_id, cycle_id, "Алексеева Анна Петровна", Role.mentor)
        weak = _participant(session, org_id, cycle_id, "Борисов Борис Ильич", Role.mentor)
        pair, mentee, content = _pair(
            session, org_id, cycle_id, strong, "Кузнецова Ольга Игоревна", PairStatus.ended
        )
        weak_pair, _, _ = _pair(
            session, org_id, cycle_id, weak, "Соколов Иван Андреевич", PairStatus.terminated
        )
        # A dropped proposal is not the mentor's pair.
        session.add(
            MentorshipPair(cycle_id=cycle_id, mentor_id=weak, form=FORM, status=PairStatus.dropped)
        )
        # The strong pair held every planned meeting; two joint-work ones have feedback.
        for number in range(len(content.meetings)):
            held_on = date(2026, 10, 5 + number) if number < 20 else date(2027, 5, number - 19)
            log = MeetingLog(
                pair_id=pair.id,
                held_on=held_on,
                kind=MeetingKind.joint_work if number >= 3 else MeetingKind.intro,
                duration_minutes=45,
            )
            session.add(log)
            session.flush()
            if number in (3, 4):
                session.add(
                    MeetingFeedback(
                        meeting_id=log.id,
                        mentee_id=mentee,
                        rating=5 if number == 3 else 4,
                        comment="Полезно" if number == 3 else "",
                        given_on=held_on,
                    )
                )
        # One meeting of the weak pair, after the as-of date: not counted.
        session.add(
            MeetingLog(
                pair_id=weak_pair.id,
                held_on=date(2027, 6, 20),
                kind=MeetingKind.intro,
                duration_minutes=30,
            )
        )
        # Reports: October confirmed 18.11 (due 20.11: on time), November confirmed 25.12
        # (late), December never confirmed, May 2027 due 20.06 — after the as-of date.
        reports = [
            (date(2026, 10, 1), datetime(2026, 11, 18, 9, tzinfo=UTC)),
            (date(2026, 11, 1), datetime(2026, 12, 25, 9, tzinfo=UTC)),
            (date(2026, 12, 1), None),
            (date(2027, 5, 1), datetime(2027, 6, 1, 9, tzinfo=UTC)),
        ]
        for month, confirmed_at in reports:
            session.add(
                MonthlyReport(
                    pair_id=pair.id,
                    month=month,
                    status=MonthlyReportStatus.confirmed
                    if confirmed_at
                    else MonthlyReportStatus.assembled,
                    confirmed_at=confirmed_at,
                )
            )
        session.commit()
        return School(cycle_id, strong, weak, len(content.meetings), pair.id, mentee)


def test_records_are_built_from_the_meetings_tables(engine, cycle_ids) -> None:
    school = _school(engine, cycle_ids)
    with Session(engine) as session:
        records = {
            r.mentor_id: r
            for r in indicators.mentor_scorecards(
                session=session, cycle_id=school.cycle_id, today=AS_OF
            )
        }
    strong, weak = records[school.strong], records[school.weak]
    assert strong.full_name == "Алексеева Анна Петровна"
    assert (strong.pairs, strong.pairs_completed) == (1, 1)
    assert (strong.meetings_held, strong.meetings_planned) == (school.planned, school.planned)
    assert (strong.monthly_reports_due, strong.monthly_reports_on_time) == (3, 1)
    assert (strong.meeting_rating, strong.ratings_count, strong.feedback_comments) == (
        4.5,
        2,
        1,
    )
    assert strong.mentee_satisfaction is None
    assert (weak.pairs, weak.pairs_completed, weak.meetings_held) == (1, 0, 0)
    assert weak.monthly_reports_due == 0 and weak.meeting_rating is None


def test_satisfaction_comes_from_the_mentees_completion_questionnaires(engine, cycle_ids) -> None:
    school = _school(engine, cycle_ids)
    assert school.strong_pair is not None and school.strong_mentee is not None
    with Session(engine) as session:
        for participant_id, role, satisfaction in (
            (school.strong_mentee, Role.mentee, 9),
            (school.strong, Role.mentor, 2),  # the mentor's own answer does not rate the mentor
        ):
            session.add(
                CompletionReport(
                    pair_id=school.strong_pair,
                    participant_id=participant_id,
                    role=role,
                    ended_on=date(2027, 5, 31),
                    due_on=date(2027, 6, 10),
                    submitted_on=date(2027, 6, 5),
                    satisfaction_programme=8,
                    satisfaction_pair=satisfaction,
                    expectations_met=8,
                    usefulness=8,
                )
            )
        session.commit()
        before = indicators.mentor_scorecards(
            session=session, cycle_id=school.cycle_id, today=date(2027, 6, 4)
        )
        after = final_event.cycle_ranking(session=session, cycle_id=school.cycle_id, as_of=AS_OF)
    # Handed in on 5 June: not there on the 4th, there on the 15th.
    assert {r.mentor_id: r.mentee_satisfaction for r in before}[school.strong] is None
    strong = next(r for r in after if r.mentor_id == school.strong)
    assert strong.record.mentee_satisfaction == 9
    # (9 − 1) ÷ 9 of the 15 points.
    assert any(
        "удовлетворённость: 9,00 из 10 (анкеты наставляемых: 1 из 1) → 13,3 из 15" in reason
        for reason in strong.reasons_ru
    ), strong.reasons_ru


# ---------------------------------------------------------------------------------------------
# Nominations
# ---------------------------------------------------------------------------------------------


def test_curator_follows_or_overrides_the_ranking_with_a_comment(engine, cycle_ids) -> None:
    school = _school(engine, cycle_ids)
    today = date(2027, 6, 16)
    with Session(engine) as session:
        ranking = final_event.cycle_ranking(session=session, cycle_id=school.cycle_id, as_of=AS_OF)
        assert [r.mentor_id for r in ranking] == [school.strong, school.weak]
        advised = ranking[0].recommended
        assert advised is not None
        accepted = final_event.accept_recommendations(
            session=session,
            cycle_id=school.cycle_id,
            ranking=ranking,
            nominated_by="curator",
            today=today,
        )
        assert [(n.mentor_id, n.reward, n.overridden) for n in accepted] == [
            (school.strong, advised, False)
        ]
        # Another reward than advised needs a comment.
        with pytest.raises(NominationRefused, match="укажите комментарий"):
            final_event.nominate(
                session=session,
                cycle_id=school.cycle_id,
                ranking=ranking,
                mentor_id=school.strong,
                reward=RewardKind.bonus,
                nominated_by="curator",
                today=today,
            )
        chosen = final_event.nominate(
            session=session,
            cycle_id=school.cycle_id,
            ranking=ranking,
            mentor_id=school.strong,
            reward=RewardKind.bonus,
            nominated_by="curator",
            today=today,
            comment="Подготовила призёра муниципальной олимпиады",
        )
        assert chosen is not None and chosen.overridden and chosen.recommended == advised
        # A mentor the ranking did not put forward, with a comment; then withdrawn again.
        final_event.nominate(
            session=session,
            cycle_id=school.cycle_id,
            ranking=ranking,
            mentor_id=school.weak,
            reward=RewardKind.gratitude,
            nominated_by="curator",
            today=today,
            comment="Пара прекращена не по вине наставника",
        )
        assert [
            n.mentor_id for n in final_event.nominations(session=session, cycle_id=school.cycle_id)
        ] == [
            school.strong,
            school.weak,
        ]
        final_event.nominate(
            session=session,
            cycle_id=school.cycle_id,
            ranking=ranking,
            mentor_id=school.weak,
            reward=None,
            nominated_by="curator",
            today=today,
        )
        # accept_recommendations never overwrites the curator's choices.
        again = final_event.accept_recommendations(
            session=session,
            cycle_id=school.cycle_id,
            ranking=ranking,
            nominated_by="curator",
            today=today,
        )
        assert [(n.mentor_id, n.reward) for n in again] == [(school.strong, RewardKind.bonus)]
        with pytest.raises(NominationRefused, match="наставнику-обучающемуся"):
            pupil = session.get(Participant, school.weak)
            assert pupil is not None
            pupil.grade = 10
            final_event.nominate(
                session=session,
                cycle_id=school.cycle_id,
                ranking=ranking,
                mentor_id=school.weak,
                reward=RewardKind.bonus,
                nominated_by="curator",
                today=today,
                comment="Премия",
            )
        with pytest.raises(NominationRefused, match="нет в рейтинге"):
            final_event.nominate(
                session=session,
                cycle_id=school.cycle_id,
                ranking=ranking,
                mentor_id=uuid.uuid4(),
                reward=RewardKind.gratitude,
                nominated_by="curator",
                today=today,
            )
        session.commit()
        rows = session.exec(select(MentorNomination)).all()
        assert len(rows) == 2
        actions = [e.action for e in session.exec(select(AuditEvent))]
        assert actions.count("final_event.nominated") == 3
        assert actions.count("final_event.withdrawn") == 1
