"""What a file is, decided from its bytes (never its name or the client's `Content-Type`),
and the safe name it is shown under.

The type comes from puremagic, a maintained pure-Python library of file signatures: it
reads the file's first and last bytes and ranks the formats whose signature they carry.
The best-ranked match is the file's type; a file whose best match is not one of the
allowed types (PDF, PNG, JPEG, WebP for attachments; PNG, JPEG, WebP for avatars) is
refused. A polyglot (an image that is also an HTML page, a script or an archive) is
therefore only ever the type its leading signature says, and it is served as that type
with `nosniff` and a sandboxing Content-Security-Policy, so no browser runs it as a page.

A signature alone is not an image: `image_problem` then checks the header structure of
PNG, JPEG and WebP files (below). Pillow would decode them fully, but it is a large C
dependency for the service; these checks are what every decoder reads first.
"""

import os
import unicodedata
import zlib
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


# --- images: the structure past the signature ---------------------------------------------
#
# puremagic reads signatures only: eight PNG bytes, or `FF D8 FF`, pass for an image. An
# image is also checked for the header every decoder needs before any pixel: PNG its IHDR
# chunk (CRC included) then image data; JPEG a frame header (SOFn) with its size, then a
# scan; WebP a RIFF container holding a VP8, VP8L or VP8X header with its size. Each
# declared length must fit in the file. The compressed pixels themselves are not decoded.

_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_MAX_DIMENSION = 2**31 - 1
# JPEG markers without a length, and the frame headers (SOF0-SOF15 less DHT, JPG, DAC).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class _Bytes:
    """Bounded reads from a seekable stream of known size."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size = stream.seek(0, os.SEEK_END)

    def read(self, offset: int, length: int) -> bytes | None:
        """`length` bytes at `offset`, or None when the file ends before."""
        if offset < 0 or offset + length > self.size:
            return None
        self.stream.seek(offset)
        data = self.stream.read(length)
        return data if len(data) == length else None


def _png_problem(data: _Bytes) -> str | None:
    ihdr = data.read(8, 25)  # length, type, 13 bytes of data, CRC
    if ihdr is None or ihdr[:8] != b"\x00\x00\x00\rIHDR":
        return "no complete IHDR chunk after the signature"
    width, height = int.from_bytes(ihdr[8:12]), int.from_bytes(ihdr[12:16])
    depth, color, compression, filtering, interlace = ihdr[16:21]
    if not (0 < width <= _MAX_DIMENSION and 0 < height <= _MAX_DIMENSION):
        return "width or height out of range in IHDR"
    if depth not in _PNG_DEPTHS.get(color, set()) or compression or filtering or interlace > 1:
        return "invalid IHDR fields"
    if zlib.crc32(ihdr[4:21]) != int.from_bytes(ihdr[21:25]):
        return "IHDR checksum mismatch"
    offset = 33
    while (head := data.read(offset, 8)) is not None:
        length, kind = int.from_bytes(head[:4]), head[4:]
        if offset + 12 + length > data.size:
            return f"chunk {kind!r} longer than the file"
        if kind == b"IDAT":
            return None
        if kind == b"IEND":
            break
        offset += 12 + length
    return "no image data (IDAT chunk)"


def _jpeg_problem(data: _Bytes) -> str | None:
    offset, framed = 2, False
    while True:
        marker = data.read(offset, 2)
        if marker is None or marker[0] != 0xFF:
            break
        if marker[1] == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        code = marker[1]
        offset += 2
        if code in _JPEG_STANDALONE:
            continue
        if code == 0xD9:  # end of image
            break
        length_bytes = data.read(offset, 2)
        length = int.from_bytes(length_bytes) if length_bytes else 0
        if length < 2 or offset + length > data.size:
            return "a segment longer than the file"
        if code in _JPEG_FRAMES:
            frame = data.read(offset + 2, 6)
            if frame is None:
                return "truncated frame header"
            height, width, components = (
                int.from_bytes(frame[1:3]),
                int.from_bytes(frame[3:5]),
                frame[5],
            )
            if not (height and width and components in (1, 3, 4)):
                return "frame header without a size"
            if length != 8 + 3 * components:
                return "invalid frame header"
            framed = True
        elif code == 0xDA:  # start of scan: the compressed image follows
            return None if framed else "scan before any frame header"
        offset += length
    return "no scan" if framed else "no frame header (SOF) with the image size"


def _webp_problem(data: _Bytes) -> str | None:
    riff = data.read(0, 12)
    if riff is None or riff[8:] != b"WEBP":
        return "not a RIFF WEBP container"
    if 8 + int.from_bytes(riff[4:8], "little") > data.size:
        return "RIFF size longer than the file"
    offset = 12
    while (head := data.read(offset, 8)) is not None:
        kind, length = head[:4], int.from_bytes(head[4:], "little")
        body = data.read(offset + 8, min(length, 10))
        if body is None or offset + 8 + length > data.size:
            return f"chunk {kind!r} longer than the file"
        if kind == b"VP8 ":  # frame tag (3 bytes), start code, 14-bit width and height
            width = int.from_bytes(body[6:8], "little") & 0x3FFF
            height = int.from_bytes(body[8:10], "little") & 0x3FFF
            ok = len(body) == 10 and body[3:6] == b"\x9d\x01\x2a" and width and height
            return None if ok else "invalid VP8 frame header"
        if kind == b"VP8L":
            ok = len(body) >= 5 and body[0] == 0x2F and body[4] >> 5 == 0
            return None if ok else "invalid VP8L header"
        if kind == b"ANMF":  # an animation frame (after VP8X and ANIM)
            return None
        offset += 8 + length + (length & 1)  # chunks are padded to an even length
    return "no VP8, VP8L or animation frame chunk"


_IMAGE_CHECKS = {
    "image/png": _png_problem,
    "image/jpeg": _jpeg_problem,
    "image/webp": _webp_problem,
}


def image_problem(stream: BinaryIO, file_type: FileType) -> str | None:
    """Why the file is not a usable image of `file_type` (its header structure), or None;
    None too for a type that is no image. Blocking: run it in a worker thread."""
    check = _IMAGE_CHECKS.get(file_type.content_type)
    if check is None:
        return None
    try:
        return check(_Bytes(stream))
    finally:
        stream.seek(0)


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
