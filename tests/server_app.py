"""`python tests/server_app.py PORT`: the product app served as `tma serve` serves it (the
same uvicorn options), plus one test-only route, `GET /api/test-failure`, that raises an
unexpected error, so a test can read what the real server logs for a 500.

Test-only: the product app never has this route.
"""

import sys

import uvicorn
from fastapi import FastAPI

from tma.core.config import get_settings
from tma.core.server import uvicorn_options
from tma.main import create_app


def create_app_with_failure() -> FastAPI:
    app = create_app()

    @app.get("/api/test-failure", include_in_schema=False)
    async def fail() -> None:
        raise RuntimeError("an unexpected failure for the test")

    return app


if __name__ == "__main__":
    uvicorn.run(
        "server_app:create_app_with_failure",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        **uvicorn_options(get_settings()),
    )
