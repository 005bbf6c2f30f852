"""Request and response bodies of quizzes: a quiz as authored (in its post's body) and as
read, and the attempts at it."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Description, Id, Text
from tma.quizzes.models import QuestionKind

Prompt = Annotated[Text, Field(min_length=1, max_length=2000)]
OptionText = Annotated[Text, Field(min_length=1, max_length=500)]
PassMark = Annotated[int, Field(strict=True, ge=0, le=100)]


class OptionWrite(WriteModel):
    text: OptionText
    is_correct: Annotated[bool, Field(strict=True)] = False


class QuestionWrite(WriteModel):
    """A question as authored: 2-10 options, at least one correct; `single` exactly one."""

    prompt: Prompt
    kind: QuestionKind
    explanation: Description | None = None
    options: Annotated[list[OptionWrite], Field(min_length=2, max_length=10)]

    @model_validator(mode="after")
    def _correct_options(self) -> Self:
        correct = sum(option.is_correct for option in self.options)
        if correct == 0:
            raise ValueError("a question needs at least one correct option")
        if self.kind == QuestionKind.SINGLE and correct != 1:
            raise ValueError("a single-choice question needs exactly one correct option")
        return self


class QuizWrite(WriteModel):
    """A quiz as authored (replaced whole on PATCH): 1-50 questions, pass mark 0-100 %."""

    not_null = ("pass_mark",)

    pass_mark: PassMark = 80
    questions: Annotated[list[QuestionWrite], Field(min_length=1, max_length=50)]


class OptionRead(ReadModel):
    id: int
    text: str


class QuestionRead(ReadModel):
    """A question as a `user` sees it: no correct answers, `explanation` null."""

    id: int
    prompt: str
    kind: QuestionKind
    explanation: str | None
    options: list[OptionRead]


class QuizRead(ReadModel):
    model_config = example(
        pass_mark=80,
        questions=[
            {
                "id": 3,
                "prompt": "Which piece can jump?",
                "kind": "single",
                "explanation": None,
                "options": [{"id": 7, "text": "Knight"}, {"id": 8, "text": "Bishop"}],
            }
        ],
    )

    pass_mark: int
    questions: list[QuestionRead]


class OptionStaffRead(OptionRead):
    is_correct: bool


class QuestionStaffRead(QuestionRead):
    """A question as staff see it: with its correct options and explanation."""

    options: list[OptionStaffRead]  # type: ignore[assignment]
    correct_option_ids: list[int]


class QuizStaffRead(QuizRead):
    model_config = example(
        pass_mark=80,
        questions=[
            {
                "id": 3,
                "prompt": "Which piece can jump?",
                "kind": "single",
                "explanation": "Only the knight jumps.",
                "options": [
                    {"id": 7, "text": "Knight", "is_correct": True},
                    {"id": 8, "text": "Bishop", "is_correct": False},
                ],
                "correct_option_ids": [7],
            }
        ],
    )

    questions: list[QuestionStaffRead]  # type: ignore[assignment]


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


class AttemptSubmit(WriteModel):
    """POST /api/quiz-attempts/{attempt_id}/submit: at most one answer per question."""

    model_config = example(answers=[{"question_id": 3, "option_ids": [7]}])

    answers: Annotated[list[Answer], Field(max_length=MAX_QUESTIONS)]

    @field_validator("answers")
    @classmethod
    def _distinct_questions(cls, value: list[Answer]) -> list[Answer]:
        ids = [answer.question_id for answer in value]
        if len(set(ids)) != len(ids):
            raise ValueError("answers must not repeat a question")
        return value


class QuestionResult(ReadModel):
    """One question of a submitted attempt, as graded when it was submitted."""

    question_id: int
    correct: bool
    chosen_option_ids: list[int]
    correct_option_ids: list[int]
    explanation: str | None


class AttemptRead(ReadModel):
    model_config = example(
        id=21,
        post_id=14,
        user_id=9,
        status="submitted",
        started_at="2026-09-01T09:30:00Z",
        submitted_at="2026-09-01T09:30:00Z",
        score=100,
        passed=True,
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
    score: int | None
    passed: bool | None
    results: list[QuestionResult] | None
