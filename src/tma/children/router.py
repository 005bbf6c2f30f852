"""A parent's children under /api/auth/me/children, and staff's read of a parent's under
/api/users/{user_id}/children (companion spec §4)."""

from fastapi import Response, status

from tma.children import service
from tma.children.dependencies import OwnChild, check_birth_date, check_sees_children
from tma.children.schemas import ChildCreate, ChildRead, ChildUpdate
from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_list_adapter
from tma.users.dependencies import CurrentUser, UserIdPath

me_router = PrefixedRouter(
    prefix="/auth/me/children", tags=["children"], responses=responses(401, 403)
)
users_router = PrefixedRouter(prefix="/users", tags=["children"], responses=responses(401, 403))

_LIST = row_list_adapter(ChildRead)


@me_router.get("", response_model=list[ChildRead], responses=responses(422))
async def list_my_children(user: CurrentUser, session: SessionDep, page: PageDep) -> Response:
    """Your children, oldest record first."""
    rows, total = await service.list_children(session, user_id=user.id, page=page)
    return list_response(_LIST, rows, total)


@me_router.post("", **created(ChildRead, 400, 422))
async def add_child(
    body: ChildCreate, user: CurrentUser, session: SessionDep, now: Now
) -> ChildRead:
    """Add a child to your account (at most 10)."""
    check_birth_date(body.birth_date, now)
    return ChildRead.model_validate(await service.create_child(session, user_id=user.id, data=body))


# The edit and delete routes have every domain's shape (tma.courses.router, the webhooks'
# in tma.events.router): the owner check as a dependency, one service call.
@me_router.patch("/{child_id}", response_model=ChildRead, responses=responses(404, 422))
async def update_child(
    child: OwnChild, body: ChildUpdate, session: SessionDep, now: Now
) -> ChildRead:
    """Change your child's name or birth date."""
    check_birth_date(body.birth_date, now)
    return ChildRead.model_validate(await service.update_child(session, child=child, data=body))


@me_router.delete(
    "/{child_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422)
)
async def delete_child(child: OwnChild, session: SessionDep) -> Response:
    """Remove one of your children."""
    await service.delete_child(session, child=child)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get(
    "/{user_id}/children", response_model=list[ChildRead], responses=responses(404, 422)
)
async def list_user_children(
    user_id: UserIdPath, user: CurrentUser, session: SessionDep, page: PageDep
) -> Response:
    """A parent's children (that parent, an admin, or a manager who owns or moderates a
    group of theirs)."""
    await check_sees_children(session, viewer=user, user_id=user_id)
    rows, total = await service.list_children(session, user_id=user_id, page=page)
    return list_response(_LIST, rows, total)
