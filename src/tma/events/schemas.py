"""Bodies of the learning-event, webhook and xAPI endpoints."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import Text
from tma.events.models import EVENT_TYPES, EventType


class EventRead(ReadModel):
    """One learning event."""

    model_config = example(
        id=41,
        type="post_completed",
        user_id=7,
        occurred_at="2026-12-07T09:00:00Z",
        course_id=None,
        module_id=3,
        post_id=12,
        attempt_id=None,
        data={},
    )

    id: int
    type: EventType
    user_id: int
    occurred_at: datetime
    course_id: int | None
    module_id: int | None
    post_id: int | None
    attempt_id: int | None
    data: dict[str, Any]


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain white space or control characters")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError("must have a valid port") from None
    return value


WebhookUrl = Annotated[Text, Field(min_length=1, max_length=2000), AfterValidator(_webhook_url)]


def _distinct(value: list[EventType]) -> list[EventType]:
    return [kind for kind in EventType if kind in value]  # the canonical order, once each


EventTypes = Annotated[
    list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_distinct)
]


class WebhookCreate(WriteModel):
    """POST body: the URL, the event types wanted (default all), whether it is active."""

    model_config = example(url="https://lms.example.org/tma-hook", event_types=["course_completed"])

    url: WebhookUrl
    event_types: EventTypes = Field(default_factory=lambda: list(EventType))
    active: StrictBool = True


class WebhookUpdate(WriteModel):
    """PATCH body: any of the URL, the event types, active."""

    model_config = example(active=False)

    not_null = ("url", "event_types", "active")

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    active: StrictBool | None = None


class WebhookRead(ReadModel):
    """A webhook (never its secret)."""

    model_config = example(
        id=3,
        url="https://lms.example.org/tma-hook",
        event_types=["course_completed"],
        active=True,
        created_at="2026-12-07T09:00:00Z",
    )

    id: int
    url: str
    event_types: list[EventType]
    active: bool
    created_at: datetime


# Alike in shape with WebhookRead (and other read models' fields): the one more field is
# the secret shown once.
class WebhookCreated(WebhookRead):
    """A webhook just created, with its signing secret: shown this once."""

    model_config = example(
        id=3,
        url="https://lms.example.org/tma-hook",
        event_types=["course_completed"],
        active=True,
        created_at="2026-12-07T09:00:00Z",
        secret="whsec_3q2-7Yw0bXk9mYv3rU1pZq0dKc4eT6aH",  # noqa: S106 - an example
    )

    secret: str


class DeliveryRead(ReadModel):
    """One try of delivering an event to a webhook."""

    model_config = example(
        **{
            "delivery_id": "6f1c2c6e-2b7e-5d55-9a53-3f6f0f8a1c21",
            "event_id": 41,
            "try": 1,
            "status_code": 200,
            "error": None,
            "created_at": "2026-12-07T09:00:01Z",
        }
    )

    delivery_id: str
    event_id: int
    try_number: int = Field(alias="try")  # `try` is a Python keyword
    status_code: int | None
    error: str | None
    created_at: datetime


class StatementPage(ReadModel):
    """A page of xAPI 1.0.3 statements and the URL of the next one ("" at the end)."""

    model_config = example(
        statements=[
            {
                "id": "0f5ec3a6-8d63-5e44-a1bb-3b3f33a4d4a9",
                "actor": {
                    "objectType": "Agent",
                    "account": {"homePage": "https://tma.example.org", "name": "7"},
                },
                "verb": {
                    "id": "http://adlnet.gov/expapi/verbs/completed",
                    "display": {"en-US": "completed"},
                },
                "object": {
                    "objectType": "Activity",
                    "id": "https://tma.example.org/api/courses/5",
                    "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                },
                "result": {"completion": True},
                "timestamp": "2026-12-07T09:00:00Z",
                "stored": "2026-12-07T09:00:00Z",
                "version": "1.0.3",
            }
        ],
        more="",
    )

    statements: list[dict[str, Any]]
    more: str
