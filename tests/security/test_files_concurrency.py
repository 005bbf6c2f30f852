"""Races on files: deleting a file while a post takes it, and many uploads at once, must
end in a consistent state (a post never points at a deleted file; every stored byte has
its row and every row its bytes) and never in a 500 (docs/contracts/files.md).

PostgreSQL only: SQLite runs one writer at a time, so it cannot show these races. The ASGI
client sends the requests at once on one event loop; each request has its own session and
connection from the pool, which is real concurrency at the database.
"""

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tma.files.models import StoredFile
from tma.posts.models import Post
from tma.seed.files import sample_png

Headers = dict[str, str]

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


@pytest.mark.asyncio
async def test_delete_file_while_posts_take_it_never_leaves_a_dangling_post(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    upload_file: Any,
    make_module: Any,
    file_store: Any,
    test_db: Any,
) -> None:
    """For 8 files at once, `DELETE /api/files/{id}` races `POST /api/posts` naming it:
    each pair ends either with the file deleted (204) and the post refused (404), or the
    post made (201) and the delete refused (400); no 500. Afterwards the stored bytes are
    exactly those of the files still recorded, and every attachment post's file exists."""
    module = await make_module()
    files = [await upload_file() for _ in range(8)]

    async def create(file_id: str) -> httpx.Response:
        return await client.post(
            "/api/posts",
            json={
                "module_id": module.id,
                "title": f"Sheet {file_id[:6]}",
                "post_type": "attachment",
                "file_id": file_id,
            },
            headers=auth_headers,
        )

    async def delete(file_id: str) -> httpx.Response:
        return await client.delete(f"/api/files/{file_id}", headers=auth_headers)

    pairs = await asyncio.gather(*(asyncio.gather(delete(f["id"]), create(f["id"])) for f in files))

    outcomes = Counter((d.status_code, c.status_code) for d, c in pairs)
    assert set(outcomes) <= {(204, 404), (400, 201)}
    assert sum(outcomes.values()) == 8
    async with test_db.session() as session:
        recorded = set((await session.scalars(select(StoredFile.id))).all())
        used = set(
            (await session.scalars(select(Post.file_id).where(Post.file_id.is_not(None)))).all()
        )
    assert used <= recorded
    kept = {
        f["id"] for (refused, _), f in zip(pairs, files, strict=True) if refused.status_code == 400
    }
    assert recorded == kept
    assert set(await file_store.keys()) == recorded


@pytest.mark.asyncio
async def test_upload_avatar_20_at_once_stores_each_under_its_own_id(
    client: httpx.AsyncClient,
    make_user: Any,
    make_auth_headers: Any,
    file_store: Any,
    test_db: Any,
) -> None:
    """20 users upload an avatar at the same moment: 20 × 201, 20 distinct ids, and each
    id's bytes are that user's picture."""
    users = [await make_user() for _ in range(20)]
    pictures = [sample_png((i * 10, 100, 200 - i * 5), 24) for i in range(20)]

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/files/upload-avatar",
                files={"file": ("me.png", picture, "image/png")},
                headers=make_auth_headers(user),
            )
            for user, picture in zip(users, pictures, strict=True)
        )
    )

    assert Counter(r.status_code for r in responses) == {201: 20}
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 20
    assert sorted(await file_store.keys()) == sorted(ids)
    shown = await asyncio.gather(*(client.get(f"/api/files/{i}") for i in ids))
    assert [s.content for s in shown] == pictures
