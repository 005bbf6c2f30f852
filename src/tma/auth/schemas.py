"""Request and response bodies of the auth domain."""

from pydantic import BaseModel

from tma.core.schemas import WriteModel, example
from tma.core.types import LoginName, Password


class LoginRequest(WriteModel):
    model_config = example(username="parent1", password="a long secret")  # noqa: S106

    username: LoginName
    password: Password


class Token(BaseModel):
    model_config = example(  # an example, not a secret
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",  # noqa: S106
        token_type="bearer",  # noqa: S106
    )

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
