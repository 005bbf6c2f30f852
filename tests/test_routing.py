"""`PrefixedRouter`: an included router passes over paths outside its prefix without asking
its routes, and inside its prefix matches exactly as FastAPI's router does (405 included)."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tma.core.routing import PrefixedRouter


def _app() -> tuple[FastAPI, PrefixedRouter]:
    first = PrefixedRouter(prefix="/first")
    second = PrefixedRouter(prefix="/second")

    @first.get("/{item_id}")
    async def first_item(item_id: int) -> dict[str, int]:
        return {"first": item_id}

    @first.get("")
    async def first_list() -> list[int]:
        return []

    @second.get("/{item_id}")
    async def second_item(item_id: int) -> dict[str, int]:
        return {"second": item_id}

    app = FastAPI()
    for router in (first, second):
        router.include_into(app, "/api")
    return app, first


@pytest.mark.asyncio
async def test_router_outside_its_prefix_never_asks_its_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GET /api/second/7 is answered by the second router; no route of the first router
    (which comes first) is asked whether it matches."""
    app, first = _app()
    asked: list[str] = []
    original = APIRoute.matches

    def spy(self: APIRoute, scope: Any) -> Any:
        asked.append(self.path)
        return original(self, scope)

    monkeypatch.setattr(APIRoute, "matches", spy)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/api/second/7")

    assert response.status_code == 200
    assert response.json() == {"second": 7}
    first_paths = {route.path for route in first.routes if isinstance(route, APIRoute)}
    assert asked
    assert not first_paths & set(asked)


@pytest.mark.asyncio
async def test_router_inside_its_prefix_matches_as_before() -> None:
    """Its own paths match (the bare prefix too), another method is 405 with `Allow`, and
    a path that only starts with the same letters (`/api/firstly`) is not its own."""
    app, _ = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        item = await c.get("/api/first/3")
        listed = await c.get("/api/first")
        wrong_method = await c.delete("/api/first/3")
        lookalike = await c.get("/api/firstly")

    assert item.json() == {"first": 3}
    assert listed.json() == []
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
    assert lookalike.status_code == 404
