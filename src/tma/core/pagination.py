"""`limit`/`offset` list parameters and the `X-Total-Count` header."""

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from pydantic import TypeAdapter
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import Database

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1

# Any SELECT, whatever its columns (Select is variadic in SQLAlchemy 2.1).
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class Page:
    """A window on a list: `limit=None` means everything from `offset` on."""

    limit: int | None = None
    offset: int = 0

    def apply(self, stmt: S) -> S:
        if self.offset:
            stmt = stmt.offset(self.offset)
        if self.limit is not None:
            stmt = stmt.limit(self.limit)
        return stmt


async def page_params(  # async: no worker-thread hop per request
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="At most this many")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many")] = 0,
) -> Page:
    """The `limit` (1-1000, default all) and `offset` (>= 0) query parameters."""
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]


class PagedQuery:
    """A list query built once, at import: one page of its rows and its total, each one
    pre-built statement run through `Database.fetch_rows` (on PostgreSQL straight on the
    driver); the count only when the page does not tell the total. Nothing is built or
    compiled per request and no session is opened: for the list endpoints every client
    calls (docs/performance.md).

    `rows` is the SELECT with its order; `count` selects one column of the same rows (the
    total is counted over it). Both may use bound parameters (the viewer's id), passed to
    `fetch` by name; the window is bound too (`limit`, `offset`)."""

    NO_LIMIT = 2**63 - 1  # `limit=None`: every row from `offset` on

    def __init__(self, rows: Select[*tuple[Any, ...]], count: Select[*tuple[Any, ...]]) -> None:
        self.keys = tuple(str(column.key) for column in rows.selected_columns)
        self.count = select(func.count()).select_from(count.subquery())
        self.page = rows.limit(bindparam("limit", type_=BigInteger)).offset(
            bindparam("offset", type_=BigInteger)
        )

    async def fetch(self, db: Database, page: Page, **params: Any) -> tuple[list[Any], int]:
        """One page of rows (sequences of column values, in `keys` order) and the total.

        The total is counted only when the page cannot tell it: a page that stops short of
        its limit (or has none) reached the end of the list, so the total is `offset` plus
        its rows, read in the same statement (unless it is empty past an `offset`)."""
        limit = self.NO_LIMIT if page.limit is None else page.limit
        rows = list(await db.fetch_rows(self.page, limit=limit, offset=page.offset, **params))
        if len(rows) < limit and (rows or not page.offset):
            return rows, page.offset + len(rows)
        total = (await db.fetch_rows(self.count, **params))[0][0]
        return rows, int(total)

    async def fetch_dicts(
        self, db: Database, page: Page, **params: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """`fetch`, each row a dict keyed by the selected columns' names."""
        rows, total = await self.fetch(db, page, **params)
        keys = self.keys  # as many as each row has columns (zip's strict check costs 3x)
        return [dict(zip(keys, row)) for row in rows], total  # noqa: B905


class ScopedList:
    """A list some callers see whole and the others only where `scope` holds, `scope` being
    a condition on the bound parameter `viewer_id`: the two `PagedQuery`s built once, rows
    of `columns` in `order`, counted over `count_by`."""

    def __init__(
        self,
        columns: tuple[Any, ...],
        order: tuple[Any, ...],
        count_by: Any,
        scope: ColumnElement[bool],
    ) -> None:
        self.whole = PagedQuery(select(*columns).order_by(*order), count=select(count_by))
        self.scoped = PagedQuery(
            select(*columns).where(scope).order_by(*order), count=select(count_by).where(scope)
        )

    async def fetch_dicts(
        self, db: Database, page: Page, *, viewer_id: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """The page as dicts and the total: the whole list for `viewer_id=None`, else the
        rows in scope for that viewer."""
        if viewer_id is None:
            return await self.whole.fetch_dicts(db, page)
        return await self.scoped.fetch_dicts(db, page, viewer_id=viewer_id)


async def count_rows(session: AsyncSession, stmt: Select[*tuple[Any, ...]]) -> int:
    """The number of rows `stmt` would return, by one aggregate query."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)


def list_response(
    adapter: TypeAdapter[Any], rows: Any, total: int, *, validate: bool = True
) -> Response:
    """A list body as JSON bytes, straight from row mappings or dicts: one adapter (see
    `tma.core.schemas.row_list_adapter`) validates and dumps the whole list in Rust, with no
    ORM object or model per row. The route keeps its `response_model` for the OpenAPI schema.

    `validate=False` dumps `rows` as they are: only for dicts already holding the read
    model's keys in its order with the column types (saves a copy of a 10,000-row list)."""
    body = adapter.dump_json(adapter.validate_python(rows) if validate else rows)
    response = Response(content=body, media_type="application/json")
    set_total(response, total)
    return response


def json_response(adapter: TypeAdapter[Any], body: Any, *, validate: bool = True) -> Response:
    """One object as JSON bytes, validated and dumped by `adapter` (see
    `tma.core.schemas.row_adapter`) in one pass in Rust: no response model built and then
    validated again by FastAPI. The route keeps its `response_model` for the OpenAPI schema.
    `validate=False` as for `list_response`."""
    return Response(
        content=adapter.dump_json(adapter.validate_python(body) if validate else body),
        media_type="application/json",
    )


def set_total(response: Response, total: int) -> None:
    """Report the size of the whole list, whatever window was asked for."""
    response.headers["X-Total-Count"] = str(total)


async def fetch_page(
    session: AsyncSession, stmt: Select[*tuple[Any, ...]], page: Page
) -> tuple[list[dict[str, Any]], int]:
    """One page of `stmt` (ordered already) as dicts keyed by its column names, and the
    length of the whole list: counted by one aggregate only when the page cannot tell it
    (a page shorter than its limit ends the list). The ordinary SQLAlchemy path."""
    rows = [dict(row) for row in (await session.execute(page.apply(stmt))).mappings()]
    if (page.limit is None or len(rows) < page.limit) and (rows or not page.offset):
        return rows, page.offset + len(rows)
    return rows, await count_rows(session, stmt)
