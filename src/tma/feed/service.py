"""The feed's one read: the caller's next posts and their total, in one statement whatever
the number of courses, modules and posts (a second counts the total for an empty page).

The statement, for a `user` U on day D with children of ages a1..an (months):

1. `open_links`: the (course, module) links of the courses U sees (`course_visible_to`,
   tma.courses.visibility) whose module is open to U on D in that course
   (`open_condition`, tma.courses.availability), with the course's place in U's
   assignments (`course_places`: the lowest `ordering` among the course's assignments to
   U's groups, then the earliest assignment; grouped once, not per row) and the module's
   `ordering` in the course.
2. Their posts that U has not completed and that some child fits (one child inside both
   the post's and its module's range; a missing bound always fits); no child: no filter.
3. A post in several of those courses (a module shared by two) is listed once, under the
   first of them: `ROW_NUMBER() OVER (PARTITION BY post ...)`, kept where it is 1.
4. Ordered by course place, module ordering, post ordering (ids break ties); the total
   rides on each row (`count(*) OVER ()`), so the page needs no second statement.

The children's ages are bound parameters (`age_0` ...), one statement per number of
children built at import (0 to `MAX_CHILDREN`): nothing is built per request.
"""

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tma.children.models import MAX_CHILDREN
from tma.children.service import child_ages
from tma.core.db import ID
from tma.core.pagination import ListQuery, Page
from tma.core.reads import first, named, rows
from tma.courses.availability import open_condition
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.courses.visibility import course_visible_to
from tma.groups.models import GroupMember
from tma.posts.models import Post
from tma.progress.models import PostProgress, ProgressStatus
from tma.users.caller import Caller

_VIEWER = bindparam("viewer_id", type_=ID)
_TODAY = bindparam("today", type_=Date)


def course_places(user_id: Any) -> Any:  # pragma: no mutate block (part of `_feed`)
    """Where each course stands in the user's assignment order: the lowest `ordering` of
    its assignments to the user's groups, then the earliest of them (one row per course,
    computed once per statement; who sees which course is `course_visible_to`'s alone,
    the feed joins this only for the order)."""
    return (
        select(
            GroupCourse.course_id.label("course_id"),
            func.min(GroupCourse.ordering).label("course_place"),
            func.min(GroupCourse.date_assigned).label("course_assigned"),
        )
        .join(GroupMember, GroupMember.group_id == GroupCourse.group_id)
        .where(GroupMember.user_id == user_id)
        .group_by(GroupCourse.course_id)
        .subquery("course_places")
    )


def _inside(low: Any, high: Any, age: Any) -> Any:  # pragma: no mutate block (part of `_feed`)
    return and_(or_(low.is_(None), low <= age), or_(high.is_(None), high >= age))


def _fits(age: Any) -> Any:  # pragma: no mutate block (part of `_feed`)
    """One child of `age` fits the post and its module."""
    return and_(
        _inside(Post.min_age_months, Post.max_age_months, age),
        _inside(Module.min_age_months, Module.max_age_months, age),
    )


def _feed(children: int) -> Select[Any]:  # pragma: no mutate block (built at import)
    link = CourseModule
    places = course_places(_VIEWER)
    open_links = (
        select(
            link.course_id,
            link.module_id,
            link.ordering.label("module_place"),
            places.c.course_place,
            places.c.course_assigned,
        )
        .outerjoin(places, places.c.course_id == link.course_id)
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
    # Labels alike in shape with the bundle's statement (tma.bundle.service): each labels the
    # columns of its own joins for its own rows.
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
    # The whole feed's length rides on each row (a window aggregate is computed before
    # LIMIT), so a page is one statement; only an empty page asks for it separately.
    return named(
        select(*(ranked.c[key] for key in keys), func.count().over().label("total"))
        .where(ranked.c.nth == 1)
        .order_by(*(ranked.c[f"o{i}"] for i in range(len(order))))
        .limit(bindparam("limit", type_=BigInteger))
        .offset(bindparam("offset", type_=BigInteger))
    )


def _total(feed: Select[Any]) -> Select[Any]:  # pragma: no mutate block (built at import)
    """The feed's length alone, for a page past its end."""
    inner = feed.limit(None).offset(None).order_by(None).subquery("feed")
    return select(func.count().label("total")).select_from(inner)


# One statement per number of children, and its count: nothing is built per request.
_FEEDS = {children: _feed(children) for children in range(MAX_CHILDREN + 1)}
_TOTALS = {children: _total(feed) for children, feed in _FEEDS.items()}


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
    params.update(viewer_id=caller.id, today=today)
    limit = ListQuery.NO_LIMIT if page.limit is None else page.limit
    found = await rows(session, _FEEDS[len(ages)], limit=limit, offset=page.offset, **params)
    if found:
        total = int(found[0]["total"])
    else:
        counted = await first(session, _TOTALS[len(ages)], **params)
        total = int(counted["total"]) if counted else 0
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
