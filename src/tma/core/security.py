"""Password hashing and JWT, nothing else."""

import asyncio
import contextlib
import math
import os
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from tma.core.config import Settings
from tma.core.db import utcnow

JWT_ALGORITHM = "HS256"
# A user id as the token's subject: 1 to 19 ASCII digits, nothing else (`\Z`, not `$`,
# which would let a trailing newline through).
_ASCII_ID = re.compile(r"[0-9]{1,19}\Z")

# Hashing threads run at a lower CPU priority than the event loop's thread (Linux applies
# `nice` per thread): a login flood then takes the CPU the other requests leave, instead of
# taking turns with them (docs/performance.md).
HASH_THREAD_NICE = 10


def _lower_thread_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # elsewhere: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


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
        # One hashing thread per core, of their own. More threads (anyio's pool has 40) add
        # no throughput, each holds memory_kib of RAM, and they crowd the event loop's thread
        # off the CPU; extra logins wait their turn instead. See docs/performance.md.
        self.workers = max(1, os.cpu_count() or 1)
        self._threads = ThreadPoolExecutor(
            max_workers=self.workers,
            thread_name_prefix="tma-hash",
            initializer=_lower_thread_priority,
        )

    def hash_sync(self, password: str) -> str:
        return self._hash.hash(password)

    async def hash(self, password: str) -> str:
        # argon2 releases the GIL: threads keep the loop free and use every core.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True when `password` matches `hashed`; with `hashed=None` spends the same time."""
        target = hashed if hashed is not None else self._dummy
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._threads, self._safe_verify, password, target)
        return ok and hashed is not None

    def _safe_verify(self, password: str, hashed: str) -> bool:
        try:
            return self._hash.verify(password, hashed)
        except Exception:  # an unknown or corrupt hash is a failed login, never a 500
            return False


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_microseconds(instant: datetime) -> int:
    """An aware instant as whole microseconds since the Unix epoch (exact, no float)."""
    return (instant - _EPOCH) // _MICROSECOND


def create_access_token(
    user_id: int,
    settings: Settings,
    expires_minutes: int | None = None,
    *,
    issued_after: datetime | None = None,
) -> str:
    """A signed HS256 JWT whose subject is the user id.

    `iat` carries microseconds (RFC 7519 allows a non-integer NumericDate): a token is
    refused when issued at or before its account's `tokens_valid_after`, and whole seconds
    could not tell a token of the same second before that instant from one after it.
    `issued_after`: the token's `iat` is at least one microsecond later than this."""
    now = utcnow()
    if issued_after is not None and now <= issued_after:
        now = issued_after + _MICROSECOND
    minutes = settings.access_token_expire_minutes if expires_minutes is None else expires_minutes
    payload: dict[str, Any] = {
        "sub": str(user_id),
        # Exact: below 2^53 microseconds a double holds every microsecond of the epoch.
        "iat": epoch_microseconds(now) / 1_000_000,
        "exp": now + timedelta(minutes=minutes),
        "type": "access",
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(payload, settings.secret_key, algorithm=JWT_ALGORITHM)


class TokenClaims(NamedTuple):
    """What a verified token says: whose it is and when it was issued."""

    user_id: int
    issued_us: int  # `iat` in microseconds since the epoch


# Tokens whose signature and claims were verified: (token, key) -> (claims, expiry). Every
# authenticated request checks its token; a client sends the same one until it expires, and
# the HMAC check plus the JSON and base64 decoding are a tenth of a small request's CPU
# (docs/performance.md). Only tokens that passed are kept; the expiry is checked on every
# hit. Bounded: the oldest entry goes when full.
_VERIFIED_TOKENS: dict[tuple[str, str], tuple[TokenClaims, float]] = {}
# How far in the future a token's `iat` may be: the servers' clocks may differ by that much.
# A login dates its token after the account's cut-off, which a server whose clock runs ahead
# may have set in this server's future; PyJWT alone refuses any `iat` later than now.
CLOCK_SKEW_SECONDS = 60
VERIFIED_TOKENS_MAX = 4096


def decode_access_token(token: str, settings: Settings) -> TokenClaims | None:
    """The claims of a valid, unexpired token signed with our key; None otherwise. (Whether
    its account still accepts it, `tokens_valid_after`, is the caller's check.)"""
    key = (token, settings.secret_key)
    hit = _VERIFIED_TOKENS.get(key)
    if hit is not None:
        claims, expires = hit
        if time.time() < expires:
            return claims
        del _VERIFIED_TOKENS[key]
        return None
    verified = _verify_access_token(token, settings)
    if verified is None:
        return None
    if len(_VERIFIED_TOKENS) >= VERIFIED_TOKENS_MAX:
        del _VERIFIED_TOKENS[next(iter(_VERIFIED_TOKENS))]
    _VERIFIED_TOKENS[key] = verified
    return verified[0]


def _verify_access_token(token: str, settings: Settings) -> tuple[TokenClaims, float] | None:
    """The claims of a valid token and its expiry (Unix seconds); None when refused."""
    try:
        payload = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[JWT_ALGORITHM],
            # `iat` in the future is checked below, with the clocks' allowed difference.
            options={"require": ["sub", "exp", "iat"], "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    iat = payload["iat"]
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        return None
    if iat > time.time() + CLOCK_SKEW_SECONDS:
        return None
    sub = payload.get("sub")
    # ASCII decimal only: `str.isdigit()` is also true of "²" or "①", which `int()` refuses.
    if payload.get("type") != "access" or not isinstance(sub, str) or not _ASCII_ID.match(sub):
        return None
    user_id = int(sub)
    if not 0 < user_id < 2**63:
        return None
    # PyJWT accepted `exp` (a number, in the future): the token is valid while now < exp.
    return TokenClaims(user_id, round(iat * 1_000_000)), float(payload["exp"])
