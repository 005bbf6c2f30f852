"""Request and response bodies of progress."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Id, IsoInstant, Text
from tma.posts.schemas import ProgressRead


class ProgressTarget(StrEnum):
    """The statuses a client may ask for (`not_started` is where every post begins)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ProgressUpdate(WriteModel):
    """PUT /api/progress/{post_id}."""

    model_config = example(status="completed")

    status: ProgressTarget


# Alike in shape with the other read models (UserRead, ChildRead, GroupMemberRead): a
# field list and its example.
class PostProgressRead(ReadModel):
    model_config = example(
        post_id=12,
        status="completed",
        updated_at="2026-09-01T09:30:00Z",
        started_at="2026-09-01T09:10:00Z",
        completed_at="2026-09-01T09:30:00Z",
    )

    post_id: int
    status: str
    updated_at: datetime
    started_at: datetime | None
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


# --- POST /api/progress/sync ---------------------------------------------------------------

MAX_SYNC_EVENTS = 500

EventId = Annotated[Text, Field(min_length=1, max_length=64)]


class SyncEvent(WriteModel):
    """One progress step recorded offline."""

    event_id: EventId
    post_id: Id
    status: ProgressTarget
    occurred_at: IsoInstant


class SyncRequest(WriteModel):
    """POST /api/progress/sync: 1-500 events, applied in the order given."""

    model_config = example(
        events=[
            {
                "event_id": "7f0c9a52-1",
                "post_id": 12,
                "status": "in_progress",
                "occurred_at": "2026-09-01T09:10:00+02:00",
            }
        ]
    )

    events: list[SyncEvent] = Field(min_length=1, max_length=MAX_SYNC_EVENTS)


class SyncOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"


class SyncResult(ReadModel):
    event_id: str
    result: SyncOutcome
    progress: ProgressRead | None


class SyncResponse(ReadModel):
    model_config = example(
        results=[
            {
                "event_id": "7f0c9a52-1",
                "result": "applied",
                "progress": {
                    "post_id": 12,
                    "status": "in_progress",
                    "updated_at": "2026-09-01T07:10:00Z",
                    "started_at": "2026-09-01T07:10:00Z",
                    "completed_at": None,
                },
            }
        ]
    )

    results: list[SyncResult]


# --- GET /api/groups/{group_id}/dashboard --------------------------------------------------


class MemberStatus(StrEnum):
    """Where a member stands in the course: every post done, or by their recent activity."""

    COMPLETED = "completed"
    INACTIVE = "inactive"
    ACTIVE = "active"


class DashboardMember(ReadModel):
    user_id: int
    username: str
    completed_posts: int
    total_posts: int
    percent: int
    last_activity_at: datetime | None
    failed_attempts: int
    status: MemberStatus


class DashboardPost(ReadModel):
    post_id: int
    title: str
    module_id: int
    started: int
    completed: int


# The dashboard's models (companion spec §5): field lists alike in shape with the group
# progress models above, each the spec's own keys.
class DashboardOption(ReadModel):
    option_id: int
    text: str
    chosen: int


class DashboardQuestion(ReadModel):
    post_id: int
    question_id: int
    prompt: str
    answered: int
    correct: int
    options: list[DashboardOption]


class GroupDashboard(ReadModel):
    model_config = example(
        group_id=2,
        course_id=3,
        members=[
            {
                "user_id": 9,
                "username": "una",
                "completed_posts": 5,
                "total_posts": 11,
                "percent": 45,
                "last_activity_at": "2026-09-01T09:30:00Z",
                "failed_attempts": 1,
                "status": "active",
            }
        ],
        posts=[
            {"post_id": 12, "title": "Checks first", "module_id": 5, "started": 7, "completed": 4}
        ],
        questions=[
            {
                "post_id": 14,
                "question_id": 31,
                "prompt": "Which move is a check?",
                "answered": 6,
                "correct": 4,
                "options": [
                    {"option_id": 80, "text": "Bb5", "chosen": 4},
                    {"option_id": 81, "text": "Nf3", "chosen": 2},
                ],
            }
        ],
    )

    group_id: int
    course_id: int
    members: list[DashboardMember]
    posts: list[DashboardPost]
    questions: list[DashboardQuestion]
