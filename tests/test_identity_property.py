"""Issue 13, item 4, as a property: whatever registers can log in, on the database under test
(SQLite by default, PostgreSQL with TMA_TEST_DATABASE_URL). The identity rule is in
docs/contracts/identity.md."""

from itertools import count

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PASSWORD = "pw-property-1"
_emails = count(1)

# Letters of many scripts and cases, digits of several systems, ASCII punctuation, and the
# characters that broke identity before: dotted and dotless i, sharp s, final sigma,
# full-width letters, ligatures, combining marks, zero-width and bidi controls.
_TRICKY = "İıßẞςΣσÉéÅåǅǄﬁﬀＡｚ０\u0301\u0308\u200b\u200d\u202e\u2066\ufeff ._-"
names = st.text(
    alphabet=st.one_of(
        st.characters(
            categories=("Lu", "Ll", "Lt", "Lo", "Nd", "Mn", "Pc", "Pd"),
            exclude_characters="\x00",
        ),
        st.sampled_from(_TRICKY),
    ),
    min_size=3,
    max_size=20,
)


async def _login(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})


@pytest.mark.asyncio
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(username=names)
async def test_register_any_generated_name_then_login_returns_200(
    client: httpx.AsyncClient, username: str
) -> None:
    """For any generated name: registration answers 201, 400 "Username already registered"
    (an earlier example had the same key) or 422 (the rule refuses it), never anything else;
    after a 201 or that 400, logging in with the name as typed and as stored answers 200
    (every example uses the same password, so a name equal to an earlier one logs in to
    that account)."""
    response = await client.post(
        "/api/auth/register",
        json={"username": username, "email": f"p{next(_emails)}@test.com", "password": PASSWORD},
    )

    assert response.status_code in (201, 400, 422), response.text
    if response.status_code == 422:
        assert [p["loc"] for p in response.json()["detail"]] == [["body", "username"]]
        return
    if response.status_code == 400:
        assert response.json() == {"detail": "Username already registered"}
    else:
        stored = response.json()["username"]
        login = await _login(client, stored)
        assert login.status_code == 200, (stored, login.text)
    login = await _login(client, username)
    assert login.status_code == 200, (username, login.text)
