"""Threat: a production start that plants known passwords or shows more than it must.

`tma seed` (accounts with the password `password`) is refused with TMA_ENV=production
unless `--allow-production`; the interactive docs and the schema are off by default in
production and can be turned on or off with TMA_DOCS. The entropy check of the secret is
in test_transport_and_errors.py.
"""

import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tma.core import migrate
from tma.core.config import Settings
from tma.main import create_app


def run_tma(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMA_")}
    env.update({f"TMA_{k.upper()}": v for k, v in settings.items()})
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tma.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def user_count(db_file: Path) -> int:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM users")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def production(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A migrated SQLite file and the settings of a production start on it."""
    db_file = tmp_path / "prod.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    with ThreadPoolExecutor(max_workers=1) as pool:  # Alembic runs its own event loop
        pool.submit(migrate.upgrade, url).result()
    return db_file, {
        "env": "production",
        "database_url": url,
        "secret_key": secrets.token_urlsafe(48),
        "password_hash_time_cost": "1",
        "password_hash_memory_kib": "8",
    }


def test_seed_in_production_refuses_with_one_line_and_plants_nothing(
    production: tuple[Path, dict[str, str]],
) -> None:
    """`tma seed` (also `--if-empty`, as the old Docker image ran it) with
    TMA_ENV=production: exit 1, one line on stderr naming `tma create-admin`, no user."""
    db_file, settings = production
    for args in (("seed",), ("seed", "--if-empty"), ("seed", "--reset")):
        result = run_tma(*args, **settings)

        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: tma seed plants accounts with known passwords")
        assert "tma create-admin" in result.stderr
    assert user_count(db_file) == 0


def test_seed_in_production_with_explicit_flag_loads_the_sample(
    production: tuple[Path, dict[str, str]],
) -> None:
    """`--allow-production` is the explicit request: the sample is loaded (28 users)."""
    db_file, settings = production

    result = run_tma("seed", "--allow-production", **settings)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loaded 28 users")
    assert user_count(db_file) == 28


def test_seed_in_development_loads_the_sample(
    production: tuple[Path, dict[str, str]],
) -> None:
    """The control: in development `tma seed` needs no flag."""
    db_file, settings = production

    result = run_tma("seed", **{**settings, "env": "development"})

    assert result.returncode == 0, result.stderr
    assert user_count(db_file) == 28


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("env", "docs", "expected"),
    [
        pytest.param("production", None, 404, id="production-default-off"),
        pytest.param("production", True, 200, id="production-on"),
        pytest.param("development", None, 200, id="development-default-on"),
        pytest.param("development", False, 404, id="development-off"),
    ],
)
async def test_docs_and_schema_follow_the_docs_setting(
    test_settings: Settings, env: str, docs: bool | None, expected: int
) -> None:
    """`/docs`, `/redoc` and `/openapi.json` are served by default in development, not in
    production; TMA_DOCS=true/false decides either way. The API itself is unaffected."""
    changes: dict[str, Any] = {"env": env, "docs": docs, "secret_key": secrets.token_urlsafe(48)}
    application = create_app(test_settings.model_copy(update=changes))
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            statuses = [
                (await http.get(p)).status_code for p in ("/docs", "/redoc", "/openapi.json")
            ]
            health = await http.get("/api/health")
    finally:
        await application.state.db.dispose()

    assert statuses == [expected] * 3
    assert health.status_code == 200
