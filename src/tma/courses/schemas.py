"""Request and response bodies of the courses domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel
from tma.core.types import CourseTitle, Description


class CourseCreate(WriteModel):
    title: CourseTitle
    description: Description | None = None


class CourseUpdate(WriteModel):
    """PATCH body: title and/or description; a title may not be cleared."""

    not_null = ("title",)

    title: CourseTitle | None = None
    description: Description | None = None


class CourseRead(ReadModel):
    id: int
    title: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    module_count: int


class ModuleRead(ReadModel):
    id: int
    title: str
    content: str | None
    ordering: int


class CourseDetail(CourseRead):
    modules: list[ModuleRead]
