"""The limits of the public auth doors: failed logins and self-registrations.

Three rules on the app's `RateLimiter` (tma.core.ratelimit, shared by every worker when it
lives in Redis):

- failed logins per (client, username): the brute force on one account;
- failed logins per client across usernames: password spraying;
- self-registrations per client.

A login attempt takes a slot of its (client, username) rule before the password is checked
(atomically, so concurrent attempts cannot slip past the limit) and a success frees them
all; the per-client rule is checked before and counted only on failure, so it may be
overshot by the attempts in flight at the same moment. All answer 429 with `Retry-After`.
"""

from tma.core.config import Settings
from tma.core.errors import TooManyRequests
from tma.core.ratelimit import RateLimiter, Rule

LOGIN_LOCKED = "Too many failed login attempts; try again later"
CLIENT_LOCKED = "Too many failed login attempts from this address; try again later"
REGISTER_LOCKED = "Too many registrations from this address; try again later"


class AuthLimits:
    """The auth rules of one app, on its rate limiter."""

    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self.limiter = limiter
        self.login = Rule("login", settings.login_max_failures, settings.login_window_seconds)
        self.login_client = Rule(
            "login-client", settings.login_client_max_failures, settings.login_client_window_seconds
        )
        self.register = Rule(
            "register", settings.register_max_per_client, settings.register_window_seconds
        )

    async def before_login(self, client: str, username: str) -> None:
        """Refuse (429) a locked client or (client, username); else take one attempt."""
        wait = await self.limiter.retry_after(self.login_client, client)
        if wait:
            raise TooManyRequests(CLIENT_LOCKED, wait)
        wait = await self.limiter.hit(self.login, client, username.lower())
        if wait:
            raise TooManyRequests(LOGIN_LOCKED, wait)

    async def login_failed(self, client: str) -> None:
        await self.limiter.hit(self.login_client, client)

    async def login_succeeded(self, client: str, username: str) -> None:
        await self.limiter.clear(self.login, client, username.lower())

    async def before_register(self, client: str) -> None:
        wait = await self.limiter.hit(self.register, client)
        if wait:
            raise TooManyRequests(REGISTER_LOCKED, wait)
