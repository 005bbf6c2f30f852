"""Real servers for the tests that need sockets, processes or the server's own log.

`running_server(env)` starts `tma serve` (or `tests/server_app.py`) in a subprocess on a
free loopback port with the given `TMA_*` settings, waits until it answers, and stops it
afterwards. Everything is bounded in time; nothing listens beyond 127.0.0.1.
"""

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tma.core import migrate

SERVER_APP = Path(__file__).with_name("server_app.py")
START_SECONDS = 60


@dataclass
class Server:
    base_url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def log_lines(self) -> list[str]:
        """The log's complete lines: a last line without its newline yet is one the server
        is still writing (a long record, a traceback, goes out in several writes), left for
        the next read rather than handed over cut."""
        text = self.log.read_text(errors="replace")
        return text[: text.rfind("\n") + 1].splitlines()

    async def log_lines_with(self, *needles: str, within: float = 15) -> list[str]:
        """The log's lines once every needle is in it (the server writes a request's line
        after sending the response, so it may come a moment after the answer)."""
        deadline = time.monotonic() + within
        lines = self.log_lines()
        while not all(any(n in line for line in lines) for n in needles):
            if time.monotonic() > deadline:
                raise AssertionError(f"not logged within {within} s: {needles}\n{lines[-20:]}")
            await asyncio.sleep(0.1)
            lines = self.log_lines()
        return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def migrated_sqlite(directory: Path) -> str:
    """A migrated SQLite database file in `directory`; its URL."""
    url = f"sqlite+aiosqlite:///{directory / 'server.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server: this one's, minus any TMA_* setting, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMA_")}
    env.update(
        TMA_DATABASE_URL=database_url,
        TMA_SECRET_KEY=secrets.token_urlsafe(48),
        TMA_PASSWORD_HASH_TIME_COST="1",
        TMA_PASSWORD_HASH_MEMORY_KIB="8",
        TMA_LOG_LEVEL="WARNING",
    )
    env.update({f"TMA_{name.upper()}": value for name, value in settings.items()})
    return env


@asynccontextmanager
async def running_server(
    env: dict[str, str], log: Path, *, app: str = "tma", ready_status: int = 200
) -> AsyncIterator[Server]:
    """`app="tma"`: `tma serve`; `app="test"`: tests/server_app.py (the app plus a route
    that fails). Ready when GET /api/health answers `ready_status`."""
    port = free_port()
    if app == "tma":
        cmd = [sys.executable, "-m", "tma.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [sys.executable, str(SERVER_APP), str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603, ASYNC220
    server = Server(f"http://127.0.0.1:{port}", port, log, process)
    try:
        await _wait_ready(server, ready_status)
        yield server
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 15)


async def _wait_ready(server: Server, status: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited at start: {server.log.read_text()[-2000:]}")
            try:
                if (await http.get("/api/health")).status_code == status:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready in {START_SECONDS} s: {server.log.read_text()[-2000:]}")
