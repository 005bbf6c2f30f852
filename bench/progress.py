"""Bench lines of quizzes and progress (issue 11), apart from the per-N runs:

- `GET /api/progress` for a parent with 10 courses x 10 modules x 10 posts (1,000 posts),
  half of them completed;
- `GET /api/groups/{id}/progress` (as the admin) for a group of 50 members x 5 courses of
  100 posts each, every member with some progress.

Both: statements per request, and req/s as a share of the SELECT 1 ceiling (through the
product's stack), measured in alternation with it (median of `run.CEILING_ROUNDS` rounds),
target >= `SHARE_TARGET`. Its own data set (the tables are emptied first), so it runs after
the per-N runs in `make bench`, or alone: `python -m bench.progress`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
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
from tma.core.identity import email_key, username_key
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.progress.models import PostProgress
from tma.users.models import Role, User

COURSES, MODULES, POSTS = 10, 10, 10  # the parent's courses, modules per course, posts each
GROUP_MEMBERS, GROUP_COURSES = 50, 5  # the group view: members x courses
PROGRESS_GROUP = 2  # the id of that group ("Progress group 2")
PARENT_USERNAME = "bench-parent"
PARENT_PASSWORD = ADMIN_PASSWORD
SHARE_TARGET = 0.40
ENDPOINTS = ("GET /api/progress", "GET /api/groups/{id}/progress")

TABLES = (
    PostProgress,
    Post,
    CourseModule,
    Module,
    GroupCourse,
    Course,
    GroupMember,
    Group,
    User,
)


@dataclass(frozen=True)
class ProgressSeeded:
    posts: int
    progress_rows: int
    group_id: int
    members: int


def dataset(hashed_password: str, role_ids: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Rows of the progress data set, per table, ids explicit. User 1 the admin, user 2 the
    parent, users 3..51 the other members. Group 1 (the parent alone) has all 10 courses;
    group 2 (the 50 members, owner the parent) has the first 5. Course c has modules
    (c-1)*10+1..c*10, module m posts (m-1)*10+1..m*10. The parent completed every other
    post; member k (k = 2..51) the first (k * 7) % 100 posts of each of the first 5 courses."""

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

    users = [user(1, ADMIN_USERNAME, "admin"), user(2, PARENT_USERNAME, "user")]
    users += [user(uid, f"member{uid}", "user") for uid in range(3, GROUP_MEMBERS + 2)]
    groups = [
        {
            "id": g,
            "name": f"Progress group {g}",
            "created_by": 1,
            "created_at": _at(g),
            "updated_at": _at(g),
        }
        for g in (1, PROGRESS_GROUP)
    ]
    members = [
        {"group_id": 1, "user_id": 2, "role": "owner", "joined_at": _at(2), "updated_at": _at(2)}
    ]
    members += [
        {
            "group_id": PROGRESS_GROUP,
            "user_id": uid,
            "role": "owner" if uid == 2 else "member",
            "joined_at": _at(uid),
            "updated_at": _at(uid),
        }
        for uid in range(2, GROUP_MEMBERS + 2)
    ]
    courses, links, assigned, modules, posts = [], [], [], [], []
    for c in range(1, COURSES + 1):
        courses.append(
            {"id": c, "title": f"Course {c}", "created_at": _at(c), "updated_at": _at(c)}
        )
        assigned.append({"group_id": 1, "course_id": c, "ordering": c, "date_assigned": _at(c)})
        if c <= GROUP_COURSES:
            assigned.append(
                {"group_id": PROGRESS_GROUP, "course_id": c, "ordering": c, "date_assigned": _at(c)}
            )
        for m in range((c - 1) * MODULES + 1, c * MODULES + 1):
            modules.append(
                {"id": m, "title": f"Module {m}", "created_at": _at(m), "updated_at": _at(m)}
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
                posts.append(
                    {
                        "id": p,
                        "module_id": m,
                        "title": f"Post {p}",
                        "post_type": "default",
                        "content": "Read this.",
                        "ordering": p - (m - 1) * POSTS,
                        "created_at": _at(p),
                        "updated_at": _at(p),
                    }
                )

    def done(uid: int, post_id: int) -> dict[str, Any]:
        return {
            "user_id": uid,
            "post_id": post_id,
            "status": "completed",
            "updated_at": _at(post_id),
            "completed_at": _at(post_id),
        }

    progress = [done(2, p["id"]) for p in posts[::2]]
    per_course = MODULES * POSTS
    for uid in range(3, GROUP_MEMBERS + 2):
        for c in range(GROUP_COURSES):
            first = c * per_course + 1
            progress += [done(uid, p) for p in range(first, first + (uid * 7) % per_course)]
    return {
        "users": users,
        "groups": groups,
        "group_members": members,
        "courses": courses,
        "group_courses": assigned,
        "modules": modules,
        "course_module_links": links,
        "posts": posts,
        "post_progress": progress,
    }


async def seed(engine: AsyncEngine, hashed_password: str) -> ProgressSeeded:
    """Empty the tables (roles stay), bulk-load the data set, `VACUUM ANALYZE` on PostgreSQL."""
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM quiz_attempts"))
        for model in TABLES:
            await conn.execute(delete(model))
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(hashed_password, role_ids)
        await bulk_insert(conn, rows, (*CONTENT_TABLES, (PostProgress, "post_progress")))
    await vacuum_analyze(engine)
    return ProgressSeeded(
        posts=len(rows["posts"]),
        progress_rows=len(rows["post_progress"]),
        group_id=PROGRESS_GROUP,
        members=GROUP_MEMBERS,
    )


def measure(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """Seed, serve, count statements, then alternate each endpoint with the SELECT 1
    ceiling; the block `report.progress_targets` reads."""
    from bench import run

    async def _seed() -> ProgressSeeded:
        engine = create_async_engine(url)
        try:
            return await seed(engine, hashed)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    seeded = asyncio.run(_seed())
    print(
        f"progress: seeded {seeded.posts} posts, {seeded.progress_rows} progress rows, a group "
        f"of {seeded.members} members in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    server = run.Server("bench.server:create_bench_app", url, log)
    ceiling = run.Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        tokens = {}
        for name, password in (
            (ADMIN_USERNAME, ADMIN_PASSWORD),
            (PARENT_USERNAME, PARENT_PASSWORD),
        ):
            _, body = run.http(
                "POST", server.base + "/api/auth/login", {"username": name, "password": password}
            )
            tokens[name] = {"Authorization": f"Bearer {body['access_token']}"}
        specs = {
            "GET /api/progress": {
                "method": "GET",
                "path": "/api/progress",
                "headers": tokens[PARENT_USERNAME],
            },
            "GET /api/groups/{id}/progress": {
                "method": "GET",
                "path": f"/api/groups/{seeded.group_id}/progress",
                "headers": tokens[ADMIN_USERNAME],
            },
        }
        statements = {
            name: run.statements_per_request(server, spec) for name, spec in specs.items()
        }
        endpoints: dict[str, Any] = {}
        for name, spec in specs.items():
            res = run.load(server, spec, seconds, "/api/health")
            endpoints[name] = {**res.as_dict(), "statements": statements[name]}
            print(
                f"  {name:<30}{res.rps:9.1f} req/s  p50 {res.p50_ms:7.1f}  p99 {res.p99_ms:7.1f} ms"
                f"  stmts {statements[name]:g}  errors {res.errors}",
                flush=True,
            )
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
        return {"seeded": seeded.__dict__, "endpoints": endpoints, "paired": paired}
    finally:
        server.stop()
        ceiling.stop()


def main() -> int:
    """`python -m bench.progress`: only these lines (same database and settings as
    `make bench`, whose schema it resets)."""
    from bench import report
    from bench.seed import reset_database
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
    seconds = float(os.environ.get("BENCH_SECONDS", "6"))
    log = Path(tempfile.gettempdir()) / "tma-bench-server.log"
    print(f"database: {url}", flush=True)
    asyncio.run(reset_database(url))
    hashed = PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD)
    block = measure(url, seconds, log, hashed)
    print()
    targets = report.progress_targets(block)
    for line in report.progress_table(block):
        print(line)
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
