"""Tables of the progress domain: each parent's status on each post."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, UTCDateTime, utcnow


# Shaped like tma.users.models.SystemRole and tma.groups.models.GroupRole (a three-valued
# StrEnum before its table); the values are this column's own.
# Like the other StrEnums before their tables: alike in shape only, each names the
# values of its own column.
class ProgressStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class PostProgress(Base):
    """A user's status on a post; no row means `not_started`. Status only moves forward."""

    __tablename__ = "post_progress"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'completed')", name="status"),
        # The posts' rows of a course, with what the dashboard counts of them (an
        # index-only scan on PostgreSQL, 0017).
        Index(
            "ix_post_progress_post_id",
            "post_id",
            postgresql_include=["user_id", "status", "updated_at"],
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        ID, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The earliest time that moved it (a write's own time, or an offline event's; 0008).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class _CompletedCounter:
    """A user's count of completed posts in one module or course (the subclass's key),
    kept by database triggers and never written by the application; the rows go with their
    user by cascade. Mirrors tma.migrations.helpers.create_counter_table."""

    user_id: Mapped[int] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, sort_order=-1
    )
    completed: Mapped[int] = mapped_column(Integer, sort_order=1)


class ModuleProgress(_CompletedCounter, Base):
    """How many posts of a module a user has completed: a counter kept by database triggers
    (migration 0005) on every write of `post_progress` and `posts`, never written by the
    application. The group progress view sums these instead of counting progress rows."""

    __tablename__ = "module_progress"

    module_id: Mapped[int] = mapped_column(
        ID, ForeignKey("modules.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CourseProgress(_CompletedCounter, Base):
    """How many posts of a course a user has completed: the sum of the user's
    `module_progress` over the course's modules, a counter kept by database triggers
    (migration 0006) on every change of `module_progress` and of the course's module links,
    never written by the application. The group progress view reads it."""

    __tablename__ = "course_progress"

    course_id: Mapped[int] = mapped_column(
        ID, ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SyncedEvent(Base):
    """An offline progress event (`POST /api/progress/sync`) already processed for its user:
    the same `event_id` again is a `duplicate` and changes nothing. Events whose post was
    not found or not visible are not kept (a retry is processed again)."""

    __tablename__ = "progress_sync_events"

    user_id: Mapped[int] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    post_id: Mapped[int] = mapped_column(ID)  # no foreign key: kept when the post goes
    result: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
