"""Age ranges on modules and posts (`min_age_months`, `max_age_months`: null = no bound,
0-216, min <= max): written by admins, read back by staff and parents.

Contract: docs/contracts/modules.md and docs/contracts/posts.md ("Age range").
"""

import pytest

AGE_ERROR = "min_age_months must not be greater than max_age_months"


@pytest.mark.asyncio
async def test_create_module_with_age_range_returns_201_and_reads_back(client, auth_headers):
    """A module is created with both bounds; the list shows them."""
    response = await client.post(
        "/api/modules",
        json={"title": "Toddlers", "min_age_months": 12, "max_age_months": 36},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["min_age_months"], body["max_age_months"]) == (12, 36)
    listed = await client.get("/api/modules", headers=auth_headers)
    assert listed.status_code == 200
    assert [(m["min_age_months"], m["max_age_months"]) for m in listed.json()] == [(12, 36)]


@pytest.mark.asyncio
async def test_create_module_one_month_range_and_edges_returns_201(client, auth_headers):
    """A range of one month (min = max) and the bounds 0 and 216 are accepted."""
    one = await client.post(
        "/api/modules",
        json={"title": "Six", "min_age_months": 6, "max_age_months": 6},
        headers=auth_headers,
    )
    edges = await client.post(
        "/api/modules",
        json={"title": "All", "min_age_months": 0, "max_age_months": 216},
        headers=auth_headers,
    )

    assert (one.status_code, edges.status_code) == (201, 201)
    assert (one.json()["min_age_months"], one.json()["max_age_months"]) == (6, 6)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"min_age_months": -1}, ["body", "min_age_months"]),
        ({"max_age_months": 217}, ["body", "max_age_months"]),
        ({"min_age_months": True}, ["body", "min_age_months"]),
        ({"min_age_months": "6"}, ["body", "min_age_months"]),
        ({"min_age_months": 1.5}, ["body", "min_age_months"]),
        ({"min_age_months": 24, "max_age_months": 12}, ["body"]),
    ],
    ids=["negative", "over-216", "boolean", "text", "fraction", "min-over-max"],
)
async def test_create_module_bad_age_range_returns_422(client, auth_headers, body, loc):
    """A bound out of 0-216, not an integer, or min > max: 422, nothing created."""
    response = await client.post("/api/modules", json={"title": "M", **body}, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    listed = await client.get("/api/modules", headers=auth_headers)
    assert listed.json() == []


@pytest.mark.asyncio
async def test_update_module_age_bound_alone_past_the_stored_one_returns_400(
    client, auth_headers, make_module
):
    """PATCH of one bound that would pass the stored other: 400, nothing changed."""
    module = await make_module()
    first = await client.patch(
        f"/api/modules/{module.id}", json={"max_age_months": 12}, headers=auth_headers
    )

    response = await client.patch(
        f"/api/modules/{module.id}", json={"min_age_months": 13}, headers=auth_headers
    )

    assert first.status_code == 200
    assert response.status_code == 400
    assert response.json() == {"detail": AGE_ERROR}
    read = await client.get(f"/api/modules/{module.id}", headers=auth_headers)
    assert read.status_code == 200
    assert (read.json()["min_age_months"], read.json()["max_age_months"]) == (None, 12)


@pytest.mark.asyncio
async def test_update_module_clears_a_bound_with_null(client, auth_headers, make_module):
    """`null` removes a bound; the other stays."""
    module = await make_module()
    await client.patch(
        f"/api/modules/{module.id}",
        json={"min_age_months": 3, "max_age_months": 9},
        headers=auth_headers,
    )

    response = await client.patch(
        f"/api/modules/{module.id}", json={"min_age_months": None}, headers=auth_headers
    )

    assert response.status_code == 200
    assert (response.json()["min_age_months"], response.json()["max_age_months"]) == (None, 9)


@pytest.mark.asyncio
async def test_user_sees_module_and_post_age_ranges(
    client, auth_headers, user_headers, user_course, make_module, make_post
):
    """A parent reads the ranges in the module detail and its posts."""
    module = await make_module(course=user_course)
    post = await make_post(module)
    await client.patch(
        f"/api/modules/{module.id}",
        json={"min_age_months": 0, "max_age_months": 24},
        headers=auth_headers,
    )
    await client.patch(
        f"/api/posts/{post.id}",
        json={"min_age_months": 6, "max_age_months": 6},
        headers=auth_headers,
    )

    response = await client.get(f"/api/modules/{module.id}", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["min_age_months"], body["max_age_months"]) == (0, 24)
    assert [(p["min_age_months"], p["max_age_months"]) for p in body["posts"]] == [(6, 6)]


@pytest.mark.asyncio
async def test_create_post_with_age_range_returns_201(client, auth_headers, make_module):
    """A post is created with its range; its detail shows it."""
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Peekaboo",
            "min_age_months": 6,
            "max_age_months": 18,
        },
        headers=auth_headers,
    )

    assert response.status_code == 201
    read = await client.get(f"/api/posts/{response.json()['id']}", headers=auth_headers)
    assert read.status_code == 200
    assert (read.json()["min_age_months"], read.json()["max_age_months"]) == (6, 18)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "ages",
    [{"min_age_months": 217}, {"max_age_months": -3}, {"min_age_months": 10, "max_age_months": 9}],
    ids=["over-216", "negative", "min-over-max"],
)
async def test_create_post_bad_age_range_returns_422(client, auth_headers, make_module, ages):
    """A bound out of range or min > max: 422, no post."""
    module = await make_module()

    response = await client.post(
        "/api/posts", json={"module_id": module.id, "title": "P", **ages}, headers=auth_headers
    )

    assert response.status_code == 422
    listed = await client.get(f"/api/posts?module_id={module.id}", headers=auth_headers)
    assert listed.json() == []


@pytest.mark.asyncio
async def test_update_post_age_bound_alone_past_the_stored_one_returns_400(
    client, auth_headers, make_module, make_post
):
    """PATCH of one bound past the stored other: 400, nothing changed."""
    module = await make_module()
    post = await make_post(module)
    await client.patch(f"/api/posts/{post.id}", json={"min_age_months": 24}, headers=auth_headers)

    response = await client.patch(
        f"/api/posts/{post.id}", json={"max_age_months": 23, "title": "New"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": AGE_ERROR}
    read = await client.get(f"/api/posts/{post.id}", headers=auth_headers)
    assert (read.json()["title"], read.json()["max_age_months"]) == (post.title, None)


@pytest.mark.asyncio
async def test_update_post_both_bounds_returns_200(client, auth_headers, make_module, make_post):
    """Both bounds sent at once replace the stored ones."""
    module = await make_module()
    post = await make_post(module)
    await client.patch(f"/api/posts/{post.id}", json={"min_age_months": 24}, headers=auth_headers)

    response = await client.patch(
        f"/api/posts/{post.id}",
        json={"min_age_months": 1, "max_age_months": 2},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert (response.json()["min_age_months"], response.json()["max_age_months"]) == (1, 2)
