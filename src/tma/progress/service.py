"""The rules and queries of progress: a user's status on each post, moved forward only,
and the per-course and per-group aggregates (a fixed number of statements each).

Progress belongs to a post, not to a course: a course unassigned and assigned again finds
it where it was; a post or module deleted takes its rows with it (FK cascade).

Lock order. Every write that changes what the counters (`module_progress`,
`course_progress`) count takes the post's module row first, then the rows under it: a
progress write takes it FOR SHARE (`lock_post`: progress writes in one module run side by
side), a post deleted or moved, a module deleted, linked to or unlinked from a course take
it FOR UPDATE (`tma.core.ordering.lock_parent`) before any course, post or counter row. So
a progress write and a delete never hold each other's rows (no deadlock), and a progress
write waits for a link change of its module in progress and reads the links it left (the
counters stay exact; migration 0007's triggers take the same locks).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tma.core.db import utcnow
from tma.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from tma.core.hotpath import driver_safe, hot_rows
from tma.core.ordering import lock_parent
from tma.core.reads import NamedRow, execute_core
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.events.record import record_progress
from tma.groups import privacy
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post, PostType
from tma.progress.dependencies import CallerPost
from tma.progress.models import CourseProgress, PostProgress, ProgressStatus
from tma.users.caller import Caller
from tma.users.models import User

COMPLETED = ProgressStatus.COMPLETED.value
IN_PROGRESS = ProgressStatus.IN_PROGRESS.value
# A Progress body's columns, in `PostProgressRead`'s order.
PROGRESS_COLUMNS = (
    PostProgress.post_id,
    PostProgress.status,
    PostProgress.updated_at,
    PostProgress.started_at,
    PostProgress.completed_at,
)


def percent(done: int, total: int) -> int:
    """`done` of `total` in whole percent, rounded down: 100 only when all are done, 0 for
    nothing to do."""
    return done * 100 // total if total else 0


# Built once, at import (`_ADVANCE`): not mutated (tests/README.md "Mutation testing").
def _advance_statement(dialect: Any, completed: bool) -> Any:  # pragma: no mutate block
    """`advance`'s statement for one dialect (`postgresql` or `sqlite`'s `insert`), built
    once at import: the values are bound parameters (`user_id`, `post_id`, `status`,
    `now`, `completed_at`)."""
    now = bindparam("now", type_=PostProgress.updated_at.type)
    stmt = dialect.insert(PostProgress).values(
        user_id=bindparam("user_id", type_=PostProgress.user_id.type),
        post_id=bindparam("post_id", type_=PostProgress.post_id.type),
        status=bindparam("status", type_=PostProgress.status.type),
        updated_at=now,
        completed_at=bindparam("completed_at", type_=PostProgress.completed_at.type),
        started_at=now,
    )
    if completed:
        earliest = case(
            (PostProgress.started_at.is_(None), now),
            (PostProgress.started_at > now, now),
            else_=PostProgress.started_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[PostProgress.user_id, PostProgress.post_id],
            set_={
                "status": COMPLETED,
                "updated_at": now,
                "completed_at": now,
                "started_at": earliest,
            },
            where=PostProgress.status != COMPLETED,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[PostProgress.user_id, PostProgress.post_id]
        )
    return stmt.returning(*PROGRESS_COLUMNS)


_ADVANCE = {
    (dialect.__name__.rsplit(".", 1)[-1], completed): _advance_statement(dialect, completed)
    for dialect in (postgresql, sqlite)
    for completed in (False, True)
}
_PROGRESS_KEYS = tuple(str(column.key) for column in PROGRESS_COLUMNS)


async def advance(
    session: AsyncSession, *, user_id: int, post_id: int, status: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """Move the user's status on the post forward to `status` (never back), in one
    statement that holds also under concurrent writers (`INSERT ... ON CONFLICT`).
    `completed_at` is set once; `started_at` is the earliest `now` that moved the post (an
    offline event may be older than the one that started it). Returns the row written, or
    None when nothing changed. The caller commits."""
    now = now or utcnow()
    completed = status == COMPLETED
    stmt = _ADVANCE[session.get_bind().dialect.name, completed]
    params = {
        "user_id": user_id,
        "post_id": post_id,
        "status": status,
        "now": now,
        "completed_at": now if completed else None,
    }
    row = (await execute_core(session, stmt, params)).first()
    return None if row is None else dict(zip(_PROGRESS_KEYS, row, strict=True))


def _as_read(post: CallerPost) -> dict[str, Any]:
    return {
        "post_id": post.id,
        "status": post.status,
        "updated_at": post.updated_at,
        "started_at": post.started_at,
        "completed_at": post.completed_at,
    }


# `lock_post`'s statements on PostgreSQL, built once.
_SHARE_MODULE = (
    select(Module.id)
    .where(Module.id == bindparam("module_id", type_=BigInteger))
    .with_for_update(read=True)
)
_POST_MODULE = select(Post.module_id).where(Post.id == bindparam("post_id", type_=BigInteger))


async def lock_post(session: AsyncSession, *, post_id: int, module_id: int) -> None:
    """Take the lock a progress write needs before it writes (see the module docstring): the
    post's module FOR SHARE (on SQLite the database's write lock), then the post re-read
    under it. NotFound when the post is gone (deleted with its module or alone, also by a
    delete that held the lock first); a post moved meanwhile: its new module instead."""
    for _ in range(10):
        if session.get_bind().dialect.name == "sqlite":
            held = await lock_parent(session, Module, module_id)
        else:
            found = await execute_core(session, _SHARE_MODULE, {"module_id": module_id})
            held = found.first() is not None
        now_in = (
            (await execute_core(session, _POST_MODULE, {"post_id": post_id})).scalar()
            if held
            else None
        )
        if now_in is None:
            await session.rollback()
            raise NotFound(f"Post {post_id} not found")
        if now_in == module_id:
            return
        await session.rollback()  # moved meanwhile: lock its new module instead
        module_id = now_in
    raise Conflict("The post is being moved by other requests; try again")


async def _user_exists(session: AsyncSession, user_id: int) -> bool:
    return await session.scalar(select(User.id).where(User.id == user_id)) is not None


async def update_progress(
    session: AsyncSession, *, user_id: int, post: CallerPost, status: str
) -> dict[str, Any]:
    """PUT /api/progress/{post_id}: move forward, or answer the state unchanged. A quiz
    becomes completed only through a passing attempt (400 when asked by hand). A post
    deleted meanwhile is 404, as when the delete came first."""
    if post.status == COMPLETED or (post.status == IN_PROGRESS and status == IN_PROGRESS):
        return _as_read(post)  # already there or further: unchanged
    if status == COMPLETED and post.post_type == PostType.QUIZ:
        raise Conflict("A quiz is completed only by passing it")
    for _ in range(3):
        await lock_post(session, post_id=post.id, module_id=post.module_id)
        try:
            row = await advance(session, user_id=user_id, post_id=post.id, status=status)
            if row is not None:
                await record_progress(session, user_id=user_id, written=[(post.module_id, row)])
            await session.commit()
        except IntegrityError:
            # A row the write refers to went meanwhile: the caller (their account deleted),
            # or a course whose counter the write adds to (the next try no longer sees it).
            # The post itself cannot go while its module is locked; lock_post says if it did.
            await session.rollback()
            if not await _user_exists(session, user_id):
                raise Unauthorized("Could not validate credentials") from None
            continue
        break
    else:
        raise Conflict("The post's courses are being changed by other requests; try again")
    if row is None:  # a concurrent request got there first: report what is stored
        stored = await session.execute(
            select(*PROGRESS_COLUMNS).where(
                PostProgress.user_id == user_id, PostProgress.post_id == post.id
            )
        )
        return dict(stored.mappings().one())
    return row


# --- a user's courses --------------------------------------------------------------------
# The read statements are built once, at import, on bound parameters: per request nothing is
# built and SQLAlchemy finds the compiled form in its cache.

_USER_ID = bindparam("user_id", type_=BigInteger)
_GROUP_ID = bindparam("group_id", type_=BigInteger)
_DONE = PostProgress.status == COMPLETED

# One row per (course assigned to the user's groups, module of that course), a course
# without modules as one row with a null module: the module's posts, the user's completed
# posts among them, and the latest change of the user's progress on them.
_COURSE_ROWS = driver_safe(
    select(
        Course.id.label("course_id"),
        Course.title,
        CourseModule.module_id,
        Module.title.label("module_title"),
        func.count(Post.id).label("total"),
        func.count(case((_DONE, PostProgress.post_id))).label("completed"),
        func.max(PostProgress.updated_at).label("last"),
    )
    .outerjoin(CourseModule, CourseModule.course_id == Course.id)
    .outerjoin(Module, Module.id == CourseModule.module_id)
    .outerjoin(Post, Post.module_id == CourseModule.module_id)
    .outerjoin(
        PostProgress, and_(PostProgress.post_id == Post.id, PostProgress.user_id == _USER_ID)
    )
    .where(
        Course.id.in_(
            select(GroupCourse.course_id)
            .join(GroupMember, GroupMember.group_id == GroupCourse.group_id)
            .where(GroupMember.user_id == _USER_ID)
        )
    )
    .group_by(Course.id, CourseModule.module_id, CourseModule.ordering, Module.title)
    .order_by(Course.created_at, Course.id, CourseModule.ordering, CourseModule.module_id)
)


def _courses_from_rows(rows: Sequence[NamedRow]) -> list[dict[str, Any]]:
    courses: list[dict[str, Any]] = []
    course: dict[str, Any] = {"course_id": None}
    for row in rows:
        if row["course_id"] != course["course_id"]:  # rows come grouped by course
            course = {
                "course_id": row["course_id"],
                "title": row["title"],
                "total_posts": 0,
                "completed_posts": 0,
                "percent": 0,
                "last_activity_at": None,
                "modules": [],
            }
            courses.append(course)
        if row["module_id"] is None:
            continue
        total, completed, last = row["total"], row["completed"], row["last"]
        course["modules"].append(
            {
                "module_id": row["module_id"],
                "title": row["module_title"],
                "total_posts": total,
                "completed_posts": completed,
            }
        )
        course["total_posts"] += total
        course["completed_posts"] += completed
        if last is not None and (
            course["last_activity_at"] is None or last > course["last_activity_at"]
        ):
            course["last_activity_at"] = last
    for course in courses:
        course["percent"] = percent(course["completed_posts"], course["total_posts"])
    return courses


async def user_course_progress(session: AsyncSession, *, user_id: int) -> list[dict[str, Any]]:
    """The user's progress in each course assigned to their groups (each course once),
    oldest course first, its modules in the course's `ordering`: one statement. Dicts
    shaped like `CourseProgress`."""
    return _courses_from_rows(await hot_rows(session, _COURSE_ROWS, user_id=user_id))


# --- a group's members -------------------------------------------------------------------

_GroupCourse = aliased(GroupCourse)

# Posts per course of the group: one pass over the group's courses' links and posts.
_COURSE_TOTALS = (
    select(CourseModule.course_id, func.count(Post.id).label("total"))
    .join(Post, Post.module_id == CourseModule.module_id)
    .join(_GroupCourse, _GroupCourse.course_id == CourseModule.course_id)
    .where(_GroupCourse.group_id == _GROUP_ID)
    .group_by(CourseModule.course_id)
    .subquery()
)

# Every member (in joining order) times every course of the group (in assignment order),
# with the course's title and posts and the member's completed posts in it (the counter
# `course_progress`, kept by triggers: one row per member and course, not per module): one
# row per pair, one row of nulls for a group with neither, members with a null course for
# a group without courses, courses with a null member for a group without members.
_GROUP_PROGRESS = driver_safe(
    select(
        GroupMember.user_id,
        User.username,
        GroupCourse.course_id,
        Course.title,
        _COURSE_TOTALS.c.total.label("total"),
        CourseProgress.completed,
    )
    .select_from(Group)
    .outerjoin(GroupMember, GroupMember.group_id == Group.id)
    .outerjoin(User, User.id == GroupMember.user_id)
    .outerjoin(GroupCourse, GroupCourse.group_id == Group.id)
    .outerjoin(Course, Course.id == GroupCourse.course_id)
    .outerjoin(_COURSE_TOTALS, _COURSE_TOTALS.c.course_id == GroupCourse.course_id)
    .outerjoin(
        CourseProgress,
        and_(
            CourseProgress.user_id == GroupMember.user_id,
            CourseProgress.course_id == GroupCourse.course_id,
        ),
    )
    .where(Group.id == _GROUP_ID)
    .order_by(
        GroupMember.joined_at,
        GroupMember.user_id,
        GroupCourse.ordering,
        GroupCourse.date_assigned,
        GroupCourse.course_id,
    )
)


# For a manager, one more column: whether they own or moderate the group (the same value on
# every row; it does not depend on the row, so the database evaluates it once).
_GROUP_PROGRESS_FOR_MANAGER = driver_safe(
    _GROUP_PROGRESS.add_columns(
        privacy.manages_group(bindparam("viewer_id", type_=BigInteger), _GROUP_ID).label("manages")
    )
)


async def group_progress(session: AsyncSession, *, group_id: int, viewer: Caller) -> dict[str, Any]:
    """Every member of the group (any group role, in joining order) times the group's
    courses (in assignment order): completed and total posts and the percentage. One
    statement whatever the size. A dict in the keys, order and types of `GroupProgress`.
    NotFound for an unknown group; Forbidden for a manager who neither owns nor moderates
    it (decided in the same statement, on the memberships as they are now)."""
    if privacy.is_admin(viewer):
        found = await hot_rows(session, _GROUP_PROGRESS, group_id=group_id)
    else:
        found = await hot_rows(
            session, _GROUP_PROGRESS_FOR_MANAGER, group_id=group_id, viewer_id=viewer.id
        )
        if found and not (privacy.is_manager(viewer) and found[0]["manages"]):
            raise Forbidden(privacy.NOT_YOUR_GROUP)
    if not found:
        raise NotFound(f"Group {group_id} not found")
    first_member = found[0]["user_id"]
    courses: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    current = None
    for row in found:
        user_id, course_id = row["user_id"], row["course_id"]
        if user_id == first_member and course_id is not None:  # every member has them all
            courses.append({"course_id": course_id, "title": row["title"]})
        if user_id is None:  # a group without members: its courses only
            continue
        if user_id != current:  # rows come grouped by member
            current, done = user_id, []
            members.append({"user_id": user_id, "username": row["username"], "courses": done})
        if course_id is not None:
            completed, total = row["completed"] or 0, row["total"] or 0
            done.append(
                {
                    "course_id": course_id,
                    "completed_posts": completed,
                    "total_posts": total,
                    "percent": percent(completed, total),
                }
            )
    return {"group_id": group_id, "courses": courses, "members": members}
