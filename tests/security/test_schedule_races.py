"""Staged races of the release schedule (courses.md "Availability", groups.md PATCH
/api/groups/{group_id}/courses/{course_id}): another transaction (`held_transaction`)
changes the assignment first and keeps its transaction open; the request waits for it, and
meets exactly the state a lost race leaves. On PostgreSQL the request waits for the
assignment's row lock; on SQLite for the database's write lock."""

import asyncio
from datetime import date

import pytest


@pytest.mark.asyncio
async def test_moving_the_start_while_the_course_is_unassigned_is_404_never_500(
    client, manager_headers, make_group, make_course, assign_course, held_transaction
):
    """PATCH of the start while another request takes the course away from the group:
    the PATCH waits, then answers 404 (the assignment is gone), and nothing is left."""
    group, course = await make_group(), await make_course()
    await assign_course(group, course)
    await held_transaction.execute(
        "DELETE FROM group_courses WHERE group_id = :group_id AND course_id = :course_id",
        group_id=group.id,
        course_id=course.id,
    )

    request = asyncio.create_task(
        client.patch(
            f"/api/groups/{group.id}/courses/{course.id}",
            json={"start_date": "2026-05-01"},
            headers=manager_headers,
        )
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request
    listed = await client.get(f"/api/groups/{group.id}/courses", headers=manager_headers)

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"Assignment not found: course {course.id} is not assigned to this group"
    }
    assert listed.json() == []


@pytest.mark.asyncio
async def test_two_starts_set_at_once_the_later_wins_whole(
    client, manager_headers, make_group, make_course, assign_course, held_transaction
):
    """PATCH of the start while another transaction moves it: the request waits for it and
    then writes its own day over it (200, the request's day stays)."""
    group, course = await make_group(), await make_course()
    await assign_course(group, course)
    await held_transaction.execute(
        "UPDATE group_courses SET start_date = :day "
        "WHERE group_id = :group_id AND course_id = :course_id",
        day=date(2026, 4, 1),
        group_id=group.id,
        course_id=course.id,
    )

    request = asyncio.create_task(
        client.patch(
            f"/api/groups/{group.id}/courses/{course.id}",
            json={"start_date": "2026-05-01"},
            headers=manager_headers,
        )
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request
    listed = await client.get(f"/api/groups/{group.id}/courses", headers=manager_headers)

    assert response.status_code == 200
    assert response.json()["start_date"] == "2026-05-01"
    assert [c["start_date"] for c in listed.json()] == ["2026-05-01"]
