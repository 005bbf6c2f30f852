"""Contract tests of the quiz engine (issue 23, companion.md §2, and §1's saved answers):
quiz settings, attempts that own their questions (draw and shuffle at start, the same on
every read, graded against exactly those), attempt limits and cooldowns, deadlines with a
30 s grace and expiry (`timed_out`), saved answers, reading an attempt, and `reveal`.

Contract: docs/contracts/quizzes.md and docs/contracts/posts.md (the settings). Time is the
`clock` fixture (never a sleep); a draw or shuffle that is asserted uses `seeded_chance`.
"""

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete

from expected import UTC_TIMESTAMP
from tma.groups.models import GroupMember

TOO_BIG_ID = 2**63
# What `random.Random(7)` draws from a quiz of 5 questions with `questions_per_attempt` 3 and
# both shuffles on: the questions at these authored indexes, in this order, and the ones
# whose two options come wrong-first.
SEED_7_ORDER = [2, 1, 3]
SEED_7_FLIPPED = (2, 1)
SETTINGS_DEFAULTS = {
    "max_attempts": None,
    "cooldown_minutes": 0,
    "time_limit_minutes": None,
    "shuffle_questions": False,
    "shuffle_options": False,
    "questions_per_attempt": None,
    "reveal": "after_submit",
}


@dataclass
class QuizIds:
    """A quiz made through the API: `questions[i]` the i-th question's id (authored order),
    `right[i]` / `wrong[i]` its correct and its wrong option (every question `single`)."""

    post_id: int
    questions: list[int]
    right: list[int]
    wrong: list[int]

    def answers(self, right: bool = True, only: list[int] | None = None) -> list[dict[str, Any]]:
        return [
            {"question_id": q, "option_ids": [(self.right if right else self.wrong)[n]]}
            for n, q in enumerate(self.questions)
            if only is None or q in only
        ]


def quiz_body(questions: int = 3, **settings: Any) -> dict[str, Any]:
    """A quiz in the writing shape: `questions` single-choice questions "Q<n>" with options
    "Q<n> right" (correct) then "Q<n> wrong", explanation "Why <n>", pass mark 100."""
    return {
        "pass_mark": 100,
        "questions": [
            {
                "prompt": f"Q{n}",
                "kind": "single",
                "explanation": f"Why {n}",
                "options": [
                    {"text": f"Q{n} right", "is_correct": True},
                    {"text": f"Q{n} wrong", "is_correct": False},
                ],
            }
            for n in range(1, questions + 1)
        ],
        **settings,
    }


@pytest_asyncio.fixture
async def module_id(user_course, make_module) -> int:
    """A module of a course `test_user` sees."""
    return (await make_module(course=user_course)).id


@pytest_asyncio.fixture
async def make_quiz(client, auth_headers, module_id):
    """Quizzes created through POST /api/posts as the admin; their ids read back as staff."""

    async def make(questions: int = 3, **settings: Any) -> QuizIds:
        created = await client.post(
            "/api/posts",
            json={
                "module_id": module_id,
                "title": "Checks",
                "post_type": "quiz",
                "quiz": quiz_body(questions, **settings),
            },
            headers=auth_headers,
        )
        assert created.status_code == 201, created.text
        quiz = created.json()["quiz"]
        return QuizIds(
            post_id=created.json()["id"],
            questions=[q["id"] for q in quiz["questions"]],
            right=[q["options"][0]["id"] for q in quiz["questions"]],
            wrong=[q["options"][1]["id"] for q in quiz["questions"]],
        )

    return make


async def start(client, quiz: QuizIds, headers, status: int = 201) -> dict[str, Any]:
    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=headers)
    assert response.status_code == status, response.text
    return response.json()


async def submit(client, attempt: dict[str, Any], headers, answers=None) -> Any:
    body = {} if answers is None else {"answers": answers}
    return await client.post(
        f"/api/quiz-attempts/{attempt['id']}/submit", json=body, headers=headers
    )


def shown(quiz: QuizIds, order: list[int], flipped: tuple[int, ...] = ()) -> list[dict]:
    """The `questions` of an attempt holding the quiz's questions at indexes `order`, the
    options of those in `flipped` shown wrong first."""
    out = []
    for n in order:
        options = [
            {"id": quiz.right[n], "text": f"Q{n + 1} right"},
            {"id": quiz.wrong[n], "text": f"Q{n + 1} wrong"},
        ]
        if n in flipped:
            options.reverse()
        out.append(
            {
                "id": quiz.questions[n],
                "prompt": f"Q{n + 1}",
                "kind": "single",
                "explanation": None,
                "options": options,
            }
        )
    return out


# --- the settings (writing shape and staff view) -----------------------------------------


@pytest.mark.asyncio
async def test_create_quiz_with_settings_returns_them_to_staff_only(
    client, auth_headers, user_headers, module_id
):
    """The settings sent with a quiz are stored and shown in the staff view (post detail
    and GET /api/quizzes); a `user` reads the quiz without them."""
    settings = {
        "max_attempts": 3,
        "cooldown_minutes": 60,
        "time_limit_minutes": 15,
        "shuffle_questions": True,
        "shuffle_options": True,
        "questions_per_attempt": 2,
        "reveal": "after_pass",
    }
    response = await client.post(
        "/api/posts",
        json={
            "module_id": module_id,
            "title": "Checks",
            "post_type": "quiz",
            "quiz": quiz_body(3, **settings),
        },
        headers=auth_headers,
    )

    assert response.status_code == 201
    quiz = response.json()["quiz"]
    assert {k: quiz[k] for k in SETTINGS_DEFAULTS} == settings
    staff = await client.get(f"/api/quizzes/{response.json()['id']}", headers=auth_headers)
    assert {k: staff.json()[k] for k in SETTINGS_DEFAULTS} == settings
    user = await client.get(f"/api/quizzes/{response.json()['id']}", headers=user_headers)
    assert user.status_code == 200
    assert sorted(user.json()) == ["pass_mark", "questions"]


@pytest.mark.asyncio
async def test_create_quiz_without_settings_has_the_defaults(client, auth_headers, make_quiz):
    """A quiz written without settings: unlimited attempts, no cooldown, no time limit, no
    shuffle, every question, results revealed after submit."""
    quiz = await make_quiz()

    response = await client.get(f"/api/quizzes/{quiz.post_id}", headers=auth_headers)

    assert response.status_code == 200
    assert {k: response.json()[k] for k in SETTINGS_DEFAULTS} == SETTINGS_DEFAULTS


@pytest.mark.asyncio
async def test_update_quiz_replaces_its_settings_whole(client, auth_headers, make_quiz):
    """PATCH with `quiz` replaces the quiz whole, its settings too: those left out go back to
    their defaults."""
    quiz = await make_quiz(max_attempts=2, reveal="never")

    response = await client.patch(
        f"/api/posts/{quiz.post_id}",
        json={"quiz": quiz_body(2, time_limit_minutes=5)},
        headers=auth_headers,
    )

    assert response.status_code == 200
    expected = {**SETTINGS_DEFAULTS, "time_limit_minutes": 5}
    assert {k: response.json()["quiz"][k] for k in SETTINGS_DEFAULTS} == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("settings", "loc"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 101}, "max_attempts"),
        ({"max_attempts": "2"}, "max_attempts"),
        ({"cooldown_minutes": -1}, "cooldown_minutes"),
        ({"cooldown_minutes": 10081}, "cooldown_minutes"),
        ({"cooldown_minutes": None}, None),
        ({"time_limit_minutes": 0}, "time_limit_minutes"),
        ({"time_limit_minutes": 601}, "time_limit_minutes"),
        ({"shuffle_questions": "yes"}, "shuffle_questions"),
        ({"shuffle_options": 1}, "shuffle_options"),
        ({"questions_per_attempt": 0}, "questions_per_attempt"),
        ({"questions_per_attempt": 4}, None),
        ({"reveal": "sometimes"}, "reveal"),
        ({"reveal": None}, None),
    ],
    ids=[
        "attempts-0",
        "attempts-101",
        "attempts-text",
        "cooldown-negative",
        "cooldown-over-a-week",
        "cooldown-null",
        "time-limit-0",
        "time-limit-601",
        "shuffle-text",
        "shuffle-number",
        "draw-0",
        "draw-more-than-questions",
        "reveal-unknown",
        "reveal-null",
    ],
)
async def test_create_quiz_with_bad_settings_returns_422(
    client, auth_headers, module_id, settings, loc
):
    """A setting out of its range or of the wrong type: 422 naming it (a draw larger than
    the quiz, or a null where the setting has no null: the quiz as a whole); no post made."""
    response = await client.post(
        "/api/posts",
        json={
            "module_id": module_id,
            "title": "Checks",
            "post_type": "quiz",
            "quiz": quiz_body(3, **settings),
        },
        headers=auth_headers,
    )

    assert response.status_code == 422
    got = response.json()["detail"][0]["loc"]
    assert got == ["body", "quiz", loc] if loc else got[:2] == ["body", "quiz"]
    listed = await client.get(f"/api/posts?module_id={module_id}", headers=auth_headers)
    assert listed.json() == []


# --- an attempt owns its questions -------------------------------------------------------


@pytest.mark.asyncio
async def test_start_attempt_draws_and_shuffles_with_the_seeded_source(
    client, user_headers, make_quiz, seeded_chance
):
    """With a draw of 3 of 5 and both shuffles, the attempt holds the questions and option
    orders the seeded random source gives (seed 7), without answers."""
    quiz = await make_quiz(5, questions_per_attempt=3, shuffle_questions=True, shuffle_options=True)
    seeded_chance(7)

    attempt = await start(client, quiz, user_headers)

    assert attempt["questions"] == shown(quiz, SEED_7_ORDER, SEED_7_FLIPPED)
    assert attempt["deadline"] is None
    assert attempt["saved_answers"] == []


@pytest.mark.asyncio
async def test_attempt_questions_are_the_same_on_every_read(
    client, user_headers, make_quiz, seeded_chance
):
    """The questions an attempt was started with come back in the same order on every read:
    starting again (200), GET /api/quiz-attempts/{id}, the list, after saving answers."""
    quiz = await make_quiz(5, questions_per_attempt=3, shuffle_questions=True, shuffle_options=True)
    seeded_chance(7)
    attempt = await start(client, quiz, user_headers)

    again = await start(client, quiz, user_headers, status=200)
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert again == attempt
    assert read.status_code == 200
    assert read.json() == attempt
    assert listed.json() == [attempt]


@pytest.mark.asyncio
async def test_submit_counts_only_the_attempts_questions(
    client, user_headers, make_quiz, seeded_chance
):
    """A draw of 2 of 3, both answered right: score 100 and passed (the question left out
    of the draw does not count); results in the attempt's order."""
    quiz = await make_quiz(3, questions_per_attempt=2)
    seeded_chance(7)
    attempt = await start(client, quiz, user_headers)
    mine = [q["id"] for q in attempt["questions"]]

    response = await submit(client, attempt, user_headers, quiz.answers(only=mine))

    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["passed"], len(body["results"])) == (100, True, 2)
    assert [r["question_id"] for r in body["results"]] == mine


@pytest.mark.asyncio
async def test_submit_answer_to_a_question_not_drawn_returns_400(
    client, user_headers, make_quiz, seeded_chance
):
    """A question of the quiz that this attempt did not draw is not part of it: 400, the
    attempt stays in progress."""
    quiz = await make_quiz(3, questions_per_attempt=2)
    seeded_chance(7)
    attempt = await start(client, quiz, user_headers)
    (left_out,) = set(quiz.questions) - {q["id"] for q in attempt["questions"]}

    response = await submit(client, attempt, user_headers, quiz.answers(only=[left_out]))

    assert response.status_code == 400
    assert response.json() == {"detail": f"Question {left_out} is not part of this attempt"}
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert read.json()["status"] == "in_progress"


@pytest.mark.asyncio
async def test_quiz_edited_mid_attempt_does_not_change_the_attempt(
    client, auth_headers, user_headers, make_quiz
):
    """The quiz is replaced (new questions, new ids) while an attempt is in progress: the
    attempt still shows and grades its own questions, 100 for answers to them; the next
    attempt gets the new quiz."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    edited = await client.patch(
        f"/api/posts/{quiz.post_id}", json={"quiz": quiz_body(1)}, headers=auth_headers
    )
    assert edited.status_code == 200

    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    response = await submit(client, attempt, user_headers, quiz.answers())

    assert read.json()["questions"] == shown(quiz, [0, 1])
    assert response.status_code == 200
    assert (response.json()["score"], response.json()["passed"]) == (100, True)
    nxt = await start(client, quiz, user_headers)
    assert [q["id"] for q in nxt["questions"]] == [edited.json()["quiz"]["questions"][0]["id"]]


# --- start refusals -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_start_attempt_with_no_attempts_left_returns_400(client, user_headers, make_quiz):
    """`max_attempts` 2: after two submitted attempts, a third start is 400 "No attempts
    left", and nothing is started."""
    quiz = await make_quiz(max_attempts=2)
    for _ in range(2):
        attempt = await start(client, quiz, user_headers)
        assert (await submit(client, attempt, user_headers, quiz.answers())).status_code == 200

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "No attempts left"}
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert [a["status"] for a in listed.json()] == ["submitted", "submitted"]


@pytest.mark.asyncio
async def test_start_attempt_during_cooldown_returns_400_with_the_time(
    client, user_headers, make_quiz, clock
):
    """`cooldown_minutes` 60: 30 minutes after a failed attempt a start is 400 "Next attempt
    available at <time>" (the failed submit + 60 min, ISO 8601 UTC); at that time it is 201."""
    quiz = await make_quiz(cooldown_minutes=60)
    attempt = await start(client, quiz, user_headers)
    clock.advance(minutes=5, seconds=20)
    failed = await submit(client, attempt, user_headers, quiz.answers(right=False))
    assert failed.json()["passed"] is False
    clock.advance(minutes=30)

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "Next attempt available at 2026-09-01T10:05:20Z"}
    clock.advance(minutes=30)
    assert (await start(client, quiz, user_headers))["started_at"] == "2026-09-01T10:05:20Z"


@pytest.mark.asyncio
async def test_start_attempt_after_a_pass_has_no_cooldown(client, user_headers, make_quiz):
    """The cooldown follows a failed attempt only: right after a pass a retake starts (201)."""
    quiz = await make_quiz(cooldown_minutes=60)
    attempt = await start(client, quiz, user_headers)
    assert (await submit(client, attempt, user_headers, quiz.answers())).json()["passed"]

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 201


# --- time limit, grace, expiry -----------------------------------------------------------


@pytest.mark.asyncio
async def test_start_attempt_with_time_limit_sets_deadline(client, user_headers, make_quiz, clock):
    """`time_limit_minutes` 10: `deadline` = start + 10 minutes."""
    quiz = await make_quiz(time_limit_minutes=10)

    attempt = await start(client, quiz, user_headers)

    assert (attempt["started_at"], attempt["deadline"]) == (
        "2026-09-01T09:00:00Z",
        "2026-09-01T09:10:00Z",
    )


@pytest.mark.asyncio
async def test_submit_within_the_grace_is_graded_as_usual(client, user_headers, make_quiz, clock):
    """A submit 30 s after the deadline is on time: graded on the body's answers over the
    saved ones, `timed_out` false."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    clock.advance(minutes=10, seconds=30)

    response = await submit(client, attempt, user_headers, quiz.answers())

    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["timed_out"], body["submitted_at"]) == (
        100,
        False,
        "2026-09-01T09:10:30Z",
    )


@pytest.mark.asyncio
async def test_submit_after_the_grace_grades_saved_answers_timed_out(
    client, user_headers, test_user, make_quiz, clock
):
    """A submit 31 s after the deadline: 200 with the attempt graded on the answers saved
    before the deadline only (the body's ignored), `timed_out` true, `submitted_at` the
    deadline; a second submit answers the same."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    saved = await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers",
        json={"answers": quiz.answers(only=quiz.questions[:1])},
        headers=user_headers,
    )
    assert saved.status_code == 200
    clock.advance(minutes=10, seconds=31)

    response = await submit(client, attempt, user_headers, quiz.answers())

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["score"], body["passed"], body["timed_out"]) == (
        "submitted",
        50,
        False,
        True,
    )
    assert body["submitted_at"] == "2026-09-01T09:10:00Z"
    assert [r["correct"] for r in body["results"]] == [True, False]
    again = await submit(client, attempt, user_headers, quiz.answers())
    assert again.status_code == 200
    assert again.json() == body


@pytest.mark.asyncio
async def test_get_attempt_after_the_grace_grades_it_timed_out(
    client, user_headers, make_quiz, clock
):
    """An expired attempt is graded at its next read: GET answers it submitted, timed out,
    on its saved answers (all right here: passed, and the post is completed)."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers",
        json={"answers": quiz.answers()},
        headers=user_headers,
    )
    clock.advance(minutes=11)

    response = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["score"], body["passed"], body["timed_out"]) == (
        "submitted",
        100,
        True,
        True,
    )
    post = await client.get(f"/api/posts/{quiz.post_id}", headers=user_headers)
    assert post.json()["progress"]["status"] == "completed"


@pytest.mark.asyncio
async def test_list_and_start_grade_an_expired_attempt_first(
    client, user_headers, make_quiz, clock
):
    """The list shows an expired attempt graded (timed out, nothing saved: score 0); a start
    after it begins a new attempt (201) instead of returning the expired one."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    clock.advance(hours=1)

    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    fresh = await start(client, quiz, user_headers)

    assert listed.status_code == 200
    assert [(a["id"], a["timed_out"], a["score"]) for a in listed.json()] == [
        (attempt["id"], True, 0)
    ]
    assert fresh["id"] != attempt["id"]
    assert fresh["deadline"] == "2026-09-01T10:10:00Z"


@pytest.mark.asyncio
async def test_start_grades_an_expired_attempt_then_starts_a_new_one(
    client, user_headers, make_quiz, clock
):
    """With an expired attempt in progress, a start grades it (timed out) and starts a new
    one, 201; the list then holds both."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    clock.advance(minutes=20)

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 201
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert [(a["id"], a["status"], a["timed_out"]) for a in listed.json()] == [
        (response.json()["id"], "in_progress", False),
        (attempt["id"], "submitted", True),
    ]


@pytest.mark.asyncio
async def test_start_after_an_expired_last_attempt_returns_no_attempts_left(
    client, user_headers, make_quiz, clock
):
    """`max_attempts` 1: the one attempt expired; a start grades it and answers 400 "No
    attempts left"."""
    quiz = await make_quiz(2, time_limit_minutes=10, max_attempts=1)
    attempt = await start(client, quiz, user_headers)
    clock.advance(minutes=20)

    response = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "No attempts left"}
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert (read.json()["status"], read.json()["timed_out"]) == ("submitted", True)


# --- PUT /api/quiz-attempts/{attempt_id}/answers -----------------------------------------


@pytest.mark.asyncio
async def test_save_answers_replaces_each_named_question(client, user_headers, make_quiz, clock):
    """Saving answers replaces the saved choice of each named question and keeps the others;
    200 Attempt with `saved_answers` in the attempt's question order, never correctness."""
    quiz = await make_quiz(3)
    attempt = await start(client, quiz, user_headers)
    url = f"/api/quiz-attempts/{attempt['id']}/answers"
    await client.put(url, json={"answers": quiz.answers(right=False)}, headers=user_headers)

    response = await client.put(
        url, json={"answers": quiz.answers(only=[quiz.questions[1]])}, headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == {
        **attempt,
        "saved_answers": [
            {"question_id": quiz.questions[0], "option_ids": [quiz.wrong[0]]},
            {"question_id": quiz.questions[1], "option_ids": [quiz.right[1]]},
            {"question_id": quiz.questions[2], "option_ids": [quiz.wrong[2]]},
        ],
    }
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert read.json() == response.json()


@pytest.mark.asyncio
async def test_submit_takes_body_answers_over_saved_ones(client, user_headers, make_quiz):
    """Submit grades the saved answers with the body's taken over them question by question;
    `answers` left out: the saved ones alone."""
    quiz = await make_quiz(3)
    first = await start(client, quiz, user_headers)
    await client.put(
        f"/api/quiz-attempts/{first['id']}/answers",
        json={"answers": quiz.answers(right=False)},
        headers=user_headers,
    )

    mixed = await submit(client, first, user_headers, quiz.answers(only=quiz.questions[:2]))

    assert mixed.status_code == 200
    assert [r["correct"] for r in mixed.json()["results"]] == [True, True, False]
    assert mixed.json()["score"] == 67
    second = await start(client, quiz, user_headers)
    await client.put(
        f"/api/quiz-attempts/{second['id']}/answers",
        json={"answers": quiz.answers()},
        headers=user_headers,
    )
    saved_only = await submit(client, second, user_headers)
    assert (saved_only.status_code, saved_only.json()["score"]) == (200, 100)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["other-question", "other-option", "single-two"])
async def test_save_answers_invalid_choice_returns_400(client, user_headers, make_quiz, case):
    """Saved answers are checked as a submit checks them: a question of another quiz, an
    option of another question, a `single` question with two options: 400, nothing saved."""
    quiz = await make_quiz(2)
    other = await make_quiz(1)
    attempt = await start(client, quiz, user_headers)
    q0 = quiz.questions[0]
    answer, detail = {
        "other-question": (
            {"question_id": other.questions[0], "option_ids": [other.right[0]]},
            f"Question {other.questions[0]} is not part of this attempt",
        ),
        "other-option": (
            {"question_id": q0, "option_ids": [quiz.right[1]]},
            f"Option {quiz.right[1]} is not an option of question {q0}",
        ),
        "single-two": (
            {"question_id": q0, "option_ids": [quiz.right[0], quiz.wrong[0]]},
            f"Question {q0} takes exactly one option",
        ),
    }[case]

    response = await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers",
        json={"answers": [answer]},
        headers=user_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert read.json()["saved_answers"] == []


@pytest.mark.asyncio
async def test_save_answers_after_submit_returns_400(client, user_headers, make_quiz):
    """An attempt no longer in progress takes no answers: 400 "Attempt already submitted"."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    await submit(client, attempt, user_headers, quiz.answers())

    response = await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers",
        json={"answers": quiz.answers(right=False)},
        headers=user_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Attempt already submitted"}


@pytest.mark.asyncio
async def test_save_answers_after_the_deadline_returns_400(client, user_headers, make_quiz, clock):
    """Answers saved after the deadline (even within the submit's grace): 400, not saved;
    saved at the deadline itself: 200."""
    quiz = await make_quiz(2, time_limit_minutes=10)
    attempt = await start(client, quiz, user_headers)
    url = f"/api/quiz-attempts/{attempt['id']}/answers"
    clock.advance(minutes=10)
    on_time = await client.put(
        url, json={"answers": quiz.answers(only=quiz.questions[:1])}, headers=user_headers
    )
    clock.advance(seconds=1)

    response = await client.put(url, json={"answers": quiz.answers()}, headers=user_headers)

    assert on_time.status_code == 200
    assert response.status_code == 400
    assert response.json() == {"detail": "The attempt's time is up: answers can no longer be saved"}
    read = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)
    assert read.json()["saved_answers"] == on_time.json()["saved_answers"]


@pytest.mark.asyncio
async def test_save_answers_to_another_users_attempt_returns_403(
    client, user_headers, make_user, make_auth_headers, add_member, make_quiz, test_user
):
    """Only the owner saves answers: another user (even staff) gets 403."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    admin = await make_user(role="admin")

    response = await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers",
        json={"answers": quiz.answers()},
        headers=make_auth_headers(admin),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only answer your own attempts"}


@pytest.mark.asyncio
async def test_save_answers_unknown_attempt_returns_404(client, user_headers):
    """An attempt id that names nothing: 404."""
    response = await client.put(
        "/api/quiz-attempts/987654/answers", json={"answers": []}, headers=user_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Attempt 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "answers"]),
        ({"answers": [{"question_id": 1, "option_ids": [1]}] * 2}, ["body", "answers"]),
        (
            {"answers": [{"question_id": 1, "option_ids": [2, 2]}]},
            ["body", "answers", 0, "option_ids"],
        ),
        ({"answers": [], "score": 1}, ["body", "score"]),
    ],
    ids=["missing", "repeated-question", "repeated-option", "extra-field"],
)
async def test_save_answers_malformed_body_returns_422(client, user_headers, make_quiz, body, loc):
    """A body breaking its shape: 422."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)

    response = await client.put(
        f"/api/quiz-attempts/{attempt['id']}/answers", json=body, headers=user_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.asyncio
async def test_save_answers_without_token_returns_401(client):
    """No token: 401."""
    response = await client.put("/api/quiz-attempts/1/answers", json={"answers": []})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_save_answers_body_over_1_mib_returns_413(client, user_headers):
    """A body over the size limit: 413 from the middleware."""
    response = await client.put(
        "/api/quiz-attempts/1/answers",
        content=b'{"answers": []' + b" " * (1024 * 1024) + b"}",
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


# --- GET /api/quiz-attempts/{attempt_id} -------------------------------------------------


@pytest.mark.asyncio
async def test_get_attempt_by_owner_admin_and_managing_manager_returns_200(
    client, user_headers, auth_headers, manager_headers, make_quiz
):
    """The owner, an admin and a manager owning a group of the owner read the attempt."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    url = f"/api/quiz-attempts/{attempt['id']}"

    responses = [
        await client.get(url, headers=h) for h in (user_headers, auth_headers, manager_headers)
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all(r.json() == attempt for r in responses)


@pytest.mark.asyncio
async def test_get_attempt_of_someone_else_returns_403(
    client, user_headers, make_user, make_auth_headers, make_quiz
):
    """Another `user` reading it: 403; a manager who owns no group of the owner: 403."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    url = f"/api/quiz-attempts/{attempt['id']}"
    other = await make_user()
    outsider = await make_user(role="manager")

    by_user = await client.get(url, headers=make_auth_headers(other))
    by_manager = await client.get(url, headers=make_auth_headers(outsider))

    assert by_user.status_code == 403
    assert by_user.json() == {"detail": "You may only see your own attempts"}
    assert by_manager.status_code == 403
    assert by_manager.json() == {
        "detail": "You may only see the data of members of groups you own or moderate"
    }


@pytest.mark.asyncio
async def test_get_attempt_of_a_quiz_no_longer_seen_returns_403(
    client, test_db, user_headers, test_user, make_quiz
):
    """The owner (a `user`) whose course was unassigned from their group no longer sees
    the quiz: reading their attempt is 403, as the quiz itself is."""
    quiz = await make_quiz(2)
    attempt = await start(client, quiz, user_headers)
    async with test_db.session() as session:
        await session.execute(delete(GroupMember).where(GroupMember.user_id == test_user.id))
        await session.commit()

    response = await client.get(f"/api/quiz-attempts/{attempt['id']}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}


@pytest.mark.asyncio
async def test_get_attempt_unknown_returns_404(client, user_headers):
    """An unknown attempt: 404."""
    response = await client.get("/api/quiz-attempts/424242", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Attempt 424242 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["abc", "0", str(TOO_BIG_ID)])
async def test_get_attempt_malformed_id_returns_422(client, user_headers, bad):
    """An id that is not an integer in 1..2^63-1: 422."""
    response = await client.get(f"/api/quiz-attempts/{bad}", headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "attempt_id"]


@pytest.mark.asyncio
async def test_get_attempt_without_token_returns_401(client):
    """No token: 401."""
    response = await client.get("/api/quiz-attempts/1")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# --- reveal -------------------------------------------------------------------------------


def answers_shown(attempt: dict[str, Any]) -> list[bool]:
    return [
        r["correct_option_ids"] is not None and r["explanation"] is not None
        for r in attempt["results"]
    ]


@pytest.mark.asyncio
async def test_reveal_after_pass_hides_answers_until_a_pass_then_shows_past_ones(
    client, user_headers, make_quiz
):
    """`after_pass`: a failed attempt's results show `correct` but null
    `correct_option_ids` and `explanation`; once the user passes, every attempt shows them
    (the failed one too)."""
    quiz = await make_quiz(2, reveal="after_pass")
    failed = await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers(right=False)
    )
    assert failed.json()["results"] == [
        {
            "question_id": q,
            "correct": False,
            "chosen_option_ids": [quiz.wrong[n]],
            "correct_option_ids": None,
            "explanation": None,
        }
        for n, q in enumerate(quiz.questions)
    ]

    passed = await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers()
    )

    assert passed.status_code == 200
    assert answers_shown(passed.json()) == [True, True]
    listed = (
        await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    ).json()
    assert [answers_shown(a) for a in listed] == [[True, True], [True, True]]
    assert listed[1]["results"][0]["correct_option_ids"] == [quiz.right[0]]
    assert listed[1]["results"][0]["explanation"] == "Why 1"


@pytest.mark.asyncio
async def test_reveal_after_last_attempt_shows_answers_once_none_is_left(
    client, user_headers, make_quiz
):
    """`after_last_attempt` with 2 attempts: hidden after the first failed attempt, shown
    after the second (none left), on both."""
    quiz = await make_quiz(2, reveal="after_last_attempt", max_attempts=2)
    first = await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers(right=False)
    )
    assert answers_shown(first.json()) == [False, False]

    second = await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers(right=False)
    )

    assert answers_shown(second.json()) == [True, True]
    read = await client.get(f"/api/quiz-attempts/{first.json()['id']}", headers=user_headers)
    assert answers_shown(read.json()) == [True, True]


@pytest.mark.asyncio
async def test_reveal_never_hides_answers_from_the_user_not_from_staff(
    client, user_headers, manager_headers, make_quiz
):
    """`never`: the owner never sees the answers, even after a pass; staff reading the same
    attempt do."""
    quiz = await make_quiz(2, reveal="never")
    passed = await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers()
    )

    staff = await client.get(f"/api/quiz-attempts/{passed.json()['id']}", headers=manager_headers)

    assert (passed.json()["passed"], answers_shown(passed.json())) == (True, [False, False])
    assert [r["correct"] for r in passed.json()["results"]] == [True, True]
    assert answers_shown(staff.json()) == [True, True]


@pytest.mark.asyncio
async def test_later_failed_attempt_keeps_the_post_completed(client, user_headers, make_quiz):
    """Progress stays forward-only: a failed attempt after the pass leaves it completed."""
    quiz = await make_quiz(2)
    await submit(client, await start(client, quiz, user_headers), user_headers, quiz.answers())
    await submit(
        client, await start(client, quiz, user_headers), user_headers, quiz.answers(right=False)
    )

    post = await client.get(f"/api/posts/{quiz.post_id}", headers=user_headers)

    assert post.status_code == 200
    assert post.json()["progress"]["status"] == "completed"
    assert post.json()["progress"]["completed_at"] == UTC_TIMESTAMP
