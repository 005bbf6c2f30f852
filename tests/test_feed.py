"""Contract tests for GET /api/feed: a parent's next posts across their open modules, in
course assignment order, then module order, then post order, fitted to their children's
ages (whole months, on the app's clock), with `child_ids`.

Contract: docs/contracts/feed.md.
"""

from datetime import date

import pytest

FEED = "/api/feed"


async def set_ages(client, headers, module=None, post=None, *, low=None, high=None):
    """Give a module or a post an age range through the API (admin headers)."""
    path = f"/api/modules/{module.id}" if module is not None else f"/api/posts/{post.id}"
    response = await client.patch(
        path, json={"min_age_months": low, "max_age_months": high}, headers=headers
    )
    assert response.status_code == 200


async def add_child(client, headers, name, birth_date):
    response = await client.post(
        "/api/auth/me/children", json={"name": name, "birth_date": birth_date}, headers=headers
    )
    assert response.status_code == 201
    return response.json()["id"]


async def feed_ids(client, headers, **params):
    response = await client.get(FEED, params=params, headers=headers)
    assert response.status_code == 200
    return [item["post_id"] for item in response.json()]


@pytest.mark.asyncio
async def test_feed_lists_next_posts_in_course_module_post_order(
    client,
    user_headers,
    test_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    make_post,
    clock,
):
    """Courses in assignment order, modules in course order, posts in module order; each
    item exactly as the contract shapes it; child_ids [] without any range."""
    group = await make_group()
    await add_member(group, test_user)
    second_course = await make_course(title="Second")
    first_course = await make_course(title="First")
    await assign_course(group, first_course)
    await assign_course(group, second_course)
    m2 = await make_module(title="M2", course=first_course)
    m1 = await make_module(title="M1", course=first_course, ordering=1)
    m3 = await make_module(title="M3", course=second_course)
    p_m1_b = await make_post(m1, title="B")
    p_m1_a = await make_post(m1, title="A", ordering=1)
    p_m2 = await make_post(m2, title="C", post_type="video")
    p_m3 = await make_post(m3, title="D")

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert response.json() == [
        {
            "post_id": p_m1_a.id,
            "title": "A",
            "post_type": "default",
            "module_id": m1.id,
            "module_title": "M1",
            "course_id": first_course.id,
            "course_title": "First",
            "child_ids": [],
        },
        {
            "post_id": p_m1_b.id,
            "title": "B",
            "post_type": "default",
            "module_id": m1.id,
            "module_title": "M1",
            "course_id": first_course.id,
            "course_title": "First",
            "child_ids": [],
        },
        {
            "post_id": p_m2.id,
            "title": "C",
            "post_type": "video",
            "module_id": m2.id,
            "module_title": "M2",
            "course_id": first_course.id,
            "course_title": "First",
            "child_ids": [],
        },
        {
            "post_id": p_m3.id,
            "title": "D",
            "post_type": "default",
            "module_id": m3.id,
            "module_title": "M3",
            "course_id": second_course.id,
            "course_title": "Second",
            "child_ids": [],
        },
    ]


@pytest.mark.asyncio
async def test_feed_leaves_out_completed_keeps_in_progress(
    client, user_headers, user_course, make_module, make_post, clock
):
    """A completed post is gone from the feed; one in progress stays, in its place."""
    module = await make_module(course=user_course)
    done, started, fresh = (
        (await make_post(module) for _ in range(3))
        if False
        else (
            await make_post(module),
            await make_post(module),
            await make_post(module),
        )
    )
    for post, status in ((done, "completed"), (started, "in_progress")):
        put = await client.put(
            f"/api/progress/{post.id}", json={"status": status}, headers=user_headers
        )
        assert put.status_code == 200

    assert await feed_ids(client, user_headers) == [started.id, fresh.id]


@pytest.mark.asyncio
async def test_feed_leaves_out_scheduled_and_locked_modules(
    client, auth_headers, user_headers, user_course, make_module, link_module, make_post, clock
):
    """Only open modules: one released later and, in a sequential course, one after an
    unfinished module are left out until they open."""
    first = await make_module(course=user_course)
    later = await make_module()
    await link_module(user_course, later, release_after_days=3)
    first_post = await make_post(first)
    later_post = await make_post(later)

    assert await feed_ids(client, user_headers) == [first_post.id]
    clock.advance(days=3)
    assert await feed_ids(client, user_headers) == [first_post.id, later_post.id]
    sequential = await client.patch(
        f"/api/courses/{user_course.id}", json={"sequential": True}, headers=auth_headers
    )
    assert sequential.status_code == 200
    assert await feed_ids(client, user_headers) == [first_post.id]


@pytest.mark.asyncio
async def test_feed_shows_nothing_of_courses_the_parent_does_not_see(
    client, user_headers, test_user, make_course, make_module, make_post
):
    """A module of a course assigned to no group of the parent's is not in the feed."""
    course = await make_course()
    module = await make_module(course=course)
    await make_post(module)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.asyncio
async def test_feed_lists_a_post_of_a_shared_module_once_under_the_first_course(
    client,
    user_headers,
    test_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    link_module,
    make_post,
    clock,
):
    """A module in two of the parent's courses: its posts once, under the first course."""
    group = await make_group()
    await add_member(group, test_user)
    first, second = await make_course(title="One"), await make_course(title="Two")
    await assign_course(group, first)
    await assign_course(group, second)
    shared = await make_module()
    await link_module(second, shared)
    await link_module(first, shared)
    post = await make_post(shared)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert [(i["post_id"], i["course_id"]) for i in response.json()] == [(post.id, first.id)]


@pytest.mark.asyncio
async def test_feed_fits_posts_to_children_with_child_ids(
    client, auth_headers, user_headers, user_course, make_module, make_post, clock
):
    """Posts fitting no child are left out; each item names the children who fit both the
    post's and the module's range ([] when neither has one). Clock 2026-03-05: Ana 6
    months, Ben 30 months."""
    ana = await add_child(client, user_headers, "Ana", "2025-09-05")
    ben = await add_child(client, user_headers, "Ben", "2023-09-05")
    module = await make_module(course=user_course)
    for_all = await make_post(module)
    for_babies = await make_post(module)
    for_toddlers = await make_post(module)
    for_nobody = await make_post(module)
    await set_ages(client, auth_headers, post=for_babies, low=0, high=12)
    await set_ages(client, auth_headers, post=for_toddlers, low=24, high=None)
    await set_ages(client, auth_headers, post=for_nobody, low=100, high=120)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert [(i["post_id"], i["child_ids"]) for i in response.json()] == [
        (for_all.id, []),
        (for_babies.id, [ana]),
        (for_toddlers.id, [ben]),
    ]


@pytest.mark.asyncio
async def test_feed_one_child_must_fit_both_post_and_module(
    client, auth_headers, user_headers, user_course, make_module, make_post, clock
):
    """Module for 0-12 months, post for 24+ months: Ana (6) fits the module only, Ben (30)
    the post only: nobody fits both, the post is left out; a post of the module without
    a range is listed for Ana (the module's range names her)."""
    ana = await add_child(client, user_headers, "Ana", "2025-09-05")
    await add_child(client, user_headers, "Ben", "2023-09-05")
    module = await make_module(course=user_course)
    await set_ages(client, auth_headers, module=module, low=0, high=12)
    mismatched = await make_post(module)
    plain = await make_post(module)
    await set_ages(client, auth_headers, post=mismatched, low=24, high=None)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert [(i["post_id"], i["child_ids"]) for i in response.json()] == [(plain.id, [ana])]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("birth", "today", "listed"),
    [
        ("2025-03-05", "2026-03-05T00:00:00Z", True),  # exactly 12 months today
        ("2025-03-05", "2026-03-04T23:59:59Z", False),  # 11 months the day before
        ("2024-02-29", "2025-02-28T08:00:00Z", True),  # born 29 February: 12 on the 28th
        ("2024-02-29", "2025-02-27T08:00:00Z", False),
        ("2025-03-31", "2026-03-31T00:00:00Z", True),  # 12 months on the day
        ("2025-04-05", "2026-04-04T10:00:00Z", False),  # 11 months, one day short of 12
        ("2025-03-06", "2026-04-05T10:00:00Z", True),  # 12 months: the one-month range's end
        ("2025-03-05", "2026-04-05T10:00:00Z", False),  # 13: past the one-month range
    ],
)
async def test_feed_ages_at_the_edges_of_a_one_month_range(
    client,
    auth_headers,
    user_headers,
    test_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    make_post,
    clock,
    birth,
    today,
    listed,
):
    """A post for exactly 12 months (a range of one month): listed while the child is 12
    months old in whole months on the app's clock, not a day before or after (the course
    started long before, so the module is open on every day tried)."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course()
    await assign_course(group, course, start_date=date(2020, 1, 1))
    clock.set("2026-03-05T10:00:00Z")
    child = await add_child(client, user_headers, "Kim", birth)
    module = await make_module(course=course)
    post = await make_post(module)
    await set_ages(client, auth_headers, post=post, low=12, high=12)
    clock.set(today)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    expected = [(post.id, [child])] if listed else []
    assert [(i["post_id"], i["child_ids"]) for i in response.json()] == expected


@pytest.mark.asyncio
async def test_feed_profile_child_dob_stands_for_a_child_without_records(
    client,
    auth_headers,
    make_user,
    make_auth_headers,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    make_post,
    clock,
):
    """No child records but a profile `child_dob`: one child of that age, id 0; once a
    record exists, the records alone count."""
    parent = await make_user(child_dob="2025-09-05")  # 6 months on the clock's day
    headers = make_auth_headers(parent)
    group = await make_group()
    await add_member(group, parent)
    course = await make_course()
    await assign_course(group, course)
    module = await make_module(course=course)
    baby = await make_post(module)
    older = await make_post(module)
    await set_ages(client, auth_headers, post=baby, low=0, high=12)
    await set_ages(client, auth_headers, post=older, low=36, high=None)

    response = await client.get(FEED, headers=headers)

    assert response.status_code == 200
    assert [(i["post_id"], i["child_ids"]) for i in response.json()] == [(baby.id, [0])]
    record = await add_child(client, headers, "Older", "2022-01-01")
    again = await client.get(FEED, headers=headers)
    assert [(i["post_id"], i["child_ids"]) for i in again.json()] == [(older.id, [record])]


@pytest.mark.asyncio
async def test_feed_parent_without_known_child_is_not_filtered(
    client, auth_headers, user_headers, user_course, make_module, make_post, clock
):
    """No records and no child_dob: every post, child_ids [] even for a ranged one."""
    module = await make_module(course=user_course)
    ranged = await make_post(module)
    await set_ages(client, auth_headers, post=ranged, low=100, high=200)

    response = await client.get(FEED, headers=user_headers)

    assert response.status_code == 200
    assert [(i["post_id"], i["child_ids"]) for i in response.json()] == [(ranged.id, [])]


@pytest.mark.asyncio
async def test_feed_limit_defaults_to_10_and_pages(
    client, user_headers, user_course, make_module, make_post, clock
):
    """Default limit 10; limit/offset window the list; X-Total-Count counts all of it."""
    module = await make_module(course=user_course)
    posts = [await make_post(module) for _ in range(12)]

    first = await client.get(FEED, headers=user_headers)
    window = await client.get(FEED, params={"limit": 2, "offset": 10}, headers=user_headers)

    assert (first.status_code, window.status_code) == (200, 200)
    assert [i["post_id"] for i in first.json()] == [p.id for p in posts[:10]]
    assert first.headers["X-Total-Count"] == "12"
    assert [i["post_id"] for i in window.json()] == [p.id for p in posts[10:]]
    assert window.headers["X-Total-Count"] == "12"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 51}, {"limit": "x"}, {"offset": -1}, {"child_id": 1}],
    ids=["limit-0", "limit-51", "limit-text", "offset-negative", "unknown"],
)
async def test_feed_bad_query_returns_422(client, user_headers, params):
    """limit outside 1-50, a bad offset, an unknown parameter: 422."""
    response = await client.get(FEED, params=params, headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_feed_staff_returns_403(client, make_user, make_auth_headers, role):
    """The feed is a parent's: staff get 403."""
    staff = await make_user(role=role)

    response = await client.get(FEED, headers=make_auth_headers(staff))

    assert response.status_code == 403
    assert response.json() == {"detail": "The feed is for parents (system role user)"}


@pytest.mark.asyncio
async def test_feed_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.get(FEED, headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_feed_without_token_returns_401(client, test_db):
    """No token: 401."""
    response = await client.get(FEED)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_feed_clock_start_is_the_documented_day():
    """The tests above read ages on the clock fixture's first day, 2026-03-05."""
    from conftest import CLOCK_START

    assert CLOCK_START.date() == date(2026, 3, 5)
