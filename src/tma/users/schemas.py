"""Request and response bodies of the users domain."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import field_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import (
    AvatarUrl,
    ChildSex,
    Email,
    FileLink,
    Id,
    IsoDate,
    LanguageTag,
    Password,
    ProfileName,
    RoleName,
    Username,
)


class RoleRead(ReadModel):
    model_config = example(
        id=1, name="user", description="A parent: sees the groups they belong to"
    )

    id: int
    name: str
    description: str | None


class UserRead(ReadModel):
    """A user as every endpoint returns it: never a password or its hash."""

    # An example is data: its `key=value` lines read like any other long example (a group
    # member's, a post's progress) without sharing anything but the sample person's values.
    model_config = example(
        id=12,
        username="parent1",
        email="parent1@example.com",
        first_name="Alex",
        last_name="Doe",
        child_name="Sam",
        child_sex_assigned_at_birth="female",
        child_dob="2018-04-02",
        avatar_url=None,
        role={"id": 1, "name": "user", "description": "A parent: sees the groups they belong to"},
        email_verified=False,
        is_active=True,
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
        language="es",
    )

    id: int
    username: str
    email: str
    first_name: str | None
    last_name: str | None
    child_name: str | None
    child_sex_assigned_at_birth: str | None
    child_dob: date | None
    avatar_url: FileLink | None
    role: RoleRead
    email_verified: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    # The reader's language (BCP 47), null: none chosen (docs/contracts/translations.md).
    language: str | None


PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "child_name",
    "child_sex_assigned_at_birth",
    "child_dob",
    "avatar_url",
)


class ProfileFields(WriteModel):
    """The profile a user or an admin may edit; an empty string clears a field to null."""

    first_name: ProfileName | None = None
    last_name: ProfileName | None = None
    child_name: ProfileName | None = None
    child_sex_assigned_at_birth: ChildSex | None = None
    # "" is accepted (and documented) as "clear": the validator below makes it null.
    child_dob: IsoDate | Literal[""] | None = None
    avatar_url: AvatarUrl | None = None

    @field_validator(*PROFILE_FIELDS, mode="before")
    @classmethod
    def _empty_is_null(cls, value: Any) -> Any:
        return None if value == "" else value


class ProfileUpdate(ProfileFields):
    """PATCH body: only the fields sent change; `language` a BCP 47 tag ("" or null
    clears it)."""

    model_config = example(first_name="Alex", child_dob="2018-04-02", language="es")

    language: LanguageTag | Literal[""] | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _empty_language_is_null(cls, value: Any) -> Any:
        return None if value == "" else value


class UserUpdate(ProfileUpdate):
    """An admin's PATCH of a user: the profile, the e-mail (the identity rule, unique), and
    whether the e-mail is verified."""

    model_config = example(first_name="Alex", last_name="Doe", email="alex.doe@example.com")

    not_null = ("email", "email_verified")

    email: Email | None = None
    email_verified: bool | None = None


class PasswordReset(WriteModel):
    """An admin sets another account's password."""

    model_config = example(new_password="a new long secret")  # noqa: S106

    new_password: Password


class PasswordChange(WriteModel):
    """The caller changes their own password, proving the current one."""

    model_config = example(current_password="the old secret", new_password="a new long secret")  # noqa: S106

    current_password: Password
    new_password: Password


class UserCreate(ProfileFields):
    """Register or admin-create: credentials, optional profile, optional system role."""

    model_config = example(
        username="parent1",
        email="parent1@example.com",
        password="a long secret",  # noqa: S106 - an example
        first_name="Alex",
    )

    username: Username
    email: Email
    password: Password
    # A free string on purpose: an unknown role is a business error (400), not a shape error.
    role: RoleName | None = None


class StatusUpdate(WriteModel):
    """Enable or disable an account; `user_id`, when sent, must match the path."""

    model_config = example(is_active=False)

    not_null = ("is_active",)

    is_active: bool
    user_id: Id | None = None


class RoleUpdate(WriteModel):
    """Change an account's system role; `user_id`, when sent, must match the path."""

    model_config = example(role="manager")

    role: RoleName
    user_id: Id | None = None


class DisableRequest(WriteModel):
    """Body of PATCH /api/auth/users/disable."""

    model_config = example(user_id=12, is_active=False)

    user_id: Id
    is_active: bool


class RoleRequest(WriteModel):
    """Body of PATCH /api/auth/users/role."""

    model_config = example(user_id=12, role="manager")

    user_id: Id
    role: RoleName
