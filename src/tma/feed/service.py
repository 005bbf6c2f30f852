"""The feed's one read: the caller's next posts, in one statement whatever the number of
courses, modules and posts (a second counts the total when the page is full).

The statement, for a `user` U on day D with children of ages a1..an (months):

1. `open_links`: the (course, module) links of the courses U sees (`course_visible_to`,
   tma.courses.visibility) whose module is open to U on D in that course
   (`open_condition`, tma.courses.availability), with the course's place in U's
   assignments (`course_place`: the lowest `ordering` among the course's assignments to
   U's groups, then the earliest assignment) and the module's `ordering` in the course.
2. Their posts that U has not completed and that some child fits (one child inside both
   the post's and its module's range; a missing bound always fits); no child: no filter.
3. A post in several of those courses (a module shared by two) is listed once, under the
   first of them: `ROW_NUMBER() OVER (PARTITION BY post ...)`, kept where it is 1.
4. Ordered by course place, module ordering, post ordering (ids break ties).

The children's ages are bound parameters (`age_0` ...), one statement per number of
children built at import (0 to `MAX_CHILDREN`): nothing is built per request.
"""

from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    ScalarSelect,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tma.children.models import MAX_CHILDREN
from tma.children.service import child_ages
from tma.core.db import ID
from tma.core.pagination import ListQuery, Page
from tma.courses.availability import open_condition
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.courses.visibility import course_visible_to
from tma.groups.models import GroupMember
from tma.posts.models import Post
from tma.progress.models import PostProgress, ProgressStatus
from tma.users.caller import Caller

_VIEWER = bindparam("viewer_id", type_=ID)
_TODAY = bindparam("today", type_=Date)


def course_place(course_id: Any, user_id: Any, column: Any) -> ScalarSelect[Any]:
    """The smallest `column` of the course's assignments to the user's groups: where the
    course stands in the user's assignment order."""
    assignment = aliased(GroupCourse)
    member = aliased(GroupMember)
    return (
        select(func.min(column(assignment)))
        .where(
            assignment.course_id == course_id,
            member.group_id == assignment.group_id,
            member.user_id == user_id,
        )
        .correlate_except(assignment, member)
        .scalar_subquery()
    )


def _inside(low: Any, high: Any, age: Any) -> Any:
    return and_(or_(low.is_(None), low <= age), or_(high.is_(None), high >= age))


def _fits(age: Any) -> Any:
    """One child of `age` fits the post and its module."""
    return and_(
        _inside(Post.min_age_months, Post.max_age_months, age),
        _inside(Module.min_age_months, Module.max_age_months, age),
    )


def _feed(children: int) -> ListQuery:  # pragma: no mutate block (built at import)
    link = CourseModule
    open_links = (
        select(
            link.course_id,
            link.module_id,
            link.ordering.label("module_place"),
            course_place(link.course_id, _VIEWER, lambda a: a.ordering).label("course_place"),
            course_place(link.course_id, _VIEWER, lambda a: a.date_assigned).label(
                "course_assigned"
            ),
        )
        .where(course_visible_to(link.course_id, _VIEWER), open_condition(link, _VIEWER, _TODAY))
        .subquery("open_links")
    )
    ages = [bindparam(f"age_{i}", type_=Integer) for i in range(children)]
    fitting = or_(*(_fits(age) for age in ages)) if ages else true()
    done = exists().where(
        PostProgress.user_id == _VIEWER,
        PostProgress.post_id == Post.id,
        PostProgress.status == ProgressStatus.COMPLETED.value,
    )
    order = (
        open_links.c.course_place,
        open_links.c.course_assigned,
        open_links.c.course_id,
        open_links.c.module_place,
        Post.ordering,
        Post.id,
    )
    ranked = (
        select(
            Post.id.label("post_id"),
            Post.title,
            Post.post_type,
            Post.module_id,
            Module.title.label("module_title"),
            Course.id.label("course_id"),
            Course.title.label("course_title"),
            Post.min_age_months.label("post_min"),
            Post.max_age_months.label("post_max"),
            Module.min_age_months.label("module_min"),
            Module.max_age_months.label("module_max"),
            *(column.label(f"o{i}") for i, column in enumerate(order)),
            func.row_number().over(partition_by=Post.id, order_by=order).label("nth"),
        )
        .select_from(open_links)
        .join(Course, Course.id == open_links.c.course_id)
        .join(Module, Module.id == open_links.c.module_id)
        .join(Post, Post.module_id == Module.id)
        .where(~done, fitting)
        .subquery("ranked")
    )
    first = ranked.c.nth == 1
    keys = (
        "post_id",
        "title",
        "post_type",
        "module_id",
        "module_title",
        "course_id",
        "course_title",
        "post_min",
        "post_max",
        "module_min",
        "module_max",
    )
    return ListQuery(
        select(*(ranked.c[key] for key in keys))
        .where(first)
        .order_by(*(ranked.c[f"o{i}"] for i in range(len(order)))),
        count=select(ranked.c.post_id).where(first),
    )


_FEEDS = {children: _feed(children) for children in range(MAX_CHILDREN + 1)}


def _child_ids(row: dict[str, Any], ages: list[tuple[int, int]]) -> list[int]:
    bounds = (row["post_min"], row["post_max"], row["module_min"], row["module_max"])
    if all(bound is None for bound in bounds):
        return []
    post_min, post_max, module_min, module_max = bounds
    return [
        child_id
        for child_id, age in ages
        if (post_min is None or post_min <= age)
        and (post_max is None or post_max >= age)
        and (module_min is None or module_min <= age)
        and (module_max is None or module_max >= age)
    ]


async def feed(
    session: AsyncSession, *, caller: Caller, today: date, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The caller's next posts (`FeedItem` rows) and how many there are in all."""
    ages = await child_ages(session, user_id=caller.id, child_dob=caller.child_dob, today=today)
    ages = ages[:MAX_CHILDREN]
    params: dict[str, Any] = {f"age_{i}": age for i, (_, age) in enumerate(ages)}
    found, total = await _FEEDS[len(ages)].page(
        session, page, viewer_id=caller.id, today=today, **params
    )
    items = [
        {
            "post_id": row["post_id"],
            "title": row["title"],
            "post_type": row["post_type"],
            "module_id": row["module_id"],
            "module_title": row["module_title"],
            "course_id": row["course_id"],
            "course_title": row["course_title"],
            "child_ids": _child_ids(row, ages),
        }
        for row in found
    ]
    return items, total
