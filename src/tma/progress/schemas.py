"""Request and response bodies of progress."""

from datetime import datetime
from enum import StrEnum

from tma.core.schemas import ReadModel, WriteModel


class ProgressTarget(StrEnum):
    """The statuses a client may ask for (`not_started` is where every post begins)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ProgressUpdate(WriteModel):
    """PUT /api/progress/{post_id}."""

    status: ProgressTarget


class PostProgressRead(ReadModel):
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
    group_id: int
    courses: list[GroupCourseRef]
    members: list[MemberProgress]
