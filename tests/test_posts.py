"""Contract tests for the posts resource: list, create, detail, update, delete.

Contract: docs/contracts/posts.md. Admins and managers see every post; a `user` sees the
posts of the modules they see (a module in a course assigned to one of their groups);
writing posts is for admins only. A post's `ordering` is its 1-based place in its module,
always 1..n with no gap and no duplicate; only the post written gets a new `updated_at`.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter
from sqlalchemy import update

from expected import UTC_TIMESTAMP
from factories import DEFAULT_QUIZ
from tma.courses.models import Module
from tma.files.models import StoredFile
from tma.posts.schemas import PostRead

POST_FIELDS = {
    "id",
    "module_id",
    "title",
    "post_type",
    "content",
    "video_url",
    "file_id",
    "file_url",
    "ordering",
    "min_age_months",
    "max_age_months",
    "created_at",
    "updated_at",
}
DETAIL_FIELDS = POST_FIELDS | {"progress", "quiz"}
TOO_BIG_ID = 2**63  # one past the largest 64-bit id
TOO_BIG_POSITION = 2**31  # one past the largest position
NO_PERMISSION = {"detail": "You don't have permission to do this"}
ACCOUNT_DISABLED = {"detail": "account disabled"}
MISSING = object()  # a field left out of a request body


def not_started(post_id):
    """The caller's progress on a post they never opened."""
    return {
        "post_id": post_id,
        "status": "not_started",
        "updated_at": None,
        "started_at": None,
        "completed_at": None,
    }


def post_body(post_id, module_id, title, ordering, **fields):
    """The exact Post body (timestamps: any UTC timestamp) for a post without a file."""
    return {
        "id": post_id,
        "module_id": module_id,
        "title": title,
        "post_type": fields.pop("post_type", "default"),
        "content": fields.pop("content", None),
        "video_url": fields.pop("video_url", None),
        "file_id": fields.pop("file_id", None),
        "file_url": fields.pop("file_url", None),
        "ordering": ordering,
        "min_age_months": fields.pop("min_age_months", None),
        "max_age_months": fields.pop("max_age_months", None),
        "created_at": UTC_TIMESTAMP,
        "updated_at": UTC_TIMESTAMP,
        **fields,
    }


def question(prompt, kind="single", options=(("Yes", True), ("No", False)), explanation=None):
    """A quiz question in the authoring shape."""
    return {
        "prompt": prompt,
        "kind": kind,
        "explanation": explanation,
        "options": [{"text": text, "is_correct": correct} for text, correct in options],
    }


def quiz_of(*questions, pass_mark=80):
    """A quiz in the authoring shape."""
    return {"pass_mark": pass_mark, "questions": list(questions)}


async def add_file(test_db, kind="attachment"):
    """A stored file row (the files feature's upload is tested in its own file): its id."""
    file_id = uuid.uuid4().hex
    async with test_db.session() as session:
        session.add(
            StoredFile(
                id=file_id,
                kind=kind,
                filename=f"{kind}.pdf",
                content_type="application/pdf",
                size=1234,
            )
        )
        await session.commit()
    return file_id


async def module_posts(client, headers, module_id):
    """`[(id, ordering), ...]` of a module's posts, as GET /api/posts?module_id= lists them."""
    response = await client.get(f"/api/posts?module_id={module_id}", headers=headers)
    assert response.status_code == 200
    return [(p["id"], p["ordering"]) for p in response.json()]


async def updated_ats(client, headers, module_id):
    """`{id: updated_at}` of a module's posts, read through the API."""
    response = await client.get(f"/api/posts?module_id={module_id}", headers=headers)
    assert response.status_code == 200
    return {p["id"]: p["updated_at"] for p in response.json()}


async def all_post_ids(client, headers):
    """Ids of every post the list shows these headers, in list order."""
    response = await client.get("/api/posts", headers=headers)
    assert response.status_code == 200
    return [p["id"] for p in response.json()]


def assert_file_url(file_url, file_id):
    """A signed attachment URL, absolute on the test client's address:
    `http://test/api/files/<id>?expires=<int>&signature=<text>`."""
    prefix = f"http://test/api/files/{file_id}?expires="
    assert file_url.startswith(prefix)
    expires, sep, signature = file_url[len(prefix) :].partition("&signature=")
    assert expires.isdigit()
    assert sep == "&signature="
    assert signature != ""


# --- GET /api/posts ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_posts_with_module_id_returns_its_posts_in_ordering(
    client, auth_headers, make_module, make_post
):
    """With `module_id`: only that module's posts, in `ordering`, each exactly a Post;
    X-Total-Count is the number of posts."""
    module = await make_module()
    other = await make_module()
    second = await make_post(module, title="Second", content="Two")
    first = await make_post(module, post_type="video", title="First", ordering=1)
    await make_post(other)

    response = await client.get(f"/api/posts?module_id={module.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.json() == [
        post_body(
            first.id,
            module.id,
            "First",
            1,
            post_type="video",
            content="Some text",
            video_url="https://video.test/First",
        ),
        post_body(second.id, module.id, "Second", 2, content="Two"),
    ]


@pytest.mark.asyncio
async def test_list_posts_without_filter_orders_by_module_then_ordering(
    client, auth_headers, make_module, make_post
):
    """Without a filter: every post, the oldest module's first, each module's in `ordering`."""
    older = await make_module()
    newer = await make_module()
    n1 = await make_post(newer)
    o2 = await make_post(older)
    n0 = await make_post(newer, ordering=1)
    o1 = await make_post(older, ordering=1)

    response = await client.get("/api/posts", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [(p["id"], p["module_id"], p["ordering"]) for p in response.json()] == [
        (o1.id, older.id, 1),
        (o2.id, older.id, 2),
        (n0.id, newer.id, 1),
        (n1.id, newer.id, 2),
    ]


@pytest.mark.asyncio
async def test_list_posts_without_filter_orders_modules_by_creation_time_then_id(
    client, auth_headers, test_db, make_module, make_post
):
    """The modules' order is their `created_at` (not their ids: imported rows need not
    follow them), then their id for modules created at the same instant."""
    at = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    modules = [await make_module() for _ in range(3)]
    posts = [await make_post(module) for module in modules]
    async with test_db.session() as session:
        for module, created in zip(modules, [at, at - timedelta(hours=1), at], strict=True):
            await session.execute(
                update(Module).where(Module.id == module.id).values(created_at=created)
            )
        await session.commit()

    response = await client.get("/api/posts", headers=auth_headers)

    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [posts[1].id, posts[0].id, posts[2].id]


@pytest.mark.asyncio
async def test_list_posts_with_limit_and_offset_returns_window(
    client, auth_headers, make_module, make_post
):
    """`limit`/`offset` cut a window out of the list; X-Total-Count stays the whole count."""
    module = await make_module()
    posts = [await make_post(module) for _ in range(5)]

    response = await client.get(
        f"/api/posts?module_id={module.id}&limit=2&offset=1", headers=auth_headers
    )

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    assert [(p["id"], p["ordering"]) for p in response.json()] == [
        (posts[1].id, 2),
        (posts[2].id, 3),
    ]


@pytest.mark.asyncio
async def test_list_posts_of_a_module_offset_past_the_end_returns_empty_page_and_total(
    client, auth_headers, make_module, make_post
):
    """An `offset` past a module's last post: 200, an empty page, and `X-Total-Count` the
    module's post count (2), not the offset."""
    module = await make_module()
    for _ in range(2):
        await make_post(module)

    response = await client.get(f"/api/posts?module_id={module.id}&offset=10", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "2"


@pytest.mark.asyncio
async def test_list_posts_of_a_module_without_posts_with_offset_returns_total_0(
    client, auth_headers, make_module
):
    """A module without posts and an `offset`: 200, an empty page, `X-Total-Count: 0`."""
    module = await make_module()

    response = await client.get(f"/api/posts?module_id={module.id}&offset=3", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.asyncio
async def test_list_posts_as_manager_returns_posts_of_unlinked_modules(
    client, manager_headers, make_module, make_post
):
    """Staff see every post, also those of a module in no course."""
    module = await make_module()
    post = await make_post(module)

    response = await client.get("/api/posts", headers=manager_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [p["id"] for p in response.json()] == [post.id]


@pytest.mark.asyncio
async def test_list_posts_as_user_without_filter_returns_only_visible_modules_posts(
    client, user_headers, user_course, make_course, make_module, make_post
):
    """A `user` sees only the posts of modules in a course of one of their groups: not of a
    module in an unassigned course, nor of a module in no course."""
    visible = await make_module(course=user_course)
    elsewhere = await make_module(course=await make_course())
    nowhere = await make_module()
    mine = await make_post(visible)
    await make_post(elsewhere)
    await make_post(nowhere)

    response = await client.get("/api/posts", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [p["id"] for p in response.json()] == [mine.id]


@pytest.mark.asyncio
async def test_list_posts_as_user_module_seen_twice_lists_each_post_once(
    client,
    user_headers,
    test_user,
    user_course,
    make_group,
    add_member,
    make_course,
    assign_course,
    link_module,
    make_module,
    make_post,
):
    """A module the `user` sees through two courses and two groups: each post once, total
    counted once."""
    module = await make_module(course=user_course)
    second_group = await make_group()
    await add_member(second_group, test_user)
    second_course = await make_course()
    await assign_course(second_group, second_course)
    await assign_course(second_group, user_course)
    await link_module(second_course, module)
    a, b = await make_post(module), await make_post(module)

    response = await client.get("/api/posts", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert [p["id"] for p in response.json()] == [a.id, b.id]


@pytest.mark.asyncio
async def test_list_posts_as_user_with_visible_module_returns_200(
    client, user_headers, user_course, make_module, make_post
):
    """A `user` may filter by a module they see."""
    module = await make_module(course=user_course)
    post = await make_post(module)

    response = await client.get(f"/api/posts?module_id={module.id}", headers=user_headers)

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [p["id"] for p in response.json()] == [post.id]


@pytest.mark.asyncio
async def test_list_posts_attachment_has_signed_file_url(
    client, auth_headers, test_db, make_module, make_post
):
    """An attachment in a list carries a fresh signed `file_url`; other posts have null."""
    module = await make_module()
    file_id = await add_file(test_db)
    await make_post(module, post_type="attachment", file_id=file_id)
    await make_post(module)

    response = await client.get(f"/api/posts?module_id={module.id}", headers=auth_headers)

    assert response.status_code == 200
    attachment, text = response.json()
    assert attachment["file_id"] == file_id
    assert_file_url(attachment["file_url"], file_id)
    assert text["file_url"] is None


@pytest.mark.asyncio
async def test_list_posts_json_is_the_read_models_json(
    client, auth_headers, test_db, make_module, make_post, make_quiz_post
):
    """The list is dumped without a validation pass: its bytes are still exactly what
    `PostRead` gives for the same posts (keys, order, enum and timestamp formats), for
    every post type, with and without `module_id`."""
    module = await make_module()
    file_id = await add_file(test_db)
    await make_post(module, post_type="attachment", file_id=file_id)
    await make_post(module, post_type="video", video_url="https://video.example/v/1")
    await make_quiz_post(module)
    await make_post(module)
    models = TypeAdapter(list[PostRead])

    for path in (f"/api/posts?module_id={module.id}", "/api/posts"):
        response = await client.get(path, headers=auth_headers)

        assert response.status_code == 200
        assert len(response.json()) == 4
        assert response.content == models.dump_json(models.validate_json(response.content))


@pytest.mark.asyncio
async def test_list_posts_as_user_module_not_visible_returns_403(
    client, user_headers, user_course, make_course, make_module, make_post
):
    """A `user` filtering by a module they do not see: 403, even though it exists."""
    hidden = await make_module(course=await make_course())
    await make_post(hidden)

    response = await client.get(f"/api/posts?module_id={hidden.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this module"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "user"])
async def test_list_posts_unknown_module_returns_404(client, make_user, make_auth_headers, role):
    """`module_id` naming no module: 404 `Module <id> not found`, for staff and users."""
    caller = await make_user(role=role)

    response = await client.get("/api/posts?module_id=505050", headers=make_auth_headers(caller))

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 505050 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("module_id=0", "module_id"),
        (f"module_id={TOO_BIG_ID}", "module_id"),
        ("module_id=abc", "module_id"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        (f"offset={2**31}", "offset"),
    ],
    ids=[
        "module-0",
        "module-2**63",
        "module-text",
        "limit-0",
        "limit-1001",
        "offset-negative",
        "offset-2**31",
    ],
)
async def test_list_posts_bad_query_returns_422(client, auth_headers, query, param):
    """`module_id` must be in 1..2^63-1, `limit` in 1..1000, `offset` in 0..2^31-1: 422."""
    response = await client.get(f"/api/posts?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["query", param]]


@pytest.mark.asyncio
async def test_list_posts_without_token_returns_401(client, make_module, make_post):
    """No bearer token: 401 with `WWW-Authenticate: Bearer`."""
    await make_post(await make_module())

    response = await client.get("/api/posts")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_list_posts_disabled_account_returns_403(client, make_user, make_auth_headers):
    """A disabled account is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)

    response = await client.get("/api/posts", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED


# --- POST /api/posts ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_post_default_returns_201_and_persists(
    client, auth_headers, admin_user, make_module
):
    """An admin creates a text post: 201 with the Post detail (title stripped, last in the
    module, the creator's progress not_started, quiz null); a GET returns the same."""
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "  Opening ideas  ", "content": "# Centre"},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body == {
        **post_body(body["id"], module.id, "Opening ideas", 1, content="# Centre"),
        "progress": not_started(body["id"]),
        "quiz": None,
    }
    assert body["created_at"] == body["updated_at"]
    read = await client.get(f"/api/posts/{body['id']}", headers=auth_headers)
    assert read.status_code == 200
    assert read.json() == body


@pytest.mark.asyncio
async def test_create_post_video_returns_201_with_video_url(client, auth_headers, make_module):
    """A `video` post keeps its `video_url`; it reads back the same."""
    module = await make_module()
    url = "https://video.example.com/watch?v=e4"

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Watch", "post_type": "video", "video_url": url},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {
        **post_body(body["id"], module.id, "Watch", 1, post_type="video", video_url=url),
        "progress": not_started(body["id"]),
        "quiz": None,
    }
    assert (await client.get(f"/api/posts/{body['id']}", headers=auth_headers)).json() == body


@pytest.mark.asyncio
async def test_create_post_quiz_returns_201_with_staff_quiz(client, auth_headers, make_module):
    """A quiz post comes back with its quiz as staff see it, questions and options in
    authored order with their ids, answers and explanations; a GET returns the same."""
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Check", "post_type": "quiz", "quiz": DEFAULT_QUIZ},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    quiz = body["quiz"]
    assert {k: v for k, v in body.items() if k != "quiz"} == {
        **post_body(body["id"], module.id, "Check", 1, post_type="quiz"),
        "progress": not_started(body["id"]),
    }
    assert quiz["pass_mark"] == 50
    q1, q2 = quiz["questions"]
    assert [set(q) for q in (q1, q2)] == [
        {"id", "prompt", "kind", "explanation", "options", "correct_option_ids"}
    ] * 2
    assert [(q["prompt"], q["kind"], q["explanation"]) for q in (q1, q2)] == [
        ("Which piece can jump over others?", "single", "Only the knight jumps."),
        ("Which pieces move diagonally?", "multiple", "Bishops always, queens too."),
    ]
    assert [[(o["text"], o["is_correct"]) for o in q["options"]] for q in (q1, q2)] == [
        [("Knight", True), ("Bishop", False)],
        [("Bishop", True), ("Queen", True), ("Rook", False)],
    ]
    assert q1["correct_option_ids"] == [q1["options"][0]["id"]]
    assert q2["correct_option_ids"] == [q2["options"][0]["id"], q2["options"][1]["id"]]
    option_ids = [o["id"] for q in (q1, q2) for o in q["options"]]
    assert len(set(option_ids)) == 5
    assert (await client.get(f"/api/posts/{body['id']}", headers=auth_headers)).json() == body


@pytest.mark.asyncio
async def test_create_post_quiz_without_pass_mark_defaults_to_80(client, auth_headers, make_module):
    """A quiz written without `pass_mark` gets 80; `is_correct` defaults to false."""
    module = await make_module()
    quiz = {
        "questions": [
            {
                "prompt": "Castle?",
                "kind": "single",
                "options": [{"text": "Yes", "is_correct": True}, {"text": "No"}],
            }
        ]
    }

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Q", "post_type": "quiz", "quiz": quiz},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()["quiz"]
    assert body["pass_mark"] == 80
    assert [(o["text"], o["is_correct"]) for o in body["questions"][0]["options"]] == [
        ("Yes", True),
        ("No", False),
    ]
    assert body["questions"][0]["explanation"] is None


@pytest.mark.asyncio
async def test_create_post_attachment_returns_201_with_signed_file_url(
    client, auth_headers, test_db, make_module
):
    """An attachment names a file uploaded as an attachment; its `file_url` is signed
    (`/api/files/<id>?expires=...&signature=...`) in the response and in a following GET."""
    module = await make_module()
    file_id = await add_file(test_db, kind="attachment")

    response = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Handout",
            "post_type": "attachment",
            "file_id": file_id,
        },
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert_file_url(body["file_url"], file_id)
    assert body == {
        **post_body(
            body["id"],
            module.id,
            "Handout",
            1,
            post_type="attachment",
            file_id=file_id,
            file_url=body["file_url"],
        ),
        "progress": not_started(body["id"]),
        "quiz": None,
    }
    read = await client.get(f"/api/posts/{body['id']}", headers=auth_headers)
    assert read.status_code == 200
    assert read.json()["file_id"] == file_id
    assert_file_url(read.json()["file_url"], file_id)


@pytest.mark.asyncio
async def test_create_post_at_ordering_moves_later_posts_down(
    client, auth_headers, make_module, make_post
):
    """Creating at position k puts the post there and moves the posts at k and after one
    down; positions stay 1..n."""
    module = await make_module()
    a, b, c = [await make_post(module) for _ in range(3)]

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Inserted", "ordering": 2},
        headers=auth_headers,
    )

    assert response.status_code == 201
    new = response.json()
    assert new["ordering"] == 2
    assert await module_posts(client, auth_headers, module.id) == [
        (a.id, 1),
        (new["id"], 2),
        (b.id, 3),
        (c.id, 4),
    ]


@pytest.mark.asyncio
async def test_create_post_at_ordering_keeps_neighbours_updated_at(
    client, auth_headers, make_module, make_post
):
    """The posts moved down to make room keep their `updated_at`: only the new post is
    written."""
    module = await make_module()
    for _ in range(3):
        await make_post(module)
    before = await updated_ats(client, auth_headers, module.id)

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "First", "ordering": 1},
        headers=auth_headers,
    )

    assert response.status_code == 201
    after = await updated_ats(client, auth_headers, module.id)
    assert {k: v for k, v in after.items() if k != response.json()["id"]} == before


@pytest.mark.asyncio
@pytest.mark.parametrize("ordering", [3, 99, 2**31 - 1])
async def test_create_post_ordering_past_the_end_goes_last(
    client, auth_headers, make_module, make_post, ordering
):
    """A position past the end (up to 2^31-1) means "last": n+1, nobody moves."""
    module = await make_module()
    a, b = [await make_post(module) for _ in range(2)]

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Tail", "ordering": ordering},
        headers=auth_headers,
    )

    assert response.status_code == 201
    assert response.json()["ordering"] == 3
    assert await module_posts(client, auth_headers, module.id) == [
        (a.id, 1),
        (b.id, 2),
        (response.json()["id"], 3),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_create_post_as_non_admin_returns_403_and_creates_nothing(
    client, auth_headers, make_user, make_auth_headers, make_module, role
):
    """Only admins write posts: a manager or a `user` gets 403 and nothing is created."""
    caller = await make_user(role=role)
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Sneaky"},
        headers=make_auth_headers(caller),
    )

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_post_as_manager_malformed_body_returns_403(client, manager_headers):
    """The admin check comes before the body is looked at: a manager gets 403 for a
    malformed body naming an unknown module."""
    response = await client.post(
        "/api/posts", json={"module_id": 0, "title": ""}, headers=manager_headers
    )

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION


@pytest.mark.asyncio
async def test_create_post_without_token_returns_401(client, auth_headers, make_module):
    """No bearer token: 401, nothing created."""
    module = await make_module()

    response = await client.post("/api/posts", json={"module_id": module.id, "title": "Anon"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_post_disabled_admin_returns_403(
    client, make_user, make_auth_headers, make_module
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={"module_id": module.id, "title": "Late"},
        headers=make_auth_headers(disabled),
    )

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED


@pytest.mark.asyncio
async def test_create_post_unknown_module_returns_404(client, auth_headers):
    """A `module_id` naming no module: 404 `Module <id> not found`, nothing created."""
    response = await client.post(
        "/api/posts", json={"module_id": 606060, "title": "Lost"}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 606060 not found"}
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_post_unknown_file_returns_404(client, auth_headers, make_module):
    """An attachment naming a file that does not exist: 404 `File <id> not found`."""
    module = await make_module()

    response = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Gone",
            "post_type": "attachment",
            "file_id": "nosuchfile",
        },
        headers=auth_headers,
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "File nosuchfile not found"}
    assert await module_posts(client, auth_headers, module.id) == []


@pytest.mark.asyncio
async def test_create_post_file_of_an_avatar_returns_400(
    client, auth_headers, test_db, make_module
):
    """An attachment may not point at an avatar: 400, nothing created."""
    module = await make_module()
    avatar = await add_file(test_db, kind="avatar")

    response = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Face",
            "post_type": "attachment",
            "file_id": avatar,
        },
        headers=auth_headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "An attachment post needs a file uploaded as an attachment, not an avatar"
    }
    assert await module_posts(client, auth_headers, module.id) == []


def _questions(n):
    return [question(f"Q{i}") for i in range(n)]


CREATE_422 = [
    ("ordering-true", {"ordering": True}, ["body", "ordering"]),
    ("ordering-false", {"ordering": False}, ["body", "ordering"]),
    ("ordering-0", {"ordering": 0}, ["body", "ordering"]),
    ("ordering-2**31", {"ordering": TOO_BIG_POSITION}, ["body", "ordering"]),
    ("ordering-text", {"ordering": "2"}, ["body", "ordering"]),
    ("module-0", {"module_id": 0}, ["body", "module_id"]),
    ("module-2**63", {"module_id": TOO_BIG_ID}, ["body", "module_id"]),
    ("module-missing", {"module_id": MISSING}, ["body", "module_id"]),
    ("title-missing", {"title": MISSING}, ["body", "title"]),
    ("title-empty", {"title": ""}, ["body", "title"]),
    ("title-blank", {"title": "   "}, ["body", "title"]),
    ("title-201", {"title": "t" * 201}, ["body", "title"]),
    ("title-nul", {"title": "bad\x00title"}, ["body", "title"]),
    ("content-50001", {"content": "c" * 50_001}, ["body", "content"]),
    ("content-nul", {"content": "a\x00b"}, ["body", "content"]),
    ("post-type-unknown", {"post_type": "essay"}, ["body", "post_type"]),
    ("unknown-field", {"pinned": True}, ["body", "pinned"]),
    (
        "video-javascript",
        {"post_type": "video", "video_url": "javascript:alert(1)"},
        ["body", "video_url"],
    ),
    ("video-data", {"post_type": "video", "video_url": "data:text/html,hi"}, ["body", "video_url"]),
    ("video-relative", {"post_type": "video", "video_url": "/videos/1"}, ["body", "video_url"]),
    (
        "video-scheme-relative",
        {"post_type": "video", "video_url": "https:///evil"},
        ["body", "video_url"],
    ),
    (
        "video-2001",
        {"post_type": "video", "video_url": "https://v.test/" + "a" * 1986},
        ["body", "video_url"],
    ),
    ("video-missing-url", {"post_type": "video"}, ["body"]),
    ("video-url-on-default", {"video_url": "https://v.test/x"}, ["body"]),
    ("attachment-missing-file", {"post_type": "attachment"}, ["body"]),
    ("file-on-default", {"file_id": "abc"}, ["body"]),
    (
        "file-id-bad-characters",
        {"post_type": "attachment", "file_id": "../etc/passwd"},
        ["body", "file_id"],
    ),
    ("quiz-missing", {"post_type": "quiz"}, ["body"]),
    ("quiz-on-default", {"quiz": quiz_of(question("Q"))}, ["body"]),
    (
        "quiz-on-video",
        {"post_type": "video", "video_url": "https://v.test/x", "quiz": quiz_of(question("Q"))},
        ["body"],
    ),
    (
        "single-two-correct",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", options=(("a", True), ("b", True))))},
        ["body", "quiz", "questions", 0],
    ),
    (
        "no-correct-option",
        {
            "post_type": "quiz",
            "quiz": quiz_of(question("Q", "multiple", (("a", False), ("b", False)))),
        },
        ["body", "quiz", "questions", 0],
    ),
    (
        "one-option",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", options=(("a", True),)))},
        ["body", "quiz", "questions", 0, "options"],
    ),
    (
        "eleven-options",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", "multiple", [("o", True)] * 11))},
        ["body", "quiz", "questions", 0, "options"],
    ),
    ("zero-questions", {"post_type": "quiz", "quiz": quiz_of()}, ["body", "quiz", "questions"]),
    (
        "51-questions",
        {"post_type": "quiz", "quiz": quiz_of(*_questions(51))},
        ["body", "quiz", "questions"],
    ),
    (
        "pass-mark-101",
        {"post_type": "quiz", "quiz": quiz_of(question("Q"), pass_mark=101)},
        ["body", "quiz", "pass_mark"],
    ),
    (
        "pass-mark-negative",
        {"post_type": "quiz", "quiz": quiz_of(question("Q"), pass_mark=-1)},
        ["body", "quiz", "pass_mark"],
    ),
    (
        "pass-mark-true",
        {"post_type": "quiz", "quiz": quiz_of(question("Q"), pass_mark=True)},
        ["body", "quiz", "pass_mark"],
    ),
    (
        "pass-mark-null",
        {"post_type": "quiz", "quiz": quiz_of(question("Q"), pass_mark=None)},
        ["body", "quiz"],
    ),
    (
        "kind-unknown",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", kind="essay"))},
        ["body", "quiz", "questions", 0, "kind"],
    ),
    (
        "prompt-empty",
        {"post_type": "quiz", "quiz": quiz_of(question(""))},
        ["body", "quiz", "questions", 0, "prompt"],
    ),
    (
        "prompt-2001",
        {"post_type": "quiz", "quiz": quiz_of(question("p" * 2001))},
        ["body", "quiz", "questions", 0, "prompt"],
    ),
    (
        "explanation-5001",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", explanation="e" * 5001))},
        ["body", "quiz", "questions", 0, "explanation"],
    ),
    (
        "option-empty",
        {"post_type": "quiz", "quiz": quiz_of(question("Q", options=(("", True), ("b", False))))},
        ["body", "quiz", "questions", 0, "options", 0, "text"],
    ),
    (
        "option-501",
        {
            "post_type": "quiz",
            "quiz": quiz_of(question("Q", options=(("o" * 501, True), ("b", False)))),
        },
        ["body", "quiz", "questions", 0, "options", 0, "text"],
    ),
    (
        "is-correct-text",
        {
            "post_type": "quiz",
            "quiz": quiz_of(
                {**question("Q"), "options": [{"text": "a", "is_correct": "yes"}, {"text": "b"}]}
            ),
        },
        ["body", "quiz", "questions", 0, "options", 0, "is_correct"],
    ),
    (
        "quiz-unknown-field",
        {"post_type": "quiz", "quiz": {**quiz_of(question("Q")), "shuffle": True}},
        ["body", "quiz", "shuffle"],
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "loc"), [(c, loc) for _, c, loc in CREATE_422], ids=[i for i, _, _ in CREATE_422]
)
async def test_create_post_malformed_body_returns_422(
    client, auth_headers, make_module, change, loc
):
    """A field of the wrong type or out of its limits, a missing or null required field, the
    rules of the type and of the quiz, an unknown field: 422 at that place, nothing
    created."""
    module = await make_module()
    payload = {"module_id": module.id, "title": "Fine", **change}
    payload = {k: v for k, v in payload.items() if v is not MISSING}

    response = await client.post("/api/posts", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("field", ["title", "module_id", "post_type"])
async def test_create_post_null_required_field_returns_422(
    client, auth_headers, make_module, field
):
    """`module_id`, `title` and `post_type` may not be null: 422, nothing created."""
    module = await make_module()
    payload = {"module_id": module.id, "title": "Fine", "post_type": "default", field: None}

    response = await client.post("/api/posts", json=payload, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_post_body_a_json_list_returns_422(client, auth_headers, make_module):
    """A body that is not a JSON object: 422, nothing created."""
    module = await make_module()

    response = await client.post(
        "/api/posts", json=[{"module_id": module.id, "title": "A"}], headers=auth_headers
    )

    assert response.status_code == 422
    assert await all_post_ids(client, auth_headers) == []


@pytest.mark.asyncio
async def test_create_post_longest_fields_returns_201(client, auth_headers, make_module):
    """The limits are inclusive: a 200-character title, 50,000 characters of content, a
    2000-character URL."""
    module = await make_module()
    url = "https://v.test/" + "a" * 1985
    payload = {
        "module_id": module.id,
        "title": "t" * 200,
        "content": "c" * 50_000,
        "post_type": "video",
        "video_url": url,
    }

    response = await client.post("/api/posts", json=payload, headers=auth_headers)

    assert response.status_code == 201
    body = response.json()
    assert (len(body["title"]), len(body["content"]), body["video_url"]) == (200, 50_000, url)


# --- GET /api/posts/{post_id} ------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_post_as_admin_returns_detail_with_progress_and_null_quiz(
    client, auth_headers, make_module, make_post
):
    """The detail is a Post plus the caller's `progress` (not_started, times null) and
    `quiz` null for a post that is not a quiz."""
    module = await make_module()
    post = await make_post(module, title="Read me", content="Body")

    response = await client.get(f"/api/posts/{post.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == {
        **post_body(post.id, module.id, "Read me", 1, content="Body"),
        "progress": not_started(post.id),
        "quiz": None,
    }


@pytest.mark.asyncio
async def test_get_post_as_user_in_visible_module_returns_200(
    client, user_headers, user_course, make_module, make_post
):
    """A `user` reads a post of a module they see, with their own progress."""
    module = await make_module(course=user_course)
    post = await make_post(module, post_type="video", title="Clip", content=None)

    response = await client.get(f"/api/posts/{post.id}", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == {
        **post_body(
            post.id, module.id, "Clip", 1, post_type="video", video_url="https://video.test/Clip"
        ),
        "progress": not_started(post.id),
        "quiz": None,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_get_post_quiz_as_staff_shows_answers_and_explanations(
    client, make_user, make_auth_headers, make_module, make_quiz_post, role
):
    """Staff see the quiz with `correct_option_ids`, `is_correct` and explanations."""
    caller = await make_user(role=role)
    post = await make_quiz_post(await make_module())

    response = await client.get(f"/api/posts/{post.id}", headers=make_auth_headers(caller))

    assert response.status_code == 200
    quiz = response.json()["quiz"]
    q1, q2 = quiz["questions"]
    assert quiz["pass_mark"] == 50
    assert [q["explanation"] for q in (q1, q2)] == [
        "Only the knight jumps.",
        "Bishops always, queens too.",
    ]
    assert [[o["is_correct"] for o in q["options"]] for q in (q1, q2)] == [
        [True, False],
        [True, True, False],
    ]
    assert q1["correct_option_ids"] == [q1["options"][0]["id"]]
    assert q2["correct_option_ids"] == [o["id"] for o in q2["options"][:2]]


@pytest.mark.asyncio
async def test_get_post_quiz_as_user_hides_answers_and_explanations(
    client, user_headers, auth_headers, user_course, make_module, make_quiz_post
):
    """A `user` gets the questions and options (same ids as staff) but no
    `correct_option_ids`, no `is_correct`, and `explanation: null`."""
    post = await make_quiz_post(await make_module(course=user_course))
    staff = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()["quiz"]

    response = await client.get(f"/api/posts/{post.id}", headers=user_headers)

    assert response.status_code == 200
    assert response.json()["quiz"] == {
        "pass_mark": 50,
        "questions": [
            {
                "id": q["id"],
                "prompt": q["prompt"],
                "kind": q["kind"],
                "explanation": None,
                "options": [{"id": o["id"], "text": o["text"]} for o in q["options"]],
            }
            for q in staff["questions"]
        ],
    }


@pytest.mark.asyncio
async def test_get_post_as_user_outside_module_returns_403(
    client, user_headers, user_course, make_course, make_module, make_post
):
    """A `user` who does not see the post's module: 403, though the post exists."""
    post = await make_post(await make_module(course=await make_course()))

    response = await client.get(f"/api/posts/{post.id}", headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this post"}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["admin", "user"])
@pytest.mark.parametrize("post_id", [707070, 2**63 - 1])
async def test_get_post_unknown_id_returns_404(client, make_user, make_auth_headers, role, post_id):
    """An id that names no post (up to the largest id): 404 `Post <id> not found`, for
    staff and users alike."""
    caller = await make_user(role=role)

    response = await client.get(f"/api/posts/{post_id}", headers=make_auth_headers(caller))

    assert response.status_code == 404
    assert response.json() == {"detail": f"Post {post_id} not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("post_id", ["0", "-1", str(TOO_BIG_ID), "abc"])
async def test_get_post_id_not_a_64_bit_positive_integer_returns_422(client, auth_headers, post_id):
    """`post_id` must be an integer in 1..2^63-1: 422, never a 500."""
    response = await client.get(f"/api/posts/{post_id}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "post_id"]]


@pytest.mark.asyncio
async def test_get_post_without_token_returns_401(client, make_module, make_post):
    """No bearer token: 401."""
    post = await make_post(await make_module())

    response = await client.get(f"/api/posts/{post.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_get_post_token_of_deleted_account_returns_401(
    client, auth_headers, make_user, make_auth_headers, make_module, make_post
):
    """A token stops working when its account is deleted: 401, not the post."""
    gone = await make_user(role="manager")
    gone_headers = make_auth_headers(gone)
    assert (await client.delete(f"/api/users/{gone.id}", headers=auth_headers)).status_code == 204
    post = await make_post(await make_module())

    response = await client.get(f"/api/posts/{post.id}", headers=gone_headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Could not validate credentials"}


@pytest.mark.asyncio
async def test_get_post_disabled_account_returns_403(
    client, make_user, make_auth_headers, make_module, make_post
):
    """A disabled account is refused: 403 "account disabled"."""
    disabled = await make_user(role="manager", is_active=False)
    post = await make_post(await make_module())

    response = await client.get(f"/api/posts/{post.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED


# --- PATCH /api/posts/{post_id} ----------------------------------------------------------


@pytest.mark.asyncio
async def test_update_post_title_and_content_returns_200_and_persists(
    client, auth_headers, make_module, make_post
):
    """Title (stripped) and content change; `updated_at` moves, `created_at` stays; the
    response and a read-back agree."""
    module = await make_module()
    post = await make_post(module, title="Old", content="Old text")
    before = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()

    response = await client.patch(
        f"/api/posts/{post.id}",
        json={"title": "  New  ", "content": "New text"},
        headers=auth_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert body == {
        **post_body(post.id, module.id, "New", 1, content="New text"),
        "progress": not_started(post.id),
        "quiz": None,
    }
    assert body["created_at"] == before["created_at"]
    assert body["updated_at"] > before["updated_at"]
    read = await client.get(f"/api/posts/{post.id}", headers=auth_headers)
    assert read.json() == body


@pytest.mark.asyncio
async def test_update_post_content_null_clears_it(client, auth_headers, make_module, make_post):
    """`content: null` clears the text; fields left out stay."""
    post = await make_post(await make_module(), title="Keeps", content="Going away")

    response = await client.patch(
        f"/api/posts/{post.id}", json={"content": None}, headers=auth_headers
    )

    assert response.status_code == 200
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert (read["title"], read["content"]) == ("Keeps", None)


@pytest.mark.asyncio
async def test_update_post_video_url_of_video_returns_200(
    client, auth_headers, make_module, make_post
):
    """A video's `video_url` can change."""
    post = await make_post(await make_module(), post_type="video")

    response = await client.patch(
        f"/api/posts/{post.id}", json={"video_url": "http://v.test/new"}, headers=auth_headers
    )

    assert response.status_code == 200
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert (read["post_type"], read["video_url"]) == ("video", "http://v.test/new")


@pytest.mark.asyncio
async def test_update_post_file_id_of_attachment_returns_200(
    client, auth_headers, test_db, make_module, make_post
):
    """An attachment can point at another attachment file; its signed URL follows."""
    old = await add_file(test_db)
    new = await add_file(test_db)
    post = await make_post(await make_module(), post_type="attachment", file_id=old)

    response = await client.patch(
        f"/api/posts/{post.id}", json={"file_id": new}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["file_id"] == new
    assert_file_url(response.json()["file_url"], new)
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert read["file_id"] == new


@pytest.mark.asyncio
async def test_update_post_move_up_within_module_shifts_posts_between(
    client, auth_headers, make_module, make_post
):
    """`ordering` alone moves the post within its module: moving 4 -> 2 moves the posts at
    2 and 3 one down; positions stay 1..n; the shifted posts keep their `updated_at`."""
    module = await make_module()
    a, b, c, d = [await make_post(module) for _ in range(4)]
    before = await updated_ats(client, auth_headers, module.id)

    response = await client.patch(f"/api/posts/{d.id}", json={"ordering": 2}, headers=auth_headers)

    assert response.status_code == 200
    assert response.json()["ordering"] == 2
    assert await module_posts(client, auth_headers, module.id) == [
        (a.id, 1),
        (d.id, 2),
        (b.id, 3),
        (c.id, 4),
    ]
    after = await updated_ats(client, auth_headers, module.id)
    assert {k: v for k, v in after.items() if k != d.id} == {
        k: v for k, v in before.items() if k != d.id
    }
    assert after[d.id] > before[d.id]


@pytest.mark.asyncio
async def test_update_post_move_down_within_module_shifts_posts_between(
    client, auth_headers, make_module, make_post
):
    """Moving 1 -> 3 moves the posts at 2 and 3 one up; positions stay 1..n."""
    module = await make_module()
    a, b, c, d = [await make_post(module) for _ in range(4)]

    response = await client.patch(f"/api/posts/{a.id}", json={"ordering": 3}, headers=auth_headers)

    assert response.status_code == 200
    assert response.json()["ordering"] == 3
    assert await module_posts(client, auth_headers, module.id) == [
        (b.id, 1),
        (c.id, 2),
        (a.id, 3),
        (d.id, 4),
    ]


@pytest.mark.asyncio
async def test_update_post_move_past_the_end_goes_last(
    client, auth_headers, make_module, make_post
):
    """Moving to a position past the end puts the post last (n, not beyond)."""
    module = await make_module()
    a, b, c = [await make_post(module) for _ in range(3)]

    response = await client.patch(
        f"/api/posts/{a.id}", json={"ordering": 2**31 - 1}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["ordering"] == 3
    assert await module_posts(client, auth_headers, module.id) == [(b.id, 1), (c.id, 2), (a.id, 3)]


@pytest.mark.asyncio
async def test_update_post_same_module_id_with_ordering_moves_within(
    client, auth_headers, make_module, make_post
):
    """`module_id` naming the post's own module with `ordering` is a move within it."""
    module = await make_module()
    a, b, c = [await make_post(module) for _ in range(3)]

    response = await client.patch(
        f"/api/posts/{c.id}", json={"module_id": module.id, "ordering": 1}, headers=auth_headers
    )

    assert response.status_code == 200
    assert await module_posts(client, auth_headers, module.id) == [(c.id, 1), (a.id, 2), (b.id, 3)]


@pytest.mark.asyncio
async def test_update_post_move_to_other_module_goes_last_and_renumbers_both(
    client, auth_headers, make_module, make_post
):
    """`module_id` alone moves the post to the end of the other module; the gap in the old
    one closes; the neighbours in both keep their `updated_at`."""
    source = await make_module()
    target = await make_module()
    a, b, c = [await make_post(source) for _ in range(3)]
    x, y = [await make_post(target) for _ in range(2)]
    before = {
        **await updated_ats(client, auth_headers, source.id),
        **await updated_ats(client, auth_headers, target.id),
    }

    response = await client.patch(
        f"/api/posts/{b.id}", json={"module_id": target.id}, headers=auth_headers
    )

    assert response.status_code == 200
    assert (response.json()["module_id"], response.json()["ordering"]) == (target.id, 3)
    assert await module_posts(client, auth_headers, source.id) == [(a.id, 1), (c.id, 2)]
    assert await module_posts(client, auth_headers, target.id) == [(x.id, 1), (y.id, 2), (b.id, 3)]
    after = {
        **await updated_ats(client, auth_headers, source.id),
        **await updated_ats(client, auth_headers, target.id),
    }
    assert {k: v for k, v in after.items() if k != b.id} == {
        k: v for k, v in before.items() if k != b.id
    }


@pytest.mark.asyncio
async def test_update_post_move_to_other_module_at_ordering_inserts_there(
    client, auth_headers, make_module, make_post
):
    """`module_id` with `ordering` inserts the post at that place in the other module
    (the later ones move down) and closes the gap in the old one."""
    source = await make_module()
    target = await make_module()
    a, b = [await make_post(source) for _ in range(2)]
    x, y = [await make_post(target) for _ in range(2)]

    response = await client.patch(
        f"/api/posts/{a.id}", json={"module_id": target.id, "ordering": 1}, headers=auth_headers
    )

    assert response.status_code == 200
    assert (response.json()["module_id"], response.json()["ordering"]) == (target.id, 1)
    assert await module_posts(client, auth_headers, source.id) == [(b.id, 1)]
    assert await module_posts(client, auth_headers, target.id) == [(a.id, 1), (x.id, 2), (y.id, 3)]


@pytest.mark.asyncio
async def test_update_post_quiz_replaces_it_whole_with_new_ids(
    client, auth_headers, make_module, make_quiz_post
):
    """`quiz` replaces the whole quiz: the new questions and options only, with new ids."""
    post = await make_quiz_post(await make_module())
    old = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()["quiz"]
    # Questions and options have id sequences of their own: compare each with its kind.
    old_question_ids = {q["id"] for q in old["questions"]}
    old_option_ids = {o["id"] for q in old["questions"] for o in q["options"]}
    new_quiz = quiz_of(
        question("Best first move?", options=(("e4", True), ("a4", False), ("h4", False))),
        pass_mark=100,
    )

    response = await client.patch(
        f"/api/posts/{post.id}", json={"quiz": new_quiz}, headers=auth_headers
    )

    assert response.status_code == 200
    quiz = response.json()["quiz"]
    assert quiz["pass_mark"] == 100
    (only,) = quiz["questions"]
    assert (only["prompt"], only["kind"], only["explanation"]) == (
        "Best first move?",
        "single",
        None,
    )
    assert [(o["text"], o["is_correct"]) for o in only["options"]] == [
        ("e4", True),
        ("a4", False),
        ("h4", False),
    ]
    assert only["correct_option_ids"] == [only["options"][0]["id"]]
    assert only["id"] not in old_question_ids
    assert {o["id"] for o in only["options"]} & old_option_ids == set()
    read = await client.get(f"/api/posts/{post.id}", headers=auth_headers)
    assert read.json()["quiz"] == quiz


@pytest.mark.asyncio
async def test_update_post_empty_body_returns_200_unchanged(
    client, auth_headers, make_module, make_post
):
    """`{}` changes no field: 200 with the post as it was (title, content, place)."""
    module = await make_module()
    post = await make_post(module, title="Same", content="Same text")

    response = await client.patch(f"/api/posts/{post.id}", json={}, headers=auth_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["content"], body["ordering"], body["module_id"]) == (
        "Same",
        "Same text",
        1,
        module.id,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("post_type", "change", "detail"),
    [
        (
            "default",
            {"video_url": "https://v.test/x"},
            "Only video posts have video_url; this post is of type default",
        ),
        (
            "video",
            {"file_id": "abc"},
            "Only attachment posts have file_id; this post is of type video",
        ),
        (
            "default",
            {"quiz": quiz_of(question("Q"))},
            "Only quiz posts have quiz; this post is of type default",
        ),
    ],
    ids=["video-url-on-default", "file-id-on-video", "quiz-on-default"],
)
async def test_update_post_field_of_another_type_returns_400(
    client, auth_headers, make_module, make_post, post_type, change, detail
):
    """`video_url`, `file_id` or `quiz` on a post of another type: 400, nothing changes."""
    post = await make_post(await make_module(), post_type=post_type, title="Stays")
    before = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()

    response = await client.patch(
        f"/api/posts/{post.id}", json={**change, "title": "Changed"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json() == before


@pytest.mark.asyncio
async def test_update_post_file_of_an_avatar_returns_400(
    client, auth_headers, test_db, make_module, make_post
):
    """An attachment may not be pointed at an avatar: 400, the post keeps its file."""
    attachment = await add_file(test_db)
    avatar = await add_file(test_db, kind="avatar")
    post = await make_post(await make_module(), post_type="attachment", file_id=attachment)

    response = await client.patch(
        f"/api/posts/{post.id}", json={"file_id": avatar}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "An attachment post needs a file uploaded as an attachment, not an avatar"
    }
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert read["file_id"] == attachment


@pytest.mark.asyncio
async def test_update_post_unknown_file_returns_404_and_keeps_place(
    client, auth_headers, test_db, make_module, make_post
):
    """An unknown `file_id`: 404 `File <id> not found`; a move asked for in the same PATCH
    is rolled back."""
    module = await make_module()
    file_id = await add_file(test_db)
    a = await make_post(module, post_type="attachment", file_id=file_id)
    b = await make_post(module)

    response = await client.patch(
        f"/api/posts/{a.id}", json={"file_id": "nosuchfile", "ordering": 2}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "File nosuchfile not found"}
    assert await module_posts(client, auth_headers, module.id) == [(a.id, 1), (b.id, 2)]
    read = (await client.get(f"/api/posts/{a.id}", headers=auth_headers)).json()
    assert read["file_id"] == file_id


@pytest.mark.asyncio
async def test_update_post_unknown_post_returns_404(client, auth_headers):
    """PATCH of a post that does not exist: 404 `Post <id> not found`."""
    response = await client.patch("/api/posts/808080", json={"title": "X"}, headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 808080 not found"}


@pytest.mark.asyncio
async def test_update_post_unknown_target_module_returns_404_and_keeps_place(
    client, auth_headers, make_module, make_post
):
    """Moving to a module that does not exist: 404 `Module <id> not found`; the post stays."""
    module = await make_module()
    post = await make_post(module)

    response = await client.patch(
        f"/api/posts/{post.id}", json={"module_id": 909090}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Module 909090 not found"}
    assert await module_posts(client, auth_headers, module.id) == [(post.id, 1)]


UPDATE_422 = [
    ("post-type", {"post_type": "video"}, ["body", "post_type"]),
    ("unknown-field", {"pinned": True}, ["body", "pinned"]),
    ("title-null", {"title": None}, ["body"]),
    ("title-blank", {"title": "  "}, ["body", "title"]),
    ("title-201", {"title": "t" * 201}, ["body", "title"]),
    ("title-nul", {"title": "\x00"}, ["body", "title"]),
    ("content-50001", {"content": "c" * 50_001}, ["body", "content"]),
    ("content-nul", {"content": "\x00"}, ["body", "content"]),
    ("ordering-true", {"ordering": True}, ["body", "ordering"]),
    ("ordering-0", {"ordering": 0}, ["body", "ordering"]),
    ("ordering-2**31", {"ordering": TOO_BIG_POSITION}, ["body", "ordering"]),
    ("ordering-null", {"ordering": None}, ["body"]),
    ("module-null", {"module_id": None}, ["body"]),
    ("module-0", {"module_id": 0}, ["body", "module_id"]),
    ("module-2**63", {"module_id": TOO_BIG_ID}, ["body", "module_id"]),
    ("video-javascript", {"video_url": "javascript:alert(1)"}, ["body", "video_url"]),
    ("video-relative", {"video_url": "videos/1"}, ["body", "video_url"]),
    ("video-null", {"video_url": None}, ["body"]),
    ("quiz-null", {"quiz": None}, ["body"]),
    ("quiz-zero-questions", {"quiz": quiz_of()}, ["body", "quiz", "questions"]),
    (
        "quiz-pass-mark-101",
        {"quiz": quiz_of(question("Q"), pass_mark=101)},
        ["body", "quiz", "pass_mark"],
    ),
    (
        "quiz-single-two-correct",
        {"quiz": quiz_of(question("Q", options=(("a", True), ("b", True))))},
        ["body", "quiz", "questions", 0],
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "loc"), [(c, loc) for _, c, loc in UPDATE_422], ids=[i for i, _, _ in UPDATE_422]
)
async def test_update_post_malformed_body_returns_422(
    client, auth_headers, make_module, make_post, change, loc
):
    """A field out of its limits, of the wrong type or null where not allowed, `post_type`
    (it cannot change) or another unknown field: 422 at that place, nothing changes."""
    module = await make_module()
    post = await make_post(module, title="Unchanged")
    before = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()

    response = await client.patch(f"/api/posts/{post.id}", json=change, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json() == before


@pytest.mark.asyncio
@pytest.mark.parametrize("post_id", ["0", str(TOO_BIG_ID), "abc"])
async def test_update_post_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, post_id
):
    """`post_id` must be an integer in 1..2^63-1: 422, never a 500."""
    response = await client.patch(
        f"/api/posts/{post_id}", json={"title": "X"}, headers=auth_headers
    )

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "post_id"]]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_update_post_as_non_admin_returns_403_and_keeps_it(
    client, auth_headers, make_user, make_auth_headers, user_course, make_module, make_post, role
):
    """Only admins edit posts: a manager or a `user` (even one who sees it) gets 403."""
    caller = await make_user(role=role)
    post = await make_post(await make_module(course=user_course), title="Stays")

    response = await client.patch(
        f"/api/posts/{post.id}", json={"title": "Changed"}, headers=make_auth_headers(caller)
    )

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert read["title"] == "Stays"


@pytest.mark.asyncio
async def test_update_post_as_manager_bad_id_returns_403(client, manager_headers):
    """The admin check comes before the id and the body: a manager gets 403 even for a
    malformed id."""
    response = await client.patch("/api/posts/0", json={"title": ""}, headers=manager_headers)

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION


@pytest.mark.asyncio
async def test_update_post_without_token_returns_401(client, auth_headers, make_module, make_post):
    """No bearer token: 401, nothing changes."""
    post = await make_post(await make_module(), title="Stays")

    response = await client.patch(f"/api/posts/{post.id}", json={"title": "X"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    read = (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).json()
    assert read["title"] == "Stays"


@pytest.mark.asyncio
async def test_update_post_disabled_admin_returns_403(
    client, make_user, make_auth_headers, make_module, make_post
):
    """A disabled admin is refused: 403 "account disabled"."""
    disabled = await make_user(role="admin", is_active=False)
    post = await make_post(await make_module())

    response = await client.patch(
        f"/api/posts/{post.id}", json={"title": "X"}, headers=make_auth_headers(disabled)
    )

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED


# --- DELETE /api/posts/{post_id} ---------------------------------------------------------


@pytest.mark.asyncio
async def test_delete_post_returns_204_and_closes_the_gap(
    client, auth_headers, make_module, make_post
):
    """DELETE answers 204 with an empty body; the post is then 404; the later posts move
    up (positions 1..n) and keep their `updated_at`."""
    module = await make_module()
    a, b, c, d = [await make_post(module) for _ in range(4)]
    before = await updated_ats(client, auth_headers, module.id)

    response = await client.delete(f"/api/posts/{b.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(f"/api/posts/{b.id}", headers=auth_headers)
    assert (gone.status_code, gone.json()) == (404, {"detail": f"Post {b.id} not found"})
    assert await module_posts(client, auth_headers, module.id) == [(a.id, 1), (c.id, 2), (d.id, 3)]
    after = await updated_ats(client, auth_headers, module.id)
    assert after == {k: v for k, v in before.items() if k != b.id}


@pytest.mark.asyncio
async def test_delete_post_lowers_module_post_count(client, auth_headers, make_module, make_post):
    """After a delete the module's `post_count` (GET /api/modules/{id}) is one less."""
    module = await make_module()
    doomed = await make_post(module)
    await make_post(module)

    response = await client.delete(f"/api/posts/{doomed.id}", headers=auth_headers)

    assert response.status_code == 204
    detail = await client.get(f"/api/modules/{module.id}", headers=auth_headers)
    assert detail.status_code == 200
    assert detail.json()["post_count"] == 1


@pytest.mark.asyncio
async def test_delete_post_quiz_returns_204_and_removes_it(
    client, auth_headers, make_module, make_quiz_post
):
    """A quiz post goes with its questions and options: 204, then 404."""
    module = await make_module()
    post = await make_quiz_post(module)

    response = await client.delete(f"/api/posts/{post.id}", headers=auth_headers)

    assert response.status_code == 204
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 404
    assert await module_posts(client, auth_headers, module.id) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
async def test_delete_post_as_non_admin_returns_403_and_keeps_it(
    client, auth_headers, make_user, make_auth_headers, user_course, make_module, make_post, role
):
    """Only admins delete posts: a manager or a `user` gets 403, the post stays."""
    caller = await make_user(role=role)
    post = await make_post(await make_module(course=user_course))

    response = await client.delete(f"/api/posts/{post.id}", headers=make_auth_headers(caller))

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_post_as_manager_unknown_id_returns_403(client, manager_headers):
    """The admin check comes first: a manager gets 403 whether or not the post exists."""
    response = await client.delete("/api/posts/404404", headers=manager_headers)

    assert response.status_code == 403
    assert response.json() == NO_PERMISSION


@pytest.mark.asyncio
async def test_delete_post_unknown_id_returns_404(client, auth_headers):
    """Deleting a post that does not exist: 404 `Post <id> not found`."""
    response = await client.delete("/api/posts/404404", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 404404 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("post_id", ["0", str(TOO_BIG_ID), "abc"])
async def test_delete_post_id_not_a_64_bit_positive_integer_returns_422(
    client, auth_headers, post_id
):
    """`post_id` must be an integer in 1..2^63-1: 422, never a 500."""
    response = await client.delete(f"/api/posts/{post_id}", headers=auth_headers)

    assert response.status_code == 422
    assert [err["loc"] for err in response.json()["detail"]] == [["path", "post_id"]]


@pytest.mark.asyncio
async def test_delete_post_without_token_returns_401(client, auth_headers, make_module, make_post):
    """No bearer token: 401, the post stays."""
    post = await make_post(await make_module())

    response = await client.delete(f"/api/posts/{post.id}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_post_disabled_admin_returns_403(
    client, auth_headers, make_user, make_auth_headers, make_module, make_post
):
    """A disabled admin is refused: 403 "account disabled", the post stays."""
    disabled = await make_user(role="admin", is_active=False)
    post = await make_post(await make_module())

    response = await client.delete(f"/api/posts/{post.id}", headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == ACCOUNT_DISABLED
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 200


ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"title": "' + b"x" * ONE_MIB + b'"}'


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_posts_endpoint_body_over_1_mib_returns_413(
    client, auth_headers, make_module, make_post, method
):
    """A body over 1 MiB is refused with 413 before anything reads it; nothing changes."""
    module = await make_module()
    post = await make_post(module, title="Kept")
    path = "/api/posts" if method == "POST" else f"/api/posts/{post.id}"

    response = await client.request(
        method,
        path,
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body larger than {ONE_MIB} bytes"}
    assert await module_posts(client, auth_headers, module.id) == [(post.id, 1)]
    kept = await client.get(f"/api/posts/{post.id}", headers=auth_headers)
    assert kept.json()["title"] == "Kept"
