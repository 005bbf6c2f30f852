"""Posts under /api/posts: any signed-in user reads what they see; admins write."""

from typing import Annotated

from fastapi import Query, Request, Response, status

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_list_adapter
from tma.core.types import MAX_ID
from tma.i18n.dependencies import in_language, translator
from tma.i18n.service import Translator
from tma.i18n.texts import translate_post, translate_posts
from tma.posts import service
from tma.posts.dependencies import PostIdPath, VisiblePost
from tma.posts.models import Post, PostType
from tma.posts.quiz import load_quiz
from tma.posts.schemas import PostCreate, PostDetail, PostRead, PostUpdate
from tma.users.caller import Caller
from tma.users.dependencies import AdminUser, CurrentUser
from tma.users.service import is_staff, viewer_id

router = PrefixedRouter(prefix="/posts", tags=["posts"], responses=responses(401, 403))

_POST_LIST = row_list_adapter(PostRead)


async def _detail(
    session: SessionDep,
    post: Post,
    user: Caller,
    settings: SettingsDep,
    into: tuple[Translator, Response] | None = None,
) -> PostDetail:
    """The post detail; `into`: translated by the translator, its language said on the
    response (a read; the writes answer in the stored texts)."""
    row = {column.key: getattr(post, column.key) for column in service.POST_COLUMNS}
    quiz = None
    if post.post_type == PostType.QUIZ:
        quiz = await load_quiz(session, post=post, staff=is_staff(user))
    progress = await service.progress_of(session, post_id=post.id, user_id=user.id)
    body = {**service.post_dict(row, settings), "progress": progress, "quiz": quiz}
    if into is not None:
        in_language(into[1], await translate_post(session, into[0], body))
    return PostDetail.model_validate(body)


@router.get("", response_model=list[PostRead], responses=responses(404, 422))
async def list_posts(
    user: CurrentUser,
    page: PageDep,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    request: Request,
    module_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only the posts of this module")
    ] = None,
) -> Response:
    """Posts you see: with `module_id`, that module's in order; else by module (oldest
    first), then order (a `user`: of the modules open to them)."""
    if module_id is None:
        rows, total = await service.list_posts(
            session, viewer_id=viewer_id(user), page=page, now=now
        )
    else:
        # What the mobile client calls for a module screen: the module's existence and
        # visibility come with its posts in one statement (docs/performance.md).
        rows, total = await service.module_post_page(
            session, module_id=module_id, viewer_id=viewer_id(user), page=page, now=now
        )
    posts = [service.post_dict(row, settings) for row in rows]
    language = await translate_posts(session, translator(request, user), posts)
    return in_language(list_response(_POST_LIST, posts, total), language)


@router.post("", **created(PostDetail, 400, 404, 422))
async def create_post(
    body: PostCreate, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> PostDetail:
    """Create a post in a module at `ordering` (default last), a quiz with its questions
    (admin)."""
    post = await service.create_post(session, data=body)
    return await _detail(session, post, admin, settings)


@router.get("/{post_id}", response_model=PostDetail, responses=responses(404, 422))
async def get_post(
    post: VisiblePost,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> PostDetail:
    """One post with your progress on it and, for a quiz, the quiz (answers for staff
    only); in your language where translated."""
    return await _detail(session, post, user, settings, (translator(request, user), response))


@router.patch("/{post_id}", response_model=PostDetail, responses=responses(400, 404, 422))
async def update_post(
    post_id: PostIdPath,
    body: PostUpdate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
) -> PostDetail:
    """Change a post, move it (`ordering`, `module_id`) or replace its quiz whole (admin)."""
    post = await service.update_post(session, post_id=post_id, data=body)
    return await _detail(session, post, admin, settings)


@router.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
async def delete_post(post_id: PostIdPath, _admin: AdminUser, session: SessionDep) -> Response:
    """Delete a post; later posts of its module move up (admin)."""
    await service.delete_post(session, post_id=post_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
