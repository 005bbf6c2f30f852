"""The job queue of notifications, on taskiq (docs/notifications.md says why).

- `TMA_QUEUE_URL` unset: taskiq's in-memory broker, jobs run inside the app process (and
  inside `tma notify`), each awaited where it is sent: nothing else to start.
- `redis://...`: a Redis stream read by a consumer group (taskiq-redis'
  `RedisStreamBroker`): a job is acknowledged only once it has run, and one left
  unacknowledged by a worker that died is claimed by another after
  `TMA_QUEUE_REDELIVERY_SECONDS`. Retries wait in a Redis schedule source, kicked by the
  scheduler (`tma worker` runs one); failed jobs' results stay in Redis for a week.
- `amqp://...`: a RabbitMQ queue (taskiq-aio-pika), acknowledged once the job has run;
  a worker's connection that drops puts its unacknowledged jobs back at once.

Jobs (each idempotent, so at-least-once delivery notifies no one twice):
`schedule_pass(now)` sends one `notify_users` per 25 users and one `group_digest` per
group; `notify_users(user_ids, now)` makes those users' rows and delivers them;
`group_digest(group_id, now)` tells the group's managers and delivers to them;
`deliver(user_ids, now)` delivers what is due (after a course is assigned).
Failed jobs are retried with exponential backoff and jitter (taskiq's
`SmartRetryMiddleware`), up to `RETRIES` times.
"""

import asyncio
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import (
    AckableMessage,
    AsyncBroker,
    InMemoryBroker,
    ScheduleSource,
    TaskiqEvents,
    TaskiqScheduler,
)
from taskiq.middlewares import SmartRetryMiddleware
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import ListRedisScheduleSource, RedisAsyncResultBackend, RedisStreamBroker

from tma.core.config import Settings
from tma.core.db import Database, unavailable_database_error
from tma.core.logging import JsonFormatter
from tma.events import delivery, xapi
from tma.notifications import schedule
from tma.notifications.delivery import Channels, DeliveryError

_log = logging.getLogger("tma.events")
RETRIES = 5
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 15 * 60
RESULT_SECONDS = 7 * 24 * 3600


@dataclass
class Runtime:
    """What a job needs: the settings, a database, the channels out."""

    settings: Settings
    db: Database
    channels: Channels
    own_db: bool = False


class Queue:
    """The broker, its jobs, its scheduler, for one set of settings."""

    def __init__(
        self, settings: Settings, db: Database | None = None, *, prefetch: int = 10
    ) -> None:
        self.settings = settings
        # Messages a worker takes from Redis at once: no more than it runs, so none waits
        # in a worker long enough to be given to another as if that worker had died.
        self.prefetch = prefetch
        self.runtime: Runtime | None = None
        self._db = db
        self.retry_source: ScheduleSource | None = None
        self.broker = self._broker(settings)
        # Alike in shape only with tma.cli's call of server.serve: keyword arguments of two
        # unrelated APIs.
        self.broker.add_middlewares(
            SmartRetryMiddleware(
                default_retry_count=RETRIES,
                default_retry_label=True,
                default_delay=FIRST_RETRY_SECONDS,
                use_jitter=True,
                use_delay_exponent=True,
                max_delay_exponent=MAX_RETRY_SECONDS,
                schedule_source=self.retry_source,
            )
        )
        self.broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, self._startup)
        self.broker.add_event_handler(TaskiqEvents.CLIENT_STARTUP, self._startup)
        self.broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, self._shutdown)
        self.broker.add_event_handler(TaskiqEvents.CLIENT_SHUTDOWN, self._shutdown)
        every = settings.notify_interval_minutes
        cron = [{"cron": f"*/{every} * * * *"}] if every else []

        def task(method: Callable[..., Awaitable[Any]], name: str, **labels: Any) -> Any:
            # taskiq renames the function it registers: a plain function around the method.
            @functools.wraps(method)
            async def job(*args: Any, **kwargs: Any) -> Any:
                return await method(*args, **kwargs)

            return self.broker.register_task(job, name, **labels)

        self.schedule_pass = task(self._schedule_pass, "tma.schedule_pass", schedule=cron)
        self.notify_users = task(self._notify_users, "tma.notify_users")
        self.group_digest = task(self._group_digest, "tma.group_digest")
        self.deliver = task(self._deliver, "tma.deliver")
        poll = settings.webhook_poll_seconds
        # Webhook deliveries and xAPI pushes (tma.events): drained every `poll` seconds.
        self.deliver_events = task(
            self._deliver_events,
            "tma.deliver_events",
            schedule=[{"interval": poll}] if poll else [],
            retry_on_error=False,  # the outbox keeps its own tries and backoff
        )
        self._http: httpx.AsyncClient | None = None
        sources: list[ScheduleSource] = [LabelScheduleSource(self.broker)]
        if self.retry_source is not None:
            sources.append(self.retry_source)
        self.scheduler = TaskiqScheduler(self.broker, sources)

    @property
    def in_process(self) -> bool:
        return self.settings.queue_url is None

    def _broker(self, settings: Settings) -> AsyncBroker:
        url = settings.queue_url
        if url is None:
            return InMemoryBroker(await_inplace=True, propagate_exceptions=False)
        if url.startswith(("redis://", "rediss://")):
            self.retry_source = ListRedisScheduleSource(url, prefix=f"{settings.queue_name}:retry")
            return _StreamBroker(
                url,
                queue_name=settings.queue_name,
                consumer_group_name=settings.queue_name,
                idle_timeout=settings.queue_redelivery_seconds * 1000,
                unacknowledged_lock_timeout=30,
                xread_block=1000,
                xread_count=self.prefetch,
            ).with_result_backend(
                RedisAsyncResultBackend(
                    url, result_ex_time=RESULT_SECONDS, prefix_str=f"{settings.queue_name}:result"
                )
            )
        from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType

        name = settings.queue_name
        classic = QueueType.CLASSIC  # any RabbitMQ 3.x; a quorum queue needs a cluster-ready one
        return AioPikaBroker(
            url,
            exchange=Exchange(name=name),
            task_queues=[Queue(name=name, type=classic, routing_key=name)],
            # Retries wait in this queue until their delay ends, then go back to the first.
            delay_queue=Queue(name=f"{name}.delay", type=classic),
            dead_letter_queue=Queue(name=f"{name}.dead_letter", type=classic),
            qos=self.prefetch,
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def _startup(self, _state: Any = None) -> None:
        if self.runtime is not None:
            return
        db = self._db or Database(self.settings)
        self.runtime = Runtime(self.settings, db, Channels(self.settings), own_db=self._db is None)

    async def _shutdown(self, _state: Any = None) -> None:
        runtime, self.runtime = self.runtime, None
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
        if runtime is not None:
            await runtime.channels.close()
            if runtime.own_db:
                await runtime.db.dispose()

    async def start(self) -> None:
        """Open the broker for sending (the app, `tma notify`)."""
        await self.broker.startup()
        await self._startup()

    async def stop(self) -> None:
        await self.broker.shutdown()
        await self._shutdown()

    async def _session(self, work: Callable[[AsyncSession, Runtime], Awaitable[Any]]) -> Any:
        if self.runtime is None:
            await self._startup()
        runtime = self.runtime
        assert runtime is not None
        async with runtime.db.sessionmaker() as session:
            return await work(session, runtime)

    # --- the jobs -------------------------------------------------------------------------

    async def _schedule_pass(self, now: str | None = None) -> dict[str, int]:
        """One pass of the schedule as of `now` (ISO; default: the clock): a job per user
        and per group."""
        instant = _instant(now)
        users, groups = await self._session(
            lambda session, _: schedule.pass_targets(session, now=instant)
        )
        stamp = instant.isoformat()
        for group_id in groups:
            await self.group_digest.kiq(group_id, stamp)
        step = schedule.USERS_PER_JOB
        for start in range(0, len(users), step):
            await self.notify_users.kiq(users[start : start + step], stamp)
        return {"users": len(users), "groups": len(groups)}

    async def _notify_users(self, user_ids: list[int], now: str) -> int:
        """Each user's rows as of `now`, then their delivery; a user whose delivery fails
        does not stop the others (the job fails at the end and is retried: the users
        already done change nothing the second time)."""
        instant = _instant(now)

        async def work(session: AsyncSession, runtime: Runtime) -> int:
            settled = 0
            failure: Exception | None = None
            opened = await schedule.opened_modules(session, user_ids=user_ids, now=instant)
            for user_id in user_ids:
                await schedule.notify_user(
                    session,
                    user_id=user_id,
                    now=instant,
                    inactivity_days=runtime.settings.inactivity_days,
                    opened=opened.get(user_id, []),
                    default_language=runtime.settings.default_language,
                )
                try:
                    settled += await schedule.deliver_user(
                        session, user_id=user_id, now=instant, channels=runtime.channels
                    )
                except DeliveryError as exc:
                    failure = exc
            if failure is not None:
                raise failure
            return settled

        return int(await self._session(work))

    async def _group_digest(self, group_id: int, now: str) -> int:
        instant = _instant(now)

        async def work(session: AsyncSession, runtime: Runtime) -> int:
            told = await schedule.group_digest(
                session,
                group_id=group_id,
                now=instant,
                inactivity_days=runtime.settings.inactivity_days,
            )
            for user_id in told:
                await schedule.deliver_user(
                    session, user_id=user_id, now=instant, channels=runtime.channels
                )
            return len(told)

        return int(await self._session(work))

    async def _deliver(self, user_ids: list[int], now: str | None = None) -> int:
        instant = _instant(now)

        async def work(session: AsyncSession, runtime: Runtime) -> int:
            settled = 0
            for user_id in user_ids:
                settled += await schedule.deliver_user(
                    session, user_id=user_id, now=instant, channels=runtime.channels
                )
            return settled

        return int(await self._session(work))

    async def _deliver_events(self, now: str | None = None) -> int:
        """The webhook deliveries due as of `now` (default: the clock), batch after batch
        while batches come full (tma.events.delivery), then with `TMA_LRS_URL` the xAPI
        statements not yet pushed (tma.events.xapi); returns how many were tried and
        pushed."""
        instant = _instant(now)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=delivery.TIMEOUT_SECONDS)
        http = self._http

        async def work(session: AsyncSession, runtime: Runtime) -> int:
            tried = 0
            while True:
                batch = await delivery.deliver_due(
                    session,
                    http=http,
                    now=instant,
                    lease_seconds=runtime.settings.webhook_lease_seconds,
                    allow_private=runtime.settings.webhook_allow_private,
                )
                tried += batch
                if batch < delivery.BATCH:
                    break
            settings = runtime.settings
            if settings.lrs_url is None:
                return tried
            auth = settings.lrs_auth.get_secret_value() if settings.lrs_auth else None
            while True:
                pushed = await xapi.push(
                    session,
                    http=http,
                    lrs_url=settings.lrs_url,
                    authorization=auth,
                    base=(settings.public_url or "http://localhost").rstrip("/"),
                    now=instant,
                )
                tried += pushed
                if pushed < xapi.PUSH_BATCH:
                    return tried

        try:
            return int(await self._session(work))
        except Exception as exc:
            if unavailable_database_error(exc) is None:
                raise
            # The next poll tries again; one line, no trace (as a request logs it).
            _log.warning("deliver_events: database unavailable", extra={"error": repr(exc)})
            return 0

    # --- running --------------------------------------------------------------------------

    async def run_pass(self, now: datetime) -> dict[str, int]:
        """Send one pass of the schedule as of `now` (`tma notify`): in process, it has run
        when this returns; with a broker, its jobs are queued for the workers."""
        result = await self.schedule_pass.kiq(now.isoformat())
        if self.in_process:
            outcome = await result.wait_result(timeout=3600)
            if outcome.is_err:
                raise RuntimeError(f"the pass failed: {outcome.error}")
            return dict(outcome.return_value)
        return {}

    async def run_scheduler(self, stop: asyncio.Event) -> None:
        """Taskiq's scheduler loop (the periodic pass, and the retries waiting in Redis)
        until `stop` is set."""
        from taskiq.cli.scheduler.run import SchedulerLoop

        # The sources read their schedules at start-up (the label source collects the
        # tasks' `schedule` labels then; not started, it has none and nothing periodic runs).
        for source in self.scheduler.sources:
            await source.startup()
        loop = SchedulerLoop(self.scheduler)
        runner = asyncio.create_task(loop.run())
        await stop.wait()
        runner.cancel()
        for source in self.scheduler.sources:
            await source.shutdown()


class _StreamBroker(RedisStreamBroker):
    """taskiq-redis' Redis stream broker, claiming the messages of a consumer that died also
    while no new message arrives: the library's own loop claims them only after a read that
    returned new messages, so a dead worker's jobs would wait for the next job sent. Every
    half `idle_timeout` at most, XAUTOCLAIM takes the messages left unacknowledged for
    `idle_timeout` by any consumer of the group."""

    def _acker(self, message_id: Any) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            async with Redis(connection_pool=self.connection_pool) as conn:
                await conn.xack(self.queue_name, self.consumer_group_name, message_id)

        return ack

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        group, me, stream = self.consumer_group_name, self.consumer_name, self.queue_name
        claim_every = self.idle_timeout / 2000
        claimed_at = time.monotonic()
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                read: Any = await redis.xreadgroup(
                    group, me, {stream: ">"}, block=self.block, count=self.count
                )
                for _name, entries in read or []:
                    for message_id, fields in entries:
                        yield AckableMessage(data=fields[b"data"], ack=self._acker(message_id))
                if time.monotonic() - claimed_at < claim_every:
                    continue
                claimed_at = time.monotonic()
                start: Any = "0-0"
                while True:
                    claimed: Any = await redis.xautoclaim(
                        stream,
                        group,
                        me,
                        min_idle_time=self.idle_timeout,
                        start_id=start,
                        count=self.unacknowledged_batch_size,
                    )
                    start, entries = claimed[0], claimed[1]
                    for message_id, fields in entries:
                        if fields:  # None: the entry was trimmed from the stream
                            yield AckableMessage(data=fields[b"data"], ack=self._acker(message_id))
                    if start in (b"0-0", "0-0"):
                        break


@asynccontextmanager
async def notification_schedule(settings: Settings, db: Database) -> AsyncIterator[None]:
    """The app's part of the schedule: with no `TMA_QUEUE_URL`, jobs run in the app
    process, so its scheduler runs here (the periodic pass every
    `TMA_NOTIFY_INTERVAL_MINUTES`); with a queue, the `tma worker` processes run both."""
    if settings.queue_url is not None or not (
        settings.notify_interval_minutes or settings.webhook_poll_seconds
    ):
        yield
        return
    # The jobs' own logs (taskiq's: a job that failed) as JSON lines, like the app's.
    taskiq_log = logging.getLogger("taskiq")
    if not any(isinstance(h.formatter, JsonFormatter) for h in taskiq_log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        taskiq_log.addHandler(handler)
        taskiq_log.propagate = False
    queue = Queue(settings, db=db)
    await queue.start()
    stop = asyncio.Event()
    runner = asyncio.create_task(queue.run_scheduler(stop))
    try:
        yield
    finally:
        stop.set()
        await runner
        await queue.stop()


def _instant(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError("a time with an offset is needed")
    return instant.astimezone(UTC)
