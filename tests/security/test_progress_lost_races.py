"""Progress writes racing deletes and link changes, staged exactly (issue 21, defects 1 and 2).

A second connection (`held_transaction`) does what another request does first — deletes
the post or module, unlinks or links the module, or completes a post — and keeps its
transaction open; the request runs into it and waits; the test commits, and the request
meets exactly the state a lost race leaves. Each answer is the sequential order's, and the
progress counters (`module_progress`, `course_progress`) equal a recount afterwards
(`tma doctor`'s check) and the group view shows it.

On SQLite (one writer at a time) the request waits at its first write and the races cannot
interleave; the same tests run there and must give the same answers. The lock-order tests
are PostgreSQL's: only there can two writers hold row locks against each other.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from progress_factories import Quiz, insert_quiz
from tma.courses.models import Course, Module
from tma.posts.models import Post
from tma.progress import doctor

STORED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

postgresql_only = pytest.mark.postgresql


def _postgresql(test_db: Any) -> bool:
    return bool(test_db.db.engine.dialect.name == "postgresql")


def _at(test_db: Any) -> Any:
    """A timestamp for raw SQL on the held connection (SQLite keeps naive text)."""
    return STORED_AT if _postgresql(test_db) else STORED_AT.strftime("%Y-%m-%d %H:%M:%S.%f")


async def _run_into(held_transaction: Any, request_coroutine: Any) -> httpx.Response:
    """Send the request, let it wait for the held transaction, commit that, and answer."""
    request = asyncio.create_task(request_coroutine)
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response: httpx.Response = await request
    return response


async def _assert_counters_exact(test_db: Any) -> None:
    async with test_db.db.engine.connect() as conn:
        report = await doctor.check(conn)
    assert report.differences == []


async def _group_view(client: httpx.AsyncClient, headers: Any, group_id: int, user_id: int) -> Any:
    """The member's (course_id, completed_posts, total_posts) in the group view."""
    response = await client.get(f"/api/groups/{group_id}/progress", headers=headers)
    assert response.status_code == 200
    [member] = [m for m in response.json()["members"] if m["user_id"] == user_id]
    return [(c["course_id"], c["completed_posts"], c["total_posts"]) for c in member["courses"]]


@dataclass
class Scene:
    """The user's group with courses `first` and `second` (in that order); `module` is in
    `first` (and in `second` when asked) with posts `posts`; `other` is a module of `first`
    with one post, so `first` keeps a post when `module` leaves it."""

    group_id: int
    first: Course
    second: Course
    module: Module
    other: Module
    posts: list[Post]


@pytest.fixture
def scene(
    make_group: Any,
    add_member: Any,
    make_course: Any,
    assign_course: Any,
    make_module: Any,
    link_module: Any,
    make_post: Any,
    test_user: Any,
) -> Any:
    async def build(*, in_second: bool = False) -> Scene:
        group = await make_group()
        await add_member(group, test_user)
        first, second = await make_course(), await make_course()
        await assign_course(group, first)
        await assign_course(group, second)
        other = await make_module(course=first)
        await make_post(other)
        module = await make_module(course=first)
        if in_second:
            await link_module(second, module)
        posts = [await make_post(module), await make_post(module)]
        return Scene(group.id, first, second, module, other, posts)

    return build


# --- defect 1: a progress write while its post or module is deleted ------------------------


async def _delete_in_held(held_transaction: Any, test_db: Any, what: str, post: Post) -> None:
    """What `DELETE /api/posts/{id}` or `DELETE /api/modules/{id}` does, held open: the
    module's lock first (as the services take it), then the delete and its cascades."""
    if _postgresql(test_db):
        await held_transaction.execute(
            "SELECT id FROM modules WHERE id = :id FOR UPDATE", id=post.module_id
        )
    if what == "post":
        await held_transaction.execute("DELETE FROM posts WHERE id = :id", id=post.id)
    else:
        await held_transaction.execute("DELETE FROM modules WHERE id = :id", id=post.module_id)


async def _passing_attempt(
    client: httpx.AsyncClient, headers: Any, test_db: Any, module_id: int
) -> tuple[Quiz, int, list[dict[str, Any]]]:
    quiz = await insert_quiz(test_db, module_id)
    started = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=headers)
    assert started.status_code == 201
    right = [
        {"question_id": q, "option_ids": c}
        for q, c in zip(quiz.questions, quiz.correct, strict=True)
    ]
    return quiz, started.json()["id"], right


@pytest.mark.asyncio
@pytest.mark.parametrize("what", ["post", "module"])
@pytest.mark.parametrize("status", ["in_progress", "completed"])
async def test_put_progress_while_its_post_is_deleted_returns_404_and_writes_nothing(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction, what, status
):
    """`PUT /api/progress/{post_id}` while an admin deletes the post (or its module): the
    write waits for the delete, then finds the post gone: 404 "Post <id> not found", as
    when the delete came first (not a foreign-key failure, not a 500); no progress row is
    left and the counters equal a recount."""
    s = await scene()
    post = s.posts[0]
    await _delete_in_held(held_transaction, test_db, what, post)

    response = await _run_into(
        held_transaction,
        client.put(f"/api/progress/{post.id}", json={"status": status}, headers=user_headers),
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Post {post.id} not found"}
    assert (await client.get(f"/api/posts/{post.id}", headers=auth_headers)).status_code == 404
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 0, 1 if what == "module" else 2),
        (s.second.id, 0, 0),
    ]
    await _assert_counters_exact(test_db)


@pytest.mark.asyncio
@pytest.mark.parametrize("what", ["post", "module"])
async def test_submit_passing_attempt_while_its_quiz_is_deleted_returns_404(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction, what
):
    """A passing submit while an admin deletes the quiz post (or its module), which takes
    the attempt with it: the submit waits, then finds the attempt gone: 404 "Attempt <id>
    not found", as when the delete came first (not 400 "already submitted", not a 500);
    the counters equal a recount."""
    s = await scene()
    quiz, attempt_id, right = await _passing_attempt(client, user_headers, test_db, s.module.id)
    quiz_post = Post(id=quiz.post_id, module_id=s.module.id)
    await _delete_in_held(held_transaction, test_db, what, quiz_post)

    response = await _run_into(
        held_transaction,
        client.post(
            f"/api/quiz-attempts/{attempt_id}/submit",
            json={"answers": right},
            headers=user_headers,
        ),
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Attempt {attempt_id} not found"}
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 0, 1 if what == "module" else 3),
        (s.second.id, 0, 0),
    ]
    await _assert_counters_exact(test_db)


@pytest.mark.asyncio
@pytest.mark.parametrize("what", ["post", "module"])
async def test_start_attempt_while_its_quiz_is_deleted_returns_404_post_not_found(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction, what
):
    """Starting an attempt while an admin deletes the quiz post (or its module): the new
    attempt's key waits for the delete, then finds the quiz gone: 404 "Post <id> not
    found", as when the delete came first (before: 400 "Another attempt was started at the
    same moment"); no attempt is left."""
    s = await scene()
    quiz = await insert_quiz(test_db, s.module.id)
    await _delete_in_held(
        held_transaction, test_db, what, Post(id=quiz.post_id, module_id=s.module.id)
    )

    response = await _run_into(
        held_transaction, client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Post {quiz.post_id} not found"}
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert listed.status_code == 404
    await _assert_counters_exact(test_db)


@postgresql_only
@pytest.mark.asyncio
@pytest.mark.parametrize("what", ["post", "module"])
@pytest.mark.parametrize("write", ["put", "submit"])
async def test_completion_waits_for_the_module_lock_so_a_delete_after_it_never_deadlocks(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction, what, write
):
    """Lock order. A delete has taken the module's lock (its first step) but not yet deleted
    anything; a completion (`PUT` completed, or a passing submit) arrives and waits for the
    module; then the delete goes on — post or module and their progress, attempts and
    counters — without waiting for the completion, and commits: the completion answers 404,
    never a deadlock that fails one of the two with a 500. (Before, the completion locked
    the post's row first and then waited for the module, while the delete held the module
    and waited for the post.)"""
    s = await scene()
    if write == "put":
        target = s.posts[0].id
        request = client.put(
            f"/api/progress/{target}", json={"status": "completed"}, headers=user_headers
        )
        expected = {"detail": f"Post {target} not found"}
    else:
        quiz, attempt_id, right = await _passing_attempt(client, user_headers, test_db, s.module.id)
        target = quiz.post_id
        request = client.post(
            f"/api/quiz-attempts/{attempt_id}/submit", json={"answers": right}, headers=user_headers
        )
        expected = {"detail": f"Attempt {attempt_id} not found"}
    await held_transaction.execute(
        "SELECT id FROM modules WHERE id = :id FOR UPDATE", id=s.module.id
    )
    task = asyncio.create_task(request)
    await held_transaction.until_waited_on(task)

    if what == "post":
        await held_transaction.execute("DELETE FROM posts WHERE id = :id", id=target)
    else:
        await held_transaction.execute("DELETE FROM modules WHERE id = :id", id=s.module.id)
    await held_transaction.commit()
    response = await task

    assert response.status_code == 404
    assert response.json() == expected
    await _assert_counters_exact(test_db)


# --- defect 2: a completion racing a link change of its module ----------------------------


async def _complete_in_held(held_transaction: Any, test_db: Any, user_id: int, post: Post) -> None:
    """A completion in progress, as any writer stores it: the progress row (its triggers
    count it), held open."""
    await held_transaction.execute(
        "INSERT INTO post_progress (user_id, post_id, status, updated_at, completed_at) "
        "VALUES (:user_id, :post_id, 'completed', :at, :at)",
        user_id=user_id,
        post_id=post.id,
        at=_at(test_db),
    )


async def _link_change_in_held(
    held_transaction: Any, test_db: Any, change: str, course: Course, module: Module
) -> None:
    """What `POST` or `DELETE /api/courses/{c}/modules/{m}` does, held open: the module's
    lock, the course's, then the link inserted (last) or deleted (its triggers move the
    module's counts)."""
    if _postgresql(test_db):
        await held_transaction.execute(
            "SELECT id FROM modules WHERE id = :id FOR UPDATE", id=module.id
        )
        await held_transaction.execute(
            "SELECT id FROM courses WHERE id = :id FOR UPDATE", id=course.id
        )
    if change == "unlink":
        await held_transaction.execute(
            "DELETE FROM course_module_links WHERE course_id = :course AND module_id = :module",
            course=course.id,
            module=module.id,
        )
    else:
        await held_transaction.execute(
            "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
            "VALUES (:course, :module, 1, :at)",
            course=course.id,
            module=module.id,
            at=_at(test_db),
        )


@pytest.mark.asyncio
async def test_complete_post_while_its_module_is_unlinked_counts_it_only_where_it_stays(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction
):
    """The module is in both courses and the user has completed one of its posts; an admin
    unlinks it from the first course while the user completes its second post: the
    completion waits for the unlink, then counts in the second course only. The group view
    shows first course 0 of 1, second 2 of 2 (before: first 1 of 1, one completion the
    unlink had already taken out counted back in)."""
    s = await scene(in_second=True)
    done = await client.put(
        f"/api/progress/{s.posts[0].id}", json={"status": "completed"}, headers=user_headers
    )
    assert done.status_code == 200
    await _link_change_in_held(held_transaction, test_db, "unlink", s.first, s.module)

    response = await _run_into(
        held_transaction,
        client.put(
            f"/api/progress/{s.posts[1].id}", json={"status": "completed"}, headers=user_headers
        ),
    )

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 0, 1),
        (s.second.id, 2, 2),
    ]
    await _assert_counters_exact(test_db)


@pytest.mark.asyncio
async def test_unlink_module_while_a_post_of_it_is_completed_takes_all_its_counts_out(
    client, test_db, auth_headers, test_user, scene, held_transaction, user_headers
):
    """The other order: a completion in the module is in progress when an admin unlinks
    the module from the first course. The unlink waits for it and takes the module's whole
    count (both completions) out of the first course: 204, group view first 0 of 1, second
    2 of 2 (before: the unlink subtracted the count without the completion in progress, and
    the first course kept 1)."""
    s = await scene(in_second=True)
    done = await client.put(
        f"/api/progress/{s.posts[0].id}", json={"status": "completed"}, headers=user_headers
    )
    assert done.status_code == 200
    await _complete_in_held(held_transaction, test_db, test_user.id, s.posts[1])

    response = await _run_into(
        held_transaction,
        client.delete(f"/api/courses/{s.first.id}/modules/{s.module.id}", headers=auth_headers),
    )

    assert response.status_code == 204
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 0, 1),
        (s.second.id, 2, 2),
    ]
    await _assert_counters_exact(test_db)


@pytest.mark.asyncio
async def test_complete_post_while_its_module_is_linked_to_a_second_course_counts_it_there(
    client, test_db, user_headers, auth_headers, test_user, scene, held_transaction
):
    """The module is in the first course and the user has completed one of its posts; an
    admin links it into the group's second course while the user completes its second
    post: the completion waits for the link, then counts in both courses: first 2 of 3,
    second 2 of 2 (before: the completion did not wait, saw only the first course, and the
    link had copied the count without it: second 1 of 2)."""
    s = await scene()
    done = await client.put(
        f"/api/progress/{s.posts[0].id}", json={"status": "completed"}, headers=user_headers
    )
    assert done.status_code == 200
    await _link_change_in_held(held_transaction, test_db, "link", s.second, s.module)

    response = await _run_into(
        held_transaction,
        client.put(
            f"/api/progress/{s.posts[1].id}", json={"status": "completed"}, headers=user_headers
        ),
    )

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 2, 3),
        (s.second.id, 2, 2),
    ]
    await _assert_counters_exact(test_db)


@pytest.mark.asyncio
async def test_link_module_while_a_post_of_it_is_completed_copies_that_completion_too(
    client, test_db, auth_headers, test_user, scene, held_transaction, user_headers
):
    """The other order: a completion in the module is in progress when an admin links the
    module into the second course. The link waits for it and copies the module's whole
    count: 201, group view first 2 of 3, second 2 of 2 (before: the link did not wait and
    copied 1)."""
    s = await scene()
    done = await client.put(
        f"/api/progress/{s.posts[0].id}", json={"status": "completed"}, headers=user_headers
    )
    assert done.status_code == 200
    await _complete_in_held(held_transaction, test_db, test_user.id, s.posts[1])

    response = await _run_into(
        held_transaction,
        client.post(f"/api/courses/{s.second.id}/modules/{s.module.id}", headers=auth_headers),
    )

    assert response.status_code == 201
    assert (response.json()["module_id"], response.json()["ordering"]) == (s.module.id, 1)
    assert await _group_view(client, auth_headers, s.group_id, test_user.id) == [
        (s.first.id, 2, 3),
        (s.second.id, 2, 2),
    ]
    await _assert_counters_exact(test_db)
