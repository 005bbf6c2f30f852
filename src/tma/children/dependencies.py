"""Checks of the children domain: the caller's own child (exists and is theirs), a birth
date inside its window on the request's clock, and who may read another parent's."""

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tma.children import service
from tma.children.ages import oldest_birth_date
from tma.children.models import Child
from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.groups.privacy import check_sees_learner
from tma.users.caller import Caller
from tma.users.dependencies import CurrentUser
from tma.users.models import SystemRole

ChildIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A child id")]

NOT_STAFF = "You may only see your own children"


async def own_child(child_id: ChildIdPath, user: CurrentUser, session: SessionDep) -> Child:
    """The caller's child `child_id`: 404 when there is none of that id among theirs."""
    return await service.get_own_child(session, user_id=user.id, child_id=child_id)


OwnChild = Annotated[Child, Depends(own_child)]


def check_birth_date(value: date | None, now: datetime) -> None:
    """A birth date is not in the future and at most 18 years ago, both on the request's
    clock (UTC date): else 422 on `body.birth_date`, as any other out-of-limits field."""
    if value is None:
        return
    today = now.date()
    if value > today:
        message = "must not be in the future"
    elif value < oldest_birth_date(today):
        message = "must be at most 18 years ago"
    else:
        return
    raise RequestValidationError(
        [{"loc": ("body", "birth_date"), "msg": f"Value error, {message}", "type": "value_error"}]
    )


async def check_sees_children(session: AsyncSession, *, viewer: Caller, user_id: int) -> None:
    """Another parent's children are read by admins and by managers of a group of theirs
    (groups/privacy.py, companion spec §5); a `user` reads only their own (403 before the
    id is looked up); an unknown user is 404."""
    if user_id == viewer.id:
        return
    if viewer.role.name == SystemRole.USER:
        raise Forbidden(NOT_STAFF)
    await check_sees_learner(session, viewer=viewer, user_id=user_id)
