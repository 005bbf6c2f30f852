"""Rate limits (docs/contracts/auth.md, docs/security.md): password spraying per client,
registrations per client, the client address behind trusted proxies, the memory storage's
bound, and the Redis storage shared by several limiters.

Fixtures used: `client`, `test_user`, `make_user`, `test_settings`, `test_db`; `redis_url`
(conftest.py) is `TMA_TEST_REDIS_URL` (CI sets it: the Redis tests then never skip, and an
unreachable Redis fails the run); each Redis test uses a key prefix of its own.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from limits.aio.storage import MemoryStorage

from tma.auth.throttle import CLIENT_LOCKED, LOGIN_LOCKED, REGISTER_LOCKED
from tma.core.config import Settings
from tma.core.ratelimit import RateLimiter, Rule
from tma.main import create_app
from tma.users.models import User

MakeUser = Callable[..., Awaitable[User]]
AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def login(
    http: httpx.AsyncClient, username: str, password: str, **headers: str
) -> httpx.Response:
    body = {"username": username, "password": password}
    return await http.post("/api/auth/login", json=body, headers=headers)


async def register(http: httpx.AsyncClient, name: str) -> httpx.Response:
    body = {"username": name, "email": f"{name}@test.com", "password": "password-1"}
    return await http.post("/api/auth/register", json=body)


@pytest.fixture
def app_client(test_settings: Settings, test_db: Any) -> AppClient:
    """`async with app_client(**settings changes) as http:` an app of its own (its own
    limiter) on the test database."""

    @asynccontextmanager
    async def open_client(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(test_settings.model_copy(update=changes))
        transport = httpx.ASGITransport(app=application)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http
        finally:
            await application.state.limiter.reset()
            await application.state.db.dispose()

    return open_client


def unique_prefix() -> str:
    return f"tma-test-{uuid.uuid4().hex}"


# --- password spraying and registrations, through HTTP -------------------------------------


@pytest.mark.asyncio
async def test_login_spraying_many_usernames_returns_429(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """20 failed logins from one client, each on another username (none locked on its own),
    lock the client out for every username: 429 with `Retry-After`, even `testuser`'s right
    password."""
    limit = test_settings.login_client_max_failures
    statuses = [
        (await login(client, f"sprayed-{n}", "wrong-pass")).status_code for n in range(limit)
    ]

    response = await login(client, "testuser", "testpass")

    assert statuses == [401] * limit
    assert response.status_code == 429
    assert response.json() == {"detail": CLIENT_LOCKED}
    assert 1 <= int(response.headers["Retry-After"]) <= test_settings.login_client_window_seconds


@pytest.mark.asyncio
async def test_login_successes_do_not_count_toward_the_client_limit(
    client: httpx.AsyncClient, test_user: User, test_settings: Settings
) -> None:
    """Only failures count per client: 25 right-password logins from one address are fine."""
    for _ in range(test_settings.login_client_max_failures + 5):
        response = await login(client, "testuser", "testpass")
        assert response.status_code == 200


@pytest.mark.asyncio
async def test_register_past_the_limit_per_client_returns_429(
    app_client: AppClient,
) -> None:
    """With `TMA_REGISTER_MAX_PER_CLIENT=3`: three registrations from one client, then 429
    with `Retry-After`, and the fourth account is not created."""
    async with app_client(register_max_per_client=3, register_window_seconds=600) as http:
        created = [(await register(http, f"newbie{n}")).status_code for n in range(3)]
        refused = await register(http, "newbie3")
        assert (await login(http, "newbie3", "password-1")).status_code == 401

    assert created == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json() == {"detail": REGISTER_LOCKED}
    assert 1 <= int(refused.headers["Retry-After"]) <= 600


@pytest.mark.asyncio
async def test_register_by_an_admin_is_not_limited(
    app_client: AppClient, auth_headers: dict[str, str]
) -> None:
    """An admin's token is not counted: 4 creations past a limit of 1 all succeed."""
    async with app_client(register_max_per_client=1) as http:
        statuses = []
        for n in range(4):
            body = {"username": f"staff{n}", "email": f"staff{n}@test.com", "password": "pw-123456"}
            response = await http.post("/api/auth/register", json=body, headers=auth_headers)
            statuses.append(response.status_code)

    assert statuses == [201] * 4


# --- the client address ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_forwarded_for_ignored_without_trusted_proxies_returns_429(
    client: httpx.AsyncClient, test_user: User
) -> None:
    """By default X-Forwarded-For is not believed: changing it on every attempt does not
    escape the lock, the socket's address is the client."""
    for n in range(5):
        await login(client, "testuser", "wrong-pass", **{"X-Forwarded-For": f"198.51.100.{n}"})

    response = await login(client, "testuser", "testpass", **{"X-Forwarded-For": "198.51.100.9"})

    assert response.status_code == 429
    assert response.json() == {"detail": LOGIN_LOCKED}


@pytest.mark.asyncio
async def test_login_behind_trusted_proxy_counts_the_forwarded_client(
    app_client: AppClient, test_user: User
) -> None:
    """Behind a trusted proxy (the test client's 127.0.0.1) the client is the right-most
    X-Forwarded-For address that is not a trusted proxy: another client behind the same
    proxy is not locked, and prepending addresses (which the client controls) changes
    nothing."""
    async with app_client(trusted_proxies=["127.0.0.1", "10.0.0.0/8"]) as http:
        for n in range(5):
            spoof = f"192.0.2.{n}, 203.0.113.5, 10.1.2.3"
            assert (
                await login(http, "testuser", "wrong-pass", **{"X-Forwarded-For": spoof})
            ).status_code == 401
        locked = await login(
            http, "testuser", "testpass", **{"X-Forwarded-For": "203.0.113.5, 10.9.9.9"}
        )
        other = await login(http, "testuser", "testpass", **{"X-Forwarded-For": "203.0.113.6"})

    assert locked.status_code == 429
    assert locked.json() == {"detail": LOGIN_LOCKED}
    assert other.status_code == 200


# --- the memory storage: bounded, never forgets an active lock -----------------------------


@pytest.mark.asyncio
async def test_memory_storage_never_forgets_a_lock_under_a_flood_of_other_keys() -> None:
    """The old throttle emptied its table past 100,000 keys, unlocking a locked account.
    Here 100,001 other keys come and the lock stays (no size cap drops keys)."""
    limiter = RateLimiter("memory://")
    rule = Rule("flood", 5, 300)
    for _ in range(5):
        assert await limiter.hit(rule, "attacker", "victim") == 0
    for n in range(100_001):
        await limiter.hit(rule, "client", f"user{n}")

    assert await limiter.hit(rule, "attacker", "victim") > 0
    assert await limiter.retry_after(rule, "attacker", "victim") > 0


@pytest.mark.asyncio
async def test_memory_storage_forgets_every_key_once_its_window_has_passed() -> None:
    """Bounded: every key is dropped by the first sweep after its window has passed (the
    storage sweeps on hits, one sweep at a time), so after a flood the memory holds only
    what is still inside a window."""
    limiter = RateLimiter("memory://")
    storage = limiter.storage
    assert isinstance(storage, MemoryStorage)
    rule = Rule("bound", 5, 1)
    for n in range(2_000):
        await limiter.hit(rule, "client", f"user{n}")
    assert len(storage.events) == 2_000

    await asyncio.sleep(1.2)
    deadline = time.monotonic() + 15
    while len(storage.events) > 1 and time.monotonic() < deadline:
        await limiter.hit(rule, "client", "late")  # a hit starts a sweep unless one runs
        await asyncio.sleep(0.1)

    assert len(storage.events) == 1
    assert list(storage.events) == ["bound/client/late/5/1/second"]
    assert await limiter.retry_after(rule, "client", "user0") == 0


# --- Redis: one count for every limiter (worker, machine) ----------------------------------


@pytest.mark.asyncio
async def test_redis_limiters_share_one_count(redis_url: str) -> None:
    """Two limiters on one Redis (as two workers or machines) share the count: 3 hits on
    one and 2 on the other fill a limit of 5; the 6th is refused on both with the seconds
    to wait; clearing on one frees both."""
    prefix = unique_prefix()
    first = RateLimiter(redis_url, prefix)
    second = RateLimiter(redis_url, prefix)
    rule = Rule("shared", 5, 60)
    try:
        results = [await first.hit(rule, "c", "u") for _ in range(3)]
        results += [await second.hit(rule, "c", "u") for _ in range(2)]
        refused = (await first.hit(rule, "c", "u"), await second.hit(rule, "c", "u"))
        await second.clear(rule, "c", "u")
        after_clear = await first.hit(rule, "c", "u")
    finally:
        await first.reset()

    assert results == [0] * 5
    assert all(1 <= wait <= 60 for wait in refused)
    assert after_clear == 0


@pytest.mark.asyncio
async def test_redis_concurrent_hits_never_exceed_the_limit(redis_url: str) -> None:
    """50 hits at once from two limiters: exactly 5 are allowed (the hit is atomic)."""
    prefix = unique_prefix()
    limiters = [RateLimiter(redis_url, prefix), RateLimiter(redis_url, prefix)]
    rule = Rule("race", 5, 60)
    try:
        results = await asyncio.gather(*(limiters[n % 2].hit(rule, "c", "u") for n in range(50)))
    finally:
        await limiters[0].reset()

    assert sum(1 for wait in results if wait == 0) == 5


@pytest.mark.asyncio
async def test_redis_keys_expire_with_their_window(redis_url: str) -> None:
    """Bounded in Redis too: every key the limiter writes carries a TTL of at most its
    window, and `reset` removes only this limiter's prefix."""
    import redis.asyncio

    prefix = unique_prefix()
    limiter = RateLimiter(redis_url, prefix)
    rule = Rule("ttl", 5, 30)
    client = redis.asyncio.Redis.from_url(redis_url)
    other_key = f"{unique_prefix()}:untouched"
    try:
        await client.set(other_key, "1", ex=60)
        await limiter.hit(rule, "c", "u")
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        ttls = [await client.ttl(key) for key in keys]
        await limiter.reset()
        left = [key async for key in client.scan_iter(match=f"{prefix}*")]
        other_left = await client.exists(other_key)
    finally:
        await client.delete(other_key)
        await client.aclose()

    assert len(keys) == 1
    assert all(0 < ttl <= 30 for ttl in ttls)
    assert left == []
    assert other_left == 1


@pytest.mark.asyncio
async def test_login_on_two_apps_sharing_redis_returns_429_after_5_failures(
    app_client: AppClient, test_user: User, redis_url: str
) -> None:
    """Two apps (two workers) on one Redis limiter: failures alternate between them, and
    after 5 in all both answer 429, even to the right password."""
    prefix = unique_prefix()
    shared = {"rate_limit_storage": redis_url, "rate_limit_key_prefix": prefix}
    async with app_client(**shared) as first, app_client(**shared) as second:
        failures = [
            (await login((first, second)[n % 2], "testuser", "wrong-pass")).status_code
            for n in range(5)
        ]
        refused = [
            await login(first, "testuser", "testpass"),
            await login(second, "testuser", "testpass"),
        ]

    assert failures == [401] * 5
    assert [r.status_code for r in refused] == [429, 429]
    assert all(r.json() == {"detail": LOGIN_LOCKED} for r in refused)


@pytest.mark.asyncio
async def test_login_with_redis_unreachable_returns_503(
    test_settings: Settings, test_user: User
) -> None:
    """A Redis limiter that cannot be reached refuses the login with 503 and
    `Retry-After` (it fails closed): never a 500, never an unthrottled guess."""
    application = create_app(
        test_settings.model_copy(update={"rate_limit_storage": "redis://127.0.0.1:1/0"})
    )
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await login(http, "testuser", "testpass")
    finally:
        await application.state.db.dispose()

    assert response.status_code == 503
    assert response.json() == {"detail": "rate limiter unavailable"}
    assert response.headers["Retry-After"] == "5"
