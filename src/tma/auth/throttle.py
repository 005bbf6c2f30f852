"""In-process brute-force protection for login: failures per (client, username) in a window."""

import math
import time
from collections import deque


class LoginThrottle:
    """After `max_failures` failed logins for one username from one client within
    `window_seconds`, further attempts are refused until the oldest failure ages out.

    In-process by design: one worker's memory. Behind several workers each keeps its own
    count, so the effective limit is `max_failures` x workers; documented in the README.
    """

    def __init__(self, max_failures: int, window_seconds: int, max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window = float(window_seconds)
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, client: str, username: str) -> int:
        """Seconds to wait before trying again, or 0 when an attempt is allowed."""
        now = time.monotonic()
        times = self._recent((client, username.lower()), now)
        if len(times) < self.max_failures:
            return 0
        return max(1, math.ceil(self.window - (now - times[0])))

    def failed(self, client: str, username: str) -> None:
        if len(self._failures) >= self.max_keys:
            self._failures.clear()  # bounded memory under a flood of distinct usernames
        key = (client, username.lower())
        self._failures.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, client: str, username: str) -> None:
        self._failures.pop((client, username.lower()), None)

    def reset(self) -> None:
        self._failures.clear()
