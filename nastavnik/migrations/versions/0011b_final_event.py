"""final event: mentor nominations, best practices, publication consent

Revision ID: 0011_final_event
Revises: 0011_completion
Create Date: 2026-11-30 10:04:44.775299

The table ``mentornomination`` holds the curator's choice of reward per mentor (§2.16), the table
``bestpractice`` the mentors' practice descriptions for the best-practice bank. The enum
``consentkind`` gains ``publication`` (an adult's consent to appear on the honour board).
PostgreSQL: ``ALTER TYPE … ADD VALUE`` (as 0010_logs does for ``importkind``). SQLite: the column
is a VARCHAR(13) without a CHECK constraint and «publication» fits, so nothing changes there.
The downgrade removes the consents of that kind and leaves the value in place: PostgreSQL cannot
drop an enum value, and an unused one does no harm.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_final_event"
down_revision: str | None = "0011_completion"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # ADD VALUE cannot run inside a transaction block before PostgreSQL 12; 12+ allows it.
        op.execute("ALTER TYPE consentkind ADD VALUE IF NOT EXISTS 'publication'")
    op.create_table(
        "mentornomination",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column(
            "reward",
            sa.Enum("gratitude", "honour_certificate", "gift", "bonus", name="rewardkind"),
            nullable=False,
        ),
        sa.Column(
            "recommended",
            sa.Enum("gratitude", "honour_certificate", "gift", "bonus", name="rewardkind"),
            nullable=True,
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("nominated_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nominated_on", sa.Date(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycle.id"],
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["participant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id", "mentor_id"),
    )
    with op.batch_alter_table("mentornomination", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mentornomination_cycle_id"), ["cycle_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mentornomination_mentor_id"), ["mentor_id"], unique=False
        )

    op.create_table(
        "bestpractice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycle.id"]),
        sa.ForeignKeyConstraint(["mentor_id"], ["participant.id"]),
        sa.ForeignKeyConstraint(["pair_id"], ["mentorshippair.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id", "mentor_id"),
    )
    with op.batch_alter_table("bestpractice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bestpractice_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bestpractice_mentor_id"), ["mentor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bestpractice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bestpractice_mentor_id"))
        batch_op.drop_index(batch_op.f("ix_bestpractice_cycle_id"))
    op.drop_table("bestpractice")
    with op.batch_alter_table("mentornomination", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mentornomination_mentor_id"))
        batch_op.drop_index(batch_op.f("ix_mentornomination_cycle_id"))

    op.drop_table("mentornomination")
    sa.Enum(name="rewardkind").drop(op.get_bind(), checkfirst=True)
    op.execute("DELETE FROM consent WHERE kind = 'publication'")
