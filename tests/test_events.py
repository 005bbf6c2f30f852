"""Contract tests for learning events: recorded once each in the transaction of the change
that causes them, read through `GET /api/events` with a cursor.

Contract: docs/contracts/events.md (docs/events.md: the event model).
"""

from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select

from progress_factories import insert_module, insert_posts, insert_quiz
from tma.courses.models import Course
from tma.events.models import LearningEvent
from tma.groups.models import Group
from tma.users.models import User


@dataclass
class World:
    """`test_user` in group "Oak class" (owned by `manager`) with course "Openings": module
    A (2 posts and a quiz), module B (1 post)."""

    group: Group
    course: Course
    module_a: int
    module_b: int
    posts_a: list[int]
    quiz: object
    post_b: int


@pytest_asyncio.fixture
async def world(test_db, test_user, make_group, add_member, make_course, assign_course):
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    module_a = await insert_module(test_db, course.id, title="A")
    module_b = await insert_module(test_db, course.id, title="B")
    posts_a = await insert_posts(test_db, module_a, 2)
    quiz = await insert_quiz(test_db, module_a)
    (post_b,) = await insert_posts(test_db, module_b, 1)
    return World(group, course, module_a, module_b, posts_a, quiz, post_b)


async def put(client, post_id, status, headers):
    response = await client.put(
        f"/api/progress/{post_id}", json={"status": status}, headers=headers
    )
    assert response.status_code == 200
    return response.json()


async def events_of(client, headers, **params):
    response = await client.get("/api/events", params=params, headers=headers)
    assert response.status_code == 200
    return response.json()


def brief(events):
    """(type, post, module, course, attempt) of each event, in order."""
    return [
        (e["type"], e["post_id"], e["module_id"], e["course_id"], e["attempt_id"]) for e in events
    ]


def all_right(quiz) -> dict:
    return {
        "answers": [
            {"question_id": q, "option_ids": c}
            for q, c in zip(quiz.questions, quiz.correct, strict=True)
        ]
    }


# --- recording ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_progress_records_started_then_completed_once_each(
    client, world, test_user, user_headers, auth_headers
):
    """in_progress records `post_started` at the row's `started_at`; completed records
    `post_completed` at its `completed_at`; the same write again records nothing."""
    post = world.posts_a[0]
    started = await put(client, post, "in_progress", user_headers)
    await put(client, post, "in_progress", user_headers)
    completed = await put(client, post, "completed", user_headers)
    await put(client, post, "completed", user_headers)

    events = await events_of(client, auth_headers)

    assert brief(events) == [
        ("post_started", post, world.module_a, None, None),
        ("post_completed", post, world.module_a, None, None),
    ]
    assert [e["occurred_at"] for e in events] == [
        started["started_at"],
        completed["completed_at"],
    ]
    assert {e["user_id"] for e in events} == {test_user.id}
    assert [e["data"] for e in events] == [{}, {}]
    assert events[1]["id"] > events[0]["id"]


@pytest.mark.asyncio
async def test_completing_straight_from_not_started_records_started_then_completed(
    client, world, user_headers, auth_headers
):
    """A post completed straight from `not_started`: `post_started` then `post_completed`,
    both at the completion's time."""
    body = await put(client, world.post_b, "completed", user_headers)

    events = await events_of(client, auth_headers)

    # Module B has that one post, and the course is not done (module A is not).
    assert brief(events) == [
        ("post_started", world.post_b, world.module_b, None, None),
        ("post_completed", world.post_b, world.module_b, None, None),
        ("module_completed", None, world.module_b, None, None),
    ]
    assert {e["occurred_at"] for e in events} == {body["completed_at"]}


@pytest.mark.asyncio
async def test_quiz_attempts_and_the_last_post_record_module_and_course_completion(
    client, world, test_user, user_headers, auth_headers, clock
):
    """Start a quiz: `attempt_started` and `post_started`; a failing submit:
    `attempt_submitted` with its score; a passing one completes the quiz and, as it is the
    module's last post and module B is done, the module and the course."""
    done = [await put(client, post, "completed", user_headers) for post in world.posts_a]
    done_b = await put(client, world.post_b, "completed", user_headers)
    first = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert first.status_code == 201
    failed = await client.post(
        f"/api/quiz-attempts/{first.json()['id']}/submit",
        json={"answers": []},
        headers=user_headers,
    )
    assert failed.status_code == 200
    clock.advance(minutes=1)
    second = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert second.status_code == 201
    passed = await client.post(
        f"/api/quiz-attempts/{second.json()['id']}/submit",
        json=all_right(world.quiz),
        headers=user_headers,
    )
    assert passed.status_code == 200
    assert passed.json()["passed"] is True

    events = await events_of(client, auth_headers, after=0, limit=1000)

    a, b, quiz = world.module_a, world.module_b, world.quiz.post_id
    one, two = first.json()["id"], second.json()["id"]
    p1, p2 = world.posts_a
    assert brief(events) == [
        ("post_started", p1, a, None, None),
        ("post_completed", p1, a, None, None),
        ("post_started", p2, a, None, None),
        ("post_completed", p2, a, None, None),
        ("post_started", world.post_b, b, None, None),
        ("post_completed", world.post_b, b, None, None),
        ("module_completed", None, b, None, None),
        ("attempt_started", quiz, a, None, one),
        ("post_started", quiz, a, None, None),
        ("attempt_submitted", quiz, a, None, one),
        ("attempt_started", quiz, a, None, two),
        ("attempt_submitted", quiz, a, None, two),
        ("post_completed", quiz, a, None, None),
        ("module_completed", None, a, None, None),
        ("course_completed", None, None, world.course.id, None),
    ]
    by_type = {(e["type"], e["attempt_id"]): e for e in events}
    assert by_type[("attempt_submitted", one)]["data"] == {
        "score": 0,
        "passed": False,
        "timed_out": False,
    }
    assert by_type[("attempt_submitted", two)]["data"] == {
        "score": 100,
        "passed": True,
        "timed_out": False,
    }
    # The quiz's times are the clock's (the progress writes' the wall clock's, later); a
    # module or course is completed when its last post was.
    assert by_type[("attempt_started", one)]["occurred_at"] == "2026-03-05T10:00:00Z"
    assert events[12]["occurred_at"] == "2026-03-05T10:01:00Z"
    latest_a = max(body["completed_at"] for body in done)
    assert events[-2]["occurred_at"] == latest_a
    assert events[-1]["occurred_at"] == max(latest_a, done_b["completed_at"])


@pytest.mark.asyncio
async def test_sync_records_the_events_of_every_post_it_moved(
    client, world, user_headers, auth_headers, test_db, count_queries
):
    """An offline batch: one `post_started` per post it started and one `post_completed`
    per post it completed, at the events' own times, then the module it completed; a
    duplicate or unchanged event records nothing."""

    def ev(event_id, post_id, status, at):
        return {"event_id": event_id, "post_id": post_id, "status": status, "occurred_at": at}

    p1, p2 = world.posts_a
    batch = [
        ev("e1", p1, "in_progress", "2026-03-01T08:00:00Z"),
        ev("e2", p1, "completed", "2026-03-01T08:05:00Z"),
        ev("e3", world.post_b, "completed", "2026-03-01T09:00:00Z"),
        ev("e4", p2, "in_progress", "2026-03-01T09:30:00Z"),
    ]
    response = await client.post("/api/progress/sync", json={"events": batch}, headers=user_headers)
    assert response.status_code == 200
    again = await client.post("/api/progress/sync", json={"events": batch}, headers=user_headers)
    assert again.status_code == 200

    events = await events_of(client, auth_headers)

    a, b = world.module_a, world.module_b
    assert [(e["type"], e["post_id"], e["module_id"], e["occurred_at"]) for e in events] == [
        ("post_started", p1, a, "2026-03-01T08:00:00Z"),
        ("post_completed", p1, a, "2026-03-01T08:05:00Z"),
        ("post_started", world.post_b, b, "2026-03-01T09:00:00Z"),
        ("post_completed", world.post_b, b, "2026-03-01T09:00:00Z"),
        ("post_started", p2, a, "2026-03-01T09:30:00Z"),
        ("module_completed", None, b, "2026-03-01T09:00:00Z"),
    ]


@pytest.mark.asyncio
async def test_a_refused_write_records_nothing(client, world, user_headers, auth_headers):
    """A quiz completed by hand (400) and a post the user cannot see (403) record no
    event."""
    refused = await client.put(
        f"/api/progress/{world.quiz.post_id}", json={"status": "completed"}, headers=user_headers
    )
    assert refused.status_code == 400

    assert await events_of(client, auth_headers) == []


# --- GET /api/events -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_events_pages_by_cursor(client, world, user_headers, auth_headers):
    """`after` is an exclusive id cursor and `limit` caps the page; an empty page past the
    end."""
    for post in world.posts_a:
        await put(client, post, "completed", user_headers)
    every = await events_of(client, auth_headers)
    assert len(every) == 4

    first = await events_of(client, auth_headers, limit=3)
    rest = await events_of(client, auth_headers, after=first[-1]["id"], limit=3)
    past = await events_of(client, auth_headers, after=every[-1]["id"])

    assert first + rest == every
    assert [len(first), len(rest), past] == [3, 1, []]


@pytest.mark.asyncio
async def test_list_events_applies_the_privacy_rule(
    client,
    world,
    test_user,
    make_user,
    make_group,
    add_member,
    assign_course,
    make_auth_headers,
    manager_headers,
    user_headers,
    auth_headers,
):
    """An admin reads every event; a manager their own and those of the members of groups
    they own or moderate; a user only their own."""
    other_manager = await make_user(username="othermanager", role="manager")
    elm = await make_group(name="Elm class", creator=other_manager)
    stranger = await make_user(username="stranger")
    await add_member(elm, stranger)
    await assign_course(elm, world.course)
    await put(client, world.posts_a[0], "in_progress", user_headers)
    await put(client, world.posts_a[0], "in_progress", make_auth_headers(stranger))

    def users(events):
        return [e["user_id"] for e in events]

    assert users(await events_of(client, auth_headers)) == [test_user.id, stranger.id]
    assert users(await events_of(client, manager_headers)) == [test_user.id]
    assert users(await events_of(client, make_auth_headers(other_manager))) == [stranger.id]
    assert users(await events_of(client, user_headers)) == [test_user.id]
    assert users(await events_of(client, make_auth_headers(stranger))) == [stranger.id]


@pytest.mark.asyncio
async def test_list_events_of_a_member_removed_from_the_group_are_hidden_from_its_manager(
    client, world, test_user, user_headers, manager_headers, auth_headers
):
    """Membership is read at each request: once the parent leaves the manager's group,
    the manager no longer reads their events (the admin still does)."""
    await put(client, world.posts_a[0], "in_progress", user_headers)
    assert len(await events_of(client, manager_headers)) == 1

    removed = await client.delete(
        f"/api/groups/{world.group.id}/members/{test_user.id}", headers=manager_headers
    )
    assert removed.status_code == 204

    assert await events_of(client, manager_headers) == []
    assert len(await events_of(client, auth_headers)) == 1


@pytest.mark.asyncio
async def test_list_events_without_token_returns_401(client):
    response = await client.get("/api/events")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_events_disabled_account_returns_403(client, make_user, make_auth_headers):
    disabled = await make_user(role="admin", is_active=False)

    response = await client.get("/api/events", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "after=-1", f"after={2**63}", "after=x", "offset=3", "user_id=1"],
)
async def test_list_events_bad_query_returns_422(client, auth_headers, query):
    response = await client.get(f"/api/events?{query}", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_events_go_with_their_user_and_outlive_their_post(
    client, world, test_user, user_headers, auth_headers, test_db
):
    """A post deleted keeps its events (ids as they were); a user deleted takes theirs."""
    await put(client, world.post_b, "completed", user_headers)
    deleted = await client.delete(f"/api/posts/{world.post_b}", headers=auth_headers)
    assert deleted.status_code == 204
    assert [e["post_id"] for e in await events_of(client, auth_headers)] == [
        world.post_b,
        world.post_b,
        None,
    ]

    async with test_db.session() as session:
        await session.execute(delete(User).where(User.id == test_user.id))
        await session.commit()
        left = await session.scalar(select(func.count()).select_from(LearningEvent))

    assert left == 0


# --- GET /api/xapi/statements --------------------------------------------------------------


def _validator():
    from jsonschema import Draft202012Validator

    from xapi_schema import STATEMENT

    return Draft202012Validator(STATEMENT)


@pytest.mark.asyncio
async def test_xapi_statements_are_valid_and_map_each_event(
    client, world, test_user, user_headers, auth_headers, clock
):
    """Every event as an xAPI 1.0.3 statement valid against the statement schema: an
    account actor on the server's base URL, ADL verbs (attempted, completed, passed,
    failed), an activity under the base URL, `result` with `score.scaled`, `success`,
    `completion`; a stable id per event."""
    start = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert start.status_code == 201
    failed = await client.post(
        f"/api/quiz-attempts/{start.json()['id']}/submit",
        json={"answers": []},
        headers=user_headers,
    )
    assert failed.status_code == 200
    clock.advance(minutes=1)
    again = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    passed = await client.post(
        f"/api/quiz-attempts/{again.json()['id']}/submit",
        json=all_right(world.quiz),
        headers=user_headers,
    )
    assert passed.status_code == 200
    await put(client, world.post_b, "completed", user_headers)
    events = await events_of(client, auth_headers)

    response = await client.get("/api/xapi/statements", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    body = response.json()
    assert body["more"] == ""
    statements = body["statements"]
    validator = _validator()
    from xapi_schema import score_in_range

    for statement in statements:
        assert sorted(e.message for e in validator.iter_errors(statement)) == []
        assert score_in_range(statement)
    base = "http://test"
    verb = "http://adlnet.gov/expapi/verbs/"
    quiz, b = f"{base}/api/posts/{world.quiz.post_id}", world.post_b
    assert [
        (s["verb"]["id"].removeprefix(verb), s["object"]["id"], s.get("result")) for s in statements
    ] == [
        ("attempted", quiz, None),  # attempt_started
        ("attempted", quiz, None),  # post_started
        (
            "failed",
            quiz,
            {
                "score": {"scaled": 0.0, "raw": 0, "min": 0, "max": 100},
                "success": False,
                "completion": True,
            },
        ),
        ("attempted", quiz, None),
        (
            "passed",
            quiz,
            {
                "score": {"scaled": 1.0, "raw": 100, "min": 0, "max": 100},
                "success": True,
                "completion": True,
            },
        ),
        ("completed", quiz, {"completion": True}),
        ("attempted", f"{base}/api/posts/{b}", None),
        ("completed", f"{base}/api/posts/{b}", {"completion": True}),
        ("completed", f"{base}/api/modules/{world.module_b}", {"completion": True}),
    ]
    assert {s["actor"]["account"]["name"] for s in statements} == {str(test_user.id)}
    assert {s["actor"]["account"]["homePage"] for s in statements} == {base}
    assert [s["timestamp"] for s in statements] == [e["occurred_at"] for e in events]
    # Stable: the same event is the same statement, on every read.
    second = await client.get("/api/xapi/statements", headers=auth_headers)
    assert second.json() == body
    assert len({s["id"] for s in statements}) == len(statements)


@pytest.mark.asyncio
async def test_xapi_statements_page_with_more_and_since(
    client, world, user_headers, auth_headers, test_db
):
    for post in world.posts_a:
        await put(client, post, "completed", user_headers)

    first = await client.get("/api/xapi/statements?limit=3", headers=auth_headers)
    assert first.status_code == 200
    more = first.json()["more"]
    assert more.startswith("http://test/api/xapi/statements?after=")
    rest = await client.get(more.removeprefix("http://test"), headers=auth_headers)
    assert rest.status_code == 200
    everything = (await client.get("/api/xapi/statements", headers=auth_headers)).json()

    assert first.json()["statements"] + rest.json()["statements"] == everything["statements"]
    assert rest.json()["more"] == ""
    stored = everything["statements"][-1]["stored"]
    later = await client.get(f"/api/xapi/statements?since={stored}", headers=auth_headers)
    assert later.status_code == 200
    assert later.json() == {"statements": [], "more": ""}
    earlier = await client.get(
        "/api/xapi/statements?since=2020-01-01T00:00:00Z", headers=auth_headers
    )
    assert earlier.json() == everything


@pytest.mark.asyncio
async def test_xapi_statements_are_for_admins(client, manager_headers, user_headers):
    for headers in (manager_headers, user_headers):
        response = await client.get("/api/xapi/statements", headers=headers)
        assert response.status_code == 403
    anonymous = await client.get("/api/xapi/statements")
    assert anonymous.status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "since=2026-03-05",
        "since=2026-03-05T10:00:00",
        "limit=0",
        "limit=1001",
        "after=-1",
        "format=exact",
    ],
)
async def test_xapi_statements_bad_query_returns_422(client, auth_headers, query):
    response = await client.get(f"/api/xapi/statements?{query}", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_a_timed_out_attempt_records_its_submission_at_the_deadline(
    client, world, test_db, user_headers, auth_headers, clock
):
    """An attempt past its deadline and grace is graded by the next request that touches
    it: `attempt_submitted` once, at the deadline, `timed_out` true."""
    from tma.posts.models import Post

    async with test_db.session() as session:
        post = await session.get(Post, world.quiz.post_id)
        post.time_limit_minutes = 1
        await session.commit()
    started = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert started.status_code == 201
    clock.advance(minutes=5)

    for _ in range(2):
        read = await client.get(f"/api/quiz-attempts/{started.json()['id']}", headers=user_headers)
        assert read.status_code == 200
        assert read.json()["timed_out"] is True

    events = await events_of(client, auth_headers)
    assert [(e["type"], e["occurred_at"], e["data"]) for e in events] == [
        ("attempt_started", "2026-03-05T10:00:00Z", {}),
        ("post_started", "2026-03-05T10:00:00Z", {}),
        (
            "attempt_submitted",
            "2026-03-05T10:01:00Z",
            {"score": 0, "passed": False, "timed_out": True},
        ),
    ]
