"""Alembic environment: runs migrations on the async engine of the configured database."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from tma.core.config import get_settings
from tma.core.db import create_engine
from tma.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # `tma db upgrade` names each migration applied (tma.core.migrate.upgrade).
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = get_settings()
    url = config.attributes.get("database_url") or settings.database_url
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
