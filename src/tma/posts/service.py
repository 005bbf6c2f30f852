"""The rules and queries of posts and the quizzes authored in them (stored by
tma.quizzes.questions). Raises domain errors;
owns its commits. Positions within a module go through `tma.core.ordering`."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, bindparam, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from tma.core.config import Settings
from tma.core.db import ID, utcnow
from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.ordering import Ordering, lock_parent
from tma.core.pagination import ListQuery, Page
from tma.core.public_url import absolute
from tma.core.reads import first
from tma.core.types import changed_age_range_error
from tma.courses import availability
from tma.courses.models import Module
from tma.courses.visibility import module_visible_to
from tma.files.models import FileKind, StoredFile
from tma.files.urls import signed_file_url
from tma.posts.models import Post, PostType
from tma.posts.quiz import set_quiz_settings, write_questions
from tma.posts.schemas import PostCreate, PostRead, PostUpdate
from tma.progress.models import PostProgress, ProgressStatus

POSITIONS = Ordering(Post.ordering, Post.module_id)

POST_COLUMNS = (
    Post.id,
    Post.module_id,
    Post.title,
    Post.post_type,
    Post.content,
    Post.video_url,
    Post.file_id,
    Post.ordering,
    Post.min_age_months,
    Post.max_age_months,
    Post.created_at,
    Post.updated_at,
)
_POST_KEYS = tuple(column.key for column in POST_COLUMNS)
_READ_KEYS = tuple(PostRead.model_fields)  # `POST_COLUMNS` with `file_url` after `file_id`


def post_visible_to(viewer_id: int | None) -> ColumnElement[bool]:
    """The visibility rule for posts: everything for staff (`viewer_id=None`), else posts of
    modules the viewer sees."""
    return true() if viewer_id is None else module_visible_to(Post.module_id, viewer_id)


# Where each of `PostRead`'s keys is read from a row, without and with the `post_` prefix
# of a post read beside its module (`modules.service.module_detail`); `file_url` is made.
_FROM = {
    prefix: tuple((key, f"{prefix}{key}" if key != "file_url" else "") for key in _READ_KEYS)
    for prefix in ("", "post_")
}


def post_dict(row: Any, settings: Settings, *, prefix: str = "") -> dict[str, Any]:
    """A post row (`POST_COLUMNS`, each named `prefix` + its key) as a dict of `PostRead`'s
    keys, with the signed `file_url` of an attachment (absolute, as a `video_url` that is
    one of this server's files: tma.core.public_url)."""
    post = {key: row[column] if column else None for key, column in _FROM[prefix]}
    file_id = post["file_id"]
    post["file_url"] = signed_file_url(file_id, settings) if file_id else None
    post["video_url"] = absolute(post["video_url"])  # this server's file: absolute too
    return post


def post_open_to(viewer_id: int | None, today: date) -> ColumnElement[bool]:
    """Whether the post's module is open to the viewer on `today` (always for staff,
    `viewer_id=None`): tma.courses.availability."""
    if viewer_id is None:
        return true()
    return availability.module_open_to(Post.module_id, viewer_id, today)


async def load_post(
    session: AsyncSession, *, post_id: int, viewer_id: int | None = None, now: datetime
) -> Post:
    """The post, if `viewer_id` (None: staff, always) may see it and its module is open to
    them at `now`, in one query: 404, 403 (with the reason when it is not open)."""
    stmt = select(
        Post,
        post_visible_to(viewer_id).label("visible"),
        post_open_to(viewer_id, availability.today_of(now)).label("open"),
    ).where(Post.id == post_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"Post {post_id} not found")
    if not row.visible:
        raise Forbidden("You don't have access to this post")
    if viewer_id is not None and not row.open:
        raise await availability.refusal(
            session, module_id=row.Post.module_id, user_id=viewer_id, now=now
        )
    post: Post = row.Post
    return post


# Every post (staff), or those of modules the viewer sees and that are open to them (a
# `user`), by module (oldest module first), then `ordering`.
_VIEWER = bindparam("viewer_id", type_=ID)
_POSTS = ListQuery.scoped(
    POST_COLUMNS,
    order=(Module.created_at, Module.id, Post.ordering, Post.id),
    count_by=Post.id,
    scope=and_(
        module_visible_to(Post.module_id, _VIEWER),
        availability.module_open_to(Post.module_id, _VIEWER, bindparam("today", type_=Date)),
    ),
    join=(Module, Module.id == Post.module_id),
)


async def list_posts(
    session: AsyncSession, *, viewer_id: int | None, page: Page, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Posts the viewer (None: staff) sees in modules open to them at `now`, by module
    (oldest module first), then `ordering`, as rows of `POST_COLUMNS`; and how many in all."""
    if viewer_id is None:
        return await _POSTS[False].page(session, page)
    today = availability.today_of(now)
    return await _POSTS[True].page(session, page, viewer_id=viewer_id, today=today)


# Built once, at import (`_MODULE_POSTS` below): mutmut cannot switch a mutant of it on after
# import, so it is not mutated (tests/README.md "Mutation testing"); every read tests it.
def _module_posts(scoped: bool) -> ListQuery:  # pragma: no mutate block
    """A module's visibility, whether it is open to the viewer, and, LEFT JOINed, one window
    of its posts in `ordering`, in one statement (a module without posts gives one row of
    null post columns)."""
    module_id: BindParameter[int] = bindparam("module_id", type_=ID)
    flag = module_visible_to(module_id, bindparam("viewer_id", type_=ID)) if scoped else true()
    in_module = Post.module_id == module_id
    return ListQuery(
        select(flag.label("visible"), _module_open(scoped).label("open"), *POST_COLUMNS)
        .select_from(Module)
        .outerjoin(Post, Post.module_id == Module.id)
        .where(Module.id == module_id)
        .order_by(Post.ordering),
        count=select(Post.id).where(in_module),
        child="id",
    )


# Part of the statements built at import (`_MODULE_POSTS` and the post read above): not
# mutated, as `_module_posts`.
def _module_open(scoped: bool) -> ColumnElement[bool]:  # pragma: no mutate block
    if not scoped:
        return true()
    viewer_id = bindparam("viewer_id", type_=ID)
    return availability.module_open_to(
        bindparam("module_id", type_=ID), viewer_id, bindparam("today", type_=Date)
    )


_MODULE_POSTS = {scoped: _module_posts(scoped) for scoped in (False, True)}
_MODULE_VISIBLE = {
    scoped: select(
        (
            module_visible_to(Module.id, bindparam("viewer_id", type_=ID)) if scoped else true()
        ).label("visible"),
        _module_open(scoped).label("open"),
    ).where(Module.id == bindparam("module_id", type_=ID))
    for scoped in (False, True)
}


async def module_post_page(
    session: AsyncSession, *, module_id: int, viewer_id: int | None, page: Page, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """One page of a module's posts in `ordering` (rows of `POST_COLUMNS`, `visible` and
    `open`) and how many it has: 404 for an unknown module, 403 for a viewer (None: staff)
    who does not see it or to whom it is not open at `now` (the reason as the detail). One
    statement; a count only when the page does not tell it."""
    scoped = viewer_id is not None
    params: dict[str, Any] = {
        "module_id": module_id,
        "viewer_id": viewer_id,
        "today": availability.today_of(now),
    }
    module, posts, total = await _MODULE_POSTS[scoped].page_of(session, page, **params)
    if module is None:  # past the end of the posts (offset): is the module there at all?
        found = await first(session, _MODULE_VISIBLE[scoped], **params)
        module = None if found is None else dict(found)
    if module is None:
        raise NotFound(f"Module {module_id} not found")
    if not module["visible"]:
        raise Forbidden("You don't have access to this module")
    if viewer_id is not None and not module["open"]:
        raise await availability.refusal(session, module_id=module_id, user_id=viewer_id, now=now)
    return posts, total


_PROGRESS = select(
    PostProgress.post_id,
    PostProgress.status,
    PostProgress.updated_at,
    PostProgress.started_at,
    PostProgress.completed_at,
).where(
    PostProgress.post_id == bindparam("post_id", type_=ID),
    PostProgress.user_id == bindparam("user_id", type_=ID),
)


async def progress_of(session: AsyncSession, *, post_id: int, user_id: int) -> dict[str, Any]:
    """The user's progress on the post, shaped like `ProgressRead` (`not_started` if none)."""
    row = await first(session, _PROGRESS, post_id=post_id, user_id=user_id)
    if row is None:
        return {
            "post_id": post_id,
            "status": ProgressStatus.NOT_STARTED,
            "updated_at": None,
            "started_at": None,
            "completed_at": None,
        }
    return dict(row)


async def _check_file(session: AsyncSession, file_id: str) -> None:
    kind = await session.scalar(select(StoredFile.kind).where(StoredFile.id == file_id))
    if kind is None:
        await session.rollback()
        raise NotFound(f"File {file_id} not found")
    if kind != FileKind.ATTACHMENT:
        await session.rollback()
        raise Conflict("An attachment post needs a file uploaded as an attachment, not an avatar")


async def _lock_modules(session: AsyncSession, module_ids: Sequence[int]) -> None:
    # In id order, so two writers locking the same two modules never wait on each other.
    for module_id in sorted(set(module_ids)):
        if not await lock_parent(session, Module, module_id):
            await session.rollback()
            raise NotFound(f"Module {module_id} not found")


async def _commit(session: AsyncSession, what: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # A row this write refers to (its file) was deleted meanwhile.
        await session.rollback()
        raise NotFound(f"{what} not found") from None


async def create_post(session: AsyncSession, *, data: PostCreate) -> Post:
    """A post at `ordering` in its module (default last), the later posts moved down; a
    quiz post with its questions and options."""
    try:
        post = await add_post(session, data=data)
    except IntegrityError:
        # Its file was deleted between the check and the insert's flush (a race with
        # DELETE /api/files/{id}): as unknown as if it had gone before, not a 500.
        await session.rollback()
        raise NotFound(f"File {data.file_id} not found") from None
    await _commit(session, f"File {data.file_id}")
    return post


async def add_post(session: AsyncSession, *, data: PostCreate) -> Post:
    """`create_post` without the commit: the post is written in the session's transaction
    (the sample-data loader adds many in one)."""
    await _lock_modules(session, [data.module_id])
    if data.file_id is not None:
        await _check_file(session, data.file_id)
    position = await POSITIONS.insert_at(session, data.module_id, data.ordering)
    post = Post(
        module_id=data.module_id,
        title=data.title,
        post_type=data.post_type.value,
        content=data.content,
        video_url=data.video_url,
        file_id=data.file_id,
        ordering=position,
        min_age_months=data.min_age_months,
        max_age_months=data.max_age_months,
    )
    session.add(post)
    await session.flush()
    if data.quiz is not None:
        set_quiz_settings(post, data.quiz)
        await write_questions(session, post=post, questions=data.quiz.questions, replace=False)
    return post


_TYPE_FIELDS = {"video_url": PostType.VIDEO, "file_id": PostType.ATTACHMENT, "quiz": PostType.QUIZ}


async def _locked_post(session: AsyncSession, post_id: int, also: int | None) -> Post:
    """The post re-read under the lock of its module (and of module `also`): a post moved or
    deleted by a writer that got there first is seen as it now is."""
    for _ in range(10):
        module_id = await session.scalar(select(Post.module_id).where(Post.id == post_id))
        if module_id is None:
            await session.rollback()
            raise NotFound(f"Post {post_id} not found")
        await _lock_modules(session, [module_id] if also is None else [module_id, also])
        post = await session.scalar(select(Post).where(Post.id == post_id))
        if post is None:
            await session.rollback()
            raise NotFound(f"Post {post_id} not found")
        if post.module_id == module_id:
            return post
        await session.rollback()  # moved meanwhile: lock its new module instead
    raise Conflict("The post is being moved by another request; try again")


async def update_post(session: AsyncSession, *, post_id: int, data: PostUpdate) -> Post:
    """Change a post's fields; `module_id`/`ordering` move it (both modules renumbered);
    `quiz` replaces its quiz whole. Fields of another type's post are a 400."""
    changes = data.changes()
    target = changes.pop("module_id", None)
    post = await _locked_post(session, post_id, target)
    current = post.post_type  # read before a rollback expires the object
    for name, post_type in _TYPE_FIELDS.items():
        if name in changes and current != post_type:
            await session.rollback()
            raise Conflict(f"Only {post_type} posts have {name}; this post is of type {current}")
    if error := changed_age_range_error(changes, post):
        await session.rollback()
        raise Conflict(error)
    ordering = changes.pop("ordering", None)
    if target is not None and target != post.module_id:
        await POSITIONS.close_gap(session, post.module_id, post.ordering)
        post.ordering = await POSITIONS.insert_at(session, target, ordering)
        post.module_id = target
    elif ordering is not None:
        post.ordering = await POSITIONS.move(session, post.module_id, post.ordering, ordering)
    if "file_id" in changes:
        await _check_file(session, changes["file_id"])
    changes.pop("quiz", None)
    for name, value in changes.items():
        setattr(post, name, value)
    if data.quiz is not None:
        set_quiz_settings(post, data.quiz)
        await write_questions(session, post=post, questions=data.quiz.questions, replace=True)
    post.updated_at = utcnow()
    await _commit(session, f"File {changes.get('file_id')}")
    return post


async def delete_post(session: AsyncSession, *, post_id: int) -> None:
    """Delete a post (its quiz, attempts and progress go with it); later posts move up."""
    post = await _locked_post(session, post_id, None)
    await session.delete(post)
    await POSITIONS.close_gap(session, post.module_id, post.ordering)
    await session.commit()
