"""Request and response bodies of the courses domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import CourseTitle, Description, Position


# CourseCreate, CourseUpdate and CourseRead have the shape of the groups' and modules'
# bodies (a name, a description, all optional in the PATCH body) but stay separate: each
# domain has its own field names, limits and examples and is its own contract, and a shared
# base would reorder the JSON (pydantic puts inherited fields first) and tie the contracts
# together.
class CourseCreate(WriteModel):
    model_config = example(
        title="Opening principles", description="Centre, development, king safety"
    )

    title: CourseTitle
    description: Description | None = None


class CourseUpdate(WriteModel):
    """PATCH body: title and/or description; a title may not be cleared."""

    model_config = example(description="Centre, development, castling early")

    not_null = ("title",)

    title: CourseTitle | None = None
    description: Description | None = None


COURSE_EXAMPLE = {
    "id": 3,
    "title": "Opening principles",
    "description": "Centre, development, king safety",
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
    "module_count": 2,
}


class CourseRead(ReadModel):
    model_config = example(**COURSE_EXAMPLE)

    id: int
    title: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    module_count: int


OUTLINE_ITEM_EXAMPLE = {
    "module_id": 5,
    "module_title": "Checks first",
    "module_description": "Before any move, look at every check.",
    "module_color": "#C0392B",
    "ordering": 1,
    "course_id": 3,
    "post_count": 4,
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
}


class OutlineItem(ReadModel):
    """A module's place in a course, in the keys the existing web and mobile clients read."""

    model_config = example(**OUTLINE_ITEM_EXAMPLE)

    module_id: int
    module_title: str
    module_description: str | None
    module_color: str | None
    ordering: int
    course_id: int
    post_count: int
    created_at: datetime
    updated_at: datetime


class CourseDetail(CourseRead):
    # The same course as `CourseRead`'s example under another title, with its one module.
    model_config = example(
        **{
            **COURSE_EXAMPLE,
            "title": "Thinking Three Moves Ahead",
            "description": "Checks, captures and threats before every move",
            "module_count": 1,
        },
        modules=[OUTLINE_ITEM_EXAMPLE],
    )

    modules: list[OutlineItem]


class ModuleLink(WriteModel):
    """Optional body of linking a module; without `ordering` it goes last."""

    model_config = example(ordering=2)
    not_null = ("ordering",)

    ordering: Position | None = None


class ModuleMove(WriteModel):
    """Where a linked module goes: a 1-based position (past the end: last)."""

    model_config = example(ordering=1)

    ordering: Position
