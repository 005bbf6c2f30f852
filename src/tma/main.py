"""The app factory: settings, database, middleware, error handlers, routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tma import __version__
from tma.api import include_api
from tma.auth.throttle import AuthLimits
from tma.core.config import Settings, get_settings
from tma.core.db import Database
from tma.core.errors import install_error_handlers
from tma.core.logging import configure_logging
from tma.core.middleware import RequestMiddleware
from tma.core.ratelimit import RateLimiter
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

    app = FastAPI(
        title="TMA backend",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # No 307 from `/x/` to `/x`: Starlette builds that Location from the request's Host
        # header, which the client controls. A path with a trailing slash is a 404.
        redirect_slashes=False,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.hasher = PasswordHasher(settings)
    app.state.limiter = RateLimiter(settings.rate_limit_storage, settings.rate_limit_key_prefix)
    app.state.auth_limits = AuthLimits(app.state.limiter, settings)

    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials="*" not in settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Total-Count", "X-Request-ID"],
    )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.timeout_body,
    )
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For, only when the peer is a listed proxy:
        # the right-most address not itself a listed proxy (uvicorn's own middleware).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    include_api(app)
    return app
