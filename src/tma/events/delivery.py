"""Webhook delivery: the outbox (`webhook_deliveries`) drained by a job of the queue.

A job (`tma.deliver_events`, tma.notifications.queue; every `TMA_WEBHOOK_POLL_SECONDS`)
takes the due deliveries under a lease (one `UPDATE ... RETURNING`: a delivery pending,
due, of an active webhook, not leased by another job), commits, POSTs each event signed
with its webhook's secret, then records each try (`webhook_tries`) and its outcome: a 2xx
is `delivered`; anything else (another status, a timeout, a refused connection, a URL that
now resolves to a private address) is retried after 10 s, 20 s, 40 s, ... (doubling), up
to 8 tries, then `failed`. A job that dies between sending and recording leaves the lease
to expire (`TMA_WEBHOOK_LEASE_SECONDS`): the next job sends it again with the same
`X-TMA-Delivery` (one per event and webhook), so a receiver may see a delivery twice and
drops the second by that id; an event is never lost.

Signature (what a receiver checks): `X-TMA-Timestamp` is the Unix time of the try in
seconds, `X-TMA-Signature` is `sha256=` and the hex HMAC-SHA256, keyed with the webhook's
secret (as UTF-8), of the timestamp, a full stop and the raw body bytes.
"""

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import BigInteger, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import UTCDateTime
from tma.core.errors import Conflict
from tma.events.models import DeliveryStatus, LearningEvent, Webhook, WebhookDelivery, WebhookTry
from tma.events.service import check_destination

TIMEOUT_SECONDS = 10.0
MAX_TRIES = 8
FIRST_RETRY_SECONDS = 10
BATCH = 50
# The namespace of delivery ids: uuid5 of "<webhook id>/<event id>" in it.
_DELIVERY_NAMESPACE = uuid.UUID("8a3f4f8e-56a1-4c3b-9e43-5b1d2f0c7a61")
PENDING = DeliveryStatus.PENDING.value

_NOW = bindparam("now", type_=UTCDateTime())
_DUE = (
    select(WebhookDelivery.id)
    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
    .where(
        WebhookDelivery.status == PENDING,
        Webhook.active,
        or_(WebhookDelivery.next_try_at.is_(None), WebhookDelivery.next_try_at <= _NOW),
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= _NOW),
    )
    .order_by(WebhookDelivery.id)
    .limit(BATCH)
)
# The conditions again on the row itself: a row leased by another job meanwhile is
# re-checked by PostgreSQL after that job commits, and no longer matches.
_CLAIM = (
    update(WebhookDelivery)
    .where(
        WebhookDelivery.id.in_(_DUE.scalar_subquery()),
        WebhookDelivery.status == PENDING,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= _NOW),
    )
    .values(lease_until=bindparam("until", type_=UTCDateTime()))
    .returning(WebhookDelivery.id)
    .execution_options(synchronize_session=False)
)
_CLAIMED = (
    select(
        WebhookDelivery.id,
        WebhookDelivery.tries,
        WebhookDelivery.webhook_id,
        Webhook.url,
        Webhook.secret,
        LearningEvent.id.label("event_id"),
        LearningEvent.type,
        LearningEvent.occurred_at,
        LearningEvent.user_id,
        LearningEvent.course_id,
        LearningEvent.module_id,
        LearningEvent.post_id,
        LearningEvent.attempt_id,
        LearningEvent.data,
    )
    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
    .join(LearningEvent, LearningEvent.id == WebhookDelivery.event_id)
    .where(WebhookDelivery.id.in_(bindparam("ids", expanding=True, type_=BigInteger)))
    .order_by(WebhookDelivery.id)
)
_deliveries = cast(Table, WebhookDelivery.__table__)
_tries = cast(Table, WebhookTry.__table__)
# Core (an executemany of one UPDATE per delivery), with the values each row gets.
_SETTLE = (
    update(_deliveries)
    .where(
        and_(
            _deliveries.c.id == bindparam("delivery_pk", type_=BigInteger),
            _deliveries.c.status == PENDING,
        )
    )
    .values(
        status=bindparam("new_status"),
        tries=bindparam("new_tries"),
        next_try_at=bindparam("new_next_try_at", type_=UTCDateTime()),
        lease_until=None,
    )
)


def delivery_id(webhook_id: int, event_id: int) -> str:
    """The delivery's id, the same on every try (`X-TMA-Delivery`)."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{webhook_id}/{event_id}"))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`X-TMA-Signature`'s value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def backoff(tries: int) -> timedelta:
    """The wait after the `tries`-th failed try: 10 s, then doubling."""
    return timedelta(seconds=FIRST_RETRY_SECONDS * 2 ** (tries - 1))


def payload(row: Any) -> dict[str, Any]:
    """The JSON POSTed for an event: `{id, type, occurred_at, data}`, `data` holding the
    learner and what the event is about."""
    data = {
        "user_id": row["user_id"],
        "course_id": row["course_id"],
        "module_id": row["module_id"],
        "post_id": row["post_id"],
        "attempt_id": row["attempt_id"],
        **(row["data"] or {}),
    }
    return {
        "id": row["event_id"],
        "type": row["type"],
        "occurred_at": row["occurred_at"].isoformat().replace("+00:00", "Z"),
        "data": data,
    }


async def _send(
    http: httpx.AsyncClient, row: Any, now: datetime, allow_private: bool
) -> tuple[int | None, str | None]:
    """One try: the status code (None when there was no answer) and an error text (None
    for a 2xx)."""
    body = json.dumps(payload(row), separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tma-webhooks/1",
        "X-TMA-Event": row["type"],
        "X-TMA-Delivery": delivery_id(row["webhook_id"], row["event_id"]),
        "X-TMA-Timestamp": timestamp,
        "X-TMA-Signature": sign(row["secret"], timestamp, body),
    }
    try:
        await check_destination(row["url"], allow_private=allow_private)
        response = await http.post(row["url"], content=body, headers=headers)
    except Conflict as exc:
        return None, str(exc.detail)[:500]
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def deliver_due(
    session: AsyncSession,
    *,
    http: httpx.AsyncClient,
    now: datetime,
    lease_seconds: int,
    allow_private: bool,
) -> int:
    """Send the deliveries due at `now` (a batch of at most `BATCH`) and record each try;
    returns how many were tried."""
    claimed = await session.execute(
        _CLAIM, {"now": now, "until": now + timedelta(seconds=lease_seconds)}
    )
    ids = list(claimed.scalars())
    await session.commit()
    if not ids:
        return 0
    due = [dict(row) for row in (await session.execute(_CLAIMED, {"ids": ids})).mappings()]
    await session.commit()
    outcomes = await asyncio.gather(*(_send(http, row, now, allow_private) for row in due))
    tries = []
    settled = []
    for row, (status_code, error) in zip(due, outcomes, strict=True):
        number = row["tries"] + 1
        tries.append(
            {
                "webhook_id": row["webhook_id"],
                "event_id": row["event_id"],
                "delivery_id": delivery_id(row["webhook_id"], row["event_id"]),
                "try": number,
                "status_code": status_code,
                "error": error,
                "created_at": now,
            }
        )
        if error is None:
            status, next_try = DeliveryStatus.DELIVERED.value, None
        elif number >= MAX_TRIES:
            status, next_try = DeliveryStatus.FAILED.value, None
        else:
            status, next_try = PENDING, now + backoff(number)
        settled.append(
            {
                "delivery_pk": row["id"],
                "new_status": status,
                "new_tries": number,
                "new_next_try_at": next_try,
            }
        )
    await session.execute(insert(_tries), tries)
    await session.execute(_SETTLE, settled)
    await session.commit()
    return len(due)
