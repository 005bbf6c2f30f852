"""The rules and queries of notifications: the caller's list and read marks, settings,
push tokens, and the in-app rows each kind makes (idempotent by user, kind, subject and
period). What runs on the schedule is `tma.notifications.schedule`; sending e-mail and
push is `tma.notifications.delivery`."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import upsert
from tma.core.errors import NotFound
from tma.core.hotpath import driver_safe, hot_rows
from tma.core.pagination import Page
from tma.core.reads import first
from tma.courses.models import Course
from tma.courses.service import on_course_assigned
from tma.groups.models import Group, GroupMember
from tma.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationKind,
    NotificationSettings,
    PushToken,
    ReminderFrequency,
)
from tma.notifications.schemas import NotificationSettingsUpdate
from tma.users.models import Role, SystemRole, User

# --- the caller's list ------------------------------------------------------------------

_n = Notification.__table__.c
_MINE = _n.user_id == bindparam("user_id", type_=BigInteger)
# Newest first (ids grow with time). The whole list's total and unread count ride on each
# row (window aggregates are computed before LIMIT), so a page is one statement; only an
# empty page (an offset past the end, or no notification) asks for them separately. Both
# run on the hot path (`core/hotpath.py`, as every list does).
_LIST = driver_safe(
    select(
        _n.id,
        _n.kind,
        _n.title,
        _n.body,
        _n.data,
        _n.created_at,
        _n.read_at,
        func.count().over().label("total"),
        func.count(_n.read_at).over().label("read"),
    )
    .where(_MINE)
    .order_by(_n.id.desc())
    .limit(bindparam("limit", type_=BigInteger))
    .offset(bindparam("offset", type_=BigInteger))
)
_COUNTS = driver_safe(
    select(func.count().label("total"), func.count(_n.read_at).label("read")).where(_MINE)
)
NO_LIMIT = 2**63 - 1


async def list_notifications(
    session: AsyncSession, *, user_id: int, page: Page
) -> tuple[list[dict[str, Any]], int, int]:
    """One page of the user's notifications, newest first; the total and the unread count
    of the whole list."""
    limit = NO_LIMIT if page.limit is None else page.limit
    window = {"user_id": user_id, "limit": limit, "offset": page.offset}
    found = await hot_rows(session, _LIST, **window)
    counts = found[0] if found else (await hot_rows(session, _COUNTS, user_id=user_id))[0]
    total, read = int(counts["total"]), int(counts["read"])
    return [dict(row) for row in found], total, total - read


async def mark_read(
    session: AsyncSession, *, user_id: int, ids: Iterable[int] | None, now: datetime
) -> None:
    """Mark the user's notifications read: those of `ids` that are theirs (others, and
    unknown ids, are ignored), or all when `ids` is None. A read mark is never moved."""
    stmt = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(sorted(set(ids))))
    await session.execute(stmt)
    await session.commit()


# --- settings ---------------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "email": False,
    "push": True,
    "reminders": ReminderFrequency.WEEKLY.value,
    "quiet_start": None,
    "quiet_end": None,
    "timezone": "UTC",
}
_s = NotificationSettings.__table__.c
_SETTINGS = select(
    _s.email, _s.push, _s.reminders, _s.quiet_start, _s.quiet_end, _s.timezone
).where(_s.user_id == bindparam("user_id", type_=BigInteger))


async def settings_of(session: AsyncSession, *, user_id: int) -> dict[str, Any]:
    """The user's settings as stored (`quiet_start`, `quiet_end`), defaults without a row."""
    row = await first(session, _SETTINGS, user_id=user_id)
    return row if row is not None else dict(DEFAULTS)


def settings_body(values: dict[str, Any]) -> dict[str, Any]:
    """The settings as the API shows them (`quiet_hours` an object or null)."""
    quiet = None
    if values["quiet_start"] is not None and values["quiet_end"] is not None:
        quiet = {"start": values["quiet_start"], "end": values["quiet_end"]}
    return {
        "email": values["email"],
        "push": values["push"],
        "reminders": values["reminders"],
        "quiet_hours": quiet,
        "timezone": values["timezone"],
    }


async def update_settings(
    session: AsyncSession, *, user_id: int, data: NotificationSettingsUpdate, now: datetime
) -> dict[str, Any]:
    """Apply the fields sent over the current settings; one upsert, so two first PATCHes at
    once cannot both insert."""
    values = await settings_of(session, user_id=user_id)
    changes = data.changes()
    if "quiet_hours" in changes:
        quiet = changes.pop("quiet_hours")
        values["quiet_start"] = quiet["start"] if quiet else None
        values["quiet_end"] = quiet["end"] if quiet else None
    values.update(changes)
    stmt = upsert(session, NotificationSettings).values(user_id=user_id, updated_at=now, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"], set_={**values, "updated_at": now}
    )
    await session.execute(stmt)
    await session.commit()
    return values


# --- push tokens ------------------------------------------------------------------------


async def add_push_token(
    session: AsyncSession, *, user_id: int, token: str, now: datetime
) -> dict[str, Any]:
    """Register `token` for the user. A token is one device: when another account had it
    (the phone changed hands), it moves to this one; already the user's, nothing changes."""
    found = await session.scalar(select(PushToken).where(PushToken.token == token))
    if found is not None and found.user_id == user_id:
        return {"token": found.token, "created_at": found.created_at}
    if found is not None:
        await session.delete(found)
        await session.flush()
    stmt = (
        upsert(session, PushToken)
        .values(user_id=user_id, token=token, created_at=now)
        .on_conflict_do_update(index_elements=["token"], set_={"user_id": user_id})
    )
    await session.execute(stmt)
    await session.commit()
    return {"token": token, "created_at": now}


async def delete_push_token(session: AsyncSession, *, user_id: int, token: str) -> None:
    """Forget one of the user's tokens; 404 when the user has no such token."""
    result = await session.execute(
        delete(PushToken).where(PushToken.user_id == user_id, PushToken.token == token)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await session.rollback()
        raise NotFound("Push token not found")
    await session.commit()


async def forget_push_tokens(session: AsyncSession, tokens: Iterable[str]) -> None:
    """Remove tokens the push service says belong to no device any more."""
    gone = sorted(set(tokens))
    if gone:
        await session.execute(delete(PushToken).where(PushToken.token.in_(gone)))


# --- making notifications ---------------------------------------------------------------


async def notify(
    session: AsyncSession,
    *,
    user_ids: Iterable[int],
    kind: NotificationKind,
    subject: str,
    period: str,
    title: str,
    body: str,
    data: dict[str, Any],
    now: datetime,
) -> list[int]:
    """Insert one notification per user unless that (user, kind, subject, period) exists:
    one statement, so concurrent jobs making the same one insert it once. The ids of the
    users newly notified, in the caller's transaction (not committed)."""
    users = sorted(set(user_ids))
    if not users:
        return []
    rows = [
        {
            "user_id": user_id,
            "kind": kind.value,
            "subject": subject,
            "period": period,
            "title": title,
            "body": body,
            "data": data,
            "created_at": now,
            "email_status": DeliveryStatus.PENDING.value,
            "push_status": DeliveryStatus.PENDING.value,
            "attempts": 0,
        }
        for user_id in users
    ]
    stmt = (
        upsert(session, Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["user_id", "kind", "subject", "period"])
        .returning(Notification.user_id)
    )
    return list((await session.execute(stmt)).scalars())


_PARENTS_OF_GROUP = (
    select(GroupMember.user_id)
    .join(User, User.id == GroupMember.user_id)
    .join(Role, Role.id == User.role_id)
    .where(
        GroupMember.group_id == bindparam("group_id", type_=BigInteger),
        Role.name == SystemRole.USER.value,
        User.is_active.is_(True),
    )
)


@on_course_assigned
async def course_assigned(
    session: AsyncSession, *, group_id: int, course_id: int, now: datetime
) -> None:
    """In the assignment's transaction: every parent (system role `user`) of the group is
    told in-app; e-mail and push follow by the delivery jobs. A course assigned again to
    the same group (after being taken away) is not told twice."""
    names = await first(
        session,
        select(
            select(Course.title).where(Course.id == course_id).scalar_subquery().label("course"),
            select(Group.name).where(Group.id == group_id).scalar_subquery().label("group"),
        ),
    )
    if names is None or names["course"] is None or names["group"] is None:
        return
    members = (await session.execute(_PARENTS_OF_GROUP, {"group_id": group_id})).scalars()
    await notify(
        session,
        user_ids=members,
        kind=NotificationKind.COURSE_ASSIGNED,
        subject=f"course:{course_id}:group:{group_id}",
        period="",
        title=f"New course: {names['course']}"[:200],
        body=f"Your group {names['group']} now has the course {names['course']}.",
        data={"course_id": course_id, "group_id": group_id},
        now=now,
    )


async def pending_users(session: AsyncSession, *, now: datetime) -> list[int]:
    """Users with an e-mail or push copy due at `now`."""
    due = and_(
        (Notification.email_status == DeliveryStatus.PENDING.value)
        | (Notification.push_status == DeliveryStatus.PENDING.value),
        Notification.deliver_after.is_(None) | (Notification.deliver_after <= now),
    )
    stmt = select(Notification.user_id).where(due).distinct().order_by(Notification.user_id)
    return list((await session.execute(stmt)).scalars())
