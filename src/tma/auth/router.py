"""Login, registration, the caller's own profile, and the older user-admin doors."""

from typing import Annotated

from fastapi import Body, Request, Response, status

from tma.auth import service
from tma.auth.schemas import SAMPLE_LOGIN_EXAMPLES, LoginRequest, Token
from tma.core.db import SessionDep
from tma.core.deps import HasherDep, SettingsDep
from tma.core.errors import Unauthorized, responses
from tma.core.pagination import PageDep
from tma.core.routing import PrefixedRouter, created
from tma.core.security import create_access_token
from tma.users import router as users_router
from tma.users import service as users
from tma.users.dependencies import (
    AdminUser,
    CurrentUser,
    CurrentUserRecord,
    OptionalUser,
    UserIdPath,
)
from tma.users.schemas import (
    DisableRequest,
    PasswordChange,
    ProfileUpdate,
    RoleRequest,
    UserCreate,
    UserRead,
)

public_router = PrefixedRouter(prefix="/auth", tags=["auth"])
router = PrefixedRouter(prefix="/auth", tags=["auth"], responses=responses(401, 403))


def client_address(request: Request) -> str:
    """The caller's address: the socket's peer, or what a trusted proxy says it is
    (`TMA_TRUSTED_PROXIES`, applied by uvicorn's ProxyHeadersMiddleware in main.py)."""
    return request.client.host if request.client else "unknown"


@public_router.post(
    "/login",
    response_model=Token,
    responses=responses(401, 403, 422, 429, 503, s401="Incorrect username or password"),
)
async def login(
    body: Annotated[LoginRequest, Body(openapi_examples=SAMPLE_LOGIN_EXAMPLES)],
    request: Request,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Token:
    """Exchange a username and password for a bearer token."""
    token = await service.login(
        session,
        username=body.username,
        password=body.password,
        client=client_address(request),
        hasher=hasher,
        limits=request.app.state.auth_limits,
        settings=settings,
    )
    return Token(access_token=token)


@public_router.post(
    "/register",
    **created(UserRead, 400, 401, 403, 422, 429),
    # The bearer token is optional here (an admin's may ask for any role): `{}` says so.
    openapi_extra={"security": [{}]},
)
async def register(
    body: UserCreate,
    caller: OptionalUser,
    session: SessionDep,
    hasher: HasherDep,
    request: Request,
) -> UserRead:
    """Create an account; only an admin's token may ask for `manager` or `admin`."""
    user = await service.register(
        session,
        data=body,
        caller=caller,
        hasher=hasher,
        client=client_address(request),
        limits=request.app.state.auth_limits,
    )
    return UserRead.model_validate(user)


@router.get("/me", response_model=UserRead, responses=responses(503))
async def me(user: CurrentUser) -> Response:
    """The caller's own account."""
    # The JSON dumped once by the model, not validated again by FastAPI (docs/performance.md).
    body = UserRead.model_validate(user).model_dump_json()
    return Response(content=body, media_type="application/json")


@router.patch("/me", response_model=UserRead, responses=responses(422))
async def update_me(body: ProfileUpdate, user: CurrentUserRecord, session: SessionDep) -> UserRead:
    """Edit your own profile fields (not your role, not your status)."""
    # Deleted while this request ran: the caller has vanished (401), as on its next request.
    gone = Unauthorized("Could not validate credentials")
    return UserRead.model_validate(
        await users.update_profile(session, user=user, data=body, gone=gone)
    )


@router.post("/me/password", response_model=Token, responses=responses(400, 422))
async def change_password(
    body: PasswordChange,
    user: CurrentUserRecord,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Token:
    """Change your password with the current one; every earlier token of yours stops
    working, and the answer carries a new one."""
    cut_off = await users.change_password(
        session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        hasher=hasher,
    )
    return Token(access_token=create_access_token(user.id, settings, issued_after=cut_off))


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(user: CurrentUserRecord, session: SessionDep) -> Response:
    """End every token of your account issued so far, this one included."""
    await users.end_tokens(session, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# The older admin doors: the same service functions as /api/users. Kept for the starter's
# web UI, which still calls them; marked deprecated in the OpenAPI document, each naming
# its replacement.


@router.get("/users", response_model=list[UserRead], responses=responses(422), deprecated=True)
async def auth_list_users(admin: AdminUser, page: PageDep, session: SessionDep) -> Response:
    """Every user, oldest first (admin). Deprecated: use `GET /api/users`."""
    return await users_router.list_users(admin, page, session)


@router.patch(
    "/users/disable",
    response_model=UserRead,
    responses=responses(400, 404, 422),
    deprecated=True,
)
async def disable_user(body: DisableRequest, admin: AdminUser, session: SessionDep) -> UserRead:
    """Enable or disable an account (admin; not your own).
    Deprecated: use `PATCH /api/users/{user_id}/status`."""
    user = await users.set_active(
        session, actor=admin, user_id=body.user_id, is_active=body.is_active
    )
    return UserRead.model_validate(user)


@router.patch(
    "/users/role", response_model=UserRead, responses=responses(400, 404, 422), deprecated=True
)
async def change_role(body: RoleRequest, admin: AdminUser, session: SessionDep) -> UserRead:
    """Change an account's system role (admin; not your own).
    Deprecated: use `PATCH /api/users/{user_id}/role`."""
    user = await users.set_role(session, actor=admin, user_id=body.user_id, role_name=body.role)
    return UserRead.model_validate(user)


@router.patch(
    "/users/{user_id}/profile",
    response_model=UserRead,
    responses=responses(404, 422),
    deprecated=True,
)
async def update_profile(
    user_id: UserIdPath, body: ProfileUpdate, admin: AdminUser, session: SessionDep
) -> UserRead:
    """Edit any user's profile fields (admin). Deprecated: use `PATCH /api/users/{user_id}`."""
    user = await users.get_user(session, user_id=user_id)
    return UserRead.model_validate(await users.update_profile(session, user=user, data=body))
