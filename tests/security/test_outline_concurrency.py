"""Races on a course's outline: many simultaneous links, moves and unlinks of one course
must leave its modules at positions 1..n with no duplicate and no gap, and never a 500.

PostgreSQL only (SQLite runs one writer at a time): each request has its own session and
connection, so the course-row lock is what keeps the positions right.
"""

import asyncio
from collections import Counter

import httpx
import pytest

Headers = dict[str, str]

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


async def _positions(client: httpx.AsyncClient, headers: Headers, course_id: int) -> list[int]:
    response = await client.get(f"/api/courses/{course_id}/modules", headers=headers)
    assert response.status_code == 200
    return [item["ordering"] for item in response.json()]


@pytest.mark.asyncio
async def test_link_20_modules_at_position_1_at_once_keeps_positions_contiguous(
    client: httpx.AsyncClient, auth_headers: Headers, make_course, make_module
) -> None:
    """20 simultaneous links into one course, all asking for position 1: twenty 201s and
    positions exactly 1..20 afterwards."""
    course = await make_course()
    modules = [await make_module() for _ in range(20)]

    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/courses/{course.id}/modules/{m.id}",
                json={"ordering": 1},
                headers=auth_headers,
            )
            for m in modules
        )
    )

    assert Counter(r.status_code for r in responses) == {201: 20}
    assert await _positions(client, auth_headers, course.id) == list(range(1, 21))


@pytest.mark.asyncio
async def test_links_moves_and_unlinks_at_once_keep_positions_contiguous(
    client: httpx.AsyncClient, auth_headers: Headers, make_course, make_module
) -> None:
    """10 modules in a course; at once: 10 more linked at position 2, each of the first 10
    moved to position 1 or unlinked (alternately): every answer 2xx, and the course then
    holds 15 modules at 1..15."""
    course = await make_course()
    first = [await make_module(course=course) for _ in range(10)]
    more = [await make_module() for _ in range(10)]
    url = f"/api/courses/{course.id}/modules"
    calls = [
        client.post(f"{url}/{m.id}", json={"ordering": 2}, headers=auth_headers) for m in more
    ] + [
        client.patch(f"{url}/{m.id}", json={"ordering": 1}, headers=auth_headers)
        if i % 2
        else client.delete(f"{url}/{m.id}", headers=auth_headers)
        for i, m in enumerate(first)
    ]

    responses = await asyncio.gather(*calls)

    assert Counter(r.status_code for r in responses) == {201: 10, 200: 5, 204: 5}
    assert await _positions(client, auth_headers, course.id) == list(range(1, 16))


@pytest.mark.asyncio
async def test_delete_module_in_many_courses_while_they_change_keeps_positions_contiguous(
    client: httpx.AsyncClient, auth_headers: Headers, make_course, make_module, link_module
) -> None:
    """A module in 5 courses is deleted while modules are linked into those courses at
    position 1: no 500, every course ends with contiguous positions and without it."""
    courses = [await make_course() for _ in range(5)]
    doomed = await make_module()
    for course in courses:
        await make_module(course=course)
        await link_module(course, doomed, ordering=1)
    newcomers = [await make_module() for _ in courses]

    responses = await asyncio.gather(
        client.delete(f"/api/modules/{doomed.id}", headers=auth_headers),
        *(
            client.post(
                f"/api/courses/{c.id}/modules/{m.id}", json={"ordering": 1}, headers=auth_headers
            )
            for c, m in zip(courses, newcomers, strict=True)
        ),
    )

    assert Counter(r.status_code for r in responses) == {204: 1, 201: 5}
    for course in courses:
        assert await _positions(client, auth_headers, course.id) == [1, 2]
