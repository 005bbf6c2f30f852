"""Tables of learning events and webhooks (issue 26; docs/events.md).

- `learning_events`: append-only, one row per thing that happened to a learner, recorded
  in the transaction of the change that caused it; `(user_id, key)` is unique, so each
  event is recorded once whoever detects it (`key` names the type and its subject).
- `webhooks`: where events are POSTed, with their secret and the types they want.
- `webhook_deliveries`: the outbox, one row per (event, webhook), written by a database
  trigger on `learning_events` (migration 0014) in the event's own statement: an event is
  never recorded without its deliveries, nor a delivery kept for a rolled-back event.
- `webhook_tries`: the delivery log, one row per HTTP try.
- `xapi_pushes`: how far the events were pushed to the LRS (`TMA_LRS_URL`), one row.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

# The column types of its tables: an import list alike with the other models modules'
# (tma.quizzes.models, tma.posts.models).
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, UTCDateTime, utcnow


class EventType(StrEnum):
    POST_STARTED = "post_started"
    POST_COMPLETED = "post_completed"
    ATTEMPT_STARTED = "attempt_started"
    ATTEMPT_SUBMITTED = "attempt_submitted"
    MODULE_COMPLETED = "module_completed"
    COURSE_COMPLETED = "course_completed"


EVENT_TYPES = tuple(kind.value for kind in EventType)
_TYPES_SQL = "(" + ", ".join(f"'{kind}'" for kind in EVENT_TYPES) + ")"


class LearningEvent(Base):
    """One learning event; never updated, gone only with its user (cascade). The content
    ids are kept as they were (no foreign key): a post deleted later keeps its events."""

    __tablename__ = "learning_events"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint(f"type IN {_TYPES_SQL}", name="type"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))
    # "<type>:<subject id>": what makes the event once (post, attempt, module or course).
    key: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    course_id: Mapped[int | None] = mapped_column(ID)
    module_id: Mapped[int | None] = mapped_column(ID)
    post_id: Mapped[int | None] = mapped_column(ID)
    attempt_id: Mapped[int | None] = mapped_column(ID)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the server stored it (xAPI's `stored`; `since` filters on it).
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Webhook(Base):
    """An endpoint events are POSTed to, signed with its secret."""

    __tablename__ = "webhooks"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    # The types wanted, as ",post_started,module_completed," (the outbox trigger matches
    # `LIKE '%,<type>,%'`, the same on both databases).
    event_types: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Base):
    """The outbox: an event owed to a webhook, its tries so far and when the next is due
    (`next_try_at` null: now). A job takes it under a lease (`lease_until`)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_webhook_deliveries_status_next_try_at", "status", "next_try_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    event_id: Mapped[int] = mapped_column(ID, ForeignKey("learning_events.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(
        ID, ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10))
    tries: Mapped[int] = mapped_column(Integer)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Alike in shape with WebhookDelivery above: each table its indexes and AUTOINCREMENT.
class WebhookTry(Base):
    """One HTTP try of a delivery: the delivery log."""

    __tablename__ = "webhook_tries"
    __table_args__ = (
        Index("ix_webhook_tries_webhook_id_id", "webhook_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ID, ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ID, ForeignKey("learning_events.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[str] = mapped_column(String(36))
    try_number: Mapped[int] = mapped_column("try", Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class XapiPush(Base):
    """How far the events were pushed to the Learning Record Store: one row (`id` 1),
    the last event id the LRS acknowledged, and the last failure."""

    __tablename__ = "xapi_pushes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(ID)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
