"""Cheap revalidation: `ETag`, `If-None-Match` -> 304, `Cache-Control: private, no-cache` on
the GETs of content and progress (docs/offline.md).

The tag is a hash of the very bytes of the caller's body (`W/"<128-bit XXH3>"`): it
changes whenever that caller's body would, whatever the cause (an admin's edit, a link, a
move, a visibility change, the caller's own progress, a translation to come), and it can
never miss one, because there is nothing to keep in step: no version counter to bump, no
trigger to forget. Two callers with the same body share a tag, which leaks nothing (each
already holds the body). The cost: a 304 still builds the body on the server; what it
saves is the bytes on the phone's network, which is the scarce resource here.

Weak tags: the tag is of the uncompressed body, and the gzip layer outside may send it
compressed; a weak tag says "the same content", which holds for both encodings.

A route may set the tag itself (`ETag` header) when its body holds something that is not
content: the bundle's `generated_at` (tma.bundle.router) is left out of its tag.

A pure-ASGI middleware, so every listed route gets it without a line in the route. Only a
200 JSON answer of a listed GET (`REVALIDATED`) is tagged; the operations' OpenAPI
documents declare the 304 (`tma.core.openapi`).
"""

import re

import xxhash
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
