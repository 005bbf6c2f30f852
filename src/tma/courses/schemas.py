"""Request and response bodies of the courses domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import CourseTitle, Description


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


class CourseRead(ReadModel):
    model_config = example(
        id=3,
        title="Opening principles",
        description="Centre, development, king safety",
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
        module_count=2,
    )

    id: int
    title: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    module_count: int


class ModuleRead(ReadModel):
    model_config = example(
        id=5, title="Control the centre", content="Pawns to e4 and d4 ...", ordering=0
    )

    id: int
    title: str
    content: str | None
    ordering: int


class CourseDetail(CourseRead):
    model_config = example(
        id=3,
        title="Opening principles",
        description="Centre, development, king safety",
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
        module_count=1,
        modules=[
            {
                "id": 5,
                "title": "Control the centre",
                "content": "Pawns to e4 and d4 ...",
                "ordering": 0,
            }
        ],
    )

    modules: list[ModuleRead]
