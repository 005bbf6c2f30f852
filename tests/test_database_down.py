"""The database going away under a running server (PostgreSQL): every endpoint answers 503
`database unavailable` with `Retry-After`, each such request is logged once as one JSON
line with the error's class and no trace, an unexpected error meanwhile is one JSON line
with its trace, and the server recovers without a restart when the database is back.

The server (tests/server_app.py: the app as `tma serve` runs it plus a failing route) runs
on a scratch database `<suite database>_down`, created and dropped here; the database is
taken down by refusing new connections and terminating that database's backends only.
Needs TMA_TEST_DATABASE_URL=postgresql+asyncpg://... (CI sets it), else skipped.
"""

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servers import running_server, server_env
from tma.core import migrate

PG_ENV = "TMA_TEST_DATABASE_URL"


async def pg_admin(url: str, *statements: str) -> None:
    """Run statements on the server's `postgres` database (autocommit)."""
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def scratch_pg() -> AsyncIterator[tuple[str, str]]:
    """(URL, name) of a migrated scratch PostgreSQL database that exists for this test."""
    pg = os.environ.get(PG_ENV, "")
    if not pg.startswith("postgresql"):
        pytest.skip(f"needs {PG_ENV}=postgresql+asyncpg://... (CI sets it)")
    name = f"{make_url(pg).database}_down"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    await pg_admin(pg, drop, f'CREATE DATABASE "{name}"')
    url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url, name
    finally:
        await pg_admin(pg, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', drop)


@pytest.mark.asyncio
async def test_every_endpoint_database_down_returns_503_then_recovers(
    scratch_pg: tuple[str, str], tmp_path: Path
) -> None:
    """Connections killed mid-run and new ones refused: health, login, register, the
    caller, lists, a write all answer 503 `{"detail": "database unavailable"}` with
    `Retry-After: 5`; each is one WARNING JSON line naming the error's class, without a
    trace; a 500 meanwhile is one ERROR line with the trace inside. Connections allowed
    again: the same server answers 200 again, no restart."""
    url, name = scratch_pg
    env = server_env(url, log_level="INFO", db_pool_size="3", db_max_overflow="0")
    async with (
        running_server(env, tmp_path / "server.log", app="test") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        body = {"username": "patient", "email": "patient@test.com", "password": "patient-pass"}
        assert (await http.post("/api/auth/register", json=body)).status_code == 201
        login = {"username": "patient", "password": "patient-pass"}
        token = (await http.post("/api/auth/login", json=login)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/groups", headers=auth)).status_code == 200

        await pg_admin(
            url,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        calls = [
            ("GET", "/api/health", None, {}),
            ("GET", "/api/auth/me", None, auth),
            ("GET", "/api/groups", None, auth),
            ("GET", "/api/courses", None, auth),
            ("POST", "/api/groups", {"name": "Down", "description": ""}, auth),
            ("POST", "/api/auth/login", login, {}),
            ("POST", "/api/auth/register", {**body, "username": "late", "email": "l@test.com"}, {}),
            ("GET", "/api/health", None, {}),
        ]
        down = []
        for n, (method, path, payload, headers) in enumerate(calls):
            response = await http.request(
                method, path, json=payload, headers={**headers, "X-Request-ID": f"down-{n}"}
            )
            down.append(response)
        failure = await http.get("/api/test-failure", headers={"X-Request-ID": "fail-1"})

        await pg_admin(url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 15
        back = await http.get("/api/auth/me", headers=auth)
        while back.status_code != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            back = await http.get("/api/auth/me", headers=auth)
        edited = await http.patch("/api/auth/me", json={"first_name": "Back"}, headers=auth)
        needles = [f'"request_id": "down-{n}"' for n in range(len(calls))]
        lines = await server.log_lines_with(*needles, '"request_id": "fail-1"')

    assert [r.status_code for r in down] == [503] * len(calls)
    assert all(r.json() == {"detail": "database unavailable"} for r in down)
    assert all(r.headers["Retry-After"] == "5" for r in down)
    records = [json.loads(line) for line in lines]  # every line of the log is JSON
    for n, (method, path, _, _) in enumerate(calls):
        mine = [r for r in records if r.get("request_id") == f"down-{n}"]
        assert len(mine) == 1, (n, mine)
        assert (mine[0]["level"], mine[0]["status"]) == ("WARNING", 503)
        assert (mine[0]["method"], mine[0]["route"]) == (method, path)
        assert mine[0]["message"] == "request: database unavailable"
        assert mine[0]["error"].rsplit(".", 1)[-1].endswith(("Error", "Exception"))
        assert "exc" not in mine[0]
    failed = [r for r in records if r.get("request_id") == "fail-1"]
    assert failure.status_code == 500
    assert failure.json() == {"detail": "Internal server error"}
    assert len(failed) == 1
    assert failed[0]["level"] == "ERROR"
    assert failed[0]["exc"].startswith("Traceback (most recent call last):")
    assert sum("Traceback" in line for line in lines) == 1
    assert back.status_code == 200
    assert back.json()["username"] == "patient"
    assert edited.status_code == 200
    assert edited.json()["first_name"] == "Back"
