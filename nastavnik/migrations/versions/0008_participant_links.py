"""participant links: the state of each participant's personal link to a pair

Revision ID: 0008_participant_links
Revises: 0007_roadmap_plan
Create Date: 2026-11-30 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_participant_links"
down_revision: str | None = "0007_roadmap_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participantlink",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pair_id"], ["mentorshippair.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "pair_id"),
    )
    with op.batch_alter_table("participantlink", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participantlink_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_participantlink_pair_id"), ["pair_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("participantlink", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participantlink_pair_id"))
        batch_op.drop_index(batch_op.f("ix_participantlink_participant_id"))

    op.drop_table("participantlink")
