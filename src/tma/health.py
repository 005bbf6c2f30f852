"""GET /api/health: is the service up, and can it reach its database."""

from pydantic import BaseModel
from sqlalchemy import text

from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.routing import PrefixedRouter

router = PrefixedRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/health", response_model=Health, responses=responses(503))
async def health(session: SessionDep) -> Health:
    """200 when the database answers, 503 when it does not (as every endpoint: the request
    middleware answers 503 to an unreachable database)."""
    await session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
