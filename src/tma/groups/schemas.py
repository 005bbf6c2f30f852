"""Request and response bodies of the groups domain."""

from datetime import date, datetime

from tma.core.schemas import ReadModel, WriteModel
from tma.core.types import Description, GroupName, Ordering
from tma.groups.models import GroupRole


class GroupCreate(WriteModel):
    name: GroupName
    description: Description | None = None


class GroupUpdate(WriteModel):
    """PATCH body: name and/or description; a name may not be cleared."""

    not_null = ("name",)

    name: GroupName | None = None
    description: Description | None = None


class GroupRead(ReadModel):
    id: int
    name: str
    description: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    member_count: int


class MemberRead(ReadModel):
    """A member as the group detail lists it: `role` and `group_role` are the membership role."""

    user_id: int
    username: str
    email: str
    role: GroupRole
    group_role: GroupRole
    user_role: str
    joined_at: datetime
    avatar_url: str | None
    first_name: str | None
    last_name: str | None
    child_dob: date | None
    updated_at: datetime


class GroupDetail(GroupRead):
    members: list[MemberRead]


class MemberAdd(WriteModel):
    not_null = ("role",)

    role: GroupRole = GroupRole.MEMBER


class MemberAdded(ReadModel):
    message: str
    role: GroupRole


class MemberRoleUpdate(WriteModel):
    role: GroupRole


class MemberRoleChanged(ReadModel):
    message: str
    user_id: int
    role: GroupRole


class CourseAssign(WriteModel):
    """Optional body of a course assignment; without `ordering` the course goes last."""

    not_null = ("ordering",)

    ordering: Ordering | None = None


class CourseAssigned(ReadModel):
    message: str
    group_id: int
    course_id: int
    ordering: int
    date_assigned: datetime
