"""Contract tests for progress: a user's status on each post, and the per-course and
per-group aggregates.

Contract: docs/contracts/progress.md. Status only moves forward; a quiz is completed only by
passing it; a course counts the posts of all its modules once; percentages round down.
"""

from dataclasses import dataclass

import pytest
import pytest_asyncio
from pydantic import TypeAdapter
from sqlalchemy import delete

from expected import UTC_TIMESTAMP
from progress_factories import insert_module, insert_posts, insert_quiz
from tma.courses.models import Course
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.progress.schemas import CourseProgress, GroupProgress

TOO_BIG_ID = 2**63


@dataclass
class World:
    """`test_user` in group "Oak class" with course "Openings": module A (3 posts), module B
    (1 post). Course "Endgames" is assigned too and has no modules."""

    group: Group
    course: Course
    empty_course_id: int
    module_a: int
    module_b: int
    posts_a: list[int]
    posts_b: list[int]


@pytest_asyncio.fixture
async def world(test_db, test_user, make_group, add_member, make_course, assign_course):
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    empty = await make_course(title="Endgames")
    await assign_course(group, course)
    await assign_course(group, empty)
    module_a = await insert_module(test_db, course.id, title="A")
    module_b = await insert_module(test_db, course.id, title="B")
    posts_a = await insert_posts(test_db, module_a, 3)
    posts_b = await insert_posts(test_db, module_b, 1)
    return World(group, course, empty.id, module_a, module_b, posts_a, posts_b)


async def put(client, post_id, status, headers):
    return await client.put(f"/api/progress/{post_id}", json={"status": status}, headers=headers)


def course_body(world, *, done_a=0, done_b=0, last=None) -> dict:
    return {
        "course_id": world.course.id,
        "title": "Openings",
        "total_posts": 4,
        "completed_posts": done_a + done_b,
        "percent": (done_a + done_b) * 100 // 4,
        "last_activity_at": last,
        "modules": [
            {
                "module_id": world.module_a,
                "title": "A",
                "total_posts": 3,
                "completed_posts": done_a,
            },
            {
                "module_id": world.module_b,
                "title": "B",
                "total_posts": 1,
                "completed_posts": done_b,
            },
        ],
    }


def empty_course_body(world) -> dict:
    return {
        "course_id": world.empty_course_id,
        "title": "Endgames",
        "total_posts": 0,
        "completed_posts": 0,
        "percent": 0,
        "last_activity_at": None,
        "modules": [],
    }


# --- PUT /api/progress/{post_id} ---------------------------------------------------------


@pytest.mark.asyncio
async def test_put_progress_in_progress_returns_200_and_records_it(client, user_headers, world):
    """`in_progress` on a post not started: 200 with the new state (no `completed_at`)."""
    response = await put(client, world.posts_a[0], "in_progress", user_headers)

    assert response.status_code == 200
    assert response.json() == {
        "post_id": world.posts_a[0],
        "status": "in_progress",
        "updated_at": UTC_TIMESTAMP,
        "started_at": response.json()["updated_at"],
        "completed_at": None,
    }
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0] == course_body(world, last=response.json()["updated_at"])


@pytest.mark.asyncio
async def test_put_progress_completed_returns_200_with_completed_at(client, user_headers, world):
    """`completed` straight from not started: 200, `completed_at` set; the course counts it."""
    response = await put(client, world.posts_b[0], "completed", user_headers)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "post_id": world.posts_b[0],
        "status": "completed",
        "updated_at": UTC_TIMESTAMP,
        "started_at": body["updated_at"],
        "completed_at": body["updated_at"],
    }
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress == [
        course_body(world, done_b=1, last=body["updated_at"]),
        empty_course_body(world),
    ]


@pytest.mark.asyncio
async def test_put_progress_completed_twice_keeps_first_completed_at(client, user_headers, world):
    """Idempotent: completing again answers 200 with the state of the first time."""
    first = await put(client, world.posts_a[0], "completed", user_headers)

    response = await put(client, world.posts_a[0], "completed", user_headers)

    assert response.status_code == 200
    assert response.json() == first.json()


@pytest.mark.asyncio
async def test_put_progress_back_to_in_progress_returns_200_unchanged(client, user_headers, world):
    """Status only moves forward: `in_progress` after `completed` answers 200 unchanged."""
    done = await put(client, world.posts_a[0], "completed", user_headers)

    response = await put(client, world.posts_a[0], "in_progress", user_headers)

    assert response.status_code == 200
    assert response.json() == done.json()
    assert response.json()["status"] == "completed"


@pytest.mark.asyncio
async def test_put_progress_in_progress_then_completed_sets_completed_at_later(
    client, user_headers, world
):
    """`in_progress` then `completed`: the second moves it forward and sets `completed_at`."""
    started = await put(client, world.posts_a[1], "in_progress", user_headers)

    response = await put(client, world.posts_a[1], "completed", user_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["completed_at"] == body["updated_at"]
    assert body["updated_at"] >= started.json()["updated_at"]


@pytest.mark.asyncio
async def test_put_progress_completed_on_a_quiz_returns_400(client, test_db, user_headers, world):
    """A quiz is completed only by passing it: marking it by hand is 400 and changes nothing."""
    quiz = await insert_quiz(test_db, world.module_b)

    response = await put(client, quiz.post_id, "completed", user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "A quiz is completed only by passing it"}
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0]["completed_posts"] == 0
    assert progress[0]["last_activity_at"] is None


@pytest.mark.asyncio
async def test_put_progress_completed_on_a_passed_quiz_returns_200_unchanged(
    client, test_db, user_headers, world
):
    """Once passed, the quiz is completed: `completed` by hand then answers 200 unchanged."""
    quiz = await insert_quiz(test_db, world.module_b)
    attempt = (
        await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    ).json()
    answers = [
        {"question_id": q, "option_ids": c}
        for q, c in zip(quiz.questions, quiz.correct, strict=True)
    ]
    graded = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    response = await put(client, quiz.post_id, "completed", user_headers)

    assert response.status_code == 200
    assert response.json() == {
        "post_id": quiz.post_id,
        "status": "completed",
        "updated_at": graded.json()["submitted_at"],
        "started_at": UTC_TIMESTAMP,
        "completed_at": graded.json()["submitted_at"],
    }


@pytest.mark.asyncio
async def test_put_progress_in_progress_on_a_quiz_returns_200(client, test_db, user_headers, world):
    """`in_progress` is fine on a quiz."""
    quiz = await insert_quiz(test_db, world.module_b)

    response = await put(client, quiz.post_id, "in_progress", user_headers)

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"


@pytest.mark.asyncio
async def test_put_progress_post_not_visible_returns_403(
    client, test_db, user_headers, make_course
):
    """A post in no course of the user's groups: 403, nothing recorded."""
    course = await make_course(title="Not yours")
    (post_id,) = await insert_posts(test_db, await insert_module(test_db, course.id))

    response = await put(client, post_id, "completed", user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}
    assert (await client.get("/api/progress", headers=user_headers)).json() == []


@pytest.mark.asyncio
async def test_put_progress_unknown_post_returns_404(client, user_headers):
    """An unknown post: 404."""
    response = await put(client, 31337, "completed", user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 31337 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"status": "not_started"}, ["body", "status"]),
        ({"status": "done"}, ["body", "status"]),
        ({}, ["body", "status"]),
        ({"status": "completed", "completed_at": "2020-01-01T00:00:00Z"}, ["body", "completed_at"]),
    ],
    ids=["not-started", "unknown", "missing", "extra-field"],
)
async def test_put_progress_malformed_body_returns_422(client, user_headers, world, body, loc):
    """A status other than `in_progress`/`completed`, or an unknown field: 422."""
    response = await client.put(
        f"/api/progress/{world.posts_a[0]}", json=body, headers=user_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.asyncio
async def test_put_progress_malformed_id_returns_422(client, user_headers):
    """A post id out of range: 422."""
    response = await put(client, TOO_BIG_ID, "completed", user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "post_id"]


@pytest.mark.asyncio
async def test_put_progress_without_token_returns_401(client, world):
    """No token: 401."""
    response = await client.put(f"/api/progress/{world.posts_a[0]}", json={"status": "completed"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_put_progress_body_over_1_mib_returns_413(client, user_headers, world):
    """A body over 1 MiB: 413 from the middleware, nothing recorded."""
    response = await client.put(
        f"/api/progress/{world.posts_a[0]}",
        content=b'{"status": "completed"' + b" " * (1024 * 1024) + b"}",
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0] == course_body(world)


@pytest.mark.asyncio
async def test_put_progress_after_another_user_completed_the_post_returns_own_state(
    client, user_headers, make_user, add_member, make_auth_headers, world
):
    """Another user's progress on the post is theirs: the caller, not started, moves to
    `in_progress` (200, no `completed_at`)."""
    other = await make_user(username="classmate")
    await add_member(world.group, other)
    await put(client, world.posts_b[0], "completed", make_auth_headers(other))

    response = await put(client, world.posts_b[0], "in_progress", user_headers)

    assert response.status_code == 200
    assert response.json() == {
        "post_id": world.posts_b[0],
        "status": "in_progress",
        "updated_at": UTC_TIMESTAMP,
        "started_at": response.json()["updated_at"],
        "completed_at": None,
    }


# --- GET /api/progress -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_progress_returns_each_assigned_course_with_modules(client, user_headers, world):
    """One item per assigned course, oldest first; modules in the course's order; percent
    rounded down (2 of 4 done: 50; then 3 of 4: 75)."""
    await put(client, world.posts_a[0], "completed", user_headers)
    await put(client, world.posts_a[1], "in_progress", user_headers)
    last = (await put(client, world.posts_b[0], "completed", user_headers)).json()["updated_at"]

    response = await client.get("/api/progress", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [
        course_body(world, done_a=1, done_b=1, last=last),
        empty_course_body(world),
    ]


@pytest.mark.asyncio
async def test_get_progress_percent_rounds_down_and_is_100_only_when_all_done(
    client, test_db, user_headers, world
):
    """With 3 posts, 2 done is 66 (not 67); all 3 done is 100."""
    module = await insert_module(test_db, world.empty_course_id)
    posts = await insert_posts(test_db, module, 3)
    for post_id in posts[:2]:
        await put(client, post_id, "completed", user_headers)
    two = (await client.get("/api/progress", headers=user_headers)).json()[1]
    await put(client, posts[2], "completed", user_headers)

    response = await client.get("/api/progress", headers=user_headers)

    assert response.status_code == 200
    assert (two["completed_posts"], two["total_posts"], two["percent"]) == (2, 3, 66)
    three = response.json()[1]
    assert (three["completed_posts"], three["total_posts"], three["percent"]) == (3, 3, 100)


@pytest.mark.asyncio
async def test_get_progress_shared_module_counts_in_both_courses(
    client, test_db, user_headers, world
):
    """A module linked to two courses counts its posts in each, once; completing one of its
    posts moves both courses."""
    await insert_module(test_db, world.empty_course_id, title="Shared")  # empty module
    shared = await insert_module(test_db, world.course.id, world.empty_course_id, title="Both")
    (post_id,) = await insert_posts(test_db, shared)
    await put(client, post_id, "completed", user_headers)

    response = await client.get("/api/progress", headers=user_headers)

    assert response.status_code == 200
    first, second = response.json()
    assert (first["completed_posts"], first["total_posts"], first["percent"]) == (1, 5, 20)
    assert (second["completed_posts"], second["total_posts"], second["percent"]) == (1, 1, 100)
    assert [m["title"] for m in second["modules"]] == ["Shared", "Both"]


@pytest.mark.asyncio
async def test_get_progress_course_in_two_groups_listed_once(
    client, test_user, user_headers, make_group, add_member, assign_course, world
):
    """A course assigned to two of the user's groups appears once."""
    other = await make_group(name="Elm class")
    await add_member(other, test_user)
    await assign_course(other, world.course)

    response = await client.get("/api/progress", headers=user_headers)

    assert response.status_code == 200
    assert [c["course_id"] for c in response.json()] == [world.course.id, world.empty_course_id]


@pytest.mark.asyncio
async def test_get_progress_survives_unassign_and_reassign(
    client, manager_headers, user_headers, world
):
    """Unassigning the course hides it from the list; assigning it again shows the progress
    made before."""
    await put(client, world.posts_a[0], "completed", user_headers)
    base = f"/api/groups/{world.group.id}/courses/{world.course.id}"
    await client.delete(base, headers=manager_headers)
    hidden = (await client.get("/api/progress", headers=user_headers)).json()
    await client.post(base, headers=manager_headers)

    response = await client.get("/api/progress", headers=user_headers)

    assert [c["course_id"] for c in hidden] == [world.empty_course_id]
    assert response.status_code == 200
    assert response.json()[0]["completed_posts"] == 1


@pytest.mark.asyncio
async def test_get_progress_deleted_post_takes_its_progress(client, test_db, user_headers, world):
    """A deleted post's progress goes with it: the course no longer counts it."""
    await put(client, world.posts_b[0], "completed", user_headers)
    async with test_db.session() as session:
        await session.execute(delete(Post).where(Post.id == world.posts_b[0]))
        await session.commit()

    response = await client.get("/api/progress", headers=user_headers)

    assert response.status_code == 200
    course = response.json()[0]
    assert (course["completed_posts"], course["total_posts"]) == (0, 3)
    assert course["last_activity_at"] is None


@pytest.mark.asyncio
async def test_get_progress_user_without_groups_returns_empty_list(client, manager_headers):
    """No group, no course: an empty list."""
    response = await client.get("/api/progress", headers=manager_headers)

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.asyncio
async def test_get_progress_without_token_returns_401(client):
    """No token: 401."""
    response = await client.get("/api/progress")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_get_progress_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.get("/api/progress", headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- GET /api/posts/{post_id}: the caller's progress on the post --------------------------


@pytest.mark.asyncio
async def test_get_post_after_progress_shows_it_in_the_detail(client, user_headers, world):
    """A post read after the caller completed it carries that progress: status, and the
    times the PUT answered with."""
    recorded = (await put(client, world.posts_b[0], "completed", user_headers)).json()

    response = await client.get(f"/api/posts/{world.posts_b[0]}", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["progress"] == {
        "post_id": world.posts_b[0],
        "status": "completed",
        "updated_at": recorded["updated_at"],
        "started_at": recorded["started_at"],
        "completed_at": recorded["completed_at"],
    }


@pytest.mark.asyncio
async def test_get_post_in_progress_shows_when_it_started_and_no_completed_at(
    client, user_headers, world
):
    """A post in progress shows `in_progress` with the time of the PUT and a null
    `completed_at`."""
    recorded = (await put(client, world.posts_b[0], "in_progress", user_headers)).json()

    response = await client.get(f"/api/posts/{world.posts_b[0]}", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["progress"] == {
        "post_id": world.posts_b[0],
        "status": "in_progress",
        "updated_at": recorded["updated_at"],
        "started_at": recorded["updated_at"],
        "completed_at": None,
    }


@pytest.mark.asyncio
async def test_get_post_progress_is_the_callers_own_on_that_post(
    client, user_headers, make_user, add_member, make_auth_headers, world
):
    """Another user's progress on this post, and the caller's on another post, do not show:
    the caller has not started this one."""
    other = await make_user(username="classmate")
    await add_member(world.group, other)
    await put(client, world.posts_a[0], "completed", make_auth_headers(other))
    await put(client, world.posts_a[1], "in_progress", user_headers)

    response = await client.get(f"/api/posts/{world.posts_a[0]}", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["progress"] == {
        "post_id": world.posts_a[0],
        "status": "not_started",
        "updated_at": None,
        "started_at": None,
        "completed_at": None,
    }


# --- GET /api/users/{user_id}/progress ---------------------------------------------------


@pytest.mark.asyncio
async def test_get_user_progress_as_staff_returns_that_users_courses(
    client, manager_headers, user_headers, test_user, world
):
    """The manager owning the user's group reads their progress: the same list the user
    gets from GET /api/progress."""
    await put(client, world.posts_a[2], "completed", user_headers)
    own = (await client.get("/api/progress", headers=user_headers)).json()

    response = await client.get(f"/api/users/{test_user.id}/progress", headers=manager_headers)

    assert response.status_code == 200
    assert response.json() == own
    assert own[0]["completed_posts"] == 1


@pytest.mark.asyncio
async def test_get_user_progress_of_yourself_returns_200(client, user_headers, test_user, world):
    """A `user` reads their own progress by id."""
    response = await client.get(f"/api/users/{test_user.id}/progress", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [course_body(world), empty_course_body(world)]


@pytest.mark.asyncio
async def test_get_user_progress_of_another_user_returns_403(
    client, user_headers, manager_user, world
):
    """A `user` reading anyone else's progress: 403."""
    response = await client.get(f"/api/users/{manager_user.id}/progress", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only see your own progress"}


@pytest.mark.asyncio
async def test_get_user_progress_as_manager_outside_the_users_groups_returns_403(
    client, make_user, make_auth_headers, add_member, manager_headers, test_user, world
):
    """A manager who is only a plain `member` of the user's group (neither owner nor
    moderator): 403; once the owner makes them moderator, they read it."""
    manager = await make_user(role="manager")
    await add_member(world.group, manager)
    url = f"/api/users/{test_user.id}/progress"

    response = await client.get(url, headers=make_auth_headers(manager))

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the data of members of groups you own or moderate"
    }
    promoted = await client.patch(
        f"/api/groups/{world.group.id}/members/{manager.id}/role",
        json={"role": "moderator"},
        headers=manager_headers,
    )
    assert promoted.status_code == 200
    again = await client.get(url, headers=make_auth_headers(manager))
    assert (again.status_code, again.json()) == (
        200,
        [course_body(world), empty_course_body(world)],
    )


@pytest.mark.asyncio
async def test_get_user_progress_unknown_user_returns_404(client, auth_headers):
    """Staff naming no user: 404."""
    response = await client.get("/api/users/8888/progress", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "User 8888 not found"}


@pytest.mark.asyncio
async def test_get_user_progress_malformed_id_returns_422(client, auth_headers):
    """A user id that is not an integer in range: 422."""
    response = await client.get("/api/users/me/progress", headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]


@pytest.mark.asyncio
async def test_get_user_progress_without_token_returns_401(client, test_user):
    """No token: 401."""
    response = await client.get(f"/api/users/{test_user.id}/progress")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


# --- GET /api/groups/{group_id}/progress -------------------------------------------------


@pytest.mark.asyncio
async def test_get_group_progress_returns_every_member_times_every_course(
    client, test_db, manager_headers, user_headers, test_user, make_user, add_member, world
):
    """Every member (the owner too) in joining order times the group's courses in
    assignment order, with completed and total posts and the percentage."""
    second = await make_user(username="second")
    await add_member(world.group, second, role="moderator")
    await put(client, world.posts_a[0], "completed", user_headers)
    await put(client, world.posts_b[0], "completed", user_headers)
    await put(client, world.posts_a[1], "in_progress", user_headers)

    response = await client.get(f"/api/groups/{world.group.id}/progress", headers=manager_headers)

    assert response.status_code == 200

    def row(user_id, username, done):
        return {
            "user_id": user_id,
            "username": username,
            "courses": [
                {
                    "course_id": world.course.id,
                    "completed_posts": done,
                    "total_posts": 4,
                    "percent": done * 25,
                },
                {
                    "course_id": world.empty_course_id,
                    "completed_posts": 0,
                    "total_posts": 0,
                    "percent": 0,
                },
            ],
        }

    manager_id = (await client.get("/api/auth/me", headers=manager_headers)).json()["id"]
    assert response.json() == {
        "group_id": world.group.id,
        "courses": [
            {"course_id": world.course.id, "title": "Openings"},
            {"course_id": world.empty_course_id, "title": "Endgames"},
        ],
        "members": [
            row(manager_id, "manager", 0),
            row(test_user.id, "testuser", 2),
            row(second.id, "second", 0),
        ],
    }


@pytest.mark.asyncio
async def test_get_group_progress_counts_only_the_groups_courses(
    client, test_db, auth_headers, user_headers, make_course, world
):
    """Progress in a course the group does not have does not show in its view; a group
    without courses lists its members with empty course lists."""
    other = await make_course(title="Other")
    (post_id,) = await insert_posts(test_db, await insert_module(test_db, other.id))
    await put(client, post_id, "in_progress", auth_headers)  # admin sees every post

    response = await client.get(f"/api/groups/{world.group.id}/progress", headers=auth_headers)

    assert response.status_code == 200
    assert [c["course_id"] for c in response.json()["courses"]] == [
        world.course.id,
        world.empty_course_id,
    ]
    assert [m["courses"][0]["completed_posts"] for m in response.json()["members"]] == [0, 0]


@pytest.mark.asyncio
async def test_get_group_progress_group_without_courses_returns_members_only(
    client, manager_headers, make_group
):
    """A group with no course: `courses` empty, each member with `courses: []`."""
    group = await make_group(name="New group")

    response = await client.get(f"/api/groups/{group.id}/progress", headers=manager_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["group_id"] == group.id
    assert body["courses"] == []
    assert [(m["username"], m["courses"]) for m in body["members"]] == [("manager", [])]


@pytest.mark.asyncio
async def test_get_group_progress_group_without_members_returns_its_courses_only(
    client, auth_headers, test_db, make_group, make_course, assign_course
):
    """A group whose memberships are all gone (the API never removes the last owner; data
    kept from the older backend can lack one): its courses, in assignment order, and
    `members: []`."""
    group = await make_group(name="Empty group")
    first, second = await make_course(), await make_course()
    await assign_course(group, first)
    await assign_course(group, second)
    async with test_db.session() as session:
        await session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
        await session.commit()

    response = await client.get(f"/api/groups/{group.id}/progress", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == {
        "group_id": group.id,
        "courses": [
            {"course_id": first.id, "title": first.title},
            {"course_id": second.id, "title": second.title},
        ],
        "members": [],
    }


@pytest.mark.asyncio
async def test_get_group_progress_as_user_member_returns_403(client, user_headers, world):
    """A `user`, even a member of the group: 403 (the view is for staff)."""
    response = await client.get(f"/api/groups/{world.group.id}/progress", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_get_group_progress_as_manager_of_another_group_returns_403(
    client, make_user, make_group, make_auth_headers, world
):
    """A manager who owns another group but neither owns nor moderates this one: 403."""
    manager = await make_user(role="manager")
    await make_group(creator=manager)

    response = await client.get(
        f"/api/groups/{world.group.id}/progress", headers=make_auth_headers(manager)
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the progress of groups you own or moderate"
    }


@pytest.mark.asyncio
async def test_get_group_progress_as_moderator_manager_returns_200(
    client, make_user, add_member, make_auth_headers, test_user, world
):
    """A manager who moderates the group reads its view, every member listed."""
    moderator = await make_user(role="manager", username="mod")
    await add_member(world.group, moderator, "moderator")

    response = await client.get(
        f"/api/groups/{world.group.id}/progress", headers=make_auth_headers(moderator)
    )

    assert response.status_code == 200
    assert [m["username"] for m in response.json()["members"]] == ["manager", "testuser", "mod"]


@pytest.mark.asyncio
async def test_get_group_progress_unknown_group_returns_404(client, manager_headers):
    """An unknown group: 404."""
    response = await client.get("/api/groups/4040/progress", headers=manager_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 4040 not found"}


@pytest.mark.asyncio
async def test_get_group_progress_malformed_id_returns_422(client, manager_headers):
    """A group id that is not an integer: 422."""
    response = await client.get("/api/groups/x/progress", headers=manager_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "group_id"]


@pytest.mark.asyncio
async def test_get_group_progress_without_token_returns_401(client, world):
    """No token: 401."""
    response = await client.get(f"/api/groups/{world.group.id}/progress")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_progress_reads_dump_same_json_as_the_read_models(
    client, test_user, manager_headers, user_headers, world
):
    """The progress reads dump the services' dicts unvalidated: the bytes equal what the
    read models (`CourseProgress`, `GroupProgress`) make of the same values."""
    await put(client, world.posts_a[0], "completed", user_headers)
    await put(client, world.posts_b[0], "in_progress", user_headers)

    mine = await client.get("/api/progress", headers=user_headers)
    group = await client.get(f"/api/groups/{world.group.id}/progress", headers=manager_headers)

    models = TypeAdapter(list[CourseProgress]).validate_json(mine.content)
    assert mine.content == TypeAdapter(list[CourseProgress]).dump_json(models)
    assert models[0].last_activity_at is not None
    assert (
        group.content == GroupProgress.model_validate_json(group.content).model_dump_json().encode()
    )


async def group_counts(client, world, headers) -> dict:
    """{(user_id, course_id): completed_posts} of the group view."""
    body = (await client.get(f"/api/groups/{world.group.id}/progress", headers=headers)).json()
    return {
        (m["user_id"], c["course_id"]): (c["completed_posts"], c["total_posts"])
        for m in body["members"]
        for c in m["courses"]
    }


async def user_counts(client, user_id, headers) -> dict:
    """The same counts from the user's own progress (counted from the progress rows)."""
    body = (await client.get(f"/api/users/{user_id}/progress", headers=headers)).json()
    return {(user_id, c["course_id"]): (c["completed_posts"], c["total_posts"]) for c in body}


@pytest.mark.asyncio
async def test_get_group_progress_follows_post_moves_and_deletes(
    client, test_db, auth_headers, user_headers, test_user, make_course, assign_course, world
):
    """The group view's counts stay equal to the user's own through content edits: a
    completed post moved to a module of another course of the group, a completed post
    deleted, a module with completed posts deleted."""
    other = await make_course(title="Other")
    await assign_course(world.group, other)
    module_c = await insert_module(test_db, other.id, title="C")
    await insert_posts(test_db, module_c, 2)
    for post_id in (*world.posts_a, world.posts_b[0]):
        await put(client, post_id, "completed", user_headers)
    await put(client, world.posts_a[0], "completed", user_headers)  # again: no double count
    key = (test_user.id, world.course.id)
    steps = [await group_counts(client, world, auth_headers)]

    moved = await client.patch(
        f"/api/posts/{world.posts_a[0]}", json={"module_id": module_c}, headers=auth_headers
    )
    steps.append(await group_counts(client, world, auth_headers))
    deleted = await client.delete(f"/api/posts/{world.posts_a[1]}", headers=auth_headers)
    steps.append(await group_counts(client, world, auth_headers))
    gone = await client.delete(f"/api/modules/{world.module_b}", headers=auth_headers)
    steps.append(await group_counts(client, world, auth_headers))

    assert (moved.status_code, deleted.status_code, gone.status_code) == (200, 204, 204)
    assert [(s[key], s[(test_user.id, other.id)]) for s in steps] == [
        ((4, 4), (0, 2)),
        ((3, 3), (1, 3)),
        ((2, 2), (1, 3)),
        ((1, 1), (1, 3)),
    ]
    mine = await user_counts(client, test_user.id, auth_headers)
    assert {k: v for k, v in steps[-1].items() if k[0] == test_user.id} == mine


@pytest.mark.asyncio
async def test_delete_module_with_two_posts_completed_by_one_user_returns_204(
    client, auth_headers, manager_headers, user_headers, test_user, world
):
    """A module in which one user completed two posts can be deleted (PostgreSQL once
    refused it: the counter updated twice in the delete's cascade failed its foreign-key
    check), and its completions leave the course's counts."""
    for post_id in world.posts_a[:2]:
        await put(client, post_id, "completed", user_headers)
    key = (test_user.id, world.course.id)
    before = await group_counts(client, world, manager_headers)

    gone = await client.delete(f"/api/modules/{world.module_a}", headers=auth_headers)

    after = await group_counts(client, world, manager_headers)
    assert gone.status_code == 204
    assert (before[key], after[key]) == ((2, 4), (0, 1))
    mine = await user_counts(client, test_user.id, auth_headers)
    assert mine[key] == after[key]


@pytest.mark.asyncio
async def test_get_group_progress_follows_module_links_and_unlinks(
    client,
    auth_headers,
    manager_headers,
    user_headers,
    test_user,
    make_course,
    assign_course,
    world,
):
    """A module with completed posts linked to a second course of the group counts in both
    courses; unlinked from the first, it leaves that one's counts only."""
    other = await make_course(title="Other")
    await assign_course(world.group, other)
    for post_id in world.posts_a:
        await put(client, post_id, "completed", user_headers)
    first, second = (test_user.id, world.course.id), (test_user.id, other.id)
    steps = [await group_counts(client, world, manager_headers)]

    linked = await client.post(
        f"/api/courses/{other.id}/modules/{world.module_a}", headers=auth_headers
    )
    steps.append(await group_counts(client, world, manager_headers))
    unlinked = await client.delete(
        f"/api/courses/{world.course.id}/modules/{world.module_a}", headers=auth_headers
    )
    steps.append(await group_counts(client, world, manager_headers))

    assert (linked.status_code, unlinked.status_code) == (201, 204)
    assert [(s[first], s[second]) for s in steps] == [
        ((3, 4), (0, 0)),
        ((3, 4), (3, 3)),
        ((0, 1), (3, 3)),
    ]
    mine = await user_counts(client, test_user.id, auth_headers)
    assert {k: v for k, v in steps[-1].items() if k[0] == test_user.id} == mine


@pytest.mark.asyncio
async def test_get_group_progress_in_progress_then_completed_counts_once(
    client, manager_headers, user_headers, test_user, world
):
    """A post first `in_progress`, then `completed`, then `completed` again counts once."""
    await put(client, world.posts_b[0], "in_progress", user_headers)
    before = await group_counts(client, world, manager_headers)
    await put(client, world.posts_b[0], "completed", user_headers)
    await put(client, world.posts_b[0], "completed", user_headers)

    after = await group_counts(client, world, manager_headers)

    key = (test_user.id, world.course.id)
    assert (before[key], after[key]) == ((0, 4), (1, 4))
