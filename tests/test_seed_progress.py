"""The sample progress of the seeded `user` (`tma.seed.progress.seed_progress`): read back
through the API as the clients would after `make run`."""

import pytest
from sqlalchemy import select

from progress_factories import insert_module, insert_posts, insert_quiz
from tma.core.security import create_access_token
from tma.courses.models import Course
from tma.seed import loader
from tma.seed.progress import seed_progress
from tma.users.models import User


@pytest.mark.asyncio
async def test_seed_progress_half_done_with_passed_quiz_and_one_just_started(
    client, test_db, test_user, user_headers, make_group, add_member, make_course, assign_course
):
    """First course: half its posts completed, its quiz among them passed by the later of two
    attempts (a fail, then a pass); second course: its first post in progress."""
    group = await make_group()
    await add_member(group, test_user)
    first, second = await make_course(title="First"), await make_course(title="Second")
    await assign_course(group, first)
    await assign_course(group, second)
    module = await insert_module(test_db, first.id)
    await insert_posts(test_db, module, 3)
    quiz = await insert_quiz(test_db, module)
    await insert_posts(test_db, await insert_module(test_db, first.id), 2)
    later = await insert_posts(test_db, await insert_module(test_db, second.id), 4)

    async with test_db.session() as session:
        await seed_progress(session, user=test_user, courses=[first, second])
        await session.commit()

    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert [
        (c["title"], c["completed_posts"], c["total_posts"], c["percent"]) for c in progress
    ] == [
        ("First", 3, 6, 50),
        ("Second", 0, 4, 0),
    ]
    assert progress[1]["last_activity_at"] is not None
    attempts = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert [(a["status"], a["score"], a["passed"]) for a in attempts.json()] == [
        ("submitted", 100, True),
        ("submitted", 0, False),
    ]
    started = await client.put(
        f"/api/progress/{later[0]}", json={"status": "in_progress"}, headers=user_headers
    )
    assert started.json()["status"] == "in_progress"
    assert started.json()["updated_at"] == progress[1]["last_activity_at"]


@pytest.mark.asyncio
async def test_seed_progress_courses_without_posts_records_nothing(
    client, test_db, test_user, user_headers, make_group, add_member, make_course, assign_course
):
    """Courses without posts (or no courses at all): no progress, no error."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course(title="Empty")
    await assign_course(group, course)

    async with test_db.session() as session:
        await seed_progress(session, user=test_user, courses=[course, course])
        await seed_progress(session, user=test_user, courses=[])
        await session.commit()

    progress = (await client.get("/api/progress", headers=user_headers)).json()
    assert progress == [
        {
            "course_id": course.id,
            "title": "Empty",
            "total_posts": 0,
            "completed_posts": 0,
            "percent": 0,
            "last_activity_at": None,
            "modules": [],
        }
    ]


@pytest.mark.asyncio
async def test_seed_progress_on_the_sample_data_shows_in_user_and_group_views(
    client, test_db, test_settings
):
    """On the real sample data (`tma seed`): the sample `user`'s first two courses get half
    done (a quiz passed among the done posts) and just started; the sample `manager` sees
    the same counts in the group view."""
    async with test_db.session() as session:
        await loader.load(session, hasher=test_db.hasher, settings=test_settings, progress=False)
        ids = dict((await session.execute(select(User.username, User.id))).all())
    headers = {
        name: {"Authorization": f"Bearer {create_access_token(ids[name], test_settings)}"}
        for name in ("user", "manager")
    }
    before = (await client.get("/api/progress", headers=headers["user"])).json()
    async with test_db.session() as session:
        courses = [await session.get(Course, c["course_id"]) for c in before[:2]]
        user = await session.get(User, ids["user"])
        await seed_progress(session, user=user, courses=courses)
        await session.commit()

    after = (await client.get("/api/progress", headers=headers["user"])).json()

    first, second = after[0], after[1]
    assert first["total_posts"] >= 2
    assert first["completed_posts"] == first["total_posts"] // 2
    assert second["completed_posts"] == 0
    assert second["last_activity_at"] is not None
    assert [c["completed_posts"] for c in before] == [0] * len(before)
    quizzes = [
        post["id"]
        for module in first["modules"]
        for post in (
            await client.get(f"/api/posts?module_id={module['module_id']}", headers=headers["user"])
        ).json()
        if post["post_type"] == "quiz"
    ]
    passed = [
        a
        for quiz_id in quizzes
        for a in (
            await client.get(f"/api/quizzes/{quiz_id}/attempts", headers=headers["user"])
        ).json()
        if a["passed"]
    ]
    assert len(passed) == 1
    groups = (await client.get("/api/groups", headers=headers["user"])).json()
    seen = []
    for group in groups:
        view = (
            await client.get(f"/api/groups/{group['id']}/progress", headers=headers["manager"])
        ).json()
        for member in view["members"]:
            if member["user_id"] == ids["user"]:
                seen += [c for c in member["courses"] if c["course_id"] == first["course_id"]]
    assert seen
    assert {c["completed_posts"] for c in seen} == {first["completed_posts"]}


@pytest.mark.asyncio
async def test_sample_user_takes_a_quiz_marks_posts_and_manager_sees_it(
    client, test_db, test_settings
):
    """The walk of issue 11 on the sample data, as the clients do it: the sample `user`
    fails a sample quiz, then passes it, marks a post done and sees the course percentage
    move; the sample `manager` sees the same numbers in the group's progress."""
    async with test_db.session() as session:
        await loader.load(session, hasher=test_db.hasher, settings=test_settings, progress=False)
        ids = dict((await session.execute(select(User.username, User.id))).all())
    user, manager = (
        {"Authorization": f"Bearer {create_access_token(ids[name], test_settings)}"}
        for name in ("user", "manager")
    )
    course = (await client.get("/api/progress", headers=user)).json()[0]
    posts = [
        post
        for module in course["modules"]
        for post in (
            await client.get(f"/api/posts?module_id={module['module_id']}", headers=user)
        ).json()
    ]
    quiz_post = next(p for p in posts if p["post_type"] == "quiz")
    text_post = next(p for p in posts if p["post_type"] != "quiz")
    quiz = (await client.get(f"/api/quizzes/{quiz_post['id']}", headers=user)).json()

    first = (await client.post(f"/api/quizzes/{quiz_post['id']}/attempts", headers=user)).json()
    failed = await client.post(
        f"/api/quiz-attempts/{first['id']}/submit", json={"answers": []}, headers=user
    )
    second = (await client.post(f"/api/quizzes/{quiz_post['id']}/attempts", headers=user)).json()
    answers = [
        {"question_id": q["question_id"], "option_ids": q["correct_option_ids"]}
        for q in failed.json()["results"]
    ]
    passed = await client.post(
        f"/api/quiz-attempts/{second['id']}/submit", json={"answers": answers}, headers=user
    )
    marked = await client.put(
        f"/api/progress/{text_post['id']}", json={"status": "completed"}, headers=user
    )
    after = (await client.get("/api/progress", headers=user)).json()[0]

    assert len(quiz["questions"]) == len(failed.json()["results"])
    assert (failed.json()["score"], failed.json()["passed"]) == (0, False)
    assert (passed.json()["score"], passed.json()["passed"]) == (100, True)
    assert marked.json()["status"] == "completed"
    assert (course["completed_posts"], after["completed_posts"]) == (0, 2)
    assert after["percent"] == 200 // after["total_posts"]
    assert after["percent"] > course["percent"]
    views = []
    for group in (await client.get("/api/groups", headers=user)).json():
        body = (await client.get(f"/api/groups/{group['id']}/progress", headers=manager)).json()
        views += [
            c
            for m in body["members"]
            if m["user_id"] == ids["user"]
            for c in m["courses"]
            if c["course_id"] == course["course_id"]
        ]
    assert views
    assert {(c["completed_posts"], c["percent"]) for c in views} == {(2, after["percent"])}
