"""Group checks that chain: the group exists -> the caller may see it -> may manage it."""

from typing import Annotated, Any

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.groups import service
from tma.groups.models import Group
from tma.users.caller import Caller
from tma.users.dependencies import CurrentUser, StaffUser
from tma.users.service import is_staff

GroupIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A group id")]


def _ensure_visible(user: Caller, is_member: bool) -> None:
    # Managers and admins see every group; a `user` only the groups they belong to.
    if not is_member and not is_staff(user):
        raise Forbidden("You don't have access to this group")


async def visible_group(group_id: GroupIdPath, user: CurrentUser, session: SessionDep) -> Group:
    """The group, if it exists (404) and the caller may see it (403 for a non-member user)."""
    if is_staff(user):
        return await service.get_group(session, group_id=group_id)
    group, is_member = await service.load_group(session, group_id=group_id, member_id=user.id)
    _ensure_visible(user, is_member)
    return group


async def visible_group_detail(
    session: AsyncSession, *, group_id: int, user: Caller
) -> dict[str, Any]:
    """`visible_group` for the detail route: the group with its members as a plain dict, from
    one statement (docs/performance.md). Called by the route itself rather than declared
    as a dependency: each dependency costs FastAPI a resolution pass on every request."""
    group = await service.group_detail(session, group_id=group_id, viewer=user)
    _ensure_visible(user, any(m["user_id"] == user.id for m in group["members"]))
    return group


async def managed_group(group_id: GroupIdPath, _staff: StaffUser, session: SessionDep) -> Group:
    """The group, for a manager or admin (403 for others, checked before existence)."""
    return await service.get_group(session, group_id=group_id)


VisibleGroup = Annotated[Group, Depends(visible_group)]
ManagedGroup = Annotated[Group, Depends(managed_group)]
