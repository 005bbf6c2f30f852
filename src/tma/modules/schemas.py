"""Request and response bodies of the modules domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Description, HexColor, Title
from tma.posts.schemas import POST_EXAMPLE, PostRead


class ModuleCreate(WriteModel):
    model_config = example(
        title="Checks first", description="Before any move, look at every check.", color="#C0392B"
    )

    title: Title
    description: Description | None = None
    color: HexColor | None = None


class ModuleUpdate(WriteModel):
    """PATCH body: any of title, description, color; a title may not be cleared."""

    model_config = example(color="#2980B9")

    not_null = ("title",)

    title: Title | None = None
    description: Description | None = None
    color: HexColor | None = None


class ModuleRead(ReadModel):
    model_config = example(
        id=5,
        title="Checks first",
        description="Before any move, look at every check.",
        color="#C0392B",
        post_count=1,
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
    )

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

    model_config = example(
        id=5,
        title="Checks first",
        description="Before any move, look at every check.",
        color="#C0392B",
        post_count=1,
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
        posts=[POST_EXAMPLE],
        course_ids=[3],
    )

    posts: list[PostRead]
    course_ids: list[int]
