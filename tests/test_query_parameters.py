"""Unknown query parameters are refused on every route, like unknown body fields
(docs/contracts/README.md, "Unknown query parameters"): 422 naming each one, before the
token is read; the parameters a route declares still work (one test per route that has
any, each showing the parameters applied, not merely accepted)."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tma.core.config import Settings
from tma.core.routing import StrictQueryRoute, declared_query_names
from tma.files.urls import signed_file_url
from tma.main import create_app

FILE_ID = "A" * 22  # the shape of a file id (`[A-Za-z0-9_-]{22,64}`), no such file


def _api_routes() -> list[tuple[str, str, APIRoute]]:
    """(method, path template, route) of every route of the app under /api."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path_format.startswith("/api/"):
            found.extend((m, context.path_format, route) for m in sorted(context.methods))
    return found


API_ROUTES = _api_routes()
GET_ROUTES_WITH_QUERY = sorted(
    f"{method} {path}"
    for method, path, route in API_ROUTES
    if method == "GET" and declared_query_names(route.dependant)
)


def _concrete(path: str) -> str:
    """The template with each path parameter filled by a value of the right shape."""
    return path.replace("{file_id}", FILE_ID).format_map(_Ones())


class _Ones(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "1"


def _unknown(*names: str) -> dict[str, Any]:
    return {
        "detail": [
            {
                "loc": ["query", name],
                "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden",
            }
            for name in names
        ]
    }


def test_api_routes_all_refuse_unknown_query_parameters() -> None:
    """Every route under /api is a `StrictQueryRoute` (the routers' route class), and the
    list the tests below walk is the app's whole API (no route silently left out)."""
    assert len(API_ROUTES) >= 60
    assert [
        f"{m} {p}" for m, p, route in API_ROUTES if not isinstance(route, StrictQueryRoute)
    ] == []
    assert sorted(KNOWN_PARAMETER_TESTS) == GET_ROUTES_WITH_QUERY


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, _ in API_ROUTES],
    ids=[f"{m} {p}" for m, p, _ in API_ROUTES],
)
async def test_every_route_unknown_query_parameter_returns_422(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """An undeclared query parameter is 422 on every route (GET, POST, PATCH, PUT, DELETE),
    naming it in `loc`, before the token or the body is looked at: no token, no body. A
    HEAD (file download) answers GET's status and headers without the body."""
    response = await client.request(method, _concrete(path), params={"unknown_param": "4"})

    assert response.status_code == 422
    if method == "HEAD":
        assert response.content == b""
        assert response.headers["content-type"] == "application/json"
    else:
        assert response.json() == _unknown("unknown_param")


@pytest.mark.asyncio
async def test_list_posts_filter_of_another_list_returns_422_naming_it(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_module: Any, make_post: Any
) -> None:
    """`GET /api/posts?course_id=4` (a filter `GET /api/modules` has, posts do not) is 422,
    not every post; with `module_id` next to it, only `course_id` is named."""
    module = await make_module()
    await make_post(module)

    response = await client.get(
        "/api/posts", params={"module_id": module.id, "course_id": 4}, headers=auth_headers
    )

    assert response.status_code == 422
    assert response.json() == _unknown("course_id")


@pytest.mark.asyncio
async def test_list_groups_several_unknown_parameters_returns_422_naming_each_sorted(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    """Each unknown name is one item, in alphabetical order; a blank name is a name too;
    the known `limit` beside them is not named."""
    response = await client.get("/api/groups?zeta=1&limit=5&alpha&=x", headers=auth_headers)

    assert response.status_code == 422
    assert response.json() == _unknown("", "alpha", "zeta")


@pytest.mark.asyncio
async def test_me_unknown_parameter_without_token_returns_422_before_401(
    client: httpx.AsyncClient,
) -> None:
    """The check comes before the token: no token and an unknown parameter is 422; the same
    request without the parameter is the usual 401."""
    refused = await client.get("/api/auth/me", params={"verbose": "1"})
    unauthenticated = await client.get("/api/auth/me")

    assert refused.status_code == 422
    assert refused.json() == _unknown("verbose")
    assert unauthenticated.status_code == 401


@pytest.mark.asyncio
async def test_me_empty_query_string_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], admin_user: Any
) -> None:
    """A `?` with nothing after it (or only `&`) names no parameter: the request goes on."""
    response = await client.get("/api/auth/me?&", headers=auth_headers)

    assert response.status_code == 200
    assert response.json()["id"] == admin_user.id


# The routes that declare query parameters: each still honours them.

KNOWN_PARAMETER_TESTS: dict[str, str] = {}  # "GET /api/posts" -> the test showing its own


def known(endpoint: str) -> Any:
    """Register the decorated test as the one showing `endpoint`'s parameters still work."""

    def register(test: Any) -> Any:
        KNOWN_PARAMETER_TESTS[endpoint] = test.__name__
        return test

    return register


async def _second_of_two(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    """The page `limit=1&offset=1` of a two-item list: exactly its second item."""
    joiner = "&" if "?" in url else "?"
    response = await client.get(f"{url}{joiner}limit=1&offset=1", headers=headers)
    assert response.status_code == 200
    assert response.headers["x-total-count"] == "2"
    (item,) = response.json()
    return item


@known("GET /api/translations/{kind}/{object_id}")
@pytest.mark.asyncio
async def test_list_translations_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_course: Any
) -> None:
    """`GET /api/translations/course/{id}?limit=1&offset=1`: the second language (by tag)."""
    course = await make_course()
    for language in ("fr", "es"):
        stored = await client.put(
            f"/api/translations/course/{course.id}/{language}",
            json={"title": language},
            headers=auth_headers,
        )
        assert stored.status_code == 200

    item = await _second_of_two(client, f"/api/translations/course/{course.id}", auth_headers)

    assert item["language"] == "fr"


@known("GET /api/users")
@pytest.mark.asyncio
async def test_list_users_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_user: Any
) -> None:
    """`GET /api/users?limit=1&offset=1`: the second account (the admin is the first)."""
    second = await make_user()

    item = await _second_of_two(client, "/api/users", auth_headers)

    assert item["id"] == second.id


@known("GET /api/notifications")
@pytest.mark.asyncio
async def test_list_notifications_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, user_headers: dict[str, str], test_db: Any, test_user: Any
) -> None:
    """`GET /api/notifications?limit=1&offset=1`: the older of two (newest first)."""
    from tma.notifications.models import NotificationKind
    from tma.notifications.service import notify

    async with test_db.session() as session:
        for subject in ("first", "second"):
            await notify(
                session,
                user_ids=[test_user.id],
                kind=NotificationKind.REMINDER,
                subject=subject,
                period="",
                title=subject,
                body=subject,
                data={},
                now=datetime(2027, 3, 1, tzinfo=UTC),
            )
        await session.commit()

    item = await _second_of_two(client, "/api/notifications", user_headers)

    assert item["title"] == "first"


@known("GET /api/auth/users")
@pytest.mark.asyncio
async def test_auth_list_users_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_user: Any
) -> None:
    """`GET /api/auth/users?limit=1&offset=1`: the second account, as on /api/users."""
    second = await make_user()

    item = await _second_of_two(client, "/api/auth/users", auth_headers)

    assert item["id"] == second.id


@known("GET /api/groups")
@pytest.mark.asyncio
async def test_list_groups_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_group: Any
) -> None:
    """`GET /api/groups?limit=1&offset=1`: the second group."""
    await make_group()
    second = await make_group()

    item = await _second_of_two(client, "/api/groups", auth_headers)

    assert item["id"] == second.id


@known("GET /api/courses")
@pytest.mark.asyncio
async def test_list_courses_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_course: Any
) -> None:
    """`GET /api/courses?limit=1&offset=1`: the second course."""
    await make_course()
    second = await make_course()

    item = await _second_of_two(client, "/api/courses", auth_headers)

    assert item["id"] == second.id


@known("GET /api/groups/{group_id}/courses")
@pytest.mark.asyncio
async def test_list_group_courses_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    make_group: Any,
    make_course: Any,
    assign_course: Any,
) -> None:
    """`GET /api/groups/{id}/courses?limit=1&offset=1`: the second course assigned."""
    group = await make_group()
    await assign_course(group, await make_course())
    second = await make_course()
    await assign_course(group, second)

    item = await _second_of_two(client, f"/api/groups/{group.id}/courses", auth_headers)

    assert item["id"] == second.id


@known("GET /api/courses/{course_id}/modules")
@pytest.mark.asyncio
async def test_list_course_modules_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_course: Any, make_module: Any
) -> None:
    """`GET /api/courses/{id}/modules?limit=1&offset=1`: the second module of the outline."""
    course = await make_course()
    await make_module(course=course)
    second = await make_module(course=course)

    item = await _second_of_two(client, f"/api/courses/{course.id}/modules", auth_headers)

    assert item["module_id"] == second.id


@known("GET /api/modules")
@pytest.mark.asyncio
async def test_list_modules_course_filter_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_course: Any, make_module: Any
) -> None:
    """`GET /api/modules?course_id=&limit=1&offset=1`: the second module of that course; a
    module outside it is not counted."""
    course = await make_course()
    await make_module()
    await make_module(course=course)
    second = await make_module(course=course)

    item = await _second_of_two(client, f"/api/modules?course_id={course.id}", auth_headers)

    assert item["id"] == second.id


@known("GET /api/posts")
@pytest.mark.asyncio
async def test_list_posts_module_filter_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], make_module: Any, make_post: Any
) -> None:
    """`GET /api/posts?module_id=&limit=1&offset=1` (what the mobile client calls): the
    second post of that module; a post of another module is not counted."""
    module = await make_module()
    await make_post(await make_module())
    await make_post(module)
    second = await make_post(module)

    item = await _second_of_two(client, f"/api/posts?module_id={module.id}", auth_headers)

    assert item["id"] == second.id


@known("GET /api/quizzes/{post_id}/attempts")
@pytest.mark.asyncio
async def test_list_attempts_user_filter_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    user_headers: dict[str, str],
    test_user: Any,
    user_course: Any,
    make_module: Any,
    make_quiz_post: Any,
) -> None:
    """Staff `GET /api/quizzes/{post_id}/attempts?user_id=&limit=1&offset=1`: the user's
    older attempt (newest first), of two."""
    quiz = await make_quiz_post(await make_module(course=user_course))
    first = await client.post(f"/api/quizzes/{quiz.id}/attempts", headers=user_headers)
    assert first.status_code == 201
    submitted = await client.post(
        f"/api/quiz-attempts/{first.json()['id']}/submit",
        json={"answers": []},
        headers=user_headers,
    )
    assert submitted.status_code == 200
    again = await client.post(f"/api/quizzes/{quiz.id}/attempts", headers=user_headers)
    assert again.status_code == 201

    item = await _second_of_two(
        client, f"/api/quizzes/{quiz.id}/attempts?user_id={test_user.id}", auth_headers
    )

    assert item["id"] == first.json()["id"]


@known("GET /api/files/{file_id}")
@pytest.mark.asyncio
async def test_download_file_signed_url_still_applies_returns_200(
    client: httpx.AsyncClient, upload_file: Any, test_settings: Settings
) -> None:
    """`GET /api/files/{id}?expires=&signature=` without a token: the signed URL opens the
    attachment (the two parameters are read, not refused)."""
    uploaded = await upload_file(b"%PDF-1.4 query parameters")
    url = signed_file_url(uploaded["id"], test_settings)

    response = await client.get(url)
    unsigned = await client.get(f"/api/files/{uploaded['id']}")

    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 query parameters"
    assert unsigned.status_code == 401


@known("GET /api/groups/{group_id}/dashboard")
@pytest.mark.asyncio
async def test_group_dashboard_course_id_still_applies_returns_200(
    client: httpx.AsyncClient,
    manager_headers: dict[str, str],
    make_group: Any,
    make_course: Any,
    assign_course: Any,
) -> None:
    """`GET /api/groups/{id}/dashboard?course_id=`: the course named, not another of the
    group's."""
    group = await make_group()
    await assign_course(group, await make_course())
    second = await make_course()
    await assign_course(group, second)

    response = await client.get(
        f"/api/groups/{group.id}/dashboard",
        params={"course_id": second.id},
        headers=manager_headers,
    )

    assert response.status_code == 200
    assert response.json()["course_id"] == second.id


@known("GET /api/auth/me/children")
@pytest.mark.asyncio
async def test_list_my_children_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """`GET /api/auth/me/children?limit=1&offset=1`: the second child recorded."""
    for name in ("Ana", "Ben"):
        added = await client.post(
            "/api/auth/me/children",
            json={"name": name, "birth_date": "2024-01-01"},
            headers=user_headers,
        )
        assert added.status_code == 201

    item = await _second_of_two(client, "/api/auth/me/children", user_headers)

    assert item["name"] == "Ben"


@known("GET /api/users/{user_id}/children")
@pytest.mark.asyncio
async def test_list_user_children_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    auth_headers: dict[str, str],
    test_user: Any,
) -> None:
    """`GET /api/users/{id}/children?limit=1&offset=1`: the parent's second child."""
    for name in ("Ana", "Ben"):
        added = await client.post(
            "/api/auth/me/children",
            json={"name": name, "birth_date": "2024-01-01"},
            headers=user_headers,
        )
        assert added.status_code == 201

    item = await _second_of_two(client, f"/api/users/{test_user.id}/children", auth_headers)

    assert item["name"] == "Ben"


@known("GET /api/feed")
@pytest.mark.asyncio
async def test_feed_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    user_course: Any,
    make_module: Any,
    make_post: Any,
) -> None:
    """`GET /api/feed?limit=1&offset=1`: the second post to do."""
    module = await make_module(course=user_course)
    await make_post(module)
    second = await make_post(module)

    item = await _second_of_two(client, "/api/feed", user_headers)

    assert item["post_id"] == second.id


async def _three_events(test_db: Any, user_id: int) -> list[int]:
    """Three learning events of `user_id`, their ids in order."""
    from tma.events.models import LearningEvent

    at = datetime(2027, 3, 1, tzinfo=UTC)
    async with test_db.session() as session:
        rows = [
            LearningEvent(
                type="post_started",
                user_id=user_id,
                key=f"post_started:{n}",
                occurred_at=at,
                post_id=n,
                recorded_at=at,
            )
            for n in (1, 2, 3)
        ]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


@known("GET /api/events")
@pytest.mark.asyncio
async def test_list_events_after_limit_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], test_db: Any, test_user: Any
) -> None:
    """`GET /api/events?after=<first>&limit=1`: exactly the second event."""
    first, second, _ = await _three_events(test_db, test_user.id)

    response = await client.get(f"/api/events?after={first}&limit=1", headers=auth_headers)

    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [second]


@known("GET /api/xapi/statements")
@pytest.mark.asyncio
async def test_list_xapi_statements_since_after_limit_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], test_db: Any, test_user: Any
) -> None:
    """`?since=<before them>&after=<first>&limit=1`: the second event's statement, and a
    `more` to the third."""
    first, second, _ = await _three_events(test_db, test_user.id)

    response = await client.get(
        f"/api/xapi/statements?since=2027-02-01T00:00:00Z&after={first}&limit=1",
        headers=auth_headers,
    )

    assert response.status_code == 200
    (statement,) = response.json()["statements"]
    assert statement["object"]["id"] == "http://test/api/posts/2"
    assert f"after={second}" in response.json()["more"]


@known("GET /api/webhooks/{webhook_id}/deliveries")
@pytest.mark.asyncio
async def test_list_webhook_deliveries_limit_offset_still_apply_returns_200(
    client: httpx.AsyncClient, auth_headers: dict[str, str], test_db: Any, test_user: Any
) -> None:
    """`?limit=1&offset=1` of a log of two tries: the second."""
    from tma.events.models import Webhook, WebhookTry

    first, _, _ = await _three_events(test_db, test_user.id)
    async with test_db.session() as session:
        hook = Webhook(url="https://hooks.example.org/x", secret="s", event_types=",", active=True)
        session.add(hook)
        await session.flush()
        for number in (1, 2):
            session.add(
                WebhookTry(
                    webhook_id=hook.id,
                    event_id=first,
                    delivery_id="d",
                    try_number=number,
                    status_code=500,
                    error="HTTP 500",
                )
            )
        await session.commit()
        hook_id = hook.id

    item = await _second_of_two(client, f"/api/webhooks/{hook_id}/deliveries", auth_headers)

    assert item["try"] == 2
