"""`GET /api/courses/{course_id}/bundle`: a whole course for offline reading."""

from fastapi import Request, Response

from tma.bundle import service
from tma.bundle.schemas import Bundle
from tma.core.clock import Now
from tma.core.db import SessionDep, utcnow
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.etag import etag
from tma.core.pagination import json_response
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_adapter
from tma.courses.availability import today_of
from tma.courses.dependencies import CourseIdPath
from tma.i18n.dependencies import in_language, translator
from tma.i18n.texts import translate_bundle
from tma.users.dependencies import CurrentUser
from tma.users.service import viewer_id

router = PrefixedRouter(prefix="/courses", tags=["courses"], responses=responses(401, 403))

_BUNDLE = row_adapter(Bundle)
_GENERATED_AT = b',"generated_at":'


@router.get("/{course_id}/bundle", response_model=Bundle, responses=responses(404, 422))
async def get_bundle(
    course_id: CourseIdPath,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    request: Request,
) -> Response:
    """The course, its modules in order and every post with your progress and the quiz
    (without answers): all a phone needs to show the course offline. A module not open to
    you yet is listed with `posts: []`."""
    body = await service.bundle(
        session,
        course_id=course_id,
        user_id=user.id,
        viewer_id=viewer_id(user),
        settings=settings,
        today=today_of(now),
    )
    language = await translate_bundle(session, translator(request, user), body)
    response = in_language(json_response(_BUNDLE, {**body, "generated_at": utcnow()}), language)
    # The tag covers everything but `generated_at` (the last key): a bundle made again with
    # nothing changed is the same bundle (304), though made at another time.
    content = bytes(response.body)
    response.headers["ETag"] = etag(content[: content.rindex(_GENERATED_AT)]).decode()
    return response
