"""Accounts of the staff who sign in to the web pages, and the sign-in attempts kept for throttling.

Participants and approvers never have an account: they open their own pages through signed links.
A curator or director belongs to one organisation; a department account to the department's
organisation, whose members (``Organization.department_id``) it may see; an operator to none.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class AccountRole(StrEnum):
    """What a signed-in user is to the service."""

    curator = "curator"  # куратор организации
    director = "director"  # директор организации
    department = "department"  # специалист управления образования
    operator = "operator"  # оператор сервиса (доставка писем)


class UserAccount(SQLModel, table=True):
    """A staff member's sign-in: e-mail, role, organisation and an argon2 password hash."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(unique=True, max_length=254)  # stored lower-case
    display_name: str = Field(max_length=200)
    role: AccountRole
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organization.id", index=True
    )
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LoginAttempt(SQLModel, table=True):
    """One sign-in attempt: by which e-mail, from which address, when and whether it succeeded."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(index=True, max_length=254)
    ip: str = Field(index=True, max_length=64)
    at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    succeeded: bool = False
    throttled: bool = False  # refused before the password was checked; not counted again
