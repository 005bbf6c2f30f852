"""`POST /api/progress/sync`: progress recorded offline, applied in one request.

Each event is applied as `PUT /api/progress/{post_id}` would be (forward only, a quiz
completes only by a pass), in the order given, and remembered by its `event_id` (per user):
the same id again, in this batch or a later one, is a `duplicate` and does nothing. An event
whose post is unknown (`not_found`), not visible or in a module not open to the caller
(`forbidden`: tma.courses.availability, as the 403 of `PUT /api/progress/{post_id}`) is not
remembered, so a retry is processed again.

A fixed number of statements whatever the batch's size (tests/test_query_counts.py): the
events already seen; the posts' modules locked FOR SHARE (the lock every progress write
takes first, tma.progress.service), in id order; the posts with the caller's progress,
visibility and whether their module is open; one multi-row upsert of every post that
moved; one insert of the events remembered. The batch's effect on each post is worked out
here first, event by event, so one write per post is enough.

Times: an event's `occurred_at` is when it happened on the phone; one later than the
server's clock + 60 s is taken as the server's clock. `started_at` is the earliest time of
an event that moved the post, `completed_at` the time of the completing event,
`updated_at` the time of the last event that moved it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Date, String, and_, bindparam, case, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import upsert
from tma.core.errors import Busy, Unauthorized
from tma.core.reads import named, rows
from tma.courses import availability
from tma.courses.models import Module
from tma.events.record import record_progress
from tma.posts.models import Post, PostType
from tma.posts.service import post_visible_to
from tma.progress.models import PostProgress, ProgressStatus, SyncedEvent
from tma.progress.schemas import SyncEvent, SyncOutcome
from tma.users.caller import Caller
from tma.users.models import User
from tma.users.service import viewer_id

COMPLETED = ProgressStatus.COMPLETED.value
IN_PROGRESS = ProgressStatus.IN_PROGRESS.value
NOT_STARTED = ProgressStatus.NOT_STARTED.value
CLOCK_SKEW = timedelta(seconds=60)

_USER = bindparam("user_id", type_=BigInteger)
_POSTS = bindparam("post_ids", expanding=True, type_=BigInteger)
_EVENTS = bindparam("event_ids", expanding=True, type_=String)
_TODAY = bindparam("today", type_=Date)
# What the upsert returns of each row it wrote: enough for the row's learning events.
_WRITTEN = (
    PostProgress.post_id,
    PostProgress.status,
    PostProgress.started_at,
    PostProgress.completed_at,
)

_SEEN = select(SyncedEvent.event_id).where(
    SyncedEvent.user_id == _USER, SyncedEvent.event_id.in_(_EVENTS)
)
_MODULES_OF_POSTS = select(Post.module_id).where(Post.id.in_(_POSTS))
_LOCK_MODULES = (
    select(Module.id)
    .where(Module.id.in_(_MODULES_OF_POSTS))
    .order_by(Module.id)
    .with_for_update(read=True)
)
# SQLite: a write that changes nothing takes the database's write lock (core/ordering.py).
_LOCK_SQLITE = (
    update(Module)
    .where(Module.id.in_(_MODULES_OF_POSTS))
    .values(updated_at=Module.updated_at)
    .execution_options(synchronize_session=False)
)


def _posts_read(visible: Any, is_open: Any) -> Any:
    return (
        select(
            Post.id.label("post_id"),
            Post.module_id,
            Post.post_type,
            PostProgress.status,
            PostProgress.updated_at,
            PostProgress.started_at,
            PostProgress.completed_at,
            visible.label("visible"),
            is_open.label("open"),
        )
        .outerjoin(
            PostProgress, and_(PostProgress.post_id == Post.id, PostProgress.user_id == _USER)
        )
        .where(Post.id.in_(_POSTS))
    )


# The two reads of the posts, built once: staff see every post, always open; a `user` those
# of modules they see (tma.courses.visibility through posts.service.post_visible_to), open
# when the module is open to them today (tma.courses.availability).
_POSTS_FOR_STAFF = named(_posts_read(post_visible_to(None), true()))
_POSTS_FOR_USER = named(
    _posts_read(
        post_visible_to(_USER),  # type: ignore[arg-type]
        availability.module_open_to(Post.module_id, _USER, _TODAY),
    )
)


def _progress(post_id: int, state: dict[str, Any] | None) -> dict[str, Any]:
    """A Progress body (`tma.posts.schemas.ProgressRead`)."""
    if state is None:
        return {
            "post_id": post_id,
            "status": NOT_STARTED,
            "updated_at": None,
            "started_at": None,
            "completed_at": None,
        }
    return {"post_id": post_id, **state}


def _state(row: Any) -> dict[str, Any] | None:
    if row["status"] is None:
        return None
    return {
        "status": row["status"],
        "updated_at": row["updated_at"],
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
    }


def _allowed(row: Any) -> bool:
    """The caller sees the post and its module is open to them."""
    return bool(row["visible"] and row["open"])


def _plan(
    events: Sequence[SyncEvent], posts: dict[int, Any], seen: set[str], now: datetime
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """Each event's result and the post's Progress after it, the final state of each post
    that moved, and the events to remember."""
    states = {post_id: _state(row) for post_id, row in posts.items() if _allowed(row)}
    latest = now + CLOCK_SKEW
    results: list[dict[str, Any]] = []
    moved: dict[int, dict[str, Any]] = {}
    remember: list[dict[str, Any]] = []
    for event in events:
        post_id = event.post_id
        row = posts.get(post_id)
        if event.event_id in seen:
            progress = _progress(post_id, states[post_id]) if post_id in states else None
            results.append(
                {"event_id": event.event_id, "result": SyncOutcome.DUPLICATE, "progress": progress}
            )
            continue
        if row is None or not _allowed(row):
            outcome = SyncOutcome.NOT_FOUND if row is None else SyncOutcome.FORBIDDEN
            results.append({"event_id": event.event_id, "result": outcome, "progress": None})
            continue
        at = event.occurred_at.astimezone(UTC) if event.occurred_at <= latest else now
        state = states[post_id]
        status = state["status"] if state else NOT_STARTED
        wanted = event.status.value
        if status == COMPLETED or (status == IN_PROGRESS and wanted == IN_PROGRESS):
            outcome = SyncOutcome.UNCHANGED
        elif wanted == COMPLETED and row["post_type"] == PostType.QUIZ:
            outcome = SyncOutcome.INVALID  # a quiz is completed only by passing it
        else:
            outcome = SyncOutcome.APPLIED
            started = state["started_at"] if state else None
            state = {
                "status": wanted,
                "updated_at": at,
                "started_at": at if started is None or at < started else started,
                "completed_at": at if wanted == COMPLETED else None,
            }
            states[post_id] = moved[post_id] = state
        seen.add(event.event_id)
        remember.append({"event_id": event.event_id, "post_id": post_id, "result": outcome.value})
        results.append(
            {"event_id": event.event_id, "result": outcome, "progress": _progress(post_id, state)}
        )
    return results, moved, remember


async def _write(
    session: AsyncSession, user_id: int, moved: dict[int, dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Every post that moved in one upsert, forward only also against a write that came in
    meanwhile (an `in_progress` never overwrites a row; a completion only one not completed),
    `started_at` the earlier of the two. Returns the rows it wrote (for their events)."""
    stmt = upsert(session, PostProgress).values(
        [{"user_id": user_id, "post_id": post_id, **state} for post_id, state in moved.items()]
    )
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[PostProgress.user_id, PostProgress.post_id],
        set_={
            "status": COMPLETED,
            "updated_at": new.updated_at,
            "completed_at": new.completed_at,
            "started_at": case(
                (PostProgress.started_at.is_(None), new.started_at),
                (new.started_at < PostProgress.started_at, new.started_at),
                else_=PostProgress.started_at,
            ),
        },
        where=and_(PostProgress.status != COMPLETED, new.status == COMPLETED),
    )
    written = await session.execute(stmt.returning(*_WRITTEN))
    return [dict(row) for row in written.mappings()]


async def apply_events(
    session: AsyncSession, *, caller: Caller, events: Sequence[SyncEvent], now: datetime
) -> list[dict[str, Any]]:
    """Apply the batch (see the module docstring); one result per event, in order."""
    user_id = caller.id
    post_ids = sorted({event.post_id for event in events})
    event_ids = sorted({event.event_id for event in events})
    staff = viewer_id(caller) is None
    read = _POSTS_FOR_STAFF if staff else _POSTS_FOR_USER
    today = availability.today_of(now)
    sqlite = session.get_bind().dialect.name == "sqlite"
    for _ in range(3):
        found = await session.execute(_SEEN, {"user_id": user_id, "event_ids": event_ids})
        seen = set(found.scalars())
        params = {"user_id": user_id, "post_ids": post_ids}
        if sqlite:
            await session.execute(_LOCK_SQLITE, {"post_ids": post_ids})
            locked = None
        else:
            locked = set((await session.execute(_LOCK_MODULES, params)).scalars())
        found_posts = await rows(session, read, **params, **({} if staff else {"today": today}))
        if locked is not None and any(row["module_id"] not in locked for row in found_posts):
            await session.rollback()  # a post moved between the lock and the read: again
            continue
        posts = {row["post_id"]: row for row in found_posts}
        results, moved, remember = _plan(events, posts, seen, now)
        try:
            if moved:
                written = await _write(session, user_id, moved, now)
                await record_progress(
                    session,
                    user_id=user_id,
                    written=[(posts[row["post_id"]]["module_id"], row) for row in written],
                )
            if remember:
                keep = upsert(session, SyncedEvent).values(
                    [{"user_id": user_id, "created_at": now, **item} for item in remember]
                )
                await session.execute(keep.on_conflict_do_nothing())
            await session.commit()
        except IntegrityError:
            # The caller's account deleted meanwhile, or a course a counter adds to (the next
            # try no longer sees it): as PUT /api/progress/{post_id}.
            await session.rollback()
            if await session.scalar(select(User.id).where(User.id == user_id)) is None:
                raise Unauthorized("Could not validate credentials") from None
            continue
        return results
    raise Busy("The posts' modules are being changed by other requests; try again")
