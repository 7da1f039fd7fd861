"""The roadmap format: an organisation's plan of mentoring items, due rules in Russian (no Prefect).

A roadmap is a YAML file (see `docs/roadmaps.md`). Each item keeps its number, title and due rule
exactly as in the source document; the date grammar (`nastavnik.dates`) turns the due rule into
dated windows for a given school year. This module holds the types every later layer reads,
`load_roadmap` (a file, validated: fields, completions and every due rule) and `roadmap_schedule`
(every item's windows in one cycle). The window types live in `nastavnik.dates` (the grammar
builds them) and are re-exported here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.department import ReportKind
from nastavnik.dates import (
    DuePhraseError,
    Schedule,
    Window,
    WindowKind,
    first_year,
    parse_due,
)

__all__ = [
    "KNOWN_DOCUMENTS",
    "KNOWN_FORMS",
    "ROADMAP_SCHEMA",
    "Completion",
    "CompletionKind",
    "OrganisationKind",
    "Roadmap",
    "RoadmapError",
    "RoadmapItem",
    "describe_completion",
    "describe_schedule",
    "Schedule",
    "Stage",
    "Window",
    "WindowKind",
    "first_year",
    "load_roadmap",
    "roadmap_json_schema",
    "roadmap_schedule",
]

# The committed JSON Schema, relative to the repository root (tests keep it equal to the model's).
ROADMAP_SCHEMA = "roadmaps/roadmap.schema.json"

# Document types the project issues today; a roadmap may name others (descriptive, kebab-case).
KNOWN_DOCUMENTS = ("order", "memo", "consent", "programme", "register", "report", "certificate")

# Mentoring forms as the matching and the documents spell them (en dash U+2013, no spaces).
KNOWN_FORMS = (
    "ученик–ученик",
    "учитель–учитель",
    "работодатель–ученик",
    "студент–ученик",
    "преподаватель–студент",
    "студент–студент",
    "работодатель–студент",
    "преподаватель–преподаватель",
    "мастер производственного обучения–обучающийся",
    "директор–педагог",
    "педагог–педагог",
)

# libyaml's loader when PyYAML was built with it (ten times faster), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DOCUMENT_TYPE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


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
    reports = "reports"  # a department's item: every member organisation submits its report


class Completion(BaseModel):
    """How an item is completed; `stage` or `document` name the thing that completes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CompletionKind
    stage: Stage | None = Field(
        default=None, description="kind stage: the stage whose flow completes the item"
    )
    document: str | None = Field(
        default=None,
        description="kind document (or recurring): the document type issued, e.g. order, "
        "evaluation-memo",
        pattern=DOCUMENT_TYPE.pattern,
    )
    report: ReportKind | None = Field(
        default=None,
        description="kind reports: the report every member organisation submits — information, "
        "interim or final",
    )

    @model_validator(mode="after")
    def _names_what_completes(self) -> Completion:
        if self.kind is CompletionKind.reports:
            if self.report is None:
                raise ValueError(
                    "kind: reports требует поле report (какой отчёт сдают организации: "
                    "information, interim или final)"
                )
            if self.document is not None:
                raise ValueError("kind: reports не берёт поле document")
        elif self.report is not None:
            raise ValueError(f"поле report только для kind: reports, здесь kind: {self.kind.value}")
        if self.kind is CompletionKind.stage:
            if self.stage is None:
                raise ValueError("kind: stage требует поле stage (какой этап закрывает пункт)")
            if self.document is not None:
                raise ValueError("kind: stage не берёт поле document")
        elif self.stage is not None:
            raise ValueError(f"поле stage только для kind: stage, здесь kind: {self.kind.value}")
        if self.kind is CompletionKind.document and self.document is None:
            raise ValueError("kind: document требует поле document (тип документа)")
        if self.kind is CompletionKind.manual and self.document is not None:
            raise ValueError("kind: manual не берёт поле document; для документа — kind: document")
        return self


class RoadmapItem(BaseModel):
    """One line of a roadmap, as in the source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(min_length=1, description="The item's number as in the source: «2.3», «1.»")
    id: str | None = Field(
        default=None,
        min_length=1,
        description="A key unique in the file, needed only where the source repeats a number",
    )
    title: str = Field(min_length=1)
    details: str = Field(default="", description="The work the item involves, as in the source")
    section: str = ""
    stage: Stage
    completes: Completion
    responsible: tuple[str, ...] = ()
    due: str = Field(
        description="The due rule in the source's Russian words; empty: the source gives no date"
    )
    result: str = ""
    approval: bool = False

    @property
    def key(self) -> str:
        """The item's key in a plan: `id` if given, else the number."""
        return self.id or self.number


class Roadmap(BaseModel):
    """An organisation's roadmap, written for one school year (its first, if it spans several)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    organisation: str
    kind: OrganisationKind
    forms: tuple[str, ...] = ()
    school_year: str = Field(description="The school year the source was written for: 2022/2023")
    source: str = ""
    items: tuple[RoadmapItem, ...] = Field(min_length=1)

    @field_validator("school_year")
    @classmethod
    def _school_year(cls, value: str) -> str:
        first_year(value)
        return value

    @field_validator("forms")
    @classmethod
    def _forms(cls, forms: tuple[str, ...]) -> tuple[str, ...]:
        for form in forms:
            if "—" in form or " –" in form or "– " in form or "–" not in form:
                raise ValueError(
                    f"форма «{form}»: пишите через короткое тире без пробелов, как «ученик–ученик»"
                )
        return forms


class RoadmapError(ValueError):
    """A roadmap file that cannot be used; each line names the file, item and field or phrase."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


def roadmap_json_schema() -> dict[str, Any]:
    """The JSON Schema of a roadmap file, generated from the model (committed as ROADMAP_SCHEMA)."""
    schema = Roadmap.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def roadmap_json_schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(roadmap_json_schema(), ensure_ascii=False, indent=2) + "\n"


# What the YAML library's English says, in words a roadmap's author can act on.
_YAML_HINTS = {
    "mapping values are not allowed": (
        " (в значении есть двоеточие с пробелом: возьмите текст в кавычки или запишите его "
        'через >-, например title: "Наставничество: от идеи к практике")'
    ),
    "found character '\\t'": " (табуляция: отступы в YAML — только пробелы)",
}


def load_roadmap(path: Path | str) -> Roadmap:
    """Read and check a roadmap file; RoadmapError lists every problem, one line each."""
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RoadmapError([f"{label}: файл не в кодировке UTF-8"]) from None
    except OSError as error:
        raise RoadmapError([f"{label}: не удалось прочитать файл: {error.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"строка {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        hint = next((text for known, text in _YAML_HINTS.items() if known in problem), "")
        raise RoadmapError([f"{label}: {where}ошибка YAML: {problem}{hint}"]) from None
    if not isinstance(data, dict):
        raise RoadmapError(
            [f"{label}: ожидается словарь полей (title, organisation, kind, school_year, items)"]
        )
    try:
        roadmap = Roadmap.model_validate(data)
    except ValidationError as error:
        raise RoadmapError(
            [_describe(label, data, problem) for problem in error.errors()]
        ) from None
    errors = _check_items(label, roadmap)
    if errors:
        raise RoadmapError(errors)
    return roadmap


def roadmap_schedule(
    roadmap: Roadmap, *, cycle: str, first_cycle: str | None = None
) -> list[tuple[RoadmapItem, Schedule]]:
    """Every item with its Schedule in `cycle` (items of other years have applies=False)."""
    return [
        (
            item,
            parse_due(
                item.due, written_for=roadmap.school_year, cycle=cycle, first_cycle=first_cycle
            ),
        )
        for item in roadmap.items
    ]


def _check_items(label: str, roadmap: Roadmap) -> list[str]:
    """Keys unique; every due rule readable; recurring windows if and only if kind recurring."""
    errors: list[str] = []
    seen: set[str] = set()
    for item in roadmap.items:
        where = f"{label}: пункт {item.key}"
        if item.key in seen:
            errors.append(
                f"{where}: номер повторяется в файле; задайте пунктам с этим номером разные поля id"
            )
        seen.add(item.key)
        try:
            # a representative year: the one the file was written for
            schedule = parse_due(
                item.due, written_for=roadmap.school_year, cycle=roadmap.school_year
            )
        except DuePhraseError as error:
            errors.append(f"{where}: поле due: {error}")
            continue
        if item.completes.kind is CompletionKind.reports:
            if roadmap.kind is not OrganisationKind.department:
                errors.append(
                    f"{where}: поле completes: kind: reports только в дорожной карте отдела "
                    f"образования (kind: department), здесь kind: {roadmap.kind.value}"
                )
            if schedule.kind in (WindowKind.on_demand, WindowKind.after_event):
                errors.append(
                    f"{where}: поле completes: kind: reports требует срок с датой, к которому "
                    f"организации сдают отчёт; «{item.due}» даты не даёт"
                )
        recurring = item.completes.kind is CompletionKind.recurring
        # Several dated windows («по полугодиям (декабрь, май)») are occurrences too, and a
        # weekly duty («еженедельно по средам») is one row over the school year either way.
        weekly = "еженедел" in item.due.lower() or "в неделю" in item.due.lower()
        if recurring and not schedule.recurring and len(schedule.windows) < 2 and not weekly:
            errors.append(
                f"{where}: поле completes: kind: recurring, но срок «{item.due}» не повторяется "
                "(«ежемесячно», «1 раз в четверть», …)"
            )
        elif schedule.recurring and not recurring:
            errors.append(
                f"{where}: поле completes: срок «{item.due}» повторяется в году, "
                "укажите kind: recurring"
            )
    return errors


_MESSAGES = {
    "missing": "обязательное поле не задано",
    "extra_forbidden": "нет такого поля в формате дорожной карты",
    "string_too_short": "не может быть пустым",
    "too_short": "не может быть пустым",
    "string_type": 'ожидается строка (номер возьмите в кавычки: "2.3")',
    "bool_type": "ожидается true или false",
    "bool_parsing": "ожидается true или false",
    "tuple_type": "ожидается список",
    "list_type": "ожидается список",
    "model_type": "ожидается словарь полей",
    "dict_type": "ожидается словарь полей",
    "string_pattern_mismatch": "ожидается тип латиницей через дефис, например evaluation-memo",
}


def _describe(label: str, data: dict[str, Any], problem: Any) -> str:
    """One pydantic error as «файл: пункт 2.3: поле completes.kind: сообщение»."""
    location = list(problem["loc"])
    kind = problem["type"]
    if kind == "enum":
        message = f"ожидается одно из: {problem['ctx']['expected']}"
    elif kind == "value_error":
        message = str(problem["msg"]).removeprefix("Value error, ")
    else:
        message = _MESSAGES.get(kind, problem["msg"])
    where = label
    if len(location) >= 2 and location[0] == "items" and isinstance(location[1], int):
        index = location[1]
        items = data.get("items")
        number = None
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            number = items[index].get("id") or items[index].get("number")
        where += f": пункт {number}" if number else f": пункт №{index + 1} по порядку в items"
        location = location[2:]
    if location:
        where += ": поле " + ".".join(str(part) for part in location)
    return f"{where}: {message}"


# The stage whose approval a stage waits for (nastavnik.stages.PREREQUISITES, by stage).
STAGE_NEEDS = {
    Stage.training: Stage.base_formation,
    Stage.pairing: Stage.training,
    Stage.completion: Stage.pairing,
    Stage.final_event: Stage.pairing,
}


def _starts_stage(item: RoadmapItem, schedule: Schedule) -> Stage | None:
    """The stage a dated `kind: stage` item starts when its window opens, if it does."""
    dated = schedule.kind in (WindowKind.dated, WindowKind.continuous, WindowKind.after_event)
    if item.completes.kind is not CompletionKind.stage or not (schedule.applies and dated):
        return None
    return item.completes.stage


def stage_warnings(schedules: Sequence[tuple[RoadmapItem, Schedule]]) -> list[str]:
    """What `roadmap check` warns of: a stage the tick would start whose prerequisite stage no
    dated item starts (it waits until the curator starts that one by hand)."""
    started = {stage for item, schedule in schedules if (stage := _starts_stage(item, schedule))}
    warnings = []
    for item, schedule in schedules:
        stage = _starts_stage(item, schedule)
        needed = STAGE_NEEDS.get(stage) if stage else None
        if needed is not None and needed in started:
            before = _opens_before(item, schedule, needed, schedules)
            if before is not None:
                warnings.append(before)
            continue
        if needed is None:
            continue
        naming = [(i, s) for i, s in schedules if i.completes.stage == needed]
        this_year = [i for i, s in naming if s.applies]
        if this_year:
            where = f"пункт {this_year[0].key} этапа {needed.value} не датирован"
        elif naming:
            where = f"пункт {naming[0][0].key} этапа {needed.value} — другого года карты"
        else:
            where = f"в карте нет пункта этапа {needed.value}"
        warnings.append(
            f"пункт {item.key} (этап {stage.value if stage else ''}) ждёт этап {needed.value}: "
            f"{where}, тик его не запустит — куратор запускает его вручную"
        )
    return warnings


def _opens_before(
    item: RoadmapItem,
    schedule: Schedule,
    needed: Stage,
    schedules: Sequence[tuple[RoadmapItem, Schedule]],
) -> str | None:
    """A warning when the item's stage opens before the stage it waits for: it will start late."""
    starts = [
        s.windows[0].start for i, s in schedules if _starts_stage(i, s) == needed and s.windows
    ]
    if not schedule.windows or not starts or schedule.windows[0].start >= min(starts):
        return None
    return (
        f"пункт {item.key} (этап {item.completes.stage.value if item.completes.stage else ''}, "
        f"с {schedule.windows[0].start:%d.%m.%Y}) начнётся не раньше этапа {needed.value} "
        f"(с {min(starts):%d.%m.%Y}) и его утверждения директором: срок пункта может быть "
        "пропущен"
    )


def describe_completion(completes: Completion) -> str:
    """«stage: pairing», «document: order», «reports: final», «manual»."""
    named = completes.stage.value if completes.stage is not None else completes.document
    if completes.report is not None:
        named = completes.report.value
    return f"{completes.kind.value}: {named}" if named else completes.kind.value


def describe_schedule(schedule: Schedule) -> str:
    """A schedule in a few Russian words, for tables and reports."""
    if not schedule.applies:
        return "не в этом году (другой год дорожной карты)"
    if schedule.kind is WindowKind.on_demand:
        return "по мере необходимости, без даты"
    if schedule.kind is WindowKind.after_event:
        ending, after = EVENT_NAMES.get(schedule.event or "", ("", schedule.event or ""))
        if schedule.days_after is None:
            return f"по завершении {ending}" if ending else f"после {after}"
        return f"в течение {schedule.days_after} дн. после {after}"
    windows = [_window_text(window) for window in schedule.windows]
    if schedule.recurring:
        listed = ", ".join(windows) if len(windows) <= 4 else f"{windows[0]} … {windows[-1]}"
        return f"{_times(len(windows))}: {listed}"
    text = ", ".join(windows)
    if schedule.undated:
        return f"срок не указан: весь учебный год {text}"
    if schedule.kind is WindowKind.continuous:
        return f"весь учебный год {text}"
    return text


def _times(count: int) -> str:
    """«2 раза», «5 раз», «22 раза»: the Russian plural of «раз» after a number."""
    few = count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14)
    return f"{count} раза" if few else f"{count} раз"


# An after-event rule's event in words: what ends («по завершении программы …», or "" when
# nothing ends) and what happens, in the genitive («в течение 10 дн. после …»).
EVENT_NAMES = {
    "programme-end": ("программы наставничества", "завершения программы наставничества"),
    "pairs-fixed": ("", "закрепления наставнических пар"),
    "bases-formed": ("", "формирования баз наставников и наставляемых"),
    "training-done": ("", "обучения и назначения наставников"),
    "preparation-done": ("", "приказов о внедрении целевой модели"),
}


def _window_text(window: Window) -> str:
    if window.start == window.end:
        return f"{window.end:%d.%m.%Y}"
    return f"{window.start:%d.%m.%Y}–{window.end:%d.%m.%Y}"
