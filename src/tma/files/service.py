"""The rules of uploaded files: what may be stored, who may read it, when it may go.

Metadata lives in the `files` table, the bytes in the file store under the file's id (the
server's random name: no client string reaches a path or an object key). A file is stored
first and recorded second, and the bytes are removed again when recording fails, so a
failed upload leaves neither a row nor bytes; deleting a file removes its row, then its
bytes."""

import logging
import secrets
from collections.abc import AsyncIterator

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import ColumnElement, delete, exists, false, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from tma.core.errors import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from tma.core.reads import first, get_with_flag
from tma.courses.visibility import module_visible_to
from tma.files.detect import ALLOWED, detect_type, image_problem, safe_filename
from tma.files.models import FileKind, StoredFile
from tma.files.storage import FileStore
from tma.posts.models import Post
from tma.users.caller import Caller
from tma.users.service import is_staff

logger = logging.getLogger("tma.files")

# 24 random bytes: 192 bits, 32 URL-safe characters (the spec asks for at least 128 bits).
ID_BYTES = 24
UPLOAD_CHUNK_BYTES = 1024 * 1024

_KIND_NAMES = {FileKind.ATTACHMENT: "attachments", FileKind.AVATAR: "avatars"}


def new_file_id() -> str:
    """A fresh opaque file id: the capability that lets an `<img>` show an avatar."""
    return secrets.token_urlsafe(ID_BYTES)


def too_large_detail(limit: int) -> str:
    """The one 413 sentence of uploads (the middleware's too)."""
    return f"File larger than {limit} bytes"


def _unsupported(kind: FileKind) -> UnsupportedMediaType:
    names = ", ".join(t.content_type for t in ALLOWED[kind])
    return UnsupportedMediaType(f"Unsupported file type: {_KIND_NAMES[kind]} may be {names}")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
        yield chunk


async def store_upload(
    session: AsyncSession,
    store: FileStore,
    *,
    upload: UploadFile,
    kind: FileKind,
    uploader_id: int,
    max_bytes: int,
) -> StoredFile:
    """Check, store and record one uploaded file.

    413 over `max_bytes`; 415 when its bytes are not a type `kind` allows (the name and
    the client's `Content-Type` are never consulted), or carry an image's signature without
    an image's header structure (`image_problem`). The bytes are written under a new
    random id, then the row is committed; if that fails the bytes are removed."""
    size = upload.size if upload.size is not None else 0
    if size > max_bytes:
        raise PayloadTooLarge(too_large_detail(max_bytes))
    file_type = await run_in_threadpool(detect_type, upload.file, kind)
    if file_type is None:
        raise _unsupported(kind)
    problem = await run_in_threadpool(image_problem, upload.file, file_type)
    if problem is not None:  # the signature of an image, not the structure of one
        raise UnsupportedMediaType(f"Not a valid {file_type.content_type} image: {problem}")
    record = StoredFile(
        id=new_file_id(),
        kind=kind.value,
        filename=safe_filename(upload.filename, file_type),
        content_type=file_type.content_type,
        size=size,
        uploaded_by=uploader_id,
    )
    try:
        await store.put(record.id, _chunks(upload))
        session.add(record)
        await session.commit()
    except BaseException:
        # Not stored whole or not recorded (store or database error, a cancelled request):
        # neither the row nor any bytes stay.
        await session.rollback()
        await store.delete(record.id)
        raise
    return record


def _visibility(caller: Caller | None) -> ColumnElement[bool]:
    """True when `caller` may read an attachment with their token: staff always; a `user`
    when some post using it is in a module they see."""
    if caller is None:
        return false()
    if is_staff(caller):
        return true()
    return exists().where(
        Post.file_id == StoredFile.id, module_visible_to(Post.module_id, caller.id)
    )


async def find_file(
    session: AsyncSession, *, file_id: str, caller: Caller | None
) -> tuple[StoredFile, bool]:
    """The file and whether `caller`'s token lets them read it, in one statement (404 for
    an unknown id)."""
    missing = NotFound(f"File {file_id} not found")
    return await get_with_flag(session, StoredFile, file_id, _visibility(caller), missing)


async def delete_file(session: AsyncSession, store: FileStore, *, file_id: str) -> None:
    """Delete a file's row, then its bytes. 404 unknown; 400 while a post uses it (also
    when a post takes it between the check and the delete: the foreign key refuses)."""
    used = exists().where(Post.file_id == StoredFile.id)
    row = await first(
        session, select(StoredFile.id, used.label("used")).where(StoredFile.id == file_id)
    )
    if row is None:
        raise NotFound(f"File {file_id} not found")
    in_use = Conflict("File is used by a post; delete or change the post first")
    if row["used"]:
        raise in_use
    try:
        await session.execute(delete(StoredFile).where(StoredFile.id == file_id))
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise in_use from exc
    try:
        await store.delete(file_id)
    except Exception:  # the row is gone; leftover bytes are unreachable, say so in the log
        logger.exception("could not delete the bytes of file %s", file_id)
