"""The verified-token cache and the token clock, at the functions themselves.

The cache (`tma.core.security.decode_access_token`) must make a token's second check cheap,
never different: a token it holds stops working at the instant it expires, exactly as an
unchecked one would, and it holds at most `VERIFIED_TOKENS_MAX` tokens. The clock: a token is
refused when issued at or before its account's cut-off (`tokens_valid_after`), so a token
issued for an account whose cut-off is now, or later (another machine's clock runs ahead),
is dated one microsecond after it. HTTP tests cannot set the clock; these set it directly.
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import jwt
import pytest
from sqlalchemy import update

from tma.core import security
from tma.core.security import create_access_token, decode_access_token, epoch_microseconds
from tma.users.models import User

# A minute ago: PyJWT refuses a token issued in the future.
NOW = datetime.now(UTC).replace(microsecond=123456) - timedelta(minutes=1)


@pytest.fixture
def cache(monkeypatch):
    """An empty verified-token cache for this test (the real one is process-wide)."""
    tokens: dict = {}
    monkeypatch.setattr(security, "_VERIFIED_TOKENS", tokens)
    return tokens


@pytest.fixture
def signature_checks(monkeypatch):
    """The tokens whose signature and claims were checked (not answered from the cache)."""
    checked: list[str] = []
    real = security._verify_access_token

    def counting(token, settings):
        checked.append(token)
        return real(token, settings)

    monkeypatch.setattr(security, "_verify_access_token", counting)
    return checked


@pytest.fixture
def clock(monkeypatch):
    """The wall clock the cache reads (`time.time()`), set by the test: `clock.now = t`."""
    fake = SimpleNamespace(now=0.0)
    monkeypatch.setattr(security, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


def test_token_checked_once_is_answered_from_the_cache(test_settings, cache, signature_checks):
    """The second check of the same token costs no signature check and says the same."""
    token = create_access_token(7, test_settings)

    first = decode_access_token(token, test_settings)
    second = decode_access_token(token, test_settings)

    assert first is not None
    assert first.user_id == 7
    assert second == first
    assert signature_checks == [token]


def test_refused_token_is_not_cached(test_settings, cache, signature_checks):
    """Only tokens that passed are kept: a bad one is checked (and refused) every time."""
    token = create_access_token(7, test_settings) + "x"

    assert decode_access_token(token, test_settings) is None
    assert decode_access_token(token, test_settings) is None
    assert signature_checks == [token, token]
    assert cache == {}


def test_cached_token_stops_working_at_the_instant_it_expires(test_settings, cache, clock):
    """A token is valid while now < exp (as PyJWT decides for an unchecked one): the cache
    answers it a second before, and refuses it (and forgets it) at exp exactly."""
    token = create_access_token(7, test_settings, expires_minutes=5)
    clock.now = datetime.now(UTC).timestamp()
    claims = decode_access_token(token, test_settings)
    assert claims is not None
    [(_, expires)] = cache.values()

    clock.now = expires - 1
    assert decode_access_token(token, test_settings) == claims
    clock.now = expires
    assert decode_access_token(token, test_settings) is None
    assert cache == {}


def test_cache_holds_at_most_its_limit_and_forgets_the_oldest_first(
    test_settings, cache, signature_checks, monkeypatch
):
    """Bounded memory: with `VERIFIED_TOKENS_MAX` tokens held, a new one replaces the
    oldest; the others are still answered without a signature check."""
    monkeypatch.setattr(security, "VERIFIED_TOKENS_MAX", 3)
    tokens = [create_access_token(user_id, test_settings) for user_id in range(1, 6)]

    for token in tokens:
        assert decode_access_token(token, test_settings) is not None

    assert [token for token, _ in cache] == tokens[2:]
    signature_checks.clear()
    assert decode_access_token(tokens[4], test_settings) is not None
    assert signature_checks == []
    assert decode_access_token(tokens[0], test_settings) is not None
    assert signature_checks == [tokens[0]]
    assert len(cache) == 3


@pytest.mark.parametrize(
    ("cut_off", "issued"),
    [
        (None, NOW),
        (NOW - timedelta(microseconds=1), NOW),
        (NOW, NOW + timedelta(microseconds=1)),
        (NOW + timedelta(seconds=2), NOW + timedelta(seconds=2, microseconds=1)),
    ],
    ids=["no-cut-off", "cut-off-before-now", "cut-off-now", "cut-off-ahead"],
)
def test_token_is_issued_after_its_accounts_cut_off(
    test_settings, cache, monkeypatch, cut_off, issued
):
    """`iat` is now, or one microsecond after the cut-off when that is now or later."""
    monkeypatch.setattr(security, "utcnow", lambda: NOW)

    token = create_access_token(7, test_settings, issued_after=cut_off)

    claims = decode_access_token(token, test_settings)
    assert claims is not None
    assert claims.issued_us == epoch_microseconds(issued)


@pytest.mark.asyncio
async def test_login_after_a_cut_off_set_by_a_clock_running_ahead_returns_a_working_token(
    client: httpx.AsyncClient, test_db, test_user
):
    """Another machine whose clock runs two seconds ahead ended the account's tokens (a
    password change): a login here right after gets a token that works, not one dated
    before the cut-off and refused."""
    ahead = datetime.now(UTC) + timedelta(seconds=2)
    async with test_db.session() as session:
        await session.execute(
            update(User).where(User.id == test_user.id).values(tokens_valid_after=ahead)
        )
        await session.commit()

    login = await client.post(
        "/api/auth/login", json={"username": "testuser", "password": "testpass"}
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert me.status_code == 200
    assert me.json()["id"] == test_user.id


@pytest.mark.parametrize(("ahead", "works"), [(60, True), (60.000001, False)])
def test_token_dated_up_to_exactly_a_minute_ahead_works(test_settings, cache, clock, ahead, works):
    """Servers' clocks may differ by up to 60 seconds (docs/contracts/auth.md): a token
    whose `iat` is exactly 60 s past this server's clock works; a microsecond more is
    refused."""
    clock.now = datetime.now(UTC).timestamp()
    payload = {
        "sub": "7",
        "iat": clock.now + ahead,
        "exp": clock.now + 600,
        "type": "access",
    }
    token = jwt.encode(payload, test_settings.secret_key, algorithm="HS256")

    claims = decode_access_token(token, test_settings)

    assert (claims is not None) is works
