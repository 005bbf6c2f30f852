"""ETag / If-None-Match -> 304 and `Cache-Control: private, no-cache` on the reads of
content and progress (tma.core.etag; docs/contracts/README.md "Revalidation"; companion
spec §1). The tag must change whenever that caller's body would: each cause is tested."""

from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select

from progress_factories import insert_quiz
from tma.groups.models import Group, GroupMember

NO_CACHE = "private, no-cache"


@dataclass
class World:
    course: int
    module: int
    post: int
    quiz: int
    attempt: int


@pytest_asyncio.fixture
async def world(test_db, user_course, make_module, make_post, client, user_headers):
    module = await make_module(course=user_course, title="Checks")
    post = await make_post(module, title="First")
    quiz = await insert_quiz(test_db, module.id)
    started = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert started.status_code == 201
    return World(user_course.id, module.id, post.id, quiz.post_id, started.json()["id"])


def revalidated_urls(w, user_id, group_id):
    return {
        "course detail": f"/api/courses/{w.course}",
        "course outline": f"/api/courses/{w.course}/modules",
        "bundle": f"/api/courses/{w.course}/bundle",
        "module detail": f"/api/modules/{w.module}",
        "post list": "/api/posts",
        "post detail": f"/api/posts/{w.post}",
        "quiz": f"/api/quizzes/{w.quiz}",
        "attempts": f"/api/quizzes/{w.quiz}/attempts",
        "attempt": f"/api/quiz-attempts/{w.attempt}",
        "progress": "/api/progress",
        "user progress": f"/api/users/{user_id}/progress",
        "group progress": f"/api/groups/{group_id}/progress",
    }


ENDPOINTS = [
    "course detail",
    "course outline",
    "bundle",
    "module detail",
    "post list",
    "post detail",
    "quiz",
    "attempts",
    "attempt",
    "progress",
    "user progress",
    "group progress",
]


async def group_of(test_db, user_id):
    return (await _group(test_db, user_id)).id


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.asyncio
async def test_get_with_current_tag_returns_304_without_body(
    client, test_db, test_user, user_headers, manager_headers, world, name
):
    """Every read of content and progress: 200 with a weak `ETag` and `Cache-Control:
    private, no-cache`; the same request with `If-None-Match: <tag>` (or a list holding it,
    or `*`) is 304 with no body and the same tag; another tag gets the 200 again."""
    group_id = await group_of(test_db, test_user.id)
    url = revalidated_urls(world, test_user.id, group_id)[name]
    headers = manager_headers if name == "group progress" else user_headers

    first = await client.get(url, headers=headers)

    assert first.status_code == 200
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert first.headers["cache-control"] == NO_CACHE
    again = await client.get(url, headers={**headers, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert again.headers["cache-control"] == NO_CACHE
    listed = await client.get(url, headers={**headers, "If-None-Match": f'"x", {tag}'})
    assert listed.status_code == 304
    star = await client.get(url, headers={**headers, "If-None-Match": "*"})
    assert star.status_code == 304
    other = await client.get(url, headers={**headers, "If-None-Match": 'W/"other"'})
    assert other.status_code == 200
    assert other.headers["etag"] == tag
    if name == "bundle":  # made again: the same content, at another time
        assert {**other.json(), "generated_at": None} == {**first.json(), "generated_at": None}
    else:
        assert other.json() == first.json()


async def tag_of(client, url, headers):
    response = await client.get(url, headers=headers)
    assert response.status_code == 200
    return response.headers["etag"]


async def currents(client, urls, headers, tags):
    return [await still_current(client, u, headers, t) for u, t in zip(urls, tags, strict=True)]


async def still_current(client, url, headers, tag):
    response = await client.get(url, headers={**headers, "If-None-Match": tag})
    return response.status_code == 304


@pytest.mark.asyncio
async def test_tag_changes_on_an_admin_edit(client, user_headers, auth_headers, world):
    """An admin renames the course, the module and the post: the tags of the course
    detail, the module detail, the post detail and the bundle all change."""
    urls = [
        f"/api/courses/{world.course}",
        f"/api/modules/{world.module}",
        f"/api/posts/{world.post}",
        f"/api/courses/{world.course}/bundle",
    ]
    tags = [await tag_of(client, url, user_headers) for url in urls]

    edits = [
        await client.patch(
            f"/api/courses/{world.course}", json={"title": "New"}, headers=auth_headers
        ),
        await client.patch(
            f"/api/modules/{world.module}", json={"title": "New"}, headers=auth_headers
        ),
        await client.patch(f"/api/posts/{world.post}", json={"title": "New"}, headers=auth_headers),
    ]

    assert [e.status_code for e in edits] == [200, 200, 200]
    assert await currents(client, urls, user_headers, tags) == [False] * 4


@pytest.mark.asyncio
async def test_tag_changes_on_a_link_and_a_move(
    client, user_headers, auth_headers, world, make_module
):
    """A module linked into the course changes the course detail, outline and bundle; moving
    it changes them again."""
    urls = [
        f"/api/courses/{world.course}",
        f"/api/courses/{world.course}/modules",
        f"/api/courses/{world.course}/bundle",
    ]
    before = [await tag_of(client, url, user_headers) for url in urls]
    extra = await make_module(title="Second")

    linked = await client.post(
        f"/api/courses/{world.course}/modules/{extra.id}", headers=auth_headers
    )

    assert linked.status_code == 201
    assert await currents(client, urls, user_headers, before) == [False] * 3
    after_link = [await tag_of(client, url, user_headers) for url in urls]
    moved = await client.patch(
        f"/api/courses/{world.course}/modules/{extra.id}",
        json={"ordering": 1},
        headers=auth_headers,
    )
    assert moved.status_code == 200
    assert await currents(client, urls, user_headers, after_link) == [False] * 3


@pytest.mark.asyncio
async def test_tag_changes_on_a_visibility_change(
    client,
    user_headers,
    auth_headers,
    test_user,
    make_group,
    add_member,
    make_course,
    make_module,
    make_post,
    assign_course,
    world,
):
    """A course newly assigned to a group of the caller makes more posts visible: the post
    list's tag changes; the module detail lists one more course the caller sees it in."""
    posts_tag = await tag_of(client, "/api/posts", user_headers)
    module_tag = await tag_of(client, f"/api/modules/{world.module}", user_headers)
    other_course = await make_course(title="Other")
    group = await make_group(name="Second group")
    await add_member(group, test_user)
    other_module = await make_module(course=other_course)
    await make_post(other_module)
    linked = await client.post(
        f"/api/courses/{other_course.id}/modules/{world.module}", headers=auth_headers
    )
    assert linked.status_code == 201
    assert await still_current(client, f"/api/modules/{world.module}", user_headers, module_tag)

    await assign_course(group, other_course)

    assert not await still_current(client, "/api/posts", user_headers, posts_tag)
    assert not await still_current(client, f"/api/modules/{world.module}", user_headers, module_tag)


@pytest.mark.asyncio
async def test_tag_changes_with_the_callers_own_progress_and_is_per_caller(
    client, user_headers, make_user, add_member, make_auth_headers, test_db, test_user, world
):
    """The caller's progress changes the post detail, the bundle and the progress view; a
    classmate with another progress gets another tag for the same post (the tag is of that
    caller's body), and the caller's tag is not current for them."""
    urls = [f"/api/posts/{world.post}", f"/api/courses/{world.course}/bundle", "/api/progress"]
    before = [await tag_of(client, url, user_headers) for url in urls]
    classmate = await make_user()
    await add_member(await _group(test_db, test_user.id), classmate)

    done = await client.put(
        f"/api/progress/{world.post}", json={"status": "completed"}, headers=user_headers
    )

    assert done.status_code == 200
    assert await currents(client, urls, user_headers, before) == [False] * 3
    mine = await tag_of(client, urls[0], user_headers)
    theirs = await client.get(
        urls[0], headers={**make_auth_headers(classmate), "If-None-Match": mine}
    )
    assert theirs.status_code == 200
    assert theirs.headers["etag"] != mine


async def _group(test_db, user_id):
    async with test_db.session() as session:
        return await session.scalar(
            select(Group)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id)
        )


@pytest.mark.asyncio
async def test_other_reads_keep_no_store_and_no_tag(client, user_headers, world):
    """Reads outside content and progress (the caller's account) keep `Cache-Control:
    no-store` and carry no tag; errors are never tagged."""
    me = await client.get("/api/auth/me", headers=user_headers)
    missing = await client.get("/api/posts/999999", headers=user_headers)

    assert me.status_code == 200
    assert me.headers["cache-control"] == "no-store"
    assert "etag" not in me.headers
    assert missing.status_code == 404
    assert "etag" not in missing.headers
