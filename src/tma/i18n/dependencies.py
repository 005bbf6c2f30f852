"""The reader's language for a translated read, the language path parameter, and the
headers that say which language a response is in."""

from typing import Annotated

from fastapi import Depends, Path, Request, Response

from tma.core.errors import InvalidInput
from tma.core.languages import canonical, wanted
from tma.core.types import MAX_ID
from tma.i18n.service import Translator
from tma.users.caller import Caller

ObjectIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The course, module or post id")]


async def language_path(
    language: Annotated[str, Path(min_length=1, max_length=35, description="A BCP 47 tag")],
) -> str:
    """The path's language tag, spelled canonically (`es-mx` -> `es-MX`); 422 for a tag
    that is malformed or names no language CLDR knows."""
    try:
        return canonical(language)
    except ValueError as exc:
        raise InvalidInput(str(exc), loc=["path", "language"]) from None


LanguagePath = Annotated[str, Depends(language_path)]


def translator(request: Request, user: Caller | None) -> Translator:
    """The translations this request's read looks for: `Accept-Language`, else the user's
    `language`, else the default (tma.core.languages.wanted). A plain function, not a
    dependency: the hottest reads call it (docs/performance.md)."""
    default: str = request.app.state.settings.default_language
    header = request.headers.get("accept-language")
    return Translator(wanted(header, user.language if user else None, default), default)


def in_language(response: Response, language: str) -> Response:
    """Say the response's language, and that it depends on `Accept-Language`."""
    response.headers["Content-Language"] = language
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    return response
