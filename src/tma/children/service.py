"""The rules and queries of a parent's children: the list, create (at most 10, under the
parent's lock), change, delete, and the ages the feed fits content to."""

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.children.ages import age_in_months
from tma.children.models import MAX_CHILDREN, Child
from tma.children.schemas import ChildCreate, ChildUpdate
from tma.core.db import commit_or
from tma.core.errors import Conflict, NotFound, Unauthorized
from tma.core.hotpath import driver_safe, hot_rows
from tma.core.ordering import lock_parent
from tma.core.pagination import ListQuery, Page
from tma.users.models import User

TOO_MANY = f"You may have at most {MAX_CHILDREN} children"

_COLUMNS = (Child.id, Child.name, Child.birth_date, Child.created_at, Child.updated_at)
_OF_USER = Child.user_id == bindparam("user_id", type_=BigInteger)
# Oldest first (created_at, then id), as every list of the API.
_CHILDREN = ListQuery(
    select(*_COLUMNS).where(_OF_USER).order_by(Child.created_at, Child.id),
    count=select(Child.id).where(_OF_USER),
)


async def list_children(
    session: AsyncSession, *, user_id: int, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """A parent's children, oldest record first, as rows of `ChildRead`'s columns."""
    return await _CHILDREN.page(session, page, user_id=user_id)


def _not_found(child_id: int) -> NotFound:
    return NotFound(f"Child {child_id} not found")


async def get_own_child(session: AsyncSession, *, user_id: int, child_id: int) -> Child:
    """The caller's child `child_id`; another parent's child is not found, like an unknown
    id (its existence is nobody else's business)."""
    child = await session.get(Child, child_id)
    if child is None or child.user_id != user_id:
        raise _not_found(child_id)
    return child


async def create_child(session: AsyncSession, *, user_id: int, data: ChildCreate) -> Child:
    """Add a child to the caller's account: at most `MAX_CHILDREN`, counted under the
    parent row's lock, so two creates at once cannot make an eleventh."""
    if not await lock_parent(session, User, user_id):
        # The account was deleted while this request ran: the caller has vanished.
        await session.rollback()
        raise Unauthorized("Could not validate credentials")
    count = await session.scalar(select(func.count()).where(Child.user_id == user_id))
    if (count or 0) >= MAX_CHILDREN:
        await session.rollback()
        raise Conflict(TOO_MANY)
    child = Child(user_id=user_id, name=data.name, birth_date=data.birth_date)
    session.add(child)
    await session.commit()
    return child


async def update_child(session: AsyncSession, *, child: Child, data: ChildUpdate) -> Child:
    """Change the fields sent."""
    for field, value in data.changes().items():
        setattr(child, field, value)
    await commit_or(session, _not_found(child.id))
    return child


async def delete_child(session: AsyncSession, *, child: Child) -> None:
    """Remove the child's record (nothing else refers to it)."""
    await session.delete(child)
    await commit_or(session, _not_found(child.id))


# On the driver (`tma.core.hotpath`): the feed reads it on every request.
_BIRTH_DATES = driver_safe(select(Child.id, Child.birth_date).where(_OF_USER).order_by(Child.id))


async def child_ages(
    session: AsyncSession, *, user_id: int, child_dob: date | None, today: date
) -> list[tuple[int, int]]:
    """(child id, age in whole months today) of each of the parent's children, by id. A
    parent with no child records but a profile `child_dob` has that one child, id 0
    (companion spec §4: the old fields stay, and stand for a child when there is no
    record); none at all: []."""
    found = await hot_rows(session, _BIRTH_DATES, user_id=user_id)
    if found:
        return [(row["id"], age_in_months(row["birth_date"], today)) for row in found]
    if child_dob is not None:
        return [(0, age_in_months(child_dob, today))]
    return []
