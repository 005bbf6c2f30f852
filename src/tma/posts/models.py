"""Tables of the posts domain: a module's ordered posts, and the questions and options of
quiz posts (correct answers stay on the server)."""

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    ScalarSelect,
    String,
    Text,
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


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


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
    # A quiz's pass mark in percent (null for other types).
    pass_mark: Mapped[int | None] = mapped_column(Integer)


class QuizQuestion(Base):
    """A question of a quiz post, at its 1-based `position` (authored order)."""

    __tablename__ = "quiz_questions"
    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multiple')", name="kind"),
        Index("ix_quiz_questions_post_id_position", "post_id", "position"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    post_id: Mapped[int] = mapped_column(ID, ForeignKey("posts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    explanation: Mapped[str | None] = mapped_column(Text)


class QuizOption(Base):
    """An option of a quiz question, at its 1-based `position`; `is_correct` never reaches a
    `user` before they submit."""

    __tablename__ = "quiz_options"
    __table_args__ = (
        Index("ix_quiz_options_question_id_position", "question_id", "position"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ID, ForeignKey("quiz_questions.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    is_correct: Mapped[bool] = mapped_column(Boolean)


def post_count_of(module_id: Any) -> ScalarSelect[int]:
    """The number of posts of module `module_id`, as a correlated subquery (one statement for
    a whole list, not a query per module)."""
    return select(func.count(Post.id)).where(Post.module_id == module_id).scalar_subquery()
