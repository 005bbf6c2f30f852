"""Progress under /api/progress, /api/users/{user_id}/progress and
/api/groups/{group_id}/progress."""

from fastapi import Request, Response

from tma.core.db import Database, SessionDep, utcnow
from tma.core.errors import responses
from tma.core.routing import PrefixedRouter, segment_beside
from tma.core.schemas import row_adapter, row_list_adapter
from tma.groups.dependencies import GroupIdPath
from tma.groups.privacy import check_sees_learner
from tma.progress import service, sync
from tma.progress.dependencies import VisiblePostProgress, check_sees_user
from tma.progress.schemas import (
    CourseProgress,
    GroupProgress,
    PostProgressRead,
    ProgressUpdate,
    SyncRequest,
    SyncResponse,
)
from tma.users.dependencies import CurrentUser, StaffUser, UserIdPath

_COURSES = row_list_adapter(CourseProgress)
_GROUP = row_adapter(GroupProgress)

router = PrefixedRouter(prefix="/progress", tags=["progress"], responses=responses(401, 403))
# Same prefixes as the users and groups routers: each skips paths outside its prefix only.
users_router = PrefixedRouter(prefix="/users", tags=["progress"], responses=responses(401, 403))
groups_router = PrefixedRouter(prefix="/groups", tags=["progress"], responses=responses(401, 403))


def _json(body: bytes) -> Response:
    # The services build dicts in the read models' keys, order and types: dumped as they
    # are, with no validation pass (tests/test_progress.py compares with the models' JSON).
    return Response(content=body, media_type="application/json")


@router.post("/sync", response_model=SyncResponse, responses=responses(409, 422))
async def sync_progress(body: SyncRequest, user: CurrentUser, session: SessionDep) -> SyncResponse:
    """Apply up to 500 progress events recorded offline, in order; one result per event."""
    results = await sync.apply_events(session, caller=user, events=body.events, now=utcnow())
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
async def my_progress(user: CurrentUser, request: Request) -> Response:
    """Your progress in each course assigned to your groups."""
    db: Database = request.app.state.db
    async with db.read_connection() as conn:
        courses = await service.user_course_progress(conn, user_id=user.id)
    return _json(_COURSES.dump_json(courses))


@users_router.get(
    "/{user_id}/progress", response_model=list[CourseProgress], responses=responses(404, 422)
)
async def user_progress(user_id: UserIdPath, user: CurrentUser, request: Request) -> Response:
    """A user's progress in each course assigned to their groups (that user, an admin, or a
    manager who owns or moderates a group of theirs)."""
    check_sees_user(user, user_id)
    db: Database = request.app.state.db
    async with db.read_connection() as conn:
        if user_id != user.id:
            await check_sees_learner(conn, viewer=user, user_id=user_id)
        courses = await service.user_course_progress(conn, user_id=user_id)
    return _json(_COURSES.dump_json(courses))


@groups_router.get(
    "/{group_id}/progress", response_model=GroupProgress, responses=responses(404, 422)
)
async def group_progress(group_id: GroupIdPath, staff: StaffUser, request: Request) -> Response:
    """Every member of the group times the group's courses (admins, and managers who own or
    moderate the group)."""
    db: Database = request.app.state.db
    async with db.read_connection() as conn:
        body = await service.group_progress(conn, group_id=group_id, viewer=staff)
    return _json(_GROUP.dump_json(body))
