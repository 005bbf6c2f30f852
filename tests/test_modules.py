"""Contract tests for the modules resource: list, create, detail, update, delete.

Contract: docs/contracts/modules.md. Staff see every module; a `user` sees a module when it
is in a course assigned to one of their groups; writing modules is admin only. A module may
belong to several courses.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tma.courses.models import Module
from tma.modules.schemas import ModuleDetail

MODULE_FIELDS = {
    "id",
    "title",
    "description",
    "color",
    "min_age_months",
    "max_age_months",
    "post_count",
    "created_at",
    "updated_at",
}
# The detail's keys in the starter's mobile client (its `getModuleDetail`).
CLIENT_KEYS = {"module_id", "module_title", "module_description", "module_color"}
TOO_BIG_ID = 2**63


def ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp from a response and insist that it is UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed.astimezone(UTC)


async def module_titles(client, headers, query=""):
    """Titles of the modules GET /api/modules lists for these headers, in order."""
    response = await client.get(f"/api/modules{query}", headers=headers)
    assert response.status_code == 200
    return [m["title"] for m in response.json()]


# --- GET /api/modules --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_modules_as_admin_returns_every_module_oldest_first(
    client, auth_headers, make_module, make_post, make_course
):
    """An admin sees every module, linked or not, oldest first, each with exactly the Module
    fields and its post count."""
    course = await make_course()
    first = await make_module(title="Openings", description="How a game starts", color="#A1B2C3")
    second = await make_module(title="Loose", course=course)
    await make_post(first)
    await make_post(first)

    response = await client.get("/api/modules", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    body = response.json()
    assert [set(m) for m in body] == [MODULE_FIELDS, MODULE_FIELDS]
    assert [(m["id"], m["title"], m["description"], m["color"], m["post_count"]) for m in body] == [
        (first.id, "Openings", "How a game starts", "#A1B2C3", 2),
        (second.id, "Loose", None, None, 0),
    ]
    assert ts(body[0]["created_at"]) == first.created_at


@pytest.mark.asyncio
async def test_list_modules_orders_by_creation_time_then_id(
    client, auth_headers, test_db, make_module
):
    """Oldest first means by `created_at`, not by id (rows imported from the older backend or
    written by a server with another clock need not follow the ids); modules created at the
    same instant come in id order."""
    at = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    modules = [await make_module() for _ in range(3)]
    async with test_db.session() as session:
        for module, created in zip(modules, [at, at - timedelta(hours=1), at], strict=True):
            await session.execute(
                update(Module).where(Module.id == module.id).values(created_at=created)
            )
        await session.commit()

    response = await client.get("/api/modules", headers=auth_headers)

    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [modules[1].id, modules[0].id, modules[2].id]


@pytest.mark.asyncio
async def test_list_modules_as_user_returns_only_modules_of_assigned_courses(
    client, user_headers, user_course, make_course, make_module
):
    """A `user` sees the modules of courses assigned to their groups and no other (not a
    module of an unassigned course, not a module in no course)."""
    await make_module(title="Shared", course=user_course)
    await make_module(title="Mine", course=user_course)
    await make_module(title="Hidden", course=await make_course())
    await make_module(title="Nowhere")

    response = await client.get("/api/modules", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert [m["title"] for m in response.json()] == ["Shared", "Mine"]


@pytest.mark.asyncio
async def test_list_modules_module_in_two_visible_courses_is_listed_once(
    client,
    user_headers,
    test_user,
    user_course,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    link_module,
):
    """A module in two courses the user sees (through two groups) appears once."""
    group = await make_group()
    await add_member(group, test_user)
    second = await make_course()
    await assign_course(group, second)
    shared = await make_module(title="Shared", course=user_course)
    await link_module(second, shared)

    response = await client.get("/api/modules", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [m["id"] for m in response.json()] == [shared.id]


@pytest.mark.asyncio
async def test_list_modules_course_filter_returns_course_order(
    client, auth_headers, make_course, make_module, link_module
):
    """`?course_id=` lists that course's modules in the course's `ordering`, not by age."""
    course = await make_course()
    late = await make_module(title="Late")
    early = await make_module(title="Early", course=course)
    await make_module(title="Elsewhere")
    await make_module(title="Middle", course=course)
    await link_module(course, late, ordering=1)

    response = await client.get(f"/api/modules?course_id={course.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert [m["title"] for m in response.json()] == ["Late", "Early", "Middle"]
    assert response.json()[1]["id"] == early.id


@pytest.mark.asyncio
async def test_list_modules_with_limit_and_offset_returns_window(client, auth_headers, make_module):
    """`limit`/`offset` cut the window; `X-Total-Count` is the whole list's size."""
    for title in ("A", "B", "C", "D"):
        await make_module(title=title)

    response = await client.get("/api/modules?limit=2&offset=1", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [m["title"] for m in response.json()] == ["B", "C"]


@pytest.mark.asyncio
async def test_list_modules_user_filtering_by_course_not_assigned_returns_403(
    client, user_headers, make_course, make_module
):
    """A filter naming a course the user does not see is 403: filters never widen what a
    user sees."""
    course = await make_course()
    await make_module(course=course)

    response = await client.get(f"/api/modules?course_id={course.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this course"}


@pytest.mark.asyncio
async def test_list_modules_filter_unknown_course_returns_404(client, auth_headers):
    """A filter naming no course: 404."""
    response = await client.get("/api/modules?course_id=999999", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 999999 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("course_id=0", "course_id"),
        (f"course_id={TOO_BIG_ID}", "course_id"),
        ("course_id=abc", "course_id"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
    ],
)
async def test_list_modules_bad_query_returns_422(client, auth_headers, query, param):
    """Out-of-range or non-integer query parameters: 422 naming the parameter."""
    response = await client.get(f"/api/modules?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["query", param]]


@pytest.mark.asyncio
async def test_list_modules_without_token_returns_401(client):
    """No bearer token: 401 with `WWW-Authenticate: Bearer`."""
    response = await client.get("/api/modules")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_list_modules_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)

    response = await client.get("/api/modules", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- POST /api/modules -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_module_as_admin_returns_201_and_persists(client, auth_headers):
    """An admin creates a module: 201 with the Module (post_count 0, title stripped); the
    detail reads back the same values, no posts and no courses."""
    payload = {"title": "  Checks first ", "description": "# Look\nat checks", "color": "#0a0B0c"}

    response = await client.post("/api/modules", json=payload, headers=auth_headers)

    assert response.status_code == 201
    created = response.json()
    assert set(created) == MODULE_FIELDS
    assert (created["title"], created["description"], created["color"]) == (
        "Checks first",
        "# Look\nat checks",
        "#0a0B0c",
    )
    assert created["post_count"] == 0
    assert created["created_at"] == created["updated_at"]
    detail = await client.get(f"/api/modules/{created['id']}", headers=auth_headers)
    assert detail.status_code == 200
    assert detail.json() == {
        **created,
        "module_id": created["id"],
        "module_title": "Checks first",
        "module_description": "# Look\nat checks",
        "module_color": "#0a0B0c",
        "posts": [],
        "course_ids": [],
    }


@pytest.mark.asyncio
async def test_create_module_title_only_defaults_the_rest_to_null(client, auth_headers):
    """Only `title` is required; description and color default to null."""
    response = await client.post("/api/modules", json={"title": "T"}, headers=auth_headers)

    assert response.status_code == 201
    assert (response.json()["description"], response.json()["color"]) == (None, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_create_module_as_non_admin_returns_403_and_creates_nothing(
    client, auth_headers, make_user, make_auth_headers, role
):
    """Managers and users may not write content: 403, nothing created."""
    headers = make_auth_headers(await make_user(role=role))

    response = await client.post("/api/modules", json={"title": "Mine"}, headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await module_titles(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_module_as_manager_with_bad_body_returns_403(client, manager_headers):
    """The role is checked before the body: a manager's malformed body is still 403."""
    response = await client.post("/api/modules", json={"title": ""}, headers=manager_headers)

    assert response.status_code == 403


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({}, ["body", "title"]),
        ({"title": None}, ["body", "title"]),
        ({"title": "   "}, ["body", "title"]),
        ({"title": "x" * 201}, ["body", "title"]),
        ({"title": "a\x00b"}, ["body", "title"]),
        ({"title": 7}, ["body", "title"]),
        ({"title": "T", "description": "d" * 5001}, ["body", "description"]),
        ({"title": "T", "color": "red"}, ["body", "color"]),
        ({"title": "T", "color": "#12345"}, ["body", "color"]),
        ({"title": "T", "color": "#1234567"}, ["body", "color"]),
        ({"title": "T", "color": "#GGGGGG"}, ["body", "color"]),
        ({"title": "T", "id": 5}, ["body", "id"]),
    ],
    ids=[
        "missing-title",
        "null-title",
        "blank-title",
        "title-201",
        "title-nul",
        "title-number",
        "description-5001",
        "color-name",
        "color-short",
        "color-long",
        "color-not-hex",
        "unknown-field",
    ],
)
async def test_create_module_malformed_body_returns_422(client, auth_headers, payload, loc):
    """A body breaking the Module limits: 422 naming the field, nothing created."""
    response = await client.post("/api/modules", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert await module_titles(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_module_without_token_returns_401(client):
    """No bearer token: 401."""
    response = await client.post("/api/modules", json={"title": "Anon"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_create_module_disabled_admin_returns_403(client, make_user, make_auth_headers):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)

    response = await client.post(
        "/api/modules", json={"title": "Late"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- GET /api/modules/{module_id} --------------------------------------------------------


@pytest.mark.asyncio
async def test_get_module_as_user_returns_posts_in_order_and_visible_courses(
    client, user_headers, user_course, make_course, make_module, link_module, make_post
):
    """A user who sees the module gets it with its posts in `ordering` (no quiz in them)
    and only the ids of the courses they see it in."""
    hidden_course = await make_course()
    module = await make_module(title="Tactics", course=user_course)
    await link_module(hidden_course, module)
    second = await make_post(module, title="Second")
    first = await make_post(module, title="First", ordering=1)

    response = await client.get(f"/api/modules/{module.id}", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == MODULE_FIELDS | CLIENT_KEYS | {"posts", "course_ids"}
    assert (body["id"], body["title"], body["post_count"]) == (module.id, "Tactics", 2)
    assert [(p["id"], p["title"], p["ordering"]) for p in body["posts"]] == [
        (first.id, "First", 1),
        (second.id, "Second", 2),
    ]
    assert all("quiz" not in p and "progress" not in p for p in body["posts"])
    assert body["course_ids"] == [user_course.id]


@pytest.mark.asyncio
async def test_get_module_json_is_the_read_models_json(
    client, auth_headers, make_course, make_module, link_module, make_post, make_quiz_post
):
    """The detail is dumped without a validation pass: its bytes are still exactly what
    `ModuleDetail` gives (keys, order, nested posts, timestamps)."""
    module = await make_module(color="#12AB34", description="About checks")
    await link_module(await make_course(), module)
    await make_post(module, post_type="video", video_url="https://video.example/v/1")
    await make_quiz_post(module)

    response = await client.get(f"/api/modules/{module.id}", headers=auth_headers)

    assert response.status_code == 200
    assert len(response.json()["posts"]) == 2
    expected = ModuleDetail.model_validate_json(response.content).model_dump_json().encode()
    assert response.content == expected


@pytest.mark.asyncio
async def test_get_module_carries_the_mobile_clients_keys_returns_200(
    client, auth_headers, make_module
):
    """The detail also says `module_id`, `module_title`, `module_description` and
    `module_color` (the keys the starter's mobile client reads, as in a course outline),
    equal to `id`, `title`, `description` and `color`, and they follow an update."""
    module = await make_module(title="Checks first", description="Look", color="#C0392B")
    updated = await client.patch(
        f"/api/modules/{module.id}",
        json={"title": "Checks", "description": None, "color": "#2980B9"},
        headers=auth_headers,
    )
    assert updated.status_code == 200

    response = await client.get(f"/api/modules/{module.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in CLIENT_KEYS} == {
        "module_id": module.id,
        "module_title": "Checks",
        "module_description": None,
        "module_color": "#2980B9",
    }
    assert (body["id"], body["title"], body["description"], body["color"]) == (
        module.id,
        "Checks",
        None,
        "#2980B9",
    )
    assert list(body)[9:13] == [
        "module_id",
        "module_title",
        "module_description",
        "module_color",
    ]


@pytest.mark.asyncio
async def test_get_module_as_manager_lists_every_course_it_is_in(
    client, manager_headers, make_course, make_module, link_module
):
    """Staff see every course a module is in, lowest id first."""
    a = await make_course()
    b = await make_course()
    module = await make_module(course=b)
    await link_module(a, module)

    response = await client.get(f"/api/modules/{module.id}", headers=manager_headers)

    assert response.status_code == 200
    assert response.json()["course_ids"] == [a.id, b.id]


@pytest.mark.asyncio
async def test_get_module_user_not_seeing_it_returns_403(
    client, user_headers, make_course, make_module
):
    """A module only in courses not assigned to the user's groups: 403."""
    module = await make_module(course=await make_course())

    response = await client.get(f"/api/modules/{module.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this module"}


@pytest.mark.asyncio
async def test_get_module_unknown_id_returns_404(client, user_headers):
    """An id that names no module: 404, also for a user."""
    response = await client.get("/api/modules/424242", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 424242 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["0", "-1", str(TOO_BIG_ID), "abc", "1.5"])
async def test_get_module_id_not_a_64_bit_positive_integer_returns_422(client, auth_headers, bad):
    """Ids outside 1..2^63-1 or not integers: 422."""
    response = await client.get(f"/api/modules/{bad}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "module_id"]]


@pytest.mark.asyncio
async def test_get_module_without_token_returns_401(client, make_module):
    """No bearer token: 401."""
    module = await make_module()

    response = await client.get(f"/api/modules/{module.id}")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_get_module_disabled_account_returns_403(
    client, make_module, make_user, make_auth_headers
):
    """A disabled account is refused: 403 "account disabled"."""
    module = await make_module()
    disabled = await make_user(role="admin", is_active=False)

    response = await client.get(f"/api/modules/{module.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- PATCH /api/modules/{module_id} ------------------------------------------------------


@pytest.mark.asyncio
async def test_update_module_as_admin_returns_200_and_every_course_shows_it(
    client, auth_headers, make_course, make_module, link_module
):
    """An admin changes title and color; the module and both courses' outlines show the
    change, `updated_at` moves, the description is kept."""
    a = await make_course()
    b = await make_course()
    module = await make_module(title="Old", description="kept", course=a)
    await link_module(b, module)

    response = await client.patch(
        f"/api/modules/{module.id}",
        json={"title": " New ", "color": "#FFFFFF"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["color"]) == ("New", "kept", "#FFFFFF")
    assert ts(body["updated_at"]) > ts(body["created_at"])
    for course in (a, b):
        outline = await client.get(f"/api/courses/{course.id}/modules", headers=auth_headers)
        assert [(m["module_title"], m["module_color"]) for m in outline.json()] == [
            ("New", "#FFFFFF")
        ]


@pytest.mark.asyncio
async def test_update_module_null_clears_description_and_color(client, auth_headers, make_module):
    """`description: null` and `color: null` clear them."""
    module = await make_module(description="text", color="#000000")

    response = await client.patch(
        f"/api/modules/{module.id}",
        json={"description": None, "color": None},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert (response.json()["description"], response.json()["color"]) == (None, None)
    detail = await client.get(f"/api/modules/{module.id}", headers=auth_headers)
    assert (detail.json()["description"], detail.json()["color"]) == (None, None)


@pytest.mark.asyncio
async def test_update_module_empty_body_changes_nothing(client, auth_headers, make_module):
    """`{}` is a 200 that changes nothing."""
    module = await make_module(title="Same")

    response = await client.patch(f"/api/modules/{module.id}", json={}, headers=auth_headers)

    assert response.status_code == 200
    assert response.json()["title"] == "Same"
    assert ts(response.json()["updated_at"]) == module.updated_at


@pytest.mark.asyncio
async def test_update_module_as_manager_returns_403_and_keeps_it(
    client, manager_headers, auth_headers, make_module
):
    """A manager may not change content: 403, the module unchanged."""
    module = await make_module(title="Same")

    response = await client.patch(
        f"/api/modules/{module.id}", json={"title": "Changed"}, headers=manager_headers
    )

    assert response.status_code == 403
    assert await module_titles(client, auth_headers) == ["Same"]


@pytest.mark.asyncio
async def test_update_module_unknown_id_returns_404(client, auth_headers):
    """An id that names no module: 404."""
    response = await client.patch("/api/modules/9999", json={"title": "X"}, headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 9999 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [{"title": None}, {"title": ""}, {"color": "blue"}, {"description": 5}, {"post_count": 3}],
    ids=["title-null", "title-blank", "color-name", "description-number", "unknown-field"],
)
async def test_update_module_malformed_body_returns_422(client, auth_headers, make_module, payload):
    """A body breaking the limits: 422, the module unchanged."""
    module = await make_module(title="Same")

    response = await client.patch(f"/api/modules/{module.id}", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert await module_titles(client, auth_headers) == ["Same"]


@pytest.mark.asyncio
async def test_update_module_without_token_returns_401(client, make_module):
    """No bearer token: 401."""
    module = await make_module()

    response = await client.patch(f"/api/modules/{module.id}", json={"title": "X"})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_update_module_disabled_admin_returns_403(
    client, make_module, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    module = await make_module()
    disabled = await make_user(role="admin", is_active=False)

    response = await client.patch(
        f"/api/modules/{module.id}", json={"title": "X"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- DELETE /api/modules/{module_id} -----------------------------------------------------


@pytest.mark.asyncio
async def test_delete_module_as_admin_returns_204_and_closes_each_course_gap(
    client, auth_headers, make_course, make_module, link_module, make_post
):
    """Deleting a module in two courses: 204 with an empty body; the module and its posts
    are 404; each course's later modules move up and `module_count` drops by one."""
    a = await make_course()
    b = await make_course()
    first_a = await make_module(title="A1", course=a)
    doomed = await make_module(title="Doomed", course=a)
    await make_module(title="A3", course=a)
    await link_module(b, doomed)
    await make_module(title="B2", course=b)
    post = await make_post(doomed)

    response = await client.delete(f"/api/modules/{doomed.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/modules/{doomed.id}", headers=auth_headers)).status_code == 404
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 404
    course_a = (await client.get(f"/api/courses/{a.id}", headers=auth_headers)).json()
    assert course_a["module_count"] == 2
    assert [(m["module_title"], m["ordering"]) for m in course_a["modules"]] == [
        ("A1", 1),
        ("A3", 2),
    ]
    course_b = (await client.get(f"/api/courses/{b.id}", headers=auth_headers)).json()
    assert [(m["module_title"], m["ordering"]) for m in course_b["modules"]] == [("B2", 1)]
    assert first_a.id == course_a["modules"][0]["module_id"]


@pytest.mark.asyncio
async def test_delete_module_as_user_returns_403_and_keeps_it(
    client, user_headers, auth_headers, make_module
):
    """A user may not delete content: 403, the module still there."""
    module = await make_module(title="Kept")

    response = await client.delete(f"/api/modules/{module.id}", headers=user_headers)

    assert response.status_code == 403
    assert await module_titles(client, auth_headers) == ["Kept"]


@pytest.mark.asyncio
async def test_delete_module_as_manager_unknown_id_returns_403(client, manager_headers):
    """The role is checked before the id is looked up: a manager gets 403 even for an
    unknown module."""
    response = await client.delete("/api/modules/99999", headers=manager_headers)

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_delete_module_unknown_id_returns_404(client, auth_headers):
    """An id that names no module (or one deleted already): 404."""
    response = await client.delete("/api/modules/99999", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 99999 not found"}


@pytest.mark.asyncio
async def test_delete_module_id_outside_64_bit_returns_422(client, auth_headers):
    """An id past 2^63-1: 422."""
    response = await client.delete(f"/api/modules/{TOO_BIG_ID}", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_delete_module_without_token_returns_401(client, make_module):
    """No bearer token: 401."""
    module = await make_module()

    response = await client.delete(f"/api/modules/{module.id}")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_delete_module_disabled_admin_returns_403(
    client, make_module, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    module = await make_module()
    disabled = await make_user(role="admin", is_active=False)

    response = await client.delete(f"/api/modules/{module.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"title": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_modules_endpoint_body_over_1_mib_returns_413(
    client, auth_headers, make_module, method
):
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    module = await make_module(title="Kept")
    path = "/api/modules" if method == "POST" else f"/api/modules/{module.id}"

    response = await client.request(
        method,
        path,
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    assert await module_titles(client, auth_headers) == ["Kept"]
