"""pair changes: replacement, extension, early termination

Revision ID: 0010_pair_changes
Revises: 0010_logs
Create Date: 2026-11-30 09:50:35
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_pair_changes"
down_revision: str | None = "0010_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pairchange",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("replacement", "extension", "termination", name="pairchangekind"),
            nullable=False,
        ),
        sa.Column(
            "reason",
            sa.Enum(
                "dismissal",
                "transfer",
                "mentor_request",
                "mentee_request",
                "non_performance",
                "other",
                "illness",
                "business_trip",
                "long_absence",
                "mentee_non_performance",
                name="pairchangereason",
            ),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("requested", "ordered", "approved", "rejected", name="pairchangestatus"),
            nullable=False,
        ),
        sa.Column("new_mentor_id", sa.Uuid(), nullable=True),
        sa.Column("mentor_consent_on", sa.Date(), nullable=True),
        sa.Column("mentor_consent_how", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("new_ends_on", sa.Date(), nullable=True),
        sa.Column("mentee_wants_new_mentor", sa.Boolean(), nullable=False),
        sa.Column("order_document_id", sa.Uuid(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("resulting_pair_id", sa.Uuid(), nullable=True),
        sa.Column("flow_run_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycle.id"],
        ),
        sa.ForeignKeyConstraint(
            ["new_mentor_id"],
            ["participant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_document_id"],
            ["document.id"],
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["mentorshippair.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resulting_pair_id"],
            ["mentorshippair.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("pairchange", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pairchange_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pairchange_pair_id"), ["pair_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pairchange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairchange_pair_id"))
        batch_op.drop_index(batch_op.f("ix_pairchange_cycle_id"))

    op.drop_table("pairchange")
    bind = op.get_bind()
    for enum in ("pairchangekind", "pairchangereason", "pairchangestatus"):
        sa.Enum(name=enum).drop(bind, checkfirst=True)
