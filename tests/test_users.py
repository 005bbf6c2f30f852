"""Contract tests of /api/users, the admin's user management (docs/contracts/users.md).

This file is the model for every test file in the suite. A contract-level test:

- calls the API the way a client does: an HTTP request through `client`, with a real token;
- asserts the status code AND the body: every field and its exact value (`user_body(...)`
  builds the exact User body; `password` must never appear);
- verifies a write by reading it back through the API (never by peeking at the database);
- for a 422 checks where the problem is: `detail[0]["loc"]` starts with `["body", <field>]`
  (Pydantic may append the expected type, e.g. `["body", "child_dob", "date"]`);
- checks one behaviour, named `test_<endpoint>_<scenario>_<expected_result>`, with a
  docstring stating the contract, laid out as Arrange / Act / Assert.

Every test starts on an empty database (only the three system roles), so counts and lists
are asserted exactly.

Fixtures used (from conftest.py; you never need to read it):
- `client`: an httpx.AsyncClient calling the app in-process (base URL http://test)
- `admin_user` + `auth_headers`: the admin `admin` (admin@test.com) and its bearer headers
- `test_user` + `user_headers`: the regular user `testuser` (password `testpass`) and headers
- `manager_headers`: bearer headers of the manager `manager`
- `make_user(username=..., role=..., **profile)`: one more user, password `testpass`
- `make_auth_headers(user)`: bearer headers for any user
"""

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from expected import ROLE_ADMIN, ROLE_MANAGER, ROLE_USER, ROLES, USER_FIELDS, user_body
from tma.users.models import User

MakeUser = Callable[..., Awaitable[User]]
Headers = dict[str, str]

MAX_ID = 2**63 - 1


# --- GET /api/users -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_users_without_token_returns_401(client: httpx.AsyncClient) -> None:
    """Listing users needs a bearer token: none -> 401 with `WWW-Authenticate: Bearer`."""
    response = await client.get("/api/users")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_users_as_admin_returns_200_without_passwords(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin gets a JSON array of users; each has `id` and `username`, none `password`."""
    response = await client.get("/api/users", headers=auth_headers)

    assert response.status_code == 200
    users = response.json()
    assert isinstance(users, list)
    assert [u["username"] for u in users] == [admin_user.username]
    for user in users:
        assert "id" in user
        assert "username" in user
        assert "password" not in user
        assert "hashed_password" not in user


@pytest.mark.asyncio
async def test_list_users_returns_every_user_oldest_first(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User, make_user: MakeUser
) -> None:
    """The list holds every user as a full User body, oldest first, and sets X-Total-Count."""
    alice = await make_user(username="alice", first_name="Alice")
    boris = await make_user(username="boris", role="manager")

    response = await client.get("/api/users", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert response.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(alice.id, "alice", first_name="Alice"),
        user_body(boris.id, "boris", role=ROLE_MANAGER),
    ]


@pytest.mark.asyncio
async def test_list_users_with_limit_and_offset_returns_that_window(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """`limit` and `offset` cut a window; X-Total-Count still counts every user."""
    await make_user(username="first")
    second = await make_user(username="second")
    await make_user(username="third")

    response = await client.get("/api/users?limit=1&offset=2", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert response.json() == [user_body(second.id, "second")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=abc", "offset=-1", "offset=99999999999"],
)
async def test_list_users_bad_paging_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, query: str
) -> None:
    """`limit` must be 1..1000 and `offset` a non-negative integer, else 422."""
    response = await client.get(f"/api/users?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.asyncio
async def test_list_users_as_manager_returns_403(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    """User management is for admins only: a manager gets 403."""
    response = await client.get("/api/users", headers=manager_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


# --- GET /api/users/{user_id} ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_user_returns_full_user(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin reads one user by id: the full User body, every profile field included."""
    user = await make_user(
        username="carla",
        first_name="Carla",
        last_name="Mendes",
        child_name="Tito",
        child_sex_assigned_at_birth="male",
        child_dob=date(2021, 3, 14),
        avatar_url="https://img.test/carla.png",
    )

    response = await client.get(f"/api/users/{user.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body == user_body(
        user.id,
        "carla",
        first_name="Carla",
        last_name="Mendes",
        child_name="Tito",
        child_sex_assigned_at_birth="male",
        child_dob=date(2021, 3, 14),
        avatar_url="https://img.test/carla.png",
    )


@pytest.mark.asyncio
async def test_get_user_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An id no user has -> 404 whose detail says "not found"."""
    response = await client.get("/api/users/987654", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("user_id", ["abc", "0", "-1", "1.5", str(MAX_ID + 1)])
async def test_get_user_malformed_id_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, user_id: str
) -> None:
    """The id must be an integer in 1..2^63-1, else 422 (never a 500)."""
    response = await client.get(f"/api/users/{user_id}", headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]


@pytest.mark.asyncio
async def test_get_user_as_user_returns_403(
    client: httpx.AsyncClient, user_headers: Headers, test_user: User
) -> None:
    """A regular user may not use the admin door, not even to read themselves: 403."""
    response = await client.get(f"/api/users/{test_user.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


# --- POST /api/users ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_user_returns_201_and_user_is_readable(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An admin creates an account (role `user` by default); it can be read back by id."""
    payload = {
        "username": "dora",
        "email": "dora@test.com",
        "password": "s3cret-pass",
        "first_name": "Dora",
        "child_dob": "2020-06-01",
    }

    response = await client.post("/api/users", json=payload, headers=auth_headers)

    assert response.status_code == 201
    created = response.json()
    expected = user_body(created["id"], "dora", first_name="Dora", child_dob=date(2020, 6, 1))
    assert created == expected
    read_back = await client.get(f"/api/users/{created['id']}", headers=auth_headers)
    assert read_back.json() == expected


@pytest.mark.asyncio
async def test_create_user_password_works_for_login(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """The password given at creation is the one the new account logs in with."""
    payload = {"username": "emil", "email": "emil@test.com", "password": "correct horse"}
    created = await client.post("/api/users", json=payload, headers=auth_headers)
    assert created.status_code == 201

    response = await client.post(
        "/api/auth/login", json={"username": "emil", "password": "correct horse"}
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.mark.asyncio
async def test_create_user_with_role_returns_that_role(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An admin may create a manager (or an admin) by naming the role."""
    payload = {
        "username": "fela",
        "email": "fela@test.com",
        "password": "s3cret-pass",
        "role": "manager",
    }

    response = await client.post("/api/users", json=payload, headers=auth_headers)

    assert response.status_code == 201
    assert response.json()["role"] == ROLE_MANAGER
    read_back = await client.get(f"/api/users/{response.json()['id']}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_MANAGER


@pytest.mark.asyncio
async def test_create_user_duplicate_username_any_case_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Usernames are unique case-insensitively: "GINA" clashes with "gina" -> 400, no user."""
    await make_user(username="gina")
    payload = {"username": "GINA", "email": "other@test.com", "password": "s3cret-pass"}

    response = await client.post("/api/users", json=payload, headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "Username already exists"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert [u["username"] for u in listed.json()] == ["admin", "gina"]


@pytest.mark.asyncio
async def test_create_user_duplicate_email_any_case_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Emails are unique case-insensitively: "HUGO@Test.com" clashes -> 400, no user."""
    await make_user(username="hugo")
    payload = {"username": "hugo2", "email": "HUGO@Test.com", "password": "s3cret-pass"}

    response = await client.post("/api/users", json=payload, headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already exists"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert [u["username"] for u in listed.json()] == ["admin", "hugo"]


@pytest.mark.asyncio
async def test_create_user_unknown_role_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """A role that does not exist is a business error (400) naming the known roles."""
    payload = {"username": "ivan", "email": "ivan@test.com", "password": "s3cret-pass"}

    response = await client.post(
        "/api/users", json={**payload, "role": "superuser"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unknown role 'superuser'; known roles: user, manager, admin"
    }
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.headers["X-Total-Count"] == "1"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "jo"}, "username"),
        ({"username": "j" * 51}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"first_name": "f" * 101}, "first_name"),
        ({"child_dob": "2020-02-30"}, "child_dob"),
        ({"is_active": False}, "is_active"),
    ],
    ids=[
        "username-too-short",
        "username-too-long",
        "bad-email",
        "password-too-short",
        "password-too-long",
        "first-name-too-long",
        "impossible-date",
        "unknown-field",
    ],
)
async def test_create_user_invalid_field_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, change: dict[str, Any], field: str
) -> None:
    """Each field limit (and unknown fields) -> 422 naming the field; nothing is created."""
    payload = {"username": "kira", "email": "kira@test.com", "password": "s3cret-pass"}

    response = await client.post("/api/users", json={**payload, **change}, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.headers["X-Total-Count"] == "1"


@pytest.mark.asyncio
async def test_create_user_missing_password_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """`username`, `email` and `password` are required: a missing one -> 422 "missing"."""
    payload = {"username": "lena", "email": "lena@test.com"}

    response = await client.post("/api/users", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "password"], "msg": "Field required", "type": "missing"}]
    }


# --- PATCH /api/users/{user_id} -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_update_user_changes_profile_fields(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin edits profile fields; the response and a read-back show the new values."""
    user = await make_user(username="milo")
    changes = {
        "first_name": "Milo",
        "last_name": "Ferraz",
        "child_name": "Bia",
        "child_sex_assigned_at_birth": "female",
        "child_dob": "2019-11-30",
        "avatar_url": "https://img.test/milo.png",
    }

    response = await client.patch(f"/api/users/{user.id}", json=changes, headers=auth_headers)

    assert response.status_code == 200
    expected = user_body(user.id, "milo", **changes)
    assert response.json() == expected
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == expected


@pytest.mark.asyncio
async def test_update_user_only_sent_fields_change(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A PATCH touches only the fields it sends; the others keep their values."""
    user = await make_user(username="nina", first_name="Nina", last_name="Soto")

    response = await client.patch(
        f"/api/users/{user.id}", json={"last_name": "Vale"}, headers=auth_headers
    )

    assert response.status_code == 200
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "nina", first_name="Nina", last_name="Vale")


@pytest.mark.asyncio
async def test_update_user_moves_updated_at_only(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A change moves `updated_at` forward; `created_at` stays what it was."""
    user = await make_user(username="nora")
    before = (await client.get(f"/api/users/{user.id}", headers=auth_headers)).json()

    response = await client.patch(
        f"/api/users/{user.id}", json={"first_name": "Nora"}, headers=auth_headers
    )

    assert response.status_code == 200
    after = response.json()
    assert after["created_at"] == before["created_at"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(
        before["updated_at"]
    )


@pytest.mark.asyncio
async def test_update_user_empty_string_clears_field(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An empty string clears a profile field to null."""
    user = await make_user(username="otto", first_name="Otto", avatar_url="https://img.test/o")

    response = await client.patch(
        f"/api/users/{user.id}", json={"avatar_url": ""}, headers=auth_headers
    )

    assert response.status_code == 200
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "otto", first_name="Otto", avatar_url=None)


@pytest.mark.asyncio
async def test_update_user_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Editing a user that does not exist -> 404 "not found"."""
    response = await client.patch(
        "/api/users/987654", json={"first_name": "Ghost"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"is_active": False}, "is_active"),
        ({"username": "renamed"}, "username"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"avatar_url": "x" * 501}, "avatar_url"),
        ({"avatar_url": "spongebob.jpg"}, "avatar_url"),
        ({"child_sex_assigned_at_birth": "x" * 21}, "child_sex_assigned_at_birth"),
        ({"child_dob": "yesterday"}, "child_dob"),
    ],
    ids=[
        "role",
        "status",
        "username",
        "last-name-too-long",
        "avatar-url-too-long",
        "avatar-url-a-bare-file-name",
        "child-sex-too-long",
        "bad-date",
    ],
)
async def test_update_user_invalid_change_returns_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    change: dict[str, Any],
    field: str,
) -> None:
    """Only profile fields within their limits may be sent, else 422; nothing changes."""
    user = await make_user(username="petra")

    response = await client.patch(f"/api/users/{user.id}", json=change, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "petra")


@pytest.mark.asyncio
async def test_update_user_email_as_admin_returns_200_canonical_and_unverified(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """The starter app's profile save, `{first_name, last_name, email}`: an admin changes a
    user's e-mail, stored lower-cased as at registration; a new address is no longer
    verified. The response and a read-back show it, and the old address is free again."""
    user = await make_user(username="rosa")
    verified = await client.patch(
        f"/api/users/{user.id}", json={"email_verified": True}, headers=auth_headers
    )
    assert verified.status_code == 200
    body = {"first_name": "Rosa", "last_name": "Lind", "email": "  Rosa.Lind@Example.ORG "}

    response = await client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers)

    assert response.status_code == 200
    expected = user_body(
        user.id, "rosa", "rosa.lind@example.org", first_name="Rosa", last_name="Lind"
    )
    assert response.json() == expected
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.status_code == 200
    assert read_back.json() == expected
    other = {"username": "rosa2", "email": "rosa@test.com", "password": "s3cret-pass"}
    reused = await client.post("/api/users", json=other, headers=auth_headers)
    assert reused.status_code == 201


@pytest.mark.asyncio
async def test_update_user_own_email_in_other_case_returns_200_and_keeps_verified(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Sending the user's own address again (in any case) is no clash and no new address:
    200, `email_verified` stays true."""
    user = await make_user(username="sven")
    verified = await client.patch(
        f"/api/users/{user.id}", json={"email_verified": True}, headers=auth_headers
    )
    assert verified.status_code == 200

    response = await client.patch(
        f"/api/users/{user.id}", json={"email": "SVEN@Test.com"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json() == {**user_body(user.id, "sven"), "email_verified": True}


@pytest.mark.asyncio
async def test_update_user_email_and_verified_together_returns_200(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A new address sent with `email_verified: true` is stored verified."""
    user = await make_user(username="tove")

    response = await client.patch(
        f"/api/users/{user.id}",
        json={"email": "tove@example.org", "email_verified": True},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json() == {
        **user_body(user.id, "tove", "tove@example.org"),
        "email_verified": True,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("taken", ["ulla@test.com", "ULLA@Test.COM"], ids=["same", "other-case"])
async def test_update_user_email_of_another_account_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser, taken: str
) -> None:
    """Another account's address, in any case, is 400 with the message of `POST /api/users`;
    nothing changes (the first name sent with it neither)."""
    await make_user(username="ulla")
    user = await make_user(username="vito")

    response = await client.patch(
        f"/api/users/{user.id}", json={"first_name": "Vito", "email": taken}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already exists"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.status_code == 200
    assert read_back.json() == user_body(user.id, "vito")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("email", "loc"),
    [
        (None, ["body"]),
        ("", ["body", "email"]),
        ("not-an-address", ["body", "email"]),
        ("a@b", ["body", "email"]),
        ("x" * 250 + "@test.com", ["body", "email"]),
        ("nul\x00@test.com", ["body", "email"]),
    ],
    ids=["null", "empty", "no-at", "no-domain-dot", "over-254", "nul"],
)
async def test_update_user_malformed_email_returns_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    email: str | None,
    loc: list[str],
) -> None:
    """`email` follows the registration rule and may not be null: 422, nothing changes."""
    user = await make_user(username="wilma")

    response = await client.patch(
        f"/api/users/{user.id}", json={"email": email}, headers=auth_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "wilma")


@pytest.mark.asyncio
async def test_update_user_email_as_manager_returns_403(
    client: httpx.AsyncClient, manager_headers: Headers, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Only an admin changes an e-mail: a manager sending one gets 403; nothing changes."""
    user = await make_user(username="xena")

    response = await client.patch(
        f"/api/users/{user.id}", json={"email": "xena@example.org"}, headers=manager_headers
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "xena")


# --- DELETE /api/users/{user_id} ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_delete_user_returns_204_and_user_is_gone(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Deleting returns 204 with an empty body; the user then reads as 404."""
    user = await make_user(username="quinn")

    response = await client.delete(f"/api/users/{user.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.status_code == 404


@pytest.mark.asyncio
async def test_delete_user_yourself_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin cannot delete their own account: 400, and the account is still there."""
    response = await client.delete(f"/api/users/{admin_user.id}", headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot delete your own account"}
    read_back = await client.get(f"/api/users/{admin_user.id}", headers=auth_headers)
    assert read_back.status_code == 200


@pytest.mark.asyncio
async def test_delete_user_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Deleting a user that does not exist -> 404 "not found"."""
    response = await client.delete("/api/users/987654", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
async def test_delete_user_id_out_of_range_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An id beyond 64 bits -> 422, never a database error."""
    response = await client.delete(f"/api/users/{2**64}", headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]


# --- PATCH /api/users/{user_id}/status ------------------------------------------------------------


@pytest.mark.asyncio
async def test_set_user_status_disables_account(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """`{"is_active": false}` disables the account; the read-back shows it."""
    user = await make_user(username="rosa")

    response = await client.patch(
        f"/api/users/{user.id}/status", json={"is_active": False}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json() == user_body(user.id, "rosa", is_active=False)
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["is_active"] is False


@pytest.mark.asyncio
async def test_set_user_status_enables_account_with_matching_user_id(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A disabled account is enabled again; a `user_id` equal to the path id is accepted."""
    user = await make_user(username="sami", is_active=False)

    response = await client.patch(
        f"/api/users/{user.id}/status",
        json={"is_active": True, "user_id": user.id},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json() == user_body(user.id, "sami", is_active=True)
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["is_active"] is True


@pytest.mark.asyncio
async def test_set_user_status_mismatched_user_id_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A body `user_id` naming another user than the path -> 400; nobody changes."""
    user = await make_user(username="teo")
    other = await make_user(username="uma")

    response = await client.patch(
        f"/api/users/{user.id}/status",
        json={"is_active": False, "user_id": other.id},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "user_id in the body does not match the user in the path"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert [u["is_active"] for u in listed.json()] == [True, True, True]


@pytest.mark.asyncio
async def test_set_user_status_yourself_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin cannot disable their own account (400); it stays active."""
    response = await client.patch(
        f"/api/users/{admin_user.id}/status", json={"is_active": False}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot disable or enable your own account"}
    read_back = await client.get(f"/api/users/{admin_user.id}", headers=auth_headers)
    assert read_back.json()["is_active"] is True


@pytest.mark.asyncio
async def test_set_user_status_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Disabling a user that does not exist -> 404 "not found"."""
    response = await client.patch(
        "/api/users/987654/status", json={"is_active": False}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{}, {"is_active": None}, {"is_active": "maybe"}, {"is_active": True, "user_id": 0}],
    ids=["missing", "null", "not-a-boolean", "user-id-zero"],
)
async def test_set_user_status_malformed_body_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser, body: dict[str, Any]
) -> None:
    """`is_active` must be a boolean (not null) and `user_id` a valid id, else 422."""
    user = await make_user(username="vera")

    response = await client.patch(f"/api/users/{user.id}/status", json=body, headers=auth_headers)

    assert response.status_code == 422
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["is_active"] is True


# --- PATCH /api/users/{user_id}/role --------------------------------------------------------------


@pytest.mark.asyncio
async def test_set_user_role_changes_role(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin promotes a user to manager; the response and a read-back show it."""
    user = await make_user(username="wanda")

    response = await client.patch(
        f"/api/users/{user.id}/role", json={"role": "manager"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json() == user_body(user.id, "wanda", role=ROLE_MANAGER)
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_MANAGER


@pytest.mark.asyncio
async def test_set_user_role_unknown_role_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A role that does not exist -> 400; the user keeps their role."""
    user = await make_user(username="xavi")

    response = await client.patch(
        f"/api/users/{user.id}/role", json={"role": "owner"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown role 'owner'; known roles: user, manager, admin"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_USER


@pytest.mark.asyncio
async def test_set_user_role_mismatched_user_id_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """A body `user_id` naming another user than the path -> 400; nobody changes."""
    user = await make_user(username="yara")
    other = await make_user(username="zeno")

    response = await client.patch(
        f"/api/users/{user.id}/role",
        json={"role": "admin", "user_id": other.id},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "user_id in the body does not match the user in the path"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert [u["role"]["name"] for u in listed.json()] == ["admin", "user", "user"]


@pytest.mark.asyncio
async def test_set_user_role_yourself_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin cannot change their own role (400), so there is always an admin left."""
    response = await client.patch(
        f"/api/users/{admin_user.id}/role", json={"role": "user"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot change the role of your own account"}
    read_back = await client.get(f"/api/users/{admin_user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_ADMIN


@pytest.mark.asyncio
async def test_set_user_role_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Changing the role of a user that does not exist -> 404 "not found"."""
    response = await client.patch(
        "/api/users/987654/role", json={"role": "manager"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{}, {"role": ""}, {"role": None}, {"role": ["admin"]}, {"role": "r" * 51}],
    ids=["missing", "empty", "null", "list", "too-long"],
)
async def test_set_user_role_malformed_body_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser, body: dict[str, Any]
) -> None:
    """`role` must be a string of 1..50 characters, else 422; the role stays."""
    user = await make_user(username="abel")

    response = await client.patch(f"/api/users/{user.id}/role", json=body, headers=auth_headers)

    assert response.status_code == 422
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_USER


# --- Who may call: every /api/users endpoint ------------------------------------------------------

# (method, path, body) of every endpoint; `{id}` is replaced by an existing user's id.
ENDPOINTS = [
    ("GET", "/api/users", None),
    ("GET", "/api/users/{id}", None),
    ("POST", "/api/users", {"username": "new1", "email": "new1@test.com", "password": "pw-12345"}),
    ("PATCH", "/api/users/{id}", {"first_name": "Changed"}),
    ("DELETE", "/api/users/{id}", None),
    ("PATCH", "/api/users/{id}/status", {"is_active": False}),
    ("PATCH", "/api/users/{id}/role", {"role": "admin"}),
    ("PATCH", "/api/users/{id}/password", {"new_password": "set-by-admin"}),
]
ENDPOINT_IDS = [f"{method}:{path}" for method, path, _ in ENDPOINTS]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_users_endpoint_without_token_returns_401(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_user: MakeUser,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Every /api/users endpoint refuses a request without a token (401, Bearer challenge)
    and changes nothing."""
    target = await make_user(username="target")

    response = await client.request(method, path.format(id=target.id), json=body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(target.id, "target"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("role", ["user", "manager"])
async def test_users_endpoint_as_non_admin_returns_403(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_user: MakeUser,
    make_auth_headers: Callable[[User], Headers],
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Every /api/users endpoint is admin only: a user or a manager gets 403, nothing changes."""
    caller = await make_user(username="caller", role=role)
    target = await make_user(username="target")

    response = await client.request(
        method, path.format(id=target.id), json=body, headers=make_auth_headers(caller)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(caller.id, "caller", role=ROLES[role]),
        user_body(target.id, "target"),
    ]


# --- Body size: every /api/users endpoint that takes a body ---------------------------------------

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"first_name": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [(method, path) for method, path, body in ENDPOINTS if body is not None],
    ids=[f"{method}:{path}" for method, path, body in ENDPOINTS if body is not None],
)
async def test_users_endpoint_body_over_1_mib_returns_413(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    make_user: MakeUser,
    method: str,
    path: str,
) -> None:
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    target = await make_user(username="target")

    response = await client.request(
        method,
        path.format(id=target.id),
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(target.id, "target"),
    ]
