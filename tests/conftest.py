"""The workshop's fixtures. Use them by name; you never need to read this file.

Database: SQLite in a temporary file by default; set `TMA_TEST_DATABASE_URL`
(e.g. `postgresql+asyncpg://postgres@127.0.0.1:5432/test`) to run the very same
suite on PostgreSQL. The schema is built once per run by the real Alembic
migrations; every test that asks for the database starts with it empty but for
the three system roles.

| fixture | gives |
|---|---|
| `client` | `httpx.AsyncClient` on the app (ASGI, base URL `http://test`) |
| `test_db` | the test's fresh database (`.session()` opens a SQLAlchemy session) |
| `admin_user` / `auth_headers` | admin `admin` (admin@test.com) and its bearer headers |
| `manager_user` / `manager_headers` | manager `manager` and its headers |
| `test_user` / `user_headers` | user `testuser`, password `testpass`, and its headers |
| `make_auth_headers` | `make_auth_headers(user)` -> headers with a fresh real token |
| `make_user`, `make_group`, `add_member`, `make_course`, `assign_course` | one-line data |
| `make_module`, `link_module`, `make_post`, `make_quiz_post`, `user_course` | learning content |
| `count_queries` | `with count_queries() as q: ...; q.count` SQL statements issued |
| `redis_url` | `TMA_TEST_REDIS_URL` (Redis-backed tests; skipped when unset, CI sets it) |
"""

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

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
from tma.core import migrate
from tma.core.config import Settings
from tma.core.security import create_access_token
from tma.courses.models import Course, GroupCourse, Module
from tma.groups.models import Group, GroupMember
from tma.main import create_app
from tma.posts.models import Post
from tma.users.models import User

TEST_DATABASE_URL_ENV = "TMA_TEST_DATABASE_URL"
REDIS_URL_ENV = "TMA_TEST_REDIS_URL"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    return f"database under test: {url or 'SQLite (temporary file)'}"


async def _reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as exc:  # refused connection: say so loudly, never skip
        pytest.exit(f"{TEST_DATABASE_URL_ENV} is set but PostgreSQL is unreachable: {exc}", 3)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database under test (SQLite file unless TMA_TEST_DATABASE_URL)."""
    return os.environ.get(TEST_DATABASE_URL_ENV) or (
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )


@pytest.fixture(scope="session")
def test_settings(database_url: str) -> Settings:
    """Settings of the app under test: test database, a cheap (but real) argon2 cost."""
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        password_hash_time_cost=1,
        password_hash_memory_kib=8,
        log_level="WARNING",
        db_pool_size=5,
        # Every test client is one address: registrations per client are limited only in
        # the tests of that limit (tests/test_rate_limits.py, on an app of their own).
        register_max_per_client=1000,
    )


@pytest_asyncio.fixture(scope="session")
async def app(test_settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, built once per run on a freshly migrated database."""
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
    """The database of the run; `test_db` empties it before each test."""
    return TestDatabase(db=app.state.db, hasher=app.state.hasher)


@pytest_asyncio.fixture
async def test_db(app: FastAPI, run_database: TestDatabase) -> TestDatabase:
    """A database fresh for this test: schema present, roles seeded, no other rows."""
    await run_database.clear()
    await app.state.limiter.reset()
    return run_database


@pytest_asyncio.fixture
async def client(app: FastAPI, test_db: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in-process, as a real client would."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest_asyncio.fixture
async def redis_url() -> str:
    """The Redis URL of the Redis-backed tests (TMA_TEST_REDIS_URL, a database number
    included); skipped only when unset; set but unreachable fails the test, never skips."""
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
    """`make_auth_headers(user)` -> `{"Authorization": "Bearer <real JWT>"}` for any user."""

    def make(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(user.id, test_settings)}"}

    return make


@pytest.fixture
def make_user(test_db: TestDatabase) -> Callable[..., Awaitable[User]]:
    """`await make_user(username=..., role="user"|"manager"|"admin", password=..., ...)`.

    Every argument is optional: a unique username and `<username>@test.com` by default,
    password `testpass`; profile fields (first_name, child_dob, ...) pass through.
    """

    async def make(**kwargs: Any) -> User:
        return await create_user(test_db, **kwargs)

    return make


@pytest_asyncio.fixture
async def admin_user(test_db: TestDatabase) -> User:
    """An admin: username `admin`, email `admin@test.com`, password `testpass`."""
    return await create_user(test_db, username="admin", email="admin@test.com", role="admin")


@pytest_asyncio.fixture
async def manager_user(test_db: TestDatabase) -> User:
    """A manager: username `manager`, email `manager@test.com`, password `testpass`."""
    return await create_user(test_db, username="manager", email="manager@test.com", role="manager")


@pytest_asyncio.fixture
async def test_user(test_db: TestDatabase) -> User:
    """A regular user (a parent): username `testuser`, password `testpass`."""
    return await create_user(
        test_db, username="testuser", email="testuser@test.com", password="testpass"
    )


@pytest.fixture
def auth_headers(
    admin_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers for `admin_user` (a real token, checked by the real auth code)."""
    return make_auth_headers(admin_user)


@pytest.fixture
def manager_headers(
    manager_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers for `manager_user`."""
    return make_auth_headers(manager_user)


@pytest.fixture
def user_headers(
    test_user: User, make_auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    """Bearer headers for `test_user`."""
    return make_auth_headers(test_user)


# --- groups and courses ------------------------------------------------------------------


@pytest.fixture
def make_group(test_db: TestDatabase, manager_user: User) -> Callable[..., Awaitable[Group]]:
    """`await make_group(name=..., description=..., creator=user)`; creator (owner)
    defaults to `manager_user`."""

    async def make(*, creator: User | None = None, **kwargs: Any) -> Group:
        return await create_group(test_db, creator=creator or manager_user, **kwargs)

    return make


@pytest.fixture
def add_member(test_db: TestDatabase) -> Callable[..., Awaitable[GroupMember]]:
    """`await add_member(group, user, role="member"|"moderator"|"owner")`."""

    async def add(group: Group, user: User, role: str = "member") -> GroupMember:
        return await _add_member(test_db, group=group, user=user, role=role)

    return add


@pytest.fixture
def make_course(test_db: TestDatabase) -> Callable[..., Awaitable[Course]]:
    """`await make_course(title=..., description=...)`."""

    async def make(**kwargs: Any) -> Course:
        return await create_course(test_db, **kwargs)

    return make


@pytest.fixture
def assign_course(test_db: TestDatabase) -> Callable[..., Awaitable[GroupCourse]]:
    """`await assign_course(group, course, ordering=None)`."""

    async def assign(group: Group, course: Course, ordering: int | None = None) -> GroupCourse:
        return await _assign_course(test_db, group=group, course=course, ordering=ordering)

    return assign


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
    """`with count_queries() as q: await client.get(...)` then `q.count`.

    Counts every statement sent, through SQLAlchemy or the driver-level hot reads
    (`Database.add_statement_listener`)."""
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


# --- learning content --------------------------------------------------------------------


@pytest.fixture
def make_module(test_db: TestDatabase) -> Callable[..., Awaitable[Module]]:
    """`await make_module(title=None, description=None, color=None, course=None,
    ordering=None)` -> a `Module` (`.id`, `.title`, ...).

    Defaults: a unique title, no description, no color, no posts. With `course`, the
    module is also linked into that course at `ordering` (default last). A `user` sees
    the module only once it is in a course assigned to one of their groups (see
    `assign_course`); staff see it at once."""

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
    """`await link_module(course, module, ordering=None)` -> the outline item (a dict with
    `module_id`, `module_title`, `ordering`, ...). The module goes last unless `ordering`
    is given (later modules move down). Raises the service's error (e.g. `Conflict`) if
    the module is already in the course."""

    async def link(course: Course, module: Module, ordering: int | None = None) -> dict[str, Any]:
        return await _link_module(test_db, course=course, module=module, ordering=ordering)

    return link


@pytest.fixture
def make_post(test_db: TestDatabase) -> Callable[..., Awaitable[Post]]:
    """`await make_post(module, post_type="default", title=None, content=None,
    video_url=None, file_id=None, ordering=None)` -> a `Post` (`.id`, `.ordering`, ...).

    Defaults: a unique title, content "Some text", last in the module. A `video` gets
    `https://video.test/<title>` unless `video_url` is given; an `attachment` needs a
    `file_id` (see `upload_file`). For quizzes use `make_quiz_post`. Who sees the post:
    whoever sees its module."""

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
    """`await make_quiz_post(module, quiz=None, title=None, ordering=None)` -> a quiz
    `Post`.

    Default quiz (`factories.DEFAULT_QUIZ`), pass mark 50: question 1 `single` ("Knight"
    correct, "Bishop" wrong), question 2 `multiple` ("Bishop" and "Queen" correct, "Rook"
    wrong), each with an explanation. Pass `quiz={...}` in the API's authoring shape for
    another. Read the ids of questions and options through `GET /api/posts/{id}` as
    staff."""

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
    """A course `test_user` sees: assigned to a group (owned by `manager_user`) that
    `test_user` is a member of. Modules linked into it become visible to `test_user`."""
    group = await make_group()
    await add_member(group, test_user)
    course = await make_course()
    await assign_course(group, course)
    return course
