"""Tables of the completion stage: the end-of-mentoring reports of the mentor and the mentee.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.13: «В течение 10 дней по
завершении наставничества наставник составляет отчет о выполнении индивидуального плана»;
§2.14: the mentee, within the same days, «составляет отчет о процессе прохождения наставничества
и работе наставника, включая оценку деятельности наставника». §3.1: the director approves the
mentor's report. The target model's monitoring (Р-145) asks both sides the same short
questionnaire of satisfaction and quality on 1–10 scales; it is part of the same report here,
so nobody fills in two forms at the end of the year.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import Role, utcnow


class PlanFulfilment(StrEnum):
    """How far the mentee carried out the personal programme, in the mentor's judgement (§2.13)."""

    full = "full"  # выполнен полностью
    partial = "partial"  # выполнен частично
    not_done = "not_done"  # не выполнен


class CompletionReport(SQLModel, table=True):
    """One participant's end-of-mentoring report on one pair, as submitted (link or file).

    One per pair and participant: the mentor's on the programme (§2.13), each mentee's on the
    process with the evaluation of the mentor (§2.14). Satisfaction scales are 1–10."""

    __table_args__ = (UniqueConstraint("pair_id", "participant_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    role: Role
    ended_on: date  # the pair's last day of mentoring the deadline counted from
    due_on: date
    submitted_on: date
    # The mentor's report (§2.13): how far the programme was carried out.
    plan_fulfilment: PlanFulfilment | None = None
    results: str = Field(default="", sa_type=Text)  # what was achieved (§2.15)
    difficulties: str = Field(default="", sa_type=Text)
    proposals: str = Field(default="", sa_type=Text)
    # The mentee's evaluation of the mentor's work (§2.14), 1–10.
    mentor_rating: int | None = None
    # The monitoring questionnaire (both sides), 1–10 each.
    satisfaction_programme: int
    satisfaction_pair: int
    expectations_met: int
    usefulness: int
    comment: str = Field(default="", sa_type=Text)
    source: str = ""  # "link", or "file.xlsx:row 7"
    # §3.1: the director approves the reports (set by the completion flow's approval).
    approved_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class FinalInterview(SQLModel, table=True):
    """§3.1: the director «проводит по окончании периода наставничества индивидуальное
    собеседование с лицом, в отношении которого осуществлялось наставничество» — recorded once
    per pair and mentee."""

    __table_args__ = (UniqueConstraint("pair_id", "mentee_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    mentee_id: uuid.UUID = Field(foreign_key="participant.id")
    held_on: date
    interviewer: str  # who held it (the director, or whom the director charged)
    notes: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
