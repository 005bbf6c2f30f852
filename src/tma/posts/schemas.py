"""Request and response bodies of the posts domain, quizzes as authored and read included
(their tables: tma.quizzes.models)."""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import (
    AgeMonths,
    Description,
    Id,
    Markdown,
    Position,
    Text,
    Title,
    WebUrl,
    age_range_error,
    checked_age_range,
)
from tma.posts.models import PostType
from tma.progress.models import ProgressStatus
from tma.quizzes.models import QuestionKind, Reveal

FileId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Prompt = Annotated[Text, Field(min_length=1, max_length=2000)]
OptionText = Annotated[Text, Field(min_length=1, max_length=500)]
PassMark = Annotated[int, Field(strict=True, ge=0, le=100)]
MaxAttempts = Annotated[int, Field(strict=True, ge=1, le=100)]
CooldownMinutes = Annotated[int, Field(strict=True, ge=0, le=10080)]
TimeLimitMinutes = Annotated[int, Field(strict=True, ge=1, le=600)]
QuestionsPerAttempt = Annotated[int, Field(strict=True, ge=1, le=50)]
Flag = Annotated[bool, Field(strict=True)]


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


class QuizSettings(WriteModel):
    """How a quiz is taken (companion.md §2); every field has its default."""

    max_attempts: MaxAttempts | None = None
    cooldown_minutes: CooldownMinutes = 0
    time_limit_minutes: TimeLimitMinutes | None = None
    shuffle_questions: Flag = False
    shuffle_options: Flag = False
    questions_per_attempt: QuestionsPerAttempt | None = None
    reveal: Reveal = Reveal.AFTER_SUBMIT


SETTINGS = tuple(QuizSettings.model_fields)


class QuizWrite(QuizSettings):
    """A quiz as authored (replaced whole on PATCH, its settings too): 1-50 questions, pass
    mark 0-100 %, the settings (`questions_per_attempt` at most the number of questions)."""

    not_null = ("pass_mark", "cooldown_minutes", "shuffle_questions", "shuffle_options", "reveal")

    pass_mark: PassMark = 80
    questions: Annotated[list[QuestionWrite], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _draw_within_questions(self) -> Self:
        if self.questions_per_attempt is not None and self.questions_per_attempt > len(
            self.questions
        ):
            raise ValueError("questions_per_attempt must not exceed the number of questions")
        return self

    def settings(self) -> dict[str, Any]:
        """The settings as the post's columns hold them."""
        return {name: getattr(self, name) for name in SETTINGS} | {"reveal": self.reveal.value}


class PostCreate(WriteModel):
    """A new post of `module_id`, at `ordering` (default last). A `video` needs a
    `video_url`, an `attachment` a `file_id`, a `quiz` its `quiz`; other types have none."""

    model_config = example(
        module_id=5,
        title="Checks quiz",
        post_type="quiz",
        ordering=2,
        quiz={
            "pass_mark": 60,
            "questions": [
                {
                    "prompt": "Which piece can jump?",
                    "kind": "single",
                    "explanation": "Only the knight jumps.",
                    "options": [
                        {"text": "Knight", "is_correct": True},
                        {"text": "Bishop", "is_correct": False},
                    ],
                }
            ],
        },
    )

    module_id: Id
    title: Title
    post_type: PostType = PostType.DEFAULT
    content: Markdown | None = None
    video_url: WebUrl | None = None
    file_id: FileId | None = None
    ordering: Position | None = None
    quiz: QuizWrite | None = None
    min_age_months: AgeMonths | None = None
    max_age_months: AgeMonths | None = None

    @model_validator(mode="after")
    def _fields_of_type(self) -> Self:
        wanted = {
            "video_url": PostType.VIDEO,
            "file_id": PostType.ATTACHMENT,
            "quiz": PostType.QUIZ,
        }
        for name, post_type in wanted.items():
            present = getattr(self, name) is not None
            if post_type == self.post_type and not present:
                raise ValueError(f"{post_type} posts need {name}")
            if post_type != self.post_type and present:
                raise ValueError(f"only {post_type} posts have {name}")
        error = age_range_error(self.min_age_months, self.max_age_months)
        if error:
            raise ValueError(error)
        return self


# Alike in shape with PostCreate above (and the other PATCH bodies, ModuleUpdate,
# CourseUpdate): the same fields, each optional here; a body declares its fields one a line.
class PostUpdate(WriteModel):
    """PATCH body: any field of the post but its type; `module_id` and/or `ordering` move
    it; `quiz` replaces the quiz whole. A field of another type's post is a 400."""

    model_config = example(title="Why checks come first", ordering=1)

    not_null = ("module_id", "title", "ordering", "video_url", "file_id", "quiz")

    module_id: Id | None = None
    title: Title | None = None
    content: Markdown | None = None
    video_url: WebUrl | None = None
    file_id: FileId | None = None
    ordering: Position | None = None
    quiz: QuizWrite | None = None
    # Checked against each other when both are sent; against the stored one by the service.
    min_age_months: AgeMonths | None = None
    max_age_months: AgeMonths | None = None

    _age_range = model_validator(mode="after")(checked_age_range)


# The example post of the OpenAPI document, in `PostRead`'s keys (also in PostDetail's and
# ModuleDetail's examples).
POST_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "module_id": 5,
    "title": "Why checks come first",
    "post_type": "default",
    "content": "A check forces an answer.",
    "video_url": None,
    "file_id": None,
    "file_url": None,
    "ordering": 1,
    "min_age_months": None,
    "max_age_months": None,
    "created_at": "2026-09-01T09:30:00Z",
    "updated_at": "2026-09-01T09:30:00Z",
}


class PostRead(ReadModel):
    model_config = example(**POST_EXAMPLE)

    id: int
    module_id: int
    title: str
    post_type: PostType
    content: str | None
    video_url: str | None
    file_id: str | None
    file_url: str | None
    ordering: int
    min_age_months: int | None
    max_age_months: int | None
    created_at: datetime
    updated_at: datetime


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


# A question as a `user` sees it; the staff example adds the answers to the same question.
QUESTION_EXAMPLE = {
    "id": 3,
    "prompt": "Which piece can jump?",
    "kind": "single",
    "explanation": None,
    "options": [{"id": 7, "text": "Knight"}, {"id": 8, "text": "Bishop"}],
}


class QuizRead(ReadModel):
    model_config = example(pass_mark=80, questions=[QUESTION_EXAMPLE])

    pass_mark: int
    questions: list[QuestionRead]


class OptionStaffRead(OptionRead):
    is_correct: bool


class QuestionStaffRead(QuestionRead):
    """A question as staff see it: with its correct options and explanation."""

    options: list[OptionStaffRead]  # type: ignore[assignment]
    correct_option_ids: list[int]


class QuizStaffRead(QuizRead):
    """A quiz as staff see it: answers, explanations and the settings."""

    model_config = example(
        pass_mark=80,
        max_attempts=3,
        cooldown_minutes=60,
        time_limit_minutes=15,
        shuffle_questions=True,
        shuffle_options=True,
        questions_per_attempt=1,
        reveal="after_pass",
        questions=[
            {
                **QUESTION_EXAMPLE,
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
    max_attempts: int | None
    cooldown_minutes: int
    time_limit_minutes: int | None
    shuffle_questions: bool
    shuffle_options: bool
    questions_per_attempt: int | None
    reveal: Reveal


class ProgressRead(ReadModel):
    """The caller's status on one post (`not_started` with null times when untouched)."""

    post_id: int
    status: ProgressStatus
    updated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class PostDetail(PostRead):
    """A post with the caller's progress and, for a quiz, the quiz (else null)."""

    model_config = example(
        **POST_EXAMPLE,
        progress={
            "post_id": 12,
            "status": "not_started",
            "updated_at": None,
            "started_at": None,
            "completed_at": None,
        },
        quiz=None,
    )

    progress: ProgressRead
    quiz: QuizStaffRead | QuizRead | None
