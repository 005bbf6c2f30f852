"""The one injectable clock and the one random source: route dependencies a test overrides.

A rule that depends on time (a quiz's deadline, a cooldown, a module's release) or on
chance (a quiz's draw and shuffle) takes `Now` or `Chance` in its route and passes the value
down to its service, so a test moves the clock or seeds the draw with
`app.dependency_overrides[now]` / `app.dependency_overrides[chance]` (the `clock` and
`seeded_chance` fixtures of the suite) and never sleeps. Timestamps written by the database
layer (`created_at`, ...) keep `tma.core.db.utcnow`.
"""

import random
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from tma.core.db import utcnow

# The operating system's entropy: a draw nobody can predict from earlier ones.
_SYSTEM = random.SystemRandom()


# `async def`: FastAPI runs a plain `def` dependency in a worker thread (docs/performance.md).
async def now() -> datetime:
    """The request's current time, timezone-aware UTC."""
    return utcnow()


async def chance() -> random.Random:
    """The request's random source: a generator of its own seeded with 64 bits of the
    system's entropy (nobody can foresee a draw from earlier ones; one call to the system
    per request instead of one per number drawn). A test gives a seeded `random.Random`."""
    return random.Random(_SYSTEM.getrandbits(64))  # noqa: S311 (seeded from the OS entropy)


Now = Annotated[datetime, Depends(now)]
Chance = Annotated[random.Random, Depends(chance)]


async def now_of(request: Request) -> datetime:
    """`now`, as overridden for the app (`app.dependency_overrides[now]`), read without a
    dependency: for the hottest route that needs the time (the course detail), where
    FastAPI's resolution of one more dependency cost about 200,000 instructions a request,
    a tenth of the route (docs/performance.md)."""
    clock = request.app.dependency_overrides.get(now, now)
    moment: datetime = await clock()
    return moment
