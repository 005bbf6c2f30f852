"""Threats against file uploads and downloads: a type that lies (extension, header), polyglot
files, path tricks in the name, bodies too large (also streamed without Content-Length),
signed URLs that expired or were altered, reading an attachment of a course you cannot
see, a non-admin uploading an attachment, and uploads that fail half way.

Contract: docs/contracts/files.md."""

import base64
import io
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.files import service
from tma.files.models import FileKind, StoredFile
from tma.files.service import new_file_id
from tma.files.urls import signed_file_url
from tma.posts.models import Post
from tma.seed.files import sample_pdf, sample_png

Headers = dict[str, str]
MAX_UPLOAD = 2 * 1024 * 1024  # the suite's TMA_MAX_UPLOAD_BYTES (conftest.py)
PDF = sample_pdf("Threat model")
PNG = sample_png((90, 90, 200), 16)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
CHUNK = 64 * 1024
BOUNDARY = "tma-test-boundary"
ATTACHMENT_415 = (
    "Unsupported file type: attachments may be application/pdf, image/png, image/jpeg, image/webp"
)
AVATAR_415 = "Unsupported file type: avatars may be image/png, image/jpeg, image/webp"


async def file_rows(test_db: Any) -> int:
    async with test_db.session() as session:
        count: int = await session.scalar(select(func.count()).select_from(StoredFile))
        return count


@pytest.fixture
def attach(make_module: Any, make_post: Any) -> Any:
    """`await attach(file_id, course=None)` -> a new attachment post using `file_id`, alone
    in a new module (linked into `course` when given)."""

    async def make(file_id: str, course: Any = None) -> Post:
        module = await make_module(course=course)
        post: Post = await make_post(module, "attachment", file_id=file_id)
        return post

    return make


class StreamedUpload:
    """A multipart upload of `size` file bytes streamed in 64 KiB chunks with no
    Content-Length; `sent` counts the bytes the server pulled."""

    def __init__(self, size: int, head: bytes = PDF) -> None:
        self.size = size
        self.head = head
        self.sent = 0
        self.headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    async def chunks(self) -> AsyncIterator[bytes]:
        opening = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        yield self._count(opening + self.head)
        left = self.size - len(self.head)
        while left > 0:
            step = min(CHUNK, left)
            left -= step
            yield self._count(b"%" * step)
        yield self._count(f"\r\n--{BOUNDARY}--\r\n".encode())

    def _count(self, data: bytes) -> bytes:
        self.sent += len(data)
        return data


# --- types that lie -----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "name", "declared"),
    [
        (HTML, "photo.png", "image/png"),
        (
            b"MZ\x90\x00\x03" + b"\x00" * 59 + b"This program cannot be run",
            "report.pdf",
            "application/pdf",
        ),
        (b"#!/bin/sh\nrm -rf /\n", "sheet.jpg", "image/jpeg"),
    ],
    ids=["html-as-png", "exe-as-pdf", "script-as-jpeg"],
)
async def test_upload_file_lying_extension_and_header_returns_415(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    test_db: Any,
    file_store: Any,
    content: bytes,
    name: str,
    declared: str,
) -> None:
    """The name and the client's Content-Type are ignored: HTML, an executable or a script
    sent as `.png`/`.pdf`/`.jpg` with a matching header is still refused (415)."""
    response = await client.post(
        "/api/files", files={"file": (name, content, declared)}, headers=auth_headers
    )

    assert response.status_code == 415
    assert response.json() == {"detail": ATTACHMENT_415}
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_avatar_pdf_sent_as_png_returns_415(
    client: httpx.AsyncClient, user_headers: Headers, file_store: Any
) -> None:
    """A PDF posing as a PNG avatar (name and header) is refused: avatars are images."""
    response = await client.post(
        "/api/files/upload-avatar",
        files={"file": ("me.png", PDF, "image/png")},
        headers=user_headers,
    )

    assert response.status_code == 415
    assert response.json() == {"detail": AVATAR_415}
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_png_sent_as_pdf_is_stored_as_png(
    client: httpx.AsyncClient, auth_headers: Headers, file_store: Any
) -> None:
    """A PNG named `slides.pdf` with header `application/pdf` is what its bytes say: stored
    and served as `image/png`, named `slides.png`."""
    response = await client.post(
        "/api/files", files={"file": ("slides.pdf", PNG, "application/pdf")}, headers=auth_headers
    )

    assert response.status_code == 201
    assert (response.json()["content_type"], response.json()["filename"]) == (
        "image/png",
        "slides.png",
    )
    served = await client.get(response.json()["url"], headers=auth_headers)
    assert served.headers["content-type"] == "image/png"


# --- polyglots ------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content",
    [
        HTML + PNG,
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + b"PK\x03\x04" + b"\x00" * 26,
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' + PNG,
    ],
    ids=["html-then-png", "gif-jar", "svg-then-png"],
)
async def test_upload_polyglot_led_by_a_refused_type_returns_415(
    client: httpx.AsyncClient, user_headers: Headers, file_store: Any, content: bytes
) -> None:
    """A polyglot whose leading signature is a refused type (an HTML page or SVG carrying a
    PNG, a GIF that is also a JAR) is that type: 415, even though it contains an image."""
    response = await client.post(
        "/api/files/upload-avatar",
        files={"file": ("a.png", content, "image/png")},
        headers=user_headers,
    )

    assert response.status_code == 415
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_get_file_png_carrying_html_is_served_as_an_inert_image(
    client: httpx.AsyncClient, user_headers: Headers, file_store: Any
) -> None:
    """A PNG with an HTML page and script appended, named `x.html`, is only ever a PNG:
    `image/png`, `nosniff`, inline as `x.png`, and a CSP that forbids any script or page."""
    content = PNG + HTML
    uploaded = await client.post(
        "/api/files/upload-avatar",
        files={"file": ("x.html", content, "text/html")},
        headers=user_headers,
    )
    assert uploaded.status_code == 201

    response = await client.get(uploaded.json()["url"])

    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["content-disposition"].startswith('inline; filename="x.png"')


@pytest.mark.asyncio
async def test_get_file_pdf_with_script_is_a_download_never_inline(
    client: httpx.AsyncClient, auth_headers: Headers, file_store: Any
) -> None:
    """A PDF (which may carry JavaScript, or be an HTML polyglot) is always served as a
    download (`Content-Disposition: attachment`) under a sandboxing CSP."""
    content = PDF + b"<script>alert(1)</script>" + HTML
    uploaded = await client.post(
        "/api/files", files={"file": ("a.html", content, "text/html")}, headers=auth_headers
    )

    response = await client.get(uploaded.json()["url"], headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf"
    )
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"


# --- names that try to reach a path -----------------------------------------------------


def raw_multipart(filename: bytes, content: bytes) -> tuple[bytes, Headers]:
    """A multipart body whose part carries `filename` byte for byte (httpx would
    percent-encode quotes and control characters), and its Content-Type header."""
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "stored"),
    [
        (b"../../../etc/cron.d/evil.png", "evil.png"),
        (b"..\\..\\windows\\system32\\evil.png", "evil.png"),
        (b"/absolute/path/evil.png", "evil.png"),
        (b"..", "file.png"),
        (b"evil\x00.png", "evil.png"),
        (b"evil\x1b[31m\x07.png", "evil[31m.png"),
        (b"te<>|?*:st.png", "test.png"),
        ("\u202egnp.exe".encode(), "gnp.png"),
    ],
    ids=[
        "dot-dot",
        "backslashes",
        "absolute",
        "only-dots",
        "nul",
        "control",
        "reserved",
        "bidi-override",
    ],
)
async def test_upload_name_with_path_is_reduced_to_a_base_name(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    file_store: Any,
    test_settings: Any,
    name: bytes,
    stored: str,
) -> None:
    """The client's name never reaches a path: `filename` is a safe base name, and the bytes
    are stored under the server's random id inside the upload directory, nowhere else."""
    around = sorted(p.name for p in test_settings.upload_dir.parent.iterdir())
    body, headers = raw_multipart(name, PNG)

    response = await client.post("/api/files", content=body, headers={**auth_headers, **headers})

    assert response.status_code == 201
    assert response.json()["filename"] == stored
    assert await file_store.keys() == [response.json()["id"]]
    assert sorted(p.name for p in test_settings.upload_dir.iterdir()) == [response.json()["id"]]
    assert sorted(p.name for p in test_settings.upload_dir.parent.iterdir()) == around


# --- sizes -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_upload_streamed_without_length_over_limit_returns_413_unread(
    client: httpx.AsyncClient, auth_headers: Headers, test_db: Any, file_store: Any
) -> None:
    """A 50 MiB upload streamed with no Content-Length is refused (413) once it passes the
    limit: the server pulls little more than the limit, holds at most about a MiB of it in
    memory at any time (the rest went to a temporary file), and keeps no row and no bytes."""
    upload = StreamedUpload(50 * 1024 * 1024)
    tracemalloc.start()
    try:
        response = await client.post(
            "/api/files", content=upload.chunks(), headers={**auth_headers, **upload.headers}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": f"File larger than {MAX_UPLOAD} bytes"}
    assert upload.sent <= MAX_UPLOAD + 64 * 1024 + 2 * CHUNK
    assert peak < 1.75 * 1024 * 1024
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_streamed_without_length_within_limit_returns_201(
    client: httpx.AsyncClient, auth_headers: Headers, file_store: Any
) -> None:
    """The same streamed upload within the limit (1.9 MiB) is accepted whole."""
    upload = StreamedUpload(1900 * 1024)

    response = await client.post(
        "/api/files", content=upload.chunks(), headers={**auth_headers, **upload.headers}
    )

    assert response.status_code == 201
    assert response.json()["size"] == 1900 * 1024


@pytest.mark.asyncio
async def test_json_routes_keep_the_1_mib_limit_beside_uploads(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    """The upload limit is only for the two upload routes: a 1.5 MiB JSON body elsewhere
    (here `PATCH /api/auth/me`, streamed with no Content-Length) is still 413 at 1 MiB."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"first_name": "'
        for _ in range(24):
            yield b"x" * CHUNK
        yield b'"}'

    response = await client.patch(
        "/api/auth/me",
        content=chunks(),
        headers={**user_headers, "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1048576 bytes"}


# --- who may upload -------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["user", "manager"])
async def test_upload_file_as_non_admin_returns_403_before_reading_the_body(
    client: httpx.AsyncClient,
    make_user: Any,
    make_auth_headers: Any,
    test_db: Any,
    file_store: Any,
    role: str,
) -> None:
    """A non-admin cannot upload an attachment: 403 before the body is read (the server
    pulls none of its file bytes), and nothing is stored."""
    caller = await make_user(role=role)
    upload = StreamedUpload(MAX_UPLOAD)

    response = await client.post(
        "/api/files",
        content=upload.chunks(),
        headers={**make_auth_headers(caller), **upload.headers},
    )

    assert response.status_code == 403
    assert upload.sent == 0
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


# --- signed URLs ------------------------------------------------------------------------------


def _flip(text: str) -> str:
    """`text` with its first character changed."""
    return ("B" if text[0] == "A" else "A") + text[1:]


@pytest.mark.asyncio
async def test_get_file_altered_or_expired_signed_urls_return_403(
    client: httpx.AsyncClient, upload_file: Any, attach: Any, test_settings: Any
) -> None:
    """A signed URL works only as the server made it, and only until it expires: an altered
    signature, a pushed-back expiry, another file's signature, half a signature and an
    expired one are all 403; the untouched URL opens."""
    first = await upload_file()
    second = await upload_file(PNG, filename="b.png")
    await attach(first["id"])
    await attach(second["id"])
    good = signed_file_url(first["id"], test_settings)
    path, query = good.split("?")
    expires = query.split("&")[0].removeprefix("expires=")
    signature = query.split("&")[1].removeprefix("signature=")
    old = signed_file_url(first["id"], test_settings, now=0)

    tampered = [
        f"{path}?expires={expires}&signature={_flip(signature)}",
        f"{path}?expires={int(expires) + 3600}&signature={signature}",
        f"/api/files/{second['id']}?expires={expires}&signature={signature}",
        f"{path}?signature={signature}",
        f"{path}?expires={expires}",
        old,
        f"{path}?expires={expires}&signature=",
    ]
    answers = [await client.get(url) for url in tampered]

    assert [a.status_code for a in answers] == [403] * len(tampered)
    assert {a.json()["detail"] for a in answers} == {"This file link is invalid or has expired"}
    assert (await client.get(good)).status_code == 200


def test_file_ids_are_unguessable() -> None:
    """File ids are 24 random bytes (192 bits, at least the 128 the spec asks), fresh each
    time: an avatar's URL is a capability nobody can guess."""
    ids = {new_file_id() for _ in range(1000)}

    assert len(ids) == 1000
    assert {len(base64.urlsafe_b64decode(i + "=" * (-len(i) % 4))) for i in ids} == {24}


# --- reading what you cannot see ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_file_attachment_of_course_user_cannot_see_returns_403(
    client: httpx.AsyncClient,
    upload_file: Any,
    attach: Any,
    user_headers: Headers,
    user_course: Any,
    make_course: Any,
) -> None:
    """A `user` in one course's group cannot read an attachment used only in another
    course (403), while the one in their own course opens."""
    theirs = await make_course(title="Theirs")
    own_file = await upload_file()
    other_file = await upload_file(PNG, filename="b.png")
    await attach(own_file["id"], course=user_course)
    await attach(other_file["id"], course=theirs)

    refused = await client.get(other_file["url"], headers=user_headers)
    allowed = await client.get(own_file["url"], headers=user_headers)

    assert refused.status_code == 403
    assert refused.json() == {"detail": "You don't have access to this file"}
    assert allowed.status_code == 200


# --- uploads that fail half way -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_upload_aborted_by_the_client_leaves_nothing(
    app: Any, admin_user: Any, make_auth_headers: Any, test_db: Any, file_store: Any
) -> None:
    """A client that goes away in the middle of the body (ASGI `http.disconnect`) leaves
    neither a row nor bytes, and gets no 500."""
    token = make_auth_headers(admin_user)["Authorization"].encode()
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
    ).encode() + PDF
    messages = [
        {"type": "http.request", "body": head, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/files",
        "raw_path": b"/api/files",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"authorization", token),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }

    await app(scope, receive, send)

    assert sent[0]["status"] == 422
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_whose_row_cannot_be_recorded_removes_its_bytes(
    app: Any, admin_user: Any, test_db: Any, file_store: Any
) -> None:
    """When the row cannot be committed after the bytes were stored (here: the database
    refuses it), the bytes are removed again: no orphan in the store, no row."""
    from starlette.datastructures import Headers as StarletteHeaders
    from starlette.datastructures import UploadFile

    class RefusingSession(AsyncSession):
        async def commit(self) -> None:
            raise RuntimeError("the database refused the row")

    upload = UploadFile(
        file=io.BytesIO(PDF),
        size=len(PDF),
        filename="a.pdf",
        headers=StarletteHeaders({}),
    )
    async with RefusingSession(app.state.db.engine) as session:
        with pytest.raises(RuntimeError, match="refused"):
            await service.store_upload(
                session,
                file_store,
                upload=upload,
                kind=FileKind.ATTACHMENT,
                uploader_id=admin_user.id,
                max_bytes=MAX_UPLOAD,
            )

    assert await file_store.keys() == []
    assert await file_rows(test_db) == 0
