"""The structure the code promises (docs/architecture.md): one definition per name, the
caller's fields in step with `UserRead`, and every table registered for Alembic."""

from dataclasses import fields

from tma.users.caller import Caller, CallerRole
from tma.users.schemas import RoleRead, UserRead


def test_caller_fields_are_user_read_fields_plus_token_cut_off() -> None:
    """`Caller` has `UserRead`'s fields in its order, then `tokens_valid_after`; its role
    `RoleRead`'s: a field added to one and not the other fails here."""
    assert [f.name for f in fields(Caller)] == [*UserRead.model_fields, "tokens_valid_after"]
    assert [f.name for f in fields(CallerRole)] == list(RoleRead.model_fields)
