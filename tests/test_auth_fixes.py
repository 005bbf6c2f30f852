"""The holes of the old backend that the API spec closes (the rules marked **FIX**), for the
auth and users resources. Each rule has its own test (or parametrized family of tests).

Fixtures used: `client`, `admin_user` + `auth_headers`, `make_user`, `make_auth_headers`,
`make_group`, `add_member`.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from expected import ROLE_ADMIN, ROLE_USER, user_body
from tma.groups.models import Group, GroupMember
from tma.users.models import User

MakeUser = Callable[..., Awaitable[User]]
MakeHeaders = Callable[[User], dict[str, str]]
Headers = dict[str, str]

ACCOUNT_DISABLED = {"detail": "account disabled"}
BAD_TOKEN = {"detail": "Could not validate credentials"}


def _payload(username: str, **extra: Any) -> dict[str, Any]:
    base = {"username": username, "email": f"{username}@test.com", "password": "pass-word-1"}
    return base | extra


async def _usernames(client: httpx.AsyncClient, headers: Headers) -> list[str]:
    response = await client.get("/api/users", headers=headers)
    return [user["username"] for user in response.json()]


# --- FIX: self-registration is always a plain `user` ----------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_register_privileged_role_without_token_returns_403_and_creates_nothing(
    client: httpx.AsyncClient, auth_headers: Headers, role: str
) -> None:
    """Registering yourself as manager or admin -> 403; no account is created."""
    response = await client.post("/api/auth/register", json=_payload("sneaky", role=role))

    assert response.status_code == 403
    assert response.json() == {"detail": "Only an admin can create manager or admin accounts"}
    assert await _usernames(client, auth_headers) == ["admin"]


@pytest.mark.asyncio
@pytest.mark.parametrize("caller_role", ["user", "manager"])
async def test_register_admin_role_with_non_admin_token_returns_403_and_creates_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
    caller_role: str,
) -> None:
    """Only an admin's token may hand out roles: a user's or manager's token -> 403."""
    caller = await make_user(username="caller", role=caller_role)

    response = await client.post(
        "/api/auth/register",
        json=_payload("sneaky", role="admin"),
        headers=make_auth_headers(caller),
    )

    assert response.status_code == 403
    assert await _usernames(client, auth_headers) == ["admin", "caller"]


# --- FIX: a disabled account's token stops working at once ----------------------------------------


@pytest.mark.asyncio
async def test_disabled_user_token_returns_401_on_next_request(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
) -> None:
    """A token that worked stops working the moment its account is disabled: disabling
    ends every token issued so far (401, issue 13)."""
    user = await make_user(username="soon-off")
    headers = make_auth_headers(user)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200

    disabled = await client.patch(
        f"/api/users/{user.id}/status", json={"is_active": False}, headers=auth_headers
    )
    assert disabled.status_code == 200
    response = await client.get("/api/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


# Every route that reads the caller's token, called by a disabled *admin* (so that no role
# check could be the reason for the 403); `{id}` is another, active user.
AUTHENTICATED_ROUTES = [
    ("POST", "/api/auth/register", _payload("newbie")),
    ("GET", "/api/auth/me", None),
    ("PATCH", "/api/auth/me", {"first_name": "Changed"}),
    ("GET", "/api/auth/users", None),
    ("PATCH", "/api/auth/users/disable", {"user_id": "{id}", "is_active": False}),
    ("PATCH", "/api/auth/users/role", {"user_id": "{id}", "role": "admin"}),
    ("PATCH", "/api/auth/users/{id}/profile", {"first_name": "Changed"}),
    ("GET", "/api/users", None),
    ("GET", "/api/users/{id}", None),
    ("POST", "/api/users", _payload("newbie")),
    ("PATCH", "/api/users/{id}", {"first_name": "Changed"}),
    ("DELETE", "/api/users/{id}", None),
    ("PATCH", "/api/users/{id}/status", {"is_active": False}),
    ("PATCH", "/api/users/{id}/role", {"role": "admin"}),
]


def _fill(body: dict[str, Any] | None, user_id: int) -> dict[str, Any] | None:
    if body is None:
        return None
    return {key: user_id if value == "{id}" else value for key, value in body.items()}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "body"),
    AUTHENTICATED_ROUTES,
    ids=[f"{method}:{path}" for method, path, _ in AUTHENTICATED_ROUTES],
)
async def test_disabled_admin_token_refused_on_every_route_with_403(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """A disabled account's token -> 403 "account disabled" everywhere; nothing changes."""
    disabled_admin = await make_user(username="old-admin", role="admin", is_active=False)
    target = await make_user(username="target")

    response = await client.request(
        method,
        path.format(id=target.id),
        json=_fill(body, target.id),
        headers=make_auth_headers(disabled_admin),
    )

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(disabled_admin.id, "old-admin", role=ROLE_ADMIN, is_active=False),
        user_body(target.id, "target"),
    ]


# --- FIX: a deleted account's token stops working, also for a namesake ----------------------------


@pytest.mark.asyncio
async def test_deleted_user_token_returns_401(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
) -> None:
    """A token whose account was deleted -> 401 with the Bearer challenge."""
    user = await make_user(username="leaving")
    headers = make_auth_headers(user)
    deleted = await client.delete(f"/api/users/{user.id}", headers=auth_headers)
    assert deleted.status_code == 204

    response = await client.get("/api/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == BAD_TOKEN


@pytest.mark.asyncio
async def test_deleted_user_token_never_works_for_new_account_with_same_username(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
) -> None:
    """Users are identified by id: a new `reused` account does not revive the old token."""
    old = await make_user(username="reused", role="admin")
    old_headers = make_auth_headers(old)
    deleted = await client.delete(f"/api/users/{old.id}", headers=auth_headers)
    assert deleted.status_code == 204
    new = await client.post("/api/auth/register", json=_payload("reused"))
    assert new.status_code == 201
    assert new.json()["id"] != old.id

    response = await client.get("/api/auth/me", headers=old_headers)

    assert response.status_code == 401
    assert response.json() == BAD_TOKEN


# --- FIX: role changes apply on the next request --------------------------------------------------


@pytest.mark.asyncio
async def test_demoted_admin_gets_403_on_next_request(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
) -> None:
    """The role is read from the database, not the token: a demoted admin loses access."""
    other_admin = await make_user(username="ex-admin", role="admin")
    headers = make_auth_headers(other_admin)
    assert (await client.get("/api/users", headers=headers)).status_code == 200

    demoted = await client.patch(
        f"/api/users/{other_admin.id}/role", json={"role": "user"}, headers=auth_headers
    )
    assert demoted.status_code == 200
    response = await client.get("/api/users", headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    me = await client.get("/api/auth/me", headers=headers)
    assert me.json()["role"] == ROLE_USER


@pytest.mark.asyncio
async def test_promoted_user_gets_access_on_next_request(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_user: MakeUser,
    make_auth_headers: MakeHeaders,
) -> None:
    """A user promoted to admin may use the admin endpoints with the token they already hold."""
    user = await make_user(username="rising")
    headers = make_auth_headers(user)
    assert (await client.get("/api/users", headers=headers)).status_code == 403

    promoted = await client.patch(
        "/api/auth/users/role", json={"user_id": user.id, "role": "admin"}, headers=auth_headers
    )
    assert promoted.status_code == 200
    response = await client.get("/api/users", headers=headers)

    assert response.status_code == 200
    assert response.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(user.id, "rising", role=ROLE_ADMIN),
    ]


# --- FIX: deleting a user keeps the groups, drops the memberships ---------------------------------


@pytest.mark.asyncio
async def test_delete_user_keeps_created_groups_with_null_creator(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[GroupMember]],
) -> None:
    """Deleting a group's creator keeps the group (`created_by` null) and its other members
    (here the creator has made another member an owner: a last owner cannot be deleted)."""
    founder = await make_user(username="founder", role="manager")
    parent = await make_user(username="parent")
    group = await make_group(name="Tuesday circle", creator=founder)
    await add_member(group, parent, role="owner")

    response = await client.delete(f"/api/users/{founder.id}", headers=auth_headers)

    assert response.status_code == 204
    detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert detail.status_code == 200
    assert detail.json()["name"] == "Tuesday circle"
    assert detail.json()["created_by"] is None
    assert detail.json()["member_count"] == 1
    assert [m["username"] for m in detail.json()["members"]] == ["parent"]


@pytest.mark.asyncio
async def test_delete_user_removes_their_memberships(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[GroupMember]],
) -> None:
    """Deleting a member removes them from every group they belonged to."""
    founder = await make_user(username="founder", role="manager")
    parent = await make_user(username="parent")
    first = await make_group(name="Mornings", creator=founder)
    second = await make_group(name="Evenings", creator=founder)
    await add_member(first, parent)
    await add_member(second, parent, role="moderator")

    response = await client.delete(f"/api/users/{parent.id}", headers=auth_headers)

    assert response.status_code == 204
    for group in (first, second):
        detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
        assert detail.json()["created_by"] == founder.id
        assert detail.json()["member_count"] == 1
        assert [m["username"] for m in detail.json()["members"]] == ["founder"]


# --- FIX: no input produces a 500 -----------------------------------------------------------------

# Each case: (method, path, JSON body), sent with the admin's token; `{id}` in the path or as
# a body value is the admin's own id (input is validated before any business rule, so the
# answer is 422 whoever is named). After the 422 the test checks that nothing changed.
Case = tuple[str, str, Any]

OUT_OF_RANGE_IDS: list[Case] = [
    ("GET", f"/api/users/{2**63}", None),
    ("GET", f"/api/users/{2**64}", None),
    ("GET", f"/api/users/-{2**63 + 1}", None),
    ("PATCH", f"/api/users/{10**30}", {"first_name": "Big"}),
    ("DELETE", f"/api/users/{2**63}", None),
    ("PATCH", f"/api/users/{2**63}/status", {"is_active": False}),
    ("PATCH", f"/api/users/{2**63}/role", {"role": "admin"}),
    ("PATCH", "/api/users/{id}/status", {"is_active": False, "user_id": 2**63}),
    ("PATCH", "/api/users/{id}/role", {"role": "admin", "user_id": -(2**64)}),
    ("PATCH", "/api/auth/users/disable", {"user_id": 2**63, "is_active": False}),
    ("PATCH", "/api/auth/users/role", {"user_id": 10**40, "role": "admin"}),
    ("PATCH", f"/api/auth/users/{2**64}/profile", {"first_name": "Big"}),
]

NUL = "\x00"
NUL_BYTES: list[Case] = [
    ("POST", "/api/auth/register", _payload(f"nul{NUL}name")),
    ("POST", "/api/auth/register", _payload("nulpass", password=f"pass{NUL}word")),
    ("POST", "/api/auth/register", _payload("nulmail", email=f"nul{NUL}@test.com")),
    ("POST", "/api/auth/login", {"username": f"admin{NUL}", "password": "testpass"}),
    ("POST", "/api/auth/login", {"username": "admin", "password": f"test{NUL}pass"}),
    ("PATCH", "/api/auth/me", {"first_name": f"A{NUL}"}),
    ("POST", "/api/users", _payload("nulchild", child_name=f"Kid{NUL}")),
    ("PATCH", "/api/users/{id}", {"avatar_url": f"https://img.test/{NUL}"}),
    ("PATCH", "/api/users/{id}/role", {"role": f"admin{NUL}"}),
    ("PATCH", "/api/auth/users/role", {"user_id": "{id}", "role": f"{NUL}"}),
    ("PATCH", "/api/auth/users/{id}/profile", {"child_sex_assigned_at_birth": f"f{NUL}"}),
]

HUGE = "x" * 200_000  # well over every field limit, well under the 1 MiB body limit
HUGE_STRINGS: list[Case] = [
    ("POST", "/api/auth/register", _payload(HUGE)),
    ("POST", "/api/auth/register", _payload("hugepass", password=HUGE)),
    ("POST", "/api/auth/register", _payload("hugemail", email=f"{HUGE}@test.com")),
    ("POST", "/api/auth/login", {"username": HUGE, "password": "testpass"}),
    ("POST", "/api/auth/login", {"username": "admin", "password": HUGE}),
    ("PATCH", "/api/auth/me", {"last_name": HUGE}),
    ("POST", "/api/users", _payload("hugerole", role=HUGE)),
    ("PATCH", "/api/users/{id}", {"child_name": HUGE}),
    ("PATCH", "/api/users/{id}/role", {"role": HUGE}),
    ("PATCH", "/api/auth/users/role", {"user_id": "{id}", "role": HUGE}),
    ("PATCH", "/api/auth/users/{id}/profile", {"avatar_url": HUGE}),
]

WRONG_TYPES: list[Case] = [
    ("POST", "/api/auth/register", ["someone", "someone@test.com", "pass-word-1"]),
    ("POST", "/api/auth/register", _payload("typed") | {"username": ["typed"]}),
    ("POST", "/api/auth/register", _payload("typed", email=42)),
    ("POST", "/api/auth/register", _payload("typed", password={"value": "pass-word-1"})),
    ("POST", "/api/auth/register", _payload("typed", child_dob=True)),
    ("POST", "/api/auth/login", "admin:testpass"),
    ("POST", "/api/auth/login", {"username": None, "password": "testpass"}),
    ("PATCH", "/api/auth/me", {"first_name": 7}),
    ("PATCH", "/api/auth/me", 12),
    ("POST", "/api/users", _payload("typed", role=1)),
    ("PATCH", "/api/users/{id}", {"last_name": ["Vale"]}),
    ("PATCH", "/api/users/{id}/status", {"is_active": [True]}),
    ("PATCH", "/api/users/{id}/status", {"is_active": False, "user_id": "me"}),
    ("PATCH", "/api/users/{id}/role", {"role": {"name": "admin"}}),
    ("PATCH", "/api/auth/users/disable", {"user_id": 1.5, "is_active": False}),
    ("PATCH", "/api/auth/users/disable", {"user_id": "{id}", "is_active": "maybe"}),
    ("PATCH", "/api/auth/users/role", {"user_id": [1], "role": "admin"}),
    ("PATCH", "/api/auth/users/{id}/profile", {"child_dob": 3.5}),
]


def _ids(cases: list[Case]) -> list[str]:
    return [f"{i}-{method}:{path[:40]}" for i, (method, path, _) in enumerate(cases)]


async def _assert_422_and_nothing_changed(
    client: httpx.AsyncClient, auth_headers: Headers, admin: User, method: str, path: str, body: Any
) -> None:
    if isinstance(body, dict):
        body = {key: admin.id if value == "{id}" else value for key, value in body.items()}

    response = await client.request(
        method, path.format(id=admin.id), json=body, headers=auth_headers
    )

    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert isinstance(problems, list)
    assert problems
    assert {"loc", "msg", "type"} <= set(problems[0])
    # Nothing changed: the admin's account is intact and nobody else exists.
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [user_body(admin.id, "admin", role=ROLE_ADMIN)]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), OUT_OF_RANGE_IDS, ids=_ids(OUT_OF_RANGE_IDS))
async def test_ids_outside_64_bit_range_return_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    method: str,
    path: str,
    body: Any,
) -> None:
    """An id outside 1..2^63-1, in the path or the body -> 422, never a 500; no change."""
    await _assert_422_and_nothing_changed(client, auth_headers, admin_user, method, path, body)


# Ids inside the 64-bit range but past 32 bits: valid ids that name nothing -> 404 on both
# databases (PostgreSQL's id columns are BIGINT; with 32-bit ones the driver refused such a
# parameter and the request ended in a 500). `{gid}` / `{cid}` are an existing group / course.
BIG = (2**31, 2**40, 2**63 - 1)
UNKNOWN_BIG_IDS: list[Case] = [
    *(("GET", f"/api/users/{big}", None) for big in BIG),
    ("PATCH", f"/api/users/{2**40}", {"first_name": "Big"}),
    ("DELETE", f"/api/users/{2**63 - 1}", None),
    ("PATCH", f"/api/users/{2**31}/status", {"is_active": False}),
    ("PATCH", f"/api/users/{2**31}/role", {"role": "manager"}),
    ("PATCH", "/api/auth/users/disable", {"user_id": 2**40, "is_active": False}),
    ("PATCH", "/api/auth/users/role", {"user_id": 2**63 - 1, "role": "manager"}),
    ("PATCH", f"/api/auth/users/{2**40}/profile", {"first_name": "Big"}),
    *(("GET", f"/api/groups/{big}", None) for big in BIG),
    ("PATCH", f"/api/groups/{2**40}", {"name": "Big"}),
    ("DELETE", f"/api/groups/{2**63 - 1}", None),
    ("GET", f"/api/groups/{2**40}/courses", None),
    ("POST", f"/api/groups/{{gid}}/members/{2**40}", None),
    ("PATCH", f"/api/groups/{{gid}}/members/{2**31}/role", {"role": "moderator"}),
    ("DELETE", f"/api/groups/{{gid}}/members/{2**63 - 1}", None),
    ("POST", f"/api/groups/{{gid}}/courses/{2**40}", None),
    ("DELETE", f"/api/groups/{2**40}/courses/{{cid}}", None),
    *(("GET", f"/api/courses/{big}", None) for big in BIG),
    ("PATCH", f"/api/courses/{2**40}", {"title": "Big"}),
    ("DELETE", f"/api/courses/{2**63 - 1}", None),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), UNKNOWN_BIG_IDS, ids=_ids(UNKNOWN_BIG_IDS))
async def test_unknown_ids_past_32_bits_return_404(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_group: Callable[..., Awaitable[Group]],
    make_course: Callable[..., Awaitable[Any]],
    method: str,
    path: str,
    body: Any,
) -> None:
    """An id in 2^31..2^63-1 that names nothing -> 404 "not found", never a 500."""
    group = await make_group(creator=admin_user)
    course = await make_course()

    response = await client.request(
        method, path.format(gid=group.id, cid=course.id), json=body, headers=auth_headers
    )

    assert response.status_code == 404, response.text
    assert "not found" in response.json()["detail"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), NUL_BYTES, ids=_ids(NUL_BYTES))
async def test_nul_bytes_in_strings_return_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    method: str,
    path: str,
    body: Any,
) -> None:
    """A NUL character in any string (PostgreSQL cannot store it) -> 422; no change."""
    await _assert_422_and_nothing_changed(client, auth_headers, admin_user, method, path, body)


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), HUGE_STRINGS, ids=_ids(HUGE_STRINGS))
async def test_huge_strings_return_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    method: str,
    path: str,
    body: Any,
) -> None:
    """A 200 000-character string in any field -> 422 from its length limit; no change."""
    await _assert_422_and_nothing_changed(client, auth_headers, admin_user, method, path, body)


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), WRONG_TYPES, ids=_ids(WRONG_TYPES))
async def test_wrong_json_types_return_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    method: str,
    path: str,
    body: Any,
) -> None:
    """A body or field of the wrong JSON type (array, number, object, null...) -> 422."""
    await _assert_422_and_nothing_changed(client, auth_headers, admin_user, method, path, body)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"username": "target", "password": ', b"", b"\xff\xfe"],
    ids=["broken-json", "truncated-json", "empty-body", "not-utf8"],
)
async def test_unparsable_body_returns_422(
    client: httpx.AsyncClient, test_user: User, raw: bytes
) -> None:
    """A body that is not JSON at all -> 422 (FastAPI's "json_invalid"), never a 500."""
    response = await client.post(
        "/api/auth/login", content=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
