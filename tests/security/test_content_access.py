"""Threats to the learning content: a parent reading modules, posts or quizzes of a course
not assigned to their groups (through the detail, the list filters and the course outline);
correct answers reaching a parent before they submit; managers and parents writing content.

Every refused write is checked by reading the state back as an admin.
"""

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tma.courses.models import Course, Module
from tma.posts.models import Post

Headers = dict[str, str]


@dataclass
class Content:
    """A parent's course with a module holding a text post and a quiz; another course (not
    assigned to the parent) with its own module, post and quiz; a module in no course."""

    course: Course
    module: Module
    post: Post
    quiz: Post
    other_course: Course
    other_module: Module
    other_post: Post
    other_quiz: Post
    loose_module: Module


@pytest_asyncio.fixture
async def content(
    user_course, make_course, make_module, make_post, make_quiz_post, make_group, assign_course
) -> Content:
    module = await make_module(title="Mine", course=user_course)
    other_course = await make_course(title="Not yours")
    # assigned to a group the parent is not in: assignment alone grants nothing
    await assign_course(await make_group(), other_course)
    other_module = await make_module(title="Theirs", course=other_course)
    return Content(
        course=user_course,
        module=module,
        post=await make_post(module),
        quiz=await make_quiz_post(module),
        other_course=other_course,
        other_module=other_module,
        other_post=await make_post(other_module),
        other_quiz=await make_quiz_post(other_module),
        loose_module=await make_module(title="Loose"),
    )


@pytest.mark.asyncio
async def test_user_reading_content_of_unassigned_course_gets_403_everywhere(
    client: httpx.AsyncClient, user_headers: Headers, content: Content
) -> None:
    """Every door to another course's content answers 403 for a parent: the module and post
    details, the module and post list filters, the course outline and the course detail; a
    module in no course is hidden too."""
    doors = [
        f"/api/modules/{content.other_module.id}",
        f"/api/modules/{content.loose_module.id}",
        f"/api/posts/{content.other_post.id}",
        f"/api/posts/{content.other_quiz.id}",
        f"/api/modules?course_id={content.other_course.id}",
        f"/api/posts?module_id={content.other_module.id}",
        f"/api/posts?module_id={content.loose_module.id}",
        f"/api/courses/{content.other_course.id}/modules",
        f"/api/courses/{content.other_course.id}",
    ]

    statuses = {url: (await client.get(url, headers=user_headers)).status_code for url in doors}

    assert statuses == dict.fromkeys(doors, 403)


@pytest.mark.asyncio
async def test_user_lists_never_contain_content_of_unassigned_courses(
    client: httpx.AsyncClient, user_headers: Headers, content: Content
) -> None:
    """The unfiltered lists show a parent only their course's module and posts."""
    modules = await client.get("/api/modules", headers=user_headers)
    posts = await client.get("/api/posts", headers=user_headers)

    assert [m["id"] for m in modules.json()] == [content.module.id]
    assert [p["id"] for p in posts.json()] == [content.post.id, content.quiz.id]
    assert modules.headers["X-Total-Count"] == "1"
    assert posts.headers["X-Total-Count"] == "2"


@pytest.mark.asyncio
async def test_user_loses_content_when_their_group_loses_the_course(
    client: httpx.AsyncClient,
    user_headers: Headers,
    manager_headers: Headers,
    content: Content,
) -> None:
    """Visibility follows the assignment: once the manager takes the course away from the
    parent's group, its module and posts are 403."""
    groups = (await client.get("/api/groups", headers=user_headers)).json()
    (group,) = groups
    unassign = await client.delete(
        f"/api/groups/{group['id']}/courses/{content.course.id}", headers=manager_headers
    )
    assert unassign.status_code == 204

    module = await client.get(f"/api/modules/{content.module.id}", headers=user_headers)
    post = await client.get(f"/api/posts/{content.post.id}", headers=user_headers)

    assert (module.status_code, post.status_code) == (403, 403)


def _keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.asyncio
async def test_correct_answers_never_reach_a_user_before_submitting(
    client: httpx.AsyncClient, user_headers: Headers, auth_headers: Headers, content: Content
) -> None:
    """No response a parent gets from the content endpoints holds `is_correct`,
    `correct_option_ids` or an explanation; staff get them (the same post, as admin)."""
    urls = [
        f"/api/posts/{content.quiz.id}",
        "/api/posts",
        f"/api/posts?module_id={content.module.id}",
        f"/api/modules/{content.module.id}",
        f"/api/courses/{content.course.id}",
    ]
    for url in urls:
        response = await client.get(url, headers=user_headers)
        assert response.status_code == 200
        assert not _keys(response.json()) & {"is_correct", "correct_option_ids"}
        assert "Only the knight jumps" not in json.dumps(response.json())

    staff = (await client.get(f"/api/posts/{content.quiz.id}", headers=auth_headers)).json()
    assert {"is_correct", "correct_option_ids"} <= _keys(staff)
    assert staff["quiz"]["questions"][0]["explanation"] == "Only the knight jumps."


WRITES = [
    ("POST", "/api/modules", {"title": "Sneaky"}),
    ("PATCH", "/api/modules/{module}", {"title": "Sneaky"}),
    ("DELETE", "/api/modules/{module}", None),
    ("POST", "/api/courses/{course}/modules/{loose}", None),
    ("PATCH", "/api/courses/{course}/modules/{module}", {"ordering": 1}),
    ("DELETE", "/api/courses/{course}/modules/{module}", None),
    ("POST", "/api/posts", {"module_id": "{module}", "title": "Sneaky"}),
    ("PATCH", "/api/posts/{post}", {"title": "Sneaky"}),
    ("DELETE", "/api/posts/{post}", None),
]


async def _state(client: httpx.AsyncClient, headers: Headers) -> list[Any]:
    return [
        (await client.get(url, headers=headers)).json()
        for url in ("/api/modules", "/api/posts", "/api/courses")
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["manager", "user"])
@pytest.mark.parametrize(("method", "template", "body"), WRITES)
async def test_non_admin_writing_content_returns_403_and_changes_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    make_user,
    make_auth_headers,
    content: Content,
    role: str,
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    """Writing modules, outlines and posts is admin only: a manager or a parent (even one
    who sees the content) gets 403 and nothing changes."""
    ids = {
        "module": content.module.id,
        "course": content.course.id,
        "loose": content.loose_module.id,
        "post": content.post.id,
    }
    url = template.format(**ids)
    payload = (
        None
        if body is None
        else json.loads(json.dumps(body).replace('"{module}"', str(ids["module"])))
    )
    headers = make_auth_headers(await make_user(role=role))
    before = await _state(client, auth_headers)

    response = await client.request(method, url, json=payload, headers=headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await _state(client, auth_headers) == before
