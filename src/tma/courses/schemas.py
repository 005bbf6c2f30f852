"""Request and response bodies of the courses domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, WriteModel
from tma.core.types import CourseTitle, Description, Position


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


class OutlineItem(ReadModel):
    """A module's place in a course, in the keys the existing web and mobile clients read."""

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
    modules: list[OutlineItem]


class ModuleLink(WriteModel):
    """Optional body of linking a module; without `ordering` it goes last."""

    not_null = ("ordering",)

    ordering: Position | None = None


class ModuleMove(WriteModel):
    """Where a linked module goes: a 1-based position (past the end: last)."""

    ordering: Position
