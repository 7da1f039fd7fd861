"""outbox retry: next attempt time, claim lease, recipient role

Revision ID: 0005_outbox_retry
Revises: 0004_column_mappings
Create Date: 2026-11-30 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_outbox_retry"
down_revision: str | None = "0004_column_mappings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "recipient_role",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outboxmessage_due", ["status", "next_attempt_at"], unique=False)
    # Claims used to live in last_error as "in flight until <time>"; they are columns now.
    op.execute("UPDATE outboxmessage SET last_error = '' WHERE last_error LIKE 'in flight until %'")


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_index("ix_outboxmessage_due")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("recipient_role")
