"""The rules and queries of groups and memberships. Raises domain errors; owns its commits."""

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    bindparam,
    delete,
    exists,
    false,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import commit_or
from tma.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from tma.core.hotpath import hot_rows
from tma.core.pagination import ListQuery, Page
from tma.core.public_url import absolute
from tma.core.reads import NamedRow, get_with_flag, named
from tma.groups import privacy
from tma.groups.models import Group, GroupMember, GroupRole
from tma.groups.schemas import GroupCreate, GroupUpdate, MemberRead
from tma.users import service as users
from tma.users.caller import Caller
from tma.users.models import Role, User


def _is_member(group_id: Any, user_id: Any) -> ColumnElement[bool]:
    return exists().where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)


async def load_group(
    session: AsyncSession, *, group_id: int, member_id: int | None = None
) -> tuple[Group, bool]:
    """The group (with member_count) and whether `member_id` belongs to it, in one query."""
    member_flag = _is_member(Group.id, member_id) if member_id is not None else false()
    return await get_with_flag(
        session, Group, group_id, member_flag, NotFound(f"Group {group_id} not found")
    )


async def get_group(session: AsyncSession, *, group_id: int) -> Group:
    group, _ = await load_group(session, group_id=group_id)
    return group


_GROUP_COLUMNS = (
    Group.id,
    Group.name,
    Group.description,
    Group.created_by,
    Group.created_at,
    Group.updated_at,
    Group.member_count.label("member_count"),
)
# Staff see every group (the whole list), a `user` the groups they belong to (the scoped
# one); oldest first.
_GROUPS = ListQuery.scoped(
    _GROUP_COLUMNS,
    order=(Group.created_at, Group.id),
    count_by=Group.id,
    scope=_is_member(Group.id, bindparam("viewer_id")),
)


async def list_group_rows(
    session: AsyncSession, *, viewer: Caller, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """Groups the viewer may see (all for staff, their own for a `user`), oldest first, as
    rows of `GroupRead`'s columns (no ORM object per group), and how many in all."""
    if users.is_staff(viewer):
        return await _GROUPS[False].page(session, page)
    return await _GROUPS[True].page(session, page, viewer_id=viewer.id)


_groups = Group.__table__
_members = GroupMember.__table__
_users = User.__table__
_roles = Role.__table__
_DETAIL_GROUP_KEYS = ("id", "name", "description", "created_by", "created_at", "updated_at")
# The group and its members (user and system role joined) in one pre-built Core statement:
# one row per member in joining order, or one row of NULL member columns for an empty group.
_GROUP_DETAIL = named(
    select(
        *(_groups.c[key] for key in _DETAIL_GROUP_KEYS),
        _members.c.user_id,
        _users.c.username,
        _users.c.email,
        _members.c.role,
        _roles.c.name.label("user_role"),
        _members.c.joined_at,
        _users.c.avatar_url,
        _users.c.first_name,
        _users.c.last_name,
        _users.c.child_dob,
        _members.c.updated_at.label("member_updated_at"),
    )
    .select_from(
        _groups.outerjoin(
            _members.join(_users, _users.c.id == _members.c.user_id).join(
                _roles, _roles.c.id == _users.c.role_id
            ),
            _members.c.group_id == _groups.c.id,
        )
    )
    .where(_groups.c.id == bindparam("group_id"))
    .order_by(_members.c.joined_at, _members.c.user_id)
)


# For a manager, one more column: whether they own or moderate a group of the member's.
_GROUP_DETAIL_FOR_MANAGER = _GROUP_DETAIL.add_columns(
    _members.c.user_id.in_(privacy.managed_members(bindparam("viewer_id", type_=BigInteger))).label(
        "manages"
    )
)


def _member(row: NamedRow) -> dict[str, Any]:
    """A member with every field (`MemberRead`'s keys and order)."""
    return {
        "user_id": row["user_id"],
        "username": row["username"],
        "email": row["email"],
        "role": row["role"],
        "group_role": row["role"],
        "user_role": row["user_role"],
        "joined_at": row["joined_at"],
        "avatar_url": absolute(row["avatar_url"]),
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "child_dob": row["child_dob"],
        "updated_at": row["member_updated_at"],
    }


def _public_member(row: NamedRow) -> dict[str, Any]:
    """A member as someone who may not see their private data sees them: no e-mail, no
    child field, no membership `updated_at` (`MemberRead.PRIVATE`)."""
    member = _member(row)
    for key in MemberRead.PRIVATE:
        del member[key]
    return member


async def group_detail(session: AsyncSession, *, group_id: int, viewer: Caller) -> dict[str, Any]:
    """The group as a dict shaped like `GroupDetail` (members in joining order); one
    statement on the hot path, no ORM object. NotFound for an unknown group.

    Each member's private fields (`email`, `child_dob`, `updated_at`) are left out unless
    the viewer may see them (`tma.groups.privacy`): an admin sees every member's, anyone
    their own, a manager those of members of a group they own or moderate (decided in the
    same statement, on the memberships as they are now)."""
    manager = privacy.is_manager(viewer)
    if manager:
        found = await hot_rows(
            session, _GROUP_DETAIL_FOR_MANAGER, group_id=group_id, viewer_id=viewer.id
        )
    else:
        found = await hot_rows(session, _GROUP_DETAIL, group_id=group_id)
    if not found:
        raise NotFound(f"Group {group_id} not found")
    if privacy.is_admin(viewer):
        members = [_member(row) for row in found if row["user_id"] is not None]
    else:
        members = [
            _member(row)
            if row["user_id"] == viewer.id or (manager and row["manages"])
            else _public_member(row)
            for row in found
            if row["user_id"] is not None
        ]
    group = {key: found[0][key] for key in _DETAIL_GROUP_KEYS}
    # Every membership row joins its user (foreign key), so this is `Group.member_count`.
    group["member_count"] = len(members)
    group["members"] = members
    return group


async def create_group(session: AsyncSession, *, creator: Caller, data: GroupCreate) -> Group:
    """Create a group; the creator becomes its owner."""
    group = Group(name=data.name, description=data.description, created_by=creator.id)
    session.add(group)
    try:
        await session.flush()
        session.add(GroupMember(group_id=group.id, user_id=creator.id, role=GroupRole.OWNER.value))
        await session.commit()
    except IntegrityError:
        # The only foreign key is the creator: their account was deleted while this
        # request ran. The caller has vanished, as its next request would be told.
        await session.rollback()
        raise Unauthorized("Could not validate credentials") from None
    return await get_group(session, group_id=group.id)


async def update_group(session: AsyncSession, *, group: Group, data: GroupUpdate) -> Group:
    for field, value in data.changes().items():
        setattr(group, field, value)
    await commit_or(session, NotFound(f"Group {group.id} not found"))
    # The UPDATE expires the member_count expression; reload it here, not lazily (async).
    return await get_group(session, group_id=group.id)


async def delete_group(session: AsyncSession, *, group: Group) -> None:
    """Delete a group; memberships and course assignments go with it (FK cascade)."""
    group_id = group.id
    result = await session.execute(delete(Group).where(Group.id == group_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]  # another DELETE came first
        await session.rollback()
        raise NotFound(f"Group {group_id} not found")
    await session.commit()


async def _lock_group(session: AsyncSession, *, group_id: int) -> None:
    """Lock the group (NotFound if it is gone): membership changes of one group then run
    one at a time, and what they read after this sees every earlier change committed."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE and its driver opens a transaction only at the first
        # write: a write that changes nothing takes the database's write lock now.
        keep = update(Group).where(Group.id == group_id).values(updated_at=Group.updated_at)
        result = await session.execute(keep.execution_options(synchronize_session=False))
        found = result.rowcount > 0  # type: ignore[attr-defined]
    else:
        locked = select(Group.id).where(Group.id == group_id).with_for_update()
        found = (await session.execute(locked)).first() is not None
    if not found:  # deleted since the route loaded it
        await session.rollback()
        raise NotFound(f"Group {group_id} not found")


async def _locked_memberships(
    session: AsyncSession, *, group: Group, caller: Caller, user_id: int
) -> tuple[str | None, GroupMember | None]:
    """Lock the group, then read (one statement, after the lock: on PostgreSQL each
    statement sees what was committed before it began, so a demotion that held the lock is
    seen) the caller's group role and the membership of `user_id`."""
    group_id = group.id
    await _lock_group(session, group_id=group_id)
    rows = await session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group_id, GroupMember.user_id.in_((caller.id, user_id)))
        # Read afresh under the lock, never from objects the session already holds.
        .execution_options(populate_existing=True)
    )
    by_user = {row.user_id: row for row in rows}
    mine = by_user.get(caller.id)
    return (mine.role if mine is not None else None), by_user.get(user_id)


async def _allow(
    session: AsyncSession, caller: Caller, caller_role: str | None, *, owner_involved: bool
) -> None:
    """`privacy.check_changes_members`, releasing the group's lock before a 403."""
    try:
        privacy.check_changes_members(caller, caller_role, owner_involved=owner_involved)
    except Forbidden:
        await session.rollback()
        raise


async def add_member(
    session: AsyncSession, *, group: Group, caller: Caller, user_id: int, role: GroupRole
) -> GroupMember:
    """Add a user to the group: 403 unless the caller may change its members
    (`privacy.check_changes_members`, decided under the group's lock), 404 unknown user,
    400 already a member (also under a race)."""
    group_id = group.id
    caller_role, existing = await _locked_memberships(
        session, group=group, caller=caller, user_id=user_id
    )
    await _allow(session, caller, caller_role, owner_involved=role == GroupRole.OWNER)
    await users.get_user(session, user_id=user_id)
    if existing is not None:
        await session.rollback()
        raise Conflict("User is already a member of this group")
    member = GroupMember(group_id=group_id, user_id=user_id, role=role.value)
    session.add(member)
    try:
        await session.commit()
    except IntegrityError:
        # A foreign key: the user was deleted meanwhile (the group itself is locked, and
        # under that lock no parallel addition can pass the check above). Answer as the
        # sequential checks would.
        await session.rollback()
        await users.get_user(session, user_id=user_id)
        if await session.get(Group, group_id) is None:
            raise NotFound(f"Group {group_id} not found") from None
        raise Conflict("User is already a member of this group") from None
    return member


async def _locked_member(
    session: AsyncSession, *, group: Group, caller: Caller, user_id: int
) -> tuple[str | None, GroupMember]:
    """The caller's group role and the membership of `user_id`, under the group's lock:
    403 when the caller may not change the group's members at all, then 404 when `user_id`
    is not a member."""
    caller_role, member = await _locked_memberships(
        session, group=group, caller=caller, user_id=user_id
    )
    await _allow(session, caller, caller_role, owner_involved=False)
    if member is None:
        await session.rollback()
        raise NotFound(f"Membership not found: user {user_id} is not a member of this group")
    return caller_role, member


async def _ensure_other_owner(session: AsyncSession, *, group: Group, action: str) -> None:
    owners = (
        await session.execute(
            select(func.count()).where(
                GroupMember.group_id == group.id, GroupMember.role == GroupRole.OWNER.value
            )
        )
    ).scalar_one()
    if owners <= 1:
        await session.rollback()
        raise Conflict(f"Cannot {action} the last owner of the group")


async def remove_member(
    session: AsyncSession, *, group: Group, caller: Caller, user_id: int
) -> None:
    """Remove a member (only by an admin or an owner or moderator of the group; an owner
    only by an admin or an owner); never the group's last owner."""
    caller_role, member = await _locked_member(session, group=group, caller=caller, user_id=user_id)
    if member.role == GroupRole.OWNER:
        await _allow(session, caller, caller_role, owner_involved=True)
        await _ensure_other_owner(session, group=group, action="remove")
    await session.delete(member)
    await session.commit()


async def change_member_role(
    session: AsyncSession, *, group: Group, caller: Caller, user_id: int, role: GroupRole
) -> GroupMember:
    """Change a member's group role (only by an admin or an owner or moderator of the
    group; to or from `owner` only by an admin or an owner); never demote the group's last
    owner."""
    caller_role, member = await _locked_member(session, group=group, caller=caller, user_id=user_id)
    was_owner = member.role == GroupRole.OWNER
    if was_owner or role == GroupRole.OWNER:
        await _allow(session, caller, caller_role, owner_involved=True)
    if was_owner and role != GroupRole.OWNER:
        await _ensure_other_owner(session, group=group, action="demote")
    member.role = role.value
    await session.commit()
    return member


@users.on_account_deletion
async def keep_an_owner(session: AsyncSession, user_id: int) -> None:
    """Refuse to delete an account that is some group's last owner (400 naming those
    groups). Race-free: called under the lock of the user's row (users.delete_user), it
    locks every group they belong to, in id order, as membership changes lock their group:
    a concurrent removal or demotion of the group's other owner runs wholly before or after
    this check."""
    if session.get_bind().dialect.name != "sqlite":  # SQLite: the database's write lock
        their_groups = (
            select(Group.id)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id)
            .order_by(Group.id)
            .with_for_update(of=Group)
        )
        await session.execute(their_groups)
    members = GroupMember.__table__
    other = members.alias("other")
    others = (
        select(func.count())
        .select_from(other)
        .where(
            other.c.group_id == members.c.group_id,
            other.c.role == GroupRole.OWNER.value,
            other.c.user_id != user_id,
        )
        .scalar_subquery()
    )
    orphaned = (
        select(Group.id, Group.name)
        .join(members, members.c.group_id == Group.id)
        .where(members.c.user_id == user_id, members.c.role == GroupRole.OWNER.value, others == 0)
        .order_by(Group.id)
    )
    groups = (await session.execute(orphaned)).all()
    if groups:
        await session.rollback()
        named = ", ".join(f"{row.id} ({row.name})" for row in groups)
        raise Conflict(
            "Cannot delete the last owner of these groups; add another owner or delete the "
            f"groups first: {named}"
        )
