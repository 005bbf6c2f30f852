"""The rules and queries of courses and their assignment to groups."""

from collections.abc import Callable, Sequence
from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from tma.core.db import ID, Database, commit_or
from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.ordering import Ordering, lock_parent
from tma.core.pagination import Page, ScopedList, count_rows, fetch_page
from tma.courses import availability
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.courses.schemas import CourseCreate, CourseUpdate
from tma.courses.visibility import course_visible_to
from tma.groups.models import Group
from tma.posts.models import post_count_of
from tma.users.caller import Caller
from tma.users.service import viewer_id


def _assigned_to_member(user_id: Any) -> ColumnElement[bool]:
    """True for a course assigned to at least one group `user_id` belongs to."""
    return course_visible_to(Course.id, user_id)


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
    Course.sequential,
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
    return await _COURSES.fetch_dicts(db, page, viewer_id=viewer_id(viewer))


_OUTLINE = (
    select(
        CourseModule.module_id,
        Module.title.label("module_title"),
        Module.description.label("module_description"),
        Module.color.label("module_color"),
        CourseModule.ordering,
        CourseModule.course_id,
        post_count_of(Module.id).label("post_count"),
        Module.created_at,
        Module.updated_at,
        CourseModule.release_after_days,
    )
    .join(Module, Module.id == CourseModule.module_id)
    .order_by(CourseModule.ordering, CourseModule.module_id)
)
# For a `user`: the two columns of the availability rule (bound parameter `viewer_id`).
_AVAILABILITY = availability.availability_columns(CourseModule, bindparam("viewer_id", type_=ID))


def outline_statement(course_id: int) -> Select[*tuple[Any, ...]]:
    """The course's outline items (its modules with their place), in `ordering`."""
    return _OUTLINE.where(CourseModule.course_id == course_id)


def _with_availability(rows: Sequence[Any], today: date | None) -> list[dict[str, Any]]:
    """Outline rows as `OutlineItem` dicts: `availability` decided for a `user` (`today`
    set) on the rule's columns, open for staff (`today` None)."""
    keys = _OUTLINE_KEYS
    items = [{key: row[key] for key in keys} for row in rows]
    if today is None:  # staff: one shared, never mutated, `open` body for every item
        for item in items:
            item["availability"] = availability.OPEN_BODY
    else:
        for item, row in zip(items, rows, strict=True):
            item["availability"] = availability.of_row(row, today)
    return items


async def outline_page(
    session: AsyncSession, *, course_id: int, page: Page, viewer_id: int | None, today: date
) -> tuple[list[dict[str, Any]], int]:
    """One page of the course's outline items (with their availability for `viewer_id`,
    None: staff) and how many there are in all."""
    stmt = outline_statement(course_id)
    if viewer_id is not None:
        stmt = stmt.add_columns(*_AVAILABILITY).params(viewer_id=viewer_id)
    rows, total = await fetch_page(session, stmt, page)
    return _with_availability(rows, None if viewer_id is None else today), total


# Built once, at import (`_DETAIL` below): mutmut cannot switch a mutant of it on after
# import, so it is not mutated (tests/README.md "Mutation testing"); every read tests it.
def _detail(scoped: bool) -> Select[*tuple[Any, ...]]:  # pragma: no mutate block
    """The course detail in one statement: the course, whether the viewer sees it, and,
    LEFT JOINed, its outline items in `ordering` (one row per module; one row of null
    outline columns for a course without modules); for a `user` (`scoped`), each item's
    availability columns."""
    course_id: BindParameter[int] = bindparam("course_id", type_=ID)
    flag = course_visible_to(course_id, bindparam("viewer_id", type_=ID)) if scoped else true()
    outline = [*_OUTLINE.selected_columns, *(_AVAILABILITY if scoped else ())]
    return (
        select(
            Course.id.label("course_key"),
            Course.title,
            Course.description,
            Course.created_at.label("course_created_at"),
            Course.updated_at.label("course_updated_at"),
            Course.sequential,
            flag.label("visible"),
            *outline,
        )
        .select_from(Course)
        .outerjoin(CourseModule, CourseModule.course_id == Course.id)
        .outerjoin(Module, Module.id == CourseModule.module_id)
        .where(Course.id == course_id)
        .order_by(CourseModule.ordering)
    )


_DETAIL = {scoped: _detail(scoped) for scoped in (False, True)}
_OUTLINE_KEYS = tuple(str(column.key) for column in _OUTLINE.selected_columns)


def _reader(statement: Select[*tuple[Any, ...]], keys: Sequence[str]) -> Callable[[Any], Any]:
    """Reads the columns named `keys` of a row of `statement`, by name: each name's place in
    the statement (whose columns are named once each) is found here, once, and the row is
    read through one `itemgetter` (the detail is hot: a `RowMapping` per row cost it 5 %)."""
    names = [str(column.key) for column in statement.selected_columns]
    assert len(set(names)) == len(names), f"columns named twice: {names}"
    return itemgetter(*(names.index(key) for key in keys))


_COURSE_KEYS = ("course_key", "title", "description", "course_created_at", "course_updated_at")
_READ = {
    scoped: (
        _reader(_DETAIL[scoped], ("visible", "sequential", *_COURSE_KEYS)),
        _reader(_DETAIL[scoped], _OUTLINE_KEYS),
        _reader(_DETAIL[scoped], ("opens_on", "locked_by")) if scoped else None,
    )
    for scoped in (False, True)
}


async def course_detail(
    db: Database, *, course_id: int, viewer_id: int | None, today: date
) -> dict[str, Any]:
    """The course shaped like `CourseDetail`: 404 if it does not exist, 403 for a viewer
    (None: staff) none of whose groups has it; each outline item's availability on
    `today` (UTC) for a `user`. One statement on a read connection."""
    scoped = viewer_id is not None
    params = {"course_id": course_id, "viewer_id": viewer_id}
    async with db.read_connection() as conn:
        rows = (await conn.execute(_DETAIL[scoped], params)).all()
    if not rows:
        raise NotFound(f"Course {course_id} not found")
    course, outline, rule = _READ[scoped]
    visible, sequential, *values = course(rows[0])
    if not visible:
        raise Forbidden("You don't have access to this course")
    modules: list[dict[str, Any]] = []
    for row in rows:
        module = dict(zip(_OUTLINE_KEYS, outline(row), strict=True))
        if module["module_id"] is None:  # the one row of a course without modules
            continue
        if rule is None:  # staff: one shared, never mutated, `open` body for every item
            module["availability"] = availability.OPEN_BODY
        else:
            opens_on, locked_by = rule(row)
            module["availability"] = availability.state(opens_on, locked_by, today).as_dict()
        modules.append(module)
    return {
        **dict(
            zip(("id", "title", "description", "created_at", "updated_at"), values, strict=True)
        ),
        "module_count": len(modules),
        "sequential": sequential,
        "modules": modules,
    }


LINK_POSITIONS = Ordering(CourseModule.ordering, CourseModule.course_id)


async def _outline_item(session: AsyncSession, *, course_id: int, module_id: int) -> dict[str, Any]:
    """One outline item as an admin sees it (open)."""
    stmt = outline_statement(course_id).where(CourseModule.module_id == module_id)
    return _with_availability([(await session.execute(stmt)).mappings().one()], None)[0]


async def _lock_course(session: AsyncSession, course_id: int) -> None:
    if not await lock_parent(session, Course, course_id):
        await session.rollback()
        raise NotFound(f"Course {course_id} not found")


def _no_link(course_id: int, module_id: int) -> NotFound:
    return NotFound(f"Link not found: module {module_id} is not in course {course_id}")


async def _locked_link(
    session: AsyncSession, *, course_id: int, module_id: int, with_module: bool = False
) -> CourseModule:
    # `with_module`: a change of what the module's progress counts in the course takes the
    # module's lock before the course's (the lock order of tma.progress.service).
    if with_module and not await lock_parent(session, Module, module_id):
        await session.rollback()
        await _lock_course(session, course_id)  # an unknown course is still its 404
        raise _no_link(course_id, module_id)
    await _lock_course(session, course_id)
    link = await session.get(CourseModule, (course_id, module_id))
    if link is None:
        await session.rollback()
        raise _no_link(course_id, module_id)
    return link


async def link_module(
    session: AsyncSession,
    *,
    course_id: int,
    module_id: int,
    ordering: int | None,
    release_after_days: int = 0,
) -> dict[str, Any]:
    """Put a module into a course at `ordering` (default last), later ones moved down,
    opening `release_after_days` after the course's start; 400 if it is there already, 404
    for an unknown module."""
    # The module first, then the course (the lock order of tma.progress.service): a
    # progress write in the module waits, and the counters see the link or not at all.
    module_found = await lock_parent(session, Module, module_id)
    await _lock_course(session, course_id)
    if not module_found:
        await session.rollback()
        raise NotFound(f"Module {module_id} not found")
    if await session.get(CourseModule, (course_id, module_id)) is not None:
        await session.rollback()
        raise Conflict(f"Module {module_id} is already in course {course_id}")
    position = await LINK_POSITIONS.insert_at(session, course_id, ordering)
    session.add(
        CourseModule(
            course_id=course_id,
            module_id=module_id,
            ordering=position,
            release_after_days=release_after_days,
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # the module was deleted meanwhile
        await session.rollback()
        raise NotFound(f"Module {module_id} not found") from None
    return await _outline_item(session, course_id=course_id, module_id=module_id)


async def move_module(
    session: AsyncSession,
    *,
    course_id: int,
    module_id: int,
    ordering: int | None,
    release_after_days: int | None = None,
) -> dict[str, Any]:
    """Move a module to `ordering` within the course (past the end: last) and/or change
    its `release_after_days` (None: unchanged)."""
    link = await _locked_link(session, course_id=course_id, module_id=module_id)
    if ordering is not None:
        link.ordering = await LINK_POSITIONS.move(session, course_id, link.ordering, ordering)
    if release_after_days is not None:
        link.release_after_days = release_after_days
    await session.commit()
    return await _outline_item(session, course_id=course_id, module_id=module_id)


async def unlink_module(session: AsyncSession, *, course_id: int, module_id: int) -> None:
    """Take a module out of a course (the module stays); later ones move up."""
    link = await _locked_link(session, course_id=course_id, module_id=module_id, with_module=True)
    await session.delete(link)
    await LINK_POSITIONS.close_gap(session, course_id, link.ordering)
    await session.commit()


async def create_course(session: AsyncSession, *, data: CourseCreate) -> Course:
    course = Course(title=data.title, description=data.description, sequential=data.sequential)
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
    """Delete a course; its module links and group assignments go with it (FK cascade);
    the modules stay (a module may belong to other courses)."""
    course_id = course.id
    result = await session.execute(delete(Course).where(Course.id == course_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]  # deleted meanwhile
        await session.rollback()
        raise NotFound(f"Course {course_id} not found")
    await session.commit()


async def list_group_courses(
    session: AsyncSession, *, group: Group, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The group's courses in assignment `ordering`, each with its `start_date`."""
    stmt = (
        select(Course, GroupCourse.start_date)
        .join(GroupCourse, GroupCourse.course_id == Course.id)
        .where(GroupCourse.group_id == group.id)
    )
    total = await count_rows(session, stmt.with_only_columns(Course.id))
    stmt = page.apply(stmt.order_by(GroupCourse.ordering, GroupCourse.date_assigned, Course.id))
    rows = (await session.execute(stmt)).all()
    keys = tuple(column.key for column in _COURSE_COLUMNS)
    return [
        {**{key: getattr(row.Course, key) for key in keys}, "start_date": row.start_date}
        for row in rows
    ], total


async def assign_course(
    session: AsyncSession,
    *,
    group: Group,
    course_id: int,
    ordering: int | None,
    start_date: date | None = None,
) -> GroupCourse:
    """Assign a course to a group (last, unless `ordering` is given), its release schedule
    starting on `start_date` (None: today, UTC); 400 if already there."""
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
    link = GroupCourse(
        group_id=group.id, course_id=course_id, ordering=ordering, start_date=start_date
    )
    session.add(link)
    try:
        await session.commit()
    except IntegrityError:
        # A unique key (already assigned) or a foreign key: the course or the group was
        # deleted meanwhile. Say which, as the sequential checks would.
        await session.rollback()
        await get_course(session, course_id=course_id)
        if await session.get(Group, group_id) is None:
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


async def schedule_course(
    session: AsyncSession, *, group: Group, course_id: int, start_date: date
) -> GroupCourse:
    """Move the start of a group's course (day 0 of its release schedule); 404 when the
    course is not assigned to the group."""
    link = await session.get(GroupCourse, (group.id, course_id), with_for_update=True)
    if link is None:
        await session.rollback()
        await get_course(session, course_id=course_id)
        raise NotFound(f"Assignment not found: course {course_id} is not assigned to this group")
    link.start_date = start_date
    # Locked above on PostgreSQL; on SQLite (no row locks) an unassignment that commits
    # first leaves the UPDATE nothing to change: the same 404.
    await commit_or(
        session, NotFound(f"Assignment not found: course {course_id} is not assigned to this group")
    )
    return link
