"""gzip for the clients that ask for it: Starlette's `GZipMiddleware`, entered only then.

Starlette's middleware wraps every request in a responder that normalizes its excluded
content types again, parses the request's and the response's headers and forwards each
message, also for a client that never asked for gzip: about 90,000 instructions a request,
5 % of a list read (callgrind, docs/performance.md "Compression only when asked"). A
request whose `Accept-Encoding` names no gzip goes straight to the app instead, and gets
what Starlette would have sent it: the body as it is, with `Vary: Accept-Encoding` on a
body that could have been compressed (over `minimum_size`), so a shared cache keeps the
compressed and plain answers apart.
"""

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_VARY = b"vary"
_ACCEPT_ENCODING = b"accept-encoding"


def asks_for_gzip(scope: Scope) -> bool:
    """Starlette's own test: the first `Accept-Encoding` header contains "gzip"."""
    for name, value in scope["headers"]:
        if name == _ACCEPT_ENCODING:
            return b"gzip" in value
    return False


class GZipWhenAsked:
    """Bodies of `minimum_size` bytes or more compressed for clients that accept gzip."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int,
        compresslevel: int,
        exclude_content_types: tuple[str, ...],
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.gzip = GZipMiddleware(
            app,
            minimum_size=minimum_size,
            compresslevel=compresslevel,
            exclude_content_types=exclude_content_types,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or asks_for_gzip(scope):
            await self.gzip(scope, receive, send)
            return
        minimum_size = self.minimum_size

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if _compressible_length(headers, minimum_size):
                    headers.append((_VARY, b"Accept-Encoding"))
            await send(message)

        await self.app(scope, receive, send_with_vary)


def _compressible_length(headers: list[tuple[bytes, bytes]], minimum_size: int) -> bool:
    """Whether the body may reach `minimum_size`: its `Content-Length` says so, or it has none
    (streamed)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) >= minimum_size
    return True
