"""roadmap plan: cycle plans, plan items, the simulated clock

Revision ID: 0007_roadmap_plan
Revises: 0006_organisation_policy
Create Date: 2026-11-30 07:24:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_roadmap_plan"
down_revision: str | None = "0006_organisation_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "simulatedclock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cycleplan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("roadmap_title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("roadmap_file", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("roadmap_text", sa.Text(), nullable=False),
        sa.Column("written_for", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("first_cycle", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id"),
    )
    op.create_table(
        "planitem",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("completion_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("completion_stage", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "completion_document", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("responsible", sa.JSON(), nullable=True),
        sa.Column("due_rule", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("approval", sa.Boolean(), nullable=False),
        sa.Column("window_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("days_after", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "not_started",
                "in_progress",
                "done",
                "done_late",
                "overdue",
                "skipped",
                name="itemstatus",
            ),
            nullable=False,
        ),
        sa.Column("actual_start", sa.Date(), nullable=True),
        sa.Column("actual_finish", sa.Date(), nullable=True),
        sa.Column("flow_run_id", sa.Uuid(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("document_ids", sa.JSON(), nullable=True),
        sa.Column("approver", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id", "number", "occurrence"),
    )
    with op.batch_alter_table("planitem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planitem_cycle_id"), ["cycle_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("planitem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planitem_cycle_id"))

    op.drop_table("planitem")
    op.drop_table("cycleplan")
    op.drop_table("simulatedclock")
    sa.Enum(name="itemstatus").drop(op.get_bind(), checkfirst=True)
