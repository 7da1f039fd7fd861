"""approval code generation: a reissued code replaces every earlier one

Revision ID: 0003_approval_generation
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_approval_generation"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing requests stay at generation 0, whose codes are signed as before: codes
    # already mailed keep working.
    with op.batch_alter_table("approvalrequest", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("code_generation", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("approvalrequest", schema=None) as batch_op:
        batch_op.drop_column("code_generation")
