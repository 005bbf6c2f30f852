"""Races at the database: simultaneous requests must leave exactly one winner, answer the
losers with the same 400 as the sequential check, and never end in a 500 or a broken rule.

PostgreSQL only: SQLite runs one writer at a time, so it cannot show these races. The ASGI
client sends the requests at once on one event loop; each request has its own session and
connection from the pool, which is real concurrency at the database.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tma.groups.models import Group
from tma.users.models import User

Headers = dict[str, str]

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


@pytest.mark.asyncio
async def test_register_same_username_20_times_at_once_returns_one_201_rest_400(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """20 simultaneous registrations of one username (in different letter cases): exactly
    one 201, 19 times 400 "already registered", no 500, and one account afterwards."""
    bodies = [
        {"username": "racer" if i % 2 else "RACER", "email": f"racer{i}@test.com"}
        for i in range(20)
    ]

    responses = await asyncio.gather(
        *(client.post("/api/auth/register", json={**b, "password": "pw-123456"}) for b in bodies)
    )

    assert Counter(r.status_code for r in responses) == {201: 1, 400: 19}
    for response in responses:
        if response.status_code == 400:
            assert response.json()["detail"] in (
                "Username already registered",
                "Username or email already registered",
            )
    users = (await client.get("/api/users", headers=auth_headers)).json()
    assert sorted(u["username"].lower() for u in users) == ["admin", "racer"]


@pytest.mark.asyncio
async def test_add_member_same_user_10_times_at_once_returns_one_201_rest_400(
    client: httpx.AsyncClient,
    test_user: User,
    manager_headers: Headers,
    make_group: Callable[..., Awaitable[Group]],
) -> None:
    """Adding one user to one group 10 times at once: one 201, the rest 400 "already a
    member", and the user is in the group once."""
    group = await make_group(name="Busy group")
    url = f"/api/groups/{group.id}/members/{test_user.id}"

    responses = await asyncio.gather(
        *(client.post(url, headers=manager_headers) for _ in range(10))
    )

    assert Counter(r.status_code for r in responses) == {201: 1, 400: 9}
    assert {r.json()["detail"] for r in responses if r.status_code == 400} == {
        "User is already a member of this group"
    }
    detail = (await client.get(f"/api/groups/{group.id}", headers=manager_headers)).json()
    assert sorted(m["username"] for m in detail["members"]) == ["manager", "testuser"]
    assert detail["member_count"] == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("change", ["remove", "demote"])
async def test_last_two_owners_remove_each_other_at_once_group_keeps_an_owner(
    client: httpx.AsyncClient,
    manager_user: User,
    auth_headers: Headers,
    make_user: Callable[..., Awaitable[User]],
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
    change: str,
) -> None:
    """The group's only two owners are removed (or demoted) at the same moment by an admin,
    five groups in a row: each time exactly one change succeeds, the other gets 400 "last
    owner", and the group still has exactly one owner. (An admin acts: an owner who has
    just lost the role may no longer change the group's members, 403, see
    test_two_owners_removing_each_other_at_once_keep_one_owner.)"""
    co_owner = await make_user(username="co-owner", role="manager")
    for round_ in range(5):
        group = await make_group(name=f"Two owners {round_}")
        await add_member(group, co_owner, role="owner")
        base = f"/api/groups/{group.id}/members"

        async def act(user_id: int, base: str = base) -> httpx.Response:
            if change == "remove":
                return await client.delete(f"{base}/{user_id}", headers=auth_headers)
            return await client.patch(
                f"{base}/{user_id}/role", json={"role": "member"}, headers=auth_headers
            )

        responses = await asyncio.gather(act(manager_user.id), act(co_owner.id))

        success = 204 if change == "remove" else 200
        assert sorted(r.status_code for r in responses) == sorted([success, 400])
        refused = next(r for r in responses if r.status_code == 400)
        verb = "remove" if change == "remove" else "demote"
        assert refused.json() == {"detail": f"Cannot {verb} the last owner of the group"}
        detail = (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).json()
        assert [m["group_role"] for m in detail["members"]].count("owner") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("change", ["remove", "demote"])
async def test_two_owners_removing_each_other_at_once_keep_one_owner(
    client: httpx.AsyncClient,
    manager_user: User,
    manager_headers: Headers,
    auth_headers: Headers,
    make_user: Callable[..., Awaitable[User]],
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
    make_auth_headers: Callable[[User], Headers],
    change: str,
) -> None:
    """The group's only two owners (managers) remove (or demote) each other at the same
    moment, five groups in a row: the changes run one at a time under the group's lock, so
    exactly one succeeds and the other owner, who is no longer one when their change runs,
    gets 403 "You may only change the members of groups you own or moderate" (a demoted
    owner is a plain member); the group keeps exactly one owner."""
    co_owner = await make_user(username="co-owner", role="manager")
    co_headers = make_auth_headers(co_owner)
    for round_ in range(5):
        group = await make_group(name=f"Two owners {round_}")
        await add_member(group, co_owner, role="owner")
        base = f"/api/groups/{group.id}/members"

        async def act(user_id: int, headers: Headers, base: str = base) -> httpx.Response:
            if change == "remove":
                return await client.delete(f"{base}/{user_id}", headers=headers)
            return await client.patch(
                f"{base}/{user_id}/role", json={"role": "member"}, headers=headers
            )

        responses = await asyncio.gather(
            act(co_owner.id, manager_headers), act(manager_user.id, co_headers)
        )

        success = 204 if change == "remove" else 200
        assert sorted(r.status_code for r in responses) == sorted([success, 403])
        refused = next(r for r in responses if r.status_code == 403)
        assert refused.json() == {
            "detail": "You may only change the members of groups you own or moderate"
        }
        detail = (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).json()
        assert [m["group_role"] for m in detail["members"]].count("owner") == 1
