"""The clock of notifications: one dependency, overridden by the tests
(`app.dependency_overrides[now] = lambda: instant`)."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from tma.core.db import utcnow


async def now() -> datetime:
    """The current instant (UTC)."""
    return utcnow()


Now = Annotated[datetime, Depends(now)]
