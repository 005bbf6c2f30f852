"""Learning events, webhooks and their outbox (issue 26)

- `learning_events`: append-only, `(user_id, key)` unique (each event once).
- `webhooks`, `webhook_deliveries` (the outbox), `webhook_tries` (the delivery log).
- `xapi_pushes`: how far the events were pushed to the LRS (one row once pushing starts).
- A trigger on `learning_events` writes one `webhook_deliveries` row per active webhook
  that wants the event's type, in the statement that records the event.

New tables only: no existing row changes. Downgrade drops the trigger and the five tables.

Revision 0014, after 0013, of 2026-12-07.
"""

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime
from tma.migrations.helpers import drop_triggers, execute_for_dialect

revision: str = "0014"
down_revision: str | None = "0013"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TYPES = (
    "('post_started', 'post_completed', 'attempt_started', 'attempt_submitted', "
    "'module_completed', 'course_completed')"
)

# The deliveries owed for the event NEW: one per active webhook wanting its type.
OUTBOX = """
    INSERT INTO webhook_deliveries (event_id, webhook_id, status, tries)
    SELECT NEW.id, w.id, 'pending', 0 FROM webhooks w
    WHERE w.active AND w.event_types LIKE '%,' || NEW.type || ',%';"""

POSTGRESQL = [
    """CREATE FUNCTION learning_events_outbox() RETURNS trigger AS $$
BEGIN"""
    + OUTBOX
    + """
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER learning_events_outbox AFTER INSERT ON learning_events "
    "FOR EACH ROW EXECUTE FUNCTION learning_events_outbox()",
]
SQLITE = [
    """CREATE TRIGGER learning_events_outbox AFTER INSERT ON learning_events
FOR EACH ROW
BEGIN"""
    + OUTBOX
    + """
END"""
]


def upgrade() -> None:
    # Each table written out as this revision creates it (as in 0001, 0003 and 0008): its
    # create_table calls read alike in shape with theirs, and a released migration never
    # imports a shared helper that could change under it.
    op.create_table(
        "learning_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("course_id", ID, nullable=True),
        sa.Column("module_id", ID, nullable=True),
        sa.Column("post_id", ID, nullable=True),
        sa.Column("attempt_id", ID, nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_learning_events_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_learning_events"),
        sa.UniqueConstraint("user_id", "key", name="uq_learning_events_user_id"),
        sa.CheckConstraint(f"type IN {TYPES}", name="ck_learning_events_type"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_learning_events_recorded_at", "learning_events", ["recorded_at"])
    op.create_table(
        "webhooks",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("event_types", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("webhook_id", ID, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["learning_events.id"],
            name="fk_webhook_deliveries_event_id_learning_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("event_id", "webhook_id", name="uq_webhook_deliveries_event_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_try_at",
        "webhook_deliveries",
        ["status", "next_try_at"],
    )
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id"])
    op.create_table(
        "webhook_tries",
        sa.Column("id", ID, nullable=False),
        sa.Column("webhook_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("try", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["learning_events.id"],
            name="fk_webhook_tries_event_id_learning_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_tries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_tries"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_tries_webhook_id_id", "webhook_tries", ["webhook_id", "id"])
    op.create_index("ix_webhook_tries_event_id", "webhook_tries", ["event_id"])
    op.create_table(
        "xapi_pushes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_xapi_pushes"),
    )
    execute_for_dialect(POSTGRESQL, SQLITE)


def downgrade() -> None:
    op.drop_table("xapi_pushes")
    drop_triggers([("learning_events_outbox", "learning_events")], ["learning_events_outbox"])
    op.drop_index("ix_webhook_tries_event_id", table_name="webhook_tries")
    op.drop_index("ix_webhook_tries_webhook_id_id", table_name="webhook_tries")
    op.drop_table("webhook_tries")
    op.drop_index("ix_webhook_deliveries_webhook_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_status_next_try_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_index("ix_learning_events_recorded_at", table_name="learning_events")
    op.drop_table("learning_events")
