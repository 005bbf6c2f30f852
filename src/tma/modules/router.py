"""Modules under /api/modules: any signed-in user reads what they see; admins write."""

from fastapi import Request, Response, status

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter, created
from tma.core.schemas import row_adapter, row_list_adapter
from tma.courses.dependencies import ModuleIdPath
from tma.i18n.dependencies import in_language, translator
from tma.i18n.texts import translate_module, translate_modules
from tma.modules import service
from tma.modules.dependencies import CourseFilter
from tma.modules.schemas import ModuleCreate, ModuleDetail, ModuleRead, ModuleUpdate
from tma.users.dependencies import AdminUser, CurrentUser
from tma.users.service import viewer_id

_MODULE_LIST = row_list_adapter(ModuleRead)

router = PrefixedRouter(prefix="/modules", tags=["modules"], responses=responses(401, 403))


@router.get("", response_model=list[ModuleRead], responses=responses(404, 422))
async def list_modules(
    user: CurrentUser,
    course_id: CourseFilter,
    page: PageDep,
    session: SessionDep,
    request: Request,
) -> Response:
    """Modules you see, oldest first; with `course_id`, that course's in its order."""
    rows, total = await service.list_modules(
        session, viewer_id=viewer_id(user), page=page, course_id=course_id
    )
    language = await translate_modules(session, translator(request, user), rows)
    return in_language(list_response(_MODULE_LIST, rows, total), language)


@router.post("", **created(ModuleRead, 422))
async def create_module(body: ModuleCreate, _admin: AdminUser, session: SessionDep) -> ModuleRead:
    """Create a module, in no course yet (admin)."""
    return ModuleRead.model_validate(await service.create_module(session, data=body))


_MODULE_DETAIL = row_adapter(ModuleDetail)


@router.get("/{module_id}", response_model=ModuleDetail, responses=responses(404, 422))
async def get_module(
    module_id: ModuleIdPath,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    request: Request,
) -> Response:
    """One module with its posts in order and the courses you see it in (a `user`: once
    it is open to them in one of their courses)."""
    # The existence and visibility checks run inside the service's first statement (one
    # read instead of a dependency's and the route's; docs/performance.md).
    module = await service.module_detail(
        session, module_id=module_id, viewer_id=viewer_id(user), settings=settings, now=now
    )
    language = await translate_module(session, translator(request, user), module)
    return in_language(json_response(_MODULE_DETAIL, module), language)


@router.patch("/{module_id}", response_model=ModuleRead, responses=responses(400, 404, 422))
async def update_module(
    module_id: ModuleIdPath, body: ModuleUpdate, _admin: AdminUser, session: SessionDep
) -> ModuleRead:
    """Change a module's title, description or color (admin)."""
    return ModuleRead.model_validate(
        await service.update_module(session, module_id=module_id, data=body)
    )


@router.delete(
    "/{module_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422)
)
async def delete_module(
    module_id: ModuleIdPath, _admin: AdminUser, session: SessionDep
) -> Response:
    """Delete a module with its posts; it leaves every course it was in (admin)."""
    await service.delete_module(session, module_id=module_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
