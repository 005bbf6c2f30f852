"""Contract tests for the groups resource: list, detail, create, update, delete.

Contract: docs/contracts/groups.md. Admins and managers see and manage every group; a
`user` sees only the groups they belong to; writes need a manager or an admin.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

GROUP_FIELDS = {
    "id",
    "name",
    "description",
    "created_by",
    "created_at",
    "updated_at",
    "member_count",
}
MEMBER_FIELDS = {
    "user_id",
    "username",
    "email",
    "role",
    "group_role",
    "user_role",
    "joined_at",
    "avatar_url",
    "first_name",
    "last_name",
    "child_dob",
    "updated_at",
}
# A member as someone who may not see their private data sees them (groups.md).
PUBLIC_MEMBER_FIELDS = MEMBER_FIELDS - {"email", "child_dob", "updated_at"}
TOO_BIG_ID = 2**63  # one past the largest 64-bit id


def ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp from a response and insist that it is UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed.astimezone(UTC)


# --- GET /api/groups ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_groups_as_admin_returns_every_group_oldest_first(
    client, auth_headers, manager_user, make_group
):
    """An admin sees every group, oldest first, each with exactly the Group fields."""
    first = await make_group(name="Chess Club", description="Saturday mornings")
    second = await make_group(name="Go Circle")

    response = await client.get("/api/groups", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    body = response.json()
    assert [set(g) for g in body] == [GROUP_FIELDS, GROUP_FIELDS]
    assert [(g["id"], g["name"], g["description"]) for g in body] == [
        (first.id, "Chess Club", "Saturday mornings"),
        (second.id, "Go Circle", None),
    ]
    assert [g["created_by"] for g in body] == [manager_user.id, manager_user.id]
    assert [g["member_count"] for g in body] == [1, 1]
    assert ts(body[0]["created_at"]) == first.created_at
    assert ts(body[0]["updated_at"]) == first.updated_at


@pytest.mark.asyncio
async def test_list_groups_as_manager_returns_groups_they_do_not_belong_to(
    client, manager_headers, admin_user, make_group
):
    """A manager sees every group, also one created by someone else that they are not in."""
    group = await make_group(name="Admin's group", creator=admin_user)

    response = await client.get("/api/groups", headers=manager_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [(g["id"], g["created_by"]) for g in response.json()] == [(group.id, admin_user.id)]


@pytest.mark.asyncio
async def test_list_groups_as_user_returns_only_their_groups(
    client, user_headers, test_user, make_group, add_member
):
    """A `user` sees the groups they belong to and no other; the total counts only those."""
    mine = await make_group(name="Mine")
    await make_group(name="Not mine")
    await add_member(mine, test_user)

    response = await client.get("/api/groups", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [(g["id"], g["name"], g["member_count"]) for g in response.json()] == [
        (mine.id, "Mine", 2)
    ]


@pytest.mark.asyncio
async def test_list_groups_as_user_without_groups_returns_empty_list(
    client, user_headers, make_group
):
    """A `user` in no group gets an empty list and a total of 0, not someone else's groups."""
    await make_group()

    response = await client.get("/api/groups", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.asyncio
async def test_list_groups_member_count_counts_every_member(
    client, auth_headers, make_group, make_user, add_member
):
    """`member_count` is the number of memberships, owner included."""
    group = await make_group()
    await add_member(group, await make_user(), "member")
    await add_member(group, await make_user(), "moderator")

    response = await client.get("/api/groups", headers=auth_headers)

    assert response.status_code == 200
    assert [g["member_count"] for g in response.json()] == [3]


@pytest.mark.asyncio
async def test_list_groups_with_limit_and_offset_returns_window_and_full_total(
    client, auth_headers, make_group
):
    """`limit`/`offset` cut a window out of the oldest-first list; X-Total-Count stays whole."""
    groups = [await make_group(name=f"Group {n}") for n in range(4)]

    response = await client.get("/api/groups?limit=2&offset=1", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [g["id"] for g in response.json()] == [groups[1].id, groups[2].id]


@pytest.mark.asyncio
async def test_list_groups_offset_past_end_returns_empty_list(client, auth_headers, make_group):
    """An offset beyond the last group gives an empty page, still with the full total."""
    await make_group()

    response = await client.get("/api/groups?offset=5", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
async def test_list_groups_bad_pagination_returns_422(client, auth_headers, query, param):
    """`limit` must be 1..1000 and `offset` >= 0, as integers; anything else is a 422."""
    response = await client.get(f"/api/groups?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["query", param]]


@pytest.mark.asyncio
async def test_list_groups_without_token_returns_401(client, make_group):
    """No bearer token: 401 with `WWW-Authenticate: Bearer`, and no data."""
    await make_group()

    response = await client.get("/api/groups")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_groups_with_badly_signed_token_returns_401(client, test_db):
    """A token that is not a JWT signed by this app is refused with 401."""
    response = await client.get("/api/groups", headers={"Authorization": "Bearer not.a.jwt"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Could not validate credentials"}


@pytest.mark.asyncio
async def test_list_groups_token_of_deleted_account_returns_401(
    client, auth_headers, make_user, make_auth_headers
):
    """A token stops working when its account is deleted: 401, not someone else's view."""
    gone = await make_user(role="manager")
    gone_headers = make_auth_headers(gone)
    assert (await client.delete(f"/api/users/{gone.id}", headers=auth_headers)).status_code == 204

    response = await client.get("/api/groups", headers=gone_headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_list_groups_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account's token stops working: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)

    response = await client.get("/api/groups", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- GET /api/groups/{group_id} ----------------------------------------------------------


@pytest.mark.asyncio
async def test_get_group_as_admin_returns_detail_with_exact_member_fields(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """The detail is a Group plus `members`; each member has exactly the documented fields,
    `role`/`group_role` the membership role and `user_role` the system role."""
    group = await make_group(name="Chess Club", description="Saturday mornings")
    parent = await make_user(
        username="ada",
        email="Ada@Example.com",
        first_name="Ada",
        last_name="Lovelace",
        child_dob=date(2015, 12, 10),
        avatar_url="https://img.example.com/ada.png",
    )
    membership = await add_member(group, parent, "moderator")

    response = await client.get(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == GROUP_FIELDS | {"members"}
    assert (body["id"], body["name"], body["description"]) == (
        group.id,
        "Chess Club",
        "Saturday mornings",
    )
    assert (body["created_by"], body["member_count"]) == (manager_user.id, 2)
    assert [set(m) for m in body["members"]] == [MEMBER_FIELDS, MEMBER_FIELDS]
    owner, member = body["members"]
    assert (owner["user_id"], owner["username"], owner["role"], owner["user_role"]) == (
        manager_user.id,
        "manager",
        "owner",
        "manager",
    )
    assert {k: v for k, v in member.items() if k not in ("joined_at", "updated_at")} == {
        "user_id": parent.id,
        "username": "ada",
        "email": "ada@example.com",
        "role": "moderator",
        "group_role": "moderator",
        "user_role": "user",
        "avatar_url": "https://img.example.com/ada.png",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "child_dob": "2015-12-10",
    }
    assert ts(member["joined_at"]) == membership.joined_at
    assert ts(member["updated_at"]) == membership.updated_at
    assert "password" not in member
    assert "hashed_password" not in member


@pytest.mark.asyncio
async def test_get_group_members_are_ordered_by_joined_at(
    client, auth_headers, manager_user, make_group, make_user, add_member
):
    """Members come in the order they joined, whatever their names or roles."""
    group = await make_group()
    zed = await make_user(username="zed")
    amy = await make_user(username="amy")
    await add_member(group, zed, "member")
    await add_member(group, amy, "owner")

    response = await client.get(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 200
    members = response.json()["members"]
    assert [m["user_id"] for m in members] == [manager_user.id, zed.id, amy.id]
    joined = [ts(m["joined_at"]) for m in members]
    assert joined == sorted(joined)


@pytest.mark.asyncio
async def test_get_group_as_manager_not_in_group_returns_200(
    client, manager_headers, admin_user, make_group
):
    """A manager may read any group, also one they are not a member of; the members they
    are not responsible for show their public fields only."""
    group = await make_group(name="Admin's", creator=admin_user)

    response = await client.get(f"/api/groups/{group.id}", headers=manager_headers)

    assert response.status_code == 200
    assert response.json()["name"] == "Admin's"
    assert [m["user_id"] for m in response.json()["members"]] == [admin_user.id]
    assert set(response.json()["members"][0]) == PUBLIC_MEMBER_FIELDS


@pytest.mark.asyncio
async def test_get_group_as_member_user_returns_200(
    client, user_headers, test_user, make_group, add_member
):
    """A `user` may read a group they belong to, members included."""
    group = await make_group(name="Parents")
    await add_member(group, test_user)

    response = await client.get(f"/api/groups/{group.id}", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["member_count"]) == (group.id, "Parents", 2)
    assert [(m["username"], m["role"]) for m in body["members"]] == [
        ("manager", "owner"),
        ("testuser", "member"),
    ]


@pytest.mark.asyncio
async def test_get_group_as_member_user_shows_other_members_public_fields_only(
    client, user_headers, test_user, make_group, make_user, add_member
):
    """A `user` sees their own entry in full and, of every other member (parents and staff
    alike), only `{user_id, username, first_name, last_name, avatar_url, group_role,
    joined_at}` and the role keys: no e-mail, no child's date of birth, no `updated_at`."""
    group = await make_group(name="Parents")
    await add_member(group, test_user)
    other = await make_user(
        username="dana", email="dana.fenwick@example.org", child_dob="2018-09-03", first_name="Dana"
    )
    await add_member(group, other)

    response = await client.get(f"/api/groups/{group.id}", headers=user_headers)

    assert response.status_code == 200
    members = {m["username"]: m for m in response.json()["members"]}
    assert {name: set(m) for name, m in members.items()} == {
        "manager": PUBLIC_MEMBER_FIELDS,
        "testuser": MEMBER_FIELDS,
        "dana": PUBLIC_MEMBER_FIELDS,
    }
    assert members["testuser"]["email"] == "testuser@test.com"
    assert members["dana"] == {
        "user_id": other.id,
        "username": "dana",
        "role": "member",
        "group_role": "member",
        "user_role": "user",
        "joined_at": members["dana"]["joined_at"],
        "avatar_url": None,
        "first_name": "Dana",
        "last_name": None,
    }
    assert "dana.fenwick@example.org" not in response.text


@pytest.mark.asyncio
async def test_get_group_as_owning_manager_shows_every_member_in_full(
    client, manager_headers, make_group, make_user, add_member
):
    """The manager who owns the group sees every member's e-mail and child's date of birth."""
    group = await make_group(name="Parents")
    other = await make_user(
        username="dana", email="dana.fenwick@example.org", child_dob="2018-09-03"
    )
    await add_member(group, other)

    response = await client.get(f"/api/groups/{group.id}", headers=manager_headers)

    assert response.status_code == 200
    members = response.json()["members"]
    assert [set(m) for m in members] == [MEMBER_FIELDS, MEMBER_FIELDS]
    assert (members[1]["email"], members[1]["child_dob"]) == (
        "dana.fenwick@example.org",
        "2018-09-03",
    )


@pytest.mark.asyncio
async def test_get_group_creator_deleted_keeps_group_with_created_by_null(
    client, auth_headers, make_user, make_group, add_member
):
    """When the creator's account is deleted the group stays, `created_by` becomes null and
    their membership goes."""
    creator = await make_user(role="manager")
    group = await make_group(creator=creator)
    heir = await make_user()
    await add_member(group, heir, "owner")
    deleted = await client.delete(f"/api/users/{creator.id}", headers=auth_headers)
    assert deleted.status_code == 204

    response = await client.get(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["created_by"], body["member_count"]) == (None, 1)
    assert [m["user_id"] for m in body["members"]] == [heir.id]


@pytest.mark.asyncio
async def test_get_group_as_non_member_user_returns_403(client, user_headers, make_group):
    """A `user` who is not in the group gets 403 and learns nothing about its members."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this group"}


@pytest.mark.asyncio
async def test_get_group_unknown_id_returns_404(client, auth_headers):
    """An id that names no group: 404 with "not found" in the detail."""
    response = await client.get("/api/groups/987654", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 987654 not found"}


@pytest.mark.asyncio
async def test_get_group_unknown_id_as_user_returns_404(client, user_headers):
    """Group ids are not secret: a `user` asking for an id that names no group gets 404."""
    response = await client.get("/api/groups/987654", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 987654 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("group_id", [str(TOO_BIG_ID), "0", "-1", "abc", "1.5"])
async def test_get_group_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, group_id
):
    """`group_id` must be an integer in 1..2^63-1; anything else is a 422, never a 500."""
    response = await client.get(f"/api/groups/{group_id}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "group_id"]]


@pytest.mark.asyncio
async def test_get_group_without_token_returns_401(client, make_group):
    """No bearer token: 401 with `WWW-Authenticate: Bearer`."""
    group = await make_group()

    response = await client.get(f"/api/groups/{group.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_get_group_disabled_member_returns_403(
    client, make_group, make_user, add_member, make_auth_headers
):
    """A disabled account is refused even for a group it belongs to."""
    group = await make_group()
    disabled = await make_user(is_active=False)
    await add_member(group, disabled)

    response = await client.get(f"/api/groups/{group.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- POST /api/groups --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_group_as_manager_returns_201_and_creator_is_owner(
    client, manager_headers, manager_user
):
    """A manager creates a group: 201 with the Group, member_count 1, and reading it back
    shows the creator as its only member, with group role `owner`."""
    response = await client.post(
        "/api/groups",
        json={"name": "Openings 101", "description": "For beginners"},
        headers=manager_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == GROUP_FIELDS
    assert {k: body[k] for k in ("name", "description", "created_by", "member_count")} == {
        "name": "Openings 101",
        "description": "For beginners",
        "created_by": manager_user.id,
        "member_count": 1,
    }
    assert ts(body["created_at"]) <= ts(body["updated_at"])
    read = await client.get(f"/api/groups/{body['id']}", headers=manager_headers)
    assert read.status_code == 200
    assert {k: v for k, v in read.json().items() if k != "members"} == body
    assert [(m["user_id"], m["role"], m["group_role"]) for m in read.json()["members"]] == [
        (manager_user.id, "owner", "owner")
    ]


@pytest.mark.asyncio
async def test_create_group_as_admin_returns_201(client, auth_headers, admin_user):
    """An admin may create a group too; without a description it is null."""
    response = await client.post("/api/groups", json={"name": "Endgames"}, headers=auth_headers)

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["description"], body["created_by"], body["member_count"]) == (
        "Endgames",
        None,
        admin_user.id,
        1,
    )


@pytest.mark.asyncio
async def test_create_group_name_is_stripped_of_surrounding_white_space(client, auth_headers):
    """Surrounding white space of the name is removed before storing."""
    response = await client.post("/api/groups", json={"name": "  Tactics  "}, headers=auth_headers)

    assert response.status_code == 201
    read = await client.get(f"/api/groups/{response.json()['id']}", headers=auth_headers)
    assert read.json()["name"] == "Tactics"


@pytest.mark.asyncio
async def test_create_group_name_of_100_characters_returns_201(client, auth_headers):
    """100 characters is the longest name allowed."""
    name = "n" * 100

    response = await client.post("/api/groups", json={"name": name}, headers=auth_headers)

    assert response.status_code == 201
    assert response.json()["name"] == name


@pytest.mark.asyncio
async def test_create_group_as_user_returns_403_and_creates_nothing(
    client, user_headers, auth_headers
):
    """A `user` may not create groups: 403, and no group appears."""
    response = await client.post("/api/groups", json={"name": "Rogue"}, headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    listing = await client.get("/api/groups", headers=auth_headers)
    assert listing.json() == []


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
async def test_create_group_blank_name_returns_422(client, auth_headers, name):
    """A name that is empty or only white space is malformed: 422, nothing created."""
    response = await client.post("/api/groups", json={"name": name}, headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["body", "name"]]
    assert (await client.get("/api/groups", headers=auth_headers)).json() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"name": "n" * 101}, ["body", "name"]),
        ({"name": "x" * 200_000}, ["body", "name"]),
        ({"name": "Nul\x00byte"}, ["body", "name"]),
        ({"name": "Ok", "description": "d" * 5001}, ["body", "description"]),
        ({"name": "Ok", "description": "bad\x00"}, ["body", "description"]),
        ({"name": 123}, ["body", "name"]),
        ({"name": None}, ["body", "name"]),
        ({"description": "no name"}, ["body", "name"]),
        ({"name": "Ok", "created_by": 1}, ["body", "created_by"]),
    ],
    ids=[
        "name-101",
        "name-huge",
        "name-nul",
        "description-5001",
        "description-nul",
        "name-number",
        "name-null",
        "name-missing",
        "unknown-field",
    ],
)
async def test_create_group_malformed_body_returns_422(client, auth_headers, payload, loc):
    """Too long, NUL bytes, wrong types, missing or unknown fields: 422, nothing created."""
    response = await client.post("/api/groups", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [loc]
    assert (await client.get("/api/groups", headers=auth_headers)).json() == []


@pytest.mark.asyncio
async def test_create_group_body_not_json_returns_422(client, auth_headers):
    """A body that is not JSON at all is malformed: 422."""
    response = await client.post(
        "/api/groups",
        content=b"name=Chess",
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.asyncio
async def test_create_group_without_token_returns_401(client, test_db):
    """No bearer token: 401, before the body is even looked at."""
    response = await client.post("/api/groups", json={"name": "Anon"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_create_group_disabled_manager_returns_403(client, make_user, make_auth_headers):
    """A disabled manager may not create groups: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)

    response = await client.post(
        "/api/groups", json={"name": "Late"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- PATCH /api/groups/{group_id} --------------------------------------------------------


@pytest.mark.asyncio
async def test_update_group_as_manager_returns_200_and_persists(
    client, manager_headers, manager_user, make_group
):
    """Name and description change; the response and a read-back agree; updated_at moves."""
    group = await make_group(name="Old name", description="Old text")

    response = await client.patch(
        f"/api/groups/{group.id}",
        json={"name": " New name ", "description": "New text"},
        headers=manager_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == GROUP_FIELDS
    assert {k: body[k] for k in ("id", "name", "description", "created_by", "member_count")} == {
        "id": group.id,
        "name": "New name",
        "description": "New text",
        "created_by": manager_user.id,
        "member_count": 1,
    }
    assert ts(body["created_at"]) == group.created_at
    assert ts(body["updated_at"]) > group.updated_at
    read = await client.get(f"/api/groups/{group.id}", headers=manager_headers)
    assert {k: v for k, v in read.json().items() if k != "members"} == body


@pytest.mark.asyncio
async def test_update_group_description_only_keeps_name(client, auth_headers, make_group):
    """Fields left out of the PATCH body stay as they were."""
    group = await make_group(name="Keep me", description="Before")

    response = await client.patch(
        f"/api/groups/{group.id}", json={"description": "After"}, headers=auth_headers
    )

    assert response.status_code == 200
    read = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert (read.json()["name"], read.json()["description"]) == ("Keep me", "After")


@pytest.mark.asyncio
async def test_update_group_null_description_clears_it(client, auth_headers, make_group):
    """`description: null` clears the description."""
    group = await make_group(description="Going away")

    response = await client.patch(
        f"/api/groups/{group.id}", json={"description": None}, headers=auth_headers
    )

    assert response.status_code == 200
    read = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert read.json()["description"] is None


@pytest.mark.asyncio
async def test_update_group_empty_body_changes_nothing(client, auth_headers, make_group):
    """`{}` is a valid PATCH that changes nothing: 200 with the group as it was."""
    group = await make_group(name="Same", description="Same text")

    response = await client.patch(f"/api/groups/{group.id}", json={}, headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["member_count"]) == ("Same", "Same text", 1)
    assert ts(body["updated_at"]) == group.updated_at


@pytest.mark.asyncio
async def test_update_group_as_user_owner_returns_403(
    client, make_group, make_user, add_member, make_auth_headers, auth_headers
):
    """Even a `user` who owns the group may not change it: 403, nothing changes."""
    group = await make_group(name="Stays")
    parent = await make_user()
    await add_member(group, parent, "owner")

    response = await client.patch(
        f"/api/groups/{group.id}", json={"name": "Hijacked"}, headers=make_auth_headers(parent)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    read = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert read.json()["name"] == "Stays"


@pytest.mark.asyncio
async def test_update_group_as_user_unknown_id_returns_403(client, user_headers):
    """The role check comes first: a `user` gets 403 whether or not the group exists, so
    the write routes cannot be used to probe for group ids."""
    response = await client.patch("/api/groups/424242", json={"name": "X"}, headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}


@pytest.mark.asyncio
async def test_update_group_unknown_id_returns_404(client, auth_headers):
    """PATCH of a group that does not exist: 404."""
    response = await client.patch("/api/groups/424242", json={"name": "X"}, headers=auth_headers)

    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [{"name": None}, {"name": "  "}, {"name": "n" * 101}, {"name": "a\x00"}, {"owner": 1}],
    ids=["name-null", "name-blank", "name-101", "name-nul", "unknown-field"],
)
async def test_update_group_malformed_body_returns_422(client, auth_headers, make_group, payload):
    """A null, blank, too long or NUL name, or an unknown field: 422, nothing changes."""
    group = await make_group(name="Unchanged")

    response = await client.patch(f"/api/groups/{group.id}", json=payload, headers=auth_headers)

    assert response.status_code == 422
    read = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert read.json()["name"] == "Unchanged"


@pytest.mark.asyncio
async def test_update_group_id_outside_64_bit_returns_422(client, auth_headers):
    """A `group_id` past 2^63-1 is malformed: 422, never a 500."""
    response = await client.patch(
        f"/api/groups/{TOO_BIG_ID}", json={"name": "X"}, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "group_id"]]


@pytest.mark.asyncio
async def test_update_group_without_token_returns_401(client, make_group):
    """No bearer token: 401."""
    group = await make_group()

    response = await client.patch(f"/api/groups/{group.id}", json={"name": "X"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_update_group_disabled_admin_returns_403(
    client, make_group, make_user, make_auth_headers
):
    """A disabled admin is refused: 403 "account disabled"."""
    group = await make_group()
    disabled = await make_user(role="admin", is_active=False)

    response = await client.patch(
        f"/api/groups/{group.id}", json={"name": "X"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- DELETE /api/groups/{group_id} -------------------------------------------------------


@pytest.mark.asyncio
async def test_delete_group_as_manager_returns_204_and_removes_it(
    client, manager_headers, make_group
):
    """DELETE answers 204 with an empty body; the group is then 404 and gone from the list."""
    group = await make_group()

    response = await client.delete(f"/api/groups/{group.id}", headers=manager_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/groups/{group.id}", headers=manager_headers)).status_code == 404
    assert (await client.get("/api/groups", headers=manager_headers)).json() == []


@pytest.mark.asyncio
async def test_delete_group_removes_memberships_and_course_assignments(
    client,
    auth_headers,
    make_group,
    make_user,
    add_member,
    make_course,
    assign_course,
    make_auth_headers,
):
    """Memberships and course assignments go with the group; the course itself stays."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent)
    course = await make_course(title="Forks and pins")
    await assign_course(group, course)
    parent_headers = make_auth_headers(parent)

    response = await client.delete(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 204
    assert (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).status_code == 404
    kept = await client.get(f"/api/courses/{course.id}", headers=auth_headers)
    assert (kept.status_code, kept.json()["title"]) == (200, "Forks and pins")
    assert (await client.get("/api/groups", headers=parent_headers)).json() == []
    assert (await client.get("/api/courses", headers=parent_headers)).json() == []


@pytest.mark.asyncio
async def test_delete_group_as_user_owner_returns_403_and_keeps_it(
    client, make_group, make_user, add_member, make_auth_headers, auth_headers
):
    """A `user`, even the group's owner, may not delete it: 403, the group stays."""
    group = await make_group()
    parent = await make_user()
    await add_member(group, parent, "owner")

    response = await client.delete(f"/api/groups/{group.id}", headers=make_auth_headers(parent))

    assert response.status_code == 403
    assert (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_group_unknown_id_returns_404(client, auth_headers):
    """Deleting a group that does not exist: 404."""
    response = await client.delete("/api/groups/31337", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Group 31337 not found"}


@pytest.mark.asyncio
async def test_delete_group_twice_returns_404_the_second_time(client, auth_headers, make_group):
    """Delete is not silently repeated: the second DELETE finds nothing, 404."""
    group = await make_group()
    await client.delete(f"/api/groups/{group.id}", headers=auth_headers)

    response = await client.delete(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 404


@pytest.mark.asyncio
async def test_delete_group_id_outside_64_bit_returns_422(client, auth_headers):
    """A `group_id` past 2^63-1 is malformed: 422, never a 500."""
    response = await client.delete(f"/api/groups/{TOO_BIG_ID}", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_delete_group_without_token_returns_401(client, make_group, auth_headers):
    """No bearer token: 401, and the group stays."""
    group = await make_group()

    response = await client.delete(f"/api/groups/{group.id}")

    assert response.status_code == 401
    assert (await client.get(f"/api/groups/{group.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_group_disabled_manager_returns_403(
    client, make_group, make_user, make_auth_headers
):
    """A disabled manager is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    group = await make_group(creator=disabled)

    response = await client.delete(f"/api/groups/{group.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


# --- Body size: every /api/groups endpoint that takes a body -------------------------------

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"name": "' + b"x" * ONE_MIB + b'"}'
BODY_ENDPOINTS = [
    ("POST", "/api/groups"),
    ("PATCH", "/api/groups/{gid}"),
    ("POST", "/api/groups/{gid}/members/{uid}"),
    ("PATCH", "/api/groups/{gid}/members/{uid}/role"),
    ("POST", "/api/groups/{gid}/courses/{cid}"),
    ("PATCH", "/api/groups/{gid}/courses/{cid}"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"), BODY_ENDPOINTS, ids=[f"{m}:{p}" for m, p in BODY_ENDPOINTS]
)
async def test_groups_endpoint_body_over_1_mib_returns_413(
    client, auth_headers, manager_user, make_user, make_group, add_member, make_course, method, path
):
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    group = await make_group(name="Chess Club")
    member = await make_user(username="member")
    await add_member(group, member)
    course = await make_course(title="Basics")

    response = await client.request(
        method,
        path.format(gid=group.id, uid=member.id, cid=course.id),
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    groups = await client.get("/api/groups", headers=auth_headers)
    assert groups.status_code == 200
    assert [(g["name"], g["member_count"]) for g in groups.json()] == [("Chess Club", 2)]
    detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert detail.status_code == 200
    assert [(m["username"], m["group_role"]) for m in detail.json()["members"]] == [
        ("manager", "owner"),
        ("member", "member"),
    ]
    courses = await client.get(f"/api/groups/{group.id}/courses", headers=auth_headers)
    assert courses.status_code == 200
    assert courses.json() == []


@pytest.mark.asyncio
async def test_update_group_by_manager_of_another_group_returns_200_and_adds_no_access(
    client, auth_headers, manager_user, make_group, make_user, make_auth_headers
):
    """Renaming a group stays open to every manager (it opens no parent's data, unlike a
    membership change): 200 for a manager in no role there, who is still no member of it
    and still gets 403 on its progress view."""
    group = await make_group(name="Theirs")
    stranger = await make_user(role="manager")
    headers = make_auth_headers(stranger)

    response = await client.patch(
        f"/api/groups/{group.id}", json={"name": "Renamed"}, headers=headers
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    detail = await client.get(f"/api/groups/{group.id}", headers=auth_headers)
    assert detail.json()["name"] == "Renamed"
    assert [m["user_id"] for m in detail.json()["members"]] == [manager_user.id]
    progress = await client.get(f"/api/groups/{group.id}/progress", headers=headers)
    assert (progress.status_code, progress.json()) == (
        403,
        {"detail": "You may only see the progress of groups you own or moderate"},
    )
