"""Bench lines of the quiz engine (issue 23), apart from the per-N runs:

- `POST /api/quizzes/{id}/attempts`: starting an attempt of a 50-question quiz that draws
  20 and shuffles questions and options (each start a new attempt: its draw, its copy of
  the questions, its progress write);
- `POST /api/quiz-attempts/{id}/submit`: submitting it, the 20 answers in the body, graded
  against the attempt's questions.

Each: statements per request (fixed: tests/test_query_counts.py), and req/s as a share of
the SELECT 1 ceiling (through the product's stack), target >= `report.QUIZ_SHARE`.

A start and a submit change state, so a fixed-URL load (wrk, `bench.loadgen`) cannot drive
them: every start must find its user without an attempt in progress, every submit needs
the id its start returned. The driver here runs `CONNECTIONS` keep-alive connections, each
for `USERS_PER_CONNECTION` parents of its own, in phases: every connection starts one
attempt for each of its parents, then (once all have) submits each; a phase's req/s is its
requests over its wall time, summed over the phases of the measured seconds. The SELECT 1
ceiling is measured by the same driver (one fixed GET in a loop per connection), in
alternation with the two lines, `run.CEILING_ROUNDS` times: the share is the median of a
line's rounds over the median of the ceiling's. Its own data set (the tables are emptied
first): run after the others in `make bench`, or alone: `python -m bench.quizzes`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
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
from tma.quizzes.models import QuizAttempt, QuizOption, QuizQuestion
from tma.users.models import Role, User

QUESTIONS, DRAWN, OPTIONS = 50, 20, 4
CONNECTIONS = 16
USERS_PER_CONNECTION = 8
QUIZ_POST_ID = 1
START = "POST /api/quizzes/{id}/attempts"
SUBMIT = "POST /api/quiz-attempts/{id}/submit"
ENDPOINTS = (START, SUBMIT)

TABLES = (
    QuizAttempt,
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


def dataset(hashed_password: str, role_ids: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Rows of the quiz data set, per table, ids explicit: user 1 the admin, users 2.. the
    parents (one group holding them all, owned by the admin), one course of one module
    holding the quiz post 1: `QUESTIONS` single-choice questions of `OPTIONS` options (the
    first correct), drawing `DRAWN` per attempt, both shuffles on, pass mark 80."""
    parents = CONNECTIONS * USERS_PER_CONNECTION

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

    users = [user(1, ADMIN_USERNAME, "admin")]
    users += [user(uid, f"quizparent{uid}", "user") for uid in range(2, parents + 2)]
    members = [
        {"group_id": 1, "user_id": 1, "role": "owner", "joined_at": _at(1), "updated_at": _at(1)}
    ]
    members += [
        {
            "group_id": 1,
            "user_id": uid,
            "role": "member",
            "joined_at": _at(uid),
            "updated_at": _at(uid),
        }
        for uid in range(2, parents + 2)
    ]
    questions, options = [], []
    bank: list[dict[str, Any]] = []  # the post's `question_bank`: the same, as attempts copy it
    for q in range(1, QUESTIONS + 1):
        questions.append(
            {
                "id": q,
                "post_id": QUIZ_POST_ID,
                "position": q,
                "prompt": f"Question {q}: which move keeps the king safe?",
                "kind": "single",
                "explanation": f"Because of the rule {q}.",
            }
        )
        for o in range(1, OPTIONS + 1):
            options.append(
                {
                    "id": (q - 1) * OPTIONS + o,
                    "question_id": q,
                    "position": o,
                    "text": f"Move {o} of question {q}",
                    "is_correct": o == 1,
                }
            )
        bank.append(
            {
                "id": q,
                "prompt": questions[-1]["prompt"],
                "kind": "single",
                "explanation": questions[-1]["explanation"],
                "options": [
                    {"id": o["id"], "text": o["text"], "is_correct": o["is_correct"]}
                    for o in options[-OPTIONS:]
                ],
            }
        )
    return {
        "users": users,
        "groups": [
            {
                "id": 1,
                "name": "Quiz group",
                "created_by": 1,
                "created_at": _at(1),
                "updated_at": _at(1),
            }
        ],
        "group_members": members,
        "courses": [{"id": 1, "title": "Quiz course", "created_at": _at(1), "updated_at": _at(1)}],
        "group_courses": [{"group_id": 1, "course_id": 1, "ordering": 1, "date_assigned": _at(1)}],
        "modules": [{"id": 1, "title": "Quiz module", "created_at": _at(1), "updated_at": _at(1)}],
        "course_module_links": [
            {"course_id": 1, "module_id": 1, "ordering": 1, "linked_at": _at(1)}
        ],
        "posts": [
            {
                "id": QUIZ_POST_ID,
                "module_id": 1,
                "title": "The big quiz",
                "post_type": "quiz",
                "ordering": 1,
                "pass_mark": 80,
                "questions_per_attempt": DRAWN,
                "shuffle_questions": True,
                "shuffle_options": True,
                "question_bank": bank,
                "created_at": _at(1),
                "updated_at": _at(1),
            }
        ],
        "quiz_questions": questions,
        "quiz_options": options,
    }


async def seed(engine: AsyncEngine, hashed_password: str) -> int:
    """Empty the tables (roles stay), bulk-load the data set, `VACUUM ANALYZE` on
    PostgreSQL; the number of parents."""
    async with engine.begin() as conn:
        for model in TABLES:
            await conn.execute(delete(model))
        role_ids = {r.name: r.id for r in (await conn.execute(select(Role.name, Role.id))).all()}
        rows = dataset(hashed_password, role_ids)
        await bulk_insert(
            conn,
            rows,
            (*CONTENT_TABLES, (QuizQuestion, "quiz_questions"), (QuizOption, "quiz_options")),
        )
    await vacuum_analyze(engine)
    return len(rows["users"]) - 1


# --- a small keep-alive HTTP/1.1 client --------------------------------------------------


class Connection:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        assert self.reader is not None
        assert self.writer is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class PhaseResult:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | int]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if not lat:
                return 0.0
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000, 2)

        rps = self.requests / self.seconds if self.seconds else 0.0
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(rps, 1),
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "errors": self.errors,
        }


def _right_answers(attempt: dict[str, Any]) -> bytes:
    """All of the attempt's questions answered right (the option whose text is "Move 1 ...":
    the options are shuffled, so it is found by its text)."""
    answers = [
        {
            "question_id": q["id"],
            "option_ids": [next(o["id"] for o in q["options"] if o["text"].startswith("Move 1 "))],
        }
        for q in attempt["questions"]
    ]
    return json.dumps({"answers": answers}).encode()


async def drive_quizzes(base: str, tokens: list[str], seconds: float) -> dict[str, dict[str, Any]]:
    """Start/submit phases for `seconds`: the two lines' results (`PhaseResult.as_dict`)."""
    groups = [tokens[c::CONNECTIONS] for c in range(CONNECTIONS)]
    conns = [Connection(base) for _ in range(CONNECTIONS)]
    await asyncio.gather(*(c.open() for c in conns))
    results = {START: PhaseResult(), SUBMIT: PhaseResult()}
    start_path = f"/api/quizzes/{QUIZ_POST_ID}/attempts"

    async def starts(i: int, started: list[dict[str, Any]]) -> None:
        for token in groups[i]:
            t0 = time.perf_counter()
            status, body = await conns[i].request(
                "POST", start_path, {"Authorization": f"Bearer {token}"}
            )
            results[START].latencies.append(time.perf_counter() - t0)
            if status != 201:
                results[START].errors += 1
                continue
            started.append({"token": token, **json.loads(body)})

    async def submits(i: int, started: list[dict[str, Any]]) -> None:
        for attempt in started:
            t0 = time.perf_counter()
            status, _ = await conns[i].request(
                "POST",
                f"/api/quiz-attempts/{attempt['id']}/submit",
                {"Authorization": f"Bearer {attempt['token']}"},
                attempt["body"],
            )
            results[SUBMIT].latencies.append(time.perf_counter() - t0)
            if status != 200:
                results[SUBMIT].errors += 1

    try:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started: list[list[dict[str, Any]]] = [[] for _ in conns]
            for name, phase in ((START, starts), (SUBMIT, submits)):
                t0 = time.perf_counter()
                await asyncio.gather(*(phase(i, started[i]) for i in range(len(conns))))
                results[name].seconds += time.perf_counter() - t0
                results[name].requests += sum(len(g) for g in groups)
                for attempt in (a for mine in started for a in mine):  # untimed: the bodies
                    attempt.setdefault("body", _right_answers(attempt))
    finally:
        for c in conns:
            c.close()
    return {name: r.as_dict() for name, r in results.items()}


async def drive_select1(base: str, seconds: float) -> dict[str, Any]:
    """The SELECT 1 ceiling through the same driver: `CONNECTIONS` connections looping."""
    conns = [Connection(base) for _ in range(CONNECTIONS)]
    await asyncio.gather(*(c.open() for c in conns))
    result = PhaseResult()
    deadline = time.perf_counter() + seconds

    async def loop(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status, _ = await conn.request("GET", "/select1", {})
            result.latencies.append(time.perf_counter() - t0)
            result.requests += 1
            result.errors += status != 200

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    result.seconds = time.perf_counter() - t0
    return result.as_dict()


def statements(server: Any, tokens: list[str]) -> dict[str, float]:
    """Statements per start and per submit, over 5 of each, sequential."""
    from bench import run

    per: dict[str, float] = {}
    samples = 5

    async def measure_both() -> None:
        conn = Connection(server.base)
        await conn.open()
        try:
            attempts = []
            for token in tokens[:samples]:
                status, body = await conn.request(
                    "POST",
                    f"/api/quizzes/{QUIZ_POST_ID}/attempts",
                    {"Authorization": f"Bearer {token}"},
                )
                assert status == 201, body
                attempts.append((token, json.loads(body)))
            run.http("POST", server.base + "/__bench/reset")
            for token, attempt in attempts:
                status, body = await conn.request(
                    "POST",
                    f"/api/quiz-attempts/{attempt['id']}/submit",
                    {"Authorization": f"Bearer {token}"},
                    _right_answers(attempt),
                )
                assert status == 200, body
            _, stats = run.http("GET", server.base + "/__bench/stats")
            per[SUBMIT] = round(float(stats["statements"]) / samples, 2)
            run.http("POST", server.base + "/__bench/reset")
            for token in tokens[samples : 2 * samples]:
                status, body = await conn.request(
                    "POST",
                    f"/api/quizzes/{QUIZ_POST_ID}/attempts",
                    {"Authorization": f"Bearer {token}"},
                )
                assert status == 201, body
            _, stats = run.http("GET", server.base + "/__bench/stats")
            per[START] = round(float(stats["statements"]) / samples, 2)
            # Leave nobody with an attempt in progress: the load starts from scratch.
            for token in tokens[samples : 2 * samples]:
                status, body = await conn.request(
                    "POST",
                    f"/api/quizzes/{QUIZ_POST_ID}/attempts",
                    {"Authorization": f"Bearer {token}"},
                )
                attempt = json.loads(body)
                await conn.request(
                    "POST",
                    f"/api/quiz-attempts/{attempt['id']}/submit",
                    {"Authorization": f"Bearer {token}"},
                    b"{}",
                )
        finally:
            conn.close()

    asyncio.run(measure_both())
    return per


def measure(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """Seed, serve, count statements, then alternate the two lines with the SELECT 1
    ceiling; the block `report.quiz_targets` reads."""
    from bench import run
    from tma.core.config import Settings
    from tma.core.security import create_access_token

    async def _seed() -> int:
        engine = create_async_engine(url)
        try:
            return await seed(engine, hashed)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    parents = asyncio.run(_seed())
    print(
        f"quizzes: seeded a quiz of {QUESTIONS} questions drawing {DRAWN} (shuffled), "
        f"{parents} parents in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    settings = Settings()  # the bench server's: the same secret signs the parents' tokens
    tokens = [create_access_token(uid, settings) for uid in range(2, parents + 2)]
    server = run.Server("bench.server:create_bench_app", url, log)
    ceiling = run.Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        counted = statements(server, tokens)
        # Warm-up (discarded), then the measured rounds alternated with the ceiling.
        asyncio.run(drive_quizzes(server.base, tokens, 1))
        endpoints: dict[str, Any] = {}
        paired: dict[str, list[float]] = {"select1": []}
        for _ in range(run.CEILING_ROUNDS):
            server.drain("/api/health")
            paired["select1"].append(asyncio.run(drive_select1(ceiling.base, seconds))["rps"])
            server.drain("/api/health")
            lines = asyncio.run(drive_quizzes(server.base, tokens, seconds))
            for name, res in lines.items():
                paired.setdefault(name, []).append(float(res["rps"]))
                # The latencies and errors shown are the last round's.
                endpoints[name] = {**res, "statements": counted[name]}
        for name in ENDPOINTS:
            e = endpoints[name]
            print(
                f"  {name:<38}{e['rps']:9.1f} req/s  p50 {e['p50_ms']:7.1f}  "
                f"p99 {e['p99_ms']:7.1f} ms  stmts {e['statements']:g}  errors {e['errors']}",
                flush=True,
            )
        for name, values in paired.items():
            print(f"  alternated {name:<38}" + " ".join(f"{v:8.1f}" for v in values), flush=True)
        return {
            "seeded": {"questions": QUESTIONS, "drawn": DRAWN, "parents": parents},
            "endpoints": endpoints,
            "paired": paired,
        }
    finally:
        server.stop()
        ceiling.stop()


def main() -> int:
    """`python -m bench.quizzes`: only these lines (same database and settings as `make
    bench`, whose schema it resets)."""
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
    for line in report.quiz_table(block):
        print(line)
    return 0 if all(t.ok for t in report.quiz_targets(block)) else 1


if __name__ == "__main__":
    sys.exit(main())
