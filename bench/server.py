"""The product app as the benchmark serves it: `tma.main.create_app` plus a statement counter.

Bench-only. A statement listener (`Database.add_statement_listener`: SQLAlchemy's
`before_cursor_execute` plus the driver-level hot reads) counts every SQL statement sent;
`GET /__bench/stats` reads the count and `POST /__bench/reset` zeroes it. The routes are
added to this instance only; the product app never has them.
Served by `uvicorn bench.server:create_bench_app --factory`.
"""

from fastapi import FastAPI

from tma.main import create_app


class StatementCounter:
    """Counts statements sent through one engine."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _statement: str) -> None:
        self.count += 1


def create_bench_app() -> FastAPI:
    app = create_app()
    counter = StatementCounter()
    app.state.db.add_statement_listener(counter)
    app.state.bench_counter = counter

    @app.get("/__bench/stats", include_in_schema=False)
    async def stats() -> dict[str, int]:
        return {"statements": counter.count}

    @app.post("/__bench/reset", include_in_schema=False)
    async def reset() -> dict[str, int]:
        counter.count = 0
        return {"statements": 0}

    return app
