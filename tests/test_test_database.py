"""The suite's PostgreSQL database is created when it does not exist (`make test-pg` on a
fresh server just works), and a database that cannot be created is one clear line."""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

import conftest

PG_URL = os.environ.get(conftest.TEST_DATABASE_URL_ENV, "")

pytestmark = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason=f"needs {conftest.TEST_DATABASE_URL_ENV}=postgresql+asyncpg://... (as in CI)",
)


def _in_thread(coroutine_function, *args):
    """Run a coroutine on its own event loop in a worker thread (not the tests' loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


async def _admin(statement: str) -> list[tuple]:
    engine = create_async_engine(
        make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement))
            return list(result.fetchall()) if result.returns_rows else []
    finally:
        await engine.dispose()


def test_test_database_missing_is_created_and_emptied():
    """A URL naming a database that does not exist: the suite creates it, with an empty
    `public` schema."""
    name = f"{make_url(PG_URL).database}_created"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    _in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        _in_thread(conftest._reset_postgres_schema, url)

        found = _in_thread(_admin, f"SELECT datname FROM pg_database WHERE datname = '{name}'")
        assert found == [(name,)]
    finally:
        _in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_test_database_unreachable_server_stops_run_with_one_line():
    """A server that does not answer stops the run with one line naming the variable."""
    url = make_url(PG_URL).set(port=1).render_as_string(hide_password=False)

    with pytest.raises(pytest.exit.Exception) as stopped:
        _in_thread(conftest._reset_postgres_schema, url)

    message = str(stopped.value)
    expected = f"{conftest.TEST_DATABASE_URL_ENV} is set but the database is unusable: "
    assert message.startswith(expected)
    assert "\n" not in message
    assert stopped.value.returncode == 3
