"""`tma db upgrade` says what it did: each migration it applied ("applied 0005 -> 0006:
..."), or that there was nothing to apply, and where the database now is. On PostgreSQL a
database that does not exist is created first outside production (what `make run` relies
on), and in production the command stops with one line saying how to create it.

The PostgreSQL tests use a database of their own, named after the test database with a
random suffix, and drop it only when this test created it."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tma import cli
from tma.core.config import get_settings

PG_ENV = "TMA_TEST_DATABASE_URL"
APPLIED = [
    "applied base -> 0001: Initial schema",
    "applied 0001 -> 0002: 64-bit ids on PostgreSQL",
    "applied 0002 -> 0003: Learning content",
    "applied 0003 -> 0004: One identity per name (canonical keys) and tokens that can end "
    "(`tokens_valid_after`)",
    "applied 0004 -> 0005: Completed posts per user and module, kept by triggers",
    "applied 0005 -> 0006: Completed posts per user and course, kept by triggers",
    "applied 0006 -> 0007: Progress counters exact under concurrent writers",
    "applied 0007 -> 0008: Offline use (Idempotency-Key storage, offline progress events, "
    "`started_at` in Progress)",
    "applied 0008 -> 0009: Quiz settings and attempts that own their questions (issue 23, "
    "companion.md §2)",
    "applied 0009 -> 0010: Release schedule and sequential courses (issues 23 and 24)",
    "applied 0010 -> 0011: Notifications, notification settings and push tokens (issue 24)",
    "applied 0011 -> 0012: A quiz's questions kept whole on its post (`posts.question_bank`), "
    "for starting attempts",
    "applied 0012 -> 0013: Children records, and the ages modules and posts are for (issue 25)",
    "applied 0013 -> 0014: Learning events, webhooks and their outbox (issue 26)",
    "applied 0014 -> 0015: Translations of course, module, post and quiz texts, and a "
    "user's language (issue 25)",
    "applied 0015 -> 0016: Version counters for revalidation, kept by triggers (issue 22)",
    "applied 0016 -> 0017: Submitted answers as rows (issue 26, the dashboard's bench line)",
]
HEAD = APPLIED[-1].split(":")[0].split()[-1]  # the newest revision, where "head" is


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """`get_settings()` reads the environment again in this test (and after it)."""
    for name in ("TMA_DATABASE_URL", "TMA_ENV"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def upgrade(*args: str) -> Any:
    """`tma db upgrade ARGS`, in a thread of its own: the command runs its own event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, cli.app, ["db", "upgrade", *args]).result()


def test_db_upgrade_names_each_migration_applied_then_nothing_to_apply(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Up to 0003, then to head: each run lists the migrations it applied, oldest first, and
    ends with where the database is; a third run applies nothing and says so."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.setenv("TMA_DATABASE_URL", url)

    first = upgrade("0003")
    second = upgrade()
    third = upgrade()

    assert (first.exit_code, second.exit_code, third.exit_code) == (0, 0, 0)
    assert first.output.splitlines() == [*APPLIED[:3], f"database at 0003: {url}"]
    assert second.output.splitlines() == [*APPLIED[3:], f"database at head ({HEAD}): {url}"]
    assert third.output.splitlines() == [f"database at head ({HEAD}), nothing to apply: {url}"]


def test_db_upgrade_to_an_older_revision_says_where_the_database_really_is(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`tma db upgrade 0004` on a database at head applies nothing (Alembic does not go
    down on an upgrade) and says the database is at head, not at 0004."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.setenv("TMA_DATABASE_URL", url)
    assert upgrade().exit_code == 0

    result = upgrade("0004")

    assert result.exit_code == 0
    assert result.output.splitlines() == [f"database at head ({HEAD}), nothing to apply: {url}"]


async def _exists(admin_url: str, name: str) -> bool:
    engine = create_async_engine(admin_url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            return found.first() is not None
    finally:
        await engine.dispose()


async def _drop(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def _off_loop(coroutine: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def missing_pg_database() -> Iterator[tuple[str, str, str]]:
    """(url, name, admin url) of a PostgreSQL database that does not exist yet, next to the
    test database; dropped at the end only if it exists then (this test made it)."""
    base = make_url(os.environ[PG_ENV])
    name = f"{base.database}_cli_{uuid.uuid4().hex[:10]}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    assert not _off_loop(_exists(admin, name))
    try:
        yield base.set(database=name).render_as_string(hide_password=False), name, admin
    finally:
        if _off_loop(_exists(admin, name)):
            _off_loop(_drop(admin, name))


@pytest.mark.postgresql
def test_db_upgrade_missing_postgres_database_in_development_creates_it(
    env: pytest.MonkeyPatch, missing_pg_database: tuple[str, str, str]
) -> None:
    """Development (the default TMA_ENV): the missing database is created, said in one
    line, then migrated to head; a second run finds it there."""
    url, name, admin = missing_pg_database
    env.setenv("TMA_DATABASE_URL", url)
    shown = make_url(url).render_as_string(hide_password=True)

    result = upgrade()
    again = upgrade()

    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"created database {name} (TMA_ENV=development)",
        *APPLIED,
        f"database at head ({HEAD}): {shown}",
    ]
    assert _off_loop(_exists(admin, name))
    assert again.exit_code == 0
    assert again.output.splitlines() == [f"database at head ({HEAD}), nothing to apply: {shown}"]


@pytest.mark.postgresql
def test_db_upgrade_missing_postgres_database_in_production_stops_with_one_line(
    env: pytest.MonkeyPatch, missing_pg_database: tuple[str, str, str]
) -> None:
    """TMA_ENV=production: nothing is created; exit 1 and one line naming the database and
    the command that creates it."""
    url, name, admin = missing_pg_database
    env.setenv("TMA_DATABASE_URL", url)
    env.setenv("TMA_ENV", "production")
    target = make_url(url)
    createdb = f"createdb -h {target.host} -p {target.port} -U {target.username} {name}"

    result = upgrade()

    assert result.exit_code == 1
    assert result.output == (
        f'error: database "{name}" does not exist on {target.host}:{target.port}; create it '
        f"(`{createdb}`) and run this again (tma creates it only when TMA_ENV is not "
        "production)\n"
    )
    assert not _off_loop(_exists(admin, name))
