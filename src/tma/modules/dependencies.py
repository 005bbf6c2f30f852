"""The module list's course filter, which must name a course the caller sees. (The module
detail checks existence and visibility inside its one statement: tma.modules.service.)"""

from typing import Annotated

from fastapi import Depends, Query

from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.courses import service as courses
from tma.users.dependencies import CurrentUser
from tma.users.service import viewer_id


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


CourseFilter = Annotated[int | None, Depends(course_filter)]
