"""When a module opens for a `user`: the one availability rule (issues 23 and 24), shared by
the course detail and outline, the module, post, quiz and attempt checks, the bundle and
the notifications' "module_available" pass.

The rule, for a `user` U and a module M linked into a course C (the link holds
`release_after_days` and M's `ordering` in C):

- **scheduled** while today (UTC) is before `start + release_after_days`, `start` being
  the earliest `start_date` of C's assignments to U's groups: M opens at 00:00 UTC of that
  day (`available_at`);
- else **locked** when C is `sequential` and some post of the module just before M in C
  is not completed by U (`reason` names that module);
- else **open**.

Staff (managers, admins) always see `open`. A module is open to U when it is open in at
least one of U's courses; a `user`'s module detail, its posts, its quizzes and their
attempts are 403 otherwise, with the reason (`module_access`).

The rule is written once, as two SQL fragments per (link, user): `opens_on` (the release
day) and `locked_by` (the title of the unfinished module before, or NULL), and one
decision on them, `state` (in Python, on rows) and `open_condition` (the same in SQL, for
an EXISTS; `open_from` when the read already holds the course's start and flag). Reads
add the fragments as columns of the statement they already run, so the number of
statements stays the same; only a refusal (403) reads the reason with one more.

For other packages:
- `module_access(session, module_id=, user_id=, now=)`: whether M is open to U at `now`,
  else when it opens or what locks it.
- `opened_between(session, after=, until=, user_ids=)`: every (user, module) that opened in
  `(after, until]` (its release came, or in a sequential course the module before was
  finished) and is open to the user at `until`: the notifications' `module_available`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    ScalarSelect,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from tma.core.db import ID, UTCDateTime
from tma.core.errors import Forbidden
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.courses.visibility import course_visible_to
from tma.groups.models import GroupMember
from tma.posts.models import Post, post_count_of
from tma.progress.models import ModuleProgress, PostProgress
from tma.users.models import Role, SystemRole, User


class State(StrEnum):
    OPEN = "open"
    SCHEDULED = "scheduled"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Availability:
    """`{state, available_at, reason}` of an outline item (`AvailabilityRead`)."""

    state: State
    available_at: datetime | None  # when the schedule opens (opened) it; None for staff
    reason: str | None  # why it is not open; None when open

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "available_at": self.available_at, "reason": self.reason}


OPEN = Availability(State.OPEN, None, None)  # what staff see
OPEN_BODY = OPEN.as_dict()  # its body, shared by every staff item: never mutate it


class _days_after(FunctionElement[date]):
    """`day + days` (a DATE plus a number of days) as each database writes it."""

    type = Date()
    inherit_cache = True


@compiles(_days_after, "postgresql")
def _days_after_postgresql(element: _days_after, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({day} + {days})"


@compiles(_days_after)
def _days_after_sqlite(element: _days_after, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps a DATE as 'YYYY-MM-DD' text; date() answers in the same form.
    day, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({day}, '+' || ({days}) || ' days')"


def start_of(course_id: Any, user_id: Any) -> ScalarSelect[date]:
    """The course's start for the user: the earliest `start_date` of its assignments to the
    user's groups (NULL when none of them has it)."""
    assignment = aliased(GroupCourse)
    member = aliased(GroupMember)
    return (
        select(func.min(assignment.start_date))
        .where(
            assignment.course_id == course_id,
            member.group_id == assignment.group_id,
            member.user_id == user_id,
        )
        # Everything else comes from the enclosing statement, however deep this one sits.
        .correlate_except(assignment, member)
        .scalar_subquery()
    )


def opens_on(link: Any, user_id: Any) -> ColumnElement[date]:
    """The day (UTC) the linked module opens for the user by the release schedule."""
    return _days_after(start_of(link.course_id, user_id), link.release_after_days)


def locked_by(link: Any, user_id: Any) -> ScalarSelect[str]:
    """The title of the module before this one in a sequential course while the user has
    not completed all its posts; NULL otherwise (not sequential, first, or finished)."""
    before = aliased(CourseModule)
    module = aliased(Module)
    course = aliased(Course)
    done = (
        select(ModuleProgress.completed)
        .where(ModuleProgress.user_id == user_id, ModuleProgress.module_id == before.module_id)
        .correlate_except(ModuleProgress)
    )
    return (
        select(module.title)
        .join(before, before.module_id == module.id)
        .join(course, course.id == before.course_id)
        .where(
            before.course_id == link.course_id,
            before.ordering == link.ordering - 1,
            course.sequential,
            func.coalesce(done.scalar_subquery(), 0) < post_count_of(module.id),
        )
        .correlate_except(module, before, course)
        .scalar_subquery()
    )


def open_condition(link: Any, user_id: Any, today: Any) -> ColumnElement[bool]:
    """`state(...) == open` in SQL: released by `today` and not locked."""
    return and_(opens_on(link, user_id) <= today, locked_by(link, user_id).is_(None))


def open_from(
    link: Any, start: Any, sequential: Any, user_id: Any, today: Any
) -> ColumnElement[bool]:
    """`open_condition` for a read that already holds, per link, the course's start for the
    user (`start_of`'s value, e.g. grouped once with the user's assignments) and the course's
    `sequential` flag: the same rule without a start subquery per link, and the lock looked
    for only in a sequential course (`locked_by` is NULL in any other)."""
    released = _days_after(start, link.release_after_days) <= today
    return and_(released, or_(~sequential, locked_by(link, user_id).is_(None)))


def module_open_to(module_id: Any, user_id: Any, today: Any) -> ColumnElement[bool]:
    """True when the module is open to the user in at least one course they see."""
    link = aliased(CourseModule)
    return exists().where(
        link.module_id == module_id,
        course_visible_to(link.course_id, user_id),
        open_condition(link, user_id, today),
    )


def today_of(now: datetime) -> date:
    """The UTC day of `now`: a module opens at 00:00 UTC."""
    return now.astimezone(UTC).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def state(release: date | None, blocker: str | None, today: date) -> Availability:
    """The availability of one link for a user from its `opens_on` and `locked_by` values
    (the SQL fragments above, read as columns)."""
    available_at = None if release is None else midnight(release)
    if release is not None and release > today:
        return Availability(State.SCHEDULED, available_at, f"Opens at {_iso(midnight(release))}")
    if blocker is not None:
        return Availability(State.LOCKED, available_at, f'Complete "{blocker}" first')
    return Availability(State.OPEN, available_at, None)


def availability_columns(link: Any, user_id: Any) -> tuple[ColumnElement[Any], ...]:
    """The two columns a read adds to an outline row for a `user` (`of_row` reads them)."""
    return (
        opens_on(link, user_id).label("opens_on"),
        locked_by(link, user_id).label("locked_by"),
    )


def of_row(row: Any, today: date | None) -> dict[str, Any]:
    """An outline row's `availability` body: `today` None for staff (always open), else
    decided on the row's `opens_on` and `locked_by` columns."""
    if today is None:
        return OPEN_BODY
    return state(row["opens_on"], row["locked_by"], today).as_dict()


def _best(found: list[Availability]) -> Availability:
    """The one answer over a module's courses: open if it is open in any; else a lock (the
    user can act on it) before a schedule; the earliest schedule first."""
    for wanted in (State.OPEN, State.LOCKED):
        for item in found:
            if item.state is wanted:
                return item
    scheduled = [item for item in found if item.available_at is not None]
    return min(scheduled, key=lambda item: item.available_at or midnight(date.max))


_link = aliased(CourseModule)
_ACCESS = (
    select(_link.course_id, *availability_columns(_link, bindparam("user_id", type_=ID)))
    .where(
        _link.module_id == bindparam("module_id", type_=ID),
        course_visible_to(_link.course_id, bindparam("user_id", type_=ID)),
    )
    .order_by(_link.course_id)
)


async def module_access(
    session: AsyncSession, *, module_id: int, user_id: int, now: datetime
) -> Availability | None:
    """The module's availability for a `user` at `now` over the courses they see it in
    (open in any: open; else the lock, else the earliest schedule); None when they see
    it in no course. One statement."""
    today = today_of(now)
    rows = (await session.execute(_ACCESS, {"module_id": module_id, "user_id": user_id})).mappings()
    found = [state(row["opens_on"], row["locked_by"], today) for row in rows]
    return _best(found) if found else None


NOT_OPEN = "This module is not open yet"


async def refusal(
    session: AsyncSession, *, module_id: int, user_id: int, now: datetime
) -> Forbidden:
    """The 403 for a `user`'s read of a module that a read's `module_open_to` column found
    not open: its detail is the reason (when it opens, or which module to finish first).
    One statement, on the refusing path only."""
    found = await module_access(session, module_id=module_id, user_id=user_id, now=now)
    reason = found.reason if found is not None else None
    return Forbidden(reason or NOT_OPEN)


def _learner(user: Any) -> Any:
    return exists(
        select(User.id)
        .join(Role, Role.id == User.role_id)
        .where(User.id == user, Role.name == SystemRole.USER.value)
    )


def _scheduled() -> Any:  # pragma: no mutate block  (built once, at import)
    """The pairs whose release day is in `(after, until]` (days), open at `until`."""
    link = aliased(CourseModule)
    other = aliased(CourseModule)
    member = aliased(GroupMember)
    assignment = aliased(GroupCourse)
    user = member.user_id
    after = bindparam("after", type_=Date)
    until = bindparam("until", type_=Date)
    release = opens_on(link, user)
    earlier = exists().where(
        other.module_id == link.module_id,
        course_visible_to(other.course_id, user),
        opens_on(other, user) <= after,
    )
    return (
        select(user.label("user_id"), link.module_id, link.course_id, release.label("opens_on"))
        .distinct()
        .select_from(member)
        .join(assignment, assignment.group_id == member.group_id)
        .join(link, link.course_id == assignment.course_id)
        .where(
            _learner(user),
            release > after,
            release <= until,
            ~earlier,
            module_open_to(link.module_id, user, until),
        )
    )


def _unlocked() -> Any:  # pragma: no mutate block  (built once, at import)
    """The pairs of a sequential course whose module before was finished by the user in
    `(after_at, until_at]` (instants: its last post completed then), open at `until`."""
    link = aliased(CourseModule)
    before = aliased(CourseModule)
    course = aliased(Course)
    member = aliased(GroupMember)
    assignment = aliased(GroupCourse)
    post = aliased(Post)
    user = member.user_id
    finished = (
        select(func.max(PostProgress.completed_at))
        .join(post, post.id == PostProgress.post_id)
        .where(PostProgress.user_id == user, post.module_id == before.module_id)
        .correlate_except(PostProgress, post)
        .scalar_subquery()
    )
    return (
        select(
            user.label("user_id"),
            link.module_id,
            link.course_id,
            opens_on(link, user).label("opens_on"),
            finished.label("finished_at"),
        )
        .distinct()
        .select_from(member)
        .join(assignment, assignment.group_id == member.group_id)
        .join(course, and_(course.id == assignment.course_id, course.sequential))
        .join(link, link.course_id == course.id)
        .join(
            before, and_(before.course_id == link.course_id, before.ordering == link.ordering - 1)
        )
        .where(
            _learner(user),
            finished > bindparam("after_at", type_=UTCDateTime()),
            finished <= bindparam("until_at", type_=UTCDateTime()),
            module_open_to(link.module_id, user, bindparam("until", type_=Date)),
        )
    )


_USERS: Any = bindparam("user_ids", expanding=True)
_SCHEDULED = _scheduled()
_SCHEDULED_OF = _SCHEDULED.where(_SCHEDULED.selected_columns.user_id.in_(_USERS))
_UNLOCKED = _unlocked()
_UNLOCKED_OF = _UNLOCKED.where(_UNLOCKED.selected_columns.user_id.in_(_USERS))


@dataclass(frozen=True, slots=True)
class Opened:
    """A module that opened for a user: when (00:00 UTC of its release day, or the moment
    the user finished the module before it in a sequential course) and in which course (the
    lowest id among those that opened it then)."""

    user_id: int
    module_id: int
    course_id: int
    opened_at: datetime


async def opened_between(
    session: AsyncSession,
    *,
    after: datetime,
    until: datetime,
    user_ids: Sequence[int] | None = None,
) -> list[Opened]:
    """Every (user, module) that opened in `(after, until]` and is open to the user at
    `until`: the module's first release over the user's courses falls in it (days, UTC),
    or, in a sequential course, the user finished the module before it then (a module
    released but still locked is left out until that moment). Users with the system role
    `user` only; `user_ids` narrows them. Two statements; the pairs ordered by user, then
    module, each once (its earliest opening, then the lowest course id)."""
    days = {"after": today_of(after), "until": today_of(until)}
    narrowed = {} if user_ids is None else {"user_ids": list(user_ids)}
    scheduled = _SCHEDULED if user_ids is None else _SCHEDULED_OF
    unlocked = _UNLOCKED if user_ids is None else _UNLOCKED_OF
    found: list[tuple[int, int, datetime, int]] = []
    for row in (await session.execute(scheduled, {**days, **narrowed})).mappings():
        found.append(
            (row["user_id"], row["module_id"], midnight(row["opens_on"]), row["course_id"])
        )
    moments = {"after_at": after, "until_at": until, "until": days["until"]}
    for row in (await session.execute(unlocked, {**moments, **narrowed})).mappings():
        release = row["opens_on"]
        # Released after the module before was finished: the release opened it (above).
        if release is None or midnight(release) <= row["finished_at"]:
            found.append((row["user_id"], row["module_id"], row["finished_at"], row["course_id"]))
    pairs: dict[tuple[int, int], Opened] = {}
    for user_id, module_id, opened_at, course_id in sorted(found):
        pairs.setdefault((user_id, module_id), Opened(user_id, module_id, course_id, opened_at))
    return list(pairs.values())
