"""Reading an upload's multipart body: python-multipart's parser, with our own limits.

Starlette's `Request.form()` builds python-multipart's parser with its default limit on a
part's header line (4,224 bytes), which no option changes: a file name of some 4,100
characters or more made the whole upload 422, while a shorter long name is simply cut to
255 characters (tma.files.detect.safe_filename). This reader gives a header line the same
room as the rest of an upload's framing (64 KiB, the middleware's `MULTIPART_FRAMING_BYTES`),
so every name a client can send within that room is kept and cut alike. Otherwise it reads
like Starlette's: at most `max_files` file parts (each spooled to a temporary file past
1 MiB), at most `max_fields` other fields of `max_field_bytes` each, and the same messages.
"""

import codecs
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers, UploadFile

from tma.core.middleware import MULTIPART_FRAMING_BYTES

if TYPE_CHECKING:  # a typing-only name of python-multipart
    from python_multipart.multipart import MultipartCallbacks

SPOOL_BYTES = 1024 * 1024  # past this, a file part goes to a temporary file on disk


class MultipartError(ValueError):
    """The body is not a well-formed multipart form within the limits (the message says
    why); the caller answers 422 `multipart_invalid`."""


@dataclass
class UploadParts:
    """What a multipart body held: its file parts and the names of its plain fields."""

    files: dict[str, UploadFile] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)

    async def close(self) -> None:
        for upload in self.files.values():
            await upload.close()


def _decode(value: bytes, charset: str) -> str:
    try:
        return value.decode(charset)
    except UnicodeDecodeError:
        return value.decode("latin-1")


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    disposition: bytes = b""
    name: str = ""
    upload: UploadFile | None = None
    field_bytes: int = 0


class _Reader:
    """python-multipart's callbacks: they collect, `read_multipart` awaits the writes."""

    def __init__(self, charset: str, max_files: int, max_fields: int, max_field_bytes: int):
        self.charset = charset
        self.max_files, self.max_fields, self.max_field_bytes = (
            max_files,
            max_fields,
            max_field_bytes,
        )
        self.parts = UploadParts()
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.to_write: list[tuple[UploadFile, bytes]] = []
        self.file_count = 0
        self.field_count = 0

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.lower()
        if name == b"content-disposition":
            self.part.disposition = self.header_value
        self.part.headers.append((name, self.header_value))
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        if b"name" not in options:
            raise MultipartError('The Content-Disposition header field "name" must be provided.')
        self.part.name = _decode(options[b"name"], self.charset)
        if b"filename" in options:
            self.file_count += 1
            if self.file_count > self.max_files:
                raise MultipartError(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            spool = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by UploadParts
            self.part.upload = UploadFile(
                file=spool,  # type: ignore[arg-type]
                size=0,
                filename=_decode(options[b"filename"], self.charset),
                headers=Headers(raw=self.part.headers),
            )
            # A repeated name keeps the first file; the limit of one file refuses the rest.
            self.parts.files.setdefault(self.part.name, self.part.upload)
        else:
            self.field_count += 1
            if self.field_count > self.max_fields:
                raise MultipartError(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )
            self.parts.fields.add(self.part.name)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.upload is not None:
            self.to_write.append((self.part.upload, data[start:end]))
            return
        self.part.field_bytes += end - start
        if self.part.field_bytes > self.max_field_bytes:
            limit = self.max_field_bytes // 1024
            raise MultipartError(f"Part exceeded maximum size of {limit}KB.")

    def on_part_end(self) -> None:
        pass


async def read_multipart(
    content_type: str,
    stream: AsyncIterator[bytes],
    *,
    max_files: int,
    max_fields: int,
    max_field_bytes: int,
) -> UploadParts:
    """The parts of a `multipart/form-data` body (`content_type` is the request's header).

    MultipartError when it is malformed or over a limit; the stream's own errors (the body
    limit's 413, a client that went away) pass through. Nothing stays open on an error."""
    _, params = parse_options_header(content_type)
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("Missing boundary in multipart.")
    reader = _Reader(charset, max_files, max_fields, max_field_bytes)
    try:
        parser = MultipartParser(
            boundary, reader.callbacks(), max_header_size=MULTIPART_FRAMING_BYTES
        )
        async for chunk in stream:
            parser.write(chunk)
            for upload, data in reader.to_write:
                await upload.write(data)
            reader.to_write.clear()
        parser.finalize()
        for upload in reader.parts.files.values():
            await upload.seek(0)
    except BaseException as exc:
        await reader.parts.close()
        if isinstance(exc, FormParserError | ValueError) and not isinstance(exc, MultipartError):
            raise MultipartError("Invalid multipart data.") from exc
        raise
    return reader.parts
