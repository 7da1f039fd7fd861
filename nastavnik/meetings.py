"""Meeting logs of a pair: the target model's sequence and the feedback duty (no Prefect).

DESIGN §3 stage 4 and the regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``):
a pair meets in a fixed sequence — «встреча-знакомство», «пробная рабочая встреча»,
«встреча-планирование», «совместная работа» each with feedback, «итоговая встреча».
A meeting out of sequence is recorded (it happened) and flagged, never refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from models import MeetingKind

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
