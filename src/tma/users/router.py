"""User administration under /api/users (admin only)."""

from anyio import CapacityLimiter
from fastapi import Response, status

from tma.core.db import SessionDep
from tma.core.deps import HasherDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_list_adapter
from tma.users import service
from tma.users.dependencies import AdminUser, UserIdPath, same_user_id
from tma.users.models import SystemRole
from tma.users.schemas import (
    PasswordReset,
    RoleUpdate,
    StatusUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = PrefixedRouter(prefix="/users", tags=["users"], responses=responses(401, 403))


_USER_LIST = row_list_adapter(UserRead)

# A whole list holds every row in memory while it is built (10,001 users: some 10 MB of
# Python objects). Two builds at a time keep the database and the CPU busy; more would only
# stack result sets in memory (docs/performance.md).
LIST_BUILDS_AT_ONCE = 2
_list_builds: CapacityLimiter | None = None


def _list_slots() -> CapacityLimiter:
    global _list_builds  # made on first use, inside the running event loop
    if _list_builds is None:
        _list_builds = CapacityLimiter(LIST_BUILDS_AT_ONCE)
    return _list_builds


@router.get("", response_model=list[UserRead], responses=responses(422))
async def list_users(_admin: AdminUser, page: PageDep, session: SessionDep) -> Response:
    """Every user, oldest first."""
    async with _list_slots():
        rows, total = await service.list_user_rows(session, page=page)
        return list_response(_USER_LIST, rows, total)


@router.get("/{user_id}", response_model=UserRead, responses=responses(404, 422))
async def get_user(user_id: UserIdPath, _admin: AdminUser, session: SessionDep) -> UserRead:
    """One user by id."""
    return UserRead.model_validate(await service.get_user(session, user_id=user_id))


@router.post("", **created(UserRead, 400, 422))
async def create_user(
    body: UserCreate, _admin: AdminUser, session: SessionDep, hasher: HasherDep
) -> UserRead:
    """Create an account with any system role (default `user`)."""
    role = await service.get_role(session, name=body.role or SystemRole.USER.value)
    user = await service.create_user(session, data=body, role=role, hasher=hasher, verb="exists")
    return UserRead.model_validate(user)


@router.patch("/{user_id}", response_model=UserRead, responses=responses(400, 404, 422))
async def update_user(
    user_id: UserIdPath, body: UserUpdate, _admin: AdminUser, session: SessionDep
) -> UserRead:
    """Edit a user's profile fields (an empty string clears one), `email` (unique) or
    `email_verified`."""
    user = await service.get_user(session, user_id=user_id)
    return UserRead.model_validate(await service.update_profile(session, user=user, data=body))


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(400, 404, 422)
)
async def delete_user(user_id: UserIdPath, admin: AdminUser, session: SessionDep) -> Response:
    """Delete an account and its memberships; groups it created stay, creator null."""
    await service.delete_user(session, actor=admin, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Alike in shape with `set_role` below: each checks the body's `user_id` against the path and
# applies its own rule (status, role), which refuses a change of your own account.
@router.patch("/{user_id}/status", response_model=UserRead, responses=responses(400, 404, 422))
async def set_status(
    user_id: UserIdPath, body: StatusUpdate, admin: AdminUser, session: SessionDep
) -> UserRead:
    """Enable or disable an account (not your own)."""
    same_user_id(user_id, body.user_id)
    user = await service.set_active(session, actor=admin, user_id=user_id, is_active=body.is_active)
    return UserRead.model_validate(user)


@router.patch("/{user_id}/password", response_model=UserRead, responses=responses(400, 404, 422))
async def reset_password(
    user_id: UserIdPath,
    body: PasswordReset,
    admin: AdminUser,
    session: SessionDep,
    hasher: HasherDep,
) -> UserRead:
    """Set another account's password; every token it holds stops working (admin)."""
    user = await service.reset_password(
        session, actor=admin, user_id=user_id, new_password=body.new_password, hasher=hasher
    )
    return UserRead.model_validate(user)


@router.patch("/{user_id}/role", response_model=UserRead, responses=responses(400, 404, 422))
async def set_role(
    user_id: UserIdPath, body: RoleUpdate, admin: AdminUser, session: SessionDep
) -> UserRead:
    """Change an account's system role (not your own)."""
    same_user_id(user_id, body.user_id)
    user = await service.set_role(session, actor=admin, user_id=user_id, role_name=body.role)
    return UserRead.model_validate(user)
