"""The rules and queries of user accounts. Raises domain errors; owns its commits."""

from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from tma.core.db import commit_or, utcnow
from tma.core.errors import Conflict, DomainError, NotFound, Unauthorized
from tma.core.hotpath import hot_rows
from tma.core.identity import email_key, username_key
from tma.core.pagination import ListQuery, Page
from tma.core.public_url import absolute
from tma.core.security import PasswordHasher
from tma.core.versions import content_version_column
from tma.users.caller import Caller, CallerRole
from tma.users.models import Role, SystemRole, User
from tma.users.schemas import ProfileUpdate, UserCreate, UserRead

_CALLER_USER_KEYS = tuple(
    f.name for f in fields(Caller) if f.name not in ("role", "content_version")
)


# The rules of the packages built on accounts that a deletion must keep, run in order under
# the lock of the user's row, before the delete; each raises a domain error to refuse.
# Registered at import by the package that owns the rule (tma.groups.service: never a
# group's last owner), so users imports none of the packages above it.
AccountDeletionCheck = Callable[[AsyncSession, int], Awaitable[None]]
_DELETION_CHECKS: list[AccountDeletionCheck] = []


def on_account_deletion(check: AccountDeletionCheck) -> AccountDeletionCheck:
    """Register `check(session, user_id)` to run before every account deletion."""
    _DELETION_CHECKS.append(check)
    return check


def _users() -> Select[User]:
    # One query for a user and its role, always.
    return select(User).join(User.role).options(contains_eager(User.role))


async def get_user(session: AsyncSession, *, user_id: int) -> User:
    """The user with this id, role loaded; NotFound otherwise."""
    user = await find_user(session, user_id=user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def find_user(session: AsyncSession, *, user_id: int) -> User | None:
    """The user with this id (role loaded), or None."""
    return await session.scalar(_users().where(User.id == user_id))


_users_table = User.__table__
_roles_table = Role.__table__
# The caller's row as one pre-built Core statement on the tables (no ORM entity, no statement
# built per request): the auth dependency runs it on every authenticated request.
_CALLER_ROW = (
    select(
        *(_users_table.c[key] for key in _CALLER_USER_KEYS),
        _roles_table.c.id.label("role_id"),
        _roles_table.c.name.label("role_name"),
        _roles_table.c.description.label("role_description"),
        content_version_column(),
    )
    .join_from(_users_table, _roles_table, _roles_table.c.id == _users_table.c.role_id)
    .where(_users_table.c.id == bindparam("user_id"))
)


async def find_caller(session: AsyncSession, *, user_id: int) -> Caller | None:
    """The user with this id as a `Caller` (plain values, role included), or None. On the
    hot path (`tma.core.hotpath`): every authenticated request reads it."""
    found = await hot_rows(session, _CALLER_ROW, user_id=user_id)
    if not found:
        return None
    row = found[0]
    role = CallerRole(id=row["role_id"], name=row["role_name"], description=row["role_description"])
    return Caller(
        **{key: row[key] for key in _CALLER_USER_KEYS},
        role=role,
        content_version=row["content_version"],
    )


async def find_by_username(session: AsyncSession, *, username: str) -> User | None:
    """The account whose canonical key is that of `username` (tma.core.identity), or None."""
    return await session.scalar(_users().where(User.username_key == username_key(username)))


# The columns of `UserRead` as plain rows, the role's beside them: a list of 10,000 users
# then costs no ORM object, identity-map entry or attribute validation per row. Selected in
# `UserRead`'s order, the role's id named `role` where `role` goes and its name and
# description last, so that the list helper's dict of a row (keys from the row's own names)
# is the body's dict; the serializer writes only `UserRead`'s fields.
_USER_LIST = ListQuery(
    select(
        *(
            _users_table.c.role_id.label("role") if key == "role" else _users_table.c[key]
            for key in UserRead.model_fields
        ),
        Role.name.label("role_name"),
        Role.description.label("role_description"),
    )
    .join_from(_users_table, Role, Role.id == _users_table.c.role_id)
    .order_by(User.created_at, User.id),
    count=select(User.id),
)


async def list_user_rows(session: AsyncSession, *, page: Page) -> tuple[list[dict[str, Any]], int]:
    """Users oldest first as plain dicts shaped like `UserRead` (two more keys its
    serializer leaves out), and how many in all.

    Each row is already the body's dict (`_USER_LIST`); `role` is then replaced in place by
    its role's dict, one per role shared by the page's users, and a stored file path made
    absolute, in one loop (no function call per row: a list can be 10,000 users)."""
    users, total = await _USER_LIST.page(session, page)
    roles: dict[int, dict[str, Any]] = {}
    for user in users:
        role_id = user["role"]
        role = roles.get(role_id)
        if role is None:
            role = {
                "id": role_id,
                "name": user["role_name"],
                "description": user["role_description"],
            }
            roles[role_id] = role
        user["role"] = role  # in place: the key keeps its position
        if user["avatar_url"] is not None:
            user["avatar_url"] = absolute(user["avatar_url"])  # as `UserRead` gives it
    return users, total


async def get_role(session: AsyncSession, *, name: str) -> Role:
    """The system role called `name`; Conflict (400) when there is none."""
    role = await session.scalar(select(Role).where(Role.name == name))
    if role is None:
        known = ", ".join(r.value for r in SystemRole)
        raise Conflict(f"Unknown role '{name}'; known roles: {known}")
    return role


async def _ensure_unique(session: AsyncSession, *, username: str, email: str, verb: str) -> None:
    name_key, mail_key = username_key(username), email_key(email)
    stmt = select(User.username_key).where(
        (User.username_key == name_key) | (User.email_key == mail_key) | (User.email == email)
    )
    clash = (await session.execute(stmt.limit(1))).first()
    if clash is None:
        return
    if clash.username_key == name_key:
        raise Conflict(f"Username already {verb}")
    raise Conflict(f"Email already {verb}")


async def create_user(
    session: AsyncSession,
    *,
    data: UserCreate,
    role: Role,
    hasher: PasswordHasher,
    verb: str = "registered",
) -> User:
    """Create an account; a duplicate username or email is a Conflict ("already <verb>")."""
    await _ensure_unique(session, username=data.username, email=data.email, verb=verb)
    fields = data.model_dump(exclude={"password", "role"})
    user = User(**fields, hashed_password=await hasher.hash(data.password), role_id=role.id)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # Two registrations raced past the check; the unique index decided. Same answer.
        await session.rollback()
        raise Conflict(f"Username or email already {verb}") from None
    return await get_user(session, user_id=user.id)


EMAIL_TAKEN = "Email already exists"


async def _ensure_email_free(session: AsyncSession, *, email: str, user_id: int) -> None:
    # Another account with the same address (by its canonical key, identity.md); the
    # account's own address, in any case, is no clash.
    clash = select(User.id).where(
        (User.email_key == email_key(email)) | (User.email == email), User.id != user_id
    )
    if (await session.execute(clash.limit(1))).first() is not None:
        raise Conflict(EMAIL_TAKEN)


async def update_profile(
    session: AsyncSession, *, user: User, data: ProfileUpdate, gone: DomainError | None = None
) -> User:
    """Apply the fields that were sent. A user deleted meanwhile is `gone` (default 404).

    A new `email` (an admin's `UserUpdate`) must be free: another account's address is a
    Conflict, also when a concurrent write took it after the check (the unique index
    decides). A different address is not verified, unless the same body says it is."""
    changes: dict[str, Any] = data.changes()
    email = changes.get("email")
    if email is not None:
        await _ensure_email_free(session, email=email, user_id=user.id)
        if email_key(email) != user.email_key:
            changes.setdefault("email_verified", False)
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await commit_or(session, gone or NotFound(f"User {user.id} not found"))
    except IntegrityError:
        # Only the e-mail's unique indexes can refuse a profile update.
        await session.rollback()
        raise Conflict(EMAIL_TAKEN) from None
    found = await find_user(session, user_id=user.id)
    if found is None:  # deleted between the commit and this read
        raise gone or NotFound(f"User {user.id} not found")
    return found


def _not_yourself(actor: Caller | User, user_id: int, action: str) -> None:
    if actor.id == user_id:
        raise Conflict(f"You cannot {action} your own account")


async def set_active(
    session: AsyncSession, *, actor: Caller | User, user_id: int, is_active: bool
) -> User:
    """Enable or disable an account (never your own). Takes effect on its next request."""
    _not_yourself(actor, user_id, "disable or enable")
    user = await get_user(session, user_id=user_id)
    if user.is_active and not is_active:
        user.tokens_valid_after = utcnow()  # disabling ends every token issued so far
    user.is_active = is_active
    await commit_or(session, NotFound(f"User {user_id} not found"))
    return await get_user(session, user_id=user_id)


async def set_role(
    session: AsyncSession, *, actor: Caller | User, user_id: int, role_name: str
) -> User:
    """Change an account's system role (never your own). Takes effect on its next request."""
    role = await get_role(session, name=role_name)
    _not_yourself(actor, user_id, "change the role of")
    user = await get_user(session, user_id=user_id)
    # Set the relationship, not just the key: the loaded `user.role` would stay stale in the
    # session's identity map and the response would show the old role.
    user.role = role
    await commit_or(session, NotFound(f"User {user_id} not found"))
    return await get_user(session, user_id=user_id)


async def delete_user(session: AsyncSession, *, actor: Caller | User, user_id: int) -> None:
    """Delete an account; memberships go with it, created groups keep a null creator.

    The user's row is locked first (a group being created by them, or a membership being
    added, waits or fails its foreign key), then the registered deletion checks run under
    that lock (groups: never a group's last owner, 400 naming those groups)."""
    _not_yourself(actor, user_id, "delete")
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks and its driver begins a transaction at the first write: a
        # write that changes nothing takes the database's write lock now.
        keep = update(User).where(User.id == user_id).values(id=User.id)
        keep = keep.execution_options(synchronize_session=False)
        found = (await session.execute(keep)).rowcount  # type: ignore[attr-defined]
    else:
        lock = select(User.id).where(User.id == user_id).with_for_update()
        found = len((await session.execute(lock)).all())
    if not found:
        await session.rollback()
        raise NotFound(f"User {user_id} not found")
    for check in _DELETION_CHECKS:
        await check(session, user_id)
    await session.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )
    await session.commit()


async def reset_password(
    session: AsyncSession,
    *,
    actor: Caller | User,
    user_id: int,
    new_password: str,
    hasher: PasswordHasher,
) -> User:
    """An admin sets another account's password; that account's tokens end now."""
    _not_yourself(actor, user_id, "reset the password of")
    user = await get_user(session, user_id=user_id)
    user.hashed_password = await hasher.hash(new_password)
    user.tokens_valid_after = utcnow()
    await commit_or(session, NotFound(f"User {user_id} not found"))
    return await get_user(session, user_id=user_id)


async def change_password(
    session: AsyncSession,
    *,
    user: User,
    current_password: str,
    new_password: str,
    hasher: PasswordHasher,
) -> datetime:
    """The caller's own password change: the current one must match (400 otherwise, after
    the same argon2 check). Every earlier token ends; returns the cut-off instant."""
    if not await hasher.verify(current_password, user.hashed_password):
        raise Conflict("Current password is incorrect")
    user.hashed_password = await hasher.hash(new_password)
    return await end_tokens(session, user=user)


async def end_tokens(session: AsyncSession, *, user: User) -> datetime:
    """Every token of `user` issued up to now is refused from its next request on (and the
    changes already made to `user` are committed). Returns the cut-off instant."""
    user.tokens_valid_after = cut_off = utcnow()
    await commit_or(session, Unauthorized("Could not validate credentials"))
    return cut_off


def is_staff(user: Caller | User) -> bool:
    """Managers and admins see and manage every group and course."""
    return user.role.name in (SystemRole.ADMIN, SystemRole.MANAGER)


def viewer_id(user: Caller | User) -> int | None:
    """The id the visibility rule (tma.courses.visibility) takes: None for staff, who see
    everything; the user's own id otherwise."""
    return None if is_staff(user) else user.id
