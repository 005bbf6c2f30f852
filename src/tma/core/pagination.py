"""`limit`/`offset` list parameters and the `X-Total-Count` header."""

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1

S = TypeVar("S", bound=Select[Any])


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


def page_params(
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="At most this many")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many")] = 0,
) -> Page:
    """The `limit` (1-1000, default all) and `offset` (>= 0) query parameters."""
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]


async def count_rows(session: AsyncSession, stmt: Select[Any]) -> int:
    """The number of rows `stmt` would return, by one aggregate query."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)


def set_total(response: Response, total: int) -> None:
    """Report the size of the whole list, whatever window was asked for."""
    response.headers["X-Total-Count"] = str(total)
