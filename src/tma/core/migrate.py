"""Run Alembic from code: the CLI, `make run` and the tests all migrate through here."""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class Step:
    """One migration applied: from `down` (None: an empty database) to `up`."""

    down: str | None
    up: str
    title: str  # the migration's docstring up to its first colon

    def __str__(self) -> str:
        return f"{self.down or 'base'} -> {self.up}: {self.title}"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def _title(doc: str) -> str:
    first = " ".join(doc.split("\n\n", 1)[0].split())
    return first.split(": ", 1)[0].rstrip(".")


def upgrade(database_url: str | None = None, revision: str = "head") -> list[Step]:
    """Migrate up to `revision`; the steps applied, in order (none: it was there already)."""
    cfg = alembic_config(database_url)
    applied: list[Step] = []

    def record(*, step: Any, **_: Any) -> None:
        # `step` is Alembic's MigrationInfo (the `on_version_apply` hook, migrations/env.py).
        downs = step.down_revision_ids
        applied.append(
            Step(downs[0] if downs else None, step.up_revision_id, _title(step.up_revision.doc))
        )

    cfg.attributes["on_version_apply"] = record
    command.upgrade(cfg, revision)
    return applied


def current(database_url: str) -> str:
    """Where the database is: `head (0006)`, `0004`, or `base` (no migration applied)."""

    def heads(connection: Connection) -> tuple[str, ...]:
        return MigrationContext.configure(connection).get_current_heads()

    async def read() -> tuple[str, ...]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(heads)
        finally:
            await engine.dispose()

    at = ", ".join(asyncio.run(read())) or "base"
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return f"head ({at})" if at == head else at


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


class MissingDatabase(Exception):
    """A PostgreSQL database that does not exist (and is not to be, or could not be, created);
    the message is one line saying how to create it."""


def _is_missing_database(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # asyncpg's InvalidCatalogNameError, by its SQLSTATE (3D000) through SQLAlchemy's wrapper.
        if getattr(current, "sqlstate", None) == "3D000":
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


def _createdb_hint(url: URL) -> str:
    parts = ["createdb"]
    if url.host:
        parts += ["-h", url.host]
    if url.port:
        parts += ["-p", str(url.port)]
    if url.username:
        parts += ["-U", url.username]
    return " ".join([*parts, str(url.database)])


async def _ensure(url: URL, *, create: bool) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect():
            return False
    except Exception as exc:
        if not _is_missing_database(exc):
            raise
    finally:
        await engine.dispose()
    where = (
        f'database "{url.database}" does not exist on {url.host or "localhost"}:{url.port or 5432}'
    )
    if not create:
        raise MissingDatabase(
            f"{where}; create it (`{_createdb_hint(url)}`) and run this again "
            "(tma creates it only when TMA_ENV is not production)"
        )
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = '"' + str(url.database).replace('"', '""') + '"'
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {quoted}"))
    except Exception as exc:
        reason = f"{type(getattr(exc, 'orig', exc)).__name__}: {exc}".splitlines()[0]
        raise MissingDatabase(
            f"{where} and could not be created ({reason}); create it as a role that may "
            f"(`{_createdb_hint(url)}`)"
        ) from None
    finally:
        await admin.dispose()
    return True


def ensure_database(database_url: str, *, create: bool) -> str | None:
    """On PostgreSQL, make sure the database of `database_url` exists: when it does not,
    create it if `create` (its name is returned), else raise `MissingDatabase` saying how.
    Other databases (SQLite makes its file itself): nothing to do, None."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return None
    return url.database if asyncio.run(_ensure(url, create=create)) else None
