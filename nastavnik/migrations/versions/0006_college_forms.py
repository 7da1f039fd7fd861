"""college mentoring forms; a teacher mentee's §2.3 category

Revision ID: 0006_college_forms
Revises: 0005_outbox_retry
Create Date: 2026-11-30 07:40:00

The enum ``mentoringform`` stores member names. PostgreSQL: ``ALTER TYPE … ADD VALUE`` (allowed
inside the migration's transaction since PostgreSQL 12; the values are not used before the
commit). SQLite: the column is a VARCHAR(24) without a CHECK constraint (SQLAlchemy's
non-native enum), and every new name fits in 24 characters, so nothing changes there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_college_forms"
down_revision: str | None = "0005_outbox_retry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FORMS = (
    "student_student",
    "teacher_teacher",
    "employer_student",
    "university_student_pupil",
    "teacher_student",
)
NEW_FORMS = (
    "student_student_college",
    "employer_student_college",
    "lecturer_lecturer",
    "master_student",
    "director_teacher",
)
CATEGORIES = ("young_specialist", "newcomer", "new_methods", "distance_teaching", "burnout")
FORM_COLUMNS = (("participant", "form"), ("mentorshippair", "form"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in NEW_FORMS:
            op.execute(f"ALTER TYPE mentoringform ADD VALUE IF NOT EXISTS '{name}'")
    sa.Enum(*CATEGORIES, name="menteecategory").create(bind, checkfirst=True)
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "mentee_category",
                postgresql.ENUM(*CATEGORIES, name="menteecategory", create_type=False),
                nullable=True,
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("mentee_category")
    sa.Enum(name="menteecategory").drop(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        # PostgreSQL cannot drop an enum value: the type is rebuilt without the college forms
        # (a row that still uses one makes the cast fail, and the downgrade with it).
        op.execute("ALTER TYPE mentoringform RENAME TO mentoringform_0006")
        sa.Enum(*OLD_FORMS, name="mentoringform").create(bind)
        for table, column in FORM_COLUMNS:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE mentoringform "
                f"USING {column}::text::mentoringform"
            )
        op.execute("DROP TYPE mentoringform_0006")
