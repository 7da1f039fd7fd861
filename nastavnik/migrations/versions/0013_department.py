"""department: member organisations, report requests and submissions

Revision ID: 0013_department
Revises: 0012_deliveries
Create Date: 2026-11-30 12:38:53.088188

An organisation gains its kind and the department it reports to; roadmap items gain the report a
department asks for (kind reports); the tables ``reportrequest`` and ``reportsubmission`` hold the
department's requests and the reports received. The department link is added with a named foreign
key by a plain ADD COLUMN (SQLite allows REFERENCES on a new nullable column), so the organisation
table, which every other table references, is not rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013_department"
down_revision: str | None = "0012_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reportrequest",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unique_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("plan_item_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("information", "interim", "final", name="reportkind"), nullable=False
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("school_year", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycle.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.ForeignKeyConstraint(
            ["plan_item_id"],
            ["planitem.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unique_key"),
    )
    with op.batch_alter_table("reportrequest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reportrequest_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reportrequest_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reportrequest_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reportrequest_plan_item_id"), ["plan_item_id"], unique=False
        )

    op.create_table(
        "reportsubmission",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column(
            "transport",
            sa.Enum("database", "email", "upload", name="reporttransport"),
            nullable=False,
        ),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pdf_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pdf_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["reportrequest.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "digest"),
    )
    with op.batch_alter_table("reportsubmission", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reportsubmission_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reportsubmission_request_id"), ["request_id"], unique=False
        )

    op.add_column(
        "organization",
        sa.Column(
            "kind",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="school",
            nullable=False,
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("organization", sa.Column("department_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            "fk_organization_department_id",
            "organization",
            "organization",
            ["department_id"],
            ["id"],
        )
    elif "department_id" not in {
        column["name"] for column in sa.inspect(op.get_bind()).get_columns("organization")
    }:
        # SQLite cannot ALTER constraints; a new nullable column may carry its REFERENCES clause.
        # (A downgraded SQLite database keeps the column: see downgrade.)
        op.execute(
            "ALTER TABLE organization ADD COLUMN department_id CHAR(32) "
            "CONSTRAINT fk_organization_department_id REFERENCES organization (id)"
        )
    op.create_index(
        "ix_organization_department_id", "organization", ["department_id"], unique=False
    )

    with op.batch_alter_table("planitem", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "completion_report", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("reportsubmission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reportsubmission_request_id"))
        batch_op.drop_index(batch_op.f("ix_reportsubmission_organization_id"))

    op.drop_table("reportsubmission")
    with op.batch_alter_table("reportrequest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reportrequest_plan_item_id"))
        batch_op.drop_index(batch_op.f("ix_reportrequest_organization_id"))
        batch_op.drop_index(batch_op.f("ix_reportrequest_department_id"))
        batch_op.drop_index(batch_op.f("ix_reportrequest_cycle_id"))

    op.drop_table("reportrequest")
    with op.batch_alter_table("planitem", schema=None) as batch_op:
        batch_op.drop_column("completion_report")

    op.drop_index("ix_organization_department_id", table_name="organization")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_organization_department_id", "organization", type_="foreignkey")
        op.drop_column("organization", "department_id")
    else:
        # SQLite can drop a column with a foreign key only by rebuilding the table, which every
        # other table references: the column stays, emptied (an upgrade finds it and keeps it).
        op.execute("UPDATE organization SET department_id = NULL")
    op.drop_column("organization", "kind")
    sa.Enum(name="reporttransport").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="reportkind").drop(op.get_bind(), checkfirst=True)
