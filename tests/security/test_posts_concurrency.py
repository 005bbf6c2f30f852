"""Races on a module's post positions: simultaneous creates and moves must leave the posts
of every module at exactly 1..n (no gap, no duplicate) and never end in a 500
(docs/contracts/posts.md, "Ordering": every change locks the module row(s) first).

PostgreSQL only: SQLite runs one writer at a time, so it cannot show these races. The ASGI
client sends the requests at once on one event loop; each request has its own session and
connection from the pool, which is real concurrency at the database.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tma.courses.models import Module
from tma.posts.models import Post

Headers = dict[str, str]

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


async def positions(client: httpx.AsyncClient, headers: Headers, module_id: int) -> list[int]:
    """The `ordering` of every post of the module, in list order."""
    response = await client.get(f"/api/posts?module_id={module_id}", headers=headers)
    assert response.status_code == 200
    return [p["ordering"] for p in response.json()]


@pytest.mark.asyncio
async def test_create_post_20_at_once_at_ordering_1_keeps_positions_1_to_n(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_module: Callable[..., Awaitable[Module]],
    make_post: Callable[..., Awaitable[Post]],
) -> None:
    """20 simultaneous creates at `ordering` 1 in a module of 3 posts: all 201, and the 23
    posts sit at exactly 1..23; the 3 old ones keep their order, pushed to the end."""
    module = await make_module()
    old = [await make_post(module) for _ in range(3)]

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/posts",
                json={"module_id": module.id, "title": f"Racer {i}", "ordering": 1},
                headers=auth_headers,
            )
            for i in range(20)
        )
    )

    assert Counter(r.status_code for r in responses) == {201: 20}
    assert await positions(client, auth_headers, module.id) == list(range(1, 24))
    listing = (await client.get(f"/api/posts?module_id={module.id}", headers=auth_headers)).json()
    assert [p["id"] for p in listing[20:]] == [p.id for p in old]
    assert sorted(p["id"] for p in listing[:20]) == sorted(r.json()["id"] for r in responses)


@pytest.mark.asyncio
async def test_create_and_move_posts_at_once_keeps_positions_1_to_n_in_both_modules(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_module: Callable[..., Awaitable[Module]],
    make_post: Callable[..., Awaitable[Post]],
) -> None:
    """20 simultaneous creates (no `ordering`: last) into a module, while its existing posts
    are moved within it and to a second module and back: every status 201/200 (never a
    500), and both modules' posts sit at exactly 1..n with no duplicate."""
    first = await make_module()
    second = await make_module()
    mine = [await make_post(first) for _ in range(6)]
    theirs = [await make_post(second) for _ in range(4)]

    creates = [
        client.post(
            "/api/posts", json={"module_id": first.id, "title": f"New {i}"}, headers=auth_headers
        )
        for i in range(20)
    ]
    moves = [
        client.patch(f"/api/posts/{mine[0].id}", json={"ordering": 5}, headers=auth_headers),
        client.patch(f"/api/posts/{mine[1].id}", json={"ordering": 1}, headers=auth_headers),
        client.patch(
            f"/api/posts/{mine[2].id}", json={"module_id": second.id}, headers=auth_headers
        ),
        client.patch(
            f"/api/posts/{mine[3].id}",
            json={"module_id": second.id, "ordering": 1},
            headers=auth_headers,
        ),
        client.patch(
            f"/api/posts/{theirs[0].id}", json={"module_id": first.id}, headers=auth_headers
        ),
        client.patch(
            f"/api/posts/{theirs[1].id}",
            json={"module_id": first.id, "ordering": 2},
            headers=auth_headers,
        ),
        client.patch(f"/api/posts/{theirs[2].id}", json={"ordering": 1}, headers=auth_headers),
    ]

    responses = await asyncio.gather(*creates, *moves)

    assert Counter(r.status_code for r in responses[:20]) == {201: 20}
    assert Counter(r.status_code for r in responses[20:]) == {200: 7}
    assert await positions(client, auth_headers, first.id) == list(range(1, 27))  # 6 + 20 - 2 + 2
    assert await positions(client, auth_headers, second.id) == list(range(1, 5))  # 4 - 2 + 2
    all_ids = [p["id"] for p in (await client.get("/api/posts", headers=auth_headers)).json()]
    assert len(all_ids) == len(set(all_ids)) == 30
