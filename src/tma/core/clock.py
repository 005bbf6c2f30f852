"""The one clock rules read: `now`, a dependency the tests override
(`app.dependency_overrides[now] = lambda: moment`), so no test sleeps or waits for a day.

Timestamps written by the database layer (`created_at`, ...) keep `tma.core.db.utcnow`;
anything a rule decides by the time (a module's release, a deadline) takes `Now`."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from tma.core.db import utcnow


async def now() -> datetime:  # async: no worker-thread hop per request
    """The current time, timezone-aware UTC."""
    return utcnow()


Now = Annotated[datetime, Depends(now)]


async def now_of(request: Request) -> datetime:
    """`now`, as overridden for the app (`app.dependency_overrides[now]`), read without a
    dependency: for the hottest route that needs the time (the course detail), where
    FastAPI's resolution of one more dependency cost about 200,000 instructions a request,
    a tenth of the route (docs/performance.md)."""
    clock = request.app.dependency_overrides.get(now, now)
    moment: datetime = await clock()
    return moment
