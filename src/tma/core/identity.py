"""One rule for identity: how a username is checked and stored, and the canonical keys that
decide whether two usernames (or two e-mails) are the same account. docs/contracts/identity.md
states the rule and its reasons.

- A username is NFKC-normalised, then checked and mapped by the PRECIS profile of RFC 8265
  (`precis-i18n`): `UsernameCasePreserved` gives the stored name, `UsernameCaseMapped` with
  Unicode case folding gives the key. The profile refuses spaces, symbols, controls, format
  and default-ignorable characters, unassigned code points, and names breaking the bidi rule.
- Before the profile, control, format, zero-width and bidi characters get their own clear
  message, and a name whose letters come from more than one script (Latin with Cyrillic, as
  in `аdmin`) is refused, except the mixes one language writes (Han with Hiragana/Katakana,
  Han with Hangul, Han with Bopomofo): UTS #39's "highly restrictive" level.
- The key is stored in a unique column; every comparison (register, login, create, the
  duplicate check) goes through it, so both databases agree (no `lower()` in SQL).
"""

import unicodedata

import unicodedataplus
from precis_i18n import get_profile

USERNAME_MIN = 3
USERNAME_MAX = 50
# A key can be longer than its name: case folding turns `ß` into `ss`.
USERNAME_KEY_MAX = 200
EMAIL_KEY_MAX = 320

_STORED = get_profile("UsernameCasePreserved")
_KEYED = get_profile("UsernameCaseMapped:CaseFold")

# Unicode general categories refused with their own message: controls (Cc), format
# characters (Cf: zero-width space/joiners, bidi embeddings, overrides and isolates, the BOM,
# soft hyphen...), line and paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
_NEUTRAL_SCRIPTS = frozenset({"Common", "Inherited", "Unknown"})
# The script mixes a single language writes (UTS #39, "highly restrictive").
_ALLOWED_MIXES = (
    frozenset({"Han", "Hiragana", "Katakana"}),
    frozenset({"Han", "Hangul"}),
    frozenset({"Han", "Bopomofo"}),
)
_REASONS = {
    "spaces": "must not contain spaces",
    "symbols": "must not contain symbols or emoji",
    "punctuation": "must not contain non-ASCII punctuation",
    "has_compat": "must not contain compatibility characters",
    "bidi_rule": "breaks the bidi rule (mixed left-to-right and right-to-left text)",
    "empty": "must not be empty",
}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def scripts_of(text: str) -> set[str]:
    """The Unicode scripts of the characters of `text`, less Common and Inherited (digits,
    ASCII punctuation, combining marks)."""
    return {unicodedataplus.script(ch) for ch in text} - _NEUTRAL_SCRIPTS


def normalize_username(raw: str) -> str:
    """The username to store for `raw` (NFKC, then PRECIS UsernameCasePreserved); ValueError
    with a reason a person can act on when the rule refuses it."""
    text = _nfkc(raw.strip())
    if any(unicodedata.category(ch) in _INVISIBLE for ch in text):
        raise ValueError("must not contain control, format, zero-width or bidi characters")
    scripts = scripts_of(text)
    if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES):
        names = ", ".join(sorted(scripts))
        raise ValueError(f"mixes scripts ({names}): use letters of one script")
    try:
        stored: str = _STORED.enforce(text)
        _KEYED.enforce(stored)
    except UnicodeError as exc:
        # precis-i18n reports e.g. "DISALLOWED/spaces" as the exception's reason.
        reason = str(getattr(exc, "reason", "")).rpartition("/")[2]
        detail = _REASONS.get(reason, f"is refused by the username rule ({reason or 'invalid'})")
        raise ValueError(detail) from None
    if not USERNAME_MIN <= len(stored) <= USERNAME_MAX:
        raise ValueError(f"must be {USERNAME_MIN} to {USERNAME_MAX} characters long")
    return stored


def username_key(name: str) -> str:
    """The canonical key of a username: two names are one identity when their keys are equal.

    Defined for any text (a login may type anything): a name the rule accepts gets its
    PRECIS case-folded form; any other text (a stored name older than the rule) gets its
    NFKC case fold, which no accepted name's key can equal unless they are the same name."""
    text = _nfkc(name.strip())
    try:
        key: str = _KEYED.enforce(text)
    except UnicodeError:
        key = _nfkc(text.casefold())
    return key


def email_key(email: str) -> str:
    """The canonical key of an e-mail address: NFKC, then case folded."""
    return _nfkc(_nfkc(email.strip()).casefold())
