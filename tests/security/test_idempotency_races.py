"""The same `Idempotency-Key` sent many times at once (a phone's retries overlapping the
first try): exactly one request runs, the others answer 409 (still running) or the
replayed response; one row is written. PostgreSQL only (SQLite runs one writer at a time).
"""

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from progress_factories import insert_module, insert_posts
from tma.progress.models import PostProgress, SyncedEvent

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time

ROUNDS = 10


@pytest.mark.asyncio
async def test_same_key_20_times_at_once_runs_the_write_once(
    client, user_headers, user_course, test_db, test_user
):
    """20 identical progress writes with one key, at once, 10 rounds (one post each): one
    200 that ran, the rest 409 or a replayed 200 with the same body; one progress row per
    post, written once (its `updated_at` is the one every 200 reports)."""
    module = await insert_module(test_db, user_course.id)
    posts = await insert_posts(test_db, module, ROUNDS)
    for round_, post in enumerate(posts):
        headers = {**user_headers, "Idempotency-Key": f"race-{round_}"}

        responses = await asyncio.gather(
            *(
                client.put(f"/api/progress/{post}", json={"status": "completed"}, headers=headers)
                for _ in range(20)
            )
        )

        assert set(Counter(r.status_code for r in responses)) <= {200, 409}
        ran = [
            r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers
        ]
        assert len(ran) == 1
        assert {r.text for r in responses if r.status_code == 200} == {ran[0].text}
    async with test_db.session() as session:
        count = (
            select(func.count())
            .select_from(PostProgress)
            .where(PostProgress.user_id == test_user.id)
        )
        assert await session.scalar(count) == ROUNDS


@pytest.mark.asyncio
async def test_same_sync_batch_at_once_applies_each_event_once(
    client, user_headers, user_course, test_db, test_user
):
    """One sync batch sent 10 times at once with one key: one runs (every event
    `applied`), the others 409 or its replay; each event remembered once."""
    module = await insert_module(test_db, user_course.id)
    posts = await insert_posts(test_db, module, 20)
    events = [
        {
            "event_id": f"e{p}",
            "post_id": p,
            "status": "completed",
            "occurred_at": "2026-09-01T09:00:00Z",
        }
        for p in posts
    ]
    headers = {**user_headers, "Idempotency-Key": "sync-race"}

    responses = await asyncio.gather(
        *(
            client.post("/api/progress/sync", json={"events": events}, headers=headers)
            for _ in range(10)
        )
    )

    assert set(Counter(r.status_code for r in responses)) <= {200, 409}
    answered = [r.json() for r in responses if r.status_code == 200]
    assert answered
    assert all(a == answered[0] for a in answered)
    assert {r["result"] for r in answered[0]["results"]} == {"applied"}
    async with test_db.session() as session:
        count = (
            select(func.count()).select_from(SyncedEvent).where(SyncedEvent.user_id == test_user.id)
        )
        assert await session.scalar(count) == 20
