"""Bulk-load the benchmark data set straight into the tables (not through the API).

N groups of 10 members each and N courses, course i assigned to group i, plus one admin
who makes the requests. At N = 1000 that is 10,001 users: the `GET /api/users` case. The
course the harness reads (the middle one) is made of 10 modules of 20 text posts each: the
course detail with 10 modules, the module detail with 20 posts and its post list.
Works on PostgreSQL and SQLite (the smoke test seeds a tiny N on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tma.core.identity import email_key, username_key
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.events.models import LearningEvent
from tma.groups.models import Group, GroupMember
from tma.i18n.models import Translation
from tma.notifications.models import Notification
from tma.posts.models import Post
from tma.users.models import Role, User

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tma_bench"

MEMBERS_PER_GROUP = 10
MODULES_PER_COURSE = 10
POSTS_PER_MODULE = 20
ADMIN_USERNAME = "bench-admin"
ADMIN_PASSWORD = "bench-password-123"  # noqa: S105 - an invented benchmark account
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

# Children first, so a plain DELETE never trips a foreign key.
TABLES = (
    LearningEvent,
    Translation,
    Notification,
    Post,
    GroupCourse,
    CourseModule,
    Module,
    Course,
    GroupMember,
    Group,
    User,
)
# The bench admin's notifications (GET /api/notifications reads a page of them); every
# third one read.
ADMIN_NOTIFICATIONS = 60
# Learning events of the parents (GET /api/events reads a cursor page of them as the admin:
# `EVENTS_AFTER`, `EVENTS_LIMIT`, a full page from the middle of the log).
BENCH_EVENTS = 300
EVENTS_AFTER, EVENTS_LIMIT = 100, 100


@dataclass(frozen=True)
class Seeded:
    """What the load made: sizes and the ids the harness requests."""

    n: int
    users: int
    groups: int
    courses: int
    admin_id: int
    group_id: int
    course_id: int
    module_id: int = 1


def _at(i: int) -> datetime:
    # Distinct, increasing timestamps: list order is then stable and realistic.
    return BASE_TIME + timedelta(seconds=i)


def dataset(
    n: int, hashed_password: str, role_ids: dict[str, int]
) -> dict[str, list[dict[str, Any]]]:
    """The rows for N groups, as plain dicts per table (ids given explicitly)."""
    users: list[dict[str, Any]] = [
        {
            "id": 1,
            "username": ADMIN_USERNAME,
            "email": "bench-admin@example.test",
            "username_key": username_key(ADMIN_USERNAME),
            "email_key": email_key("bench-admin@example.test"),
            "hashed_password": hashed_password,
            "first_name": "Bench",
            "last_name": "Admin",
            "role_id": role_ids["admin"],
            "email_verified": True,
            "is_active": True,
            "created_at": _at(0),
            "updated_at": _at(0),
        }
    ]
    groups: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    courses: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for g in range(1, n + 1):
        groups.append(
            {
                "id": g,
                "name": f"Chess club {g}",
                "description": f"Saturday morning group number {g}",
                "created_by": 1,
                "created_at": _at(g),
                "updated_at": _at(g),
            }
        )
        courses.append(
            {
                "id": g,
                "title": f"Openings, part {g}",
                "description": "Centre, development, king safety.",
                "created_at": _at(g),
                "updated_at": _at(g),
            }
        )
        links.append({"group_id": g, "course_id": g, "ordering": 0, "date_assigned": _at(g)})
        for m in range(MEMBERS_PER_GROUP):
            uid = 1 + (g - 1) * MEMBERS_PER_GROUP + m + 1
            users.append(
                {
                    "id": uid,
                    "username": f"parent{uid}",
                    "email": f"parent{uid}@example.test",
                    # Bulk inserts skip the model's validators: the canonical keys by hand.
                    "username_key": username_key(f"parent{uid}"),
                    "email_key": email_key(f"parent{uid}@example.test"),
                    "hashed_password": hashed_password,
                    "first_name": "Pat",
                    "last_name": f"Parent{uid}",
                    "child_name": f"Kid{uid}",
                    "child_sex_assigned_at_birth": "female" if uid % 2 else "male",
                    "child_dob": datetime(2016, 1 + uid % 12, 1 + uid % 28).date(),
                    "avatar_url": None,
                    "role_id": role_ids["user"],
                    "email_verified": True,
                    "is_active": True,
                    "created_at": _at(uid),
                    "updated_at": _at(uid),
                }
            )
            members.append(
                {
                    "group_id": g,
                    "user_id": uid,
                    "role": "owner" if m == 0 else "member",
                    "joined_at": _at(uid),
                    "updated_at": _at(uid),
                }
            )
    notifications = [
        {
            "id": i,
            "user_id": 1,
            "kind": "group_digest",
            "subject": f"group:{i}",
            "period": "2026-W01",
            "title": f"Chess club {i}: 2 parents behind",
            "body": f"In Chess club {i}, 2 parents have not been active for 7 days.",
            "data": {"group_id": i, "behind": [2, 3]},
            "created_at": _at(i),
            "read_at": _at(i + 1) if i % 3 == 0 else None,
            "email_status": "skipped",
            "push_status": "sent",
            "attempts": 1,
        }
        for i in range(1, ADMIN_NOTIFICATIONS + 1)
    ]
    kinds = ("post_started", "post_completed", "attempt_started", "attempt_submitted")
    events = [
        {
            "id": i,
            "type": kinds[i % len(kinds)],
            "user_id": 2 + i % (len(users) - 1) if len(users) > 1 else 1,
            "key": f"bench:{i}",
            "occurred_at": _at(i),
            "post_id": 1 + i % POSTS_PER_MODULE,
            "module_id": 1,
            "course_id": max(1, n // 2),
            "data": None,
            "recorded_at": _at(i),
        }
        for i in range(1, BENCH_EVENTS + 1)
    ]
    return {
        "notifications": notifications,
        "learning_events": events,
        "users": users,
        "groups": groups,
        "group_members": members,
        "courses": courses,
        "group_courses": links,
        **content(course_id=max(1, n // 2)),
    }


def content(course_id: int) -> dict[str, list[dict[str, Any]]]:
    """The rows of one course's content: `MODULES_PER_COURSE` modules of `POSTS_PER_MODULE`
    text posts, linked into `course_id` at 1..10."""
    modules: list[dict[str, Any]] = []
    module_links: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    for m in range(1, MODULES_PER_COURSE + 1):
        modules.append(
            {
                "id": m,
                "title": f"Module {m}",
                "description": "Checks, captures and threats, in that order.",
                "color": "#2980B9",
                "created_at": _at(m),
                "updated_at": _at(m),
            }
        )
        module_links.append(
            {"course_id": course_id, "module_id": m, "ordering": m, "linked_at": _at(m)}
        )
        for p in range(1, POSTS_PER_MODULE + 1):
            pid = (m - 1) * POSTS_PER_MODULE + p
            posts.append(
                {
                    "id": pid,
                    "module_id": m,
                    "title": f"Lesson {p}",
                    "post_type": "default",
                    "content": "Look at every check first. " * 20,
                    "video_url": None,
                    "file_id": None,
                    "ordering": p,
                    "pass_mark": None,
                    "created_at": _at(pid),
                    "updated_at": _at(pid),
                }
            )
    # Spanish texts of the course and its modules: the `course-es` line reads the course
    # detail in Spanish (bench.instructions, docs/performance.md "Languages").
    translations = [
        {
            "course_id": course_id,
            "module_id": None,
            "post_id": None,
            "language": "es",
            "fields": {
                "title": "Pensar tres jugadas por delante",
                "description": "Jaques primero.",
            },
            "created_at": _at(1),
            "updated_at": _at(1),
        },
        *(
            {
                "course_id": None,
                "module_id": m["id"],
                "post_id": None,
                "language": "es",
                "fields": {
                    "title": f"Módulo {m['id']}",
                    "description": "Jaques, capturas, amenazas.",
                },
                "created_at": _at(1),
                "updated_at": _at(1),
            }
            for m in modules
        ),
    ]
    return {
        "modules": modules,
        "course_module_links": module_links,
        "posts": posts,
        "translations": translations,
    }


async def bulk_insert(
    conn: AsyncConnection, rows: dict[str, list[dict[str, Any]]], tables: Sequence[Any]
) -> None:
    """Insert `rows[key]` into each `(model, key)` table in order (parents first); executemany:
    SQLAlchemy batches these into multi-row INSERTs. Empty or absent data sets are skipped
    (a data set of its own may leave a table out: the `translations` of `content`)."""
    for model, key in tables:
        if rows.get(key):
            await conn.execute(insert(cast(Table, model.__table__)), rows[key])


async def vacuum_analyze(engine: AsyncEngine) -> None:
    """On PostgreSQL, what autovacuum does to a live database soon after a bulk load:
    statistics for the planner, and the visibility map, without which every index-only scan
    (the member and module counts) still reads the table's pages ("Heap Fetches"). Outside a
    transaction: VACUUM cannot run inside one. Nothing on SQLite."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))


# The content tables every bench data set fills, parents first.
CONTENT_TABLES = (
    (User, "users"),
    (Group, "groups"),
    (GroupMember, "group_members"),
    (Course, "courses"),
    (GroupCourse, "group_courses"),
    (Module, "modules"),
    (CourseModule, "course_module_links"),
    (Post, "posts"),
    (Translation, "translations"),
)


async def seed(engine: AsyncEngine, n: int, hashed_password: str) -> Seeded:
    """Empty the tables (roles stay) and bulk-insert the data set for N, in one transaction;
    on PostgreSQL then `VACUUM ANALYZE`."""
    async with engine.begin() as conn:
        for model in TABLES:
            await conn.execute(delete(model))
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(n, hashed_password, role_ids)
        await bulk_insert(
            conn,
            rows,
            (
                *CONTENT_TABLES,
                (Notification, "notifications"),
                (LearningEvent, "learning_events"),
            ),
        )
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; new rows (POST /api/groups) need them ahead.
            for table in (
                "users",
                "groups",
                "courses",
                "modules",
                "posts",
                "notifications",
                "learning_events",
            ):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
        counts = {
            key: (await conn.execute(select(func.count()).select_from(model))).scalar_one()
            for key, model in (("users", User), ("groups", Group), ("courses", Course))
        }
    await vacuum_analyze(engine)
    middle = max(1, n // 2)
    return Seeded(
        n=n,
        users=counts["users"],
        groups=counts["groups"],
        courses=counts["courses"],
        admin_id=1,
        group_id=middle,
        course_id=middle,
    )


async def reset_database(url: str) -> None:
    """Create the benchmark database if missing and give it an empty, migrated schema."""
    import anyio.to_thread

    from tma.core import migrate

    if url.startswith("postgresql"):
        await _ensure_postgres_database(url)
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()
    await anyio.to_thread.run_sync(migrate.upgrade, url)


async def _ensure_postgres_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def main(argv: list[str]) -> int:
    """`python -m bench.seed [N]`: reset the bench database (`TMA_BENCH_DATABASE_URL`) and
    load the per-N data set, content included, as `make bench` does before its N runs: for
    `python -m bench.instructions course module posts` without a whole bench run."""
    import asyncio
    import os

    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
    n = int(argv[0]) if argv else 10

    async def _run() -> Seeded:
        await reset_database(url)
        engine = create_async_engine(url)
        try:
            hashed = PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD)
            return await seed(engine, n, hashed)
        finally:
            await engine.dispose()

    seeded = asyncio.run(_run())
    print(f"{url}: {seeded.users} users, {seeded.groups} groups, {seeded.courses} courses")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
