"""Bench lines of the provider's view (issue 26, docs/contracts/dashboard.md):

- `GET /api/groups/{id}/dashboard?course_id=` (as the admin) for a group of 50 parents and
  5 courses of 200 posts each (10 modules of 19 posts and a quiz of 5 questions of 4
  options), every parent with progress in each course and two submitted attempts (one
  failed, one passed) at 5 of its quizzes: 500 attempts per course whose answers the
  database aggregates. Statements per request, and req/s as a share of the SELECT 1
  ceiling (through the product's stack), measured in alternation with it (median of
  `run.CEILING_ROUNDS` rounds), target >= `SHARE_TARGET`.
- `GET /api/groups/{id}/progress.csv` for a group of 10,000 parents x 5 courses (50,000
  rows): the server's resident memory (`VmRSS` of `/proc/<pid>/status`, sampled every
  5 ms during the download, and the kernel's high-water mark `VmHWM` reset just before
  it through `/proc/<pid>/clear_refs`) against what it was before the download, target
  growth < `RSS_GROWTH_LIMIT_MB`. A warm-up export of the small group runs first (the
  code paths loaded, the statements compiled), so what is measured is what the rows cost.

Its own data set (the tables are emptied first): run after the others in `make bench`, or
alone: `python -m bench.dashboard` (`make bench-dashboard`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.report import Target
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
from tma.quizzes.engine import answer_rows
from tma.quizzes.models import QuizAnswer, QuizAttempt, QuizOption, QuizQuestion
from tma.users.models import Role, User

MEMBERS, COURSES, MODULES, POSTS = 50, 5, 10, 20  # 200 posts a course, the last of a module a quiz
QUESTIONS, OPTIONS, ATTEMPTED_QUIZZES = 5, 4, 5
EXPORT_MEMBERS, EXPORT_MODULES, EXPORT_POSTS = 10_000, 2, 5  # its own 5 courses of 10 posts
DASHBOARD_GROUP, EXPORT_GROUP = 1, 2
SHARE_TARGET = 0.25
MAX_STATEMENTS = 5  # tests/test_query_counts.py: DASHBOARD_STATEMENTS
RSS_GROWTH_LIMIT_MB = 20.0
DASHBOARD = "GET /api/groups/{id}/dashboard"
EXPORT = "GET /api/groups/{id}/progress.csv"

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
class DashboardSeeded:
    members: int
    posts_per_course: int
    progress_rows: int
    attempts: int
    export_members: int
    export_courses: int


def _user(uid: int, username: str, role_id: int, hashed: str) -> dict[str, Any]:
    return {
        "id": uid,
        "username": username,
        "email": f"{username}@example.test",
        "username_key": username_key(username),
        "email_key": email_key(f"{username}@example.test"),
        "hashed_password": hashed,
        "role_id": role_id,
        "email_verified": True,
        "is_active": True,
        "created_at": _at(uid),
        "updated_at": _at(uid),
    }


def dataset(hashed: str, role_ids: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Rows per table, ids explicit. User 1 the admin (owner of both groups); users
    2..51 the dashboard group's parents, 52..10,051 the export group's. Courses 1..5 (the
    dashboard's: 10 modules of 20 posts, the 20th a quiz) assigned to group 1, courses
    6..10 (2 modules of 5 posts) to group 2. Parent k of group 1 completed the first
    (k * 7) % 190 posts of each course and has the next one in progress, and two
    submitted attempts (a failed one, all first options; a passed one) at the first 5
    quizzes, with their answer rows; parent j of group 2 completed j % 4 posts of each of
    the first two courses."""
    users = [_user(1, ADMIN_USERNAME, role_ids["admin"], hashed)]
    parents = list(range(2, MEMBERS + 2))
    exporters = list(range(MEMBERS + 2, MEMBERS + 2 + EXPORT_MEMBERS))
    users += [_user(u, f"dash{u}", role_ids["user"], hashed) for u in parents]
    users += [_user(u, f"export{u}", role_ids["user"], hashed) for u in exporters]
    groups = [
        {"id": g, "name": f"Group {g}", "created_by": 1, "created_at": _at(g), "updated_at": _at(g)}
        for g in (DASHBOARD_GROUP, EXPORT_GROUP)
    ]

    def member(group: int, uid: int, role: str = "member") -> dict[str, Any]:
        return {
            "group_id": group,
            "user_id": uid,
            "role": role,
            "joined_at": _at(uid),
            "updated_at": _at(uid),
        }

    members = [member(g, 1, "owner") for g in (DASHBOARD_GROUP, EXPORT_GROUP)]
    members += [member(DASHBOARD_GROUP, u) for u in parents]
    members += [member(EXPORT_GROUP, u) for u in exporters]
    courses, assigned, modules, links, posts = [], [], [], [], []
    questions: list[dict[str, Any]] = []
    options: list[dict[str, Any]] = []
    quiz_ids: dict[int, list[int]] = {}
    course_posts: dict[int, list[int]] = {}
    next_module, next_post, next_question, next_option = 1, 1, 1, 1
    for c in range(1, 2 * COURSES + 1):
        export = c > COURSES
        n_modules, n_posts = (EXPORT_MODULES, EXPORT_POSTS) if export else (MODULES, POSTS)
        courses.append(
            {"id": c, "title": f"Course {c}", "created_at": _at(c), "updated_at": _at(c)}
        )
        group = EXPORT_GROUP if export else DASHBOARD_GROUP
        assigned.append({"group_id": group, "course_id": c, "ordering": c, "date_assigned": _at(c)})
        course_posts[c], quiz_ids[c] = [], []
        for m in range(1, n_modules + 1):
            mid = next_module
            next_module += 1
            modules.append(
                {
                    "id": mid,
                    "title": f"Module {mid}",
                    "created_at": _at(mid),
                    "updated_at": _at(mid),
                }
            )
            links.append({"course_id": c, "module_id": mid, "ordering": m, "linked_at": _at(mid)})
            for p in range(1, n_posts + 1):
                pid = next_post
                next_post += 1
                quiz = not export and p == n_posts
                posts.append(
                    {
                        "id": pid,
                        "module_id": mid,
                        "title": f"Post {pid}",
                        "post_type": "quiz" if quiz else "default",
                        "content": "Read this.",
                        "ordering": p,
                        "pass_mark": 80 if quiz else None,
                        "created_at": _at(pid),
                        "updated_at": _at(pid),
                    }
                )
                if not quiz:
                    course_posts[c].append(pid)
                    continue
                quiz_ids[c].append(pid)
                for q in range(1, QUESTIONS + 1):
                    questions.append(
                        {
                            "id": next_question,
                            "post_id": pid,
                            "position": q,
                            "prompt": f"Question {q} of quiz {pid}: which move is safe?",
                            "kind": "single",
                            "explanation": f"Because of rule {q}.",
                        }
                    )
                    for o in range(1, OPTIONS + 1):
                        options.append(
                            {
                                "id": next_option,
                                "question_id": next_question,
                                "position": o,
                                "text": f"Move {o}",
                                "is_correct": o == 2,
                            }
                        )
                        next_option += 1
                    next_question += 1

    def progress_row(uid: int, pid: int, status: str) -> dict[str, Any]:
        return {
            "user_id": uid,
            "post_id": pid,
            "status": status,
            "updated_at": _at(pid),
            "started_at": _at(pid),
            "completed_at": _at(pid) if status == "completed" else None,
        }

    progress = []
    for k, uid in enumerate(parents):
        for c in range(1, COURSES + 1):
            done = (k * 7) % len(course_posts[c])
            progress += [progress_row(uid, p, "completed") for p in course_posts[c][:done]]
            progress.append(progress_row(uid, course_posts[c][done], "in_progress"))
    for j, uid in enumerate(exporters):
        for c in (COURSES + 1, COURSES + 2):
            progress += [progress_row(uid, p, "completed") for p in course_posts[c][: j % 4]]

    by_quiz: dict[int, list[dict[str, Any]]] = {}
    for question in questions:
        by_quiz.setdefault(question["post_id"], []).append(question)
    opts_of: dict[int, list[dict[str, Any]]] = {}
    for option in options:
        opts_of.setdefault(option["question_id"], []).append(option)
    attempts: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []  # the rows each submit writes (`quiz_answers`)
    attempt_id = 1
    for uid in parents:
        for c in range(1, COURSES + 1):
            for pid in quiz_ids[c][:ATTEMPTED_QUIZZES]:
                copy = [
                    {
                        "id": q["id"],
                        "prompt": q["prompt"],
                        "kind": "single",
                        "explanation": q["explanation"],
                        "options": [
                            {"id": o["id"], "text": o["text"], "is_correct": o["is_correct"]}
                            for o in opts_of[q["id"]]
                        ],
                    }
                    for q in by_quiz[pid]
                ]
                for passed in (False, True):
                    picked = 1 if passed else 0  # the second option is the right one
                    results = [
                        {
                            "question_id": q["id"],
                            "correct": passed,
                            "chosen_option_ids": [q["options"][picked]["id"]],
                            "correct_option_ids": [q["options"][1]["id"]],
                            "explanation": q["explanation"],
                        }
                        for q in copy
                    ]
                    answers += answer_rows(results, attempt_id=attempt_id, post_id=pid, user_id=uid)
                    attempts.append(
                        {
                            "id": attempt_id,
                            "post_id": pid,
                            "user_id": uid,
                            "status": "submitted",
                            "started_at": _at(pid + attempt_id),
                            "submitted_at": _at(pid + attempt_id + 60),
                            "score": 100 if passed else 0,
                            "passed": passed,
                            "results": results,
                            "questions": copy,
                            "saved_answers": [],
                            "pass_mark": 80,
                            "timed_out": False,
                        }
                    )
                    attempt_id += 1
    return {
        "users": users,
        "groups": groups,
        "group_members": members,
        "courses": courses,
        "group_courses": assigned,
        "modules": modules,
        "course_module_links": links,
        "posts": posts,
        "quiz_questions": questions,
        "quiz_options": options,
        "post_progress": progress,
        "quiz_attempts": attempts,
        "quiz_answers": answers,
    }


async def seed(engine: AsyncEngine, hashed: str) -> DashboardSeeded:
    """Empty the tables (roles stay), bulk-load the data set, `VACUUM ANALYZE` on PostgreSQL."""
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM quiz_attempts"))
        for model in TABLES:
            await conn.execute(delete(model))
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(hashed, role_ids)
        await bulk_insert(
            conn,
            rows,
            (
                *CONTENT_TABLES,
                (QuizQuestion, "quiz_questions"),
                (QuizOption, "quiz_options"),
                (PostProgress, "post_progress"),
                (QuizAttempt, "quiz_attempts"),
                (QuizAnswer, "quiz_answers"),
            ),
        )
    await vacuum_analyze(engine)
    return DashboardSeeded(
        members=MEMBERS,
        posts_per_course=MODULES * POSTS,
        progress_rows=len(rows["post_progress"]),
        attempts=len(rows["quiz_attempts"]),
        export_members=EXPORT_MEMBERS,
        export_courses=COURSES,
    )


# --- the export's memory --------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _download(url: str, headers: dict[str, str]) -> tuple[int, int, int]:
    """GET `url`, reading the body 64 KiB at a time and dropping it: (status, bytes, lines)."""
    req = urllib.request.Request(url, headers=headers)  # noqa: S310
    size = lines = 0
    with urllib.request.urlopen(req, timeout=600) as resp:  # noqa: S310
        while chunk := resp.read(65536):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return resp.status, size, lines


def export_memory(server: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Download the big export once, after a warm-up export of the small group; the
    server's RSS before, its peak during (sampled, and the kernel's VmHWM), the growth."""
    pid = server.proc.pid
    warm = _download(f"{server.base}/api/groups/{DASHBOARD_GROUP}/progress.csv", headers)
    assert warm[0] == 200, warm
    before = _status_kb(pid, "VmRSS")
    try:  # reset the high-water mark to the current RSS (Linux >= 4.0)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _status_kb(pid, "VmRSS"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        status, size, lines = _download(
            f"{server.base}/api/groups/{EXPORT_GROUP}/progress.csv", headers
        )
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    hwm = _status_kb(pid, "VmHWM")
    peak = max(peak, hwm) if hwm_reset else peak
    return {
        "status": status,
        "bytes": size,
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "vm_hwm_mb": round(hwm / 1024, 1),
        "hwm_reset": hwm_reset,
        "growth_mb": round((peak - before) / 1024, 1),
    }


def measure(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """Seed, serve, count statements, alternate the dashboard with the SELECT 1 ceiling,
    then measure the export's memory; the block `targets` reads."""
    from bench import run

    async def _seed() -> DashboardSeeded:
        engine = create_async_engine(url)
        try:
            return await seed(engine, hashed)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    seeded = asyncio.run(_seed())
    print(
        f"dashboard: seeded {seeded.members} parents x {COURSES} courses of "
        f"{seeded.posts_per_course} posts, {seeded.attempts} attempts, "
        f"{seeded.export_members} parents x {seeded.export_courses} courses for the export, "
        f"{seeded.progress_rows} progress rows in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    server = run.Server("bench.server:create_bench_app", url, log)
    ceiling = run.Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        _, body = run.http(
            "POST",
            server.base + "/api/auth/login",
            {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        )
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        spec = {
            "method": "GET",
            "path": f"/api/groups/{DASHBOARD_GROUP}/dashboard?course_id=1",
            "headers": auth,
        }
        statements = run.statements_per_request(server, spec)
        res = run.load(server, spec, seconds, "/api/health")
        endpoint = {**res.as_dict(), "statements": statements}
        print(
            f"  {DASHBOARD:<34}{res.rps:9.1f} req/s  p50 {res.p50_ms:7.1f}  "
            f"p99 {res.p99_ms:7.1f} ms  stmts {statements:g}  errors {res.errors}",
            flush=True,
        )
        paired: dict[str, list[float]] = {"select1": [], DASHBOARD: []}
        for _ in range(run.CEILING_ROUNDS):
            ceil = run.load(ceiling, {"method": "GET", "path": "/select1"}, seconds, "/const")
            paired["select1"].append(ceil.rps)
            paired[DASHBOARD].append(run.load(server, spec, seconds, "/api/health").rps)
        for name, values in paired.items():
            print(f"  alternated {name:<34}" + " ".join(f"{v:8.1f}" for v in values), flush=True)
        memory = export_memory(server, auth)
        print(
            f"  {EXPORT:<34}{memory['rows']} rows, {memory['bytes'] / 1e6:.1f} MB in "
            f"{memory['seconds']:.1f} s; server RSS {memory['rss_before_mb']} MB before, "
            f"peak {memory['rss_peak_mb']} MB (growth {memory['growth_mb']} MB)",
            flush=True,
        )
        return {
            "seeded": seeded.__dict__,
            "endpoints": {DASHBOARD: endpoint},
            "paired": paired,
            "export": memory,
        }
    finally:
        server.stop()
        ceiling.stop()


def targets(block: dict[str, Any]) -> list[Target]:
    """Statements per dashboard request at most the guarded count; its median req/s of the
    rounds alternated with the SELECT 1 ceiling at least `SHARE_TARGET` of it; the export
    complete (10,000 x 5 rows) with the server's RSS growth under `RSS_GROWTH_LIMIT_MB`."""
    paired = block["paired"]
    ceiling = median(paired["select1"])
    rps = median(paired[DASHBOARD])
    share = rps / ceiling if ceiling else 0.0
    statements = block["endpoints"][DASHBOARD]["statements"]
    memory = block["export"]
    rows = EXPORT_MEMBERS * COURSES
    return [
        Target(
            f"{DASHBOARD}: statements/request",
            f"{statements:g}",
            f"<= {MAX_STATEMENTS}",
            statements <= MAX_STATEMENTS,
        ),
        Target(
            f"{DASHBOARD}: share of SELECT 1 ceiling",
            f"{share:.0%} ({rps:.0f} req/s)",
            f">= {SHARE_TARGET:.0%} (ceiling {ceiling:.0f} req/s)",
            share >= SHARE_TARGET,
        ),
        Target(
            f"{EXPORT}: {rows} rows streamed, server RSS growth",
            f"{memory['growth_mb']:.1f} MB ({memory['rows']} rows, "
            f"peak {memory['rss_peak_mb']} MB)",
            f"< {RSS_GROWTH_LIMIT_MB:g} MB",
            memory["status"] == 200
            and memory["rows"] == rows
            and memory["growth_mb"] < RSS_GROWTH_LIMIT_MB,
        ),
    ]


def table(block: dict[str, Any], *, with_targets: bool = True) -> list[str]:
    """The dashboard block of the terminal report."""
    s = block["seeded"]
    e = block["endpoints"][DASHBOARD]
    lines = [
        f"dashboard: {s['members']} parents x {COURSES} courses of {s['posts_per_course']} posts, "
        f"{s['attempts']} attempts; export: {s['export_members']} parents x "
        f"{s['export_courses']} courses",
        f"{'endpoint':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'stmts':>7}",
        f"{DASHBOARD:<34}{e['rps']:>9.1f}{e['p50_ms']:>9.1f}{e['p99_ms']:>9.1f}"
        f"{e['statements']:>7g}",
    ]
    if with_targets:
        for t in targets(block):
            ok = "PASS" if t.ok else "FAIL"
            lines.append(f"  [{ok}] {t.name}: {t.measured}  (target {t.limit})")
    return lines


def main() -> int:
    """`python -m bench.dashboard`: only these lines (same database and settings as
    `make bench`, whose schema it resets)."""
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
    for line in table(block):
        print(line)
    return 0 if all(t.ok for t in targets(block)) else 1


if __name__ == "__main__":
    sys.exit(main())
