"""Version counters for revalidation, kept by triggers (issue 22)

- `content_version`: one row, bumped once by every transaction that writes a table of
  content (courses, links, modules, posts, files, quiz questions and options, groups,
  memberships, assignments, roles, translations).
- `users.version`: bumped by every statement that writes the user's own progress, quiz
  attempts or children, and by every update of the user's row.

An ETag built from these (tma.core.etag, docs/offline.md "Version tags") is checked by one
statement. Existing rows start at 0 (no tag of these kinds was ever given out). The
downgrade drops the triggers, the functions, the column and the table.

Revision 0016, after 0015, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.migrations.helpers import (
    create_version_triggers,
    drop_version_triggers,
    execute_for_dialect,
    is_postgresql,
)

revision: str = "0016"
down_revision: str | None = "0015"

# Written out as this revision classifies them (tma.core.versions holds the living lists,
# which tests/test_versions.py checks against the triggers of the migrated database).
CONTENT = (
    "courses",
    "course_module_links",
    "modules",
    "posts",
    "files",
    "quiz_questions",
    "quiz_options",
    "groups",
    "group_members",
    "group_courses",
    "roles",
    "translations",
)
CALLER = ("post_progress", "quiz_attempts", "children")


def _caller_function(name: str, rows: str) -> str:
    bump = f"UPDATE users SET version = version + 1 WHERE id IN ({rows});"  # noqa: S608
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger AS $$\n"
        f"BEGIN\n    {bump}\n    RETURN NULL;\nEND $$ LANGUAGE plpgsql"
    )


POSTGRESQL = [
    # Once per transaction, at commit (deferred): `bumped_in` is the last bumping txid.
    """CREATE FUNCTION bump_content_version() RETURNS trigger AS $$
BEGIN
    UPDATE content_version SET version = version + 1, bumped_in = txid_current()
    WHERE id = 1 AND bumped_in IS DISTINCT FROM txid_current();
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    _caller_function("bump_caller_version_new", "SELECT user_id FROM new_rows"),
    _caller_function("bump_caller_version_old", "SELECT user_id FROM old_rows"),
    _caller_function(
        "bump_caller_version_both",
        "SELECT user_id FROM new_rows UNION SELECT user_id FROM old_rows",
    ),
    # Any update of a user's row that does not set `version` itself bumps it.
    """CREATE FUNCTION users_version() RETURNS trigger AS $$
BEGIN
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER users_version BEFORE UPDATE ON users "
    "FOR EACH ROW EXECUTE FUNCTION users_version()",
]
SQLITE = [
    """CREATE TRIGGER users_version AFTER UPDATE ON users
FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE users SET version = version + 1 WHERE id = NEW.id;
END""",
]


def upgrade() -> None:
    op.create_table(
        "content_version",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bumped_in", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_content_version_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_version")),
    )
    op.execute("INSERT INTO content_version (id, version) VALUES (1, 0)")
    op.add_column(
        "users", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
    )
    execute_for_dialect(POSTGRESQL, SQLITE)
    create_version_triggers(CONTENT, CALLER)


def downgrade() -> None:
    drop_version_triggers(CONTENT, CALLER)
    if is_postgresql():
        op.execute("DROP TRIGGER users_version ON users")
        for name in (
            "users_version",
            "bump_caller_version_both",
            "bump_caller_version_old",
            "bump_caller_version_new",
            "bump_content_version",
        ):
            op.execute(f"DROP FUNCTION {name}()")
    else:
        op.execute("DROP TRIGGER users_version")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as 0008: no batch rebuild.
    op.drop_column("users", "version")
    op.drop_table("content_version")
