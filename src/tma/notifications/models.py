"""Tables of the notifications domain: what a user was told, how they want to be told,
and the phones push messages go to.

A notification is one row per (user, kind, subject, period), a unique key: the in-app
message exists once however often a job that makes it runs (delivery is at-least-once).
Its e-mail and push copies are states on the same row (`email_status`, `push_status`):
`pending` until a delivery job sends them (not before `deliver_after`, the end of the
user's quiet hours), then `sent`, `skipped` (the user's settings say no, or no address or
device), `capped` (a reminder over the user's weekly number) or `failed`."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, UTCDateTime, utcnow


class NotificationKind(StrEnum):
    COURSE_ASSIGNED = "course_assigned"
    MODULE_AVAILABLE = "module_available"
    REMINDER = "reminder"
    GROUP_DIGEST = "group_digest"


# Like the other StrEnums before their tables: alike in shape only, each names the
# values of its own column.
class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    CAPPED = "capped"
    FAILED = "failed"


class ReminderFrequency(StrEnum):
    NEVER = "never"
    WEEKLY = "weekly"
    TWICE_WEEKLY = "twice_weekly"


_STATUSES = "('pending', 'sent', 'skipped', 'capped', 'failed')"


class Notification(Base):
    """One message to one user, idempotent by (user, kind, subject, period)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "subject", "period", name="uq_notifications_key"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_deliver_after", "deliver_after"),
        CheckConstraint(
            "kind IN ('course_assigned', 'module_available', 'reminder', 'group_digest')",
            name="kind",
        ),
        CheckConstraint(f"email_status IN {_STATUSES}", name="email_status"),
        CheckConstraint(f"push_status IN {_STATUSES}", name="push_status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # What it is about (`course:5`, `module:7:course:5`, `group:3`) and when (`2026-W49`,
    # `2026-W49b`, or "" for a notification that happens once).
    subject: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    push_status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    # E-mail and push not before this instant (the end of quiet hours); null once settled.
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class NotificationSettings(Base):
    """A user's choices; no row means the defaults."""

    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint("reminders IN ('never', 'weekly', 'twice_weekly')", name="reminders"),
    )

    user_id: Mapped[int] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    push: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders: Mapped[str] = mapped_column(String(16), default=ReminderFrequency.WEEKLY)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PushToken(Base):
    """An Expo push token of one of the user's devices (a token belongs to one user)."""

    __tablename__ = "push_tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
