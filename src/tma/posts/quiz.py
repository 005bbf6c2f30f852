"""A quiz post's questions and options as stored (tables of tma.quizzes.models): written
whole with the post, read in authored order. The one loader of a quiz, for post detail,
GET /api/quizzes/{post_id} and grading (tma.quizzes.service)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import ID
from tma.core.reads import named, rows
from tma.posts.models import Post
from tma.posts.schemas import (
    SETTINGS,
    OptionRead,
    OptionStaffRead,
    QuestionRead,
    QuestionStaffRead,
    QuestionWrite,
    QuizRead,
    QuizStaffRead,
    QuizWrite,
)
from tma.quizzes.models import QuestionKind, QuizOption, QuizQuestion


@dataclass
class Question:
    """A question of a quiz as stored: its options in authored order."""

    id: int
    prompt: str
    kind: str
    explanation: str | None
    options: list[tuple[int, str, bool]] = field(default_factory=list)  # id, text, is_correct

    @property
    def correct_ids(self) -> list[int]:
        return [option_id for option_id, _, correct in self.options if correct]


_QUESTIONS = named(
    select(
        QuizQuestion.id,
        QuizQuestion.prompt,
        QuizQuestion.kind,
        QuizQuestion.explanation,
        QuizOption.id.label("option_id"),
        QuizOption.text,
        QuizOption.is_correct,
    )
    .outerjoin(QuizOption, QuizOption.question_id == QuizQuestion.id)
    .where(QuizQuestion.post_id == bindparam("post_id", type_=ID))
    .order_by(QuizQuestion.position, QuizQuestion.id, QuizOption.position, QuizOption.id)
)


async def load_questions(session: AsyncSession, *, post_id: int) -> list[Question]:
    """The quiz's questions with their options, in authored order: one statement."""
    questions: dict[int, Question] = {}
    for row in await rows(session, _QUESTIONS, post_id=post_id):
        question = questions.get(row["id"])
        if question is None:
            question = questions[row["id"]] = Question(
                row["id"], row["prompt"], row["kind"], row["explanation"]
            )
        if row["option_id"] is not None:
            question.options.append((row["option_id"], row["text"], bool(row["is_correct"])))
    return list(questions.values())


DEFAULT_PASS_MARK = 80


def pass_mark_of(value: int | None) -> int:
    """A quiz post's pass mark (80 % when unset)."""
    return DEFAULT_PASS_MARK if value is None else value


def set_quiz_settings(post: Post, quiz: QuizWrite) -> None:
    """Write the quiz's pass mark and settings to its post (with its questions: replaced
    whole)."""
    post.pass_mark = quiz.pass_mark
    for name, value in quiz.settings().items():
        setattr(post, name, value)


async def load_quiz(session: AsyncSession, *, post: Post, staff: bool) -> QuizRead:
    """The quiz of a quiz post in authored order, in one statement: with correct answers,
    explanations and settings for staff (`QuizStaffRead`), without them for a user."""
    questions = await load_questions(session, post_id=post.id)
    pass_mark = post.pass_mark
    if staff:
        return QuizStaffRead(
            **{name: getattr(post, name) for name in SETTINGS},
            pass_mark=pass_mark_of(pass_mark),
            questions=[
                QuestionStaffRead(
                    id=q.id,
                    prompt=q.prompt,
                    kind=QuestionKind(q.kind),
                    explanation=q.explanation,
                    options=[
                        OptionStaffRead(id=oid, text=text, is_correct=correct)
                        for oid, text, correct in q.options
                    ],
                    correct_option_ids=q.correct_ids,
                )
                for q in questions
            ],
        )
    # Alike in shape with the staff view above: two different models (a user's has no
    # answers, no explanation); one builder with flags would hide what a user is sent.
    return QuizRead(
        pass_mark=pass_mark_of(pass_mark),
        questions=[
            QuestionRead(
                id=q.id,
                prompt=q.prompt,
                kind=QuestionKind(q.kind),
                explanation=None,
                options=[OptionRead(id=oid, text=text) for oid, text, _ in q.options],
            )
            for q in questions
        ],
    )


async def write_questions(
    session: AsyncSession, *, post: Post, questions: Sequence[QuestionWrite], replace: bool
) -> None:
    """Store the quiz's questions and options in the given order (positions from 1), and
    the same as the post's `question_bank` (what an attempt's start draws from); with
    `replace`, the post's questions before are deleted first (a quiz is replaced whole)."""
    if replace:
        await session.execute(delete(QuizQuestion).where(QuizQuestion.post_id == post.id))
    rows = [
        QuizQuestion(
            post_id=post.id,
            position=position,
            prompt=question.prompt,
            kind=question.kind.value,
            explanation=question.explanation,
        )
        for position, question in enumerate(questions, start=1)
    ]
    session.add_all(rows)
    await session.flush()  # the questions' ids, for their options
    options = [
        [
            QuizOption(
                question_id=row.id,
                position=position,
                text=option.text,
                is_correct=option.is_correct,
            )
            for position, option in enumerate(question.options, start=1)
        ]
        for row, question in zip(rows, questions, strict=True)
    ]
    session.add_all(option for of_question in options for option in of_question)
    await session.flush()  # the options' ids, for the bank
    post.question_bank = [
        bank_entry(
            Question(
                row.id,
                row.prompt,
                row.kind,
                row.explanation,
                [(o.id, o.text, o.is_correct) for o in of_question],
            )
        )
        for row, of_question in zip(rows, options, strict=True)
    ]


# A dict of one stored row, alike in shape with the other row-to-dict functions
# (tma.progress.service._as_read): each its own keys.
def bank_entry(question: Question) -> dict[str, Any]:
    """One question of a quiz's `question_bank`, as an attempt stores it."""
    return {
        "id": question.id,
        "prompt": question.prompt,
        "kind": question.kind,
        "explanation": question.explanation,
        "options": [
            {"id": oid, "text": text, "is_correct": correct}
            for oid, text, correct in question.options
        ],
    }


async def fill_question_bank(session: AsyncSession, *, post_id: int) -> None:
    """Set a quiz post's `question_bank` from its tables (for questions stored other than by
    `write_questions`: the test factories). The caller commits."""
    bank = [bank_entry(q) for q in await load_questions(session, post_id=post_id)]
    await session.execute(update(Post).where(Post.id == post_id).values(question_bank=bank))
