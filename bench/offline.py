"""Bench lines of offline use (issue 22), apart from the per-N runs:

- `304 GET /api/courses/{id}`: a parent revalidating the course detail (`If-None-Match`
  with the current tag), target >= 100 % of the SELECT 1 ceiling;
- `GET /api/courses/{id}/bundle`: the bundle of a 10-module x 20-post course (gzip, as a
  phone asks for it), target >= 20 % of SELECT 1;
- `POST /api/progress/sync`: batches of 100 fresh events (50 posts, `in_progress` then
  `completed`) by 100 parents, target >= 10 batches/s;
- the Idempotency-Key layer's cost on an ordinary write (`POST /api/groups` by the admin,
  a new group each time): req/s with a fresh key on every request against req/s without,
  alternated; goal: under 10 % slower.

Ratios are medians of `run.CEILING_ROUNDS` alternations with the SELECT 1 ceiling served
by the product's stack. Statements per request are counted too. Its own data set (the
tables are emptied first): it runs after the other lines in `make bench`, or alone:
`python -m bench.offline` (`--seed`: only load the data set, for the offline cases of
`bench.instructions`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import loadgen
from bench.seed import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CONTENT_TABLES,
    DEFAULT_URL,
    _at,
    bulk_insert,
    vacuum_analyze,
)
from tma.core.identity import email_key, username_key
from tma.users.models import Role

MODULES, POSTS = 10, 20
PARENTS = 100
SYNC_EVENTS = 100
COURSE_ID, GROUP_ID = 1, 1
TARGETS = {
    "304 GET /api/courses/{id}": 1.00,
    "GET /api/courses/{id}/bundle": 0.20,
}
SYNC_TARGET = 10.0  # batches/s
KEY_COST_GOAL = 0.10


def dataset(hashed: str, role_ids: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """An admin, `PARENTS` parents in one group, one course of MODULES x POSTS posts."""

    def user(uid: int, username: str, role: str) -> dict[str, Any]:
        return {
            "id": uid,
            "username": username,
            "username_key": username_key(username),
            "email": f"{username}@bench.test",
            "email_key": email_key(f"{username}@bench.test"),
            "hashed_password": hashed,
            "role_id": role_ids[role],
            "is_active": True,
            "email_verified": False,
            "created_at": _at(uid),
            "updated_at": _at(uid),
        }

    users = [user(1, ADMIN_USERNAME, "admin")]
    users += [user(1 + i, f"parent-{i}", "user") for i in range(1, PARENTS + 1)]
    members = [
        {"group_id": GROUP_ID, "user_id": u["id"], "role": "member", "joined_at": _at(u["id"])}
        for u in users[1:]
    ]
    modules, links, posts = [], [], []
    for m in range(1, MODULES + 1):
        modules.append(
            {"id": m, "title": f"Module {m}", "created_at": _at(m), "updated_at": _at(m)}
        )
        links.append({"course_id": COURSE_ID, "module_id": m, "ordering": m, "linked_at": _at(m)})
        for p in range(1, POSTS + 1):
            pid = (m - 1) * POSTS + p
            posts.append(
                {
                    "id": pid,
                    "module_id": m,
                    "title": f"Post {pid}",
                    "post_type": "default",
                    "content": "A short lesson for a parent on a bus. " * 8,
                    "ordering": p,
                    "created_at": _at(pid),
                    "updated_at": _at(pid),
                }
            )
    return {
        "users": users,
        "groups": [{"id": GROUP_ID, "name": "Bench parents", "created_by": 1}],
        "group_members": members,
        "courses": [{"id": COURSE_ID, "title": "Offline course", "created_at": _at(1)}],
        "group_courses": [{"group_id": GROUP_ID, "course_id": COURSE_ID, "ordering": 0}],
        "modules": modules,
        "course_module_links": links,
        "posts": posts,
    }


async def seed(engine: AsyncEngine, hashed: str) -> None:
    """Empty the tables (roles stay) and bulk-load the data set; VACUUM ANALYZE."""
    async with engine.begin() as conn:
        for table in (
            "idempotency_keys",
            "progress_sync_events",
            "quiz_attempts",
            "post_progress",
            "posts",
            "course_module_links",
            "modules",
            "group_courses",
            "courses",
            "group_members",
            "groups",
            "users",
        ):
            await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(hashed, role_ids)
        await bulk_insert(conn, rows, CONTENT_TABLES)
        if engine.dialect.name == "postgresql":
            for table in ("users", "groups", "courses", "modules", "posts"):
                await conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100000)")
                )
    await vacuum_analyze(engine)


def _sync_body(n: int) -> tuple[dict[str, str], str]:
    """The n-th sync batch: a random parent's 100 fresh events over 50 random posts."""
    rng = random.Random(n)
    posts = rng.sample(range(1, MODULES * POSTS + 1), SYNC_EVENTS // 2)
    batch = uuid.uuid4().hex[:12]
    events = []
    for step, status in enumerate(("in_progress", "completed")):
        for post in posts:
            events.append(
                {
                    "event_id": f"{batch}-{step}-{post}",
                    "post_id": post,
                    "status": status,
                    "occurred_at": "2026-09-01T09:00:00Z",
                }
            )
    return {}, json.dumps({"events": events})


def measure(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """Seed, serve, count statements, then the alternations; the block of docs/offline.md."""
    from bench import run

    async def _seed() -> None:
        engine = create_async_engine(url)
        try:
            await seed(engine, hashed)
        finally:
            await engine.dispose()

    asyncio.run(_seed())
    server = run.Server("bench.server:create_bench_app", url, log)
    ceiling = run.Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        tokens: dict[str, dict[str, str]] = {}
        parents = [f"parent-{i}" for i in range(1, PARENTS + 1)]
        for name in (ADMIN_USERNAME, *parents):
            _, body = run.http(
                "POST",
                server.base + "/api/auth/login",
                {"username": name, "password": ADMIN_PASSWORD},
            )
            tokens[name] = {"Authorization": f"Bearer {body['access_token']}"}
        parent = tokens[parents[0]]
        detail = f"/api/courses/{COURSE_ID}"
        tag = _etag(server.base + detail, parent)
        specs = {
            "304 GET /api/courses/{id}": {
                "method": "GET",
                "path": detail,
                "headers": {**parent, "If-None-Match": tag},
            },
            "GET /api/courses/{id}/bundle": {
                "method": "GET",
                "path": f"/api/courses/{COURSE_ID}/bundle",
                "headers": {**parent, "Accept-Encoding": "gzip"},
            },
        }
        statements = {name: _statements(server, spec) for name, spec in specs.items()}
        paired: dict[str, list[float]] = {"select1": []}
        for _ in range(run.CEILING_ROUNDS):
            res = run.load(ceiling, {"method": "GET", "path": "/select1"}, seconds, "/const")
            paired["select1"].append(res.rps)
            for name, spec in specs.items():
                paired.setdefault(name, []).append(
                    run.load(server, spec, seconds, "/api/health").rps
                )
        for name, values in paired.items():
            print(f"  alternated {name:<30}" + " ".join(f"{v:8.1f}" for v in values), flush=True)

        tokens_cycle = itertools.cycle([tokens[p]["Authorization"] for p in parents])

        def sync_vary(n: int) -> tuple[dict[str, str], str]:
            extra, body = _sync_body(n)
            return {**extra, "Authorization": next(tokens_cycle)}, body

        sync = loadgen.run_varied_load(
            server.base + "/api/progress/sync",
            seconds=seconds,
            method="POST",
            headers={},
            vary=sync_vary,
        )
        print(
            f"  sync of {SYNC_EVENTS} events {sync.rps:8.1f} batches/s"
            f"  p99 {sync.p99_ms:7.1f} ms"
            f"  errors {sync.errors}",
            flush=True,
        )
        sync_statements = _sync_statements(server, tokens[parents[-1]])

        admin = tokens[ADMIN_USERNAME]

        def group_body(n: int) -> str:
            return json.dumps({"name": f"Bench group {uuid.uuid4().hex[:16]}"})

        def keyed(n: int) -> tuple[dict[str, str], str]:
            return {"Idempotency-Key": uuid.uuid4().hex}, group_body(n)

        def plain(n: int) -> tuple[dict[str, str], str]:
            return {}, group_body(n)

        writes: dict[str, list[float]] = {"without key": [], "with key": []}
        for _ in range(run.CEILING_ROUNDS):
            for name, vary in (("without key", plain), ("with key", keyed)):
                server.drain("/api/health")
                res = loadgen.run_varied_load(
                    server.base + "/api/groups",
                    seconds=seconds,
                    method="POST",
                    headers=admin,
                    vary=vary,
                )
                writes[name].append(res.rps)
        for name, values in writes.items():
            print(
                f"  POST /api/groups {name:<13}" + " ".join(f"{v:8.1f}" for v in values), flush=True
            )
        return {
            "statements": statements,
            "paired": paired,
            "sync": {**sync.as_dict(), "statements": sync_statements},
            "writes": writes,
        }
    finally:
        server.stop()
        ceiling.stop()


def _etag(url: str, headers: dict[str, str]) -> str:
    import urllib.request

    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        return str(resp.headers["ETag"])


def _statements(server: Any, spec: dict[str, Any]) -> float:
    """Statements per request (a 304 counts as the request it answers)."""
    import urllib.error
    import urllib.request

    from bench import run

    run.http("POST", server.base + "/__bench/reset")
    samples = 5
    for _ in range(samples):
        req = urllib.request.Request(server.base + spec["path"], headers=spec["headers"])  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                resp.read()
        except urllib.error.HTTPError as exc:  # urllib raises on a 304
            if exc.code != 304:
                raise
    _, stats = run.http("GET", server.base + "/__bench/stats")
    return round(float(stats["statements"]) / samples, 2)


def _sync_statements(server: Any, headers: dict[str, str]) -> float:
    from bench import run

    run.http("POST", server.base + "/__bench/reset")
    _, body = _sync_body(10**6)
    status, _ = run.http("POST", server.base + "/api/progress/sync", json.loads(body), headers)
    assert status == 200
    _, stats = run.http("GET", server.base + "/__bench/stats")
    return float(stats["statements"])


def lines(block: dict[str, Any]) -> list[str]:
    """The report: each line with its measure, its target and whether it holds."""
    out = []
    ceiling = statistics.median(block["paired"]["select1"])
    for name, target in TARGETS.items():
        share = statistics.median(block["paired"][name]) / ceiling
        verdict = "ok" if share >= target else "MISSED"
        out.append(
            f"{name:<30} {share * 100:6.1f} % of SELECT 1 (target >= {target * 100:.0f} %)"
            f"  stmts {block['statements'][name]:g}  {verdict}"
        )
    sync = block["sync"]
    verdict = "ok" if sync["rps"] >= SYNC_TARGET else "MISSED"
    out.append(
        f"{'POST /api/progress/sync (100)':<30} {sync['rps']:6.1f} batches/s (target >= "
        f"{SYNC_TARGET:g})  stmts {sync['statements']:g}  {verdict}"
    )
    plain = statistics.median(block["writes"]["without key"])
    keyed = statistics.median(block["writes"]["with key"])
    cost = 1 - keyed / plain
    verdict = "ok" if cost <= KEY_COST_GOAL else "over the goal"
    out.append(
        f"{'Idempotency-Key on a write':<30} {cost * 100:6.1f} % slower ({keyed:.1f} vs "
        f"{plain:.1f} req/s, goal < {KEY_COST_GOAL * 100:.0f} %)  {verdict}"
    )
    return out


async def _seed_only(url: str, hashed: str) -> None:
    engine = create_async_engine(url)
    try:
        await seed(engine, hashed)
    finally:
        await engine.dispose()


def main() -> int:
    """`python -m bench.offline`: only these lines (same database and settings as `make
    bench`, whose schema it resets)."""
    from bench.seed import reset_database
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
    seconds = float(os.environ.get("BENCH_SECONDS", "6"))
    log = Path(tempfile.gettempdir()) / "tma-bench-server.log"
    print(f"database: {url}", flush=True)
    started = time.perf_counter()
    asyncio.run(reset_database(url))
    hashed = PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD)
    if sys.argv[1:] == ["--seed"]:  # the data set alone, for `bench.instructions`
        asyncio.run(_seed_only(url, hashed))
        print("seeded")
        return 0
    block = measure(url, seconds, log, hashed)
    print()
    report = lines(block)
    for line in report:
        print(line)
    print(f"offline lines in {time.perf_counter() - started:.0f} s")
    return 0 if not any("MISSED" in line for line in report) else 1


if __name__ == "__main__":
    sys.exit(main())
