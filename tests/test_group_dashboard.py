"""Contract tests for a group's dashboard and its CSV export (issue 26, companion spec §5).

Contract: docs/contracts/dashboard.md. The dashboard follows the group's parents (members
whose system role is `user`) in one course: completion, last activity, failed attempts and
status per member, starts and completions per post, answers per question counted from the
submitted attempts' own copies. The export is every parent times every course as CSV,
streamed, each cell safe against formula injection. Both are for admins and the managers
who own or moderate the group (the privacy rule: tests/security/test_privacy_matrix.py).
"""

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import TypeAdapter
from sqlalchemy import delete

from progress_factories import Quiz, insert_module, insert_posts, insert_quiz
from tma.courses.models import Course
from tma.groups.models import Group
from tma.progress import export
from tma.progress.models import PostProgress
from tma.progress.schemas import GroupDashboard
from tma.quizzes.models import QuizQuestion
from tma.users.models import User

TOO_BIG_ID = 2**63


@dataclass
class World:
    """Group "Oak class" (owned by `manager`), its members in joining order: `una`,
    `testuser`, `mod` (a manager, moderator), `idle`, `done`. Course "Openings" assigned:
    module A (posts p1, p2, then quiz q: a `single` question of 3 options, the second
    right, and a `multiple` one of 3, the first two right), module B (post p3).

    - una: p1 completed a day ago; two attempts at q, the first all wrong (failed) at the
      clock's start + 1 h, the second all right (passed: q completed) at + 2 h;
    - testuser: p1 in progress 10 days ago;
    - idle: nothing;
    - done: every post completed 30 days ago;
    - mod: p2 completed and a submitted attempt (one wrong answer each), not counted:
      staff are not followed by the dashboard.
    The clock is at the start + 3 h when the test runs."""

    group: Group
    course: Course
    una: User
    idle: User
    done: User
    mod: User
    module_a: int
    module_b: int
    p1: int
    p2: int
    p3: int
    quiz: Quiz
    una_last: str


async def _progress(test_db, user_id, post_id, status, at):
    async with test_db.session() as session:
        session.add(
            PostProgress(
                user_id=user_id,
                post_id=post_id,
                status=status,
                updated_at=at,
                started_at=at,
                completed_at=at if status == "completed" else None,
            )
        )
        await session.commit()


async def _attempt(client, quiz, headers, choices):
    started = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=headers)
    assert started.status_code == 201
    answers = [
        {"question_id": q, "option_ids": picked}
        for q, picked in zip(quiz.questions, choices, strict=True)
    ]
    submitted = await client.post(
        f"/api/quiz-attempts/{started.json()['id']}/submit",
        json={"answers": answers},
        headers=headers,
    )
    assert submitted.status_code == 200
    return submitted.json()


@pytest_asyncio.fixture
async def world(
    client,
    test_db,
    clock,
    test_user,
    user_headers,
    make_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_auth_headers,
):
    group = await make_group(name="Oak class")
    una = await make_user(username="una")
    mod = await make_user(username="mod", role="manager")
    idle = await make_user(username="idle")
    done = await make_user(username="done")
    await add_member(group, una)
    await add_member(group, test_user)
    await add_member(group, mod, role="moderator")
    await add_member(group, idle)
    await add_member(group, done)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    module_a = await insert_module(test_db, course.id, title="A")
    module_b = await insert_module(test_db, course.id, title="B")
    p1, p2 = await insert_posts(test_db, module_a, 2)
    quiz = await insert_quiz(test_db, module_a)
    (p3,) = await insert_posts(test_db, module_b, 1)
    start = clock.now
    await _progress(test_db, una.id, p1, "completed", start - timedelta(days=1))
    await _progress(test_db, test_user.id, p1, "in_progress", start - timedelta(days=10))
    for post_id in (p1, p2, quiz.post_id, p3):
        await _progress(test_db, done.id, post_id, "completed", start - timedelta(days=30))
    await _progress(test_db, mod.id, p2, "completed", start)
    o = quiz.options
    una_headers = make_auth_headers(una)
    clock.advance(minutes=60)
    await _attempt(client, quiz, una_headers, [[o[0][0]], [o[1][0]]])
    clock.advance(minutes=60)
    passed = await _attempt(client, quiz, una_headers, [[o[0][1]], [o[1][0], o[1][1]]])
    await _attempt(client, quiz, make_auth_headers(mod), [[o[0][2]], [o[1][2]]])
    clock.advance(minutes=60)
    return World(
        group,
        course,
        una,
        idle,
        done,
        mod,
        module_a,
        module_b,
        p1,
        p2,
        p3,
        quiz,
        passed["submitted_at"],
    )


def dashboard_url(world, course_id=None):
    course_id = world.course.id if course_id is None else course_id
    return f"/api/groups/{world.group.id}/dashboard?course_id={course_id}"


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# --- GET /api/groups/{group_id}/dashboard -------------------------------------------------


@pytest.mark.asyncio
async def test_dashboard_returns_members_posts_and_questions(
    client, clock, manager_headers, test_user, world
):
    """The owner's dashboard: the parents in joining order (not the staff moderator) with
    completion, last activity (progress or attempts), failed attempts and status; the posts
    in course order with the parents who started and completed each; the quiz's questions
    in authored order with answers, right answers and each option's choices, counted from
    the parents' submitted attempts only."""
    start = clock.now - timedelta(hours=3)
    posts = (world.p1, world.p2, world.quiz.post_id, world.p3)
    title = {
        p: (await client.get(f"/api/posts/{p}", headers=manager_headers)).json()["title"]
        for p in posts
    }

    response = await client.get(dashboard_url(world), headers=manager_headers)

    assert response.status_code == 200
    q, o = world.quiz.questions, world.quiz.options
    assert response.json() == {
        "group_id": world.group.id,
        "course_id": world.course.id,
        "members": [
            {
                "user_id": world.una.id,
                "username": "una",
                "completed_posts": 2,
                "total_posts": 4,
                "percent": 50,
                "last_activity_at": world.una_last,
                "failed_attempts": 1,
                "status": "active",
            },
            {
                "user_id": test_user.id,
                "username": "testuser",
                "completed_posts": 0,
                "total_posts": 4,
                "percent": 0,
                "last_activity_at": _iso(start - timedelta(days=10)),
                "failed_attempts": 0,
                "status": "inactive",
            },
            {
                "user_id": world.idle.id,
                "username": "idle",
                "completed_posts": 0,
                "total_posts": 4,
                "percent": 0,
                "last_activity_at": None,
                "failed_attempts": 0,
                "status": "inactive",
            },
            {
                "user_id": world.done.id,
                "username": "done",
                "completed_posts": 4,
                "total_posts": 4,
                "percent": 100,
                "last_activity_at": _iso(start - timedelta(days=30)),
                "failed_attempts": 0,
                "status": "completed",
            },
        ],
        "posts": [
            {
                "post_id": world.p1,
                "title": title[world.p1],
                "module_id": world.module_a,
                "started": 3,
                "completed": 2,
            },
            {
                "post_id": world.p2,
                "title": title[world.p2],
                "module_id": world.module_a,
                "started": 1,
                "completed": 1,
            },
            {
                "post_id": world.quiz.post_id,
                "title": title[world.quiz.post_id],
                "module_id": world.module_a,
                "started": 2,
                "completed": 2,
            },
            {
                "post_id": world.p3,
                "title": title[world.p3],
                "module_id": world.module_b,
                "started": 1,
                "completed": 1,
            },
        ],
        "questions": [
            {
                "post_id": world.quiz.post_id,
                "question_id": q[0],
                "prompt": "Question 1",
                "answered": 2,
                "correct": 1,
                "options": [
                    {"option_id": o[0][0], "text": "Option 1.1", "chosen": 1},
                    {"option_id": o[0][1], "text": "Option 1.2", "chosen": 1},
                    {"option_id": o[0][2], "text": "Option 1.3", "chosen": 0},
                ],
            },
            {
                "post_id": world.quiz.post_id,
                "question_id": q[1],
                "prompt": "Question 2",
                "answered": 2,
                "correct": 1,
                "options": [
                    {"option_id": o[1][0], "text": "Option 2.1", "chosen": 2},
                    {"option_id": o[1][1], "text": "Option 2.2", "chosen": 1},
                    {"option_id": o[1][2], "text": "Option 2.3", "chosen": 0},
                ],
            },
        ],
    }


@pytest.mark.asyncio
async def test_dashboard_dumps_the_same_json_as_its_read_model(client, auth_headers, world):
    """The admin reads it too; the body is what `GroupDashboard` makes of the same values."""
    response = await client.get(dashboard_url(world), headers=auth_headers)

    assert response.status_code == 200
    model = TypeAdapter(GroupDashboard).validate_json(response.content)
    assert response.content == TypeAdapter(GroupDashboard).dump_json(model)


@pytest.mark.asyncio
async def test_dashboard_status_follows_inactivity_days_from_the_last_activity(
    client, clock, manager_headers, world
):
    """una's last activity was 1 h ago: active until 7 days have passed since, then
    inactive; `done` stays completed."""
    clock.advance(days=7, minutes=-61)
    before = await client.get(dashboard_url(world), headers=manager_headers)
    clock.advance(minutes=1)

    after = await client.get(dashboard_url(world), headers=manager_headers)

    assert (before.status_code, after.status_code) == (200, 200)
    status = {m["username"]: m["status"] for m in before.json()["members"]}
    assert (status["una"], status["done"]) == ("active", "completed")
    status = {m["username"]: m["status"] for m in after.json()["members"]}
    assert (status["una"], status["done"]) == ("inactive", "completed")


@pytest.mark.asyncio
async def test_dashboard_keeps_answers_to_questions_no_longer_in_the_quiz(
    client, test_db, manager_headers, world
):
    """The quiz replaced by one new question after the attempts: the new question first
    (nothing answered yet), then the two answered ones as the attempts copied them, with
    their counts."""
    async with test_db.session() as session:
        await session.execute(
            delete(QuizQuestion).where(QuizQuestion.post_id == world.quiz.post_id)
        )
        await session.commit()
    async with test_db.session() as session:
        new = QuizQuestion(post_id=world.quiz.post_id, position=1, prompt="New one", kind="single")
        session.add(new)
        await session.commit()
        new_id = new.id

    response = await client.get(dashboard_url(world), headers=manager_headers)

    assert response.status_code == 200
    questions = response.json()["questions"]
    assert [(q["question_id"], q["prompt"], q["answered"], q["correct"]) for q in questions] == [
        (new_id, "New one", 0, 0),
        (world.quiz.questions[0], "Question 1", 2, 1),
        (world.quiz.questions[1], "Question 2", 2, 1),
    ]
    assert questions[0]["options"] == []
    assert questions[2]["options"] == [
        {"option_id": world.quiz.options[1][0], "text": "Option 2.1", "chosen": 2},
        {"option_id": world.quiz.options[1][1], "text": "Option 2.2", "chosen": 1},
        {"option_id": world.quiz.options[1][2], "text": "Option 2.3", "chosen": 0},
    ]


@pytest.mark.asyncio
async def test_dashboard_of_a_course_without_posts_lists_members_only(
    client, make_course, assign_course, manager_headers, world
):
    """A course of the group with no posts yet: every parent at 0 of 0 (inactive: no
    activity in it), no posts, no questions."""
    empty = await make_course(title="Empty")
    await assign_course(world.group, empty)

    response = await client.get(dashboard_url(world, empty.id), headers=manager_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["posts"], body["questions"]) == ([], [])
    assert [
        (m["username"], m["completed_posts"], m["total_posts"], m["percent"], m["status"])
        for m in body["members"]
    ] == [(name, 0, 0, 0, "inactive") for name in ("una", "testuser", "idle", "done")]


@pytest.mark.asyncio
async def test_dashboard_as_moderator_manager_returns_200(client, make_auth_headers, world):
    """The manager who moderates the group reads it."""
    response = await client.get(dashboard_url(world), headers=make_auth_headers(world.mod))

    assert response.status_code == 200
    assert len(response.json()["members"]) == 4


@pytest.mark.asyncio
async def test_dashboard_as_manager_of_another_group_returns_403(
    client, make_user, make_group, make_auth_headers, world
):
    """A manager who owns another group but not this one: 403, before the course is
    looked at."""
    other = await make_user(role="manager")
    await make_group(creator=other)

    response = await client.get(
        dashboard_url(world, course_id=TOO_BIG_ID - 1), headers=make_auth_headers(other)
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the progress of groups you own or moderate"
    }


@pytest.mark.asyncio
async def test_dashboard_as_user_member_returns_403(client, user_headers, world):
    """A parent, even a member of the group: 403."""
    response = await client.get(dashboard_url(world), headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_dashboard_disabled_account_returns_403(client, make_user, make_auth_headers, world):
    """A disabled manager: 403 `account disabled`."""
    manager = await make_user(role="manager", is_active=False)

    response = await client.get(dashboard_url(world), headers=make_auth_headers(manager))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_dashboard_unknown_group_returns_404(client, manager_headers, world):
    """An unknown group: 404."""
    response = await client.get(
        f"/api/groups/4040/dashboard?course_id={world.course.id}", headers=manager_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 4040 not found"}


@pytest.mark.asyncio
async def test_dashboard_unknown_course_returns_404(client, manager_headers, world):
    """An unknown course: 404."""
    response = await client.get(dashboard_url(world, 5050), headers=manager_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Course 5050 not found"}


@pytest.mark.asyncio
async def test_dashboard_course_not_assigned_to_the_group_returns_404(
    client, make_course, manager_headers, world
):
    """A course that exists but is not the group's: 404."""
    other = await make_course(title="Elsewhere")

    response = await client.get(dashboard_url(world, other.id), headers=manager_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": f"Course {other.id} not found in group {world.group.id}"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("", ["query", "course_id"]),
        ("?course_id=0", ["query", "course_id"]),
        (f"?course_id={TOO_BIG_ID}", ["query", "course_id"]),
        ("?course_id=x", ["query", "course_id"]),
        ("?course_id=1&limit=5", ["query", "limit"]),
    ],
)
async def test_dashboard_bad_query_returns_422(client, manager_headers, world, query, loc):
    """`course_id` missing, out of range or not an integer, or a parameter it does not
    take: 422."""
    response = await client.get(
        f"/api/groups/{world.group.id}/dashboard{query}", headers=manager_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.asyncio
async def test_dashboard_without_token_returns_401(client, world):
    """No token: 401."""
    response = await client.get(dashboard_url(world))

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


# --- GET /api/groups/{group_id}/progress.csv ------------------------------------------------


def _csv(response):
    return list(csv.reader(io.StringIO(response.text)))


@pytest.mark.asyncio
async def test_progress_csv_returns_every_parent_times_every_course(
    client, clock, make_course, assign_course, manager_headers, test_user, world
):
    """A header row, then each parent (joining order, staff left out) times each course of
    the group (assignment order): completed and total posts, percent, last activity."""
    second = await make_course(title="Endgames")
    await assign_course(world.group, second)
    start = clock.now - timedelta(hours=3)

    response = await client.get(
        f"/api/groups/{world.group.id}/progress.csv", headers=manager_headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="group-{world.group.id}-progress.csv"'
    )
    assert response.text.endswith("\r\n")
    assert _csv(response) == [
        list(export.HEADER),
        ["una", "Openings", "2", "4", "50", world.una_last],
        ["una", "Endgames", "0", "0", "0", ""],
        ["testuser", "Openings", "0", "4", "0", _iso(start - timedelta(days=10))],
        ["testuser", "Endgames", "0", "0", "0", ""],
        ["idle", "Openings", "0", "4", "0", ""],
        ["idle", "Endgames", "0", "0", "0", ""],
        ["done", "Openings", "4", "4", "100", _iso(start - timedelta(days=30))],
        ["done", "Endgames", "0", "0", "0", ""],
    ]


@pytest.mark.asyncio
async def test_progress_csv_prefixes_formula_cells_with_an_apostrophe(
    client, test_db, auth_headers, assign_course, world
):
    """Course titles that a spreadsheet would run as formulas (`=`, `+`, `-`, `@`, tab, CR
    first) come out prefixed with `'`; commas and quotes are quoted as CSV quotes them.
    (The API strips a title's surrounding whitespace; the tab and CR titles are written
    straight into the table, as older data may hold them.)"""
    titles = ["=1+2", "+SUM(A1)", "-3", "@cmd", "\tTab", "\rReturn", 'Plain, "quoted"']
    for title in titles:
        async with test_db.session() as session:
            course = Course(title=title)
            session.add(course)
            await session.commit()
        await assign_course(world.group, course)

    response = await client.get(f"/api/groups/{world.group.id}/progress.csv", headers=auth_headers)

    assert response.status_code == 200
    una = [row[1] for row in _csv(response) if row[0] == "una"]
    assert una == ["Openings", *("'" + t for t in titles[:6]), 'Plain, "quoted"']
    assert '"\'\rReturn"' in response.text


@pytest.mark.asyncio
async def test_safe_cell_leaves_other_cells_alone():
    """Only the six formula starts are prefixed; numbers and empty cells are kept."""
    assert [export.safe_cell(v) for v in ("=A", "a=b", 0, 45, None, " =x", "'x")] == [
        "'=A",
        "a=b",
        "0",
        "45",
        "",
        " =x",
        "'x",
    ]


@pytest.mark.asyncio
async def test_progress_csv_reads_members_a_chunk_at_a_time(
    client, monkeypatch, count_queries, manager_headers, world
):
    """Read 2 parents at a time, the rows are the same and in the same order: one statement
    per chunk (and one that finds the end) besides the caller and the access check."""
    url = f"/api/groups/{world.group.id}/progress.csv"
    whole = await client.get(url, headers=manager_headers)
    monkeypatch.setattr(export, "CHUNK_MEMBERS", 2)

    with count_queries() as queries:
        chunked = await client.get(url, headers=manager_headers)

    assert (whole.status_code, chunked.status_code) == (200, 200)
    assert chunked.text == whole.text
    assert len(_csv(chunked)) == 5
    assert queries.count == 2 + 3  # caller, access; chunks of 2, 2, then none


@pytest.mark.asyncio
async def test_progress_csv_of_a_group_without_courses_is_the_header_only(
    client, manager_headers, make_group
):
    """No course, no row: the header alone."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}/progress.csv", headers=manager_headers)

    assert response.status_code == 200
    assert response.text == ",".join(export.HEADER) + "\r\n"


@pytest.mark.asyncio
async def test_progress_csv_as_manager_of_another_group_returns_403(
    client, make_user, make_group, make_auth_headers, world
):
    """A manager who does not own or moderate the group: 403, as JSON, no CSV."""
    other = await make_user(role="manager")
    await make_group(creator=other)

    response = await client.get(
        f"/api/groups/{world.group.id}/progress.csv", headers=make_auth_headers(other)
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the progress of groups you own or moderate"
    }


@pytest.mark.asyncio
async def test_progress_csv_as_user_returns_403(client, user_headers, world):
    """A parent of the group: 403."""
    response = await client.get(f"/api/groups/{world.group.id}/progress.csv", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_progress_csv_unknown_group_returns_404(client, auth_headers):
    """An unknown group: 404."""
    response = await client.get("/api/groups/4040/progress.csv", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 4040 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/groups/x/progress.csv", "/api/groups/1/progress.csv?a=1"])
async def test_progress_csv_bad_input_returns_422(client, auth_headers, path):
    """A group id that is not an integer, or a query parameter it does not take: 422."""
    response = await client.get(path, headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_progress_csv_without_token_returns_401(client):
    """No token: 401."""
    response = await client.get("/api/groups/1/progress.csv")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_dashboard_of_a_group_without_parents_counts_nothing(
    client, test_db, manager_headers, make_group, make_course, assign_course
):
    """A group of staff only: no member listed, every post at 0 started and 0 completed."""
    group = await make_group()
    course = await make_course()
    await assign_course(group, course)
    (post_id,) = await insert_posts(test_db, await insert_module(test_db, course.id))

    response = await client.get(
        f"/api/groups/{group.id}/dashboard?course_id={course.id}", headers=manager_headers
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["members"], body["questions"]) == ([], [])
    assert [(p["post_id"], p["started"], p["completed"]) for p in body["posts"]] == [
        (post_id, 0, 0)
    ]
