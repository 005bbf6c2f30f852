"""Translations of course, module, post and quiz texts, and a user's language (issue 25)

- `translations`: one row per (course, module or post, language), its translated fields as
  JSON; exactly one of `course_id`, `module_id`, `post_id` set, each a cascading foreign
  key, unique with `language`.
- `users.language`: the user's BCP 47 tag, null for every existing user.

A new table and a nullable column: no existing row changes. Downgrade drops both.

Revision 0015, after 0014, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ONE_TARGET = (
    "(CASE WHEN course_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN module_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN post_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    # Written out as this revision creates it (as 0013 and 0014 do): a released migration
    # never imports a model that could change under it.
    op.create_table(
        "translations",
        sa.Column("id", ID, nullable=False),
        sa.Column("course_id", ID, nullable=True),
        sa.Column("module_id", ID, nullable=True),
        sa.Column("post_id", ID, nullable=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_translations_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["modules.id"],
            name=op.f("fk_translations_module_id_modules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_translations_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translations")),
        sa.UniqueConstraint("course_id", "language", name=op.f("uq_translations_course_id")),
        sa.UniqueConstraint("module_id", "language", name=op.f("uq_translations_module_id")),
        sa.UniqueConstraint("post_id", "language", name=op.f("uq_translations_post_id")),
        sa.CheckConstraint(ONE_TARGET, name=op.f("ck_translations_one_target")),
        sqlite_autoincrement=True,
    )
    op.add_column("users", sa.Column("language", sa.String(35), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, on SQLite too (3.35+), as 0013: no table copy.
    op.drop_column("users", "language")
    op.drop_table("translations")
