"""The `Idempotency-Key` layer on every authenticated write (tma.core.idempotency;
docs/contracts/README.md "Idempotency-Key"; companion spec §1)."""

from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from offline import idempotency_layer
from progress_factories import insert_module, insert_posts, insert_quiz
from tma.core import idempotency
from tma.core.db import SESSIONS_KEY, utcnow
from tma.core.idempotency import IdempotencyKey, fingerprint
from tma.progress.models import PostProgress


@pytest_asyncio.fixture
async def posts(test_db, test_user, make_group, add_member, make_course, assign_course):
    """Three posts and a quiz post `test_user` sees."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course()
    await assign_course(group, course)
    module = await insert_module(test_db, course.id)
    quiz = await insert_quiz(test_db, module)
    return [*await insert_posts(test_db, module, 3), quiz.post_id]


def keyed(headers, key):
    return {**headers, "Idempotency-Key": key}


async def progress_rows(test_db):
    async with test_db.session() as session:
        return (
            await session.execute(
                select(PostProgress.post_id, PostProgress.status, PostProgress.updated_at)
            )
        ).all()


async def key_rows(test_db):
    async with test_db.session() as session:
        return (
            (await session.execute(select(IdempotencyKey.key).order_by(IdempotencyKey.key)))
            .scalars()
            .all()
        )


@pytest.mark.asyncio
async def test_same_key_same_request_replays_the_response_and_changes_nothing(
    client, user_headers, test_db, posts
):
    """The same key, method, path and body: the stored response (status, body, type) with
    `Idempotent-Replayed: true`; the route does not run again (the row keeps its time)."""
    url = f"/api/progress/{posts[0]}"
    headers = keyed(user_headers, "put-1")
    first = await client.put(url, json={"status": "completed"}, headers=headers)
    stored = await progress_rows(test_db)

    again = await client.put(url, json={"status": "completed"}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert await progress_rows(test_db) == stored


@pytest.mark.asyncio
async def test_a_stored_4xx_is_replayed_too(client, user_headers, posts):
    """A response under 500 is kept whatever its status: a 400 is answered again as 400."""
    headers = keyed(user_headers, "quiz")
    url = f"/api/progress/{posts[3]}"
    first = await client.put(url, json={"status": "completed"}, headers=headers)

    again = await client.put(url, json={"status": "completed"}, headers=headers)

    assert first.status_code == again.status_code == 400
    assert again.json() == {"detail": "A quiz is completed only by passing it"}
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.asyncio
async def test_a_create_is_not_created_twice(client, auth_headers):
    """A retried `POST` with its key creates once: the replay answers the same 201 and id."""
    headers = keyed(auth_headers, "course-create")
    first = await client.post("/api/courses", json={"title": "Once"}, headers=headers)

    again = await client.post("/api/courses", json={"title": "Once"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = await client.get("/api/courses", headers=auth_headers)
    assert listed.status_code == 200
    assert [c["title"] for c in listed.json()] == ["Once"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "same", {"status": "in_progress"}),
        ("PUT", "other", {"status": "completed"}),
        ("POST", "sync", None),
    ],
    ids=["other-body", "other-path", "other-method-and-path"],
)
@pytest.mark.asyncio
async def test_same_key_other_request_returns_422(
    client, user_headers, test_db, posts, method, path, body
):
    """The key again with another body, path or method: 422 "Idempotency-Key reused with
    a different request"; nothing is done."""
    headers = keyed(user_headers, "reused")
    first = await client.put(
        f"/api/progress/{posts[0]}", json={"status": "completed"}, headers=headers
    )
    assert first.status_code == 200
    stored = await progress_rows(test_db)
    url = {
        "same": f"/api/progress/{posts[0]}",
        "other": f"/api/progress/{posts[1]}",
        "sync": "/api/progress/sync",
    }[path]
    if body is None:
        body = {
            "events": [
                {
                    "event_id": "e",
                    "post_id": posts[2],
                    "status": "completed",
                    "occurred_at": "2026-09-01T00:00:00Z",
                }
            ]
        }

    response = await client.request(method, url, json=body, headers=headers)

    assert response.status_code == 422
    assert response.json() == {"detail": "Idempotency-Key reused with a different request"}
    assert await progress_rows(test_db) == stored


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", "caf\u00e9", "tab\tkey"],
    ids=["empty", "256-chars", "space", "non-ascii", "control"],
)
@pytest.mark.asyncio
async def test_malformed_key_returns_422(client, user_headers, test_db, posts, key):
    """A key that is empty, longer than 255 characters or not visible ASCII: 422, and the
    write does not run."""
    headers = {**user_headers, "Idempotency-Key": key.encode("utf-8")}

    response = await client.put(
        f"/api/progress/{posts[0]}", json={"status": "completed"}, headers=headers
    )

    assert response.status_code == 422
    assert response.json() == {"detail": "Idempotency-Key must be 1-255 visible ASCII characters"}
    assert await progress_rows(test_db) == []


@pytest.mark.asyncio
async def test_longest_key_is_accepted(client, user_headers, posts):
    """255 visible ASCII characters are a valid key."""
    headers = keyed(user_headers, "~" * 255)

    response = await client.put(
        f"/api/progress/{posts[0]}", json={"status": "completed"}, headers=headers
    )

    assert response.status_code == 200


async def _running(test_db, user_id, key, method, path, body, *, age=timedelta(0)):
    """A key whose first request is still running (no response stored)."""
    async with test_db.session() as session:
        now = utcnow()
        session.add(
            IdempotencyKey(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint(method, path, b"", body),
                created_at=now - age,
                expires_at=now + timedelta(hours=24),
            )
        )
        await session.commit()


@pytest.mark.asyncio
async def test_key_of_a_request_still_running_returns_409(
    client, user_headers, test_user, test_db, posts
):
    """The same request while the first with its key is still running: 409, nothing done."""
    path = f"/api/progress/{posts[0]}"
    body = b'{"status":"completed"}'
    await _running(test_db, test_user.id, "busy", "PUT", path, body)

    response = await client.put(
        path,
        content=body,
        headers={**keyed(user_headers, "busy"), "Content-Type": "application/json"},
    )

    assert response.status_code == 409
    assert response.json() == {"detail": idempotency.RUNNING}
    assert await progress_rows(test_db) == []


@pytest.mark.asyncio
async def test_key_of_a_sync_still_running_returns_409(
    client, user_headers, test_user, test_db, posts
):
    """The same on `POST /api/progress/sync` (the layer is the same for every write)."""
    body = (
        b'{"events":[{"event_id":"e","post_id":%d,"status":"completed",'
        b'"occurred_at":"2026-09-01T00:00:00Z"}]}' % posts[0]
    )
    await _running(test_db, test_user.id, "busy", "POST", "/api/progress/sync", body)

    response = await client.post(
        "/api/progress/sync",
        content=body,
        headers={**keyed(user_headers, "busy"), "Content-Type": "application/json"},
    )

    assert response.status_code == 409
    assert await progress_rows(test_db) == []


@pytest.mark.asyncio
async def test_key_abandoned_by_a_dead_process_runs_again(
    client, user_headers, test_user, test_db, posts
):
    """A key without a response for longer than the lease (its process died mid-request) is
    taken over: the request runs and its response is stored."""
    path = f"/api/progress/{posts[0]}"
    body = b'{"status":"completed"}'
    age = timedelta(seconds=idempotency.LEASE_SECONDS + 1)
    await _running(test_db, test_user.id, "dead", "PUT", path, body, age=age)
    headers = {**keyed(user_headers, "dead"), "Content-Type": "application/json"}

    response = await client.put(path, content=body, headers=headers)
    again = await client.put(path, content=body, headers=headers)

    assert response.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.asyncio
async def test_keys_are_per_user(
    client, user_headers, make_user, add_member, make_auth_headers, test_db, posts
):
    """Two users with the same key are two requests: both run."""
    url = f"/api/progress/{posts[0]}"
    other = await make_user()
    first = await client.put(url, json={"status": "completed"}, headers=keyed(user_headers, "k"))
    second = await client.put(
        url, json={"status": "completed"}, headers=keyed(make_auth_headers(other), "k")
    )

    assert first.status_code == 200
    assert second.status_code == 403  # not in the group: their own answer, not a replay
    assert "idempotent-replayed" not in second.headers


@pytest.mark.asyncio
async def test_unauthenticated_write_with_key_is_answered_by_the_route(client, posts):
    """No valid token: the key is not looked at; the route answers 401 as always."""
    response = await client.put(
        f"/api/progress/{posts[0]}",
        json={"status": "completed"},
        headers={"Idempotency-Key": "", "Authorization": "Bearer nonsense"},
    )

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_expired_key_is_a_new_request_and_expired_keys_are_swept(
    client, app, user_headers, test_user, test_db, posts
):
    """A key past its expiry is a fresh request (it runs); after a stored response, expired
    keys of anyone are deleted by the app (at most every few minutes per process)."""
    url = f"/api/progress/{posts[0]}"
    first = await client.put(
        url, json={"status": "in_progress"}, headers=keyed(user_headers, "old")
    )
    assert first.status_code == 200
    await _running(test_db, test_user.id, "stale", "PUT", url, b"", age=timedelta(days=3))
    async with test_db.session() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(IdempotencyKey).values(expires_at=past))
        await session.commit()
    idempotency_layer(app).next_sweep = 0.0

    again = await client.put(url, json={"status": "completed"}, headers=keyed(user_headers, "old"))

    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert again.json()["status"] == "completed"
    assert await key_rows(test_db) == ["old"]


@pytest.mark.asyncio
async def test_reads_ignore_the_key(client, user_headers, test_db, posts):
    """A GET with a key is an ordinary read: nothing is stored."""
    response = await client.get("/api/progress", headers=keyed(user_headers, "read"))

    assert response.status_code == 200
    async with test_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


@pytest.mark.asyncio
async def test_response_is_stored_even_when_the_client_is_gone(
    app, client, user_headers, test_db, posts
):
    """The connection breaks while the response goes out (the server's send fails): the
    write is done, so its response is stored all the same and the retry gets it replayed
    (the write does not run twice)."""
    url = f"/api/progress/{posts[0]}"
    body = b'{"status":"completed"}'
    headers = {**keyed(user_headers, "gone"), "Content-Type": "application/json"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "app": app,
        "state": {},
        SESSIONS_KEY: [],  # the request middleware's (outside the layer called here)
    }
    received = False

    async def receive():
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def broken_send(message):
        raise OSError("connection reset by peer")

    await idempotency_layer(app)(scope, receive, broken_send)
    stored = await progress_rows(test_db)

    retry = await client.put(url, content=body, headers=headers)

    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["status"] == "completed"
    assert await progress_rows(test_db) == stored
