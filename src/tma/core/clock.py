"""The one clock rules read: `now`, a dependency the tests override
(`app.dependency_overrides[now] = lambda: moment`), so no test sleeps or waits for a day.

Timestamps written by the database layer (`created_at`, ...) keep `tma.core.db.utcnow`;
anything a rule decides by the time (a module's release, a deadline) takes `Now`."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from tma.core.db import utcnow


async def now() -> datetime:  # async: no worker-thread hop per request
    """The current time, timezone-aware UTC."""
    return utcnow()


Now = Annotated[datetime, Depends(now)]
