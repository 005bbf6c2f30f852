"""The two ceilings, served by the same uvicorn settings as the product: what the stack
itself costs, with no application work on top.

- `GET /const`: a constant list of 10 small objects.
- `GET /select1`: one `SELECT 1` through the async engine (`engine.connect()`), the engine
  built by the product's own `tma.core.db.create_engine` (same pool settings).

Two variants of each:
- `create_ceiling_app`: the product app (`tma.main.create_app`: its middleware, error
  handlers, logging, engine) with its routes replaced by these two. Every product route pays
  that stack, so this is the ceiling the ratio targets compare against.
- `create_bare_ceiling_app`: a bare `FastAPI()` with the two routes, for reference.

Bench-only; served by `uvicorn bench.ceilings:create_ceiling_app --factory`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tma.core.config import get_settings
from tma.core.db import create_engine
from tma.main import create_app

CONSTANT = [{"id": i, "name": f"item {i}", "active": i % 2 == 0} for i in range(1, 11)]


def _add_routes(app: FastAPI, engine: AsyncEngine) -> None:
    select_one = text("SELECT 1")

    @app.get("/const")
    async def const() -> list[dict[str, Any]]:
        return CONSTANT

    @app.get("/select1")
    async def select1() -> dict[str, int]:
        async with engine.connect() as conn:
            value = (await conn.execute(select_one)).scalar_one()
        return {"value": value}


def create_ceiling_app() -> FastAPI:
    app = create_app()
    app.router.routes.clear()  # keep the middleware and handlers, drop the API
    _add_routes(app, app.state.db.engine)
    return app


def create_bare_ceiling_app() -> FastAPI:
    engine = create_engine(get_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    _add_routes(app, engine)
    return app
