"""Lists: the `limit`/`offset` parameters, the one list helper (`ListQuery`), the
`X-Total-Count` header and list bodies serialized by their response models."""

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from pydantic import TypeAdapter
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.hotpath import driver_safe, hot_rows
from tma.core.reads import column_keys, named

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


class ListQuery:
    """The one list helper: a list endpoint's query, built once at import, read through the
    request's session a page at a time, with its total.

    `rows` is the SELECT of the list's columns, each named once (rows are read by name),
    in its order; `count` selects one column of the same rows (the total is counted over
    it). Both may hold bound parameters, passed to `page` by name. A filter is a bound
    parameter in the statement; another order, or another caller's scope, is another
    `ListQuery` built beside it (see `scoped`): nothing is built or compiled per request
    (docs/architecture.md "Reading and listing").

    Its statements run on the hot path (`tma.core.hotpath`: `GET /api/groups` measured
    1.65x the same statements through the session on the same run, docs/performance.md),
    so their columns must be of the types the driver returns as SQLAlchemy would: checked
    here, when the list is built."""

    NO_LIMIT = 2**63 - 1  # `limit=None`: every row from `offset` on

    def __init__(
        self,
        rows: Select[*tuple[Any, ...]],
        *,
        count: Select[*tuple[Any, ...]],
        child: str | None = None,
    ) -> None:
        # `child`: for the children of one parent read with it (parent LEFT JOIN children,
        # `page_of`), the column that is null on a childless parent's one row.
        driver_safe(named(rows))
        self.child = child
        self.count = select(func.count().label("total")).select_from(count.subquery())
        self.rows = rows.limit(bindparam("limit", type_=BigInteger)).offset(
            bindparam("offset", type_=BigInteger)
        )
        self.keys = column_keys(self.rows)

    @classmethod
    def scoped(
        cls,
        columns: tuple[Any, ...],
        *,
        order: tuple[Any, ...],
        count_by: Any,
        scope: ColumnElement[bool],
        join: tuple[Any, ...] = (),
    ) -> "dict[bool, ListQuery]":
        """The list whole (`False`) and only where `scope` holds (`True`): `scope` is a
        condition on bound parameters (the viewer's id), for the callers who see part of
        the list. `join`: a (target, on clause) the columns or the order need."""
        rows = select(*columns)
        if join:
            rows = rows.join(*join)
        return {
            False: cls(rows.order_by(*order), count=select(count_by)),
            True: cls(rows.where(scope).order_by(*order), count=select(count_by).where(scope)),
        }

    async def page(
        self, session: AsyncSession, page: Page, **params: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of rows (dicts by column name, in the statement's column order) and the
        length of the whole list.

        The total is counted only when the page cannot tell it: a page that stops short of
        its limit (or has none) reached the end of the list, so the total is `offset` plus
        its rows (unless it is empty past an `offset`)."""
        _, rows, total = await self.page_of(session, page, **params)
        return rows, total

    async def page_of(
        self, session: AsyncSession, page: Page, **params: Any
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
        """`page` for the children of one parent read with it in one statement (a list
        built with `child`): also the first row as read (the parent's columns; None when
        no row came back: no such parent, or a page past the end)."""
        limit = self.NO_LIMIT if page.limit is None else page.limit
        read = await hot_rows(session, self.rows, limit=limit, offset=page.offset, **params)
        # A row's values come in its statement's column order on both paths (`named` and
        # `driver_safe` made the SQL's names these keys), and the keys are the interned
        # strings of `column_keys`, which the serializer matches by identity.
        keys = self.keys
        found = [dict(zip(keys, row.values(), strict=True)) for row in read]
        head = found[0] if found else None
        rows = found if self.child is None else [r for r in found if r[self.child] is not None]
        if len(rows) < limit and (rows or not page.offset):
            return head, rows, page.offset + len(rows)
        (total,) = await hot_rows(session, self.count, **params)
        return head, rows, int(total["total"])


_check = [False]


def check_bodies(on: bool) -> None:
    """With `on` (the test suite, `TMA_CHECK_BODIES`), every body `list_response` and
    `json_response` dump is also validated by its model and the two dumps compared: a body
    that is not exactly what its model gives (a missing or extra key, a wrong type) fails
    the request with a 500 naming the model. So the whole contract suite proves the fast
    path below for every shape it reads."""
    _check[0] = on


class BodyMismatch(RuntimeError):
    """A response body that its model would have written differently (`check_bodies`)."""


def dump_body(adapter: TypeAdapter[Any], body: Any) -> bytes:
    """`body` (row dicts, shaped like the response model) as JSON by `adapter`
    (`tma.core.schemas.row_adapter(Model)` / `row_list_adapter(Model)`, the model's field
    order, names and serializers), dumped as it is: no validation pass, no model instance
    per row (docs/performance.md). `check_bodies` proves it in the tests."""
    out = adapter.dump_json(body)
    if _check[0]:
        model = adapter.dump_json(adapter.validate_python(body))
        if out != model:
            at = next(i for i, (a, b) in enumerate(zip(out, model, strict=False)) if a != b)
            raise BodyMismatch(
                f"a body differs from what {adapter} dumps once validated, at byte {at}: "
                f"{out[max(0, at - 40) : at + 40]!r} against {model[max(0, at - 40) : at + 40]!r}"
            )
    return out


def list_response(adapter: TypeAdapter[Any], rows: Any, total: int) -> Response:
    """A list body (`dump_body`) with its `X-Total-Count`. The route keeps its
    `response_model` for the OpenAPI schema."""
    response = Response(content=dump_body(adapter, rows), media_type="application/json")
    set_total(response, total)
    return response


def json_response(adapter: TypeAdapter[Any], body: Any) -> Response:
    """One object as JSON (`dump_body`). The route keeps its `response_model` for the
    OpenAPI schema."""
    return Response(content=dump_body(adapter, body), media_type="application/json")


def set_total(response: Response, total: int) -> None:
    """Report the size of the whole list, whatever window was asked for."""
    response.headers["X-Total-Count"] = str(total)
