"""Tables of the tabular importer: the columns an organisation has mapped to fields once."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class ImportKind(StrEnum):
    """The kinds of file read by the one tabular reader."""

    questionnaire = "questionnaire"
    attendance = "attendance"
    consent = "consent"
    meeting = "meeting"  # an online form's export of meeting logs and feedback
    completion = "completion"  # end-of-mentoring reports (§2.13–§2.14) from a form's export


class ColumnMapping(SQLModel, table=True):
    """A curator's choice: in this organisation's files of this kind, this header is that field."""

    __table_args__ = (UniqueConstraint("organization_id", "kind", "header_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    kind: ImportKind
    header: str = Field(sa_type=Text)  # as the curator typed it, for listing
    header_key: str = Field(max_length=255)  # normalised header (hashed when longer)
    field_key: str = Field(max_length=64)  # e.g. "request"
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
