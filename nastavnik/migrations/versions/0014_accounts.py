"""accounts: staff sign-in for the web pages, and sign-in attempts for throttling

Revision ID: 0014_accounts
Revises: 0013_department
Create Date: 2026-11-30 12:45:41.538646

``useraccount`` holds the curators', directors', department specialists' and operators' accounts
(an argon2 password hash, never the password); ``loginattempt`` the attempts counted by the
throttle (issue 11 §3).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_accounts"
down_revision: str | None = "0013_department"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loginattempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("throttled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loginattempt_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_loginattempt_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_loginattempt_ip"), ["ip"], unique=False)

    op.create_table(
        "useraccount",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum("curator", "director", "department", "operator", name="accountrole"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    with op.batch_alter_table("useraccount", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_useraccount_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("useraccount", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_useraccount_organization_id"))

    op.drop_table("useraccount")
    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loginattempt_ip"))
        batch_op.drop_index(batch_op.f("ix_loginattempt_email"))
        batch_op.drop_index(batch_op.f("ix_loginattempt_at"))

    op.drop_table("loginattempt")
    sa.Enum(name="accountrole").drop(op.get_bind(), checkfirst=True)
