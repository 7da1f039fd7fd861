"""completion reports (§2.13–§2.14) and their imported files

Revision ID: 0011_completion
Revises: 0010_pair_changes
Create Date: 2026-11-30 10:04:43

The table ``completionreport``: one end-of-mentoring report per pair and participant;
``finalinterview``: the director's interview with each mentee (§3.1). The enum
``importkind`` gains ``completion`` (PostgreSQL: ``ALTER TYPE … ADD VALUE`` as 0010_logs; SQLite's
VARCHAR(13) holds it). The type ``role`` exists since 0001 and is not created again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_completion"
down_revision: str | None = "0010_pair_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE importkind ADD VALUE IF NOT EXISTS 'completion'")
    op.create_table(
        "completionreport",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            postgresql.ENUM("mentor", "mentee", name="role", create_type=False),
            nullable=False,
        ),
        sa.Column("ended_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column(
            "plan_fulfilment",
            sa.Enum("full", "partial", "not_done", name="planfulfilment"),
            nullable=True,
        ),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("difficulties", sa.Text(), nullable=False),
        sa.Column("proposals", sa.Text(), nullable=False),
        sa.Column("mentor_rating", sa.Integer(), nullable=True),
        sa.Column("satisfaction_programme", sa.Integer(), nullable=False),
        sa.Column("satisfaction_pair", sa.Integer(), nullable=False),
        sa.Column("expectations_met", sa.Integer(), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pair_id"], ["mentorshippair.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "participant_id"),
    )
    with op.batch_alter_table("completionreport", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_completionreport_pair_id"), ["pair_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_completionreport_participant_id"), ["participant_id"], unique=False
        )
    op.create_table(
        "finalinterview",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("interviewer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mentee_id"], ["participant.id"]),
        sa.ForeignKeyConstraint(["pair_id"], ["mentorshippair.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "mentee_id"),
    )
    with op.batch_alter_table("finalinterview", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finalinterview_pair_id"), ["pair_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finalinterview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finalinterview_pair_id"))
    op.drop_table("finalinterview")
    with op.batch_alter_table("completionreport", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_completionreport_participant_id"))
        batch_op.drop_index(batch_op.f("ix_completionreport_pair_id"))
    op.drop_table("completionreport")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TYPE IF EXISTS planfulfilment")
    op.execute("DELETE FROM columnmapping WHERE kind = 'completion'")
