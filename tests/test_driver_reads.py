"""`tma.core.hotpath`: the hot reads (the caller behind every token, the group and course
details) on PostgreSQL skip SQLAlchemy's Connection and run on the asyncpg connection from
the pool.

These tests hold that shortcut to what SQLAlchemy would have returned: the same rows, the
same Python values and types (timezone-aware UTC datetimes, dates, booleans, NULLs), every
statement seen by statement listeners, and a broken connection dropped rather than handed
to the next request. On SQLite `hot_rows` is the session's own path; the tests marked
`postgres_only` need PostgreSQL (CI runs them there). The last test holds the group
detail's unvalidated JSON to what its models would dump.
"""

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import TypeAdapter
from sqlalchemy import Select, literal, literal_column, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tma.core.config import Settings
from tma.core.db import Database
from tma.core.hotpath import HotPath, hot_rows
from tma.courses.schemas import CourseRead
from tma.groups import service as groups
from tma.groups.models import Group, GroupMember
from tma.groups.schemas import GroupDetail, GroupRead
from tma.users import service as users
from tma.users.models import User

ON_POSTGRES = os.environ.get("TMA_TEST_DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the driver-level path exists on PostgreSQL only: set TMA_TEST_DATABASE_URL",
)

# The pre-built statements that go through the hot path, with the parameters each takes.
CALLER = users._CALLER_ROW
GROUP_DETAIL = groups._GROUP_DETAIL
GROUP_DETAIL_FOR_MANAGER = groups._GROUP_DETAIL_FOR_MANAGER


async def hot(db: Database, statement: Select[Any], **params: Any) -> list[dict[str, Any]]:
    """The rows of `statement` through `hot_rows` in a fresh read session (on PostgreSQL the
    driver path, elsewhere the session's), each as a dict by column name."""
    async with db.read_sessionmaker() as session:
        return [dict(row) for row in await hot_rows(session, statement, **params)]


async def both_paths(
    db: Database, statement: Select[Any], **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows through SQLAlchemy's Connection, then through the driver path."""
    saved = db.hot.enabled
    try:
        db.hot.enabled = False
        through_sqlalchemy = await hot(db, statement, **params)
        db.hot.enabled = saved
        through_driver = await hot(db, statement, **params)
    finally:
        db.hot.enabled = saved
    return through_sqlalchemy, through_driver


def typed(rows: Sequence[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    """Each value with its name and type, so `1 == True` or a naive datetime cannot pass for
    equal, and both paths must name the columns alike (rows are read by name)."""
    return [[(key, type(value), value) for key, value in row.items()] for row in rows]


@pytest.mark.asyncio
async def test_the_hot_path_is_on_exactly_on_postgresql(app: Any, test_settings: Settings) -> None:
    """The shortcut is on for PostgreSQL (asyncpg) and off elsewhere, and SQL echo (which
    only SQLAlchemy's Connection logs) turns it off."""
    db: Database = app.state.db
    echoing = Database(test_settings.model_copy(update={"db_echo": True}))

    assert db.hot.enabled is ON_POSTGRES
    assert echoing.hot.enabled is False
    await echoing.dispose()


@pytest.mark.asyncio
async def test_caller_row_is_the_same_through_the_driver_and_sqlalchemy(
    test_db: Any, make_user: Callable[..., Awaitable[User]]
) -> None:
    """A full profile (date of birth, names, flags) and an empty one: same values, same
    types; datetimes are timezone-aware UTC on both paths."""
    full = await make_user(
        role="manager",
        first_name="Wren",
        last_name="Quillby",
        child_name="Pip",
        child_sex_assigned_at_birth="female",
        child_dob="2019-04-30",
        avatar_url="https://example.test/a.png",
    )
    bare = await make_user()

    for user in (full, bare):
        through_sqlalchemy, through_driver = await both_paths(test_db.db, CALLER, user_id=user.id)

        assert len(through_driver) == 1
        assert typed(through_driver) == typed(through_sqlalchemy)
    full_row = list((await hot(test_db.db, CALLER, user_id=full.id))[0].values())
    assert date(2019, 4, 30) in full_row
    stamps = [value for value in full_row if isinstance(value, datetime)]
    assert len(stamps) == 2
    assert all(stamp.tzinfo == UTC for stamp in stamps)


@pytest.mark.asyncio
async def test_unknown_caller_is_no_row_on_both_paths(test_db: Any) -> None:
    """An id with no user: no row either way (the token's owner is gone -> 401)."""
    through_sqlalchemy, through_driver = await both_paths(test_db.db, CALLER, user_id=987654)

    assert list(through_sqlalchemy) == []
    assert list(through_driver) == []


@pytest.mark.asyncio
async def test_group_detail_rows_are_the_same_through_the_driver_and_sqlalchemy(
    test_db: Any,
    make_group: Callable[..., Awaitable[Group]],
    make_user: Callable[..., Awaitable[User]],
    add_member: Callable[..., Awaitable[GroupMember]],
) -> None:
    """A group with members (one with a date of birth, one without) and an empty group:
    same rows in the same order, same types, on both paths."""
    group = await make_group(description="Thursday club")
    await add_member(group, await make_user(child_dob="2020-01-02", first_name="Ada"), "moderator")
    await add_member(group, await make_user())
    empty = await make_group()

    for group_id, expected_rows in ((group.id, 3), (empty.id, 1)):
        through_sqlalchemy, through_driver = await both_paths(
            test_db.db, GROUP_DETAIL, group_id=group_id
        )

        assert len(through_driver) == expected_rows
        assert typed(through_driver) == typed(through_sqlalchemy)


@pytest.mark.asyncio
async def test_group_detail_for_a_manager_rows_are_the_same_through_the_driver_and_sqlalchemy(
    test_db: Any,
    make_group: Callable[..., Awaitable[Group]],
    make_user: Callable[..., Awaitable[User]],
    add_member: Callable[..., Awaitable[GroupMember]],
) -> None:
    """The manager's group detail (one more column: whether the manager owns or moderates a
    group of each member's): same rows and types on both paths, the flag a real boolean,
    true only for the members the manager is responsible for."""
    manager = await make_user(role="manager")
    theirs = await make_user()
    other = await make_user(child_dob="2020-01-02")
    group = await make_group()
    await add_member(group, theirs)
    await add_member(group, other)
    own = await make_group(creator=manager)
    await add_member(own, theirs)

    through_sqlalchemy, through_driver = await both_paths(
        test_db.db, GROUP_DETAIL_FOR_MANAGER, group_id=group.id, viewer_id=manager.id
    )

    assert typed(through_driver) == typed(through_sqlalchemy)
    flags = {row["user_id"]: row["manages"] for row in through_driver}
    assert [type(flag) for flag in flags.values()] == [bool, bool, bool]
    assert {user_id for user_id, flag in flags.items() if flag} == {theirs.id}


@postgres_only
@pytest.mark.asyncio
async def test_statement_listeners_see_the_driver_path_reads(
    test_db: Any, make_user: Callable[..., Awaitable[User]]
) -> None:
    """`add_statement_listener` sees a driver-path read once, with its SQL; after the
    returned function is called it sees nothing more."""
    user = await make_user()
    seen: list[str] = []
    stop = test_db.db.add_statement_listener(seen.append)

    await hot(test_db.db, CALLER, user_id=user.id)
    stop()
    await hot(test_db.db, CALLER, user_id=user.id)

    assert len(seen) == 1
    assert seen[0].startswith("SELECT users.id")


@postgres_only
@pytest.mark.asyncio
async def test_a_query_error_keeps_the_connection_usable(test_db: Any) -> None:
    """A statement PostgreSQL refuses raises its error; the connection is kept (nothing
    leaks: checked out = kept idle), no connection is dropped and the next read works."""
    db: Database = test_db.db
    pool = db.engine.sync_engine.pool
    await hot(db, CALLER, user_id=1)
    kept_before = db.hot.kept_connections

    with pytest.raises(asyncpg.DivisionByZeroError):
        await hot(db, select(literal_column("1 / 0").label("x")))

    assert db.hot.kept_connections == kept_before >= 1
    assert pool.checkedout() == db.hot.kept_connections  # type: ignore[attr-defined]
    assert await hot(db, select(literal_column("41 + 1").label("x"))) == [{"x": 42}]


@postgres_only
@pytest.mark.asyncio
async def test_connections_killed_by_the_server_are_dropped_and_the_api_recovers(
    client: httpx.AsyncClient,
    test_db: Any,
    make_user: Callable[..., Awaitable[User]],
    make_auth_headers: Callable[[User], dict[str, str]],
) -> None:
    """Every pooled connection killed by PostgreSQL (as by a restart): at most the one
    request that meets a dead connection fails, with a 503 "database unavailable" and
    `Retry-After` (never a 500), then the pool is recycled and `GET /api/auth/me` answers
    200 again, as SQLAlchemy does without pre-ping."""
    user = await make_user()
    headers = make_auth_headers(user)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    outsider = create_async_engine(test_db.db.engine.url, poolclass=NullPool)
    try:
        async with outsider.connect() as conn:
            killed = (
                await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
    finally:
        await outsider.dispose()
    assert killed >= 1

    failures = 0
    for _ in range(5):
        response = await client.get("/api/auth/me", headers=headers)
        if response.status_code == 503:
            assert response.json() == {"detail": "database unavailable"}
            assert response.headers["Retry-After"] == "5"
            failures += 1
            continue
        assert response.status_code == 200
        assert response.json()["id"] == user.id

    assert failures <= 1
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


@pytest.mark.asyncio
async def test_group_detail_lean_json_is_byte_for_byte_the_models_json(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    make_group: Callable[..., Awaitable[Group]],
    make_user: Callable[..., Awaitable[User]],
    add_member: Callable[..., Awaitable[GroupMember]],
) -> None:
    """GET /api/groups/{id} dumps its dict unvalidated (`row_adapter`): the body is byte
    for byte what validating it as `GroupDetail` models and dumping those would give."""
    group = await make_group(description="Saturday chess")
    await add_member(group, await make_user(child_dob="2018-12-24", last_name="Brook"), "moderator")

    response = await client.get(f"/api/groups/{group.id}", headers=auth_headers)

    assert response.status_code == 200
    models = TypeAdapter(GroupDetail)
    assert response.content == models.dump_json(models.validate_json(response.content))
    assert [m["group_role"] for m in response.json()["members"]] == ["owner", "moderator"]


@postgres_only
@pytest.mark.asyncio
async def test_more_reads_at_once_than_the_pool_holds_all_succeed_and_return(
    test_db: Any, make_user: Callable[..., Awaitable[User]]
) -> None:
    """More concurrent driver reads than `pool_size`: every read gets its row; afterwards
    at most `KEPT_CONNECTIONS` stay with the hot path, the overflow connections were closed
    (through SQLAlchemy's greenlet) and the rest went back to the pool."""
    db: Database = test_db.db
    pool = db.engine.sync_engine.pool
    user = await make_user()
    at_once = pool.size() + 5  # type: ignore[attr-defined]

    results = await asyncio.gather(*(hot(db, CALLER, user_id=user.id) for _ in range(at_once)))

    assert [len(rows) for rows in results] == [1] * at_once
    assert db.hot.kept_connections == HotPath.KEPT_CONNECTIONS
    assert pool.checkedout() == db.hot.kept_connections  # type: ignore[attr-defined]
    assert pool.checkedin() <= pool.size()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_group_and_course_lists_lean_json_is_byte_for_byte_the_models_json(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    make_group: Callable[..., Awaitable[Group]],
    make_user: Callable[..., Awaitable[User]],
    add_member: Callable[..., Awaitable[GroupMember]],
    make_course: Callable[..., Awaitable[Any]],
) -> None:
    """GET /api/groups and /api/courses dump their row dicts unvalidated: each body is byte
    for byte what validating it as `GroupRead` / `CourseRead` models and dumping gives
    (null and text descriptions, counts of 0 and more)."""
    busy = await make_group(description="Wednesday puzzles")
    await add_member(busy, await make_user())
    await make_group()
    await make_course(description="Openings")
    await make_course()

    groups_body = (await client.get("/api/groups", headers=auth_headers)).content
    courses_body = (await client.get("/api/courses", headers=auth_headers)).content

    group_models = TypeAdapter(list[GroupRead])
    course_models = TypeAdapter(list[CourseRead])
    assert groups_body == group_models.dump_json(group_models.validate_json(groups_body))
    assert courses_body == course_models.dump_json(course_models.validate_json(courses_body))
    assert [g.member_count for g in group_models.validate_json(groups_body)] == [2, 1]


@postgres_only
@pytest.mark.asyncio
async def test_reads_reuse_a_kept_connection_and_dispose_returns_it(
    test_settings: Settings,
) -> None:
    """Sequential reads go through one connection (the same PostgreSQL backend), kept
    between them; `dispose` hands it back and closes the pool (nothing checked out)."""
    db = Database(test_settings)
    backend = select(literal_column("pg_backend_pid()").label("pid"))
    try:
        pids = {(await hot(db, backend))[0]["pid"] for _ in range(5)}
        kept = db.hot.kept_connections
    finally:
        await db.dispose()

    assert len(pids) == 1
    assert kept == 1
    assert db.hot.kept_connections == 0
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@postgres_only
@pytest.mark.asyncio
async def test_pre_ping_turns_kept_connections_off(test_settings: Settings) -> None:
    """With `TMA_DB_POOL_PRE_PING` every read checks its connection out of the pool (which
    pings it), so none is kept between reads."""
    db = Database(test_settings.model_copy(update={"db_pool_pre_ping": True}))
    try:
        await hot(db, select(literal_column("1").label("one")))
        kept = db.hot.kept_connections
        checked_out = db.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
    finally:
        await db.dispose()

    assert kept == 0
    assert checked_out == 0


@pytest.mark.asyncio
async def test_a_value_the_statement_binds_itself_reaches_the_driver(test_db: Any) -> None:
    """A literal in a hot statement (bound by SQLAlchemy, not named by the caller) is sent
    with it: the same row on both paths."""
    statement = select(literal(41).label("x"), (literal(1) + literal(1)).label("two"))

    through_sqlalchemy, through_driver = await both_paths(test_db.db, statement)

    assert through_driver == through_sqlalchemy == [{"x": 41, "two": 2}]


@pytest.mark.asyncio
async def test_notification_page_with_json_data_is_the_same_through_the_driver(
    test_db: Any, make_user: Callable[..., Awaitable[User]]
) -> None:
    """The notification list's page (a JSON `data` column, window counts, a null and a set
    `read_at`): same values and types on both paths; `data` a dict on each."""
    from tma.notifications.models import Notification
    from tma.notifications.service import _LIST

    user = await make_user()
    made = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    async with test_db.session() as session:
        for n, data in enumerate(
            ({"course_id": 4, "module_id": 9}, {"group_id": 2, "behind": [5]})
        ):
            session.add(
                Notification(
                    user_id=user.id,
                    kind="group_digest",
                    subject=f"group:{n}",
                    period="2027-W10",
                    title=f"Digest {n}",
                    body="Two parents behind.",
                    data=data,
                    created_at=made,
                    read_at=made if n == 0 else None,
                )
            )
        await session.commit()

    through_sqlalchemy, through_driver = await both_paths(
        test_db.db, _LIST, user_id=user.id, limit=20, offset=0
    )

    assert typed(through_driver) == typed(through_sqlalchemy)
    assert [row["data"] for row in through_driver] == [
        {"group_id": 2, "behind": [5]},
        {"course_id": 4, "module_id": 9},
    ]
    assert [(row["total"], row["read"]) for row in through_driver] == [(2, 1), (2, 1)]


@pytest.mark.asyncio
async def test_quiz_start_and_attempt_reads_are_the_same_through_the_driver_and_sqlalchemy(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    user_headers: dict[str, str],
    test_user: User,
    user_course: Any,
    make_module: Callable[..., Awaitable[Any]],
    test_db: Any,
) -> None:
    """The first read of a quiz start (a `user`'s and staff's variant) and of a submit, save
    or read of an attempt (`tma.quizzes.service`), for a timed quiz with one attempt
    submitted and one in progress: same rows, values and types on both paths (JSON
    questions, saved answers and results as Python lists, null and set timestamps, counts
    and flags)."""
    from tma.quizzes import service as quizzes

    module = await make_module(course=user_course)
    questions = [
        {
            "prompt": f"Q{n}",
            "kind": "single",
            "explanation": f"Why {n}",
            "options": [
                {"text": "right", "is_correct": True},
                {"text": "wrong", "is_correct": False},
            ],
        }
        for n in (1, 2)
    ]
    created = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Checks",
            "post_type": "quiz",
            "quiz": {"pass_mark": 100, "time_limit_minutes": 5, "questions": questions},
        },
        headers=auth_headers,
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    url = f"/api/quizzes/{post_id}/attempts"
    done = (await client.post(url, headers=user_headers)).json()
    submitted = await client.post(
        f"/api/quiz-attempts/{done['id']}/submit", json={}, headers=user_headers
    )
    assert submitted.json()["score"] == 0
    open_attempt = (await client.post(url, headers=user_headers)).json()
    today = date(2027, 3, 8)

    for staff in (False, True):
        start = quizzes._START[staff]
        through_sqlalchemy, through_driver = await both_paths(
            test_db.db, start, post_id=post_id, user_id=test_user.id, today=today
        )

        assert len(through_driver) == 1
        assert typed(through_driver) == typed(through_sqlalchemy)
        assert (through_driver[0]["id"], through_driver[0]["submitted"]) == (open_attempt["id"], 1)
    for attempt in (done, open_attempt):
        through_sqlalchemy, through_driver = await both_paths(
            test_db.db, quizzes._ATTEMPT, attempt_id=attempt["id"], viewer_id=1, today=today
        )

        assert len(through_driver) == 1
        assert typed(through_driver) == typed(through_sqlalchemy)
        assert isinstance(through_driver[0]["questions"], list)


@pytest.mark.asyncio
async def test_feed_page_total_and_birth_dates_are_the_same_through_the_driver(
    test_db: Any, test_user: User, user_course: Any
) -> None:
    """The feed's reads (the children's birth dates, the page with its window total, the
    total of an empty page): same values and types on both paths, the feed's order kept."""
    from progress_factories import insert_course_content
    from tma.children.models import Child
    from tma.children.service import _BIRTH_DATES
    from tma.feed.service import _FEEDS, _TOTALS

    async with test_db.session() as session:
        session.add_all(
            Child(user_id=test_user.id, name=f"C{i}", birth_date=date(2024, 1, 1 + i))
            for i in range(2)
        )
        await session.commit()
    await insert_course_content(
        test_db, [user_course.id], modules=2, posts=3, completed_by=(test_user.id,)
    )
    today = date(2026, 6, 1)
    params = {"viewer_id": test_user.id, "today": today, "age_0": 29, "age_1": 29}

    births = await both_paths(test_db.db, _BIRTH_DATES, user_id=test_user.id)
    page = await both_paths(test_db.db, _FEEDS[2], limit=2, offset=1, **params)
    empty = await both_paths(test_db.db, _TOTALS[2], **params)

    for through_sqlalchemy, through_driver in (births, page, empty):
        assert typed(through_driver) == typed(through_sqlalchemy)
    assert [row["birth_date"] for row in births[1]] == [date(2024, 1, 1), date(2024, 1, 2)]
    # Left: module 1's "Post 1", module 2's "Post 0" and "Post 2" (every other post done).
    assert [(row["title"], row["total"]) for row in page[1]] == [("Post 0", 3), ("Post 2", 3)]
    assert empty[1] == [{"total": 3}]


@pytest.mark.asyncio
async def test_progress_reads_are_the_same_through_the_driver(
    test_db: Any, test_user: User, manager_user: User, user_course: Any
) -> None:
    """A parent's course progress (counts, the latest change as an aware datetime, a course
    with modules) and a group's members x courses (as an admin and as its manager): same
    values and types on both paths."""
    from progress_factories import insert_course_content
    from tma.courses.models import GroupCourse
    from tma.progress import service as progress

    await insert_course_content(
        test_db, [user_course.id], modules=2, posts=3, completed_by=(test_user.id,)
    )
    async with test_db.session() as session:
        group_id = await session.scalar(
            select(GroupCourse.group_id).where(GroupCourse.course_id == user_course.id)
        )

    mine = await both_paths(test_db.db, progress._COURSE_ROWS, user_id=test_user.id)
    group = await both_paths(test_db.db, progress._GROUP_PROGRESS, group_id=group_id)
    managed = await both_paths(
        test_db.db,
        progress._GROUP_PROGRESS_FOR_MANAGER,
        group_id=group_id,
        viewer_id=manager_user.id,
    )

    for through_sqlalchemy, through_driver in (mine, group, managed):
        assert through_driver
        assert typed(through_driver) == typed(through_sqlalchemy)
    assert [(row["total"], row["completed"]) for row in mine[1]] == [(3, 2), (3, 1)]
    assert isinstance(mine[1][0]["last"], datetime)
    assert mine[1][0]["last"].tzinfo is not None
    assert {row["completed"] for row in group[1] if row["user_id"] == test_user.id} == {3}
    assert {row["manages"] for row in managed[1]} == {True}


@pytest.mark.asyncio
async def test_translated_course_detail_rows_are_the_same_through_the_driver_and_sqlalchemy(
    test_db: Any,
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    make_course: Callable[..., Awaitable[Any]],
    make_module: Callable[..., Awaitable[Any]],
) -> None:
    """The course detail's statement that joins the translations (issue 25): a course
    translated into es-MX and es with one module translated into es and one not, read for
    staff wanting (es-MX, es): same rows, same types (the translated fields as text), on
    both paths."""
    from tma.courses import service as courses
    from tma.i18n.service import slot_params

    course = await make_course(title="Openings")
    first = await make_module(title="Checks", course=course)
    await make_module(title="Pins", course=course)
    for kind, object_id, language in (
        ("course", course.id, "es-MX"),
        ("course", course.id, "es"),
        ("module", first.id, "es"),
    ):
        stored = await client.put(
            f"/api/translations/{kind}/{object_id}/{language}",
            json={"title": f"{language} {object_id}"},
            headers=auth_headers,
        )
        assert stored.status_code == 200
    params = {"course_id": course.id, "viewer_id": None, **slot_params(("es-MX", "es"))}

    through_sqlalchemy, through_driver = await both_paths(
        test_db.db, courses._DETAIL[(False, True)], **params
    )

    assert len(through_driver) == 2
    assert typed(through_driver) == typed(through_sqlalchemy)
    assert [(r["course_language"], r["module_language"]) for r in through_driver] == [
        ("es-MX", "es"),
        ("es-MX", None),
    ]
