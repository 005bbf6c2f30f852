"""Request and response bodies of the modules domain."""

from datetime import datetime

from pydantic import model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import AgeMonths, Description, HexColor, Title, checked_age_range
from tma.posts.schemas import POST_EXAMPLE, PostRead


# ModuleCreate, ModuleUpdate and ModuleRead have the shape of the courses' and groups'
# bodies (a name, a description, all optional in the PATCH body) but stay separate: each
# domain has its own field names, limits and examples and is its own contract, and a shared
# base would reorder the JSON (pydantic puts inherited fields first) and tie the contracts
# together.
class ModuleCreate(WriteModel):
    model_config = example(
        title="Checks first", description="Before any move, look at every check.", color="#C0392B"
    )

    title: Title
    description: Description | None = None
    color: HexColor | None = None
    min_age_months: AgeMonths | None = None
    max_age_months: AgeMonths | None = None

    _age_range = model_validator(mode="after")(checked_age_range)


# Alike in shape with ModuleCreate and the other PATCH bodies (PostUpdate): the same
# fields, each optional here.
class ModuleUpdate(WriteModel):
    """PATCH body: any of title, description, color; a title may not be cleared."""

    model_config = example(color="#2980B9")

    not_null = ("title",)

    title: Title | None = None
    description: Description | None = None
    color: HexColor | None = None
    # Checked against each other when both are sent; against the stored one by the service.
    min_age_months: AgeMonths | None = None
    max_age_months: AgeMonths | None = None

    _age_range = model_validator(mode="after")(checked_age_range)


MODULE_EXAMPLE = {
    "id": 5,
    "title": "Checks first",
    "description": "Before any move, look at every check.",
    "color": "#C0392B",
    "min_age_months": 12,
    "max_age_months": 36,
    "post_count": 1,
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
}


class ModuleRead(ReadModel):
    model_config = example(**MODULE_EXAMPLE)

    id: int
    title: str
    description: str | None
    color: str | None
    min_age_months: int | None
    max_age_months: int | None
    post_count: int
    created_at: datetime
    updated_at: datetime


class ModuleDetail(ModuleRead):
    """A module with its posts in `ordering` (without quizzes) and the ids of the courses
    the caller sees it in. `module_id`, `module_title`, `module_description` and
    `module_color` repeat `id`, `title`, `description` and `color` in the keys the
    starter's mobile client reads (as a course outline's items have them)."""

    model_config = example(
        **MODULE_EXAMPLE,
        module_id=5,
        module_title="Checks first",
        module_description="Before any move, look at every check.",
        module_color="#C0392B",
        posts=[POST_EXAMPLE],
        course_ids=[3],
    )

    module_id: int
    module_title: str
    module_description: str | None
    module_color: str | None
    posts: list[PostRead]
    course_ids: list[int]
