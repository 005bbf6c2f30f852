"""The one way to read: a SELECT with named columns through the request's `AsyncSession`.

- Services take the request's `AsyncSession` (`SessionDep`) as their one handle: for the
  ORM (writes, and reads that need objects) and for Core statements alike.
- Rows are read by column name (`row["title"]`), never by position: `rows` and `first`
  return mappings; a statement built once at import is checked by `named` (each column
  named once, label what would clash).
- Lists go through `tma.core.pagination.ListQuery` (one page and its total).
- Bodies are serialized by the response models (`tma.core.pagination.list_response`,
  `json_response`, or a model returned from the route).
- One fenced exception: `tma.core.hotpath` (three reads measured at 1.5x or more).
"""

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import RowMapping, Select
from sqlalchemy.ext.asyncio import AsyncSession

AnySelect = Select[*tuple[Any, ...]]


class NamedRow(Protocol):
    """A row read by column name: a SQLAlchemy `RowMapping` or an asyncpg `Record`."""

    def __getitem__(self, key: str, /) -> Any: ...


def named(statement: AnySelect) -> AnySelect:
    """`statement`, checked to name each of its columns once (a row is read by name)."""
    keys = [str(column.key) for column in statement.selected_columns]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"columns named twice in a read: {', '.join(duplicates)}")
    return statement


async def rows(session: AsyncSession, statement: AnySelect, **params: Any) -> Sequence[RowMapping]:
    """Every row of `statement` as a mapping by column name."""
    return (await session.execute(statement, params)).mappings().all()


async def first(session: AsyncSession, statement: AnySelect, **params: Any) -> RowMapping | None:
    """The first row of `statement` as a mapping by column name, or None."""
    return (await session.execute(statement, params)).mappings().first()
