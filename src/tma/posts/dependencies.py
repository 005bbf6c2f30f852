"""Post checks that chain: the post exists -> the caller may see it."""

from typing import Annotated

from fastapi import Depends, Path

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.types import MAX_ID
from tma.posts import service
from tma.posts.models import Post
from tma.users.dependencies import CurrentUser
from tma.users.service import viewer_id

PostIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A post id")]


async def visible_post(
    post_id: PostIdPath, user: CurrentUser, session: SessionDep, now: Now
) -> Post:
    """The post, if it exists (404) and the caller sees its module (403 for a user whose
    groups have no course with it) and the module is open to them (403 with the reason:
    tma.courses.availability)."""
    return await service.load_post(session, post_id=post_id, viewer_id=viewer_id(user), now=now)


VisiblePost = Annotated[Post, Depends(visible_post)]
