"""The roadmap format: an organisation's plan of mentoring items, due rules in Russian (no Prefect).

A roadmap is a YAML file (see `docs/roadmaps.md`). Each item keeps its number, title and due rule
exactly as in the source document; the date grammar (`nastavnik.dates`) turns the due rule into
dated windows for a given school year. This module holds the types every later layer reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")


class OrganisationKind(StrEnum):
    school = "school"
    college = "college"
    centre = "centre"  # supplementary-education centre
    department = "department"  # municipal education department


class Stage(StrEnum):
    """Programme stages in the order a year runs them (DESIGN §3)."""

    preparation = "preparation"
    base_formation = "base-formation"
    training = "training"
    pairing = "pairing"
    meetings = "meetings"
    completion = "completion"
    final_event = "final-event"
    department = "department"


class CompletionKind(StrEnum):
    """What closes an item."""

    stage = "stage"  # a stage flow finishes with the director's approval
    document = "document"  # a document of the given type is issued (approved) in the cycle
    manual = "manual"  # the responsible closes it with evidence: a file, a link or a note
    recurring = "recurring"  # each occurrence is closed on its own, by evidence or a document


class Completion(BaseModel):
    """How an item is completed; `stage` or `document` name the thing that completes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CompletionKind
    stage: Stage | None = None
    document: str | None = None


class RoadmapItem(BaseModel):
    """One line of a roadmap, as in the source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(min_length=1)
    title: str = Field(min_length=1)
    section: str = ""
    stage: Stage
    completes: Completion
    responsible: tuple[str, ...] = ()
    due: str = Field(min_length=1, description="The due rule in the source's Russian words")
    result: str = ""
    approval: bool = False


class Roadmap(BaseModel):
    """An organisation's roadmap, written for one school year (its first, if it spans several)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    organisation: str
    kind: OrganisationKind
    forms: tuple[str, ...] = ()
    school_year: str = Field(description="The school year the source was written for: 2022/2023")
    source: str = ""
    items: tuple[RoadmapItem, ...]

    @field_validator("school_year")
    @classmethod
    def _school_year(cls, value: str) -> str:
        first_year(value)
        return value


def first_year(school_year: str) -> int:
    """2026 for «2026/2027»; refuses anything else."""
    match = SCHOOL_YEAR.match(school_year)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise ValueError(f"учебный год {school_year!r}: ожидается вида 2026/2027")
    return int(match[1])


class WindowKind(StrEnum):
    dated = "dated"  # one window, or one per occurrence of a recurring item
    continuous = "continuous"  # all year («Постоянно», «В течение года»)
    on_demand = "on_demand"  # «По мере необходимости»: no date, never overdue
    after_event = "after_event"  # «По завершении программы», «в течение 10 дней после завершения»


@dataclass(frozen=True, order=True)
class Window:
    """Dates from start to end, both inclusive; `end` is the due date."""

    start: date
    end: date


@dataclass(frozen=True)
class Schedule:
    """An item's dates in one cycle's school year."""

    kind: WindowKind
    windows: tuple[Window, ...] = ()
    event: str | None = None  # after_event: which event («programme-end», «pair-end», ...)
    days_after: int | None = None  # after_event: due this many days after the event
    recurring: bool = False
    applies: bool = True  # False: a multi-year roadmap's item of another year


class RoadmapError(ValueError):
    """A roadmap file that cannot be used; each line names the file, item and field or phrase."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))
