"""File and avatar URLs in responses are absolute, so a client on another origin (the
starter's mobile app) can use them as they are.

Contract: docs/contracts/files.md ("File URLs in responses") and users.md (`avatar_url`).
The base is `TMA_PUBLIC_URL` when set, else the request's scheme and host; behind a proxy
listed in `TMA_TRUSTED_PROXIES`, its `X-Forwarded-Proto` and `X-Forwarded-Host`. What is
stored is always the relative `/api/files/<id>`; a client may send back either form.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tma.core.config import Settings
from tma.main import create_app
from tma.posts.models import Post
from tma.seed.files import sample_png
from tma.users.models import User

FILE_ID = "q3Jx0k2mZr8Yt5vW1nB7cD4eF6gH9iJa"  # any id of the right shape: not checked to exist
AVATAR_PATH = f"/api/files/{FILE_ID}"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tma.example.org"}

AppClient = Callable[..., Any]


@pytest.fixture
def app_client(test_settings: Settings, test_db: Any) -> AppClient:
    """`async with app_client(peer="10.0.0.5", public_url=...) as http:` a client on an app
    built with these settings changed (same database), calling from address `peer`."""

    @asynccontextmanager
    async def open_client(
        peer: str = "127.0.0.1", base_url: str = "http://test", **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(test_settings.model_copy(update=changes))
        application.state.file_store.open()
        transport = httpx.ASGITransport(app=application, client=(peer, 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
                yield http
        finally:
            await application.state.db.dispose()

    return open_client


async def stored_avatar(test_db: Any, user_id: int) -> str | None:
    """The `avatar_url` column as stored."""
    async with test_db.session() as session:
        return await session.scalar(select(User.avatar_url).where(User.id == user_id))


@pytest.mark.asyncio
async def test_avatar_url_without_public_url_is_absolute_on_the_request_host_returns_200(
    client, user_headers, auth_headers, test_user, make_group, add_member, test_db
):
    """`TMA_PUBLIC_URL` unset: a stored `/api/files/<id>` is answered on the request's own
    scheme and host, in every body that carries it (the caller's account, a user, the user
    list, a group's members); the column keeps the relative path."""
    group = await make_group()
    await add_member(group, test_user)

    response = await client.patch(
        "/api/auth/me", json={"avatar_url": AVATAR_PATH}, headers=user_headers
    )

    assert response.status_code == 200
    expected = f"http://test{AVATAR_PATH}"
    assert response.json()["avatar_url"] == expected
    me = await client.get("/api/auth/me", headers=user_headers)
    assert me.status_code == 200
    assert me.json()["avatar_url"] == expected
    one = await client.get(f"/api/users/{test_user.id}", headers=auth_headers)
    assert one.status_code == 200
    assert one.json()["avatar_url"] == expected
    listed = await client.get("/api/users", headers=auth_headers)
    assert listed.status_code == 200
    assert [u["avatar_url"] for u in listed.json() if u["id"] == test_user.id] == [expected]
    detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert detail.status_code == 200
    members = {m["user_id"]: m["avatar_url"] for m in detail.json()["members"]}
    assert members[test_user.id] == expected
    assert await stored_avatar(test_db, test_user.id) == AVATAR_PATH


@pytest.mark.asyncio
async def test_avatar_url_follows_the_host_the_client_used_returns_200(
    app_client, test_user, make_auth_headers
):
    """Unset, the base is the `Host` the request came with, port included."""
    headers = make_auth_headers(test_user)
    async with app_client(base_url="http://api.example.net:8080") as http:
        patched = await http.patch(
            "/api/auth/me", json={"avatar_url": AVATAR_PATH}, headers=headers
        )

    assert patched.status_code == 200
    assert patched.json()["avatar_url"] == f"http://api.example.net:8080{AVATAR_PATH}"


@pytest.mark.asyncio
async def test_file_urls_with_public_url_use_it_whatever_the_request_says_returns_201(
    app_client, test_user, admin_user, make_auth_headers, make_module, file_store, test_db
):
    """`TMA_PUBLIC_URL` set: every file URL is on it (a path prefix kept), whatever `Host`
    or forwarded headers the request carries: an upload's `url`, the avatar set from it, an
    attachment post's signed `file_url`."""
    user_headers = make_auth_headers(test_user)
    admin_headers = make_auth_headers(admin_user)
    module = await make_module()
    public = "https://tma.example.org/backend"
    async with app_client(public_url=public + "/", trusted_proxies=["127.0.0.1"]) as http:
        avatar = await http.post(
            "/api/files/upload-avatar",
            files={"file": ("me.png", sample_png((1, 2, 3), 8), "image/png")},
            headers={**user_headers, **FORWARDED, "Host": "elsewhere.test"},
        )
        assert avatar.status_code == 201
        url = avatar.json()["url"]
        patched = await http.patch("/api/auth/me", json={"avatar_url": url}, headers=user_headers)
        attachment = await http.post(
            "/api/files",
            files={"file": ("sheet.png", sample_png((4, 5, 6), 8), "image/png")},
            headers=admin_headers,
        )
        post = await http.post(
            "/api/posts",
            json={
                "module_id": module.id,
                "title": "Sheet",
                "post_type": "attachment",
                "file_id": attachment.json()["id"],
            },
            headers=admin_headers,
        )

    assert url == f"{public}/api/files/{avatar.json()['id']}"
    assert patched.status_code == 200
    assert patched.json()["avatar_url"] == url
    assert await stored_avatar(test_db, test_user.id) == f"/api/files/{avatar.json()['id']}"
    assert attachment.status_code == 201
    assert attachment.json()["url"] == f"{public}/api/files/{attachment.json()['id']}"
    assert post.status_code == 201
    assert post.json()["file_url"].startswith(
        f"{public}/api/files/{attachment.json()['id']}?expires="
    )


@pytest.mark.asyncio
async def test_file_urls_behind_a_trusted_proxy_use_its_forwarded_address_returns_200(
    app_client, test_user, make_auth_headers
):
    """Unset, behind a proxy listed in `TMA_TRUSTED_PROXIES`: its `X-Forwarded-Proto` and
    `X-Forwarded-Host` (the last value, the one the nearest proxy set) make the base."""
    headers = {
        **make_auth_headers(test_user),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "spoofed.example, tma.example.org",
    }
    async with app_client(peer="10.1.2.3", trusted_proxies=["10.0.0.0/8"]) as http:
        response = await http.patch(
            "/api/auth/me", json={"avatar_url": AVATAR_PATH}, headers=headers
        )

    assert response.status_code == 200
    assert response.json()["avatar_url"] == f"https://tma.example.org{AVATAR_PATH}"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("peer", "trusted", "forwarded_host"),
    [
        ("203.0.113.9", ["10.0.0.0/8"], "tma.example.org"),
        ("203.0.113.9", [], "tma.example.org"),
        ("10.1.2.3", ["10.0.0.0/8"], "evil.example/x?y"),
    ],
    ids=["untrusted-peer", "no-trusted-proxies", "malformed-host"],
)
async def test_file_urls_forwarded_headers_not_believed_returns_200(
    app_client, test_user, make_auth_headers, peer, trusted, forwarded_host
):
    """Forwarded headers from a peer not in `TMA_TRUSTED_PROXIES` (or with none listed) are
    ignored: the base is the request's own; a trusted proxy's host that is no host name
    is ignored too."""
    headers = {
        **make_auth_headers(test_user),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": forwarded_host,
    }
    async with app_client(peer=peer, trusted_proxies=trusted) as http:
        response = await http.patch(
            "/api/auth/me", json={"avatar_url": AVATAR_PATH}, headers=headers
        )

    assert response.status_code == 200
    scheme = "https" if peer == "10.1.2.3" else "http"  # the trusted proxy's proto holds
    assert response.json()["avatar_url"] == f"{scheme}://test{AVATAR_PATH}"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (AVATAR_PATH, AVATAR_PATH),
        (f"http://test{AVATAR_PATH}", AVATAR_PATH),
        (f"HTTP://Test{AVATAR_PATH}", AVATAR_PATH),
        (f"https://cdn.example{AVATAR_PATH}", f"https://cdn.example{AVATAR_PATH}"),
        (f"http://test{AVATAR_PATH}?x=1", f"http://test{AVATAR_PATH}?x=1"),
    ],
    ids=["relative", "absolute", "absolute-other-case", "another-host", "with-query"],
)
async def test_update_user_avatar_url_relative_or_absolute_stored_canonical_returns_200(
    client, auth_headers, make_user, test_db, sent, stored
):
    """An admin (or the user) may send back the absolute URL a response gave, or the
    relative path: both are this server's file and stored as `/api/files/<id>`; a URL of
    another host (or with a query) is an external image, stored as sent."""
    user = await make_user(username="pia")

    response = await client.patch(
        f"/api/users/{user.id}", json={"avatar_url": sent}, headers=auth_headers
    )

    assert response.status_code == 200
    shown = f"http://test{stored}" if stored.startswith("/") else stored
    assert response.json()["avatar_url"] == shown
    assert await stored_avatar(test_db, user.id) == stored


@pytest.mark.asyncio
async def test_post_video_url_of_this_server_stored_as_path_answered_absolute_returns_201(
    client, auth_headers, make_module, test_db
):
    """A video post may link one of this server's files: sent absolute (or relative), it is
    stored as the path and answered absolute, in the create answer and the post list."""
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Replay",
            "post_type": "video",
            "video_url": f"http://test{AVATAR_PATH}",
        },
        headers=auth_headers,
    )

    assert response.status_code == 201
    assert response.json()["video_url"] == f"http://test{AVATAR_PATH}"
    listed = await client.get(f"/api/posts?module_id={module.id}", headers=auth_headers)
    assert listed.status_code == 200
    assert [p["video_url"] for p in listed.json()] == [f"http://test{AVATAR_PATH}"]
    async with test_db.session() as session:
        stored = await session.scalar(select(Post.video_url).where(Post.module_id == module.id))
    assert stored == AVATAR_PATH
