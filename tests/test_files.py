"""Contract tests for files: upload an attachment or an avatar, download, delete.

Contract: docs/contracts/files.md. Attachments are uploaded by admins and read with a
post's signed `file_url` or a bearer token under the post's visibility rule; avatars are
uploaded by anyone signed in and read by anyone (no token). Types are decided by the
bytes; the stored name is the server's. The S3 back end runs the same flow against a
local S3-compatible server (moto) at the end of this file.
"""

import io
import re
import socket
import struct
import time
import zlib

import httpx
import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select

from expected import UTC_TIMESTAMP
from tma.files.models import StoredFile
from tma.files.urls import signed_file_url
from tma.main import create_app
from tma.seed.files import sample_pdf, sample_png

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")  # 24 random bytes, URL-safe base64
PDF = sample_pdf("Week 1: opening principles")
PNG = sample_png((30, 110, 160), 16)
ATTACHMENT_TYPES = "application/pdf, image/png, image/jpeg, image/webp"
AVATAR_TYPES = "image/png, image/jpeg, image/webp"
MAX_UPLOAD = 2 * 1024 * 1024  # the suite's TMA_MAX_UPLOAD_BYTES (conftest.py)
FILE_CSP = "default-src 'none'; sandbox"
BASE_URL = "http://test"  # the test client's address: file URLs in responses are absolute


def image(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    """A real image file of `fmt` (PNG, JPEG, WEBP), drawn by Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def multipart(content: bytes, filename: str = "notes.pdf", content_type: str = "text/plain"):
    """The `files=` of an upload: field `file` with this name and client Content-Type."""
    return {"file": (filename, content, content_type)}


async def file_rows(test_db) -> int:
    """How many rows the `files` table has."""
    async with test_db.session() as session:
        return await session.scalar(select(func.count()).select_from(StoredFile))


@pytest.fixture
def attach(make_module, make_post):
    """`await attach(file_id, course=None)` -> a new attachment post using `file_id`, alone
    in a new module (linked into `course` when given)."""

    async def make(file_id, course=None):
        module = await make_module(course=course)
        return await make_post(module, "attachment", file_id=file_id)

    return make


# --- POST /api/files ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "sent_name", "content_type", "stored_name"),
    [
        (PDF, "notes.pdf", "application/pdf", "notes.pdf"),
        (image("PNG"), "board.png", "image/png", "board.png"),
        (image("JPEG"), "photo.JPEG", "image/jpeg", "photo.jpeg"),
        (image("WEBP"), "diagram.webp", "image/webp", "diagram.webp"),
    ],
    ids=["pdf", "png", "jpeg", "webp"],
)
async def test_upload_file_as_admin_returns_201_and_stores_it(
    client, auth_headers, file_store, content, sent_name, content_type, stored_name
):
    """An admin uploads a PDF, PNG, JPEG or WebP: 201 with its metadata, the type read from
    the bytes, `url` the plain `/api/files/{id}` made absolute on the request's address;
    the bytes are stored under the id and read back whole."""
    response = await client.post(
        "/api/files", files=multipart(content, sent_name), headers=auth_headers
    )

    assert response.status_code == 201
    body = response.json()
    assert ID_PATTERN.match(body["id"])
    assert body == {
        "id": body["id"],
        "url": f"{BASE_URL}/api/files/{body['id']}",
        "filename": stored_name,
        "content_type": content_type,
        "size": len(content),
        "created_at": UTC_TIMESTAMP,
    }
    assert await file_store.keys() == [body["id"]]
    read_back = await client.get(body["url"], headers=auth_headers)
    assert read_back.status_code == 200
    assert read_back.content == content
    assert read_back.headers["content-type"] == content_type


@pytest.mark.asyncio
async def test_upload_file_larger_than_the_json_limit_returns_201(client, auth_headers, file_store):
    """Uploads have their own limit (TMA_MAX_UPLOAD_BYTES): a 1.5 MiB PDF, over the 1 MiB
    JSON body limit, is accepted and read back byte for byte."""
    content = PDF + b"%" + b"x" * (1536 * 1024)

    response = await client.post("/api/files", files=multipart(content), headers=auth_headers)

    assert response.status_code == 201
    assert response.json()["size"] == len(content)
    read_back = await client.get(response.json()["url"], headers=auth_headers)
    assert read_back.content == content


@pytest.mark.asyncio
async def test_upload_file_of_exactly_the_limit_returns_201(client, auth_headers, file_store):
    """A file of exactly TMA_MAX_UPLOAD_BYTES is within the limit."""
    content = PDF + b"%" * (MAX_UPLOAD - len(PDF))

    response = await client.post("/api/files", files=multipart(content), headers=auth_headers)

    assert response.status_code == 201
    assert response.json()["size"] == MAX_UPLOAD


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("sent_length", "stored_length"),
    [(255, 255), (256, 255), (1000, 255), (10_000, 255), (60_000, 255)],
    ids=["255", "256", "1000", "10000", "60000"],
)
async def test_upload_file_long_name_cut_to_255_keeping_extension_returns_201(
    client, auth_headers, file_store, sent_length, stored_length
):
    """A file name of any length a multipart header can carry (up to 64 KiB) is cut to 255
    characters, its extension kept: 1,000 and 10,000 characters behave alike."""
    name = "a" * (sent_length - 4) + ".pdf"

    response = await client.post("/api/files", files=multipart(PDF, name), headers=auth_headers)

    assert response.status_code == 201
    assert response.json()["filename"] == "a" * (stored_length - 4) + ".pdf"
    read_back = await client.get(response.json()["url"], headers=auth_headers)
    assert read_back.status_code == 200
    assert (
        'filename="' + "a" * (stored_length - 4) + '.pdf"'
        in (read_back.headers["content-disposition"])
    )


@pytest.mark.asyncio
async def test_upload_avatar_long_non_ascii_name_cut_to_255_returns_201(
    client, user_headers, file_store
):
    """A long non-ASCII name is cut too (pathvalidate cuts at 255 bytes, so 127 two-byte
    characters), and ends with the real type's extension."""
    response = await client.post(
        "/api/files/upload-avatar",
        files=multipart(PNG, "é" * 10_000 + ".png"),
        headers=user_headers,
    )

    assert response.status_code == 201
    assert response.json()["filename"] == "é" * 127 + ".png"


@pytest.mark.asyncio
async def test_upload_file_name_past_the_header_room_returns_422(
    client, auth_headers, test_db, file_store
):
    """A part header line over 64 KiB (a file name of some 65,000 characters) is no
    multipart form this server reads: 422 `multipart_invalid`; nothing is stored."""
    name = "a" * (64 * 1024) + ".pdf"

    response = await client.post("/api/files", files=multipart(PDF, name), headers=auth_headers)

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", "file"],
                "msg": "Malformed multipart body: Invalid multipart data.",
                "type": "multipart_invalid",
            }
        ]
    }
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_without_token_returns_401(client, file_store):
    """No token: 401 with `WWW-Authenticate: Bearer`; nothing is stored."""
    response = await client.post("/api/files", files=multipart(PDF))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}
    assert await file_store.keys() == []


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["user", "manager"])
async def test_upload_file_as_non_admin_returns_403(
    client, make_user, make_auth_headers, test_db, file_store, role
):
    """Attachments are admin only: a manager or a user gets 403; no row, no bytes."""
    caller = await make_user(role=role)

    response = await client.post(
        "/api/files", files=multipart(PDF), headers=make_auth_headers(caller)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_over_the_limit_returns_413(client, auth_headers, test_db, file_store):
    """A file one byte over TMA_MAX_UPLOAD_BYTES: 413; no row, no bytes."""
    content = PDF + b"%" * (MAX_UPLOAD + 1 - len(PDF))

    response = await client.post("/api/files", files=multipart(content), headers=auth_headers)

    assert response.status_code == 413
    assert response.json() == {"detail": f"File larger than {MAX_UPLOAD} bytes"}
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_with_declared_length_over_the_limit_returns_413(
    client, auth_headers, file_store
):
    """A Content-Length past the limit is refused before the body is read: 413."""
    response = await client.post(
        "/api/files",
        content=b"--x\r\n",
        headers={
            **auth_headers,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(MAX_UPLOAD * 2),
        },
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"File larger than {MAX_UPLOAD} bytes"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"just some text\n", "notes.txt"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif"),
        (b"", "empty.pdf"),
    ],
    ids=["text", "gif", "empty"],
)
async def test_upload_file_of_unsupported_type_returns_415(
    client, auth_headers, test_db, file_store, content, name
):
    """Bytes that are not a PDF, PNG, JPEG or WebP (text, a GIF, nothing): 415 naming the
    accepted types; no row, no bytes."""
    response = await client.post("/api/files", files=multipart(content, name), headers=auth_headers)

    assert response.status_code == 415
    assert response.json() == {
        "detail": f"Unsupported file type: attachments may be {ATTACHMENT_TYPES}"
    }
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_without_file_field_returns_422(client, auth_headers, file_store):
    """A multipart body without the field `file`: 422 at `body.file`."""
    response = await client.post(
        "/api/files", files={"other": ("a.pdf", PDF, "application/pdf")}, headers=auth_headers
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}]
    }


@pytest.mark.asyncio
async def test_upload_file_with_text_field_returns_422(client, auth_headers, file_store):
    """`file` sent as a plain form field (no file name), not a file: 422."""
    response = await client.post("/api/files", data={"file": "%PDF-1.4"}, headers=auth_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]
    assert response.json()["detail"][0]["type"] == "file_type"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"file": "x"}'),
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=abc", b"--abc\r\ngarbage without headers end"),
    ],
    ids=["json", "no-boundary", "garbage"],
)
async def test_upload_file_malformed_body_returns_422(
    client, auth_headers, test_db, file_store, content_type, body
):
    """A body that is not a multipart form with a file (JSON, no boundary, garbage): 422;
    nothing is stored."""
    response = await client.post(
        "/api/files", content=body, headers={**auth_headers, "Content-Type": content_type}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_file_with_two_files_returns_422(client, auth_headers, file_store):
    """One file per upload: two file parts are malformed input (422)."""
    response = await client.post(
        "/api/files",
        files=[("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.pdf", PDF, "x/y"))],
        headers=auth_headers,
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", "file"],
                "msg": "Malformed multipart body: Too many files. Maximum number of files is 1.",
                "type": "multipart_invalid",
            }
        ]
    }
    assert await file_store.keys() == []


# --- POST /api/files/upload-avatar -------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_upload_avatar_as_user_returns_201_with_public_url(
    client, user_headers, file_store, fmt
):
    """Any signed-in user uploads a PNG, JPEG or WebP avatar: 201, and its `url` opens
    without a token, inline, with its type."""
    content = image(fmt, (64, 64))

    response = await client.post(
        "/api/files/upload-avatar", files=multipart(content, "me.img"), headers=user_headers
    )

    assert response.status_code == 201
    body = response.json()
    content_type = f"image/{fmt.lower()}"
    extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
    assert body == {
        "id": body["id"],
        "url": f"{BASE_URL}/api/files/{body['id']}",
        "filename": f"me.{extension}",
        "content_type": content_type,
        "size": len(content),
        "created_at": UTC_TIMESTAMP,
    }
    shown = await client.get(body["url"])
    assert shown.status_code == 200
    assert shown.content == content
    assert shown.headers["content-type"] == content_type
    assert shown.headers["content-disposition"] == (
        f"inline; filename=\"me.{extension}\"; filename*=UTF-8''me.{extension}"
    )


@pytest.mark.asyncio
async def test_upload_avatar_then_set_it_as_avatar_url_returns_200(
    client, user_headers, test_user, file_store
):
    """The web client's flow: upload, `PATCH /api/auth/me` with the returned `url`, then
    the profile's `avatar_url` loads without a token."""
    uploaded = await client.post(
        "/api/files/upload-avatar", files=multipart(PNG, "crop.png"), headers=user_headers
    )
    url = uploaded.json()["url"]

    patched = await client.patch("/api/auth/me", json={"avatar_url": url}, headers=user_headers)

    assert patched.status_code == 200
    assert patched.json()["avatar_url"] == url
    me = await client.get("/api/auth/me", headers=user_headers)
    shown = await client.get(me.json()["avatar_url"])
    assert shown.status_code == 200
    assert shown.content == PNG


@pytest.mark.asyncio
@pytest.mark.parametrize("avatar", [False, True], ids=["attachment", "avatar"])
async def test_upload_records_the_uploader_in_the_files_row(
    upload_file, test_user, admin_user, test_db, avatar
):
    """Behavior step 6: the row records who uploaded the file (`files.uploaded_by`, kept for
    the operators: no endpoint shows it), the admin for an attachment, the user for their
    avatar."""
    uploader = test_user if avatar else admin_user

    uploaded = await upload_file(avatar=avatar, user=uploader)

    async with test_db.session() as session:
        row = await session.get(StoredFile, uploaded["id"])
    assert row is not None
    assert row.uploaded_by == uploader.id


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "/api/files/../../etc/passwd",
        "/api/files/short",
        "/api/users/1",
        "//evil.test/api/files/abcdefghijklmnopqrstuvwx",
        "javascript:alert(1)",
    ],
    ids=["dot-dot", "not-an-id", "other-api-path", "protocol-relative", "javascript"],
)
async def test_set_avatar_url_to_a_path_that_is_no_file_url_returns_422(
    client, user_headers, test_user, url
):
    """Only the server's own file URL `/api/files/<id>` is accepted besides http(s) URLs:
    another relative path, a protocol-relative URL or `javascript:` is 422."""
    response = await client.patch("/api/auth/me", json={"avatar_url": url}, headers=user_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "avatar_url"]


@pytest.mark.asyncio
async def test_upload_avatar_without_token_returns_401(client, file_store):
    """No token: 401; nothing is stored."""
    response = await client.post("/api/files/upload-avatar", files=multipart(PNG, "a.png"))

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_avatar_disabled_account_returns_403(
    client, make_user, make_auth_headers, file_store
):
    """A disabled account cannot upload: 403 "account disabled"."""
    disabled = await make_user(is_active=False)

    response = await client.post(
        "/api/files/upload-avatar",
        files=multipart(PNG, "a.png"),
        headers=make_auth_headers(disabled),
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_avatar_over_the_limit_returns_413(client, user_headers, file_store):
    """An avatar over TMA_MAX_UPLOAD_BYTES: 413; nothing is stored."""
    content = PNG + b"\x00" * MAX_UPLOAD

    response = await client.post(
        "/api/files/upload-avatar", files=multipart(content, "big.png"), headers=user_headers
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"File larger than {MAX_UPLOAD} bytes"}
    assert await file_store.keys() == []


def _forged_images() -> dict[str, tuple[bytes, str]]:
    """Bytes with an image's signature but not an image's structure, and the reason the
    server gives: truncated or forged PNG, JPEG and WebP files."""
    png, jpeg, webp = image("PNG"), image("JPEG"), image("WEBP")
    scan = jpeg.index(b"\xff\xda")
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return {
        "png-signature-alone": (
            png[:8],
            "image/png image: no complete IHDR chunk after the signature",
        ),
        "png-cut-in-ihdr": (
            png[:24],
            "image/png image: no complete IHDR chunk after the signature",
        ),
        "png-bad-ihdr-crc": (
            png[:29] + bytes([png[29] ^ 1]) + png[30:],
            "image/png image: IHDR checksum mismatch",
        ),
        "png-zero-width": (
            png[:16] + b"\0\0\0\0" + png[20:],
            "image/png image: width or height out of range in IHDR",
        ),
        "png-no-image-data": (png[:33] + iend, "image/png image: no image data (IDAT chunk)"),
        "png-cut-in-idat": (
            png[: len(png) - 20],
            "image/png image: chunk b'IDAT' longer than the file",
        ),
        "jpeg-signature-alone": (jpeg[:4], "image/jpeg image: a segment longer than the file"),
        "jpeg-cut-before-scan": (jpeg[:scan], "image/jpeg image: no scan"),
        "jpeg-cut-in-a-segment": (
            jpeg[: scan - 40],
            "image/jpeg image: a segment longer than the file",
        ),
        "webp-cut": (webp[:16], "image/webp image: RIFF size longer than the file"),
        "webp-no-frame": (
            b"RIFF" + struct.pack("<I", 4) + b"WEBP",
            "image/webp image: no VP8, VP8L or animation frame chunk",
        ),
    }


FORGED_IMAGES = _forged_images()


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(FORGED_IMAGES), ids=list(FORGED_IMAGES))
@pytest.mark.parametrize("avatar", [False, True], ids=["attachment", "avatar"])
async def test_upload_image_signature_without_image_structure_returns_415(
    client, auth_headers, test_db, file_store, case, avatar
):
    """An image's signature is not enough: a PNG needs its IHDR (sound, with a size) and
    image data, a JPEG a frame header with its size and a scan, a WebP a VP8/VP8L header,
    each within the file. Else 415 `Not a valid <type> image: <reason>`; no row, no bytes."""
    content, reason = FORGED_IMAGES[case]
    path = "/api/files/upload-avatar" if avatar else "/api/files"

    response = await client.post(path, files=multipart(content, "pic.img"), headers=auth_headers)

    assert response.status_code == 415
    assert response.json() == {"detail": f"Not a valid {reason}"}
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content",
    [
        image("PNG", (300, 200)),
        image("JPEG", (300, 200)),
        image("WEBP", (300, 200)),
    ],
    ids=["png", "jpeg", "webp"],
)
async def test_upload_avatar_real_images_of_every_kind_returns_201(
    client, user_headers, file_store, content
):
    """The structure check lets every real image through (larger ones too)."""
    response = await client.post(
        "/api/files/upload-avatar", files=multipart(content, "me.img"), headers=user_headers
    )

    assert response.status_code == 201
    assert response.json()["size"] == len(content)


@pytest.mark.asyncio
async def test_upload_avatar_pdf_returns_415(client, user_headers, test_db, file_store):
    """A PDF is an attachment type, not an avatar type: 415 naming the image types."""
    response = await client.post(
        "/api/files/upload-avatar",
        files=multipart(PDF, "me.png", "image/png"),
        headers=user_headers,
    )

    assert response.status_code == 415
    assert response.json() == {"detail": f"Unsupported file type: avatars may be {AVATAR_TYPES}"}
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == []


@pytest.mark.asyncio
async def test_upload_avatar_without_file_returns_422(client, user_headers, file_store):
    """No `file` field: 422."""
    response = await client.post(
        "/api/files/upload-avatar", data={"name": "me"}, headers=user_headers
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}]
    }


# --- GET /api/files/{file_id} ------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_file_avatar_without_token_returns_200(client, upload_file):
    """An avatar opens with no token (an `<img>` sends none): its bytes, type, inline
    disposition, `nosniff` and a sandboxing CSP."""
    uploaded = await upload_file(PNG, filename="face.png", avatar=True)

    response = await client.get(uploaded["url"])

    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(PNG))
    assert response.headers["content-disposition"] == (
        "inline; filename=\"face.png\"; filename*=UTF-8''face.png"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == FILE_CSP


@pytest.mark.asyncio
async def test_get_file_attachment_with_signed_url_returns_200(
    client, attach, upload_file, test_settings, test_db
):
    """A post's signed `file_url` opens the attachment without a token: the PDF, as a
    download (`attachment`) under its safe name."""
    uploaded = await upload_file(PDF, filename="Week 1 – exercises.pdf")
    await attach(uploaded["id"])

    response = await client.get(signed_file_url(uploaded["id"], test_settings))

    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="Week 1 _ exercises.pdf"; '
        "filename*=UTF-8''Week%201%20%E2%80%93%20exercises.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.asyncio
async def test_get_file_post_file_url_opens_without_token_returns_200(
    client, upload_file, auth_headers, user_headers, make_module, user_course
):
    """The whole attachment flow as clients see it: an admin uploads a PDF and makes an
    attachment post of it; the `file_url` a `user` reads in the post's detail opens with
    no token at all (a phone's PDF viewer), while the plain URL without token is 401."""
    uploaded = await upload_file(PDF, filename="week1.pdf")
    module = await make_module(course=user_course)
    created = await client.post(
        "/api/posts",
        json={
            "module_id": module.id,
            "title": "Exercises",
            "post_type": "attachment",
            "file_id": uploaded["id"],
        },
        headers=auth_headers,
    )
    detail = await client.get(f"/api/posts/{created.json()['id']}", headers=user_headers)
    file_url = detail.json()["file_url"]

    response = await client.get(file_url)

    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert file_url.startswith(f"{uploaded['url']}?expires=")
    assert (await client.get(uploaded["url"])).status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize("who", ["admin", "manager"])
async def test_get_file_attachment_as_staff_returns_200(
    client, upload_file, auth_headers, manager_headers, who
):
    """Staff read any attachment with their token, also one no post uses."""
    uploaded = await upload_file()
    headers = auth_headers if who == "admin" else manager_headers

    response = await client.get(uploaded["url"], headers=headers)

    assert response.status_code == 200
    assert response.content == sample_pdf("Exercises")


@pytest.mark.asyncio
async def test_get_file_attachment_as_user_who_sees_a_post_returns_200(
    client, upload_file, attach, user_headers, user_course
):
    """A `user` reads an attachment with their token when a post using it is in a module
    of a course assigned to their group."""
    uploaded = await upload_file()
    await attach(uploaded["id"], course=user_course)

    response = await client.get(uploaded["url"], headers=user_headers)

    assert response.status_code == 200
    assert response.content == sample_pdf("Exercises")


@pytest.mark.asyncio
async def test_get_file_attachment_without_token_or_signature_returns_401(
    client, attach, upload_file, test_db
):
    """An attachment's plain URL with neither token nor signature: 401."""
    uploaded = await upload_file()
    await attach(uploaded["id"])

    response = await client.get(uploaded["url"])

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.asyncio
async def test_get_file_with_bad_token_returns_401(client, upload_file):
    """A malformed token is refused (401), whatever the file: a client that sends a token
    gets it checked."""
    uploaded = await upload_file(avatar=True)

    response = await client.get(uploaded["url"], headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


@pytest.mark.asyncio
async def test_get_file_attachment_as_user_who_cannot_see_it_returns_403(
    client, attach, upload_file, test_db, user_headers, make_course
):
    """A `user` whose groups have no course with a post using the attachment: 403."""
    uploaded = await upload_file()
    other_course = await make_course(title="Endgames")
    await attach(uploaded["id"], course=other_course)

    response = await client.get(uploaded["url"], headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this file"}


@pytest.mark.asyncio
async def test_get_file_attachment_no_post_uses_returns_403_to_user(
    client, upload_file, user_headers
):
    """An attachment no post uses is staff-only: a `user` gets 403."""
    uploaded = await upload_file()

    response = await client.get(uploaded["url"], headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have access to this file"}


@pytest.mark.asyncio
async def test_get_file_expired_signed_url_returns_403(
    client, attach, upload_file, test_settings, test_db
):
    """A signed URL past its expiry (TMA_FILE_URL_TTL_SECONDS after it was made): 403."""
    uploaded = await upload_file()
    await attach(uploaded["id"])
    made_at = time.time() - test_settings.file_url_ttl_seconds - 1
    url = signed_file_url(uploaded["id"], test_settings, now=made_at)

    response = await client.get(url)

    assert response.status_code == 403
    assert response.json() == {"detail": "This file link is invalid or has expired"}


@pytest.mark.asyncio
async def test_get_file_disabled_account_returns_403(
    client, upload_file, make_user, make_auth_headers
):
    """A disabled account's token: 403 "account disabled"."""
    uploaded = await upload_file()
    disabled = await make_user(role="admin", is_active=False)

    response = await client.get(uploaded["url"], headers=make_auth_headers(disabled))

    assert response.status_code == 403
    assert response.json() == {"detail": "account disabled"}


@pytest.mark.asyncio
async def test_get_file_unknown_id_returns_404(client, auth_headers, file_store):
    """A well-formed id no file has: 404, with or without a token."""
    missing = "A" * 32

    with_token = await client.get(f"/api/files/{missing}", headers=auth_headers)
    without = await client.get(f"/api/files/{missing}")

    assert with_token.status_code == without.status_code == 404
    assert with_token.json() == without.json() == {"detail": f"File {missing} not found"}


@pytest.mark.asyncio
async def test_get_file_whose_bytes_are_gone_returns_404(client, upload_file, file_store):
    """A row whose bytes have vanished from the store answers 404, not 500."""
    uploaded = await upload_file(avatar=True)
    await file_store.delete(uploaded["id"])

    response = await client.get(uploaded["url"])

    assert response.status_code == 404
    assert response.json() == {"detail": f"File {uploaded['id']} not found"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("expires=soon&signature=x", ["query", "expires"]),
        ("expires=-1&signature=x", ["query", "expires"]),
        (f"expires=1&signature={'s' * 129}", ["query", "signature"]),
    ],
    ids=["expires-not-int", "expires-negative", "signature-too-long"],
)
async def test_get_file_malformed_query_returns_422(client, file_store, query, loc):
    """A non-integer or negative `expires`, an over-long `signature`: 422."""
    response = await client.get(f"/api/files/{'A' * 32}?{query}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("segment", "status", "detail"),
    [
        ("has.dot", 404, "Not Found"),
        ("short", 404, "Not Found"),
        ("a" * 65, 404, "Not Found"),
        ("upload-avatar", 405, "Method Not Allowed"),
    ],
    ids=["bad-character", "too-short", "too-long", "upload-avatar"],
)
async def test_get_file_segment_that_is_no_file_id_is_no_file_route(
    client, auth_headers, file_store, segment, status, detail
):
    """Only a segment shaped like a file id (`[A-Za-z0-9_-]{22,64}`) is a file route: any
    other is no route (404 `Not Found`), and `/api/files/upload-avatar` is the upload route
    alone (GET is 405 with `Allow: POST`)."""
    response = await client.get(f"/api/files/{segment}", headers=auth_headers)

    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert response.headers.get("Allow") == ("POST" if status == 405 else None)


# --- HEAD /api/files/{file_id} (counted under GET's section) ---------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("avatar", [True, False], ids=["avatar-no-token", "attachment-admin"])
async def test_head_file_returns_200_with_gets_headers_and_no_body(
    client, upload_file, auth_headers, avatar
):
    """HEAD answers what GET would, without the bytes: same status, type, length,
    disposition, `nosniff` and CSP; an avatar needs no token, an attachment the same token
    GET needs."""
    uploaded = await upload_file(PNG if avatar else PDF, avatar=avatar)
    headers = {} if avatar else auth_headers
    got = await client.get(uploaded["url"], headers=headers)
    assert got.status_code == 200

    response = await client.head(uploaded["url"], headers=headers)

    assert response.status_code == 200
    assert response.content == b""
    names = (
        "content-type",
        "content-length",
        "content-disposition",
        "content-security-policy",
        "x-content-type-options",
    )
    assert {n: response.headers[n] for n in names} == {n: got.headers[n] for n in names}
    assert response.headers["content-length"] == str(uploaded["size"])


@pytest.mark.asyncio
async def test_head_file_cors_preflight_from_allowed_origin_allows_head(client):
    """A browser on an allowed origin may send HEAD with a token: the preflight allows it."""
    response = await client.options(
        "/api/files/" + "x" * 32,
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "HEAD",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert response.status_code == 200
    assert "HEAD" in response.headers["access-control-allow-methods"].split(", ")


@pytest.mark.asyncio
async def test_head_file_attachment_with_signed_url_returns_200(
    client, attach, upload_file, test_settings
):
    """A post's signed URL opens the attachment's headers without a token, as for GET."""
    uploaded = await upload_file(PDF)
    await attach(uploaded["id"])

    response = await client.head(signed_file_url(uploaded["id"], test_settings))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))


@pytest.mark.asyncio
async def test_head_file_attachment_without_token_returns_401(client, upload_file):
    """The rules of GET: an attachment without token or signature is 401, with
    `WWW-Authenticate: Bearer`."""
    uploaded = await upload_file(PDF)

    response = await client.head(uploaded["url"])

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_head_file_attachment_user_not_seeing_it_returns_403(
    client, upload_file, attach, user_headers, test_settings
):
    """A `user` who sees no post using the attachment: 403; an expired signature too."""
    uploaded = await upload_file(PDF)
    await attach(uploaded["id"])
    expired = signed_file_url(uploaded["id"], test_settings, now=time.time() - 7200)

    response = await client.head(uploaded["url"], headers=user_headers)
    signed = await client.head(expired)

    assert response.status_code == 403
    assert signed.status_code == 403


@pytest.mark.asyncio
async def test_head_file_unknown_or_bytes_missing_returns_404(client, upload_file, file_store):
    """An unknown id, or a file whose bytes are gone from the store: 404, as for GET."""
    uploaded = await upload_file(PNG, avatar=True)
    await file_store.delete(uploaded["id"])

    unknown = await client.head("/api/files/" + "x" * 32)
    missing = await client.head(uploaded["url"])

    assert unknown.status_code == 404
    assert missing.status_code == 404


@pytest.mark.asyncio
async def test_head_file_bad_expires_returns_422(client, upload_file):
    """`expires` not an integer in range: 422, as for GET."""
    uploaded = await upload_file(PNG, avatar=True)

    response = await client.head(uploaded["url"] + "?expires=-1&signature=x")

    assert response.status_code == 422


# --- DELETE /api/files/{file_id} ---------------------------------------------------------


@pytest.mark.asyncio
async def test_delete_file_as_admin_returns_204_and_removes_its_bytes(
    client, auth_headers, upload_file, file_store, test_db
):
    """An unused file is deleted: 204, empty body; its row and its bytes are gone."""
    uploaded = await upload_file()

    response = await client.delete(uploaded["url"], headers=auth_headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await file_store.keys() == []
    assert await file_rows(test_db) == 0
    read_back = await client.get(uploaded["url"], headers=auth_headers)
    assert read_back.status_code == 404


@pytest.mark.asyncio
async def test_delete_file_used_by_a_post_returns_400(
    client, attach, auth_headers, upload_file, file_store, test_db
):
    """A file a post uses stays: 400; its bytes still open."""
    uploaded = await upload_file()
    await attach(uploaded["id"])

    response = await client.delete(uploaded["url"], headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "File is used by a post; delete or change the post first"}
    assert await file_store.keys() == [uploaded["id"]]
    assert (await client.get(uploaded["url"], headers=auth_headers)).status_code == 200


@pytest.mark.asyncio
async def test_delete_file_unused_while_another_is_used_returns_204(
    client, attach, auth_headers, upload_file, file_store
):
    """Only a post using *this* file keeps it: an unused file is deleted (204) while a
    post uses another file, which stays."""
    used = await upload_file()
    await attach(used["id"])
    unused = await upload_file()

    response = await client.delete(unused["url"], headers=auth_headers)

    assert response.status_code == 204
    assert await file_store.keys() == [used["id"]]
    assert (await client.get(unused["url"], headers=auth_headers)).status_code == 404


@pytest.mark.asyncio
async def test_delete_file_without_token_returns_401(client, upload_file, file_store):
    """No token: 401; the file stays."""
    uploaded = await upload_file()

    response = await client.delete(uploaded["url"])

    assert response.status_code == 401
    assert await file_store.keys() == [uploaded["id"]]


@pytest.mark.asyncio
async def test_delete_file_as_uploader_of_avatar_returns_403(
    client, upload_file, test_user, user_headers, file_store
):
    """Deleting is admin only, even for the user who uploaded the avatar: 403."""
    uploaded = await upload_file(avatar=True, user=test_user)

    response = await client.delete(uploaded["url"], headers=user_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to do this"}
    assert await file_store.keys() == [uploaded["id"]]


@pytest.mark.asyncio
async def test_delete_file_unknown_id_returns_404(client, auth_headers, file_store):
    """An unknown id: 404."""
    response = await client.delete(f"/api/files/{'B' * 32}", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": f"File {'B' * 32} not found"}


@pytest.mark.asyncio
async def test_delete_file_segment_that_is_no_file_id_returns_404(client, auth_headers, file_store):
    """A segment no file id can be (here with a dot) is no route: 404 `Not Found`."""
    response = await client.delete("/api/files/a.b", headers=auth_headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.asyncio
async def test_delete_file_whose_bytes_cannot_be_deleted_returns_204_and_logs_the_id(
    client, auth_headers, upload_file, file_store, test_db, monkeypatch, caplog
):
    """The store fails after the row is gone (a network error, a full disk): still 204 (the
    file is gone for every client: its URL answers 404), and the server log names the file
    whose bytes were left behind, with the store's error, so an operator can remove them."""
    uploaded = await upload_file()

    async def store_down(file_id: str) -> None:
        raise OSError("store unreachable")

    monkeypatch.setattr(file_store, "delete", store_down)
    with caplog.at_level("ERROR", logger="tma.files"):
        response = await client.delete(uploaded["url"], headers=auth_headers)

    assert response.status_code == 204
    assert await file_rows(test_db) == 0
    assert await file_store.keys() == [uploaded["id"]]  # the leftover the log line names
    [record] = [r for r in caplog.records if r.name == "tma.files"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == f"could not delete the bytes of file {uploaded['id']}"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "store unreachable"
    read_back = await client.get(uploaded["url"], headers=auth_headers)
    assert read_back.status_code == 404


# --- the S3 back end (a local S3-compatible server) ----------------------------------------


S3_BUCKET = "tma-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3-compatible server on 127.0.0.1 (a free port), with an empty bucket."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert httpx.put(f"{endpoint}/{S3_BUCKET}").status_code == 200  # create the bucket
        yield endpoint
    finally:
        server.stop()


@pytest_asyncio.fixture
async def s3_client(s3_endpoint, test_settings, test_db):
    """A client on an app whose files live in the bucket (`s3://tma-test/uploads`), and the
    app's store; same database."""
    settings = test_settings.model_copy(
        update={
            "storage_url": f"s3://{S3_BUCKET}/uploads",
            "s3_endpoint_url": s3_endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": "test",
            "s3_secret_access_key": SecretStr("test"),
        }
    )
    application = create_app(settings)
    store = application.state.file_store
    for key in await store.keys():
        await store.delete(key)
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, store
    finally:
        await application.state.db.dispose()


@pytest.mark.asyncio
async def test_upload_file_to_s3_returns_201_and_round_trips(
    s3_client, s3_endpoint, auth_headers, test_db
):
    """With TMA_STORAGE_URL=s3://bucket/prefix the same flow works against an S3 server:
    upload (201, the object under the prefix), read back, delete (object gone)."""
    http, store = s3_client
    content = PDF + b"%" + b"z" * (1536 * 1024)  # past the 1 MiB in-memory spool

    uploaded = await http.post("/api/files", files=multipart(content), headers=auth_headers)

    assert uploaded.status_code == 201
    file_id = uploaded.json()["id"]
    assert await store.keys() == [file_id]
    async with httpx.AsyncClient() as s3:  # the object itself, straight from the bucket
        raw = await s3.get(f"{s3_endpoint}/{S3_BUCKET}/uploads/{file_id}")
    assert raw.content == content
    read_back = await http.get(f"/api/files/{file_id}", headers=auth_headers)
    assert read_back.status_code == 200
    assert read_back.content == content
    deleted = await http.delete(f"/api/files/{file_id}", headers=auth_headers)
    assert deleted.status_code == 204
    assert await store.keys() == []


@pytest.mark.asyncio
async def test_upload_avatar_to_s3_unsupported_type_returns_415(s3_client, user_headers, test_db):
    """On S3 too, a refused upload leaves nothing in the bucket."""
    http, store = s3_client

    response = await http.post(
        "/api/files/upload-avatar", files=multipart(b"<svg/>", "a.png"), headers=user_headers
    )

    assert response.status_code == 415
    assert await store.keys() == []
    assert await file_rows(test_db) == 0
