"""Learning events exactly once under concurrency (issue 26).

A completion that is rolled back records nothing and makes nothing owed to a webhook; a
completion that interleaves with it sees only what was committed; two requests completing
the last two posts of a module at once record the module's completion once; two
completing the same post record it once. A second connection (`held_transaction`) stages
the interleaving exactly: it writes a completion (as a request would: the progress row,
whose trigger counts it, and the events) and keeps its transaction open; a request runs
into it and waits on the counter's row; the test rolls back or commits, and the request
goes on.

On SQLite (one writer at a time) the request waits at its first write and the staged
races give the same answers; the ones with real concurrency are PostgreSQL's.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from progress_factories import insert_module, insert_posts
from tma.events.models import LearningEvent, WebhookDelivery

STORED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _at(test_db: Any) -> Any:
    postgresql = test_db.db.engine.dialect.name == "postgresql"
    return STORED_AT if postgresql else STORED_AT.strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture
def course_of_two_posts(test_db, make_group, add_member, make_course, assign_course, test_user):
    """A course of one module of two posts that `test_user` (and `others`) see."""

    async def build(*others: Any) -> tuple[int, int, list[int]]:
        group = await make_group()
        for user in (test_user, *others):
            await add_member(group, user)
        course = await make_course()
        await assign_course(group, course)
        module_id = await insert_module(test_db, course.id)
        posts = await insert_posts(test_db, module_id, 2)
        return course.id, module_id, posts

    return build


async def _hook(client, auth_headers, app, monkeypatch) -> int:
    monkeypatch.setattr(app.state.settings, "webhook_allow_private", True)
    response = await client.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=auth_headers
    )
    assert response.status_code == 201
    return int(response.json()["id"])


async def _events(test_db) -> list[tuple[Any, ...]]:
    async with test_db.session() as session:
        found = await session.execute(
            select(
                LearningEvent.type,
                LearningEvent.user_id,
                LearningEvent.post_id,
                LearningEvent.module_id,
                LearningEvent.course_id,
            ).order_by(LearningEvent.id)
        )
        return [tuple(row) for row in found]


async def _owed(test_db) -> list[tuple[Any, ...]]:
    async with test_db.session() as session:
        found = await session.execute(
            select(LearningEvent.type, LearningEvent.post_id, LearningEvent.module_id)
            .join(WebhookDelivery, WebhookDelivery.event_id == LearningEvent.id)
            .order_by(LearningEvent.id)
        )
        return [tuple(row) for row in found]


async def _complete_held(held, test_db, user_id: int, post_id: int, module_id: int) -> None:
    """What a completing request writes, in the held transaction: the progress row (its
    trigger counts it in the module's and course's counters, locking their rows) and the
    post's two events (the outbox trigger owes them to the webhook)."""
    at = _at(test_db)
    await held.execute(
        "INSERT INTO post_progress (user_id, post_id, status, updated_at, completed_at, "
        "started_at) VALUES (:u, :p, 'completed', :at, :at, :at)",
        u=user_id,
        p=post_id,
        at=at,
    )
    for kind in ("post_started", "post_completed"):
        await held.execute(
            "INSERT INTO learning_events (type, user_id, key, occurred_at, post_id, module_id, "
            "recorded_at) VALUES (:t, :u, :k, :at, :p, :m, :at)",
            t=kind,
            u=user_id,
            k=f"{kind}:{post_id}",
            at=at,
            p=post_id,
            m=module_id,
        )


async def _put_completed(client, post_id, headers):
    return await client.put(
        f"/api/progress/{post_id}", json={"status": "completed"}, headers=headers
    )


@pytest.mark.asyncio
async def test_a_completion_interleaved_with_one_rolled_back_records_no_event_for_it(
    client,
    test_db,
    test_user,
    user_headers,
    auth_headers,
    app,
    monkeypatch,
    course_of_two_posts,
    held_transaction,
):
    """The held transaction completes post 1 (counter 1 of 2) and the request post 2
    waits on the counter; the held one rolls back: the request's write leaves the module
    at 1 of 2, so no module or course completion, and nothing of post 1 is recorded or
    owed to the webhook."""
    await _hook(client, auth_headers, app, monkeypatch)
    _course_id, module_id, (first, second) = await course_of_two_posts()
    await _complete_held(held_transaction, test_db, test_user.id, first, module_id)

    request = asyncio.create_task(_put_completed(client, second, user_headers))
    await held_transaction.until_waited_on(request)
    await held_transaction.rollback()
    response = await request

    assert response.status_code == 200
    assert await _events(test_db) == [
        ("post_started", test_user.id, second, module_id, None),
        ("post_completed", test_user.id, second, module_id, None),
    ]
    assert await _owed(test_db) == [
        ("post_started", second, module_id),
        ("post_completed", second, module_id),
    ]


@pytest.mark.asyncio
async def test_a_completion_interleaved_with_one_committed_records_the_module_once(
    client,
    test_db,
    test_user,
    user_headers,
    auth_headers,
    app,
    monkeypatch,
    course_of_two_posts,
    held_transaction,
):
    """The same, the held transaction committing: the request's write brings the module
    (and its course) to 2 of 2 and records their completions, owed to the webhook with
    every other event."""
    await _hook(client, auth_headers, app, monkeypatch)
    course_id, module_id, (first, second) = await course_of_two_posts()
    await _complete_held(held_transaction, test_db, test_user.id, first, module_id)

    request = asyncio.create_task(_put_completed(client, second, user_headers))
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    expected = [
        ("post_started", test_user.id, first, module_id, None),
        ("post_completed", test_user.id, first, module_id, None),
        ("post_started", test_user.id, second, module_id, None),
        ("post_completed", test_user.id, second, module_id, None),
        ("module_completed", test_user.id, None, module_id, None),
        ("course_completed", test_user.id, None, None, course_id),
    ]
    assert await _events(test_db) == expected
    assert await _owed(test_db) == [(t, p, m) for t, _, p, m, _ in expected]


@pytest.mark.asyncio
@pytest.mark.postgresql
async def test_two_requests_completing_a_modules_last_posts_at_once_record_it_once(
    client, test_db, test_user, make_user, make_auth_headers, course_of_two_posts
):
    """Ten parents each complete the module's two posts with two requests at once: each
    parent's module and course completions are recorded exactly once, whichever request
    came second."""
    parents = [test_user, *[await make_user() for _ in range(9)]]
    _course_id, _module_id, (first, second) = await course_of_two_posts(*parents[1:])

    for parent in parents:
        headers = make_auth_headers(parent)
        answers = await asyncio.gather(
            _put_completed(client, first, headers), _put_completed(client, second, headers)
        )
        assert [a.status_code for a in answers] == [200, 200]

    events = await _events(test_db)
    for parent in parents:
        mine = [e[0] for e in events if e[1] == parent.id]
        assert sorted(mine) == sorted(
            ["post_started", "post_completed"] * 2 + ["module_completed", "course_completed"]
        )


@pytest.mark.asyncio
@pytest.mark.postgresql
async def test_two_requests_completing_the_same_post_at_once_record_it_once(
    client, test_db, test_user, user_headers, course_of_two_posts
):
    """The same completion sent twice at once (a phone retrying): one `post_started`, one
    `post_completed`."""
    _course_id, module_id, (first, _) = await course_of_two_posts()

    answers = await asyncio.gather(*(_put_completed(client, first, user_headers) for _ in range(4)))

    assert [a.status_code for a in answers] == [200] * 4
    assert await _events(test_db) == [
        ("post_started", test_user.id, first, module_id, None),
        ("post_completed", test_user.id, first, module_id, None),
    ]
