"""Module checks that chain: the module exists -> the caller may see it; and the filters
that name a course or a module, which must be one the caller sees."""

from typing import Annotated, Any

from fastapi import Depends, Query

from tma.auth.dependencies import CurrentUser
from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.courses import service as courses
from tma.courses.dependencies import ModuleIdPath
from tma.modules import service
from tma.users.caller import Caller
from tma.users.service import is_staff


def viewer_id(user: Caller) -> int | None:
    """The id the visibility rule takes: None for staff, who see everything."""
    return None if is_staff(user) else user.id


async def visible_module(
    module_id: ModuleIdPath, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """The module (shaped like `ModuleRead`), if it exists (404) and the caller sees it (403
    for a user whose groups have no course with it)."""
    module, visible = await service.load_module(
        session, module_id=module_id, viewer_id=viewer_id(user)
    )
    if not visible:
        raise Forbidden("You don't have access to this module")
    return module


async def course_filter(
    user: CurrentUser,
    session: SessionDep,
    course_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only the modules of this course")
    ] = None,
) -> int | None:
    """The `course_id` filter, if given: 404 for an unknown course, 403 for one the caller
    does not see."""
    if course_id is not None:
        _, visible = await courses.load_course(
            session, course_id=course_id, viewer_id=viewer_id(user)
        )
        if not visible:
            raise Forbidden("You don't have access to this course")
    return course_id


VisibleModule = Annotated[dict[str, Any], Depends(visible_module)]
CourseFilter = Annotated[int | None, Depends(course_filter)]
