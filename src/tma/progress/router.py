"""Progress under /api/progress, /api/users/{user_id}/progress and
/api/groups/{group_id}/progress, the group's dashboard and its CSV export."""

from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import StreamingResponse

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.pagination import json_response
from tma.core.routing import PrefixedRouter, segment_beside
from tma.core.schemas import row_adapter, row_list_adapter
from tma.core.types import MAX_ID
from tma.groups.dependencies import GroupIdPath
from tma.groups.privacy import check_sees_learner
from tma.progress import dashboard, export, service, sync
from tma.progress.dependencies import VisiblePostProgress, check_sees_user
from tma.progress.schemas import (
    CourseProgress,
    GroupDashboard,
    GroupProgress,
    PostProgressRead,
    ProgressUpdate,
    SyncRequest,
    SyncResponse,
)
from tma.users.dependencies import CurrentUser, StaffUser, UserIdPath

# The preamble every domain's router has (its models' adapters, then its routers): alike
# in shape with tma.courses.router's, tma.groups.router's and tma.events.router's.
_COURSES = row_list_adapter(CourseProgress)
_GROUP = row_adapter(GroupProgress)
_DASHBOARD = row_adapter(GroupDashboard)

router = PrefixedRouter(prefix="/progress", tags=["progress"], responses=responses(401, 403))
# Same prefixes as the users and groups routers: each skips paths outside its prefix only.
users_router = PrefixedRouter(prefix="/users", tags=["progress"], responses=responses(401, 403))
groups_router = PrefixedRouter(prefix="/groups", tags=["progress"], responses=responses(401, 403))


@router.post("/sync", response_model=SyncResponse, responses=responses(409, 422))
async def sync_progress(
    body: SyncRequest, user: CurrentUser, session: SessionDep, now: Now
) -> SyncResponse:
    """Apply up to 500 progress events recorded offline, in order; one result per event."""
    results = await sync.apply_events(session, caller=user, events=body.events, now=now)
    return SyncResponse.model_validate({"results": results})


# Not "sync": a PUT there is the 405 of `POST /api/progress/sync` (core/routing.py).
_POST_ID = segment_beside("progress_post_id", "sync")


@router.put(
    f"/{{post_id:{_POST_ID}}}",
    response_model=PostProgressRead,
    responses=responses(400, 404, 409, 422),
)
async def update_progress(
    post: VisiblePostProgress, body: ProgressUpdate, user: CurrentUser, session: SessionDep
) -> PostProgressRead:
    """Move your status on a post forward (a request to move it back changes nothing)."""
    row = await service.update_progress(
        session, user_id=user.id, post=post, status=body.status.value
    )
    return PostProgressRead.model_validate(row)


@router.get("", response_model=list[CourseProgress])
async def my_progress(user: CurrentUser, session: SessionDep) -> Response:
    """Your progress in each course assigned to your groups."""
    courses = await service.user_course_progress(session, user_id=user.id)
    return json_response(_COURSES, courses)


@users_router.get(
    "/{user_id}/progress", response_model=list[CourseProgress], responses=responses(404, 422)
)
async def user_progress(user_id: UserIdPath, user: CurrentUser, session: SessionDep) -> Response:
    """A user's progress in each course assigned to their groups (that user, an admin, or a
    manager who owns or moderates a group of theirs)."""
    check_sees_user(user, user_id)
    if user_id != user.id:
        await check_sees_learner(session, viewer=user, user_id=user_id)
    courses = await service.user_course_progress(session, user_id=user_id)
    return json_response(_COURSES, courses)


@groups_router.get(
    "/{group_id}/progress", response_model=GroupProgress, responses=responses(404, 422)
)
async def group_progress(group_id: GroupIdPath, staff: StaffUser, session: SessionDep) -> Response:
    """Every member of the group times the group's courses (admins, and managers who own or
    moderate the group)."""
    body = await service.group_progress(session, group_id=group_id, viewer=staff)
    return json_response(_GROUP, body)


CourseIdQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="The course of the group")]


@groups_router.get(
    "/{group_id}/dashboard", response_model=GroupDashboard, responses=responses(404, 422)
)
async def group_dashboard(
    group_id: GroupIdPath,
    course_id: CourseIdQuery,
    staff: StaffUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> Response:
    """One course of the group: each parent's completion, last activity, failed attempts and
    status; each post's starts and completions; each question's answers (admins, and
    managers who own or moderate the group)."""
    body = await dashboard.group_dashboard(
        session,
        group_id=group_id,
        course_id=course_id,
        viewer=staff,
        now=now,
        inactivity_days=settings.inactivity_days,
    )
    return json_response(_DASHBOARD, body)


_CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The CSV: a header row, then one row per parent and course",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    **responses(404, 422),
}


@groups_router.get(
    "/{group_id}/progress.csv", response_class=StreamingResponse, responses=_CSV_RESPONSES
)
async def group_progress_csv(
    group_id: GroupIdPath, staff: StaffUser, session: SessionDep
) -> StreamingResponse:
    """Every parent of the group times its courses as CSV, streamed (admins, and managers
    who own or moderate the group)."""
    await dashboard.check_group_readable(session, group_id=group_id, viewer=staff)
    return StreamingResponse(
        export.progress_csv(session, group_id=group_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="group-{group_id}-progress.csv"'},
    )
