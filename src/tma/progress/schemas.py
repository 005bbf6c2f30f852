"""Request and response bodies of progress."""

from datetime import datetime
from enum import StrEnum

from tma.core.schemas import ReadModel, WriteModel, example


class ProgressTarget(StrEnum):
    """The statuses a client may ask for (`not_started` is where every post begins)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ProgressUpdate(WriteModel):
    """PUT /api/progress/{post_id}."""

    model_config = example(status="completed")

    status: ProgressTarget


class PostProgressRead(ReadModel):
    model_config = example(
        post_id=12,
        status="completed",
        updated_at="2026-09-01T09:30:00Z",
        completed_at="2026-09-01T09:30:00Z",
    )

    post_id: int
    status: str
    updated_at: datetime
    completed_at: datetime | None


class ModuleProgress(ReadModel):
    module_id: int
    title: str
    total_posts: int
    completed_posts: int


class CourseProgress(ReadModel):
    model_config = example(
        course_id=3,
        title="Thinking Three Moves Ahead",
        total_posts=11,
        completed_posts=5,
        percent=45,
        last_activity_at="2026-09-01T09:30:00Z",
        modules=[{"module_id": 5, "title": "Checks first", "total_posts": 4, "completed_posts": 4}],
    )

    course_id: int
    title: str
    total_posts: int
    completed_posts: int
    percent: int
    last_activity_at: datetime | None
    modules: list[ModuleProgress]


class GroupCourseRef(ReadModel):
    course_id: int
    title: str


class MemberCourseProgress(ReadModel):
    course_id: int
    completed_posts: int
    total_posts: int
    percent: int


class MemberProgress(ReadModel):
    user_id: int
    username: str
    courses: list[MemberCourseProgress]


class GroupProgress(ReadModel):
    model_config = example(
        group_id=2,
        courses=[{"course_id": 3, "title": "Thinking Three Moves Ahead"}],
        members=[
            {
                "user_id": 9,
                "username": "una",
                "courses": [
                    {"course_id": 3, "completed_posts": 5, "total_posts": 11, "percent": 45}
                ],
            }
        ],
    )

    group_id: int
    courses: list[GroupCourseRef]
    members: list[MemberProgress]
