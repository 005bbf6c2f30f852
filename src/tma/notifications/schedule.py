"""What the schedule does, as of an instant `now` (a pass of `tma notify --now`, or of the
periodic job): which users and groups to look at, the reminder and module rows each
makes, and the delivery of e-mail and push copies. Each function is one job's work and is
idempotent: run twice (a job redelivered after a worker died), it notifies no one twice.

Reminder rule (docs/notifications.md): a parent (system role `user`, active) whose
settings allow reminders, with no activity (a progress write on any post) for
`inactivity_days`, is reminded once per period (their ISO week, or half-week with
`twice_weekly`) of the unfinished course whose own last activity (or, with none, its
start: 00:00 UTC of the earliest `start_date` of its assignments to their groups, the
release schedule's start) is the oldest, among the
unfinished courses whose reference is itself `inactivity_days` old. A course is unfinished
while the parent has completed fewer posts than it has."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from tma.core.errors import NotFound
from tma.core.languages import wanted
from tma.core.reads import rows
from tma.courses import availability
from tma.courses.availability import Opened
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember, GroupRole
from tma.i18n.service import Translator
from tma.notifications import service
from tma.notifications.delivery import Channels, DeliveryError
from tma.notifications.messages import message
from tma.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationKind,
    PushToken,
    ReminderFrequency,
)
from tma.notifications.rules import (
    CAP_WINDOW,
    REMINDERS_PER_WEEK,
    Quiet,
    iso_week,
    reminder_period,
)
from tma.posts.models import Post
from tma.progress.models import CourseProgress, PostProgress
from tma.users.models import Role, SystemRole, User

# A delivery taken by a job is not taken again for this long (the job died: the next
# pass after it takes it again).
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5

_USER = bindparam("user_id", type_=BigInteger)
# A pass sends one job per this many users (each job short, well inside the redelivery
# time, and the pass itself a few hundred messages for thousands of users).
USERS_PER_JOB = 25


# --- the modules that opened: the availability rule's -----------------------------------

# A pass announces the modules that opened in the last OPENED_LOOKBACK (the same module is
# announced once however many passes see it: the unique key); a pass every few minutes
# needs much less, the rest covers a schedule that did not run for a while.
OPENED_LOOKBACK = timedelta(days=3)
_MODULE_TITLES = select(Module.id, Module.title).where(
    Module.id.in_(bindparam("module_ids", expanding=True))
)


# Alike in shape with `_mine` below and the CSV export's per-parent statements: each
# groups its own table's rows per parent.
_ASSIGNED_AT = (
    select(
        GroupMember.user_id,
        GroupCourse.course_id,
        func.min(GroupCourse.date_assigned).label("assigned_at"),
    )
    .join(GroupCourse, GroupCourse.group_id == GroupMember.group_id)
    .where(
        GroupMember.user_id.in_(bindparam("user_ids", expanding=True)),
        GroupCourse.course_id.in_(bindparam("course_ids", expanding=True)),
    )
    .group_by(GroupMember.user_id, GroupCourse.course_id)
)


async def opened_modules(
    session: AsyncSession, *, user_ids: Sequence[int], now: datetime
) -> dict[int, list[tuple[Opened, str]]]:
    """Per user, the modules that opened for them in `(now - OPENED_LOOKBACK, now]` by
    the one availability rule (`tma.courses.availability.opened_between`: the release
    schedule, or the module before finished in a sequential course), with their titles;
    leaving out a module that opened before its course was first assigned to one of the
    user's groups (open from the assignment on: `course_assigned` announced it). Four
    statements at most, whatever the number of users."""
    if not user_ids:
        return {}
    opened = await availability.opened_between(
        session, after=now - OPENED_LOOKBACK, until=now, user_ids=user_ids
    )
    if not opened:
        return {}
    assigned = {
        (r["user_id"], r["course_id"]): r["assigned_at"]
        for r in await rows(
            session,
            _ASSIGNED_AT,
            user_ids=sorted({item.user_id for item in opened}),
            course_ids=sorted({item.course_id for item in opened}),
        )
    }
    later = [
        item
        for item in opened
        if item.opened_at > assigned.get((item.user_id, item.course_id), item.opened_at)
    ]
    if not later:
        return {}
    module_ids = sorted({item.module_id for item in later})
    titles = {
        r["id"]: r["title"] for r in await rows(session, _MODULE_TITLES, module_ids=module_ids)
    }
    found: dict[int, list[tuple[Opened, str]]] = {}
    for item in later:
        found.setdefault(item.user_id, []).append((item, titles[item.module_id]))
    return found


# --- who the pass looks at --------------------------------------------------------------

_PARENTS_WITH_COURSES = (
    select(User.id)
    .join(Role, Role.id == User.role_id)
    .where(
        Role.name == SystemRole.USER.value,
        User.is_active.is_(True),
        exists().where(
            GroupMember.user_id == User.id, GroupCourse.group_id == GroupMember.group_id
        ),
    )
    .order_by(User.id)
)
_GROUPS_WITH_COURSES = (
    select(Group.id).where(exists().where(GroupCourse.group_id == Group.id)).order_by(Group.id)
)


async def pass_targets(session: AsyncSession, *, now: datetime) -> tuple[list[int], list[int]]:
    """The users a pass looks at (parents with a course, and anyone with a delivery due)
    and the groups (those with a course)."""
    parents = list((await session.execute(_PARENTS_WITH_COURSES)).scalars())
    due = await service.pending_users(session, now=now)
    users = sorted(set(parents) | set(due))
    groups = list((await session.execute(_GROUPS_WITH_COURSES)).scalars())
    return users, groups


# --- reminders --------------------------------------------------------------------------

_USERS: BindParameter[int] = bindparam("user_ids", expanding=True)
_mine = (
    select(
        GroupMember.user_id,
        GroupCourse.course_id,
        func.min(GroupCourse.start_date).label("start"),
    )
    .join(GroupCourse, GroupCourse.group_id == GroupMember.group_id)
    .where(GroupMember.user_id.in_(_USERS))
    .group_by(GroupMember.user_id, GroupCourse.course_id)
    .subquery("mine")
)
_total = (
    select(func.count(Post.id))
    .join(CourseModule, CourseModule.module_id == Post.module_id)
    .where(CourseModule.course_id == _mine.c.course_id)
    .scalar_subquery()
)
_completed = (
    select(CourseProgress.completed)
    .where(
        CourseProgress.user_id == _mine.c.user_id,
        CourseProgress.course_id == _mine.c.course_id,
    )
    .scalar_subquery()
)
_last_in_course = (
    select(func.max(PostProgress.updated_at))
    .join(Post, Post.id == PostProgress.post_id)
    .join(CourseModule, CourseModule.module_id == Post.module_id)
    .where(PostProgress.user_id == _mine.c.user_id, CourseModule.course_id == _mine.c.course_id)
    .scalar_subquery()
)
# The users' courses with their totals, completions and last activity: one statement for
# any number of users.
_COURSES = select(
    _mine.c.user_id,
    _mine.c.course_id,
    Course.title,
    _mine.c.start,
    _total.label("total"),
    func.coalesce(_completed, 0).label("completed"),
    _last_in_course.label("last_activity"),
).join(Course, Course.id == _mine.c.course_id)
_LAST_ACTIVITY = (
    select(PostProgress.user_id, func.max(PostProgress.updated_at).label("last"))
    .where(PostProgress.user_id.in_(_USERS))
    .group_by(PostProgress.user_id)
)


@dataclass(frozen=True, slots=True)
class Behind:
    course_id: int
    title: str
    since: datetime


async def behind_of(
    session: AsyncSession, *, user_ids: Sequence[int], now: datetime, inactivity_days: int
) -> dict[int, Behind]:
    """For each of `user_ids` that is behind as of `now`, the course a reminder names (the
    rule at the top of this module); two statements whatever the number of users."""
    if not user_ids:
        return {}
    idle = timedelta(days=inactivity_days)
    params = {"user_ids": list(user_ids)}
    last = {row["user_id"]: row["last"] for row in await rows(session, _LAST_ACTIVITY, **params)}
    idle_users = {u for u in user_ids if last.get(u) is None or now - last[u] >= idle}
    candidates: dict[int, list[Behind]] = {}
    for row in await rows(session, _COURSES, **params):
        user_id = row["user_id"]
        if user_id not in idle_users or row["completed"] >= row["total"]:
            continue
        since = row["last_activity"] or availability.midnight(row["start"])
        if now - since >= idle:
            candidates.setdefault(user_id, []).append(Behind(row["course_id"], row["title"], since))
    return {
        user_id: min(found, key=lambda c: (c.since, c.course_id))
        for user_id, found in candidates.items()
    }


async def behind_in(
    session: AsyncSession, *, user_id: int, now: datetime, inactivity_days: int
) -> Behind | None:
    """The course a reminder to this user names as of `now`, or None."""
    found = await behind_of(session, user_ids=[user_id], now=now, inactivity_days=inactivity_days)
    return found.get(user_id)


async def notify_user(
    session: AsyncSession,
    *,
    user_id: int,
    now: datetime,
    inactivity_days: int,
    opened: Sequence[tuple[Opened, str]] | None = None,
    default_language: str = "en",
) -> None:
    """One user's rows as of `now`: a reminder when due, a `module_available` for each
    module that opened (`opened`: given by the caller that read them for a batch of users
    with `opened_modules`, else read here). Committed; e-mail and push are
    `deliver_user`'s."""
    prefs = await service.settings_of(session, user_id=user_id)
    frequency = ReminderFrequency(prefs["reminders"])
    behind = None
    if frequency is not ReminderFrequency.NEVER:
        behind = await behind_in(session, user_id=user_id, now=now, inactivity_days=inactivity_days)
    if opened is None:
        mine = await opened_modules(session, user_ids=[user_id], now=now)
        opened = mine.get(user_id, [])
    if behind is None and not opened:
        await session.commit()
        return
    # In the user's language: the texts from its catalog (tma.notifications.messages), the
    # course and module titles from their translations (one statement, for a user whose
    # language is not the default).
    language = await session.scalar(select(User.language).where(User.id == user_id))
    translator = Translator(wanted(None, language, default_language), default_language)
    names: dict[str, Any] = {}
    if behind is not None:
        names["course"] = {"title": behind.title}
        translator.add("course", behind.course_id, names["course"], {"title": "title"})
    for module, title in opened:
        names[f"module:{module.module_id}"] = {"title": title}
        translator.add(
            "module", module.module_id, names[f"module:{module.module_id}"], {"title": "title"}
        )
    written = await translator.apply(session)
    if behind is not None:
        course = names["course"]["title"]
        await service.notify(
            session,
            user_ids=[user_id],
            kind=NotificationKind.REMINDER,
            subject="reminders",
            period=reminder_period(now, frequency),
            title=message(written, default_language, "reminder.title", course=course)[:200],
            body=message(written, default_language, "reminder.body", course=course),
            data={"course_id": behind.course_id},
            now=now,
        )
    for module, _ in opened:
        name = names[f"module:{module.module_id}"]["title"]
        await service.notify(
            session,
            user_ids=[user_id],
            kind=NotificationKind.MODULE_AVAILABLE,
            subject=f"module:{module.module_id}:course:{module.course_id}",
            period="",
            title=message(written, default_language, "module_available.title", module=name)[:200],
            body=message(written, default_language, "module_available.body", module=name),
            data={"course_id": module.course_id, "module_id": module.module_id},
            now=now,
        )
    await session.commit()


# --- the weekly digest ------------------------------------------------------------------

_GROUP_PEOPLE = (
    select(GroupMember.user_id, GroupMember.role, Role.name.label("system_role"))
    .join(User, User.id == GroupMember.user_id)
    .join(Role, Role.id == User.role_id)
    .where(GroupMember.group_id == bindparam("group_id", type_=BigInteger), User.is_active)
    .order_by(GroupMember.user_id)
)
_MANAGING = (GroupRole.OWNER.value, GroupRole.MODERATOR.value)


async def group_digest(
    session: AsyncSession, *, group_id: int, now: datetime, inactivity_days: int
) -> list[int]:
    """Once a week (ISO week, UTC), tell the group's owners and moderators which of its
    parents are behind (inactive with an unfinished course, as for reminders); nothing
    when no one is. Returns the users newly told; committed."""
    name = await session.scalar(select(Group.name).where(Group.id == group_id))
    if name is None:
        raise NotFound(f"Group {group_id} not found")
    people = await rows(session, _GROUP_PEOPLE, group_id=group_id)
    parents = [row["user_id"] for row in people if row["system_role"] == SystemRole.USER.value]
    found = await behind_of(session, user_ids=parents, now=now, inactivity_days=inactivity_days)
    behind = [user_id for user_id in parents if user_id in found]
    managers = [row["user_id"] for row in people if row["role"] in _MANAGING]
    if not behind or not managers:
        return []
    count = len(behind)
    told = await service.notify(
        session,
        user_ids=managers,
        kind=NotificationKind.GROUP_DIGEST,
        subject=f"group:{group_id}",
        period=iso_week(now),
        title=f"{name}: {count} parent{'s' if count != 1 else ''} behind"[:200],
        body=f"In {name}, {count} parent{'s have' if count != 1 else ' has'} not been "
        f"active for {inactivity_days} days with a course unfinished.",
        data={"group_id": group_id, "behind": behind},
        now=now,
    )
    await session.commit()
    return told


# --- delivery ---------------------------------------------------------------------------

_n = Notification.__table__.c
_DUE = and_(
    _n.user_id == _USER,
    or_(
        _n.email_status == DeliveryStatus.PENDING.value,
        _n.push_status == DeliveryStatus.PENDING.value,
    ),
    or_(_n.deliver_after.is_(None), _n.deliver_after <= bindparam("now")),
)
_PENDING = (
    select(_n.id, _n.kind, _n.title, _n.body, _n.data, _n.email_status, _n.push_status, _n.attempts)
    .where(_DUE)
    .order_by(_n.id)
)
_SENT_REMINDERS = select(func.count()).where(
    _n.user_id == _USER,
    _n.kind == NotificationKind.REMINDER.value,
    or_(_n.email_status == DeliveryStatus.SENT.value, _n.push_status == DeliveryStatus.SENT.value),
    _n.delivered_at > bindparam("since"),
)
_ADDRESS = select(User.email).where(User.id == _USER)
_TOKENS = select(PushToken.token).where(PushToken.user_id == _USER).order_by(PushToken.id)


async def deliver_user(
    session: AsyncSession, *, user_id: int, now: datetime, channels: Channels
) -> int:
    """Send the e-mail and push copies of the user's notifications due at `now`; returns
    how many notifications were settled. Quiet hours defer them all to their end;
    reminders past the weekly number are `capped`. Each is taken under a lease (a
    concurrent or redelivered job skips it) and marked after sending: a worker killed
    between the two sends it again once the lease ends (at-least-once)."""
    params = {"user_id": user_id, "now": now}
    due = await rows(session, _PENDING, **params)
    if not due:
        return 0
    prefs = await service.settings_of(session, user_id=user_id)
    quiet = Quiet.parse(prefs["quiet_start"], prefs["quiet_end"], prefs["timezone"])
    until = quiet.deferred(now) if quiet is not None else None
    if until is not None:
        ids = [row["id"] for row in due]
        await session.execute(
            update(Notification).where(Notification.id.in_(ids)).values(deliver_after=until)
        )
        await session.commit()
        return 0
    cap = REMINDERS_PER_WEEK[ReminderFrequency(prefs["reminders"])]
    sent = int(
        await session.scalar(_SENT_REMINDERS, {"user_id": user_id, "since": now - CAP_WINDOW}) or 0
    )
    address = await session.scalar(_ADDRESS, {"user_id": user_id})
    tokens = list((await session.execute(_TOKENS, {"user_id": user_id})).scalars())
    settled = 0
    failure: DeliveryError | None = None
    for found in due:
        taken = await _take(session, found["id"], now)
        if taken is None:
            continue
        # What is still to send is what the lease says, not what was read before it.
        row = {**found, **taken, "attempts": taken["attempts"] - 1}
        capped = row["kind"] == NotificationKind.REMINDER.value and sent >= cap
        email, email_error = await _email(row, prefs, channels, address, capped=capped)
        push, gone, push_error = await _push(row, prefs, channels, tokens, capped=capped)
        await service.forget_push_tokens(session, gone)
        tokens = [t for t in tokens if t not in gone]
        error = email_error or push_error
        values: dict[str, Any] = {"email_status": email, "push_status": push}
        if error is None:
            values.update(deliver_after=None, delivered_at=now)
            settled += 1
        else:
            # The channel that failed stays pending (the other one is settled): the job is
            # retried, and after MAX_ATTEMPTS tries what is still pending is `failed`.
            failure = error
            given_up = row["attempts"] + 1 >= MAX_ATTEMPTS
            values.update(last_error=str(error)[:500], deliver_after=None if given_up else now)
            if given_up:
                values.update(
                    email_status=_settle(email, DeliveryStatus.FAILED),
                    push_status=_settle(push, DeliveryStatus.FAILED),
                    delivered_at=now,
                )
        if row["kind"] == NotificationKind.REMINDER.value and DeliveryStatus.SENT in (
            email,
            push,
        ):
            sent += 1
        await session.execute(
            update(Notification).where(Notification.id == row["id"]).values(**values)
        )
        await session.commit()
    if failure is not None:
        raise failure  # the queue retries the job, with backoff
    return settled


def _settle(status: str, to: DeliveryStatus) -> str:
    return to.value if status == DeliveryStatus.PENDING.value else status


async def _take(session: AsyncSession, notification_id: int, now: datetime) -> Any:
    """Lease one notification's delivery to this job: one UPDATE, so two jobs never both
    take it while the lease runs, nor one that another has settled meanwhile. Its current
    statuses and attempts (what this job must still send), or None when not taken."""
    stmt = (
        update(Notification)
        .where(
            Notification.id == notification_id,
            or_(
                Notification.email_status == DeliveryStatus.PENDING.value,
                Notification.push_status == DeliveryStatus.PENDING.value,
            ),
            or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now),
        )
        .values(deliver_after=now + LEASE, attempts=Notification.attempts + 1)
        .returning(Notification.email_status, Notification.push_status, Notification.attempts)
    )
    taken = (await session.execute(stmt)).mappings().first()
    await session.commit()
    return taken


async def _email(
    row: Any, prefs: dict[str, Any], channels: Channels, address: str | None, *, capped: bool
) -> tuple[str, DeliveryError | None]:
    """The e-mail copy of one notification: its new status, and the error if sending failed
    (then it stays pending)."""
    status = row["email_status"]
    if status != DeliveryStatus.PENDING.value:
        return status, None
    if capped:
        return DeliveryStatus.CAPPED.value, None
    if not (prefs["email"] and channels.has_email and address):
        return DeliveryStatus.SKIPPED.value, None
    try:
        await channels.email(to=address, subject=row["title"], body=row["body"])
    except DeliveryError as exc:
        return status, exc
    return DeliveryStatus.SENT.value, None


async def _push(
    row: Any, prefs: dict[str, Any], channels: Channels, tokens: list[str], *, capped: bool
) -> tuple[str, list[str], DeliveryError | None]:
    """The push copy of one notification: its new status, the tokens the push service said
    are gone, and the error if sending failed (then it stays pending)."""
    status = row["push_status"]
    if status != DeliveryStatus.PENDING.value:
        return status, [], None
    if capped:
        return DeliveryStatus.CAPPED.value, [], None
    if not (prefs["push"] and channels.has_push and tokens):
        return DeliveryStatus.SKIPPED.value, [], None
    try:
        gone = await channels.push(
            tokens=tokens, title=row["title"], body=row["body"], data=dict(row["data"])
        )
    except DeliveryError as exc:
        return status, [], exc
    reached = len(gone) < len(tokens)
    return (DeliveryStatus.SENT.value if reached else DeliveryStatus.SKIPPED.value), gone, None
