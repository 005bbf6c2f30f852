"""Translations under /api/translations/{kind}/{object_id}: admins write and list them."""

from fastapi import Response, status

from tma.core.clock import Now
from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_adapter, row_list_adapter
from tma.i18n import service
from tma.i18n.dependencies import LanguagePath, ObjectIdPath
from tma.i18n.schemas import TranslationRead, TranslationWrite
from tma.users.dependencies import AdminUser

_TRANSLATION = row_adapter(TranslationRead)
_TRANSLATION_LIST = row_list_adapter(TranslationRead)

router = PrefixedRouter(
    prefix="/translations", tags=["translations"], responses=responses(401, 403)
)


@router.get(
    "/{kind}/{object_id}", response_model=list[TranslationRead], responses=responses(404, 422)
)
async def list_translations(
    kind: str, object_id: ObjectIdPath, _admin: AdminUser, page: PageDep, session: SessionDep
) -> Response:
    """The translations of a course, module or post, by language (admin)."""
    rows, total = await service.list_translations(
        session, kind=kind, object_id=object_id, page=page
    )
    return list_response(_TRANSLATION_LIST, rows, total)


@router.put(
    "/{kind}/{object_id}/{language}",
    response_model=TranslationRead,
    responses=responses(404, 422),
)
async def put_translation(
    _admin: AdminUser,  # first: who may ask comes before what was asked (401/403, then 422)
    kind: str,
    object_id: ObjectIdPath,
    language: LanguagePath,
    body: TranslationWrite,
    session: SessionDep,
    now: Now,
) -> Response:
    """Store the translation of a course, module or post into `language`, replacing any
    (admin)."""
    stored = await service.write_translation(
        session, kind=kind, object_id=object_id, language=language, fields=body.fields(), now=now
    )
    return json_response(_TRANSLATION, stored)


@router.delete(
    "/{kind}/{object_id}/{language}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422),
)
async def delete_translation(
    _admin: AdminUser,  # first: who may ask comes before what was asked (401/403, then 422)
    kind: str,
    object_id: ObjectIdPath,
    language: LanguagePath,
    session: SessionDep,
    now: Now,
) -> Response:
    """Delete the translation of a course, module or post into `language` (admin)."""
    await service.write_translation(
        session, kind=kind, object_id=object_id, language=language, fields=None, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
