"""Tables of the posts domain: a module's ordered posts (a quiz post's questions and options
are the quizzes domain's: tma.quizzes.models)."""

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    ScalarSelect,
    String,
    Text,
    false,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, TimestampMixin


class PostType(StrEnum):
    DEFAULT = "default"
    VIDEO = "video"
    ATTACHMENT = "attachment"
    QUIZ = "quiz"


# Post and tma.quizzes.models.QuizQuestion are both "a row at a 1-based position under
# a parent" and so read alike line by line; their columns, checks and parents differ, and
# the place-keeping logic they share is written once, in tma.core.ordering.
class Post(TimestampMixin, Base):
    """A post of a module, at its 1-based `ordering` (contiguous within the module)."""

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("post_type IN ('default', 'video', 'attachment', 'quiz')", name="type"),
        Index("ix_posts_module_id_ordering", "module_id", "ordering"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    module_id: Mapped[int] = mapped_column(ID, ForeignKey("modules.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    post_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text)
    video_url: Mapped[str | None] = mapped_column(String(2000))
    # RESTRICT: a file in use cannot go (the API answers 400 before the database would).
    file_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("files.id", ondelete="RESTRICT"), index=True
    )
    ordering: Mapped[int] = mapped_column(Integer)
    # The ages it is for, in whole months, as a module's (tma.courses.models.Module).
    min_age_months: Mapped[int | None] = mapped_column(Integer)
    max_age_months: Mapped[int | None] = mapped_column(Integer)
    # A quiz's pass mark in percent (null for other types).
    pass_mark: Mapped[int | None] = mapped_column(Integer)
    # A quiz's settings (companion.md §2; meaningless on other types, left at the defaults).
    # Validated by the API (tma.posts.schemas.QuizWrite); read when an attempt starts and
    # when one is shown (`reveal`), never by an attempt in progress for its questions.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    questions_per_attempt: Mapped[int | None] = mapped_column(Integer)
    reveal: Mapped[str] = mapped_column(
        String(20), default="after_submit", server_default="after_submit"
    )
    # A quiz's questions as an attempt copies them (`[{id, prompt, kind, explanation,
    # options: [{id, text, is_correct}]}]`, authored order), written with the questions
    # (tma.posts.quiz.write_questions) and read by an attempt's start in its one statement
    # (migration 0012; docs/performance.md, "The quiz engine"); null for other posts.
    question_bank: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


def post_count_of(module_id: Any) -> ScalarSelect[int]:
    """The number of posts of module `module_id`, as a correlated subquery (one statement for
    a whole list, not a query per module)."""
    return select(func.count(Post.id)).where(Post.module_id == module_id).scalar_subquery()
