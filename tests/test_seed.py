"""The sample data `tma seed` loads (and `make run` shows): invented courses a parent can
really click through. Loaded into the test database, then read through the API as the
sample `admin` and the sample `user`, as a client would after `make run`."""

from collections import Counter

import pytest
import pytest_asyncio
from sqlalchemy import select

from tma.core.security import create_access_token
from tma.seed import loader
from tma.users.models import User


@pytest_asyncio.fixture
async def sample(test_db, test_settings):
    """The sample data loaded; bearer headers of the sample `admin` and `user` by name."""
    async with test_db.session() as session:
        result = await loader.load(session, hasher=test_db.hasher, settings=test_settings)
        ids = dict((await session.execute(select(User.username, User.id))).all())
    headers = {
        name: {"Authorization": f"Bearer {create_access_token(ids[name], test_settings)}"}
        for name in loader.SAMPLE_LOGINS
    }
    return result, headers


async def _course_content(client, headers, course_id):
    """(outline items, posts per module id) of one course, read as `headers`."""
    detail = await client.get(f"/api/courses/{course_id}", headers=headers)
    assert detail.status_code == 200
    posts = {}
    for item in detail.json()["modules"]:
        response = await client.get(f"/api/posts?module_id={item['module_id']}", headers=headers)
        assert response.status_code == 200
        posts[item["module_id"]] = response.json()
    return detail.json()["modules"], posts


@pytest.mark.asyncio
async def test_seed_courses_have_4_to_8_modules_one_shared_and_every_post_type(client, sample):
    """Every sample course has 4-8 modules in order 1..n, one module is in two courses, and
    each course has text, video, attachment (a generated PDF its signed URL opens) and quiz
    posts, its quiz 3-5 questions."""
    result, headers = sample
    admin = headers["admin"]
    courses = (await client.get("/api/courses", headers=admin)).json()
    assert len(courses) == result.courses == 3

    in_courses: Counter[int] = Counter()
    for course in courses:
        outline, posts = await _course_content(client, admin, course["id"])
        assert 4 <= len(outline) <= 8
        assert [item["ordering"] for item in outline] == list(range(1, len(outline) + 1))
        in_courses.update(item["module_id"] for item in outline)
        every_post = [post for module_posts in posts.values() for post in module_posts]
        assert {post["post_type"] for post in every_post} == {
            "default",
            "video",
            "attachment",
            "quiz",
        }
        for post in every_post:
            if post["post_type"] == "attachment":
                pdf = await client.get(post["file_url"])  # signed: opens without a token
                assert pdf.status_code == 200
                assert pdf.headers["content-type"] == "application/pdf"
        for post in every_post:
            if post["post_type"] == "quiz":
                quiz = (await client.get(f"/api/posts/{post['id']}", headers=admin)).json()
                assert 3 <= len(quiz["quiz"]["questions"]) <= 5
    assert sorted(in_courses.values()).count(2) == 1
    assert len(in_courses) == result.modules


@pytest.mark.asyncio
async def test_seed_user_sees_course_outlines_in_the_mobile_clients_shape(client, sample):
    """Signed in as the sample `user`: their courses' details list modules with the
    client's keys, and `GET /api/posts?module_id=` returns each module's posts in order."""
    _, headers = sample
    user = headers["user"]
    courses = (await client.get("/api/courses", headers=user)).json()
    assert [c["title"] for c in courses] == [
        "Thinking Three Moves Ahead",
        "Pieces and Their Powers",
    ]

    for course in courses:
        outline, posts = await _course_content(client, user, course["id"])
        assert {"module_id", "module_title", "module_description", "module_color"} <= set(
            outline[0]
        )
        for item in outline:
            assert [p["ordering"] for p in posts[item["module_id"]]] == list(
                range(1, item["post_count"] + 1)
            )


@pytest.mark.asyncio
async def test_seed_user_has_progress_in_two_courses_one_half_done_one_started(client, sample):
    """The sample `user` has progress to show: their first course half done (a passed quiz
    among the completed posts), their second just started."""
    _, headers = sample

    response = await client.get("/api/progress", headers=headers["user"])

    assert response.status_code == 200
    first, second = response.json()
    assert (first["title"], first["total_posts"], first["completed_posts"]) == (
        "Thinking Three Moves Ahead",
        11,
        5,
    )
    assert (second["title"], second["total_posts"], second["completed_posts"]) == (
        "Pieces and Their Powers",
        9,
        0,
    )
    assert second["last_activity_at"] is not None


@pytest.mark.asyncio
async def test_login_openapi_examples_log_in_as_the_seeded_sample_users(client, sample):
    """Every login example in /openapi.json (the body schema's and the operation's named
    ones, what Swagger UI pre-fills) logs in against the seeded data, as the account it
    names; together they are the sample logins `make run` prints."""
    document = await client.get("/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    body = spec["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    examples = spec["components"]["schemas"]["LoginRequest"]["examples"] + [
        named["value"] for named in body["examples"].values()
    ]

    logged_in = []
    for credentials in examples:
        response = await client.post("/api/auth/login", json=credentials)
        assert response.status_code == 200, credentials
        token = response.json()["access_token"]
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        logged_in.append(me.json()["username"])

    assert logged_in == ["admin", "admin", "manager", "user"]
    assert set(logged_in) == set(loader.SAMPLE_LOGINS)
    assert {c["password"] for c in examples} == {loader.SAMPLE_PASSWORD}


@pytest.mark.asyncio
async def test_seed_has_a_course_in_spanish(client, sample):
    """The sample `user` reading in Spanish: "Thinking Three Moves Ahead" and its modules
    have Spanish titles, its quiz Spanish prompts (answers still hidden); the course
    without a translation keeps its English title; Content-Language says es."""
    _, headers = sample
    es = {**headers["user"], "Accept-Language": "es"}

    courses = await client.get("/api/courses", headers=es)
    assert courses.status_code == 200
    assert [c["title"] for c in courses.json()] == [
        "Pensar tres jugadas por delante",
        "Pieces and Their Powers",
    ]
    outline, posts = await _course_content(client, es, courses.json()[0]["id"])
    assert outline[0]["module_title"] == "Primero, los jaques"
    quiz_post = next(p for p in posts[outline[0]["module_id"]] if p["post_type"] == "quiz")
    assert quiz_post["title"] == "Cuestionario de jaques"
    quiz = await client.get(f"/api/quizzes/{quiz_post['id']}", headers=es)
    assert quiz.status_code == 200
    assert quiz.headers["Content-Language"] == "es"
    first = quiz.json()["questions"][0]
    assert first["prompt"] == "¿Qué obliga a hacer un jaque al otro jugador?"
    assert first["explanation"] is None
    assert first["options"][0]["text"] == "Responder al jaque enseguida"
