"""The one special read path: a pre-built SELECT run straight on the asyncpg connection.

Fenced here. Used by the Idempotency-Key layer's claim and store (`tma.core.idempotency`:
each one statement in autocommit), by the bundle's two statements (`tma.bundle.service`),
by the list helper (`tma.core.pagination.ListQuery`, every list), by the notification
list (`notifications.service.list_notifications`, one windowed statement:
docs/notifications.md "The list's speed"), by three details: the caller behind every
token (`users.service.find_caller`), the group detail (`groups.service.group_detail`) and
the course detail (`courses.service.course_detail`), and by the feed (`feed.service.feed`,
with the children's birth dates of `children.service.child_ages`) and the progress reads
(`progress.service.user_course_progress`, `progress.service.group_progress`). Each
measured against the same code with this path off (`BENCH_HOT_PATH=off`, which sends the
same statements through the session) on the same run,
`python -m bench.instructions me detail groups course 100` (callgrind, instructions per
request, N = 10; docs/performance.md "One read path"): GET /api/auth/me 1.75x,
GET /api/groups/{id} 1.70x, GET /api/groups 1.65x, GET /api/courses/{id} 1.66x; on the
data sets of `bench.feed` and `bench.progress`: GET /api/feed 1.87x, GET /api/progress
1.59x, GET /api/groups/{id}/progress 1.76x. Also the first read of a quiz start and of an
attempt's submit, save or read (`quizzes.service._read_one`, before the request's
transaction opens): a smaller share of those writes, `python -m bench.instructions
quiz-start quiz-submit 100` 7.92M -> 7.40M (start) and 9.06M -> 8.59M (submit) instructions
per request (docs/performance.md, "The quiz engine's lines after the learning events").
Everything else reads through the session (`tma.core.reads`, whose rules hold here too:
rows are read by name). On SQLite, with SQL echo on, or inside a transaction the session's
own path runs instead. The rows are what SQLAlchemy would return:
`tests/test_driver_reads.py` compares both paths value by value and type by type, and
`driver_safe` admits only columns the driver returns as SQLAlchemy would, named in the SQL
as SQLAlchemy keys them.

What it saves: SQLAlchemy's `Connection`, execution context and result object cost about
three times the query itself for a one-row read. The statement is compiled once; its rows
are asyncpg `Record`s, read by column name (`row["name"]`) like the session's dicts.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import JSON, Boolean, Column, Date, Enum, Integer, Label, Select, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import NullType
from sqlalchemy.util import greenlet_spawn

from tma.core.config import Settings
from tma.core.reads import AnySelect, NamedRow, rows
from tma.core.sqltypes import UTCDateTime

StatementListener = Callable[[str], None]
Compiled = tuple[str, tuple[str, ...], dict[str, Any]]

# Where a session finds the app's `HotPath` (`Database` puts it in every session's info).
SESSION_KEY = "tma.hotpath"


# The column types asyncpg returns as SQLAlchemy would (no result processing that changes a
# value): what a statement on this path may select. `UTCDateTime`: asyncpg gives an aware
# UTC datetime for `timestamptz`, as the type's processor does. `JSON`: SQLAlchemy's asyncpg
# dialect decodes `json` in the driver (the codec it sets on each connection, with the
# engine's deserializer) and adds no result processing.
_SAFE_TYPES = (Integer, String, Boolean, Date, UTCDateTime, JSON, NullType)


def driver_safe(statement: AnySelect) -> AnySelect:
    """`statement`, checked to select only columns of `_SAFE_TYPES`, each a table's column
    or labelled (so the SQL names it as SQLAlchemy keys it: an unlabelled expression, such
    as a column property, is `anon_1` in the SQL); else ValueError."""
    unsafe = [
        f"{column.key}: {column.type!r}"
        for column in statement.selected_columns
        if not isinstance(column.type, _SAFE_TYPES) or isinstance(column.type, Enum)
    ]
    unnamed = [
        str(column.key)
        for column in statement.selected_columns
        if not isinstance(column, (Column, Label))
    ]
    if unsafe:
        raise ValueError(f"columns the hot path cannot read as SQLAlchemy does: {unsafe}")
    if unnamed:
        raise ValueError(f"label these columns of a hot read: {', '.join(unnamed)}")
    return statement


def _safe_returning(statement: UpdateBase) -> None:
    """A write on this path returns only integer columns (ids), or nothing."""
    unsafe = [c.key for c in statement.exported_columns if not isinstance(c.type, Integer)]
    if unsafe:
        raise ValueError(f"a hot write may return only integer columns: {unsafe}")


class ConnectionLost(ConnectionError):
    """A hot read's connection broke under the query."""


class HotPath:
    """The driver-level reads of one engine, and the statement listeners that see them."""

    # At most this many pooled connections stay here between reads (see `_release`).
    KEPT_CONNECTIONS = 4

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        dialect = engine.dialect
        # Not when SQL echo is on: only SQLAlchemy's Connection logs statements.
        self.enabled = (
            dialect.name == "postgresql" and dialect.driver == "asyncpg" and not settings.db_echo
        )
        self.listeners: list[StatementListener] = []
        self._compiled: dict[AnySelect | UpdateBase, Compiled] = {}
        # Not with pre-ping, which must run at every checkout.
        self._kept: list[PoolProxiedConnection] = []
        self._keep = self.KEPT_CONNECTIONS if not settings.db_pool_pre_ping else 0

    async def fetch(
        self, statement: AnySelect | UpdateBase, params: Mapping[str, Any]
    ) -> Sequence[NamedRow]:
        """Every row of a pre-built read-only `statement`, outside any transaction
        (autocommit, like every GET). Only for columns the driver returns as SQLAlchemy
        would (integers, text, booleans, dates, `UTCDateTime`, JSON). Also one pre-built
        `INSERT`/`UPDATE`/`DELETE` that stands alone (its own autocommit transaction: the
        Idempotency-Key's claim and store, `tma.core.idempotency`), returning only such
        columns."""
        sql, names, defaults = self._compile(statement)
        for listener in self.listeners:
            listener(sql)
        fairy = self._kept.pop() if self._kept else await self.engine.raw_connection()
        driver = fairy.driver_connection
        assert driver is not None
        try:
            args = [params[name] if name in params else defaults[name] for name in names]
            records: Sequence[NamedRow] = await driver.fetch(sql, *args)
        except BaseException as exc:
            # A failed query leaves the connection usable; a lost connection, or a query
            # cancelled half way, does not: drop it and the idle ones kept with it, and
            # start a new pool (as SQLAlchemy does on a disconnect, the others are as old).
            if not isinstance(exc, asyncpg.PostgresError) or driver.is_closed():
                await greenlet_spawn(fairy.invalidate, exc)
                await self.drop_kept(invalidate=True)
                await self.engine.dispose()
                if isinstance(exc, asyncpg.InternalClientError):
                    # What asyncpg raises when the server ended the connection under a
                    # query ("cannot switch to state ..."): a lost connection (503).
                    raise ConnectionLost(str(exc)) from exc
            raise
        finally:
            await self._release(fairy)
        return records  # read by name: `driver_safe` made the SQL's names SQLAlchemy's keys

    async def _release(self, fairy: PoolProxiedConnection) -> None:
        """Keep the connection for the next read, or give it back to the pool.

        Checking a connection out of SQLAlchemy's pool and back in (events, reset, the
        greenlet its adapter needs) costs about as much as the query; the reads of one
        worker follow each other closely, so up to `KEPT_CONNECTIONS` idle ones stay here,
        still counted as checked out by the pool. Only closing a connection awaits the
        driver (an overflow one returned to a full pool, an invalidated one), inside a
        greenlet; one that goes into a free slot of the pool, with no transaction open,
        goes back directly."""
        if fairy.is_valid and len(self._kept) < self._keep:
            self._kept.append(fairy)
            return
        pool = self.engine.sync_engine.pool
        if fairy.is_valid and isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
            fairy.close()
        else:
            await greenlet_spawn(fairy.close)

    async def drop_kept(self, *, invalidate: bool) -> None:
        """Give back (or, after a lost connection, invalidate) the idle connections."""
        kept, self._kept = self._kept, []
        for fairy in kept:
            if invalidate:
                await greenlet_spawn(fairy.invalidate)
            await greenlet_spawn(fairy.close)

    @property
    def kept_connections(self) -> int:
        """Idle connections held for the next reads."""
        return len(self._kept)

    def _compile(self, statement: AnySelect | UpdateBase) -> Compiled:
        # The SQL, its parameters' names in order, and the values the statement itself
        # binds (a literal in a condition, used where the caller names none).
        compiled = self._compiled.get(statement)
        if compiled is None:
            if isinstance(statement, Select):
                driver_safe(statement)
            else:
                _safe_returning(statement)
            sql = statement.compile(dialect=self.engine.dialect)
            if sql.literal_execute_params or sql.post_compile_params:
                # Rendered into the SQL only when SQLAlchemy runs it (an aggregate's literal
                # argument, an expanding IN): not a statement for this path.
                raise ValueError("the hot path cannot run a statement with post-compile values")
            carried = {name: bind.value for name, bind in sql.binds.items() if not bind.required}
            compiled = (sql.string, tuple(sql.positiontup or ()), carried)
            self._compiled[statement] = compiled
        return compiled


async def hot_rows(
    session: AsyncSession, statement: AnySelect, **params: Any
) -> Sequence[NamedRow]:
    """The rows of `statement`, read by column name: on the driver when the session's
    database has the hot path on and the session holds no transaction yet, else on the
    session's connection (`tma.core.reads.rows`)."""
    hot: HotPath | None = session.info.get(SESSION_KEY)
    if hot is not None and hot.enabled and not session.in_transaction():
        return await hot.fetch(statement, params)
    return await rows(session, statement, **params)
