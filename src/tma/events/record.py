"""Recording learning events, in the transaction of the change that causes them.

The writers (progress, offline sync, quiz start and close) call `record` after their own
write and before their commit, so an event exists exactly when its change does: a rolled
back change takes its events (and, by the outbox trigger, their webhook deliveries) with
it. Each event has a key per user (`<type>:<subject id>`, unique): recorded with
`ON CONFLICT DO NOTHING`, it is recorded once whoever detects it, and a second writer of
the same fact (two requests completing the same post) waits on the first's key and then
records nothing.

Module and course completion are derived from the counters the database keeps
(`module_progress`, `course_progress`, docs/architecture.md) in one `INSERT ... SELECT`
after the completing write: the trigger that counted this transaction's completion holds
the counter row's lock until the commit, so of two transactions completing the last two
posts of a module the second waits for the first and reads the counter the first left
plus its own; the one whose write brings the counter to the number of posts is the one
that sees it, and a completion rolled back leaves the counter as it was for the next.
What a counter is compared with (the module's posts, the course's posts) cannot change
meanwhile: adding, moving or deleting a post takes the module's lock FOR UPDATE, which
waits for the progress write's FOR SHARE (tma.progress.service). A module or course is
completed once per user: content added later and completed too records nothing more.

Statements: one INSERT of the direct events (an executemany, sent once), and one
INSERT ... SELECT of the completions when the write completed a post. The outbox costs
none (a trigger).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tma.core.db import ID, UTCDateTime, utcnow
from tma.core.reads import execute_core
from tma.courses.models import CourseModule
from tma.events.models import EventType, LearningEvent
from tma.posts.models import Post
from tma.progress.models import CourseProgress, ModuleProgress, PostProgress

COMPLETED = "completed"

_SUBJECT = {
    EventType.POST_STARTED: "post_id",
    EventType.POST_COMPLETED: "post_id",
    EventType.ATTEMPT_STARTED: "attempt_id",
    EventType.ATTEMPT_SUBMITTED: "attempt_id",
    EventType.MODULE_COMPLETED: "module_id",
    EventType.COURSE_COMPLETED: "course_id",
}


def event(
    kind: EventType,
    *,
    user_id: int,
    at: datetime,
    post_id: int | None = None,
    module_id: int | None = None,
    attempt_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One event to record (a row of `learning_events` without its id)."""
    row: dict[str, Any] = {
        "type": kind.value,
        "user_id": user_id,
        "occurred_at": at,
        "course_id": None,
        "module_id": module_id,
        "post_id": post_id,
        "attempt_id": attempt_id,
        "data": data,
    }
    row["key"] = f"{kind.value}:{row[_SUBJECT[kind]]}"
    return row


def progress_events(
    user_id: int, written: Iterable[tuple[int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The events of progress rows just written, each `(module_id, row)` with the row's
    `post_id`, `status`, `started_at`, `completed_at`: `post_started` at its start (the
    key keeps a post already started from recording it again), and `post_completed` at
    its completion."""
    events = []
    for module_id, row in written:
        ids = {"user_id": user_id, "post_id": row["post_id"], "module_id": module_id}
        events.append(event(EventType.POST_STARTED, at=row["started_at"], **ids))
        if row["status"] == COMPLETED:
            events.append(event(EventType.POST_COMPLETED, at=row["completed_at"], **ids))
    return events


# --- completions ---------------------------------------------------------------------------

_USER = bindparam("user_id", type_=BigInteger)
_MODULES = bindparam("module_ids", expanding=True, type_=BigInteger)
_NOW = bindparam("now", type_=UTCDateTime())

_p = aliased(Post)
_pp = aliased(PostProgress)
_link = aliased(CourseModule)


def _key(kind: EventType, subject: Any) -> Any:
    return literal_column(f"'{kind.value}:'").concat(cast(subject, String))


def _latest_completion(*where: Any) -> Any:
    """When the user's last completion among the posts `where` selects happened."""
    return (
        select(func.max(_pp.completed_at))
        .join(_p, _p.id == _pp.post_id)
        .where(_pp.user_id == _USER, _pp.status == COMPLETED, *where)
        .scalar_subquery()
    )


_MODULES_DONE = select(
    literal(EventType.MODULE_COMPLETED.value).label("type"),
    ModuleProgress.user_id,
    _key(EventType.MODULE_COMPLETED, ModuleProgress.module_id).label("key"),
    _latest_completion(_p.module_id == ModuleProgress.module_id).label("occurred_at"),
    cast(null(), ID).label("course_id"),
    ModuleProgress.module_id,
    _NOW.label("recorded_at"),
).where(
    ModuleProgress.user_id == _USER,
    ModuleProgress.module_id.in_(_MODULES),
    ModuleProgress.completed
    >= select(func.count(Post.id))
    .where(Post.module_id == ModuleProgress.module_id)
    .scalar_subquery(),
)
_COURSES_DONE = select(
    literal(EventType.COURSE_COMPLETED.value).label("type"),
    CourseProgress.user_id,
    _key(EventType.COURSE_COMPLETED, CourseProgress.course_id).label("key"),
    _latest_completion(
        _p.module_id.in_(select(_link.module_id).where(_link.course_id == CourseProgress.course_id))
    ).label("occurred_at"),
    CourseProgress.course_id,
    cast(null(), ID).label("module_id"),
    _NOW.label("recorded_at"),
).where(
    CourseProgress.user_id == _USER,
    CourseProgress.course_id.in_(
        select(CourseModule.course_id).where(CourseModule.module_id.in_(_MODULES))
    ),
    CourseProgress.completed
    >= select(func.count(Post.id))
    .join(
        _link, and_(_link.module_id == Post.module_id, _link.course_id == CourseProgress.course_id)
    )
    .scalar_subquery(),
)
_DONE = union_all(_MODULES_DONE, _COURSES_DONE).subquery("done")
_COLUMNS = ("type", "user_id", "key", "occurred_at", "course_id", "module_id", "recorded_at")


# Built once per dialect at import (`_INSERTS`): not mutated (tests/README.md "Mutation
# testing"); every event written runs them.
def _inserts(dialect: Any) -> tuple[Any, Any]:  # pragma: no mutate block
    """The two statements of `record` for one dialect (`postgresql` or `sqlite`): the
    direct events (one row of bound parameters, run once per event in one executemany) and
    the completions (`INSERT ... SELECT`), each once per `(user_id, key)`."""
    table = LearningEvent.__table__
    events = dialect.insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in _EVENT_COLUMNS}
    )
    # SQLite parses `INSERT ... SELECT ... ON CONFLICT` only with a WHERE on the SELECT.
    source = select(*(_DONE.c[name] for name in _COLUMNS)).where(_DONE.c.user_id == _USER)
    completions = dialect.insert(table).from_select(list(_COLUMNS), source)
    return (
        events.on_conflict_do_nothing(index_elements=["user_id", "key"]),
        completions.on_conflict_do_nothing(index_elements=["user_id", "key"]),
    )


_EVENT_COLUMNS = (
    "type",
    "user_id",
    "key",
    "occurred_at",
    "course_id",
    "module_id",
    "post_id",
    "attempt_id",
    "data",
    "recorded_at",
)
# Core statements of the table, run on the session's connection (`execute_core`): the
# ORM would take them for a bulk insert, and a statement built per call would have its
# cache key computed, and a multi-row VALUES its SQL compiled, on every call.
_INSERTS = {"postgresql": _inserts(postgresql), "sqlite": _inserts(sqlite)}


async def record(
    session: AsyncSession,
    events: Sequence[dict[str, Any]],
    *,
    completed_in: tuple[int, Sequence[int]] | None = None,
) -> None:
    """Record `events` (from `event`, `progress_events`) once each, and with
    `completed_in=(user_id, module_ids)` (a write that completed posts of those modules)
    the modules and courses of theirs the user has now completed. The caller commits."""
    now = utcnow()
    insert_events, insert_completions = _INSERTS[session.get_bind().dialect.name]
    if events:
        await execute_core(session, insert_events, [{**row, "recorded_at": now} for row in events])
    if completed_in is not None and completed_in[1]:
        user_id, module_ids = completed_in
        await execute_core(
            session,
            insert_completions,
            {"user_id": user_id, "module_ids": sorted(set(module_ids)), "now": now},
        )


async def record_progress(
    session: AsyncSession,
    *,
    user_id: int,
    written: Sequence[tuple[int, dict[str, Any]]],
    extra: Sequence[dict[str, Any]] = (),
) -> None:
    """`record` for progress rows just written (`progress_events`), with `extra` events
    before them, and the completions they may have brought."""
    done = [module_id for module_id, row in written if row["status"] == COMPLETED]
    await record(
        session,
        [*extra, *progress_events(user_id, written)],
        completed_in=(user_id, done) if done else None,
    )


async def record_attempt_started(
    session: AsyncSession, *, attempt: dict[str, Any], module_id: int
) -> None:
    """A quiz attempt started (its post put in progress): `attempt_started`, and
    `post_started` unless the post was started before."""
    ids = {"user_id": attempt["user_id"], "post_id": attempt["post_id"], "module_id": module_id}
    at = attempt["started_at"]
    await record(
        session,
        [
            event(EventType.ATTEMPT_STARTED, at=at, attempt_id=attempt["id"], **ids),
            event(EventType.POST_STARTED, at=at, **ids),
        ],
    )


async def record_attempt_submitted(
    session: AsyncSession, *, attempt: Any, values: dict[str, Any]
) -> None:
    """A quiz attempt closed (submitted or timed out) with `values` (`score`, `passed`,
    `timed_out`, `submitted_at`): `attempt_submitted`; on a pass its post is completed,
    and with it maybe its module and courses."""
    user_id, module_id = attempt["user_id"], attempt["module_id"]
    at = values["submitted_at"]
    ids = {"user_id": user_id, "post_id": attempt["post_id"], "module_id": module_id}
    data = {key: values[key] for key in ("score", "passed", "timed_out")}
    events = [event(EventType.ATTEMPT_SUBMITTED, at=at, attempt_id=attempt["id"], data=data, **ids)]
    if values["passed"]:
        events.append(event(EventType.POST_STARTED, at=at, **ids))
        events.append(event(EventType.POST_COMPLETED, at=at, **ids))
    await record(session, events, completed_in=(user_id, [module_id]) if values["passed"] else None)
