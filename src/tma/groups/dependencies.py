"""Group checks that chain: the group exists -> the caller may see it -> may manage it."""

from typing import Annotated

from fastapi import Depends, Path

from tma.auth.dependencies import CurrentUser, StaffUser
from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.groups import service
from tma.groups.models import Group
from tma.users.service import is_staff

GroupIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A group id")]


async def visible_group(group_id: GroupIdPath, user: CurrentUser, session: SessionDep) -> Group:
    """The group, if it exists (404) and the caller may see it (403 for a non-member user)."""
    if is_staff(user):
        return await service.get_group(session, group_id=group_id)
    group, is_member = await service.load_group(session, group_id=group_id, member_id=user.id)
    if not is_member:
        raise Forbidden("You don't have access to this group")
    return group


async def managed_group(group_id: GroupIdPath, _staff: StaffUser, session: SessionDep) -> Group:
    """The group, for a manager or admin (403 for others, checked before existence)."""
    return await service.get_group(session, group_id=group_id)


VisibleGroup = Annotated[Group, Depends(visible_group)]
ManagedGroup = Annotated[Group, Depends(managed_group)]
