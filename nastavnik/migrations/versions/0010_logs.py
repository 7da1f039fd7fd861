"""meeting-log exports: a kind of imported file for saved column mappings

Revision ID: 0010_logs
Revises: 0009_meetings
Create Date: 2026-11-30 10:00:00

The enum ``importkind`` gains ``meeting`` (an online form's export of meeting logs and feedback).
PostgreSQL: ``ALTER TYPE … ADD VALUE`` (as 0006 does). SQLite: the column is a VARCHAR(13)
without a CHECK constraint and «meeting» fits, so nothing changes there. The downgrade leaves
the value in place: PostgreSQL cannot drop an enum value, and an unused one does no harm.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_logs"
down_revision: str | None = "0009_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE importkind ADD VALUE IF NOT EXISTS 'meeting'")


def downgrade() -> None:
    op.execute("DELETE FROM columnmapping WHERE kind = 'meeting'")
