"""Threats to authentication: forged, stale and orphaned tokens, brute force, enumeration."""

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from expected import user_body
from tma.core.config import Settings
from tma.core.security import create_access_token
from tma.users.models import User

Headers = dict[str, str]
CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


def _bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def _claims(user: User, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(minutes=5)}
    return {**claims, "type": "access", **changes}


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/auth/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json() == CREDENTIALS_ERROR
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- tokens -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_me_bearer_scheme_any_case_and_extra_spaces_returns_200(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """`Authorization: bearer   <token>` is accepted as FastAPI's `HTTPBearer` accepts it:
    the scheme in any case, the token after the first space, surrounding spaces dropped."""
    token = create_access_token(test_user.id, test_settings)

    response = await client.get("/api/auth/me", headers={"Authorization": f"bearer   {token} "})

    assert response.status_code == 200
    assert response.json() == user_body(test_user.id, "testuser", "testuser@test.com")


@pytest.mark.asyncio
async def test_me_expired_token_returns_401(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """A token past its `exp` is refused, however well signed."""
    token = create_access_token(test_user.id, test_settings, expires_minutes=-1)

    await _assert_rejected(client, token)


@pytest.mark.asyncio
@pytest.mark.parametrize("ahead", [2, 30, 59])
async def test_me_token_issued_by_a_clock_ahead_by_less_than_a_minute_returns_200(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings, ahead: int
) -> None:
    """Servers' clocks may differ: a token whose `iat` is up to 60 seconds in the future
    (issued by a server whose clock runs ahead) works."""
    iat = datetime.now(UTC) + timedelta(seconds=ahead)
    token = jwt.encode(_claims(test_user, iat=iat), test_settings.secret_key, algorithm="HS256")

    response = await client.get("/api/auth/me", headers=_bearer(token))

    assert response.status_code == 200
    assert response.json()["id"] == test_user.id


@pytest.mark.asyncio
@pytest.mark.parametrize("ahead", [62, 3600])
async def test_me_token_issued_more_than_a_minute_in_the_future_returns_401(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings, ahead: int
) -> None:
    """An `iat` further in the future than clocks may differ is refused: such a token
    would outlive a "tokens valid after" set before its date."""
    iat = datetime.now(UTC) + timedelta(seconds=ahead)
    token = jwt.encode(_claims(test_user, iat=iat), test_settings.secret_key, algorithm="HS256")

    await _assert_rejected(client, token)


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["exp", "sub"])
async def test_me_well_signed_token_without_required_claim_returns_401(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings, missing: str
) -> None:
    """A token signed with our key but without `exp` (it would never expire) or without
    `sub` (no user) is refused."""
    claims = _claims(test_user)
    del claims[missing]
    token = jwt.encode(claims, test_settings.secret_key, algorithm="HS256")

    await _assert_rejected(client, token)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "changes",
    [
        {"type": "refresh"},
        {"sub": 5},
        {"sub": "abc"},
        {"sub": "0"},
        {"sub": str(2**63)},
        {"iat": "1700000000"},
        {"iat": True},
    ],
    ids=[
        "type-refresh",
        "sub-a-number",
        "sub-not-digits",
        "sub-zero",
        "sub-past-64-bits",
        "iat-digits-as-text",
        "iat-a-boolean",
    ],
)
async def test_me_well_signed_token_with_bad_claim_returns_401(
    client: httpx.AsyncClient,
    test_user: User,
    test_settings: Settings,
    changes: dict[str, Any],
) -> None:
    """A token signed with our key is still refused when it is not an access token, its
    subject is not a user id in 1..2^63-1 written as digits, or its `iat` is not a number
    (PyJWT takes digits in a string, and `true`, for one): 401, never a 500."""
    token = jwt.encode(_claims(test_user, **changes), test_settings.secret_key, algorithm="HS256")

    await _assert_rejected(client, token)


@pytest.mark.asyncio
async def test_me_unsigned_alg_none_token_returns_401(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """A token with `alg: none` and no signature is refused (no algorithm downgrade)."""
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(test_user, iat=0, exp=2**40))}."

    await _assert_rejected(client, token)


@pytest.mark.asyncio
async def test_me_token_signed_with_another_key_returns_401(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """A token signed with a key other than the server's is refused."""
    token = jwt.encode(_claims(test_user), "another-key-of-sufficient-length-000000", "HS256")

    await _assert_rejected(client, token)


@pytest.mark.asyncio
async def test_me_token_with_changed_payload_returns_401(
    client: httpx.AsyncClient, test_user: User, admin_user: User, test_settings: Settings
) -> None:
    """Swapping the payload of a real token (user id -> the admin's) breaks its signature."""
    header, _, signature = create_access_token(test_user.id, test_settings).split(".")
    forged = f"{header}.{_b64(_claims(admin_user, iat=0, exp=2**40))}.{signature}"

    await _assert_rejected(client, forged)


@pytest.mark.asyncio
async def test_me_token_of_disabled_user_returns_401(
    client: httpx.AsyncClient,
    test_user: User,
    user_headers: Headers,
    auth_headers: Headers,
) -> None:
    """A token stops working the moment its account is disabled: disabling ends every
    token issued so far (401 "Could not validate credentials", issue 13)."""
    disabled = await client.patch(
        f"/api/users/{test_user.id}/status", json={"is_active": False}, headers=auth_headers
    )
    assert disabled.status_code == 200

    response = await client.get("/api/auth/me", headers=user_headers)

    assert response.status_code == 401
    assert response.json() == CREDENTIALS_ERROR


@pytest.mark.asyncio
async def test_me_token_of_deleted_user_returns_401(
    client: httpx.AsyncClient, test_user: User, user_headers: Headers, auth_headers: Headers
) -> None:
    """A token dies with its account: 401 once the user is deleted."""
    deleted = await client.delete(f"/api/users/{test_user.id}", headers=auth_headers)
    assert deleted.status_code == 204

    response = await client.get("/api/auth/me", headers=user_headers)

    assert response.status_code == 401
    assert response.json() == CREDENTIALS_ERROR


@pytest.mark.asyncio
async def test_me_token_of_deleted_user_after_username_reused_returns_401(
    client: httpx.AsyncClient, test_user: User, user_headers: Headers, auth_headers: Headers
) -> None:
    """A deleted account's token never starts working for a new account that takes the same
    username (tokens name the user id, and ids are never reused)."""
    deleted = await client.delete(f"/api/users/{test_user.id}", headers=auth_headers)
    assert deleted.status_code == 204
    reborn = await client.post(
        "/api/auth/register",
        json={"username": "testuser", "email": "testuser@test.com", "password": "new-pass-1"},
    )
    assert reborn.status_code == 201
    assert reborn.json()["id"] != test_user.id

    response = await client.get("/api/auth/me", headers=user_headers)

    assert response.status_code == 401
    assert response.json() == CREDENTIALS_ERROR


@pytest.mark.asyncio
async def test_me_role_lowered_takes_effect_on_next_request_returns_403(
    client: httpx.AsyncClient,
    manager_user: User,
    manager_headers: Headers,
    auth_headers: Headers,
) -> None:
    """A manager demoted to `user` loses manager rights with the same token at once."""
    demoted = await client.patch(
        f"/api/users/{manager_user.id}/role", json={"role": "user"}, headers=auth_headers
    )
    assert demoted.status_code == 200

    response = await client.post("/api/groups", json={"name": "Late"}, headers=manager_headers)

    assert response.status_code == 403


# --- brute force and enumeration --------------------------------------------------------


@pytest.mark.asyncio
async def test_login_brute_force_after_max_failures_returns_429_with_retry_after(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """After `login_max_failures` wrong passwords for one username from one client, further
    attempts (even with the right password) get 429 with `Retry-After` in seconds within
    the window."""
    wrong = {"username": "testuser", "password": "wrong-password"}
    for _ in range(test_settings.login_max_failures):
        assert (await client.post("/api/auth/login", json=wrong)).status_code == 401

    response = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "testpass"}
    )

    assert response.status_code == 429
    assert response.json() == {"detail": "Too many failed login attempts; try again later"}
    assert 1 <= int(response.headers["Retry-After"]) <= test_settings.login_window_seconds


@pytest.mark.asyncio
async def test_login_brute_force_counts_usernames_case_insensitively_returns_429(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """Changing the case of the username does not reset the count (usernames are
    case-insensitive)."""
    for i in range(test_settings.login_max_failures):
        name = "TESTUSER" if i % 2 else "testuser"
        wrong = {"username": name, "password": "wrong-password"}
        assert (await client.post("/api/auth/login", json=wrong)).status_code == 401

    response = await client.post(
        "/api/auth/login", json={"username": "TestUser", "password": "wrong-password"}
    )

    assert response.status_code == 429


@pytest.mark.asyncio
async def test_login_brute_force_on_one_username_leaves_another_login_200(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """The throttle is per username: an attack on `victim` does not lock `testuser` out."""
    wrong = {"username": "victim", "password": "wrong-password"}
    for _ in range(test_settings.login_max_failures + 1):
        await client.post("/api/auth/login", json=wrong)

    response = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "testpass"}
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.mark.asyncio
async def test_login_user_enumeration_unknown_user_and_wrong_password_same_answer(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """An unknown username and a wrong password get the same status, body and headers:
    the answer does not tell which usernames exist."""
    unknown = await client.post(
        "/api/auth/login", json={"username": "nobody-here", "password": "wrong-password"}
    )
    wrong = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "wrong-password"}
    )

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {"detail": "Incorrect username or password"}
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_login_user_enumeration_unknown_user_still_verifies_a_hash_returns_401(
    client: httpx.AsyncClient,
    app: FastAPI,
    test_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Similar time for both failures: an unknown username costs one full password-hash
    verification, exactly like a wrong password (so timing does not reveal accounts).
    Checked by counting verifications, which cannot flake like a stopwatch."""
    hasher = app.state.hasher
    verified: list[str] = []
    real_verify = hasher._safe_verify

    def counting_verify(password: str, hashed: str) -> bool:
        verified.append(hashed)
        return bool(real_verify(password, hashed))

    monkeypatch.setattr(hasher, "_safe_verify", counting_verify)

    for username in ("nobody-here", "testuser"):
        body = {"username": username, "password": "wrong-password"}
        assert (await client.post("/api/auth/login", json=body)).status_code == 401

    assert len(verified) == 2
    # Both are real argon2 hashes of the same cost: the dummy one is no cheaper.
    dummy, real = verified
    assert dummy.startswith("$argon2id$")
    assert real.startswith("$argon2id$")
    assert dummy.split("$")[3] == real.split("$")[3]


@pytest.mark.asyncio
async def test_login_disabled_account_with_wrong_password_returns_401_not_403(
    client: httpx.AsyncClient, make_user: Callable[..., Awaitable[User]]
) -> None:
    """Only the right password reveals that an account is disabled (403); a wrong one gets
    the same 401 as anybody else."""
    await make_user(username="sleeper", is_active=False)

    response = await client.post(
        "/api/auth/login", json={"username": "sleeper", "password": "wrong-password"}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}
