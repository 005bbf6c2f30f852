"""Notifications under /api/notifications; the caller's notification settings and push
tokens under /api/auth/me."""

from typing import Annotated

from fastapi import Path, Response, status

from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_adapter, row_list_adapter
from tma.notifications import service
from tma.notifications.dependencies import Now
from tma.notifications.schemas import (
    MarkRead,
    NotificationRead,
    NotificationSettingsRead,
    NotificationSettingsUpdate,
    PushTokenCreate,
    PushTokenRead,
)
from tma.users.dependencies import CurrentUser

# The preamble every domain's router has (its models' adapters, then its router): alike
# in shape only with tma.courses.router's.
_LIST = row_list_adapter(NotificationRead)
_SETTINGS = row_adapter(NotificationSettingsRead)
_TOKEN = row_adapter(PushTokenRead)

router = PrefixedRouter(
    prefix="/notifications", tags=["notifications"], responses=responses(401, 403)
)
# Same prefix as the auth router: each skips paths outside its prefix only.
me_router = PrefixedRouter(prefix="/auth/me", tags=["notifications"], responses=responses(401, 403))

TokenPath = Annotated[str, Path(min_length=1, max_length=200, description="An Expo push token")]


@router.get("", response_model=list[NotificationRead], responses=responses(422))
async def list_notifications(user: CurrentUser, session: SessionDep, page: PageDep) -> Response:
    """Your notifications, newest first; `X-Total-Count` and `X-Unread-Count` headers."""
    rows, total, unread = await service.list_notifications(session, user_id=user.id, page=page)
    response = list_response(_LIST, rows, total)
    response.headers["X-Unread-Count"] = str(unread)
    return response


@router.post("/read", status_code=status.HTTP_204_NO_CONTENT, responses=responses(422))
async def mark_read(body: MarkRead, user: CurrentUser, session: SessionDep, now: Now) -> Response:
    """Mark some of your notifications (`ids`) or all of them (`all: true`) read."""
    await service.mark_read(session, user_id=user.id, ids=body.ids, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get(
    "/notification-settings", response_model=NotificationSettingsRead, responses=responses(422)
)
async def get_settings(user: CurrentUser, session: SessionDep) -> Response:
    """How you want to be told: e-mail, push, reminders, quiet hours, time zone."""
    values = await service.settings_of(session, user_id=user.id)
    return json_response(_SETTINGS, service.settings_body(values))


@me_router.patch(
    "/notification-settings", response_model=NotificationSettingsRead, responses=responses(422)
)
async def update_settings(
    body: NotificationSettingsUpdate, user: CurrentUser, session: SessionDep, now: Now
) -> Response:
    """Change some of your notification settings (only the fields sent)."""
    values = await service.update_settings(session, user_id=user.id, data=body, now=now)
    return json_response(_SETTINGS, service.settings_body(values))


@me_router.post(
    "/push-tokens",
    response_model=PushTokenRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(422),
)
async def add_push_token(
    body: PushTokenCreate, user: CurrentUser, session: SessionDep, now: Now
) -> Response:
    """Register a device's Expo push token (again: nothing changes, same answer)."""
    token = await service.add_push_token(session, user_id=user.id, token=body.token, now=now)
    response = json_response(_TOKEN, token)
    response.status_code = status.HTTP_201_CREATED
    return response


@me_router.delete(
    "/push-tokens/{token}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422)
)
async def delete_push_token(token: TokenPath, user: CurrentUser, session: SessionDep) -> Response:
    """Forget one of your push tokens (the app logs out, or push is turned off on the phone)."""
    await service.delete_push_token(session, user_id=user.id, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
