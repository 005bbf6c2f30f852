"""Property-based fuzzing of the whole API from its own OpenAPI schema (Schemathesis).

Run with `make fuzz` (longer) or `make fuzz-ci` (short, deterministic); both call
`pytest bench/fuzz.py`. A real uvicorn server is started on 127.0.0.1 against a temporary
SQLite file that is migrated, and before every operation the sample data is loaded afresh,
so one operation's deletes cannot starve the next. Every operation is fuzzed four times:
as admin, as manager, as plain user and without a token.

Pass criteria (Schemathesis' checks): no 5xx; every status code, content type, header and
body conforms to the documented OpenAPI schema; plus our own check that every response of
the real server has the security headers and no `Server` header. Bounded: `FUZZ_EXAMPLES`
examples per operation and role (default 25), derandomized (a fixed seed), no Hypothesis
database.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import select

from tma.core import migrate
from tma.core.config import Settings
from tma.core.db import Database
from tma.core.security import PasswordHasher, create_access_token
from tma.main import create_app
from tma.seed import loader
from tma.users.models import User

FUZZ_SECRET = "fuzz-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - test server
# Not checked: `positive_data_acceptance` expects every schema-valid request to succeed, but
# the contract answers schema-valid requests that break a business rule (unknown role,
# duplicate username, last owner) with 400. Every other Schemathesis check runs.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ROLES = ("admin", "manager", "user", "anonymous")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@schemathesis.check
def security_headers(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool:
    """Every response of the real server: `nosniff`, a request id, and no `Server` header."""
    headers = response.headers
    assert headers.get("x-content-type-options") == ["nosniff"], "X-Content-Type-Options missing"
    assert headers.get("x-request-id"), "X-Request-ID missing"
    assert "server" not in headers, f"Server header leaks {headers.get('server')}"
    return True


@pytest.fixture(scope="session")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    db_file = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    return Settings(
        database_url=f"sqlite+aiosqlite:///{db_file}",
        secret_key=FUZZ_SECRET,
        password_hash_time_cost=1,
        password_hash_memory_kib=8,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def base_url(fuzz_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A uvicorn server on 127.0.0.1 serving the app on the migrated fuzz database."""
    migrate.upgrade(fuzz_settings.database_url)
    port = _free_port()
    env = {
        **os.environ,
        "TMA_DATABASE_URL": fuzz_settings.database_url,
        "TMA_SECRET_KEY": FUZZ_SECRET,
        "TMA_PASSWORD_HASH_TIME_COST": "1",
        "TMA_PASSWORD_HASH_MEMORY_KIB": "8",
        "TMA_LOG_LEVEL": "WARNING",
        "TMA_UPLOAD_DIR": str(tmp_path_factory.mktemp("fuzz-uploads")),
    }
    log = Path(tmp_path_factory.mktemp("fuzz-log")) / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tma.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        # Tracebacks of unexpected errors land in the server log: show them.
        text = log.read_text()
        if "Traceback" in text:
            print(f"\n--- server log ---\n{text}", file=sys.stderr)


async def _reseed(fuzz_settings: Settings) -> dict[str, int]:
    db = Database(fuzz_settings)
    try:
        async with db.sessionmaker() as session:
            await loader.reset(session, settings=fuzz_settings)
            await loader.load(session, hasher=PasswordHasher(fuzz_settings), settings=fuzz_settings)
            rows = await session.execute(
                select(User.username, User.id).where(User.username.in_(loader.SAMPLE_LOGINS))
            )
            return {str(row[0]): int(row[1]) for row in rows}
    finally:
        await db.dispose()


@pytest.fixture(params=ROLES)
def role_headers(request: pytest.FixtureRequest, fuzz_settings: Settings) -> dict[str, str]:
    """Fresh sample data, and the headers of the role under test (none when anonymous)."""
    ids = asyncio.run(_reseed(fuzz_settings))
    if request.param == "anonymous":
        return {}
    token = create_access_token(ids[request.param], fuzz_settings)
    return {"Authorization": f"Bearer {token}"}


# The schema the app serves at /openapi.json (built here so tests can be generated at import).
schema = schemathesis.openapi.from_dict(create_app(Settings(secret_key=FUZZ_SECRET)).openapi())
# Unknown query parameters are ignored, as HTTP APIs conventionally do (cache busters,
# tracking tags); OpenAPI cannot declare the query closed, so do not count them as invalid.
schema.config.generation.update(allow_extra_parameters=False)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: schemathesis.Case, base_url: str, role_headers: dict[str, str]) -> None:
    """Every response of every operation conforms to the documented schema; no 5xx."""
    case.call_and_validate(
        base_url=base_url,
        headers=role_headers,
        additional_checks=[security_headers],
        excluded_checks=[positive_data_acceptance],
    )
