"""The feed's one read: the caller's next posts and their total, in one statement whatever
the number of courses, modules and posts (a second counts the total for an empty page).

The statement, for a `user` U on day D with children of ages a1..an (months):

1. `open_links`: the (course, module) links of the courses U sees (those assigned to one of
   U's groups: `course_places`, grouped once, which also gives the course's place in U's
   assignments and its start for U) whose module is open to U on D in that course
   (`open_from`, tma.courses.availability: the release schedule from that start, the
   sequential rule only in a sequential course), each numbered within its module in the
   feed's order (`ROW_NUMBER() OVER (PARTITION BY module ...)`): a module shared by two of
   U's courses is kept under the first of them (`nth` 1), so each of its posts is listed
   once, and only the links (not every post) are numbered.
2. Their posts that U has not completed and that some child fits (one child inside both
   the post's and its module's range; a missing bound always fits); no child: no filter.
3. Ordered by course place, module ordering, post ordering (ids break ties), cut by
   LIMIT/OFFSET; the total rides on each row (`count(*) OVER ()`, computed before the
   LIMIT), so the page needs no second statement.

The children's ages are bound parameters (`age_0` ...), one statement per number of
children built at import (0 to `MAX_CHILDREN`): nothing is built per request. The reads
run on the driver (`tma.core.hotpath`) on PostgreSQL.
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
from sqlalchemy.orm import aliased

from tma.children.models import MAX_CHILDREN
from tma.children.service import child_ages
from tma.core.db import ID
from tma.core.hotpath import driver_safe, hot_rows
from tma.core.pagination import ListQuery, Page
from tma.core.reads import NamedRow, named
from tma.courses.availability import open_from
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import GroupMember
from tma.posts.models import Post
from tma.progress.models import PostProgress, ProgressStatus
from tma.users.caller import Caller

_VIEWER = bindparam("viewer_id", type_=ID)
_TODAY = bindparam("today", type_=Date)


def course_places(user_id: Any) -> Any:  # pragma: no mutate block (part of `_feed`)
    """The courses the user sees (assigned to a group they are a member of: the rule of
    `course_visible_to`, tma.courses.visibility, as a join), one row each, with where the
    course stands in the user's assignment order (the lowest `ordering` of its assignments
    to the user's groups, then the earliest of them) and its start for the user (the
    earliest `start_date`, `start_of`'s value); computed once per statement."""
    return (
        select(
            GroupCourse.course_id.label("course_id"),
            func.min(GroupCourse.ordering).label("course_place"),
            func.min(GroupCourse.date_assigned).label("course_assigned"),
            func.min(GroupCourse.start_date).label("course_start"),
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


def _titles() -> tuple[Any, ...]:  # pragma: no mutate block (part of `_feed`)
    """The feed's titles, selected here only (of the joined `Post`, `Module`, `Course`):
    where a translation of them would be joined in."""
    return (
        Post.title.label("title"),
        Module.title.label("module_title"),
        Course.title.label("course_title"),
    )


def _open_links() -> Any:  # pragma: no mutate block (part of `_feed`)
    link = CourseModule
    course = aliased(Course, name="link_course")
    places = course_places(_VIEWER)
    order = (places.c.course_place, places.c.course_assigned, link.course_id, link.ordering)
    return (
        select(
            link.course_id,
            link.module_id,
            link.ordering.label("module_place"),
            places.c.course_place,
            places.c.course_assigned,
            func.row_number().over(partition_by=link.module_id, order_by=order).label("nth"),
        )
        .join(places, places.c.course_id == link.course_id)
        .join(course, course.id == link.course_id)
        .where(open_from(link, places.c.course_start, course.sequential, _VIEWER, _TODAY))
        .subquery("open_links")
    )


def _feed(children: int) -> Select[Any]:  # pragma: no mutate block (built at import)
    open_links = _open_links()
    ages = [bindparam(f"age_{i}", type_=Integer) for i in range(children)]
    fitting = or_(*(_fits(age) for age in ages)) if ages else true()
    done = exists().where(
        PostProgress.user_id == _VIEWER,
        PostProgress.post_id == Post.id,
        PostProgress.status == ProgressStatus.COMPLETED.value,
    )
    # The whole feed's length rides on each row (a window aggregate is computed before
    # LIMIT), so a page is one statement; only an empty page asks for it separately.
    return driver_safe(
        named(
            select(
                Post.id.label("post_id"),
                Post.post_type.label("post_type"),
                Post.module_id.label("module_id"),
                open_links.c.course_id,
                *_titles(),
                Post.min_age_months.label("post_min"),
                Post.max_age_months.label("post_max"),
                Module.min_age_months.label("module_min"),
                Module.max_age_months.label("module_max"),
                func.count().over().label("total"),
            )
            .select_from(open_links)
            .join(Course, Course.id == open_links.c.course_id)
            .join(Module, Module.id == open_links.c.module_id)
            .join(Post, Post.module_id == Module.id)
            .where(open_links.c.nth == 1, ~done, fitting)
            .order_by(
                open_links.c.course_place,
                open_links.c.course_assigned,
                open_links.c.course_id,
                open_links.c.module_place,
                Post.ordering,
                Post.id,
            )
            .limit(bindparam("limit", type_=BigInteger))
            .offset(bindparam("offset", type_=BigInteger))
        )
    )


def _total(feed: Select[Any]) -> Select[Any]:  # pragma: no mutate block (built at import)
    """The feed's length alone, for a page past its end."""
    inner = feed.limit(None).offset(None).order_by(None).subquery("feed")
    return driver_safe(select(func.count().label("total")).select_from(inner))


# One statement per number of children, and its count: nothing is built per request.
_FEEDS = {children: _feed(children) for children in range(MAX_CHILDREN + 1)}
_TOTALS = {children: _total(feed) for children, feed in _FEEDS.items()}


def _child_ids(row: NamedRow, ages: list[tuple[int, int]]) -> list[int]:
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
    found = await hot_rows(session, _FEEDS[len(ages)], limit=limit, offset=page.offset, **params)
    if found:
        total = int(found[0]["total"])
    else:
        (counted,) = await hot_rows(session, _TOTALS[len(ages)], **params)
        total = int(counted["total"])
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
