"""Tables of the department level: report requests to member organisations and their submissions.

A municipal education department (seed ``roadmap_municipality_kedrovy.txt``) asks each of its
organisations for monitoring reports by a date: the informational report in November («Ноябрь
2021 г., далее - ежегодно или по запросу»), interim monitoring, the final reports
(«Итоговые отчеты образовательных организаций», October of the last year). A request is one row per
member organisation; a submission is a report the organisation's director approved, signed by the
sender and verified by the receiver, stored once per request and content (a resent report adds
nothing). The payload carries aggregates only: never a mentee's name, birth date or contact.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class ReportKind(StrEnum):
    """What the department asks for."""

    information = "information"  # информационный отчёт (ноябрь, ежегодно или по запросу)
    interim = "interim"  # промежуточный мониторинг
    final = "final"  # итоговый отчёт организации


class ReportTransport(StrEnum):
    """How a submission reached the department."""

    database = "database"  # both in one installation
    email = "email"  # a signed JSON attachment (with the PDF) in an e-mail
    upload = "upload"  # an HTTPS upload with the organisation's token


class ReportRequest(SQLModel, table=True):
    """The department asks one member organisation for one report by a date."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    unique_key: str = Field(unique=True, max_length=255)
    department_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)  # the department's cycle
    plan_item_id: uuid.UUID | None = Field(default=None, foreign_key="planitem.id", index=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    kind: ReportKind
    title: str = Field(sa_type=Text)
    school_year: str = Field(max_length=9)
    requested_on: date
    due_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ReportSubmission(SQLModel, table=True):
    """A report received for a request: verified, stored once per request and content."""

    __table_args__ = (UniqueConstraint("request_id", "digest"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="reportrequest.id", index=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    digest: str = Field(max_length=64)  # sha256 of the canonical payload
    signature: str = Field(max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    transport: ReportTransport
    submitted_on: date  # the day the sender's director approved and sent it (counts for lateness)
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    pdf_path: str = ""  # the report's PDF as stored by the receiver
    pdf_digest: str = Field(default="", max_length=64)
