"""Account features of issue 13: changing a password, an admin's password reset, tokens that
die (logout-all, password changes, disabling), `email_verified` set by an admin, and the
last-owner rule when deleting a user (item 7). Contracts: docs/contracts/auth.md and
docs/contracts/users.md.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from expected import user_body
from factories import TestDatabase
from tma.core.config import Settings
from tma.core.security import epoch_microseconds
from tma.groups.models import Group
from tma.users.models import User

Headers = dict[str, str]
MakeUser = Callable[..., Awaitable[User]]
CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


def _bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def _token(client: httpx.AsyncClient, username: str, password: str = "testpass") -> str:
    response = await _login(client, username, password)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _me_status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/auth/me", headers=_bearer(token))).status_code


def _signed(settings: Settings, user_id: int, iat: float) -> str:
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": iat,
        "exp": datetime.now(UTC) + timedelta(minutes=5),
        "type": "access",
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


async def _valid_after(test_db: TestDatabase, user_id: int) -> datetime:
    async with test_db.session() as session:
        value = await session.scalar(select(User.tokens_valid_after).where(User.id == user_id))
    assert value is not None
    return value


# --- POST /api/auth/me/password -------------------------------------------------------------


@pytest.mark.asyncio
async def test_change_password_returns_200_new_token_old_tokens_die(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """The caller changes their password with the current one: 200 with a fresh token that
    works; every earlier token (also one from another device) gets 401; the old password no
    longer logs in, the new one does."""
    first, second = await _token(client, "testuser"), await _token(client, "testuser")

    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": "testpass", "new_password": "brand-new-pass"},
        headers=_bearer(first),
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type"}
    assert body["token_type"] == "bearer"
    assert await _me_status(client, body["access_token"]) == 200
    for old in (first, second):
        gone = await client.get("/api/auth/me", headers=_bearer(old))
        assert (gone.status_code, gone.json()) == (401, CREDENTIALS_ERROR)
    assert (await _login(client, "testuser", "testpass")).status_code == 401
    assert (await _login(client, "testuser", "brand-new-pass")).status_code == 200


@pytest.mark.asyncio
async def test_change_password_wrong_current_returns_400_nothing_changes(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """A wrong `current_password` is 400 "Current password is incorrect"; the password and
    the caller's tokens stay as they were."""
    token = await _token(client, "testuser")

    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": "not-my-password", "new_password": "brand-new-pass"},
        headers=_bearer(token),
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Current password is incorrect"}
    assert await _me_status(client, token) == 200
    assert (await _login(client, "testuser", "testpass")).status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": "testpass", "new_password": "short"}, "new_password"),
        ({"current_password": "testpass", "new_password": "x" * 129}, "new_password"),
        ({"current_password": "testpass", "new_password": "nul\x00-in-password"}, "new_password"),
        ({"current_password": "testpass"}, "new_password"),
        ({"new_password": "brand-new-pass"}, "current_password"),
    ],
)
async def test_change_password_bad_body_returns_422(
    client: httpx.AsyncClient, user_headers: Headers, body: dict[str, Any], field: str
) -> None:
    """The new password has the registration limits (8..128 characters, no NUL); both
    fields are required: 422 naming the field."""
    response = await client.post("/api/auth/me/password", json=body, headers=user_headers)

    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", field]]


@pytest.mark.asyncio
async def test_change_password_without_token_returns_401(client: httpx.AsyncClient) -> None:
    """No token: 401 "Not authenticated"."""
    response = await client.post(
        "/api/auth/me/password", json={"current_password": "a" * 8, "new_password": "b" * 8}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_change_password_disabled_account_returns_403(
    client: httpx.AsyncClient, make_user: MakeUser, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A disabled account cannot change its password: 403 "account disabled"."""
    user = await make_user(is_active=False)

    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": "testpass", "new_password": "brand-new-pass"},
        headers=make_auth_headers(user),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- POST /api/auth/logout-all --------------------------------------------------------------


@pytest.mark.asyncio
async def test_logout_all_returns_204_every_earlier_token_dies_new_login_works(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """logout-all: 204; the token used and every other earlier token of the account get 401
    at their next request; a login right after (the same second) gets a working token."""
    first, second = await _token(client, "testuser"), await _token(client, "testuser")

    response = await client.post("/api/auth/logout-all", headers=_bearer(first))

    assert response.status_code == 204
    assert response.content == b""
    fresh = await _token(client, "testuser")
    for old in (first, second):
        gone = await client.get("/api/auth/me", headers=_bearer(old))
        assert (gone.status_code, gone.json()) == (401, CREDENTIALS_ERROR)
    assert await _me_status(client, fresh) == 200


@pytest.mark.asyncio
async def test_logout_all_token_of_the_same_second_dies_one_microsecond_later_works(
    client: httpx.AsyncClient, test_user: User, test_db: TestDatabase, test_settings: Settings
) -> None:
    """The second-granularity edge: a token's `iat` carries microseconds, and a token is
    valid only when issued strictly after the account's "tokens valid after" instant. A
    token issued in the same second before logout-all (whole-second `iat`), or at the very
    same microsecond, dies; one issued a microsecond later works; so does a classic
    whole-second `iat` of the next second."""
    token = await _token(client, "testuser")
    assert (await client.post("/api/auth/logout-all", headers=_bearer(token))).status_code == 204
    after = epoch_microseconds(await _valid_after(test_db, test_user.id))

    same_second = _signed(test_settings, test_user.id, after // 1_000_000)
    same_instant = _signed(test_settings, test_user.id, after / 1_000_000)
    later = _signed(test_settings, test_user.id, (after + 1) / 1_000_000)
    next_second = _signed(test_settings, test_user.id, after // 1_000_000 + 1)

    assert await _me_status(client, same_second) == 401
    assert await _me_status(client, same_instant) == 401
    assert await _me_status(client, later) == 200
    # A token may not be issued in the future (PyJWT refuses it): wait for the next second.
    await asyncio.sleep(max(0.0, (after // 1_000_000 + 1) - time.time()) + 0.01)
    assert await _me_status(client, next_second) == 200


@pytest.mark.asyncio
async def test_logout_all_without_token_returns_401(client: httpx.AsyncClient) -> None:
    """No token: 401 "Not authenticated"."""
    response = await client.post("/api/auth/logout-all")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_logout_all_disabled_account_returns_403(
    client: httpx.AsyncClient, make_user: MakeUser, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A disabled account's token: 403 "account disabled"."""
    user = await make_user(is_active=False)

    response = await client.post("/api/auth/logout-all", headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_me_token_without_iat_returns_401(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """Every token carries its issue time: a well-signed token without `iat` is 401."""
    claims = {
        "sub": str(test_user.id),
        "exp": datetime.now(UTC) + timedelta(minutes=5),
        "type": "access",
    }
    token = jwt.encode(claims, test_settings.secret_key, algorithm="HS256")

    response = await client.get("/api/auth/me", headers=_bearer(token))

    assert (response.status_code, response.json()) == (401, CREDENTIALS_ERROR)


# --- PATCH /api/users/{user_id}/password ----------------------------------------------------


@pytest.mark.asyncio
async def test_reset_password_by_admin_returns_200_old_tokens_die(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """An admin sets a new password: 200 with the User body; the account's earlier tokens
    get 401, the old password fails, the new one logs in."""
    token = await _token(client, "testuser")

    response = await client.patch(
        f"/api/users/{test_user.id}/password",
        json={"new_password": "set-by-admin"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json()["id"] == test_user.id
    assert response.json()["username"] == "testuser"
    assert "hashed_password" not in response.json()
    assert await _me_status(client, token) == 401
    assert (await _login(client, "testuser", "testpass")).status_code == 401
    assert (await _login(client, "testuser", "set-by-admin")).status_code == 200


@pytest.mark.asyncio
async def test_reset_password_own_account_returns_400(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User
) -> None:
    """An admin resets only others' passwords (their own needs the current one):
    400 "You cannot reset the password of your own account"."""
    response = await client.patch(
        f"/api/users/{admin_user.id}/password",
        json={"new_password": "set-by-admin"},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You cannot reset the password of your own account"}


@pytest.mark.asyncio
async def test_reset_password_unknown_user_returns_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """No such user: 404 "User 987654 not found"."""
    response = await client.patch(
        "/api/users/987654/password", json={"new_password": "set-by-admin"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{}, {"new_password": "short"}, {"new_password": "long-enough", "current_password": "x"}],
)
async def test_reset_password_bad_body_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User, body: dict[str, Any]
) -> None:
    """`new_password` is required, 8..128 characters; nothing else may be sent: 422."""
    response = await client.patch(
        f"/api/users/{test_user.id}/password", json=body, headers=auth_headers
    )

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_reset_password_manager_returns_403(
    client: httpx.AsyncClient, manager_headers: Headers, test_user: User
) -> None:
    """Only an admin may reset a password: a manager gets 403."""
    response = await client.patch(
        f"/api/users/{test_user.id}/password",
        json={"new_password": "set-by-admin"},
        headers=manager_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_reset_password_without_token_returns_401(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """No token: 401 "Not authenticated"."""
    response = await client.patch(
        f"/api/users/{test_user.id}/password", json={"new_password": "set-by-admin"}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


# --- disabling ends tokens ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_set_status_disable_then_enable_earlier_tokens_stay_dead_returns_401(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """Disabling an account ends its tokens: a token from before the disable gets 401 at
    its next request, also after the account is enabled again; a new login then works."""
    token = await _token(client, "testuser")
    url = f"/api/users/{test_user.id}/status"
    assert (
        await client.patch(url, json={"is_active": False}, headers=auth_headers)
    ).status_code == 200

    while_disabled = await client.get("/api/auth/me", headers=_bearer(token))
    assert (while_disabled.status_code, while_disabled.json()) == (401, CREDENTIALS_ERROR)
    assert (
        await client.patch(url, json={"is_active": True}, headers=auth_headers)
    ).status_code == 200

    assert await _me_status(client, token) == 401
    assert await _me_status(client, await _token(client, "testuser")) == 200


@pytest.mark.asyncio
async def test_set_status_enable_an_active_account_keeps_its_tokens_returns_200(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """Only disabling ends tokens: `{"is_active": true}` on an account that is already
    active changes nothing, and its token keeps working."""
    token = await _token(client, "testuser")

    response = await client.patch(
        f"/api/users/{test_user.id}/status", json={"is_active": True}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json() == user_body(test_user.id, "testuser", test_user.email)
    assert await _me_status(client, token) == 200


# --- email_verified -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_update_user_email_verified_by_admin_returns_200(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """An admin may set `email_verified` with PATCH /api/users/{id}; it shows in the body."""
    response = await client.patch(
        f"/api/users/{test_user.id}", json={"email_verified": True}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["email_verified"] is True
    again = await client.get(f"/api/users/{test_user.id}", headers=auth_headers)
    assert again.json()["email_verified"] is True


@pytest.mark.asyncio
async def test_update_me_email_verified_returns_422(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    """A user cannot verify their own e-mail: `email_verified` is an unknown field on
    PATCH /api/auth/me (422)."""
    response = await client.patch(
        "/api/auth/me", json={"email_verified": True}, headers=user_headers
    )

    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "email_verified"]]


@pytest.mark.asyncio
async def test_update_user_email_verified_null_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, test_user: User
) -> None:
    """`email_verified` may be left out but not set to null (422)."""
    response = await client.patch(
        f"/api/users/{test_user.id}", json={"email_verified": None}, headers=auth_headers
    )

    assert response.status_code == 422


# --- item 7: deleting a group's last owner --------------------------------------------------


@pytest.mark.asyncio
async def test_delete_user_last_owner_of_groups_returns_400_naming_them(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
) -> None:
    """Item 7: a user who is the last owner of groups cannot be deleted: 400 naming every
    such group (id and name, by id), not the groups that have another owner; the user
    and their memberships stay."""
    owner = await make_user(role="manager")
    lonely = await make_group(name="Lonely", creator=owner)
    shared = await make_group(name="Shared", creator=owner)
    also = await make_group(name="Also lonely", creator=owner)
    await add_member(shared, await make_user(), role="owner")

    response = await client.delete(f"/api/users/{owner.id}", headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Cannot delete the last owner of these groups; add another owner or delete "
        f"the groups first: {lonely.id} (Lonely), {also.id} (Also lonely)"
    }
    still = await client.get(f"/api/users/{owner.id}", headers=auth_headers)
    assert still.status_code == 200
    detail = (await client.get(f"/api/groups/{lonely.id}", headers=auth_headers)).json()
    assert [(m["user_id"], m["group_role"]) for m in detail["members"]] == [(owner.id, "owner")]


@pytest.mark.asyncio
async def test_delete_user_last_owner_with_plain_members_returns_400(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
) -> None:
    """Other members that are not owners do not make a user deletable: still the last owner
    of the group, 400; the user stays."""
    owner = await make_user(role="manager")
    group = await make_group(name="Busy", creator=owner)
    await add_member(group, await make_user(), role="member")

    response = await client.delete(f"/api/users/{owner.id}", headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Cannot delete the last owner of these groups; add another owner or delete "
        f"the groups first: {group.id} (Busy)"
    }
    assert (await client.get(f"/api/users/{owner.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_user_owner_with_co_owner_returns_204_group_keeps_owner(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
) -> None:
    """Item 7: an owner whose groups all have another owner is deleted (204); each group
    keeps its other owner."""
    owner = await make_user(role="manager")
    heir = await make_user()
    group = await make_group(name="Handed on", creator=owner)
    await add_member(group, heir, role="owner")

    response = await client.delete(f"/api/users/{owner.id}", headers=auth_headers)

    assert response.status_code == 204
    detail = (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).json()
    assert [(m["user_id"], m["group_role"]) for m in detail["members"]] == [(heir.id, "owner")]
