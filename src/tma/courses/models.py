"""Tables of the courses domain: courses, the modules they are made of, the ordered links
between the two (a module may belong to several courses), and assignments to groups.

Modules live here, beside the course outline, because a course's detail and its
`module_count` read them; the module endpoints (tma.modules) build on this package."""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, false, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from tma.core.db import ID, Base, ListedMixin, UTCDateTime, utcnow


class Module(ListedMixin, Base):
    """A unit of learning: an ordered list of posts, shared by any number of courses."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(7))
    # The ages it is for, in whole months (null: no bound; checked by the API, 0-216,
    # min <= max): the feed fits it to a parent's children (tma.feed).
    min_age_months: Mapped[int | None] = mapped_column(Integer)
    max_age_months: Mapped[int | None] = mapped_column(Integer)


class CourseModule(Base):
    """A module's place in a course: 1-based `ordering`, contiguous within the course."""

    __tablename__ = "course_module_links"
    __table_args__ = (Index("ix_course_module_links_course_id_ordering", "course_id", "ordering"),)

    course_id: Mapped[int] = mapped_column(
        ID, ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    module_id: Mapped[int] = mapped_column(
        ID, ForeignKey("modules.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    ordering: Mapped[int] = mapped_column(Integer)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The module opens for a `user` this many days after their course's start date
    # (tma.courses.availability).
    release_after_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Course(ListedMixin, Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # A `user` opens each module only after finishing the one before (availability).
    sequential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    # Day 0 of the course's release schedule for the group's members (default: the UTC day
    # it was assigned; tma.courses.availability).
    start_date: Mapped[date] = mapped_column(Date, default=lambda: utcnow().date())
