"""Tables of the final event: the curator's nominations of mentors for a reward (§2.16).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.16 «В целях поощрения
наставника … работодатель вправе предусмотреть: объявление благодарности, награждение почетной
грамотой организации, вручение ценного подарка; материальное поощрение (выплаты
стимулирующего характера …)».
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class RewardKind(StrEnum):
    """The kinds of reward of §2.16 (the database stores the member names)."""

    gratitude = "gratitude"  # объявление благодарности
    honour_certificate = "honour_certificate"  # награждение почётной грамотой
    gift = "gift"  # вручение ценного подарка
    bonus = "bonus"  # премия (выплата стимулирующего характера)


class MentorNomination(SQLModel, table=True):
    """The curator's choice for one mentor of a cycle: the reward, and why if it differs from
    the ranking's recommendation. One row per mentor and cycle; nominating again updates it."""

    __table_args__ = (UniqueConstraint("cycle_id", "mentor_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    mentor_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    reward: RewardKind
    # What the ranking recommended when the curator chose (None: no reward recommended).
    recommended: RewardKind | None = None
    rank: int
    score: float
    overridden: bool = False
    comment: str = Field(default="", sa_type=Text)
    nominated_by: str
    nominated_on: date
    withdrawn: bool = False  # the curator took the nomination back (kept for the audit)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class BestPractice(SQLModel, table=True):
    """A mentor's short description of a practice worth sharing (the best-practice bank of the
    roadmaps: «Формирование банка лучших практик»). One per mentor and cycle: submitting again
    replaces the text."""

    __table_args__ = (UniqueConstraint("cycle_id", "mentor_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    mentor_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id")
    title: str = Field(max_length=200)
    summary: str = Field(sa_type=Text)  # what was done and how
    results: str = Field(default="", sa_type=Text)  # what it gave the mentee
    submitted_on: date
    source: str = ""  # "link", "cli"
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
