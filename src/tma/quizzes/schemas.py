"""Request and response bodies of quiz attempts (a quiz as authored and read is part of its
post: tma.posts.schemas)."""

from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Id
from tma.posts.schemas import QuestionRead

MAX_QUESTIONS = 50  # a quiz has 1-50 questions (content.md, "Writing a quiz")
MAX_OPTIONS = 10  # a question has 2-10 options


class Answer(WriteModel):
    """The options chosen for one question (none at all counts as wrong)."""

    question_id: Id
    # Declared unique in the OpenAPI document (`uniqueItems`) and refused when repeated.
    option_ids: Annotated[
        list[Id], Field(max_length=MAX_OPTIONS, json_schema_extra={"uniqueItems": True})
    ]

    @field_validator("option_ids")
    @classmethod
    def _distinct_options(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("option_ids must not repeat an option")
        return value


def _distinct_questions(value: list[Answer] | None) -> list[Answer] | None:
    ids = [answer.question_id for answer in value or ()]
    if len(set(ids)) != len(ids):
        raise ValueError("answers must not repeat a question")
    return value


class AttemptSubmit(WriteModel):
    """POST /api/quiz-attempts/{attempt_id}/submit: at most one answer per question, taken
    over the saved one of that question; `answers` left out: the saved answers are graded."""

    model_config = example(answers=[{"question_id": 3, "option_ids": [7]}])

    not_null = ("answers",)

    answers: Annotated[list[Answer], Field(max_length=MAX_QUESTIONS)] | None = None

    _distinct = field_validator("answers")(_distinct_questions)


class AnswersSave(WriteModel):
    """PUT /api/quiz-attempts/{attempt_id}/answers: each named question's saved choice is
    replaced (the others stay as saved)."""

    model_config = example(answers=[{"question_id": 3, "option_ids": [7]}])

    answers: Annotated[list[Answer], Field(max_length=MAX_QUESTIONS)]

    _distinct = field_validator("answers")(_distinct_questions)


class SavedAnswer(ReadModel):
    """The owner's saved choice for one question of their attempt (never its correctness)."""

    question_id: int
    option_ids: list[int]


class QuestionResult(ReadModel):
    """One question of a submitted attempt, as graded when it was submitted;
    `correct_option_ids` and `explanation` null while the quiz's `reveal` withholds them."""

    question_id: int
    correct: bool
    chosen_option_ids: list[int]
    correct_option_ids: list[int] | None
    explanation: str | None


class AttemptRead(ReadModel):
    model_config = example(
        id=21,
        post_id=14,
        user_id=9,
        status="submitted",
        started_at="2026-09-01T09:30:00Z",
        submitted_at="2026-09-01T09:30:00Z",
        deadline="2026-09-01T09:45:00Z",
        timed_out=False,
        score=100,
        passed=True,
        questions=[
            {
                "id": 3,
                "prompt": "Which piece can jump?",
                "kind": "single",
                "explanation": None,
                "options": [{"id": 8, "text": "Bishop"}, {"id": 7, "text": "Knight"}],
            }
        ],
        saved_answers=[{"question_id": 3, "option_ids": [7]}],
        results=[
            {
                "question_id": 3,
                "correct": True,
                "chosen_option_ids": [7],
                "correct_option_ids": [7],
                "explanation": "Only the knight jumps.",
            }
        ],
    )

    id: int
    post_id: int
    user_id: int
    status: str
    started_at: datetime
    submitted_at: datetime | None
    deadline: datetime | None
    timed_out: bool
    score: int | None
    passed: bool | None
    questions: list[QuestionRead]
    saved_answers: list[SavedAnswer]
    results: list[QuestionResult] | None
