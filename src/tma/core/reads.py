"""The one way to read: a SELECT with named columns through the request's `AsyncSession`.

- Services take the request's `AsyncSession` (`SessionDep`) as their one handle: for the
  ORM (writes, and reads that need objects) and for Core statements alike.
- Rows are read by column name (`row["title"]`), never by position: `rows` and `first`
  return dicts keyed as SQLAlchemy keys the columns (`column_keys`); a statement built
  once at import is checked by `named` (each column named once, label what would clash).
- Lists go through `tma.core.pagination.ListQuery` (one page and its total).
- Bodies are serialized by the response models (`tma.core.pagination.list_response`,
  `json_response`, or a model returned from the route).
- One fenced exception: `tma.core.hotpath` (the reads measured at 1.5x or more: the lists,
  the caller, the group and course details, the feed, the progress reads).
"""

import sys
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, CursorResult, Select, String, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

AnySelect = Select[*tuple[Any, ...]]
M = TypeVar("M")


class NamedRow(Protocol):
    """A row read by column name: a dict of `rows`, or an asyncpg `Record` of the hot path."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def values(self) -> Iterable[Any]: ...


R = TypeVar("R", bound=NamedRow)


def named(statement: AnySelect) -> AnySelect:
    """`statement`, checked to name each of its columns once (a row is read by name)."""
    keys = [str(column.key) for column in statement.selected_columns]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"columns named twice in a read: {', '.join(duplicates)}")
    return statement


async def _execute(
    session: AsyncSession, statement: AnySelect, params: dict[str, Any] | list[dict[str, Any]]
) -> CursorResult[Any]:
    # On the session's connection (its transaction, if one is open): a SELECT of columns
    # needs no ORM loading, and Core's path costs about three quarters of the ORM's
    # (docs/performance.md). What the session would do first: flush pending changes.
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await (await session.connection()).execute(statement, params)


async def execute_core(
    session: AsyncSession, statement: Any, params: dict[str, Any] | list[dict[str, Any]]
) -> CursorResult[Any]:
    """A Core statement built once (an INSERT, UPDATE or locking SELECT of a write) on the
    session's connection, in its transaction, without the ORM's execution steps (for an
    UPDATE its synchronize pass over the identity map, for an INSERT its bulk-persistence
    path: together about as much as the statement; docs/performance.md, "The quiz engine").
    For statements whose rows the session holds no objects of. A list of parameter sets
    runs it once per set, in one executemany (one statement sent)."""
    return await _execute(session, statement, params)


_KEYS: "weakref.WeakKeyDictionary[AnySelect, tuple[str, ...]]" = weakref.WeakKeyDictionary()


def column_keys(statement: AnySelect) -> tuple[str, ...]:
    """The names of `statement`'s columns as SQLAlchemy keys them (a column property by its
    attribute's name, which Core's result would call `anon_1`): the names every path gives
    a row (`rows`, `first`, the hot path). Remembered per statement object."""
    keys = _KEYS.get(statement)
    if keys is None:
        # Interned: the very string objects of the response models' field names, which
        # pydantic's serializer then matches by identity instead of comparing the text
        # (16 text comparisons a row of a user list before, docs/performance.md).
        keys = _KEYS[statement] = tuple(sys.intern(str(c.key)) for c in statement.selected_columns)
    return keys


async def rows(session: AsyncSession, statement: AnySelect, **params: Any) -> list[dict[str, Any]]:
    """Every row of `statement` (a SELECT of columns) as a dict by column name."""
    keys = column_keys(statement)
    result = await _execute(session, statement, params)
    return [dict(zip(keys, row, strict=True)) for row in result]


async def first(
    session: AsyncSession, statement: AnySelect, **params: Any
) -> dict[str, Any] | None:
    """The first row of `statement` (a SELECT of columns) as a dict by column name."""
    row = (await _execute(session, statement, params)).first()
    return None if row is None else dict(zip(column_keys(statement), row, strict=True))


async def get_with_flag(
    session: AsyncSession, model: type[M], key: Any, flag: ColumnElement[bool], missing: Exception
) -> tuple[M, bool]:
    """The `model` object whose primary key is `key` and the value of `flag` for it (whether
    the caller may see it, belongs to it, ...), in one statement; `missing` is raised when
    there is no such row."""
    (column,) = inspect(model).primary_key
    stmt = select(model, flag.label("flag")).where(column == key)
    row = (await session.execute(stmt)).mappings().first()
    if row is None:
        raise missing
    found: M = row[model.__name__]  # an entity's column is named after its class
    return found, bool(row["flag"])


def visible_head(found: Sequence[R], *, missing: Exception, refused: Exception) -> R:
    """The first row of a detail read in one statement (the object, whether the caller may
    see it as the column `visible`, and its children LEFT JOINed): `missing` when no row came
    back, `refused` when the caller may not see it."""
    if not found:
        raise missing
    head = found[0]
    if not head["visible"]:
        raise refused
    return head


class comma_joined(FunctionElement[str]):
    """The text values of a group joined by commas (NULL for none): PostgreSQL's
    `string_agg`, SQLite's `group_concat`, the separator written into the SQL. What
    `func.aggregate_strings` does, without its post-compile separator, which the driver
    path cannot send (`tma.core.hotpath`)."""

    type = String()
    inherit_cache = True


@compiles(comma_joined, "postgresql")
def _comma_joined_postgresql(element: comma_joined, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined)
def _comma_joined_sqlite(element: comma_joined, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"
