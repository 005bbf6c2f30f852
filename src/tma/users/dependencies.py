"""Checks shared by the user-admin endpoints."""

from typing import Annotated

from fastapi import Path

from tma.core.errors import Conflict
from tma.core.types import MAX_ID

UserIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A user id")]


def same_user_id(path_id: int, body_id: int | None) -> None:
    """A `user_id` in the body, when sent, must name the user in the path (else 400)."""
    if body_id is not None and body_id != path_id:
        raise Conflict("user_id in the body does not match the user in the path")
