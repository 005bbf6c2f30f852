"""Offline use (Idempotency-Key storage, offline progress events, `started_at` in Progress)

- `idempotency_keys`: a write's key per user, what the request was (a SHA-256
  fingerprint of method, path and body) and its stored response (tma.core.idempotency);
  expired rows are deleted by the app.
- `progress_sync_events`: the offline progress events already processed per user
  (`POST /api/progress/sync` answers `duplicate` for them).
- `post_progress.started_at`: the earliest time that moved the post. Existing rows get
  their `updated_at` (for an `in_progress` row, when it started; for a `completed` one the
  earliest time known). The downgrade drops the column and the two tables.

Revision 0008, after 0007, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Each table written out as this revision creates it (as in 0001 and 0003): its
    # create_table calls read alike in shape with theirs and with each other, and a released
    # migration never imports a shared helper that could change under it.
    op.create_table(
        "idempotency_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.String(length=4000), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_idempotency_keys_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_keys"),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_table(
        "progress_sync_events",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_progress_sync_events_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_progress_sync_events"),
    )
    op.add_column("post_progress", sa.Column("started_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE post_progress SET started_at = updated_at")


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the
    # counters' triggers on post_progress.
    op.drop_column("post_progress", "started_at")
    op.drop_table("progress_sync_events")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
