"""Nothing lost, nothing done twice on a lossy network (companion spec §1; tests/flaky.py).

A scripted parent uses the app once through a perfect network and once (on an identical
world of their own) through a proxy that loses 10 % of the requests before the server and
30 % of the responses after it, retrying with `Idempotency-Key`s: the final state (post
statuses, attempts and scores, course counters) is the same, there is no duplicate row,
and the counters agree with a recount (`tma doctor`'s check). Runs on both databases like
the rest of the suite; `FLAKY_ROUNDS` (default 2: CI's short version) sets how many lossy
runs with different seeds; `make flaky` runs 25 on SQLite and on PostgreSQL.
"""

import os

import httpx
import pytest
from sqlalchemy import func, select

from flaky import LossyProxy, Parent, final_state, scripted_use
from progress_factories import insert_module, insert_posts, insert_quiz
from tma.core.idempotency import IdempotencyKey
from tma.progress import doctor
from tma.progress.models import PostProgress, SyncedEvent
from tma.quizzes.models import QuizAttempt

ROUNDS = int(os.environ.get("FLAKY_ROUNDS", "2"))
DROP_BEFORE, DROP_AFTER = 0.10, 0.30


async def world(test_db, make_user, make_group, add_member, make_course, assign_course, name):
    """A parent in a group with a course of 6 posts and a quiz (pass mark 80)."""
    user = await make_user(username=name, password="flaky-pass")
    group = await make_group(name=f"{name} group")
    await add_member(group, user)
    course = await make_course(title=f"{name} course")
    await assign_course(group, course)
    module = await insert_module(test_db, course.id)
    posts = await insert_posts(test_db, module, 6)
    quiz = await insert_quiz(test_db, module)
    return user, posts, quiz


async def rows_of(test_db, user_id):
    """The parent's rows: progress, attempts, sync events (each counted once)."""
    async with test_db.session() as session:

        async def count(model):
            stmt = select(func.count()).select_from(model).where(model.user_id == user_id)
            return await session.scalar(stmt)

        return {
            "progress": await count(PostProgress),
            "attempts": await count(QuizAttempt),
            "sync_events": await count(SyncedEvent),
        }


@pytest.mark.asyncio
async def test_lossy_network_ends_in_the_same_state_as_a_perfect_one(
    app, test_db, make_user, make_group, add_member, make_course, assign_course
):
    """The loss-free run and each lossy run end in the same statuses, attempts, scores and
    counters, with the same number of rows (no duplicate); requests and responses were
    really lost, and retried."""
    base = "http://flaky.test"
    perfect_transport = httpx.ASGITransport(app=app)
    user, posts, quiz = await world(
        test_db, make_user, make_group, add_member, make_course, assign_course, "steady"
    )
    async with httpx.AsyncClient(transport=perfect_transport, base_url=base) as http:
        parent = Parent(http, user.username, "flaky-pass", run="steady")
        await scripted_use(parent, posts=posts, quiz=quiz)
        expected = await final_state(parent, posts=posts, quiz=quiz)
    expected_rows = await rows_of(test_db, user.id)
    assert parent.retries == 0
    assert expected["attempts"] == [(100, True, True), (0, False, True)]

    lost_before = lost_after = sent = 0
    for seed in range(ROUNDS):
        user, posts, quiz = await world(
            test_db, make_user, make_group, add_member, make_course, assign_course, f"bus{seed}"
        )
        proxy = LossyProxy(
            httpx.ASGITransport(app=app), seed=seed, before=DROP_BEFORE, after=DROP_AFTER
        )
        async with httpx.AsyncClient(transport=proxy, base_url=base) as http:
            parent = Parent(http, user.username, "flaky-pass", run=f"bus{seed}")
            await scripted_use(parent, posts=posts, quiz=quiz)
        async with httpx.AsyncClient(transport=perfect_transport, base_url=base) as http:
            parent.client = http
            state = await final_state(parent, posts=posts, quiz=quiz)

        assert state == expected, f"seed {seed}"
        assert await rows_of(test_db, user.id) == expected_rows, f"seed {seed}"
        lost_before += proxy.dropped_before
        lost_after += proxy.dropped_after
        sent += proxy.sent

    assert lost_before > 0
    assert lost_after > 0
    async with test_db.db.engine.connect() as conn:
        report = await doctor.check(conn)
    assert report.differences == []
    async with test_db.session() as session:
        keys = await session.scalar(select(func.count()).select_from(IdempotencyKey))
    assert keys > 0
    print(
        f"\nflaky: {ROUNDS} lossy runs, {sent} requests sent, {lost_before} lost before the "
        f"server, {lost_after} responses lost after it; same state as the loss-free run"
    )
