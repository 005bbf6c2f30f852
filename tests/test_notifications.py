"""Contract tests for notifications: the caller's list (X-Unread-Count), read marks,
settings, push tokens, and `course_assigned` made in the assignment's transaction.

Contract: docs/contracts/notifications.md.
"""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from expected import UTC_TIMESTAMP
from tma.notifications.dependencies import now as clock
from tma.notifications.models import Notification, NotificationKind, PushToken
from tma.notifications.service import notify

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "ExponentPushToken[abcDEF123-_x]"


async def make_notifications(test_db, user, count, *, kind=NotificationKind.REMINDER):
    async with test_db.session() as session:
        for i in range(count):
            await notify(
                session,
                user_ids=[user.id],
                kind=kind,
                subject=f"course:{i + 1}",
                period="2026-W10",
                title=f"Title {i + 1}",
                body=f"Body {i + 1}",
                data={"course_id": i + 1},
                now=T0,
            )
        await session.commit()
        rows = await session.execute(
            select(Notification.id).where(Notification.user_id == user.id).order_by(Notification.id)
        )
        return list(rows.scalars())


def body_of(notification_id, i, *, read_at=None):
    return {
        "id": notification_id,
        "kind": "reminder",
        "title": f"Title {i}",
        "body": f"Body {i}",
        "data": {"course_id": i},
        "created_at": "2026-03-02T09:00:00Z",
        "read_at": read_at,
    }


@pytest.fixture
def fixed_clock(app):
    app.dependency_overrides[clock] = lambda: T0
    yield T0
    app.dependency_overrides.pop(clock, None)


# --- GET /api/notifications ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_notifications_newest_first_with_unread_count(
    client, test_db, test_user, user_headers, make_user
):
    """The caller's own, newest first; X-Total-Count and X-Unread-Count; another user's
    are not there."""
    ids = await make_notifications(test_db, test_user, 3)
    other = await make_user()
    await make_notifications(test_db, other, 2)

    response = await client.get("/api/notifications", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [body_of(ids[2], 3), body_of(ids[1], 2), body_of(ids[0], 1)]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Unread-Count"] == "3"


@pytest.mark.asyncio
async def test_list_notifications_page_keeps_whole_counts(client, test_db, test_user, user_headers):
    """A page: the counts are the whole list's."""
    ids = await make_notifications(test_db, test_user, 3)

    response = await client.get("/api/notifications?limit=1&offset=1", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == [body_of(ids[1], 2)]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Unread-Count"] == "3"


@pytest.mark.asyncio
async def test_list_notifications_past_the_end_still_counts(
    client, test_db, test_user, user_headers
):
    """An empty page past the end: [] with the whole list's counts."""
    await make_notifications(test_db, test_user, 2)

    response = await client.get("/api/notifications?offset=5", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["X-Unread-Count"] == "2"


@pytest.mark.asyncio
async def test_list_notifications_without_token_returns_401(client):
    response = await client.get("/api/notifications")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_list_notifications_disabled_account_returns_403(
    client, make_user, make_auth_headers
):
    user = await make_user(is_active=False)

    response = await client.get("/api/notifications", headers=make_auth_headers(user))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["limit=0", "offset=-1", "kind=reminder"])
async def test_list_notifications_bad_query_returns_422(client, test_user, user_headers, query):
    response = await client.get(f"/api/notifications?{query}", headers=user_headers)

    assert response.status_code == 422


# --- POST /api/notifications/read ---------------------------------------------------------


@pytest.mark.asyncio
async def test_mark_read_by_ids_marks_only_callers_own(
    client, test_db, test_user, user_headers, make_user, fixed_clock
):
    """Only the caller's listed ones; another user's id and an unknown one are ignored."""
    ids = await make_notifications(test_db, test_user, 3)
    other = await make_user()
    theirs = await make_notifications(test_db, other, 1)

    response = await client.post(
        "/api/notifications/read",
        json={"ids": [ids[0], ids[2], theirs[0], 999_999]},
        headers=user_headers,
    )

    assert response.status_code == 204
    assert response.content == b""
    listed = await client.get("/api/notifications", headers=user_headers)
    assert listed.status_code == 200
    read = "2026-03-02T09:00:00Z"
    assert listed.json() == [
        body_of(ids[2], 3, read_at=read),
        body_of(ids[1], 2),
        body_of(ids[0], 1, read_at=read),
    ]
    assert listed.headers["X-Unread-Count"] == "1"
    async with test_db.session() as session:
        assert (
            await session.scalar(select(Notification.read_at).where(Notification.id == theirs[0]))
            is None
        )


@pytest.mark.asyncio
async def test_mark_read_all_keeps_first_read_at(client, test_db, test_user, user_headers, app):
    """`all: true` marks every unread one; one already read keeps its first `read_at`."""
    ids = await make_notifications(test_db, test_user, 2)
    app.dependency_overrides[clock] = lambda: T0
    try:
        first = await client.post(
            "/api/notifications/read", json={"ids": [ids[0]]}, headers=user_headers
        )
        app.dependency_overrides[clock] = lambda: datetime(2026, 3, 3, tzinfo=UTC)
        response = await client.post(
            "/api/notifications/read", json={"all": True}, headers=user_headers
        )
    finally:
        app.dependency_overrides.pop(clock, None)

    assert first.status_code == 204
    assert response.status_code == 204
    listed = await client.get("/api/notifications", headers=user_headers)
    assert listed.status_code == 200
    assert [n["read_at"] for n in listed.json()] == ["2026-03-03T00:00:00Z", "2026-03-02T09:00:00Z"]
    assert listed.headers["X-Unread-Count"] == "0"


@pytest.mark.asyncio
async def test_mark_read_without_token_returns_401(client):
    response = await client.post("/api/notifications/read", json={"all": True})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_mark_read_disabled_account_returns_403(client, make_user, make_auth_headers):
    user = await make_user(is_active=False)

    response = await client.post(
        "/api/notifications/read", json={"all": True}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": [1], "all": True},
        {"all": False},
        {"ids": []},
        {"ids": [0]},
        {"ids": [2**63]},
        {"ids": list(range(1, 1002))},
        {"all": True, "extra": 1},
    ],
    ids=["empty", "both", "all-false", "no-ids", "id-zero", "id-too-big", "too-many", "unknown"],
)
async def test_mark_read_bad_body_returns_422(client, test_db, test_user, user_headers, body):
    """A refused body changes nothing."""
    await make_notifications(test_db, test_user, 1)

    response = await client.post("/api/notifications/read", json=body, headers=user_headers)

    assert response.status_code == 422
    listed = await client.get("/api/notifications", headers=user_headers)
    assert listed.headers["X-Unread-Count"] == "1"


@pytest.mark.asyncio
async def test_mark_read_body_too_large_returns_413(client, test_user, user_headers):
    response = await client.post(
        "/api/notifications/read",
        content=b'{"ids": [' + b"1," * 600_000 + b"1]}",
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


# --- settings -----------------------------------------------------------------------------

DEFAULTS = {
    "email": False,
    "push": True,
    "reminders": "weekly",
    "quiet_hours": None,
    "timezone": "UTC",
}


@pytest.mark.asyncio
async def test_get_settings_defaults(client, test_user, user_headers):
    response = await client.get("/api/auth/me/notification-settings", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == DEFAULTS


@pytest.mark.asyncio
async def test_get_settings_without_token_returns_401(client):
    response = await client.get("/api/auth/me/notification-settings")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_get_settings_disabled_account_returns_403(client, make_user, make_auth_headers):
    user = await make_user(is_active=False)

    response = await client.get(
        "/api/auth/me/notification-settings", headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_get_settings_unknown_query_returns_422(client, test_user, user_headers):
    response = await client.get("/api/auth/me/notification-settings?x=1", headers=user_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_patch_settings_changes_only_fields_sent(client, test_user, user_headers):
    """Two PATCHes: the second keeps what the first set; null quiet hours clears them."""
    first = await client.patch(
        "/api/auth/me/notification-settings",
        json={"email": True, "quiet_hours": {"start": "21:00", "end": "07:30"}},
        headers=user_headers,
    )
    second = await client.patch(
        "/api/auth/me/notification-settings",
        json={"reminders": "twice_weekly", "timezone": "America/New_York"},
        headers=user_headers,
    )

    assert first.status_code == 200
    assert first.json() == {
        **DEFAULTS,
        "email": True,
        "quiet_hours": {"start": "21:00", "end": "07:30"},
    }
    assert second.status_code == 200
    expected = {
        "email": True,
        "push": True,
        "reminders": "twice_weekly",
        "quiet_hours": {"start": "21:00", "end": "07:30"},
        "timezone": "America/New_York",
    }
    assert second.json() == expected
    read_back = await client.get("/api/auth/me/notification-settings", headers=user_headers)
    assert read_back.status_code == 200
    assert read_back.json() == expected
    cleared = await client.patch(
        "/api/auth/me/notification-settings", json={"quiet_hours": None}, headers=user_headers
    )
    assert cleared.status_code == 200
    assert cleared.json() == {**expected, "quiet_hours": None}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": None},
        {"reminders": "daily"},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "08:00", "end": "08:00"}},
        {"quiet_hours": {"start": "08:00"}},
        {"timezone": "Mars/Olympus"},
        {"timezone": "europe/paris"},
        {"timezone": None},
        {"language": "fr"},
    ],
    ids=[
        "empty",
        "null-email",
        "bad-reminders",
        "bad-hour",
        "short-hour",
        "equal",
        "no-end",
        "unknown-zone",
        "zone-case",
        "null-zone",
        "unknown-field",
    ],
)
async def test_patch_settings_bad_body_returns_422(client, test_user, user_headers, body):
    response = await client.patch(
        "/api/auth/me/notification-settings", json=body, headers=user_headers
    )

    assert response.status_code == 422
    read_back = await client.get("/api/auth/me/notification-settings", headers=user_headers)
    assert read_back.json() == DEFAULTS


@pytest.mark.asyncio
async def test_patch_settings_without_token_returns_401(client):
    response = await client.patch("/api/auth/me/notification-settings", json={"email": True})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_patch_settings_disabled_account_returns_403(client, make_user, make_auth_headers):
    user = await make_user(is_active=False)

    response = await client.patch(
        "/api/auth/me/notification-settings", json={"email": True}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_patch_settings_body_too_large_returns_413(client, test_user, user_headers):
    response = await client.patch(
        "/api/auth/me/notification-settings",
        content=b'{"timezone": "' + b"x" * 1_100_000 + b'"}',
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


# --- push tokens --------------------------------------------------------------------------


async def tokens_of(test_db, user_id):
    async with test_db.session() as session:
        rows = await session.execute(
            select(PushToken.token).where(PushToken.user_id == user_id).order_by(PushToken.id)
        )
        return list(rows.scalars())


@pytest.mark.asyncio
async def test_add_push_token_stores_it_once(client, test_db, test_user, user_headers):
    """201 with the token; registering it again changes nothing (same `created_at`)."""
    first = await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=user_headers
    )
    again = await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=user_headers
    )

    assert first.status_code == 201
    assert first.json() == {"token": TOKEN, "created_at": UTC_TIMESTAMP}
    assert again.status_code == 201
    assert again.json() == first.json()
    assert await tokens_of(test_db, test_user.id) == [TOKEN]


@pytest.mark.asyncio
async def test_add_push_token_of_another_account_moves_it(
    client, test_db, test_user, user_headers, make_user, make_auth_headers
):
    """One device, one account: the token moves to the caller."""
    other = await make_user()
    await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=make_auth_headers(other)
    )

    response = await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=user_headers
    )

    assert response.status_code == 201
    assert await tokens_of(test_db, test_user.id) == [TOKEN]
    assert await tokens_of(test_db, other.id) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": "abc"},
        {"token": "ExponentPushToken[]"},
        {"token": "ExponentPushToken[a b]"},
        {"token": TOKEN, "device": "x"},
    ],
    ids=["missing", "not-expo", "empty-inside", "space", "unknown-field"],
)
async def test_add_push_token_bad_body_returns_422(client, test_db, test_user, user_headers, body):
    response = await client.post("/api/auth/me/push-tokens", json=body, headers=user_headers)

    assert response.status_code == 422
    assert await tokens_of(test_db, test_user.id) == []


@pytest.mark.asyncio
async def test_add_push_token_without_token_returns_401(client):
    response = await client.post("/api/auth/me/push-tokens", json={"token": TOKEN})

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_add_push_token_disabled_account_returns_403(client, make_user, make_auth_headers):
    user = await make_user(is_active=False)

    response = await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_add_push_token_body_too_large_returns_413(client, test_user, user_headers):
    response = await client.post(
        "/api/auth/me/push-tokens",
        content=b'{"token": "' + b"x" * 1_100_000 + b'"}',
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


@pytest.mark.asyncio
async def test_delete_push_token_removes_it(client, test_db, test_user, user_headers):
    await client.post("/api/auth/me/push-tokens", json={"token": TOKEN}, headers=user_headers)

    response = await client.delete(f"/api/auth/me/push-tokens/{TOKEN}", headers=user_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await tokens_of(test_db, test_user.id) == []


@pytest.mark.asyncio
async def test_delete_push_token_of_another_user_returns_404(
    client, test_db, test_user, user_headers, make_user, make_auth_headers
):
    """Another user's token is the same 404 as an unknown one, and stays."""
    other = await make_user()
    await client.post(
        "/api/auth/me/push-tokens", json={"token": TOKEN}, headers=make_auth_headers(other)
    )

    response = await client.delete(f"/api/auth/me/push-tokens/{TOKEN}", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Push token not found"}
    assert await tokens_of(test_db, other.id) == [TOKEN]


@pytest.mark.asyncio
async def test_delete_push_token_without_token_returns_401(client):
    response = await client.delete(f"/api/auth/me/push-tokens/{TOKEN}")

    assert response.status_code == 401


@pytest.mark.asyncio
async def test_delete_push_token_disabled_account_returns_403(client, make_user, make_auth_headers):
    user = await make_user(is_active=False)

    response = await client.delete(
        f"/api/auth/me/push-tokens/{TOKEN}", headers=make_auth_headers(user)
    )

    assert response.status_code == 403


@pytest.mark.asyncio
async def test_delete_push_token_unknown_query_returns_422(client, test_user, user_headers):
    response = await client.delete(f"/api/auth/me/push-tokens/{TOKEN}?x=1", headers=user_headers)

    assert response.status_code == 422


# --- course_assigned ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_assigning_a_course_tells_the_groups_parents_in_app(
    client,
    auth_headers,
    test_user,
    user_headers,
    make_user,
    make_group,
    add_member,
    make_course,
    make_auth_headers,
):
    """In the assignment's transaction: each parent of the group gets `course_assigned` with
    `{course_id, group_id}`; a manager member does not; assigning again after taking it
    away does not tell twice."""
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    staff = await make_user(role="manager")
    await add_member(group, staff)
    course = await make_course(title="First steps")

    assigned = await client.post(
        f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers
    )
    await client.delete(f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers)
    again = await client.post(f"/api/groups/{group.id}/courses/{course.id}", headers=auth_headers)

    assert assigned.status_code == 201
    assert again.status_code == assigned.status_code
    listed = await client.get("/api/notifications", headers=user_headers)
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "id": listed.json()[0]["id"],
            "kind": "course_assigned",
            "title": "New course: First steps",
            "body": "Your group Oak class now has the course First steps.",
            "data": {"course_id": course.id, "group_id": group.id},
            "created_at": UTC_TIMESTAMP,
            "read_at": None,
        }
    ]
    staff_list = await client.get("/api/notifications", headers=make_auth_headers(staff))
    assert staff_list.json() == []
