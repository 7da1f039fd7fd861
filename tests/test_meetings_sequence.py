"""The target model's meeting sequence (DESIGN §3 stage 4): out-of-order meetings are flagged."""

from datetime import date

from models import MeetingKind
from nastavnik.meetings import FEEDBACK_REQUIRED, sequence_problems

K = MeetingKind


def test_the_regular_sequence_has_no_problems() -> None:
    days = [
        (date(2026, 10, 1), K.intro),
        (date(2026, 10, 1), K.trial),
        (date(2026, 10, 8), K.planning),
        (date(2026, 11, 5), K.joint_work),
        (date(2026, 11, 19), K.joint_work),
        (date(2027, 5, 20), K.final),
    ]
    assert sequence_problems(days) == []


def test_joint_work_before_the_intro_is_flagged() -> None:
    problems = sequence_problems([(date(2026, 10, 1), K.joint_work), (date(2026, 10, 5), K.intro)])
    assert [(p.held_on, p.kind) for p in problems] == [(date(2026, 10, 1), K.joint_work)]
    assert "прежде, чем «Встреча-знакомство»" in problems[0].message_ru


def test_repeats_and_meetings_after_the_final_are_flagged() -> None:
    problems = sequence_problems(
        [
            (date(2026, 10, 1), K.intro),
            (date(2026, 10, 2), K.intro),
            (date(2026, 10, 3), K.trial),
            (date(2026, 10, 4), K.planning),
            (date(2026, 10, 5), K.joint_work),
            (date(2026, 10, 6), K.final),
            (date(2026, 10, 7), K.joint_work),
        ]
    )
    assert [p.message_ru for p in problems] == [
        "«Встреча-знакомство» проведена повторно",
        "«Совместная работа» после итоговой встречи",
    ]


def test_feedback_is_required_on_joint_work_and_the_final_meeting() -> None:
    assert FEEDBACK_REQUIRED == {K.joint_work, K.final}
