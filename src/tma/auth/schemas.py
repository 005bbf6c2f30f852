"""Request and response bodies of the auth domain."""

from pydantic import BaseModel

from tma.core.schemas import WriteModel
from tma.core.types import Password, Username


class LoginRequest(WriteModel):
    username: Username
    password: Password


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
