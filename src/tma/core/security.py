"""Password hashing and JWT, nothing else."""

import os
import secrets
from datetime import timedelta
from typing import Any

import jwt
from anyio import CapacityLimiter, to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from tma.core.config import Settings
from tma.core.db import utcnow

JWT_ALGORITHM = "HS256"


class PasswordHasher:
    """argon2id hashing (bcrypt hashes still verify), run off the event loop."""

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_hash_time_cost,
                    memory_cost=settings.password_hash_memory_kib,
                    parallelism=settings.password_hash_parallelism,
                ),
                BcryptHasher(),
            )
        )
        # Verified against when the username is unknown, so both failures cost the same time.
        self._dummy = self._hash.hash("not-a-real-password-0000")
        # At most one hash per core at a time. More threads (anyio's default is 40) add no
        # throughput, each holds memory_kib of RAM, and they crowd the event loop's thread off
        # the CPU; extra logins wait their turn instead. See docs/performance.md.
        self.workers = max(1, os.cpu_count() or 1)
        self._limiter: CapacityLimiter | None = None

    def _threads(self) -> CapacityLimiter:
        # Made on first use, inside the running event loop.
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.workers)
        return self._limiter

    def hash_sync(self, password: str) -> str:
        return self._hash.hash(password)

    async def hash(self, password: str) -> str:
        # argon2 releases the GIL: threads keep the loop free and use every core.
        return await to_thread.run_sync(self._hash.hash, password, limiter=self._threads())

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True when `password` matches `hashed`; with `hashed=None` spends the same time."""
        target = hashed if hashed is not None else self._dummy
        ok = await to_thread.run_sync(self._safe_verify, password, target, limiter=self._threads())
        return ok and hashed is not None

    def _safe_verify(self, password: str, hashed: str) -> bool:
        try:
            return self._hash.verify(password, hashed)
        except Exception:  # an unknown or corrupt hash is a failed login, never a 500
            return False


def create_access_token(
    user_id: int, settings: Settings, expires_minutes: int | None = None
) -> str:
    """A signed HS256 JWT whose subject is the user id."""
    now = utcnow()
    minutes = settings.access_token_expire_minutes if expires_minutes is None else expires_minutes
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
        "type": "access",
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(payload, settings.secret_key, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> int | None:
    """The user id in a valid, unexpired token signed with our key; None otherwise."""
    try:
        payload = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    sub = payload.get("sub")
    if payload.get("type") != "access" or not isinstance(sub, str) or not sub.isdigit():
        return None
    user_id = int(sub)
    return user_id if 0 < user_id < 2**63 else None
