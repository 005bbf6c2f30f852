"""Settings: the only place the environment is read."""

import ipaddress
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tma.core.languages import canonical

DEFAULT_SECRET_KEY = "development-only-secret-change-me-in-production"  # noqa: S105 - refused in production
MIN_PRODUCTION_SECRET_LENGTH = 32
MIN_PRODUCTION_SECRET_BITS = 128
RATE_LIMIT_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://")
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{Path.cwd() / 'tma.db'}"
SUPPORTED_DATABASE_URLS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite:///path/to/file.db",
    "postgresql+asyncpg": "postgresql+asyncpg://user@host:5432/database",
}
# The web UI's dev server (Vite) and the usual React dev port, on both loopback spellings.
DEFAULT_CORS_ORIGINS = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)


class ConfigError(ValueError):
    """A `TMA_*` setting is invalid; the message names each variable and the reason."""


_REPEATS = re.compile(r"(.+?)\1{3,}")


def secret_entropy_bits(secret: str) -> float:
    """A simple, deliberately pessimistic estimate of a secret's entropy in bits.

    Each character is worth log2 of the alphabet its classes span (lower, upper, digits,
    other printable: 26/26/10/33), then the total is capped by the string's own Shannon
    entropy (characters that repeat add little), and any run that repeats a chunk four
    times or more counts once. `secrets.token_urlsafe(32)` scores about 190 bits;
    "aaaa...", "abcabcabc..." or a dictionary word padded with one character do not pass.
    """
    collapsed = _REPEATS.sub(r"\1", secret)
    if not collapsed:
        return 0.0
    alphabet = 0
    alphabet += 26 if any(c.islower() for c in collapsed) else 0
    alphabet += 26 if any(c.isupper() for c in collapsed) else 0
    alphabet += 10 if any(c.isdigit() for c in collapsed) else 0
    alphabet += 33 if any(not c.isalnum() for c in collapsed) else 0
    by_alphabet = len(collapsed) * math.log2(max(alphabet, 2))
    counts = Counter(collapsed)
    n = len(collapsed)
    shannon = -sum(k / n * math.log2(k / n) for k in counts.values()) * n
    return min(by_alphabet, shannon)


class Settings(BaseSettings):
    """Every setting the service reads, from `TMA_*` environment variables or `.env`."""

    model_config = SettingsConfigDict(env_prefix="TMA_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEFAULT_SECRET_KEY
    access_token_expire_minutes: int = Field(default=30, ge=1, le=60 * 24 * 30)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CORS_ORIGINS)
    )

    # argon2id; the defaults are OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane).
    password_hash_time_cost: int = Field(default=2, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=19_456, ge=8, le=1_048_576)
    password_hash_parallelism: int = Field(default=1, ge=1, le=16)

    # Rate limits (tma.core.ratelimit): in this process's memory by default, in Redis when
    # `rate_limit_storage` is a redis:// URL, then shared by every worker and machine.
    rate_limit_storage: str = "memory://"
    rate_limit_key_prefix: str = Field(default="tma", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # Failed logins per (client, username); failed logins per client across usernames
    # (password spraying); self-registrations per client.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    login_client_max_failures: int = Field(default=20, ge=1)
    login_client_window_seconds: int = Field(default=300, ge=1)
    register_max_per_client: int = Field(default=10, ge=1)
    register_window_seconds: int = Field(default=3600, ge=1)
    # Proxies whose X-Forwarded-For names the client, and whose X-Forwarded-Proto and
    # X-Forwarded-Host name the public address (addresses or networks, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The address clients reach the API at (`https://tma.example.org`, a path prefix allowed):
    # the base of the absolute file and avatar URLs in responses (tma.core.public_url).
    # Unset: each request's own scheme and host (behind a trusted proxy, what it forwards).
    public_url: str | None = Field(default=None, max_length=500)

    # Connections (uvicorn, per worker; see `tma serve`).
    timeout_keep_alive: int = Field(default=5, ge=1, le=300)
    timeout_headers: int = Field(default=10, ge=1, le=300)
    timeout_body: int = Field(default=30, ge=1, le=3600)
    limit_concurrency: int = Field(default=1000, ge=1)

    # Interactive docs and the OpenAPI schema (/docs, /redoc, /openapi.json); default: on in
    # development, off in production.
    docs: bool | None = None

    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # A write's `Idempotency-Key` and its response are kept at least this long (the spec's
    # floor is 24 hours); expired keys are deleted by the app itself (tma.core.idempotency).
    idempotency_ttl_hours: int = Field(default=24, ge=24, le=24 * 30)

    # Signed attachment URLs (a post's `file_url`) stop working after this many seconds.
    file_url_ttl_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)

    # Uploaded files (tma.files): their size limit, and where their bytes live: the directory
    # `upload_dir` (created on start), or an S3-compatible bucket when `storage_url` is
    # `s3://bucket/prefix`. The S3 settings left unset come from the usual AWS_* variables
    # (AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...) or the
    # machine's role, as the object-store library reads them.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    upload_dir: Path = Path("uploads")
    storage_url: str | None = Field(default=None, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?$")
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_pre_ping: bool = False
    db_echo: bool = False
    # For the test suite: every body dumped by `list_response`/`json_response` is also
    # validated by its model and the two compared (a mismatch is a 500). Slower; not for
    # production.
    check_bodies: bool = False

    # Notifications (tma.notifications, docs/notifications.md). The job queue: unset, jobs run
    # inside the app process (nothing else to start); `redis://...` or `amqp://...`, they go
    # to that broker and `tma worker` processes run them.
    queue_url: str | None = Field(default=None, pattern=r"^(rediss?|amqps?)://.+$")
    queue_name: str = Field(default="tma", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # A job taken by a worker that died before finishing it goes to another after this long.
    queue_redelivery_seconds: int = Field(default=300, ge=1, le=86_400)
    # The schedule's pass (reminders, digests, modules that opened, deferred deliveries)
    # runs every this many minutes; 0: only by `tma notify`.
    notify_interval_minutes: int = Field(default=15, ge=0, le=1440)
    # A parent with an unfinished course and no activity for this many days gets a reminder.
    inactivity_days: int = Field(default=7, ge=1, le=365)
    # E-mail through this SMTP server (`smtp://user:password@host:587`, STARTTLS when the
    # server offers it, or `smtps://...:465`); unset: no e-mail is sent.
    smtp_url: str | None = Field(default=None, pattern=r"^smtps?://.+$")
    mail_from: str = "TMA <no-reply@localhost>"
    # The Expo push API (tests point it at a local receiver); empty: no push is sent.
    expo_push_url: str = "https://exp.host/--/api/v2/push/send"

    # Webhooks (tma.events, docs/events.md): URLs that name or resolve to a private,
    # loopback, link-local or reserved address are refused unless this is true.
    webhook_allow_private: bool = False
    # Due webhook deliveries (and xAPI pushes) are looked for this often, in the app
    # process or the `tma worker` with the scheduler; 0: never by themselves.
    webhook_poll_seconds: int = Field(default=5, ge=0, le=3600)
    # A delivery taken by a job is another job's after this long (a worker that died
    # between sending and recording: the receiver gets it again, same delivery id).
    webhook_lease_seconds: int = Field(default=60, ge=1, le=3600)
    # xAPI statements are pushed to this Learning Record Store (its statements resource,
    # `https://lrs.example.org/xAPI/statements`); unset: not pushed.
    lrs_url: str | None = Field(default=None, pattern=r"^https?://.+$")
    # The LRS's `Authorization` header (`Basic ...`); unset: none.
    lrs_auth: SecretStr | None = None

    # Languages (tma.i18n, docs/contracts/translations.md): the language of the stored
    # texts, served when a reader asks for no other that has a translation (a BCP 47 tag).
    default_language: str = "en"

    log_level: str = "INFO"

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        return canonical(value)

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if not value.startswith(RATE_LIMIT_SCHEMES):
            raise ValueError("must be memory:// or a redis://, rediss:// or redis+unix:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http or https URL, e.g. https://tma.example.org")
        if parts.query or parts.fragment or any(ch.isspace() for ch in value):
            raise ValueError("must be a scheme, a host and at most a path (no query, no fragment)")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in SUPPORTED_DATABASE_URLS:
            shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
            supported = " or ".join(SUPPORTED_DATABASE_URLS.values())
            raise ValueError(f"unsupported database URL ({shown}); use {supported}")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def docs_enabled(self) -> bool:
        return self.env == "development" if self.docs is None else self.docs

    def check_production(self) -> None:
        """Refuse to run in production with a guessable secret or a wildcard CORS origin."""
        if self.env != "production":
            return
        if self.secret_key == DEFAULT_SECRET_KEY:
            raise RuntimeError(
                "TMA_SECRET_KEY is the built-in development default; "
                "set a random secret of at least 32 characters to run with TMA_ENV=production"
            )
        if len(self.secret_key) < MIN_PRODUCTION_SECRET_LENGTH:
            raise RuntimeError(
                f"TMA_SECRET_KEY is {len(self.secret_key)} characters long; "
                f"production needs at least {MIN_PRODUCTION_SECRET_LENGTH}"
            )
        bits = secret_entropy_bits(self.secret_key)
        if bits < MIN_PRODUCTION_SECRET_BITS:
            raise RuntimeError(
                f"TMA_SECRET_KEY looks guessable (about {bits:.0f} bits by a simple estimate; "
                f"production needs {MIN_PRODUCTION_SECRET_BITS}): use e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if "*" in self.cors_origins:
            raise RuntimeError("TMA_CORS_ORIGINS may not contain '*' in production")


def describe_errors(exc: ValidationError) -> str:
    """One line naming every invalid `TMA_*` variable and why (never its value: it may be a
    secret), e.g. `TMA_ACCESS_TOKEN_EXPIRE_MINUTES: Input should be a valid integer`."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = f"TMA_{field.upper()}" if field else "settings"
        reason = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{variable}: {reason}")
    return "; ".join(problems)


def load_settings() -> Settings:
    """Read the settings; an invalid value raises `ConfigError` naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {describe_errors(exc)}") from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
