"""Learning events under /api/events, webhooks under /api/webhooks (admin)."""

from typing import Annotated, Any

from fastapi import Query, Response, status
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.public_url import public_base
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_adapter, row_list_adapter
from tma.core.types import MAX_ID, IsoInstant
from tma.events import service, xapi
from tma.events.dependencies import AdminWebhook
from tma.events.schemas import (
    DeliveryRead,
    EventRead,
    StatementPage,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)
from tma.users.dependencies import AdminUser, CurrentUser

_EVENTS = row_list_adapter(EventRead)
_WEBHOOK = row_adapter(WebhookRead)
_WEBHOOKS = row_list_adapter(WebhookRead)
_CREATED = row_adapter(WebhookCreated)
_STATEMENTS = row_adapter(StatementPage)
# `try` is a Python keyword: the row's key is the JSON's, the model's field an alias of it.
DeliveryRow: Any = TypedDict(
    "DeliveryRow",
    {
        "delivery_id": str,
        "event_id": int,
        "try": int,
        "status_code": int | None,
        "error": str | None,
        "created_at": Any,
    },
)
_DELIVERIES: TypeAdapter[Any] = TypeAdapter(list[DeliveryRow])

# The preamble every domain's router has (imports of its models, adapters, routers):
# alike in shape with tma.courses.router's and tma.progress.router's.
xapi_router = PrefixedRouter(prefix="/xapi", tags=["events"], responses=responses(401, 403))
events_router = PrefixedRouter(prefix="/events", tags=["events"], responses=responses(401, 403))
router = PrefixedRouter(prefix="/webhooks", tags=["webhooks"], responses=responses(401, 403))


@events_router.get("", response_model=list[EventRead], responses=responses(422))
async def list_events(
    caller: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Events after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 100,
) -> Response:
    """Learning events after `after`, by id: an admin's every one, a manager's their own
    and those of the members of groups they own or moderate, a user's their own."""
    found = await service.list_events(session, viewer=caller, after=after, limit=limit)
    return json_response(_EVENTS, found)


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 422),
)
async def create_webhook(
    body: WebhookCreate, _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """A webhook; its `secret` is in this response only."""
    created = await service.create_webhook(
        session, data=body, allow_private=settings.webhook_allow_private
    )
    response = json_response(_CREATED, created)
    response.status_code = status.HTTP_201_CREATED
    return response


@router.get("", response_model=list[WebhookRead], responses=responses(422))
async def list_webhooks(_admin: AdminUser, session: SessionDep) -> Response:
    """Every webhook, by id (no secrets)."""
    return json_response(_WEBHOOKS, await service.list_webhooks(session))


@router.get("/{webhook_id}", response_model=WebhookRead, responses=responses(404, 422))
async def get_webhook(hook: AdminWebhook) -> Response:
    """One webhook (no secret)."""
    return json_response(_WEBHOOK, service.webhook_read(hook))


@router.patch("/{webhook_id}", response_model=WebhookRead, responses=responses(400, 404, 422))
async def update_webhook(
    hook: AdminWebhook, body: WebhookUpdate, session: SessionDep, settings: SettingsDep
) -> Response:
    """Change a webhook's URL, event types or `active`."""
    updated = await service.update_webhook(
        session, hook=hook, data=body, allow_private=settings.webhook_allow_private
    )
    return json_response(_WEBHOOK, updated)


@router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422)
)
async def delete_webhook(hook: AdminWebhook, session: SessionDep) -> Response:
    """Delete a webhook with its pending deliveries and its log."""
    await service.delete_webhook(session, hook=hook)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries", response_model=list[DeliveryRead], responses=responses(404, 422)
)
async def list_webhook_deliveries(
    hook: AdminWebhook, session: SessionDep, page: PageDep
) -> Response:
    """Each try of delivering an event to the webhook, oldest first; `X-Total-Count`."""
    found, total = await service.list_deliveries(session, hook=hook, page=page)
    return list_response(_DELIVERIES, found, total)


@xapi_router.get("/statements", response_model=StatementPage, responses=responses(422))
async def list_xapi_statements(
    _admin: AdminUser,
    session: SessionDep,
    since: Annotated[
        IsoInstant | None, Query(description="Only statements stored after this instant")
    ] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Events after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 100,
) -> Response:
    """The learning events as xAPI 1.0.3 statements, by id; `more` pages on."""
    page = await xapi.list_statements(
        session, base=public_base(), since=since, after=after, limit=limit
    )
    response = json_response(_STATEMENTS, page)
    response.headers["X-Experience-API-Version"] = xapi.VERSION
    return response
