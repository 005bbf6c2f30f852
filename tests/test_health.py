"""Contract tests of GET /api/health (docs/contracts/health.md).

Fixtures used: `client` (the app on the test database), `test_settings` (its settings, to
build a second app whose database cannot be reached), `tmp_path` (pytest's own).
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tma.core.config import Settings
from tma.core.security import create_access_token
from tma.main import create_app


@pytest_asyncio.fixture
async def unreachable_db_client(
    test_settings: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a second app whose SQLite file sits in a directory that does not exist."""
    missing = tmp_path / "no-such-directory" / "tma.db"
    settings = test_settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{missing}"})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await app.state.db.dispose()


@pytest.mark.asyncio
async def test_health_database_reachable_returns_200(client: httpx.AsyncClient) -> None:
    """No token needed: the service is up and its database answers."""
    response = await client.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.asyncio
async def test_health_ignores_a_bad_token(client: httpx.AsyncClient) -> None:
    """Health is public: even a garbage token does not turn it into a 401."""
    response = await client.get("/api/health", headers={"Authorization": "Bearer garbage"})

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.asyncio
async def test_health_database_unreachable_returns_503(
    unreachable_db_client: httpx.AsyncClient,
) -> None:
    """When the database cannot be reached -> 503 with a detail, not a 500 or a trace."""
    response = await unreachable_db_client.get("/api/health")

    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert response.headers["Retry-After"] == "5"


@pytest.mark.asyncio
async def test_me_database_unreachable_returns_503(
    unreachable_db_client: httpx.AsyncClient, test_settings: Settings
) -> None:
    """Not only health: any endpoint that cannot reach the database answers 503
    `database unavailable` with `Retry-After` (here the caller's lookup behind a valid
    token), never a 500."""
    token = create_access_token(1, test_settings)

    response = await unreachable_db_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
