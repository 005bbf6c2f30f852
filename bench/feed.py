"""Bench line of the feed (issue 25), apart from the per-N runs:

- `GET /api/feed` for a parent with 3 children (6, 30 and 60 months old), in a group
  assigned 5 courses x 10 modules x 20 posts (1,000 posts). A third of the modules and a
  half of the posts carry age ranges (a quarter fitting nobody), the parent completed the
  first 30 posts of the first course: the feed filters by progress, availability,
  visibility and age on every request.

Statements per request (fixed: tests/test_query_counts.py) and req/s as a share of the
SELECT 1 ceiling (through the product's stack), measured in alternation with it (median
of `run.CEILING_ROUNDS` rounds), target >= `SHARE_TARGET`. Its own data set (the tables
are emptied first): `python -m bench.feed` (same database and settings as `make bench`,
whose schema it resets). `python -m bench.instructions feed` counts its instructions on
the data set this leaves.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.seed import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CONTENT_TABLES,
    DEFAULT_URL,
    _at,
    bulk_insert,
    vacuum_analyze,
)
from tma.children.models import Child
from tma.core.identity import email_key, username_key
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.progress.models import PostProgress
from tma.users.models import Role, User

COURSES, MODULES, POSTS = 5, 10, 20
CHILD_AGES_MONTHS = (6, 30, 60)
FEED_PARENT = "bench-feed-parent"
SHARE_TARGET = 0.50
TABLES = (PostProgress, Post, CourseModule, Module, GroupCourse, Course, GroupMember, Group)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, min(day.day, 28))


def dataset(hashed_password: str, role_ids: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """User 1 the admin, user 2 the parent (3 children), group 1 (the parent) assigned
    courses 1..5; course c has modules (c-1)*10+1..c*10, module m posts (m-1)*20+1..m*20.
    Module m is for 0-24 months when m % 3 == 1; post p for 36-72 months when p % 4 == 1,
    for 100-120 months (nobody) when p % 4 == 2."""

    def user(uid: int, username: str, role: str) -> dict[str, Any]:
        return {
            "id": uid,
            "username": username,
            "email": f"{username}@example.test",
            "username_key": username_key(username),
            "email_key": email_key(f"{username}@example.test"),
            "hashed_password": hashed_password,
            "role_id": role_ids[role],
            "email_verified": True,
            "is_active": True,
            "created_at": _at(uid),
            "updated_at": _at(uid),
        }

    today = date.today()
    children = [
        {
            "id": i + 1,
            "user_id": 2,
            "name": f"Child {i + 1}",
            "birth_date": _months_before(today, age) - timedelta(days=1),
            "created_at": _at(i),
            "updated_at": _at(i),
        }
        for i, age in enumerate(CHILD_AGES_MONTHS)
    ]
    courses, links, assigned, modules, posts = [], [], [], [], []
    for c in range(1, COURSES + 1):
        courses.append(
            {"id": c, "title": f"Course {c}", "created_at": _at(c), "updated_at": _at(c)}
        )
        assigned.append({"group_id": 1, "course_id": c, "ordering": c, "date_assigned": _at(c)})
        for m in range((c - 1) * MODULES + 1, c * MODULES + 1):
            ranged = m % 3 == 1
            modules.append(
                {
                    "id": m,
                    "title": f"Module {m}",
                    "min_age_months": 0 if ranged else None,
                    "max_age_months": 24 if ranged else None,
                    "created_at": _at(m),
                    "updated_at": _at(m),
                }
            )
            links.append(
                {
                    "course_id": c,
                    "module_id": m,
                    "ordering": m - (c - 1) * MODULES,
                    "linked_at": _at(m),
                }
            )
            for p in range((m - 1) * POSTS + 1, m * POSTS + 1):
                low, high = {1: (36, 72), 2: (100, 120)}.get(p % 4, (None, None))
                posts.append(
                    {
                        "id": p,
                        "module_id": m,
                        "title": f"Post {p}",
                        "post_type": "default",
                        "content": "Read this.",
                        "ordering": p - (m - 1) * POSTS,
                        "min_age_months": low,
                        "max_age_months": high,
                        "created_at": _at(p),
                        "updated_at": _at(p),
                    }
                )
    progress = [
        {
            "user_id": 2,
            "post_id": p,
            "status": "completed",
            "updated_at": _at(p),
            "completed_at": _at(p),
        }
        for p in range(1, 31)
    ]
    return {
        "users": [user(1, ADMIN_USERNAME, "admin"), user(2, FEED_PARENT, "user")],
        "groups": [
            {
                "id": 1,
                "name": "Feed group",
                "created_by": 1,
                "created_at": _at(1),
                "updated_at": _at(1),
            }
        ],
        "group_members": [
            {
                "group_id": 1,
                "user_id": 2,
                "role": "member",
                "joined_at": _at(2),
                "updated_at": _at(2),
            }
        ],
        "courses": courses,
        "group_courses": assigned,
        "modules": modules,
        "course_module_links": links,
        "posts": posts,
        "post_progress": progress,
        "children": children,
    }


async def seed(engine: AsyncEngine, hashed_password: str) -> int:
    """Empty the tables (roles stay), bulk-load the data set, `VACUUM ANALYZE`; the number
    of posts."""
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM quiz_attempts"))
        await conn.execute(delete(Child))
        for model in TABLES:
            await conn.execute(delete(model))
        await conn.execute(delete(User))
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(hashed_password, role_ids)
        await bulk_insert(
            conn, rows, (*CONTENT_TABLES, (PostProgress, "post_progress"), (Child, "children"))
        )
    await vacuum_analyze(engine)
    return len(rows["posts"])


def measure(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """Seed, serve, count statements, then alternate the feed with the SELECT 1 ceiling."""
    from bench import run

    async def _seed() -> int:
        engine = create_async_engine(url)
        try:
            return await seed(engine, hashed)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    posts = asyncio.run(_seed())
    print(f"feed: seeded {posts} posts in {time.perf_counter() - started:.1f} s", flush=True)
    server = run.Server("bench.server:create_bench_app", url, log)
    ceiling = run.Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        _, body = run.http(
            "POST",
            server.base + "/api/auth/login",
            {"username": FEED_PARENT, "password": ADMIN_PASSWORD},
        )
        spec = {
            "method": "GET",
            "path": "/api/feed",
            "headers": {"Authorization": f"Bearer {body['access_token']}"},
        }
        statements = run.statements_per_request(server, spec)
        paired: dict[str, list[float]] = {"select1": [], "feed": []}
        for _ in range(run.CEILING_ROUNDS):
            paired["select1"].append(
                run.load(ceiling, {"method": "GET", "path": "/select1"}, seconds, "/const").rps
            )
            paired["feed"].append(run.load(server, spec, seconds, "/api/health").rps)
        for name, values in paired.items():
            print(f"  alternated {name:<10}" + " ".join(f"{v:8.1f}" for v in values), flush=True)
        share = statistics.median(paired["feed"]) / statistics.median(paired["select1"])
        return {"posts": posts, "statements": statements, "paired": paired, "share": share}
    finally:
        server.stop()
        ceiling.stop()


# tests/test_query_counts.py: the caller, the children's birth dates, the page with its total.
MAX_STATEMENTS = 3


def targets(block: dict[str, Any]) -> list[Any]:
    """The feed's two target lines (statements fixed and at most `MAX_STATEMENTS`; its share
    of the SELECT 1 ceiling measured in alternation), for `make bench`'s report."""
    from bench.report import Target

    paired = block["paired"]
    return [
        Target(
            "GET /api/feed: statements/request",
            f"{block['statements']:g}",
            f"<= {MAX_STATEMENTS}",
            block["statements"] <= MAX_STATEMENTS,
        ),
        Target(
            "GET /api/feed: share of SELECT 1 ceiling",
            f"{block['share']:.0%} ({statistics.median(paired['feed']):.0f} req/s)",
            f">= {SHARE_TARGET:.0%} (ceiling {statistics.median(paired['select1']):.0f} req/s)",
            block["share"] >= SHARE_TARGET,
        ),
    ]


def main() -> int:
    """`python -m bench.feed`: only this line."""
    from bench.seed import reset_database
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
    seconds = float(os.environ.get("BENCH_SECONDS", "6"))
    log = Path(tempfile.gettempdir()) / "tma-bench-feed-server.log"
    print(f"database: {url}", flush=True)
    asyncio.run(reset_database(url))
    hashed = PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD)
    block = measure(url, seconds, log, hashed)
    ok = block["share"] >= SHARE_TARGET
    print(
        f"GET /api/feed: {block['statements']:g} statements/request, "
        f"{block['share']:.0%} of SELECT 1 (target >= {SHARE_TARGET:.0%}): "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
