"""What the API's responses look like: exact values to compare response bodies with.

- `ROLE_USER`, `ROLE_MANAGER`, `ROLE_ADMIN` (and `ROLES[name]`): the `role` object of a User
  body (the three system roles are seeded by the first migration: ids and texts are fixed).
- `USER_FIELDS`: every key of a User body, no more (so never `password`).
- `UTC_TIMESTAMP`: equal to any ISO-8601 string in UTC, for server-set timestamps.
- `user_body(...)`: the exact User body for the given values, to compare with `==`.
"""

from datetime import date, datetime, timedelta
from typing import Any

ROLE_USER = {"id": 1, "name": "user", "description": "A parent: sees the groups they belong to"}
ROLE_MANAGER = {"id": 2, "name": "manager", "description": "Runs groups and assigns courses"}
ROLE_ADMIN = {"id": 3, "name": "admin", "description": "Manages accounts, roles and courses"}
ROLES = {"user": ROLE_USER, "manager": ROLE_MANAGER, "admin": ROLE_ADMIN}

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "child_name",
    "child_sex_assigned_at_birth",
    "child_dob",
    "avatar_url",
)

USER_FIELDS = frozenset(
    {
        "id",
        "username",
        "email",
        *PROFILE_FIELDS,
        "role",
        "email_verified",
        "is_active",
        "created_at",
        "updated_at",
        "language",
    }
)


class _UtcTimestamp:
    """Compares equal to an ISO-8601 string whose offset is UTC (`...Z` or `+00:00`)."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        try:
            parsed = datetime.fromisoformat(other)
        except ValueError:
            return False
        return parsed.utcoffset() == timedelta(0)

    def __repr__(self) -> str:
        return "<an ISO-8601 UTC timestamp>"


UTC_TIMESTAMP: Any = _UtcTimestamp()


def user_body(
    user_id: int,
    username: str,
    email: str | None = None,
    *,
    role: dict[str, Any] = ROLE_USER,
    is_active: bool = True,
    **profile: str | date | None,
) -> dict[str, Any]:
    """The exact User body: profile fields and `language` default to null, `child_dob` may
    be a `date`."""
    unknown = set(profile) - {*PROFILE_FIELDS, "language"}
    if unknown:
        raise TypeError(f"not profile fields: {sorted(unknown)}")
    fields = {name: profile.get(name) for name in PROFILE_FIELDS}
    if isinstance(fields["child_dob"], date):
        fields["child_dob"] = fields["child_dob"].isoformat()
    return {
        "id": user_id,
        "username": username,
        "email": email or f"{username}@test.com",
        **fields,
        "role": role,
        "email_verified": False,
        "is_active": is_active,
        "created_at": UTC_TIMESTAMP,
        "updated_at": UTC_TIMESTAMP,
        "language": profile.get("language"),
    }
