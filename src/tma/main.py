"""The app factory: settings, database, middleware, error handlers, routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tma import __version__
from tma.api import include_api
from tma.auth.throttle import AuthLimits
from tma.core.compression import GZipWhenAsked
from tma.core.config import Settings, get_settings
from tma.core.db import Database
from tma.core.errors import install_error_handlers
from tma.core.etag import ETagMiddleware
from tma.core.idempotency import IdempotencyMiddleware
from tma.core.logging import configure_logging
from tma.core.memory import return_large_allocations
from tma.core.middleware import RequestMiddleware
from tma.core.openapi import install_openapi, operation_id
from tma.core.pagination import check_bodies
from tma.core.public_url import ForwardedHostMiddleware, PublicUrlMiddleware
from tma.core.ratelimit import RateLimiter
from tma.core.security import PasswordHasher
from tma.files.storage import FileStore
from tma.files.urls import UPLOAD_PATHS
from tma.notifications.queue import notification_schedule

# "A response over 1 KiB is gzip-compressed": Starlette compresses from `minimum_size` on.
GZIP_MINIMUM_BYTES = 1025
# Files are served as stored (their length and ranges as uploaded): PDFs are compressed
# inside already, and the images are excluded by Starlette's defaults.
GZIP_EXCLUDED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf")

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
    return_large_allocations()  # password hashes' 19 MiB back to the system (core/memory.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.file_store.open()  # makes the upload directory; a bad S3 URL fails here
        async with notification_schedule(app.state.settings, app.state.db):
            yield
        await app.state.db.dispose()

    options: dict[str, Any] = {
        "title": "TMA backend",
        "version": __version__,
        "description": DESCRIPTION,
        "lifespan": lifespan,
        # No 307 from `/x/` to `/x`: Starlette builds that Location from the request's Host
        # header, which the client controls. A path with a trailing slash is a 404.
        "redirect_slashes": False,
        "generate_unique_id_function": operation_id,
    }
    if settings.docs_enabled:
        # Swagger UI (/docs) and ReDoc (/redoc) load their scripts from the installed
        # fastapi-offline package (/static-offline-docs), never from a CDN: they work offline.
        app = FastAPIOffline(**options)
    else:  # TMA_DOCS=false: no /docs, /redoc nor /openapi.json
        app = FastAPI(**options, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = Database(settings)
    check_bodies(settings.check_bodies)
    app.state.hasher = PasswordHasher(settings)
    app.state.file_store = FileStore(settings)
    app.state.limiter = RateLimiter(settings.rate_limit_storage, settings.rate_limit_key_prefix)
    app.state.auth_limits = AuthLimits(app.state.limiter, settings)

    install_error_handlers(app)
    # Innermost: the key layer sees the body as the route gets it (bounded by the request
    # middleware outside) and stores the response uncompressed (tma.core.idempotency).
    app.add_middleware(IdempotencyMiddleware, settings=settings)
    # ETag / If-None-Match -> 304 on the reads of content and progress, tagged on the
    # uncompressed body (tma.core.etag).
    app.add_middleware(ETagMiddleware)
    # Bodies over 1 KiB, gzip-compressed for clients that accept it (Starlette's own
    # middleware, entered only for them; level 6: most of level 9's gain for a third of its CPU).
    app.add_middleware(
        GZipWhenAsked,
        minimum_size=GZIP_MINIMUM_BYTES,
        compresslevel=6,
        exclude_content_types=GZIP_EXCLUDED,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials="*" not in settings.cors_origins,
        allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            "Idempotency-Key",
            "If-None-Match",
        ],
        expose_headers=["X-Total-Count", "X-Request-ID", "Idempotent-Replayed", "ETag"],
    )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.timeout_body,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=settings.max_upload_bytes,
    )
    # The public base of the absolute file URLs in responses (tma.core.public_url): it reads
    # the scheme after uvicorn's proxy middleware below has applied X-Forwarded-Proto.
    app.add_middleware(PublicUrlMiddleware, public_url=settings.public_url)
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For and the scheme from X-Forwarded-Proto,
        # only when the peer is a listed proxy: the right-most address not itself a listed
        # proxy (uvicorn's own middleware).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
        # X-Forwarded-Host, which uvicorn's middleware does not read; outermost, as it must
        # see the proxy's address before uvicorn's replaces it with the client's.
        app.add_middleware(ForwardedHostMiddleware, trusted_proxies=settings.trusted_proxies)
    include_api(app)
    install_openapi(app)

    if settings.docs_enabled:

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            """The first URL `make run` prints: straight to the interactive docs."""
            return RedirectResponse("/docs", status_code=307)

    return app
