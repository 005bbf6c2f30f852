"""Declarative base, the engine and the session dependency."""

import socket
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Index, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from tma.core.config import Settings
from tma.core.hotpath import SESSION_KEY, HotPath, StatementListener
from tma.core.sqltypes import ID as ID
from tma.core.sqltypes import UTCDateTime as UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every table: one naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _same_as_created(context: Any) -> datetime:
    # A new row's updated_at equals its created_at to the microsecond, so "was it edited?"
    # is `updated_at > created_at`.
    created = context.get_current_parameters().get("created_at")
    return created if isinstance(created, datetime) else utcnow()


class TimestampMixin:
    """`created_at` and `updated_at`, set by the application in UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_same_as_created, onupdate=utcnow, nullable=False
    )


class ListedMixin(TimestampMixin):
    """A table listed oldest first (courses, modules, groups): the timestamps, ids never
    reused (SQLite's AUTOINCREMENT), and the `(created_at, id)` index its lists page by
    (`ix_<table>_created_at_id`). The table declares its own `id` (a column property of the
    class body may refer to it)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{name}_created_at_id", "created_at", "id"),
            {"sqlite_autoincrement": True},
        )


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection; we want it to refuse what
    # PostgreSQL refuses. WAL lets readers and one writer work at the same time.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine for `settings.database_url`, with the pool chosen for that backend."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
        # No pool-level ROLLBACK on check-in: sessions and connections already roll back
        # their own open transaction when closed, and with aiosqlite every redundant
        # statement is a round trip to the driver's thread (~0.3 ms a request, measured).
        kwargs["pool_reset_on_return"] = None
    else:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=settings.db_pool_pre_ping,
            # No JIT compilation: it pays off for long analytic queries, never for these
            # reads, and the planner's default row estimate of a set-returning function
            # (100 rows a call) tips a few-millisecond read of JSON (the group dashboard's
            # question statistics) over `jit_above_cost`, where compiling took 1.2 s
            # (measured on PostgreSQL 15, docs/performance.md).
            connect_args={"server_settings": {"jit": "off"}},
        )
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


class Database:
    """The engine, its session factories and the hot path; one per app, on `app.state.db`."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.hot = HotPath(self.engine, settings)
        # Sessions a request left clean, for the next request (`request_session`): building
        # one costs ~15 us, a tenth of a short read (docs/performance.md "Sessions kept").
        self.idle_sessions: list[AsyncSession] = []
        self.idle_read_sessions: list[AsyncSession] = []
        info = {SESSION_KEY: self.hot, IDLE_KEY: self.idle_sessions}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        # Reads (GET, HEAD) on PostgreSQL run in autocommit: no BEGIN and no ROLLBACK round
        # trip around them. Under READ COMMITTED each statement takes its own snapshot
        # anyway, so a read loses nothing; writes (and `SELECT ... FOR UPDATE`) keep their
        # transaction. Same pool: the isolation level is set per checkout, reset on return.
        self.read_engine = self.engine
        if self.engine.dialect.name == "postgresql":
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine,
            expire_on_commit=False,
            info={**info, IDLE_KEY: self.idle_read_sessions},
        )

    def add_statement_listener(self, listener: StatementListener) -> Callable[[], None]:
        """Call `listener(sql)` before every statement sent to the database, through
        SQLAlchemy or the hot path; returns the function that stops it."""

        def on_execute(*args: Any) -> None:
            listener(args[2])

        event.listen(self.engine.sync_engine, "before_cursor_execute", on_execute)
        self.hot.listeners.append(listener)

        def remove() -> None:
            event.remove(self.engine.sync_engine, "before_cursor_execute", on_execute)
            self.hot.listeners.remove(listener)

        return remove

    async def dispose(self) -> None:
        await self.hot.drop_kept(invalidate=False)
        await self.engine.dispose()


async def commit_or(session: AsyncSession, gone: Exception) -> None:
    """Commit the session's changes; raise `gone` when a row they update was deleted
    meanwhile (another request's DELETE won the race): the write's 404, never a 500."""
    try:
        await session.commit()
    except StaleDataError:
        await session.rollback()
        raise gone from None


# What "the database cannot be reached" looks like, from SQLAlchemy or straight from asyncpg
# (the hot path): the network (refused, reset, timed out), a connection closed or
# terminated by the server (pg_terminate_backend, shutdown, restart), a server that accepts
# no connections now, a pool with no free connection in time, SQLite's file not openable.
# Not any OperationalError: on its own it says nothing of the connection.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
)


_SQLITE_UNAVAILABLE = "unable to open database file"


def upsert(session: AsyncSession, model: type[Base]) -> Any:
    """An `INSERT` into `model`'s table that takes `.on_conflict_do_update(...)` and
    `.on_conflict_do_nothing(...)`: PostgreSQL's or SQLite's, for the database `session` is
    bound to (the two spell `ON CONFLICT` alike). One statement that holds under concurrent
    writers, where a SELECT then INSERT would race (docs/adding-an-endpoint.md, "A new
    table")."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def unavailable_database_error(exc: BaseException) -> BaseException | None:
    """The error in `exc`'s chain that says the database could not be reached (`exc`
    itself, or the driver error it was raised from), else None. Follows `raise ... from`
    (SQLAlchemy wraps driver errors so), not the context of an unrelated error raised
    while handling one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return current
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return current
        if isinstance(current, sqlite3.OperationalError) and _SQLITE_UNAVAILABLE in str(current):
            return current
        current = current.__cause__
    return None


_READ_METHODS = frozenset({"GET", "HEAD"})

IDLE_KEY = "tma.idle_sessions"
"""Where a session's `info` names the list of idle sessions of its factory, which
`close_sessions` gives it back to."""
IDLE_SESSIONS_MAX = 64
"""At most this many idle sessions a factory keeps (more are simply dropped): as many as a
worker serves requests at once, about."""


SESSIONS_KEY = "tma.sessions"
"""Where the request's scope holds its session once opened (a list: empty until then), for
`close_sessions` (`tma.core.middleware.RequestMiddleware` puts the list there and closes
the session at the end)."""


def request_session(request: Request) -> AsyncSession:
    """The request's one session, opened on first use: services take it, and nothing else,
    as their handle. The auth dependency and the route get the same one (kept in the
    request's scope, without a dependency of its own for FastAPI to resolve on every
    request); the request middleware closes it when the request is done.

    GET and HEAD requests only read: on PostgreSQL their session runs in autocommit."""
    opened: list[AsyncSession] = request.scope[SESSIONS_KEY]
    if opened:
        return opened[0]
    db: Database = request.app.state.db
    if request.method in _READ_METHODS:
        session = db.idle_read_sessions.pop() if db.idle_read_sessions else db.read_sessionmaker()
    else:
        session = db.idle_sessions.pop() if db.idle_sessions else db.sessionmaker()
    opened.append(session)
    return session


async def get_session(request: Request) -> AsyncSession:  # async: no worker-thread hop
    """`request_session` as a route dependency (`SessionDep`)."""
    return request_session(request)


async def close_sessions(sessions: list[AsyncSession]) -> None:
    """Close each session (rolling back anything uncommitted, forgetting every object) and
    give it back to its factory's idle list for a later request: a session is reusable once
    closed (SQLAlchemy's documented lifecycle). One that never began a transaction and holds
    no object (only hot reads, or nothing) has nothing to close. One whose close failed is
    dropped."""
    for session in sessions:
        if session.in_transaction() or session.identity_map or session.new:
            await session.close()
        idle: list[AsyncSession] = session.info[IDLE_KEY]
        if len(idle) < IDLE_SESSIONS_MAX:
            idle.append(session)
    sessions.clear()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
