"""The `tma` command: serve, migrate, seed, create an admin, check the derived counters."""

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from tma.core.config import ConfigError, Settings, get_settings

app = typer.Typer(
    help="The TMA backend: serve the API and manage its database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

T = TypeVar("T")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:  # a bad TMA_* value: one line naming it, no traceback
        raise _fail(str(exc)) from None


def _run(make: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    settings = _settings()
    try:
        return asyncio.run(make(settings))
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes (one per core). Each has its own database pool; share the "
            "rate limits with TMA_RATE_LIMIT_STORAGE=redis://...",
            min=1,
        ),
    ] = 1,
) -> None:
    """Serve the API with uvicorn (timeouts and connection bound from TMA_* settings);
    prints the URL it listens on once it does."""
    from tma.core import server

    settings = _settings()
    try:
        settings.check_production()
    except RuntimeError as exc:
        raise _fail(str(exc)) from None
    server.serve(
        "tma.main:create_app",
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        settings=settings,
        announce=typer.echo,
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: head), naming each one applied.

    A PostgreSQL database that does not exist is created first, unless TMA_ENV=production
    (then: one line saying how to create it)."""
    from tma.core import migrate

    settings = _settings()
    try:
        created = migrate.ensure_database(
            settings.database_url, create=settings.env != "production"
        )
    except migrate.MissingDatabase as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(
            f"cannot reach the database: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    if created:
        typer.echo(f"created database {created} (TMA_ENV={settings.env})")
    try:
        steps = migrate.upgrade(settings.database_url, revision)
    except Exception as exc:
        raise _fail(f"migration failed: {exc}".splitlines()[0]) from None
    for step in steps:
        typer.echo(f"applied {step}")
    done = "" if steps else ", nothing to apply"
    at = migrate.current(settings.database_url)
    typer.echo(f"database at {at}{done}: {_redacted(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "base",
) -> None:
    """Revert the migrations down to REVISION (default: base, an empty database)."""
    from tma.core import migrate

    settings = _settings()
    try:
        migrate.downgrade(settings.database_url, revision)
    except Exception as exc:
        raise _fail(f"migration failed: {exc}".splitlines()[0]) from None
    typer.echo(f"database at {revision}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def seed(
    reset: Annotated[
        bool, typer.Option(help="Delete every row (roles stay) and load the sample again.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database has users.")
    ] = False,
    allow_production: Annotated[
        bool,
        typer.Option(
            "--allow-production",
            help="Seed even with TMA_ENV=production (plants the known sample passwords).",
        ),
    ] = False,
) -> None:
    """Load the invented sample data (logins admin, manager, user; password `password`).

    Refused with TMA_ENV=production unless --allow-production: the sample accounts have
    known passwords. The first production admin comes from `tma create-admin`."""
    from tma.core.db import Database
    from tma.core.security import PasswordHasher
    from tma.seed import loader

    if _settings().env == "production" and not allow_production:
        raise _fail(
            "tma seed plants accounts with known passwords and is refused with "
            "TMA_ENV=production; create the first admin with `tma create-admin` "
            "(or pass --allow-production to seed anyway)"
        )

    async def go(settings: Settings) -> str:
        db = Database(settings)
        try:
            async with db.sessionmaker() as session:
                if reset:
                    await loader.reset(session, settings=settings)
                elif not await loader.is_empty(session):
                    if if_empty:
                        return "database already has data; sample not loaded"
                    raise _fail("database is not empty; use --reset to replace its data")
                result = await loader.load(
                    session, hasher=PasswordHasher(settings), settings=settings
                )
        finally:
            await db.dispose()
        return (
            f"loaded {result.users} users, {result.groups} groups, {result.memberships} "
            f"memberships, {result.courses} courses, {result.assignments} course assignments, "
            f"{result.modules} modules, {result.posts} posts"
        )

    typer.echo(_run(go))


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="Login name (3-50 characters).")],
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an admin account, asking for its password (or reading it from stdin)."""
    from pydantic import ValidationError

    from tma.core.db import Database
    from tma.core.errors import DomainError
    from tma.core.security import PasswordHasher
    from tma.users import service
    from tma.users.models import SystemRole
    from tma.users.schemas import UserCreate

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise _fail(
            "no terminal to ask for the password; pipe it in with --password-stdin, e.g. "
            "`printf '%s\\n' \"$PASSWORD\" | tma create-admin NAME EMAIL --password-stdin`"
        )
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, email=email, password=password)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise _fail(f"{field}: {err['msg']}") from None

    async def go(settings: Settings) -> str:
        db = Database(settings)
        try:
            async with db.sessionmaker() as session:
                role = await service.get_role(session, name=SystemRole.ADMIN.value)
                user = await service.create_user(
                    session, data=data, role=role, hasher=PasswordHasher(settings), verb="exists"
                )
        except DomainError as exc:
            raise _fail(exc.detail) from None
        finally:
            await db.dispose()
        return f"admin {user.username} created (id {user.id})"

    typer.echo(_run(go))


@app.command()
def doctor(
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Set every wrong counter to its recount (one transaction)."),
    ] = False,
) -> None:
    """Recount the derived counters (module_progress, course_progress); list each difference.

    Exit 0: every counter is exact. Exit 1: a difference was found (nothing is changed).
    --fix: repair every difference in one transaction, list them, exit 0 (exit 1 if not)."""
    from tma.core.db import Database
    from tma.progress import doctor as checks

    async def go(settings: Settings) -> tuple[checks.Report, checks.Report | None]:
        db = Database(settings)
        try:
            async with db.engine.connect() as conn:
                if fix:
                    return await checks.repair(conn)
                return await checks.check(conn), None
        finally:
            await db.dispose()

    found, after = _run(go)
    for difference in found.differences:
        typer.echo(str(difference))
    counted = f"{found.module_counters} module and {found.course_counters} course counters checked"
    if not found.differences:
        typer.echo(f"no differences: {counted}")
        return
    if after is None:
        typer.echo(f"{len(found.differences)} differences ({counted}); repair with --fix")
        raise typer.Exit(code=1)
    if after.differences:
        for difference in after.differences:
            typer.echo(f"still wrong after repair: {difference}", err=True)
        raise _fail("the repair left differences and was rolled back")
    typer.echo(f"fixed {len(found.differences)} differences ({counted}); now clean")


@app.command()
def notify(
    now: Annotated[
        str,
        typer.Option(
            "--now",
            help="The instant the pass runs as of, ISO-8601 with an offset "
            "(2026-03-02T09:00:00+00:00).",
        ),
    ],
) -> None:
    """One pass of the notification schedule as of --now (reminders, digests, modules that
    opened, e-mail and push due): for tests and support; refused with TMA_ENV=production.

    With TMA_QUEUE_URL unset the pass runs here and has finished when this returns; with
    a queue, its jobs are queued for the `tma worker` processes."""
    from datetime import datetime

    from tma.notifications.queue import Queue

    if _settings().env == "production":
        raise _fail(
            "tma notify moves the clock of the schedule and is refused with TMA_ENV=production"
        )
    try:
        instant = datetime.fromisoformat(now)
    except ValueError:
        raise _fail(f"--now: not an ISO-8601 time: {now!r}") from None
    if instant.tzinfo is None:
        raise _fail("--now: give an offset (Z or +01:00): the schedule runs on instants")

    async def go(settings: Settings) -> str:
        queue = Queue(settings)
        await queue.start()
        try:
            counts = await queue.run_pass(instant)
        finally:
            await queue.stop()
        if queue.in_process:
            users, groups = counts["users"], counts["groups"]
            return f"pass as of {instant.isoformat()}: {users} users, {groups} groups"
        return f"pass as of {instant.isoformat()} queued on {settings.queue_name}"

    typer.echo(_run(go))


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs run at once by this process.", min=1, max=1000)
    ] = 10,
    schedule: Annotated[
        bool,
        typer.Option(
            help="Also run the scheduler (the periodic pass, retries waiting for their time); "
            "one worker with it is enough, more only repeat idempotent passes."
        ),
    ] = True,
) -> None:
    """Run notification jobs from the queue (TMA_QUEUE_URL: redis://... or amqp://...).
    A job is acknowledged once it has run: one taken by a worker that dies is run by another."""
    import asyncio
    import logging

    from taskiq import TaskiqEvents
    from taskiq.acks import AcknowledgeType
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import start_listen

    from tma.notifications.queue import Queue

    settings = _settings()
    if settings.queue_url is None:
        raise _fail(
            "TMA_QUEUE_URL is not set: jobs run inside the app process, there is nothing for "
            "a worker to do (set it to redis://... or amqp://...)"
        )
    # Job failures and retries (taskiq's logs) on stderr, at the configured level.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    queue = Queue(settings, prefetch=concurrency)
    stop = asyncio.Event()
    runner: list[asyncio.Task[None]] = []

    async def start_scheduler(_state: object) -> None:
        runner.append(asyncio.create_task(queue.run_scheduler(stop)))

    async def stop_scheduler(_state: object) -> None:
        stop.set()

    if schedule:
        queue.broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, start_scheduler)
        queue.broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, stop_scheduler)
    typer.echo(f"tma worker: jobs from {settings.queue_name} ({concurrency} at once)")
    start_listen(
        WorkerArgs(
            broker=queue.broker,  # type: ignore[arg-type]  # an instance is taken too
            modules=[],
            workers=1,
            configure_logging=False,
            max_async_tasks=concurrency,
            max_prefetch=0,
            ack_type=AcknowledgeType.WHEN_EXECUTED,
        )
    )


if __name__ == "__main__":
    app()
