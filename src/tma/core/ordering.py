"""Contiguous 1-based positions of children within a parent (a course's modules, a module's
posts): insert at, move, remove, one parent at a time.

Every change first locks the parent row (`lock_parent`), so two writers on one parent run one
after the other and positions stay 1..n with no duplicates, whatever arrives at once. A
position past the end means "last". The caller then writes the child at the position these
functions return, and commits.
"""

from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


async def lock_parent(session: AsyncSession, model: Any, parent_id: int) -> bool:
    """Take the write lock of the parent row `model.id == parent_id` for this transaction;
    False when that row does not exist."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE and its driver opens a transaction only at the first
        # write: a write that changes nothing takes the database's write lock now.
        keep = update(model).where(model.id == parent_id).values(updated_at=model.updated_at)
        result = await session.execute(keep.execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]
    found = await session.scalar(select(model.id).where(model.id == parent_id).with_for_update())
    return found is not None


class Ordering:
    """The `position` column of a child table and the column naming its parent."""

    def __init__(self, position: InstrumentedAttribute[int], parent: InstrumentedAttribute[int]):
        self.position = position
        self.parent = parent
        self.table = position.class_

    def _of(self, parent_id: int) -> ColumnElement[bool]:
        return self.parent == parent_id

    async def size(self, session: AsyncSession, parent_id: int) -> int:
        """How many children the parent has."""
        total = await session.scalar(select(func.count()).where(self._of(parent_id)))
        return int(total or 0)

    async def _shift(self, session: AsyncSession, where: ColumnElement[bool], by: int) -> None:
        values: dict[Any, Any] = {self.position: self.position + by}
        # Only the moved item counts as edited: its neighbours keep their `updated_at`.
        if hasattr(self.table, "updated_at"):
            values[self.table.updated_at] = self.table.updated_at
        stmt = update(self.table).where(where).values(values)
        await session.execute(stmt.execution_options(synchronize_session=False))

    async def insert_at(self, session: AsyncSession, parent_id: int, position: int | None) -> int:
        """Make room for a new child at `position` (None or past the end: last) by moving
        the later ones down; returns the position the new child takes."""
        size = await self.size(session, parent_id)
        if position is None or position > size:
            return size + 1
        await self._shift(session, self._of(parent_id) & (self.position >= position), 1)
        return position

    async def move(self, session: AsyncSession, parent_id: int, current: int, target: int) -> int:
        """Move the child at `current` to `target` (past the end: last), shifting the ones
        between; returns the position it takes (the caller writes it to the child)."""
        target = min(target, await self.size(session, parent_id))
        if target < current:
            between = (self.position >= target) & (self.position < current)
            await self._shift(session, self._of(parent_id) & between, 1)
        elif target > current:
            between = (self.position > current) & (self.position <= target)
            await self._shift(session, self._of(parent_id) & between, -1)
        return target

    async def close_gap(self, session: AsyncSession, parent_id: int, removed: int) -> None:
        """Close the gap a child removed from `removed` left."""
        await self._shift(session, self._of(parent_id) & (self.position > removed), -1)
