"""When a module opens for a parent: the release schedule and sequential courses.

Contract: docs/contracts/courses.md ("Availability", GET /api/courses/{course_id} and its
outline, the link and assignment bodies), and the 403 of a module not open in
docs/contracts/modules.md, posts.md, quizzes.md and progress.md. The rule is one module,
tma.courses.availability; the time comes from the `clock` fixture (2026-03-05T10:00Z at
the start), never from a sleep.
"""

from dataclasses import dataclass
from datetime import date

import pytest
import pytest_asyncio

from progress_factories import insert_posts
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
