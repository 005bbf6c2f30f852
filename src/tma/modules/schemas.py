"""Request and response bodies of the modules domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel
from tma.core.types import Description, HexColor, Title
from tma.posts.schemas import PostRead


class ModuleCreate(WriteModel):
    title: Title
    description: Description | None = None
    color: HexColor | None = None


class ModuleUpdate(WriteModel):
    """PATCH body: any of title, description, color; a title may not be cleared."""

    not_null = ("title",)

    title: Title | None = None
    description: Description | None = None
    color: HexColor | None = None


class ModuleRead(ReadModel):
    id: int
    title: str
    description: str | None
    color: str | None
    post_count: int
    created_at: datetime
    updated_at: datetime


class ModuleDetail(ModuleRead):
    """A module with its posts in `ordering` (without quizzes) and the ids of the courses
    the caller sees it in."""

    posts: list[PostRead]
    course_ids: list[int]
