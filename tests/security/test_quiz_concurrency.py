"""Races on quiz attempts and progress: simultaneous requests leave exactly one winner, the
losers get the same answer as the sequential case, and no 500.

PostgreSQL only, like tests/security/test_concurrency.py: SQLite runs one writer at a time.
"""

import asyncio
from collections import Counter

import pytest
import pytest_asyncio

from progress_factories import answers_of, insert_module, insert_posts, insert_quiz, stored_answers

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


@pytest_asyncio.fixture
async def group(test_user, make_group, add_member):
    group = await make_group()
    await add_member(group, test_user)
    return group


@pytest_asyncio.fixture
async def module_id(test_db, group, make_course, assign_course):
    course = await make_course()
    await assign_course(group, course)
    return await insert_module(test_db, course.id)


@pytest.mark.asyncio
async def test_submit_same_attempt_10_times_at_once_returns_one_200_rest_400(
    client, test_db, user_headers, module_id
):
    """Ten submits of one attempt at once, five attempts in a row: each time exactly one 200,
    nine 400 "Attempt already submitted", and the stored attempt is the winner's, its
    answers stored as rows once (the winner's, for the dashboard)."""
    quiz = await insert_quiz(test_db, module_id)
    right = [
        {"question_id": q, "option_ids": c}
        for q, c in zip(quiz.questions, quiz.correct, strict=True)
    ]
    for _ in range(5):
        attempt = (
            await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
        ).json()
        url = f"/api/quiz-attempts/{attempt['id']}/submit"
        # Half of them right, half wrong: the stored grade must be the winner's.
        bodies = [{"answers": right if i % 2 else []} for i in range(10)]

        responses = await asyncio.gather(
            *(client.post(url, json=body, headers=user_headers) for body in bodies)
        )

        assert Counter(r.status_code for r in responses) == {200: 1, 400: 9}
        assert {r.json()["detail"] for r in responses if r.status_code == 400} == {
            "Attempt already submitted"
        }
        winner = next(r.json() for r in responses if r.status_code == 200)
        listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
        assert listed.json()[0] == winner
        assert [r["question_id"] for r in winner["results"]] == [
            q["id"] for q in attempt["questions"]
        ]
        assert await stored_answers(test_db, attempt["id"]) == answers_of(winner["results"])


@pytest.mark.asyncio
async def test_start_attempt_10_times_at_once_returns_one_201_rest_200_same_attempt(
    client, test_db, user_headers, module_id
):
    """Ten starts at once: one 201, nine 200, all the same attempt; one attempt stored."""
    quiz = await insert_quiz(test_db, module_id)
    url = f"/api/quizzes/{quiz.post_id}/attempts"

    responses = await asyncio.gather(*(client.post(url, headers=user_headers) for _ in range(10)))

    assert Counter(r.status_code for r in responses) == {201: 1, 200: 9}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = await client.get(url, headers=user_headers)
    assert len(listed.json()) == 1


@pytest.mark.asyncio
async def test_put_progress_10_times_at_once_sets_completed_at_once(
    client, test_db, user_headers, manager_headers, test_user, group, module_id
):
    """Ten `completed` (and ten `in_progress`) on one post at once: all 200, one stored
    state, completed, with a single `completed_at` every answer agrees on; the group view
    counts the post once."""
    (post_id,) = await insert_posts(test_db, module_id)
    url = f"/api/progress/{post_id}"
    bodies = [{"status": "completed" if i % 2 else "in_progress"} for i in range(20)]

    responses = await asyncio.gather(
        *(client.put(url, json=b, headers=user_headers) for b in bodies)
    )

    assert Counter(r.status_code for r in responses) == {200: 20}
    completed = {r.json()["completed_at"] for r in responses if r.json()["status"] == "completed"}
    assert len(completed) == 1
    final = await client.put(url, json={"status": "completed"}, headers=user_headers)
    assert final.json()["completed_at"] in completed
    view = (await client.get(f"/api/groups/{group.id}/progress", headers=manager_headers)).json()
    mine = next(m for m in view["members"] if m["user_id"] == test_user.id)
    assert [(c["completed_posts"], c["total_posts"]) for c in mine["courses"]] == [(1, 1)]
