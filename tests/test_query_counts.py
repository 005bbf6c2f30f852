"""Performance guard: a list or detail request issues a fixed number of SQL statements.

No query per row: the statements a request sends do not grow with the number of rows it
returns. Each test measures the same request at 5 and at 50 rows and expects the same
exact count both times: 2 for a whole list (the caller, then the rows; the total is their
number) and 3 when a `limit` cuts it short (plus one count), 2 for the group detail (the
caller, then the group joined with its members), 2 for a course detail (the caller, then
the course joined with its outline) and for a module detail (the caller, then the module
joined with its posts).
Rows are inserted in bulk through `test_db.session()` to keep the tests fast.
"""

import pytest
from sqlalchemy import func, select

from factories import unique
from offline import idempotency_layer
from progress_factories import insert_course_content, insert_module, insert_posts, insert_quiz
from tma.core.db import utcnow
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.posts.quiz import fill_question_bank
from tma.quizzes.engine import answer_rows
from tma.quizzes.models import QuizAnswer, QuizAttempt, QuizOption, QuizQuestion
from tma.users.models import Role, User

STATEMENTS_PER_REQUEST = 3
LIST_STATEMENTS = 2  # caller + rows; a window cut short by `limit` adds the count
GROUP_DETAIL_STATEMENTS = 2
DETAIL_STATEMENTS = 2  # course and module details: the caller, then one joined statement
SMALL, LARGE = 5, 50


async def insert_users(test_db, how_many, *, role="user"):
    """Insert `how_many` users of one system role in one transaction; return their ids."""
    hashed = test_db.hasher.hash_sync("testpass")
    async with test_db.session() as session:
        role_id = await session.scalar(select(Role.id).where(Role.name == role))
        rows = []
        for _ in range(how_many):
            name = unique("bulk")
            rows.append(
                User(
                    username=name,
                    email=f"{name}@test.com",
                    hashed_password=hashed,
                    role_id=role_id,
                )
            )
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def insert_groups(test_db, how_many, *, owner_id, member_ids=()):
    """Insert `how_many` groups owned by `owner_id`, each with `member_ids` as members."""
    async with test_db.session() as session:
        groups = [Group(name=unique("group"), created_by=owner_id) for _ in range(how_many)]
        session.add_all(groups)
        await session.flush()
        for group in groups:
            session.add(GroupMember(group_id=group.id, user_id=owner_id, role="owner"))
            session.add_all(GroupMember(group_id=group.id, user_id=uid) for uid in member_ids)
        await session.commit()
        return [group.id for group in groups]


async def insert_courses(test_db, how_many, *, group_id=None, modules=0):
    """Insert `how_many` courses, each with `modules` modules, assigned to `group_id` if
    given; return their ids."""
    async with test_db.session() as session:
        courses = [Course(title=unique("course")) for _ in range(how_many)]
        session.add_all(courses)
        await session.flush()
        for n, course in enumerate(courses):
            made = [Module(title=f"Module {m}") for m in range(modules)]
            session.add_all(made)
            await session.flush()
            session.add_all(
                CourseModule(course_id=course.id, module_id=module.id, ordering=m + 1)
                for m, module in enumerate(made)
            )
            if group_id is not None:
                session.add(GroupCourse(group_id=group_id, course_id=course.id, ordering=n))
        await session.commit()
        return [course.id for course in courses]


async def statements_for(client, count_queries, url, headers, expected_rows):
    """Statements issued by GET `url`; checks that it returned `expected_rows` items."""
    with count_queries() as queries:
        response = await client.get(url, headers=headers)
    assert response.status_code == 200
    body = response.json()
    items = body if isinstance(body, list) else body.get("members", body.get("modules"))
    assert len(items) == expected_rows
    return queries.count


@pytest.mark.asyncio
async def test_list_groups_statement_count_same_at_5_and_50_groups(
    client, auth_headers, admin_user, test_db, count_queries
):
    """GET /api/groups (admin): 2 statements for 5 groups and for 50."""
    await insert_groups(test_db, SMALL, owner_id=admin_user.id)
    small = await statements_for(client, count_queries, "/api/groups", auth_headers, SMALL)
    await insert_groups(test_db, LARGE - SMALL, owner_id=admin_user.id)

    large = await statements_for(client, count_queries, "/api/groups", auth_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_list_groups_with_members_statement_count_same_at_5_and_50_groups(
    client, manager_headers, admin_user, test_db, count_queries
):
    """GET /api/groups with 4 members per group: member_count costs no extra statement."""
    member_ids = await insert_users(test_db, 3)
    await insert_groups(test_db, SMALL, owner_id=admin_user.id, member_ids=member_ids)
    small = await statements_for(client, count_queries, "/api/groups", manager_headers, SMALL)
    await insert_groups(test_db, LARGE - SMALL, owner_id=admin_user.id, member_ids=member_ids)

    large = await statements_for(client, count_queries, "/api/groups", manager_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_list_groups_as_user_statement_count_same_at_5_and_50_groups(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/groups as a `user` (filtered to their groups): 2 statements at 5 and 50."""
    await insert_groups(test_db, SMALL, owner_id=admin_user.id, member_ids=[test_user.id])
    small = await statements_for(client, count_queries, "/api/groups", user_headers, SMALL)
    await insert_groups(test_db, LARGE - SMALL, owner_id=admin_user.id, member_ids=[test_user.id])

    large = await statements_for(client, count_queries, "/api/groups", user_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_get_group_statement_count_same_at_5_and_50_members(
    client, auth_headers, admin_user, test_db, count_queries
):
    """GET /api/groups/{group_id}: the caller, then the group with all members and their
    roles in one statement: 2 statements."""
    [group_id] = await insert_groups(
        test_db, 1, owner_id=admin_user.id, member_ids=await insert_users(test_db, SMALL - 1)
    )
    url = f"/api/groups/{group_id}"
    small = await statements_for(client, count_queries, url, auth_headers, SMALL)
    more = await insert_users(test_db, LARGE - SMALL, role="manager")
    async with test_db.session() as session:
        session.add_all(GroupMember(group_id=group_id, user_id=uid) for uid in more)
        await session.commit()

    large = await statements_for(client, count_queries, url, auth_headers, LARGE)

    assert small == large == GROUP_DETAIL_STATEMENTS


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", ["owner", "manager_elsewhere", "member"])
async def test_get_group_statement_count_for_each_kind_of_viewer_same_at_5_and_50_members(
    client, manager_user, test_db, make_auth_headers, count_queries, caller
):
    """GET /api/groups/{group_id} as the owning manager, as a manager who owns another group
    (each member's private fields decided per row: a column of the same statement) and as a
    `user` member: 2 statements at 5 and at 50 members, as for an admin."""
    member_ids = await insert_users(test_db, SMALL - 1)
    [group_id] = await insert_groups(test_db, 1, owner_id=manager_user.id, member_ids=member_ids)
    [elsewhere] = await insert_users(test_db, 1, role="manager")
    await insert_groups(test_db, 1, owner_id=elsewhere, member_ids=member_ids[:2])
    viewer = {"owner": manager_user.id, "manager_elsewhere": elsewhere, "member": member_ids[0]}
    async with test_db.session() as session:
        headers = make_auth_headers(await session.get(User, viewer[caller]))
    url = f"/api/groups/{group_id}"
    small = await statements_for(client, count_queries, url, headers, SMALL)
    more = await insert_users(test_db, LARGE - SMALL)
    async with test_db.session() as session:
        session.add_all(GroupMember(group_id=group_id, user_id=uid) for uid in more)
        await session.commit()

    large = await statements_for(client, count_queries, url, headers, LARGE)

    assert small == large == GROUP_DETAIL_STATEMENTS


@pytest.mark.asyncio
async def test_list_courses_statement_count_same_at_5_and_50_courses(
    client, auth_headers, test_db, count_queries
):
    """GET /api/courses (admin): 2 statements for 5 courses and for 50, modules included."""
    await insert_courses(test_db, SMALL, modules=2)
    small = await statements_for(client, count_queries, "/api/courses", auth_headers, SMALL)
    await insert_courses(test_db, LARGE - SMALL, modules=2)

    large = await statements_for(client, count_queries, "/api/courses", auth_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_list_courses_as_user_statement_count_same_at_5_and_50_courses(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/courses as a `user` (filtered to their groups' courses): 2 statements."""
    [group_id] = await insert_groups(test_db, 1, owner_id=admin_user.id, member_ids=[test_user.id])
    await insert_courses(test_db, SMALL, group_id=group_id)
    small = await statements_for(client, count_queries, "/api/courses", user_headers, SMALL)
    more = await insert_courses(test_db, LARGE - SMALL)
    async with test_db.session() as session:
        session.add_all(
            GroupCourse(group_id=group_id, course_id=cid, ordering=SMALL + n)
            for n, cid in enumerate(more)
        )
        await session.commit()

    large = await statements_for(client, count_queries, "/api/courses", user_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_get_course_statement_count_same_at_5_and_50_modules(
    client, auth_headers, test_db, count_queries
):
    """GET /api/courses/{course_id}: the caller, then the course with its visibility and
    its outline items in one statement: 2 statements."""
    [small_id] = await insert_courses(test_db, 1, modules=SMALL)
    [large_id] = await insert_courses(test_db, 1, modules=LARGE)

    small = await statements_for(
        client, count_queries, f"/api/courses/{small_id}", auth_headers, SMALL
    )
    large = await statements_for(
        client, count_queries, f"/api/courses/{large_id}", auth_headers, LARGE
    )

    assert small == large == DETAIL_STATEMENTS


@pytest.mark.asyncio
async def test_list_group_courses_statement_count_same_at_5_and_50_courses(
    client, auth_headers, admin_user, test_db, count_queries
):
    """GET /api/groups/{group_id}/courses: auth, group and the page — 3 statements (the list
    helper counts only when the page cannot tell the total)."""
    small_group, large_group = await insert_groups(test_db, 2, owner_id=admin_user.id)
    await insert_courses(test_db, SMALL, group_id=small_group)
    await insert_courses(test_db, LARGE, group_id=large_group)

    small = await statements_for(
        client, count_queries, f"/api/groups/{small_group}/courses", auth_headers, SMALL
    )
    large = await statements_for(
        client, count_queries, f"/api/groups/{large_group}/courses", auth_headers, LARGE
    )

    assert small == large == STATEMENTS_PER_REQUEST


# --- learning content: modules, outlines, posts, quizzes ----------------------------------


async def insert_module_with_posts(test_db, posts, *, course_id=None, questions=0):
    """Insert a module with `posts` text posts (or, with `questions`, one quiz post of that
    many questions of 3 options each), linked last into `course_id` if given; its id."""
    async with test_db.session() as session:
        module = Module(title=unique("module"))
        session.add(module)
        await session.flush()
        if course_id is not None:
            place = await session.scalar(
                select(func.count()).where(CourseModule.course_id == course_id)
            )
            session.add(CourseModule(course_id=course_id, module_id=module.id, ordering=place + 1))
        rows = [
            Post(module_id=module.id, title=unique("post"), post_type="default", ordering=n + 1)
            for n in range(posts)
        ]
        if questions:
            rows = [
                Post(module_id=module.id, title="Quiz", post_type="quiz", ordering=1, pass_mark=80)
            ]
        session.add_all(rows)
        await session.flush()
        for n in range(questions):
            question = QuizQuestion(post_id=rows[0].id, position=n + 1, prompt="Q", kind="single")
            session.add(question)
            await session.flush()
            session.add_all(
                QuizOption(question_id=question.id, position=k + 1, text="O", is_correct=k == 0)
                for k in range(3)
            )
        if questions:
            await session.flush()
            await fill_question_bank(session, post_id=rows[0].id)
        await session.commit()
        return module.id, [row.id for row in rows]


async def visible_course_id(test_db, user_id, admin_id):
    """A course assigned to a group `user_id` is a member of; its id."""
    [group_id] = await insert_groups(test_db, 1, owner_id=admin_id, member_ids=[user_id])
    [course_id] = await insert_courses(test_db, 1, group_id=group_id)
    return course_id


@pytest.mark.asyncio
async def test_list_modules_as_user_statement_count_same_at_5_and_50_modules(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/modules as a `user` (only modules of their courses, with post counts): 2
    statements, at 5 and at 50 modules of 3 posts each."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    for _ in range(SMALL):
        await insert_module_with_posts(test_db, 3, course_id=course_id)
    small = await statements_for(client, count_queries, "/api/modules", user_headers, SMALL)
    for _ in range(LARGE - SMALL):
        await insert_module_with_posts(test_db, 3, course_id=course_id)

    large = await statements_for(client, count_queries, "/api/modules", user_headers, LARGE)
    filtered = await statements_for(
        client, count_queries, f"/api/modules?course_id={course_id}", user_headers, LARGE
    )

    assert small == large == LIST_STATEMENTS
    assert filtered == LIST_STATEMENTS + 1  # the course filter's visibility check


@pytest.mark.asyncio
async def test_get_module_statement_count_same_at_5_and_50_posts(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/modules/{module_id} as a `user`: the caller, then the module with its
    visibility, its courses and its posts in one statement: 2, with 5 posts and with 50."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    small_id, _ = await insert_module_with_posts(test_db, SMALL, course_id=course_id)
    large_id, _ = await insert_module_with_posts(test_db, LARGE, course_id=course_id)

    counts = []
    for module_id, expected in ((small_id, SMALL), (large_id, LARGE)):
        with count_queries() as queries:
            response = await client.get(f"/api/modules/{module_id}", headers=user_headers)
        assert response.status_code == 200
        assert len(response.json()["posts"]) == expected
        counts.append(queries.count)

    assert counts == [DETAIL_STATEMENTS, DETAIL_STATEMENTS]


@pytest.mark.asyncio
async def test_get_course_outline_statement_count_same_at_5_and_50_modules_with_posts(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/courses/{course_id} (2 statements) and GET /api/courses/{course_id}/modules
    (3: the caller, the course, the outline) as a `user`, whatever the number of modules
    and of their posts."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    detail_url, outline_url = f"/api/courses/{course_id}", f"/api/courses/{course_id}/modules"
    for _ in range(SMALL):
        await insert_module_with_posts(test_db, 2, course_id=course_id)
    small = [
        await statements_for(client, count_queries, url, user_headers, SMALL)
        for url in (detail_url, outline_url)
    ]
    for _ in range(LARGE - SMALL):
        await insert_module_with_posts(test_db, 2, course_id=course_id)

    large = [
        await statements_for(client, count_queries, url, user_headers, LARGE)
        for url in (detail_url, outline_url)
    ]

    assert small == large == [DETAIL_STATEMENTS, STATEMENTS_PER_REQUEST]


async def schedule_every_other_module(test_db, course_id):
    """The course made sequential, every other module released in 10 days."""
    async with test_db.session() as session:
        course = await session.get(Course, course_id)
        course.sequential = True
        links = (
            await session.scalars(select(CourseModule).where(CourseModule.course_id == course_id))
        ).all()
        for link in links:
            link.release_after_days = 10 * (link.ordering % 2)
        await session.commit()


@pytest.mark.asyncio
async def test_availability_costs_no_statement_at_5_and_50_modules(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """A sequential course with a release schedule, as a `user`: the course detail (2), the
    outline (3) and an open module's detail (2) cost what they cost without it, at 5 and
    at 50 modules, scheduled and locked items included (the availability rule is columns
    of the statement each already runs). The real clock: the course starts today."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    detail_url, outline_url = f"/api/courses/{course_id}", f"/api/courses/{course_id}/modules"
    modules = [await insert_module_with_posts(test_db, 2, course_id=course_id)]
    modules += [await insert_module_with_posts(test_db, 2, course_id=course_id) for _ in range(4)]
    await schedule_every_other_module(test_db, course_id)
    small = [
        await statements_for(client, count_queries, url, user_headers, SMALL)
        for url in (detail_url, outline_url)
    ]
    for _ in range(LARGE - SMALL):
        await insert_module_with_posts(test_db, 2, course_id=course_id)
    await schedule_every_other_module(test_db, course_id)

    large = [
        await statements_for(client, count_queries, url, user_headers, LARGE)
        for url in (detail_url, outline_url)
    ]
    body = (await client.get(detail_url, headers=user_headers)).json()
    second_module, _ = modules[1]  # released on day 0, the first one (day 10) unfinished
    with count_queries() as queries:
        module = await client.get(f"/api/modules/{second_module}", headers=user_headers)

    assert small == large == [DETAIL_STATEMENTS, STATEMENTS_PER_REQUEST]
    states = [item["availability"]["state"] for item in body["modules"]]
    assert states[:3] == ["scheduled", "locked", "scheduled"]
    assert module.status_code == 403  # locked: the refusal reads the reason
    assert queries.count == DETAIL_STATEMENTS + 1


@pytest.mark.asyncio
async def test_list_posts_statement_count_same_at_5_and_50_posts(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/posts?module_id= (2: the caller, then the module's visibility with its
    posts) and the unfiltered GET /api/posts (2) as a `user`, at 5 and at 50 posts."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    small_id, _ = await insert_module_with_posts(test_db, SMALL, course_id=course_id)
    large_id, _ = await insert_module_with_posts(test_db, LARGE, course_id=course_id)

    small = await statements_for(
        client, count_queries, f"/api/posts?module_id={small_id}", user_headers, SMALL
    )
    large = await statements_for(
        client, count_queries, f"/api/posts?module_id={large_id}", user_headers, LARGE
    )
    every = await statements_for(client, count_queries, "/api/posts", user_headers, SMALL + LARGE)

    assert small == large == every == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_get_quiz_post_statement_count_same_at_5_and_50_questions(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/posts/{post_id} of a quiz: the caller, the post with its visibility, the
    questions with their options in one statement, the caller's progress: 4 statements for
    5 questions and for 50 (a text post: 3)."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    _, [small_quiz] = await insert_module_with_posts(
        test_db, 0, course_id=course_id, questions=SMALL
    )
    _, [large_quiz] = await insert_module_with_posts(
        test_db, 0, course_id=course_id, questions=LARGE
    )
    _, [text_post] = await insert_module_with_posts(test_db, 1, course_id=course_id)

    counts = []
    for post_id, expected in ((small_quiz, SMALL), (large_quiz, LARGE), (text_post, None)):
        with count_queries() as queries:
            response = await client.get(f"/api/posts/{post_id}", headers=user_headers)
        assert response.status_code == 200
        quiz = response.json()["quiz"]
        assert (None if quiz is None else len(quiz["questions"])) == expected
        counts.append(queries.count)

    assert counts == [4, 4, 3]


@pytest.mark.asyncio
async def test_list_users_statement_count_same_at_5_and_50_users(
    client, auth_headers, test_db, count_queries
):
    """GET /api/users (admin): users with their roles in 2 statements, at 5 and at 50."""
    await insert_users(test_db, SMALL - 1)  # plus the admin
    small = await statements_for(client, count_queries, "/api/users", auth_headers, SMALL)
    await insert_users(test_db, LARGE - SMALL, role="manager")

    large = await statements_for(client, count_queries, "/api/users", auth_headers, LARGE)

    assert small == large == LIST_STATEMENTS


@pytest.mark.asyncio
async def test_windowed_list_counts_only_when_the_page_stops_at_its_limit(
    client, auth_headers, admin_user, test_db, count_queries
):
    """GET /api/groups?limit=3 of 5 and of 50 groups: 3 statements (the page is full, so
    the total needs a count) and the right X-Total-Count; a limit past the end (limit=80
    of 50) needs no count: 2 statements, total 50."""
    await insert_groups(test_db, SMALL, owner_id=admin_user.id)
    small = await statements_for(client, count_queries, "/api/groups?limit=3", auth_headers, 3)
    await insert_groups(test_db, LARGE - SMALL, owner_id=admin_user.id)
    large = await statements_for(client, count_queries, "/api/groups?limit=3", auth_headers, 3)
    with count_queries() as queries:
        past_end = await client.get("/api/groups?limit=80&offset=10", headers=auth_headers)
    counted = await client.get("/api/groups?limit=3&offset=10", headers=auth_headers)

    assert small == large == STATEMENTS_PER_REQUEST
    assert queries.count == LIST_STATEMENTS
    assert len(past_end.json()) == LARGE - 10
    assert past_end.headers["X-Total-Count"] == str(LARGE)
    assert counted.headers["X-Total-Count"] == str(LARGE)


# --- quizzes and progress ----------------------------------------------------------------

PROGRESS_STATEMENTS = 2  # the caller, then every course with its modules' counts
USER_PROGRESS_STATEMENTS = (
    3  # the caller, the user and whether the caller may see them, the courses
)
GROUP_PROGRESS_STATEMENTS = 2  # the caller, the group x members x courses
QUIZ_STATEMENTS = 3  # the caller, the post (with visibility), the questions with options
# the caller; the post with whether the caller sees it, the quiz's settings, its questions
# to draw from (`question_bank`) and the user's attempts at it (how many, the latest, the
# one in progress); the insert; the progress; its learning events (attempt_started,
# post_started: one multi-row INSERT, issue 26)
START_STATEMENTS = 5
# PUT /api/progress: the caller, the post with the caller's progress on it, the post's
# module locked, the post re-read under that lock, the upsert; the last three are left out
# when the status would not move forward. Learning events (issue 26): a write that moved
# adds their INSERT (+1), a completion also the INSERT ... SELECT of the module and course
# completions read from the counters (+2 in all); the webhook outbox is a trigger's.
PUT_PROGRESS_STATEMENTS = [6, 7, 2]
# the caller, the attempt (with its own questions), the module locked, the post re-read
# under that lock, the attempt's row locked with its saved answers, the close, the progress;
# the learning events (attempt_submitted, post_completed) and, on a pass, the module and
# course completions (+2, issue 26; a failing submit adds 1); the attempt's answers as rows
# (`quiz_answers`, one executemany INSERT, for the dashboard)
SUBMIT_STATEMENTS = 10


async def progress_world(test_db, user_id, *, courses, modules, posts, members=(), owner=None):
    """A group holding `user_id` (and `members`) with `courses` courses of `modules`
    modules of `posts` posts, every other post completed by each of them; owned by the
    manager `owner` (a new one unless given)."""
    owner = owner or (await insert_users(test_db, 1, role="manager"))[0]
    (group_id,) = await insert_groups(test_db, 1, owner_id=owner, member_ids=(user_id, *members))
    course_ids = await insert_courses(test_db, courses, group_id=group_id)
    await insert_course_content(
        test_db, course_ids, modules=modules, posts=posts, completed_by=(user_id, *members)
    )
    return group_id


@pytest.mark.asyncio
async def test_get_progress_statement_count_same_at_1_and_5_courses_of_5x5(
    client, test_user, user_headers, test_db, count_queries
):
    """GET /api/progress: 2 statements for 1 course of 1 module of 1 post and for 5 courses
    of 5 modules of 5 posts each (with progress on half of them)."""
    await progress_world(test_db, test_user.id, courses=1, modules=1, posts=1)
    small = await statements_for(client, count_queries, "/api/progress", user_headers, 1)
    await progress_world(test_db, test_user.id, courses=4, modules=5, posts=5)

    large = await statements_for(client, count_queries, "/api/progress", user_headers, 5)

    assert small == large == PROGRESS_STATEMENTS


@pytest.mark.asyncio
async def test_get_user_progress_statement_count_same_at_1_and_5_courses(
    client, test_user, manager_user, manager_headers, test_db, count_queries
):
    """GET /api/users/{id}/progress as the manager owning the user's groups: 3 statements
    whatever the courses (the user and whether the manager may see them are one)."""
    url = f"/api/users/{test_user.id}/progress"
    mine = manager_user.id
    await progress_world(test_db, test_user.id, courses=1, modules=1, posts=1, owner=mine)
    small = await statements_for(client, count_queries, url, manager_headers, 1)
    await progress_world(test_db, test_user.id, courses=4, modules=5, posts=5, owner=mine)

    large = await statements_for(client, count_queries, url, manager_headers, 5)

    assert small == large == USER_PROGRESS_STATEMENTS


@pytest.mark.asyncio
async def test_get_group_progress_statement_count_same_at_5_and_50_members(
    client, test_user, manager_user, manager_headers, test_db, count_queries
):
    """GET /api/groups/{id}/progress as the groups' owner: 2 statements for 5 members x 1
    course and for 50 members x 5 courses of 5 modules of 5 posts (whether the manager
    owns or moderates the group is a column of the one read)."""
    mine = manager_user.id
    few = await insert_users(test_db, SMALL - 2)
    small_group = await progress_world(
        test_db, test_user.id, courses=1, modules=1, posts=1, members=few, owner=mine
    )
    many = await insert_users(test_db, LARGE - 2)
    large_group = await progress_world(
        test_db, test_user.id, courses=5, modules=5, posts=5, members=many, owner=mine
    )
    small = await statements_for(
        client, count_queries, f"/api/groups/{small_group}/progress", manager_headers, SMALL
    )

    large = await statements_for(
        client, count_queries, f"/api/groups/{large_group}/progress", manager_headers, LARGE
    )

    assert small == large == GROUP_PROGRESS_STATEMENTS


async def quiz_statements(client, count_queries, method, url, headers, **kwargs):
    with count_queries() as queries:
        response = await client.request(method, url, headers=headers, **kwargs)
    assert response.status_code in (200, 201)
    return queries.count, response.json()


@pytest.mark.asyncio
async def test_get_quiz_and_submit_statement_count_same_at_2_and_20_questions(
    client, test_user, user_headers, test_db, count_queries
):
    """GET /api/quizzes/{id}: 3 statements; submitting an attempt: 7; both the same for a
    quiz of 2 questions and one of 20."""
    group_id = await progress_world(test_db, test_user.id, courses=1, modules=1, posts=0)
    async with test_db.session() as session:
        (course_id,) = (
            await session.scalars(
                select(GroupCourse.course_id).where(GroupCourse.group_id == group_id)
            )
        ).all()
    module_id = await insert_module(test_db, course_id)
    counts = []
    for size in (2, 20):
        quiz = await insert_quiz(test_db, module_id, [("multiple", [True, False, True])] * size)
        read, body = await quiz_statements(
            client, count_queries, "GET", f"/api/quizzes/{quiz.post_id}", user_headers
        )
        assert len(body["questions"]) == size
        attempt = (
            await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
        ).json()
        answers = [
            {"question_id": q, "option_ids": c}
            for q, c in zip(quiz.questions, quiz.correct, strict=True)
        ]
        submit, graded = await quiz_statements(
            client,
            count_queries,
            "POST",
            f"/api/quiz-attempts/{attempt['id']}/submit",
            user_headers,
            json={"answers": answers},
        )
        assert (graded["score"], len(graded["results"])) == (100, size)
        counts.append((read, submit))

    assert counts == [(QUIZ_STATEMENTS, SUBMIT_STATEMENTS)] * 2


@pytest.mark.asyncio
async def test_start_attempt_statement_count_same_at_2_and_20_questions(
    client, test_user, user_headers, test_db, count_queries
):
    """POST /api/quizzes/{id}/attempts: the same statements for a quiz of 2 questions and
    one of 20 (the attempt row, not a row per question)."""
    group_id = await progress_world(test_db, test_user.id, courses=1, modules=1, posts=0)
    async with test_db.session() as session:
        (course_id,) = (
            await session.scalars(
                select(GroupCourse.course_id).where(GroupCourse.group_id == group_id)
            )
        ).all()
    module_id = await insert_module(test_db, course_id)
    counts = []
    for size in (2, 20):
        quiz = await insert_quiz(test_db, module_id, [("single", [True, False])] * size)
        started, body = await quiz_statements(
            client, count_queries, "POST", f"/api/quizzes/{quiz.post_id}/attempts", user_headers
        )
        assert (body["post_id"], body["submitted_at"]) == (quiz.post_id, None)
        counts.append(started)

    assert counts == [START_STATEMENTS] * 2


@pytest.mark.asyncio
async def test_put_progress_statement_count_same_in_small_and_large_course(
    client, test_user, user_headers, test_db, count_queries
):
    """PUT /api/progress/{post_id} on a post without progress yet: `in_progress`, then
    `completed`, then `completed` again (nothing left to change) run the same statements
    for a post of a course of 1 module of 1 post and of one of 5 modules of 5 posts (the
    per-module counters are kept by triggers, not by statements of the request)."""
    counts = []
    for modules, posts in ((1, 1), (5, 5)):
        group_id = await progress_world(
            test_db, test_user.id, courses=1, modules=modules, posts=posts
        )
        async with test_db.session() as session:
            module_id = await session.scalar(
                select(func.max(CourseModule.module_id))
                .join(GroupCourse, GroupCourse.course_id == CourseModule.course_id)
                .where(GroupCourse.group_id == group_id)
            )
        (post_id,) = await insert_posts(test_db, module_id, 1)
        for status in ("in_progress", "completed", "completed"):
            with count_queries() as queries:
                response = await client.put(
                    f"/api/progress/{post_id}", json={"status": status}, headers=user_headers
                )
            assert response.status_code == 200
            assert (response.json()["post_id"], response.json()["status"]) == (post_id, status)
            counts.append(queries.count)

    assert counts == PUT_PROGRESS_STATEMENTS * 2


# --- issue 13: ending tokens costs the hot path nothing; the new writes are fixed ----------


async def _statements(count_queries, call):
    with count_queries() as queries:
        response = await call()
    return response, queries.count


@pytest.mark.asyncio
async def test_me_after_logout_all_statement_count_is_one(
    client, test_user, user_headers, count_queries
):
    """GET /api/auth/me with tokens ended and a new login: still 1 statement (the token
    cut-off is a column of the caller's row, read by the same statement)."""
    assert (await client.post("/api/auth/logout-all", headers=user_headers)).status_code == 204
    login = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "testpass"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    response, count = await _statements(
        count_queries, lambda: client.get("/api/auth/me", headers=headers)
    )

    assert response.status_code == 200
    assert count == 1


@pytest.mark.asyncio
async def test_logout_all_statement_count_is_three(client, user_headers, count_queries):
    """POST /api/auth/logout-all: the caller, the caller's row, one UPDATE."""
    response, count = await _statements(
        count_queries, lambda: client.post("/api/auth/logout-all", headers=user_headers)
    )

    assert response.status_code == 204
    assert count == 3


@pytest.mark.asyncio
async def test_change_password_statement_count_is_three(client, user_headers, count_queries):
    """POST /api/auth/me/password: the caller, the caller's row, one UPDATE."""
    body = {"current_password": "testpass", "new_password": "brand-new-pass"}
    response, count = await _statements(
        count_queries,
        lambda: client.post("/api/auth/me/password", json=body, headers=user_headers),
    )

    assert response.status_code == 200
    assert count == 3


@pytest.mark.asyncio
async def test_reset_password_statement_count_is_four(
    client, auth_headers, test_user, count_queries
):
    """PATCH /api/users/{id}/password: the caller, the user, one UPDATE, the user again."""
    response, count = await _statements(
        count_queries,
        lambda: client.patch(
            f"/api/users/{test_user.id}/password",
            json={"new_password": "set-by-admin"},
            headers=auth_headers,
        ),
    )

    assert response.status_code == 200
    assert count == 4


@pytest.mark.asyncio
async def test_delete_user_statement_count_same_with_1_and_20_groups(
    client, auth_headers, admin_user, test_db, count_queries
):
    """DELETE /api/users/{id} of a member of 1 group and of 20: the same count (the lock of
    the user's groups and the last-owner check are one statement each, whatever the number
    of groups): 5 on PostgreSQL (caller, lock user, lock groups, check, delete), 4 on SQLite
    (caller, write lock, check, delete)."""
    expected = 4 if test_db.db.engine.dialect.name == "sqlite" else 5
    counts = []
    for groups in (1, 20):
        [user_id] = await insert_users(test_db, 1)
        await insert_groups(test_db, groups, owner_id=admin_user.id, member_ids=[user_id])
        response, count = await _statements(
            count_queries, lambda u=user_id: client.delete(f"/api/users/{u}", headers=auth_headers)
        )
        assert response.status_code == 204
        counts.append(count)

    assert counts == [expected, expected]


@pytest.mark.asyncio
async def test_get_file_statement_count_same_at_1_and_20_posts_using_it(
    client,
    test_db,
    test_user,
    user_headers,
    upload_file,
    make_group,
    add_member,
    make_course,
    assign_course,
    count_queries,
):
    """GET /api/files/{file_id} reads the caller and the file with its visibility flag: 2
    statements for a `user` whether 1 or 20 posts (in 20 modules of 20 courses) use the
    attachment; 1 for an avatar read without a token."""
    attachment = await upload_file()
    avatar = await upload_file(avatar=True)
    group = await make_group()
    await add_member(group, test_user)
    courses = [await make_course() for _ in range(20)]
    await assign_course(group, courses[-1])  # the user sees only the last course

    async def link_posts(course_list):
        async with test_db.session() as session:
            for course in course_list:
                module = Module(title=unique("module"))
                session.add(module)
                await session.flush()
                session.add(CourseModule(course_id=course.id, module_id=module.id, ordering=1))
                session.add(
                    Post(
                        module_id=module.id,
                        title="Sheet",
                        post_type="attachment",
                        file_id=attachment["id"],
                        ordering=1,
                    )
                )
            await session.commit()

    async def statements(url, headers):
        with count_queries() as queries:
            response = await client.get(url, headers=headers)
        assert response.status_code == 200
        return queries.count

    await link_posts(courses[-1:])
    one = await statements(attachment["url"], user_headers)
    await link_posts(courses[:-1])
    twenty = await statements(attachment["url"], user_headers)
    public = await statements(avatar["url"], {})

    assert one == twenty == 2
    assert public == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("courses", [0, 1, 3])
async def test_delete_module_statement_count_grows_by_two_per_course(
    client, auth_headers, test_db, count_queries, courses
):
    """DELETE /api/modules/{id}: 5 statements (caller, the courses it is in, lock the
    module, its places under the lock, delete), plus 2 per course it is in (lock the course,
    close the gap), in one pass: a module in 3 courses is 11. A course it is not in (here
    one with a module of its own) is neither locked nor renumbered."""
    course_ids = await insert_courses(test_db, courses, modules=2)
    await insert_courses(test_db, 1, modules=1)
    async with test_db.session() as session:
        module = Module(title="Shared")
        session.add(module)
        await session.flush()
        session.add_all(
            CourseModule(course_id=course_id, module_id=module.id, ordering=3)
            for course_id in course_ids
        )
        await session.commit()

    response, count = await _statements(
        count_queries, lambda: client.delete(f"/api/modules/{module.id}", headers=auth_headers)
    )

    assert response.status_code == 204
    assert count == 5 + 2 * courses


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "items", "statements"),
    [("limit=10", 3, 2), ("limit=2", 2, 3), ("limit=10&offset=1", 2, 2), ("offset=5", 0, 4)],
    ids=["past-the-end", "page-full", "offset-past-the-end", "offset-beyond-all"],
)
async def test_list_module_posts_counts_only_when_the_page_cannot_tell_the_total(
    client, auth_headers, test_db, count_queries, query, items, statements
):
    """GET /api/posts?module_id= of a module with 3 posts: a page that ends before its limit
    holds the last post, so the total is offset + its length (2 statements); a full page
    needs a count (3); an empty one past an offset also asks whether the module exists (4).
    X-Total-Count is 3 every time."""
    module_id = await insert_module(test_db)
    await insert_posts(test_db, module_id, 3)

    response, count = await _statements(
        count_queries,
        lambda: client.get(f"/api/posts?module_id={module_id}&{query}", headers=auth_headers),
    )

    assert response.status_code == 200
    assert len(response.json()) == items
    assert response.headers["X-Total-Count"] == "3"
    assert count == statements


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "items", "statements"),
    [("limit=10", 3, 4), ("limit=2", 2, 5), ("limit=10&offset=1", 2, 4), ("offset=5", 0, 5)],
    ids=["past-the-end", "page-full", "offset-past-the-end", "offset-beyond-all"],
)
async def test_list_attempts_counts_only_when_the_page_cannot_tell_the_total(
    client, test_user, user_headers, user_course, test_db, count_queries, query, items, statements
):
    """GET /api/quizzes/{post_id}/attempts with 3 attempts: as the posts of a module, a count
    only for a full page or an empty one past an offset (4 statements, else 5: the caller,
    the quiz, the reveal and expiry state of the user's attempts, the attempts, the count);
    X-Total-Count is 3 every time."""
    module_id = await insert_module(test_db, user_course.id)
    quiz = await insert_quiz(test_db, module_id)
    url = f"/api/quizzes/{quiz.post_id}/attempts"
    for _ in range(3):
        started = await client.post(url, headers=user_headers)
        assert started.status_code == 201
        submitted = await client.post(
            f"/api/quiz-attempts/{started.json()['id']}/submit",
            json={"answers": []},
            headers=user_headers,
        )
        assert submitted.status_code == 200

    response, count = await _statements(
        count_queries, lambda: client.get(f"{url}?{query}", headers=user_headers)
    )

    assert response.status_code == 200
    assert len(response.json()) == items
    assert response.headers["X-Total-Count"] == "3"
    assert count == statements


@pytest.mark.asyncio
async def test_list_attempts_of_a_member_by_their_manager_adds_one_statement(
    client, test_user, user_headers, manager_headers, user_course, test_db, count_queries
):
    """GET /api/quizzes/{post_id}/attempts?user_id= by the manager owning the member's group:
    one statement more than the member's own read (4), the user and whether the manager may
    see them in one: 5 statements, 2 attempts returned."""
    module_id = await insert_module(test_db, user_course.id)
    quiz = await insert_quiz(test_db, module_id)
    url = f"/api/quizzes/{quiz.post_id}/attempts"
    for _ in range(2):
        started = await client.post(url, headers=user_headers)
        assert started.status_code == 201
        submitted = await client.post(
            f"/api/quiz-attempts/{started.json()['id']}/submit",
            json={"answers": []},
            headers=user_headers,
        )
        assert submitted.status_code == 200

    response, count = await _statements(
        count_queries,
        lambda: client.get(f"{url}?user_id={test_user.id}&limit=10", headers=manager_headers),
    )

    assert response.status_code == 200
    assert [a["user_id"] for a in response.json()] == [test_user.id, test_user.id]
    assert count == 5


@pytest.mark.asyncio
async def test_membership_changes_statement_counts_by_an_owner(
    client, auth_headers, manager_headers, manager_user, make_group, make_user, count_queries
):
    """Membership changes by the group's owner (a manager), whose right is read under the
    group's lock: adding is 6 statements (the caller, the group, the lock, the caller's and
    the user's memberships in one, the user, the insert; the read under the lock replaces
    the old "already a member?" query, so one more than before the check), changing a role
    and removing 5 (the caller, the group, the lock, the memberships, the write), demoting
    an owner 6 (the owners counted)."""
    group = await make_group()
    parent = await make_user()
    other_owner = await make_user(role="manager")
    base = f"/api/groups/{group.id}/members"

    add, add_count = await _statements(
        count_queries, lambda: client.post(f"{base}/{parent.id}", headers=manager_headers)
    )
    add_owner, add_owner_count = await _statements(
        count_queries,
        lambda: client.post(
            f"{base}/{other_owner.id}", json={"role": "owner"}, headers=manager_headers
        ),
    )
    change, change_count = await _statements(
        count_queries,
        lambda: client.patch(
            f"{base}/{parent.id}/role", json={"role": "moderator"}, headers=manager_headers
        ),
    )
    demote, demote_count = await _statements(
        count_queries,
        lambda: client.patch(
            f"{base}/{other_owner.id}/role", json={"role": "member"}, headers=manager_headers
        ),
    )
    remove, remove_count = await _statements(
        count_queries, lambda: client.delete(f"{base}/{parent.id}", headers=manager_headers)
    )

    assert [add.status_code, add_owner.status_code, change.status_code] == [201, 201, 200]
    assert [demote.status_code, remove.status_code] == [200, 204]
    assert (add_count, add_owner_count, change_count, demote_count, remove_count) == (
        6,
        6,
        5,
        6,
        5,
    )
    detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert {m["user_id"]: m["role"] for m in detail.json()["members"]} == {
        manager_user.id: "owner",
        other_owner.id: "member",
    }


# --- offline: sync and the Idempotency-Key layer ----------------------------------------

# POST /api/progress/sync: the caller, the events seen before, the posts' modules locked,
# the posts with the caller's progress and visibility, one upsert of every post that moved,
# one insert of the events remembered; the learning events of the posts that moved (one
# multi-row INSERT) and, as the batch completes posts, the module and course completions
# (one INSERT ... SELECT): +2 whatever the batch's size (issue 26).
SYNC_STATEMENTS = 8
# An Idempotency-Key adds the claim (one INSERT) and the stored response (one UPDATE); a
# replay is the claim and the read of the stored row, and runs nothing else.
KEY_STATEMENTS = 2
REPLAY_STATEMENTS = 2


@pytest.mark.asyncio
async def test_sync_statement_count_same_for_1_and_500_events(
    client, test_user, user_headers, test_db, count_queries
):
    """POST /api/progress/sync: 6 statements for 1 event and for 500 events over 250 posts
    (every event applied): the batch is planned in memory and written in one statement."""
    group_id = await progress_world(test_db, test_user.id, courses=1, modules=1, posts=0)
    async with test_db.session() as session:
        course_id = await session.scalar(
            select(GroupCourse.course_id).where(GroupCourse.group_id == group_id)
        )
    module_id = await insert_module(test_db, course_id)
    posts = await insert_posts(test_db, module_id, 251)

    def ev(event_id, post_id, status):
        at = "2026-09-01T09:00:00Z"
        return {"event_id": event_id, "post_id": post_id, "status": status, "occurred_at": at}

    counts = []
    for events in (
        [ev("one", posts[0], "completed")],
        [ev(f"s{p}", p, "in_progress") for p in posts[1:]]
        + [ev(f"c{p}", p, "completed") for p in posts[1:]],
    ):
        with count_queries() as queries:
            response = await client.post(
                "/api/progress/sync", json={"events": events}, headers=user_headers
            )
        assert response.status_code == 200
        assert {r["result"] for r in response.json()["results"]} == {"applied"}
        counts.append(queries.count)

    assert counts == [SYNC_STATEMENTS, SYNC_STATEMENTS]


@pytest.mark.asyncio
async def test_idempotency_key_adds_two_statements_and_a_replay_runs_nothing_else(
    client, app, test_user, user_headers, test_db, count_queries
):
    """A PUT /api/progress/{post_id} with an `Idempotency-Key` costs the PUT's statements
    plus 2 (claim, store); its replay 2 (claim attempt, stored row) and nothing of the
    route, not even the caller's read. (The sweep of expired keys, one DELETE at most every
    5 minutes per process, is held off here.)"""
    idempotency_layer(app).next_sweep = float("inf")
    group_id = await progress_world(test_db, test_user.id, courses=1, modules=1, posts=0)
    async with test_db.session() as session:
        course_id = await session.scalar(
            select(GroupCourse.course_id).where(GroupCourse.group_id == group_id)
        )
    module_id = await insert_module(test_db, course_id)
    plain_post, keyed_post = await insert_posts(test_db, module_id, 2)
    headers = {**user_headers, "Idempotency-Key": "count-me"}
    body = {"status": "completed"}

    with count_queries() as plain:
        first = await client.put(f"/api/progress/{plain_post}", json=body, headers=user_headers)
    with count_queries() as keyed:
        second = await client.put(f"/api/progress/{keyed_post}", json=body, headers=headers)
    with count_queries() as replay:
        third = await client.put(f"/api/progress/{keyed_post}", json=body, headers=headers)

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 200)
    assert third.headers["idempotent-replayed"] == "true"
    assert keyed.count == plain.count + KEY_STATEMENTS
    assert replay.count == REPLAY_STATEMENTS


# GET /api/courses/{course_id}/bundle: the caller, the course detail, every module with its
# posts and the caller's progress, every question and option of the course's quizzes.
BUNDLE_STATEMENTS = 4


@pytest.mark.asyncio
async def test_bundle_statement_count_same_for_1x1_and_10x20_posts(
    client, test_user, user_headers, test_db, count_queries
):
    """GET /api/courses/{id}/bundle: 4 statements for a course of 1 module of 1 post and
    for one of 10 modules of 20 posts (a quiz among them each time)."""
    counts = []
    for modules, posts in ((1, 1), (10, 20)):
        group_id = await progress_world(
            test_db, test_user.id, courses=1, modules=modules, posts=posts
        )
        async with test_db.session() as session:
            course_id = await session.scalar(
                select(GroupCourse.course_id).where(GroupCourse.group_id == group_id)
            )
            module_id = await session.scalar(
                select(func.max(CourseModule.module_id)).where(CourseModule.course_id == course_id)
            )
        await insert_quiz(test_db, module_id)
        with count_queries() as queries:
            response = await client.get(f"/api/courses/{course_id}/bundle", headers=user_headers)
        assert response.status_code == 200
        assert sum(len(m["posts"]) for m in response.json()["modules"]) == modules * posts + 1
        counts.append(queries.count)

    assert counts == [BUNDLE_STATEMENTS, BUNDLE_STATEMENTS]


GET_ATTEMPT_STATEMENTS = 2  # the caller, the attempt with all it needs
# the caller, the attempt, its row locked with the saved answers, the write
SAVE_ANSWERS_STATEMENTS = 4


async def _quiz_with_settings(test_db, module_id, size, **settings):
    """`insert_quiz` of `size` single-choice questions, then the settings on its post."""
    quiz = await insert_quiz(test_db, module_id, [("single", [True, False])] * size)
    async with test_db.session() as session:
        post = await session.get(Post, quiz.post_id)
        for name, value in settings.items():
            setattr(post, name, value)
        await session.commit()
    return quiz


@pytest.mark.asyncio
async def test_attempt_of_50_questions_drawing_20_shuffled_fixed_statements(
    client, test_user, user_headers, user_course, test_db, count_queries
):
    """A quiz of 5 questions drawing 2 and one of 50 drawing 20, both shuffles on, a time
    limit: starting an attempt, saving answers to all its questions, reading it and
    submitting it send the same statements at both sizes (the attempt's questions are one
    column of its row, not a row per question)."""
    module_id = await insert_module(test_db, user_course.id)
    counts = []
    for size, drawn in ((5, 2), (50, 20)):
        quiz = await _quiz_with_settings(
            test_db,
            module_id,
            size,
            questions_per_attempt=drawn,
            shuffle_questions=True,
            shuffle_options=True,
            time_limit_minutes=30,
        )
        url = f"/api/quizzes/{quiz.post_id}/attempts"
        started, attempt = await quiz_statements(client, count_queries, "POST", url, user_headers)
        right = dict(zip(quiz.questions, quiz.correct, strict=True))
        answers = [
            {"question_id": q["id"], "option_ids": right[q["id"]]} for q in attempt["questions"]
        ]
        saved, body = await quiz_statements(
            client,
            count_queries,
            "PUT",
            f"/api/quiz-attempts/{attempt['id']}/answers",
            user_headers,
            json={"answers": answers},
        )
        assert len(body["saved_answers"]) == drawn
        read, _ = await quiz_statements(
            client, count_queries, "GET", f"/api/quiz-attempts/{attempt['id']}", user_headers
        )
        submitted, graded = await quiz_statements(
            client,
            count_queries,
            "POST",
            f"/api/quiz-attempts/{attempt['id']}/submit",
            user_headers,
            json={},
        )
        assert (graded["score"], len(graded["results"])) == (100, drawn)
        counts.append((started, saved, read, submitted))

    expected = (START_STATEMENTS, SAVE_ANSWERS_STATEMENTS, GET_ATTEMPT_STATEMENTS)
    assert counts == [(*expected, SUBMIT_STATEMENTS)] * 2


async def insert_notifications(test_db, user_id, how_many):
    from datetime import UTC, datetime

    from tma.notifications.models import NotificationKind
    from tma.notifications.service import notify

    async with test_db.session() as session:
        for i in range(how_many):
            await notify(
                session,
                user_ids=[user_id],
                kind=NotificationKind.GROUP_DIGEST,
                subject=unique("group"),
                period="2027-W10",
                title=f"Digest {i}",
                body="Two parents behind.",
                data={"group_id": i},
                now=datetime(2027, 3, 8, tzinfo=UTC),
            )
        await session.commit()


@pytest.mark.asyncio
async def test_list_notifications_statement_count_same_at_5_and_50_notifications(
    client, test_db, test_user, user_headers, count_queries
):
    """The caller, then the page with the whole list's total and unread count on its rows:
    2 statements, with or without a `limit`; an empty page adds the count (3)."""
    counts = []
    for how_many in (SMALL, LARGE - SMALL):
        await insert_notifications(test_db, test_user.id, how_many)
        for url in ("/api/notifications", "/api/notifications?limit=20"):
            with count_queries() as counter:
                response = await client.get(url, headers=user_headers)
            assert response.status_code == 200
            counts.append(counter.count)
    with count_queries() as empty:
        response = await client.get("/api/notifications?offset=1000", headers=user_headers)

    assert response.status_code == 200
    assert counts == [LIST_STATEMENTS] * 4
    assert empty.count == STATEMENTS_PER_REQUEST


# --- issue 26: the group dashboard --------------------------------------------------------

# the caller; the access row (group, manages, course, assigned); the parents with their
# counters and the course's posts; everything counted from their rows (progress per parent
# and per post, attempts, the answers aggregated from the attempts' JSON); the question
# catalog
DASHBOARD_STATEMENTS = 5


async def insert_submitted_attempts(test_db, quiz, user_ids, *, tries):
    """`tries` submitted attempts at `quiz` per user, each holding the quiz's questions
    (copied as an attempt copies them) and answering each with its first option, with the
    answer rows a submit writes (`quiz_answers`)."""
    questions = [
        {
            "id": q,
            "prompt": f"Question {n + 1}",
            "kind": "multiple",
            "explanation": None,
            "options": [
                {"id": o, "text": f"Option {m}", "is_correct": o in quiz.correct[n]}
                for m, o in enumerate(quiz.options[n])
            ],
        }
        for n, q in enumerate(quiz.questions)
    ]
    results = [
        {
            "question_id": q,
            "correct": [quiz.options[n][0]] == quiz.correct[n],
            "chosen_option_ids": [quiz.options[n][0]],
            "correct_option_ids": quiz.correct[n],
            "explanation": None,
        }
        for n, q in enumerate(quiz.questions)
    ]
    async with test_db.session() as session:
        attempts = [
            QuizAttempt(
                post_id=quiz.post_id,
                user_id=user_id,
                status="submitted",
                submitted_at=utcnow(),
                score=0,
                passed=False,
                results=results,
                questions=questions,
                saved_answers=[],
            )
            for user_id in user_ids
            for _ in range(tries)
        ]
        session.add_all(attempts)
        await session.flush()
        session.add_all(
            QuizAnswer(**row)
            for attempt in attempts
            for row in answer_rows(
                results, attempt_id=attempt.id, post_id=attempt.post_id, user_id=attempt.user_id
            )
        )
        await session.commit()


# --- issue 26: the event log and the statements read in one statement --------------------

EVENTS_STATEMENTS = 2  # the caller, the page of events (scoped by the privacy rule)


async def _events_of(test_db, user_id, count):
    from datetime import UTC, datetime

    from tma.events.models import LearningEvent

    at = datetime(2027, 3, 1, tzinfo=UTC)
    async with test_db.session() as session:
        session.add_all(
            LearningEvent(
                type="post_started",
                user_id=user_id,
                key=f"post_started:{unique('p')}",
                occurred_at=at,
                post_id=1,
                recorded_at=at,
            )
            for _ in range(count)
        )
        await session.commit()


async def insert_children(test_db, user_id, how_many):
    from datetime import date

    from tma.children.models import Child

    async with test_db.session() as session:
        session.add_all(
            Child(user_id=user_id, name=f"C{i}", birth_date=date(2024, 1, 1 + i))
            for i in range(how_many)
        )
        await session.commit()


async def dashboard_world(test_db, owner_id, *, members, modules, posts, quizzes, tries):
    """A group of `members` parents and one course of `modules` modules of `posts` posts
    (every other completed by each parent) and `quizzes` quizzes of 3 questions, each
    attempted `tries` times by every parent; the first question of the first quiz then
    removed from it (its answers are read from the attempts' copies). (group id, course id)."""
    parents = await insert_users(test_db, members)
    (group_id,) = await insert_groups(test_db, 1, owner_id=owner_id, member_ids=parents)
    (course_id,) = await insert_courses(test_db, 1, group_id=group_id)
    await insert_course_content(
        test_db, [course_id], modules=modules, posts=posts, completed_by=tuple(parents)
    )
    module_id = await insert_module(test_db, course_id)
    made = []
    for _ in range(quizzes):
        quiz = await insert_quiz(test_db, module_id, [("multiple", [True, False, True])] * 3)
        await insert_submitted_attempts(test_db, quiz, parents, tries=tries)
        made.append(quiz)
    async with test_db.session() as session:
        gone = await session.get(QuizQuestion, made[0].questions[0])
        await session.delete(gone)
        await session.commit()
    return group_id, course_id


@pytest.mark.asyncio
async def test_group_dashboard_statement_count_same_at_5_and_50_members(
    client, manager_user, manager_headers, test_db, count_queries
):
    """GET /api/groups/{id}/dashboard as the group's owner: 5 statements for 5 parents x 1
    module of 2 posts x 1 quiz tried once and for 50 parents x 5 modules of 5 posts x 4
    quizzes tried 3 times each (a question of the first quiz gone in both: its texts come
    from the attempts' copies)."""
    counts = []
    for members, modules, posts, quizzes, tries in ((SMALL, 1, 2, 1, 1), (LARGE, 5, 5, 4, 3)):
        group_id, course_id = await dashboard_world(
            test_db,
            manager_user.id,
            members=members,
            modules=modules,
            posts=posts,
            quizzes=quizzes,
            tries=tries,
        )
        url = f"/api/groups/{group_id}/dashboard?course_id={course_id}"
        with count_queries() as queries:
            response = await client.get(url, headers=manager_headers)
        assert response.status_code == 200
        body = response.json()
        assert len(body["members"]) == members
        assert len(body["questions"]) == 3 * quizzes
        assert body["questions"][2]["answered"] == members * tries  # the gone one, last
        assert body["questions"][2]["options"][0]["chosen"] == members * tries
        counts.append(queries.count)

    assert counts == [DASHBOARD_STATEMENTS] * 2


@pytest.mark.asyncio
async def test_list_children_statement_count_same_at_2_and_10_children(
    client, test_db, test_user, user_headers, auth_headers, count_queries
):
    """The caller's children (and staff's read of them, with the privacy check): the caller,
    (the parent's check,) the rows; whatever the number of children (at most 10)."""
    counts = []
    for how_many in (2, 8):
        await insert_children(test_db, test_user.id, how_many)
        for url, headers in (
            ("/api/auth/me/children", user_headers),
            (f"/api/users/{test_user.id}/children", auth_headers),
        ):
            with count_queries() as counter:
                response = await client.get(url, headers=headers)
            assert response.status_code == 200
            counts.append(counter.count)

    assert counts == [LIST_STATEMENTS, LIST_STATEMENTS + 1] * 2


@pytest.mark.asyncio
async def test_feed_statement_count_same_at_5_and_50_posts_and_any_children(
    client, test_db, test_user, user_headers, user_course, count_queries
):
    """GET /api/feed: the caller, the children's birth dates, the page with the total on
    its rows: 3 statements at 5 and 50 posts, 1 and 3 children, a page whole or cut by
    `limit`; an empty page past the end counts the total with a fourth."""
    counts = []
    for posts, children in ((SMALL, 1), (LARGE - SMALL, 3)):
        await insert_children(test_db, test_user.id, children - (1 if children == 3 else 0))
        await insert_course_content(test_db, [user_course.id], modules=1, posts=posts)
        for url in ("/api/feed?limit=50", "/api/feed?limit=2"):
            with count_queries() as counter:
                response = await client.get(url, headers=user_headers)
            assert response.status_code == 200
            counts.append(counter.count)
    with count_queries() as empty:
        response = await client.get("/api/feed?offset=1000", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == str(LARGE)
    assert counts == [3, 3, 3, 3]
    assert empty.count == 4


@pytest.mark.asyncio
async def test_list_events_and_statements_statement_count_same_at_5_and_50_events(
    client, test_db, test_user, manager_user, auth_headers, manager_headers, count_queries
):
    """GET /api/events (an admin's and a manager's, scoped) and GET /api/xapi/statements:
    two statements each at 5 and at 50 events."""
    group = Group(name=unique("g"), created_by=manager_user.id)
    async with test_db.session() as session:
        session.add(group)
        await session.flush()
        session.add_all(
            [
                GroupMember(group_id=group.id, user_id=manager_user.id, role="owner"),
                GroupMember(group_id=group.id, user_id=test_user.id, role="member"),
            ]
        )
        await session.commit()
    counts = []
    for total in (5, 50):
        await _events_of(test_db, test_user.id, total - (5 if total == 50 else 0))
        for url, headers in (
            ("/api/events?limit=1000", auth_headers),
            ("/api/events?limit=1000", manager_headers),
            ("/api/xapi/statements?limit=1000", auth_headers),
        ):
            with count_queries() as queries:
                response = await client.get(url, headers=headers)
            assert response.status_code == 200
            body = response.json()
            assert len(body if isinstance(body, list) else body["statements"]) == total
            counts.append(queries.count)

    assert counts == [EVENTS_STATEMENTS] * 6


# --- translated reads (docs/contracts/translations.md, "Statements") -----------------------


async def translate_all(test_db, language="es"):
    """A `language` translation of every course, module and post in the database."""
    from tma.i18n.models import Translation

    now = utcnow()
    async with test_db.session() as session:
        for model, key in ((Course, "course_id"), (Module, "module_id"), (Post, "post_id")):
            for object_id in (await session.scalars(select(model.id))).all():
                session.add(
                    Translation(
                        **{key: object_id},
                        language=language,
                        fields={"title": f"{language} {object_id}"},
                        created_at=now,
                        updated_at=now,
                    )
                )
        await session.commit()


@pytest.mark.asyncio
async def test_translated_course_reads_add_one_statement_at_5_and_50_modules(
    client, auth_headers, test_db, count_queries
):
    """GET /api/courses/{course_id} in Spanish: no statement more (its one statement joins
    the translations of the course and every module); its outline and the course list:
    one more (the translations of every row at once); at 5 modules and at 50; asking for
    the default language (`en`) adds none."""
    [small_id] = await insert_courses(test_db, 1, modules=SMALL)
    [large_id] = await insert_courses(test_db, 1, modules=LARGE)
    await translate_all(test_db)
    es = {**auth_headers, "Accept-Language": "es"}
    en = {**auth_headers, "Accept-Language": "en"}

    detail = [
        await statements_for(client, count_queries, f"/api/courses/{cid}", es, n)
        for cid, n in ((small_id, SMALL), (large_id, LARGE))
    ]
    outline = [
        await statements_for(client, count_queries, f"/api/courses/{cid}/modules", es, n)
        for cid, n in ((small_id, SMALL), (large_id, LARGE))
    ]
    default = await statements_for(client, count_queries, f"/api/courses/{large_id}", en, LARGE)
    listed = await statements_for(client, count_queries, "/api/courses", es, 2)

    assert detail == [DETAIL_STATEMENTS] * 2
    assert outline == [LIST_STATEMENTS + 1 + 1] * 2  # the outline's course check, then +1
    assert default == DETAIL_STATEMENTS
    assert listed == LIST_STATEMENTS + 1


@pytest.mark.asyncio
async def test_translated_module_and_posts_add_one_statement_at_5_and_50_posts(
    client, user_headers, test_user, admin_user, test_db, count_queries
):
    """GET /api/modules/{module_id} and GET /api/posts?module_id= in Spanish, as a `user`:
    one statement more than without, at 5 posts and at 50."""
    course_id = await visible_course_id(test_db, test_user.id, admin_user.id)
    small_id, _ = await insert_module_with_posts(test_db, SMALL, course_id=course_id)
    large_id, _ = await insert_module_with_posts(test_db, LARGE, course_id=course_id)
    await translate_all(test_db)
    es = {**user_headers, "Accept-Language": "es"}

    counts = []
    for module_id, expected in ((small_id, SMALL), (large_id, LARGE)):
        for url in (f"/api/modules/{module_id}", f"/api/posts?module_id={module_id}"):
            with count_queries() as queries:
                response = await client.get(url, headers=es)
            assert response.status_code == 200
            body = response.json()
            posts = body if isinstance(body, list) else body["posts"]
            assert len(posts) == expected
            assert all(post["title"] == f"es {post['id']}" for post in posts)
            counts.append(queries.count)
        with count_queries() as plain:
            response = await client.get(f"/api/modules/{module_id}", headers=user_headers)
        assert response.status_code == 200
        counts.append(plain.count)

    assert counts == [DETAIL_STATEMENTS + 1, LIST_STATEMENTS + 1, DETAIL_STATEMENTS] * 2
