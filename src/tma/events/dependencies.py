"""A webhook from its path id, for an admin (exists -> may manage)."""

from typing import Annotated

from fastapi import Depends, Path

from tma.core.db import SessionDep
from tma.core.types import MAX_ID
from tma.events import service
from tma.events.models import Webhook
from tma.users.dependencies import AdminUser

WebhookIdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


async def admin_webhook(
    webhook_id: WebhookIdPath, _admin: AdminUser, session: SessionDep
) -> Webhook:
    """The webhook, for an admin (403 for others, checked before existence)."""
    return await service.get_webhook(session, webhook_id=webhook_id)


AdminWebhook = Annotated[Webhook, Depends(admin_webhook)]
