"""Tables of the quizzes domain: the questions and options of a quiz post (correct answers
stay on the server), and a parent's attempts at it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, UTCDateTime, utcnow


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class Reveal(StrEnum):
    """When a graded result shows the correct options and the explanations to its owner."""

    AFTER_SUBMIT = "after_submit"
    AFTER_PASS = "after_pass"  # noqa: S105 (a setting, not a password)
    AFTER_LAST_ATTEMPT = "after_last_attempt"
    NEVER = "never"


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


class QuizAttempt(Base):
    """One attempt of one user at one quiz. It owns its questions: `questions` is the copy
    drawn and shuffled when it started (prompts, options with `is_correct`, explanations, in
    the attempt's order), and it is graded against that copy only, so an edit of the quiz
    never changes an attempt, in progress or past. Once submitted it is final: its score,
    pass and per-question `results` are stored as graded."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'submitted')", name="status"),
        # With what the dashboard counts of a user's attempts (an index-only scan on
        # PostgreSQL, 0017).
        Index(
            "ix_quiz_attempts_post_id_user_id",
            "post_id",
            "user_id",
            postgresql_include=["status", "passed", "started_at", "submitted_at"],
        ),
        # At most one attempt in progress per user and quiz, also under concurrent starts.
        Index(
            "uq_quiz_attempts_one_in_progress",
            "post_id",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'in_progress'"),
            sqlite_where=text("status = 'in_progress'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    post_id: Mapped[int] = mapped_column(ID, ForeignKey("posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=AttemptStatus.IN_PROGRESS.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # [{id, prompt, kind, explanation, options: [{id, text, is_correct}]}], attempt order.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # [{question_id, option_ids}] in the attempt's question order: the owner's saved choices.
    saved_answers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # started_at + the quiz's time limit when it started; null without a limit.
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The quiz's pass mark when it started (the attempt is graded on its own terms).
    pass_mark: Mapped[int | None] = mapped_column(Integer)
    # Graded on its saved answers after its deadline and grace had passed.
    timed_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class QuizAnswer(Base):
    """One submitted attempt's answer to one of its questions, as rows the dashboard counts
    with a GROUP BY (docs/contracts/dashboard.md): per question of the attempt one row with
    `option_id` null (the answer itself: answered, `correct`), then one per distinct option
    chosen in it (`correct` the question's grade on each). Written once, in the transaction
    that closes the attempt (`tma.quizzes.service._close`); `post_id` and `user_id` are the
    attempt's, copied so the count reads no attempt row. `question_id` and `option_id` name
    the attempt's own copy (a quiz edit replaces its questions: no foreign key)."""

    __tablename__ = "quiz_answers"
    __table_args__ = (
        # The dashboard's read: the course's posts and the group's parents, then what it
        # groups by and counts (an index-only scan on PostgreSQL).
        Index(
            "ix_quiz_answers_post_id_user_id",
            "post_id",
            "user_id",
            "question_id",
            "option_id",
            "correct",
            "attempt_id",
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ID, ForeignKey("quiz_attempts.id", ondelete="CASCADE"), index=True
    )
    post_id: Mapped[int] = mapped_column(ID)
    user_id: Mapped[int] = mapped_column(ID)
    question_id: Mapped[int] = mapped_column(ID)
    option_id: Mapped[int | None] = mapped_column(ID)
    correct: Mapped[bool] = mapped_column(Boolean)
