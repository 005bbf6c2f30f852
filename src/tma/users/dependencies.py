"""Who is calling: the bearer token, the current user (fresh from the database), role checks;
and the checks shared by the user-admin endpoints. Every router's routes name their caller
with these (`CurrentUser`, `AdminUser`, `StaffUser`): they sit with the users they read, below
every domain (docs/architecture.md)."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.config import Settings
from tma.core.db import SessionDep, request_session
from tma.core.errors import Conflict, Forbidden, Unauthorized
from tma.core.security import TokenClaims, decode_access_token, epoch_microseconds
from tma.core.types import MAX_ID
from tma.users import service as users
from tma.users.caller import Caller
from tma.users.models import SystemRole, User

BEARER_DESCRIPTION = "A JWT from POST /api/auth/login"

_U = TypeVar("_U", Caller, User)


def _bearer_token(request: Request) -> str | None:
    # What FastAPI's `HTTPBearer(auto_error=False)` accepts: `Bearer <token>`, any case.
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if not (scheme and token) or scheme.lower() != "bearer":
        return None
    return token


def _claims(token: str | None, settings: Settings) -> TokenClaims:
    if token is None:
        raise Unauthorized("Not authenticated")
    claims = decode_access_token(token, settings)
    if claims is None:
        raise Unauthorized("Could not validate credentials")
    return claims


def _checked(user: _U | None) -> _U:
    # Identify by id and read the role now: a deleted account's token dies (401), a role
    # change applies at once, a disabled account is refused (403).
    if user is None:
        raise Unauthorized("Could not validate credentials")
    if not user.is_active:
        raise Forbidden("account disabled")
    return user


def _still_valid(caller: Caller | None, claims: TokenClaims) -> Caller | None:
    # A token issued at or before the account's cut-off (password changed or reset,
    # disabled, logout-all) is dead: read in the same statement as the caller.
    cut_off = caller.tokens_valid_after if caller is not None else None
    if cut_off is not None and claims.issued_us <= epoch_microseconds(cut_off):
        return None
    return caller


async def _caller(request: Request, session: AsyncSession, token: str | None) -> Caller:
    settings: Settings = request.app.state.settings
    claims = _claims(token, settings)
    caller = await users.find_caller(session, user_id=claims.user_id)
    return _checked(_still_valid(caller, claims))


class BearerCaller(SecurityBase):
    """The bearer-token security scheme (`HTTPBearer` in OpenAPI) as a dependency whose
    value is the caller: one dependency where a scheme plus a user loader would be two,
    each resolved by FastAPI on every request (docs/performance.md)."""

    # Run at import only (`current_user` below): not mutated (tests/README.md "Mutation
    # testing"); tests/test_openapi.py checks the scheme it declares.
    def __init__(self) -> None:  # pragma: no mutate block
        self.model = HTTPBearerModel(description=BEARER_DESCRIPTION)
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> Caller:
        """The active user behind the bearer token; 401 without a valid one, 403 if
        disabled. A `Caller` (plain values), read fresh by one statement on every request,
        in the request's session."""
        return await _caller(request, request_session(request), _bearer_token(request))


class OptionalBearerCaller(BearerCaller):
    """Like `BearerCaller`, but no token at all is fine (None); a bad token is still 401."""

    async def __call__(self, request: Request) -> Caller | None:  # type: ignore[override]
        token = _bearer_token(request)
        if token is None:
            return None
        return await _caller(request, request_session(request), token)


current_user = BearerCaller()
optional_user = OptionalBearerCaller()


CurrentUser = Annotated[Caller, Depends(current_user)]


async def current_user_record(caller: CurrentUser, session: SessionDep) -> User:
    """`current_user` as the ORM `User`, for a route that edits the caller's own row."""
    return _checked(await users.find_user(session, user_id=caller.id))


CurrentUserRecord = Annotated[User, Depends(current_user_record)]
OptionalUser = Annotated[Caller | None, Depends(optional_user)]


RoleCheck = Callable[[Caller], Awaitable[Caller]]


# Called at import only (`AdminUser`, `StaffUser` below), its check included: not mutated
# (tests/README.md "Mutation testing"); the 403 of every wrong role is tested.
def require_role(*roles: SystemRole) -> RoleCheck:  # pragma: no mutate block
    """A dependency admitting only users whose system role is one of `roles` (else 403)."""
    allowed = {role.value for role in roles}

    async def _check(user: CurrentUser) -> Caller:
        if user.role.name not in allowed:
            raise Forbidden("You don't have permission to do this")
        return user

    return _check


AdminUser = Annotated[Caller, Depends(require_role(SystemRole.ADMIN))]
StaffUser = Annotated[Caller, Depends(require_role(SystemRole.ADMIN, SystemRole.MANAGER))]


UserIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A user id")]


def same_user_id(path_id: int, body_id: int | None) -> None:
    """A `user_id` in the body, when sent, must name the user in the path (else 400)."""
    if body_id is not None and body_id != path_id:
        raise Conflict("user_id in the body does not match the user in the path")
