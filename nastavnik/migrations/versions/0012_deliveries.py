"""operator's deliveries: an outbox message can be cancelled

Revision ID: 0012_deliveries
Revises: 0011_final_event
Create Date: 2026-11-30 11:30:00

The enum ``outboxstatus`` gains ``cancelled`` (the operator stopped a failing delivery).
PostgreSQL: ``ALTER TYPE … ADD VALUE`` (as 0010 does). SQLite: the column is a VARCHAR without a
CHECK constraint and SQLite does not enforce its length, so nothing changes there. The downgrade
turns cancelled messages back into failed ones and leaves the value (PostgreSQL cannot drop it).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_deliveries"
down_revision: str | None = "0011_final_event"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE outboxstatus ADD VALUE IF NOT EXISTS 'cancelled'")


def downgrade() -> None:
    op.execute("UPDATE outboxmessage SET status = 'failed' WHERE status = 'cancelled'")
