"""The rules and queries of courses and their assignment to groups."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import Database, commit_or
from tma.core.errors import Conflict, NotFound
from tma.core.pagination import Page, ScopedList, count_rows
from tma.courses.models import Course, CourseModule, GroupCourse
from tma.courses.schemas import CourseCreate, CourseUpdate
from tma.groups.models import Group, GroupMember
from tma.users.caller import Caller
from tma.users.service import is_staff


def _assigned_to_member(user_id: Any) -> ColumnElement[bool]:
    """True for a course assigned to at least one group `user_id` belongs to."""
    return exists().where(
        GroupCourse.course_id == Course.id,
        GroupMember.group_id == GroupCourse.group_id,
        GroupMember.user_id == user_id,
    )


async def load_course(
    session: AsyncSession, *, course_id: int, viewer_id: int | None = None
) -> tuple[Course, bool]:
    """The course (with module_count) and whether `viewer_id` may see it, in one query."""
    flag = _assigned_to_member(viewer_id) if viewer_id is not None else true()
    row = (await session.execute(select(Course, flag).where(Course.id == course_id))).first()
    if row is None:
        raise NotFound(f"Course {course_id} not found")
    return row[0], bool(row[1])


async def get_course(session: AsyncSession, *, course_id: int) -> Course:
    course, _ = await load_course(session, course_id=course_id)
    return course


_COURSE_COLUMNS = (
    Course.id,
    Course.title,
    Course.description,
    Course.created_at,
    Course.updated_at,
    Course.module_count,
)


# Staff see every course, a `user` the courses assigned to their groups; oldest first.
_COURSES = ScopedList(
    _COURSE_COLUMNS,
    order=(Course.created_at, Course.id),
    count_by=Course.id,
    scope=_assigned_to_member(bindparam("viewer_id")),
)


async def list_course_rows(
    db: Database, *, viewer: Caller, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """Courses the viewer may see (all for staff; assigned to their groups for a user),
    oldest first, as plain rows shaped like `CourseRead`, and how many in all."""
    viewer_id = None if is_staff(viewer) else viewer.id
    return await _COURSES.fetch_dicts(db, page, viewer_id=viewer_id)


async def list_modules(session: AsyncSession, *, course_id: int) -> Sequence[CourseModule]:
    stmt = (
        select(CourseModule)
        .where(CourseModule.course_id == course_id)
        .order_by(CourseModule.ordering, CourseModule.id)
    )
    return (await session.scalars(stmt)).all()


async def create_course(session: AsyncSession, *, data: CourseCreate) -> Course:
    course = Course(title=data.title, description=data.description)
    session.add(course)
    await session.commit()
    return await get_course(session, course_id=course.id)


async def update_course(session: AsyncSession, *, course: Course, data: CourseUpdate) -> Course:
    for field, value in data.changes().items():
        setattr(course, field, value)
    await commit_or(session, NotFound(f"Course {course.id} not found"))
    # The UPDATE expires the module_count expression; reload it here, not lazily (async).
    return await get_course(session, course_id=course.id)


async def delete_course(session: AsyncSession, *, course: Course) -> None:
    """Delete a course; its modules and group assignments go with it (FK cascade)."""
    course_id = course.id
    result = await session.execute(delete(Course).where(Course.id == course_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]  # deleted meanwhile
        await session.rollback()
        raise NotFound(f"Course {course_id} not found")
    await session.commit()


async def list_group_courses(
    session: AsyncSession, *, group: Group, page: Page
) -> tuple[Sequence[Course], int]:
    """The group's courses in assignment `ordering`."""
    stmt = (
        select(Course)
        .join(GroupCourse, GroupCourse.course_id == Course.id)
        .where(GroupCourse.group_id == group.id)
    )
    total = await count_rows(session, stmt.with_only_columns(Course.id))
    stmt = page.apply(stmt.order_by(GroupCourse.ordering, GroupCourse.date_assigned, Course.id))
    return (await session.scalars(stmt)).all(), total


async def assign_course(
    session: AsyncSession, *, group: Group, course_id: int, ordering: int | None
) -> GroupCourse:
    """Assign a course to a group (last, unless `ordering` is given); 400 if already there."""
    group_id = group.id
    await get_course(session, course_id=course_id)
    key = (GroupCourse.group_id == group.id, GroupCourse.course_id == course_id)
    if await session.scalar(select(exists().where(*key))):
        raise Conflict("Course is already assigned to this group")
    if ordering is None:
        last = await session.scalar(
            select(func.max(GroupCourse.ordering)).where(GroupCourse.group_id == group.id)
        )
        ordering = 0 if last is None else last + 1
    link = GroupCourse(group_id=group.id, course_id=course_id, ordering=ordering)
    session.add(link)
    try:
        await session.commit()
    except IntegrityError:
        # A unique key (already assigned) or a foreign key: the course or the group was
        # deleted meanwhile. Say which, as the sequential checks would.
        await session.rollback()
        await get_course(session, course_id=course_id)
        if await session.get(Group, group_id, populate_existing=True) is None:
            raise NotFound(f"Group {group_id} not found") from None
        raise Conflict("Course is already assigned to this group") from None
    return link


async def unassign_course(session: AsyncSession, *, group: Group, course_id: int) -> None:
    result = await session.execute(
        delete(GroupCourse).where(
            GroupCourse.group_id == group.id, GroupCourse.course_id == course_id
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await session.rollback()
        raise NotFound(f"Assignment not found: course {course_id} is not assigned to this group")
    await session.commit()
