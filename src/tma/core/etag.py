"""Cheap revalidation: `ETag`, `If-None-Match` -> 304, `Cache-Control: private, no-cache` on
the GETs of content and progress (docs/offline.md).

**Body tags** (every listed read but `VERSIONED`): a hash of the very bytes of the caller's
body (`W/"<128-bit XXH3>"`): it changes whenever that caller's body would, whatever the
cause, with nothing to keep in step. Two callers with the same body share a tag, which
leaks nothing (each already holds the body). The cost: a 304 still builds the body on the
server; what it saves is the bytes on the phone's network.

Weak tags: the tag is of the uncompressed body, and the gzip layer outside may send it
compressed; a weak tag says "the same content", which holds for both encodings.

A route may set the tag itself (`ETag` header) when its body holds something that is not
content: the bundle's `generated_at` (tma.bundle.router) is left out of its tag.

A pure-ASGI middleware, so every listed route gets it without a line in the route. Only a
200 JSON answer of a listed GET (`REVALIDATED`) is tagged; the operations' OpenAPI
documents declare the 304 (`tma.core.openapi`).

**Version tags** (`VERSIONED`: the course detail and outline). For these the route tags
its answer itself, before building the body, from what the body is a function of:
`version_tag(request, shape, caller id, role, content version, caller version, day)` hashes
the path with its query, the raw `Accept-Language` header, the app's version, the body's
schema (`shape`) and those values; `not_modified` answers 304 when `If-None-Match` names
it, before the body is read: one statement (the caller's, which carries both versions:
`tma.users.service.find_caller`). Why such a tag cannot miss a change of the body:

- everything the body reads is a row of a table of `tma.core.versions.CONTENT_TABLES`
  (bumps the content version), of the caller's own data (`CALLER_TABLES`, the caller's
  row: bump the caller's version), or a counter kept from those in the same transaction
  (`DERIVED_TABLES`); database triggers bump the versions in the writing transaction for
  every writer (ORM, Core, raw SQL, cascades), so no code path can forget; every table of
  the schema must be classified (tests/test_versions.py);
- the versions are read in the caller's statement, before any statement of the body: a
  write committed between the two makes the tag older than the body (a later revalidation
  gets a 200), never newer;
- what is not a row: the day (availability opens at 00:00 UTC) is in the tag; the request's
  language (`Accept-Language`, raw) and query are; the code is (the app's version and the
  response model's JSON schema);
- per caller: the caller's id and role are in the tag, so no two callers ever share one.

A version tag changes more often than the body (any content write anywhere): that costs a
200 where a 304 would have done, never a stale body.
"""

import json
import re
from typing import Any

import xxhash
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tma import __version__

CACHE_CONTROL = b"private, no-cache"

# The GETs of content and progress (route templates, with the /api prefix).
REVALIDATED: tuple[str, ...] = (
    "/api/courses/{course_id}",
    "/api/courses/{course_id}/modules",
    "/api/courses/{course_id}/bundle",
    "/api/modules/{module_id}",
    "/api/posts",
    "/api/posts/{post_id}",
    "/api/quizzes/{post_id}",
    "/api/quizzes/{post_id}/attempts",
    "/api/quiz-attempts/{attempt_id}",
    "/api/progress",
    "/api/users/{user_id}/progress",
    "/api/groups/{group_id}/progress",
)
_PATHS = re.compile(
    "|".join("(?:" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(t)) + ")" for t in REVALIDATED)
)
# Tagged by versions in the route (see the module docstring); the rest by their body.
VERSIONED: tuple[str, ...] = ("/api/courses/{course_id}", "/api/courses/{course_id}/modules")
_DROPPED = frozenset({b"etag", b"cache-control"})
_NOT_IN_304 = frozenset({b"content-length", b"content-type"})


def etag(body: bytes) -> bytes:
    """The weak tag of a body. XXH3 (the `xxhash` package), not a cryptographic hash: a tag
    names a version of a body the caller already holds, so it has nothing to keep secret
    and no one to resist; its 128 bits make a chance collision as unlikely as BLAKE2b's,
    for a hundredth of the CPU (BLAKE2b cost 270,000 instructions on a module detail, all
    of the tag's cost; docs/performance.md "One read path")."""
    return b'W/"' + xxhash.xxh3_128_hexdigest(body).encode() + b'"'


def matches(if_none_match: bytes, tag: bytes) -> bool:
    """`If-None-Match` names `tag` (weak comparison) or is `*`."""
    wanted = tag.removeprefix(b"W/")
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == wanted:
            return True
    return False


class ETagMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not _PATHS.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        asked = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def tagging(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kind = next((v for k, v in headers if k == b"content-type"), b"")
                if message["status"] != 200 or not kind.startswith(b"application/json"):
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            given = next((v for k, v in start.get("headers", []) if k == b"etag"), None)
            tag = given or etag(body)  # a route may tag its body itself (the bundle)
            headers = [(k, v) for k, v in start.get("headers", []) if k not in _DROPPED]
            headers += [(b"etag", tag), (b"cache-control", CACHE_CONTROL)]
            if asked is not None and matches(asked, tag):
                kept = [(k, v) for k, v in headers if k not in _NOT_IN_304]
                await send({**start, "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, tagging)


def shape_of(schema: dict[str, Any]) -> str:
    """A response model's JSON schema as a short text, for `version_tag`: a release that
    changes the body's fields changes every tag of it."""
    return xxhash.xxh3_64_hexdigest(json.dumps(schema, sort_keys=True).encode())


def version_tag(request: Request, *parts: object) -> str:
    """The weak tag of a `VERSIONED` read, from the request (path, query, raw
    `Accept-Language`), the app's version and default language (`TMA_DEFAULT_LANGUAGE`: a
    restart with another default changes the texts a caller without a language reads) and
    `parts` (the body's shape, the caller's id and role, the content and caller versions,
    the day): see the module docstring. `W/"v..."`: never equal to a body's tag."""
    scope = request.scope
    language = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
    key = b"\0".join(
        (
            __version__.encode(),
            request.app.state.settings.default_language.encode(),
            scope["path"].encode(),
            scope["query_string"],
            language,
            *(str(part).encode() for part in parts),
        )
    )
    return 'W/"v' + xxhash.xxh3_128_hexdigest(key) + '"'


def not_modified(request: Request, tag: str) -> Response | None:
    """A 304 when `If-None-Match` names `tag` (`*` is left to the middleware, after the
    body: it must not skip the route's 404 and 403), else None. It says `Vary:
    Accept-Language` as the 200 it stands for does (RFC 9110 15.4.5: a 304 carries the
    `Vary` the 200 would have), so a cache keys it the same way."""
    asked = request.headers.get("if-none-match")
    if asked is None or asked.strip() == "*" or not matches(asked.encode(), tag.encode()):
        return None
    return Response(status_code=304, headers=_NOT_MODIFIED_HEADERS | {"ETag": tag})


_NOT_MODIFIED_HEADERS = {"Cache-Control": CACHE_CONTROL.decode(), "Vary": "Accept-Language"}
