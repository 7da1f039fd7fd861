"""batch runs: an approval request may wait in a run that serves several organisations

Revision ID: 0015_batch_runs
Revises: 0014_accounts
Create Date: 2026-12-02 01:00:00

A stage run for several organisations at once (flows/batch.py) gives each organisation's work
a member run id of its own (documents, e-mails and requests stay keyed and signed per
organisation); ``batch_run_id`` names the Prefect run to wake for the request's decision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_batch_runs"
down_revision: str | None = "0014_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvalrequest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_run_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_approvalrequest_batch_run_id"), ["batch_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("approvalrequest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvalrequest_batch_run_id"))
        batch_op.drop_column("batch_run_id")
