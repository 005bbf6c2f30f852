"""GET /api/courses/{course_id}/bundle: a whole course for offline reading
(docs/contracts/courses.md; companion spec §1)."""

import pytest

from expected import UTC_TIMESTAMP

TOO_BIG_ID = 2**63


def outline_ids(body):
    return [m["module_id"] for m in body["course"]["modules"]]


@pytest.mark.asyncio
async def test_bundle_holds_the_course_modules_posts_progress_and_quizzes(
    client, user_headers, auth_headers, user_course, make_module, make_post, make_quiz_post
):
    """The course detail, its modules in course order, each with its posts as Post detail
    in order (the caller's progress, the quiz without answers, null `file_url` for a text
    post), `generated_at`; the same as the course detail, module detail and post detail
    read one by one."""
    second = await make_module(course=user_course, title="Second")
    first = await make_module(course=user_course, title="First", ordering=1)
    text = await make_post(first, title="Read me")
    quiz = await make_quiz_post(first, title="Try me")
    await make_post(second, title="Later")
    done = await client.put(
        f"/api/progress/{text.id}", json={"status": "completed"}, headers=user_headers
    )
    assert done.status_code == 200

    response = await client.get(f"/api/courses/{user_course.id}/bundle", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["course", "modules", "generated_at"]
    assert body["generated_at"] == UTC_TIMESTAMP
    course = await client.get(f"/api/courses/{user_course.id}", headers=user_headers)
    assert body["course"] == course.json()
    assert [m["module_id"] for m in body["modules"]] == [first.id, second.id] == outline_ids(body)
    for module in body["modules"]:
        detail = (await client.get(f"/api/modules/{module['id']}", headers=user_headers)).json()
        assert {k: v for k, v in module.items() if k != "posts"} == {
            k: v for k, v in detail.items() if k != "posts"
        }
        for post in module["posts"]:
            one = (await client.get(f"/api/posts/{post['id']}", headers=user_headers)).json()
            assert post == one
    quiz_post = body["modules"][0]["posts"][1]
    assert quiz_post["id"] == quiz.id
    assert [set(q) for q in quiz_post["quiz"]["questions"]] == [
        {"id", "prompt", "kind", "explanation", "options"}
    ] * 2
    assert body["modules"][0]["posts"][0]["progress"]["status"] == "completed"
    staff = await client.get(f"/api/courses/{user_course.id}/bundle", headers=auth_headers)
    assert staff.status_code == 200
    staff_quiz = staff.json()["modules"][0]["posts"][1]["quiz"]
    assert staff_quiz == quiz_post["quiz"]  # without answers for staff too


@pytest.mark.asyncio
async def test_bundle_of_a_course_without_modules_has_none(client, user_headers, user_course):
    """A course without modules: `modules: []`."""
    response = await client.get(f"/api/courses/{user_course.id}/bundle", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["modules"] == []


@pytest.mark.asyncio
async def test_bundle_of_a_course_not_assigned_to_the_caller_returns_403(
    client, user_headers, make_course
):
    """A `user` whose groups do not have the course: 403."""
    course = await make_course()

    response = await client.get(f"/api/courses/{course.id}/bundle", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this course"}


@pytest.mark.asyncio
async def test_bundle_of_unknown_course_returns_404(client, user_headers):
    """An unknown course: 404."""
    response = await client.get("/api/courses/999999/bundle", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 999999 not found"}


@pytest.mark.parametrize("bad", ["abc", "0", str(TOO_BIG_ID)])
@pytest.mark.asyncio
async def test_bundle_malformed_id_returns_422(client, user_headers, bad):
    """A course id that is not an integer in 1..2^63-1: 422."""
    response = await client.get(f"/api/courses/{bad}/bundle", headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "course_id"]


@pytest.mark.asyncio
async def test_bundle_without_token_returns_401(client, user_course):
    """No token: 401."""
    response = await client.get(f"/api/courses/{user_course.id}/bundle")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_bundle_of_a_large_course_is_gzipped(
    client, user_headers, user_course, make_module, make_post
):
    """A bundle over 1 KiB goes gzip-compressed to a client that accepts it."""
    module = await make_module(course=user_course)
    for _ in range(5):
        await make_post(module, content="x" * 400)

    response = await client.get(
        f"/api/courses/{user_course.id}/bundle", headers={**user_headers, "Accept-Encoding": "gzip"}
    )

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["modules"][0]["posts"]) == 5
