"""Notifications, notification settings and push tokens (issue 24)

- `notifications`: one row per (user, kind, subject, period), unique, with the state of
  its e-mail and push copies (`email_status`, `push_status`, `deliver_after`).
- `notification_settings`: a user's choices; no row means the defaults.
- `push_tokens`: Expo push tokens, each of one user.

New tables only: no existing row changes. Downgrade drops the three tables.

Revision 0011, after 0010, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUSES = "('pending', 'sent', 'skipped', 'capped', 'failed')"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("email_status", sa.String(10), nullable=False),
        sa.Column("push_status", sa.String(10), nullable=False),
        sa.Column("deliver_after", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "kind", "subject", "period", name="uq_notifications_key"),
        sa.CheckConstraint(
            "kind IN ('course_assigned', 'module_available', 'reminder', 'group_digest')",
            name=op.f("ck_notifications_kind"),
        ),
        sa.CheckConstraint(
            f"email_status IN {STATUSES}", name=op.f("ck_notifications_email_status")
        ),
        sa.CheckConstraint(f"push_status IN {STATUSES}", name=op.f("ck_notifications_push_status")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_deliver_after", "notifications", ["deliver_after"])
    op.create_table(
        "notification_settings",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.String(16), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
        sa.CheckConstraint(
            "reminders IN ('never', 'weekly', 'twice_weekly')",
            name=op.f("ck_notification_settings_reminders"),
        ),
    )
    # Alike in shape with the tables above and those of 0001/0003: each create_table
    # states its own table as it was applied (a released migration never changes).
    op.create_table(
        "push_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("token", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_push_tokens_token")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_push_tokens_user_id"), "push_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_push_tokens_user_id"), table_name="push_tokens")
    op.drop_table("push_tokens")
    op.drop_table("notification_settings")
    op.drop_index("ix_notifications_deliver_after", table_name="notifications")
    op.drop_index("ix_notifications_user_id_id", table_name="notifications")
    op.drop_table("notifications")
