"""URLs of stored files: the plain `/api/files/{id}`, and signed, expiring ones for
attachments, which a phone's PDF viewer or an `<img>` can open without a bearer token.

What is stored (a user's `avatar_url`) is the path; what a response carries is absolute,
on the request's public base (`TMA_PUBLIC_URL`, else the request's address:
tma.core.public_url), so a client on another origin can use it as it is.

A signature is an HMAC-SHA256 over the file id and the expiry time, keyed by a key derived
from `TMA_SECRET_KEY` for this one purpose (a token signature can never pass for a URL
signature, nor the reverse)."""

import base64
import hashlib
import hmac
import time

from tma.core.config import Settings
from tma.core.public_url import public_base

FILES_PATH = "/api/files"
# The routes that take a file (POST): the request middleware gives them the upload limit.
UPLOAD_PATHS = frozenset({FILES_PATH, f"{FILES_PATH}/upload-avatar"})


def file_path(file_id: str) -> str:
    """The path of a file, `/api/files/<id>`: the form stored in a user's `avatar_url`."""
    return f"{FILES_PATH}/{file_id}"


def file_url(file_id: str) -> str:
    """The plain URL of a file, absolute on the request's public base (avatars open with
    it; attachments need a token with it)."""
    return public_base() + file_path(file_id)


def _signature(file_id: str, expires: int, settings: Settings) -> str:
    key = hmac.new(settings.secret_key.encode(), b"tma file url v1", hashlib.sha256).digest()
    mac = hmac.new(key, f"{file_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_file_url(file_id: str, settings: Settings, *, now: float | None = None) -> str:
    """The file's URL with `expires` (Unix seconds) and `signature`: it works without a
    token until `TMA_FILE_URL_TTL_SECONDS` from now, rounded down to a step of a tenth of
    that (at most 5 minutes): the same URL for every read within a step, so a body that
    carries it keeps its ETag (docs/offline.md) instead of changing every second."""
    ttl = settings.file_url_ttl_seconds
    step = max(1, min(300, ttl // 10))
    expires = (int(time.time() if now is None else now) + ttl) // step * step
    return (
        f"{file_url(file_id)}?expires={expires}&signature={_signature(file_id, expires, settings)}"
    )


def signature_valid(
    file_id: str, expires: int, signature: str, settings: Settings, *, now: float | None = None
) -> bool:
    """True when `signature` is this server's for `file_id` and `expires`, not yet passed."""
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature, _signature(file_id, expires, settings))
