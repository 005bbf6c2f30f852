"""The real server (`tma serve`, uvicorn, subprocesses on 127.0.0.1): two processes sharing
one Redis limiter, the connection timeouts and bound, and the one log line of a 500.

Fixtures used: `tmp_path_factory`, `redis_url` (conftest.py: TMA_TEST_REDIS_URL, mandatory
in CI). Helpers: tests/servers.py. Every socket is loopback, every wait bounded.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from servers import Server, migrated_sqlite, running_server, server_env
from tma.auth.throttle import LOGIN_LOCKED
from tma.core.ratelimit import RateLimiter

KEEP_ALIVE = 1
HEADERS = 2
BODY = 2
CONCURRENCY = 20


async def read_until_closed(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took;
    TimeoutError if it is still open after `within` seconds."""
    started = time.monotonic()
    data = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            data += chunk
    return data, time.monotonic() - started


@pytest_asyncio.fixture(scope="module")
async def limited_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """`tma serve` with short timeouts and a bound of 20 connections."""
    directory = tmp_path_factory.mktemp("limited")
    env = server_env(
        await migrated_sqlite(directory),
        timeout_keep_alive=str(KEEP_ALIVE),
        timeout_headers=str(HEADERS),
        timeout_body=str(BODY),
        limit_concurrency=str(CONCURRENCY),
    )
    async with running_server(env, directory / "server.log") as server:
        yield server


# --- two processes, one Redis limiter ------------------------------------------------------


@pytest.mark.asyncio
async def test_login_across_two_server_processes_on_one_redis_returns_429_after_5_failures(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
) -> None:
    """Two `tma serve` processes (as two machines) on one database and one Redis limiter:
    5 failed logins spread over both, then both answer 429 with `Retry-After`, even to the
    right password. (With the memory storage each process would allow its own 5.)"""
    directory = tmp_path_factory.mktemp("two")
    prefix = f"tma-test-{uuid.uuid4().hex}"
    env = server_env(
        await migrated_sqlite(directory), rate_limit_storage=redis_url, rate_limit_key_prefix=prefix
    )
    async with (
        running_server(env, directory / "a.log") as a,
        running_server(env, directory / "b.log") as b,
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as first,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as second,
    ):
        body = {"username": "walker", "email": "walker@test.com", "password": "right-pass"}
        assert (await first.post("/api/auth/register", json=body)).status_code == 201
        wrong = {"username": "walker", "password": "wrong-pass"}
        failures = [
            (await (first, second)[n % 2].post("/api/auth/login", json=wrong)).status_code
            for n in range(5)
        ]
        right = {"username": "walker", "password": "right-pass"}
        refused = [await http.post("/api/auth/login", json=right) for http in (first, second)]
    await RateLimiter(redis_url, prefix).reset()

    assert failures == [401] * 5
    assert [r.status_code for r in refused] == [429, 429]
    assert [r.json() for r in refused] == [{"detail": LOGIN_LOCKED}] * 2
    assert all(1 <= int(r.headers["Retry-After"]) <= 300 for r in refused)


# --- connections that never close ----------------------------------------------------------


@pytest.mark.asyncio
async def test_serve_first_line_is_the_url_it_listens_on(limited_server: Server) -> None:
    """`tma serve` says where it listens, once it does: its first line is the URL and where
    the docs are (uvicorn's own start-up lines stay quiet at level warning)."""
    response = await asyncio.to_thread(httpx.get, f"{limited_server.base_url}/api/health")

    assert response.status_code == 200
    assert limited_server.log_lines()[0] == (
        f"TMA backend listening on http://127.0.0.1:{limited_server.port} (docs: /docs)"
    )


@pytest.mark.asyncio
async def test_idle_keep_alive_connection_is_closed_after_the_timeout(
    limited_server: Server,
) -> None:
    """After a response, a keep-alive connection left idle is closed after
    `TMA_TIMEOUT_KEEP_ALIVE` (1 s here)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", limited_server.port)
    try:
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n")
        await writer.drain()
        data, elapsed = await read_until_closed(reader, within=KEEP_ALIVE + 4)
    finally:
        writer.close()

    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.count(b"HTTP/1.1 ") == 1
    assert data.endswith(b'{"status":"ok","database":"ok"}')
    assert KEEP_ALIVE - 0.2 <= elapsed < KEEP_ALIVE + 4


@pytest.mark.asyncio
async def test_connection_that_sends_nothing_is_closed_after_the_headers_timeout(
    limited_server: Server,
) -> None:
    """A connection that never sends a byte is closed after `TMA_TIMEOUT_HEADERS` (2 s)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", limited_server.port)
    try:
        data, elapsed = await read_until_closed(reader, within=HEADERS + 4)
    finally:
        writer.close()

    assert data == b""
    assert HEADERS - 0.2 <= elapsed < HEADERS + 4


@pytest.mark.asyncio
async def test_200_idle_connections_are_all_closed_after_the_headers_timeout(
    limited_server: Server,
) -> None:
    """The measurement of the issue: 200 connections opened and left idle (they used to
    stay open forever) are all closed by the server within `TMA_TIMEOUT_HEADERS` (2 s)
    plus a margin."""
    opened = [await asyncio.open_connection("127.0.0.1", limited_server.port) for _ in range(200)]
    started = time.monotonic()
    try:
        results = await asyncio.gather(
            *(read_until_closed(reader, within=HEADERS + 6) for reader, _ in opened)
        )
    finally:
        for _, writer in opened:
            writer.close()

    assert [data for data, _ in results] == [b""] * 200
    assert time.monotonic() - started < HEADERS + 6


@pytest.mark.asyncio
async def test_slow_headers_are_cut_after_the_headers_timeout(limited_server: Server) -> None:
    """Headers sent one line every 0.4 s (a slowloris) are cut when the head is not complete
    `TMA_TIMEOUT_HEADERS` (2 s) after the connection opened, though bytes keep coming."""
    reader, writer = await asyncio.open_connection("127.0.0.1", limited_server.port)

    async def dribble() -> None:
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: test\r\n")
        for n in range(40):
            await asyncio.sleep(0.4)
            if writer.is_closing():
                return
            writer.write(f"X-Slow-{n}: 1\r\n".encode())
            try:
                await writer.drain()
            except ConnectionError:
                return

    sender = asyncio.create_task(dribble())
    try:
        data, elapsed = await read_until_closed(reader, within=HEADERS + 4)
    finally:
        sender.cancel()
        writer.close()

    assert data == b""
    assert HEADERS - 0.2 <= elapsed < HEADERS + 4


@pytest.mark.asyncio
async def test_login_slow_body_returns_408_and_closes(limited_server: Server) -> None:
    """A body that stops arriving (here 10 of 100 announced bytes) gets 408 after
    `TMA_TIMEOUT_BODY` (2 s), and the connection is closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", limited_server.port)
    try:
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"usernam'
        )
        await writer.drain()
        data, elapsed = await read_until_closed(reader, within=BODY + 4)
    finally:
        writer.close()

    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(body) == {"detail": f"Request body not received within {BODY} seconds"}
    assert BODY - 0.2 <= elapsed < BODY + 4


@pytest.mark.asyncio
async def test_connections_past_the_bound_get_503(limited_server: Server) -> None:
    """`TMA_LIMIT_CONCURRENCY` (20 here) bounds one worker: with 25 connections open a
    request is refused with uvicorn's 503; once they are closed a new one is served."""
    opened = [
        await asyncio.open_connection("127.0.0.1", limited_server.port)
        for _ in range(CONCURRENCY + 5)
    ]
    try:
        reader, writer = opened[-1]
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        await writer.drain()
        refused, _ = await read_until_closed(reader, within=5)
    finally:
        for _, w in opened:
            w.close()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=limited_server.base_url, timeout=5) as http:
        served = await http.get("/api/health")

    assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert refused.endswith(b"Service Unavailable")
    assert served.status_code == 200
    assert served.json() == {"status": "ok", "database": "ok"}


# --- one log line per request, also for a 500 ----------------------------------------------


@pytest.mark.asyncio
async def test_unexpected_error_returns_500_logged_as_one_json_line_with_the_trace(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """On the real server an unexpected error answers 500 `Internal server error` and is
    logged once: one JSON line (level ERROR, the request's fields, the trace inside `exc`),
    no second plain multi-line copy from uvicorn; every line of the log is JSON."""
    directory = tmp_path_factory.mktemp("failure")
    env = server_env(await migrated_sqlite(directory), log_level="INFO")
    async with (
        running_server(env, directory / "server.log", app="test") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        response = await http.get("/api/test-failure", headers={"X-Request-ID": "fail-1"})
        lines = await server.log_lines_with('"request_id": "fail-1"')

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    mine = [r for r in records if r.get("request_id") == "fail-1"]
    assert len(mine) == 1
    line = mine[0]
    assert (line["level"], line["status"], line["route"]) == ("ERROR", 500, "/api/test-failure")
    assert line["error"] == "builtins.RuntimeError"
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert line["exc"].endswith("RuntimeError: an unexpected failure for the test")
    assert sum("Traceback" in text for text in lines) == 1
