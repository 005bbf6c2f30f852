"""Staged races of the quiz engine (issue 23): a second connection holds the contested row
(the `held_transaction` fixture), the request runs into it and waits, and the test decides
when the other side commits; plus the same races live, many requests at once.

- two starts at once still give one attempt (the partial unique index);
- a submit racing an edit of the quiz is graded against the attempt's own questions;
- a submit racing the deadline (another request grading the attempt as timed out) is
  graded once;
- a save racing another save loses neither.

PostgreSQL only: SQLite runs one writer at a time.
"""

import asyncio
from collections import Counter

import pytest
import pytest_asyncio

from progress_factories import answers_of, stored_answers

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


def quiz_body(questions: int = 2, **settings):
    return {
        "pass_mark": 100,
        "questions": [
            {
                "prompt": f"Q{n}",
                "kind": "single",
                "options": [
                    {"text": "right", "is_correct": True},
                    {"text": "wrong", "is_correct": False},
                ],
            }
            for n in range(1, questions + 1)
        ],
        **settings,
    }


@pytest_asyncio.fixture
async def module_id(user_course, make_module) -> int:
    return (await make_module(course=user_course)).id


@pytest_asyncio.fixture
async def make_quiz(client, auth_headers, module_id):
    async def make(questions: int = 2, **settings):
        created = await client.post(
            "/api/posts",
            json={
                "module_id": module_id,
                "title": "Race",
                "post_type": "quiz",
                "quiz": quiz_body(questions, **settings),
            },
            headers=auth_headers,
        )
        assert created.status_code == 201, created.text
        return created.json()

    return make


def right_answers(attempt):
    """Each of the attempt's questions answered with its option "right"."""
    return [
        {
            "question_id": q["id"],
            "option_ids": [next(o["id"] for o in q["options"] if o["text"] == "right")],
        }
        for q in attempt["questions"]
    ]


@pytest.mark.asyncio
async def test_start_racing_a_start_in_flight_returns_that_attempt(
    client, user_headers, test_user, make_quiz, held_transaction
):
    """Another start's attempt is inserted but not committed: this start's insert waits on
    the one-in-progress index, and once the other commits it answers 200 with that attempt
    (its questions), not a second attempt."""
    post = await make_quiz(3, questions_per_attempt=2, shuffle_questions=True, max_attempts=1)
    held = await held_transaction.execute(
        "INSERT INTO quiz_attempts (post_id, user_id, status, started_at, questions, "
        "saved_answers, timed_out, pass_mark) VALUES (:post, :user, 'in_progress', now(), "
        "'[]', '[]', false, 100) RETURNING id",
        post=post["id"],
        user=test_user.id,
    )
    other_id = held.scalar_one()
    request = asyncio.create_task(
        client.post(f"/api/quizzes/{post['id']}/attempts", headers=user_headers)
    )
    await held_transaction.until_waited_on(request)

    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    assert response.json()["id"] == other_id
    listed = await client.get(f"/api/quizzes/{post['id']}/attempts", headers=user_headers)
    assert [a["id"] for a in listed.json()] == [other_id]


@pytest.mark.asyncio
async def test_ten_starts_at_once_with_a_draw_give_one_attempt(client, user_headers, make_quiz):
    """Ten starts at once of a quiz drawing 2 of 5 with shuffles and one attempt allowed:
    one 201, nine 200, all the same attempt with the same questions in the same order."""
    post = await make_quiz(
        5, questions_per_attempt=2, shuffle_questions=True, shuffle_options=True, max_attempts=1
    )
    url = f"/api/quizzes/{post['id']}/attempts"

    responses = await asyncio.gather(*(client.post(url, headers=user_headers) for _ in range(10)))

    assert Counter(r.status_code for r in responses) == {201: 1, 200: 9}
    assert len({(r.json()["id"], str(r.json()["questions"])) for r in responses}) == 1
    listed = await client.get(url, headers=user_headers)
    assert len(listed.json()) == 1


@pytest.mark.asyncio
async def test_submit_racing_a_quiz_edit_is_graded_against_the_attempts_questions(
    client, test_db, user_headers, make_quiz, held_transaction
):
    """An edit of the quiz holds its module's lock and has replaced the questions, not
    committed: the submit waits for it, then grades against the attempt's own questions
    (100), never against the edited quiz."""
    post = await make_quiz(2)
    attempt = (
        await client.post(f"/api/quizzes/{post['id']}/attempts", headers=user_headers)
    ).json()
    await held_transaction.execute(
        "SELECT id FROM modules WHERE id = :m FOR UPDATE", m=post["module_id"]
    )
    await held_transaction.execute("DELETE FROM quiz_questions WHERE post_id = :p", p=post["id"])
    await held_transaction.execute(
        "INSERT INTO quiz_questions (post_id, position, prompt, kind) "
        "VALUES (:p, 1, 'New', 'single')",
        p=post["id"],
    )
    request = asyncio.create_task(
        client.post(
            f"/api/quiz-attempts/{attempt['id']}/submit",
            json={"answers": right_answers(attempt)},
            headers=user_headers,
        )
    )
    await held_transaction.until_waited_on(request)

    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["passed"]) == (100, True)
    assert [r["question_id"] for r in body["results"]] == [q["id"] for q in attempt["questions"]]


@pytest.mark.asyncio
async def test_submits_and_edits_at_once_grade_each_attempt_on_its_questions(
    client, auth_headers, user_headers, make_quiz
):
    """Live, 10 rounds: a submit of all-right answers and a replacement of the quiz at once:
    every submit is 200 with score 100, whichever ran first."""
    post = await make_quiz(2)
    for round_ in range(10):
        attempt = (
            await client.post(f"/api/quizzes/{post['id']}/attempts", headers=user_headers)
        ).json()
        submitted, edited = await asyncio.gather(
            client.post(
                f"/api/quiz-attempts/{attempt['id']}/submit",
                json={"answers": right_answers(attempt)},
                headers=user_headers,
            ),
            client.patch(
                f"/api/posts/{post['id']}",
                json={"quiz": quiz_body(2 + round_ % 3)},
                headers=auth_headers,
            ),
        )
        assert (submitted.status_code, edited.status_code) == (200, 200)
        assert submitted.json()["score"] == 100


@pytest.mark.asyncio
async def test_submit_racing_the_expiry_is_graded_once(
    client, user_headers, make_quiz, clock, held_transaction, test_db
):
    """Within the grace, the submit meets another request grading the attempt as timed out
    (row updated, not committed): it waits, then answers 200 with that one grade (timed
    out, score 0), not a second grade of its own, and writes no answer rows of its own (the
    other side, a bare UPDATE here, wrote none)."""
    post = await make_quiz(2, time_limit_minutes=10)
    attempt = (
        await client.post(f"/api/quizzes/{post['id']}/attempts", headers=user_headers)
    ).json()
    clock.advance(minutes=10, seconds=10)
    await held_transaction.execute(
        "UPDATE quiz_attempts SET status = 'submitted', timed_out = true, score = 0, "
        "passed = false, submitted_at = deadline, results = '[]' WHERE id = :id",
        id=attempt["id"],
    )
    request = asyncio.create_task(
        client.post(
            f"/api/quiz-attempts/{attempt['id']}/submit",
            json={"answers": right_answers(attempt)},
            headers=user_headers,
        )
    )
    await held_transaction.until_waited_on(request)

    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["timed_out"], body["score"]) == ("submitted", True, 0)
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert read.json() == body
    assert await stored_answers(test_db, attempt["id"]) == []


@pytest.mark.asyncio
async def test_reads_and_submits_after_the_grace_grade_once(
    client, user_headers, make_quiz, clock, test_db
):
    """Live, 5 rounds: past the grace, three reads and three submits at once: all 200 with
    the same graded attempt (timed out, on the saved answers: 100), one attempt stored, its
    answers stored as rows once."""
    post = await make_quiz(2, time_limit_minutes=10)
    url = f"/api/quizzes/{post['id']}/attempts"
    for _ in range(5):
        attempt = (await client.post(url, headers=user_headers)).json()
        saved = await client.put(
            f"/api/quiz-attempts/{attempt['id']}/answers",
            json={"answers": right_answers(attempt)},
            headers=user_headers,
        )
        assert saved.status_code == 200
        clock.advance(minutes=11)
        one = f"/api/quiz-attempts/{attempt['id']}"

        responses = await asyncio.gather(
            *(client.get(one, headers=user_headers) for _ in range(3)),
            *(client.post(f"{one}/submit", json={}, headers=user_headers) for _ in range(3)),
        )

        assert [r.status_code for r in responses] == [200] * 6
        assert len({str(r.json()) for r in responses}) == 1
        assert (responses[0].json()["timed_out"], responses[0].json()["score"]) == (True, 100)
        graded = responses[0].json()["results"]
        assert len(graded) == 2
        assert await stored_answers(test_db, attempt["id"]) == answers_of(graded)
    listed = await client.get(url, headers=user_headers)
    assert len(listed.json()) == 5


@pytest.mark.asyncio
async def test_saves_at_once_keep_every_answer(client, user_headers, make_quiz):
    """Live, 5 rounds: each question's answer saved by its own request, all at once: every
    one is kept (the attempt's row is locked while the saved answers are merged)."""
    post = await make_quiz(8)
    url = f"/api/quizzes/{post['id']}/attempts"
    for _ in range(5):
        attempt = (await client.post(url, headers=user_headers)).json()
        answers = right_answers(attempt)
        save = f"/api/quiz-attempts/{attempt['id']}/answers"

        responses = await asyncio.gather(
            *(client.put(save, json={"answers": [a]}, headers=user_headers) for a in answers)
        )

        assert [r.status_code for r in responses] == [200] * 8
        read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
        assert read.json()["saved_answers"] == answers
        submitted = await client.post(
            f"/api/quiz-attempts/{attempt['id']}/submit", json={}, headers=user_headers
        )
        assert submitted.json()["score"] == 100
