"""Request and response bodies of translations (docs/contracts/translations.md)."""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Description, Id, Markdown, Text, Title

Prompt = Annotated[Text, Field(min_length=1, max_length=2000)]
OptionText = Annotated[Text, Field(min_length=1, max_length=500)]


class OptionTranslation(WriteModel):
    id: Id
    text: OptionText


class QuestionTranslation(WriteModel):
    """One question's texts, by its id; a field left out reads as the default text."""

    id: Id
    prompt: Prompt | None = None
    explanation: Description | None = None
    options: Annotated[list[OptionTranslation], Field(max_length=10, default_factory=list)]


class QuizTranslation(WriteModel):
    questions: Annotated[list[QuestionTranslation], Field(min_length=1, max_length=50)]


QUIZ_EXAMPLE = {
    "questions": [
        {
            "id": 3,
            "prompt": "¿Qué pieza puede saltar?",
            "explanation": "Solo el caballo salta.",
            "options": [{"id": 7, "text": "El caballo"}, {"id": 8, "text": "El alfil"}],
        }
    ]
}


class TranslationWrite(WriteModel):
    """PUT body: the translated fields of the object (replaced whole). A course or module
    takes `title` and `description`; a post `title`, `content` and, for a quiz, `quiz`. At
    least one field."""

    model_config = example(title="Los jaques primero", content="Un jaque obliga a responder.")

    not_null = ("title", "description", "content", "quiz")

    title: Title | None = None
    description: Description | None = None
    content: Markdown | None = None
    quiz: QuizTranslation | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("a translation needs at least one field")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out but not null")
        return self

    def fields(self) -> dict[str, Any]:
        """The fields as stored (the JSON of the `translations` row)."""
        return self.model_dump(exclude_unset=True, exclude_none=True)


class TranslationRead(ReadModel):
    model_config = example(
        kind="post",
        id=12,
        language="es",
        fields={"title": "Los jaques primero", "quiz": QUIZ_EXAMPLE},
        created_at="2026-12-07T09:30:00Z",
        updated_at="2026-12-07T09:30:00Z",
    )

    kind: str
    id: int
    language: str
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
