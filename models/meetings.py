"""Tables of the meetings stage: meeting logs, the mentees' feedback, the mentors' monthly reports.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``): the pair meets in a fixed
sequence — intro, trial, planning, joint work with feedback, final; §4.2 the mentor reports to
the curator «не реже 1 раза в месяц».
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class MeetingKind(StrEnum):
    """Kinds of meetings of the target model's sequence, in their order."""

    intro = "intro"
    trial = "trial"
    planning = "planning"
    joint_work = "joint_work"
    final = "final"


class MeetingFormat(StrEnum):
    in_person = "in_person"  # очно
    online = "online"  # дистанционно
    mixed = "mixed"  # смешанный формат


class MeetingLog(SQLModel, table=True):
    """One meeting of a pair as the mentor recorded it (link, CLI or an imported form export)."""

    # One meeting of a kind per pair and day: re-importing the same export changes nothing.
    __table_args__ = (UniqueConstraint("pair_id", "held_on", "kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    held_on: date = Field(index=True)
    kind: MeetingKind
    duration_minutes: int
    format: MeetingFormat = MeetingFormat.in_person
    topic: str = ""
    done: str = Field(default="", sa_type=Text)
    next_step: str = Field(default="", sa_type=Text)
    source: str = ""  # "link", "cli", or "file.xlsx:row 7"
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="participant.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class MeetingFeedback(SQLModel, table=True):
    """A mentee's feedback on one meeting (required on joint work and the final meeting)."""

    __table_args__ = (UniqueConstraint("meeting_id", "mentee_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meetinglog.id", index=True)
    mentee_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    rating: int  # 1..5
    comment: str = Field(default="", sa_type=Text)
    given_on: date
    source: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class MonthlyReportStatus(StrEnum):
    assembled = "assembled"  # built from the logs at the month's end, waiting for the mentor
    confirmed = "confirmed"  # the mentor confirmed it through the link (§4.2)


class MonthlyReport(SQLModel, table=True):
    """A mentor's monthly report on one pair (§4.2), assembled from the logs."""

    __table_args__ = (UniqueConstraint("pair_id", "month"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    month: date = Field(index=True)  # the first day of the month reported on
    status: MonthlyReportStatus = MonthlyReportStatus.assembled
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    mentor_comment: str = Field(default="", sa_type=Text)
    assembled_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
