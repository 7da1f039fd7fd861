"""Indicators at completion on a hand-checked small case (tests/test_completion.py's school).

By hand, on 12.06.2027 (policy: reports within 10 days):
- finished pairs: A (ended 31.05), B (terminated by order 15.02), C (end date 31.05 passed);
  D goes on to 30.06 and counts nothing;
- mentees who completed: A's and C's of A, B, C → 2 / 3;
- reports owed: 6 (a mentor and a mentee per pair); in time: the mentor of A (05.06), A's mentee
  (08.06), the mentor of B (20.02, due 25.02), C's mentee (09.06) → 4 / 6; C's mentor is late
  (11.06), B's mentee never reported;
- meetings to each pair's end month: A 4 of 4, B 1 of 3 (October–December planned before
  February), C 2 of 4 → 7 / 11;
- satisfaction with the programme: mentees 10 and 8 → 9.0; mentors 9, 5, 7 → 7.0;
  evaluation of the mentor: 10 and 8 → 9.0; expectations 8+9+5+6+7 → 7.0; usefulness
  9+10+6+7+8 → 8.0.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from nastavnik import indicators
from tests.test_completion import (  # noqa: F401
    JUNE_12,
    MENTEE_ANSWERS,
    MENTOR_1,
    MENTOR_2,
    MENTOR_ANSWERS,
    school,
    submit,
)


def _answers(base: dict, **scores: int | str) -> dict:
    return {**base, **{k: str(v) for k, v in scores.items()}}


def _year_end(engine, school) -> None:  # noqa: F811
    submit(engine, school.ended.id, school.ended.mentor_id, MENTOR_ANSWERS, date(2027, 6, 5))
    submit(engine, school.ended.id, school.ended.mentee_id, MENTEE_ANSWERS, date(2027, 6, 8))
    submit(
        engine,
        school.terminated.id,
        school.terminated.mentor_id,
        _answers(
            MENTOR_ANSWERS,
            plan_fulfilment="partial",
            satisfaction_programme=5,
            satisfaction_pair=4,
            expectations_met=5,
            usefulness=6,
        ),
        date(2027, 2, 20),
    )
    submit(
        engine,
        school.past_end.id,
        school.past_end.mentor_id,
        _answers(
            MENTOR_ANSWERS,
            plan_fulfilment="partial",
            satisfaction_programme=7,
            satisfaction_pair=7,
            expectations_met=6,
            usefulness=7,
        ),
        date(2027, 6, 11),
    )
    submit(
        engine,
        school.past_end.id,
        school.past_end.mentee_id,
        _answers(
            MENTEE_ANSWERS,
            mentor_rating=8,
            satisfaction_programme=8,
            satisfaction_pair=8,
            expectations_met=7,
            usefulness=8,
        ),
        date(2027, 6, 9),
    )


def _indicators(engine, school) -> indicators.CycleIndicators:  # noqa: F811
    with Session(engine) as session:
        return indicators.cycle_indicators(session=session, cycle_id=school.cycle_id, today=JUNE_12)


def test_the_hand_checked_case(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    result = _indicators(engine, school)
    assert result.pairs == 3
    figures = {i.key: (i.numerator, i.denominator, i.value_ru) for i in result.overall}
    assert figures == {
        "completed": (2, 3, "66,7 %"),
        "reports_on_time": (4, 6, "66,7 %"),
        "meetings": (7, 11, "63,6 %"),
        "satisfaction_mentees": (18, 2, "9,0 из 10"),
        "satisfaction_mentors": (21, 3, "7,0 из 10"),
        "mentor_rating": (18, 2, "9,0 из 10"),
        "expectations": (35, 5, "7,0 из 10"),
        "usefulness": (40, 5, "8,0 из 10"),
    }
    by_form = {f.form: (f.mentors.value, f.mentees.value) for f in result.by_form}
    assert by_form == {"ученик–ученик": (7.0, 10.0), "учитель–учитель": (7.0, 8.0)}


def test_every_indicator_explains_its_formula_in_russian(engine, school) -> None:  # noqa: F811
    result = _indicators(engine, school)
    for item in result.overall:
        assert "=" in item.formula_ru and item.title_ru
    # Nothing submitted yet: means have no data, shares still count what is owed.
    assert result.get("satisfaction_mentees").value_ru == "нет данных"
    assert result.get("reports_on_time").counted_ru == "0 из 6"


D_PLANNED_TO_JUNE = 4  # the going-on pair's programme: every planned month is by June


def test_the_scorecards_per_mentor(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    cards = {c.full_name: c for c in _indicators(engine, school).scorecards}
    first, second = cards[MENTOR_1], cards[MENTOR_2]
    assert (first.pairs, first.mentees, first.mentees_completed) == (2, 2, 1)
    assert (first.reports_due, first.reports_on_time, first.plans_fulfilled) == (2, 2, 1)
    assert (first.meetings_planned, first.meetings_held) == (7, 5)
    assert (first.mentor_rating, first.mentee_satisfaction) == (10.0, 9.0)
    # The second mentor's pairs: C (finished) and D (goes on to 30.06): the end-of-mentoring
    # figures count C only, the meetings count D's months to the day as well (0 held).
    assert (second.pairs, second.mentees, second.mentees_completed) == (2, 1, 1)
    assert (second.reports_due, second.reports_on_time) == (1, 0)
    assert (second.mentee_reports_received, second.mentee_reports_expected) == (1, 2)
    assert (second.meetings_planned, second.meetings_held) == (4 + D_PLANNED_TO_JUNE, 2)
    assert (second.mentor_rating, second.mentee_satisfaction) == (8.0, 8.0)
    assert "оценка наставляемыми: 8,0 из 10" in second.reasons_ru
    assert second.on_time_share == 0 and first.completion_share == 0.5
    assert not first.minor and not second.minor  # no grade, no birth date: adults


def test_the_same_data_gives_the_same_figures(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    assert _indicators(engine, school) == _indicators(engine, school)
