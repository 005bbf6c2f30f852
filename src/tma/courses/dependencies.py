"""Course checks that chain: the course exists -> the caller may see it."""

from typing import Annotated

from fastapi import Depends, Path

from tma.core.db import SessionDep
from tma.core.errors import Forbidden
from tma.core.types import MAX_ID
from tma.courses import service
from tma.courses.models import Course
from tma.users.dependencies import AdminUser, CurrentUser
from tma.users.service import viewer_id

CourseIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A course id")]
ModuleIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A module id")]


async def visible_course(course_id: CourseIdPath, user: CurrentUser, session: SessionDep) -> Course:
    """The course, if it exists (404) and the caller may see it (403 for a user whose groups
    do not have it)."""
    course, visible = await service.load_course(
        session, course_id=course_id, viewer_id=viewer_id(user)
    )
    if not visible:
        raise Forbidden("You don't have access to this course")
    return course


async def admin_course(course_id: CourseIdPath, _admin: AdminUser, session: SessionDep) -> Course:
    """The course, for an admin (403 for others, checked before existence)."""
    return await service.get_course(session, course_id=course_id)


VisibleCourse = Annotated[Course, Depends(visible_course)]
AdminCourse = Annotated[Course, Depends(admin_course)]
