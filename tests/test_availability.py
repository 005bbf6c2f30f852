"""When a module opens for a parent: the release schedule and sequential courses.

Contract: docs/contracts/courses.md ("Availability", GET /api/courses/{course_id} and its
outline, the link and assignment bodies), and the 403 of a module not open in
docs/contracts/modules.md, posts.md, quizzes.md and progress.md. The rule is one module,
tma.courses.availability; the time comes from the `clock` fixture (2026-03-05T10:00Z at
the start), never from a sleep.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio

from progress_factories import Quiz, insert_posts, insert_quiz
from tma.courses import availability
from tma.courses.models import Course, Module
from tma.groups.models import Group

START = date(2026, 3, 1)
OPEN = {"state": "open", "available_at": None, "reason": None}


@dataclass
class Schedule:
    """Course "Calm mornings" of group Oak (start 2026-03-01, `test_user` a member): module
    First opens on day 0, Second on day 7 (2026-03-08), Third on day 30."""

    course: Course
    group: Group
    first: Module
    second: Module
    third: Module


@pytest_asyncio.fixture
async def schedule(
    clock, test_user, make_group, add_member, make_course, assign_course, make_module, link_module
):
    group = await make_group(name="Oak")
    await add_member(group, test_user)
    course = await make_course(title="Calm mornings")
    await assign_course(group, course, start_date=START)
    first = await make_module(title="First")
    second = await make_module(title="Second")
    third = await make_module(title="Third")
    await link_module(course, first)
    await link_module(course, second, release_after_days=7)
    await link_module(course, third, release_after_days=30)
    return Schedule(course, group, first, second, third)


def availabilities(body: dict) -> list[dict]:
    return [item["availability"] for item in body["modules"]]


# --- the release schedule on the outline -------------------------------------------------


@pytest.mark.asyncio
async def test_course_detail_shows_each_module_open_or_scheduled_for_a_user(
    client, user_headers, schedule
):
    """GET /api/courses/{course_id} as a `user` on 2026-03-05: a module opens at 00:00 UTC of
    start + release_after_days; `available_at` that moment, `reason` when it is not open."""
    response = await client.get(f"/api/courses/{schedule.course.id}", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert [m["release_after_days"] for m in body["modules"]] == [0, 7, 30]
    assert availabilities(body) == [
        {"state": "open", "available_at": "2026-03-01T00:00:00Z", "reason": None},
        {
            "state": "scheduled",
            "available_at": "2026-03-08T00:00:00Z",
            "reason": "Opens at 2026-03-08T00:00:00Z",
        },
        {
            "state": "scheduled",
            "available_at": "2026-03-31T00:00:00Z",
            "reason": "Opens at 2026-03-31T00:00:00Z",
        },
    ]


@pytest.mark.asyncio
async def test_outline_shows_the_same_availability_as_the_detail(client, user_headers, schedule):
    """GET /api/courses/{course_id}/modules: the same items, availability included, as the
    course detail's `modules` (one rule), also in a window."""
    detail = await client.get(f"/api/courses/{schedule.course.id}", headers=user_headers)
    response = await client.get(
        f"/api/courses/{schedule.course.id}/modules?offset=1&limit=1", headers=user_headers
    )

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert response.json() == detail.json()["modules"][1:2]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_staff_always_see_every_module_open(
    client, auth_headers, manager_headers, schedule, role
):
    """Managers and admins see `open` with no time and no reason, whatever the schedule."""
    staff = auth_headers if role == "admin" else manager_headers
    detail = await client.get(f"/api/courses/{schedule.course.id}", headers=staff)
    outline = await client.get(f"/api/courses/{schedule.course.id}/modules", headers=staff)

    assert (detail.status_code, outline.status_code) == (200, 200)
    assert availabilities(detail.json()) == [OPEN] * 3
    assert [item["availability"] for item in outline.json()] == [OPEN] * 3


@pytest.mark.asyncio
async def test_a_module_opens_at_midnight_utc_of_its_release_day(
    client, user_headers, schedule, clock
):
    """One second before 2026-03-08T00:00Z the module is scheduled and its detail is 403 with
    the reason; at 00:00:00Z (seen from another time zone too) it is open and readable."""
    url = f"/api/modules/{schedule.second.id}"
    clock.set("2026-03-07T23:59:59Z")
    before = await client.get(url, headers=user_headers)
    clock.set("2026-03-07T19:00:00-05:00")  # the same instant as 00:00 UTC on the 8th
    at = await client.get(url, headers=user_headers)
    course = await client.get(f"/api/courses/{schedule.course.id}", headers=user_headers)

    assert before.status_code == 403
    assert before.json() == {"detail": "Opens at 2026-03-08T00:00:00Z"}
    assert at.status_code == 200
    assert at.json()["id"] == schedule.second.id
    assert availabilities(course.json())[1] == {
        "state": "open",
        "available_at": "2026-03-08T00:00:00Z",
        "reason": None,
    }


@pytest.mark.asyncio
async def test_the_earliest_start_over_the_users_groups_counts(
    client, user_headers, test_user, schedule, make_group, add_member, assign_course, clock
):
    """A second group of the user has the course from 2026-02-20: the modules open 9 days
    earlier (the earliest start over the user's groups that have the course)."""
    other = await make_group(name="Elm")
    await add_member(other, test_user)
    await assign_course(other, schedule.course, start_date=date(2026, 2, 20))

    response = await client.get(f"/api/courses/{schedule.course.id}", headers=user_headers)

    assert response.status_code == 200
    assert [a["available_at"] for a in availabilities(response.json())] == [
        "2026-02-20T00:00:00Z",
        "2026-02-27T00:00:00Z",
        "2026-03-22T00:00:00Z",
    ]
    assert [a["state"] for a in availabilities(response.json())] == ["open", "open", "scheduled"]


@pytest.mark.asyncio
async def test_moving_the_start_date_moves_the_schedule(
    client, user_headers, manager_headers, schedule
):
    """PATCH /api/groups/{group_id}/courses/{course_id} `{start_date}` by the group's staff:
    200 with the assignment; the modules open from the new day on (here later: the first
    module is scheduled again)."""
    response = await client.patch(
        f"/api/groups/{schedule.group.id}/courses/{schedule.course.id}",
        json={"start_date": "2026-03-10"},
        headers=manager_headers,
    )
    course = await client.get(f"/api/courses/{schedule.course.id}", headers=user_headers)
    listed = await client.get(f"/api/groups/{schedule.group.id}/courses", headers=manager_headers)

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("message", "group_id", "course_id", "start_date")} == {
        "message": "Course schedule updated",
        "group_id": schedule.group.id,
        "course_id": schedule.course.id,
        "start_date": "2026-03-10",
    }
    assert listed.json()[0]["start_date"] == "2026-03-10"
    assert [a["available_at"] for a in availabilities(course.json())] == [
        "2026-03-10T00:00:00Z",
        "2026-03-17T00:00:00Z",
        "2026-04-09T00:00:00Z",
    ]
    assert availabilities(course.json())[0]["state"] == "scheduled"


# --- sequential courses ------------------------------------------------------------------


@pytest_asyncio.fixture
async def sequential(client, auth_headers, user_course, make_module, link_module, test_db):
    """`user_course` made sequential (by the API) with modules Basics (2 posts), Practice
    (1 post) and Review (no post), all released."""
    response = await client.patch(
        f"/api/courses/{user_course.id}", json={"sequential": True}, headers=auth_headers
    )
    assert response.status_code == 200
    assert response.json()["sequential"] is True
    modules = [await make_module(title=t) for t in ("Basics", "Practice", "Review")]
    for module in modules:
        await link_module(user_course, module)
    basics = await insert_posts(test_db, modules[0].id, 2)
    practice = await insert_posts(test_db, modules[1].id, 1)
    return user_course, modules, basics, practice


async def complete(client, headers, post_id):
    response = await client.put(
        f"/api/progress/{post_id}", json={"status": "completed"}, headers=headers
    )
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_sequential_course_locks_a_module_until_the_one_before_is_finished(
    client, user_headers, sequential
):
    """In a sequential course a `user`'s module is `locked` (the reason names the module
    before) until every post of the module before is completed; a module after an empty
    module is open once it is reached (nothing to finish)."""
    course, modules, basics, practice = sequential
    url = f"/api/courses/{course.id}"
    at_first = await client.get(url, headers=user_headers)
    refused = await client.get(f"/api/modules/{modules[1].id}", headers=user_headers)
    await complete(client, user_headers, basics[0])
    halfway = await client.get(url, headers=user_headers)
    await complete(client, user_headers, basics[1])
    basics_done = await client.get(url, headers=user_headers)
    await complete(client, user_headers, practice[0])
    everything = await client.get(url, headers=user_headers)

    assert at_first.status_code == 200
    assert [(a["state"], a["reason"]) for a in availabilities(at_first.json())] == [
        ("open", None),
        ("locked", 'Complete "Basics" first'),
        ("locked", 'Complete "Practice" first'),
    ]
    assert refused.status_code == 403
    assert refused.json() == {"detail": 'Complete "Basics" first'}
    assert [a["state"] for a in availabilities(halfway.json())] == ["open", "locked", "locked"]
    assert [a["state"] for a in availabilities(basics_done.json())] == ["open", "open", "locked"]
    assert [a["state"] for a in availabilities(everything.json())] == ["open"] * 3


@pytest.mark.asyncio
async def test_sequential_lock_is_for_users_only(client, manager_headers, sequential):
    """Staff see every module of a sequential course open and read them."""
    course, modules, _, _ = sequential
    detail = await client.get(f"/api/courses/{course.id}", headers=manager_headers)
    module = await client.get(f"/api/modules/{modules[2].id}", headers=manager_headers)

    assert (detail.status_code, module.status_code) == (200, 200)
    assert availabilities(detail.json()) == [OPEN] * 3


@pytest.mark.asyncio
async def test_a_release_still_to_come_shows_scheduled_before_a_lock(
    client, user_headers, sequential, auth_headers
):
    """A module both locked and not yet released is `scheduled` (it gives the time); once
    released it is `locked` until the module before is finished."""
    course, modules, _, _ = sequential
    response = await client.patch(
        f"/api/courses/{course.id}/modules/{modules[1].id}",
        json={"release_after_days": 3650},
        headers=auth_headers,
    )
    outline = await client.get(f"/api/courses/{course.id}/modules", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["release_after_days"] == 3650
    assert response.json()["availability"] == OPEN  # the admin's view
    assert outline.status_code == 200
    assert [item["availability"]["state"] for item in outline.json()] == [
        "open",
        "scheduled",
        "locked",
    ]


@pytest.mark.asyncio
async def test_a_module_open_in_one_of_the_users_courses_is_open_to_them(
    client,
    user_headers,
    sequential,
    make_course,
    make_group,
    add_member,
    test_user,
    assign_course,
    link_module,
):
    """The module detail is 403 only when the module is open in none of the user's courses:
    Practice, locked in the sequential course, is read through another course."""
    course, modules, _, _ = sequential
    url = f"/api/modules/{modules[1].id}"
    locked = await client.get(url, headers=user_headers)
    other = await make_course(title="Free practice")
    group = await make_group()
    await add_member(group, test_user)
    await assign_course(group, other)
    await link_module(other, modules[1])

    response = await client.get(url, headers=user_headers)

    assert locked.status_code == 403
    assert response.status_code == 200
    assert response.json()["course_ids"] == sorted([course.id, other.id])


# --- 403 with the reason on everything inside a module not open ---------------------------


@dataclass
class Inside:
    """Module Second (scheduled for 2026-03-08) of `schedule`, with a text post and a quiz."""

    module_id: int
    post_id: int
    quiz: Quiz


@pytest_asyncio.fixture
async def inside(schedule, test_db):
    (post_id,) = await insert_posts(test_db, schedule.second.id)
    quiz = await insert_quiz(test_db, schedule.second.id)
    return Inside(schedule.second.id, post_id, quiz)


REASON = {"detail": "Opens at 2026-03-08T00:00:00Z"}


@pytest.mark.asyncio
async def test_posts_of_a_module_not_open_are_403_with_the_reason(
    client, user_headers, inside, clock
):
    """GET /api/posts/{post_id} and GET /api/posts?module_id= of a scheduled module: 403
    with when it opens; on the day, 200."""
    detail = await client.get(f"/api/posts/{inside.post_id}", headers=user_headers)
    listed = await client.get(f"/api/posts?module_id={inside.module_id}", headers=user_headers)
    past_end = await client.get(
        f"/api/posts?module_id={inside.module_id}&offset=5", headers=user_headers
    )
    clock.set("2026-03-08T00:00:00Z")
    opened = await client.get(f"/api/posts/{inside.post_id}", headers=user_headers)
    opened_list = await client.get(f"/api/posts?module_id={inside.module_id}", headers=user_headers)

    assert (detail.status_code, detail.json()) == (403, REASON)
    assert (listed.status_code, listed.json()) == (403, REASON)
    assert (past_end.status_code, past_end.json()) == (403, REASON)
    assert opened.status_code == 200
    assert opened_list.status_code == 200
    assert [p["id"] for p in opened_list.json()] == [inside.post_id, inside.quiz.post_id]


@pytest.mark.asyncio
async def test_the_post_list_leaves_out_posts_of_modules_not_open_to_a_user(
    client, user_headers, manager_headers, inside, schedule, test_db, clock
):
    """GET /api/posts (no filter) as a `user`: the posts of modules open to them only (their
    content is not readable before); staff see them all; on the release day they appear."""
    (first_post,) = await insert_posts(test_db, schedule.first.id)
    mine = await client.get("/api/posts", headers=user_headers)
    staff = await client.get("/api/posts", headers=manager_headers)
    clock.set("2026-03-08T00:00:00Z")
    later = await client.get("/api/posts", headers=user_headers)

    assert mine.status_code == 200
    assert [p["id"] for p in mine.json()] == [first_post]
    assert mine.headers["X-Total-Count"] == "1"
    assert sorted(p["id"] for p in staff.json()) == sorted(
        [first_post, inside.post_id, inside.quiz.post_id]
    )
    assert sorted(p["id"] for p in later.json()) == sorted(
        [first_post, inside.post_id, inside.quiz.post_id]
    )


@pytest.mark.asyncio
async def test_quiz_and_attempts_of_a_module_not_open_are_403_with_the_reason(
    client, user_headers, inside
):
    """GET /api/quizzes/{post_id}, POST and GET .../attempts, PUT /api/progress/{post_id}:
    403 with the reason; nothing is written (no attempt, no progress)."""
    quiz = await client.get(f"/api/quizzes/{inside.quiz.post_id}", headers=user_headers)
    start = await client.post(f"/api/quizzes/{inside.quiz.post_id}/attempts", headers=user_headers)
    attempts = await client.get(
        f"/api/quizzes/{inside.quiz.post_id}/attempts", headers=user_headers
    )
    progress = await client.put(
        f"/api/progress/{inside.post_id}", json={"status": "completed"}, headers=user_headers
    )
    mine = await client.get("/api/progress", headers=user_headers)

    for response in (quiz, start, attempts, progress):
        assert (response.status_code, response.json()) == (403, REASON)
    assert mine.status_code == 200
    assert [c["completed_posts"] for c in mine.json()] == [0]


@pytest.mark.asyncio
async def test_submit_after_the_module_closed_again_is_403_with_the_reason(
    client, user_headers, manager_headers, schedule, inside, clock
):
    """An attempt started while the module was open cannot be submitted once the group's
    start moved so that the module is scheduled again: 403 with the new opening time; the
    attempt stays in progress and is submitted once the module opens again."""
    clock.set("2026-03-09T08:00:00Z")
    started = await client.post(
        f"/api/quizzes/{inside.quiz.post_id}/attempts", headers=user_headers
    )
    moved = await client.patch(
        f"/api/groups/{schedule.group.id}/courses/{schedule.course.id}",
        json={"start_date": "2026-03-05"},
        headers=manager_headers,
    )
    answers = {
        "answers": [
            {"question_id": q, "option_ids": c}
            for q, c in zip(inside.quiz.questions, inside.quiz.correct, strict=True)
        ]
    }
    url = f"/api/quiz-attempts/{started.json()['id']}/submit"
    refused = await client.post(url, json=answers, headers=user_headers)
    clock.set("2026-03-12T00:00:00Z")
    submitted = await client.post(url, json=answers, headers=user_headers)

    assert started.status_code == 201
    assert moved.status_code == 200
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Opens at 2026-03-12T00:00:00Z"}
    assert submitted.status_code == 200
    assert submitted.json()["passed"] is True


@pytest.mark.asyncio
async def test_staff_read_and_write_inside_a_module_not_open_to_users(
    client, manager_headers, auth_headers, inside
):
    """Staff are never refused by the schedule: module, post, quiz."""
    module = await client.get(f"/api/modules/{inside.module_id}", headers=manager_headers)
    post = await client.get(f"/api/posts/{inside.post_id}", headers=auth_headers)
    quiz = await client.get(f"/api/quizzes/{inside.quiz.post_id}", headers=manager_headers)

    assert (module.status_code, post.status_code, quiz.status_code) == (200, 200, 200)


@pytest.mark.asyncio
async def test_bundle_lists_a_module_not_open_with_no_posts_until_it_opens(
    client, user_headers, manager_headers, schedule, inside, test_db, clock
):
    """GET /api/courses/{course_id}/bundle (companion §1): a `user`'s module not open is
    listed (its `post_count` still counts its posts) with `posts: []`; the outline item
    says why; staff get every module's posts; on the release day the posts are in it."""
    (first_post,) = await insert_posts(test_db, schedule.first.id)
    url = f"/api/courses/{schedule.course.id}/bundle"
    mine = await client.get(url, headers=user_headers)
    staff = await client.get(url, headers=manager_headers)
    clock.set("2026-03-08T00:00:00Z")
    later = await client.get(url, headers=user_headers)

    assert (mine.status_code, staff.status_code, later.status_code) == (200, 200, 200)
    modules = mine.json()["modules"]
    assert [m["id"] for m in modules] == [schedule.first.id, schedule.second.id, schedule.third.id]
    assert [[p["id"] for p in m["posts"]] for m in modules] == [[first_post], [], []]
    assert [m["post_count"] for m in modules] == [1, 2, 0]
    assert [a["state"] for a in availabilities(mine.json()["course"])] == [
        "open",
        "scheduled",
        "scheduled",
    ]
    assert [[p["id"] for p in m["posts"]] for m in staff.json()["modules"]] == [
        [first_post],
        [inside.post_id, inside.quiz.post_id],
        [],
    ]
    assert [[p["id"] for p in m["posts"]] for m in later.json()["modules"]] == [
        [first_post],
        [inside.post_id, inside.quiz.post_id],
        [],
    ]
    assert mine.headers["ETag"] != later.headers["ETag"]


@pytest.mark.asyncio
async def test_sync_event_in_a_module_not_open_is_forbidden_until_it_opens(
    client, user_headers, inside, clock
):
    """POST /api/progress/sync: an event on a post of a module not open to the `user` is
    `forbidden` (as the 403 of PUT /api/progress/{post_id}), `progress` null, not
    remembered; the same event once the module opened is applied."""
    body = {
        "events": [
            {
                "event_id": "e1",
                "post_id": inside.post_id,
                "status": "completed",
                "occurred_at": "2026-03-05T09:00:00Z",
            }
        ]
    }
    refused = await client.post("/api/progress/sync", json=body, headers=user_headers)
    clock.set("2026-03-08T00:00:00Z")
    applied = await client.post("/api/progress/sync", json=body, headers=user_headers)

    assert refused.status_code == 200
    assert refused.json()["results"] == [
        {"event_id": "e1", "result": "forbidden", "progress": None}
    ]
    assert applied.status_code == 200
    (result,) = applied.json()["results"]
    assert result["result"] == "applied"
    assert result["progress"]["status"] == "completed"
    assert result["progress"]["completed_at"] == "2026-03-05T09:00:00Z"


# --- writing the schedule ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_link_body_sets_release_after_days_shown_on_the_outline(
    client, auth_headers, make_course, make_module
):
    """POST /api/courses/{course_id}/modules/{module_id} `{release_after_days}`: 201 with it
    on the item; without it 0; PATCH may change it alone (the place stays)."""
    course = await make_course()
    first, second = await make_module(), await make_module()
    url = f"/api/courses/{course.id}/modules"
    linked = await client.post(
        f"{url}/{first.id}", json={"release_after_days": 14}, headers=auth_headers
    )
    plain = await client.post(f"{url}/{second.id}", headers=auth_headers)
    changed = await client.patch(
        f"{url}/{second.id}", json={"release_after_days": 0}, headers=auth_headers
    )
    moved = await client.patch(f"{url}/{second.id}", json={"ordering": 1}, headers=auth_headers)

    assert linked.status_code == 201
    assert (linked.json()["release_after_days"], linked.json()["availability"]) == (14, OPEN)
    assert plain.status_code == 201
    assert plain.json()["release_after_days"] == 0
    assert changed.status_code == 200
    assert (changed.json()["ordering"], changed.json()["release_after_days"]) == (2, 0)
    assert moved.status_code == 200
    assert (moved.json()["ordering"], moved.json()["release_after_days"]) == (1, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"release_after_days": -1},
        {"release_after_days": 3651},
        {"release_after_days": "7"},
        {"release_after_days": True},
        {"release_after_days": None},
        {"ordering": None},
    ],
)
async def test_link_patch_body_out_of_shape_is_422(
    client, auth_headers, make_course, make_module, link_module, body
):
    """PATCH of a link: an empty body, days outside 0..3650, not an integer, or a null is
    422 (a POST takes the same `release_after_days` rule)."""
    course, module = await make_course(), await make_module()
    await link_module(course, module)

    response = await client.patch(
        f"/api/courses/{course.id}/modules/{module.id}", json=body, headers=auth_headers
    )
    posted = await client.post(
        f"/api/courses/{course.id}/modules/{module.id}",
        json={"release_after_days": 3651},
        headers=auth_headers,
    )

    assert response.status_code == 422
    assert posted.status_code == 422


@pytest.mark.asyncio
async def test_assignment_starts_today_by_default_or_on_the_given_day(
    client, manager_headers, make_course, make_group, manager_user, clock
):
    """POST /api/groups/{group_id}/courses/{course_id}: `start_date` is the (clock's) UTC
    day of the assignment unless the body gives one; both shown in the group's courses."""
    group = await make_group(creator=manager_user)
    first, second = await make_course(title="A"), await make_course(title="B")
    clock.set("2026-03-05T23:30:00-05:00")  # 04:30 UTC on the 6th
    today = await client.post(f"/api/groups/{group.id}/courses/{first.id}", headers=manager_headers)
    given = await client.post(
        f"/api/groups/{group.id}/courses/{second.id}",
        json={"start_date": "2026-04-01"},
        headers=manager_headers,
    )
    listed = await client.get(f"/api/groups/{group.id}/courses", headers=manager_headers)

    assert (today.status_code, today.json()["start_date"]) == (201, "2026-03-06")
    assert (given.status_code, given.json()["start_date"]) == (201, "2026-04-01")
    assert [(c["title"], c["start_date"]) for c in listed.json()] == [
        ("A", "2026-03-06"),
        ("B", "2026-04-01"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"start_date": None},
        {"start_date": "2026-3-1"},
        {"start_date": "2026-02-30"},
        {"start_date": 20260301},
        {"start_date": "1999-12-31"},
        {"start_date": "3000-01-01"},
        {"start_date": "2026-03-01", "ordering": 1},
    ],
)
async def test_schedule_patch_body_out_of_shape_is_422(client, manager_headers, schedule, body):
    """PATCH /api/groups/{group_id}/courses/{course_id}: `start_date` is required, a
    YYYY-MM-DD day from 2000-01-01 to 2999-12-31; other fields are refused: 422."""
    response = await client.patch(
        f"/api/groups/{schedule.group.id}/courses/{schedule.course.id}",
        json=body,
        headers=manager_headers,
    )

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_schedule_patch_refusals(client, user_headers, auth_headers, schedule, make_course):
    """401 without a token; 403 for a `user` (staff set it, as they assign courses); 404
    for a course not assigned to the group, an unknown course or group; the start is
    unchanged."""
    url = f"/api/groups/{schedule.group.id}/courses/{schedule.course.id}"
    body = {"start_date": "2026-05-01"}
    unassigned = await make_course()

    anonymous = await client.patch(url, json=body)
    as_user = await client.patch(url, json=body, headers=user_headers)
    not_assigned = await client.patch(
        f"/api/groups/{schedule.group.id}/courses/{unassigned.id}", json=body, headers=auth_headers
    )
    no_course = await client.patch(
        f"/api/groups/{schedule.group.id}/courses/{2**62}", json=body, headers=auth_headers
    )
    no_group = await client.patch(
        f"/api/groups/{2**62}/courses/{schedule.course.id}", json=body, headers=auth_headers
    )
    listed = await client.get(f"/api/groups/{schedule.group.id}/courses", headers=auth_headers)

    assert anonymous.status_code == 401
    assert as_user.status_code == 403
    assert not_assigned.status_code == 404
    assert not_assigned.json() == {
        "detail": f"Assignment not found: course {unassigned.id} is not assigned to this group"
    }
    assert no_course.status_code == 404
    assert no_course.json() == {"detail": f"Course {2**62} not found"}
    assert no_group.status_code == 404
    assert listed.json()[0]["start_date"] == "2026-03-01"


@pytest.mark.asyncio
async def test_course_sequential_is_set_on_create_and_refused_as_null(client, auth_headers):
    """POST /api/courses `{sequential: true}` keeps it; PATCH `{sequential: null}` and a
    `sequential` that is not a JSON boolean are 422."""
    created = await client.post(
        "/api/courses", json={"title": "Step by step", "sequential": True}, headers=auth_headers
    )
    nulled = await client.patch(
        f"/api/courses/{created.json()['id']}", json={"sequential": None}, headers=auth_headers
    )
    worded = await client.post(
        "/api/courses", json={"title": "Maybe", "sequential": "yes"}, headers=auth_headers
    )

    assert created.status_code == 201
    assert created.json()["sequential"] is True
    assert nulled.status_code == 422
    assert worded.status_code == 422


# --- for other packages: when modules open ------------------------------------------------


@pytest.mark.asyncio
async def test_module_access_and_opened_between(test_db, test_user, schedule, make_user):
    """`module_access`: the module's availability for a user at a time. `opened_between`:
    the (user, module) pairs the schedule opened in (after, until], staff left out, a
    module already open through another course left out."""
    at = datetime(2026, 3, 8, 0, 0, tzinfo=UTC)
    outsider = await make_user()
    async with test_db.session() as session:
        before = await availability.module_access(
            session,
            module_id=schedule.second.id,
            user_id=test_user.id,
            now=at - timedelta(seconds=1),
        )
        after = await availability.module_access(
            session, module_id=schedule.second.id, user_id=test_user.id, now=at
        )
        stranger = await availability.module_access(
            session, module_id=schedule.second.id, user_id=outsider.id, now=at
        )
        week = await availability.opened_between(
            session, after=datetime(2026, 3, 2, 12, tzinfo=UTC), until=at
        )
        month = await availability.opened_between(
            session, after=at, until=datetime(2026, 4, 1, tzinfo=UTC)
        )
        first_day = await availability.opened_between(
            session, after=datetime(2026, 2, 28, tzinfo=UTC), until=datetime(2026, 3, 1, tzinfo=UTC)
        )

    assert before == availability.Availability(
        availability.State.SCHEDULED, at, "Opens at 2026-03-08T00:00:00Z"
    )
    assert after == availability.Availability(availability.State.OPEN, at, None)
    assert stranger is None  # sees the module in no course
    assert week == [availability.Opened(test_user.id, schedule.second.id, schedule.course.id, at)]
    assert month == [
        availability.Opened(
            test_user.id,
            schedule.third.id,
            schedule.course.id,
            datetime(2026, 3, 31, tzinfo=UTC),
        )
    ]
    assert first_day == [
        availability.Opened(
            test_user.id, schedule.first.id, schedule.course.id, datetime(2026, 3, 1, tzinfo=UTC)
        )
    ]


@pytest.mark.asyncio
async def test_an_attachment_of_a_module_not_open_is_403_by_token_until_it_opens(
    client, user_headers, schedule, upload_file, make_post, clock
):
    """GET /api/files/{file_id} with a `user`'s token: an attachment whose only post is in a
    scheduled module is 403 (`You don't have access to this file`); on the release day 200."""
    uploaded = await upload_file()
    await make_post(schedule.second, "attachment", file_id=uploaded["id"])

    before = await client.get(uploaded["url"], headers=user_headers)
    clock.set("2026-03-08T00:00:00Z")
    after = await client.get(uploaded["url"], headers=user_headers)

    assert before.status_code == 403
    assert before.json() == {"detail": "You don't have access to this file"}
    assert after.status_code == 200


@pytest.mark.asyncio
async def test_opened_between_takes_each_pair_once_at_its_earliest_release(
    client,
    auth_headers,
    test_db,
    test_user,
    schedule,
    make_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    link_module,
):
    """Module Second is also in course Extra (the user's other group, started 2026-03-04,
    released on day 2: 2026-03-06): in (2026-03-02, 2026-03-08] it opened once for the user,
    at 2026-03-06, through Extra. Another parent whose group started the course on
    2026-03-03 gets First then (day 0), and Second (day 7: 2026-03-10) in (03-08, 03-10].
    Once the course is sequential, a parent who has not finished First is left out."""
    extra = await make_course(title="Extra")
    elm = await make_group(name="Elm")
    await add_member(elm, test_user)
    await assign_course(elm, extra, start_date=date(2026, 3, 4))
    await link_module(extra, schedule.second, release_after_days=2)
    other = await make_user()
    birch = await make_group(name="Birch")
    await add_member(birch, other)
    await assign_course(birch, schedule.course, start_date=date(2026, 3, 3))
    window = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    later = (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    async with test_db.session() as session:
        first = await availability.opened_between(session, after=window[0], until=window[1])
        second = await availability.opened_between(session, after=later[0], until=later[1])
    await insert_posts(test_db, schedule.first.id)
    made = await client.patch(
        f"/api/courses/{schedule.course.id}", json={"sequential": True}, headers=auth_headers
    )
    async with test_db.session() as session:
        locked = await availability.opened_between(session, after=later[0], until=later[1])

    assert first == [
        availability.Opened(
            test_user.id, schedule.second.id, extra.id, datetime(2026, 3, 6, tzinfo=UTC)
        ),
        availability.Opened(
            other.id, schedule.first.id, schedule.course.id, datetime(2026, 3, 3, tzinfo=UTC)
        ),
    ]
    assert second == [
        availability.Opened(
            other.id, schedule.second.id, schedule.course.id, datetime(2026, 3, 10, tzinfo=UTC)
        )
    ]
    assert made.status_code == 200
    assert locked == []
