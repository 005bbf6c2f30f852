"""Modules under /api/modules: any signed-in user reads what they see; admins write."""

from fastapi import Response, status

from tma.auth.dependencies import AdminUser, CurrentUser
from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, set_total
from tma.core.routing import PrefixedRouter
from tma.courses.dependencies import ModuleIdPath
from tma.modules import service
from tma.modules.dependencies import CourseFilter, VisibleModule, viewer_id
from tma.modules.schemas import ModuleCreate, ModuleDetail, ModuleRead, ModuleUpdate
from tma.posts import service as posts

router = PrefixedRouter(prefix="/modules", tags=["modules"], responses=responses(401, 403))


@router.get("", response_model=list[ModuleRead], responses=responses(404, 422))
async def list_modules(
    user: CurrentUser,
    course_id: CourseFilter,
    page: PageDep,
    session: SessionDep,
    response: Response,
) -> list[ModuleRead]:
    """Modules you see, oldest first; with `course_id`, that course's in its order."""
    rows, total = await service.list_modules(
        session, viewer_id=viewer_id(user), page=page, course_id=course_id
    )
    set_total(response, total)
    return [ModuleRead.model_validate(row) for row in rows]


@router.post(
    "", response_model=ModuleRead, status_code=status.HTTP_201_CREATED, responses=responses(422)
)
async def create_module(body: ModuleCreate, _admin: AdminUser, session: SessionDep) -> ModuleRead:
    """Create a module, in no course yet (admin)."""
    return ModuleRead.model_validate(await service.create_module(session, data=body))


@router.get("/{module_id}", response_model=ModuleDetail, responses=responses(404, 422))
async def get_module(
    module: VisibleModule, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ModuleDetail:
    """One module with its posts in order and the courses you see it in."""
    rows = await posts.module_posts(session, module_id=module["id"])
    ids = await service.course_ids(session, module_id=module["id"], viewer_id=viewer_id(user))
    return ModuleDetail.model_validate(
        {**module, "posts": [posts.post_dict(row, settings) for row in rows], "course_ids": ids}
    )


@router.patch("/{module_id}", response_model=ModuleRead, responses=responses(404, 422))
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
