"""The translations table: one row per (translated object, language).

One table for the three kinds, with one nullable foreign key per kind (exactly one set):
each row goes with its course, module or post (ON DELETE CASCADE), and one statement reads
the translations of a course, its modules and posts together (docs/contracts/translations.md,
"Storage")."""

from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, TimestampMixin

# The longest BCP 47 tag kept (RFC 5646 recommends room for 35 characters).
LANGUAGE_MAX = 35
KINDS = ("course", "module", "post")


class Translation(TimestampMixin, Base):
    """The translated fields of one course, module or post in one language: a JSON object
    of the translatable fields that were given (a field left out reads as the default
    text), for a post also `quiz` (its questions by id)."""

    __tablename__ = "translations"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN course_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN module_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN post_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
        # NULLs are distinct in a unique constraint (both databases): each holds per kind.
        UniqueConstraint("course_id", "language"),
        UniqueConstraint("module_id", "language"),
        UniqueConstraint("post_id", "language"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    course_id: Mapped[int | None] = mapped_column(ID, ForeignKey("courses.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ID, ForeignKey("modules.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ID, ForeignKey("posts.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
