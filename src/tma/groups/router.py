"""Groups and their members under /api/groups (a group's courses: tma.courses.router)."""

from fastapi import Response, status

from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_adapter, row_list_adapter
from tma.groups import service
from tma.groups.dependencies import (
    GroupIdPath,
    ManagedGroup,
    visible_group_detail,
)
from tma.groups.schemas import (
    GroupCreate,
    GroupDetail,
    GroupRead,
    GroupUpdate,
    MemberAdd,
    MemberAdded,
    MemberRoleChanged,
    MemberRoleUpdate,
)
from tma.users.dependencies import CurrentUser, StaffUser, UserIdPath

_GROUP_LIST = row_list_adapter(GroupRead)
_GROUP_DETAIL = row_adapter(GroupDetail)

router = PrefixedRouter(prefix="/groups", tags=["groups"], responses=responses(401, 403))


@router.get("", response_model=list[GroupRead], responses=responses(422))
async def list_groups(user: CurrentUser, page: PageDep, session: SessionDep) -> Response:
    """Groups you may see: every group for managers and admins, your own for users."""
    rows, total = await service.list_group_rows(session, viewer=user, page=page)
    return list_response(_GROUP_LIST, rows, total)


@router.get("/{group_id}", response_model=GroupDetail, responses=responses(404, 422))
async def get_group(group_id: GroupIdPath, user: CurrentUser, session: SessionDep) -> Response:
    """One group with its members, in joining order."""
    group = await visible_group_detail(session, group_id=group_id, user=user)
    return json_response(_GROUP_DETAIL, group)


@router.post("", **created(GroupRead, 422))
async def create_group(body: GroupCreate, staff: StaffUser, session: SessionDep) -> GroupRead:
    """Create a group; you become its owner (manager or admin)."""
    return GroupRead.model_validate(await service.create_group(session, creator=staff, data=body))


@router.patch("/{group_id}", response_model=GroupRead, responses=responses(404, 422))
async def update_group(group: ManagedGroup, body: GroupUpdate, session: SessionDep) -> GroupRead:
    """Rename a group or change its description (manager or admin)."""
    return GroupRead.model_validate(await service.update_group(session, group=group, data=body))


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
async def delete_group(group: ManagedGroup, session: SessionDep) -> Response:
    """Delete a group with its memberships and course assignments (manager or admin)."""
    await service.delete_group(session, group=group)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{group_id}/members/{user_id}", **created(MemberAdded, 400, 404, 422))
async def add_member(
    group: ManagedGroup,
    user_id: UserIdPath,
    staff: StaffUser,
    session: SessionDep,
    body: MemberAdd | None = None,
) -> MemberAdded:
    """Add a user to the group, as `member` unless a role is given (an admin, or an owner or
    moderator of the group; an `owner` only by an admin or an owner)."""
    role = (body or MemberAdd()).role
    member = await service.add_member(
        session, group=group, caller=staff, user_id=user_id, role=role
    )
    return MemberAdded(message="User added to group", role=member.role)


@router.delete(
    "/{group_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 404, 422),
)
async def remove_member(
    group: ManagedGroup, user_id: UserIdPath, staff: StaffUser, session: SessionDep
) -> Response:
    """Remove a member; never the last owner (an admin, or an owner or moderator of the
    group; an owner only by an admin or an owner)."""
    await service.remove_member(session, group=group, caller=staff, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/{group_id}/members/{user_id}/role",
    response_model=MemberRoleChanged,
    responses=responses(400, 404, 422),
)
async def change_member_role(
    group: ManagedGroup,
    user_id: UserIdPath,
    body: MemberRoleUpdate,
    staff: StaffUser,
    session: SessionDep,
) -> MemberRoleChanged:
    """Change a member's group role; never demote the last owner (an admin, or an owner or
    moderator of the group; to or from `owner` only by an admin or an owner)."""
    member = await service.change_member_role(
        session, group=group, caller=staff, user_id=user_id, role=body.role
    )
    return MemberRoleChanged(
        message="Member role updated",
        user_id=member.user_id,
        role=member.role,
    )
