"""Courses under /api/courses, and a group's courses under /api/groups/{group_id}/courses
(the link is the courses domain's: courses build on groups, never the other way)."""

from datetime import date

from fastapi import Request, Response, status

from tma.core.clock import Now, now_of
from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.etag import not_modified, shape_of, version_tag
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_adapter, row_list_adapter
from tma.courses import service
from tma.courses.availability import today_of
from tma.courses.dependencies import AdminCourse, CourseIdPath, ModuleIdPath, VisibleCourse
from tma.courses.models import GroupCourse
from tma.courses.schemas import (
    CourseCreate,
    CourseDetail,
    CourseRead,
    CourseUpdate,
    GroupCourseRead,
    ModuleLink,
    ModuleMove,
    OutlineItem,
    ScheduleUpdate,
)
from tma.groups.dependencies import ManagedGroup, VisibleGroup
from tma.groups.schemas import CourseAssign, CourseAssigned
from tma.i18n.dependencies import in_language, translator
from tma.i18n.texts import translate_course, translate_courses, translate_outline
from tma.users.caller import Caller
from tma.users.dependencies import AdminUser, CurrentUser
from tma.users.service import viewer_id

_COURSE_LIST = row_list_adapter(CourseRead)
_GROUP_COURSE_LIST = row_list_adapter(GroupCourseRead)
_OUTLINE = row_list_adapter(OutlineItem)

router = PrefixedRouter(prefix="/courses", tags=["courses"], responses=responses(401, 403))


# Every domain's list route has this shape (tma.groups.router.list_groups): the shared part
# is the list helper (ListQuery) and `list_response`; the rest is each domain's names.
@router.get("", response_model=list[CourseRead], responses=responses(422))
async def list_courses(
    user: CurrentUser, page: PageDep, session: SessionDep, request: Request
) -> Response:
    """Courses you may see: all for managers and admins, your groups' for users; in your
    language where translated."""
    rows, total = await service.list_course_rows(session, viewer=user, page=page)
    language = await translate_courses(session, translator(request, user), rows)
    return in_language(list_response(_COURSE_LIST, rows, total), language)


_COURSE_DETAIL = row_adapter(CourseDetail)
_DETAIL_SHAPE = shape_of(CourseDetail.model_json_schema())
_OUTLINE_SHAPE = shape_of(OutlineItem.model_json_schema())


def _tag(request: Request, user: Caller, shape: str, today: date) -> str:
    # The versions came with the caller, before anything the route reads (tma.core.etag).
    return version_tag(
        request, shape, user.id, user.role.name, user.content_version, user.version, today
    )


@router.get("/{course_id}", response_model=CourseDetail, responses=responses(404, 422))
async def get_course(
    course_id: CourseIdPath, user: CurrentUser, session: SessionDep, request: Request
) -> Response:
    """One course with its modules, as outline items in the course's `ordering`, each with
    its availability for you."""
    today = today_of(await now_of(request))  # the `now` dependency's clock, without its cost
    tag = _tag(request, user, _DETAIL_SHAPE, today)
    unchanged = not_modified(request, tag)
    if unchanged is not None:
        return unchanged  # after the caller's one statement (docs/offline.md)
    # Existence and visibility come with the outline in one statement (docs/performance.md).
    # The translations come in the same statement (docs/contracts/translations.md).
    wanted = translator(request, user)
    found: service.Found = {}
    course = await service.course_detail(
        session,
        course_id=course_id,
        viewer_id=viewer_id(user),
        today=today,
        languages=wanted.languages,
        translations=found,
    )
    language = await translate_course(session, wanted, course, found)
    response = in_language(json_response(_COURSE_DETAIL, course), language)
    response.headers["ETag"] = tag
    return response


@router.post("", **created(CourseRead, 422))
async def create_course(body: CourseCreate, _admin: AdminUser, session: SessionDep) -> CourseRead:
    """Create a course (admin)."""
    return CourseRead.model_validate(await service.create_course(session, data=body))


@router.patch("/{course_id}", response_model=CourseRead, responses=responses(404, 422))
async def update_course(course: AdminCourse, body: CourseUpdate, session: SessionDep) -> CourseRead:
    """Change a course's title, description or sequential (admin)."""
    return CourseRead.model_validate(await service.update_course(session, course=course, data=body))


@router.delete(
    "/{course_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422)
)
async def delete_course(course: AdminCourse, session: SessionDep) -> Response:
    """Delete a course; its group assignments go with it (admin)."""
    await service.delete_course(session, course=course)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{course_id}/modules", response_model=list[OutlineItem], responses=responses(404, 422))
async def list_course_modules(
    course: VisibleCourse,
    user: CurrentUser,
    page: PageDep,
    session: SessionDep,
    now: Now,
    request: Request,
) -> Response:
    """The course's outline: its modules in the course's `ordering`, each with its
    availability for you."""
    today = today_of(now)
    tag = _tag(request, user, _OUTLINE_SHAPE, today)
    unchanged = not_modified(request, tag)
    if unchanged is not None:
        return unchanged
    rows, total = await service.outline_page(
        session, course_id=course.id, page=page, viewer_id=viewer_id(user), today=today
    )
    language = await translate_outline(session, translator(request, user), rows)
    response = in_language(list_response(_OUTLINE, rows, total), language)
    response.headers["ETag"] = tag
    return response


# Alike in shape with `assign_course` below: each passes its optional `ordering` to its own
# rule (a course's modules, a group's courses), whose 201 bodies differ.
@router.post("/{course_id}/modules/{module_id}", **created(OutlineItem, 400, 404, 422))
async def link_module(
    course: AdminCourse,
    module_id: ModuleIdPath,
    session: SessionDep,
    body: ModuleLink | None = None,
) -> OutlineItem:
    """Put a module into the course at `ordering` (default last), opening
    `release_after_days` (default 0) after the course's start (admin)."""
    body = body or ModuleLink()
    item = await service.link_module(
        session,
        course_id=course.id,
        module_id=module_id,
        ordering=body.ordering,
        release_after_days=body.release_after_days or 0,
    )
    return OutlineItem.model_validate(item)


@router.patch(
    "/{course_id}/modules/{module_id}",
    response_model=OutlineItem,
    responses=responses(404, 422),
)
async def move_module(
    course: AdminCourse, module_id: ModuleIdPath, body: ModuleMove, session: SessionDep
) -> OutlineItem:
    """Move a module within the course to `ordering` (past the end: last) and/or change
    its `release_after_days` (admin)."""
    item = await service.move_module(
        session,
        course_id=course.id,
        module_id=module_id,
        ordering=body.ordering,
        release_after_days=body.release_after_days,
    )
    return OutlineItem.model_validate(item)


@router.delete(
    "/{course_id}/modules/{module_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422),
)
async def unlink_module(
    course: AdminCourse, module_id: ModuleIdPath, session: SessionDep
) -> Response:
    """Take a module out of the course; the module itself stays (admin)."""
    await service.unlink_module(session, course_id=course.id, module_id=module_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Same prefix as the groups router (tma.api includes it right after that one, so the routes
# keep their place): each skips paths outside its prefix only.
groups_router = PrefixedRouter(prefix="/groups", tags=["groups"], responses=responses(401, 403))


@groups_router.get(
    "/{group_id}/courses", response_model=list[GroupCourseRead], responses=responses(404, 422)
)
async def list_group_courses(group: VisibleGroup, session: SessionDep, page: PageDep) -> Response:
    """The group's courses in assignment order, each with its `start_date`."""
    rows, total = await service.list_group_courses(session, group=group, page=page)
    return list_response(_GROUP_COURSE_LIST, rows, total)


@groups_router.post("/{group_id}/courses/{course_id}", **created(CourseAssigned, 400, 404, 422))
async def assign_course(
    group: ManagedGroup,
    course_id: CourseIdPath,
    session: SessionDep,
    now: Now,
    body: CourseAssign | None = None,
) -> CourseAssigned:
    """Assign a course to the group, last unless `ordering` is given, its release schedule
    starting on `start_date` (default today, UTC) (manager or admin)."""
    body = body or CourseAssign()
    link = await service.assign_course(
        session,
        group=group,
        course_id=course_id,
        ordering=body.ordering,
        start_date=body.start_date or today_of(now),
    )
    return _assigned("Course assigned to group", link)


def _assigned(message: str, link: GroupCourse) -> CourseAssigned:
    return CourseAssigned(
        message=message,
        group_id=link.group_id,
        course_id=link.course_id,
        ordering=link.ordering,
        date_assigned=link.date_assigned,
        start_date=link.start_date,
    )


@groups_router.patch(
    "/{group_id}/courses/{course_id}",
    response_model=CourseAssigned,
    responses=responses(404, 422),
)
async def schedule_course(
    group: ManagedGroup, course_id: CourseIdPath, body: ScheduleUpdate, session: SessionDep
) -> CourseAssigned:
    """Move the day the group's release schedule of the course starts (manager or admin)."""
    link = await service.schedule_course(
        session, group=group, course_id=course_id, start_date=body.start_date
    )
    return _assigned("Course schedule updated", link)


@groups_router.delete(
    "/{group_id}/courses/{course_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422),
)
async def unassign_course(
    group: ManagedGroup, course_id: CourseIdPath, session: SessionDep
) -> Response:
    """Take a course away from the group (manager or admin)."""
    await service.unassign_course(session, group=group, course_id=course_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
