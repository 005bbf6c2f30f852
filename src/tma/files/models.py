"""Tables of the files domain: uploaded files' metadata (the bytes live in the file store)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, UTCDateTime, utcnow


class FileKind(StrEnum):
    """What a file is for: a post's attachment (admin upload) or a person's avatar."""

    ATTACHMENT = "attachment"
    AVATAR = "avatar"


class StoredFile(Base):
    """One uploaded file. `id` is opaque and random (>= 128 bits): it is also the name the
    bytes are stored under, so no client string ever reaches a path or an object key."""

    __tablename__ = "files"
    __table_args__ = (
        CheckConstraint("kind IN ('attachment', 'avatar')", name="kind"),
        Index("ix_files_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int | None] = mapped_column(
        ID, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
