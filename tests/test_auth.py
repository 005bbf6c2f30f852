"""Contract tests of /api/auth: register, login, the caller's own account, and the older
user-admin doors (docs/contracts/auth.md). Written like tests/test_users.py; read that first.

Fixtures used: `client`, `admin_user` + `auth_headers`, `test_user` + `user_headers`,
`manager_headers`, `make_user`, `make_auth_headers`, and `test_settings` (the app's settings,
to mint an expired token the way the app would).
"""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import jwt
import pytest

from expected import ROLE_ADMIN, ROLE_MANAGER, ROLE_USER, USER_FIELDS, user_body
from tma.core.config import Settings
from tma.core.security import create_access_token
from tma.users.models import User

MakeUser = Callable[..., Awaitable[User]]
Headers = dict[str, str]

BAD_CREDENTIALS = {"detail": "Incorrect username or password"}
NO_PERMISSION = {"detail": "You don't have permission to do this"}


def register_payload(username: str, **extra: Any) -> dict[str, Any]:
    """A valid registration body for `username`; `extra` adds or overrides fields."""
    base = {"username": username, "email": f"{username}@test.com", "password": "pass-word-1"}
    return base | extra


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


# --- POST /api/auth/register ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_register_returns_201_and_account_can_log_in(client: httpx.AsyncClient) -> None:
    """Anyone may register; the account is a `user` and logs in with the chosen password."""
    payload = register_payload("amara", first_name="Amara", child_dob="2022-01-09")

    response = await client.post("/api/auth/register", json=payload)

    assert response.status_code == 201
    created = response.json()
    expected = user_body(created["id"], "amara", first_name="Amara", child_dob=date(2022, 1, 9))
    assert created == expected
    token = (await login(client, "amara", "pass-word-1")).json()["access_token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == expected


@pytest.mark.asyncio
async def test_register_strips_username_and_lowercases_email(client: httpx.AsyncClient) -> None:
    """White space around the username is removed and the email is stored lower-case."""
    payload = register_payload("  benji  ", email="Benji@Example.COM")

    response = await client.post("/api/auth/register", json=payload)

    assert response.status_code == 201
    assert response.json()["username"] == "benji"
    assert response.json()["email"] == "benji@example.com"
    assert (await login(client, "benji", "pass-word-1")).status_code == 200


@pytest.mark.asyncio
async def test_register_keeps_password_exactly_as_typed(client: httpx.AsyncClient) -> None:
    """The password is never stripped: surrounding spaces are part of it."""
    registered = await client.post(
        "/api/auth/register", json=register_payload("cleo", password=" pass word ")
    )
    assert registered.status_code == 201

    stripped = await login(client, "cleo", "pass word")
    exact = await login(client, "cleo", " pass word ")

    assert stripped.status_code == 401
    assert exact.status_code == 200


@pytest.mark.asyncio
async def test_register_as_user_role_without_token_returns_201(client: httpx.AsyncClient) -> None:
    """Asking explicitly for the `user` role needs no token."""
    response = await client.post("/api/auth/register", json=register_payload("dani", role="user"))

    assert response.status_code == 201
    assert response.json() == user_body(response.json()["id"], "dani", role=ROLE_USER)


@pytest.mark.asyncio
async def test_register_with_admin_token_creates_manager(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """With an admin's token, registration may hand out `manager` (or `admin`)."""
    payload = register_payload("eloy", role="manager")

    response = await client.post("/api/auth/register", json=payload, headers=auth_headers)

    assert response.status_code == 201
    assert response.json() == user_body(response.json()["id"], "eloy", role=ROLE_MANAGER)
    read_back = await client.get(f"/api/users/{response.json()['id']}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_MANAGER


@pytest.mark.asyncio
async def test_register_duplicate_username_any_case_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """A username taken in any letter case -> 400 "Username already registered"; no account."""
    response = await client.post(
        "/api/auth/register", json=register_payload("TestUser", email="fresh@test.com")
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Username already registered"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert [u["email"] for u in listed.json()] == ["admin@test.com", "testuser@test.com"]


@pytest.mark.asyncio
async def test_register_duplicate_email_any_case_returns_400(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """An email taken in any letter case -> 400 "Email already registered"; no account."""
    response = await client.post(
        "/api/auth/register", json=register_payload("fresh", email="TESTUSER@test.com")
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already registered"}
    assert (await login(client, "fresh", "pass-word-1")).status_code == 401


@pytest.mark.asyncio
async def test_register_unknown_role_returns_400(client: httpx.AsyncClient) -> None:
    """An unknown role -> 400 naming the known roles; no account is created."""
    response = await client.post("/api/auth/register", json=register_payload("gus", role="king"))

    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown role 'king'; known roles: user, manager, admin"}
    assert (await login(client, "gus", "pass-word-1")).status_code == 401


@pytest.mark.asyncio
async def test_register_with_invalid_token_returns_401(client: httpx.AsyncClient) -> None:
    """A token that is sent must be valid, even here: a bad one -> 401, no account."""
    response = await client.post(
        "/api/auth/register",
        json=register_payload("hana"),
        headers={"Authorization": "Bearer not-a-jwt"},
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Could not validate credentials"}
    assert (await login(client, "hana", "pass-word-1")).status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": " ab "}, "username"),
        ({"username": "u" * 51}, "username"),
        ({"email": "hana@"}, "email"),
        ({"password": "seven77"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"child_name": "c" * 101}, "child_name"),
        ({"email_verified": True}, "email_verified"),
    ],
    ids=[
        "username-short-after-strip",
        "username-too-long",
        "bad-email",
        "password-too-short",
        "password-too-long",
        "child-name-too-long",
        "unknown-field",
    ],
)
async def test_register_invalid_field_returns_422(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    """Each field limit (and unknown fields) -> 422 naming the field."""
    response = await client.post("/api/auth/register", json=register_payload("ines") | change)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert (await login(client, "ines", "pass-word-1")).status_code == 401


# --- POST /api/auth/login -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_valid_credentials_returns_token(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """The right username and password -> 200 with a bearer token."""
    response = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "testpass"}
    )

    assert response.status_code == 200
    data = response.json()
    assert "access_token" in data
    assert data["token_type"] == "bearer"


@pytest.mark.asyncio
async def test_login_token_identifies_the_user(client: httpx.AsyncClient, test_user: User) -> None:
    """The token from login authenticates as that user; the username matches in any case."""
    response = await login(client, "TESTUSER", "testpass")

    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type"}
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = await client.get("/api/auth/me", headers=headers)
    assert me.json() == user_body(test_user.id, "testuser")


@pytest.mark.asyncio
async def test_login_wrong_password_returns_401(client: httpx.AsyncClient, test_user: User) -> None:
    """A wrong password -> 401 with the same message as an unknown user."""
    response = await login(client, "testuser", "wrong-pass")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_login_unknown_user_returns_401(client: httpx.AsyncClient) -> None:
    """An unknown username -> 401, indistinguishable from a wrong password."""
    response = await login(client, "nobody", "testpass")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


@pytest.mark.asyncio
async def test_login_disabled_account_returns_403(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """A disabled account with the right password -> 403 "account disabled", no token."""
    await make_user(username="jonas", is_active=False)

    response = await login(client, "jonas", "testpass")

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_login_disabled_account_wrong_password_returns_401(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """Credentials are checked first: a wrong password never reveals the account's status."""
    await make_user(username="kofi", is_active=False)

    response = await login(client, "kofi", "wrong-pass")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


@pytest.mark.asyncio
async def test_login_after_five_failures_returns_429(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """After 5 failed logins for a username, even the right password is refused (429)."""
    failures = [(await login(client, "testuser", "wrong-pass")).status_code for _ in range(5)]

    response = await login(client, "testuser", "testpass")

    assert failures == [401] * 5
    assert response.status_code == 429
    assert response.json() == {"detail": "Too many failed login attempts; try again later"}
    assert 1 <= int(response.headers["Retry-After"]) <= 300


@pytest.mark.asyncio
async def test_login_malformed_attempts_do_not_count_toward_throttle(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """A 422 is not a failed login: after 6 malformed bodies the right password still works."""
    for _ in range(6):
        assert (await login(client, "testuser", "short")).status_code == 422

    response = await login(client, "testuser", "testpass")

    assert response.status_code == 200


@pytest.mark.asyncio
async def test_login_throttle_is_per_username(
    client: httpx.AsyncClient, test_user: User, make_user: MakeUser
) -> None:
    """Failures for one username do not lock out another."""
    await make_user(username="lina")
    for _ in range(5):
        await login(client, "testuser", "wrong-pass")

    response = await login(client, "lina", "testpass")

    assert response.status_code == 200


@pytest.mark.asyncio
async def test_login_success_resets_failure_count(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """A successful login forgets earlier failures: 4 + success + 4 more is not a lockout."""
    for _ in range(4):
        await login(client, "testuser", "wrong-pass")
    assert (await login(client, "testuser", "testpass")).status_code == 200
    for _ in range(4):
        await login(client, "testuser", "wrong-pass")

    response = await login(client, "testuser", "testpass")

    assert response.status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"username": "testuser"},
        {"password": "testpass"},
        {"username": "ab", "password": "testpass"},
        {"username": "testuser", "password": "short"},
        {"username": 12345, "password": "testpass"},
        {"username": "testuser", "password": "testpass", "remember": True},
    ],
    ids=[
        "no-password",
        "no-username",
        "username-too-short",
        "password-too-short",
        "username-not-a-string",
        "unknown-field",
    ],
)
async def test_login_malformed_body_returns_422(
    client: httpx.AsyncClient, test_user: User, body: dict[str, Any]
) -> None:
    """Login bodies follow the field limits; anything else -> 422 (no token, no throttle)."""
    response = await client.post("/api/auth/login", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


# --- GET /api/auth/me -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_returns_own_account(
    client: httpx.AsyncClient, make_user: MakeUser, make_auth_headers: Callable[[User], Headers]
) -> None:
    """Any signed-in user reads their own full account, never a password."""
    user = await make_user(username="mara", role="manager", last_name="Okoro")

    response = await client.get("/api/auth/me", headers=make_auth_headers(user))

    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    assert response.json() == user_body(user.id, "mara", role=ROLE_MANAGER, last_name="Okoro")


@pytest.mark.asyncio
async def test_get_me_without_token_returns_401(client: httpx.AsyncClient) -> None:
    """No token -> 401 with `WWW-Authenticate: Bearer`."""
    response = await client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


def _authorization(kind: str, user: User, settings: Settings) -> str:
    """An `Authorization` header value that must not authenticate `user`."""
    if kind == "garbage":
        return "Bearer not.a.jwt"
    if kind == "wrong-key":
        claims = {"sub": str(user.id), "exp": 4102444800, "type": "access"}
        return "Bearer " + jwt.encode(claims, "another-secret-key-0123456789abcdef", "HS256")
    if kind == "expired":
        return f"Bearer {create_access_token(user.id, settings, expires_minutes=-1)}"
    if kind == "basic-scheme":
        return "Basic dGVzdHVzZXI6dGVzdHBhc3M="
    return "Bearer"  # "empty-bearer": the scheme without a token


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("garbage", "Could not validate credentials"),
        ("wrong-key", "Could not validate credentials"),
        ("expired", "Could not validate credentials"),
        ("basic-scheme", "Not authenticated"),
        ("empty-bearer", "Not authenticated"),
    ],
)
async def test_get_me_bad_token_returns_401(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings, kind: str, detail: str
) -> None:
    """A malformed, badly signed or expired token, or another scheme -> 401 with the challenge."""
    headers = {"Authorization": _authorization(kind, test_user, test_settings)}

    response = await client.get("/api/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": detail}


@pytest.mark.asyncio
async def test_get_me_disabled_account_returns_403(
    client: httpx.AsyncClient, make_user: MakeUser, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A token of a disabled account -> 403 "account disabled"."""
    user = await make_user(username="nils", is_active=False)

    response = await client.get("/api/auth/me", headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- PATCH /api/auth/me ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_update_me_changes_own_profile(
    client: httpx.AsyncClient, test_user: User, user_headers: Headers
) -> None:
    """A user edits their own profile fields; GET /me shows the new values."""
    changes = {
        "first_name": "Tess",
        "last_name": "Ng",
        "child_name": "Kai",
        "child_sex_assigned_at_birth": "male",
        "child_dob": "2023-04-05",
        "avatar_url": "https://img.test/tess.png",
    }

    response = await client.patch("/api/auth/me", json=changes, headers=user_headers)

    assert response.status_code == 200
    expected = user_body(test_user.id, "testuser", **changes)
    assert response.json() == expected
    read_back = await client.get("/api/auth/me", headers=user_headers)
    assert read_back.json() == expected


@pytest.mark.asyncio
async def test_update_me_empty_string_and_null_clear_fields(
    client: httpx.AsyncClient, make_user: MakeUser, make_auth_headers: Callable[[User], Headers]
) -> None:
    """An empty string or null clears a field; fields not sent keep their values."""
    user = await make_user(username="olga", first_name="Olga", last_name="Lind", child_name="Ivo")
    headers = make_auth_headers(user)

    response = await client.patch(
        "/api/auth/me", json={"first_name": "", "last_name": None}, headers=headers
    )

    assert response.status_code == 200
    read_back = await client.get("/api/auth/me", headers=headers)
    assert read_back.json() == user_body(user.id, "olga", child_name="Ivo")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"is_active": False}, "is_active"),
        ({"email": "new@test.com"}, "email"),
        ({"first_name": "f" * 101}, "first_name"),
        ({"child_dob": "2023-13-01"}, "child_dob"),
    ],
    ids=["role", "status", "email", "first-name-too-long", "bad-date"],
)
async def test_update_me_forbidden_or_invalid_field_returns_422(
    client: httpx.AsyncClient,
    test_user: User,
    user_headers: Headers,
    change: dict[str, Any],
    field: str,
) -> None:
    """Role, status and credentials are not profile fields (422), nor are over-long values."""
    response = await client.patch("/api/auth/me", json=change, headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    read_back = await client.get("/api/auth/me", headers=user_headers)
    assert read_back.json() == user_body(test_user.id, "testuser")


@pytest.mark.asyncio
async def test_update_me_without_token_returns_401(client: httpx.AsyncClient) -> None:
    """No token -> 401."""
    response = await client.patch("/api/auth/me", json={"first_name": "Anon"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_update_me_disabled_account_returns_403(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """A disabled account cannot edit its profile: 403, nothing changes."""
    user = await make_user(username="pia", is_active=False)

    response = await client.patch(
        "/api/auth/me", json={"first_name": "Pia"}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["first_name"] is None


# --- GET /api/auth/users --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_auth_list_users_returns_every_user_oldest_first(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User, make_user: MakeUser
) -> None:
    """The older door lists the same users as GET /api/users, oldest first, with a total."""
    rafa = await make_user(username="rafa", is_active=False)

    response = await client.get("/api/auth/users", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(rafa.id, "rafa", is_active=False),
    ]


@pytest.mark.asyncio
async def test_auth_list_users_limit_returns_first_page(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User, make_user: MakeUser
) -> None:
    """`limit=1` returns only the oldest user; X-Total-Count still counts all."""
    await make_user(username="saul")

    response = await client.get("/api/auth/users?limit=1", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.json() == [user_body(admin_user.id, "admin", role=ROLE_ADMIN)]


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["limit=0", "limit=5000", "offset=-3", "offset=x"])
async def test_auth_list_users_bad_paging_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, query: str
) -> None:
    """`limit` 1..1000 and `offset` >= 0, else 422."""
    response = await client.get(f"/api/auth/users?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


# --- PATCH /api/auth/users/disable ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_auth_disable_user_disables_account(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin disables an account; the response and a read-back show `is_active: false`."""
    user = await make_user(username="tara")

    response = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": user.id, "is_active": False},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json() == user_body(user.id, "tara", is_active=False)
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["is_active"] is False


@pytest.mark.asyncio
async def test_auth_disable_user_can_enable_again(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """`is_active: true` enables a disabled account, which can then log in."""
    user = await make_user(username="ugo", is_active=False)

    response = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": user.id, "is_active": True},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    assert (await login(client, "ugo", "testpass")).status_code == 200


@pytest.mark.asyncio
async def test_auth_disable_user_earlier_tokens_get_401_also_after_enable_returns_200(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Through the older door too, disabling ends the account's tokens: a token from before
    gets 401 (never 403) while disabled and still after the account is enabled again; a
    new login then works."""
    user = await make_user(username="vera")
    logged_in = await login(client, "vera", "testpass")
    assert logged_in.status_code == 200
    earlier = {"Authorization": f"Bearer {logged_in.json()['access_token']}"}

    disabled = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": user.id, "is_active": False},
        headers=auth_headers,
    )

    assert disabled.status_code == 200
    assert disabled.json() == user_body(user.id, "vera", is_active=False)
    while_disabled = await client.get("/api/auth/me", headers=earlier)
    assert while_disabled.status_code == 401
    assert while_disabled.json() == {"detail": "Could not validate credentials"}
    enabled = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": user.id, "is_active": True},
        headers=auth_headers,
    )
    assert enabled.status_code == 200
    after_enable = await client.get("/api/auth/me", headers=earlier)
    assert after_enable.status_code == 401
    assert after_enable.json() == {"detail": "Could not validate credentials"}
    assert (await login(client, "vera", "testpass")).status_code == 200


@pytest.mark.asyncio
async def test_auth_disable_user_yourself_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin cannot disable themselves: 400, still active."""
    response = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": admin_user.id, "is_active": False},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot disable or enable your own account"}
    assert (await client.get("/api/auth/me", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_auth_disable_user_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An unknown user id -> 404 "not found"."""
    response = await client.patch(
        "/api/auth/users/disable",
        json={"user_id": 987654, "is_active": False},
        headers=auth_headers,
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"is_active": False},
        {"user_id": 2, "is_active": None},
        {"user_id": "two", "is_active": False},
        {"user_id": 2**63, "is_active": False},
    ],
    ids=["no-user-id", "null-status", "user-id-not-integer", "user-id-out-of-range"],
)
async def test_auth_disable_user_malformed_body_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any]
) -> None:
    """`user_id` (an id) and `is_active` (a boolean) are both required, else 422."""
    response = await client.patch("/api/auth/users/disable", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


# --- PATCH /api/auth/users/role -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_auth_change_role_changes_role(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin makes a user an admin; the response and a read-back show it."""
    user = await make_user(username="vito")

    response = await client.patch(
        "/api/auth/users/role", json={"user_id": user.id, "role": "admin"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json() == user_body(user.id, "vito", role=ROLE_ADMIN)
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_ADMIN


@pytest.mark.asyncio
async def test_auth_change_role_unknown_role_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An unknown role -> 400; the user keeps their role."""
    user = await make_user(username="wren")

    response = await client.patch(
        "/api/auth/users/role", json={"user_id": user.id, "role": "Admin"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown role 'Admin'; known roles: user, manager, admin"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json()["role"] == ROLE_USER


@pytest.mark.asyncio
async def test_auth_change_role_yourself_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin cannot change their own role: 400, still admin."""
    response = await client.patch(
        "/api/auth/users/role",
        json={"user_id": admin_user.id, "role": "manager"},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot change the role of your own account"}
    assert (await client.get("/api/auth/me", headers=auth_headers)).json()["role"] == ROLE_ADMIN


@pytest.mark.asyncio
async def test_auth_change_role_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An unknown user id -> 404 "not found"."""
    response = await client.patch(
        "/api/auth/users/role", json={"user_id": 987654, "role": "manager"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"role": "manager"},
        {"user_id": 2},
        {"user_id": 2, "role": ""},
        {"user_id": -1, "role": "user"},
    ],
    ids=["no-user-id", "no-role", "empty-role", "negative-user-id"],
)
async def test_auth_change_role_malformed_body_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any]
) -> None:
    """`user_id` (an id) and `role` (1..50 characters) are both required, else 422."""
    response = await client.patch("/api/auth/users/role", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


# --- PATCH /api/auth/users/{user_id}/profile ------------------------------------------------------


@pytest.mark.asyncio
async def test_auth_update_profile_changes_fields(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """An admin edits another user's profile; only the sent fields change."""
    user = await make_user(username="xena", first_name="Xena", child_name="Lu")

    response = await client.patch(
        f"/api/auth/users/{user.id}/profile",
        json={"child_name": "Luna", "child_dob": "2018-08-08"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    expected = user_body(
        user.id, "xena", first_name="Xena", child_name="Luna", child_dob=date(2018, 8, 8)
    )
    assert response.json() == expected
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == expected


@pytest.mark.asyncio
async def test_auth_update_profile_unknown_id_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """An unknown user id -> 404 "not found"."""
    response = await client.patch(
        "/api/auth/users/987654/profile", json={"first_name": "Ghost"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path_id", "body", "loc"),
    [
        (None, {"role": "admin"}, ["body", "role"]),
        (None, {"email": "yann@example.org"}, ["body", "email"]),
        (None, {"avatar_url": "a" * 501}, ["body", "avatar_url"]),
        ("abc", {"first_name": "Yan"}, ["path", "user_id"]),
        (str(2**63), {"first_name": "Yan"}, ["path", "user_id"]),
    ],
    ids=[
        "role-not-a-profile-field",
        "email-not-a-profile-field",
        "avatar-url-too-long",
        "id-not-integer",
        "id-out-of-range",
    ],
)
async def test_auth_update_profile_malformed_request_returns_422(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    path_id: str | None,
    body: dict[str, Any],
    loc: list[str],
) -> None:
    """Profile fields only, within limits, on an integer id in range; else 422, no change."""
    user = await make_user(username="yann")

    response = await client.patch(
        f"/api/auth/users/{path_id or user.id}/profile", json=body, headers=auth_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == loc
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.json() == user_body(user.id, "yann")


# --- Who may call the admin doors -----------------------------------------------------------------

# (method, path, body) of the admin-only /api/auth endpoints; `{id}` is an existing user's id.
ADMIN_ENDPOINTS = [
    ("GET", "/api/auth/users", None),
    ("PATCH", "/api/auth/users/disable", {"user_id": "{id}", "is_active": False}),
    ("PATCH", "/api/auth/users/role", {"user_id": "{id}", "role": "admin"}),
    ("PATCH", "/api/auth/users/{id}/profile", {"first_name": "Changed"}),
]
ADMIN_ENDPOINT_IDS = [f"{method}:{path}" for method, path, _ in ADMIN_ENDPOINTS]


def _fill(body: dict[str, Any] | None, user_id: int) -> dict[str, Any] | None:
    if body is None:
        return None
    return {key: user_id if value == "{id}" else value for key, value in body.items()}


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ADMIN_ENDPOINT_IDS)
async def test_auth_admin_endpoint_without_token_returns_401(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """The admin doors refuse a request without a token (401, Bearer challenge); no change."""
    target = await make_user(username="target")

    response = await client.request(method, path.format(id=target.id), json=_fill(body, target.id))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}
    read_back = await client.get(f"/api/users/{target.id}", headers=auth_headers)
    assert read_back.json() == user_body(target.id, "target")


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ADMIN_ENDPOINT_IDS)
@pytest.mark.parametrize("role", ["user", "manager"])
async def test_auth_admin_endpoint_as_non_admin_returns_403(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: Callable[[User], Headers],
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """The admin doors are admin only: a user or a manager gets 403 and nothing changes."""
    caller = await make_user(username="caller", role=role)
    target = await make_user(username="target")

    response = await client.request(
        method,
        path.format(id=target.id),
        json=_fill(body, target.id),
        headers=make_auth_headers(caller),
    )

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION
    read_back = await client.get(f"/api/users/{target.id}", headers=auth_headers)
    assert read_back.json() == user_body(target.id, "target")


# --- Body size: every /api/auth endpoint that takes a body ----------------------------------------

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"username": "' + b"x" * ONE_MIB + b'"}'
BODY_ENDPOINTS = [
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("PATCH", "/api/auth/me"),
    ("PATCH", "/api/auth/users/disable"),
    ("PATCH", "/api/auth/users/role"),
    ("PATCH", "/api/auth/users/{id}/profile"),
    ("POST", "/api/auth/me/password"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"), BODY_ENDPOINTS, ids=[f"{m}:{p}" for m, p in BODY_ENDPOINTS]
)
async def test_auth_endpoint_body_over_1_mib_returns_413(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    admin_user: User,
    test_user: User,
    method: str,
    path: str,
) -> None:
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    response = await client.request(
        method,
        path.format(id=test_user.id),
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.json() == [
        user_body(admin_user.id, "admin", role=ROLE_ADMIN),
        user_body(test_user.id, "testuser"),
    ]
