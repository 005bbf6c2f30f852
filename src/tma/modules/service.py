"""The rules and queries of modules. Raises domain errors; owns its commits."""

from datetime import datetime
from typing import Any

from sqlalchemy import Date, Select, String, bindparam, cast, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from tma.core.config import Settings
from tma.core.db import ID
from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.ordering import lock_parent
from tma.core.pagination import ListQuery, Page
from tma.core.reads import first, named, rows, visible_head
from tma.core.types import changed_age_range_error
from tma.courses import availability
from tma.courses.models import Course, CourseModule, Module
from tma.courses.service import LINK_POSITIONS
from tma.courses.visibility import course_visible_to, module_visible_to
from tma.modules.schemas import ModuleCreate, ModuleUpdate
from tma.posts.models import Post, post_count_of
from tma.posts.service import POST_COLUMNS, post_dict

# A module's own columns, in `ModuleRead`'s order: the list's and the detail's.
_MODULE_FIELDS = (
    Module.id,
    Module.title,
    Module.description,
    Module.color,
    Module.min_age_months,
    Module.max_age_months,
)
MODULE_COLUMNS = (
    *_MODULE_FIELDS,
    post_count_of(Module.id).label("post_count"),
    Module.created_at,
    Module.updated_at,
)


_MODULE = select(*MODULE_COLUMNS).where(Module.id == bindparam("module_id", type_=ID))


async def load_module(session: AsyncSession, *, module_id: int) -> dict[str, Any]:
    """The module shaped like `ModuleRead`; 404 if it does not exist."""
    row = await first(session, _MODULE, module_id=module_id)
    if row is None:
        raise NotFound(f"Module {module_id} not found")
    return dict(row)


# Built once, at import: `_LISTS[(scoped, of_course)]`, for staff or a `user` (who sees
# modules by the visibility rule on `viewer_id`), every module oldest first or those of
# `course_id` in its `ordering`.
def _list(scoped: int, of_course: int) -> ListQuery:  # pragma: no mutate block
    visible = module_visible_to(Module.id, bindparam("viewer_id", type_=ID)) if scoped else true()
    stmt, count = select(*MODULE_COLUMNS).where(visible), select(Module.id).where(visible)
    if not of_course:
        return ListQuery(stmt.order_by(Module.created_at, Module.id), count=count)
    linked = CourseModule.course_id == bindparam("course_id", type_=ID)
    join = (CourseModule, CourseModule.module_id == Module.id)
    return ListQuery(
        stmt.join(*join).where(linked).order_by(CourseModule.ordering),
        count=count.join(*join).where(linked),
    )


_LISTS = {
    (scoped, of_course): _list(scoped, of_course) for scoped in (0, 1) for of_course in (0, 1)
}


async def list_modules(
    session: AsyncSession, *, viewer_id: int | None, page: Page, course_id: int | None
) -> tuple[list[dict[str, Any]], int]:
    """Modules the viewer sees: of one course in its `ordering`, else oldest first. The
    caller has checked the course filter."""
    query = _LISTS[(int(viewer_id is not None), int(course_id is not None))]
    return await query.page(session, page, viewer_id=viewer_id, course_id=course_id)


# Built once, at import (`_DETAIL` below): mutmut cannot switch a mutant of it on after
# import, so it is not mutated (tests/README.md "Mutation testing"); every read tests it.
def _detail(scoped: bool) -> Select[*tuple[Any, ...]]:  # pragma: no mutate block
    """The module detail in one statement: the module, whether the viewer sees it and
    whether it is open to them (tma.courses.availability), the ids of the courses they see
    it in (one comma-separated text, aggregated once), and, LEFT JOINed, its posts in
    order: one row per post (one row of null post columns for a module without posts)."""
    module_id: BindParameter[int] = bindparam("module_id", type_=ID)
    viewer_id: BindParameter[int] = bindparam("viewer_id", type_=ID)
    flag = module_visible_to(module_id, viewer_id) if scoped else true()
    today = bindparam("today", type_=Date)
    is_open = availability.module_open_to(module_id, viewer_id, today) if scoped else true()
    in_course = CourseModule.module_id == module_id
    if scoped:
        in_course = in_course & course_visible_to(CourseModule.course_id, viewer_id)
    courses = select(func.aggregate_strings(cast(CourseModule.course_id, String), ",")).where(
        in_course
    )
    posts = [column.label(f"post_{column.key}") for column in POST_COLUMNS]
    return (
        select(
            *_MODULE_FIELDS,
            Module.created_at,
            Module.updated_at,
            flag.label("visible"),
            is_open.label("open"),
            courses.scalar_subquery().label("course_ids"),
            *posts,
        )
        .outerjoin(Post, Post.module_id == Module.id)
        .where(Module.id == module_id)
        .order_by(Post.ordering)
    )


# Built once: for staff (everything) and for a `user` (the visibility rule on `viewer_id`).
_DETAIL = {scoped: named(_detail(scoped)) for scoped in (False, True)}


async def module_detail(
    session: AsyncSession,
    *,
    module_id: int,
    viewer_id: int | None,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """The module shaped like `ModuleDetail`: 404 if it does not exist, 403 for a viewer
    (None: staff) who does not see it, or to whom it is not open at `now` (the reason as
    the detail). One statement; a refusal reads why."""
    found = await rows(
        session,
        _DETAIL[viewer_id is not None],
        module_id=module_id,
        viewer_id=viewer_id,
        today=availability.today_of(now),
    )
    module = visible_head(
        found,
        missing=NotFound(f"Module {module_id} not found"),
        refused=Forbidden("You don't have access to this module"),
    )
    if viewer_id is not None and not module["open"]:
        raise await availability.refusal(session, module_id=module_id, user_id=viewer_id, now=now)
    posts = [
        post_dict(row, settings, prefix="post_") for row in found if row["post_id"] is not None
    ]
    course_ids = module["course_ids"]
    ids = sorted(int(i) for i in course_ids.split(",")) if course_ids else []
    return {
        "id": module["id"],
        "title": module["title"],
        "description": module["description"],
        "color": module["color"],
        "min_age_months": module["min_age_months"],
        "max_age_months": module["max_age_months"],
        "post_count": len(posts),
        "created_at": module["created_at"],
        "updated_at": module["updated_at"],
        "module_id": module["id"],
        "module_title": module["title"],
        "module_description": module["description"],
        "module_color": module["color"],
        "posts": posts,
        "course_ids": ids,
    }


async def create_module(session: AsyncSession, *, data: ModuleCreate) -> dict[str, Any]:
    module = Module(**data.model_dump())
    session.add(module)
    await session.commit()
    found = await load_module(session, module_id=module.id)
    return found


async def update_module(
    session: AsyncSession, *, module_id: int, data: ModuleUpdate
) -> dict[str, Any]:
    """Change a module's title, description, color or age range; 404 if it is gone; 400
    for a bound sent alone that would pass the stored other one."""
    module = await session.get(Module, module_id)
    if module is None:
        raise NotFound(f"Module {module_id} not found")
    changes = data.changes()
    if error := changed_age_range_error(changes, module):
        await session.rollback()
        raise Conflict(error)
    for field, value in changes.items():
        setattr(module, field, value)
    await session.commit()
    found = await load_module(session, module_id=module_id)
    return found


async def delete_module(session: AsyncSession, *, module_id: int) -> None:
    """Delete a module with its posts (their quizzes, attempts and progress) and its course
    links; each course it was in closes the gap. 404 if it is already gone."""
    # The module first, then its courses in id order: the lock order of every write that
    # changes what the progress counters count (tma.progress.service). A link to a course
    # takes the module's lock too, so the courses read under it stay the module's.
    if not await lock_parent(session, Module, module_id):
        await session.rollback()
        raise NotFound(f"Module {module_id} not found")
    places = select(CourseModule.course_id, CourseModule.ordering).where(
        CourseModule.module_id == module_id
    )
    for course_id in sorted(link["course_id"] for link in await rows(session, places)):
        await lock_parent(session, Course, course_id)
    links = await rows(session, places)  # a course deleted meanwhile took its link
    await session.execute(delete(Module).where(Module.id == module_id))
    for link in links:
        await LINK_POSITIONS.close_gap(session, link["course_id"], link["ordering"])
    await session.commit()
