"""Request and response bodies of the courses domain."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import CourseTitle, Description, Position, StartDate

# 0-3650 days after the course's start (spec companion.md §3); a strict integer.
ReleaseAfterDays = Annotated[int, Field(strict=True, ge=0, le=3650)]


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
    sequential: StrictBool = False


# Alike in shape with the other PATCH bodies (GroupUpdate, ModuleUpdate): each its own
# fields, each optional.
class CourseUpdate(WriteModel):
    """PATCH body: title, description and/or sequential; a title may not be cleared."""

    model_config = example(description="Centre, development, castling early")

    not_null = ("title", "sequential")

    title: CourseTitle | None = None
    description: Description | None = None
    sequential: StrictBool | None = None


COURSE_EXAMPLE = {
    "id": 3,
    "title": "Opening principles",
    "description": "Centre, development, king safety",
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
    "module_count": 2,
    "sequential": False,
}


class CourseRead(ReadModel):
    model_config = example(**COURSE_EXAMPLE)

    id: int
    title: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    module_count: int
    sequential: bool


class AvailabilityRead(ReadModel):
    """Whether the caller may open a module of a course now (tma.courses.availability):
    `open`; `scheduled` (opens at `available_at`); `locked` (sequential course: `reason`
    names the unfinished module before it). `available_at`: when the release schedule
    opens (or opened) it for a `user`, null for staff; `reason` null when open."""

    model_config = example(
        state="scheduled",
        available_at="2026-09-08T00:00:00Z",
        reason="Opens at 2026-09-08T00:00:00Z",
    )

    state: Literal["open", "scheduled", "locked"]
    available_at: datetime | None
    reason: str | None


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
    "release_after_days": 0,
    "availability": {"state": "open", "available_at": None, "reason": None},
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
    release_after_days: int
    availability: AvailabilityRead


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
    """Optional body of linking a module; without `ordering` it goes last, without
    `release_after_days` it opens on the course's start (0)."""

    model_config = example(ordering=2, release_after_days=7)
    not_null = ("ordering", "release_after_days")

    ordering: Position | None = None
    release_after_days: ReleaseAfterDays | None = None


class ModuleMove(WriteModel):
    """A linked module's change: a 1-based position (past the end: last) and/or its
    `release_after_days`; at least one of them."""

    model_config = example(ordering=1, release_after_days=14)
    not_null = ("ordering", "release_after_days")

    ordering: Position | None = None
    release_after_days: ReleaseAfterDays | None = None

    @model_validator(mode="after")
    def _something(self) -> "ModuleMove":
        if not self.model_fields_set:
            raise ValueError("give ordering and/or release_after_days")
        return self


class GroupCourseRead(CourseRead):
    """A course of a group's, with the day its release schedule starts for the group."""

    model_config = example(**COURSE_EXAMPLE, start_date="2026-09-01")

    start_date: date


class ScheduleUpdate(WriteModel):
    """PATCH body of a group's course assignment: the day its release schedule starts."""

    model_config = example(start_date="2026-09-07")

    start_date: StartDate
