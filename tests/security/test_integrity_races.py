"""Writes racing deletes (issue 13, items 1, 2 and 7): whichever request the database serves
first, every answer is the one the sequential order would give (success, 404, 401 or the
documented 400), never a 500, and the rules still hold afterwards.

PostgreSQL only, like tests/security/test_concurrency.py: SQLite runs one writer at a time.
Each test runs 50 rounds; each round sends the two requests at once through the ASGI client
(each request has its own session and pooled connection: real concurrency at the database).
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tma.courses.models import Course
from tma.groups.models import Group
from tma.users.models import User

Headers = dict[str, str]
MakeUser = Callable[..., Awaitable[User]]
ROUNDS = 50

pytestmark = pytest.mark.postgresql  # SQLite runs one writer at a time


def _no_5xx(seen: Counter[int]) -> None:
    assert not [code for code in seen if code >= 500], seen


# --- item 1: a write racing a delete of the same row ---------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("write", ["profile", "status", "role", "old_status", "old_role"])
async def test_patch_user_racing_delete_of_user_returns_200_or_404_never_500(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser, write: str
) -> None:
    """Item 1: PATCH /api/users/{id} (or /status, /role, or the older /api/auth/users doors)
    sent while the same user is deleted: the write succeeds (200) or finds the user gone
    (404 "User <id> not found"); the delete answers 204; never a 500, 50 rounds."""
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        user = await make_user()
        url = f"/api/users/{user.id}"
        request = {
            "profile": ("PATCH", url, {"first_name": "Raced"}),
            "status": ("PATCH", f"{url}/status", {"is_active": False}),
            "role": ("PATCH", f"{url}/role", {"role": "manager"}),
            "old_status": (
                "PATCH",
                "/api/auth/users/disable",
                {"user_id": user.id, "is_active": False},
            ),
            "old_role": ("PATCH", "/api/auth/users/role", {"user_id": user.id, "role": "manager"}),
        }[write]
        method, path, body = request
        patched, deleted = await asyncio.gather(
            client.request(method, path, json=body, headers=auth_headers),
            client.delete(url, headers=auth_headers),
        )
        seen.update([patched.status_code, deleted.status_code])
        assert deleted.status_code == 204, deleted.text
        assert patched.status_code in (200, 404), patched.text
        if patched.status_code == 404:
            assert patched.json() == {"detail": f"User {user.id} not found"}
    _no_5xx(seen)


@pytest.mark.asyncio
async def test_patch_me_racing_delete_of_caller_returns_200_or_401_never_500(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """Item 1: PATCH /api/auth/me while an admin deletes the caller: 200 if the edit came
    first, else 401 "Could not validate credentials" (the caller is gone); never 500."""
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        user = await make_user()
        patched, deleted = await asyncio.gather(
            client.patch(
                "/api/auth/me", json={"first_name": "Me"}, headers=make_auth_headers(user)
            ),
            client.delete(f"/api/users/{user.id}", headers=auth_headers),
        )
        seen.update([patched.status_code, deleted.status_code])
        assert deleted.status_code == 204, deleted.text
        assert patched.status_code in (200, 401), patched.text
        if patched.status_code == 401:
            assert patched.json() == {"detail": "Could not validate credentials"}
    _no_5xx(seen)


@pytest.mark.asyncio
async def test_patch_group_racing_delete_of_group_returns_200_or_404_never_500(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    make_group: Callable[..., Awaitable[Group]],
) -> None:
    """Item 1: PATCH /api/groups/{id} while the group is deleted: 200 or 404
    "Group <id> not found", the delete 204; never 500, 50 rounds."""
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        group = await make_group()
        url = f"/api/groups/{group.id}"
        patched, deleted = await asyncio.gather(
            client.patch(url, json={"name": "Renamed"}, headers=manager_headers),
            client.delete(url, headers=manager_headers),
        )
        seen.update([patched.status_code, deleted.status_code])
        assert deleted.status_code == 204, deleted.text
        assert patched.status_code in (200, 404), patched.text
        if patched.status_code == 404:
            assert patched.json() == {"detail": f"Group {group.id} not found"}
    _no_5xx(seen)


@pytest.mark.asyncio
async def test_patch_course_racing_delete_of_course_returns_200_or_404_never_500(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_course: Callable[..., Awaitable[Course]],
) -> None:
    """Item 1: PATCH /api/courses/{id} while the course is deleted: 200 or 404
    "Course <id> not found", the delete 204; never 500, 50 rounds."""
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        course = await make_course()
        url = f"/api/courses/{course.id}"
        patched, deleted = await asyncio.gather(
            client.patch(url, json={"title": "Renamed"}, headers=auth_headers),
            client.delete(url, headers=auth_headers),
        )
        seen.update([patched.status_code, deleted.status_code])
        assert deleted.status_code == 204, deleted.text
        assert patched.status_code in (200, 404), patched.text
        if patched.status_code == 404:
            assert patched.json() == {"detail": f"Course {course.id} not found"}
    _no_5xx(seen)


# --- item 2: creations and deletes racing deletes ------------------------------------------


@pytest.mark.asyncio
async def test_create_group_racing_delete_of_creator_returns_201_or_401_never_500(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """Item 2: a manager creates a group while an admin deletes that manager. Either the
    group came first (201; the manager is then its last owner, so the delete is refused
    with 400 naming it), or the delete did (204; the creation answers 401 "Could not
    validate credentials", the caller having vanished). Never 500, 50 rounds."""
    seen: Counter[int] = Counter()
    for round_ in range(ROUNDS):
        creator = await make_user(role="manager")
        name = f"Raced group {round_}"
        created, deleted = await asyncio.gather(
            client.post("/api/groups", json={"name": name}, headers=make_auth_headers(creator)),
            client.delete(f"/api/users/{creator.id}", headers=auth_headers),
        )
        seen.update([created.status_code, deleted.status_code])
        assert sorted([created.status_code, deleted.status_code]) in ([201, 400], [204, 401])
        if created.status_code == 401:
            assert created.json() == {"detail": "Could not validate credentials"}
        else:
            group_id = created.json()["id"]
            assert deleted.json() == {
                "detail": "Cannot delete the last owner of these groups; "
                f"add another owner or delete the groups first: {group_id} ({name})"
            }
    _no_5xx(seen)


@pytest.mark.asyncio
async def test_delete_group_twice_at_once_returns_one_204_one_404(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    make_group: Callable[..., Awaitable[Group]],
) -> None:
    """Item 2: two DELETEs of one group at once: exactly one 204 and one 404
    "Group <id> not found", 50 rounds."""
    for _ in range(ROUNDS):
        group = await make_group()
        url = f"/api/groups/{group.id}"
        responses = await asyncio.gather(
            client.delete(url, headers=manager_headers), client.delete(url, headers=manager_headers)
        )
        assert sorted(r.status_code for r in responses) == [204, 404]
        gone = next(r for r in responses if r.status_code == 404)
        assert gone.json() == {"detail": f"Group {group.id} not found"}


@pytest.mark.asyncio
async def test_delete_user_twice_at_once_returns_one_204_one_404(
    client: httpx.AsyncClient, auth_headers: Headers, make_user: MakeUser
) -> None:
    """Item 2: two DELETEs of one user at once: exactly one 204 and one 404
    "User <id> not found", 50 rounds."""
    for _ in range(ROUNDS):
        user = await make_user()
        url = f"/api/users/{user.id}"
        responses = await asyncio.gather(
            client.delete(url, headers=auth_headers), client.delete(url, headers=auth_headers)
        )
        assert sorted(r.status_code for r in responses) == [204, 404]
        gone = next(r for r in responses if r.status_code == 404)
        assert gone.json() == {"detail": f"User {user.id} not found"}


@pytest.mark.asyncio
async def test_add_member_racing_delete_of_user_returns_201_or_404(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
) -> None:
    """Item 2: adding a user to a group while the user is deleted: 201 if the addition came
    first, else 404 "User <id> not found" (never 400 "already a member", never 500); the
    delete answers 204 either way (a plain member is never a last owner). 50 rounds."""
    group = await make_group()
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        user = await make_user()
        added, deleted = await asyncio.gather(
            client.post(f"/api/groups/{group.id}/members/{user.id}", headers=auth_headers),
            client.delete(f"/api/users/{user.id}", headers=auth_headers),
        )
        seen.update([added.status_code, deleted.status_code])
        assert deleted.status_code == 204, deleted.text
        assert added.status_code in (201, 404), added.text
        if added.status_code == 404:
            assert added.json() == {"detail": f"User {user.id} not found"}
    _no_5xx(seen)
    detail = (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).json()
    assert [m["username"] for m in detail["members"]] == ["manager"]


# --- item 7: deleting a user who may be a group's last owner -------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("change", ["remove", "demote", "delete"])
async def test_delete_user_racing_removal_of_other_owner_group_keeps_an_owner(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    manager_user: User,
    make_user: MakeUser,
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
    change: str,
) -> None:
    """Item 7: a group has two owners, the manager and U. At once, an admin deletes U and
    the other owner is removed from the group (or demoted, or also deleted as a user). Exactly
    one of the two succeeds, the other is refused with 400 (last owner), and the group
    keeps exactly one owner. 50 rounds, no 500."""
    seen: Counter[int] = Counter()
    for round_ in range(ROUNDS):
        other = manager_user if change != "delete" else await make_user(role="manager")
        group = await make_group(name=f"Owned {round_}", creator=other)
        owner = await make_user()
        await add_member(group, owner, role="owner")
        base = f"/api/groups/{group.id}/members/{other.id}"
        if change == "remove":
            change_request = client.delete(base, headers=auth_headers)
        elif change == "demote":
            change_request = client.patch(
                f"{base}/role", json={"role": "member"}, headers=auth_headers
            )
        else:
            change_request = client.delete(f"/api/users/{other.id}", headers=auth_headers)
        deleted, changed = await asyncio.gather(
            client.delete(f"/api/users/{owner.id}", headers=auth_headers), change_request
        )
        seen.update([deleted.status_code, changed.status_code])
        success = 200 if change == "demote" else 204
        outcome = (deleted.status_code, changed.status_code)
        assert outcome in ((204, 400), (400, success)), (deleted.text, changed.text)
        detail = (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).json()
        assert [m["group_role"] for m in detail["members"]].count("owner") == 1
    _no_5xx(seen)
