"""`make notify-crash`: the notification queue's crash test and throughput, on PostgreSQL
and Redis (issue 24).

N parents (default 10,000) are each due a reminder (a course assigned 7 days before the
pass, no activity) and have a push token; a local HTTP receiver stands in for Expo's push
service. Three runs, each from the same state (no notification yet), each on a queue
(Redis stream) of its own:

1. one `tma worker` runs the pass and the N jobs it sends: reminders/s;
2. two `tma worker` processes: reminders/s;
3. the crash: two workers; once a third of the reminders exist, one worker is killed with
   SIGKILL and started again; the jobs it had taken go to another worker after
   `TMA_QUEUE_REDELIVERY_SECONDS` (15 s here).

Each run must end with exactly one reminder per parent (none lost, none twice) and no job
left unacknowledged in the stream; the pushes that arrived are counted (a worker killed
between a push and its record sends that push again once the lease ends: at-least-once;
the count of such repeats is printed). Exit 1 on any lost or doubled reminder, or a
timeout. Only loopback traffic; every wait is bounded.
"""

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tma.core import migrate
from tma.core.config import Settings
from tma.notifications.queue import Queue
from tma.notifications.schedule import LEASE

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tma_notify_crash"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
NOW = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
ASSIGNED = NOW - timedelta(days=8)
REDELIVERY_SECONDS = 15


class Receiver:
    """Expo's push API stand-in: counts messages per token."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                messages = json.loads(self.rfile.read(length))
                with receiver.lock:
                    for message in messages:
                        receiver.counts[message["to"]] += 1
                body = json.dumps({"data": [{"status": "ok"} for _ in messages]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a killed worker's connection reset: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/--/api/v2/push/send"

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


async def prepare(url: str, parents: int) -> None:
    """A fresh schema, migrated; `parents` parents in one group with one course of one
    post, assigned on ASSIGNED; a push token each."""
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        name = make_url(url).database
        exists = await conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if not exists:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        role = await conn.scalar(text("SELECT id FROM roles WHERE name = 'user'"))
        await conn.execute(
            text(
                "INSERT INTO users (username, email, username_key, email_key, hashed_password, "
                "role_id, email_verified, is_active, created_at, updated_at) "
                "SELECT 'parent' || i, 'parent' || i || '@example.org', 'parent' || i, "
                "'parent' || i || '@example.org', 'x', :role, false, true, :at, :at "
                "FROM generate_series(1, :n) AS i"
            ),
            {"role": role, "n": parents, "at": ASSIGNED},
        )
        group = await conn.scalar(
            text(
                "INSERT INTO groups (name, created_at, updated_at) VALUES ('Crash test', :at, :at) "
                "RETURNING id"
            ),
            {"at": ASSIGNED},
        )
        await conn.execute(
            text(
                "INSERT INTO group_members (group_id, user_id, role, joined_at, updated_at) "
                "SELECT :g, id, 'member', :at, :at FROM users"
            ),
            {"g": group, "at": ASSIGNED},
        )
        course = await conn.scalar(
            text(
                "INSERT INTO courses (title, created_at, updated_at) VALUES ('Openings', :at, :at) "
                "RETURNING id"
            ),
            {"at": ASSIGNED},
        )
        module = await conn.scalar(
            text(
                "INSERT INTO modules (title, created_at, updated_at) VALUES ('Week 1', :at, :at) "
                "RETURNING id"
            ),
            {"at": ASSIGNED},
        )
        await conn.execute(
            text(
                "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
                "VALUES (:c, :m, 1, :at)"
            ),
            {"c": course, "m": module, "at": ASSIGNED},
        )
        await conn.execute(
            text(
                "INSERT INTO posts (module_id, title, post_type, ordering, created_at, updated_at) "
                "VALUES (:m, 'Hello', 'default', 1, :at, :at)"
            ),
            {"m": module, "at": ASSIGNED},
        )
        await conn.execute(
            text(
                "INSERT INTO group_courses (group_id, course_id, ordering, date_assigned, "
                "start_date) VALUES (:g, :c, 0, :at, :day)"
            ),
            {"g": group, "c": course, "at": ASSIGNED, "day": ASSIGNED.date()},
        )
        await conn.execute(
            text(
                "INSERT INTO push_tokens (user_id, token, created_at) "
                "SELECT id, 'ExponentPushToken[p' || id || ']', :at FROM users"
            ),
            {"at": ASSIGNED},
        )
    await engine.dispose()


async def scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


@dataclass
class Outcome:
    reminders: int
    distinct: int
    seconds: float
    pushes: int
    repeated_pushes: int
    unacknowledged: int
    killed_at: int | None = None
    follow_up: int | None = None  # pushes sent by the pass after the lease, if one ran


def outcome_pushes(counts: Counter[str]) -> int:
    return sum(counts.values())


def start_worker(env: dict[str, str], log: Path, *, schedule: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tma.cli", "worker", "--concurrency", "20"]
    if not schedule:
        args.append("--no-schedule")
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


async def unacknowledged(redis_url: str, stream: str) -> int:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        info = await client.xpending(stream, stream)
        return int(info["pending"])
    finally:
        await client.aclose()


async def cleanup(redis_url: str, name: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{name}*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def run(
    url: str,
    redis_url: str,
    parents: int,
    workers: int,
    receiver: Receiver,
    *,
    crash: bool,
    limit_seconds: float,
    logs: Path,
) -> Outcome:
    """One run from the state `prepare` left (notifications deleted first)."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM notifications"))
    await engine.dispose()
    receiver.reset()
    name = f"tma-crash-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMA_")}
    env.update(
        TMA_DATABASE_URL=url,
        TMA_SECRET_KEY=secrets.token_urlsafe(48),
        TMA_QUEUE_URL=redis_url,
        TMA_QUEUE_NAME=name,
        TMA_QUEUE_REDELIVERY_SECONDS=str(REDELIVERY_SECONDS),
        TMA_NOTIFY_INTERVAL_MINUTES="0",
        TMA_EXPO_PUSH_URL=receiver.url,
        TMA_LOG_LEVEL="WARNING",
        TMA_DB_POOL_SIZE="25",
    )
    settings = Settings(
        database_url=url, queue_url=redis_url, queue_name=name, notify_interval_minutes=0
    )
    count_sql = "SELECT count(*) FROM notifications WHERE kind = 'reminder'"
    log = logs / f"{name}.log"
    # The workers first (a consumer group reads only what is added after it exists).
    processes = [start_worker(env, log, schedule=i == 0) for i in range(workers)]
    killed_at: int | None = None
    follow_up: int | None = None
    try:
        await asyncio.sleep(3)
        queue = Queue(settings)
        await queue.start()
        started = time.monotonic()
        await queue.run_pass(NOW)
        deadline = started + limit_seconds
        done = 0
        seconds = 0.0
        while True:
            done = int(await scalar(url, count_sql))
            if crash and killed_at is None and done >= parents // 3:
                victim = processes[-1]
                victim.send_signal(signal.SIGKILL)
                victim.wait(30)
                killed_at = done
                processes[-1] = start_worker(env, log, schedule=False)
            if done >= parents and await unacknowledged(redis_url, name) == 0:
                seconds = seconds or time.monotonic() - started
                if sum(receiver.counts.values()) >= parents:
                    break
                if follow_up is None:
                    # A delivery leased by the killed worker and not sent: the next pass
                    # after the lease (5 min of schedule time) sends it.
                    follow_up = sum(receiver.counts.values())
                    await queue.run_pass(NOW + LEASE + timedelta(minutes=1))
            if time.monotonic() > deadline:
                print(f"timeout after {limit_seconds:.0f} s: {done} reminders; log {log}")
                seconds = seconds or time.monotonic() - started
                break
            await asyncio.sleep(0.2)
        await queue.stop()
        await asyncio.sleep(1)  # anything sent twice arrives now
    finally:
        for process in processes:
            stop(process)
    distinct = int(
        await scalar(
            url, "SELECT count(DISTINCT user_id) FROM notifications WHERE kind = 'reminder'"
        )
    )
    counts = receiver.counts
    outcome = Outcome(
        reminders=done,
        distinct=distinct,
        seconds=seconds,
        pushes=sum(counts.values()),
        repeated_pushes=sum(c - 1 for c in counts.values() if c > 1),
        unacknowledged=await unacknowledged(redis_url, name),
        killed_at=killed_at,
        follow_up=None if follow_up is None else outcome_pushes(counts) - follow_up,
    )
    await cleanup(redis_url, name)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("TMA_CRASH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("TMA_CRASH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--parents", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run at most")
    parser.add_argument("--crash-only", action="store_true", help="skip the two throughput runs")
    args = parser.parse_args()

    asyncio.run(prepare(args.database_url, args.parents))
    receiver = Receiver()
    logs = Path(tempfile.mkdtemp(prefix="tma-notify-crash-"))
    plan = [] if args.crash_only else [("1 worker", 1, False), ("2 workers", 2, False)]
    plan.append(("2 workers, one SIGKILLed and restarted", 2, True))
    failed = False
    for label, workers, crash in plan:
        outcome = asyncio.run(
            run(
                args.database_url,
                args.redis_url,
                args.parents,
                workers,
                receiver,
                crash=crash,
                limit_seconds=args.timeout,
                logs=logs,
            )
        )
        rate = outcome.reminders / outcome.seconds if outcome.seconds else 0.0
        killed = f", killed at {outcome.killed_at}" if outcome.killed_at is not None else ""
        if outcome.follow_up is not None:
            killed += f", {outcome.follow_up} pushes by the pass after the lease"
        print(
            f"{label}: {outcome.reminders} reminders for {outcome.distinct} of {args.parents} "
            f"parents in {outcome.seconds:.1f} s ({rate:.0f} reminders/s){killed}; "
            f"{outcome.pushes} pushes ({outcome.repeated_pushes} repeated); "
            f"{outcome.unacknowledged} jobs unacknowledged",
            flush=True,
        )
        exact = outcome.reminders == outcome.distinct == args.parents
        if not exact or outcome.unacknowledged or outcome.pushes < args.parents:
            print(f"FAIL: {label}: not exactly one reminder per parent (logs in {logs})")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
