"""Which language a read is written in (the rule; tma.i18n applies it): `Accept-Language`,
else the user's `language`, else the default (`TMA_DEFAULT_LANGUAGE`);
docs/contracts/translations.md, "Negotiation".

Libraries, not hand parsing: Werkzeug's `parse_accept_header` reads the header's q-values
(malformed entries dropped, never an error) and Babel checks each tag against CLDR
(`Locale.parse`: an unknown language is no language) and spells it canonically
(`es-mx` -> `es-MX`)."""

from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_locale_identifier
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

# At most this many languages are looked for (the best ones): a read joins its translations
# in its own statement with one bound parameter per language (tma.i18n.service.SLOTS).
MAX_WANTED = 4
# Headers longer than this are parsed each time, not remembered (a bounded cache of short
# keys: the headers phones send are a few dozen characters).
_CACHED_HEADER_MAX = 200


@lru_cache(maxsize=1024)
def _locale(tag: str) -> Locale:
    return Locale.parse(tag, sep="-")


def canonical(tag: str) -> str:
    """The canonical BCP 47 spelling of `tag` (`es-mx` -> `es-MX`); ValueError for a tag
    that is malformed or names no language CLDR knows."""
    if not 0 < len(tag) <= 35:
        raise ValueError("a language tag has 1 to 35 characters")
    try:
        locale = _locale(tag)
    except (ValueError, UnknownLocaleError, TypeError):
        raise ValueError(f"{tag!r} is not a known BCP 47 language tag") from None
    return get_locale_identifier(
        (locale.language, locale.territory, locale.script, locale.variant), sep="-"
    )


def fallbacks(tag: str) -> tuple[str, ...]:
    """`tag` and the shorter tags it falls back to, most specific first (`es-MX` ->
    `es-MX`, `es`; `zh-Hant-TW` -> `zh-Hant-TW`, `zh-Hant`, `zh`). `tag` is canonical."""
    parts = tag.split("-")
    return tuple("-".join(parts[:n]) for n in range(len(parts), 0, -1))


def _known(tag: str) -> str | None:
    try:
        return canonical(tag)
    except ValueError:
        return None


def _chain(tags: list[str], refused: set[str], default: str) -> tuple[str, ...]:
    """The languages to look for, best first, each followed by its fallbacks, up to the
    default (always there: the untranslated text), refused ones left out."""
    chain: list[str] = []
    for tag in tags:
        for language in fallbacks(tag):
            if language == default:
                return tuple(chain)
            if language not in refused and language not in chain:
                chain.append(language)
    return tuple(chain)


def _negotiate(header: str | None, user_language: str | None, default: str) -> tuple[str, ...]:
    accepted: list[str] = []
    refused: set[str] = set()
    named = False  # the header named a known language or `*`
    for value, quality in parse_accept_header(header, LanguageAccept) if header else ():
        if value == "*":
            if quality > 0:
                named = True
                accepted.append(default)  # any language: the untranslated text will do
            continue
        tag = _known(value)
        if tag is None:
            continue
        if quality <= 0:
            refused.add(tag)
            continue
        named = True
        accepted.append(tag)
    if not named and user_language:
        accepted = [user_language]
    return _chain(accepted, refused, default)[:MAX_WANTED]


def wanted(header: str | None, user_language: str | None, default: str) -> tuple[str, ...]:
    """The translations a read looks for, best first (empty: the default text, no lookup).

    `Accept-Language` decides when it names a known language or `*` (by q-value; q=0
    refuses a language, `es-MX` falls back to `es`); else the user's `language`; the
    default ends the chain, of at most `MAX_WANTED` languages. Never raises: a malformed
    header counts as no header."""
    if header is not None and len(header) > _CACHED_HEADER_MAX:
        return _negotiate(header, user_language, default)
    return _cached(header, user_language, default)


_cached = lru_cache(maxsize=4096)(_negotiate)
