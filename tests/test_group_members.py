"""Contract tests for group memberships: add, remove, change a member's group role.

Contract: docs/contracts/groups.md. Membership changes need an admin, or a manager who owns
or moderates that group (any other manager: 403, decided under the group's lock); granting or
taking `owner` needs an admin or an owner; a group never loses its last owner (400).
"""

import asyncio
from datetime import datetime

import pytest

TOO_BIG_ID = 2**63  # one past the largest 64-bit id


async def members_of(client, group_id, headers):
    """`{user_id: group role}` of a group, read back through GET /api/groups/{group_id}."""
    response = await client.get(f"/api/groups/{group_id}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["member_count"] == len(body["members"])
    return {m["user_id"]: m["role"] for m in body["members"]}


# --- POST /api/groups/{group_id}/members/{user_id} ---------------------------------------


@pytest.mark.asyncio
async def test_add_member_without_body_returns_201_as_member(
    client, manager_headers, manager_user, make_group, make_user
):
    """Without a body the user joins as `member`; the answer is `{message, role}` and the
    group detail then lists them."""
    group = await make_group()
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", headers=manager_headers
    )

    assert response.status_code == 201
    assert response.json() == {"message": "User added to group", "role": "member"}
    assert await members_of(client, group.id, manager_headers) == {
        manager_user.id: "owner",
        parent.id: "member",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["member", "moderator", "owner"])
async def test_add_member_with_role_returns_201_with_that_role(
    client, auth_headers, manager_user, make_group, make_user, role
):
    """The optional body `{role}` sets the membership role (member, moderator or owner)."""
    group = await make_group()
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", json={"role": role}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json() == {"message": "User added to group", "role": role}
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        parent.id: role,
    }


@pytest.mark.asyncio
async def test_add_member_empty_json_object_returns_201_as_member(
    client, auth_headers, make_group, make_user
):
    """An empty JSON object is the same as no body: role `member`."""
    group = await make_group()
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", json={}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json()["role"] == "member"


@pytest.mark.asyncio
async def test_add_member_already_member_returns_400_and_keeps_role(
    client, auth_headers, make_group, make_user, add_member
):
    """Adding someone who is already in the group is a conflict: 400, their role stays."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent, "moderator")

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", json={"role": "owner"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "User is already a member of this group"}
    assert (await members_of(client, group.id, auth_headers))[parent.id] == "moderator"


@pytest.mark.asyncio
async def test_add_member_unknown_user_returns_404(client, auth_headers, manager_user, make_group):
    """A user id that names nobody: 404, the group is unchanged."""
    group = await make_group()

    response = await client.post(f"/api/groups/{group.id}/members/777777", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "User 777777 not found"}
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_add_member_unknown_group_returns_404(client, auth_headers, make_user):
    """A group id that names no group: 404."""
    parent = await make_user()

    response = await client.post(f"/api/groups/888888/members/{parent.id}", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 888888 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"role": "admin"}, ["body", "role"]),
        ({"role": "OWNER"}, ["body", "role"]),
        ({"role": None}, ["body"]),
        ({"role": 1}, ["body", "role"]),
        ({"role": "member", "user_id": 5}, ["body", "user_id"]),
    ],
    ids=["role-system-admin", "role-wrong-case", "role-null", "role-number", "unknown-field"],
)
async def test_add_member_malformed_body_returns_422_and_adds_nobody(
    client, auth_headers, manager_user, make_group, make_user, payload, loc
):
    """An unknown or null role, a wrong type or an unknown field: 422, nobody is added."""
    group = await make_group()
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", json=payload, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
@pytest.mark.parametrize("user_id", [str(TOO_BIG_ID), "0", "abc"])
async def test_add_member_user_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, make_group, user_id
):
    """`user_id` must be an integer in 1..2^63-1: 422, never a 500."""
    group = await make_group()

    response = await client.post(f"/api/groups/{group.id}/members/{user_id}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "user_id"]]


@pytest.mark.asyncio
async def test_add_member_group_id_outside_64_bit_returns_422(client, auth_headers, make_user):
    """`group_id` past 2^63-1: 422."""
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{TOO_BIG_ID}/members/{parent.id}", headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "group_id"]]


@pytest.mark.asyncio
async def test_add_member_as_user_owner_returns_403(
    client, auth_headers, make_group, make_user, add_member, make_auth_headers
):
    """A `user`, even an owner of the group, may not add members: 403, nobody added."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent, "owner")
    friend = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{friend.id}", headers=make_auth_headers(parent)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert friend.id not in await members_of(client, group.id, auth_headers)


@pytest.mark.asyncio
async def test_add_member_without_token_returns_401(client, make_group, make_user):
    """No bearer token: 401."""
    group = await make_group()
    parent = await make_user()

    response = await client.post(f"/api/groups/{group.id}/members/{parent.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_add_member_disabled_manager_returns_403(
    client, make_group, make_user, make_auth_headers
):
    """A disabled manager is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    group = await make_group()
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- DELETE /api/groups/{group_id}/members/{user_id} -------------------------------------


@pytest.mark.asyncio
async def test_remove_member_returns_204_and_member_is_gone(
    client, manager_headers, manager_user, make_group, make_user, add_member
):
    """Removing a member: 204 with an empty body; the detail no longer lists them."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)

    response = await client.delete(
        f"/api/groups/{group.id}/members/{parent.id}", headers=manager_headers
    )

    assert response.status_code == 204
    assert response.content == b""
    assert await members_of(client, group.id, manager_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_remove_member_removed_user_loses_access(
    client, auth_headers, make_group, make_user, add_member, make_auth_headers
):
    """Once removed, a `user` can no longer read the group (403)."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)
    parent_headers = make_auth_headers(parent)

    response = await client.delete(
        f"/api/groups/{group.id}/members/{parent.id}", headers=auth_headers
    )

    assert response.status_code == 204
    assert (await client.get(f"/api/groups/{group.id}", headers=parent_headers)).status_code == 403


@pytest.mark.asyncio
async def test_remove_member_owner_when_another_owner_exists_returns_204(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """An owner may be removed while another owner remains."""
    group = await make_group()
    co_owner = await make_user()
    await add_member(group, co_owner, "owner")

    response = await client.delete(
        f"/api/groups/{group.id}/members/{manager_user.id}", headers=auth_headers
    )

    assert response.status_code == 204
    assert await members_of(client, group.id, auth_headers) == {co_owner.id: "owner"}


@pytest.mark.asyncio
async def test_remove_member_last_owner_returns_400_and_keeps_them(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """The last owner cannot be removed, even when other members remain: 400, no change."""
    group = await make_group()
    moderator = await make_user()
    await add_member(group, moderator, "moderator")

    response = await client.delete(
        f"/api/groups/{group.id}/members/{manager_user.id}", headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot remove the last owner of the group"}
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "moderator",
    }


@pytest.mark.asyncio
async def test_remove_member_last_owner_who_owns_another_group_returns_400(
    client, auth_headers, manager_user, make_group
):
    """Owning another group does not count: the last owner of *this* group stays (400)."""
    group = await make_group(name="This one")
    other = await make_group(name="Other")

    response = await client.delete(
        f"/api/groups/{group.id}/members/{manager_user.id}", headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot remove the last owner of the group"}
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}
    assert await members_of(client, other.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_remove_member_of_two_groups_leaves_only_this_group(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """Removing a user from one group keeps their membership of another group."""
    first = await make_group(name="First")
    second = await make_group(name="Second")
    member = await make_user(username="member")
    await add_member(first, member)
    await add_member(second, member, "moderator")

    response = await client.delete(
        f"/api/groups/{second.id}/members/{member.id}", headers=auth_headers
    )

    assert response.status_code == 204
    assert await members_of(client, first.id, auth_headers) == {
        manager_user.id: "owner",
        member.id: "member",
    }
    assert await members_of(client, second.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_remove_member_two_owners_removed_at_once_keeps_one_owner(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """Two concurrent removals of a group's only two owners: membership changes of a group
    run one at a time, so one succeeds (204), the other finds the last owner (400)."""
    group = await make_group()
    co_owner = await make_user()
    await add_member(group, co_owner, "owner")

    first, second = await asyncio.gather(
        client.delete(f"/api/groups/{group.id}/members/{manager_user.id}", headers=auth_headers),
        client.delete(f"/api/groups/{group.id}/members/{co_owner.id}", headers=auth_headers),
    )

    assert sorted([first.status_code, second.status_code]) == [204, 400]
    assert list((await members_of(client, group.id, auth_headers)).values()) == ["owner"]


@pytest.mark.asyncio
async def test_remove_member_not_a_member_returns_404(client, auth_headers, make_group, make_user):
    """Removing a user who is not in the group: 404 "Membership not found: ..."."""
    group = await make_group()
    outsider = await make_user()

    response = await client.delete(
        f"/api/groups/{group.id}/members/{outsider.id}", headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"Membership not found: user {outsider.id} is not a member of this group"
    }


@pytest.mark.asyncio
async def test_remove_member_unknown_group_returns_404(client, auth_headers, manager_user):
    """A group id that names no group: 404."""
    response = await client.delete(
        f"/api/groups/999999/members/{manager_user.id}", headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 999999 not found"}


@pytest.mark.asyncio
async def test_remove_member_user_id_outside_64_bit_returns_422(client, auth_headers, make_group):
    """`user_id` past 2^63-1: 422, never a 500."""
    group = await make_group()

    response = await client.delete(
        f"/api/groups/{group.id}/members/{TOO_BIG_ID}", headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "user_id"]]


@pytest.mark.asyncio
async def test_remove_member_as_user_returns_403_and_keeps_member(
    client, auth_headers, make_group, make_user, add_member, make_auth_headers
):
    """A `user` may not remove members, not even themselves: 403, membership stays."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)

    response = await client.delete(
        f"/api/groups/{group.id}/members/{parent.id}", headers=make_auth_headers(parent)
    )

    assert response.status_code == 403
    assert parent.id in await members_of(client, group.id, auth_headers)


@pytest.mark.asyncio
async def test_remove_member_without_token_returns_401(client, manager_user, make_group):
    """No bearer token: 401."""
    group = await make_group()

    response = await client.delete(f"/api/groups/{group.id}/members/{manager_user.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_remove_member_disabled_admin_returns_403(
    client, manager_user, make_group, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    group = await make_group()

    response = await client.delete(
        f"/api/groups/{group.id}/members/{manager_user.id}", headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- PATCH /api/groups/{group_id}/members/{user_id}/role ---------------------------------


@pytest.mark.asyncio
async def test_change_member_role_returns_200_and_persists(
    client, manager_headers, manager_user, make_group, make_user, add_member
):
    """A member becomes moderator: 200 `{message, user_id, role}`, and the detail agrees,
    with the membership's `updated_at` moved past `joined_at`."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)

    response = await client.patch(
        f"/api/groups/{group.id}/members/{parent.id}/role",
        json={"role": "moderator"},
        headers=manager_headers,
    )

    assert response.status_code == 200
    assert response.json() == {
        "message": "Member role updated",
        "user_id": parent.id,
        "role": "moderator",
    }
    detail = await client.get(f"/api/groups/{group.id}", headers=manager_headers)
    member = next(m for m in detail.json()["members"] if m["user_id"] == parent.id)
    assert (member["role"], member["group_role"]) == ("moderator", "moderator")
    assert datetime.fromisoformat(member["updated_at"]) > datetime.fromisoformat(
        member["joined_at"]
    )


@pytest.mark.asyncio
async def test_change_member_role_demote_owner_when_another_owner_exists_returns_200(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """An owner may be demoted while another owner remains."""
    group = await make_group()
    co_owner = await make_user()
    await add_member(group, co_owner, "owner")

    response = await client.patch(
        f"/api/groups/{group.id}/members/{manager_user.id}/role",
        json={"role": "member"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json()["role"] == "member"
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "member",
        co_owner.id: "owner",
    }


@pytest.mark.asyncio
async def test_change_member_role_last_owner_to_owner_returns_200(
    client, auth_headers, manager_user, make_group
):
    """Setting the last owner's role to `owner` again is allowed (nothing is lost)."""
    group = await make_group()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{manager_user.id}/role",
        json={"role": "owner"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json()["role"] == "owner"


@pytest.mark.asyncio
async def test_change_member_role_demote_last_owner_returns_400_and_keeps_owner(
    client, auth_headers, manager_user, make_group
):
    """The last owner cannot be demoted: 400, they stay owner."""
    group = await make_group()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{manager_user.id}/role",
        json={"role": "moderator"},
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot demote the last owner of the group"}
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_change_member_role_two_owners_demoted_at_once_keeps_one_owner(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """Two concurrent demotions of a group's only two owners: one succeeds (200), the other
    finds the last owner (400); the group keeps exactly one owner."""
    group = await make_group()
    co_owner = await make_user()
    await add_member(group, co_owner, "owner")

    first, second = await asyncio.gather(
        client.patch(
            f"/api/groups/{group.id}/members/{manager_user.id}/role",
            json={"role": "member"},
            headers=auth_headers,
        ),
        client.patch(
            f"/api/groups/{group.id}/members/{co_owner.id}/role",
            json={"role": "member"},
            headers=auth_headers,
        ),
    )

    assert sorted([first.status_code, second.status_code]) == [200, 400]
    roles = await members_of(client, group.id, auth_headers)
    assert sorted(roles.values()) == ["member", "owner"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "suffix", "body", "action"),
    [("DELETE", "", None, "remove"), ("PATCH", "/role", {"role": "member"}, "demote")],
)
async def test_owner_check_waits_for_another_owners_removal_in_progress(
    client,
    auth_headers,
    manager_user,
    make_group,
    make_user,
    add_member,
    held_transaction,
    method,
    suffix,
    body,
    action,
):
    """Removing or demoting an owner while another transaction (holding the group, as every
    membership change does) is removing the only other owner: the request waits for it,
    then counts the owners that are left and refuses, 400 "Cannot <action> the last owner
    of the group"; the group keeps its owner. (SQLite: the request must take the write lock
    before it counts; PostgreSQL: the group's row lock.)"""
    group = await make_group()
    co_owner = await make_user()
    await add_member(group, co_owner, "owner")
    await held_transaction.execute(
        "UPDATE groups SET updated_at = updated_at WHERE id = :group", group=group.id
    )
    await held_transaction.execute(
        "DELETE FROM group_members WHERE group_id = :group AND user_id = :user",
        group=group.id,
        user=co_owner.id,
    )

    request = asyncio.create_task(
        client.request(
            method,
            f"/api/groups/{group.id}/members/{manager_user.id}{suffix}",
            json=body,
            headers=auth_headers,
        )
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 400
    assert response.json() == {"detail": f"Cannot {action} the last owner of the group"}
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_change_member_role_not_a_member_returns_404(
    client, auth_headers, make_group, make_user
):
    """Changing the role of someone not in the group: 404, nobody is added."""
    group = await make_group()
    outsider = await make_user()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{outsider.id}/role",
        json={"role": "member"},
        headers=auth_headers,
    )

    assert response.status_code == 404
    assert "not found" in response.json()["detail"]
    assert outsider.id not in await members_of(client, group.id, auth_headers)


@pytest.mark.asyncio
async def test_change_member_role_unknown_group_returns_404(client, auth_headers, manager_user):
    """A group id that names no group: 404."""
    response = await client.patch(
        f"/api/groups/565656/members/{manager_user.id}/role",
        json={"role": "member"},
        headers=auth_headers,
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 565656 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"role": "superuser"}, ["body", "role"]),
        ({"role": None}, ["body", "role"]),
        ({}, ["body", "role"]),
        ({"role": ["owner"]}, ["body", "role"]),
        (None, ["body"]),
    ],
    ids=["role-unknown", "role-null", "role-missing", "role-list", "no-body"],
)
async def test_change_member_role_malformed_body_returns_422_and_keeps_role(
    client, auth_headers, make_group, make_user, add_member, payload, loc
):
    """The body `{role}` is required and must be member, moderator or owner: else 422."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent, "moderator")

    response = await client.patch(
        f"/api/groups/{group.id}/members/{parent.id}/role", json=payload, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert (await members_of(client, group.id, auth_headers))[parent.id] == "moderator"


@pytest.mark.asyncio
async def test_change_member_role_user_id_outside_64_bit_returns_422(
    client, auth_headers, make_group
):
    """`user_id` past 2^63-1: 422, never a 500."""
    group = await make_group()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{TOO_BIG_ID}/role",
        json={"role": "member"},
        headers=auth_headers,
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "user_id"]]


@pytest.mark.asyncio
async def test_change_member_role_as_user_returns_403_and_keeps_role(
    client, auth_headers, make_group, make_user, add_member, make_auth_headers
):
    """A `user` may not change roles, not even to promote themselves: 403."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)

    response = await client.patch(
        f"/api/groups/{group.id}/members/{parent.id}/role",
        json={"role": "owner"},
        headers=make_auth_headers(parent),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert (await members_of(client, group.id, auth_headers))[parent.id] == "member"


@pytest.mark.asyncio
async def test_change_member_role_without_token_returns_401(client, manager_user, make_group):
    """No bearer token: 401."""
    group = await make_group()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{manager_user.id}/role", json={"role": "member"}
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_change_member_role_disabled_manager_returns_403(
    client, manager_user, make_group, make_user, make_auth_headers
):
    """A disabled manager is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    group = await make_group()

    response = await client.patch(
        f"/api/groups/{group.id}/members/{manager_user.id}/role",
        json={"role": "member"},
        headers=make_auth_headers(disabled),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- who may change a group's members ------------------------------------------------------

NOT_YOURS = {"detail": "You may only change the members of groups you own or moderate"}
OWNERS_ONLY = {"detail": "Only the group's owners and admins may grant or take the owner role"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["member", "moderator", "owner"])
async def test_add_member_manager_of_another_group_adds_themselves_returns_403(
    client, auth_headers, manager_user, make_group, make_user, make_auth_headers, role
):
    """A manager who neither owns nor moderates the group cannot join it, whatever the role:
    403 "You may only change the members of groups you own or moderate"; nobody added."""
    group = await make_group()
    stranger = await make_user(role="manager")
    await make_group(creator=stranger)

    response = await client.post(
        f"/api/groups/{group.id}/members/{stranger.id}",
        json={"role": role},
        headers=make_auth_headers(stranger),
    )

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_add_member_manager_of_another_group_adds_a_parent_returns_403(
    client, auth_headers, manager_user, make_group, make_user, make_auth_headers
):
    """Nor can they add anyone else (a parent): 403, the group unchanged; unknown user ids
    get the same 403, so the route tells them nothing."""
    group = await make_group()
    stranger = await make_user(role="manager")
    parent = await make_user()
    headers = make_auth_headers(stranger)

    response = await client.post(f"/api/groups/{group.id}/members/{parent.id}", headers=headers)
    unknown = await client.post(f"/api/groups/{group.id}/members/999999", headers=headers)

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert unknown.status_code == 403
    assert unknown.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
async def test_add_member_manager_who_is_plain_member_returns_403(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers
):
    """A manager who is a plain `member` of the group is not responsible for it: 403."""
    group = await make_group()
    plain = await make_user(role="manager")
    await add_member(group, plain)
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}", headers=make_auth_headers(plain)
    )

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        plain.id: "member",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["member", "moderator"])
async def test_add_member_as_moderator_manager_returns_201(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers, role
):
    """A manager who moderates the group adds members and moderators: 201."""
    group = await make_group()
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")
    parent = await make_user()

    response = await client.post(
        f"/api/groups/{group.id}/members/{parent.id}",
        json={"role": role},
        headers=make_auth_headers(moderator),
    )

    assert response.status_code == 201
    assert response.json() == {"message": "User added to group", "role": role}
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "moderator",
        parent.id: role,
    }


@pytest.mark.asyncio
async def test_add_member_moderator_adds_an_owner_returns_403(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers
):
    """Only owners and admins grant `owner`: a moderator adding an owner gets 403 "Only the
    group's owners and admins may grant or take the owner role"; nobody added."""
    group = await make_group()
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")
    other = await make_user(role="manager")

    response = await client.post(
        f"/api/groups/{group.id}/members/{other.id}",
        json={"role": "owner"},
        headers=make_auth_headers(moderator),
    )

    assert response.status_code == 403
    assert response.json() == OWNERS_ONLY
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "moderator",
    }


@pytest.mark.asyncio
async def test_add_member_owner_adds_an_owner_returns_201(
    client, auth_headers, manager_user, manager_headers, make_group, make_user
):
    """An owner (a manager) grants `owner`: 201, and the new owner is listed as such."""
    group = await make_group()
    other = await make_user(role="manager")

    response = await client.post(
        f"/api/groups/{group.id}/members/{other.id}",
        json={"role": "owner"},
        headers=manager_headers,
    )

    assert response.status_code == 201
    assert response.json() == {"message": "User added to group", "role": "owner"}
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        other.id: "owner",
    }


@pytest.mark.asyncio
async def test_add_member_by_admin_in_no_group_returns_201(
    client, auth_headers, admin_user, manager_user, make_group, make_user
):
    """An admin who is no member of the group adds an owner: 201."""
    group = await make_group()
    other = await make_user(role="manager")

    response = await client.post(
        f"/api/groups/{group.id}/members/{other.id}", json={"role": "owner"}, headers=auth_headers
    )

    assert response.status_code == 201
    assert response.json() == {"message": "User added to group", "role": "owner"}
    members = await members_of(client, group.id, auth_headers)
    assert members == {manager_user.id: "owner", other.id: "owner"}
    assert admin_user.id not in members


@pytest.mark.asyncio
async def test_add_member_owner_demoted_meanwhile_returns_403(
    client,
    auth_headers,
    manager_user,
    make_group,
    make_user,
    add_member,
    make_auth_headers,
    held_transaction,
):
    """The caller's role is read under the group's lock: a manager adding a parent while
    another transaction (holding the group, as every membership change does) demotes them
    waits for it, then gets 403; the parent is not added."""
    group = await make_group()
    co_owner = await make_user(role="manager")
    await add_member(group, co_owner, "owner")
    parent = await make_user()
    await held_transaction.execute(
        "UPDATE groups SET updated_at = updated_at WHERE id = :group", group=group.id
    )
    await held_transaction.execute(
        "UPDATE group_members SET role = 'member' WHERE group_id = :group AND user_id = :user",
        group=group.id,
        user=co_owner.id,
    )

    request = asyncio.create_task(
        client.post(
            f"/api/groups/{group.id}/members/{parent.id}", headers=make_auth_headers(co_owner)
        )
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        co_owner.id: "member",
    }


@pytest.mark.asyncio
async def test_remove_member_manager_of_another_group_returns_403_and_keeps_member(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers
):
    """A manager who neither owns nor moderates the group removes nobody (not even a member
    who is not there, so they learn nothing): 403, the member stays."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)
    stranger = await make_user(role="manager")
    headers = make_auth_headers(stranger)

    response = await client.delete(f"/api/groups/{group.id}/members/{parent.id}", headers=headers)
    absent = await client.delete(f"/api/groups/{group.id}/members/{stranger.id}", headers=headers)

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert absent.status_code == 403
    assert absent.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        parent.id: "member",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("target_role", ["member", "moderator"])
async def test_remove_member_as_moderator_manager_returns_204(
    client,
    auth_headers,
    manager_user,
    make_group,
    make_user,
    add_member,
    make_auth_headers,
    target_role,
):
    """A moderator (a manager) removes members and moderators: 204, read back gone."""
    group = await make_group()
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")
    target = await make_user()
    await add_member(group, target, target_role)

    response = await client.delete(
        f"/api/groups/{group.id}/members/{target.id}", headers=make_auth_headers(moderator)
    )

    assert response.status_code == 204
    assert response.content == b""
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "moderator",
    }


@pytest.mark.asyncio
async def test_remove_member_moderator_removes_an_owner_returns_403(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers
):
    """A moderator cannot take `owner` away, so cannot remove an owner (even one of two):
    403 "Only the group's owners and admins ..."; both owners stay."""
    group = await make_group()
    co_owner = await make_user(role="manager")
    await add_member(group, co_owner, "owner")
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")

    response = await client.delete(
        f"/api/groups/{group.id}/members/{co_owner.id}", headers=make_auth_headers(moderator)
    )

    assert response.status_code == 403
    assert response.json() == OWNERS_ONLY
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        co_owner.id: "owner",
        moderator.id: "moderator",
    }


@pytest.mark.asyncio
async def test_remove_member_owner_removes_another_owner_returns_204(
    client, auth_headers, manager_user, manager_headers, make_group, make_user, add_member
):
    """An owner (a manager) removes another owner: 204."""
    group = await make_group()
    co_owner = await make_user(role="manager")
    await add_member(group, co_owner, "owner")

    response = await client.delete(
        f"/api/groups/{group.id}/members/{co_owner.id}", headers=manager_headers
    )

    assert response.status_code == 204
    assert await members_of(client, group.id, auth_headers) == {manager_user.id: "owner"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["moderator", "owner"])
async def test_change_member_role_manager_promotes_themselves_returns_403(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers, role
):
    """A manager who is a plain `member` of the group cannot promote themselves: 403
    "You may only change the members of groups you own or moderate"; still a member."""
    group = await make_group()
    plain = await make_user(role="manager")
    await add_member(group, plain)

    response = await client.patch(
        f"/api/groups/{group.id}/members/{plain.id}/role",
        json={"role": role},
        headers=make_auth_headers(plain),
    )

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        plain.id: "member",
    }


@pytest.mark.asyncio
async def test_change_member_role_manager_of_another_group_returns_403(
    client, auth_headers, manager_user, make_group, make_user, add_member, make_auth_headers
):
    """A manager of another group changes no role here: 403, the role kept."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)
    stranger = await make_user(role="manager")
    await make_group(creator=stranger)

    response = await client.patch(
        f"/api/groups/{group.id}/members/{parent.id}/role",
        json={"role": "moderator"},
        headers=make_auth_headers(stranger),
    )

    assert response.status_code == 403
    assert response.json() == NOT_YOURS
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        parent.id: "member",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(("before", "after"), [("member", "moderator"), ("moderator", "member")])
async def test_change_member_role_as_moderator_manager_returns_200(
    client,
    auth_headers,
    manager_user,
    make_group,
    make_user,
    add_member,
    make_auth_headers,
    before,
    after,
):
    """A moderator (a manager) promotes members to moderator and demotes moderators: 200."""
    group = await make_group()
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")
    target = await make_user()
    await add_member(group, target, before)

    response = await client.patch(
        f"/api/groups/{group.id}/members/{target.id}/role",
        json={"role": after},
        headers=make_auth_headers(moderator),
    )

    assert response.status_code == 200
    assert response.json() == {
        "message": "Member role updated",
        "user_id": target.id,
        "role": after,
    }
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "moderator",
        target.id: after,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("target", "before", "after"),
    [
        ("self", "moderator", "owner"),
        ("other", "member", "owner"),
        ("owner", "owner", "moderator"),
    ],
)
async def test_change_member_role_moderator_grants_or_takes_owner_returns_403(
    client,
    auth_headers,
    manager_user,
    make_group,
    make_user,
    add_member,
    make_auth_headers,
    target,
    before,
    after,
):
    """Only owners and admins grant or take `owner`: a moderator promoting themselves or a
    member to owner, or demoting an owner (one of two), gets 403 "Only the group's owners
    and admins ..."; every role is kept."""
    group = await make_group()
    co_owner = await make_user(role="manager")
    await add_member(group, co_owner, "owner")
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")
    member = await make_user()
    await add_member(group, member)
    target_id = {"self": moderator.id, "other": member.id, "owner": co_owner.id}[target]

    response = await client.patch(
        f"/api/groups/{group.id}/members/{target_id}/role",
        json={"role": after},
        headers=make_auth_headers(moderator),
    )

    assert response.status_code == 403
    assert response.json() == OWNERS_ONLY
    members = await members_of(client, group.id, auth_headers)
    assert members[target_id] == before
    assert members == {
        manager_user.id: "owner",
        co_owner.id: "owner",
        moderator.id: "moderator",
        member.id: "member",
    }


@pytest.mark.asyncio
async def test_change_member_role_owner_promotes_moderator_to_owner_returns_200(
    client, auth_headers, manager_user, manager_headers, make_group, make_user, add_member
):
    """An owner (a manager) grants `owner`: 200, read back as owner."""
    group = await make_group()
    moderator = await make_user(role="manager")
    await add_member(group, moderator, "moderator")

    response = await client.patch(
        f"/api/groups/{group.id}/members/{moderator.id}/role",
        json={"role": "owner"},
        headers=manager_headers,
    )

    assert response.status_code == 200
    assert response.json() == {
        "message": "Member role updated",
        "user_id": moderator.id,
        "role": "owner",
    }
    assert await members_of(client, group.id, auth_headers) == {
        manager_user.id: "owner",
        moderator.id: "owner",
    }
