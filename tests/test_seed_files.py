"""The sample files of the seed (`tma.seed.files`): a generated PDF per attachment post and
PNG avatars for the sample logins, stored where the app stores files and served by it."""

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from tma.courses.models import Module
from tma.files.detect import PDF, PNG, detect_type
from tma.files.models import FileKind
from tma.files.urls import signed_file_url
from tma.posts.models import Post
from tma.seed.files import remove_stored_files, sample_pdf, sample_png, seed_files
from tma.users.models import User


def test_sample_pdf_is_a_well_formed_pdf() -> None:
    """The generated PDF starts and ends as a PDF must, its cross-reference table points at
    each of its objects, and the server's type detection calls it a PDF."""
    data = sample_pdf("Week 2 (tactics) \\ forks")

    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    assert data[startxref:].startswith(b"xref\n0 6\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", data)
    assert [data[int(o) :].split(b"\n")[0] for o in offsets] == [
        b"%d 0 obj" % n for n in range(1, 6)
    ]
    assert rb"(Week 2 \(tactics\) \\ forks) Tj" in data
    assert detect_type(io.BytesIO(data), FileKind.ATTACHMENT) == PDF


def test_sample_png_is_an_image_pillow_reads() -> None:
    """The generated PNG decodes (Pillow) to the size and colours asked for."""
    data = sample_png((10, 20, 30), 40)

    picture = Image.open(io.BytesIO(data))

    assert (picture.format, picture.size, picture.mode) == ("PNG", (40, 40), "RGB")
    assert picture.getpixel((0, 0)) == (10, 20, 30)
    assert picture.getpixel((20, 20)) == (100, 110, 120)
    assert detect_type(io.BytesIO(data), FileKind.AVATAR) == PNG


@pytest.mark.asyncio
async def test_seed_files_attaches_pdfs_and_avatars_the_api_serves(
    client, test_db, test_settings, make_user, file_store
):
    """`seed_files` stores one PDF per attachment post (setting `file_id`) and an avatar
    for `admin`, `manager` and `user` (setting `avatar_url`), returns how many it stored,
    and the API serves them: the PDF by the post's signed URL, an avatar without a token.
    `remove_stored_files` then removes every stored byte."""
    for name, role in (("admin", "admin"), ("manager", "manager"), ("user", "user")):
        await make_user(username=name, role=role)
    await make_user(username="parent2")
    async with test_db.session() as session:
        module = Module(title="Openings")
        session.add(module)
        await session.flush()
        posts = [
            Post(module_id=module.id, title=t, post_type="attachment", ordering=i)
            for i, t in enumerate(("Fork drills", "Pin puzzles"), start=1)
        ]
        session.add_all(posts)
        await session.flush()
        users = {u.username: u for u in (await session.scalars(select(User))).all()}

        stored = await seed_files(
            session, settings=test_settings, users=users, attachment_posts=posts
        )
        await session.commit()
        file_ids = [p.file_id for p in posts]
        avatars = {name: users[name].avatar_url for name in users}

    assert stored == 5
    assert len(await file_store.keys()) == 5
    assert avatars["parent2"] is None
    first_pdf = await client.get(signed_file_url(file_ids[0], test_settings))
    assert first_pdf.status_code == 200
    assert first_pdf.content == sample_pdf("Fork drills")
    assert first_pdf.headers["content-disposition"].startswith(
        'attachment; filename="fork-drills.pdf"'
    )
    for name in ("admin", "manager", "user"):
        assert re.fullmatch(r"/api/files/[A-Za-z0-9_-]{32}", avatars[name])
        shown = await client.get(avatars[name])
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/png"
    async with test_db.session() as session:
        assert await remove_stored_files(session, settings=test_settings) == 5
    assert await file_store.keys() == []
