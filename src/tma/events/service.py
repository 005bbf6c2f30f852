"""The reads of learning events, and the webhooks' CRUD and delivery log."""

import asyncio
import ipaddress
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, Integer, bindparam, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.errors import Conflict, NotFound
from tma.core.pagination import ListQuery, Page
from tma.core.reads import rows
from tma.events.models import EVENT_TYPES, LearningEvent, Webhook, WebhookTry
from tma.events.schemas import WebhookCreate, WebhookUpdate
from tma.groups import privacy
from tma.users.caller import Caller

# --- events -------------------------------------------------------------------------------

# The statements' parameters and columns, built once: alike in shape with the sync's
# (tma.progress.sync) and every read module's.
_AFTER = bindparam("after", type_=BigInteger)
_LIMIT = bindparam("limit", type_=Integer)
_VIEWER = bindparam("viewer_id", type_=BigInteger)
EVENT_COLUMNS = (
    LearningEvent.id,
    LearningEvent.type,
    LearningEvent.user_id,
    LearningEvent.occurred_at,
    LearningEvent.course_id,
    LearningEvent.module_id,
    LearningEvent.post_id,
    LearningEvent.attempt_id,
    LearningEvent.data,
)
_EVENTS = (
    select(*EVENT_COLUMNS).where(LearningEvent.id > _AFTER).order_by(LearningEvent.id).limit(_LIMIT)
)
# The privacy rule (tma.groups.privacy): a manager reads their own events and those of the
# members of the groups they own or moderate; a `user` their own.
_EVENTS_OF_MANAGED = _EVENTS.where(
    or_(
        LearningEvent.user_id == _VIEWER,
        LearningEvent.user_id.in_(privacy.managed_members(_VIEWER)),
    )
)
_EVENTS_OF_OWN = _EVENTS.where(LearningEvent.user_id == _VIEWER)


def with_data(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of `EVENT_COLUMNS` with `data` an object (null stored for none)."""
    for row in found:
        if row["data"] is None:
            row["data"] = {}
    return found


async def list_events(
    session: AsyncSession, *, viewer: Caller, after: int, limit: int
) -> list[dict[str, Any]]:
    """The events after id `after` the viewer may see, by id, at most `limit`: one
    statement."""
    if privacy.is_admin(viewer):
        found = await rows(session, _EVENTS, after=after, limit=limit)
    else:
        statement = _EVENTS_OF_MANAGED if privacy.is_manager(viewer) else _EVENTS_OF_OWN
        found = await rows(session, statement, after=after, limit=limit, viewer_id=viewer.id)
    return with_data([dict(row) for row in found])


# --- webhooks -----------------------------------------------------------------------------

PRIVATE_REFUSED = "Webhook URLs to private or loopback addresses are refused"


def _stored_types(types: list[str]) -> str:
    return "," + ",".join(types) + ","


def webhook_read(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "event_types": [kind for kind in EVENT_TYPES if f",{kind}," in hook.event_types],
        "active": hook.active,
        "created_at": hook.created_at,
    }


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Conflict unless every address `url`'s host names (an IP, or what its name resolves
    to now) is public, or private ones are allowed. A name that does not resolve is
    refused too (nothing could be delivered to it)."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, None)
        except (OSError, UnicodeError, ValueError):  # no such name; not encodable as one
            raise Conflict(f"Webhook URL host {host} does not resolve") from None
        addresses = [str(info[4][0]) for info in found]
    if not addresses or not all(_public(address) for address in addresses):
        raise Conflict(PRIVATE_REFUSED)


async def create_webhook(
    session: AsyncSession, *, data: WebhookCreate, allow_private: bool
) -> dict[str, Any]:
    await check_destination(data.url, allow_private=allow_private)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        url=data.url,
        secret=secret,
        event_types=_stored_types([kind.value for kind in data.event_types]),
        active=data.active,
    )
    session.add(hook)
    await session.commit()
    return {**webhook_read(hook), "secret": secret}


async def get_webhook(session: AsyncSession, *, webhook_id: int) -> Webhook:
    hook = await session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return hook


async def list_webhooks(session: AsyncSession) -> list[dict[str, Any]]:
    found = await session.scalars(select(Webhook).order_by(Webhook.id))
    return [webhook_read(hook) for hook in found]


async def update_webhook(
    session: AsyncSession, *, hook: Webhook, data: WebhookUpdate, allow_private: bool
) -> dict[str, Any]:
    changes = data.changes()
    if "url" in changes:
        await check_destination(changes["url"], allow_private=allow_private)
        hook.url = changes["url"]
    if "event_types" in changes:
        hook.event_types = _stored_types(changes["event_types"])
    if "active" in changes:
        hook.active = changes["active"]
    await session.commit()
    return webhook_read(hook)


async def delete_webhook(session: AsyncSession, *, hook: Webhook) -> None:
    """The webhook, its pending deliveries and its log (cascade)."""
    await session.execute(delete(Webhook).where(Webhook.id == hook.id))
    await session.commit()


_OF_HOOK = WebhookTry.webhook_id == bindparam("webhook_id", type_=BigInteger)
_TRIES = ListQuery(
    select(
        WebhookTry.delivery_id,
        WebhookTry.event_id,
        WebhookTry.try_number.label("try"),
        WebhookTry.status_code,
        WebhookTry.error,
        WebhookTry.created_at,
    )
    .where(_OF_HOOK)
    .order_by(WebhookTry.id),
    count=select(WebhookTry.id).where(_OF_HOOK),
)


async def list_deliveries(
    session: AsyncSession, *, hook: Webhook, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """Each try of the webhook's deliveries, oldest first, and their number."""
    return await _TRIES.page(session, page, webhook_id=hook.id)
