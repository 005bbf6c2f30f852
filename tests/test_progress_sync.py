"""POST /api/progress/sync: progress recorded offline, applied in one request
(docs/contracts/progress.md; companion spec §1)."""

from dataclasses import dataclass

import pytest
import pytest_asyncio

from expected import UTC_TIMESTAMP
from progress_factories import insert_module, insert_posts, insert_quiz
from tma.courses.models import Course

URL = "/api/progress/sync"
T1 = "2026-09-01T09:00:00+02:00"  # 07:00 UTC
T1_UTC = "2026-09-01T07:00:00Z"
T2 = "2026-09-01T08:30:00Z"
T0 = "2026-09-01T06:00:00Z"


@dataclass
class World:
    """`test_user` in a group with course "Openings": module A (3 posts), a quiz post in A;
    a module in no course of theirs (post `hidden`)."""

    course: Course
    posts: list[int]
    quiz: int
    hidden: int


@pytest_asyncio.fixture
async def world(test_db, test_user, make_group, add_member, make_course, assign_course):
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    module = await insert_module(test_db, course.id, title="A")
    posts = await insert_posts(test_db, module, 3)
    quiz = await insert_quiz(test_db, module)
    other = await insert_module(test_db, title="Elsewhere")
    hidden = (await insert_posts(test_db, other, 1))[0]
    return World(course, posts, quiz.post_id, hidden)


def event(event_id, post_id, status="completed", at=T1):
    return {"event_id": event_id, "post_id": post_id, "status": status, "occurred_at": at}


def progress(post_id, status, *, updated, started, completed=None):
    return {
        "post_id": post_id,
        "status": status,
        "updated_at": updated,
        "started_at": started,
        "completed_at": completed,
    }


def not_started(post_id):
    return progress(post_id, "not_started", updated=None, started=None)


@pytest.mark.asyncio
async def test_sync_applies_events_in_order_with_their_times(client, user_headers, world):
    """Events are applied in the order given, at their own times (converted to UTC):
    `started_at` the first that moved the post, `completed_at` the completing one; each
    result carries the post's Progress after that event; the post detail shows it."""
    p = world.posts[0]
    body = {"events": [event("e1", p, "in_progress", T1), event("e2", p, "completed", T2)]}

    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "event_id": "e1",
                "result": "applied",
                "progress": progress(p, "in_progress", updated=T1_UTC, started=T1_UTC),
            },
            {
                "event_id": "e2",
                "result": "applied",
                "progress": progress(p, "completed", updated=T2, started=T1_UTC, completed=T2),
            },
        ]
    }
    detail = await client.get(f"/api/posts/{p}", headers=user_headers)
    assert detail.status_code == 200
    assert detail.json()["progress"] == progress(
        p, "completed", updated=T2, started=T1_UTC, completed=T2
    )
    courses = (await client.get("/api/progress", headers=user_headers)).json()
    assert courses[0]["completed_posts"] == 1


@pytest.mark.asyncio
async def test_sync_forward_only_unchanged_and_earliest_start(client, user_headers, world):
    """A step back or a repeat is `unchanged`; an earlier event that moves the post makes
    `started_at` earlier; an event after completion changes nothing."""
    p = world.posts[0]
    body = {
        "events": [
            event("a", p, "in_progress", T2),
            event("b", p, "in_progress", T1),
            event("c", p, "completed", T0),
            event("d", p, "in_progress", T2),
        ]
    }

    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["applied", "unchanged", "applied", "unchanged"]
    done = progress(p, "completed", updated=T0, started=T0, completed=T0)
    assert results[1]["progress"] == progress(p, "in_progress", updated=T2, started=T2)
    assert results[2]["progress"] == done
    assert results[3]["progress"] == done


@pytest.mark.asyncio
async def test_sync_duplicates_in_batch_and_across_batches_do_nothing(client, user_headers, world):
    """An `event_id` seen before, in the same batch or an earlier one, is `duplicate`:
    nothing is done (the later event's own status is ignored)."""
    p, q = world.posts[0], world.posts[1]
    first = await client.post(
        URL, json={"events": [event("x", p, "in_progress")]}, headers=user_headers
    )
    assert first.status_code == 200

    body = {"events": [event("x", q, "completed"), event("y", q), event("y", q, "in_progress")]}
    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["event_id"], r["result"]) for r in results] == [
        ("x", "duplicate"),
        ("y", "applied"),
        ("y", "duplicate"),
    ]
    assert results[0]["progress"] == not_started(q)
    q_done = progress(q, "completed", updated=T1_UTC, started=T1_UTC, completed=T1_UTC)
    assert results[2]["progress"] == q_done
    again = await client.post(
        URL, json={"events": [event("x", p, "completed")]}, headers=user_headers
    )
    assert again.status_code == 200
    assert again.json()["results"][0]["result"] == "duplicate"
    assert again.json()["results"][0]["progress"]["status"] == "in_progress"


@pytest.mark.asyncio
async def test_sync_not_found_forbidden_invalid_do_not_fail_the_batch(client, user_headers, world):
    """An unknown post is `not_found`, a post the caller does not see `forbidden` (progress
    null, not remembered: a retry is processed again), a quiz completed by hand `invalid`
    (remembered); the other events still apply."""
    body = {
        "events": [
            event("n", 999_999),
            event("f", world.hidden),
            event("q", world.quiz),
            event("ok", world.posts[2], "in_progress"),
        ]
    }

    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"event_id": "n", "result": "not_found", "progress": None},
        {"event_id": "f", "result": "forbidden", "progress": None},
        {"event_id": "q", "result": "invalid", "progress": not_started(world.quiz)},
        {
            "event_id": "ok",
            "result": "applied",
            "progress": progress(world.posts[2], "in_progress", updated=T1_UTC, started=T1_UTC),
        },
    ]
    retry = await client.post(URL, json=body, headers=user_headers)
    assert retry.status_code == 200
    assert [r["result"] for r in retry.json()["results"]] == [
        "not_found",
        "forbidden",
        "duplicate",
        "duplicate",
    ]


@pytest.mark.asyncio
async def test_sync_time_in_the_future_is_taken_as_the_server_clock(client, user_headers, world):
    """An `occurred_at` later than the server's clock + 60 s is recorded as the server's
    time (not in the future)."""
    p = world.posts[0]
    body = {"events": [event("f", p, "completed", "2999-01-01T00:00:00Z")]}

    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 200
    recorded = response.json()["results"][0]["progress"]
    assert recorded["completed_at"] == UTC_TIMESTAMP
    assert recorded["completed_at"] < "2100"


@pytest.mark.asyncio
async def test_sync_staff_sees_every_post(client, auth_headers, world):
    """An admin's events apply to any post (staff see all content)."""
    response = await client.post(
        URL, json={"events": [event("s", world.hidden)]}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["result"] == "applied"


@pytest.mark.parametrize(
    ("events", "loc"),
    [
        ([], ["body", "events"]),
        ([event(f"e{i}", 1) for i in range(501)], ["body", "events"]),
        ([event("e", 1, "not_started")], ["body", "events", 0, "status"]),
        ([event("e", 1, at="2026-09-01T09:00:00")], ["body", "events", 0, "occurred_at"]),
        ([event("e", 1, at=0)], ["body", "events", 0, "occurred_at"]),
        ([event("e", 1, at="86400")], ["body", "events", 0, "occurred_at"]),
        ([event("", 1)], ["body", "events", 0, "event_id"]),
        ([event("x" * 65, 1)], ["body", "events", 0, "event_id"]),
        ([event("a\x00b", 1)], ["body", "events", 0, "event_id"]),
        ([event("e", 0)], ["body", "events", 0, "post_id"]),
        ([{**event("e", 1), "extra": 1}], ["body", "events", 0, "extra"]),
    ],
    ids=[
        "no-events",
        "501-events",
        "bad-status",
        "no-offset",
        "a-number",
        "digits",
        "empty-id",
        "long-id",
        "nul-id",
        "post-id-0",
        "unknown-field",
    ],
)
@pytest.mark.asyncio
async def test_sync_malformed_batch_returns_422_and_applies_nothing(
    client, user_headers, world, events, loc
):
    """A body that breaks the shape is 422 for the whole batch: nothing is applied."""
    good = event("good", world.posts[0])
    body = {"events": [good, *events]} if events and len(events) < 500 else {"events": events}

    response = await client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 422
    detail = response.json()["detail"]
    if body["events"] and body["events"][0] is good:
        loc = [*loc[:2], loc[2] + 1, *loc[3:]] if len(loc) > 2 else loc
    assert detail[0]["loc"] == loc
    after = await client.get(f"/api/posts/{world.posts[0]}", headers=user_headers)
    assert after.json()["progress"] == not_started(world.posts[0])


@pytest.mark.asyncio
async def test_sync_without_token_returns_401(client, world):
    """No token: 401 with `WWW-Authenticate: Bearer`."""
    response = await client.post(URL, json={"events": [event("e", world.posts[0])]})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_sync_disabled_account_returns_403(client, make_user, make_auth_headers, world):
    """A disabled account: 403 `account disabled`."""
    user = await make_user(is_active=False)

    response = await client.post(
        URL, json={"events": [event("e", world.posts[0])]}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_sync_body_too_large_returns_413(client, user_headers):
    """A body over the size limit: 413 from the request middleware."""
    body = b'{"events": [' + b" " * 1_100_000 + b"]}"

    response = await client.post(
        URL, content=body, headers={**user_headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 413


@pytest.mark.asyncio
async def test_sync_of_500_events_applies_them_all(client, user_headers, test_db, world):
    """The largest batch: 500 events over 250 posts, each applied once."""
    module = await insert_module(test_db, world.course.id, title="Big")
    posts = await insert_posts(test_db, module, 250)
    events = [event(f"s{p}", p, "in_progress") for p in posts]
    events += [event(f"c{p}", p, "completed", T2) for p in posts]

    response = await client.post(URL, json={"events": events}, headers=user_headers)

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 500
    assert {r["result"] for r in results} == {"applied"}
    courses = (await client.get("/api/progress", headers=user_headers)).json()
    assert courses[0]["completed_posts"] == 250


@pytest.mark.asyncio
async def test_other_method_on_sync_returns_405(client, user_headers):
    """`PUT /api/progress/sync` is not a progress write on a post "sync": 405 with `Allow:
    POST` (the path is the sync route's)."""
    response = await client.put(URL, json={"status": "completed"}, headers=user_headers)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
