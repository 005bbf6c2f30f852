"""Threats to quizzes and progress: reading or submitting another user's attempt, reading
another user's progress, reading the answers before submitting, and a group's progress read
by someone who is not staff.

Every refused write is checked by reading the state back through the API.
"""

from dataclasses import dataclass

import pytest
import pytest_asyncio

from progress_factories import Quiz, insert_module, insert_quiz
from tma.users.models import User

Headers = dict[str, str]


@dataclass
class World:
    """Two parents in one group whose course holds a quiz; a third parent in another group
    (with its own course); the first parent's attempt in progress."""

    group_id: int
    other_group_id: int
    course_id: int
    quiz: Quiz
    parent: User
    parent_headers: Headers
    peer: User
    peer_headers: Headers
    outsider: User
    outsider_headers: Headers
    attempt: dict


@pytest_asyncio.fixture
async def world(
    client,
    test_db,
    make_user,
    make_auth_headers,
    make_group,
    add_member,
    make_course,
    assign_course,
):
    parent, peer, outsider = [await make_user(username=n) for n in ("parent", "peer", "outsider")]
    group = await make_group(name="Oak class")
    other = await make_group(name="Elm class")
    await add_member(group, parent)
    await add_member(group, peer)
    await add_member(other, outsider)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    await assign_course(other, await make_course(title="Endgames"))
    quiz = await insert_quiz(test_db, await insert_module(test_db, course.id))
    headers = make_auth_headers(parent)
    attempt = (await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=headers)).json()
    return World(
        group.id,
        other.id,
        course.id,
        quiz,
        parent,
        headers,
        peer,
        make_auth_headers(peer),
        outsider,
        make_auth_headers(outsider),
        attempt,
    )


def right_answers(quiz: Quiz) -> dict:
    return {
        "answers": [
            {"question_id": q, "option_ids": c}
            for q, c in zip(quiz.questions, quiz.correct, strict=True)
        ]
    }


async def own_attempts(client, world) -> list:
    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=world.parent_headers
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.asyncio
async def test_submit_another_users_attempt_returns_403_and_leaves_it_open(client, world):
    """A peer in the same group submits the parent's attempt: 403, nothing graded, and the
    owner can still submit it."""
    url = f"/api/quiz-attempts/{world.attempt['id']}/submit"

    response = await client.post(url, json=right_answers(world.quiz), headers=world.peer_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only submit your own attempts"}
    assert await own_attempts(client, world) == [world.attempt]
    owner = await client.post(url, json={"answers": []}, headers=world.parent_headers)
    assert owner.status_code == 200


@pytest.mark.asyncio
async def test_submit_another_users_attempt_as_admin_returns_403(client, auth_headers, world):
    """Staff read attempts but never submit one for its owner: 403."""
    response = await client.post(
        f"/api/quiz-attempts/{world.attempt['id']}/submit",
        json=right_answers(world.quiz),
        headers=auth_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only submit your own attempts"}
    assert await own_attempts(client, world) == [world.attempt]


@pytest.mark.asyncio
async def test_submit_after_losing_access_returns_403(client, manager_headers, world):
    """The course is taken away from the group: the owner can no longer submit (and so never
    gets the correct answers of a quiz they cannot see)."""
    await client.delete(
        f"/api/groups/{world.group_id}/courses/{world.course_id}", headers=manager_headers
    )

    response = await client.post(
        f"/api/quiz-attempts/{world.attempt['id']}/submit",
        json=right_answers(world.quiz),
        headers=world.parent_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}


@pytest.mark.asyncio
async def test_submit_with_disabled_account_returns_403(client, test_db, make_auth_headers, world):
    """A disabled account cannot submit, even its own attempt."""
    async with test_db.session() as session:
        parent = await session.get(User, world.parent.id)
        parent.is_active = False
        await session.commit()

    response = await client.post(
        f"/api/quiz-attempts/{world.attempt['id']}/submit",
        json={"answers": []},
        headers=world.parent_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_read_another_users_attempts_returns_403(client, world):
    """A peer asks for the parent's attempts (with their results) by `user_id`: 403."""
    await client.post(
        f"/api/quiz-attempts/{world.attempt['id']}/submit",
        json=right_answers(world.quiz),
        headers=world.parent_headers,
    )

    response = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts?user_id={world.parent.id}",
        headers=world.peer_headers,
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only see your own progress"}


@pytest.mark.asyncio
async def test_read_another_users_progress_returns_403(client, world):
    """A peer in the same group reads the parent's progress: 403."""
    response = await client.get(
        f"/api/users/{world.parent.id}/progress", headers=world.peer_headers
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only see your own progress"}


@pytest.mark.asyncio
async def test_read_answers_before_submitting_finds_none(client, world):
    """Before submitting, nothing a `user` can read holds a correct answer or explanation:
    the quiz has no `is_correct`/`correct_option_ids` and null explanations; the attempt
    (started, re-started, listed) has null results."""
    quiz = await client.get(f"/api/quizzes/{world.quiz.post_id}", headers=world.parent_headers)
    again = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=world.parent_headers
    )

    assert quiz.status_code == 200
    for question in quiz.json()["questions"]:
        assert set(question) == {"id", "prompt", "kind", "explanation", "options"}
        assert question["explanation"] is None
        assert all(set(option) == {"id", "text"} for option in question["options"])
    assert again.status_code == 200
    assert again.json()["results"] is None
    assert [a["results"] for a in await own_attempts(client, world)] == [None]


@pytest.mark.asyncio
async def test_read_quiz_of_another_groups_course_returns_403(client, world):
    """A parent of another group reads the quiz or starts an attempt: 403 both, and no
    attempt is made."""
    read = await client.get(f"/api/quizzes/{world.quiz.post_id}", headers=world.outsider_headers)
    started = await client.post(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=world.outsider_headers
    )

    assert (read.status_code, started.status_code) == (403, 403)
    assert read.json() == {"detail": "You don't have access to this post"}
    listed = await client.get(
        f"/api/quizzes/{world.quiz.post_id}/attempts", headers=world.outsider_headers
    )
    assert listed.status_code == 403


@pytest.mark.asyncio
@pytest.mark.parametrize("who", ["outsider", "member"])
async def test_read_group_progress_as_user_returns_403(client, world, who):
    """A `user` reads a group's progress: 403 whether or not they belong to the group."""
    headers = world.outsider_headers if who == "outsider" else world.parent_headers

    response = await client.get(f"/api/groups/{world.group_id}/progress", headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_mark_quiz_completed_by_hand_returns_400(client, world):
    """Marking a quiz completed without passing it: 400, and the course still counts it
    as not done."""
    response = await client.put(
        f"/api/progress/{world.quiz.post_id}",
        json={"status": "completed"},
        headers=world.parent_headers,
    )

    assert response.status_code == 400
    progress = (await client.get("/api/progress", headers=world.parent_headers)).json()
    assert progress[0]["completed_posts"] == 0
