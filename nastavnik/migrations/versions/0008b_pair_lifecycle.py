"""pair life cycle: replaced, extended, terminated statuses; a pair's versions

Revision ID: 0008b_pair_lifecycle
Revises: 0008_participant_links
Create Date: 2026-11-30 08:50:00

The enum ``pairstatus`` stores member names. PostgreSQL: ``ALTER TYPE … ADD VALUE`` (allowed
inside the migration's transaction since PostgreSQL 12; the values are not used before the
commit). SQLite: the column is a VARCHAR(8) without a CHECK constraint (SQLAlchemy's
non-native enum); «terminated» needs VARCHAR(10). SQLite ignores the length, so only the
declared type changes: the schema text is edited in place (SQLite's documented
``writable_schema`` procedure for changes that leave the stored rows as they are), because
rebuilding the table, as batch mode does, fails on the rows of ``pairmember`` and
``personalprogramme`` that reference it while foreign keys are enforced (and they cannot be
switched off inside the migration's transaction).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008b_pair_lifecycle"
down_revision: str | None = "0008_participant_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("draft", "proposed", "active", "ended", "dropped")
NEW_STATUSES = ("replaced", "extended", "terminated")
OLD_LENGTH = max(map(len, OLD_STATUSES))
NEW_LENGTH = max(map(len, OLD_STATUSES + NEW_STATUSES))


def _sqlite_status_length(old: int, new: int) -> None:
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
        "WHERE type = 'table' AND name = 'mentorshippair'",
        (f"status VARCHAR({old})", f"status VARCHAR({new})"),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in NEW_STATUSES:
            op.execute(f"ALTER TYPE pairstatus ADD VALUE IF NOT EXISTS '{name}'")
    elif bind.dialect.name == "sqlite":
        _sqlite_status_length(OLD_LENGTH, NEW_LENGTH)
    op.create_table(
        "pairversion",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(*OLD_STATUSES, *NEW_STATUSES, name="pairstatus", create_type=False)
            if bind.dialect.name == "postgresql"
            else sa.Enum(*OLD_STATUSES, *NEW_STATUSES, name="pairstatus"),
            nullable=False,
        ),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("order_document_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mentor_id"], ["participant.id"]),
        sa.ForeignKeyConstraint(["order_document_id"], ["document.id"]),
        sa.ForeignKeyConstraint(["pair_id"], ["mentorshippair.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "version"),
    )
    with op.batch_alter_table("pairversion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pairversion_pair_id"), ["pair_id"], unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("pairversion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairversion_pair_id"))
    op.drop_table("pairversion")
    if bind.dialect.name == "sqlite":
        _sqlite_status_length(NEW_LENGTH, OLD_LENGTH)
    if bind.dialect.name == "postgresql":
        # PostgreSQL cannot drop an enum value: the type is rebuilt without the new statuses
        # (a pair that still has one makes the cast fail, and the downgrade with it).
        op.execute("ALTER TYPE pairstatus RENAME TO pairstatus_0008b")
        sa.Enum(*OLD_STATUSES, name="pairstatus").create(bind)
        op.execute(
            "ALTER TABLE mentorshippair ALTER COLUMN status TYPE pairstatus "
            "USING status::text::pairstatus"
        )
        op.execute("DROP TYPE pairstatus_0008b")
