"""Login and registration rules."""

from sqlalchemy.ext.asyncio import AsyncSession

from tma.auth.throttle import AuthLimits
from tma.core.config import Settings
from tma.core.errors import Forbidden, Unauthorized
from tma.core.identity import username_key
from tma.core.security import PasswordHasher, create_access_token
from tma.users import service as users
from tma.users.caller import Caller
from tma.users.models import SystemRole, User
from tma.users.schemas import UserCreate

BAD_CREDENTIALS = "Incorrect username or password"


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    client: str,
    hasher: PasswordHasher,
    limits: AuthLimits,
    settings: Settings,
) -> str:
    """A fresh access token for valid credentials of an active account."""
    name = username_key(username)  # one account, one count, however it is spelled
    await limits.before_login(client, name)
    user = await users.find_by_username(session, username=username)
    # Unknown user and wrong password take the same time and get the same answer.
    ok = await hasher.verify(password, user.hashed_password if user else None)
    if user is None or not ok:
        await limits.login_failed(client)
        raise Unauthorized(BAD_CREDENTIALS)
    await limits.login_succeeded(client, name)
    if not user.is_active:
        raise Forbidden("account disabled")
    return create_access_token(user.id, settings, issued_after=user.tokens_valid_after)


async def register(
    session: AsyncSession,
    *,
    data: UserCreate,
    caller: Caller | None,
    hasher: PasswordHasher,
    client: str,
    limits: AuthLimits,
) -> User:
    """Self-registration is always a `user`; only an admin may hand out other roles.
    Registrations without an admin's token are limited per client."""
    is_admin = caller is not None and caller.role.name == SystemRole.ADMIN
    if not is_admin:
        await limits.before_register(client)
    role_name = data.role or SystemRole.USER.value
    role = await users.get_role(session, name=role_name)
    if role.name != SystemRole.USER and not is_admin:
        raise Forbidden("Only an admin can create manager or admin accounts")
    return await users.create_user(session, data=data, role=role, hasher=hasher)
