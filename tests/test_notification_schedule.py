"""The notification schedule, run as `tma notify --now` runs it (the in-process queue),
with an injected clock: reminders (inactivity, once per period, the course named), the
weekly group digest, `module_available`, e-mail through a real SMTP server and push
through a local receiver in place of Expo, quiet hours and the reminder cap across a
daylight-saving change, failures and retries.

Contract: docs/contracts/notifications.md; the rules: docs/notifications.md.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from notification_servers import Mailbox, PushLog, PushReceiver, SmtpServer
from progress_factories import insert_module, insert_posts
from tma.courses.models import GroupCourse
from tma.notifications.models import Notification, NotificationSettings, PushToken
from tma.notifications.queue import Queue
from tma.notifications.rules import Quiet, reminder_period
from tma.progress.models import PostProgress

ASSIGNED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday (ISO week 2027-W09)
TOKEN = "ExponentPushToken[parent-phone]"
NEW_YORK = "America/New_York"  # clocks spring forward on 2027-03-14, fall back on 2027-11-07


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class Notifier:
    queue: Queue
    mailbox: Mailbox
    push: PushLog
    test_db: Any

    async def run(self, now: str | datetime) -> dict[str, int]:
        instant = at(now) if isinstance(now, str) else now
        return await self.queue.run_pass(instant)

    async def rows(self, user_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        n = Notification.__table__.c
        stmt = select(
            n.kind,
            n.subject,
            n.period,
            n.title,
            n.data,
            n.email_status,
            n.push_status,
            n.deliver_after,
            n.attempts,
            n.last_error,
        ).where(n.user_id == user_id)
        if kind is not None:
            stmt = stmt.where(n.kind == kind)
        async with self.test_db.session() as session:
            return [dict(r) for r in (await session.execute(stmt.order_by(n.id))).mappings()]


@pytest_asyncio.fixture
async def notifier(app, test_settings, test_db):
    """The in-process queue of `tma notify`, on the test database, sending e-mail to an
    in-process SMTP server and push to a local receiver."""
    with SmtpServer() as smtp, PushReceiver() as push:
        settings = test_settings.model_copy(
            update={"smtp_url": smtp.url, "expo_push_url": push.url, "inactivity_days": 7}
        )
        queue = Queue(settings, db=app.state.db)
        await queue.start()
        try:
            yield Notifier(queue, smtp.mailbox, push.log, test_db)
        finally:
            await queue.stop()


async def set_assigned(test_db, course_id, when, start_date=None):
    """The course's assignments made at `when`, starting on `start_date` (default: that
    day, as the service does)."""
    start = when.date() if start_date is None else start_date
    async with test_db.session() as session:
        await session.execute(
            update(GroupCourse)
            .where(GroupCourse.course_id == course_id)
            .values(date_assigned=when, start_date=start)
        )
        await session.commit()


async def set_prefs(test_db, user_id, **values):
    prefs = {"email": False, "push": True, "reminders": "weekly", "timezone": "UTC", **values}
    async with test_db.session() as session:
        session.add(NotificationSettings(user_id=user_id, updated_at=ASSIGNED, **prefs))
        await session.commit()


async def add_token(test_db, user_id, token=TOKEN):
    async with test_db.session() as session:
        session.add(PushToken(user_id=user_id, token=token, created_at=ASSIGNED))
        await session.commit()


async def progress(test_db, user_id, post_id, when, status="in_progress"):
    async with test_db.session() as session:
        session.add(
            PostProgress(
                user_id=user_id,
                post_id=post_id,
                status=status,
                updated_at=when,
                completed_at=when if status == "completed" else None,
            )
        )
        await session.commit()


@dataclass
class World:
    group: Any
    course: Any
    posts: list[int]


@pytest_asyncio.fixture
async def world(test_db, test_user, make_group, add_member, make_course, assign_course):
    """`test_user` in "Oak class" (owned by `manager_user`) with the course "Openings"
    (one module of two posts), assigned on ASSIGNED; no activity."""
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    await set_assigned(test_db, course.id, ASSIGNED)
    module = await insert_module(test_db, course.id, title="Module A")
    posts = await insert_posts(test_db, module, 2)
    return World(group, course, posts)


def reminder(course, period, **extra):
    return {
        "kind": "reminder",
        "subject": "reminders",
        "period": period,
        "title": f"Time for {course.title}",
        "data": {"course_id": course.id},
        **extra,
    }


def brief(rows, *keys):
    keys = keys or ("kind", "subject", "period", "title", "data")
    return [{k: r[k] for k in keys} for r in rows]


# --- reminders ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_reminder_after_inactivity_days_once_per_week(notifier, world, test_user):
    """Counted from the course's start when there is no activity: not after 6 days, once
    after 7, not again in the same ISO week, again the next week."""
    await notifier.run("2027-03-07T09:00:00Z")
    assert await notifier.rows(test_user.id, "reminder") == []

    await notifier.run("2027-03-08T09:00:00Z")
    await notifier.run("2027-03-08T18:00:00Z")
    await notifier.run("2027-03-14T23:59:00Z")
    assert brief(await notifier.rows(test_user.id, "reminder")) == [
        reminder(world.course, "2027-W10")
    ]

    await notifier.run("2027-03-15T09:00:00Z")
    assert brief(await notifier.rows(test_user.id, "reminder")) == [
        reminder(world.course, "2027-W10"),
        reminder(world.course, "2027-W11"),
    ]


@pytest.mark.asyncio
async def test_reminder_counts_from_the_start_date_not_the_assignment(
    notifier, world, test_db, test_user
):
    """Assigned on 2027-03-01 but starting on 2027-03-10: no reminder a week after the
    assignment, none at 2027-03-16T23:59:59Z, one from 2027-03-17T00:00:00Z (7 days after
    00:00 UTC of the start date)."""
    await set_assigned(test_db, world.course.id, ASSIGNED, date(2027, 3, 10))

    await notifier.run("2027-03-08T09:00:00Z")
    await notifier.run("2027-03-16T23:59:59Z")
    assert await notifier.rows(test_user.id, "reminder") == []
    await notifier.run("2027-03-17T00:00:00Z")
    assert brief(await notifier.rows(test_user.id, "reminder")) == [
        reminder(world.course, "2027-W11")
    ]


@pytest.mark.asyncio
async def test_reminder_counts_from_the_earliest_start_date_over_the_groups(
    notifier, world, test_db, test_user, make_group, add_member, assign_course
):
    """The course also assigned to the parent's other group, starting 2027-02-20 (before
    the assignment on 2027-03-01): the reference is 2027-02-20, so the reminder is due at
    once on the assignment day; with the later start alone it would wait until 03-08."""
    elm = await make_group(name="Elm class")
    await add_member(elm, test_user)
    await assign_course(elm, world.course, start_date=date(2027, 2, 20))

    await notifier.run("2027-02-26T23:59:59Z")
    assert await notifier.rows(test_user.id, "reminder") == []
    await notifier.run("2027-02-27T00:00:00Z")
    assert brief(await notifier.rows(test_user.id, "reminder")) == [
        reminder(world.course, "2027-W08")
    ]


@pytest.mark.asyncio
async def test_reminder_counts_from_last_activity(notifier, world, test_db, test_user):
    """Activity on 2027-03-05: no reminder until 2027-03-12."""
    await progress(test_db, test_user.id, world.posts[0], at("2027-03-05T10:00:00Z"))

    await notifier.run("2027-03-12T09:59:00Z")
    assert await notifier.rows(test_user.id, "reminder") == []
    await notifier.run("2027-03-12T10:00:00Z")
    assert brief(await notifier.rows(test_user.id, "reminder")) == [
        reminder(world.course, "2027-W10")
    ]


@pytest.mark.asyncio
async def test_reminder_names_unfinished_course_with_oldest_activity(
    notifier, world, test_db, test_user, make_course, assign_course
):
    """Three courses: "Openings" active on 03-03, "Endgames" (assigned 03-02) never
    touched, "Tactics" finished long ago: "Endgames" is named (its reference, its start, is
    the oldest of the unfinished ones)."""
    endgames = await make_course(title="Endgames")
    tactics = await make_course(title="Tactics")
    await assign_course(world.group, endgames)
    await assign_course(world.group, tactics)
    await set_assigned(test_db, endgames.id, at("2027-03-02T09:00:00Z"))
    await set_assigned(test_db, tactics.id, at("2027-02-01T09:00:00Z"))
    await insert_posts(test_db, await insert_module(test_db, endgames.id), 1)
    done = await insert_posts(test_db, await insert_module(test_db, tactics.id), 1)
    await progress(test_db, test_user.id, done[0], at("2027-02-02T09:00:00Z"), "completed")
    await progress(test_db, test_user.id, world.posts[0], at("2027-03-03T09:00:00Z"))

    await notifier.run("2027-03-10T09:00:00Z")

    assert brief(await notifier.rows(test_user.id, "reminder")) == [reminder(endgames, "2027-W10")]


@pytest.mark.asyncio
async def test_no_reminder_for_finished_course_or_reminders_never(
    notifier, world, test_db, test_user, make_user, add_member
):
    """A parent who finished the course, and one whose reminders are `never` (no reminder
    in any channel, in-app included), get none."""
    for post_id in world.posts:
        await progress(test_db, test_user.id, post_id, at("2027-03-01T10:00:00Z"), "completed")
    quiet_parent = await make_user()
    await add_member(world.group, quiet_parent)
    await set_prefs(test_db, quiet_parent.id, reminders="never", email=True)

    await notifier.run("2027-03-20T09:00:00Z")

    assert await notifier.rows(test_user.id, "reminder") == []
    assert await notifier.rows(quiet_parent.id, "reminder") == []


@pytest.mark.asyncio
async def test_twice_weekly_reminds_in_each_half_week(notifier, world, test_db, test_user):
    await set_prefs(test_db, test_user.id, reminders="twice_weekly")

    for now in (
        "2027-03-08T09:00:00Z",
        "2027-03-10T09:00:00Z",
        "2027-03-11T09:00:00Z",
        "2027-03-14T09:00:00Z",
    ):
        await notifier.run(now)

    assert [r["period"] for r in await notifier.rows(test_user.id, "reminder")] == [
        "2027-W10a",
        "2027-W10b",
    ]


def test_reminder_period_halves_the_iso_week():
    from tma.notifications.models import ReminderFrequency as F

    assert reminder_period(at("2027-03-10T23:59:59Z"), F.TWICE_WEEKLY) == "2027-W10a"
    assert reminder_period(at("2027-03-11T00:00:00Z"), F.TWICE_WEEKLY) == "2027-W10b"
    assert reminder_period(at("2027-01-01T12:00:00Z"), F.WEEKLY) == "2026-W53"


# --- e-mail and push ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_email_and_push_carry_each_kind_the_settings_allow(
    notifier, world, test_db, test_user
):
    """E-mail on and a device: the `course_assigned` made at the assignment and the
    reminder each arrive once by e-mail (the SMTP server's mailbox) and push (the
    receiver); a second pass sends nothing again."""
    await set_prefs(test_db, test_user.id, email=True)
    await add_token(test_db, test_user.id)

    await notifier.run("2027-03-08T09:00:00Z")
    await notifier.run("2027-03-08T09:30:00Z")

    body = "A few minutes today with Openings? Pick up where you left off."
    assert notifier.mailbox.summary() == [
        (
            [test_user.email],
            "New course: Openings",
            "Your group Oak class now has the course Openings.",
        ),
        ([test_user.email], "Time for Openings", body),
    ]
    assert notifier.push.messages() == [
        {
            "to": TOKEN,
            "title": "New course: Openings",
            "body": "Your group Oak class now has the course Openings.",
            "data": {"course_id": world.course.id, "group_id": world.group.id},
            "sound": "default",
        },
        {
            "to": TOKEN,
            "title": "Time for Openings",
            "body": body,
            "data": {"course_id": world.course.id},
            "sound": "default",
        },
    ]
    statuses = brief(await notifier.rows(test_user.id), "kind", "email_status", "push_status")
    assert statuses == [
        {"kind": "course_assigned", "email_status": "sent", "push_status": "sent"},
        {"kind": "reminder", "email_status": "sent", "push_status": "sent"},
    ]


@pytest.mark.asyncio
async def test_defaults_push_only_and_nothing_without_a_device(notifier, world, test_user):
    """Defaults: no e-mail; push on, but with no device nothing is sent (`skipped`); the
    in-app notification is there all the same."""
    await notifier.run("2027-03-08T09:00:00Z")

    assert notifier.mailbox.messages == []
    assert notifier.push.messages() == []
    statuses = brief(await notifier.rows(test_user.id), "kind", "email_status", "push_status")
    assert statuses == [
        {"kind": "course_assigned", "email_status": "skipped", "push_status": "skipped"},
        {"kind": "reminder", "email_status": "skipped", "push_status": "skipped"},
    ]


@pytest.mark.asyncio
async def test_device_not_registered_removes_the_token(notifier, world, test_db, test_user):
    """The receiver answers `DeviceNotRegistered` for one of two tokens: that token is
    removed, the other got the messages."""
    gone = "ExponentPushToken[old-phone]"
    await add_token(test_db, test_user.id, gone)
    await add_token(test_db, test_user.id, TOKEN)
    notifier.push.gone.add(gone)

    await notifier.run("2027-03-08T09:00:00Z")

    async with test_db.session() as session:
        left = (await session.execute(select(PushToken.token))).scalars().all()
    assert left == [TOKEN]
    # The first message went to both; after it, only to the token left.
    assert [m["to"] for m in notifier.push.messages()] == [gone, TOKEN, TOKEN]
    statuses = brief(await notifier.rows(test_user.id), "kind", "push_status")
    assert statuses == [
        {"kind": "course_assigned", "push_status": "sent"},
        {"kind": "reminder", "push_status": "sent"},
    ]


@pytest.mark.asyncio
async def test_failing_smtp_is_retried_then_marked_failed_push_still_sent(
    notifier, world, test_db, test_user
):
    """The SMTP server answers 451: the job is retried by the queue (5 tries), the e-mail
    copy ends `failed` with the error; the push copy went out once."""
    await set_prefs(test_db, test_user.id, email=True)
    await add_token(test_db, test_user.id)
    notifier.mailbox.refuse = True

    await notifier.run("2027-03-01T10:00:00Z")  # the course_assigned only: no reminder yet

    rows = await notifier.rows(test_user.id)
    assert brief(rows, "kind", "email_status", "push_status", "attempts") == [
        {"kind": "course_assigned", "email_status": "failed", "push_status": "sent", "attempts": 5}
    ]
    assert "451" in rows[0]["last_error"]
    assert len(notifier.push.messages()) == 1


# --- quiet hours and the cap, across daylight-saving changes --------------------------------


def test_quiet_hours_end_is_read_in_the_zone_on_that_day():
    """21:00-07:00 in New York: the night clocks spring forward (2027-03-14) ends at 07:00
    EDT = 11:00 UTC (not 12:00); the night they fall back (2027-11-07) at 07:00 EST = 12:00
    UTC; outside quiet hours, nothing is deferred; a same-day range (13:00-14:00) too."""
    night = Quiet.parse("21:00", "07:00", NEW_YORK)
    assert night is not None
    assert night.deferred(at("2027-03-14T04:00:00Z")) == at("2027-03-14T11:00:00Z")
    assert night.deferred(at("2027-03-14T10:59:00Z")) == at("2027-03-14T11:00:00Z")
    assert night.deferred(at("2027-03-14T11:00:00Z")) is None
    assert night.deferred(at("2027-03-13T10:30:00Z")) == at("2027-03-13T12:00:00Z")
    assert night.deferred(at("2027-11-07T03:00:00Z")) == at("2027-11-07T12:00:00Z")
    assert night.deferred(at("2027-11-07T06:30:00Z")) == at("2027-11-07T12:00:00Z")
    assert night.deferred(at("2027-11-07T20:00:00Z")) is None
    lunch = Quiet.parse("13:00", "14:00", "Europe/Paris")
    assert lunch is not None
    assert lunch.deferred(at("2027-03-28T11:30:00Z")) == at("2027-03-28T12:00:00Z")


def test_quiet_hours_ending_in_the_skipped_hour_end_when_clocks_jump():
    """An end at 02:30 on the night 02:00-03:00 does not exist: quiet hours end when the
    clocks jump (03:30 EDT = 07:30 UTC, the instant 02:30 EST would have been)."""
    quiet = Quiet.parse("22:00", "02:30", NEW_YORK)
    assert quiet is not None
    end = quiet.deferred(at("2027-03-14T05:00:00Z"))
    assert end == at("2027-03-14T07:30:00Z")
    assert end.astimezone(ZoneInfo(NEW_YORK)).hour == 3


@pytest.mark.asyncio
async def test_quiet_hours_defer_email_and_push_to_their_end_across_spring_forward(
    notifier, world, test_db, test_user
):
    """21:00-07:00 in New York; a pass at 23:00 EST the night clocks spring forward makes
    the reminder in-app at once and sends nothing; at 10:59 UTC (06:59 EDT) still
    nothing; at 11:00 UTC (07:00 EDT) it goes."""
    await set_prefs(
        test_db, test_user.id, timezone=NEW_YORK, quiet_start="21:00", quiet_end="07:00"
    )
    await add_token(test_db, test_user.id)

    await notifier.run("2027-03-14T04:00:00Z")
    rows = await notifier.rows(test_user.id, "reminder")
    assert brief(rows, "period", "push_status", "deliver_after") == [
        {
            "period": "2027-W10",
            "push_status": "pending",
            "deliver_after": at("2027-03-14T11:00:00Z"),
        }
    ]
    await notifier.run("2027-03-14T10:59:00Z")
    assert notifier.push.messages() == []

    await notifier.run("2027-03-14T11:00:00Z")

    assert [m["title"] for m in notifier.push.messages()] == [
        "New course: Openings",
        "Time for Openings",
    ]


@pytest.mark.asyncio
async def test_reminder_cap_per_rolling_week_across_spring_forward(
    notifier, world, test_db, test_user
):
    """`twice_weekly` with quiet hours 21:00-07:00 in New York: reminders on Sun 03-07,
    Mon 03-08 go out by push; Thu 03-11's is kept in-app but `capped` (a third in 7
    days); Mon 03-15, after clocks sprang forward, the pass at 10:30 UTC (06:30 EDT, quiet)
    defers it to 11:00 UTC, when the rolling week holds one: it goes."""
    await set_assigned(test_db, world.course.id, at("2027-02-27T09:00:00Z"))
    await set_prefs(
        test_db,
        test_user.id,
        reminders="twice_weekly",
        timezone=NEW_YORK,
        quiet_start="21:00",
        quiet_end="07:00",
    )
    await add_token(test_db, test_user.id)

    for now in (
        "2027-03-07T15:00:00Z",
        "2027-03-08T15:00:00Z",
        "2027-03-11T15:00:00Z",
        "2027-03-15T10:30:00Z",
    ):
        await notifier.run(now)
    rows = await notifier.rows(test_user.id, "reminder")
    assert brief(rows, "period", "push_status") == [
        {"period": "2027-W09b", "push_status": "sent"},
        {"period": "2027-W10a", "push_status": "sent"},
        {"period": "2027-W10b", "push_status": "capped"},
        {"period": "2027-W11a", "push_status": "pending"},
    ]
    assert rows[3]["deliver_after"] == at("2027-03-15T11:00:00Z")

    await notifier.run("2027-03-15T11:00:00Z")

    rows = await notifier.rows(test_user.id, "reminder")
    assert [r["push_status"] for r in rows] == ["sent", "sent", "capped", "sent"]
    reminders = [m for m in notifier.push.messages() if m["title"] == "Time for Openings"]
    assert len(reminders) == 3


# --- module_available and the group digest -------------------------------------------------


def module_available(course_id, module_id, title):
    return {
        "kind": "module_available",
        "subject": f"module:{module_id}:course:{course_id}",
        "period": "",
        "title": f"Now open: {title}",
        "data": {"course_id": course_id, "module_id": module_id},
    }


@pytest.mark.asyncio
async def test_module_available_on_its_release_day_once_by_the_availability_rule(
    notifier, world, test_db, test_user, make_module, link_module, client, user_headers, clock
):
    """ "Week 2" released on day 7 of the course started 2027-03-01: it opens at
    2027-03-08T00:00:00Z, when the module detail stops being 403 for the parent (the same
    rule): a pass one second before announces nothing, the pass at that instant announces
    it once, later passes not again. The parent is in New York with quiet hours 18:00 to
    08:00: 00:00 UTC is 19:00 there, so the push waits for 08:00 local (13:00 UTC)."""
    week2 = await make_module(title="Week 2")
    await link_module(world.course, week2, release_after_days=7)
    await set_prefs(
        test_db, test_user.id, timezone=NEW_YORK, quiet_start="18:00", quiet_end="08:00"
    )
    await add_token(test_db, test_user.id)

    clock.set("2027-03-07T23:59:59Z")
    closed = await client.get(f"/api/modules/{week2.id}", headers=user_headers)
    await notifier.run(clock.now)
    assert await notifier.rows(test_user.id, "module_available") == []

    clock.set("2027-03-08T00:00:00Z")
    opened = await client.get(f"/api/modules/{week2.id}", headers=user_headers)
    await notifier.run(clock.now)
    first = await notifier.rows(test_user.id, "module_available")
    for later in ("2027-03-08T00:15:00Z", "2027-03-08T13:00:00Z", "2027-03-10T09:00:00Z"):
        await notifier.run(later)

    assert closed.status_code == 403
    assert closed.json() == {"detail": "Opens at 2027-03-08T00:00:00Z"}
    assert opened.status_code == 200
    assert brief(first) == [module_available(world.course.id, week2.id, "Week 2")]
    assert first[0]["push_status"] == "pending"
    assert first[0]["deliver_after"] == at("2027-03-08T13:00:00Z")
    rows = await notifier.rows(test_user.id, "module_available")
    assert brief(rows, "subject", "push_status") == [
        {"subject": f"module:{week2.id}:course:{world.course.id}", "push_status": "sent"}
    ]
    pushed = [m for m in notifier.push.messages() if m["title"] == "Now open: Week 2"]
    assert len(pushed) == 1


@pytest.mark.asyncio
async def test_module_available_when_the_module_before_is_finished_in_a_sequential_course(
    notifier, world, test_db, test_user, make_module, link_module, client, auth_headers
):
    """A sequential course: "Week 2" (released on day 0) opens when the parent completes
    the last post of "Module A": nothing while one post is left, one `module_available`
    at the pass after the completion, not again later; a module the schedule opened long
    before the lookback (day 0, 2027-03-01) is not announced a week on."""
    made = await client.patch(
        f"/api/courses/{world.course.id}", json={"sequential": True}, headers=auth_headers
    )
    week2 = await make_module(title="Week 2")
    await link_module(world.course, week2)

    await progress(test_db, test_user.id, world.posts[0], at("2027-03-09T10:00:00Z"), "completed")
    await notifier.run("2027-03-09T12:00:00Z")
    assert await notifier.rows(test_user.id, "module_available") == []

    await progress(test_db, test_user.id, world.posts[1], at("2027-03-09T12:30:00Z"), "completed")
    await notifier.run("2027-03-09T12:29:59Z")
    assert await notifier.rows(test_user.id, "module_available") == []
    await notifier.run("2027-03-09T12:30:00Z")
    await notifier.run("2027-03-09T12:45:00Z")
    await notifier.run("2027-03-11T09:00:00Z")

    assert made.status_code == 200
    assert brief(await notifier.rows(test_user.id, "module_available")) == [
        module_available(world.course.id, week2.id, "Week 2")
    ]


@pytest.mark.asyncio
async def test_module_available_per_parent_each_at_their_own_start(
    notifier,
    world,
    test_db,
    test_user,
    make_user,
    make_group,
    add_member,
    assign_course,
    make_module,
    link_module,
):
    """The same course in a second group starting 2027-03-04: "Week 2" (day 7) opens for
    `test_user` on 03-08 and for the other parent on 03-11; staff in the group never get it."""
    birch = await make_group(name="Birch class")
    other = await make_user()
    staff = await make_user(role="manager")
    await add_member(birch, other)
    await add_member(birch, staff, role="moderator")
    await assign_course(birch, world.course, start_date=date(2027, 3, 4))
    week2 = await make_module(title="Week 2")
    await link_module(world.course, week2, release_after_days=7)

    await notifier.run("2027-03-08T00:00:00Z")
    mine = await notifier.rows(test_user.id, "module_available")
    theirs_early = await notifier.rows(other.id, "module_available")
    await notifier.run("2027-03-10T23:59:59Z")
    await notifier.run("2027-03-11T00:00:00Z")

    assert brief(mine) == [module_available(world.course.id, week2.id, "Week 2")]
    assert theirs_early == []
    assert brief(await notifier.rows(other.id, "module_available")) == [
        module_available(world.course.id, week2.id, "Week 2")
    ]
    assert await notifier.rows(staff.id, "module_available") == []
    assert brief(await notifier.rows(test_user.id, "module_available")) == brief(mine)


@pytest.mark.asyncio
async def test_group_digest_weekly_to_owners_and_moderators(
    notifier, world, test_db, test_user, manager_user, make_user, add_member
):
    """Who is behind, once per ISO week, to the owner and a moderator; not to members;
    `data` holds the group and the parents behind (in id order)."""
    moderator = await make_user(role="manager")
    await add_member(world.group, moderator, role="moderator")
    active = await make_user()
    await add_member(world.group, active)
    await progress(test_db, active.id, world.posts[0], at("2027-03-07T09:00:00Z"))

    await notifier.run("2027-03-08T09:00:00Z")
    await notifier.run("2027-03-09T09:00:00Z")
    await notifier.run("2027-03-15T09:00:00Z")

    subject = f"group:{world.group.id}"
    week_10 = {
        "kind": "group_digest",
        "subject": subject,
        "title": "Oak class: 1 parent behind",
        "data": {"group_id": world.group.id, "behind": [test_user.id]},
        "period": "2027-W10",
    }
    # By 03-15 the parent active on 03-07 is 8 days idle: behind too.
    week_11 = {
        "kind": "group_digest",
        "subject": subject,
        "title": "Oak class: 2 parents behind",
        "data": {"group_id": world.group.id, "behind": [test_user.id, active.id]},
        "period": "2027-W11",
    }
    for user in (manager_user, moderator):
        rows = await notifier.rows(user.id, "group_digest")
        assert brief(rows, "kind", "subject", "title", "data", "period") == [week_10, week_11]
    assert await notifier.rows(test_user.id, "group_digest") == []
    assert await notifier.rows(active.id, "group_digest") == []


@pytest.mark.asyncio
async def test_notifications_appear_in_the_list_api(
    notifier, world, client, user_headers, test_user
):
    """What the schedule made is what GET /api/notifications shows, unread."""
    await notifier.run("2027-03-08T09:00:00Z")

    response = await client.get("/api/notifications", headers=user_headers)

    assert response.status_code == 200
    assert [n["kind"] for n in response.json()] == ["reminder", "course_assigned"]
    assert response.headers["X-Unread-Count"] == "2"


def test_assigned_fixture_date_is_a_monday():
    assert ASSIGNED.isoweekday() == 1
    assert ASSIGNED + timedelta(days=7) == at("2027-03-08T09:00:00Z")


# --- the commands ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch):
    """`get_settings()` reads the environment again in this test (and after it)."""
    from tma.core.config import get_settings

    for name in ("TMA_DATABASE_URL", "TMA_ENV", "TMA_QUEUE_URL", "TMA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def invoke(*args):
    """`tma ARGS` in a thread of its own (the command runs its own event loop)."""
    from concurrent.futures import ThreadPoolExecutor

    from typer.testing import CliRunner

    from tma import cli

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, cli.app, list(args)).result()


def test_tma_notify_is_refused_in_production(cli_env):
    cli_env.setenv("TMA_ENV", "production")
    cli_env.setenv("TMA_SECRET_KEY", "k" * 10 + "Q7#xV9!pL2@wR5$tY8^zB3&nM6*cF1(hJ4)")

    result = invoke("notify", "--now", "2027-03-08T09:00:00Z")

    assert result.exit_code == 1
    assert "refused with TMA_ENV=production" in result.output


@pytest.mark.parametrize(
    ("now", "message"),
    [("yesterday", "not an ISO-8601 time"), ("2027-03-08T09:00:00", "give an offset")],
)
def test_tma_notify_needs_an_instant_with_an_offset(cli_env, now, message):
    result = invoke("notify", "--now", now)

    assert result.exit_code == 1
    assert message in result.output


def test_tma_notify_runs_one_pass_in_process(cli_env, tmp_path):
    """With no queue, the pass runs in the command: the reminder is there when it returns."""
    import asyncio as aio
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}"
    cli_env.setenv("TMA_DATABASE_URL", url)
    migrated = invoke("db", "upgrade")
    assert migrated.exit_code == 0, migrated.output
    seeded = invoke("seed")
    assert seeded.exit_code == 0, seeded.output

    result = invoke("notify", "--now", "2099-01-05T09:00:00Z")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("pass as of 2099-01-05T09:00:00+00:00: ")

    async def reminders() -> int:
        from sqlalchemy import func
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                stmt = select(func.count()).where(Notification.kind == "reminder")
                return int(await conn.scalar(stmt) or 0)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(aio.run, reminders()).result() > 0


def test_tma_worker_without_a_queue_says_so(cli_env):
    result = invoke("worker")

    assert result.exit_code == 1
    assert "TMA_QUEUE_URL is not set" in result.output


@pytest.mark.asyncio
async def test_app_lifespan_runs_and_stops_the_in_process_scheduler(test_settings):
    """No queue and an interval: the app's lifespan starts taskiq's scheduler in the app
    process and stops it at shutdown (bounded)."""
    import asyncio as aio

    from tma.main import create_app

    settings = test_settings.model_copy(update={"notify_interval_minutes": 1})
    application = create_app(settings)
    async with aio.timeout(30), application.router.lifespan_context(application):
        running = {t.get_coro().__qualname__ for t in aio.all_tasks()}  # type: ignore[union-attr]
        assert any("run_scheduler" in name for name in running)
    after = {t.get_coro().__qualname__ for t in aio.all_tasks() if not t.done()}  # type: ignore[union-attr]
    assert not any("run_scheduler" in name for name in after)


# --- in the user's language (docs/contracts/notifications.md, "Languages") -----------------


@pytest.mark.asyncio
async def test_reminder_and_module_available_in_the_user_language(
    notifier,
    world,
    test_db,
    test_user,
    make_module,
    link_module,
    client,
    auth_headers,
    user_headers,
):
    """A parent whose `language` is `es-MX` gets the reminder and the `module_available`
    from the Spanish catalog (es-MX falls back to es), naming the course and the module by
    their Spanish translations; a title without a translation stays as it is (the other
    tests of this file: a parent without a language reads English)."""
    week2 = await make_module(title="Week 2")
    await link_module(world.course, week2, release_after_days=7)
    translated = await client.put(
        f"/api/translations/course/{world.course.id}/es",
        json={"title": "Aperturas"},
        headers=auth_headers,
    )
    assert translated.status_code == 200
    chose = await client.patch("/api/auth/me", json={"language": "es-MX"}, headers=user_headers)
    assert chose.status_code == 200

    await notifier.run("2027-03-08T09:00:00Z")

    reminders = brief(await notifier.rows(test_user.id, "reminder"), "title")
    opened = brief(await notifier.rows(test_user.id, "module_available"), "title")
    assert reminders == [{"title": "Es hora de Aperturas"}]
    assert opened == [{"title": "Ya disponible: Week 2"}]
    async with test_db.session() as session:
        bodies = (
            await session.scalars(
                select(Notification.body)
                .where(
                    Notification.user_id == test_user.id,
                    Notification.kind.in_(["module_available", "reminder"]),
                )
                .order_by(Notification.kind)
            )
        ).all()
    assert bodies == [
        "Week 2 ya está disponible: échale un vistazo.",
        "¿Unos minutos hoy con Aperturas? Sigue donde lo dejaste.",
    ]
