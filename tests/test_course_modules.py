"""Contract tests for a course's outline: list, link, move and unlink its modules.

Contract: docs/contracts/courses.md (the `/api/courses/{course_id}/modules` sections). The
outline items keep the keys the existing mobile client reads (`module_id`, `module_title`,
`module_description`, `module_color`, ...); positions stay 1..n with no gap.
"""

import pytest
import pytest_asyncio

OUTLINE_FIELDS = {
    "module_id",
    "module_title",
    "module_description",
    "module_color",
    "ordering",
    "course_id",
    "post_count",
    "created_at",
    "updated_at",
    "release_after_days",
    "availability",
}
TOO_BIG_ID = 2**63


async def outline(client, headers, course_id):
    """(module_title, ordering) of the course's outline, as GET lists it."""
    response = await client.get(f"/api/courses/{course_id}/modules", headers=headers)
    assert response.status_code == 200
    return [(m["module_title"], m["ordering"]) for m in response.json()]


@pytest_asyncio.fixture
async def three_modules(make_course, make_module):
    """A course with modules A, B, C at 1, 2, 3."""
    course = await make_course()
    modules = [await make_module(title=t, course=course) for t in "ABC"]
    return course, modules


# --- GET /api/courses/{course_id}/modules ------------------------------------------------


@pytest.mark.asyncio
async def test_list_course_modules_as_user_returns_outline_in_client_shape(
    client, user_headers, user_course, make_module, link_module, make_post
):
    """A user who sees the course gets its outline items in `ordering`, in exactly the
    mobile client's keys, with each module's post count."""
    second = await make_module(title="Second", description="two", color="#222222")
    first = await make_module(title="First", course=user_course)
    await make_post(second)
    await link_module(user_course, second)

    response = await client.get(f"/api/courses/{user_course.id}/modules", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    body = response.json()
    assert [set(item) for item in body] == [OUTLINE_FIELDS, OUTLINE_FIELDS]
    assert [
        (i["module_id"], i["module_title"], i["module_description"], i["module_color"])
        for i in body
    ] == [(first.id, "First", None, None), (second.id, "Second", "two", "#222222")]
    assert [(i["ordering"], i["course_id"], i["post_count"]) for i in body] == [
        (1, user_course.id, 0),
        (2, user_course.id, 1),
    ]


@pytest.mark.asyncio
async def test_list_course_modules_with_limit_and_offset_returns_window(
    client, auth_headers, three_modules
):
    """`limit`/`offset` cut the window; `X-Total-Count` counts every module of the course."""
    course, _ = three_modules

    response = await client.get(
        f"/api/courses/{course.id}/modules?limit=1&offset=1", headers=auth_headers
    )

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert [m["module_title"] for m in response.json()] == ["B"]


@pytest.mark.asyncio
async def test_list_course_modules_user_outside_assigned_groups_returns_403(
    client, user_headers, three_modules
):
    """A user whose groups do not have the course: 403, the outline is not shown."""
    course, _ = three_modules

    response = await client.get(f"/api/courses/{course.id}/modules", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this course"}


@pytest.mark.asyncio
async def test_list_course_modules_unknown_course_returns_404(client, user_headers):
    """An id that names no course: 404."""
    response = await client.get("/api/courses/777/modules", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 777 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["limit=0", "offset=-1", "limit=1001"])
async def test_list_course_modules_bad_pagination_returns_422(
    client, auth_headers, three_modules, query
):
    """`limit` out of 1..1000 or a negative `offset`: 422."""
    course, _ = three_modules

    response = await client.get(f"/api/courses/{course.id}/modules?{query}", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_list_course_modules_without_token_returns_401(client, three_modules):
    """No bearer token: 401."""
    course, _ = three_modules

    response = await client.get(f"/api/courses/{course.id}/modules")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- POST /api/courses/{course_id}/modules/{module_id} ----------------------------------


@pytest.mark.asyncio
async def test_link_module_without_body_goes_last_and_counts(
    client, auth_headers, three_modules, make_module
):
    """Linking without a body: 201 with the outline item at the end; the course detail
    lists it there and `module_count` counts it."""
    course, _ = three_modules
    module = await make_module(title="D", color="#ABCDEF")

    response = await client.post(
        f"/api/courses/{course.id}/modules/{module.id}", headers=auth_headers
    )

    assert response.status_code == 201
    item = response.json()
    assert set(item) == OUTLINE_FIELDS
    assert (item["module_id"], item["module_title"], item["module_color"], item["ordering"]) == (
        module.id,
        "D",
        "#ABCDEF",
        4,
    )
    detail = (await client.get(f"/api/courses/{course.id}", headers=auth_headers)).json()
    assert detail["module_count"] == 4
    assert detail["modules"][-1] == item


@pytest.mark.asyncio
async def test_link_module_at_position_moves_later_ones_down(
    client, auth_headers, three_modules, make_module
):
    """Linking at position 2 puts the module there and moves B and C down: 1..4, no gap."""
    course, _ = three_modules
    module = await make_module(title="New")

    response = await client.post(
        f"/api/courses/{course.id}/modules/{module.id}", json={"ordering": 2}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json()["ordering"] == 2
    assert await outline(client, auth_headers, course.id) == [
        ("A", 1),
        ("New", 2),
        ("B", 3),
        ("C", 4),
    ]


@pytest.mark.asyncio
async def test_link_module_position_past_the_end_goes_last(
    client, auth_headers, three_modules, make_module
):
    """A position past the end means last: the module gets 4, not 99."""
    course, _ = three_modules
    module = await make_module(title="Far")

    response = await client.post(
        f"/api/courses/{course.id}/modules/{module.id}", json={"ordering": 99}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json()["ordering"] == 4
    assert await outline(client, auth_headers, course.id) == [
        ("A", 1),
        ("B", 2),
        ("C", 3),
        ("Far", 4),
    ]


@pytest.mark.asyncio
async def test_link_module_shared_by_two_courses_keeps_both_outlines(
    client, auth_headers, three_modules, make_course
):
    """A module may belong to several courses: linking B into a second course leaves the
    first outline as it was."""
    course, (_, b, _) = three_modules
    other = await make_course()

    response = await client.post(f"/api/courses/{other.id}/modules/{b.id}", headers=auth_headers)

    assert response.status_code == 201
    assert await outline(client, auth_headers, other.id) == [("B", 1)]
    assert await outline(client, auth_headers, course.id) == [("A", 1), ("B", 2), ("C", 3)]
    module = await client.get(f"/api/modules/{b.id}", headers=auth_headers)
    assert module.json()["course_ids"] == sorted([course.id, other.id])


@pytest.mark.asyncio
async def test_link_module_already_linked_returns_400_and_changes_nothing(
    client, auth_headers, three_modules
):
    """Linking a module already in the course: 400, the outline unchanged."""
    course, (a, _, _) = three_modules

    response = await client.post(
        f"/api/courses/{course.id}/modules/{a.id}", json={"ordering": 3}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": f"Module {a.id} is already in course {course.id}"}
    assert await outline(client, auth_headers, course.id) == [("A", 1), ("B", 2), ("C", 3)]


@pytest.mark.asyncio
async def test_link_module_unknown_module_returns_404(client, auth_headers, three_modules):
    """A module id that names no module: 404, nothing linked."""
    course, _ = three_modules

    response = await client.post(f"/api/courses/{course.id}/modules/5555", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 5555 not found"}
    assert len(await outline(client, auth_headers, course.id)) == 3


@pytest.mark.asyncio
async def test_link_module_unknown_course_returns_404(client, auth_headers, make_module):
    """A course id that names no course: 404."""
    module = await make_module()

    response = await client.post(f"/api/courses/5555/modules/{module.id}", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 5555 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_link_module_as_non_admin_returns_403(
    client, auth_headers, make_user, make_auth_headers, three_modules, make_module, role
):
    """Managers and users may not change outlines: 403, nothing linked."""
    course, _ = three_modules
    module = await make_module()
    headers = make_auth_headers(await make_user(role=role))

    response = await client.post(f"/api/courses/{course.id}/modules/{module.id}", headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert len(await outline(client, auth_headers, course.id)) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"ordering": 0},
        {"ordering": -1},
        {"ordering": True},
        {"ordering": 1.5},
        {"ordering": "2"},
        {"ordering": None},
        {"ordering": 2**31},
        {"position": 1},
        [1],
    ],
    ids=["zero", "negative", "boolean", "float", "string", "null", "too-big", "unknown", "list"],
)
async def test_link_module_malformed_body_returns_422(
    client, auth_headers, three_modules, make_module, body
):
    """`ordering` must be a strict integer 1..2^31-1 (`true` is not 1): else 422, nothing
    linked."""
    course, _ = three_modules
    module = await make_module()

    response = await client.post(
        f"/api/courses/{course.id}/modules/{module.id}", json=body, headers=auth_headers
    )

    assert response.status_code == 422
    assert len(await outline(client, auth_headers, course.id)) == 3


@pytest.mark.asyncio
async def test_link_module_module_id_outside_64_bit_returns_422(
    client, auth_headers, three_modules
):
    """A module id past 2^63-1: 422."""
    course, _ = three_modules

    response = await client.post(
        f"/api/courses/{course.id}/modules/{TOO_BIG_ID}", headers=auth_headers
    )

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_link_module_without_token_returns_401(client, three_modules, make_module):
    """No bearer token: 401."""
    course, _ = three_modules
    module = await make_module()

    response = await client.post(f"/api/courses/{course.id}/modules/{module.id}")

    assert response.status_code == 401


# --- PATCH /api/courses/{course_id}/modules/{module_id} ---------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mover", "to", "expected"),
    [
        (2, 1, [("C", 1), ("A", 2), ("B", 3)]),
        (0, 3, [("B", 1), ("C", 2), ("A", 3)]),
        (0, 2, [("B", 1), ("A", 2), ("C", 3)]),
        (1, 1, [("B", 1), ("A", 2), ("C", 3)]),
        (0, 50, [("B", 1), ("C", 2), ("A", 3)]),
        (1, 2, [("A", 1), ("B", 2), ("C", 3)]),
    ],
    ids=["last-to-first", "first-to-last", "down-one", "up-one", "past-the-end", "same-place"],
)
async def test_move_module_returns_200_and_keeps_positions_contiguous(
    client, auth_headers, three_modules, mover, to, expected
):
    """Moving shifts the modules between the old and the new place: positions stay 1..3;
    a place past the end means last; its own place changes nothing."""
    course, modules = three_modules
    module = modules[mover]

    response = await client.patch(
        f"/api/courses/{course.id}/modules/{module.id}", json={"ordering": to}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["module_id"] == module.id
    assert response.json()["ordering"] == min(to, 3)
    assert await outline(client, auth_headers, course.id) == expected


@pytest.mark.asyncio
async def test_move_module_not_in_course_returns_404(
    client, auth_headers, three_modules, make_module
):
    """A module that is not in the course cannot be moved there: 404."""
    course, _ = three_modules
    module = await make_module()

    response = await client.patch(
        f"/api/courses/{course.id}/modules/{module.id}", json={"ordering": 1}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"Link not found: module {module.id} is not in course {course.id}"
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [{}, {"ordering": None}, {"ordering": False}, {"ordering": 0}])
async def test_move_module_malformed_body_returns_422(client, auth_headers, three_modules, body):
    """`ordering` is required, a strict integer 1..2^31-1: else 422, nothing moved."""
    course, (a, _, _) = three_modules

    response = await client.patch(
        f"/api/courses/{course.id}/modules/{a.id}", json=body, headers=auth_headers
    )

    assert response.status_code == 422
    assert await outline(client, auth_headers, course.id) == [("A", 1), ("B", 2), ("C", 3)]


@pytest.mark.asyncio
async def test_move_module_as_manager_returns_403(client, manager_headers, three_modules):
    """A manager may not change an outline: 403."""
    course, (a, _, _) = three_modules

    response = await client.patch(
        f"/api/courses/{course.id}/modules/{a.id}", json={"ordering": 3}, headers=manager_headers
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_move_module_without_token_returns_401(client, three_modules):
    """No bearer token: 401."""
    course, (a, _, _) = three_modules

    response = await client.patch(f"/api/courses/{course.id}/modules/{a.id}", json={"ordering": 3})

    assert response.status_code == 401


# --- DELETE /api/courses/{course_id}/modules/{module_id} --------------------------------


@pytest.mark.asyncio
async def test_unlink_module_returns_204_closes_gap_and_keeps_module(
    client, auth_headers, three_modules
):
    """Unlinking B: 204 with an empty body; C moves up to 2; B still exists, in no course."""
    course, (_, b, _) = three_modules

    response = await client.delete(f"/api/courses/{course.id}/modules/{b.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await outline(client, auth_headers, course.id) == [("A", 1), ("C", 2)]
    module = await client.get(f"/api/modules/{b.id}", headers=auth_headers)
    assert module.status_code == 200
    assert module.json()["course_ids"] == []


@pytest.mark.asyncio
async def test_unlink_module_not_in_course_returns_404(
    client, auth_headers, three_modules, make_module
):
    """Unlinking a module that is not in the course: 404, nothing changes."""
    course, _ = three_modules
    module = await make_module()

    response = await client.delete(
        f"/api/courses/{course.id}/modules/{module.id}", headers=auth_headers
    )

    assert response.status_code == 404
    assert len(await outline(client, auth_headers, course.id)) == 3


@pytest.mark.asyncio
async def test_unlink_module_as_user_returns_403(client, user_headers, auth_headers, three_modules):
    """A user may not change an outline: 403, nothing unlinked."""
    course, (a, _, _) = three_modules

    response = await client.delete(f"/api/courses/{course.id}/modules/{a.id}", headers=user_headers)

    assert response.status_code == 403
    assert len(await outline(client, auth_headers, course.id)) == 3


@pytest.mark.asyncio
async def test_unlink_module_id_outside_64_bit_returns_422(client, auth_headers, three_modules):
    """A module id past 2^63-1: 422."""
    course, _ = three_modules

    response = await client.delete(
        f"/api/courses/{course.id}/modules/{TOO_BIG_ID}", headers=auth_headers
    )

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_unlink_module_without_token_returns_401(client, three_modules):
    """No bearer token: 401."""
    course, (a, _, _) = three_modules

    response = await client.delete(f"/api/courses/{course.id}/modules/{a.id}")

    assert response.status_code == 401


ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"ordering": 1, "pad": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_course_modules_endpoint_body_over_1_mib_returns_413(
    client, auth_headers, three_modules, make_module, method
):
    """A body over 1 MiB is refused with 413 before anything reads it; the outline stays."""
    course, (a, _, _) = three_modules
    module = a if method == "PATCH" else await make_module()

    response = await client.request(
        method,
        f"/api/courses/{course.id}/modules/{module.id}",
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    assert await outline(client, auth_headers, course.id) == [("A", 1), ("B", 2), ("C", 3)]
