"""Contract tests for a parent's children: CRUD under /api/auth/me/children (at most 10,
private to the parent), staff's read of a parent's children (admins, managers of a group
of the parent's), and the old profile fields left as they were.

Contract: docs/contracts/children.md.
"""

import pytest

from expected import UTC_TIMESTAMP

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"name": "' + b"x" * ONE_MIB + b'"}'
ME = "/api/auth/me/children"


async def add(client, headers, name="Sam", birth_date="2024-05-17"):
    response = await client.post(ME, json={"name": name, "birth_date": birth_date}, headers=headers)
    assert response.status_code == 201
    return response.json()


async def names(client, headers):
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200
    return [child["name"] for child in response.json()]


# --- GET /api/auth/me/children ----------------------------------------------------------


@pytest.mark.asyncio
async def test_list_my_children_returns_own_oldest_first(
    client, user_headers, make_user, make_auth_headers
):
    """The caller's children, oldest record first, with X-Total-Count; nobody else's."""
    first = await add(client, user_headers, "Ana", "2023-01-10")
    second = await add(client, user_headers, "Ben", "2025-02-01")
    other = await make_user()
    await add(client, make_auth_headers(other), "Zoe", "2024-01-01")

    response = await client.get(ME, headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.json() == [first, second]


@pytest.mark.asyncio
async def test_list_my_children_paged_counts_all(client, user_headers):
    """limit/offset window the list; X-Total-Count is the whole list."""
    for name in ("A", "B", "C"):
        await add(client, user_headers, name)

    response = await client.get(ME, params={"limit": 1, "offset": 1}, headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert [c["name"] for c in response.json()] == ["B"]


@pytest.mark.asyncio
async def test_list_my_children_without_token_returns_401(client, test_db):
    """No token: 401 with WWW-Authenticate."""
    response = await client.get(ME)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_list_my_children_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.get(ME, headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_list_my_children_bad_limit_returns_422(client, user_headers):
    """limit out of range: 422."""
    response = await client.get(ME, params={"limit": 0}, headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


# --- POST /api/auth/me/children ---------------------------------------------------------


@pytest.mark.asyncio
async def test_add_child_returns_201_and_reads_back(client, user_headers, clock):
    """A child is stored with its name trimmed and read back in the list."""
    response = await client.post(
        ME, json={"name": "  Sam ", "birth_date": "2024-05-17"}, headers=user_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Sam",
        "birth_date": "2024-05-17",
        "created_at": UTC_TIMESTAMP,
        "updated_at": UTC_TIMESTAMP,
    }
    read_back = await client.get(ME, headers=user_headers)
    assert read_back.status_code == 200
    assert read_back.json() == [body]


@pytest.mark.asyncio
async def test_add_child_born_today_and_18_years_ago_accepted(client, user_headers, clock):
    """Both ends of the birth-date window are inside it: today, and 216 months ago."""
    today = await client.post(
        ME, json={"name": "A", "birth_date": "2026-03-05"}, headers=user_headers
    )
    oldest = await client.post(
        ME, json={"name": "B", "birth_date": "2008-03-05"}, headers=user_headers
    )

    assert (today.status_code, oldest.status_code) == (201, 201)
    assert await names(client, user_headers) == ["A", "B"]


@pytest.mark.asyncio
async def test_add_child_oldest_day_on_29_february_is_28th(client, user_headers, clock):
    """On 2028-02-29 the earliest birth date is 2010-02-28 (that February has no 29th)."""
    clock.set("2028-02-29T12:00:00Z")
    ok = await client.post(ME, json={"name": "A", "birth_date": "2010-02-28"}, headers=user_headers)
    too_old = await client.post(
        ME, json={"name": "B", "birth_date": "2010-02-27"}, headers=user_headers
    )

    assert ok.status_code == 201
    assert too_old.status_code == 422
    assert await names(client, user_headers) == ["A"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"birth_date": "2024-01-01"}, ["body", "name"]),
        ({"name": "", "birth_date": "2024-01-01"}, ["body", "name"]),
        ({"name": "   ", "birth_date": "2024-01-01"}, ["body", "name"]),
        ({"name": "x" * 101, "birth_date": "2024-01-01"}, ["body", "name"]),
        ({"name": "a\x00b", "birth_date": "2024-01-01"}, ["body", "name"]),
        ({"name": "Sam"}, ["body", "birth_date"]),
        ({"name": "Sam", "birth_date": "2024-13-01"}, ["body", "birth_date"]),
        ({"name": "Sam", "birth_date": 86400}, ["body", "birth_date"]),
        ({"name": "Sam", "birth_date": "2026-03-06"}, ["body", "birth_date"]),
        ({"name": "Sam", "birth_date": "2008-03-04"}, ["body", "birth_date"]),
        ({"name": "Sam", "birth_date": "2024-01-01", "user_id": 1}, ["body", "user_id"]),
    ],
    ids=[
        "no-name",
        "empty-name",
        "blank-name",
        "long-name",
        "nul",
        "no-date",
        "bad-date",
        "number-date",
        "tomorrow",
        "over-18-years",
        "unknown-field",
    ],
)
async def test_add_child_invalid_body_returns_422(client, user_headers, clock, body, loc):
    """A body out of its limits: 422 naming the field; nothing stored."""
    response = await client.post(ME, json=body, headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert await names(client, user_headers) == []


@pytest.mark.asyncio
async def test_add_child_eleventh_returns_400(client, user_headers):
    """At most 10 children: the eleventh is 400 and not stored."""
    for i in range(10):
        await add(client, user_headers, f"C{i}")

    response = await client.post(
        ME, json={"name": "Eleven", "birth_date": "2024-01-01"}, headers=user_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "You may have at most 10 children"}
    assert len(await names(client, user_headers)) == 10


@pytest.mark.asyncio
async def test_add_child_limit_is_per_parent(client, user_headers, make_user, make_auth_headers):
    """Another parent's ten children do not count against the caller."""
    other = make_auth_headers(await make_user())
    for i in range(10):
        await add(client, other, f"C{i}")

    response = await client.post(
        ME, json={"name": "Mine", "birth_date": "2024-01-01"}, headers=user_headers
    )

    assert response.status_code == 201


@pytest.mark.asyncio
async def test_add_child_without_token_returns_401(client, test_db):
    """No token: 401."""
    response = await client.post(ME, json={"name": "Sam", "birth_date": "2024-01-01"})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_add_child_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.post(
        ME, json={"name": "Sam", "birth_date": "2024-01-01"}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_add_child_body_over_1_mib_returns_413(client, user_headers):
    """A body over 1 MiB: 413, nothing stored."""
    response = await client.post(
        ME, content=OVERSIZED_BODY, headers={**user_headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert await names(client, user_headers) == []


@pytest.mark.asyncio
async def test_add_child_leaves_profile_fields_alone(client, make_user, make_auth_headers):
    """The old child_name/child_dob stay what the profile says, whatever the records."""
    user = await make_user(child_name="Old", child_dob="2022-02-02")
    headers = make_auth_headers(user)
    await add(client, headers, "New", "2025-01-01")

    me = await client.get("/api/auth/me", headers=headers)

    assert me.status_code == 200
    assert (me.json()["child_name"], me.json()["child_dob"]) == ("Old", "2022-02-02")


@pytest.mark.asyncio
async def test_profile_child_fields_do_not_make_a_record(client, test_user, user_headers):
    """PATCH /api/auth/me with child_name/child_dob changes no child record."""
    patch = await client.patch(
        "/api/auth/me", json={"child_name": "Kim", "child_dob": "2023-03-03"}, headers=user_headers
    )

    assert patch.status_code == 200
    assert patch.json()["child_dob"] == "2023-03-03"
    assert await names(client, user_headers) == []


# --- PATCH /api/auth/me/children/{child_id} --------------------------------------------


@pytest.mark.asyncio
async def test_update_child_changes_sent_fields(client, user_headers, clock):
    """Only the fields sent change."""
    child = await add(client, user_headers, "Sam", "2024-05-17")

    response = await client.patch(
        f"{ME}/{child['id']}", json={"name": "Samuel"}, headers=user_headers
    )

    assert response.status_code == 200
    assert response.json() == {**child, "name": "Samuel", "updated_at": UTC_TIMESTAMP}
    assert await names(client, user_headers) == ["Samuel"]


@pytest.mark.asyncio
async def test_update_child_birth_date(client, user_headers, clock):
    """A birth date inside the window is stored."""
    child = await add(client, user_headers, "Sam", "2024-05-17")

    response = await client.patch(
        f"{ME}/{child['id']}", json={"birth_date": "2025-12-31"}, headers=user_headers
    )

    assert response.status_code == 200
    assert response.json()["birth_date"] == "2025-12-31"


@pytest.mark.asyncio
async def test_update_other_parents_child_returns_404(
    client, user_headers, make_user, make_auth_headers
):
    """Another parent's child is not found for the caller, and stays as it was."""
    other = make_auth_headers(await make_user())
    child = await add(client, other, "Zoe")

    response = await client.patch(
        f"{ME}/{child['id']}", json={"name": "Mine"}, headers=user_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Child {child['id']} not found"}
    assert await names(client, other) == ["Zoe"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"birth_date": None}, {"name": ""}, {"birth_date": "2027-01-01"}, {"x": 1}],
    ids=["null-name", "null-date", "empty-name", "future", "unknown"],
)
async def test_update_child_invalid_body_returns_422(client, user_headers, clock, body):
    """A field null, out of its limits or unknown: 422, nothing changed."""
    child = await add(client, user_headers, "Sam")

    response = await client.patch(f"{ME}/{child['id']}", json=body, headers=user_headers)

    assert response.status_code == 422
    assert await names(client, user_headers) == ["Sam"]


@pytest.mark.asyncio
async def test_update_child_bad_id_returns_422(client, user_headers):
    """A child id beyond 64 bits: 422."""
    response = await client.patch(f"{ME}/{2**63}", json={"name": "X"}, headers=user_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_update_child_without_token_returns_401(client, test_db):
    """No token: 401."""
    response = await client.patch(f"{ME}/1", json={"name": "X"})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_update_child_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.patch(f"{ME}/1", json={"name": "X"}, headers=make_auth_headers(user))

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_update_child_body_over_1_mib_returns_413(client, user_headers):
    """A body over 1 MiB: 413, nothing changed."""
    child = await add(client, user_headers, "Sam")

    response = await client.patch(
        f"{ME}/{child['id']}",
        content=OVERSIZED_BODY,
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert await names(client, user_headers) == ["Sam"]


# --- DELETE /api/auth/me/children/{child_id} -------------------------------------------


@pytest.mark.asyncio
async def test_delete_child_returns_204(client, user_headers):
    """The child is gone; the others stay."""
    sam = await add(client, user_headers, "Sam")
    await add(client, user_headers, "Kim")

    response = await client.delete(f"{ME}/{sam['id']}", headers=user_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await names(client, user_headers) == ["Kim"]


@pytest.mark.asyncio
async def test_delete_other_parents_child_returns_404(
    client, user_headers, make_user, make_auth_headers
):
    """Another parent's child: 404, and it stays."""
    other = make_auth_headers(await make_user())
    child = await add(client, other, "Zoe")

    response = await client.delete(f"{ME}/{child['id']}", headers=user_headers)

    assert response.status_code == 404
    assert await names(client, other) == ["Zoe"]


@pytest.mark.asyncio
async def test_delete_child_bad_id_returns_422(client, user_headers):
    """A child id of 0: 422."""
    response = await client.delete(f"{ME}/0", headers=user_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_delete_child_without_token_returns_401(client, test_db):
    """No token: 401."""
    response = await client.delete(f"{ME}/1")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_delete_child_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account: 403."""
    user = await make_user(is_active=False)

    response = await client.delete(f"{ME}/1", headers=make_auth_headers(user))

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_children_go_with_their_parents_account(
    client, auth_headers, test_user, user_headers
):
    """Deleting the parent's account deletes their children."""
    await add(client, user_headers, "Sam")

    deleted = await client.delete(f"/api/users/{test_user.id}", headers=auth_headers)
    read = await client.get(f"/api/users/{test_user.id}/children", headers=auth_headers)

    assert deleted.status_code == 204
    assert read.status_code == 404


# --- GET /api/users/{user_id}/children --------------------------------------------------


@pytest.mark.asyncio
async def test_list_user_children_admin_reads_anyone(client, auth_headers, test_user, user_headers):
    """An admin reads any parent's children."""
    sam = await add(client, user_headers, "Sam")

    response = await client.get(f"/api/users/{test_user.id}/children", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert response.json() == [sam]


@pytest.mark.asyncio
@pytest.mark.parametrize("group_role", ["owner", "moderator"])
async def test_list_user_children_manager_of_parents_group(
    client,
    make_group,
    add_member,
    make_user,
    make_auth_headers,
    test_user,
    user_headers,
    group_role,
):
    """A manager who owns or moderates a group of the parent's reads their children."""
    manager = await make_user(role="manager")
    owner = await make_user(role="manager")
    group = await make_group(creator=owner)
    if group_role == "moderator":
        await add_member(group, manager, role="moderator")
    else:
        await add_member(group, manager, role="owner")
    await add_member(group, test_user)
    sam = await add(client, user_headers, "Sam")

    response = await client.get(
        f"/api/users/{test_user.id}/children", headers=make_auth_headers(manager)
    )

    assert response.status_code == 200
    assert response.json() == [sam]


@pytest.mark.asyncio
async def test_list_user_children_other_manager_returns_403(
    client, make_group, add_member, make_user, make_auth_headers, test_user, user_headers
):
    """A manager of none of the parent's groups (a plain member of one counts for nothing):
    403."""
    manager = await make_user(role="manager")
    group = await make_group(creator=await make_user(role="manager"))
    await add_member(group, manager)
    await add_member(group, test_user)
    await add(client, user_headers, "Sam")

    response = await client.get(
        f"/api/users/{test_user.id}/children", headers=make_auth_headers(manager)
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may only see the data of members of groups you own or moderate"
    }


@pytest.mark.asyncio
async def test_list_user_children_user_reads_own(client, test_user, user_headers):
    """A parent may read their own children by id."""
    sam = await add(client, user_headers, "Sam")

    response = await client.get(f"/api/users/{test_user.id}/children", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [sam]


@pytest.mark.asyncio
async def test_list_user_children_user_reads_other_returns_403(client, user_headers, make_user):
    """A `user` naming another parent: 403 (also for an id that does not exist)."""
    other = await make_user()

    response = await client.get(f"/api/users/{other.id}/children", headers=user_headers)
    unknown = await client.get("/api/users/999999/children", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You may only see your own children"}
    assert unknown.status_code == 403


@pytest.mark.asyncio
async def test_list_user_children_unknown_user_returns_404(client, auth_headers):
    """Staff naming an unknown user: 404."""
    response = await client.get("/api/users/999999/children", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "User 999999 not found"}


@pytest.mark.asyncio
async def test_list_user_children_bad_id_returns_422(client, auth_headers):
    """A user id that is not a number: 422."""
    response = await client.get("/api/users/abc/children", headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_list_user_children_without_token_returns_401(client, test_db):
    """No token: 401."""
    response = await client.get("/api/users/1/children")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_list_user_children_disabled_account_returns_403(
    client, make_user, make_auth_headers
):
    """A disabled account: 403."""
    user = await make_user(is_active=False, role="admin")

    response = await client.get("/api/users/1/children", headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}
