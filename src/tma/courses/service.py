"""The rules and queries of courses and their assignment to groups."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from pydantic_core import from_json
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    cast,
    delete,
    exists,
    func,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from tma.core.db import ID, commit_or, utcnow
from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.hotpath import hot_rows
from tma.core.ordering import Ordering, lock_parent
from tma.core.pagination import ListQuery, Page
from tma.core.reads import NamedRow, first, get_with_flag, named, visible_head
from tma.courses import availability
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.courses.schemas import CourseCreate, CourseUpdate
from tma.courses.visibility import course_visible_to
from tma.groups.models import Group
from tma.i18n.models import Translation
from tma.i18n.service import best_translation, slot_params
from tma.posts.models import post_count_of
from tma.users.caller import Caller
from tma.users.service import viewer_id


def _assigned_to_member(user_id: Any) -> ColumnElement[bool]:
    """True for a course assigned to at least one group `user_id` belongs to."""
    return course_visible_to(Course.id, user_id)


# Alike in shape with tma.groups.service.load_group (each its own table and flag): the
# shared part is tma.core.reads.get_with_flag.
async def load_course(
    session: AsyncSession, *, course_id: int, viewer_id: int | None = None
) -> tuple[Course, bool]:
    """The course (with module_count) and whether `viewer_id` may see it, in one query."""
    flag = _assigned_to_member(viewer_id) if viewer_id is not None else true()
    return await get_with_flag(
        session, Course, course_id, flag, NotFound(f"Course {course_id} not found")
    )


async def get_course(session: AsyncSession, *, course_id: int) -> Course:
    course, _ = await load_course(session, course_id=course_id)
    return course


_COURSE_COLUMNS = (
    Course.id,
    Course.title,
    Course.description,
    Course.created_at,
    Course.updated_at,
    Course.module_count.label("module_count"),
    Course.sequential,
)


# Staff see every course (the whole list), a `user` the courses assigned to their groups
# (the scoped one); oldest first.
_COURSES = ListQuery.scoped(
    _COURSE_COLUMNS,
    order=(Course.created_at, Course.id),
    count_by=Course.id,
    scope=_assigned_to_member(bindparam("viewer_id")),
)


async def list_course_rows(
    session: AsyncSession, *, viewer: Caller, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """Courses the viewer may see (all for staff; assigned to their groups for a user),
    oldest first, as rows of `CourseRead`'s columns, and how many in all."""
    viewer_is = viewer_id(viewer)
    if viewer_is is None:
        return await _COURSES[False].page(session, page)
    return await _COURSES[True].page(session, page, viewer_id=viewer_is)


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
_OUTLINE_KEYS = tuple(str(column.key) for column in _OUTLINE.selected_columns)
# For a `user`: the two columns of the availability rule (bound parameter `viewer_id`).
_AVAILABILITY = availability.availability_columns(CourseModule, bindparam("viewer_id", type_=ID))


_OF_COURSE = CourseModule.course_id == bindparam("course_id", type_=ID)
# Staff's outline (`False`) and a `user`'s, with the availability columns (`True`).
_OUTLINE_PAGE = {
    scoped: ListQuery(
        _OUTLINE.add_columns(*(_AVAILABILITY if scoped else ())).where(_OF_COURSE),
        count=select(CourseModule.module_id).where(_OF_COURSE),
    )
    for scoped in (False, True)
}
_OUTLINE_ITEM = _OUTLINE.where(
    _OF_COURSE, CourseModule.module_id == bindparam("module_id", type_=ID)
)


def _items(rows: Sequence[NamedRow], today: date | None) -> list[dict[str, Any]]:
    """Outline rows as `OutlineItem` dicts: `availability` decided for a `user` (`today`
    set) on the rule's columns, open for staff (`today` None: one shared, never mutated,
    body for every item)."""
    items = []
    for row in rows:
        item = {key: row[key] for key in _OUTLINE_KEYS}
        item["availability"] = availability.of_row(row, today)
        items.append(item)
    return items


async def outline_page(
    session: AsyncSession, *, course_id: int, page: Page, viewer_id: int | None, today: date
) -> tuple[list[dict[str, Any]], int]:
    """One page of the course's outline items (with their availability for `viewer_id`,
    None: staff) and how many there are in all."""
    if viewer_id is None:
        rows, total = await _OUTLINE_PAGE[False].page(session, page, course_id=course_id)
        return _items(rows, None), total
    rows, total = await _OUTLINE_PAGE[True].page(
        session, page, course_id=course_id, viewer_id=viewer_id
    )
    return _items(rows, today), total


# Built once, at import (`_DETAIL` below): mutmut cannot switch a mutant of it on after
# import, so it is not mutated (tests/README.md "Mutation testing"); every read tests it.
def _detail(
    scoped: bool, translated: bool = False
) -> Select[*tuple[Any, ...]]:  # pragma: no mutate block
    """The course detail in one statement: the course, whether the viewer sees it, and,
    LEFT JOINed, its outline items in `ordering` (one row per module; one row of null
    outline columns for a course without modules); for a `user` (`scoped`), each item's
    availability columns; `translated`: the course's and each module's translation in the
    best wanted language each has (`language_<i>` parameters; tma.i18n.service)."""
    course_id: BindParameter[int] = bindparam("course_id", type_=ID)
    flag = course_visible_to(course_id, bindparam("viewer_id", type_=ID)) if scoped else true()
    outline = [*_OUTLINE.selected_columns, *(_AVAILABILITY if scoped else ())]
    course_t, module_t = aliased(Translation), aliased(Translation)
    texts = (
        [
            # As text, decoded once each: the course's repeats on every outline row.
            course_t.language.label("course_language"),
            cast(course_t.fields, String).label("course_fields"),
            module_t.language.label("module_language"),
            cast(module_t.fields, String).label("module_fields"),
        ]
        if translated
        else []
    )
    statement = (
        select(
            Course.id,
            Course.title,
            Course.description,
            Course.created_at.label("course_created_at"),
            Course.updated_at.label("course_updated_at"),
            Course.sequential,
            flag.label("visible"),
            *outline,
            *texts,
        )
        .select_from(Course)
        .outerjoin(CourseModule, CourseModule.course_id == Course.id)
        .outerjoin(Module, Module.id == CourseModule.module_id)
    )
    if translated:
        statement = statement.outerjoin(
            course_t, course_t.id == best_translation("course", Course.id)
        ).outerjoin(module_t, module_t.id == best_translation("module", Module.id))
    return statement.where(Course.id == course_id).order_by(CourseModule.ordering)


_DETAIL = {
    (scoped, translated): named(_detail(scoped, translated))
    for scoped in (False, True)
    for translated in (False, True)
}

# The translations a course detail's statement joined: (kind, id, language) -> fields.
Found = dict[tuple[str, int, str], dict[str, Any]]


async def course_detail(
    session: AsyncSession,
    *,
    course_id: int,
    viewer_id: int | None,
    today: date,
    languages: tuple[str, ...] = (),
    translations: Found | None = None,
) -> dict[str, Any]:
    """The course shaped like `CourseDetail`: 404 if it does not exist, 403 for a viewer
    (None: staff) none of whose groups has it; each outline item's availability on
    `today` (UTC) for a `user`. One statement, on the hot path; with `languages` (the
    wanted ones, best first) the same statement joins the course's and its modules'
    translations, put in `translations`."""
    params: dict[str, Any] = {"course_id": course_id, "viewer_id": viewer_id}
    if languages:
        params |= slot_params(languages)
    found = await hot_rows(session, _DETAIL[(viewer_id is not None, bool(languages))], **params)
    course = visible_head(
        found,
        missing=NotFound(f"Course {course_id} not found"),
        refused=Forbidden("You don't have access to this course"),
    )
    modules = _items(
        [row for row in found if row["module_id"] is not None],
        None if viewer_id is None else today,
    )
    if languages and translations is not None:
        if course["course_language"] is not None:
            key = ("course", course_id, course["course_language"])
            translations[key] = from_json(course["course_fields"])
        for row in found:
            if row["module_language"] is not None:
                key = ("module", row["module_id"], row["module_language"])
                translations[key] = from_json(row["module_fields"])
    return {
        "id": course["id"],
        "title": course["title"],
        "description": course["description"],
        "created_at": course["course_created_at"],
        "updated_at": course["course_updated_at"],
        "module_count": len(modules),
        "sequential": course["sequential"],
        "modules": modules,
    }


LINK_POSITIONS = Ordering(CourseModule.ordering, CourseModule.course_id)


async def _outline_item(session: AsyncSession, *, course_id: int, module_id: int) -> dict[str, Any]:
    """One outline item as an admin sees it (open)."""
    item = await first(session, _OUTLINE_ITEM, course_id=course_id, module_id=module_id)
    assert item is not None  # read in the transaction that linked or moved it
    return _items([item], None)[0]


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


_OF_GROUP = GroupCourse.group_id == bindparam("group_id", type_=ID)
_GROUP_COURSES = ListQuery(
    select(*_COURSE_COLUMNS, GroupCourse.start_date)
    .join(GroupCourse, GroupCourse.course_id == Course.id)
    .where(_OF_GROUP)
    .order_by(GroupCourse.ordering, GroupCourse.date_assigned, Course.id),
    count=select(GroupCourse.course_id).where(_OF_GROUP),
)


async def list_group_courses(
    session: AsyncSession, *, group: Group, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The group's courses in assignment `ordering`, as rows of `GroupCourseRead`'s columns
    (`CourseRead`'s and the assignment's `start_date`)."""
    return await _GROUP_COURSES.page(session, page, group_id=group.id)


# Run inside an assignment's transaction, before its commit (the notifications package
# registers the in-app "course assigned" message): a higher package's rule, run here.
AssignmentHook = Callable[..., Awaitable[None]]
_ASSIGNMENT_HOOKS: list[AssignmentHook] = []


def on_course_assigned(hook: AssignmentHook) -> AssignmentHook:
    """Register `hook(session, *, group_id, course_id, now)` to run in every assignment's
    transaction, before it commits."""
    _ASSIGNMENT_HOOKS.append(hook)
    return hook


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
        group_id=group.id,
        course_id=course_id,
        ordering=ordering,
        start_date=start_date,
        date_assigned=utcnow(),
    )
    session.add(link)
    try:
        await session.flush()
        for hook in _ASSIGNMENT_HOOKS:
            await hook(session, group_id=group_id, course_id=course_id, now=link.date_assigned)
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
    gone = NotFound(f"Assignment not found: course {course_id} is not assigned to this group")
    if link is None:
        await session.rollback()
        await get_course(session, course_id=course_id)
        raise gone
    link.start_date = start_date
    # Locked above on PostgreSQL; on SQLite (no row locks) an unassignment that commits
    # first leaves the UPDATE nothing to change: the same 404.
    await commit_or(session, gone)
    return link
