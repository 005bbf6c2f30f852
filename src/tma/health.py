"""GET /api/health: is the service up, and can it reach its database."""

import logging

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.routing import PrefixedRouter
from tma.core.schemas import example

router = PrefixedRouter(tags=["operations"])
logger = logging.getLogger("tma.health")


class Health(BaseModel):
    model_config = example(status="ok", database="ok")

    status: str
    database: str


@router.get("/health", response_model=Health, responses=responses(503))
async def health(session: SessionDep) -> Health | JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        logger.warning("health check: database unreachable", exc_info=True)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)
    return Health(status="ok", database="ok")
