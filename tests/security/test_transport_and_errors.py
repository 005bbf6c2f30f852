"""Threats at the edge: oversized or undecodable bodies, missing security headers, a CORS
policy that trusts everyone, guessable production secrets, leaky errors, and requests that
cannot be traced. Also the regressions of what the fuzzer (bench/fuzz.py) found."""

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from sqlalchemy.exc import OperationalError

from tma.core.config import DEFAULT_SECRET_KEY, Settings
from tma.core.logging import JsonFormatter
from tma.main import create_app
from tma.users.models import User

Headers = dict[str, str]
ALLOWED_ORIGIN = "http://localhost:3000"
AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

# 64 random URL-safe characters, as `secrets.token_urlsafe(48)` gives.
STRONG_SECRET = "oL3v9Qx_7TnZr2Wc8JdK0ePsYb5HfMuAg1iN6tRwEq4yXjVhC-zSDm8kGaBp7LUo"


@pytest.fixture
def app_client(test_settings: Settings, test_db: Any) -> AppClient:
    """`async with app_client(max_body_bytes=1024) as http:` a client on an app built with
    these settings changed (same database); `routes=` adds test-only routes first."""

    @asynccontextmanager
    async def open_client(
        routes: Callable[[FastAPI], None] | None = None, **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(test_settings.model_copy(update=changes))
        if routes is not None:
            routes(application)
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http
        finally:
            await application.state.db.dispose()

    return open_client


# --- oversized and undecodable bodies ---------------------------------------------------


@pytest.mark.asyncio
async def test_register_oversized_body_returns_413_creates_nothing(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """A body over the limit (default 1 MiB) is refused with 413 before anything reads it."""
    body = {"username": "bulky", "email": "bulky@test.com", "password": "pw-123456"}
    content = json.dumps(body).encode() + b" " * (1024 * 1024)

    response = await client.post(
        "/api/auth/register", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1048576 bytes"}
    users = (await client.get("/api/users", headers=auth_headers)).json()
    assert [u["username"] for u in users] == ["admin"]


@pytest.mark.asyncio
async def test_register_oversized_chunked_body_without_length_returns_413(
    app_client: AppClient,
) -> None:
    """Regression: a body streamed without Content-Length that grows past the limit is 413
    too (FastAPI used to turn the middleware's refusal into a 400)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "bulky", "email": "bulky@test.com", "password": "pw-123456"'
        for _ in range(4):
            yield b" " * 512
        yield b"}"

    async with app_client(max_body_bytes=1024) as http:
        response = await http.post(
            "/api/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
        )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1024 bytes"}


@pytest.mark.asyncio
async def test_login_body_limit_is_configurable_small_body_passes_200(
    app_client: AppClient, test_user: User
) -> None:
    """`max_body_bytes` sets the limit: with 2048, a 1.5 KB login body is still served."""
    body = json.dumps({"username": "testuser", "password": "testpass"}).encode()
    content = body + b" " * (1536 - len(body))

    async with app_client(max_body_bytes=2048) as http:
        response = await http.post(
            "/api/auth/login", content=content, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.mark.asyncio
async def test_login_body_over_configured_limit_returns_413(app_client: AppClient) -> None:
    """With `max_body_bytes=2048`, a 3 KB body is refused with 413 naming the limit."""
    content = json.dumps({"username": "testuser", "password": "testpass"}).encode()

    async with app_client(max_body_bytes=2048) as http:
        response = await http.post(
            "/api/auth/login",
            content=content + b" " * 3000,
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 2048 bytes"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"username": "\xff\xfe", "password": "testpass"}', id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
async def test_login_undecodable_body_returns_422(
    client: httpx.AsyncClient, content: bytes
) -> None:
    """Regression (fuzzer): a body that is not UTF-8, or JSON nested too deep to decode, is
    malformed input: 422 in FastAPI's list shape (it used to be a 400)."""
    response = await client.post(
        "/api/auth/login", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body"], "msg": "Body is not valid JSON", "type": "json_invalid"}]
    }


@pytest.mark.asyncio
async def test_update_me_child_dob_as_number_returns_422_unchanged(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    """Regression (fuzzer): a number is not a date (it was read as a Unix timestamp,
    0 -> 1970-01-01); 422, and the profile keeps its empty date."""
    response = await client.patch("/api/auth/me", json={"child_dob": 0}, headers=user_headers)

    assert response.status_code == 422
    assert {tuple(p["loc"][:2]) for p in response.json()["detail"]} == {("body", "child_dob")}
    me = await client.get("/api/auth/me", headers=user_headers)
    assert me.json()["child_dob"] is None


# --- security headers, request id, logs -------------------------------------------------


async def _some_responses(client: httpx.AsyncClient, headers: Headers) -> list[httpx.Response]:
    big = b"{}" + b" " * (1024 * 1024)
    return [
        await client.get("/api/health"),
        await client.get("/api/auth/me"),
        await client.get("/api/groups/999", headers=headers),
        await client.get("/api/groups/not-a-number", headers=headers),
        await client.post("/api/auth/register", content=big),
        await client.options("/api/groups"),
    ]


@pytest.mark.asyncio
async def test_every_response_has_security_headers_and_no_server_header(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Successes, 401, 404, 422, 413 and 405 alike carry `X-Content-Type-Options: nosniff`,
    `X-Frame-Options: DENY` and `Cache-Control: no-store`, and never a `Server` header."""
    responses = await _some_responses(client, auth_headers)

    assert [r.status_code for r in responses] == [200, 401, 404, 422, 413, 405]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "server" not in response.headers


@pytest.mark.asyncio
async def test_health_server_header_set_by_app_is_removed(app_client: AppClient) -> None:
    """Even a route that names its server (version leak) gets that header stripped."""

    def add_leaky_route(application: FastAPI) -> None:
        @application.get("/leaky")
        async def leaky() -> Response:
            return Response("ok", headers={"Server": "leaky/1.2.3"})

    async with app_client(routes=add_leaky_route) as http:
        response = await http.get("/leaky")

    assert response.status_code == 200
    assert "server" not in response.headers


@pytest.mark.asyncio
async def test_options_on_path_with_two_methods_returns_405_allow_lists_both(
    client: httpx.AsyncClient,
) -> None:
    """Regression (fuzzer): a 405 names every method of the path in `Allow` (it named only
    the first route's: `GET` for /api/auth/me, which also takes PATCH)."""
    response = await client.options("/api/auth/me")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PATCH"
    assert response.json() == {"detail": "Method Not Allowed"}


@pytest.mark.asyncio
async def test_health_request_id_given_is_echoed(client: httpx.AsyncClient) -> None:
    """A safe `X-Request-ID` from the client comes back unchanged, to trace the request."""
    response = await client.get("/api/health", headers={"X-Request-ID": "trace-42.a_b"})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-42.a_b"


@pytest.mark.asyncio
@pytest.mark.parametrize("given", [None, "x" * 65, "two words", "<script>"])
async def test_health_request_id_missing_or_unsafe_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    """Without a request id, or with one too long or with unsafe characters (log
    injection), the server mints its own: 32 hex digits."""
    headers = {} if given is None else {"X-Request-ID": given}

    response = await client.get("/api/health", headers=headers)

    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


@pytest.mark.asyncio
async def test_login_access_log_is_structured_and_has_no_secret(
    client: httpx.AsyncClient, test_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs one JSON line at INFO with method, route template, status,
    duration and request id, and the password sent never appears in the log."""
    access = logging.getLogger("tma")
    access.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="tma")
    try:
        response = await client.post(
            "/api/auth/login",
            json={"username": "testuser", "password": "testpass"},
            headers={"X-Request-ID": "login-1"},
        )
    finally:
        access.removeHandler(caplog.handler)

    assert response.status_code == 200
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    request_lines = [line for line in lines if line["logger"] == "tma.access"]
    assert len(request_lines) == 1
    line = request_lines[0]
    assert line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/api/auth/login", 200)
    assert line["request_id"] == "login-1"
    assert isinstance(line["duration_ms"], float)
    assert "testpass" not in json.dumps(lines)
    assert response.json()["access_token"] not in json.dumps(lines)


@pytest.mark.asyncio
async def test_unexpected_error_returns_500_without_trace_or_sql(
    app_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected failure (here a database error carrying SQL) answers a bare
    `{"detail": "Internal server error"}`: no trace, no SQL, no secret; headers still set."""

    def add_failing_route(application: FastAPI) -> None:
        @application.get("/explode")
        async def explode() -> None:
            raise OperationalError(
                "SELECT hashed_password FROM users WHERE username = 'admin'", {}, Exception("x")
            )

    async with app_client(routes=add_failing_route) as http:
        response = await http.get("/explode", headers={"X-Request-ID": "boom-1"})

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    for leak in ("Traceback", "SELECT", "hashed_password", "OperationalError"):
        assert leak not in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == "boom-1"


# --- CORS ---------------------------------------------------------------------------------


def _preflight(origin: str) -> Headers:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


@pytest.mark.asyncio
async def test_cors_preflight_from_allowed_origin_echoes_it_with_credentials(
    client: httpx.AsyncClient,
) -> None:
    """A configured origin gets itself back (never `*`) with credentials allowed."""
    response = await client.options("/api/groups", headers=_preflight(ALLOWED_ORIGIN))

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.asyncio
async def test_cors_preflight_from_other_origin_is_not_allowed(
    client: httpx.AsyncClient,
) -> None:
    """An origin that is not configured gets no `Access-Control-Allow-Origin`, so the
    browser refuses the cross-origin call."""
    response = await client.options("/api/groups", headers=_preflight("https://evil.example"))

    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin"
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.asyncio
async def test_cors_wildcard_origin_never_comes_with_credentials(app_client: AppClient) -> None:
    """`cors_origins=["*"]` (development only) allows any origin but never together with
    credentials: a browser will not send cookies or auth to a wildcard."""
    async with app_client(cors_origins=["*"]) as http:
        preflight = await http.options("/api/groups", headers=_preflight("https://any.example"))
        simple = await http.get("/api/health", headers={"Origin": "https://any.example"})

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.status_code == 200
    assert simple.headers["Access-Control-Allow-Origin"] == "*"
    assert "access-control-allow-credentials" not in simple.headers


# --- production configuration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"secret_key": DEFAULT_SECRET_KEY}, "development default", id="default"),
        pytest.param({"secret_key": "s" * 31}, "31 characters long", id="short"),
        pytest.param({"secret_key": "k" * 32}, "looks guessable", id="repeated"),
        pytest.param({"secret_key": "abcd" * 10}, "looks guessable", id="pattern"),
        pytest.param({"secret_key": "0123456789" * 4}, "looks guessable", id="digits"),
        pytest.param({"secret_key": STRONG_SECRET, "cors_origins": ["*"]}, "'*'", id="wildcard"),
    ],
)
def test_create_app_production_with_weak_settings_refuses_to_start(
    test_settings: Settings, changes: dict[str, Any], message: str
) -> None:
    """`env=production` refuses the built-in secret, a secret under 32 characters, one with
    too little entropy (repeated characters or chunks, under ~128 bits by the estimate of
    `secret_entropy_bits`) and a wildcard CORS origin: the app is never built."""
    settings = test_settings.model_copy(update={"env": "production", **changes})

    with pytest.raises(RuntimeError, match=message):
        create_app(settings)


@pytest.mark.asyncio
async def test_create_app_production_with_strong_secret_starts(test_settings: Settings) -> None:
    """The control: a random secret (secrets.token_urlsafe(48)) and explicit origins are
    accepted."""
    settings = test_settings.model_copy(update={"env": "production", "secret_key": STRONG_SECRET})

    application = create_app(settings)

    assert application.state.settings.env == "production"
    await application.state.db.dispose()


# --- the schema documents what the fuzzer found undocumented ------------------------------


@pytest.mark.asyncio
async def test_openapi_register_token_is_optional(client: httpx.AsyncClient) -> None:
    """Regression (fuzzer): register takes a token but does not require one; the schema
    says so with an empty security requirement."""
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    security = response.json()["paths"]["/api/auth/register"]["post"]["security"]
    assert {} in security
    assert {"HTTPBearer": []} in security


@pytest.mark.asyncio
async def test_openapi_profile_child_dob_documents_empty_string(
    client: httpx.AsyncClient,
) -> None:
    """Regression (fuzzer): the empty string that clears `child_dob` is in the schema."""
    response = await client.get("/openapi.json")

    child_dob = response.json()["components"]["schemas"]["ProfileUpdate"]["properties"]["child_dob"]
    assert {"type": "string", "const": ""} in child_dob["anyOf"]


@pytest.mark.asyncio
async def test_update_me_child_dob_empty_string_clears_it(
    client: httpx.AsyncClient, make_user: Callable[..., Awaitable[User]], make_auth_headers: Any
) -> None:
    """The documented empty string sets `child_dob` back to null."""
    parent = await make_user(child_dob="2019-04-12")
    headers = make_auth_headers(parent)

    response = await client.patch("/api/auth/me", json={"child_dob": ""}, headers=headers)

    assert response.status_code == 200
    assert response.json()["child_dob"] is None
    assert (await client.get("/api/auth/me", headers=headers)).json()["child_dob"] is None
