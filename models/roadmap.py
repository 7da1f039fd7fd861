"""Tables of a cycle's execution plan: the roadmap it runs and one row per item (and occurrence)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class ItemStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
    done_late = "done_late"
    overdue = "overdue"
    skipped = "skipped"


CLOSED_STATUSES = frozenset({ItemStatus.done, ItemStatus.done_late, ItemStatus.skipped})


class CyclePlan(SQLModel, table=True):
    """The roadmap a cycle runs, kept as loaded so the plan can always be explained."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", unique=True)
    roadmap_title: str
    roadmap_file: str = ""
    roadmap_text: str = Field(default="", sa_type=Text)
    written_for: str = Field(max_length=9)
    first_cycle: str = Field(max_length=9)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PlanItem(SQLModel, table=True):
    """One roadmap item in one cycle (a recurring item has one row per occurrence)."""

    __table_args__ = (UniqueConstraint("cycle_id", "number", "occurrence"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    number: str = Field(max_length=32)
    occurrence: int = 0  # 0 for a one-off item; 1, 2, ... for a recurring item's occurrences
    position: int = 0  # order in the roadmap
    title: str = Field(sa_type=Text)
    section: str = Field(default="", sa_type=Text)
    stage: str = Field(max_length=32)
    completion_kind: str = Field(max_length=16)
    completion_stage: str | None = Field(default=None, max_length=32)
    completion_document: str | None = Field(default=None, max_length=64)
    # kind reports: the report the department asks its organisations for (models.ReportKind)
    completion_report: str | None = Field(default=None, max_length=16)
    responsible: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    due_rule: str = Field(sa_type=Text)
    result: str = Field(default="", sa_type=Text)
    approval: bool = False
    window_kind: str = Field(max_length=16)
    planned_start: date | None = None
    planned_end: date | None = None
    event: str | None = Field(default=None, max_length=64)
    days_after: int | None = None
    status: ItemStatus = ItemStatus.not_started
    actual_start: date | None = None
    actual_finish: date | None = None
    flow_run_id: uuid.UUID | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    document_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    approver: str = ""
    decision: str = ""
    note: str = Field(default="", sa_type=Text)  # why skipped, or what is still missing
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class SimulatedClock(SQLModel, table=True):
    """The simulated time every process of a simulated installation reads (one row)."""

    id: int = Field(default=1, primary_key=True)
    now: datetime = Field(sa_type=DateTime(timezone=True))
