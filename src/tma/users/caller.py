"""Who is calling, as read by the auth dependency: plain frozen values, not ORM objects.

Every authenticated request loads its caller. An ORM `User` (identity map, instance state,
attribute instrumentation) costs several times what one row of columns does, and almost
every route only asks the caller's id and role; see docs/performance.md. A route that edits
the caller's own row (PATCH /api/auth/me) asks for the ORM `User` instead.
"""

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class CallerRole:
    id: int
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class Caller:
    """The columns of `UserRead` (no password hash), with the system role.

    Written out rather than derived from `UserRead`: a frozen slotted dataclass built from
    one row costs a fraction of a Pydantic model's validation on every request, and mypy
    sees its fields. tests/test_architecture.py checks that the names and order stay
    `UserRead`'s (plus `tokens_valid_after` and the two versions), and `CallerRole`'s
    `RoleRead`'s."""

    id: int
    username: str
    email: str
    first_name: str | None
    last_name: str | None
    child_name: str | None
    child_sex_assigned_at_birth: str | None
    child_dob: date | None
    avatar_url: str | None
    role: CallerRole
    email_verified: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    language: str | None
    # Not in `UserRead`: the instant at or before which this account's tokens are refused.
    tokens_valid_after: datetime | None
    # Not in `UserRead`: the versions a revalidation tag is made of (tma.core.versions), read
    # in the same statement, before anything the route reads.
    version: int
    content_version: int
