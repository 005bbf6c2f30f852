"""Files under /api/files: uploads (attachments by admins, avatars by anyone signed in),
downloads (an avatar by anyone, an attachment by signature or by token), deletion."""

from typing import Annotated, Any, NoReturn
from urllib.parse import quote

from fastapi import Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from tma.core.db import SessionDep
from tma.core.deps import SettingsDep
from tma.core.errors import Forbidden, NotFound, Unauthorized, responses
from tma.core.routing import PrefixedRouter
from tma.core.types import MAX_ID
from tma.files import service
from tma.files.detect import BY_CONTENT_TYPE
from tma.files.models import FileKind, StoredFile
from tma.files.multipart import MultipartError, UploadParts, read_multipart
from tma.files.schemas import FileRead
from tma.files.storage import FileStore, StoredObjectMissing
from tma.files.urls import file_url, signature_valid
from tma.users.dependencies import AdminUser, CurrentUser, OptionalUser

# Uploads, deletion: every route names its caller (private router).
router = PrefixedRouter(prefix="/files", tags=["files"], responses=responses(401, 403))
# Downloads: an avatar needs no token (an `<img>` sends none), an attachment a signature
# or a token, checked in the route.
public_router = PrefixedRouter(prefix="/files", tags=["files"])


async def file_store(request: Request) -> FileStore:
    store: FileStore = request.app.state.file_store
    return store


FileStoreDep = Annotated[FileStore, Depends(file_store)]

# What a file id looks like: URL-safe base64 of at least 128 bits. The routes match only such
# a segment, so `/api/files/upload-avatar` is the upload route alone (no GET or DELETE of a
# file named "upload-avatar"), and any other segment is simply no route (404).
FILE_ID_REGEX = "[A-Za-z0-9_-]{22,64}"


class FileIdConvertor(Convertor[str]):
    regex = FILE_ID_REGEX

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("file_id", FileIdConvertor())
FILE_PATH = "/{file_id:file_id}"

FileIdPath = Annotated[
    str,
    Path(
        min_length=22,
        max_length=64,
        pattern=f"^{FILE_ID_REGEX}$",
        description="A file id (opaque, URL-safe)",
    ),
]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "The file; its type is read from its bytes",
                        }
                    },
                }
            }
        },
    }
}
# The fields a multipart body may carry besides `file` (ignored), and their size.
_MAX_FIELDS = 16
_MAX_FIELD_BYTES = 64 * 1024


def _invalid_body(message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", "file"), "msg": message, "type": kind}])


async def _upload_of(request: Request) -> tuple[UploadFile, UploadParts]:
    """The multipart field `file` (the parts too, to close), or 422. The body has been read
    to the end by the time this returns: the middleware refused it (413) if it grew past
    the upload limit, and everything past the first MiB went to a temporary file."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
        await _refuse_form(request)  # JSON, a urlencoded form...: no file in it
    try:
        parts = await read_multipart(
            content_type,
            request.stream(),
            max_files=1,
            max_fields=_MAX_FIELDS,
            max_field_bytes=_MAX_FIELD_BYTES,
        )
    except ClientDisconnect as exc:  # the client went away: nothing is stored
        raise _invalid_body("The upload ended before it was complete", "upload_aborted") from exc
    except MultipartError as exc:
        raise _invalid_body(f"Malformed multipart body: {exc}", "multipart_invalid") from exc
    upload = parts.files.get("file")
    if upload is not None:
        return upload, parts
    await parts.close()
    if "file" in parts.fields:
        raise _invalid_body("Must be a file (a multipart part with a filename)", "file_type")
    raise _invalid_body("Field required", "missing")


async def _refuse_form(request: Request) -> NoReturn:
    """A body that is no multipart form, read by Starlette: it never holds a file (422)."""
    try:
        form = await request.form(
            max_files=1, max_fields=_MAX_FIELDS, max_part_size=_MAX_FIELD_BYTES
        )
    except ClientDisconnect as exc:
        raise _invalid_body("The upload ended before it was complete", "upload_aborted") from exc
    except StarletteHTTPException as exc:
        if exc.status_code != status.HTTP_400_BAD_REQUEST:
            raise  # 413 from the body limit
        raise _invalid_body(f"Malformed body: {exc.detail}", "multipart_invalid") from exc
    upload = form.get("file")
    await form.close()
    if upload is None:
        raise _invalid_body("Field required", "missing")
    raise _invalid_body("Must be a file (a multipart part with a filename)", "file_type")


async def _upload(
    request: Request, session: AsyncSession, store: FileStore, *, kind: FileKind, uploader_id: int
) -> FileRead:
    upload, form = await _upload_of(request)
    try:
        record = await service.store_upload(
            session,
            store,
            upload=upload,
            kind=kind,
            uploader_id=uploader_id,
            max_bytes=request.app.state.settings.max_upload_bytes,
        )
    finally:
        await form.close()
    return _read(record)


def _read(record: StoredFile) -> FileRead:
    return FileRead(
        id=record.id,
        url=file_url(record.id),
        filename=record.filename,
        content_type=record.content_type,
        size=record.size,
        created_at=record.created_at,
    )


# The two upload routes differ only in who may upload and what kind of file it is.
_UPLOAD_ROUTE: dict[str, Any] = {
    "response_model": FileRead,
    "status_code": status.HTTP_201_CREATED,
    "responses": responses(413, 415, 422),
    "openapi_extra": _UPLOAD_BODY,
}


@router.post("", **_UPLOAD_ROUTE)
async def upload_file(
    request: Request, admin: AdminUser, session: SessionDep, store: FileStoreDep
) -> FileRead:
    """Upload an attachment for posts (admin): PDF, PNG, JPEG or WebP, by its bytes."""
    return await _upload(request, session, store, kind=FileKind.ATTACHMENT, uploader_id=admin.id)


@router.post("/upload-avatar", **_UPLOAD_ROUTE)
async def upload_avatar(
    request: Request, user: CurrentUser, session: SessionDep, store: FileStoreDep
) -> FileRead:
    """Upload a picture to set as your `avatar_url` (any signed-in user): PNG, JPEG or WebP.
    Its `url` opens without a token."""
    return await _upload(request, session, store, kind=FileKind.AVATAR, uploader_id=user.id)


def content_disposition(filename: str, *, inline: bool) -> str:
    """`inline` or `attachment` with the name twice: an ASCII fallback, and RFC 6266's
    UTF-8 form. The name is already safe (no path, quote or control character)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# A file is data, never a page: even a polyglot served as an image cannot run a script.
FILE_CSP = "default-src 'none'; sandbox"
_BINARY = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, with its type and Content-Disposition",
        "content": dict.fromkeys(BY_CONTENT_TYPE, _BINARY),
    },
    **responses(401, 403, 404, 422),
}


ExpiresQuery = Annotated[
    int | None, Query(ge=0, le=MAX_ID, description="Unix time a signed URL ends")
]
SignatureQuery = Annotated[
    str | None, Query(max_length=128, description="The signed URL's signature")
]


async def _readable_file(
    file_id: FileIdPath,
    caller: OptionalUser,
    session: SessionDep,
    settings: SettingsDep,
    expires: ExpiresQuery = None,
    signature: SignatureQuery = None,
) -> StoredFile:
    """The file when this request may read it: the parameters and rules of GET, shared by
    HEAD (a dependency, so that both routes declare them once)."""
    record, token_may_read = await service.find_file(session, file_id=file_id, caller=caller)
    if record.kind != FileKind.AVATAR and not token_may_read:
        signed = expires is not None or signature is not None
        if signed and expires is not None and signature is not None:
            signed_ok = signature_valid(record.id, expires, signature, settings)
        else:
            signed_ok = False
        if not signed_ok:
            if signed:
                raise Forbidden("This file link is invalid or has expired")
            if caller is None:
                raise Unauthorized("Not authenticated")
            raise Forbidden("You don't have access to this file")
    return record


ReadableFile = Annotated[StoredFile, Depends(_readable_file)]


def _download_headers(record: StoredFile, size: int) -> dict[str, str]:
    file_type = BY_CONTENT_TYPE.get(record.content_type)
    return {
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(
            record.filename, inline=file_type is not None and file_type.inline
        ),
        "Content-Security-Policy": FILE_CSP,
    }


@public_router.get(FILE_PATH, response_class=StreamingResponse, responses=_DOWNLOAD_RESPONSES)
async def download_file(record: ReadableFile, store: FileStoreDep) -> StreamingResponse:
    """The file's bytes. An avatar: to anyone. An attachment: with the signature of a
    post's `file_url` (until it expires), or with a bearer token to staff and to a user who
    sees a post using it. `HEAD` answers the same status and headers, without the bytes."""
    try:
        opened = await store.read(record.id)
    except StoredObjectMissing as exc:
        raise NotFound(f"File {record.id} not found") from exc
    headers = _download_headers(record, opened.size)
    return StreamingResponse(opened.chunks, media_type=record.content_type, headers=headers)


# HEAD: GET's answer without the body (a client checks a file's type and size, a cache its
# freshness). Out of the OpenAPI document, which would give it GET's operation id again; the
# contract documents it in GET's section, and the coverage plugin counts it there.
@public_router.head(FILE_PATH, include_in_schema=False)
async def download_file_head(record: ReadableFile, store: FileStoreDep) -> Response:
    """The headers `GET` would send for this file, with no body."""
    try:
        size = await store.size(record.id)
    except StoredObjectMissing as exc:
        raise NotFound(f"File {record.id} not found") from exc
    headers = _download_headers(record, size)
    return Response(status_code=status.HTTP_200_OK, media_type=record.content_type, headers=headers)


@router.delete(FILE_PATH, status_code=status.HTTP_204_NO_CONTENT, responses=responses(400, 404))
async def delete_file(
    file_id: FileIdPath, _admin: AdminUser, session: SessionDep, store: FileStoreDep
) -> Response:
    """Delete a file and its bytes (admin); refused (400) while a post uses it."""
    await service.delete_file(session, store, file_id=file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
