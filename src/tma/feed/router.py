"""GET /api/feed: what a parent should do next (companion spec §4)."""

from typing import Annotated

from fastapi import Query, Request, Response

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.errors import Forbidden, responses
from tma.core.pagination import MAX_OFFSET, Page, list_response
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_list_adapter
from tma.courses.availability import today_of
from tma.feed import service
from tma.feed.schemas import FeedItem
from tma.i18n.dependencies import in_language, translator
from tma.i18n.texts import translate_feed
from tma.users.dependencies import CurrentUser
from tma.users.models import SystemRole

router = PrefixedRouter(prefix="/feed", tags=["feed"], responses=responses(401, 403))

_LIST = row_list_adapter(FeedItem)
PARENTS_ONLY = "The feed is for parents (system role user)"


@router.get("", response_model=list[FeedItem], responses=responses(422))
async def get_feed(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=50, description="At most this many")] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many")] = 0,
) -> Response:
    """Your next posts to do, across your open modules, fitted to your children's ages."""
    if user.role.name != SystemRole.USER:
        raise Forbidden(PARENTS_ONLY)
    rows, total = await service.feed(
        session, caller=user, today=today_of(now), page=Page(limit=limit, offset=offset)
    )
    language = await translate_feed(session, translator(request, user), rows)
    return in_language(list_response(_LIST, rows, total), language)
