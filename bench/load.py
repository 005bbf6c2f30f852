"""`make load`: a bounded mixed workload against the real server on PostgreSQL.

Starts `tma serve` with several uvicorn workers on 127.0.0.1 against its own database
(`tma_load`, created if missing, migrated, sample data loaded afresh) and the Redis rate
limiter shared by the workers (`--rate-limit-storage`, default redis://127.0.0.1:6379/0,
keys under a prefix of this run, deleted at the end), then runs N clients
(default 50, httpx async) for a fixed time (default 60 s): logins with correct passwords,
list and detail reads, creates (groups, registrations) and membership changes. It reports
requests/s, p50/p95/p99 latency and errors, then reads back every write that was answered
201 (and every membership it left in place) and fails on any 5xx, transport error,
unexpected status or lost write. Only loopback traffic; every loop is bounded in time.
"""

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tma.core import migrate
from tma.core.config import Settings
from tma.core.db import Database
from tma.core.ratelimit import RateLimiter
from tma.core.security import PasswordHasher
from tma.seed import loader

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tma_load"
DEFAULT_RATE_LIMIT_STORAGE = "redis://127.0.0.1:6379/0"
ROLES = ("admin", "manager", "user")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_op: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    created_groups: list[int] = field(default_factory=list)
    created_users: list[int] = field(default_factory=list)
    # (group id, user id) -> present? for memberships this run changed and answered 2xx.
    memberships: dict[tuple[int, int], bool] = field(default_factory=dict)


async def prepare_database(url: str) -> list[int]:
    """Create the database if missing, migrate it, load the sample data; the user ids."""
    admin_url = make_url(url).set(database="postgres")
    name = make_url(url).database
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(database_url=url)
    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            await loader.reset(session, settings=settings)
            await loader.load(session, hasher=PasswordHasher(settings), settings=settings)
            rows = await session.execute(text("SELECT id FROM users ORDER BY id"))
            return [int(r[0]) for r in rows]
    finally:
        await db.dispose()


def start_server(
    url: str, port: int, workers: int, log: Path, storage: str, prefix: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TMA_DATABASE_URL": url,
        "TMA_SECRET_KEY": secrets.token_urlsafe(48),
        "TMA_LOG_LEVEL": "WARNING",
        "TMA_DB_POOL_SIZE": "10",
        "TMA_DB_MAX_OVERFLOW": "5",
        "TMA_RATE_LIMIT_STORAGE": storage,
        "TMA_RATE_LIMIT_KEY_PREFIX": prefix,
        # Every simulated person connects from 127.0.0.1 and a third of them share each
        # sample account: one client address (and one username) for the limiter, so the
        # per-client registration limit and the login attempts per (client, username)
        # (a slot is held while a login is in flight) are raised for this run.
        "TMA_REGISTER_MAX_PER_CLIENT": "1000000",
        "TMA_LOGIN_MAX_FAILURES": "1000",
    }
    cmd = [sys.executable, "-m", "tma.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*cmd, "--workers", str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("the server exited during start-up")
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready")


class Client:
    """One simulated person: logs in, then reads and writes until the deadline."""

    def __init__(self, n: int, base: str, user_ids: list[int], stats: Stats) -> None:
        self.n = n
        self.role = ROLES[n % len(ROLES)]
        self.rng = random.Random(n)  # deterministic choice of operations per client
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.user_ids = user_ids
        self.stats = stats
        self.headers: dict[str, str] = {}
        self.my_groups: list[int] = []
        self.seq = 0

    async def call(
        self, op: str, method: str, url: str, ok: set[int], **kw: object
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, headers=self.headers, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.stats.errors.append(f"{op}: {type(exc).__name__}: {exc}")
            return None
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.by_op[op] += 1
        self.stats.statuses[response.status_code] += 1
        if response.status_code not in ok:
            self.stats.errors.append(
                f"{op} {method} {url}: {response.status_code} {response.text[:200]}"
            )
            return None
        return response

    async def login(self) -> None:
        body = {"username": self.role, "password": loader.SAMPLE_PASSWORD}
        response = await self.call("login", "POST", "/api/auth/login", {200}, json=body)
        if response is not None:
            self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def unique(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.n}-{self.seq}-{secrets.token_hex(3)}"

    async def step(self) -> None:
        r = self.rng.random()
        # Password hashing (argon2 at the production cost) is by far the dearest operation;
        # logins and registrations are a small share, as in real use.
        if r < 0.01:
            await self.login()
        elif r < 0.30:
            await self.call("list groups", "GET", "/api/groups?limit=50", {200})
        elif r < 0.45:
            await self.read_group()
        elif r < 0.60:
            await self.call("list courses", "GET", "/api/courses", {200})
        elif r < 0.66:
            await self.call("me", "GET", "/api/auth/me", {200})
        elif r < 0.68:
            await self.register()
        elif self.role == "user":
            await self.read_group()
        elif r < 0.80 or not self.my_groups:
            await self.create_group()
        else:
            await self.change_membership()

    async def read_group(self) -> None:
        listing = await self.call("list groups", "GET", "/api/groups?limit=20", {200})
        if listing is not None and listing.json():
            group_id = self.rng.choice(listing.json())["id"]
            # A parent may be removed from the group by a manager between the two reads.
            ok = {200, 403} if self.role == "user" else {200}
            await self.call("group detail", "GET", f"/api/groups/{group_id}", ok)

    async def register(self) -> None:
        name = self.unique("load")
        body = {"username": name, "email": f"{name}@load.example", "password": "load-pass-1"}
        response = await self.call("register", "POST", "/api/auth/register", {201}, json=body)
        if response is not None:
            self.stats.created_users.append(response.json()["id"])

    async def create_group(self) -> None:
        body = {"name": self.unique("Load group"), "description": "made by the load test"}
        response = await self.call("create group", "POST", "/api/groups", {201}, json=body)
        if response is not None:
            group_id = response.json()["id"]
            self.my_groups.append(group_id)
            self.stats.created_groups.append(group_id)

    async def change_membership(self) -> None:
        # Only this client changes its own groups, so it knows what each answer must be.
        group_id = self.rng.choice(self.my_groups)
        user_id = self.rng.choice(self.user_ids)
        key = (group_id, user_id)
        url = f"/api/groups/{group_id}/members/{user_id}"
        if self.stats.memberships.get(key):
            if await self.call("remove member", "DELETE", url, {204}) is not None:
                self.stats.memberships[key] = False
        elif user_id != self.my_user_id:
            added = await self.call("add member", "POST", url, {201})
            self.stats.memberships[key] = added is not None or self.stats.memberships.get(
                key, False
            )

    async def run(self, deadline: float) -> None:
        await self.login()
        me = await self.call("me", "GET", "/api/auth/me", {200})
        self.my_user_id = me.json()["id"] if me is not None else 0
        try:
            while time.monotonic() < deadline:
                await self.step()
        finally:
            await self.http.aclose()


async def verify(base: str, stats: Stats) -> list[str]:
    """Every 201 is readable, every membership left in place is there, the rest is gone."""
    lost: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        body = {"username": "admin", "password": loader.SAMPLE_PASSWORD}
        token = (await http.post("/api/auth/login", json=body)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        for user_id in stats.created_users:
            if (await http.get(f"/api/users/{user_id}")).status_code != 200:
                lost.append(f"user {user_id}")
        for group_id in stats.created_groups:
            response = await http.get(f"/api/groups/{group_id}")
            if response.status_code != 200:
                lost.append(f"group {group_id}")
                continue
            members = {m["user_id"] for m in response.json()["members"]}
            for (gid, uid), present in stats.memberships.items():
                if gid == group_id and (uid in members) != present:
                    lost.append(f"membership {gid}/{uid} expected {'in' if present else 'out'}")
    return lost


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index] * 1000


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--database-url", default=os.environ.get("TMA_LOAD_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument(
        "--rate-limit-storage",
        default=os.environ.get("TMA_LOAD_RATE_LIMIT_STORAGE", DEFAULT_RATE_LIMIT_STORAGE),
        help="memory:// (each worker counts alone) or a redis:// URL (shared)",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("make load runs on PostgreSQL: give a postgresql+asyncpg:// URL")

    user_ids = await prepare_database(args.database_url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"tma-load-{port}.log"
    prefix = f"tma-load-{secrets.token_hex(6)}"
    proc = start_server(args.database_url, port, args.workers, log, args.rate_limit_storage, prefix)
    stats = Stats()
    try:
        await wait_ready(base, proc)
        clients = [Client(n, base, user_ids, stats) for n in range(args.clients)]
        started = time.monotonic()
        await asyncio.gather(*(c.run(started + args.seconds) for c in clients))
        elapsed = time.monotonic() - started
        lost = await verify(base, stats)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await RateLimiter(args.rate_limit_storage, prefix).reset()

    latencies = sorted(stats.latencies)
    total = len(latencies)
    server_errors = sum(n for status, n in stats.statuses.items() if status >= 500)
    storage = "Redis" if args.rate_limit_storage.startswith("redis") else "memory"
    print(
        f"load: {args.clients} clients, {args.workers} workers, {elapsed:.1f} s, PostgreSQL, "
        f"rate limiter in {storage}"
    )
    print(f"requests: {total}  ({total / elapsed:.1f} requests/s)")
    if latencies:
        p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
        worst = latencies[-1] * 1000
        print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {worst:.1f}")
        print(f"mean ms: {statistics.fmean(latencies) * 1000:.1f}")
    print("by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(stats.by_op.items())))
    print("statuses: " + ", ".join(f"{s} x{n}" for s, n in sorted(stats.statuses.items())))
    print(
        f"writes checked: {len(stats.created_groups)} groups, {len(stats.created_users)} users, "
        f"{len(stats.memberships)} memberships"
    )
    print(f"errors: {len(stats.errors)} (5xx: {server_errors})  lost writes: {len(lost)}")
    for line in (stats.errors + lost)[:20]:
        print(f"  {line}")
    if "Traceback" in log.read_text(errors="replace"):
        print(f"server log has tracebacks: {log}")
        return 1
    return 1 if stats.errors or lost or server_errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
