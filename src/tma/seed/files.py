"""Sample files for the seed: a small generated PDF for attachment posts, and PNG avatars.

Both formats are written here byte by byte (no imaging library at run time): a one-page
PDF 1.4 with one line of Helvetica text, and a solid-colour PNG with a lighter square in
its middle. Each is a valid file of its kind, so the server's own type detection accepts
it like an upload."""

import struct
import zlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.config import Settings
from tma.files.models import FileKind, StoredFile
from tma.files.service import new_file_id
from tma.files.storage import FileStore
from tma.files.urls import file_path
from tma.posts.models import Post
from tma.users.models import User

# The sample users who get an avatar, when the seed has them.
AVATAR_USERNAMES = ("admin", "manager", "user")
AVATAR_SIZE = 96
AVATAR_COLORS = ((0x2E, 0x6F, 0x95), (0x8E, 0x44, 0xAD), (0x27, 0xAE, 0x60))


def _pdf_text(text: str) -> str:
    # A PDF string literal: ASCII only, with its three special characters escaped.
    ascii_text = text.encode("ascii", "replace").decode()
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def sample_pdf(title: str) -> bytes:
    """A one-page PDF (US Letter) that shows `title` (ASCII; others become `?`)."""
    lines = [
        (20, title[:80]),
        (12, "Three Moves Ahead - sample exercise sheet"),
        (12, "1. Set up the board together and name each piece as you place it."),
        (12, "2. Play five moves each; after each move, ask what the other side threatens."),
        (12, "3. Write down one move you would play differently, and why."),
    ]
    text = "\n".join(
        f"BT /F1 {size} Tf 72 {720 - 30 * row} Td ({_pdf_text(line)}) Tj ET"
        for row, (size, line) in enumerate(lines)
    ).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def sample_png(color: Sequence[int], size: int = AVATAR_SIZE) -> bytes:
    """A `size`×`size` RGB PNG of `color` (r, g, b), with a lighter square in the middle."""
    light = bytes(min(255, c + 90) for c in color[:3])
    dark = bytes(color[:3])
    quarter = size // 4
    rows = []
    for y in range(size):
        inner = quarter <= y < size - quarter
        row = b"".join(
            light if inner and quarter <= x < size - quarter else dark for x in range(size)
        )
        rows.append(b"\x00" + row)  # filter type 0 (none) per scanline
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _png_chunk(b"IEND", b""),
        )
    )


def _slug(title: str) -> str:
    kept = "".join(
        ch.lower() if ch.isalnum() else "-" for ch in title.encode("ascii", "ignore").decode()
    )
    return "-".join(part for part in kept.split("-") if part)[:60] or "exercises"


# What the sample files are: generated PDFs for posts, PNGs for avatars.
CONTENT_TYPES = {FileKind.ATTACHMENT: "application/pdf", FileKind.AVATAR: "image/png"}


async def seed_files(
    session: AsyncSession,
    *,
    settings: Settings,
    users: dict[str, User],
    attachment_posts: list[Post],
) -> int:
    """Store a generated PDF for each of `attachment_posts` (setting its `file_id`) and a
    PNG avatar for the sample users `admin`, `manager` and `user` found in `users` (setting
    their `avatar_url` to the file's URL). Returns how many files were stored.

    The bytes go to the file store of `settings` (the upload directory or the bucket) at
    once; the rows are added and flushed in `session`, whose caller commits. The posts and
    users must be flushed already (they need their ids)."""
    store = FileStore(settings)
    admin = users.get("admin")
    records: list[StoredFile] = []
    owners: list[Post | User] = []

    async def store_file(
        owner: Post | User, uploader: User | None, kind: FileKind, name: str, data: bytes
    ) -> None:
        """A file of `owner` (a post's attachment, a user's avatar): its row and its bytes."""
        records.append(
            StoredFile(
                id=new_file_id(),
                kind=kind.value,
                filename=name,
                content_type=CONTENT_TYPES[kind],
                size=len(data),
                uploaded_by=uploader.id if uploader is not None else None,
            )
        )
        owners.append(owner)
        await store.put(records[-1].id, data)

    for post in attachment_posts:
        filename = f"{_slug(post.title)}.pdf"
        await store_file(post, admin, FileKind.ATTACHMENT, filename, sample_pdf(post.title))
    avatar_users = [users[name] for name in AVATAR_USERNAMES if name in users]
    for user, color in zip(avatar_users, AVATAR_COLORS, strict=False):
        await store_file(user, user, FileKind.AVATAR, f"{user.username}.png", sample_png(color))
    session.add_all(records)
    await session.flush()  # the rows first: posts.file_id refers to them
    for owner, record in zip(owners, records, strict=True):
        if isinstance(owner, Post):
            owner.file_id = record.id
        else:
            owner.avatar_url = file_path(record.id)
    await session.flush()
    return len(records)


async def remove_stored_files(session: AsyncSession, *, settings: Settings) -> int:
    """Delete the bytes of every file recorded in the database (before a seed reset deletes
    the rows, so a reset leaves no orphaned bytes). Returns how many were removed."""
    store = FileStore(settings)
    ids = (await session.scalars(select(StoredFile.id))).all()
    for file_id in ids:
        await store.delete(file_id)
    return len(ids)
