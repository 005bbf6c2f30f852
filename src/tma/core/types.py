"""Constrained field types shared by the schemas: they turn bad input into 422, never 500."""

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, StringConstraints

MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it here keeps both databases alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=50),
    AfterValidator(_no_nul),
]
Password = Annotated[str, Field(min_length=8, max_length=128), AfterValidator(_no_nul)]
GroupName = Annotated[
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
AvatarUrl = Annotated[str, Field(max_length=500), AfterValidator(_no_nul)]
ChildSex = Annotated[str, Field(max_length=20), AfterValidator(_no_nul)]


def _date_text_only(value: Any) -> Any:
    # Pydantic would read a number as a Unix timestamp (0 -> 1970-01-01); a date is text.
    if not isinstance(value, str | date):
        raise ValueError("must be a date as text, YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text_only)]


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_lower)]
RoleName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_no_nul)]


Title = CourseTitle  # module and post titles: 1-200 characters, surrounding white space removed
HexColor = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#3A7BD5"])]
Markdown = Annotated[str, Field(max_length=50_000), AfterValidator(_no_nul)]
# A 1-based place in an ordered list; past the end means "last". Strict: `true` is no 1.
Position = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]


def _http_url(value: str) -> str:
    # Only web addresses: never `javascript:`, `data:` or a relative path a client might
    # follow somewhere unexpected.
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/\\":
        raise ValueError("must be an http:// or https:// URL")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain white space or control characters")
    return value


WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul), AfterValidator(_http_url)]
