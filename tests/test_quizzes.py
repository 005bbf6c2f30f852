"""Contract tests for quizzes and their attempts: reading a quiz, starting, listing and
submitting attempts.

Contract: docs/contracts/quizzes.md. A `user` reads a quiz without its answers and takes it
through attempts the server grades; the correct answers and explanations reach them only in
the results of their own submitted attempt. Staff see the answers; admins anyone's attempts,
managers those of the members of groups they own or moderate.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import update

from expected import UTC_TIMESTAMP
from progress_factories import Quiz, insert_module, insert_posts, insert_quiz
from tma.quizzes.models import QuizAttempt, QuizOption

TOO_BIG_ID = 2**63


@dataclass
class World:
    """`test_user` in a group with a course holding one module: a text post, then a quiz
    (question 1 `single`, option 2 correct; question 2 `multiple`, options 1 and 2)."""

    course_id: int
    module_id: int
    text_post: int
    quiz: Quiz


@pytest_asyncio.fixture
async def world(test_db, test_user, make_group, add_member, make_course, assign_course):
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    module_id = await insert_module(test_db, course.id, title="First steps")
    (text_post,) = await insert_posts(test_db, module_id)
    quiz = await insert_quiz(test_db, module_id)
    return World(course.id, module_id, text_post, quiz)


def all_right(quiz: Quiz) -> dict:
    return {
        "answers": [
            {"question_id": q, "option_ids": c}
            for q, c in zip(quiz.questions, quiz.correct, strict=True)
        ]
    }


async def start(client, quiz: Quiz, headers) -> dict:
    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=headers)
    assert response.status_code in (200, 201)
    return response.json()


# A quiz's settings at their defaults, as staff read them (companion.md §2).
DEFAULT_SETTINGS = {
    "max_attempts": None,
    "cooldown_minutes": 0,
    "time_limit_minutes": None,
    "shuffle_questions": False,
    "shuffle_options": False,
    "questions_per_attempt": None,
    "reveal": "after_submit",
}


def user_quiz_body(quiz: Quiz) -> dict:
    """The Quiz a `user` sees for a quiz built with the default questions."""
    return {
        "pass_mark": 80,
        "questions": [
            {
                "id": quiz.questions[n],
                "prompt": f"Question {n + 1}",
                "kind": kind,
                "explanation": None,
                "options": [
                    {"id": oid, "text": f"Option {n + 1}.{m + 1}"}
                    for m, oid in enumerate(quiz.options[n])
                ],
            }
            for n, kind in enumerate(("single", "multiple"))
        ],
    }


# --- GET /api/quizzes/{post_id} ----------------------------------------------------------


@pytest.mark.asyncio
async def test_get_quiz_as_user_returns_questions_without_answers(client, user_headers, world):
    """A `user` who sees the quiz gets its questions and options in authored order, with no
    correct answers and `explanation` null."""
    response = await client.get(f"/api/quizzes/{world.quiz.post_id}", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == user_quiz_body(world.quiz)


@pytest.mark.asyncio
async def test_get_quiz_as_staff_returns_answers_and_explanations(client, manager_headers, world):
    """Staff also see `correct_option_ids`, `is_correct` per option and the explanations."""
    response = await client.get(f"/api/quizzes/{world.quiz.post_id}", headers=manager_headers)

    assert response.status_code == 200
    quiz = world.quiz
    expected = {**user_quiz_body(quiz), **DEFAULT_SETTINGS}
    for n, question in enumerate(expected["questions"]):
        question["explanation"] = f"Because {n + 1}"
        question["correct_option_ids"] = quiz.correct[n]
        for option in question["options"]:
            option["is_correct"] = option["id"] in quiz.correct[n]
    assert response.json() == expected


@pytest.mark.asyncio
async def test_get_quiz_of_a_text_post_returns_400(client, user_headers, world):
    """A post that is not a quiz: 400."""
    response = await client.get(f"/api/quizzes/{world.text_post}", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "This post is not a quiz"}


@pytest.mark.asyncio
async def test_get_quiz_not_visible_returns_403(client, test_db, user_headers, make_course):
    """A quiz in a module of no course assigned to the user's groups: 403."""
    course = await make_course(title="Elsewhere")
    module_id = await insert_module(test_db, course.id)
    quiz = await insert_quiz(test_db, module_id)

    response = await client.get(f"/api/quizzes/{quiz.post_id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}


@pytest.mark.asyncio
async def test_get_quiz_unknown_post_returns_404(client, user_headers, world):
    """An id that names no post: 404."""
    response = await client.get("/api/quizzes/999999", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 999999 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["abc", "0", str(TOO_BIG_ID)], ids=["text", "zero", "too-big"])
async def test_get_quiz_malformed_id_returns_422(client, user_headers, bad):
    """A post id that is not an integer in 1..2^63-1: 422 on `post_id`."""
    response = await client.get(f"/api/quizzes/{bad}", headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "post_id"]


@pytest.mark.asyncio
async def test_get_quiz_without_token_returns_401(client, world):
    """No token: 401 with `WWW-Authenticate: Bearer`."""
    response = await client.get(f"/api/quizzes/{world.quiz.post_id}")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


# --- POST /api/quizzes/{post_id}/attempts ------------------------------------------------


def attempt_body(attempt_id, quiz: Quiz, user_id, **changes) -> dict:
    """The Attempt of a quiz with the default questions, settings at their defaults (the
    questions in authored order, without answers)."""
    body = {
        "id": attempt_id,
        "post_id": quiz.post_id,
        "user_id": user_id,
        "status": "in_progress",
        "started_at": UTC_TIMESTAMP,
        "submitted_at": None,
        "deadline": None,
        "timed_out": False,
        "score": None,
        "passed": None,
        "questions": user_quiz_body(quiz)["questions"],
        "saved_answers": [],
        "results": None,
    }
    return {**body, **changes}


@pytest.mark.asyncio
async def test_start_attempt_returns_201_in_progress_and_marks_post_started(
    client, user_headers, test_user, world
):
    """Starting an attempt: 201 with an `in_progress` attempt and null results; the post
    becomes `in_progress` in the user's progress."""
    response = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert body == attempt_body(body["id"], world.quiz, test_user.id)
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0]["last_activity_at"] == UTC_TIMESTAMP
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert listed.json() == [body]


@pytest.mark.asyncio
async def test_start_attempt_with_one_in_progress_returns_200_same_attempt(
    client, user_headers, world
):
    """With an attempt already in progress, starting again answers 200 with that one."""
    first = await start(client, world.quiz, user_headers)

    response = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == first
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert [a["id"] for a in listed.json()] == [first["id"]]


@pytest.mark.asyncio
async def test_start_attempt_while_another_user_has_one_returns_201_own_attempt(
    client, user_headers, test_user, make_user, make_auth_headers, world
):
    """Another user's attempt in progress at the same quiz is theirs: starting one is a
    new attempt of your own (201)."""
    other = await make_user(username="classmate", role="manager")
    theirs = await start(client, world.quiz, make_auth_headers(other))

    response = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert body == attempt_body(body["id"], world.quiz, test_user.id)
    assert body["id"] != theirs["id"]


@pytest.mark.asyncio
async def test_start_attempt_with_one_in_progress_at_another_quiz_returns_201(
    client, test_db, user_headers, test_user, world
):
    """An attempt in progress at another quiz is not resumed: this quiz gets its own (201)."""
    other_quiz = await insert_quiz(test_db, world.module_id)
    elsewhere = await start(client, other_quiz, user_headers)

    response = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert body == attempt_body(body["id"], world.quiz, test_user.id)
    assert body["id"] != elsewhere["id"]


@pytest.mark.asyncio
async def test_start_attempt_on_a_text_post_returns_400(client, user_headers, world):
    """A post that is not a quiz cannot be attempted: 400."""
    response = await client.post(f"/api/quizzes/{world.text_post}/attempts", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "This post is not a quiz"}


@pytest.mark.asyncio
async def test_start_attempt_not_visible_returns_403(client, test_db, user_headers, make_course):
    """A quiz the user cannot see: 403, and no attempt is made."""
    course = await make_course()
    quiz = await insert_quiz(test_db, await insert_module(test_db, course.id))

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}


@pytest.mark.asyncio
async def test_start_attempt_unknown_post_returns_404(client, user_headers):
    """An unknown post: 404."""
    response = await client.post("/api/quizzes/424242/attempts", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 424242 not found"}


@pytest.mark.asyncio
async def test_start_attempt_malformed_id_returns_422(client, user_headers):
    """A post id that is not an integer: 422."""
    response = await client.post("/api/quizzes/quiz/attempts", headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "post_id"]


@pytest.mark.asyncio
async def test_start_attempt_without_token_returns_401(client, world):
    """No token: 401."""
    response = await client.post(f"/api/quizzes/{world.quiz.post_id}/attempts")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


# --- POST /api/quiz-attempts/{attempt_id}/submit -----------------------------------------


@pytest.mark.asyncio
async def test_submit_attempt_all_right_returns_200_passed_and_completes_post(
    client, user_headers, test_user, world
):
    """All answers right: score 100, passed, per-question results with the correct options
    and explanations; the quiz post becomes completed."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit", json=all_right(quiz), headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == attempt_body(
        attempt["id"],
        quiz,
        test_user.id,
        status="submitted",
        submitted_at=UTC_TIMESTAMP,
        score=100,
        passed=True,
        results=[
            {
                "question_id": quiz.questions[n],
                "correct": True,
                "chosen_option_ids": quiz.correct[n],
                "correct_option_ids": quiz.correct[n],
                "explanation": f"Because {n + 1}",
            }
            for n in range(2)
        ],
    )
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0]["completed_posts"] == 1
    assert progress[0]["total_posts"] == 2


@pytest.mark.asyncio
async def test_submit_attempt_half_right_returns_score_50_not_passed(client, user_headers, world):
    """One of two right (the `multiple` one partly chosen counts wrong: no partial credit):
    score 50, not passed (pass mark 80), and the post is not completed."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)
    answers = [
        {"question_id": quiz.questions[0], "option_ids": quiz.correct[0]},
        {"question_id": quiz.questions[1], "option_ids": quiz.correct[1][:1]},
    ]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["passed"]) == (50, False)
    assert [r["correct"] for r in body["results"]] == [True, False]
    assert body["results"][1]["chosen_option_ids"] == quiz.correct[1][:1]
    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress[0]["completed_posts"] == 0


@pytest.mark.asyncio
async def test_submit_attempt_question_left_out_counts_wrong(client, test_db, user_headers, world):
    """Three questions, two answered right, one left out: score round(200/3) = 67."""
    quiz = await insert_quiz(
        test_db, world.module_id, [("single", [True, False])] * 3, pass_mark=60
    )
    attempt = await start(client, quiz, user_headers)
    answers = [
        {"question_id": q, "option_ids": c}
        for q, c in zip(quiz.questions[:2], quiz.correct[:2], strict=True)
    ]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["passed"]) == (67, True)
    assert body["results"][2] == {
        "question_id": quiz.questions[2],
        "correct": False,
        "chosen_option_ids": [],
        "correct_option_ids": quiz.correct[2],
        "explanation": "Because 3",
    }


@pytest.mark.asyncio
async def test_submit_attempt_score_equal_to_pass_mark_passes(client, test_db, user_headers, world):
    """The pass mark is the lowest passing score: one of two right is 50, pass mark 50,
    passed."""
    quiz = await insert_quiz(
        test_db, world.module_id, [("single", [True, False])] * 2, pass_mark=50
    )
    attempt = await start(client, quiz, user_headers)
    answers = [{"question_id": quiz.questions[0], "option_ids": quiz.correct[0]}]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 200
    assert (response.json()["score"], response.json()["passed"]) == (50, True)


@pytest.mark.asyncio
async def test_submit_attempt_score_rounds_half_up(client, test_db, user_headers, world):
    """One of eight right is 12.5 %: the score is 13."""
    quiz = await insert_quiz(test_db, world.module_id, [("single", [True, False])] * 8)
    attempt = await start(client, quiz, user_headers)
    answers = [{"question_id": quiz.questions[0], "option_ids": quiz.correct[0]}]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 200
    assert (response.json()["score"], response.json()["passed"]) == (13, False)


@pytest.mark.asyncio
async def test_submit_attempt_closes_only_that_attempt(
    client, user_headers, make_user, make_auth_headers, world
):
    """Submitting closes the caller's attempt alone: another user's attempt in progress at
    the same quiz stays in progress and is theirs to submit (200, with its own grade)."""
    other_headers = make_auth_headers(await make_user(username="classmate", role="manager"))
    theirs = await start(client, world.quiz, other_headers)
    mine = await start(client, world.quiz, user_headers)

    response = await client.post(
        f"/api/quiz-attempts/{mine['id']}/submit", json=all_right(world.quiz), headers=user_headers
    )

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["score"]) == (mine["id"], 100)
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=other_headers)
    assert [(a["id"], a["status"]) for a in listed.json()] == [(theirs["id"], "in_progress")]
    submitted = await client.post(
        f"/api/quiz-attempts/{theirs['id']}/submit", json={"answers": []}, headers=other_headers
    )
    assert submitted.status_code == 200
    assert (submitted.json()["status"], submitted.json()["score"]) == ("submitted", 0)


@pytest.mark.asyncio
async def test_submit_attempt_twice_returns_400_and_keeps_first_grade(client, user_headers, world):
    """A submitted attempt is final: a second submit is 400 and changes nothing."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)
    url = f"/api/quiz-attempts/{attempt['id']}/submit"
    first = await client.post(url, json={"answers": []}, headers=user_headers)

    response = await client.post(url, json=all_right(quiz), headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "Attempt already submitted"}
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert listed.json() == [first.json()]
    assert first.json()["score"] == 0


@pytest.mark.asyncio
async def test_submit_attempt_question_of_another_quiz_returns_400(
    client, test_db, user_headers, world
):
    """An answer naming another quiz's question: 400, and the attempt stays in progress."""
    other = await insert_quiz(test_db, world.module_id)
    attempt = await start(client, world.quiz, user_headers)
    answers = [{"question_id": other.questions[0], "option_ids": other.correct[0]}]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Question {other.questions[0]} is not part of this attempt"
    }
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert listed.json() == [attempt]


@pytest.mark.asyncio
async def test_submit_attempt_option_of_another_question_returns_400(client, user_headers, world):
    """An option that belongs to another question (of the same quiz): 400."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)
    stray = quiz.options[1][0]
    answers = [{"question_id": quiz.questions[0], "option_ids": [stray]}]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Option {stray} is not an option of question {quiz.questions[0]}"
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("how_many", [0, 2], ids=["none", "two"])
async def test_submit_attempt_single_question_not_one_option_returns_400(
    client, user_headers, world, how_many
):
    """A `single` question answered with no option or with two: 400."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)
    answers = [{"question_id": quiz.questions[0], "option_ids": quiz.options[0][:how_many]}]

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        json={"answers": answers},
        headers=user_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": f"Question {quiz.questions[0]} takes exactly one option"}


@pytest.mark.asyncio
async def test_submit_attempt_quiz_edited_later_keeps_grade(client, test_db, user_headers, world):
    """Editing the quiz after a submit (here: another option made the correct one) changes
    neither the score nor the stored results."""
    quiz = world.quiz
    attempt = await start(client, quiz, user_headers)
    graded = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit", json=all_right(quiz), headers=user_headers
    )
    async with test_db.session() as session:
        await session.execute(
            update(QuizOption)
            .where(QuizOption.question_id == quiz.questions[0])
            .values(is_correct=~QuizOption.is_correct)
        )
        await session.commit()

    response = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [graded.json()]
    assert graded.json()["score"] == 100


@pytest.mark.asyncio
async def test_submit_attempt_unknown_attempt_returns_404(client, user_headers):
    """An attempt id that names nothing: 404."""
    response = await client.post(
        "/api/quiz-attempts/777/submit", json={"answers": []}, headers=user_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Attempt 777 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"answers": None}, ["body"]),
        ({"answers": [{"question_id": 1, "option_ids": [1]}] * 2}, ["body", "answers"]),
        (
            {"answers": [{"question_id": 1, "option_ids": [2, 2]}]},
            ["body", "answers", 0, "option_ids"],
        ),
        (
            {"answers": [{"question_id": 0, "option_ids": []}]},
            ["body", "answers", 0, "question_id"],
        ),
        ({"answers": [], "score": 100}, ["body", "score"]),
        (
            {"answers": [{"question_id": 1, "option_ids": list(range(1, 12))}]},
            ["body", "answers", 0, "option_ids"],
        ),
    ],
    ids=["null", "repeated-question", "repeated-option", "zero-id", "extra-field", "11-options"],
)
async def test_submit_attempt_malformed_body_returns_422(client, user_headers, world, body, loc):
    """A body breaking its own rules: 422, and the attempt stays in progress."""
    attempt = await start(client, world.quiz, user_headers)

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit", json=body, headers=user_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert listed.json() == [attempt]


@pytest.mark.asyncio
async def test_submit_attempt_without_token_returns_401(client, user_headers, world):
    """No token: 401."""
    attempt = await start(client, world.quiz, user_headers)

    response = await client.post(f"/api/quiz-attempts/{attempt['id']}/submit", json={"answers": []})

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_submit_attempt_body_over_1_mib_returns_413(client, user_headers, world):
    """A body over 1 MiB: 413 from the middleware; the attempt stays in progress."""
    attempt = await start(client, world.quiz, user_headers)

    response = await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit",
        content=b'{"answers": []' + b" " * (1024 * 1024) + b"}",
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    listed = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)
    assert listed.json() == [attempt]


# --- GET /api/quizzes/{post_id}/attempts -------------------------------------------------


@pytest.mark.asyncio
async def test_list_attempts_returns_own_newest_first(client, user_headers, world):
    """Your attempts at the quiz, newest first, with `X-Total-Count`."""
    first = await start(client, world.quiz, user_headers)
    submitted = await client.post(
        f"/api/quiz-attempts/{first['id']}/submit", json={"answers": []}, headers=user_headers
    )
    second = await start(client, world.quiz, user_headers)

    response = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [second, submitted.json()]
    assert response.headers["x-total-count"] == "2"


@pytest.mark.asyncio
async def test_list_attempts_orders_by_start_time_then_newest_id(
    client, test_db, test_user, user_headers, world
):
    """Newest first means by start time, not by id (rows written by another server with
    its own clock, or imported, need not follow the ids); attempts started at the same
    instant come newest id first."""
    at = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    started = [at, at - timedelta(hours=1), at]  # in id order
    async with test_db.session() as session:
        attempts = [
            QuizAttempt(
                post_id=world.quiz.post_id,
                user_id=test_user.id,
                status="submitted",
                started_at=when,
                submitted_at=when + timedelta(minutes=5),
                score=0,
                passed=False,
                results=[],
            )
            for when in started
        ]
        session.add_all(attempts)
        await session.commit()
        ids = [attempt.id for attempt in attempts]

    response = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 200
    assert [a["id"] for a in response.json()] == [ids[2], ids[0], ids[1]]


@pytest.mark.asyncio
async def test_list_attempts_with_limit_returns_window_and_total(client, user_headers, world):
    """`limit`/`offset` window the list; `X-Total-Count` counts them all."""
    first = await start(client, world.quiz, user_headers)
    await client.post(
        f"/api/quiz-attempts/{first['id']}/submit", json={"answers": []}, headers=user_headers
    )
    second = await start(client, world.quiz, user_headers)

    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?limit=1", headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == [second]
    assert response.headers["x-total-count"] == "2"


@pytest.mark.asyncio
async def test_list_attempts_offset_past_the_end_returns_empty_page_and_total(
    client, user_headers, world
):
    """An `offset` past the last attempt gives an empty page; `X-Total-Count` still counts
    every attempt (1), not the offset."""
    await start(client, world.quiz, user_headers)

    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?offset=5", headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "1"


@pytest.mark.asyncio
async def test_list_attempts_offset_without_attempts_returns_total_0(client, user_headers, world):
    """No attempts and an `offset`: an empty page and `X-Total-Count: 0`."""
    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?offset=3", headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"


@pytest.mark.asyncio
async def test_list_attempts_staff_with_user_id_returns_that_users(
    client, manager_headers, user_headers, test_user, world
):
    """The manager owning the user's group reads their attempts with `?user_id=`; without
    it, their own (none)."""
    attempt = await start(client, world.quiz, user_headers)
    url = f"/api/quizzes/{world.quiz.post_id}/attempts"

    response = await client.get(f"{url}?user_id={test_user.id}", headers=manager_headers)

    assert response.status_code == 200
    assert response.json() == [attempt]
    own = await client.get(url, headers=manager_headers)
    assert own.json() == []


@pytest.mark.asyncio
async def test_list_attempts_manager_naming_user_outside_their_groups_returns_403(
    client, make_user, make_auth_headers, user_headers, test_user, world
):
    """A manager who owns or moderates no group of the user's (here: in no group at all)
    naming their `user_id`: 403; an admin reads the same attempts."""
    attempt = await start(client, world.quiz, user_headers)
    url = f"/api/quizzes/{world.quiz.post_id}/attempts?user_id={test_user.id}"
    stranger = make_auth_headers(await make_user(role="manager"))

    response = await client.get(url, headers=stranger)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the data of members of groups you own or moderate"
    }
    admin = make_auth_headers(await make_user(role="admin"))
    assert (await client.get(url, headers=admin)).json() == [attempt]


@pytest.mark.asyncio
async def test_list_attempts_user_naming_another_user_returns_403(
    client, user_headers, manager_user, world
):
    """A `user` naming anyone else's `user_id`: 403."""
    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?user_id={manager_user.id}",
        headers=user_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only see your own progress"}


@pytest.mark.asyncio
async def test_list_attempts_user_naming_themselves_returns_200(
    client, user_headers, test_user, world
):
    """A `user` may name their own id."""
    attempt = await start(client, world.quiz, user_headers)

    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?user_id={test_user.id}", headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == [attempt]


@pytest.mark.asyncio
async def test_list_attempts_staff_unknown_user_returns_404(client, manager_headers, world):
    """Staff naming a user who does not exist: 404."""
    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?user_id=999999", headers=manager_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "User 999999 not found"}


@pytest.mark.asyncio
async def test_list_attempts_of_a_text_post_returns_400(client, user_headers, world):
    """A post that is not a quiz: 400."""
    response = await client.get(f"/api/quizzes/{world.text_post}/attempts", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "This post is not a quiz"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query", ["user_id=0", "user_id=x", "limit=0"], ids=["zero", "text", "limit"]
)
async def test_list_attempts_malformed_query_returns_422(client, user_headers, world, query):
    """A malformed `user_id`, `limit` or `offset`: 422."""
    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?{query}", headers=user_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", query.split("=")[0]]


@pytest.mark.asyncio
async def test_list_attempts_without_token_returns_401(client, world):
    """No token: 401."""
    response = await client.get(f"/api/quizzes/{world.quiz.post_id}/attempts")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_attempts_unknown_post_returns_404(client, user_headers):
    """An unknown post: 404."""
    response = await client.get("/api/quizzes/5555/attempts", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 5555 not found"}
