"""Contract tests for the courses resource: list, detail, create, update, delete.

Contract: docs/contracts/courses.md. Admins and managers see every course; a `user` sees
the courses assigned to groups they belong to; create, update and delete are admin only.
"""

from datetime import UTC, datetime, timedelta

import pytest

from tma.courses.models import CourseModule, Module

COURSE_FIELDS = {
    "id",
    "title",
    "description",
    "created_at",
    "updated_at",
    "module_count",
    "sequential",
}
TOO_BIG_ID = 2**63  # one past the largest 64-bit id


def ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp from a response and insist that it is UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed.astimezone(UTC)


async def course_titles(client, headers):
    """Titles of the courses GET /api/courses lists for these headers, in order."""
    response = await client.get("/api/courses", headers=headers)
    assert response.status_code == 200
    return [c["title"] for c in response.json()]


# --- GET /api/courses --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_courses_as_admin_returns_every_course_oldest_first(
    client, auth_headers, make_course
):
    """An admin sees every course, oldest first, each with exactly the Course fields."""
    first = await make_course(title="Basics", description="How the pieces move")
    second = await make_course(title="Tactics")

    response = await client.get("/api/courses", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    body = response.json()
    assert [set(c) for c in body] == [COURSE_FIELDS, COURSE_FIELDS]
    assert [(c["id"], c["title"], c["description"], c["module_count"]) for c in body] == [
        (first.id, "Basics", "How the pieces move", 0),
        (second.id, "Tactics", None, 0),
    ]
    assert ts(body[0]["created_at"]) == first.created_at
    assert ts(body[0]["updated_at"]) == first.updated_at


@pytest.mark.asyncio
async def test_list_courses_as_manager_returns_unassigned_courses_too(
    client, manager_headers, make_course
):
    """A manager sees every course, also those assigned to no group."""
    await make_course(title="Unassigned")

    assert await course_titles(client, manager_headers) == ["Unassigned"]


@pytest.mark.asyncio
async def test_list_courses_as_user_returns_only_courses_of_their_groups(
    client, user_headers, test_user, make_group, add_member, make_course, assign_course
):
    """A `user` sees the courses assigned to their groups, each once, and no other."""
    mine_a = await make_group()
    mine_b = await make_group()
    other = await make_group()
    await add_member(mine_a, test_user)
    await add_member(mine_b, test_user)
    shared = await make_course(title="Shared")
    only_a = await make_course(title="Only A")
    hidden = await make_course(title="Hidden")
    await make_course(title="Nowhere")
    await assign_course(mine_a, shared)
    await assign_course(mine_b, shared)
    await assign_course(mine_a, only_a)
    await assign_course(other, hidden)

    response = await client.get("/api/courses", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert [c["title"] for c in response.json()] == ["Shared", "Only A"]


@pytest.mark.asyncio
async def test_list_courses_as_user_without_groups_returns_empty_list(
    client, user_headers, make_course
):
    """A `user` in no group sees no course at all, total 0."""
    await make_course()

    response = await client.get("/api/courses", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.asyncio
async def test_list_courses_with_limit_and_offset_returns_window(client, auth_headers, make_course):
    """`limit`/`offset` cut a window out of the oldest-first list; X-Total-Count stays whole."""
    for n in range(5):
        await make_course(title=f"Course {n}")

    response = await client.get("/api/courses?limit=2&offset=3", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    assert [c["title"] for c in response.json()] == ["Course 3", "Course 4"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        (f"offset={2**63}", "offset"),
    ],
)
async def test_list_courses_bad_pagination_returns_422(client, auth_headers, query, param):
    """`limit` must be 1..1000 and `offset` a non-negative integer of sane size: else 422."""
    response = await client.get(f"/api/courses?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["query", param]]


@pytest.mark.asyncio
async def test_list_courses_without_token_returns_401(client, make_course):
    """No bearer token: 401 with `WWW-Authenticate: Bearer`."""
    await make_course()

    response = await client.get("/api/courses")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_courses_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)

    response = await client.get("/api/courses", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- GET /api/courses/{course_id} --------------------------------------------------------


@pytest.mark.asyncio
async def test_get_course_as_admin_returns_detail_with_empty_modules(
    client, auth_headers, make_course
):
    """The detail is a Course plus `modules`: an empty list and module_count 0 at first."""
    course = await make_course(title="Basics", description="How the pieces move")

    response = await client.get(f"/api/courses/{course.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == COURSE_FIELDS | {"modules"}
    assert {k: v for k, v in body.items() if k not in ("created_at", "updated_at")} == {
        "id": course.id,
        "title": "Basics",
        "description": "How the pieces move",
        "module_count": 0,
        "sequential": False,
        "modules": [],
    }
    assert ts(body["created_at"]) == course.created_at


@pytest.mark.asyncio
async def test_get_course_lists_modules_in_their_ordering(
    client, auth_headers, make_course, test_db
):
    """The course's modules come as outline items (the mobile client's keys) by `ordering`,
    counted in module_count."""
    course = await make_course()
    async with test_db.session() as session:
        second = Module(title="Second", description="b", color="#112233")
        first = Module(title="First")
        session.add_all([second, first])
        await session.flush()
        session.add_all(
            [
                CourseModule(course_id=course.id, module_id=second.id, ordering=2),
                CourseModule(course_id=course.id, module_id=first.id, ordering=1),
            ]
        )
        await session.commit()

    response = await client.get(f"/api/courses/{course.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["module_count"] == 2
    keys = ("module_id", "module_title", "module_description", "module_color", "ordering")
    assert [{k: m[k] for k in keys} for m in body["modules"]] == [
        dict(zip(keys, (first.id, "First", None, None, 1), strict=True)),
        dict(zip(keys, (second.id, "Second", "b", "#112233", 2), strict=True)),
    ]
    assert [(m["course_id"], m["post_count"]) for m in body["modules"]] == [(course.id, 0)] * 2
    assert [set(m) for m in body["modules"]] == [
        {
            *keys,
            "course_id",
            "post_count",
            "created_at",
            "updated_at",
            "release_after_days",
            "availability",
        }
    ] * 2


@pytest.mark.asyncio
async def test_get_course_as_user_in_assigned_group_returns_200(
    client, user_headers, test_user, make_group, add_member, make_course, assign_course
):
    """A `user` may read a course assigned to one of their groups."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)

    response = await client.get(f"/api/courses/{course.id}", headers=user_headers)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["title"]) == (course.id, "Openings")


@pytest.mark.asyncio
async def test_get_course_fix_user_outside_assigned_groups_returns_403(
    client, user_headers, test_user, make_group, add_member, make_course, assign_course
):
    """FIX (the old backend leaked every course): a `user` whose groups do not have the
    course gets 403, even though the course exists and another group has it."""
    mine = await make_group()
    theirs = await make_group()
    await add_member(mine, test_user)
    course = await make_course(title="Private")
    await assign_course(theirs, course)

    response = await client.get(f"/api/courses/{course.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this course"}


@pytest.mark.asyncio
async def test_get_course_unknown_id_returns_404(client, auth_headers):
    """An id that names no course: 404."""
    response = await client.get("/api/courses/202020", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 202020 not found"}


@pytest.mark.asyncio
async def test_get_course_unknown_id_as_user_returns_404(client, user_headers):
    """Course ids are not secret: a `user` asking for an id that names no course gets 404."""
    response = await client.get("/api/courses/202020", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 202020 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("course_id", [str(TOO_BIG_ID), "0", "-5", "abc"])
async def test_get_course_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, course_id
):
    """`course_id` must be an integer in 1..2^63-1: 422, never a 500."""
    response = await client.get(f"/api/courses/{course_id}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "course_id"]]


@pytest.mark.asyncio
async def test_get_course_without_token_returns_401(client, make_course):
    """No bearer token: 401."""
    course = await make_course()

    response = await client.get(f"/api/courses/{course.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_get_course_disabled_manager_returns_403(
    client, make_course, make_user, make_auth_headers
):
    """A disabled manager is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    course = await make_course()

    response = await client.get(f"/api/courses/{course.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- POST /api/courses -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_course_as_admin_returns_201_and_persists(client, auth_headers):
    """An admin creates a course: 201 with the Course (module_count 0); reading it back
    gives the same values and an empty module list."""
    response = await client.post(
        "/api/courses",
        json={"title": "  Endgames  ", "description": "King and pawn"},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == COURSE_FIELDS
    assert {k: body[k] for k in ("title", "description", "module_count")} == {
        "title": "Endgames",
        "description": "King and pawn",
        "module_count": 0,
    }
    assert ts(body["created_at"]) <= ts(body["updated_at"])
    read = await client.get(f"/api/courses/{body['id']}", headers=auth_headers)
    assert read.status_code == 200
    assert read.json() == {**body, "modules": []}


@pytest.mark.asyncio
async def test_create_course_title_of_200_characters_returns_201(client, auth_headers):
    """200 characters is the longest title allowed."""
    title = "t" * 200

    response = await client.post("/api/courses", json={"title": title}, headers=auth_headers)

    assert response.status_code == 201
    assert (response.json()["title"], response.json()["description"]) == (title, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_create_course_as_non_admin_returns_403_and_creates_nothing(
    client, auth_headers, make_user, make_auth_headers, role
):
    """Only admins create courses; a manager or a `user` gets 403 and nothing appears."""
    caller = await make_user(role=role)

    response = await client.post(
        "/api/courses", json={"title": "Sneaky"}, headers=make_auth_headers(caller)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await course_titles(client, auth_headers) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"title": ""}, ["body", "title"]),
        ({"title": "   "}, ["body", "title"]),
        ({"title": "t" * 201}, ["body", "title"]),
        ({"title": "x" * 300_000}, ["body", "title"]),
        ({"title": "bad\x00title"}, ["body", "title"]),
        ({"title": "Ok", "description": "d" * 5001}, ["body", "description"]),
        ({"title": "Ok", "description": "\x00"}, ["body", "description"]),
        ({"title": 42}, ["body", "title"]),
        ({"title": None}, ["body", "title"]),
        ({}, ["body", "title"]),
        ({"title": "Ok", "module_count": 3}, ["body", "module_count"]),
    ],
    ids=[
        "title-empty",
        "title-blank",
        "title-201",
        "title-huge",
        "title-nul",
        "description-5001",
        "description-nul",
        "title-number",
        "title-null",
        "title-missing",
        "unknown-field",
    ],
)
async def test_create_course_malformed_body_returns_422(client, auth_headers, payload, loc):
    """Blank, too long or NUL title, wrong types, missing or unknown fields: 422, nothing
    created."""
    response = await client.post("/api/courses", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert await course_titles(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_course_body_a_json_list_returns_422(client, auth_headers):
    """A JSON value of the wrong type (a list instead of an object): 422."""
    response = await client.post("/api/courses", json=[{"title": "A"}], headers=auth_headers)

    assert response.status_code == 422
    assert await course_titles(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_course_without_token_returns_401(client, test_db):
    """No bearer token: 401."""
    response = await client.post("/api/courses", json={"title": "Anon"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_create_course_disabled_admin_returns_403(client, make_user, make_auth_headers):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)

    response = await client.post(
        "/api/courses", json={"title": "Late"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- PATCH /api/courses/{course_id} ------------------------------------------------------


@pytest.mark.asyncio
async def test_update_course_as_admin_returns_200_and_persists(client, auth_headers, make_course):
    """Title and description change; the response and a read-back agree; updated_at moves."""
    course = await make_course(title="Old", description="Old text")

    response = await client.patch(
        f"/api/courses/{course.id}",
        json={"title": "New", "description": "New text"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == COURSE_FIELDS
    assert {k: body[k] for k in ("id", "title", "description", "module_count")} == {
        "id": course.id,
        "title": "New",
        "description": "New text",
        "module_count": 0,
    }
    assert ts(body["created_at"]) == course.created_at
    assert ts(body["updated_at"]) > course.updated_at
    read = await client.get(f"/api/courses/{course.id}", headers=auth_headers)
    assert read.json() == {**body, "modules": []}


@pytest.mark.asyncio
async def test_update_course_title_only_keeps_description(client, auth_headers, make_course):
    """Fields left out of the PATCH body stay as they were; `description: null` clears."""
    course = await make_course(title="Old", description="Stays")

    response = await client.patch(
        f"/api/courses/{course.id}", json={"title": "Renamed"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["description"]) == ("Renamed", "Stays")


@pytest.mark.asyncio
async def test_update_course_null_description_clears_it(client, auth_headers, make_course):
    """`description: null` clears the description."""
    course = await make_course(description="Going away")

    response = await client.patch(
        f"/api/courses/{course.id}", json={"description": None}, headers=auth_headers
    )

    assert response.status_code == 200
    read = await client.get(f"/api/courses/{course.id}", headers=auth_headers)
    assert read.json()["description"] is None


@pytest.mark.asyncio
async def test_update_course_empty_body_changes_nothing(client, auth_headers, make_course):
    """`{}` is a valid PATCH that changes nothing: 200 with the course as it was."""
    course = await make_course(title="Same", description="Same text")

    response = await client.patch(f"/api/courses/{course.id}", json={}, headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["module_count"]) == ("Same", "Same text", 0)
    assert ts(body["updated_at"]) == course.updated_at


@pytest.mark.asyncio
async def test_update_course_as_manager_returns_403_and_keeps_it(
    client, manager_headers, auth_headers, make_course
):
    """A manager may not edit courses: 403, nothing changes."""
    course = await make_course(title="Stays")

    response = await client.patch(
        f"/api/courses/{course.id}", json={"title": "Changed"}, headers=manager_headers
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await course_titles(client, auth_headers) == ["Stays"]


@pytest.mark.asyncio
async def test_update_course_unknown_id_returns_404(client, auth_headers):
    """PATCH of a course that does not exist: 404."""
    response = await client.patch("/api/courses/303030", json={"title": "X"}, headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 303030 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [{"title": None}, {"title": " "}, {"title": "t" * 201}, {"title": "\x00"}, {"id": 9}],
    ids=["title-null", "title-blank", "title-201", "title-nul", "unknown-field"],
)
async def test_update_course_malformed_body_returns_422(client, auth_headers, make_course, payload):
    """A null, blank, too long or NUL title, or an unknown field: 422, nothing changes."""
    course = await make_course(title="Unchanged")

    response = await client.patch(f"/api/courses/{course.id}", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert await course_titles(client, auth_headers) == ["Unchanged"]


@pytest.mark.asyncio
async def test_update_course_id_outside_64_bit_returns_422(client, auth_headers):
    """`course_id` past 2^63-1: 422, never a 500."""
    response = await client.patch(
        f"/api/courses/{TOO_BIG_ID}", json={"title": "X"}, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "course_id"]]


@pytest.mark.asyncio
async def test_update_course_without_token_returns_401(client, make_course):
    """No bearer token: 401."""
    course = await make_course()

    response = await client.patch(f"/api/courses/{course.id}", json={"title": "X"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_update_course_disabled_admin_returns_403(
    client, make_course, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    course = await make_course()

    response = await client.patch(
        f"/api/courses/{course.id}", json={"title": "X"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- DELETE /api/courses/{course_id} -----------------------------------------------------


@pytest.mark.asyncio
async def test_delete_course_as_admin_returns_204_and_removes_it(client, auth_headers, make_course):
    """DELETE answers 204 with an empty body; the course is then 404 and gone from the list."""
    course = await make_course()

    response = await client.delete(f"/api/courses/{course.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/courses/{course.id}", headers=auth_headers)).status_code == 404
    assert await course_titles(client, auth_headers) == []


@pytest.mark.asyncio
async def test_delete_course_removes_its_group_assignments(
    client, auth_headers, make_group, make_course, assign_course
):
    """The course's group assignments go with it; the group itself stays."""
    group = await make_group()
    doomed = await make_course()
    other = await make_course()
    await assign_course(group, doomed)
    await assign_course(group, other)

    response = await client.delete(f"/api/courses/{doomed.id}", headers=auth_headers)

    assert response.status_code == 204
    listing = await client.get(f"/api/groups/{group.id}/courses", headers=auth_headers)
    assert [c["id"] for c in listing.json()] == [other.id]
    assert listing.headers["X-Total-Count"] == "1"
    assert (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_course_as_manager_returns_403_and_keeps_it(
    client, manager_headers, auth_headers, make_course
):
    """A manager may not delete courses: 403, the course stays."""
    course = await make_course()

    response = await client.delete(f"/api/courses/{course.id}", headers=manager_headers)

    assert response.status_code == 403
    assert (await client.get(f"/api/courses/{course.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_course_as_manager_unknown_id_returns_403(client, manager_headers):
    """The admin check comes first: a manager gets 403 whether or not the course exists."""
    response = await client.delete("/api/courses/404404", headers=manager_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_delete_course_unknown_id_returns_404(client, auth_headers):
    """Deleting a course that does not exist: 404."""
    response = await client.delete("/api/courses/404404", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 404404 not found"}


@pytest.mark.asyncio
async def test_delete_course_id_outside_64_bit_returns_422(client, auth_headers):
    """`course_id` past 2^63-1: 422, never a 500."""
    response = await client.delete(f"/api/courses/{TOO_BIG_ID}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "course_id"]]


@pytest.mark.asyncio
async def test_delete_course_without_token_returns_401(client, make_course, auth_headers):
    """No bearer token: 401, and the course stays."""
    course = await make_course()

    response = await client.delete(f"/api/courses/{course.id}")

    assert response.status_code == 401
    assert (await client.get(f"/api/courses/{course.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_course_disabled_admin_returns_403(
    client, make_course, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    course = await make_course()

    response = await client.delete(f"/api/courses/{course.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- Body size: every /api/courses endpoint that takes a body ------------------------------

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"title": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/courses"), ("PATCH", "/api/courses/{id}")],
    ids=["POST:/api/courses", "PATCH:/api/courses/{id}"],
)
async def test_courses_endpoint_body_over_1_mib_returns_413(
    client, auth_headers, make_course, method, path
):
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    course = await make_course(title="Basics")

    response = await client.request(
        method,
        path.format(id=course.id),
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    assert await course_titles(client, auth_headers) == ["Basics"]
