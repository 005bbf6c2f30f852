"""The workshop's fixtures. Use them by name; you never need to read this file.

Their reference (what each gives, its defaults, what it creates, its side effects) is
docs/fixtures.md, generated from the docstrings below by `make fixture-docs`
(tests/fixture_reference.py); tests/test_fixture_reference.py fails when the two drift.
Every fixture's docstring has the lines `Gives:` or `Call:`, `Creates:` and `Side effects:`.

Database: SQLite in a temporary file by default; set `TMA_TEST_DATABASE_URL`
(e.g. `postgresql+asyncpg://postgres@127.0.0.1:5432/tma_test`) to run the very same
suite on PostgreSQL (the database is created if it does not exist).
"""

import contextlib
import os
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from factories import (
    DEFAULT_QUIZ,
    TestDatabase,
    create_course,
    create_group,
    create_module,
    create_user,
    unique,
)
from factories import (
    add_member as _add_member,
)
from factories import (
    assign_course as _assign_course,
)
from factories import (
    create_post as _create_post,
)
from factories import (
    link_module as _link_module,
)
from mutation_focus import (  # noqa: F401  (`make mutation` only)
    pytest_collection_modifyitems,
    pytest_configure,
)
from races import HeldSQLiteTransaction, HeldTransaction
from tma.core import clock as clock_module
from tma.core import migrate
from tma.core.config import Settings
from tma.core.security import create_access_token
from tma.courses.models import Course, GroupCourse, Module
from tma.files.storage import FileStore
from tma.groups.models import Group, GroupMember
from tma.main import create_app
from tma.posts.models import Post
from tma.seed.files import sample_pdf, sample_png
from tma.users.models import User

TEST_DATABASE_URL_ENV = "TMA_TEST_DATABASE_URL"
REDIS_URL_ENV = "TMA_TEST_REDIS_URL"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    return f"database under test: {url or 'SQLite (temporary file)'}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.postgresql` tests (concurrency, staged races) skip on SQLite, saying why;
    CI runs them on PostgreSQL."""
    on_postgres = os.environ.get(TEST_DATABASE_URL_ENV, "").startswith("postgresql")
    if item.get_closest_marker("postgresql") and not on_postgres:
        pytest.skip(f"needs PostgreSQL: set {TEST_DATABASE_URL_ENV}=postgresql+asyncpg://...")


def _missing_database(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is PostgreSQL's "database does not exist" (3D000)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == "3D000":
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def _create_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(
            f"{TEST_DATABASE_URL_ENV}: database {name!r} does not exist and could not be "
            f"created: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            3,
        )
    finally:
        await admin.dispose()


async def _reset_postgres_schema(url: str) -> None:
    """Empty the test database (creating it first if it does not exist); any failure stops
    the run with one line, never an error per test and never a skip."""
    for attempt in (1, 2):
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            return
        except Exception as exc:
            if attempt == 1 and _missing_database(exc):
                await _create_postgres_database(url)
                continue
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            pytest.exit(f"{TEST_DATABASE_URL_ENV} is set but the database is unusable: {reason}", 3)
        finally:
            await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database under test.

    Gives: `str`; a temporary SQLite file, or `TMA_TEST_DATABASE_URL` when set.
    Creates: nothing (the PostgreSQL database is created by `app` if it does not exist).
    Side effects: none.
    """
    return os.environ.get(TEST_DATABASE_URL_ENV) or (
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )


@pytest.fixture(scope="session")
def test_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the app under test.

    Gives: `tma.core.config.Settings` with the test database, the secret `TEST_SECRET`, a
    cheap (but real) argon2 cost (1 pass, 8 KiB), log level WARNING, a pool of 5, files in
    a temporary directory with a 2 MiB upload limit (above the 1 MiB JSON limit, and past
    the 1 MiB an upload keeps in memory); every other setting at its default (login
    throttle 5 failures / 300 s, bodies up to 1 MiB).
    Creates: the temporary upload directory.
    Side effects: none.
    """
    return Settings(
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        max_upload_bytes=TEST_MAX_UPLOAD_BYTES,
        secret_key=TEST_SECRET,
        password_hash_time_cost=1,
        password_hash_memory_kib=8,
        log_level="WARNING",
        db_pool_size=5,
        # Every test client is one address: registrations per client are limited only in
        # the tests of that limit (tests/test_rate_limits.py, on an app of their own).
        register_max_per_client=1000,
        # Every body the fast path dumps is checked against its model (a mismatch is a 500).
        check_bodies=True,
    )


@pytest_asyncio.fixture(scope="session")
async def app(test_settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, built once per run on a freshly migrated database.

    Gives: the FastAPI app (`app.state.db`, `.hasher`, `.login_throttle`, `.settings`).
    Creates: on PostgreSQL the database if it does not exist, then an empty `public` schema;
    the schema by the real Alembic migrations (three system roles seeded).
    Side effects: a PostgreSQL database that cannot be reached, created or emptied stops the
    whole run with one line (exit code 3); nothing is ever skipped.
    """
    if test_settings.database_url.startswith("postgresql"):
        await _reset_postgres_schema(test_settings.database_url)
    # Alembic's env runs its own event loop; keep it off ours.
    import anyio.to_thread

    await anyio.to_thread.run_sync(migrate.upgrade, test_settings.database_url)
    application = create_app(test_settings)
    yield application
    await application.state.db.dispose()


@pytest.fixture(scope="session")
def run_database(app: FastAPI) -> TestDatabase:
    """The database of the run, not emptied: use `test_db` in tests.

    Gives: `factories.TestDatabase` (`.session()`, `.role(name)`, `.clear()`).
    Creates: nothing.
    Side effects: none.
    """
    return TestDatabase(db=app.state.db, hasher=app.state.hasher)


@pytest_asyncio.fixture
async def test_db(app: FastAPI, run_database: TestDatabase) -> TestDatabase:
    """A database fresh for this test: schema present, roles seeded, no other rows.

    Gives: `factories.TestDatabase`; `async with test_db.session() as s:` opens a session.
    Creates: nothing.
    Side effects: deletes every row but the three roles, and resets the login throttle,
    before the test (every fixture that writes data requests this one first).
    """
    await run_database.clear()
    await app.state.limiter.reset()
    return run_database


@pytest_asyncio.fixture
async def client(app: FastAPI, test_db: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in-process, as a real client would.

    Gives: `httpx.AsyncClient` on the app through `httpx.ASGITransport`, base URL
    `http://test`, no default headers (pass `headers=auth_headers` etc.).
    Creates: nothing (requests `test_db`, so the database is empty).
    Side effects: every request is recorded by the contract-coverage plugin; a status
    counts as tested only if the test reads `response.status_code`.
    """
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest_asyncio.fixture
async def redis_url() -> str:
    """The Redis of the Redis-backed rate-limit tests.

    Gives: the URL in `TMA_TEST_REDIS_URL` (a database number included), checked by a ping.
    Creates: nothing; each test writes under a key prefix of its own and deletes it.
    Side effects: the test is skipped only when the variable is unset (CI sets it); set but
    unreachable, the test fails, never skips.
    """
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        pytest.skip(f"{REDIS_URL_ENV} not set (CI sets it)")
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"{REDIS_URL_ENV}={url} is set but Redis is unreachable: {exc}")
    finally:
        await client.aclose()
    return url


# --- users and their headers -------------------------------------------------------------


@pytest.fixture
def make_auth_headers(test_settings: Settings) -> Callable[[User], dict[str, str]]:
    """Bearer headers with a fresh real token for any user.

    Call: `make_auth_headers(user)` -> `{"Authorization": "Bearer <JWT>"}` (not awaited).
    Creates: a token signed with the test secret, `sub` = the user's id, 30 minutes.
    Side effects: none; the user's current role and `is_active` are read at each request.
    """

    def make(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(user.id, test_settings)}"}

    return make


@pytest.fixture
def make_user(test_db: TestDatabase) -> Callable[..., Awaitable[User]]:
    """Any number of extra accounts.

    Call: `await make_user(username=None, email=None, password="testpass", role="user",
    is_active=True, **profile)` -> `User`; `role` is `user`, `manager` or `admin`; profile
    fields (`first_name`, `last_name`, `child_name`, `child_sex_assigned_at_birth`,
    `child_dob`, `avatar_url`) pass through, validated like a request body.
    Creates: one user; username `user-<n>` (unique in the run) unless given, email
    `<username>@test.com` unless given, `email_verified` false.
    Side effects: none; it is in no group.
    """

    async def make(**kwargs: Any) -> User:
        return await create_user(test_db, **kwargs)

    return make


@pytest_asyncio.fixture
async def admin_user(test_db: TestDatabase) -> User:
    """An admin account.

    Gives: `User` `admin`, email `admin@test.com`, password `testpass`, role `admin`, active.
    Creates: that user.
    Side effects: listed by `GET /api/users` like any account.
    """
    return await create_user(test_db, username="admin", email="admin@test.com", role="admin")


@pytest_asyncio.fixture
async def manager_user(test_db: TestDatabase) -> User:
    """A manager account.

    Gives: `User` `manager`, email `manager@test.com`, password `testpass`, role `manager`.
    Creates: that user.
    Side effects: `make_group` requests it: every group made with `make_group()` is owned
    by `manager`, who is then in that group's member list and `member_count`.
    """
    return await create_user(test_db, username="manager", email="manager@test.com", role="manager")


@pytest_asyncio.fixture
async def test_user(test_db: TestDatabase) -> User:
    """A regular user (a parent).

    Gives: `User` `testuser`, email `testuser@test.com`, password `testpass`, role `user`.
    Creates: that user.
    Side effects: none; it is in no group until `add_member(group, test_user)`.
    """
    return await create_user(
        test_db, username="testuser", email="testuser@test.com", password="testpass"
    )


@pytest.fixture
def auth_headers(
    admin_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers of the admin.

    Gives: `{"Authorization": "Bearer <JWT of admin_user>"}`.
    Creates: `admin_user` (requests it).
    Side effects: none.
    """
    return make_auth_headers(admin_user)


@pytest.fixture
def manager_headers(
    manager_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers of the manager.

    Gives: `{"Authorization": "Bearer <JWT of manager_user>"}`.
    Creates: `manager_user` (requests it).
    Side effects: none.
    """
    return make_auth_headers(manager_user)


@pytest.fixture
def user_headers(
    test_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers of the regular user.

    Gives: `{"Authorization": "Bearer <JWT of test_user>"}`.
    Creates: `test_user` (requests it).
    Side effects: none.
    """
    return make_auth_headers(test_user)


# --- groups and courses ------------------------------------------------------------------


@pytest.fixture
def make_group(test_db: TestDatabase, manager_user: User) -> Callable[..., Awaitable[Group]]:
    """Groups, through the real service.

    Call: `await make_group(name=None, description=None, creator=None)` -> `Group`.
    Creates: one group named `group-<n>` unless given; its creator becomes its `owner`
    (`member_count` 1).
    Side effects: requests `manager_user`, so the `manager` account exists in every test
    that uses this fixture, and without `creator=` it is the group's owner: it appears in
    the member list and every member count. Pass `creator=some_user` to avoid that.
    """

    async def make(*, creator: User | None = None, **kwargs: Any) -> Group:
        return await create_group(test_db, creator=creator or manager_user, **kwargs)

    return make


@pytest.fixture
def add_member(test_db: TestDatabase) -> Callable[..., Awaitable[GroupMember]]:
    """Put a user into a group, through the real service.

    Call: `await add_member(group, user, role="member")` -> `GroupMember`; `role` is
    `member`, `moderator` or `owner`.
    Creates: one membership (joined now: members list in joining order).
    Side effects: the group's `member_count` grows by one.
    """

    async def add(group: Group, user: User, role: str = "member") -> GroupMember:
        return await _add_member(test_db, group=group, user=user, role=role)

    return add


@pytest.fixture
def make_course(test_db: TestDatabase) -> Callable[..., Awaitable[Course]]:
    """Courses, through the real service.

    Call: `await make_course(title=None, description=None)` -> `Course`.
    Creates: one course titled `course-<n>` unless given, with no modules.
    Side effects: none; it is assigned to no group.
    """

    async def make(**kwargs: Any) -> Course:
        return await create_course(test_db, **kwargs)

    return make


@pytest.fixture
def assign_course(test_db: TestDatabase) -> Callable[..., Awaitable[GroupCourse]]:
    """Assign a course to a group, through the real service.

    Call: `await assign_course(group, course, ordering=None)` -> `GroupCourse`.
    Creates: one assignment; last in the group's order unless `ordering` is given.
    Side effects: the group's members (role `user`) can now see the course.
    """

    async def assign(group: Group, course: Course, ordering: int | None = None) -> GroupCourse:
        return await _assign_course(test_db, group=group, course=course, ordering=ordering)

    return assign


# --- time and chance ---------------------------------------------------------------------


class TestClock:
    """The time the app's `tma.core.clock.now` answers while the `clock` fixture is on."""

    __test__ = False  # not a test class

    def __init__(self, start: datetime) -> None:
        self.now = start

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by `timedelta(**delta)`; the new time."""
        self.now += timedelta(**delta)
        return self.now


CLOCK_START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(app: FastAPI) -> Iterator[TestClock]:
    """The app's clock, held still and moved by the test (no test sleeps for a deadline).

    Gives: `TestClock`: `.now` (starts at 2026-09-01T09:00:00Z), `.set(datetime)`,
    `.advance(minutes=..., seconds=...)`; every route that takes `tma.core.clock.Now` (the
    quiz attempts: start, save, read, submit) sees `.now`.
    Creates: nothing.
    Side effects: overrides `tma.core.clock.now` on the app for this test (removed after);
    timestamps written by those routes are the clock's, not the wall clock's (tokens still
    use the wall clock).
    """
    test_clock = TestClock(CLOCK_START)

    async def frozen() -> datetime:
        return test_clock.now

    app.dependency_overrides[clock_module.now] = frozen
    try:
        yield test_clock
    finally:
        app.dependency_overrides.pop(clock_module.now, None)


@pytest.fixture
def seeded_chance(app: FastAPI) -> Iterator[Callable[[int], None]]:
    """The app's random source, seeded by the test (a draw or shuffle it can assert).

    Call: `seeded_chance(seed)` (not awaited): from then on every route that takes
    `tma.core.clock.Chance` (starting a quiz attempt: its draw and shuffles) uses one
    `random.Random(seed)`, shared by the requests in the order they run.
    Creates: nothing.
    Side effects: overrides `tma.core.clock.chance` on the app for this test (removed after).
    """

    def seed(value: int) -> None:
        rng = random.Random(value)

        async def seeded() -> random.Random:
            return rng

        app.dependency_overrides[clock_module.chance] = seeded

    try:
        yield seed
    finally:
        app.dependency_overrides.pop(clock_module.chance, None)


# --- measuring ---------------------------------------------------------------------------


@dataclass
class QueryCounter:
    """SQL statements seen while the `count_queries()` block ran."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: FastAPI) -> Callable[[], contextlib.AbstractContextManager[QueryCounter]]:
    """Count the SQL statements a block sends.

    Call: `with count_queries() as q: await client.get(...)`, then `q.count` (and
    `q.statements`, the SQL texts).
    Creates: nothing.
    Side effects: none; it sees statements sent through SQLAlchemy and the driver-level
    hot reads alike (`Database.add_statement_listener`).
    """
    db = app.state.db

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        stop = db.add_statement_listener(counter.statements.append)
        try:
            yield counter
        finally:
            stop()

    return counting


@pytest_asyncio.fixture
async def held_transaction(
    test_db: TestDatabase,
) -> AsyncIterator[HeldTransaction | HeldSQLiteTransaction]:
    """A transaction held open on a connection of its own: stage a race exactly.

    Gives: `races.HeldTransaction` (PostgreSQL) or `races.HeldSQLiteTransaction` (SQLite):
    `await held.execute(sql, **params)` runs raw SQL in the open transaction (insert,
    update or lock the row a request will contend for); `await held.until_waited_on(task)`
    returns once a request (an `asyncio` task) waits for a lock the transaction holds, and
    fails if the task ends first; `await held.commit()` or `await held.rollback()` lets the
    request go on. On PostgreSQL a request waits for the rows the transaction wrote or
    locked; on SQLite (one writer at a time) the first `execute` takes the database's write
    lock, and a request waits at its first write: create the test's data before it.
    Creates: nothing (what `execute` writes is the test's, and goes with `test_db`).
    Side effects: the transaction is rolled back at the end if the test left it open.
    """
    if test_db.db.engine.dialect.name == "sqlite":
        path = str(test_db.db.engine.url.database)
        raw = sqlite3.connect(path, timeout=5, isolation_level=None)
        raw.execute("PRAGMA foreign_keys = ON")  # as the app's connections: cascades run
        held_sqlite = HeldSQLiteTransaction(raw)
        stop = test_db.db.add_statement_listener(held_sqlite.on_statement)
        try:
            yield held_sqlite
            await held_sqlite.rollback()
        finally:
            stop()
            held_sqlite.close()
        return
    # Connections of their own, outside the app's pool (which the requests need).
    engine = create_async_engine(test_db.db.engine.url, poolclass=NullPool)
    try:
        async with engine.connect() as conn, engine.connect() as probe:
            # Autocommit: pg_stat_activity is read once per transaction, and must be fresh.
            await probe.execution_options(isolation_level="AUTOCOMMIT")
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            await conn.commit()
            yield HeldTransaction(conn, probe, int(pid))
            await conn.rollback()
    finally:
        await engine.dispose()


# --- learning content --------------------------------------------------------------------


@pytest.fixture
def make_module(test_db: TestDatabase) -> Callable[..., Awaitable[Module]]:
    """Modules, through the real model and (with `course`) the real linking service.

    Call: `await make_module(title=None, description=None, color=None, course=None,
    ordering=None)` -> `Module`.
    Creates: one module titled `module-<n>` unless given, no description, no color, no posts;
    with `course`, its link into that course at `ordering` (default last; later modules move
    down).
    Side effects: a `user` sees it only once it is in a course assigned to one of their groups
    (see `assign_course`, `user_course`); staff see it at once.
    """

    async def make(
        *, course: Course | None = None, ordering: int | None = None, **kwargs: Any
    ) -> Module:
        module = await create_module(test_db, **kwargs)
        if course is not None:
            await _link_module(test_db, course=course, module=module, ordering=ordering)
        return module

    return make


@pytest.fixture
def link_module(test_db: TestDatabase) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Put a module into a course, through the real service.

    Call: `await link_module(course, module, ordering=None)` -> the outline item (a dict:
    `module_id`, `module_title`, `ordering`, ...).
    Creates: one course-module link, last unless `ordering` is given (later modules move down).
    Side effects: raises `Conflict` if the module is already in the course; members of groups
    assigned to the course now see the module.
    """

    async def link(course: Course, module: Module, ordering: int | None = None) -> dict[str, Any]:
        return await _link_module(test_db, course=course, module=module, ordering=ordering)

    return link


@pytest.fixture
def make_post(test_db: TestDatabase) -> Callable[..., Awaitable[Post]]:
    """Posts, through the real posts service.

    Call: `await make_post(module, post_type="default", title=None, content="Some text",
    video_url=None, file_id=None, ordering=None)` -> `Post`.
    Creates: one post titled `post-<n>` unless given, last in the module unless `ordering` is
    given (later posts move down); a `video` gets `https://video.test/<title>` unless
    `video_url` is given; an `attachment` needs a `file_id` (see `upload_file`); for quizzes use
    `make_quiz_post`.
    Side effects: whoever sees the module sees the post.
    """

    async def make(module: Module, post_type: str = "default", **kwargs: Any) -> Post:
        title = kwargs.pop("title", None) or unique("post")
        if post_type == "video":
            kwargs.setdefault("video_url", f"https://video.test/{title}")
        kwargs.setdefault("content", "Some text")
        return await _create_post(
            test_db, module_id=module.id, title=title, post_type=post_type, **kwargs
        )

    return make


@pytest.fixture
def make_quiz_post(test_db: TestDatabase) -> Callable[..., Awaitable[Post]]:
    """Quiz posts, through the real posts service.

    Call: `await make_quiz_post(module, quiz=None, title=None, ordering=None)` -> `Post`.
    Creates: one quiz post titled `quiz-<n>` unless given, last in the module; the default quiz
    (`factories.DEFAULT_QUIZ`, pass mark 50): question 1 `single` ("Knight" correct, "Bishop"
    wrong), question 2 `multiple` ("Bishop" and "Queen" correct, "Rook" wrong), each with an
    explanation; pass `quiz={...}` in the API's authoring shape for another.
    Side effects: whoever sees the module sees the quiz (without answers unless staff); read
    question and option ids through `GET /api/posts/{id}` as staff.
    """

    async def make(module: Module, quiz: dict[str, Any] | None = None, **kwargs: Any) -> Post:
        title = kwargs.pop("title", None) or unique("quiz")
        return await _create_post(
            test_db,
            module_id=module.id,
            title=title,
            post_type="quiz",
            quiz=quiz or DEFAULT_QUIZ,
            **kwargs,
        )

    return make


@pytest_asyncio.fixture
async def user_course(
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[GroupMember]],
    make_course: Callable[..., Awaitable[Course]],
    assign_course: Callable[..., Awaitable[GroupCourse]],
    test_user: User,
) -> Course:
    """A course `test_user` sees.

    Gives: a `Course` assigned to a new group that `test_user` is a member of.
    Creates: the group (owned by `manager_user`, who becomes its member), `test_user`'s
    membership, the course and its assignment.
    Side effects: modules linked into the course become visible to `test_user`; the group counts
    2 members.
    """
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course()
    await assign_course(group, course)
    return course


# --- files (attachments and avatars) -----------------------------------------------------


@pytest_asyncio.fixture
async def file_store(app: FastAPI, test_db: TestDatabase) -> FileStore:
    """The app's file store (the run's temporary upload directory), emptied for this test.

    Gives: the app's `FileStore`; `await file_store.keys()` -> the sorted ids whose bytes
    are stored.
    Creates: nothing.
    Side effects: every object left by earlier tests is deleted first (the database is
    emptied by `test_db`).
    """
    store: FileStore = app.state.file_store
    for key in await store.keys():
        await store.delete(key)
    return store


@pytest.fixture
def upload_file(
    client: httpx.AsyncClient,
    file_store: FileStore,
    admin_user: User,
    make_auth_headers: Callable[[User], dict[str, str]],
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Files, uploaded through the API as a client does (multipart field `file`).

    Call: `await upload_file(content=None, *, filename=None, avatar=False, user=None)` ->
    the 201 body `{id, url, filename, content_type, size, created_at}`.
    Creates: by default a small one-page PDF (`tma.seed.files.sample_pdf`) named
    `notes.pdf`, as an attachment (`POST /api/files`) by `admin_user`; `avatar=True`
    uploads to `/api/files/upload-avatar` instead, the default content then a 32x32 PNG
    named `avatar.png`; `user` uploads as that user instead of the admin.
    Side effects: the row in `files` and the bytes in `file_store`; fails the test unless
    the answer is 201.
    """

    async def upload(
        content: bytes | None = None,
        *,
        filename: str | None = None,
        avatar: bool = False,
        user: User | None = None,
    ) -> dict[str, Any]:
        if content is None:
            content = sample_png((200, 80, 40), 32) if avatar else sample_pdf("Exercises")
        if filename is None:
            filename = "avatar.png" if avatar else "notes.pdf"
        path = "/api/files/upload-avatar" if avatar else "/api/files"
        response = await client.post(
            path,
            files={"file": (filename, content, "application/octet-stream")},
            headers=make_auth_headers(user or admin_user),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return upload
