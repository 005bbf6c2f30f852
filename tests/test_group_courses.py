"""Contract tests for a group's courses: list, assign, unassign.

Contract: docs/contracts/groups.md. Anyone who may see the group may list its courses, in
assignment `ordering`; assigning and unassigning need a manager or an admin.
"""

from datetime import UTC, datetime

import pytest

COURSE_FIELDS = {
    "id",
    "title",
    "description",
    "created_at",
    "updated_at",
    "module_count",
    "sequential",
}
ASSIGNED_FIELDS = {"message", "group_id", "course_id", "ordering", "date_assigned", "start_date"}
GROUP_COURSE_FIELDS = COURSE_FIELDS | {"start_date"}
TOO_BIG_ID = 2**63  # one past the largest 64-bit id


async def course_ids_of(client, group_id, headers):
    """The ids of the group's courses in the order the API lists them."""
    response = await client.get(f"/api/groups/{group_id}/courses", headers=headers)
    assert response.status_code == 200
    return [c["id"] for c in response.json()]


# --- GET /api/groups/{group_id}/courses --------------------------------------------------


@pytest.mark.asyncio
async def test_list_group_courses_returns_courses_in_assignment_ordering(
    client, auth_headers, make_group, make_course, assign_course
):
    """Courses come by their assignment `ordering`, not by age; each has exactly the Course
    fields; X-Total-Count is the number of assigned courses."""
    group = await make_group()
    basics = await make_course(title="Basics", description="How pieces move")
    tactics = await make_course(title="Tactics")
    endgames = await make_course(title="Endgames")
    await make_course(title="Not assigned")
    await assign_course(group, basics, ordering=2)
    await assign_course(group, tactics, ordering=0)
    await assign_course(group, endgames, ordering=1)

    response = await client.get(f"/api/groups/{group.id}/courses", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    body = response.json()
    assert [set(c) for c in body] == [GROUP_COURSE_FIELDS] * 3
    assert [c["title"] for c in body] == ["Tactics", "Endgames", "Basics"]
    last = body[2]
    assert {k: last[k] for k in ("id", "title", "description", "module_count")} == {
        "id": basics.id,
        "title": "Basics",
        "description": "How pieces move",
        "module_count": 0,
    }
    assert datetime.fromisoformat(last["created_at"]).astimezone(UTC) == basics.created_at


@pytest.mark.asyncio
async def test_list_group_courses_as_member_user_returns_200(
    client, user_headers, test_user, make_group, add_member, make_course, assign_course
):
    """A `user` in the group sees its courses."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)

    response = await client.get(f"/api/groups/{group.id}/courses", headers=user_headers)

    assert response.status_code == 200
    assert [(c["id"], c["title"]) for c in response.json()] == [(course.id, "Openings")]


@pytest.mark.asyncio
async def test_list_group_courses_without_courses_returns_empty_list(
    client, manager_headers, make_group
):
    """A group without courses lists none, total 0."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}/courses", headers=manager_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.asyncio
async def test_list_group_courses_with_limit_and_offset_returns_window(
    client, auth_headers, make_group, make_course, assign_course
):
    """`limit`/`offset` cut a window out of the ordered list; X-Total-Count stays whole."""
    group = await make_group()
    courses = [await make_course(title=f"Course {n}") for n in range(4)]
    for course in courses:
        await assign_course(group, course)

    response = await client.get(
        f"/api/groups/{group.id}/courses?limit=2&offset=2", headers=auth_headers
    )

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [c["id"] for c in response.json()] == [courses[2].id, courses[3].id]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset")],
)
async def test_list_group_courses_bad_pagination_returns_422(
    client, auth_headers, make_group, query, param
):
    """`limit` must be 1..1000 and `offset` >= 0: else 422."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}/courses?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["query", param]]


@pytest.mark.asyncio
async def test_list_group_courses_as_non_member_user_returns_403(
    client, user_headers, make_group, make_course, assign_course
):
    """A `user` outside the group may not list its courses: 403."""
    group = await make_group()
    await assign_course(group, await make_course())

    response = await client.get(f"/api/groups/{group.id}/courses", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this group"}


@pytest.mark.asyncio
async def test_list_group_courses_unknown_group_returns_404(client, auth_headers):
    """A group id that names no group: 404."""
    response = await client.get("/api/groups/121212/courses", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 121212 not found"}


@pytest.mark.asyncio
async def test_list_group_courses_group_id_outside_64_bit_returns_422(client, auth_headers):
    """`group_id` past 2^63-1: 422, never a 500."""
    response = await client.get(f"/api/groups/{TOO_BIG_ID}/courses", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "group_id"]]


@pytest.mark.asyncio
async def test_list_group_courses_without_token_returns_401(client, make_group):
    """No bearer token: 401."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}/courses")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_list_group_courses_disabled_member_returns_403(
    client, make_group, make_user, add_member, make_auth_headers
):
    """A disabled account is refused even for its own group: 403 "account disabled"."""
    group = await make_group()
    disabled = await make_user(is_active=False)
    await add_member(group, disabled)

    response = await client.get(
        f"/api/groups/{group.id}/courses", headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- POST /api/groups/{group_id}/courses/{course_id} -------------------------------------


@pytest.mark.asyncio
async def test_assign_course_without_body_returns_201_with_ordering_0(
    client, manager_headers, make_group, make_course
):
    """The first course assigned without a body gets ordering 0; the group then lists it."""
    group = await make_group()
    course = await make_course()
    before = datetime.now(UTC)

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=manager_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == ASSIGNED_FIELDS
    assert {k: body[k] for k in ("message", "group_id", "course_id", "ordering")} == {
        "message": "Course assigned to group",
        "group_id": group.id,
        "course_id": course.id,
        "ordering": 0,
    }
    assert before <= datetime.fromisoformat(body["date_assigned"]) <= datetime.now(UTC)
    assert await course_ids_of(client, group.id, manager_headers) == [course.id]


@pytest.mark.asyncio
async def test_assign_course_without_ordering_goes_last(
    client, auth_headers, make_group, make_course, assign_course
):
    """Without `ordering` the course goes after the highest ordering already in the group."""
    group = await make_group()
    first = await make_course()
    await assign_course(group, first, ordering=7)
    second = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{second.id}", headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json()["ordering"] == 8
    assert await course_ids_of(client, group.id, auth_headers) == [first.id, second.id]


@pytest.mark.asyncio
async def test_assign_course_with_ordering_places_it_there(
    client, auth_headers, make_group, make_course, assign_course
):
    """An explicit `ordering` is stored as given and decides the list position."""
    group = await make_group()
    later = await make_course()
    await assign_course(group, later, ordering=5)
    earlier = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{earlier.id}", json={"ordering": 1}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json()["ordering"] == 1
    assert await course_ids_of(client, group.id, auth_headers) == [earlier.id, later.id]


@pytest.mark.asyncio
async def test_assign_course_makes_it_visible_to_group_members(
    client, auth_headers, make_group, make_user, add_member, make_course, make_auth_headers
):
    """After the assignment a `user` of the group may read the course."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)
    course = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers
    )

    assert response.status_code == 201
    read = await client.get(f"/api/courses/{course.id}", headers=make_auth_headers(parent))
    assert read.status_code == 200


@pytest.mark.asyncio
async def test_assign_course_already_assigned_returns_400_and_keeps_ordering(
    client, auth_headers, make_group, make_course, assign_course
):
    """Assigning a course twice is a conflict: 400, the first assignment stays as it was."""
    group = await make_group()
    course = await make_course()
    await assign_course(group, course, ordering=3)

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", json={"ordering": 0}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Course is already assigned to this group"}
    assert await course_ids_of(client, group.id, auth_headers) == [course.id]


@pytest.mark.asyncio
async def test_assign_course_unknown_course_returns_404(client, auth_headers, make_group):
    """A course id that names no course: 404, nothing assigned."""
    group = await make_group()

    response = await client.post(f"/api/groups/{group.id}/courses/434343", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 434343 not found"}
    assert await course_ids_of(client, group.id, auth_headers) == []


@pytest.mark.asyncio
async def test_assign_course_unknown_group_returns_404(client, auth_headers, make_course):
    """A group id that names no group: 404."""
    course = await make_course()

    response = await client.post(f"/api/groups/545454/courses/{course.id}", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 545454 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"ordering": -1}, ["body", "ordering"]),
        ({"ordering": 2**31}, ["body", "ordering"]),
        ({"ordering": 2**70}, ["body", "ordering"]),
        ({"ordering": "first"}, ["body", "ordering"]),
        ({"ordering": None}, ["body"]),
        ({"ordering": 1, "group_id": 2}, ["body", "group_id"]),
    ],
    ids=["negative", "past-int32", "huge", "text", "null", "unknown-field"],
)
async def test_assign_course_malformed_body_returns_422_and_assigns_nothing(
    client, auth_headers, make_group, make_course, payload, loc
):
    """`ordering` must be an integer 0..2^31-1 and no other field is allowed: else 422."""
    group = await make_group()
    course = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", json=payload, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert await course_ids_of(client, group.id, auth_headers) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("course_id", [str(TOO_BIG_ID), "0", "abc"])
async def test_assign_course_course_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, make_group, course_id
):
    """`course_id` must be an integer in 1..2^63-1: 422, never a 500."""
    group = await make_group()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course_id}", headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "course_id"]]


@pytest.mark.asyncio
async def test_assign_course_as_user_returns_403_and_assigns_nothing(
    client, auth_headers, test_user, user_headers, make_group, add_member, make_course
):
    """A `user`, even a member of the group, may not assign courses: 403."""
    group = await make_group()
    await add_member(group, test_user, "owner")
    course = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=user_headers
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await course_ids_of(client, group.id, auth_headers) == []


@pytest.mark.asyncio
async def test_assign_course_without_token_returns_401(client, make_group, make_course):
    """No bearer token: 401."""
    group = await make_group()
    course = await make_course()

    response = await client.post(f"/api/groups/{group.id}/courses/{course.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_assign_course_disabled_manager_returns_403(
    client, make_group, make_course, make_user, make_auth_headers
):
    """A disabled manager is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    group = await make_group()
    course = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_list_group_courses_same_ordering_earlier_assignment_first(
    client, manager_headers, make_group, make_course
):
    """Two courses sharing an ordering are listed by when they were assigned, not by id:
    the newer course, assigned first, comes first."""
    group = await make_group()
    older = await make_course(title="Older")
    newer = await make_course(title="Newer")
    for course in (newer, older):
        assigned = await client.post(
            f"/api/groups/{group.id}/courses/{course.id}",
            json={"ordering": 3},
            headers=manager_headers,
        )
        assert assigned.status_code == 201

    assert await course_ids_of(client, group.id, manager_headers) == [newer.id, older.id]


# --- DELETE /api/groups/{group_id}/courses/{course_id} -----------------------------------


@pytest.mark.asyncio
async def test_unassign_course_returns_204_and_keeps_the_course(
    client, manager_headers, make_group, make_course, assign_course
):
    """Unassigning: 204 with an empty body; the group no longer lists the course, which
    itself still exists."""
    group = await make_group()
    kept = await make_course()
    dropped = await make_course(title="Dropped")
    await assign_course(group, kept)
    await assign_course(group, dropped)

    response = await client.delete(
        f"/api/groups/{group.id}/courses/{dropped.id}", headers=manager_headers
    )

    assert response.status_code == 204
    assert response.content == b""
    assert await course_ids_of(client, group.id, manager_headers) == [kept.id]
    still = await client.get(f"/api/courses/{dropped.id}", headers=manager_headers)
    assert (still.status_code, still.json()["title"]) == (200, "Dropped")


@pytest.mark.asyncio
async def test_unassign_course_from_one_group_keeps_it_in_another_group(
    client, manager_headers, make_group, make_course, assign_course
):
    """Unassigning removes only this group's assignment: another group that has the same
    course keeps it."""
    first = await make_group(name="First")
    second = await make_group(name="Second")
    course = await make_course(title="Shared")
    await assign_course(first, course)
    await assign_course(second, course)

    response = await client.delete(
        f"/api/groups/{first.id}/courses/{course.id}", headers=manager_headers
    )

    assert response.status_code == 204
    assert await course_ids_of(client, first.id, manager_headers) == []
    assert await course_ids_of(client, second.id, manager_headers) == [course.id]


@pytest.mark.asyncio
async def test_unassign_course_not_assigned_returns_404(
    client, auth_headers, make_group, make_course
):
    """Unassigning a course that the group does not have: 404."""
    group = await make_group()
    course = await make_course()

    response = await client.delete(
        f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"Assignment not found: course {course.id} is not assigned to this group"
    }


@pytest.mark.asyncio
async def test_unassign_course_unknown_group_returns_404(client, auth_headers, make_course):
    """A group id that names no group: 404."""
    course = await make_course()

    response = await client.delete(f"/api/groups/656565/courses/{course.id}", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 656565 not found"}


@pytest.mark.asyncio
async def test_unassign_course_course_id_outside_64_bit_returns_422(
    client, auth_headers, make_group
):
    """`course_id` past 2^63-1: 422, never a 500."""
    group = await make_group()

    response = await client.delete(
        f"/api/groups/{group.id}/courses/{TOO_BIG_ID}", headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "course_id"]]


@pytest.mark.asyncio
async def test_unassign_course_as_user_returns_403_and_keeps_assignment(
    client,
    auth_headers,
    test_user,
    user_headers,
    make_group,
    add_member,
    make_course,
    assign_course,
):
    """A `user`, even a member of the group, may not unassign courses: 403."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course()
    await assign_course(group, course)

    response = await client.delete(
        f"/api/groups/{group.id}/courses/{course.id}", headers=user_headers
    )

    assert response.status_code == 403
    assert await course_ids_of(client, group.id, auth_headers) == [course.id]


@pytest.mark.asyncio
async def test_unassign_course_without_token_returns_401(
    client, make_group, make_course, assign_course
):
    """No bearer token: 401."""
    group = await make_group()
    course = await make_course()
    await assign_course(group, course)

    response = await client.delete(f"/api/groups/{group.id}/courses/{course.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_unassign_course_disabled_admin_returns_403(
    client, make_group, make_course, assign_course, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    group = await make_group()
    course = await make_course()
    await assign_course(group, course)

    response = await client.delete(
        f"/api/groups/{group.id}/courses/{course.id}", headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}
