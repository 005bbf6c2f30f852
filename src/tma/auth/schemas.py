"""Request and response bodies of the auth domain."""

from pydantic import BaseModel

from tma.core.schemas import WriteModel
from tma.core.types import LoginName, Password


class LoginRequest(WriteModel):
    username: LoginName
    password: Password


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
