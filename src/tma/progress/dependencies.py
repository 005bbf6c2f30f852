"""A post with the caller's progress on it (quizzes and progress: the post exists -> the
caller may see it), and whose progress and attempts a caller may read."""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy import and_, select

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.errors import Forbidden, NotFound
from tma.core.reads import first
from tma.courses import availability
from tma.posts.dependencies import PostIdPath
from tma.posts.models import Post
from tma.posts.service import post_open_to, post_visible_to
from tma.progress.models import PostProgress
from tma.users.caller import Caller
from tma.users.dependencies import CurrentUser
from tma.users.service import is_staff, viewer_id


@dataclass(frozen=True, slots=True)
class CallerPost:
    """What quizzes and progress need of a post, with the caller's progress on it."""

    id: int
    post_type: str
    pass_mark: int | None
    status: str | None  # the caller's progress row, None for `not_started`
    updated_at: datetime | None
    completed_at: datetime | None
    module_id: int  # where it was when read: progress writes lock it (progress.service)
    started_at: datetime | None = None


async def visible_post_progress(
    post_id: PostIdPath, user: CurrentUser, session: SessionDep, now: Now
) -> CallerPost:
    """The post, if it exists (404) and the caller sees its module (403 for a `user` whose
    groups' courses do not hold it; staff see every post) and the module is open to them
    (403 with the reason: tma.courses.availability), in one statement."""
    viewer = viewer_id(user)
    visible = post_visible_to(viewer)
    stmt = (
        select(
            Post.id,
            Post.post_type,
            Post.pass_mark,
            PostProgress.status,
            PostProgress.updated_at,
            PostProgress.completed_at,
            Post.module_id,
            PostProgress.started_at,
            visible.label("visible"),
            post_open_to(viewer, availability.today_of(now)).label("open"),
        )
        .outerjoin(
            PostProgress, and_(PostProgress.post_id == Post.id, PostProgress.user_id == user.id)
        )
        .where(Post.id == post_id)
    )
    row = await first(session, stmt)
    if row is None:
        raise NotFound(f"Post {post_id} not found")
    if not row["visible"]:
        raise Forbidden("You don't have access to this post")
    if viewer is not None and not row["open"]:
        raise await availability.refusal(
            session, module_id=row["module_id"], user_id=viewer, now=now
        )
    return CallerPost(**{field: row[field] for field in _CALLER_POST_FIELDS})


_CALLER_POST_FIELDS = tuple(field.name for field in fields(CallerPost))


def check_sees_user(caller: Caller, user_id: int) -> None:
    """Progress and attempts are their owner's: a `user` reads only their own (403
    otherwise, before the id is looked up); staff go on to `check_sees_learner`."""
    if user_id != caller.id and not is_staff(caller):
        raise Forbidden("You may only see your own progress")


# Not `posts.dependencies.VisiblePost` (the ORM `Post`, for post detail and the quiz read):
# the columns quizzes and progress need with the caller's progress row, in one statement.
VisiblePostProgress = Annotated[CallerPost, Depends(visible_post_progress)]
