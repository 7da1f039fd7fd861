"""column mappings saved per organisation for the tabular importer

Revision ID: 0004_column_mappings
Revises: 0003_approval_generation
Create Date: 2026-11-30 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_column_mappings"
down_revision: str | None = "0003_approval_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "columnmapping",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("questionnaire", "attendance", "consent", name="importkind"),
            nullable=False,
        ),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("header_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("field_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "kind", "header_key"),
    )
    with op.batch_alter_table("columnmapping", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_columnmapping_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("columnmapping", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_columnmapping_organization_id"))
    op.drop_table("columnmapping")
    sa.Enum(name="importkind").drop(op.get_bind(), checkfirst=True)
