"""Declarative base, the engine and the session dependency."""

import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Select, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from tma.core.config import Settings

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


# Ids of users, groups, courses and modules (and the columns referring to them): 64-bit, as
# the API accepts any id in 1..2^63-1 (an unknown one is a 404, never a 500). SQLite's
# INTEGER is 64-bit already and must stay INTEGER to be the rowid (AUTOINCREMENT).
ID = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps the text it is given; store it naive so ordering stays lexical.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
        )
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


class ConnectionLost(ConnectionError):
    """A hot read's connection broke under the query (`Database.fetch_rows`)."""


StatementListener = Callable[[str], None]
AnySelect = Select[*tuple[Any, ...]]


class Database:
    """The engine and its session factory; one per app, kept on `app.state.db`."""

    # At most this many pooled connections stay with `fetch_rows` between its reads.
    KEPT_CONNECTIONS = 4

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads (GET, HEAD) on PostgreSQL run in autocommit: no BEGIN and no ROLLBACK round
        # trip around them. Under READ COMMITTED each statement takes its own snapshot
        # anyway, so a read loses nothing; writes (and `SELECT ... FOR UPDATE`) keep their
        # transaction. Same pool: the isolation level is set per checkout, reset on return.
        self.read_engine = self.engine
        if self.engine.dialect.name == "postgresql":
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # `fetch_rows` on asyncpg skips SQLAlchemy's Connection (see there); not when SQL
        # echo is on, which only SQLAlchemy's Connection logs.
        dialect = self.engine.dialect
        self.driver_reads = dialect.name == "postgresql" and dialect.driver == "asyncpg"
        self.driver_reads = self.driver_reads and not settings.db_echo
        self._compiled: dict[AnySelect, tuple[str, tuple[str, ...]]] = {}
        self._listeners: list[StatementListener] = []
        # Connections `fetch_rows` keeps between reads (see `_release`); not with pre-ping,
        # which must run at every checkout.
        self._kept: list[PoolProxiedConnection] = []
        self._keep = self.KEPT_CONNECTIONS if not settings.db_pool_pre_ping else 0

    def read_connection(self) -> AsyncConnection:
        """A bare connection for a standalone read (on PostgreSQL in autocommit): no session."""
        return self.read_engine.connect()

    async def fetch_rows(self, statement: AnySelect, **params: Any) -> Sequence[Sequence[Any]]:
        """Every row of a pre-built, read-only `statement`, each a sequence of column values.

        For the hottest reads (the caller behind every token, the group detail, the big
        lists through `PagedQuery`). On
        PostgreSQL the statement, compiled by SQLAlchemy once, runs straight on the asyncpg
        connection checked out of the engine's pool, outside any transaction (autocommit,
        like every GET): no SQLAlchemy `Connection`, execution context or result object,
        which cost about three times the query itself (docs/performance.md). Only for
        columns the driver returns as SQLAlchemy would (integers, text, booleans, dates,
        `UTCDateTime`); `tests/test_driver_reads.py` compares both paths. Elsewhere
        (SQLite) it runs through SQLAlchemy. Statement listeners see it either way:
        observe statements with `add_statement_listener`, not engine events."""
        if not self.driver_reads:
            async with self.read_connection() as connection:
                result = await connection.execute(statement, params)
                rows: Sequence[Sequence[Any]] = result.all()
                return rows
        sql, names = self._compile(statement)
        for listener in self._listeners:
            listener(sql)
        fairy = self._kept.pop() if self._kept else await self.engine.raw_connection()
        driver = fairy.driver_connection
        assert driver is not None
        try:
            records: Sequence[Sequence[Any]] = await driver.fetch(
                sql, *(params[name] for name in names)
            )
        except BaseException as exc:
            # A failed query leaves the connection usable; a lost connection, or a query
            # cancelled half way, does not. As SQLAlchemy does on a disconnect: drop it and
            # recycle every connection as old at its next checkout.
            if not isinstance(exc, asyncpg.PostgresError) or driver.is_closed():
                await greenlet_spawn(self._invalidate, fairy, exc)
                await self._drop_kept(invalidate=True)  # as old as the broken one
                if isinstance(exc, asyncpg.InternalClientError):
                    # What asyncpg raises when the server ended the connection under a
                    # query ("cannot switch to state ..."): a lost connection (503).
                    raise ConnectionLost(str(exc)) from exc
            raise
        finally:
            await self._release(fairy)
        return records

    async def _release(self, fairy: PoolProxiedConnection) -> None:
        """Keep the connection for the next read, or give it back to the pool.

        Checking a connection out of SQLAlchemy's pool and back in (events, reset, the
        greenlet its adapter needs) cost about as much as the query; the reads of one
        worker follow each other closely, so up to `KEPT_CONNECTIONS` idle ones stay here,
        still counted as checked out by the pool (it has `pool_size + max_overflow`).
        Only closing a connection awaits the driver (an overflow one returned to a full
        pool, an invalidated one), inside a greenlet; one that goes into a free slot of
        the pool, with no transaction open (these reads never open one), goes back
        directly."""
        if fairy.is_valid and len(self._kept) < self._keep:
            self._kept.append(fairy)
            return
        pool = self.engine.sync_engine.pool
        if fairy.is_valid and isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
            fairy.close()
        else:
            await greenlet_spawn(fairy.close)

    async def _drop_kept(self, *, invalidate: bool) -> None:
        kept, self._kept = self._kept, []
        for fairy in kept:
            if invalidate:
                await greenlet_spawn(fairy.invalidate)
            await greenlet_spawn(fairy.close)

    @property
    def kept_connections(self) -> int:
        """Idle connections `fetch_rows` holds for its next reads."""
        return len(self._kept)

    def _invalidate(self, fairy: PoolProxiedConnection, exc: BaseException) -> None:
        self.engine.sync_engine.pool._invalidate(fairy, exc)  # what Connection does

    def _compile(self, statement: AnySelect) -> tuple[str, tuple[str, ...]]:
        compiled = self._compiled.get(statement)
        if compiled is None:
            sql = statement.compile(dialect=self.engine.dialect)
            compiled = (sql.string, tuple(sql.positiontup or ()))
            self._compiled[statement] = compiled
        return compiled

    def add_statement_listener(self, listener: StatementListener) -> Callable[[], None]:
        """Call `listener(sql)` before every statement sent to the database, through
        SQLAlchemy or through `fetch_rows`; returns the function that stops it."""

        def on_execute(*args: Any) -> None:
            listener(args[2])

        event.listen(self.engine.sync_engine, "before_cursor_execute", on_execute)
        self._listeners.append(listener)

        def remove() -> None:
            event.remove(self.engine.sync_engine, "before_cursor_execute", on_execute)
            self._listeners.remove(listener)

        return remove

    async def dispose(self) -> None:
        await self._drop_kept(invalidate=False)
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
# (`fetch_rows`): the network (refused, reset, timed out), a connection closed or
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


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed (and rolled back if uncommitted) at the end.

    GET and HEAD requests only read: on PostgreSQL their session runs in autocommit."""
    db: Database = request.app.state.db
    factory = db.read_sessionmaker if request.method in _READ_METHODS else db.sessionmaker
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
