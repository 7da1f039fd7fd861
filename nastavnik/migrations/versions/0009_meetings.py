"""meeting logs, feedback and monthly reports

Revision ID: 0009_meetings
Revises: 0008b_pair_lifecycle
Create Date: 2026-11-30 09:47:22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_meetings"
down_revision: str | None = "0008b_pair_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meetinglog",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("intro", "trial", "planning", "joint_work", "final", name="meetingkind"),
            nullable=False,
        ),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "format", sa.Enum("in_person", "online", "mixed", name="meetingformat"), nullable=False
        ),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("done", sa.Text(), nullable=False),
        sa.Column("next_step", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["mentorshippair.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["participant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "held_on", "kind"),
    )
    with op.batch_alter_table("meetinglog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetinglog_held_on"), ["held_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetinglog_pair_id"), ["pair_id"], unique=False)

    op.create_table(
        "monthlyreport",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "status", sa.Enum("assembled", "confirmed", name="monthlyreportstatus"), nullable=False
        ),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("mentor_comment", sa.Text(), nullable=False),
        sa.Column("assembled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["mentorshippair.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "month"),
    )
    with op.batch_alter_table("monthlyreport", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monthlyreport_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_monthlyreport_pair_id"), ["pair_id"], unique=False)

    op.create_table(
        "meetingfeedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetinglog.id"],
        ),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["participant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "mentee_id"),
    )
    with op.batch_alter_table("meetingfeedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meetingfeedback_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meetingfeedback_mentee_id"), ["mentee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meetingfeedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetingfeedback_mentee_id"))
        batch_op.drop_index(batch_op.f("ix_meetingfeedback_meeting_id"))

    op.drop_table("meetingfeedback")
    with op.batch_alter_table("monthlyreport", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monthlyreport_pair_id"))
        batch_op.drop_index(batch_op.f("ix_monthlyreport_month"))

    op.drop_table("monthlyreport")
    with op.batch_alter_table("meetinglog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetinglog_pair_id"))
        batch_op.drop_index(batch_op.f("ix_meetinglog_held_on"))

    op.drop_table("meetinglog")
    bind = op.get_bind()
    for enum in ("meetingkind", "meetingformat", "monthlyreportstatus"):
        sa.Enum(name=enum).drop(bind, checkfirst=True)
