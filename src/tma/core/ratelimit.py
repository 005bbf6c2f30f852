"""Rate limits shared by every worker: the `limits` library behind a small interface of ours.

Storage: this process's memory by default (nothing to install; each worker counts alone),
or Redis when `TMA_RATE_LIMIT_STORAGE=redis://host:6379/0`: then every worker on every
machine that points at the same Redis shares one count. The strategy is `limits`' moving
window: at most `limit` hits in any `window_seconds`; a refused caller may try again when
the oldest hit of the window ages out (`Retry-After`).

Memory stays bounded: each key expires `window_seconds` after its newest hit (in Redis by
the key's TTL, in memory by the storage's expiry sweep, which runs on every hit), and no
key is ever dropped before that, so an active lock is never forgotten. The number of live
keys is at most the number of distinct hits in one window.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from tma.core.errors import ServiceUnavailable

# Redis must answer quickly or the request is refused (503), never left hanging.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Rule:
    """At most `limit` hits per `window_seconds`, counted per identifiers (client, ...)."""

    name: str
    limit: int
    window_seconds: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.limit, self.window_seconds, namespace=self.name)


class RateLimiterUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__("rate limiter unavailable", retry_after=5)


def make_storage(url: str, key_prefix: str) -> Storage:
    """`memory://` -> this process's memory; `redis://...` -> Redis (the redis-py client)."""
    if url.startswith("memory://"):
        return MemoryStorage()
    options: dict[str, Any] = {
        "implementation": "redispy",
        "key_prefix": key_prefix,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    }
    storage = storage_from_string(f"async+{url}", **options)
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    """Hit, test and clear rules; the storage's errors become a 503, never a 500."""

    def __init__(self, storage_url: str, key_prefix: str = "tma") -> None:
        self.storage = make_storage(storage_url, key_prefix)
        self.shared = not isinstance(self.storage, MemoryStorage)
        self._strategy = MovingWindowRateLimiter(self.storage)

    def _errors(self) -> tuple[type[BaseException], ...]:
        base = self.storage.base_exceptions
        return (OSError, *(base if isinstance(base, tuple) else (base,)))

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """The storage's own errors (Redis down) become `RateLimiterUnavailable`."""
        try:
            yield
        except self._errors() as exc:
            raise RateLimiterUnavailable() from exc

    async def _retry_after(self, rule: Rule, identifiers: tuple[str, ...]) -> int:
        stats = await self._strategy.get_window_stats(rule.item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, rule: Rule, *identifiers: str) -> int:
        """Count one hit if the rule allows it (0), else the seconds to wait (nothing counted).
        Atomic in Redis: concurrent hits from several workers never exceed the limit."""
        with self._reachable():
            if await self._strategy.hit(rule.item, *identifiers):
                return 0
            return await self._retry_after(rule, identifiers)

    async def retry_after(self, rule: Rule, *identifiers: str) -> int:
        """0 when one more hit would be allowed, else the seconds to wait; counts nothing."""
        with self._reachable():
            if await self._strategy.test(rule.item, *identifiers):
                return 0
            return await self._retry_after(rule, identifiers)

    async def clear(self, rule: Rule, *identifiers: str) -> None:
        with self._reachable():
            await self._strategy.clear(rule.item, *identifiers)

    async def reset(self) -> None:
        """Forget every count (in Redis: every key under this limiter's prefix). Tests only."""
        await self.storage.reset()
