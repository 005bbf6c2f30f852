"""Issue 13, items 3, 4, 5 and 6: forged subjects, look-alike identities, loosely read types
and a redirect that echoed the client's Host. Each test failed on the code before the fix."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tma.core.config import Settings
from tma.groups.models import Group
from tma.users.models import User

Headers = dict[str, str]
MakeUser = Callable[..., Awaitable[User]]


# --- item 3: a signed token whose subject is a non-ASCII digit ------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("sub", ["²", "①", "١٢", "1²", "٣"])
async def test_me_signed_token_with_non_ascii_digit_sub_returns_401(
    client: httpx.AsyncClient, test_settings: Settings, sub: str
) -> None:
    """Item 3: a correctly signed token whose `sub` is made of Unicode digits that are not
    ASCII 0-9 (`str.isdigit()` is true, `int()` fails or reads them) is refused with 401
    "Could not validate credentials", never a 500."""
    now = datetime.now(UTC)
    claims = {"sub": sub, "iat": now, "exp": now + timedelta(minutes=5), "type": "access"}
    token = jwt.encode(claims, test_settings.secret_key, algorithm="HS256")

    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


# --- item 4: identities that look alike, or cannot log in -----------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "username",
    [
        "İlker1",  # dotted capital I: lower() gives two code points
        "Ünal1",  # non-ASCII capital: SQLite's lower() leaves it alone
        "ΟΔΥΣΣΕΑΣ",  # final sigma: lower() and casefold differ
        "Ｓｔｅｆａｎ",  # full-width letters: NFKC makes them ASCII
    ],
)
async def test_register_then_login_non_ascii_username_returns_200(
    client: httpx.AsyncClient, username: str
) -> None:
    """Item 4: an account that registers (201) can log in with the name as typed, and with
    the name the API returned; one rule on both databases."""
    registered = await client.post(
        "/api/auth/register",
        json={"username": username, "email": "intl@test.com", "password": "pw-123456"},
    )
    assert registered.status_code == 201, registered.text

    for name in (username, registered.json()["username"]):
        login = await client.post(
            "/api/auth/login", json={"username": name, "password": "pw-123456"}
        )
        assert login.status_code == 200, (name, login.text)
        assert login.json()["token_type"] == "bearer"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("\u0430dmin", "mixes scripts"),  # Cyrillic а + Latin dmin
        ("p\u0430yp\u0430l", "mixes scripts"),
        ("ad\u200bmin", "control, format, zero-width or bidi"),  # zero-width space
        ("adm\u202ein", "control, format, zero-width or bidi"),  # right-to-left override
        ("ad\u2066min", "control, format, zero-width or bidi"),  # left-to-right isolate
        ("\u200b\u200c\u200d", "control, format, zero-width or bidi"),  # nothing visible
        ("\u2060\ufeff\u200e", "control, format, zero-width or bidi"),
        ("ad\x07min", "control, format, zero-width or bidi"),
    ],
)
async def test_register_look_alike_or_invisible_username_returns_422(
    client: httpx.AsyncClient, username: str, reason: str
) -> None:
    """Item 4: a username mixing scripts (Latin with Cyrillic, as in `аdmin`), or holding
    control, format, zero-width or bidi characters (also one made only of them), is refused
    with 422 on `username`, and no account is made."""
    response = await client.post(
        "/api/auth/register",
        json={"username": username, "email": "spoof@test.com", "password": "pw-123456"},
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "username"]
    assert reason in problem["msg"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Émile1", "émile1"),
        ("admin", "ＡＤＭＩＮ"),  # full-width
        ("straße", "STRASSE"),  # case folding, not lower()
        ("ΣΟΦΙΑ", "σοφια"),
    ],
)
async def test_register_same_name_in_another_case_or_width_returns_400(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    """Item 4: names equal after NFKC and case folding are one identity on both databases:
    the second registration is 400 "Username already registered"."""
    ok = await client.post(
        "/api/auth/register",
        json={"username": first, "email": "first@test.com", "password": "pw-123456"},
    )
    assert ok.status_code == 201, ok.text

    response = await client.post(
        "/api/auth/register",
        json={"username": second, "email": "second@test.com", "password": "pw-123456"},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Username already registered"}


@pytest.mark.asyncio
async def test_register_email_equal_after_case_folding_returns_400(
    client: httpx.AsyncClient,
) -> None:
    """Item 4: e-mails are compared like usernames (NFKC, case-folded, not just lower-cased):
    `straße@x` and `STRASSE@x` are one address, the second registration is 400
    "Email already registered"."""
    ok = await client.post(
        "/api/auth/register",
        json={"username": "first", "email": "straße@test.com", "password": "pw-123456"},
    )
    assert ok.status_code == 201, ok.text

    response = await client.post(
        "/api/auth/register",
        json={"username": "second", "email": "STRASSE@TEST.com", "password": "pw-123456"},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already registered"}


# --- item 5: types read too loosely ---------------------------------------------------------


@pytest.mark.asyncio
async def test_assign_course_boolean_ordering_returns_422(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    make_group: Callable[..., Awaitable[Group]],
    make_course: Callable[..., Awaitable[object]],
) -> None:
    """Item 5: `{"ordering": true}` is not the integer 1: 422 on `ordering`."""
    group = await make_group()
    course = await make_course()

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}",  # type: ignore[attr-defined]
        json={"ordering": True},
        headers=manager_headers,
    )

    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "ordering"]]


@pytest.mark.asyncio
async def test_disable_user_boolean_user_id_returns_422(
    client: httpx.AsyncClient, auth_headers: Headers, admin_user: User, make_user: MakeUser
) -> None:
    """Item 5: `{"user_id": true}` is not user 1: 422 on `user_id`, nobody is disabled."""
    user = await make_user()

    response = await client.patch(
        "/api/auth/users/disable", json={"user_id": True, "is_active": False}, headers=auth_headers
    )

    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "user_id"]]
    listed = (await client.get(f"/api/users/{user.id}", headers=auth_headers)).json()
    assert listed["is_active"] is True


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "value", ["86400", "0", "2026-1-5", "20260105", "2026-W01-1", "٢٠٢٦-٠١-٠٥"]
)
async def test_update_me_child_dob_not_iso_date_returns_422(
    client: httpx.AsyncClient, user_headers: Headers, value: str
) -> None:
    """Item 5: `child_dob` accepts only an ISO `YYYY-MM-DD` date (ASCII digits): a Unix time
    as text, a compact or week date is 422 on `child_dob`."""
    response = await client.patch("/api/auth/me", json={"child_dob": value}, headers=user_headers)

    assert response.status_code == 422, response.text
    # The field is a union (a date, or "" to clear): each branch reports under `child_dob`.
    assert {tuple(p["loc"][:2]) for p in response.json()["detail"]} == {("body", "child_dob")}
    assert "must be a date as text, YYYY-MM-DD" in response.text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/a.png",
        "http://",
        "https:///x.png",
        "http://exa mple.com/a.png",
        "ftp://example.com/a.png",
    ],
)
async def test_update_me_avatar_url_not_http_returns_422(
    client: httpx.AsyncClient, user_headers: Headers, value: str
) -> None:
    """Item 5: `avatar_url` must be an absolute `http`/`https` URL with a host: any other
    scheme (`javascript:`, `data:`), a scheme-relative or host-less URL is 422."""
    response = await client.patch("/api/auth/me", json={"avatar_url": value}, headers=user_headers)

    assert response.status_code == 422, response.text
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "avatar_url"]]


@pytest.mark.asyncio
async def test_update_me_avatar_url_https_is_stored_unchanged_returns_200(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    """Item 5: a valid `https` URL is stored exactly as sent (no normalisation)."""
    url = "https://cdn.example.org/Avatars/a%20b.png?size=64#top"

    response = await client.patch("/api/auth/me", json={"avatar_url": url}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["avatar_url"] == url


# --- item 6: trailing slash -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/users/", "/api/groups/", "/api/auth/me/", "/api/courses/"])
async def test_trailing_slash_with_forged_host_returns_404_without_redirect(
    client: httpx.AsyncClient, auth_headers: Headers, path: str
) -> None:
    """Item 6: a path with a trailing slash is not redirected (which wrote the request's
    `Host` into `Location`): 404, no `Location` header, the forged host nowhere."""
    response = await client.get(path, headers={**auth_headers, "Host": "evil.example"})

    assert response.status_code == 404
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.json() == {"detail": "Not Found"}
