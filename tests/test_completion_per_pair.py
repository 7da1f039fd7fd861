"""The completion stage follows each pair from its own end (no Prefect), and the final event's
ranking reads the same per-mentor scorecard as the evaluation memo and says what it had.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.13–§2.14: the reports are
due «в течение 10 дней по завершении наставничества» — of that pair's mentoring, so a pair ended
early by order (§2.10) in January reports in January, not in June. The school is
tests/test_completion.py's: A ended 31.05, B terminated 15.02, C past its 31.05 end, D going on
to 30.06 (mentor 2 has C and D).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from models import MentorshipPair
from nastavnik import completion, completion_reminders, final_event, indicators, tick
from tests.test_completion import (  # noqa: F401
    JUNE_12,
    MENTEE_ANSWERS,
    MENTOR_2,
    MENTOR_ANSWERS,
    TERMINATED_ON,
    school,
    submit,
)
from tests.test_indicators import _year_end

JULY_11 = date(2027, 7, 11)  # D's reports were due 10.07


def _set_end(engine, pair_id, ends_on: date) -> None:
    with Session(engine) as session:
        pair = session.get(MentorshipPair, pair_id)
        assert pair is not None
        pair.ends_on = ends_on
        session.add(pair)
        session.commit()


@pytest.mark.parametrize(
    ("ended_on", "due_on"),
    [
        (date(2026, 12, 25), date(2027, 1, 4)),  # across the year's end
        (date(2026, 12, 31), date(2027, 1, 10)),  # the year's last day
        (date(2027, 1, 31), date(2027, 2, 10)),  # a 31-day month's end
        (date(2027, 2, 25), date(2027, 3, 7)),  # February of a common year
        (date(2027, 4, 30), date(2027, 5, 10)),  # a 30-day month's end
    ],
)
def test_each_pair_is_due_from_its_own_end(engine, school, ended_on, due_on) -> None:  # noqa: F811
    _set_end(engine, school.terminated.id, ended_on)
    with Session(engine) as session:
        owed = completion.expected_reports(
            session=session, cycle_id=school.cycle_id, today=ended_on + timedelta(days=1)
        )
        on_june_12 = completion.expected_reports(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
    # The day after its end the early pair owes, due from its own end; the pairs going on to
    # 31.05 and 30.06 owe nothing yet; in June they are due from their own ends.
    owing = {e.pair_id: e.due_on for e in owed}
    assert owing[school.terminated.id] == due_on
    assert school.past_end.id not in owing and school.going_on.id not in owing
    dues = {e.pair_id: e.due_on for e in on_june_12}
    assert dues[school.terminated.id] == due_on
    assert dues[school.ended.id] == dues[school.past_end.id] == date(2027, 6, 10)


def test_an_early_terminated_pair_is_reminded_in_february_not_june(
    engine,
    settings,
    school,  # noqa: F811
) -> None:
    """B ended by order on 15.02: due 25.02; the «before» reminders go on 22.02 to its two
    participants, keyed by that due date, and nobody else is written to."""
    day = date(2027, 2, 22)
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    with Session(engine) as session:
        queued = completion_reminders.queue_reminders(
            session=session, settings=settings, cycle_id=school.cycle_id, today=day, now=now
        )
        session.commit()
    assert len(queued) == 2
    keys = {
        completion_reminders.reminder_key(
            pair_id=school.terminated.id, participant_id=participant, due=date(2027, 2, 25), kind=k
        )
        for participant in (school.terminated.mentor_id, school.terminated.mentee_id)
        for k in ("before",)
    }
    from models import OutboxMessage

    with Session(engine) as session:
        found = {session.get(OutboxMessage, message_id).idempotency_key for message_id in queued}
    assert found == keys
    assert TERMINATED_ON + timedelta(days=10) == date(2027, 2, 25)


def test_the_stage_waits_until_every_pair_is_settled(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    with Session(engine) as session:
        early = completion.report_window(
            session=session, cycle_id=school.cycle_id, today=date(2027, 6, 5)
        )
        june = completion.report_window(session=session, cycle_id=school.cycle_id, today=JUNE_12)
        waits = tick.stage_waits_for(
            session=session, cycle_id=school.cycle_id, stage="completion", today=JUNE_12
        )
        other = tick.stage_waits_for(
            session=session, cycle_id=school.cycle_id, stage="final-event", today=JUNE_12
        )
        july = completion.report_window(session=session, cycle_id=school.cycle_id, today=JULY_11)
    # 05.06: A and C still within their ten days (A's mentee reports on 08.06), D going on; B's
    # February deadline has long passed: it is settled.
    assert {pair for pair, _ in early.awaiting} == {school.ended.id, school.past_end.id}
    assert early.going_on == ((school.going_on.id, date(2027, 6, 30)),) and early.settled == 1
    # 12.06: only D keeps the stage waiting, until its own deadline.
    assert not june.ready and june.awaiting == () and june.settled == 3
    assert june.settles_on == date(2027, 7, 10)
    assert waits == june.reason_ru and "30.06.2027" in waits and "10.07.2027" in waits
    assert other == ""
    assert july.ready and july.reason_ru == "" and july.settled == 4


def test_all_reports_in_settle_a_pair_before_its_deadline(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    reported = date(2027, 7, 2)
    submit(engine, school.going_on.id, school.going_on.mentor_id, MENTOR_ANSWERS, reported)
    submit(engine, school.going_on.id, school.going_on.mentee_id, MENTEE_ANSWERS, reported)
    with Session(engine) as session:
        before = completion.report_window(
            session=session, cycle_id=school.cycle_id, today=date(2027, 7, 1)
        )
        after = completion.report_window(session=session, cycle_id=school.cycle_id, today=reported)
    assert before.awaiting == ((school.going_on.id, date(2027, 7, 10)),) and not before.ready
    assert after.ready  # eight days before D's deadline


def test_the_ranking_and_the_memo_read_the_same_scorecard(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    with Session(engine) as session:
        memo = indicators.cycle_indicators(session=session, cycle_id=school.cycle_id, today=JUNE_12)
        ranking = final_event.cycle_ranking(
            session=session, cycle_id=school.cycle_id, as_of=JUNE_12
        )
    cards = {card.mentor_id: card for card in memo.scorecards}
    assert len(ranking) == len(cards) == 2
    for entry in ranking:
        card = cards[entry.mentor_id]
        assert entry.record == card
        meetings = f"проведено {card.meetings_held} из {card.meetings_planned} по программам"
        assert any(meetings in reason for reason in entry.reasons_ru), entry.reasons_ru
    second = next(e for e in ranking if e.record.full_name == MENTOR_2)
    # C's mentee's questionnaire: satisfaction with the pair 8 (memo) → the ranking's criterion.
    assert second.record.mentee_satisfaction == 8.0 == cards[second.mentor_id].mentee_satisfaction
    assert any(
        "удовлетворённость: 8,00 из 10 (анкеты наставляемых: 1 из 2)" in r
        for r in second.reasons_ru
    ), second.reasons_ru


def test_the_ranking_says_which_questionnaires_it_had(engine, school) -> None:  # noqa: F811
    with Session(engine) as session:
        ranking = final_event.cycle_ranking(
            session=session, cycle_id=school.cycle_id, as_of=date(2027, 5, 20)
        )
        may = final_event.ranking_evidence(
            session=session, cycle_id=school.cycle_id, ranking=ranking, as_of=date(2027, 5, 20)
        )
    # 20.05: B ended by order and A is marked ended (the fixture's); C and D go on; none of the
    # four mentees has handed in a questionnaire.
    assert (may.reports_received, may.reports_expected, may.pairs, may.pairs_finished) == (
        0,
        4,
        4,
        2,
    )
    assert may.statement_ru == (
        "На 20.05.2027 рейтинг учитывает журналы встреч, отзывы наставляемых, ежемесячные отчёты "
        "и анкеты по завершении наставничества (п. 2.14): получено 0 из 4 ожидаемых; пар ещё не "
        "завершено: 2. Удовлетворённость учтена только по полученным анкетам; у наставников без "
        "анкет этот критерий не учитывается."
    )
    _year_end(engine, school)  # A's and C's mentees report in June
    submit(engine, school.terminated.id, school.terminated.mentee_id, MENTEE_ANSWERS, JUNE_12)
    submit(engine, school.going_on.id, school.going_on.mentee_id, MENTEE_ANSWERS, JULY_11)
    with Session(engine) as session:
        june = final_event.ranking_evidence(
            session=session,
            cycle_id=school.cycle_id,
            ranking=final_event.cycle_ranking(
                session=session, cycle_id=school.cycle_id, as_of=JUNE_12
            ),
            as_of=JUNE_12,
        )
        july = final_event.ranking_evidence(
            session=session,
            cycle_id=school.cycle_id,
            ranking=final_event.cycle_ranking(
                session=session, cycle_id=school.cycle_id, as_of=JULY_11
            ),
            as_of=JULY_11,
        )
    assert (june.reports_received, june.reports_expected, june.complete) == (3, 4, False)
    assert "получено 3 из 4 ожидаемых; пар ещё не завершено: 1." in june.statement_ru
    assert july.complete and july.statement_ru.endswith(
        "получено 4 из 4 ожидаемых — все анкеты получены."
    )


def test_the_tick_starts_the_stage_once_every_pair_is_settled(
    engine,
    settings,
    school,  # noqa: F811
) -> None:
    """The roadmap's window opens on 11.06, but D goes on to 30.06: the tick waits, saying why,
    and starts the one run once D's deadline (10.07) has passed."""
    from models import Decision
    from nastavnik import plan
    from nastavnik.roadmap import (
        Completion,
        CompletionKind,
        OrganisationKind,
        Roadmap,
        Schedule,
        Stage,
        Window,
        WindowKind,
    )
    from tests.test_tick import _decide, _item, _tick

    evaluation = _item(
        "13",
        Stage.completion,
        Completion(kind=CompletionKind.stage, stage=Stage.completion),
        "с 11 июня по 30 июня, ежегодно",
    )
    with Session(engine) as session:
        plan.create_plan(
            session=session,
            cycle_id=school.cycle_id,
            roadmap=Roadmap(
                title="Дорожная карта",
                organisation="Школа",
                kind=OrganisationKind.school,
                school_year="2026/2027",
                items=(evaluation,),
            ),
            schedules=[
                (
                    evaluation,
                    Schedule(WindowKind.dated, (Window(date(2027, 6, 11), date(2027, 6, 30)),)),
                )
            ],
            first_cycle="2026/2027",
        )
        session.commit()
    _decide(
        engine,
        settings,
        school.cycle_id,
        "programmes-approval",
        "pairing",
        Decision.approve,
        on=date(2026, 11, 20),
    )
    june = _tick(engine, settings, school.cycle_id, JUNE_12)
    assert june.starts == []
    assert [w for w in june.waiting if w.startswith("13: ожидаются отчёты")], june.waiting
    assert "срок последних отчётов — 10.07.2027" in june.waiting[0]
    assert _tick(engine, settings, school.cycle_id, date(2027, 7, 10)).starts == []
    july = _tick(engine, settings, school.cycle_id, JULY_11)
    assert [s.stage for s in july.starts] == ["completion"] and july.waiting == []
