"""Migrations keep the schema and the data: a full down-and-up cycle on an empty database,
a populated database that goes through `upgrade` with every row intact, and the models
agreeing with what the migrations build, on each database.

Each test gets its own database: a temporary SQLite file, and (when TMA_TEST_DATABASE_URL
is a PostgreSQL URL, as in CI) a scratch database `<suite database>_migrations` created and
dropped around the test, never the suite's own database (two suites on two databases of one
server never share a scratch database).
"""

import asyncio
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tma.core import migrate
from tma.core.config import Settings
from tma.core.db import Database
from tma.core.security import PasswordHasher, create_access_token
from tma.main import create_app
from tma.models import Base
from tma.seed import loader

PG_ENV = "TMA_TEST_DATABASE_URL"
APP_TABLES = sorted(t.name for t in Base.metadata.sorted_tables)


def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` (which starts its own event loop, as Alembic's env does) in a worker thread,
    so the session event loop of the async tests is never replaced or closed."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


async def _pg_admin(url: str, statement: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database that exists only for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    pg = os.environ.get(PG_ENV, "")
    if not pg.startswith("postgresql"):
        pytest.skip(f"PostgreSQL migration run needs {PG_ENV}=postgresql+asyncpg://...")
    scratch = f"{make_url(pg).database}_migrations"
    _off_loop(asyncio.run, _pg_admin(pg, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    _off_loop(asyncio.run, _pg_admin(pg, f'CREATE DATABASE "{scratch}"'))
    try:
        yield make_url(pg).set(database=scratch).render_as_string(hide_password=False)
    finally:
        _off_loop(asyncio.run, _pg_admin(pg, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))


def _run_sync(url: str, fn: Any) -> Any:
    async def go() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return _off_loop(asyncio.run, go())


def _tables(conn: Connection) -> list[str]:
    return sorted(name for name in inspect(conn).get_table_names() if name != "alembic_version")


def _role_names(conn: Connection) -> list[str]:
    return sorted(conn.execute(text("SELECT name FROM roles")).scalars())


def _every_row(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every app table as it is in the database (the tables and columns the
    database has at its revision, which may be fewer than the models')."""
    present = MetaData()
    existing = set(inspect(conn).get_table_names())
    present.reflect(conn, only=[name for name in APP_TABLES if name in existing])
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in present.sorted_tables:
        order = list(table.primary_key.columns)
        found = conn.execute(select(table).order_by(*order)).mappings()
        rows[table.name] = [dict(r) for r in found]
    return rows


def _as_before(
    after: dict[str, list[dict[str, Any]]], before: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """`after` cut down to the tables and columns `before` had."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in before.items():
        columns = set(rows[0]) if rows else set()
        out[name] = [{k: v for k, v in row.items() if k in columns} for row in after[name]]
    return out


def test_migrations_empty_database_up_down_up_recreates_schema(scratch_url: str) -> None:
    """head builds every table (roles seeded), base removes them all, and head again builds
    the same schema: each migration's downgrade undoes its upgrade exactly."""
    _off_loop(migrate.upgrade, scratch_url)
    assert _run_sync(scratch_url, _tables) == APP_TABLES
    assert _run_sync(scratch_url, _role_names) == ["admin", "manager", "user"]

    _off_loop(migrate.downgrade, scratch_url)
    assert _run_sync(scratch_url, _tables) == []

    _off_loop(migrate.upgrade, scratch_url)
    assert _run_sync(scratch_url, _tables) == APP_TABLES
    assert _run_sync(scratch_url, _role_names) == ["admin", "manager", "user"]


def _revision_before_head() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_revision(script.get_current_head())
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision


# The rows a database held at revision 0002 (before learning content): every table with the
# columns it had then, so a later migration adding columns does not change what is compared.
OLD_COLUMNS = {
    "users": "id, username, email, hashed_password, role_id, is_active",
    "groups": "id, name, description, created_by",
    "group_members": "group_id, user_id, role",
    "courses": "id, title, description",
    "group_courses": "group_id, course_id, ordering",
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _load_0002_data(conn: Connection) -> None:
    """Two courses with old owned modules (course 10 has them out of order and with a tie),
    an admin and a parent whose group has course 10."""
    rows = [
        "INSERT INTO users (id, username, email, hashed_password, role_id, email_verified, "
        "is_active, created_at, updated_at) VALUES (1, 'boss', 'boss@test.com', 'x', 3, true, "
        "true, :now, :now), (2, 'parent', 'parent@test.com', 'x', 1, false, true, :now, :now)",
        "INSERT INTO groups (id, name, description, created_by, created_at, updated_at) "
        "VALUES (5, 'Club', NULL, 1, :now, :now)",
        "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
        "VALUES (5, 1, 'owner', :now, :now), (5, 2, 'member', :now, :now)",
        "INSERT INTO courses (id, title, description, created_at, updated_at) "
        "VALUES (10, 'Openings', 'first', :now, :now), (11, 'Endings', NULL, :now, :now)",
        "INSERT INTO course_modules (id, course_id, title, content, ordering, created_at, "
        "updated_at) VALUES (100, 10, 'Third', 'c', 7, :now, :now), "
        "(101, 10, 'First', 'a', 0, :now, :now), (102, 10, 'Second', NULL, 0, :now, :now), "
        "(103, 11, 'Only', 'z', 3, :now, :now)",
        "INSERT INTO group_courses (group_id, course_id, ordering, date_assigned) "
        "VALUES (5, 10, 0, :now)",
    ]
    for statement in rows:
        conn.execute(text(statement), {"now": NOW})
    conn.commit()


def _old_rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {table} ORDER BY 1, 2"))]
        for table, cols in OLD_COLUMNS.items()
    }


def _query(sql: str) -> Callable[[Connection], list[tuple[Any, ...]]]:
    return lambda conn: [tuple(r) for r in conn.execute(text(sql))]


def test_migration_0003_owned_modules_become_linked_modules_keeping_every_row(
    scratch_url: str,
) -> None:
    """A database at 0002 whose courses own modules goes through `upgrade head`: every old
    row is still there, each old module is a module with the same id, title and text,
    linked to its course at 1..n in the old order; the API lists them in the course detail
    and the module detail. `downgrade 0002` gives the owned modules back."""
    _off_loop(migrate.upgrade, scratch_url, "0002")
    _run_sync(scratch_url, _load_0002_data)
    before = _run_sync(scratch_url, _old_rows)

    _off_loop(migrate.upgrade, scratch_url)

    assert _run_sync(scratch_url, _old_rows) == before
    assert _run_sync(
        scratch_url, _query("SELECT id, title, description FROM modules ORDER BY id")
    ) == [
        (100, "Third", "c"),
        (101, "First", "a"),
        (102, "Second", None),
        (103, "Only", "z"),
    ]
    links = "SELECT course_id, module_id, ordering FROM course_module_links ORDER BY 1, 3"
    assert _run_sync(scratch_url, _query(links)) == [
        (10, 101, 1),
        (10, 102, 2),
        (10, 100, 3),
        (11, 103, 1),
    ]
    outline = _off_loop(asyncio.run, _read_through_api(scratch_url))
    assert outline == {
        "course": (3, ["First", "Second", "Third"]),
        "module": (200, "Third", "c", [10]),
        "parent_other_course": 403,
        "new_module_id_after_old_ones": True,
    }

    _off_loop(migrate.downgrade, scratch_url, "0002")

    owned = "SELECT id, course_id, title, content, ordering FROM course_modules ORDER BY id"
    assert _run_sync(scratch_url, _query(owned)) == [
        (100, 10, "Third", "c", 3),
        (101, 10, "First", "a", 1),
        (102, 10, "Second", None, 2),
        (103, 11, "Only", "z", 1),
    ]
    assert _run_sync(scratch_url, _old_rows) == before


async def _read_through_api(url: str) -> dict[str, Any]:
    """What a client sees of the migrated data: the admin's course detail and module
    detail, the parent's view of the course not assigned to them, and a new module's id."""
    settings = Settings(
        database_url=url,
        secret_key="x" * 40,
        log_level="WARNING",
        upload_dir=Path(tempfile.mkdtemp(prefix="tma-migrations-")),
    )
    app = create_app(settings)
    admin = {"Authorization": f"Bearer {create_access_token(1, settings)}"}
    parent = {"Authorization": f"Bearer {create_access_token(2, settings)}"}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            course = (await http.get("/api/courses/10", headers=admin)).json()
            module = await http.get("/api/modules/100", headers=admin)
            hidden = await http.get("/api/courses/11/modules", headers=parent)
            made = await http.post("/api/modules", json={"title": "New"}, headers=admin)
    finally:
        await app.state.db.dispose()
    return {
        "course": (course["module_count"], [m["module_title"] for m in course["modules"]]),
        "module": (
            module.status_code,
            module.json()["title"],
            module.json()["description"],
            module.json()["course_ids"],
        ),
        "parent_other_course": hidden.status_code,
        "new_module_id_after_old_ones": made.status_code == 201 and made.json()["id"] > 103,
    }


# Reflecting the table at the revision before head meets the expression index on
# lower(username) on SQLite; Alembic says it skips it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_upgrade_of_database_with_sample_data_keeps_every_row(
    scratch_url: str, tmp_path: Path
) -> None:
    """A database holding the sample data at the revision before head goes through
    `upgrade head` and every row of every table is still there, unchanged (the sample
    counts are checked too). The data is loaded by the current loader at head, then the
    database goes down to the revision before head (which drops only what head added) and
    its rows are read there."""
    _off_loop(migrate.upgrade, scratch_url)
    settings = Settings(
        database_url=scratch_url,
        password_hash_time_cost=1,
        password_hash_memory_kib=8,
        upload_dir=tmp_path / "uploads",
    )

    async def seed() -> loader.SeedResult:
        db = Database(settings)
        try:
            async with db.sessionmaker() as session:
                return await loader.load(
                    session, hasher=PasswordHasher(settings), settings=settings
                )
        finally:
            await db.dispose()

    result = _off_loop(asyncio.run, seed())
    _off_loop(migrate.downgrade, scratch_url, _revision_before_head())
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url)

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert len(after["users"]) == result.users
    assert len(after["groups"]) == result.groups
    assert len(after["group_members"]) == result.memberships
    assert len(after["courses"]) == result.courses
    assert len(after["group_courses"]) == result.assignments


# SQLite cannot reflect the expression index on lower(username); Alembic says so and skips it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_match_what_the_migrations_build(scratch_url: str) -> None:
    """`alembic check` on a migrated database finds nothing to change: the models and the
    migrations agree, column types included, on SQLite and on PostgreSQL (whose id
    columns are BIGINT where SQLite's are INTEGER)."""
    _off_loop(migrate.upgrade, scratch_url)

    _off_loop(command.check, migrate.alembic_config(scratch_url))


def test_ids_past_32_bits_can_be_stored_after_upgrade(scratch_url: str) -> None:
    """After `upgrade head` a user, group and membership with ids near 2^63 can be stored
    and read back (PostgreSQL: BIGINT columns and sequences)."""
    _off_loop(migrate.upgrade, scratch_url)
    big = 2**63 - 10
    values = {"id": big, "now": datetime(2026, 1, 1, tzinfo=UTC)}

    def insert_and_read(conn: Connection) -> list[tuple[Any, ...]]:
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, hashed_password, role_id, "
                "email_verified, is_active, created_at, updated_at) VALUES "
                "(:id, 'bigid', 'bigid@test.com', 'x', 1, false, true, :now, :now)"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO groups (id, name, created_by, created_at, updated_at) "
                "VALUES (:id, 'big', :id, :now, :now)"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
                "VALUES (:id, :id, 'owner', :now, :now)"
            ),
            values,
        )
        return [
            tuple(row) for row in conn.execute(text("SELECT group_id, user_id FROM group_members"))
        ]

    assert _run_sync(scratch_url, insert_and_read) == [(big, big)]


def _load_0003_progress(conn: Connection) -> None:
    """At 0003: a user, two modules with posts, the user's progress (3 completed posts in
    module 1, one in module 2, one post of module 2 only in progress)."""
    conn.execute(
        text(
            "INSERT INTO users (id, username, email, hashed_password, role_id, is_active, "
            "email_verified, created_at, updated_at) VALUES "
            "(7, 'parent', 'parent@test.com', 'x', (SELECT id FROM roles WHERE name = 'user'), "
            "true, true, :now, :now)"
        ),
        {"now": NOW},
    )
    for module_id in (1, 2):
        conn.execute(
            text(
                "INSERT INTO modules (id, title, created_at, updated_at) "
                "VALUES (:id, 'M', :now, :now)"
            ),
            {"id": module_id, "now": NOW},
        )
    for post_id, module_id in ((1, 1), (2, 1), (3, 1), (4, 2), (5, 2)):
        conn.execute(
            text(
                "INSERT INTO posts (id, module_id, title, post_type, ordering, created_at, "
                "updated_at) VALUES (:id, :module, 'P', 'default', :ordering, :now, :now)"
            ),
            {"id": post_id, "module": module_id, "ordering": post_id, "now": NOW},
        )
    for post_id, status in ((1, "completed"), (2, "completed"), (3, "completed"), (4, "completed")):
        conn.execute(
            text(
                "INSERT INTO post_progress (user_id, post_id, status, updated_at, completed_at) "
                "VALUES (7, :post, :status, :now, :now)"
            ),
            {"post": post_id, "status": status, "now": NOW},
        )
    conn.execute(
        text(
            "INSERT INTO post_progress (user_id, post_id, status, updated_at) "
            "VALUES (7, 5, 'in_progress', :now)"
        ),
        {"now": NOW},
    )
    conn.commit()


def _complete_post_5_delete_post_1(conn: Connection) -> None:
    conn.execute(text("UPDATE post_progress SET status = 'completed' WHERE post_id = 5"))
    conn.execute(text("DELETE FROM posts WHERE id = 1"))
    conn.commit()


def _delete_post_2(conn: Connection) -> None:
    conn.execute(text("UPDATE posts SET module_id = 2 WHERE id = 3"))
    conn.execute(text("DELETE FROM posts WHERE id = 2"))
    conn.commit()


def test_migration_0005_backfills_module_counters_and_triggers_keep_them(
    scratch_url: str,
) -> None:
    """A database at 0003 with progress goes to head: `module_progress` holds each user's
    completed posts per module; afterwards the triggers count a post completed and a post
    deleted. `downgrade 0003` removes the table and its triggers (deleting a post works)."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)

    _off_loop(migrate.upgrade, scratch_url)

    counters = "SELECT user_id, module_id, completed FROM module_progress ORDER BY 2"
    assert _run_sync(scratch_url, _query(counters)) == [(7, 1, 3), (7, 2, 1)]
    _run_sync(scratch_url, _complete_post_5_delete_post_1)
    assert _run_sync(scratch_url, _query(counters)) == [(7, 1, 2), (7, 2, 2)]

    _off_loop(migrate.downgrade, scratch_url, "0003")

    assert "module_progress" not in _run_sync(scratch_url, _tables)
    _run_sync(scratch_url, _delete_post_2)
    assert _run_sync(scratch_url, _query("SELECT id FROM posts ORDER BY 1")) == [(3,), (4,), (5,)]


def _link_modules_at_0005(conn: Connection) -> None:
    """Two courses: course 1 has modules 1 and 2, course 2 has module 2 (shared)."""
    for course_id in (1, 2):
        conn.execute(
            text(
                "INSERT INTO courses (id, title, created_at, updated_at) "
                "VALUES (:id, 'C', :now, :now)"
            ),
            {"id": course_id, "now": NOW},
        )
    for course_id, module_id, ordering in ((1, 1, 1), (1, 2, 2), (2, 2, 1)):
        conn.execute(
            text(
                "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
                "VALUES (:course, :module, :ordering, :now)"
            ),
            {"course": course_id, "module": module_id, "ordering": ordering, "now": NOW},
        )
    conn.commit()


def _complete_post_5_unlink_module_1_delete_module_2(conn: Connection) -> list[Any]:
    seen = []
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    for step in (  # one transaction each, as three requests would be
        "UPDATE post_progress SET status = 'completed' WHERE post_id = 5",
        "DELETE FROM course_module_links WHERE course_id = 1 AND module_id = 1",
        "DELETE FROM modules WHERE id = 2",
    ):
        conn.execute(text(step))
        conn.commit()
        seen.append([tuple(r) for r in conn.execute(text(counters))])
    seen.append([tuple(r) for r in conn.execute(text("SELECT id FROM modules"))])
    conn.commit()
    return seen


def test_migration_0006_backfills_course_counters_and_triggers_keep_them(
    scratch_url: str,
) -> None:
    """A database at 0005 with progress and a module shared by two courses goes to head:
    `course_progress` holds each user's completed posts per course (the shared module's in
    both); afterwards the triggers count a post completed, a module unlinked and a module
    deleted (once, whatever its cascades). `downgrade 0005` removes the table and triggers."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0005")
    _run_sync(scratch_url, _link_modules_at_0005)

    _off_loop(migrate.upgrade, scratch_url)

    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    assert _run_sync(scratch_url, _query(counters)) == [(7, 1, 4), (7, 2, 1)]
    assert _run_sync(scratch_url, _complete_post_5_unlink_module_1_delete_module_2) == [
        [(7, 1, 5), (7, 2, 2)],
        [(7, 1, 2), (7, 2, 2)],
        [(7, 1, 0), (7, 2, 0)],
        [(1,)],
    ]

    _off_loop(migrate.downgrade, scratch_url, "0005")

    assert "course_progress" not in _run_sync(scratch_url, _tables)
    assert "module_progress" in _run_sync(scratch_url, _tables)
    _run_sync(scratch_url, _unlink_everything)
    assert _run_sync(scratch_url, _query("SELECT * FROM course_module_links")) == []


def _unlink_everything(conn: Connection) -> None:
    conn.execute(text("DELETE FROM course_module_links"))
    conn.commit()


def _complete_link_unlink_delete(conn: Connection) -> list[Any]:
    """One transaction each, as four requests: post 5 completed, module 1 linked into
    course 2, unlinked from course 1, module 2 deleted; the course counters after each."""
    seen = []
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    for step in (
        "UPDATE post_progress SET status = 'completed' WHERE post_id = 5",
        "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
        "VALUES (2, 1, 2, '2026-11-01 00:00:00')",
        "DELETE FROM course_module_links WHERE course_id = 1 AND module_id = 1",
        "DELETE FROM modules WHERE id = 2",
    ):
        conn.execute(text(step))
        conn.commit()
        seen.append([tuple(r) for r in conn.execute(text(counters))])
    conn.commit()
    return seen


def _locking_triggers(conn: Connection) -> list[tuple[Any, ...]]:
    """The progress trigger functions that lock a row (PostgreSQL; none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    return [
        tuple(r)
        for r in conn.execute(
            text(
                "SELECT proname FROM pg_proc WHERE proname LIKE '%progress_on%' "
                "AND prosrc LIKE '%PERFORM 1 FROM % FOR %' ORDER BY proname"
            )
        )
    ]


def test_migration_0007_keeps_every_row_and_counters_count_on_after_it_and_after_downgrade(
    scratch_url: str,
) -> None:
    """A database at 0006 with progress, counters and a module shared by two courses goes
    to 0007: every row is as it was (0007 changes trigger functions only); on PostgreSQL
    the three progress triggers that read across tables now lock first; the counters count
    a completion, a link, an unlink and a module delete. `downgrade 0006` keeps every row
    and the 0006 triggers (no locks) count on."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0005")
    _run_sync(scratch_url, _link_modules_at_0005)
    _off_loop(migrate.upgrade, scratch_url, "0006")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0007")

    # Later revisions add columns (0009: the quiz settings of posts): the rows 0006 had,
    # in the columns 0006 had, are as they were.
    assert _as_before(_run_sync(scratch_url, _every_row), before) == before
    postgresql = scratch_url.startswith("postgresql")
    expected_locking = (
        [
            ("course_progress_on_link",),
            ("course_progress_on_module_progress",),
            ("module_progress_on_progress",),
        ]
        if postgresql
        else []
    )
    assert _run_sync(scratch_url, _locking_triggers) == expected_locking
    assert _run_sync(scratch_url, _complete_link_unlink_delete) == [
        [(7, 1, 5), (7, 2, 2)],
        [(7, 1, 5), (7, 2, 5)],
        [(7, 1, 2), (7, 2, 5)],
        [(7, 1, 0), (7, 2, 3)],
    ]
    kept = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.downgrade, scratch_url, "0006")

    down = _run_sync(scratch_url, _every_row)
    assert down == _as_before(kept, down)
    assert _run_sync(scratch_url, _locking_triggers) == []
    _run_sync(scratch_url, _unlink_everything)
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    assert _run_sync(scratch_url, _query(counters)) == [(7, 1, 0), (7, 2, 0)]


def _started_at(conn: Connection) -> list[tuple[Any, ...]]:
    query = "SELECT post_id, status, started_at = updated_at FROM post_progress ORDER BY 1"
    return [(r[0], r[1], bool(r[2])) for r in conn.execute(text(query))]


def test_migration_0008_keeps_every_row_fills_started_at_and_downgrades_with_data(
    scratch_url: str,
) -> None:
    """A database at 0007 with progress goes to 0008: every row is as it was, each progress
    row gains `started_at` = its `updated_at`, the key and sync-event tables exist (and hold
    rows). `downgrade 0007` keeps every row of 0007's tables and the counters count on."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0005")
    _run_sync(scratch_url, _link_modules_at_0005)
    _off_loop(migrate.upgrade, scratch_url, "0007")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0008")

    assert _as_before(_run_sync(scratch_url, _every_row), before) == before
    assert _run_sync(scratch_url, _started_at) == [
        (1, "completed", True),
        (2, "completed", True),
        (3, "completed", True),
        (4, "completed", True),
        (5, "in_progress", True),
    ]

    def fill(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, headers, "
                "body, created_at, expires_at) VALUES (7, 'k', 'f', 200, '[]', :b, :now, :now)"
            ),
            {"b": b"{}", "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO progress_sync_events (user_id, event_id, post_id, result, "
                "created_at) VALUES (7, 'e1', 5, 'applied', :now)"
            ),
            {"now": NOW},
        )
        conn.commit()

    _run_sync(scratch_url, fill)
    kept = _run_sync(scratch_url, _every_row)
    assert len(kept["idempotency_keys"]) == len(kept["progress_sync_events"]) == 1

    _off_loop(migrate.downgrade, scratch_url, "0007")

    assert _run_sync(scratch_url, _every_row) == before
    _run_sync(scratch_url, _unlink_everything)
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    assert _run_sync(scratch_url, _query(counters)) == [(7, 1, 0), (7, 2, 0)]


def _insert_users_at_0002(conn: Connection, names: list[tuple[str, str]]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for i, (username, email) in enumerate(names, start=1):
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, hashed_password, role_id, "
                "email_verified, is_active, created_at, updated_at) VALUES "
                "(:id, :username, :email, 'x', 1, false, true, :now, :now)"
            ),
            {"id": i, "username": username, "email": email, "now": now},
        )
    conn.commit()


def _keys(conn: Connection) -> list[tuple[Any, ...]]:
    query = "SELECT id, username, username_key, email_key, tokens_valid_after FROM users"
    return [tuple(row) for row in conn.execute(text(query + " ORDER BY id"))]


def test_migration_0004_fills_keys_and_reports_colliding_names_without_failing(
    scratch_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Users stored at revision 0002 get their canonical keys from 0004: names that the
    old `lower(username)` index let in but that are one identity now (`admin` and
    full-width `ＡＤＭＩＮ`, `straße` and `STRASSE`) do not stop the upgrade; the later row
    gets `<key> #<id>` and a warning names both rows. Nothing else changes."""
    _off_loop(migrate.upgrade, scratch_url, "0002")
    names = [
        ("admin", "admin@test.com"),
        ("ＡＤＭＩＮ", "admin2@test.com"),
        ("straße", "strasse@test.com"),
        ("STRASSE", "STRASSE@test.com"),
        ("Émile1", "emile@test.com"),
    ]
    _run_sync(scratch_url, lambda conn: _insert_users_at_0002(conn, names))

    with caplog.at_level("WARNING", logger="tma.migrations"):
        _off_loop(migrate.upgrade, scratch_url)

    assert _run_sync(scratch_url, _keys) == [
        (1, "admin", "admin", "admin@test.com", None),
        (2, "ＡＤＭＩＮ", "admin #2", "admin2@test.com", None),
        (3, "straße", "strasse", "strasse@test.com", None),
        (4, "STRASSE", "strasse #4", "strasse@test.com #4", None),
        (5, "Émile1", "émile1", "emile@test.com", None),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "tma.migrations"]
    assert warnings == [
        "users 1 ('admin') and 2 ('ＡＤＭＩＮ') share the username key 'admin': user 1 keeps "
        "it, user 2 gets 'admin #2' until an admin renames one",
        "users 3 ('straße') and 4 ('STRASSE') share the username key 'strasse': user 3 keeps "
        "it, user 4 gets 'strasse #4' until an admin renames one",
        "users 3 ('strasse@test.com') and 4 ('STRASSE@test.com') share the email key "
        "'strasse@test.com': user 3 keeps it, user 4 gets 'strasse@test.com #4' until an "
        "admin renames one",
    ]


def _load_quizzes_at_0007(conn: Connection) -> None:
    """At 0007: a parent, a module with a quiz post (pass mark 60) of two questions, and
    three attempts: one in progress, one submitted on the quiz as it is, one submitted on
    a question since removed from the quiz (id 99, its texts never stored)."""
    _load_0003_progress(conn)
    conn.execute(
        text(
            "INSERT INTO posts (id, module_id, title, post_type, ordering, pass_mark, "
            "created_at, updated_at) VALUES (6, 1, 'Q', 'quiz', 4, 60, :now, :now)"
        ),
        {"now": NOW},
    )
    for qid, position, kind in ((11, 1, "single"), (12, 2, "multiple")):
        conn.execute(
            text(
                "INSERT INTO quiz_questions (id, post_id, position, prompt, kind, explanation) "
                "VALUES (:id, 6, :position, :prompt, :kind, :why)"
            ),
            {"id": qid, "position": position, "prompt": f"Q{qid}", "kind": kind, "why": "why"},
        )
    for oid, qid, position, correct in (
        (21, 11, 1, True),
        (22, 11, 2, False),
        (23, 12, 1, True),
        (24, 12, 2, True),
    ):
        conn.execute(
            text(
                "INSERT INTO quiz_options (id, question_id, position, text, is_correct) "
                "VALUES (:id, :qid, :position, :text, :correct)"
            ),
            {"id": oid, "qid": qid, "position": position, "text": f"O{oid}", "correct": correct},
        )
    graded = [
        {
            "question_id": 11,
            "correct": True,
            "chosen_option_ids": [21],
            "correct_option_ids": [21],
            "explanation": "why",
        }
    ]
    gone = [
        {
            "question_id": 99,
            "correct": False,
            "chosen_option_ids": [98],
            "correct_option_ids": [97],
            "explanation": None,
        }
    ]
    for aid, status, results in (
        (1, "in_progress", None),
        (2, "submitted", graded),
        (3, "submitted", gone),
    ):
        conn.execute(
            text(
                "INSERT INTO quiz_attempts (id, post_id, user_id, status, started_at, "
                "submitted_at, score, passed, results) VALUES (:id, 6, 7, :status, :now, "
                ":done, :score, :passed, :results)"
            ),
            {
                "id": aid,
                "status": status,
                "now": NOW,
                "done": None if results is None else NOW,
                "score": None if results is None else (100 if results is graded else 0),
                "passed": None if results is None else results is graded,
                "results": None if results is None else json.dumps(results),
            },
        )
    conn.commit()


def _attempt_columns(conn: Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        text(
            "SELECT id, questions, saved_answers, deadline, pass_mark, timed_out "
            "FROM quiz_attempts ORDER BY id"
        )
    )
    return [
        (
            r[0],
            r[1] if isinstance(r[1], list) else json.loads(r[1]),
            r[2] if isinstance(r[2], list) else json.loads(r[2]),
            r[3],
            r[4],
            bool(r[5]),
        )
        for r in rows
    ]


def test_migration_0009_gives_attempts_their_questions_and_quizzes_default_settings(
    scratch_url: str,
) -> None:
    """A database at 0007 with a quiz and three attempts goes to head: every old row is
    kept; the quiz has the default settings; the attempt in progress owns the quiz's
    questions in authored order, the submitted ones the questions their results name (one
    the quiz no longer holds rebuilt from the results), each with the quiz's pass mark, no
    saved answers, no deadline, not timed out. `downgrade 0007` gives every row back as it
    was."""
    _off_loop(migrate.upgrade, scratch_url, "0007")
    _run_sync(scratch_url, _load_quizzes_at_0007)
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url)

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    settings = "SELECT max_attempts, cooldown_minutes, time_limit_minutes, shuffle_questions, "
    settings += "shuffle_options, questions_per_attempt, reveal FROM posts WHERE id = 6"
    assert [
        (a, b, c, bool(d), bool(e), f, g)
        for a, b, c, d, e, f, g in _run_sync(scratch_url, _query(settings))
    ] == [(None, 0, None, False, False, None, "after_submit")]
    q11 = {
        "id": 11,
        "prompt": "Q11",
        "kind": "single",
        "explanation": "why",
        "options": [
            {"id": 21, "text": "O21", "is_correct": True},
            {"id": 22, "text": "O22", "is_correct": False},
        ],
    }
    q12 = {
        "id": 12,
        "prompt": "Q12",
        "kind": "multiple",
        "explanation": "why",
        "options": [
            {"id": 23, "text": "O23", "is_correct": True},
            {"id": 24, "text": "O24", "is_correct": True},
        ],
    }
    q99 = {
        "id": 99,
        "prompt": "(no longer in the quiz)",
        "kind": "single",
        "explanation": None,
        "options": [
            {"id": 97, "text": "", "is_correct": True},
            {"id": 98, "text": "", "is_correct": False},
        ],
    }
    assert _run_sync(scratch_url, _attempt_columns) == [
        (1, [q11, q12], [], None, 60, False),
        (2, [q11], [], None, 60, False),
        (3, [q99], [], None, 60, False),
    ]

    _off_loop(migrate.downgrade, scratch_url, "0007")

    assert _run_sync(scratch_url, _every_row) == before


def _assign_courses_at_0007(conn: Connection) -> None:
    """Group 5 (user 7 a member) has course 1, assigned at 23:30 UTC on 2026-11-01, and
    course 2, assigned ten minutes past midnight UTC the day after."""
    statements = [
        "INSERT INTO groups (id, name, created_by, created_at, updated_at) "
        "VALUES (5, 'Club', 7, :late, :late)",
        "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
        "VALUES (5, 7, 'owner', :late, :late)",
        "INSERT INTO group_courses (group_id, course_id, ordering, date_assigned) "
        "VALUES (5, 1, 0, :late), (5, 2, 1, :early)",
    ]
    late = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
    early = datetime(2026, 11, 2, 0, 10, tzinfo=UTC)
    for statement in statements:
        conn.execute(text(statement), {"late": late, "early": early})
    conn.commit()


def _schedule_columns(conn: Connection) -> list[Any]:
    return [
        [tuple(r) for r in conn.execute(text("SELECT id, sequential FROM courses ORDER BY 1"))],
        [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT course_id, module_id, release_after_days FROM course_module_links "
                    "ORDER BY 1, 2"
                )
            )
        ],
        [
            (r[0], r[1], str(r[2]))
            for r in conn.execute(
                text("SELECT group_id, course_id, start_date FROM group_courses ORDER BY 2")
            )
        ],
    ]


def _link_module_1_into_course_2(conn: Connection) -> list[tuple[Any, ...]]:
    """A link written without the new column (its default), then the course counters."""
    conn.execute(
        text(
            "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
            "VALUES (2, 1, 2, :now)"
        ),
        {"now": NOW},
    )
    conn.commit()
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY 2"
    return [tuple(r) for r in conn.execute(text(counters))]


def _columns(table: str) -> Callable[[Connection], list[str]]:
    return lambda conn: sorted(c["name"] for c in inspect(conn).get_columns(table))


def test_migration_0010_adds_the_schedule_keeping_every_row_and_the_counters(
    scratch_url: str,
) -> None:
    """A database at 0007 with progress, counters, shared modules and two group courses
    goes to head: every row keeps its values; courses are not sequential, links open on
    day 0, each assignment starts on the UTC day it was assigned (23:30 UTC stays that
    day). The progress triggers still count (a link written after it, without the new
    column, gets 0 days and moves the counter). `downgrade 0007` drops the three columns
    and keeps every row."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0005")
    _run_sync(scratch_url, _link_modules_at_0005)
    _off_loop(migrate.upgrade, scratch_url, "0007")
    _run_sync(scratch_url, _assign_courses_at_0007)
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url)

    assert _as_before(_run_sync(scratch_url, _every_row), before) == before
    assert _run_sync(scratch_url, _schedule_columns) == [
        [(1, False), (2, False)],
        [(1, 1, 0), (1, 2, 0), (2, 2, 0)],
        [(5, 1, "2026-11-01"), (5, 2, "2026-11-02")],
    ]
    assert _run_sync(scratch_url, _link_module_1_into_course_2) == [(7, 1, 4), (7, 2, 4)]
    kept = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.downgrade, scratch_url, "0007")

    assert _run_sync(scratch_url, _every_row) == _as_before(kept, before)
    assert "start_date" not in _run_sync(scratch_url, _columns("group_courses"))
    assert "sequential" not in _run_sync(scratch_url, _columns("courses"))
    assert "release_after_days" not in _run_sync(scratch_url, _columns("course_module_links"))


def _load_notifications_at_0011(conn: Connection) -> None:
    """At 0011: a notification, settings and a push token of user 7."""
    conn.execute(
        text(
            "INSERT INTO notifications (id, user_id, kind, subject, period, title, body, data, "
            "created_at, email_status, push_status, attempts) VALUES (1, 7, 'reminder', "
            "'reminders', '2026-W01', 'T', 'B', '{\"course_id\": 1}', :now, 'sent', "
            "'pending', 1)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO notification_settings (user_id, email, push, reminders, quiet_start, "
            "quiet_end, timezone, updated_at) VALUES (7, true, false, 'twice_weekly', '21:00', "
            "'07:00', 'Europe/Paris', :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO push_tokens (id, user_id, token, created_at) "
            "VALUES (1, 7, 'ExponentPushToken[x]', :now)"
        ),
        {"now": NOW},
    )
    conn.commit()


def test_migration_0011_adds_notification_tables_keeping_every_row_and_drops_them_down(
    scratch_url: str,
) -> None:
    """A database at 0007 holding progress goes to 0011: every row is kept and the three
    new tables take rows (the unique key of a notification holds); `downgrade 0007` keeps
    every row of the older tables and drops the three; up again, they are back, empty."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0007")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0011")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert (after["notifications"], after["notification_settings"], after["push_tokens"]) == (
        [],
        [],
        [],
    )
    _run_sync(scratch_url, _load_notifications_at_0011)
    loaded = _run_sync(scratch_url, _every_row)
    assert [(n["user_id"], n["kind"], n["data"]) for n in loaded["notifications"]] == [
        (7, "reminder", {"course_id": 1})
    ]
    assert loaded["notification_settings"][0]["timezone"] == "Europe/Paris"
    duplicate = (
        "INSERT INTO notifications (user_id, kind, subject, period, title, body, data, "
        "created_at, email_status, push_status, attempts) VALUES (7, 'reminder', 'reminders', "
        "'2026-W01', 'T', 'B', '{}', '2026-01-01', 'pending', 'pending', 0)"
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        _run_sync(scratch_url, _query(duplicate))

    _off_loop(migrate.downgrade, scratch_url, "0007")

    assert _run_sync(scratch_url, _every_row) == before
    assert not {"notifications", "notification_settings", "push_tokens"} & set(
        _run_sync(scratch_url, _tables)
    )
    _off_loop(migrate.upgrade, scratch_url, "0011")
    again = _run_sync(scratch_url, _every_row)
    assert (again["notifications"], again["push_tokens"]) == ([], [])


def _load_empty_quiz(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO posts (id, module_id, title, post_type, ordering, created_at, "
            "updated_at) VALUES (7, 1, 'Empty', 'quiz', 5, :now, :now)"
        ),
        {"now": NOW},
    )
    conn.commit()


def test_migration_0012_fills_each_quizs_question_bank_from_its_tables_and_drops_it_down(
    scratch_url: str,
) -> None:
    """A database at 0011 with a quiz of two questions, a quiz without questions and text
    posts goes to 0012: every row is kept; each quiz post's `question_bank` holds its
    questions as an attempt copies them (authored order, options with `is_correct`), the
    empty quiz `[]`, every other post null. `downgrade 0011` gives every row back as it
    was."""
    _off_loop(migrate.upgrade, scratch_url, "0007")
    _run_sync(scratch_url, _load_quizzes_at_0007)
    _off_loop(migrate.upgrade, scratch_url, "0011")
    _run_sync(scratch_url, _load_empty_quiz)
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0012")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    banks = {post["id"]: post["question_bank"] for post in after["posts"]}
    q11 = {
        "id": 11,
        "prompt": "Q11",
        "kind": "single",
        "explanation": "why",
        "options": [
            {"id": 21, "text": "O21", "is_correct": True},
            {"id": 22, "text": "O22", "is_correct": False},
        ],
    }
    q12 = {
        "id": 12,
        "prompt": "Q12",
        "kind": "multiple",
        "explanation": "why",
        "options": [
            {"id": 23, "text": "O23", "is_correct": True},
            {"id": 24, "text": "O24", "is_correct": True},
        ],
    }
    assert banks.pop(6) == [q11, q12]
    assert banks.pop(7) == []
    assert banks
    assert set(banks.values()) == {None}

    _off_loop(migrate.downgrade, scratch_url, "0011")

    assert _run_sync(scratch_url, _every_row) == before


def _give_user_7_a_profile_child(conn: Connection) -> None:
    conn.execute(text("UPDATE users SET child_name = 'Sam', child_dob = '2024-02-29' WHERE id = 7"))
    conn.commit()


def _add_a_child_record(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO children (user_id, name, birth_date, created_at, updated_at) "
            "VALUES (7, 'Kim', '2025-01-31', :now, :now)"
        ),
        {"now": NOW},
    )
    conn.commit()


def test_migration_0013_adds_children_and_age_ranges_keeping_every_row_and_profile_fields(
    scratch_url: str,
) -> None:
    """A database at 0012 with a parent whose profile names a child (born 29 February) and
    their progress goes to 0013: every row is as it was, the profile's `child_name` and
    `child_dob` untouched and nothing copied (the spec keeps the old fields as they are);
    modules and posts gain empty age bounds; `children` takes a record of user 7.
    `downgrade 0012` drops the table and the bounds and keeps every row."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0012")
    _run_sync(scratch_url, _give_user_7_a_profile_child)
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0013")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert [(u["child_name"], str(u["child_dob"])) for u in after["users"]] == [
        ("Sam", "2024-02-29")
    ]
    assert after["children"] == []
    for table in ("modules", "posts"):  # every existing module and post: for every age
        assert {(r["min_age_months"], r["max_age_months"]) for r in after[table]} == {(None, None)}
    _run_sync(scratch_url, _add_a_child_record)
    children = _run_sync(scratch_url, _every_row)["children"]
    assert [(c["user_id"], c["name"], str(c["birth_date"])) for c in children] == [
        (7, "Kim", "2025-01-31")
    ]

    _off_loop(migrate.downgrade, scratch_url, "0012")

    assert _run_sync(scratch_url, _every_row) == before
    assert "children" not in _run_sync(scratch_url, _tables)
    for table in ("modules", "posts"):
        assert "min_age_months" not in _run_sync(scratch_url, _columns(table))


def _load_events_at_0014(conn: Connection) -> None:
    """At 0014: two webhooks (one inactive, one wanting only completions) and two events of
    user 7: the trigger owes the active webhook the completion only."""
    conn.execute(
        text(
            "INSERT INTO webhooks (id, url, secret, event_types, active, created_at) VALUES "
            "(1, 'https://hooks.example.org/a', 's1', ',post_completed,', true, :now), "
            "(2, 'https://hooks.example.org/b', 's2', ',post_started,post_completed,', "
            "false, :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO learning_events (id, type, user_id, key, occurred_at, post_id, "
            "recorded_at) VALUES (1, 'post_started', 7, 'post_started:5', :now, 5, :now), "
            "(2, 'post_completed', 7, 'post_completed:5', :now, 5, :now)"
        ),
        {"now": NOW},
    )
    conn.commit()


def test_migration_0014_adds_events_and_webhooks_keeping_every_row_and_drops_them_down(
    scratch_url: str,
) -> None:
    """A database at 0013 holding progress goes to 0014: every row is kept, the four new
    tables start empty; an event recorded then gets its outbox rows from the trigger (one
    per active webhook wanting its type), and the same key twice is refused; `downgrade
    0013` keeps every older row and drops the tables and the trigger; up again, empty."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0013")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0014")

    after = _run_sync(scratch_url, _every_row)
    new = ("learning_events", "webhooks", "webhook_deliveries", "webhook_tries", "xapi_pushes")
    assert _as_before(after, before) == before
    assert [after[name] for name in new] == [[], [], [], [], []]
    _run_sync(scratch_url, _load_events_at_0014)
    loaded = _run_sync(scratch_url, _every_row)
    assert [(e["type"], e["key"]) for e in loaded["learning_events"]] == [
        ("post_started", "post_started:5"),
        ("post_completed", "post_completed:5"),
    ]
    assert [
        (d["event_id"], d["webhook_id"], d["status"], d["tries"], d["next_try_at"])
        for d in loaded["webhook_deliveries"]
    ] == [(2, 1, "pending", 0, None)]
    duplicate = (
        "INSERT INTO learning_events (type, user_id, key, occurred_at, recorded_at) "
        "VALUES ('post_started', 7, 'post_started:5', '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        _run_sync(scratch_url, _query(duplicate))

    _off_loop(migrate.downgrade, scratch_url, "0013")

    assert _run_sync(scratch_url, _every_row) == before
    assert not set(new) & set(_run_sync(scratch_url, _tables))
    _off_loop(migrate.upgrade, scratch_url, "0014")
    again = _run_sync(scratch_url, _every_row)
    assert [again[name] for name in new] == [[], [], [], [], []]


def _translate_at_0015(module_id: int, post_id: int) -> Callable[[Connection], None]:
    def load(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO translations (course_id, module_id, post_id, language, fields, "
                "created_at, updated_at) VALUES "
                "(NULL, :module, NULL, 'es', '{\"title\": \"Módulo\"}', :now, :now), "
                "(NULL, NULL, :post, 'es-MX', '{\"title\": \"Entrada\"}', :now, :now)"
            ),
            {"module": module_id, "post": post_id, "now": NOW},
        )
        conn.execute(text("UPDATE users SET language = 'es' WHERE id = 7"))
        conn.commit()

    return load


def test_migration_0015_adds_translations_and_user_language_keeping_every_row(
    scratch_url: str,
) -> None:
    """A database at 0014 holding progress goes to 0015: every row is kept, each user's
    `language` is null, `translations` starts empty and then takes one row per object and
    language (a second es translation of the same module is refused, a row naming no object too);
    `downgrade 0014` drops both and keeps every older row."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0014")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0015")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert {u["language"] for u in after["users"]} == {None}
    assert after["translations"] == []
    module_id, post_id = after["modules"][0]["id"], after["posts"][0]["id"]
    _run_sync(scratch_url, _translate_at_0015(module_id, post_id))
    loaded = _run_sync(scratch_url, _every_row)
    assert [
        (t["course_id"], t["module_id"], t["post_id"], t["language"])
        for t in loaded["translations"]
    ] == [(None, module_id, None, "es"), (None, None, post_id, "es-MX")]
    assert [u["language"] for u in loaded["users"] if u["id"] == 7] == ["es"]
    twice = (
        "INSERT INTO translations (module_id, language, fields, created_at, updated_at) "
        f"VALUES ({module_id}, 'es', '{{}}', '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        _run_sync(scratch_url, _query(twice))
    nothing = (
        "INSERT INTO translations (language, fields, created_at, updated_at) "
        "VALUES ('fr', '{}', '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(Exception, match=r"(?i)check|one_target"):
        _run_sync(scratch_url, _query(nothing))

    _off_loop(migrate.downgrade, scratch_url, "0014")

    assert _run_sync(scratch_url, _every_row) == before
    assert "translations" not in _run_sync(scratch_url, _tables)
    assert "language" not in _run_sync(scratch_url, _columns("users"))


def test_migration_0016_adds_version_counters_keeping_every_row_and_drops_them_down(
    scratch_url: str,
) -> None:
    """A database at 0015 holding progress and a translation goes to 0016: every row is kept,
    each user's `version` starts at 0 and `content_version` is its one row at 0; `downgrade
    0015` keeps every row as it was before the upgrade and drops the column and the table;
    up again, a raw write to a module bumps the content version and a raw write to a user's
    progress rows bumps that user's version and no one else's."""
    _off_loop(migrate.upgrade, scratch_url, "0003")
    _run_sync(scratch_url, _load_0003_progress)
    _off_loop(migrate.upgrade, scratch_url, "0015")
    module_id, post_id = _run_sync(
        scratch_url, _query("SELECT (SELECT min(id) FROM modules), (SELECT min(id) FROM posts)")
    )[0]
    _run_sync(scratch_url, _translate_at_0015(module_id, post_id))
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0016")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert {u["version"] for u in after["users"]} == {0}
    assert after["content_version"] == [{"id": 1, "version": 0, "bumped_in": None}]

    _off_loop(migrate.downgrade, scratch_url, "0015")

    assert _run_sync(scratch_url, _every_row) == before
    assert "content_version" not in _run_sync(scratch_url, _tables)
    assert "version" not in _run_sync(scratch_url, _columns("users"))

    _off_loop(migrate.upgrade, scratch_url, "0016")
    progress_user = _run_sync(scratch_url, _query("SELECT min(user_id) FROM post_progress"))[0][0]
    _run_sync(
        scratch_url, _query_commit(f"UPDATE modules SET title = 'Renamed' WHERE id = {module_id}")
    )
    _run_sync(
        scratch_url,
        _query_commit(f"UPDATE post_progress SET status = status WHERE user_id = {progress_user}"),
    )
    bumped = _run_sync(scratch_url, _every_row)
    assert bumped["content_version"][0]["version"] == 1
    assert [u["id"] for u in bumped["users"] if u["version"]] == [progress_user]


def _query_commit(sql: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        conn.execute(text(sql))
        conn.commit()

    return run


def _add_a_multiple_choice_attempt_at_0014(conn: Connection) -> None:
    """At 0014: a fourth attempt, submitted on both questions (the second with option 24
    chosen twice and 23, the first unanswered), and a fifth submitted without results."""
    results = [
        {
            "question_id": 11,
            "correct": False,
            "chosen_option_ids": [],
            "correct_option_ids": [21],
            "explanation": "why",
        },
        {
            "question_id": 12,
            "correct": True,
            "chosen_option_ids": [24, 23, 24],
            "correct_option_ids": [23, 24],
            "explanation": "why",
        },
    ]
    for aid, stored in ((4, json.dumps(results)), (5, None)):
        conn.execute(
            text(
                "INSERT INTO quiz_attempts (id, post_id, user_id, status, started_at, "
                "submitted_at, score, passed, results) VALUES (:id, 6, 7, 'submitted', :now, "
                ":now, 50, false, :results)"
            ),
            {"id": aid, "now": NOW, "results": stored},
        )
    conn.commit()


def _answer_foreign_keys(conn: Connection) -> list[tuple[Any, ...]]:
    return [
        (fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
        for fk in inspect(conn).get_foreign_keys("quiz_answers")
    ]


def _covering(conn: Connection) -> list[tuple[str, str]]:
    """The two indexes 0017 widens on PostgreSQL: name and what follows `USING btree`."""
    found = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('ix_post_progress_post_id', 'ix_quiz_attempts_post_id_user_id') ORDER BY 1"
        )
    )
    return [(name, definition.split("USING btree ")[1]) for name, definition in found]


def test_migration_0017_writes_each_submitted_answer_as_rows_and_drops_them_down(
    scratch_url: str,
) -> None:
    """A database at 0016 (rows written at 0014) with a quiz and five attempts (one in
    progress, four submitted:
    on the quiz as it is, on a question since removed, on both questions with an option
    listed twice and a question unanswered, and one without results) goes to 0017: every
    row is kept; `quiz_answers` holds per submitted attempt and question one row without
    option (its grade) and one per distinct option chosen, nothing for the attempt in
    progress or the one without results; a deleted attempt takes its rows with it (ON
    DELETE CASCADE); on PostgreSQL the progress and attempt indexes the dashboard reads
    carry its columns (INCLUDE). `downgrade 0016` drops the table, gives the indexes their
    keys only and keeps every row."""
    _off_loop(migrate.upgrade, scratch_url, "0007")
    _run_sync(scratch_url, _load_quizzes_at_0007)
    _off_loop(migrate.upgrade, scratch_url, "0014")
    _run_sync(scratch_url, _add_a_multiple_choice_attempt_at_0014)
    _off_loop(migrate.upgrade, scratch_url, "0016")
    before = _run_sync(scratch_url, _every_row)

    _off_loop(migrate.upgrade, scratch_url, "0017")

    after = _run_sync(scratch_url, _every_row)
    assert _as_before(after, before) == before
    assert [
        (
            r["attempt_id"],
            r["post_id"],
            r["user_id"],
            r["question_id"],
            r["option_id"],
            r["correct"],
        )
        for r in after["quiz_answers"]
    ] == [
        (2, 6, 7, 11, None, True),
        (2, 6, 7, 11, 21, True),
        (3, 6, 7, 99, None, False),
        (3, 6, 7, 99, 98, False),
        (4, 6, 7, 11, None, False),
        (4, 6, 7, 12, None, True),
        (4, 6, 7, 12, 23, True),
        (4, 6, 7, 12, 24, True),
    ]
    assert _run_sync(scratch_url, _answer_foreign_keys) == [
        (["attempt_id"], "quiz_attempts", "CASCADE")
    ]
    if scratch_url.startswith("postgresql"):
        assert _run_sync(scratch_url, _covering) == [
            ("ix_post_progress_post_id", "(post_id) INCLUDE (user_id, status, updated_at)"),
            (
                "ix_quiz_attempts_post_id_user_id",
                "(post_id, user_id) INCLUDE (status, passed, started_at, submitted_at)",
            ),
        ]

    _off_loop(migrate.downgrade, scratch_url, "0016")

    assert "quiz_answers" not in _run_sync(scratch_url, _tables)
    assert _run_sync(scratch_url, _every_row) == before
    if scratch_url.startswith("postgresql"):
        assert _run_sync(scratch_url, _covering) == [
            ("ix_post_progress_post_id", "(post_id)"),
            ("ix_quiz_attempts_post_id_user_id", "(post_id, user_id)"),
        ]
