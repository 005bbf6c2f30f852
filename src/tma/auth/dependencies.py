"""Who is calling: the bearer token, the current user (fresh from the database), role checks."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import Forbidden, Unauthorized
from tma.core.security import decode_access_token
from tma.users import service as users
from tma.users.models import SystemRole, User

bearer = HTTPBearer(auto_error=False, description="A JWT from POST /api/auth/login")

CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def _user_from_token(token: str, session: SessionDep, settings: SettingsDep) -> User:
    user_id = decode_access_token(token, settings)
    if user_id is None:
        raise Unauthorized("Could not validate credentials")
    # Identify by id and read the role now: a deleted account's token dies (401), a role
    # change applies at once, a disabled account is refused (403).
    user = await users.find_user(session, user_id=user_id)
    if user is None:
        raise Unauthorized("Could not validate credentials")
    if not user.is_active:
        raise Forbidden("account disabled")
    return user


async def current_user(
    credentials: CredentialsDep, session: SessionDep, settings: SettingsDep
) -> User:
    """The active user behind the bearer token; 401 without a valid one, 403 if disabled."""
    if credentials is None:
        raise Unauthorized("Not authenticated")
    return await _user_from_token(credentials.credentials, session, settings)


async def optional_user(
    credentials: CredentialsDep, session: SessionDep, settings: SettingsDep
) -> User | None:
    """Like `current_user`, but no token at all is fine (None); a bad token is still 401."""
    if credentials is None:
        return None
    return await _user_from_token(credentials.credentials, session, settings)


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def require_role(*roles: SystemRole) -> Callable[[User], Awaitable[User]]:
    """A dependency admitting only users whose system role is one of `roles` (else 403)."""
    allowed = {role.value for role in roles}

    async def _check(user: CurrentUser) -> User:
        if user.role.name not in allowed:
            raise Forbidden("You don't have permission to do this")
        return user

    return _check


AdminUser = Annotated[User, Depends(require_role(SystemRole.ADMIN))]
StaffUser = Annotated[User, Depends(require_role(SystemRole.ADMIN, SystemRole.MANAGER))]
