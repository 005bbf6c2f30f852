"""`tma doctor`: every derived counter recomputed from the rows it counts, and repaired.

The schema's derived counters are the progress counters kept by triggers (migrations
0005-0007): `module_progress` (a user's completed posts per module) and `course_progress`
(per course: a module linked to two courses counts in both). Everything else that looks
derived is computed on read (`Course.module_count`, `Group.member_count`, the posts a course
holds). A stored counter of 0 and no row mean the same (the triggers never delete a row).

Checking reads one snapshot (PostgreSQL: REPEATABLE READ; SQLite: its write lock, as it
has no other way to hold one across statements). Repairing locks the counted tables against
writers (readers go on), fixes `module_progress` first (its triggers carry each change to
`course_progress`), then sets `course_progress` to its recount, checks again and commits:
one transaction.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tma.courses.models import CourseModule
from tma.posts.models import Post
from tma.progress.models import CourseProgress, ModuleProgress, PostProgress, ProgressStatus

COUNTED_TABLES = ("posts", "course_module_links", "post_progress")
COUNTER_TABLES = ("module_progress", "course_progress")

_DONE = PostProgress.status == ProgressStatus.COMPLETED.value

_MODULE_ACTUAL = (
    select(PostProgress.user_id, Post.module_id, func.count())
    .join(Post, Post.id == PostProgress.post_id)
    .where(_DONE)
    .group_by(PostProgress.user_id, Post.module_id)
)
_MODULE_STORED = select(ModuleProgress.user_id, ModuleProgress.module_id, ModuleProgress.completed)
_COURSE_ACTUAL = (
    select(PostProgress.user_id, CourseModule.course_id, func.count())
    .join(Post, Post.id == PostProgress.post_id)
    .join(CourseModule, CourseModule.module_id == Post.module_id)
    .where(_DONE)
    .group_by(PostProgress.user_id, CourseModule.course_id)
)
_COURSE_STORED = select(CourseProgress.user_id, CourseProgress.course_id, CourseProgress.completed)


@dataclass(frozen=True, order=True)
class Difference:
    """One counter whose stored value is not the count of its rows. `counter` is the table
    (`module_progress` or `course_progress`), `of` the module or course id."""

    counter: str
    user_id: int
    of: int
    stored: int
    actual: int
    row_exists: bool = True

    def __str__(self) -> str:
        what = "module" if self.counter == "module_progress" else "course"
        return (
            f"{self.counter}: user {self.user_id}, {what} {self.of}: "
            f"stored {self.stored}, actual {self.actual}"
        )


@dataclass(frozen=True)
class Report:
    """What a check found: the differences, and how many counters of each kind it compared
    (stored rows and recounted pairs together)."""

    differences: list[Difference]
    module_counters: int
    course_counters: int


async def _pairs(conn: AsyncConnection, stmt: Any) -> dict[tuple[int, int], int]:
    rows = (await conn.execute(stmt)).all()
    return {(int(user), int(of)): int(count) for user, of, count in rows}


def _compare(
    counter: str, stored: dict[tuple[int, int], int], actual: dict[tuple[int, int], int]
) -> tuple[list[Difference], int]:
    keys = stored.keys() | actual.keys()
    found = [
        Difference(
            counter=counter,
            user_id=user,
            of=of,
            stored=stored.get((user, of), 0),
            actual=actual.get((user, of), 0),
            row_exists=(user, of) in stored,
        )
        for user, of in keys
        if stored.get((user, of), 0) != actual.get((user, of), 0)
    ]
    return sorted(found), len(keys)


async def _module_differences(conn: AsyncConnection) -> tuple[list[Difference], int]:
    stored, actual = await _pairs(conn, _MODULE_STORED), await _pairs(conn, _MODULE_ACTUAL)
    return _compare("module_progress", stored, actual)


async def _course_differences(conn: AsyncConnection) -> tuple[list[Difference], int]:
    stored, actual = await _pairs(conn, _COURSE_STORED), await _pairs(conn, _COURSE_ACTUAL)
    return _compare("course_progress", stored, actual)


async def _check(conn: AsyncConnection) -> Report:
    modules, module_count = await _module_differences(conn)
    courses, course_count = await _course_differences(conn)
    return Report(modules + courses, module_count, course_count)


async def _write_lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        # SHARE: no writer of these tables until commit (the triggers write the counters
        # inside the writers' transactions), readers go on.
        tables = ", ".join(COUNTED_TABLES + COUNTER_TABLES)
        await conn.execute(text(f"LOCK TABLE {tables} IN SHARE MODE"))
    else:  # the database's write lock: a write statement that changes nothing
        keep = update(ModuleProgress).values(completed=ModuleProgress.completed)
        await conn.execute(keep.where(ModuleProgress.user_id == -1))


async def check(conn: AsyncConnection) -> Report:
    """Recount every counter in one snapshot; nothing is written. `conn` must not be in a
    transaction yet; it is rolled back at the end."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    else:
        await _write_lock(conn)
    try:
        return await _check(conn)
    finally:
        await conn.rollback()


async def _set(conn: AsyncConnection, found: Difference) -> None:
    """Write the recount `found.actual` into the counter `found` names."""
    model: Any = ModuleProgress if found.counter == "module_progress" else CourseProgress
    column = model.module_id if model is ModuleProgress else model.course_id
    if found.row_exists:
        where = (model.user_id == found.user_id) & (column == found.of)
        await conn.execute(update(model).where(where).values(completed=found.actual))
    else:
        values = {"user_id": found.user_id, column.key: found.of, "completed": found.actual}
        await conn.execute(insert(model).values(values))


async def repair(conn: AsyncConnection) -> tuple[Report, Report]:
    """Set every counter to its recount in one transaction; returns what was found before
    and the check after (clean unless something is wrong with the triggers themselves, in
    which case nothing is committed). `conn` must not be in a transaction yet."""
    await _write_lock(conn)
    try:
        before = await _check(conn)
        for found in before.differences:
            if found.counter == "module_progress":
                await _set(conn, found)
        # The module counters' triggers moved the course counters by the same amounts:
        # recount those now, and set what is still off.
        for found in (await _course_differences(conn))[0]:
            await _set(conn, found)
        after = await _check(conn)
        if after.differences:
            await conn.rollback()
        else:
            await conn.commit()
        return before, after
    except BaseException:
        await conn.rollback()
        raise
