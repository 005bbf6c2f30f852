"""The app factory: settings, database, middleware, error handlers, routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from tma import __version__
from tma.api import include_api
from tma.auth.throttle import LoginThrottle
from tma.core.config import Settings, get_settings
from tma.core.db import Database
from tma.core.errors import install_error_handlers
from tma.core.logging import configure_logging
from tma.core.middleware import RequestMiddleware
from tma.core.openapi import install_openapi, operation_id
from tma.core.security import PasswordHasher

DESCRIPTION = """
The API behind **Three Moves Ahead**: parents (role `user`) belong to groups run by
managers; groups are assigned courses.

Log in with `POST /api/auth/login`, then press **Authorize** and paste the `access_token`.
Errors are `{"detail": "..."}` (422: FastAPI's list of problems).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; `settings` defaults to the environment's."""
    settings = settings or get_settings()
    settings.check_production()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.db.dispose()

    # Swagger UI (/docs) and ReDoc (/redoc) load their scripts from the installed
    # fastapi-offline package (/static-offline-docs), never from a CDN: they work offline.
    app = FastAPIOffline(
        title="TMA backend",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.hasher = PasswordHasher(settings)
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures, settings.login_window_seconds
    )

    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials="*" not in settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Total-Count", "X-Request-ID"],
    )
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)
    include_api(app)
    install_openapi(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        """The first URL `make run` prints: straight to the interactive docs."""
        return RedirectResponse("/docs", status_code=307)

    return app
