"""Configuration errors and the `tma` command speak plainly: a bad `TMA_*` value names the
variable and the reason, an unsupported database URL lists the supported ones, and
`tma create-admin` without a terminal says to use `--password-stdin`."""

import pytest
from typer.testing import CliRunner

from tma import cli
from tma.core import server
from tma.core.config import ConfigError, Settings, get_settings, load_settings


@pytest.fixture
def fresh_settings(monkeypatch):
    """`get_settings()` reads the environment again in this test (and after it)."""
    monkeypatch.delenv("TMA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_settings_bad_integer_error_names_variable_and_reason(fresh_settings):
    """`TMA_ACCESS_TOKEN_EXPIRE_MINUTES=abc` -> one message naming that variable, not
    pydantic's "1 validation error for Settings"."""
    fresh_settings.setenv("TMA_ACCESS_TOKEN_EXPIRE_MINUTES", "abc")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value) == (
        "invalid configuration: TMA_ACCESS_TOKEN_EXPIRE_MINUTES: Input should be a valid "
        "integer, unable to parse string as an integer"
    )


def test_settings_two_bad_values_both_named_values_never_echoed(fresh_settings):
    """Every invalid variable is named; the offending values (maybe secrets) are not shown."""
    fresh_settings.setenv("TMA_LOGIN_MAX_FAILURES", "0")
    fresh_settings.setenv("TMA_DATABASE_URL", "mysql://root:hunter2@db/tma")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert message == (
        "invalid configuration: TMA_DATABASE_URL: unsupported database URL (scheme 'mysql'); "
        "use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host:5432/database; "
        "TMA_LOGIN_MAX_FAILURES: Input should be greater than or equal to 1"
    )
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "url",
    ["sqlite:///tma.db", "postgresql://postgres@127.0.0.1/tma", "tma.db"],
    ids=["sqlite-without-driver", "postgresql-without-driver", "no-scheme"],
)
def test_settings_unsupported_database_url_refused_with_supported_list(url):
    """Only the two async drivers the app runs on are accepted; the error names them."""
    with pytest.raises(ValueError, match="unsupported database URL") as caught:
        Settings(database_url=url)

    assert "sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://" in str(caught.value)


def test_settings_default_cors_origins_include_vite_dev_server(fresh_settings):
    """The starter's web UI (Vite, port 5173) can call the API without any setting."""
    assert load_settings().cors_origins == [
        "http://localhost:5173",
        "http://127.0.0.1:5173",
        "http://localhost:3000",
        "http://127.0.0.1:3000",
    ]


@pytest.mark.asyncio
async def test_cors_preflight_from_vite_origin_allowed(client):
    """A preflight from http://localhost:5173 is answered with that origin allowed."""
    response = await client.options(
        "/api/auth/login",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_cli_bad_setting_one_line_naming_variable(fresh_settings):
    """`tma db upgrade` with a bad value: exit 1 and one line naming the variable."""
    fresh_settings.setenv("TMA_ACCESS_TOKEN_EXPIRE_MINUTES", "-5")

    result = CliRunner().invoke(cli.app, ["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output == (
        "error: invalid configuration: TMA_ACCESS_TOKEN_EXPIRE_MINUTES: Input should be "
        "greater than or equal to 1\n"
    )


def test_cli_create_admin_without_terminal_says_use_password_stdin(fresh_settings, tmp_path):
    """Without a terminal to prompt on and without `--password-stdin`: exit 1, one line that
    says how to pipe the password in; nothing is created or migrated."""
    fresh_settings.setenv("TMA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    result = CliRunner().invoke(cli.app, ["create-admin", "boss", "boss@example.com"], input="")

    assert result.exit_code == 1
    assert result.output.startswith(
        "error: no terminal to ask for the password; pipe it in with --password-stdin"
    )
    assert result.output.count("\n") == 1
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("host", "docs", "line"),
    [
        ("127.0.0.1", True, "TMA backend listening on http://127.0.0.1:8000 (docs: /docs)"),
        ("::1", True, "TMA backend listening on http://[::1]:8000 (docs: /docs)"),
        ("0.0.0.0", False, "TMA backend listening on http://0.0.0.0:8000"),  # noqa: S104
    ],
    ids=["ipv4", "ipv6-in-brackets", "docs-off"],
)
def test_serve_listening_line_names_url_and_docs(host, docs, line):
    """The line `tma serve` prints once it listens: a URL a browser takes (an IPv6 address
    in brackets), and `/docs` only when the docs are served (TMA_DOCS)."""
    assert server.listening_line(host, 8000, docs=docs) == line
