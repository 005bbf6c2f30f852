"""Bodies of the notification endpoints."""

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, StrictBool, StringConstraints, field_validator, model_validator

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import MAX_ID
from tma.notifications.models import NotificationKind, ReminderFrequency

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_READ_IDS = 1000
# An example for the docs, not a secret: a push token only addresses a device.
SAMPLE_TOKEN = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"  # noqa: S105


# A read model opens with its docstring and example like every other one
# (tma.progress.schemas, tma.users.schemas): alike in shape only.
class NotificationRead(ReadModel):
    """One notification of the caller's."""

    model_config = example(
        id=12,
        kind="course_assigned",
        title="New course: First steps",
        body="Your group Chess Club now has the course First steps.",
        data={"course_id": 5, "group_id": 3},
        created_at="2026-12-07T09:00:00Z",
        read_at=None,
    )

    id: int
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class MarkRead(WriteModel):
    """`{ids: [...]}` marks those (the caller's own; others are ignored), `{all: true}` every
    one; exactly one of the two."""

    model_config = example(ids=[12, 13])

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, min_length=1, max_length=MAX_READ_IDS
    )
    all: StrictBool | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "MarkRead":
        if (self.ids is None) == (self.all is None):
            raise ValueError("give either ids or all")
        if self.all is False:
            raise ValueError("all must be true")
        return self


class QuietHours(WriteModel):
    """Local times of the user's time zone; `start` after `end` crosses midnight."""

    model_config = example(start="21:00", end="07:30")

    start: Annotated[str, StringConstraints(pattern=_CLOCK.pattern)]
    end: Annotated[str, StringConstraints(pattern=_CLOCK.pattern)]

    @model_validator(mode="after")
    def _differ(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class NotificationSettingsRead(ReadModel):
    model_config = example(
        email=False,
        push=True,
        reminders="weekly",
        quiet_hours={"start": "21:00", "end": "07:30"},
        timezone="Europe/Paris",
    )

    email: bool
    push: bool
    reminders: ReminderFrequency
    quiet_hours: QuietHours | None
    timezone: str


_ZONES: frozenset[str] | None = None


def _known_zone(name: str) -> bool:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if name not in _ZONES:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class NotificationSettingsUpdate(WriteModel):
    """Only the fields sent change; an empty body is 422."""

    model_config = example(reminders="twice_weekly", timezone="America/New_York")
    not_null = ("email", "push", "reminders", "timezone")

    # Strict: `0`, `"yes"` and the like are 422, as the schema says (a boolean).
    email: StrictBool | None = None
    push: StrictBool | None = None
    reminders: ReminderFrequency | None = None
    quiet_hours: QuietHours | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not _known_zone(value):
            raise ValueError("unknown time zone (an IANA name such as Europe/Paris)")
        return value

    # The same check as tma.courses.schemas.ModuleMove's: an empty PATCH body is 422;
    # each names its own fields in the message.
    @model_validator(mode="after")
    def _not_empty(self) -> "NotificationSettingsUpdate":
        if not self.model_fields_set:
            raise ValueError("give at least one field")
        return self


class PushTokenCreate(WriteModel):
    """An Expo push token, `ExponentPushToken[...]` or `ExpoPushToken[...]`."""

    model_config = example(token=SAMPLE_TOKEN)

    token: Annotated[
        str,
        StringConstraints(
            max_length=200, pattern=r"^Expo(nent)?PushToken\[[A-Za-z0-9_-]{1,180}\]$"
        ),
    ]


class PushTokenRead(ReadModel):
    model_config = example(token=SAMPLE_TOKEN, created_at="2026-12-07T09:00:00Z")

    token: str
    created_at: datetime
