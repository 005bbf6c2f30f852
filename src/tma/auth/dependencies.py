"""Who is calling: the bearer token, the current user (fresh from the database), role checks."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tma.core.config import Settings
from tma.core.db import Database, SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import Forbidden, Unauthorized
from tma.core.security import decode_access_token
from tma.users import service as users
from tma.users.caller import Caller
from tma.users.models import SystemRole, User

bearer = HTTPBearer(auto_error=False, description="A JWT from POST /api/auth/login")

CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_U = TypeVar("_U", Caller, User)


def _user_id(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> int:
    if credentials is None:
        raise Unauthorized("Not authenticated")
    user_id = decode_access_token(credentials.credentials, settings)
    if user_id is None:
        raise Unauthorized("Could not validate credentials")
    return user_id


def _checked(user: _U | None) -> _U:
    # Identify by id and read the role now: a deleted account's token dies (401), a role
    # change applies at once, a disabled account is refused (403).
    if user is None:
        raise Unauthorized("Could not validate credentials")
    if not user.is_active:
        raise Forbidden("account disabled")
    return user


async def current_user(credentials: CredentialsDep, request: Request) -> Caller:
    """The active user behind the bearer token; 401 without a valid one, 403 if disabled.

    A `Caller` (plain values), read by one Core statement on a connection of its own, returned
    to the pool at once; no ORM `User`, no session. See docs/performance.md."""
    settings: Settings = request.app.state.settings
    user_id = _user_id(credentials, settings)
    db: Database = request.app.state.db
    async with db.read_connection() as connection:
        caller = await users.find_caller(connection, user_id=user_id)
    return _checked(caller)


async def current_user_record(
    credentials: CredentialsDep, session: SessionDep, settings: SettingsDep
) -> User:
    """`current_user` as the ORM `User`, for a route that edits the caller's own row."""
    user_id = _user_id(credentials, settings)
    return _checked(await users.find_user(session, user_id=user_id))


async def optional_user(credentials: CredentialsDep, request: Request) -> Caller | None:
    """Like `current_user`, but no token at all is fine (None); a bad token is still 401."""
    if credentials is None:
        return None
    return await current_user(credentials, request)


CurrentUser = Annotated[Caller, Depends(current_user)]
CurrentUserRecord = Annotated[User, Depends(current_user_record)]
OptionalUser = Annotated[Caller | None, Depends(optional_user)]


def require_role(*roles: SystemRole) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting only users whose system role is one of `roles` (else 403)."""
    allowed = {role.value for role in roles}

    async def _check(user: CurrentUser) -> Caller:
        if user.role.name not in allowed:
            raise Forbidden("You don't have permission to do this")
        return user

    return _check


AdminUser = Annotated[Caller, Depends(require_role(SystemRole.ADMIN))]
StaffUser = Annotated[Caller, Depends(require_role(SystemRole.ADMIN, SystemRole.MANAGER))]
