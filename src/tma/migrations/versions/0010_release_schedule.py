"""Release schedule and sequential courses (issues 23 and 24).

- `courses.sequential` (false): a `user` opens a module of the course only after every
  post of the module before it is completed.
- `course_module_links.release_after_days` (0): the module opens that many days after the
  course's start date.
- `group_courses.start_date`: day 0 of the schedule for the group's members; existing
  assignments start on the UTC day they were assigned (`date_assigned`).

The rule that reads them is tma.courses.availability. Every existing row keeps its data:
with the defaults every module stays open, as before.

Revision 0010, after 0009, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"


def upgrade() -> None:
    # NOT NULL with a constant default: a plain ALTER TABLE on both databases (SQLite need
    # not rebuild the tables, whose triggers a rebuild would drop).
    op.add_column(
        "courses",
        sa.Column("sequential", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "course_module_links",
        sa.Column("release_after_days", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("group_courses", sa.Column("start_date", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(date_assigned AT TIME ZONE 'UTC' AS DATE)"
    else:  # SQLite keeps UTC timestamps as naive text ('YYYY-MM-DD HH:MM:SS...')
        day = "substr(date_assigned, 1, 10)"
    op.execute(f"UPDATE group_courses SET start_date = {day}")  # noqa: S608 (constant SQL)
    # group_courses has no triggers: SQLite may rebuild it to add NOT NULL.
    with op.batch_alter_table("group_courses") as batch:
        batch.alter_column("start_date", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of
    # course_module_links would drop its progress triggers.
    op.drop_column("group_courses", "start_date")
    op.drop_column("course_module_links", "release_after_days")
    op.drop_column("courses", "sequential")
