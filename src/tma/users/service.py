"""The rules and queries of user accounts. Raises domain errors; owns its commits."""

from dataclasses import fields
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from tma.core.db import Database
from tma.core.errors import Conflict, NotFound
from tma.core.pagination import Page, PagedQuery
from tma.core.security import PasswordHasher
from tma.users.caller import Caller, CallerRole
from tma.users.models import Role, SystemRole, User
from tma.users.schemas import ProfileUpdate, UserCreate

_CALLER_USER_KEYS = tuple(f.name for f in fields(Caller) if f.name != "role")


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
        _roles_table.c.id,
        _roles_table.c.name,
        _roles_table.c.description,
    )
    .join_from(_users_table, _roles_table, _roles_table.c.id == _users_table.c.role_id)
    .where(_users_table.c.id == bindparam("user_id"))
)


async def find_caller(db: Database, *, user_id: int) -> Caller | None:
    """The user with this id as a `Caller` (plain values, role included), or None."""
    rows = await db.fetch_rows(_CALLER_ROW, user_id=user_id)
    if not rows:
        return None
    row = rows[0]
    role = CallerRole(id=row[-3], name=row[-2], description=row[-1])
    return Caller(**dict(zip(_CALLER_USER_KEYS, row, strict=False)), role=role)


async def find_by_username(session: AsyncSession, *, username: str) -> User | None:
    """Case-insensitive lookup, as usernames are unique case-insensitively."""
    stmt = _users().where(func.lower(User.username) == username.strip().lower())
    return await session.scalar(stmt)


# The columns of `UserRead`, read as plain rows: a list of 10,000 users then costs no ORM
# object, identity-map entry or attribute validation per row (docs/performance.md).
# In `UserRead`'s order, with the role id where `role` goes and the role's name and
# description last: one `dict(zip(...))` per row gives the keys in the order the JSON wants,
# `role` is then replaced in place by its (shared) dict, and the two trailing keys are left
# out by the serializer, which writes only `UserRead`'s fields.
_ROLE_AT = _CALLER_USER_KEYS.index("avatar_url") + 1
_USER_ROW_KEYS = (
    *_CALLER_USER_KEYS[:_ROLE_AT],
    "role",
    *_CALLER_USER_KEYS[_ROLE_AT:],
    "role_name",
    "role_description",
)
_USER_ROWS = (
    select(
        *(
            _users_table.c.role_id if key == "role" else _users_table.c[key]
            for key in _USER_ROW_KEYS[:-2]
        ),
        Role.name,
        Role.description,
    )
    .join_from(_users_table, Role, Role.id == _users_table.c.role_id)
    .order_by(User.created_at, User.id)
)
_USER_LIST = PagedQuery(rows=_USER_ROWS, count=select(User.id))


async def list_user_rows(db: Database, *, page: Page) -> tuple[list[dict[str, Any]], int]:
    """Users oldest first as plain dicts shaped like `UserRead` (two extra keys the JSON
    leaves out), and how many there are in all.

    The lean twin of `list_users` for the list endpoints: same order, same window."""
    found, total = await _USER_LIST.fetch(db, page)
    rows: list[dict[str, Any]] = []
    roles: dict[int, dict[str, Any]] = {}
    for row in found:
        item = dict(zip(_USER_ROW_KEYS, row))  # noqa: B905 - as many keys as columns
        role = roles.get(item["role"])
        if role is None:
            role = {
                "id": item["role"],
                "name": item["role_name"],
                "description": item["role_description"],
            }
            roles[role["id"]] = role
        item["role"] = role  # in place: the key keeps its position
        rows.append(item)
    return rows, total


async def get_role(session: AsyncSession, *, name: str) -> Role:
    """The system role called `name`; Conflict (400) when there is none."""
    role = await session.scalar(select(Role).where(Role.name == name))
    if role is None:
        known = ", ".join(r.value for r in SystemRole)
        raise Conflict(f"Unknown role '{name}'; known roles: {known}")
    return role


async def _ensure_unique(session: AsyncSession, *, username: str, email: str, verb: str) -> None:
    stmt = select(User.username).where(
        (func.lower(User.username) == username.lower()) | (User.email == email)
    )
    clash = (await session.execute(stmt.limit(1))).first()
    if clash is None:
        return
    if clash.username.lower() == username.lower():
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


async def update_profile(session: AsyncSession, *, user: User, data: ProfileUpdate) -> User:
    """Apply the profile fields that were sent."""
    changes: dict[str, Any] = data.changes()
    for field, value in changes.items():
        setattr(user, field, value)
    await session.commit()
    return await get_user(session, user_id=user.id)


def _not_yourself(actor: Caller | User, user_id: int, action: str) -> None:
    if actor.id == user_id:
        raise Conflict(f"You cannot {action} your own account")


async def set_active(
    session: AsyncSession, *, actor: Caller | User, user_id: int, is_active: bool
) -> User:
    """Enable or disable an account (never your own). Takes effect on its next request."""
    _not_yourself(actor, user_id, "disable or enable")
    user = await get_user(session, user_id=user_id)
    user.is_active = is_active
    await session.commit()
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
    await session.commit()
    return await get_user(session, user_id=user_id)


async def delete_user(session: AsyncSession, *, actor: Caller | User, user_id: int) -> None:
    """Delete an account; memberships go with it, created groups keep a null creator."""
    _not_yourself(actor, user_id, "delete")
    result = await session.execute(delete(User).where(User.id == user_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await session.rollback()
        raise NotFound(f"User {user_id} not found")
    await session.commit()


def is_staff(user: Caller | User) -> bool:
    """Managers and admins see and manage every group and course."""
    return user.role.name in (SystemRole.ADMIN, SystemRole.MANAGER)
