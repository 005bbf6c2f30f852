"""The paths of a lost race, staged exactly (PostgreSQL).

tests/security/test_*concurrency*.py send many requests at once and check the outcomes; which
request loses, and where, is up to the scheduler. Here a second connection
(`held_transaction`) writes or locks the contested row first and keeps its transaction open;
the request runs into it and waits; the test then commits, and the request meets exactly the
state a lost race leaves. Each answer is the one the documented contract gives for it.
"""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from progress_factories import insert_module, insert_quiz
from tma.quizzes.models import QuizAttempt

pytestmark = pytest.mark.postgresql  # a held transaction makes a request wait: not on SQLite

STORED_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
STORED_AT_JSON = "2026-01-02T03:04:05.678901Z"


# --- PUT /api/progress/{post_id}: another write stored the first progress -------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["in_progress", "completed"])
async def test_put_progress_after_a_concurrent_first_write_returns_the_stored_state(
    client,
    test_db,
    user_headers,
    test_user,
    make_user,
    user_course,
    make_module,
    link_module,
    make_post,
    held_transaction,
    status,
):
    """The caller read "not started"; meanwhile another request stored the same status
    first (its row is committed while this one waits on the unique key): 200 with the
    stored row, timestamps and all, not a second write and not a 500."""
    module = await make_module()
    await link_module(user_course, module)
    post, other_post = await make_post(module), await make_post(module)
    other_user = await make_user()
    async with test_db.session() as session:  # rows the answer must not be read from
        for user_id, post_id in ((other_user.id, post.id), (test_user.id, other_post.id)):
            await session.execute(
                text(
                    "INSERT INTO post_progress (user_id, post_id, status, updated_at) "
                    "VALUES (:user_id, :post_id, 'in_progress', :at)"
                ),
                {"user_id": user_id, "post_id": post_id, "at": datetime.now(UTC)},
            )
        await session.commit()
    await held_transaction.execute(
        "INSERT INTO post_progress (user_id, post_id, status, updated_at, started_at, "
        "completed_at) VALUES (:user_id, :post_id, :status, :at, :at, :completed_at)",
        user_id=test_user.id,
        post_id=post.id,
        status=status,
        at=STORED_AT,
        completed_at=STORED_AT if status == "completed" else None,
    )

    request = asyncio.create_task(
        client.put(f"/api/progress/{post.id}", json={"status": status}, headers=user_headers)
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    assert response.json() == {
        "post_id": post.id,
        "status": status,
        "updated_at": STORED_AT_JSON,
        "started_at": STORED_AT_JSON,
        "completed_at": STORED_AT_JSON if status == "completed" else None,
    }


# --- quiz attempts ------------------------------------------------------------------------


async def _in_progress_attempt(held_transaction, *, post_id: int, user_id: int) -> int:
    return (
        await held_transaction.execute(
            "INSERT INTO quiz_attempts (post_id, user_id, status, started_at) "
            "VALUES (:post_id, :user_id, 'in_progress', :at) RETURNING id",
            post_id=post_id,
            user_id=user_id,
            at=STORED_AT,
        )
    ).scalar_one()


@pytest.mark.asyncio
async def test_start_attempt_after_a_concurrent_start_returns_200_with_that_attempt(
    client, test_db, user_headers, test_user, make_user, user_course, held_transaction
):
    """Another request started the caller's attempt first (committed while this one waits
    on the one-attempt-in-progress index): 200 with that attempt, as when it was there
    before, and still one attempt in progress."""
    module_id = await insert_module(test_db, user_course.id)
    quiz, other_quiz = await insert_quiz(test_db, module_id), await insert_quiz(test_db, module_id)
    other_user = await make_user()
    async with test_db.session() as session:  # attempts the answer must not be read from
        for post_id, user_id in ((quiz.post_id, other_user.id), (other_quiz.post_id, test_user.id)):
            session.add(QuizAttempt(post_id=post_id, user_id=user_id))
        await session.commit()
    attempt_id = await _in_progress_attempt(
        held_transaction, post_id=quiz.post_id, user_id=test_user.id
    )
    url = f"/api/quizzes/{quiz.post_id}/attempts"

    request = asyncio.create_task(client.post(url, headers=user_headers))
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 200
    assert response.json() == {
        "id": attempt_id,
        "post_id": quiz.post_id,
        "user_id": test_user.id,
        "status": "in_progress",
        "started_at": STORED_AT_JSON,
        "submitted_at": None,
        "deadline": None,
        "timed_out": False,
        "score": None,
        "passed": None,
        # The attempt the other request stored (with no questions: `_in_progress_attempt`
        # inserts the row alone).
        "questions": [],
        "saved_answers": [],
        "results": None,
    }
    listed = await client.get(url, headers=user_headers)
    assert [a["id"] for a in listed.json()] == [attempt_id]


@pytest.mark.asyncio
async def test_submit_attempt_after_a_concurrent_submit_returns_400_and_keeps_that_grade(
    client, test_db, user_headers, user_course, held_transaction
):
    """Another submit of the same attempt closed it first (committed while this one waits
    on the attempt's row, after both read it in progress): 400 "Attempt already
    submitted"; the stored grade is the other's, and this one's passing answers complete
    nothing."""
    module_id = await insert_module(test_db, user_course.id)
    quiz = await insert_quiz(test_db, module_id)
    started = await client.post(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    assert started.status_code == 201
    attempt_id = started.json()["id"]
    await held_transaction.execute(
        "UPDATE quiz_attempts SET status = 'submitted', submitted_at = :at, score = 0, "
        "passed = false, results = '[]' WHERE id = :id",
        at=STORED_AT,
        id=attempt_id,
    )
    right = [
        {"question_id": q, "option_ids": c}
        for q, c in zip(quiz.questions, quiz.correct, strict=True)
    ]

    request = asyncio.create_task(
        client.post(
            f"/api/quiz-attempts/{attempt_id}/submit",
            json={"answers": right},
            headers=user_headers,
        )
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 400
    assert response.json() == {"detail": "Attempt already submitted"}
    listed = await client.get(f"/api/quizzes/{quiz.post_id}/attempts", headers=user_headers)
    [stored] = listed.json()
    assert (stored["score"], stored["passed"], stored["submitted_at"]) == (0, False, STORED_AT_JSON)
    progress = await client.get(f"/api/posts/{quiz.post_id}", headers=user_headers)
    assert progress.json()["progress"]["status"] == "in_progress"


# --- groups: a row the write refers to deleted meanwhile ----------------------------------


async def _run_into(held_transaction, request_coroutine):
    """Send the request, let it wait for the held transaction, commit that, and answer."""
    request = asyncio.create_task(request_coroutine)
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    return await request


@pytest.mark.asyncio
async def test_create_group_while_the_creator_is_deleted_returns_401(
    client, test_db, manager_user, manager_headers, held_transaction
):
    """The caller's account is deleted while their group is being created (the group's
    creator key waits for that delete): 401 "Could not validate credentials", as their
    next request would get, and no group."""
    await held_transaction.execute("DELETE FROM users WHERE id = :id", id=manager_user.id)

    response = await _run_into(
        held_transaction,
        client.post("/api/groups", json={"name": "Evening class"}, headers=manager_headers),
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    async with test_db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM groups")) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["members", "courses"])
async def test_add_to_a_group_deleted_meanwhile_returns_404_group_not_found(
    client, manager_headers, make_group, make_user, make_course, held_transaction, path
):
    """`POST /api/groups/{id}/members/{user_id}` or `/courses/{course_id}` while the group
    is deleted (the new row's group key waits for that delete): 404 "Group <id> not
    found", as when the delete came first, though the request had loaded the group."""
    group = await make_group()
    other_id = (await make_user()).id if path == "members" else (await make_course()).id
    await held_transaction.execute("DELETE FROM groups WHERE id = :id", id=group.id)

    response = await _run_into(
        held_transaction,
        client.post(f"/api/groups/{group.id}/{path}/{other_id}", headers=manager_headers),
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Group {group.id} not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["members", "courses"])
async def test_add_to_a_group_what_is_deleted_meanwhile_returns_404_naming_it(
    client, manager_headers, make_group, make_user, make_course, held_transaction, path
):
    """The user (or course) being added is deleted meanwhile: 404 naming it, as when the
    delete came first; the group is unchanged."""
    group = await make_group()
    if path == "members":
        other_id, table, expected = (await make_user()).id, "users", "User {} not found"
    else:
        other_id, table, expected = (await make_course()).id, "courses", "Course {} not found"
    await held_transaction.execute(f"DELETE FROM {table} WHERE id = :id", id=other_id)

    response = await _run_into(
        held_transaction,
        client.post(f"/api/groups/{group.id}/{path}/{other_id}", headers=manager_headers),
    )

    assert response.status_code == 404
    assert response.json() == {"detail": expected.format(other_id)}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["members", "courses"])
async def test_add_to_a_group_twice_at_once_returns_400_to_the_later(
    client, test_db, manager_headers, make_group, make_user, make_course, held_transaction, path
):
    """Another request added the same user (or course) first, committed while this one
    waits on the unique key: 400, as when it came first."""
    group = await make_group()
    if path == "members":
        other_id = (await make_user()).id
        insert = (
            "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
            "VALUES (:group_id, :other_id, 'member', now(), now())"
        )
        expected = "User is already a member of this group"
    else:
        other_id = (await make_course()).id
        insert = (
            "INSERT INTO group_courses (group_id, course_id, ordering, date_assigned, "
            "start_date) VALUES (:group_id, :other_id, 5, now(), CURRENT_DATE)"
        )
        expected = "Course is already assigned to this group"
    await held_transaction.execute(insert, group_id=group.id, other_id=other_id)

    response = await _run_into(
        held_transaction,
        client.post(f"/api/groups/{group.id}/{path}/{other_id}", headers=manager_headers),
    )

    assert response.status_code == 400
    assert response.json() == {"detail": expected}


# --- owners: a change to the group's other owner, committed while this one waits ----------


@pytest.mark.asyncio
@pytest.mark.parametrize("write", ["remove-member", "demote-member", "delete-user"])
async def test_owner_change_waits_for_the_groups_lock_and_keeps_an_owner(
    client,
    test_db,
    auth_headers,
    manager_user,
    make_user,
    make_group,
    add_member,
    held_transaction,
    write,
):
    """Two owners; another request, holding the group's lock, demotes the second owner.
    Removing, demoting or deleting the first owner meanwhile waits for that lock (membership
    changes of one group run one at a time), then sees the first owner is the last: 400,
    and the group keeps its owner. Without the wait each request would see the other owner
    still there and the group would be left with none."""
    group = await make_group()
    second = await make_user()
    await add_member(group, second, "owner")
    await held_transaction.execute("SELECT id FROM groups WHERE id = :id FOR UPDATE", id=group.id)
    await held_transaction.execute(
        "UPDATE group_members SET role = 'member' "
        "WHERE group_id = :group_id AND user_id = :user_id",
        group_id=group.id,
        user_id=second.id,
    )
    first = manager_user.id
    if write == "remove-member":
        request = client.delete(f"/api/groups/{group.id}/members/{first}", headers=auth_headers)
    elif write == "demote-member":
        request = client.patch(
            f"/api/groups/{group.id}/members/{first}/role",
            json={"role": "member"},
            headers=auth_headers,
        )
    else:
        request = client.delete(f"/api/users/{first}", headers=auth_headers)

    response = await _run_into(held_transaction, request)

    assert response.status_code == 400
    action = "remove" if write == "remove-member" else "demote"
    assert response.json() == {
        "detail": (
            "Cannot delete the last owner of these groups; add another owner or delete the "
            f"groups first: {group.id} ({group.name})"
        )
        if write == "delete-user"
        else f"Cannot {action} the last owner of the group"
    }
    async with test_db.session() as session:
        owners = await session.scalar(
            text("SELECT count(*) FROM group_members WHERE group_id = :id AND role = 'owner'"),
            {"id": group.id},
        )
    assert owners == 1


@pytest.mark.asyncio
async def test_logout_all_while_the_account_is_deleted_returns_401(
    client, user_headers, test_user, held_transaction
):
    """`POST /api/auth/logout-all` while the caller's account is deleted (the cut-off's
    write waits for that delete): 401 "Could not validate credentials", as the next
    request with that token gets."""
    await held_transaction.execute("DELETE FROM users WHERE id = :id", id=test_user.id)

    response = await _run_into(
        held_transaction, client.post("/api/auth/logout-all", headers=user_headers)
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


# --- content: a post or a link moved meanwhile --------------------------------------------


@pytest.mark.asyncio
async def test_patch_post_while_it_is_moved_to_another_module_returns_it_where_it_now_is(
    client, auth_headers, make_module, make_post, held_transaction
):
    """Another request, holding its module's lock, moves the post to another module; a
    `PATCH` of the post's title meanwhile waits for that lock, then finds the post where it
    now is: 200 with the new title, in the new module, at its new position."""
    first, second = await make_module(), await make_module()
    post = await make_post(first)
    await make_post(first)
    await held_transaction.execute(
        "SELECT id FROM modules WHERE id IN (:first, :second) FOR UPDATE",
        first=first.id,
        second=second.id,
    )
    await held_transaction.execute(
        "UPDATE posts SET module_id = :second, ordering = 1 WHERE id = :id",
        second=second.id,
        id=post.id,
    )

    response = await _run_into(
        held_transaction,
        client.patch(f"/api/posts/{post.id}", json={"title": "Renamed"}, headers=auth_headers),
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["module_id"], body["ordering"]) == ("Renamed", second.id, 1)
    listed = await client.get(f"/api/posts?module_id={second.id}", headers=auth_headers)
    assert [(p["id"], p["title"]) for p in listed.json()] == [(post.id, "Renamed")]


@pytest.mark.asyncio
async def test_delete_post_deleted_meanwhile_returns_404(
    client, auth_headers, make_module, make_post, held_transaction
):
    """Another request, holding the module's lock, deletes the post; a `DELETE` of it
    meanwhile waits for that lock, then finds it gone: 404, as when it came second."""
    module = await make_module()
    post = await make_post(module)
    await held_transaction.execute("SELECT id FROM modules WHERE id = :id FOR UPDATE", id=module.id)
    await held_transaction.execute("DELETE FROM posts WHERE id = :id", id=post.id)

    response = await _run_into(
        held_transaction, client.delete(f"/api/posts/{post.id}", headers=auth_headers)
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"Post {post.id} not found"}


@pytest.mark.asyncio
async def test_move_module_in_course_while_another_move_runs_returns_its_new_place(
    client, auth_headers, make_course, make_module, link_module, held_transaction
):
    """Another request, holding the course's lock, moves the last module first; moving the
    (then) second module to the end meanwhile waits for that lock, then moves it from where
    it now is: 200, and the outline is the two moves in order."""
    course = await make_course()
    a, b, c = await make_module(), await make_module(), await make_module()
    for module in (a, b, c):
        await link_module(course, module)
    await held_transaction.execute("SELECT id FROM courses WHERE id = :id FOR UPDATE", id=course.id)
    for module_id, ordering in ((a.id, 2), (b.id, 3), (c.id, 1)):  # c, a, b
        await held_transaction.execute(
            "UPDATE course_module_links SET ordering = :ordering "
            "WHERE course_id = :course_id AND module_id = :module_id",
            ordering=-ordering,  # out of the way of the other positions first
            course_id=course.id,
            module_id=module_id,
        )
    await held_transaction.execute(
        "UPDATE course_module_links SET ordering = -ordering WHERE course_id = :id", id=course.id
    )

    response = await _run_into(
        held_transaction,
        client.patch(
            f"/api/courses/{course.id}/modules/{a.id}", json={"ordering": 3}, headers=auth_headers
        ),
    )

    assert response.status_code == 200
    assert (response.json()["module_id"], response.json()["ordering"]) == (a.id, 3)
    outline = await client.get(f"/api/courses/{course.id}/modules", headers=auth_headers)
    assert [(m["module_id"], m["ordering"]) for m in outline.json()] == [
        (c.id, 1),
        (b.id, 2),
        (a.id, 3),
    ]


@pytest.mark.asyncio
async def test_patch_post_to_a_file_deleted_meanwhile_returns_404_naming_the_file(
    client, auth_headers, make_module, make_post, upload_file, held_transaction
):
    """An attachment post is pointed at another file while that file is deleted (the new
    file key waits for the delete): 404 "File <id> not found", as when the delete came
    first; the post keeps its file."""
    module = await make_module()
    kept, going = await upload_file(), await upload_file()
    post = await make_post(module, "attachment", file_id=kept["id"])
    await held_transaction.execute("DELETE FROM files WHERE id = :id", id=going["id"])

    response = await _run_into(
        held_transaction,
        client.patch(f"/api/posts/{post.id}", json={"file_id": going["id"]}, headers=auth_headers),
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"File {going['id']} not found"}
    read_back = await client.get(f"/api/posts/{post.id}", headers=auth_headers)
    assert read_back.json()["file_id"] == kept["id"]


@pytest.mark.asyncio
async def test_delete_user_while_they_create_a_group_returns_400_naming_it(
    client, test_db, auth_headers, test_user, held_transaction
):
    """The user creates a group (its owner: them alone) while an admin deletes them: the
    delete waits for the user's row, then finds them the last owner of the new group: 400
    naming it, and the group keeps its owner. Without that wait the check would not see the
    group, and the delete would leave it with no owner."""
    group_id = (
        await held_transaction.execute(
            "INSERT INTO groups (name, created_by, created_at, updated_at) "
            "VALUES ('Evening class', :user_id, now(), now()) RETURNING id",
            user_id=test_user.id,
        )
    ).scalar_one()
    await held_transaction.execute(
        "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
        "VALUES (:group_id, :user_id, 'owner', now(), now())",
        group_id=group_id,
        user_id=test_user.id,
    )

    response = await _run_into(
        held_transaction, client.delete(f"/api/users/{test_user.id}", headers=auth_headers)
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Cannot delete the last owner of these groups; add another owner or delete "
        f"the groups first: {group_id} (Evening class)"
    }
    async with test_db.session() as session:
        owners = await session.scalar(
            text("SELECT count(*) FROM group_members WHERE group_id = :id AND role = 'owner'"),
            {"id": group_id},
        )
    assert owners == 1
