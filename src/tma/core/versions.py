"""Version counters for cheap revalidation: the one place where "content changed" and "this
caller's own data changed" are recorded (docs/offline.md "Version tags").

- **The content version**: the single row of `content_version`, bumped once by every
  transaction that inserts, updates or deletes a row of a table in `CONTENT_TABLES`.
- **A caller's version**: `users.version`, bumped by every statement that writes a row of a
  table in `CALLER_TABLES` (by that row's `user_id`) and by every update of the user's own
  row (profile, role, language, activation).

Both are bumped by database triggers (migration 0016), not by application code: every
writer — a service through the ORM, a Core `insert()`/`update()`/`delete()`, raw SQL, a
foreign key's `ON DELETE CASCADE`, another trigger, a future package — bumps them, because
the database does it in the writing transaction itself, and the bump becomes visible with
the change at commit, never before (a reader cannot see the new version with the old rows).
PostgreSQL: the content bump is a deferred constraint trigger (it runs at commit, after
every other lock the transaction took, so it adds no lock-order cycle; at most one bump per
transaction, `bumped_in`); the caller bump a statement trigger with transition tables (one
`UPDATE users` per statement, not per row). SQLite: row triggers (one writer at a time).

Every table of the schema is in exactly one of the four lists below;
`tests/test_versions.py` fails when a table is in none (a new table must be classified, and
if it is content or per-caller, get its triggers with
`tma.migrations.helpers.create_version_triggers` in its migration; `translations`, older
than 0016, is in 0016's own list) or when a listed table
lacks its triggers in the migrated database.
"""

from sqlalchemy import BigInteger, CheckConstraint, SmallInteger, select
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import Label

from tma.core.db import Base

# Tables any body of content may read: a write to one changes the content version.
CONTENT_TABLES: tuple[str, ...] = (
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
# Tables of one user's own data (`user_id`): a write changes that user's version.
CALLER_TABLES: tuple[str, ...] = ("post_progress", "quiz_attempts", "children")
# Kept by triggers from the tables above in the same statement (counters): a change to them
# is always a change to a versioned table of the same transaction.
DERIVED_TABLES: dict[str, str] = {
    "module_progress": "completed posts per (user, module): from post_progress, posts",
    "course_progress": "completed posts per (user, course): from post_progress, links",
}
# Never read by a version-tagged body (`tma.core.etag.VERSIONED`).
UNVERSIONED_TABLES: dict[str, str] = {
    "users": "the caller's own row bumps users.version itself (trigger users_version)",
    "content_version": "the counter itself",
    "idempotency_keys": "stored responses of writes",
    "progress_sync_events": "event ids already applied (not in any body)",
    "learning_events": "the event log (webhooks, xAPI)",
    "webhooks": "webhook settings",
    "webhook_deliveries": "webhook outbox",
    "webhook_tries": "webhook delivery log",
    "xapi_pushes": "xAPI push position",
    "quiz_answers": "submitted answers as rows, read by the group dashboard only",
    "notifications": "notifications (their own list, not revalidated)",
    "notification_settings": "notification settings (not revalidated)",
    "push_tokens": "push tokens",
}


class ContentVersion(Base):
    """The content version: one row (`id` 1), bumped by triggers (see the module)."""

    __tablename__ = "content_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # PostgreSQL: the transaction (txid) that bumped it last, so it bumps once per transaction.
    bumped_in: Mapped[int | None] = mapped_column(BigInteger)


def content_version_column() -> Label[int]:
    """The content version as a labelled scalar subquery (`content_version`), for a
    statement that reads it beside the caller's row."""
    return (
        select(ContentVersion.version)
        .where(ContentVersion.id == 1)
        .scalar_subquery()
        .label("content_version")
    )
