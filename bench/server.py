"""The product app as the benchmark serves it: `tma.main.create_app` plus a statement counter.

Bench-only. A statement listener (`Database.add_statement_listener`: SQLAlchemy's
`before_cursor_execute` plus the driver-level hot reads) counts every SQL statement sent
while a request is being served (a context variable set around each HTTP request: the
app's own background jobs, such as the in-process `tma.deliver_events` poll, run outside
any request and used to land a statement in a five-request counting window now and then);
`GET /__bench/stats` reads the count and `POST /__bench/reset` zeroes it. The routes are
added to this instance only; the product app never has them.
Served by `uvicorn bench.server:create_bench_app --factory`.
"""

from contextvars import ContextVar

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from tma.main import create_app

_IN_REQUEST: ContextVar[bool] = ContextVar("bench_in_request", default=False)


class StatementCounter:
    """Counts statements sent through one engine."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _statement: str) -> None:
        if _IN_REQUEST.get():
            self.count += 1


class _MarkRequests:
    """Marks the context of every HTTP request, so the counter sees only requests' statements."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _IN_REQUEST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            _IN_REQUEST.reset(token)


def create_bench_app() -> FastAPI:
    app = create_app()
    counter = StatementCounter()
    app.state.db.add_statement_listener(counter)
    app.state.bench_counter = counter
    app.add_middleware(_MarkRequests)

    @app.get("/__bench/stats", include_in_schema=False)
    async def stats() -> dict[str, int]:
        return {"statements": counter.count}

    @app.post("/__bench/reset", include_in_schema=False)
    async def reset() -> dict[str, int]:
        counter.count = 0
        return {"statements": 0}

    return app
