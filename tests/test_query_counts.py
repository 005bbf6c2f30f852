"""Performance guard: a list or detail request issues a fixed number of SQL statements.

No query per row: the statements a request sends do not grow with the number of rows it
returns. Each test measures the same request at 5 and at 50 rows and expects the same
exact count both times: 2 for a whole list (the caller, then the rows; the total is their
number) and 3 when a `limit` cuts it short (plus one count), 2 for the group detail (the
caller, then the group joined with its members), 3 for a course detail (the caller, the
course, its modules).
Rows are inserted in bulk through `test_db.session()` to keep the tests fast.
"""

import pytest
from sqlalchemy import select

from factories import unique
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.users.models import Role, User

STATEMENTS_PER_REQUEST = 3
LIST_STATEMENTS = 2  # caller + rows; a window cut short by `limit` adds the count
GROUP_DETAIL_STATEMENTS = 2
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
    """GET /api/courses/{course_id}: course and its modules in 3 statements."""
    [small_id] = await insert_courses(test_db, 1, modules=SMALL)
    [large_id] = await insert_courses(test_db, 1, modules=LARGE)

    small = await statements_for(
        client, count_queries, f"/api/courses/{small_id}", auth_headers, SMALL
    )
    large = await statements_for(
        client, count_queries, f"/api/courses/{large_id}", auth_headers, LARGE
    )

    assert small == large == STATEMENTS_PER_REQUEST


@pytest.mark.asyncio
async def test_list_group_courses_statement_count_same_at_5_and_50_courses(
    client, auth_headers, admin_user, test_db, count_queries
):
    """GET /api/groups/{group_id}/courses: auth, group, data and count — 4 statements."""
    small_group, large_group = await insert_groups(test_db, 2, owner_id=admin_user.id)
    await insert_courses(test_db, SMALL, group_id=small_group)
    await insert_courses(test_db, LARGE, group_id=large_group)

    small = await statements_for(
        client, count_queries, f"/api/groups/{small_group}/courses", auth_headers, SMALL
    )
    large = await statements_for(
        client, count_queries, f"/api/groups/{large_group}/courses", auth_headers, LARGE
    )

    assert small == large == STATEMENTS_PER_REQUEST + 1


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
