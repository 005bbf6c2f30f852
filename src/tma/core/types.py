"""Constrained field types shared by the schemas: they turn bad input into 422, never 500."""

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
)

from tma.core.identity import normalize_username
from tma.core.languages import canonical as canonical_language
from tma.core.public_url import OWN_FILE_PATH, absolute, canonical

MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it here keeps both databases alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_bool(value: Any) -> Any:
    # Pydantic's lax mode reads `true` as 1: an integer field refuses a boolean.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
# The bounds come before the boolean check: pydantic then puts them on the integer itself,
# and the OpenAPI document says `minimum`/`maximum`. Bounds added on top of a validator
# (`Annotated[Integer, Field(ge=1)]`) would be written there as `ge`/`le`, which JSON
# Schema does not know (tests/test_openapi.py checks that no schema carries them).
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_not_bool)]
Ordering = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_not_bool)]
# A username as typed at login: compared through its canonical key, never refused for its
# characters (an account older than the identity rule must still log in).
LoginName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=50),
    AfterValidator(_no_nul),
]
# A new username: the identity rule (tma.core.identity, docs/contracts/identity.md) checks
# it and gives the form stored.
Username = Annotated[LoginName, AfterValidator(normalize_username)]
Password = Annotated[str, Field(min_length=8, max_length=128), AfterValidator(_no_nul)]
GroupName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_nul),
]
# A module's or post's age bound in whole months (companion spec §4): 0 to 216 (18 years).
AgeMonths = Annotated[int, Field(strict=True, ge=0, le=216)]
AGE_RANGE_ERROR = "min_age_months must not be greater than max_age_months"


def age_range_error(low: int | None, high: int | None) -> str | None:
    """What is wrong with an age range (a missing bound is no bound), or None."""
    if low is not None and high is not None and low > high:
        return AGE_RANGE_ERROR
    return None


class _AgeRanged(Protocol):
    min_age_months: int | None
    max_age_months: int | None


_Ranged = TypeVar("_Ranged", bound=_AgeRanged)


def changed_age_range_error(changes: dict[str, Any], stored: _AgeRanged) -> str | None:
    """What is wrong with the age range a change leaves (its bounds, else the stored ones),
    or None: a PATCH that sends one bound is checked against the other as stored."""
    return age_range_error(
        changes.get("min_age_months", stored.min_age_months),
        changes.get("max_age_months", stored.max_age_months),
    )


def checked_age_range(body: _Ranged) -> _Ranged:
    """A body's `min_age_months` and `max_age_months` against each other (a 422 when the
    first is greater): the after-validator of every body that has them, as
    `_age_range = model_validator(mode="after")(checked_age_range)`."""
    error = age_range_error(body.min_age_months, body.max_age_months)
    if error:
        raise ValueError(error)
    return body


# A child's name (companion spec §4): 1-100 characters once trimmed.
ChildName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_nul),
]
CourseTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Description = Annotated[str, Field(max_length=5000), AfterValidator(_no_nul)]
ProfileName = Annotated[str, Field(max_length=100), AfterValidator(_no_nul)]


def _http_url(value: str) -> str:
    # Shown to other members as an image link: only an absolute http(s) URL with a host,
    # no white space or control characters (never `javascript:` or `data:`), or the
    # server's own file path `/api/files/<id>` (an uploaded avatar). Stored as sent (the
    # server's own absolute file URL was made the path before: `canonical`).
    if OWN_FILE_PATH.match(value):
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL, or this server's file URL")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValueError("must not contain white space or control characters")
    return value


def _absolute_file_url(value: str) -> str:
    return absolute(value) or value


def _link(value: str) -> str:
    """A link a client sends: no NUL, this server's absolute file URL made its path, then an
    http(s) URL or that path (`_http_url`)."""
    return _http_url(canonical(_no_nul(value)))


# An avatar as a client sends it: an http(s) URL, or this server's file URL, relative
# (`/api/files/<id>`) or absolute as responses give it; the latter is stored relative.
AvatarUrl = Annotated[str, Field(max_length=500), AfterValidator(_link)]
# A URL in a response that may be one of this server's files (a user's `avatar_url`):
# made absolute on the request's public base (tma.core.public_url).
FileLink = Annotated[str, AfterValidator(_absolute_file_url)]
ChildSex = Annotated[str, Field(max_length=20), AfterValidator(_no_nul)]


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def _date_text_only(value: Any) -> Any:
    # Pydantic would read a number, or digits as text ("86400"), as a Unix timestamp
    # (1970-01-02); a date is ISO `YYYY-MM-DD` text, ASCII digits, nothing else.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date as text, YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text_only)]

# Alike in shape with the date check above: each parses its own format strictly.
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _datetime_text_only(value: Any) -> Any:
    # As for dates: a number (or digits as text) would be read as a Unix timestamp; an
    # instant is ISO-8601 text (its offset is required by `AwareDatetime`).
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO-8601 date and time as text, with an offset")
    return value


# An instant given by a client: ISO-8601 text with an offset (`Z`, `+02:00`); 422 otherwise.
IsoInstant = Annotated[AwareDatetime, BeforeValidator(_datetime_text_only)]


def _plausible_day(value: date) -> date:
    # Release days are computed by the database (start + up to 3650 days): a year past
    # 2999 or before 2000 is a typing mistake, and 9999 + 10 years would not fit a date.
    if not date(2000, 1, 1) <= value <= date(2999, 12, 31):
        raise ValueError("must be a day from 2000-01-01 to 2999-12-31")
    return value


# The first day of a course's release schedule (a group's `start_date`).
StartDate = Annotated[IsoDate, AfterValidator(_plausible_day)]


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_lower)]
RoleName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_no_nul)]


# A BCP 47 language tag CLDR knows, stored in its canonical spelling (tma.core.languages).
LanguageTag = Annotated[str, Field(min_length=1, max_length=35), AfterValidator(canonical_language)]
Title = CourseTitle  # module and post titles: 1-200 characters, surrounding white space removed
HexColor = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#3A7BD5"])]
Markdown = Annotated[str, Field(max_length=50_000), AfterValidator(_no_nul)]
# A 1-based place in an ordered list; past the end means "last". Strict: `true` is no 1.
Position = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]


# A link (a post's `video_url`): an http(s) URL, or this server's file URL (stored as its
# path, like an avatar's).
WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_link)]
