"""Request and response bodies of the auth domain."""

from typing import Any

from pydantic import BaseModel

from tma.core.schemas import WriteModel, example
from tma.core.types import LoginName, Password

# The sample logins `tma seed` creates (`make run` prints them), so that "Try it out" in
# /docs logs in: the model's example, and one named example each on the login operation.
# `tests/test_seed.py` logs in with every one against the seeded data.
SAMPLE_LOGIN_EXAMPLES: dict[str, dict[str, Any]] = {
    name: {
        "summary": f"sample {name} (from `tma seed`)",
        "value": {"username": name, "password": "password"},
    }
    for name in ("admin", "manager", "user")
}


class LoginRequest(WriteModel):
    model_config = example(**SAMPLE_LOGIN_EXAMPLES["admin"]["value"])

    username: LoginName
    password: Password


class Token(BaseModel):
    model_config = example(  # an example, not a secret
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",  # noqa: S106
        token_type="bearer",  # noqa: S106
    )

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
