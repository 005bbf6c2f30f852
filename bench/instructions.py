"""CPU instructions per request, counted by valgrind's callgrind: repeatable to a fraction of
a percent whatever else the machine does, where req/s moves by tens of percent between two
runs on a shared machine. For comparing a change before and after, not for absolute speed.

    python -m bench.instructions                 # me, detail, groups, select1, const
    python -m bench.instructions select1 group-progress progress
    python -m bench.instructions detail me 200   # some cases, 200 requests each
    BENCH_HOT_PATH=off python -m bench.instructions me detail course   # without the hot path
    BENCH_CALLGRIND_DIR=/tmp python -m bench.instructions quiz-start   # keep callgrind.<case>.out

Needs valgrind (`callgrind_control` with it) and the bench database as `make bench` left it
(`TMA_BENCH_DATABASE_URL`; run `make bench`, or `BENCH_NS=10 make bench`, first). The
learning-content cases (`course`, `module`, `posts`) need the data of `make bench`'s N runs
(`python -m bench.seed 10` loads it alone, with the admin's 60 notifications that the
`notifications` case pages through); the progress cases (`progress`,
`group-progress`) the data set of `python -m bench.progress`, which is what a whole
`make bench` leaves; `feed` the data set of `python -m bench.feed`. The quiz cases
(`quiz-start`, `quiz-submit`: issue 23's two lines) load the data set of `bench.quizzes`
themselves before they run (a quiz of 50 questions drawing 20, both shuffles on, 128
parents; the tables are emptied first, so the other cases' data is gone after them: name
them last; so does `dashboard`, which loads `bench.dashboard`'s and counts the admin's
dashboard of its group for course 1), so every run counts the same requests on the same
rows: each of `count` parents (at most 128) starts an attempt and submits it with every
answer right once to warm up, uninstrumented; then `quiz-start` counts each one's next
start, and `quiz-submit` starts them uninstrumented and counts each submit. Each case runs
in its own process under callgrind: the app is built, 50 requests warm it up
uninstrumented, then instrumentation is switched on for `count` sequential requests straight
into the ASGI app (no HTTP, no load generator) and off again. The product's settings are
used, access log included; `select1` and `const` are the ceiling app's two routes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.seed import DEFAULT_URL

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    "me",
    "detail",
    "groups",
    "courses",
    "users",
    "course",
    "course-es",
    "course-304",
    "bundle",
    "group-create",
    "group-create-keyed",
    "module",
    "posts",
    "progress",
    "group-progress",
    "feed",
    "notifications",
    "quiz-start",
    "quiz-submit",
    "dashboard",
    "select1",
    "const",
)
# What `make bench-instructions` counts with no case named: the data these need is there
# after any `make bench` (the content and progress cases need one data set each, above).
DEFAULT_CASES = ("me", "detail", "groups", "select1", "const")
QUIZ_CASES = ("quiz-start", "quiz-submit")
# The offline lines (issue 22): need the data set of `python -m bench.offline`
# (`python -m bench.offline --seed` loads it alone).
OFFLINE_CASES = ("course-304", "bundle", "group-create", "group-create-keyed")
WARM_UP = 50


async def _call(
    app: Any,
    target: str,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "GET",
    body: bytes = b"",
    expect: int = 200,
) -> bytes:
    """One request straight into the ASGI app; its body. An error when it answers other
    than `expect`."""
    path, _, query = target.partition("?")
    if body:
        headers = [*headers, (b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != expect:
        raise RuntimeError(f"{method} {target} answered {sent[0]['status']}")
    return b"".join(m.get("body", b"") for m in sent[1:])


def _instrument(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=True,
        capture_output=True,
    )
    time.sleep(0.3)  # the request is served at callgrind's next check


async def _quiz_cases(app: Any, case: str, count: int) -> None:
    """`quiz-start` or `quiz-submit` on the data set of `bench.quizzes` (loaded by `_count`
    before the run): `count` parents each start and submit once (warm-up), then each starts
    again, and either the starts are counted or the submits that follow them."""
    from bench.quizzes import CONNECTIONS, QUIZ_POST_ID, USERS_PER_CONNECTION, _right_answers
    from tma.core.config import get_settings
    from tma.core.security import create_access_token

    parents = CONNECTIONS * USERS_PER_CONNECTION
    if count > parents:
        raise SystemExit(f"the quiz cases count at most {parents} requests (one per parent)")
    settings = get_settings()
    callers = [
        [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        for token in (create_access_token(uid, settings) for uid in range(2, count + 2))
    ]
    start = f"/api/quizzes/{QUIZ_POST_ID}/attempts"

    async def starts() -> list[dict[str, Any]]:
        return [
            json.loads(await _call(app, start, headers, method="POST", expect=201))
            for headers in callers
        ]

    async def submits(attempts: list[dict[str, Any]]) -> None:
        for headers, attempt in zip(callers, attempts, strict=True):
            target = f"/api/quiz-attempts/{attempt['id']}/submit"
            await _call(app, target, headers, method="POST", body=_right_answers(attempt))

    await submits(await starts())  # warm-up
    if case == "quiz-start":
        _instrument(True)
        await starts()
        _instrument(False)
    else:
        attempts = await starts()
        _instrument(True)
        await submits(attempts)
        _instrument(False)


async def _offline_cases(app: Any, case: str, count: int) -> None:
    """The offline lines on the data set of `bench.offline`: a parent revalidating the
    course detail with its current tag (304), the parent's bundle of the 10 x 20 course
    (gzip, as a phone asks), and `POST /api/groups` by the admin without and with a fresh
    `Idempotency-Key` (a new group name each time)."""
    import uuid

    from bench.offline import COURSE_ID
    from tma.core.config import get_settings
    from tma.core.security import create_access_token

    settings = get_settings()
    admin = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {create_access_token(1, settings)}".encode()),
    ]
    parent = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {create_access_token(2, settings)}".encode()),
    ]
    if case in ("course-304", "bundle"):
        path = f"/api/courses/{COURSE_ID}"
        headers = parent
        expect = 200
        if case == "bundle":
            path += "/bundle"
            headers = [*parent, (b"accept-encoding", b"gzip")]
        else:
            tag = await _tag(app, path, parent)
            headers = [*parent, (b"if-none-match", tag)]
            expect = 304
        for _ in range(WARM_UP):
            await _call(app, path, headers, expect=expect)
        _instrument(True)
        for _ in range(count):
            await _call(app, path, headers, expect=expect)
        _instrument(False)
        return

    async def create() -> None:
        extra = [(b"idempotency-key", uuid.uuid4().hex.encode())] if case.endswith("keyed") else []
        body = json.dumps({"name": f"Bench group {uuid.uuid4().hex[:16]}"}).encode()
        await _call(app, "/api/groups", [*admin, *extra], method="POST", body=body, expect=201)

    for _ in range(WARM_UP):
        await create()
    _instrument(True)
    for _ in range(count):
        await create()
    _instrument(False)


async def _tag(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    tag: bytes | None = None

    async def send(message: dict[str, Any]) -> None:
        nonlocal tag
        if message["type"] == "http.response.start":
            tag = dict(message["headers"]).get(b"etag")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app(scope, receive, send)
    assert tag is not None
    return tag


async def _measure(case: str, count: int) -> None:
    """Runs inside valgrind: build the app, warm up, count `count` requests."""
    from sqlalchemy import select

    from bench.ceilings import create_ceiling_app
    from bench.feed import FEED_PARENT
    from bench.progress import PARENT_USERNAME, PROGRESS_GROUP
    from bench.seed import ADMIN_USERNAME
    from tma.core.config import get_settings
    from tma.core.security import create_access_token
    from tma.courses.models import CourseModule
    from tma.groups.models import Group
    from tma.main import create_app
    from tma.posts.models import Post
    from tma.users.models import User

    headers: list[tuple[bytes, bytes]] = [(b"host", b"bench")]
    if case in QUIZ_CASES:
        app = create_app()
        await _quiz_cases(app, case, count)
        await app.state.db.dispose()
        return
    if case in OFFLINE_CASES:
        app = create_app()
        await _offline_cases(app, case, count)
        await app.state.db.dispose()
        return
    if case in ("select1", "const"):
        app = create_ceiling_app()
        path = f"/{case}"
    elif case == "dashboard":
        from bench.dashboard import DASHBOARD_GROUP

        app = create_app()
        token = create_access_token(1, get_settings())  # the admin of bench.dashboard's set
        headers.append((b"authorization", f"Bearer {token}".encode()))
        path = f"/api/groups/{DASHBOARD_GROUP}/dashboard?course_id=1"
    else:
        app = create_app()
        async with app.state.db.sessionmaker() as session:
            callers = {"progress": PARENT_USERNAME, "feed": FEED_PARENT}
            caller = callers.get(case, ADMIN_USERNAME)
            user = await session.scalar(select(User.id).where(User.username == caller))
            group = await session.scalar(select(Group.id).order_by(Group.id).limit(1))
            progress_group = await session.scalar(
                select(Group.id).where(Group.name == f"Progress group {PROGRESS_GROUP}")
            )
            linked = await session.scalar(select(CourseModule.course_id).limit(1))
            module = await session.scalar(select(Post.module_id).limit(1))
        paths = {
            "me": "/api/auth/me",
            "detail": f"/api/groups/{group}",
            "groups": "/api/groups",
            "courses": "/api/courses",
            "users": "/api/users",
            "course": f"/api/courses/{linked}",
            # The same course detail in Spanish (bench.seed translates it and its modules).
            "course-es": f"/api/courses/{linked}",
            "module": f"/api/modules/{module}",
            "posts": f"/api/posts?module_id={module}",
            "progress": "/api/progress",
            "group-progress": f"/api/groups/{progress_group}/progress",
            "feed": "/api/feed",
            "notifications": "/api/notifications?limit=20",  # the admin's 60 (bench.seed)
        }
        needs = {"course": linked, "course-es": linked, "module": module, "posts": module}
        needs["group-progress"] = progress_group
        if user is None or group is None or needs.get(case, group) is None:
            raise SystemExit(
                f"no bench data for {case!r}: run `make bench` (or BENCH_NS=10 make bench, or "
                "python -m bench.progress for the progress cases) first"
            )
        token = create_access_token(user, get_settings())
        headers.append((b"authorization", f"Bearer {token}".encode()))
        if case == "course-es":
            headers.append((b"accept-language", b"es"))
        path = paths[case]
    if os.environ.get("BENCH_HOT_PATH") == "off" and hasattr(app.state, "db"):
        # The same reads through the session: what the hot path saves (docs/performance.md).
        app.state.db.hot.enabled = False
    for _ in range(WARM_UP):
        await _call(app, path, headers)
    _instrument(True)
    for _ in range(count):
        await _call(app, path, headers)
    _instrument(False)
    await app.state.db.dispose()


def _seed_quizzes(url: str) -> None:
    """The data set of `bench.quizzes`, loaded afresh (the same rows on every run), into the
    bench database migrated to head first (its other rows go with the tables emptied)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bench import quizzes
    from bench.seed import ADMIN_PASSWORD
    from tma.core import migrate
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    async def load() -> None:
        engine = create_async_engine(url)
        try:
            await quizzes.seed(engine, PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD))
        finally:
            await engine.dispose()

    migrate.upgrade(url)
    asyncio.run(load())


def _seed_dashboard(url: str) -> None:
    """The data set of `bench.dashboard`, loaded afresh, into the bench database migrated to
    head first (its other rows go with the tables emptied)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bench import dashboard
    from bench.seed import ADMIN_PASSWORD
    from tma.core import migrate
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    async def load() -> None:
        engine = create_async_engine(url)
        try:
            await dashboard.seed(engine, PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD))
        finally:
            await engine.dispose()

    migrate.upgrade(url)
    asyncio.run(load())


def _count(case: str, count: int) -> int:
    """Instructions per request of one case, from a callgrind run of this module."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        log = Path(tmp) / "valgrind.log"
        url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
        if case in QUIZ_CASES:
            _seed_quizzes(url)
        elif case == "dashboard":
            _seed_dashboard(url)
        env = {**os.environ, "TMA_DATABASE_URL": url}
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                f"--log-file={log}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--inside",
                case,
                str(count),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,  # the access log; shown if the run fails
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"{case} failed:\n{run.stderr[-3000:]}")
        keep = os.environ.get("BENCH_CALLGRIND_DIR")
        if keep:  # for callgrind_annotate: where the instructions went, per function
            shutil.copy(out, Path(keep) / f"callgrind.{case}.out")
        collected = re.search(r"Collected : (\d+)", log.read_text())
        if collected is None:
            raise RuntimeError(f"no instruction count in {log.read_text()[-2000:]}")
        return int(collected.group(1)) // count


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inside"]:
        asyncio.run(_measure(argv[1], int(argv[2])))
        return 0
    count = int(argv[-1]) if argv and argv[-1].isdigit() else 100
    cases = [a for a in argv if not a.isdigit()] or list(DEFAULT_CASES)
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; known: {', '.join(CASES)}")
    results = {case: _count(case, count) for case in cases}
    for case, per_request in results.items():
        line = f"{case:<12}{per_request:>12,} instructions/request"
        if "select1" in results and case != "select1":
            line += f"   SELECT 1 ceiling / this: {results['select1'] / per_request:.0%}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
