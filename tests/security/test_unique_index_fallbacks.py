"""When a race slips past a service's uniqueness check, the database's unique index decides
and the loser gets the same 400 as the sequential check, never a 500.

The race is simulated, on both databases, by a check that finds nothing (real concurrent
requests are in test_concurrency.py, PostgreSQL only)."""

import pytest
from sqlalchemy import false

from tma.courses import service as courses_service
from tma.groups import service as groups_service
from tma.users import service as users_service


@pytest.mark.asyncio
async def test_register_race_past_uniqueness_check_returns_400(client, test_user, monkeypatch):
    """Two registrations that both pass the uniqueness check: the unique index decides and
    the loser gets the same kind of 400, never a 500 (the race is simulated by skipping the
    check)."""

    async def no_check(*args, **kwargs):
        return None

    monkeypatch.setattr(users_service, "_ensure_unique", no_check)

    response = await client.post(
        "/api/auth/register",
        json={"username": "testuser", "email": "other@test.com", "password": "a long secret"},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Username or email already registered"}


@pytest.mark.asyncio
async def test_update_user_email_race_past_uniqueness_check_returns_400(
    client, auth_headers, make_user, monkeypatch
):
    """An admin's e-mail change that passes the check while another account takes the
    address: the unique index decides and the change gets the same 400, never a 500, and
    nothing of it is stored (simulated by skipping the check)."""

    async def no_check(*args, **kwargs):
        return None

    await make_user(username="taken")
    user = await make_user(username="mover")
    monkeypatch.setattr(users_service, "_ensure_email_free", no_check)

    response = await client.patch(
        f"/api/users/{user.id}",
        json={"first_name": "Mo", "email": "TAKEN@test.com"},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already exists"}
    read_back = await client.get(f"/api/users/{user.id}", headers=auth_headers)
    assert read_back.status_code == 200
    assert (read_back.json()["email"], read_back.json()["first_name"]) == ("mover@test.com", None)


@pytest.mark.asyncio
async def test_add_member_race_past_membership_check_returns_400(
    client, auth_headers, manager_user, make_group, make_user, add_member, monkeypatch
):
    """Two adds of the same user that both pass the "already a member" check: the unique
    index decides and the loser gets the same 400 (simulated by a check that sees no one)."""
    group = await make_group()
    member = await make_user(username="member")
    await add_member(group, member)
    monkeypatch.setattr(groups_service, "_is_member", lambda group_id, user_id: false())

    response = await client.post(
        f"/api/groups/{group.id}/members/{member.id}", headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "User is already a member of this group"}


@pytest.mark.asyncio
async def test_assign_course_race_past_assignment_check_returns_400(
    client, auth_headers, make_group, make_course, assign_course, monkeypatch
):
    """Two assignments of the same course that both pass the "already assigned" check: the
    unique index decides and the loser gets the same 400 (simulated by a check that finds
    nothing)."""

    class _FindsNothing:
        def where(self, *clauses):
            return false()

    group = await make_group()
    course = await make_course()
    await assign_course(group, course)
    monkeypatch.setattr(courses_service, "exists", _FindsNothing)

    response = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Course is already assigned to this group"}
