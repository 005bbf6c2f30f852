"""The job queue on the real brokers: a pass queued by `tma notify` (the `Queue` it uses)
is run by a `tma worker` process, on Redis (TMA_TEST_REDIS_URL) and on RabbitMQ
(TMA_TEST_AMQP_URL), against the test database; what arrives is checked (the in-app rows,
the push receiver). Unset, a broker's test is skipped and says so; set but unreachable, it
fails. CI (`.ci/run`) sets both. The crash test (a worker killed mid-run) is
`bench/notify_crash.py` (`make notify-crash`; a short run in CI).
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from notification_servers import PushReceiver
from servers import server_env
from tma.courses.models import GroupCourse
from tma.notifications.models import Notification, PushToken
from tma.notifications.queue import Queue

ASSIGNED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
TOKEN = "ExponentPushToken[queue-test]"
WAIT_SECONDS = 60


async def _redis_ready(url: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _amqp_ready(url: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url, timeout=5)
    await connection.close()


async def _redis_cleanup(url: str, name: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{name}*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def _amqp_cleanup(url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        for queue in (name, f"{name}.delay", f"{name}.dead_letter"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(name)
    finally:
        await connection.close()


BROKERS = {
    "redis": ("TMA_TEST_REDIS_URL", _redis_ready, _redis_cleanup),
    "rabbitmq": ("TMA_TEST_AMQP_URL", _amqp_ready, _amqp_cleanup),
}


@pytest_asyncio.fixture(params=sorted(BROKERS))
async def broker(request):
    """A broker URL and a queue name of this test's own (deleted after it)."""
    variable, ready, cleanup = BROKERS[request.param]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} not set (CI sets it)")
    try:
        await ready(url)
    except Exception as exc:
        pytest.fail(f"{variable}={url} is set but unreachable: {exc}")
    name = f"tma-test-{uuid.uuid4().hex[:12]}"
    yield url, name
    await cleanup(url, name)


@pytest.mark.asyncio
async def test_pass_queued_is_run_by_a_tma_worker_process(
    broker,
    test_settings,
    test_db,
    test_user,
    make_group,
    add_member,
    make_course,
    assign_course,
    tmp_path: Path,
):
    """`tma notify`'s pass goes to the broker; a `tma worker` process runs it and the jobs
    it sends: the parent's reminder exists once and its push arrived once; the pass queued
    a second time (a duplicate) changes nothing."""
    url, name = broker
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    async with test_db.session() as session:
        await session.execute(update(GroupCourse).values(date_assigned=ASSIGNED))
        session.add(PushToken(user_id=test_user.id, token=TOKEN, created_at=ASSIGNED))
        await session.commit()
    from progress_factories import insert_module, insert_posts

    await insert_posts(test_db, await insert_module(test_db, course.id), 1)

    with PushReceiver() as push:
        settings = test_settings.model_copy(
            update={"queue_url": url, "queue_name": name, "expo_push_url": push.url}
        )
        queue = Queue(settings)
        await queue.start()
        try:
            assert await queue.run_pass(NOW) == {}
            assert await queue.run_pass(NOW) == {}
        finally:
            await queue.stop()
        env = server_env(
            test_settings.database_url,
            queue_url=url,
            queue_name=name,
            expo_push_url=push.url,
            notify_interval_minutes="0",
        )
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "tma.cli", "worker", "--concurrency", "4"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while len(push.log.messages()) < 2:
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker did not deliver: {log.read_text()[-3000:]}")
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # a duplicate, if any, would arrive now
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 30)

    assert sorted(m["title"] for m in push.log.messages()) == [
        "New course: Openings",
        "Time for Openings",
    ]
    async with test_db.session() as session:
        kinds = await session.execute(
            select(Notification.kind, func.count())
            .where(Notification.user_id == test_user.id)
            .group_by(Notification.kind)
            .order_by(Notification.kind)
        )
        assert kinds.all() == [("course_assigned", 1), ("reminder", 1)]


@pytest.mark.asyncio
async def test_redis_stream_claims_a_dead_consumers_job_while_no_new_job_arrives():
    """Consumer A takes a job and dies without acknowledging it; no job is sent after it.
    Consumer B (redelivery after 0.5 s) gets it all the same: the stream broker claims a
    dead consumer's entries also while the stream is quiet (taskiq-redis' own loop claimed
    them only after a read that returned new entries)."""
    from taskiq import BrokerMessage

    from tma.notifications.queue import _StreamBroker

    url = os.environ.get("TMA_TEST_REDIS_URL")
    if not url:
        pytest.skip("TMA_TEST_REDIS_URL not set (CI sets it)")
    await _redis_ready(url)
    name = f"tma-test-{uuid.uuid4().hex[:12]}"
    options = {"queue_name": name, "consumer_group_name": name, "xread_block": 100}
    first = _StreamBroker(url, idle_timeout=500, **options)
    second = _StreamBroker(url, idle_timeout=500, **options)
    try:
        await first.startup()
        await second.startup()
        await first.kick(BrokerMessage(task_id="1", task_name="t", message=b"job", labels={}))
        taken = await anext(first.listen())  # taken, never acknowledged: A "dies"
        assert taken.data == b"job"

        async with asyncio.timeout(10):
            claimed = await anext(second.listen())

        assert claimed.data == b"job"
        await claimed.ack()
    finally:
        await first.shutdown()
        await second.shutdown()
        await _redis_cleanup(url, name)
