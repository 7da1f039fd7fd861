"""operator's deliveries: an outbox message can be cancelled

Revision ID: 0012_deliveries
Revises: 0011_final_event
Create Date: 2026-11-30 11:30:00

The enum ``outboxstatus`` gains ``cancelled`` (the operator stopped a failing delivery).
PostgreSQL: ``ALTER TYPE … ADD VALUE`` (as 0010 does). SQLite: the column is a VARCHAR(8) without a
CHECK constraint; «cancelled» needs 9, so the column is widened (batch mode rebuilds the table).
The downgrade turns cancelled messages back into failed ones; PostgreSQL keeps the enum value (it
cannot drop one, and an unused one does no harm).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_deliveries"
down_revision: str | None = "0011_final_event"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_BEFORE = ("pending", "retrying", "sent", "failed")
_AFTER = (*_BEFORE, "cancelled")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE outboxstatus ADD VALUE IF NOT EXISTS 'cancelled'")
        return
    with op.batch_alter_table("outboxmessage") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*_BEFORE, name="outboxstatus"),
            type_=sa.Enum(*_AFTER, name="outboxstatus"),
            existing_nullable=False,
        )


def downgrade() -> None:
    op.execute("UPDATE outboxmessage SET status = 'failed' WHERE status = 'cancelled'")
    if op.get_bind().dialect.name == "postgresql":
        return
    with op.batch_alter_table("outboxmessage") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*_AFTER, name="outboxstatus"),
            type_=sa.Enum(*_BEFORE, name="outboxstatus"),
            existing_nullable=False,
        )
