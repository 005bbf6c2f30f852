"""What a file is, decided from its bytes (never its name or the client's `Content-Type`),
and the safe name it is shown under.

The type comes from puremagic, a maintained pure-Python library of file signatures: it
reads the file's first and last bytes and ranks the formats whose signature they carry.
The best-ranked match is the file's type; a file whose best match is not one of the
allowed types (PDF, PNG, JPEG, WebP for attachments; PNG, JPEG, WebP for avatars) is
refused. A polyglot (an image that is also an HTML page, a script or an archive) is
therefore only ever the type its leading signature says, and it is served as that type
with `nosniff` and a sandboxing Content-Security-Policy, so no browser runs it as a page.
"""

import os
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

import puremagic
from pathvalidate import sanitize_filename

from tma.files.models import FileKind


@dataclass(frozen=True)
class FileType:
    """An accepted type: its MIME type and the file-name extensions that belong to it."""

    content_type: str
    extensions: tuple[str, ...]  # the first is the one a wrong or missing extension becomes

    @property
    def inline(self) -> bool:
        """Whether a browser may show it in place (images); PDFs are downloaded."""
        return self.content_type.startswith("image/")


PDF = FileType("application/pdf", (".pdf",))
PNG = FileType("image/png", (".png",))
JPEG = FileType("image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"))
WEBP = FileType("image/webp", (".webp",))

ALLOWED: dict[FileKind, tuple[FileType, ...]] = {
    FileKind.ATTACHMENT: (PDF, PNG, JPEG, WEBP),
    FileKind.AVATAR: (PNG, JPEG, WEBP),
}
BY_CONTENT_TYPE = {t.content_type: t for t in (PDF, PNG, JPEG, WEBP)}

MAX_FILENAME_LENGTH = 255
FALLBACK_STEM = "file"


def detect_type(stream: BinaryIO, kind: FileKind) -> FileType | None:
    """The file's type when it is one `kind` allows, else None (the caller answers 415).

    Blocking (it seeks and reads `stream`): run it in a worker thread."""
    stream.seek(0)
    try:
        matches = puremagic.magic_stream(stream)
    except (puremagic.PureError, ValueError):  # no signature known, or an empty file
        return None
    finally:
        stream.seek(0)
    if not matches:
        return None
    # puremagic ranks by confidence; among equals it lists the longer signature first.
    best = max(matches, key=lambda match: match.confidence)
    found = BY_CONTENT_TYPE.get(best.mime_type)
    return found if found in ALLOWED[kind] else None


def safe_filename(client_name: str | None, file_type: FileType) -> str:
    """The client's file name reduced to a safe base name with an extension of its real type.

    Only the last path component is kept (`/` and `\\` both separate), control characters
    and characters no file system accepts are dropped (pathvalidate, rules of every
    platform), and an extension that is not one of the type's becomes the type's own
    (`evil.html` that is a PNG is `evil.png`), so a saved download opens as what it is."""
    name = unicodedata.normalize("NFC", client_name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = sanitize_filename(name, platform="universal", max_len=MAX_FILENAME_LENGTH).strip()
    stem, extension = os.path.splitext(name)
    stem = stem.strip(" .") or FALLBACK_STEM
    if extension.lower() not in file_type.extensions:
        extension = file_type.extensions[0]
    room = MAX_FILENAME_LENGTH - len(extension)
    return stem[:room] + extension.lower()
