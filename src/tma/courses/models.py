"""Tables of the courses domain: courses, their modules, and assignments to groups."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from tma.core.db import ID, Base, TimestampMixin, UTCDateTime, utcnow


class CourseModule(TimestampMixin, Base):
    """A lesson of a course; no endpoint writes them yet (seed data and future work)."""

    __tablename__ = "course_modules"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ID, ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    ordering: Mapped[int] = mapped_column(Integer, default=0)


class Course(TimestampMixin, Base):
    __tablename__ = "courses"
    __table_args__ = (
        Index("ix_courses_created_at_id", "created_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Loaded in the same SELECT as the course: no query per course in lists.
    module_count: Mapped[int] = column_property(
        select(func.count())
        .where(CourseModule.course_id == id)
        .correlate_except(CourseModule)
        .scalar_subquery()
    )


class GroupCourse(Base):
    """A course assigned to a group, in the group's `ordering`."""

    __tablename__ = "group_courses"

    group_id: Mapped[int] = mapped_column(
        ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ID, ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    ordering: Mapped[int] = mapped_column(Integer, default=0)
    date_assigned: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
