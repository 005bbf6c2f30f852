"""Threats to authorization: mass assignment, BOLA (another group's data, a course not
assigned to you) and BFLA (a plain user or a manager calling operations above their role).

Every refused write is verified by reading the whole visible state back through the API
as an admin: a refusal that still changed something is a failure.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tma.courses.models import Course
from tma.groups.models import Group
from tma.users.models import User

Headers = dict[str, str]


@dataclass
class World:
    """A small family service: a manager's group with one parent in it and one course
    assigned; another group (the parent is not in it) with its own course; a spare user."""

    admin: User
    manager: User
    parent: User
    stranger: User
    group: Group
    other_group: Group
    course: Course
    other_course: Course


@pytest_asyncio.fixture
async def world(
    admin_user: User,
    manager_user: User,
    test_user: User,
    make_user: Callable[..., Awaitable[User]],
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
    make_course: Callable[..., Awaitable[Course]],
    assign_course: Callable[..., Awaitable[Any]],
) -> World:
    stranger = await make_user(username="stranger")
    group = await make_group(name="Parents of Oak class")
    other_group = await make_group(name="Parents of Elm class")
    await add_member(group, test_user)
    await add_member(other_group, stranger)
    course = await make_course(title="Opening principles")
    other_course = await make_course(title="Endgame basics")
    await assign_course(group, course)
    await assign_course(other_group, other_course)
    return World(
        admin_user,
        manager_user,
        test_user,
        stranger,
        group,
        other_group,
        course,
        other_course,
    )


async def snapshot(client: httpx.AsyncClient, admin_headers: Headers) -> dict[str, Any]:
    """Everything an admin can read: users, groups with members, courses, assignments."""
    state: dict[str, Any] = {}
    for path in ("/api/users", "/api/groups", "/api/courses"):
        response = await client.get(path, headers=admin_headers)
        assert response.status_code == 200
        state[path] = response.json()
    for group in state["/api/groups"]:
        for path in (f"/api/groups/{group['id']}", f"/api/groups/{group['id']}/courses"):
            response = await client.get(path, headers=admin_headers)
            assert response.status_code == 200
            state[path] = response.json()
    return state


# --- mass assignment ----------------------------------------------------------------------

# (method, path template, the endpoint's own valid body, who calls it). `{uid}` is the
# parent's id, `{gid}` the group's, `{cid}` the other course's (not yet in the group).
USER_WRITES = [
    ("PATCH", "/api/auth/me", {"first_name": "Una"}, "parent"),
    ("PATCH", "/api/auth/users/{uid}/profile", {"first_name": "Una"}, "admin"),
    ("PATCH", "/api/users/{uid}", {"first_name": "Una"}, "admin"),
    ("PATCH", "/api/users/{uid}/status", {"is_active": True}, "admin"),
    ("PATCH", "/api/users/{uid}/role", {"role": "user"}, "admin"),
    ("PATCH", "/api/users/{uid}/password", {"new_password": "set-by-admin"}, "admin"),
    (
        "POST",
        "/api/auth/me/password",
        {"current_password": "testpass", "new_password": "brand-new-pass"},
        "parent",
    ),
    ("PATCH", "/api/auth/users/disable", {"user_id": "{uid}", "is_active": True}, "admin"),
    ("PATCH", "/api/auth/users/role", {"user_id": "{uid}", "role": "user"}, "admin"),
    # `role` is part of these bodies (register: 403 above `user` without an admin token).
    (
        "POST",
        "/api/auth/register",
        {"email": "n@test.com", "password": "pw-123456", "role": "user"},
        None,
    ),
    (
        "POST",
        "/api/users",
        {"email": "n@test.com", "password": "pw-123456", "role": "user"},
        "admin",
    ),
    ("POST", "/api/groups", {"name": "New group"}, "admin"),
    ("PATCH", "/api/groups/{gid}", {"name": "Renamed"}, "admin"),
    ("POST", "/api/groups/{gid}/members/{sid}", {"role": "member"}, "admin"),
    ("PATCH", "/api/groups/{gid}/members/{uid}/role", {"role": "moderator"}, "admin"),
    ("POST", "/api/groups/{gid}/courses/{cid}", {"ordering": 3}, "admin"),
    ("POST", "/api/courses", {"title": "New course"}, "admin"),
    ("PATCH", "/api/courses/{cid}", {"title": "Renamed"}, "admin"),
]
PRIVILEGED_FIELDS = {"role": "admin", "is_active": False, "id": 4242}
MASS_ASSIGNMENT_CASES = [
    pytest.param(method, path, body, caller, field, id=f"{method} {path} +{field}")
    for method, path, body, caller in USER_WRITES
    for field in PRIVILEGED_FIELDS
    # The endpoint's own purpose is not mass assignment (a role change may send `role`).
    if field not in body
]


def _fill(template: str, world: World) -> str:
    return template.format(
        uid=world.parent.id, gid=world.group.id, sid=world.stranger.id, cid=world.other_course.id
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body", "caller", "field"), MASS_ASSIGNMENT_CASES)
async def test_write_endpoint_mass_assignment_of_privileged_field_returns_422_changes_nothing(
    client: httpx.AsyncClient,
    world: World,
    auth_headers: Headers,
    user_headers: Headers,
    method: str,
    path: str,
    body: dict[str, Any],
    caller: str | None,
    field: str,
) -> None:
    """A write body carrying `role`, `is_active` or `id` beyond the endpoint's own fields is
    refused whole (422, the field named) and nothing in the service changes."""
    headers = {"admin": auth_headers, "parent": user_headers, None: {}}[caller]
    payload = {key: _fill(v, world) if isinstance(v, str) else v for key, v in body.items()}
    if "user_id" in payload:
        payload["user_id"] = int(payload["user_id"])
    if path in ("/api/auth/register", "/api/users"):
        payload["username"] = "newcomer"
    payload[field] = PRIVILEGED_FIELDS[field]
    before = await snapshot(client, auth_headers)

    response = await client.request(method, _fill(path, world), json=payload, headers=headers)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems if p["type"] == "extra_forbidden"] == [["body", field]]
    assert await snapshot(client, auth_headers) == before


# --- self-registration --------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_register_self_registration_as_privileged_role_returns_403(
    client: httpx.AsyncClient, auth_headers: Headers, role: str
) -> None:
    """Without an admin's token nobody can register as manager or admin (403), and no
    account is created."""
    body = {"username": "climber", "email": "climber@test.com", "password": "pw-123456"}

    response = await client.post("/api/auth/register", json={**body, "role": role})

    assert response.status_code == 403
    assert response.json() == {"detail": "Only an admin can create manager or admin accounts"}
    users = (await client.get("/api/users", headers=auth_headers)).json()
    assert [u["username"] for u in users] == ["admin"]


@pytest.mark.asyncio
async def test_register_self_registration_as_admin_with_user_token_returns_403(
    client: httpx.AsyncClient, auth_headers: Headers, user_headers: Headers
) -> None:
    """A plain user's token does not unlock privileged roles at registration either."""
    body = {"username": "climber", "email": "climber@test.com", "password": "pw-123456"}

    response = await client.post(
        "/api/auth/register", json={**body, "role": "admin"}, headers=user_headers
    )

    assert response.status_code == 403
    users = (await client.get("/api/users", headers=auth_headers)).json()
    assert sorted(u["username"] for u in users) == ["admin", "testuser"]


# --- BOLA: another group's data, a course not assigned to you ----------------------------

BOLA_READS = [
    "/api/groups/{other_gid}",
    "/api/groups/{other_gid}/courses",
    "/api/courses/{other_cid}",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", BOLA_READS)
async def test_bola_user_reads_object_of_another_group_returns_403(
    client: httpx.AsyncClient, world: World, user_headers: Headers, path: str
) -> None:
    """A parent cannot read a group they are not in, its courses, or a course not assigned
    to any of their groups: 403 without any of the object's data."""
    url = path.format(other_gid=world.other_group.id, other_cid=world.other_course.id)

    response = await client.get(url, headers=user_headers)

    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail in ("You don't have access to this group", "You don't have access to this course")
    assert "Elm" not in response.text
    assert "Endgame" not in response.text


@pytest.mark.asyncio
async def test_bola_user_lists_groups_sees_only_own_group(
    client: httpx.AsyncClient, world: World, user_headers: Headers
) -> None:
    """The group list of a parent holds only the groups they belong to."""
    response = await client.get("/api/groups", headers=user_headers)

    assert response.status_code == 200
    assert [g["name"] for g in response.json()] == ["Parents of Oak class"]
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.asyncio
async def test_bola_user_lists_courses_sees_only_assigned_courses(
    client: httpx.AsyncClient, world: World, user_headers: Headers
) -> None:
    """The course list of a parent holds only courses assigned to their groups."""
    response = await client.get("/api/courses", headers=user_headers)

    assert response.status_code == 200
    assert [c["title"] for c in response.json()] == ["Opening principles"]
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.asyncio
async def test_bola_user_reads_course_of_own_group_returns_200(
    client: httpx.AsyncClient, world: World, user_headers: Headers
) -> None:
    """The control of the BOLA tests: a course assigned to the parent's group is readable."""
    response = await client.get(f"/api/courses/{world.course.id}", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["title"] == "Opening principles"


@pytest.mark.asyncio
async def test_bola_user_renames_another_group_returns_403_name_unchanged(
    client: httpx.AsyncClient, world: World, user_headers: Headers, manager_headers: Headers
) -> None:
    """Changing another group's data is refused and the group keeps its name."""
    response = await client.patch(
        f"/api/groups/{world.other_group.id}", json={"name": "Taken over"}, headers=user_headers
    )

    assert response.status_code == 403
    read = await client.get(f"/api/groups/{world.other_group.id}", headers=manager_headers)
    assert read.json()["name"] == "Parents of Elm class"


# --- BFLA: manager and admin operations called by lower roles ----------------------------

STAFF_OPERATIONS = [
    ("POST", "/api/groups", {"name": "Mine now"}),
    ("PATCH", "/api/groups/{gid}", {"name": "Mine now"}),
    ("DELETE", "/api/groups/{gid}", None),
    ("POST", "/api/groups/{gid}/members/{sid}", {"role": "owner"}),
    ("DELETE", "/api/groups/{gid}/members/{mid}", None),
    ("PATCH", "/api/groups/{gid}/members/{uid}/role", {"role": "owner"}),
    ("POST", "/api/groups/{gid}/courses/{ocid}", None),
    ("DELETE", "/api/groups/{gid}/courses/{cid}", None),
]
ADMIN_OPERATIONS = [
    ("GET", "/api/users", None),
    ("GET", "/api/users/{sid}", None),
    ("POST", "/api/users", {"username": "sock", "email": "sock@test.com", "password": "pw-12345"}),
    ("PATCH", "/api/users/{sid}", {"first_name": "Mallory"}),
    ("DELETE", "/api/users/{sid}", None),
    ("PATCH", "/api/users/{uid}/status", {"is_active": False}),
    ("PATCH", "/api/users/{uid}/role", {"role": "admin"}),
    ("PATCH", "/api/users/{sid}/password", {"new_password": "take-over-1"}),
    ("GET", "/api/auth/users", None),
    ("PATCH", "/api/auth/users/disable", {"user_id": "{sid}", "is_active": False}),
    ("PATCH", "/api/auth/users/role", {"user_id": "{uid}", "role": "admin"}),
    ("PATCH", "/api/auth/users/{sid}/profile", {"first_name": "Mallory"}),
    ("POST", "/api/courses", {"title": "Mine now"}),
    ("PATCH", "/api/courses/{cid}", {"title": "Mine now"}),
    ("DELETE", "/api/courses/{cid}", None),
]
BFLA_CASES = [
    pytest.param("parent", *op, id=f"user {op[0]} {op[1]}")
    for op in STAFF_OPERATIONS + ADMIN_OPERATIONS
] + [pytest.param("manager", *op, id=f"manager {op[0]} {op[1]}") for op in ADMIN_OPERATIONS]


def _fill_bfla(value: Any, world: World) -> Any:
    if not isinstance(value, str):
        return value
    filled = value.format(
        uid=world.parent.id,
        sid=world.stranger.id,
        mid=world.manager.id,
        gid=world.group.id,
        cid=world.course.id,
        ocid=world.other_course.id,
    )
    return int(filled) if value.startswith("{") and filled.isdigit() else filled


@pytest.mark.asyncio
@pytest.mark.parametrize(("caller", "method", "path", "body"), BFLA_CASES)
async def test_bfla_operation_above_caller_role_returns_403_changes_nothing(
    client: httpx.AsyncClient,
    world: World,
    auth_headers: Headers,
    manager_headers: Headers,
    user_headers: Headers,
    caller: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """A parent calling a manager/admin operation, or a manager calling an admin one, gets
    403 "You don't have permission to do this" and nothing changes. The parent is even a
    member of the group they try to manage: membership gives no management rights."""
    headers = manager_headers if caller == "manager" else user_headers
    payload = None if body is None else {k: _fill_bfla(v, world) for k, v in body.items()}
    before = await snapshot(client, auth_headers)

    response = await client.request(method, _fill_bfla(path, world), json=payload, headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await snapshot(client, auth_headers) == before


@pytest.mark.asyncio
async def test_bfla_group_owner_with_user_role_adds_member_returns_403(
    client: httpx.AsyncClient,
    world: World,
    make_auth_headers: Callable[[User], Headers],
    add_member: Callable[..., Awaitable[Any]],
    auth_headers: Headers,
) -> None:
    """Being a group's `owner` does not make a plain user a manager: adding members is still
    403, and the member list is unchanged."""
    await add_member(world.other_group, world.parent, role="owner")
    headers = make_auth_headers(world.parent)
    url = f"/api/groups/{world.other_group.id}"

    response = await client.post(f"{url}/members/{world.admin.id}", headers=headers)

    assert response.status_code == 403
    members = (await client.get(url, headers=auth_headers)).json()["members"]
    assert sorted(m["username"] for m in members) == ["manager", "stranger", "testuser"]


# --- issue 13: passwords and tokens are the account's own -----------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", ["user", "manager"])
async def test_reset_password_by_non_admin_returns_403_password_and_tokens_unchanged(
    client: httpx.AsyncClient,
    make_user: Callable[..., Awaitable[User]],
    make_auth_headers: Callable[[User], Headers],
    caller: str,
) -> None:
    """Only an admin may set another account's password: a user or a manager (even with
    the target's id) gets 403 "You don't have permission to do this"; the target's password
    still logs in and its token still works."""
    target = await make_user(username="target", role="admin")
    target_headers = make_auth_headers(target)
    attacker = await make_user(username="attacker", role=caller)

    response = await client.patch(
        f"/api/users/{target.id}/password",
        json={"new_password": "taken-over-1"},
        headers=make_auth_headers(attacker),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    login = await client.post(
        "/api/auth/login", json={"username": "target", "password": "testpass"}
    )
    assert login.status_code == 200
    assert (await client.get("/api/auth/me", headers=target_headers)).status_code == 200


@pytest.mark.asyncio
async def test_logout_all_ends_only_the_callers_tokens_returns_204(
    client: httpx.AsyncClient,
    make_user: Callable[..., Awaitable[User]],
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """logout-all acts on the caller's own account only: another account's tokens (an
    admin's here) keep working, the caller's stop."""
    parent = await make_user(username="parent")
    admin = await make_user(username="boss", role="admin")
    parent_headers, admin_headers = make_auth_headers(parent), make_auth_headers(admin)

    response = await client.post("/api/auth/logout-all", headers=parent_headers)

    assert response.status_code == 204
    assert (await client.get("/api/auth/me", headers=admin_headers)).status_code == 200
    ended = await client.get("/api/auth/me", headers=parent_headers)
    assert (ended.status_code, ended.json()) == (401, {"detail": "Could not validate credentials"})
