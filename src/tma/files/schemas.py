"""Response bodies of the files domain."""

from datetime import datetime

from tma.core.schemas import ReadModel


class FileRead(ReadModel):
    """An uploaded file's metadata. `url` is the plain `/api/files/{id}`: an avatar opens
    with it as it is; an attachment needs a bearer token with it, or a post's signed
    `file_url`."""

    id: str
    url: str
    filename: str
    content_type: str
    size: int
    created_at: datetime
