"""Contract tests for webhooks: admin CRUD, the secret shown once, the outbox drained by the
queue's job to a real local receiver, the signature checked as a receiver would, retries
with backoff, the delivery log, private addresses refused.

Contract: docs/contracts/events.md (docs/events.md: the outbox and the job).
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import select

from progress_factories import insert_module, insert_posts
from tma.events.models import WebhookDelivery
from tma.notifications.queue import Queue
from webhook_servers import Script, WebhookReceiver, verify

T0 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
ALL_TYPES = [
    "post_started",
    "post_completed",
    "attempt_started",
    "attempt_submitted",
    "module_completed",
    "course_completed",
]


@pytest.fixture
def allow_private(app, monkeypatch):
    """`TMA_WEBHOOK_ALLOW_PRIVATE=true` for this test: the receiver is on loopback."""
    monkeypatch.setattr(app.state.settings, "webhook_allow_private", True)


class Deliverer:
    """The queue's `tma.deliver_events` job, in process, as of a given instant."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def run(self, now: datetime) -> int:
        result = await self.queue.deliver_events.kiq(now.isoformat())
        outcome = await result.wait_result(timeout=60)
        assert not outcome.is_err, outcome.error
        return int(outcome.return_value)


@pytest_asyncio.fixture
async def deliverer(app, test_settings, test_db):
    settings = test_settings.model_copy(update={"webhook_allow_private": True})
    queue = Queue(settings, db=app.state.db)
    await queue.start()
    try:
        yield Deliverer(queue)
    finally:
        await queue.stop()


@pytest_asyncio.fixture
async def parent_post(test_db, test_user, make_group, add_member, make_course, assign_course):
    """A post of a one-post module `test_user` sees: completing it records post_started,
    post_completed, module_completed and course_completed."""
    group = await make_group(name="Oak class")
    await add_member(group, test_user)
    course = await make_course(title="Openings")
    await assign_course(group, course)
    module_id = await insert_module(test_db, course.id, title="A")
    (post_id,) = await insert_posts(test_db, module_id, 1)
    return post_id


async def create(client, headers, **body):
    response = await client.post("/api/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def complete(client, post_id, headers):
    response = await client.put(
        f"/api/progress/{post_id}", json={"status": "completed"}, headers=headers
    )
    assert response.status_code == 200


async def log_of(client, hook_id, headers):
    response = await client.get(f"/api/webhooks/{hook_id}/deliveries", headers=headers)
    assert response.status_code == 200
    return response.json()


# --- CRUD ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_webhook_returns_201_with_the_secret_once(client, auth_headers, allow_private):
    created = await create(
        client,
        auth_headers,
        url="https://hooks.example.org/tma",
        event_types=["course_completed", "post_started", "course_completed"],
    )

    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) == 6 + 43
    assert {k: v for k, v in created.items() if k not in ("secret", "created_at", "id")} == {
        "url": "https://hooks.example.org/tma",
        "event_types": ["post_started", "course_completed"],
        "active": True,
    }
    got = await client.get(f"/api/webhooks/{created['id']}", headers=auth_headers)
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in created.items() if k != "secret"}
    listed = await client.get("/api/webhooks", headers=auth_headers)
    assert listed.status_code == 200
    assert listed.json() == [got.json()]


@pytest.mark.asyncio
async def test_create_webhook_defaults_to_every_type(client, auth_headers, allow_private):
    created = await create(client, auth_headers, url="http://hooks.example.org/x", active=False)

    assert (created["event_types"], created["active"]) == (ALL_TYPES, False)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_create_webhook_to_a_private_address_returns_400(client, auth_headers, url):
    response = await client.post("/api/webhooks", json={"url": url}, headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Webhook URLs to private or loopback addresses are refused"
    }
    listed = await client.get("/api/webhooks", headers=auth_headers)
    assert listed.json() == []


@pytest.mark.asyncio
async def test_create_webhook_to_a_host_that_does_not_resolve_returns_400(client, auth_headers):
    response = await client.post(
        "/api/webhooks", json={"url": "https://no-such-host.invalid/hook"}, headers=auth_headers
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Webhook URL host no-such-host.invalid does not resolve"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://hooks.example.org/x"},
        {"url": "hooks.example.org/x"},
        {"url": "https://user:pw@hooks.example.org/x"},
        {"url": "https://hooks.example.org/a b"},
        {"url": "https://hooks.example.org:99999/x"},
        {"url": "https://hooks.example.org/" + "x" * 2000},
        {"url": "https://hooks.example.org/x", "event_types": []},
        {"url": "https://hooks.example.org/x", "event_types": ["post_viewed"]},
        {"url": "https://hooks.example.org/x", "active": 1},
        {"url": "https://hooks.example.org/x", "secret": "mine"},
    ],
)
async def test_create_webhook_bad_body_returns_422(client, auth_headers, body):
    response = await client.post("/api/webhooks", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert (await client.get("/api/webhooks", headers=auth_headers)).json() == []


@pytest.mark.asyncio
async def test_webhooks_are_for_admins_only(
    client, manager_headers, user_headers, auth_headers, allow_private
):
    hook = await create(client, auth_headers, url="https://hooks.example.org/x")
    calls = [
        ("POST", "/api/webhooks", {"url": "https://hooks.example.org/y"}),
        ("GET", "/api/webhooks", None),
        ("GET", f"/api/webhooks/{hook['id']}", None),
        ("PATCH", f"/api/webhooks/{hook['id']}", {"active": False}),
        ("DELETE", f"/api/webhooks/{hook['id']}", None),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries", None),
        ("GET", "/api/webhooks/424242", None),
    ]
    for headers in (manager_headers, user_headers):
        for method, path, body in calls:
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (method, path)
            assert response.json() == {"detail": "You don't have permission to do this"}

    listed = await client.get("/api/webhooks", headers=auth_headers)
    assert [h["active"] for h in listed.json()] == [True]


@pytest.mark.asyncio
async def test_webhooks_without_token_return_401(client):
    for method, path in (
        ("POST", "/api/webhooks"),
        ("GET", "/api/webhooks"),
        ("GET", "/api/webhooks/1"),
        ("PATCH", "/api/webhooks/1"),
        ("DELETE", "/api/webhooks/1"),
        ("GET", "/api/webhooks/1/deliveries"),
    ):
        response = await client.request(method, path, json={})
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_webhooks_disabled_admin_returns_403(client, make_user, make_auth_headers):
    disabled = make_auth_headers(await make_user(role="admin", is_active=False))
    for method, path in (
        ("POST", "/api/webhooks"),
        ("GET", "/api/webhooks"),
        ("GET", "/api/webhooks/1"),
        ("PATCH", "/api/webhooks/1"),
        ("DELETE", "/api/webhooks/1"),
        ("GET", "/api/webhooks/1/deliveries"),
    ):
        response = await client.request(method, path, json={}, headers=disabled)
        assert response.status_code == 403
        assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_unknown_webhook_returns_404(client, auth_headers):
    for method, path, body in (
        ("GET", "/api/webhooks/424242", None),
        ("PATCH", "/api/webhooks/424242", {"active": False}),
        ("DELETE", "/api/webhooks/424242", None),
        ("GET", "/api/webhooks/424242/deliveries", None),
    ):
        response = await client.request(method, path, json=body, headers=auth_headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Webhook 424242 not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/webhooks/0"),
        ("GET", f"/api/webhooks/{2**63}"),
        ("PATCH", "/api/webhooks/x"),
        ("DELETE", "/api/webhooks/0"),
        ("GET", "/api/webhooks/0/deliveries"),
        ("GET", "/api/webhooks?limit=5"),
    ],
)
async def test_webhook_bad_path_or_query_returns_422(client, auth_headers, method, path):
    response = await client.request(method, path, json={"active": False}, headers=auth_headers)

    assert response.status_code == 422


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "offset=-1", "after=3"])
async def test_delivery_log_bad_query_returns_422(client, auth_headers, allow_private, query):
    hook = await create(client, auth_headers, url="https://hooks.example.org/x")

    response = await client.get(
        f"/api/webhooks/{hook['id']}/deliveries?{query}", headers=auth_headers
    )

    assert response.status_code == 422


@pytest.mark.asyncio
async def test_update_webhook_changes_only_what_is_sent(client, auth_headers, allow_private):
    hook = await create(client, auth_headers, url="https://hooks.example.org/x")

    response = await client.patch(
        f"/api/webhooks/{hook['id']}",
        json={"event_types": ["module_completed"], "active": False},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert response.json() == {
        **{k: v for k, v in hook.items() if k != "secret"},
        "event_types": ["module_completed"],
        "active": False,
    }
    moved = await client.patch(
        f"/api/webhooks/{hook['id']}",
        json={"url": "https://other.example.org/y"},
        headers=auth_headers,
    )
    assert moved.status_code == 200
    assert moved.json()["url"] == "https://other.example.org/y"


@pytest.mark.asyncio
async def test_update_webhook_refuses_a_private_url_and_bad_fields(
    client, auth_headers, allow_private, app, monkeypatch
):
    hook = await create(client, auth_headers, url="https://hooks.example.org/x")
    monkeypatch.setattr(app.state.settings, "webhook_allow_private", False)

    private = await client.patch(
        f"/api/webhooks/{hook['id']}", json={"url": "http://10.0.0.7/"}, headers=auth_headers
    )
    nulls = await client.patch(
        f"/api/webhooks/{hook['id']}", json={"url": None}, headers=auth_headers
    )
    unknown = await client.patch(
        f"/api/webhooks/{hook['id']}", json={"secret": "x"}, headers=auth_headers
    )

    assert private.status_code == 400
    assert (nulls.status_code, unknown.status_code) == (422, 422)
    got = await client.get(f"/api/webhooks/{hook['id']}", headers=auth_headers)
    assert got.json()["url"] == "https://hooks.example.org/x"


@pytest.mark.asyncio
async def test_delete_webhook_returns_204_and_drops_its_deliveries(
    client, auth_headers, user_headers, parent_post, allow_private, test_db
):
    hook = await create(client, auth_headers, url="https://hooks.example.org/x")
    await complete(client, parent_post, user_headers)

    response = await client.delete(f"/api/webhooks/{hook['id']}", headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    again = await client.get(f"/api/webhooks/{hook['id']}", headers=auth_headers)
    assert again.status_code == 404
    async with test_db.session() as session:
        assert (await session.scalars(select(WebhookDelivery.id))).all() == []


@pytest.mark.asyncio
async def test_webhook_bodies_over_1_mib_return_413(client, auth_headers):
    big = {"url": "https://hooks.example.org/" + "x" * (1024 * 1024)}
    for method, path in (("POST", "/api/webhooks"), ("PATCH", "/api/webhooks/1")):
        response = await client.request(method, path, json=big, headers=auth_headers)
        assert response.status_code == 413


# --- delivery ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_event_is_delivered_signed_once_per_wanted_type(
    client, auth_headers, user_headers, test_user, parent_post, allow_private, deliverer
):
    """The outbox owes each wanted event to the webhook; the job POSTs `{id, type,
    occurred_at, data}` with the four headers; the receiver's check of the signature with
    its copy of the secret passes (and fails with another secret, or another body)."""
    with WebhookReceiver() as receiver:
        hook = await create(
            client,
            auth_headers,
            url=receiver.url,
            event_types=["post_completed", "module_completed", "course_completed"],
        )
        await complete(client, parent_post, user_headers)
        events = (await client.get("/api/events", headers=auth_headers)).json()

        sent = await deliverer.run(T0)
        again = await deliverer.run(T0 + timedelta(hours=1))

        # Sent at once: in any order (the id orders them).
        got = sorted(receiver.script.received(), key=lambda r: r.json()["id"])
    assert (sent, again) == (3, 0)
    wanted = [e for e in events if e["type"] != "post_started"]
    assert [r.json() for r in got] == [
        {
            "id": e["id"],
            "type": e["type"],
            "occurred_at": e["occurred_at"],
            "data": {
                "user_id": test_user.id,
                "course_id": e["course_id"],
                "module_id": e["module_id"],
                "post_id": e["post_id"],
                "attempt_id": e["attempt_id"],
            },
        }
        for e in wanted
    ]
    now = int(T0.timestamp())
    for received, event in zip(got, wanted, strict=True):
        assert received.headers["content-type"] == "application/json"
        assert received.headers["x-tma-event"] == event["type"]
        assert received.headers["x-tma-timestamp"] == str(now)
        assert uuid.UUID(received.headers["x-tma-delivery"]).version == 5
        assert verify(hook["secret"], received, now=now)
        assert not verify("whsec_someone-else", received, now=now)
        tampered = type(received)(received.headers, received.body.replace(b"}", b" }", 1))
        assert not verify(hook["secret"], tampered, now=now)
        assert not verify(hook["secret"], received, now=now + 3600)  # a replay, too late
    assert len({r.headers["x-tma-delivery"] for r in got}) == 3
    log = await log_of(client, hook["id"], auth_headers)
    assert [(d["event_id"], d["try"], d["status_code"], d["error"]) for d in log] == [
        (e["id"], 1, 200, None) for e in wanted
    ]
    assert sorted(d["delivery_id"] for d in log) == sorted(r.headers["x-tma-delivery"] for r in got)


@pytest.mark.asyncio
async def test_a_failing_receiver_is_retried_with_backoff_until_it_recovers(
    client, auth_headers, user_headers, parent_post, allow_private, deliverer
):
    """500, then 503, then 200: tries at T0, T0+10 s and T0+30 s (nothing is due before),
    each with the same delivery id; the log keeps each try."""
    with WebhookReceiver(Script(statuses=[500, 503])) as receiver:
        hook = await create(
            client, auth_headers, url=receiver.url, event_types=["course_completed"]
        )
        await complete(client, parent_post, user_headers)

        tried = [
            await deliverer.run(T0),
            await deliverer.run(T0 + timedelta(seconds=9)),
            await deliverer.run(T0 + timedelta(seconds=10)),
            await deliverer.run(T0 + timedelta(seconds=29)),
            await deliverer.run(T0 + timedelta(seconds=30)),
            await deliverer.run(T0 + timedelta(days=1)),
        ]
        got = receiver.script.received()

    assert tried == [1, 0, 1, 0, 1, 0]
    assert len({r.headers["x-tma-delivery"] for r in got}) == 1
    assert [r.headers["x-tma-timestamp"] for r in got] == [
        str(int((T0 + timedelta(seconds=s)).timestamp())) for s in (0, 10, 30)
    ]
    assert all(verify(hook["secret"], r, now=int(r.headers["x-tma-timestamp"])) for r in got)
    log = await log_of(client, hook["id"], auth_headers)
    assert [(d["try"], d["status_code"], d["error"]) for d in log] == [
        (1, 500, "HTTP 500"),
        (2, 503, "HTTP 503"),
        (3, 200, None),
    ]
    assert [d["created_at"] for d in log] == [
        (T0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z") for s in (0, 10, 30)
    ]


@pytest.mark.asyncio
async def test_a_receiver_that_never_recovers_gets_eight_tries_then_none(
    client, auth_headers, user_headers, parent_post, allow_private, deliverer, test_db
):
    """Eight tries, 10 s after the first and doubling (10, 20, ..., 640 s), then `failed`."""
    with WebhookReceiver(Script(statuses=[500] * 20)) as receiver:
        hook = await create(
            client, auth_headers, url=receiver.url, event_types=["course_completed"]
        )
        await complete(client, parent_post, user_headers)
        at, tried = T0, []
        for wait in (0, 10, 20, 40, 80, 160, 320, 640, 1280):
            at += timedelta(seconds=wait)
            tried.append(await deliverer.run(at))
        tried.append(await deliverer.run(at + timedelta(days=30)))
        got = receiver.script.received()

    assert tried == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert len(got) == 8
    log = await log_of(client, hook["id"], auth_headers)
    assert [d["try"] for d in log] == [1, 2, 3, 4, 5, 6, 7, 8]
    async with test_db.session() as session:
        (delivery,) = (await session.scalars(select(WebhookDelivery))).all()
        assert (delivery.status, delivery.tries, delivery.next_try_at) == ("failed", 8, None)


@pytest.mark.asyncio
async def test_an_unreachable_receiver_and_an_inactive_webhook(
    client, auth_headers, user_headers, parent_post, allow_private, deliverer
):
    """No answer at all: a try without a status code, retried; deliveries owed to a
    webhook made inactive wait until it is active again; events recorded while it is
    inactive are not owed to it."""
    with WebhookReceiver() as receiver:
        closed = f"http://127.0.0.1:{receiver.port}/hook"
    down = await create(client, auth_headers, url=closed, event_types=["course_completed"])
    with WebhookReceiver() as receiver:
        paused = await create(client, auth_headers, url=receiver.url)
        await complete(client, parent_post, user_headers)  # 4 events owed to `paused`
        off = await client.patch(
            f"/api/webhooks/{paused['id']}", json={"active": False}, headers=auth_headers
        )
        assert off.status_code == 200
        other = await client.put(
            f"/api/progress/{parent_post}", json={"status": "completed"}, headers=user_headers
        )
        assert other.status_code == 200

        first = await deliverer.run(T0)
        on = await client.patch(
            f"/api/webhooks/{paused['id']}", json={"active": True}, headers=auth_headers
        )
        assert on.status_code == 200
        second = await deliverer.run(T0 + timedelta(seconds=1))
        got = receiver.script.received()

    assert (first, second, len(got)) == (1, 4, 4)
    (failed,) = await log_of(client, down["id"], auth_headers)
    assert (failed["try"], failed["status_code"]) == (1, None)
    assert failed["error"].startswith("ConnectError")


@pytest.mark.asyncio
async def test_a_url_that_became_private_is_refused_at_delivery(
    client, auth_headers, user_headers, parent_post, allow_private, app, test_settings, test_db
):
    """The private-address check runs again at each try: with the setting off, the
    delivery to the loopback receiver is a failed try, and nothing is sent."""
    settings = test_settings.model_copy(update={"webhook_allow_private": False})
    queue = Queue(settings, db=app.state.db)
    await queue.start()
    try:
        with WebhookReceiver() as receiver:
            hook = await create(
                client, auth_headers, url=receiver.url, event_types=["course_completed"]
            )
            await complete(client, parent_post, user_headers)
            tried = await Deliverer(queue).run(T0)
            got = receiver.script.received()
    finally:
        await queue.stop()

    assert (tried, got) == (1, [])
    (refused,) = await log_of(client, hook["id"], auth_headers)
    assert (refused["status_code"], refused["error"]) == (
        None,
        "Webhook URLs to private or loopback addresses are refused",
    )


@pytest.mark.asyncio
async def test_delivery_log_pages_with_total(
    client, auth_headers, user_headers, parent_post, allow_private, deliverer
):
    with WebhookReceiver() as receiver:
        hook = await create(client, auth_headers, url=receiver.url)
        await complete(client, parent_post, user_headers)
        await deliverer.run(T0)

    every = await log_of(client, hook["id"], auth_headers)
    page = await client.get(
        f"/api/webhooks/{hook['id']}/deliveries?limit=2&offset=1", headers=auth_headers
    )

    assert len(every) == 4
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "4"
    assert page.json() == every[1:3]


# --- pushing xAPI statements to an LRS -----------------------------------------------------


@pytest.mark.asyncio
async def test_statements_are_pushed_to_the_lrs_once_and_again_after_a_failure(
    client, app, test_settings, test_db, auth_headers, user_headers, parent_post
):
    """With `TMA_LRS_URL`, the job POSTs the statements not yet taken, as a JSON array with
    `X-Experience-API-Version` and the configured `Authorization`: the same statements
    `GET /api/xapi/statements` gives, each valid. An LRS answering 503 keeps them owed: the
    next run sends the same ids; once taken, nothing is sent again."""
    from jsonschema import Draft202012Validator

    from xapi_schema import STATEMENT

    with WebhookReceiver(Script(statuses=[503])) as lrs:
        settings = test_settings.model_copy(
            update={
                "lrs_url": lrs.url,
                "lrs_auth": SecretStr("Basic a2V5OnNlY3JldA=="),
                "public_url": "http://test",
            }
        )
        queue = Queue(settings, db=app.state.db)
        await queue.start()
        try:
            await complete(client, parent_post, user_headers)
            runs = [await Deliverer(queue).run(T0 + timedelta(seconds=s)) for s in (0, 5, 10)]
        finally:
            await queue.stop()
        got = lrs.script.received()

    listed = await client.get("/api/xapi/statements", headers=auth_headers)
    assert listed.status_code == 200
    assert runs == [0, 4, 0]
    assert len(got) == 2
    assert got[0].body == got[1].body  # the failed push, sent again as it was
    for received in got:
        assert received.headers["x-experience-api-version"] == "1.0.3"
        assert received.headers["authorization"] == "Basic a2V5OnNlY3JldA=="
        assert received.headers["content-type"] == "application/json"
    pushed = got[1].json()
    assert pushed == listed.json()["statements"]
    validator = Draft202012Validator(STATEMENT)
    assert [list(validator.iter_errors(s)) for s in pushed] == [[]] * 4
