"""Children records, and the ages modules and posts are for (issue 25)

- `children`: one row per child of a parent account (`user_id`, `name`, `birth_date`),
  deleted with the account.
- `modules.min_age_months`, `modules.max_age_months`, `posts.min_age_months`,
  `posts.max_age_months`: nullable integers (null: no bound); existing rows get none, so
  every existing module and post is for every age, as before.

The profile fields `users.child_name` and `users.child_dob` stay as they were, untouched
(companion spec §4: "the old fields stay as they are"; a parent with no child records is
read as having one child born on `child_dob`): nothing is copied, so a client that keeps
writing the profile fields sees exactly what it wrote. No existing value changes.
Downgrade drops the table and the four columns.

Revision 0013, after 0012, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Each table written out as this revision creates it (as in 0001, 0003 and 0008): its
    # create_table calls read alike in shape with theirs, and a released migration never
    # imports a shared helper that could change under it.
    op.create_table(
        "children",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_children_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_children_user_id"), "children", ["user_id"])
    for table in ("modules", "posts"):
        op.add_column(table, sa.Column("min_age_months", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("max_age_months", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("posts", "modules"):
        # ALTER TABLE ... DROP COLUMN, on SQLite too (3.35+), as 0009: no table copy, so
        # the progress triggers on `posts` stay.
        op.drop_column(table, "max_age_months")
        op.drop_column(table, "min_age_months")
    op.drop_index(op.f("ix_children_user_id"), table_name="children")
    op.drop_table("children")
