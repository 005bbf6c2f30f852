"""Who sees a learner's private data: the one rule, as query fragments and checks.

A member's e-mail, child fields, progress and attempts are seen by that member, by admins,
and by a manager only while the member belongs to a group that manager owns or moderates
(companion spec §5; docs/contracts/groups.md "Who sees a member's private data"). The rule
is evaluated in SQL on the memberships as they are when the request reads them: nothing is
cached, so a member removed from a group stops being visible to its managers at once.
"""

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, exists, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from tma.core.errors import Forbidden, NotFound
from tma.core.reads import first
from tma.groups.models import GroupMember, GroupRole
from tma.users.caller import Caller
from tma.users.models import SystemRole, User

# The group roles that make a manager responsible for a group's members.
MANAGING_ROLES = (GroupRole.OWNER.value, GroupRole.MODERATOR.value)
# Written into the SQL as constants, not bound: the group detail runs on the hot path
# (`tma.core.hotpath`), which passes only the parameters the caller names.
_MANAGING: list[ColumnElement[str]] = [literal_column(f"'{role}'") for role in MANAGING_ROLES]

NOT_YOUR_MEMBER = "You may only see the data of members of groups you own or moderate"
NOT_YOUR_GROUP = "You may only see the progress of groups you own or moderate"
NOT_YOUR_MEMBERS = "You may only change the members of groups you own or moderate"
OWNERS_ONLY = "Only the group's owners and admins may grant or take the owner role"

_theirs = aliased(GroupMember)
_mine = aliased(GroupMember)


def manages_group(viewer_id: Any, group_id: Any) -> ColumnElement[bool]:
    """True when `viewer_id` owns or moderates group `group_id`."""
    return exists().where(
        _mine.group_id == group_id,
        _mine.user_id == viewer_id,
        _mine.role.in_(_MANAGING),
    )


def manages_member(viewer_id: Any, member_id: Any) -> ColumnElement[bool]:
    """True when `member_id` belongs to a group that `viewer_id` owns or moderates (one
    index lookup per group of the member: `group_members` is keyed by group and user)."""
    return exists().where(
        _theirs.user_id == member_id,
        _mine.group_id == _theirs.group_id,
        _mine.user_id == viewer_id,
        _mine.role.in_(_MANAGING),
    )


def managed_members(viewer_id: Any) -> Select[Any]:
    """The ids of the members of every group `viewer_id` owns or moderates, for
    `member_id IN (...)` over many rows (the group detail): not correlated with the row, so
    the database builds the set once per statement and probes it per row. Measured against
    the correlated `manages_member` on the group detail of 50 members (PostgreSQL, prepared
    as the driver path prepares it): about the admin's cost, where `EXISTS` took twice it."""
    return (
        select(_theirs.user_id)
        .join(_mine, _mine.group_id == _theirs.group_id)
        .where(_mine.user_id == viewer_id, _mine.role.in_(_MANAGING))
    )


def is_admin(caller: Caller) -> bool:
    """Admins see every learner's data."""
    return caller.role.name == SystemRole.ADMIN


def is_manager(caller: Caller) -> bool:
    """Managers see it for the members of the groups they own or moderate."""
    return caller.role.name == SystemRole.MANAGER


def check_changes_members(caller: Caller, group_role: str | None, *, owner_involved: bool) -> None:
    """May `caller`, whose role in the group is `group_role` (None: not a member), add,
    remove or re-role a member? Membership is what opens a member's data to a manager, so
    only an admin or a manager who owns or moderates the group may change it (else a manager
    could make themselves a group's moderator and read its parents' data). Granting or
    taking `owner` (adding an owner, promoting to or demoting from owner, removing an owner)
    is for owners and admins. The caller's `group_role` must be read under the group's lock,
    in the transaction that makes the change, so the decision cannot race a demotion."""
    if is_admin(caller):
        return
    if not is_manager(caller) or group_role not in MANAGING_ROLES:
        raise Forbidden(NOT_YOUR_MEMBERS)
    if owner_involved and group_role != GroupRole.OWNER.value:
        raise Forbidden(OWNERS_ONLY)


_VIEWER_ID = bindparam("viewer_id", type_=BigInteger)
_USER_ID = bindparam("user_id", type_=BigInteger)
# The user, and whether the viewer manages a group of theirs: one statement.
_LEARNER = select(User.id, manages_member(_VIEWER_ID, User.id).label("managed")).where(
    User.id == _USER_ID
)


async def check_sees_learner(session: AsyncSession, *, viewer: Caller, user_id: int) -> None:
    """For progress and attempts of `user_id` read by someone else: 404 when no such user;
    403 for a manager unless the user belongs to a group the manager owns or moderates.
    Admins read anyone's. A `user` naming someone else is refused before this (by
    `check_sees_user`, without looking the id up). One statement."""
    row = await first(session, _LEARNER, viewer_id=viewer.id, user_id=user_id)
    if row is None:
        raise NotFound(f"User {user_id} not found")
    if is_admin(viewer):
        return
    if not (is_manager(viewer) and row["managed"]):
        raise Forbidden(NOT_YOUR_MEMBER)
