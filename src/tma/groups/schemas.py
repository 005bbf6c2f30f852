"""Request and response bodies of the groups domain."""

from datetime import date, datetime
from typing import ClassVar

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Description, FileLink, GroupName, Ordering
from tma.groups.models import GroupRole


# GroupCreate, GroupUpdate and GroupRead have the shape of the courses' and modules' bodies
# (a name, a description, all optional in the PATCH body) but stay separate: each domain has
# its own field names, limits and examples and is its own contract, and a shared base would
# reorder the JSON (pydantic puts inherited fields first) and tie the contracts together.
class GroupCreate(WriteModel):
    model_config = example(name="Chess Club", description="Saturday mornings, ages 6-9")

    name: GroupName
    description: Description | None = None


class GroupUpdate(WriteModel):
    """PATCH body: name and/or description; a name may not be cleared."""

    model_config = example(name="Chess Club (Saturdays)")

    not_null = ("name",)

    name: GroupName | None = None
    description: Description | None = None


GROUP_EXAMPLE = {
    "id": 7,
    "name": "Chess Club",
    "description": "Saturday mornings, ages 6-9",
    "created_by": 2,
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
    "member_count": 3,
}


class GroupRead(ReadModel):
    model_config = example(**GROUP_EXAMPLE)

    id: int
    name: str
    description: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    member_count: int


class MemberRead(ReadModel):
    """A member as the group detail lists it: `role` and `group_role` are the membership role.

    `email`, `child_dob` and `updated_at` are left out (the keys absent, not null) for a
    caller who may not see this member's private data: another member who is a `user`, a
    manager who neither owns nor moderates a group of this member's."""

    PRIVATE: ClassVar[tuple[str, ...]] = ("email", "child_dob", "updated_at")
    MAY_BE_ABSENT = PRIVATE

    model_config = example(
        user_id=12,
        username="parent1",
        email="parent1@example.com",
        role="member",
        group_role="member",
        user_role="user",
        joined_at="2026-09-01T09:30:00Z",
        avatar_url=None,
        first_name="Alex",
        last_name="Doe",
        child_dob="2018-04-02",
        updated_at="2026-09-01T09:30:00Z",
    )

    user_id: int
    username: str
    email: str
    role: GroupRole
    group_role: GroupRole
    user_role: str
    joined_at: datetime
    avatar_url: FileLink | None
    first_name: str | None
    last_name: str | None
    child_dob: date | None
    updated_at: datetime

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["required"] = [name for name in target["required"] if name not in cls.PRIVATE]
        return schema


class GroupDetail(GroupRead):
    model_config = example(
        **{**GROUP_EXAMPLE, "member_count": 1},
        members=[
            {
                "user_id": 2,
                "username": "manager",
                "email": "manager@example.com",
                "role": "owner",
                "group_role": "owner",
                "user_role": "manager",
                "joined_at": "2026-09-01T09:30:00Z",
                "avatar_url": None,
                "first_name": None,
                "last_name": None,
                "child_dob": None,
                "updated_at": "2026-09-01T09:30:00Z",
            }
        ],
    )

    members: list[MemberRead]


class MemberAdd(WriteModel):
    model_config = example(role="moderator")

    not_null = ("role",)

    role: GroupRole = GroupRole.MEMBER


class MemberAdded(ReadModel):
    model_config = example(message="User added to group", role="member")

    message: str
    role: GroupRole


class MemberRoleUpdate(WriteModel):
    model_config = example(role="moderator")

    role: GroupRole


class MemberRoleChanged(ReadModel):
    model_config = example(message="Member role updated", user_id=12, role="moderator")

    message: str
    user_id: int
    role: GroupRole


class CourseAssign(WriteModel):
    """Optional body of a course assignment; without `ordering` the course goes last."""

    model_config = example(ordering=0)

    not_null = ("ordering",)

    ordering: Ordering | None = None


class CourseAssigned(ReadModel):
    model_config = example(
        message="Course assigned to group",
        group_id=7,
        course_id=3,
        ordering=0,
        date_assigned="2026-09-01T09:30:00Z",
    )

    message: str
    group_id: int
    course_id: int
    ordering: int
    date_assigned: datetime
