"""Response bodies of the files domain."""

from datetime import datetime

from tma.core.schemas import ReadModel, example


class FileRead(ReadModel):
    """An uploaded file's metadata. `url` is the plain `/api/files/{id}`, absolute on the
    server's public address (tma.core.public_url): an avatar opens with it as it is; an
    attachment needs a bearer token with it, or a post's signed `file_url`."""

    model_config = example(
        id="q3Jx0k2mZr8Yt5vW1nB7cD4eF6gH9iJ",
        url="https://tma.example.org/api/files/q3Jx0k2mZr8Yt5vW1nB7cD4eF6gH9iJ",
        filename="checks-worksheet.pdf",
        content_type="application/pdf",
        size=1843,
        created_at="2026-09-01T09:30:00Z",
    )

    id: str
    url: str
    filename: str
    content_type: str
    size: int
    created_at: datetime
