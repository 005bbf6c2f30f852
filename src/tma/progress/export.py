"""A group's progress as CSV (companion spec §5): one row per parent and course, streamed.

Memory stays flat in the number of rows: the members are read `CHUNK_MEMBERS` at a time in
joining order (keyset: after the last `(joined_at, user_id)` sent, one statement per chunk
joining the chunk's members with the group's courses, their counters and latest activity),
each chunk written out as CSV before the next is read. Each chunk is read as the data is
when it runs (a member joining meanwhile after the last one sent is listed; one who left is
not). The access check runs before the first byte (`dashboard.check_group_readable`), so
its 403/404 are plain JSON answers.

Cells are safe to open in a spreadsheet (OWASP, "CSV Injection"): a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so it is never read
as a formula; the `csv` module quotes what needs quoting (commas, quotes, line breaks).
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.reads import rows
from tma.courses.models import Course, CourseModule, GroupCourse
from tma.groups.models import GroupMember
from tma.posts.models import Post
from tma.progress.dashboard import PARENT, latest
from tma.progress.models import CourseProgress, PostProgress
from tma.progress.service import percent
from tma.quizzes.models import QuizAttempt
from tma.users.models import Role, User

HEADER = ("username", "course", "completed_posts", "total_posts", "percent", "last_activity_at")
CHUNK_MEMBERS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Before any real joining time: the first chunk's "after" key.
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

_GROUP_ID = bindparam("group_id", type_=BigInteger)
_AFTER_JOINED = bindparam("after_joined", type_=GroupMember.joined_at.type)
_AFTER_ID = bindparam("after_id", type_=BigInteger)

_CHUNK = (
    select(GroupMember.user_id, GroupMember.joined_at, User.username)
    .join(User, User.id == GroupMember.user_id)
    .join(Role, Role.id == User.role_id)
    .where(
        GroupMember.group_id == _GROUP_ID,
        PARENT,
        or_(
            GroupMember.joined_at > _AFTER_JOINED,
            and_(GroupMember.joined_at == _AFTER_JOINED, GroupMember.user_id > _AFTER_ID),
        ),
    )
    .order_by(GroupMember.joined_at, GroupMember.user_id)
    .limit(bindparam("chunk", type_=BigInteger))
    .cte("chunk")
)
_CHUNK_IDS = select(_CHUNK.c.user_id)
_OF_GROUP = and_(GroupCourse.course_id == CourseModule.course_id, GroupCourse.group_id == _GROUP_ID)

_TOTALS = (
    select(CourseModule.course_id, func.count(Post.id).label("total"))
    .join(Post, Post.module_id == CourseModule.module_id)
    .join(GroupCourse, _OF_GROUP)
    .group_by(CourseModule.course_id)
    .subquery("totals")
)
_LAST_PROGRESS = (
    select(
        PostProgress.user_id,
        CourseModule.course_id,
        func.max(PostProgress.updated_at).label("last"),
    )
    .join(Post, Post.id == PostProgress.post_id)
    .join(CourseModule, CourseModule.module_id == Post.module_id)
    .join(GroupCourse, _OF_GROUP)
    .where(PostProgress.user_id.in_(_CHUNK_IDS))
    .group_by(PostProgress.user_id, CourseModule.course_id)
    .subquery("last_progress")
)
# Alike in shape with _LAST_PROGRESS above and tma.notifications.schedule's statements:
# each the latest time of its own table per parent and course.
_LAST_ATTEMPT = (
    select(
        QuizAttempt.user_id,
        CourseModule.course_id,
        func.max(func.coalesce(QuizAttempt.submitted_at, QuizAttempt.started_at)).label("last"),
    )
    .join(Post, Post.id == QuizAttempt.post_id)
    .join(CourseModule, CourseModule.module_id == Post.module_id)
    .join(GroupCourse, _OF_GROUP)
    .where(QuizAttempt.user_id.in_(_CHUNK_IDS))
    .group_by(QuizAttempt.user_id, CourseModule.course_id)
    .subquery("last_attempt")
)
_ROWS = (
    select(
        _CHUNK.c.user_id,
        _CHUNK.c.joined_at,
        _CHUNK.c.username,
        Course.title,
        _TOTALS.c.total,
        CourseProgress.completed,
        _LAST_PROGRESS.c.last.label("progress_at"),
        _LAST_ATTEMPT.c.last.label("attempt_at"),
    )
    .select_from(_CHUNK)
    .join(GroupCourse, GroupCourse.group_id == _GROUP_ID)
    .join(Course, Course.id == GroupCourse.course_id)
    .outerjoin(_TOTALS, _TOTALS.c.course_id == GroupCourse.course_id)
    .outerjoin(
        CourseProgress,
        and_(
            CourseProgress.user_id == _CHUNK.c.user_id,
            CourseProgress.course_id == GroupCourse.course_id,
        ),
    )
    .outerjoin(
        _LAST_PROGRESS,
        and_(
            _LAST_PROGRESS.c.user_id == _CHUNK.c.user_id,
            _LAST_PROGRESS.c.course_id == GroupCourse.course_id,
        ),
    )
    .outerjoin(
        _LAST_ATTEMPT,
        and_(
            _LAST_ATTEMPT.c.user_id == _CHUNK.c.user_id,
            _LAST_ATTEMPT.c.course_id == GroupCourse.course_id,
        ),
    )
    .order_by(
        _CHUNK.c.joined_at,
        _CHUNK.c.user_id,
        GroupCourse.ordering,
        GroupCourse.date_assigned,
        GroupCourse.course_id,
    )
)


def safe_cell(value: Any) -> str:
    """A cell's text, prefixed with `'` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iso(moment: datetime | None) -> str:
    """`2026-03-05T10:00:00Z` (the API's form of a UTC instant), empty for none."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def csv_text(lines: Iterable[Iterable[Any]]) -> str:
    """`lines` as CSV (RFC 4180: CRLF line ends, quoted where needed), every cell safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in line] for line in lines)
    return out.getvalue()


def _line(row: dict[str, Any]) -> tuple[Any, ...]:
    completed, total = row["completed"] or 0, row["total"] or 0
    last = latest(row["progress_at"], row["attempt_at"])
    return (row["username"], row["title"], completed, total, percent(completed, total), iso(last))


async def progress_csv(session: AsyncSession, *, group_id: int) -> AsyncIterator[bytes]:
    """The CSV, chunk by chunk (UTF-8): the header, then each parent of the group (joining
    order) times each course of the group (assignment order), `CHUNK_MEMBERS` parents per
    statement. The caller checked access."""
    yield csv_text([HEADER]).encode()
    after_joined, after_id = _BEGINNING, 0
    while True:
        found = await rows(
            session,
            _ROWS,
            group_id=group_id,
            after_joined=after_joined,
            after_id=after_id,
            chunk=CHUNK_MEMBERS,
        )
        if not found:
            return
        yield csv_text(_line(row) for row in found).encode()
        after_joined, after_id = found[-1]["joined_at"], found[-1]["user_id"]
