"""The server's public address, and the absolute URLs of its own files in responses.

A client on another origin (the starter's mobile app, a web client served elsewhere) uses
`avatar_url` and a file's `url` as they are: a relative `/api/files/<id>` would be asked of
the client's own server. So responses carry absolute URLs, on this base:

1. `TMA_PUBLIC_URL` when set (recommended in production: one answer, whatever a request's
   headers say);
2. else the request's own scheme and `Host`. Behind a proxy listed in `TMA_TRUSTED_PROXIES`
   the scheme is its `X-Forwarded-Proto` (uvicorn's ProxyHeadersMiddleware, main.py) and
   the host its `X-Forwarded-Host` (`ForwardedHostMiddleware` below: uvicorn's middleware
   reads no host). Forwarded headers from any other peer are ignored.

`PublicUrlMiddleware` puts the request in a context variable, so the read models and the
lean row paths of every domain turn a stored `/api/files/<id>` into an absolute URL without
the request being handed down; the base is read from the request's headers on first use
only (most responses carry no file URL). Outside a request (seed, CLI) the base is empty
and URLs stay relative. What is stored is always the relative form: an absolute
URL of this server sent back by a client is stored as `/api/files/<id>` (`canonical`).
"""

import ipaddress
import re
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

FILES_PREFIX = "/api/files/"
# The server's own file path as stored: `/api/files/<id>` (ids: tma.files.router).
OWN_FILE_PATH = re.compile(r"/api/files/[A-Za-z0-9_-]{22,64}\Z")
# A host as a URL may carry it: a name or IPv4 address, or a bracketed IPv6 address, and an
# optional port. Anything else in `Host` or `X-Forwarded-Host` is not used in a URL.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::[0-9]{1,5})?\Z"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORWARDED_HOST_KEY = "tma.forwarded_host"


class _RequestBase:
    """The request's public base: the configured one, else read from the request's
    headers when first asked for, then kept."""

    __slots__ = ("scope", "value")

    def __init__(self, scope: Scope, value: str | None) -> None:
        self.scope = scope
        self.value = value

    def get(self) -> str:
        if self.value is None:
            self.value = _request_base(self.scope)
        return self.value


_base: ContextVar[_RequestBase | None] = ContextVar("tma_public_base", default=None)


def public_base() -> str:
    """The current request's public base URL (no trailing slash), or "" outside a request."""
    current = _base.get()
    return current.get() if current is not None else ""


def absolute(url: str | None) -> str | None:
    """`url` made absolute when it is one of this server's file paths; any other value (an
    external URL, None) unchanged."""
    if url is not None and url.startswith(FILES_PREFIX):
        return public_base() + url
    return url


def canonical(url: str) -> str:
    """The stored form of a URL a client sends: this server's absolute file URL becomes its
    path `/api/files/<id>`; anything else unchanged."""
    base = public_base()
    if base and url[: len(base)].lower() == base.lower():
        path = url[len(base) :]
        if OWN_FILE_PATH.match(path):
            return path
    return url


def _header(scope: Scope, name: bytes) -> str | None:
    value = None
    for key, raw in scope.get("headers", ()):
        if key == name:
            value = raw.decode("latin-1")
    return value


def _request_base(scope: Scope) -> str:
    scheme = str(scope.get("scheme", "http"))
    host = scope.get(_FORWARDED_HOST_KEY) or _header(scope, b"host")
    if not host or not _HOST.match(host):
        server = scope.get("server")
        if not server:
            return ""
        name, port = server
        host = name if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{name}:{port}"
    return f"{scheme}://{host}{scope.get('root_path', '')}".rstrip("/")


class PublicUrlMiddleware:
    """Set the request's public base URL (see the module doc) for the request's handling."""

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.public_url = public_url.rstrip("/") if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _base.set(_RequestBase(scope, self.public_url))
        try:
            await self.app(scope, receive, send)
        finally:
            _base.reset(token)


class ForwardedHostMiddleware:
    """Take the public host from `X-Forwarded-Host` when the peer is a trusted proxy (its
    last value: the one the nearest proxy set). Runs before uvicorn's ProxyHeadersMiddleware,
    which replaces the peer's address with the client's."""

    def __init__(self, app: ASGIApp, trusted_proxies: list[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    def _trusted(self, scope: Scope) -> bool:
        client: Any = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._trusted(scope):
            forwarded = _header(scope, b"x-forwarded-host")
            host = forwarded.rsplit(",", 1)[-1].strip() if forwarded else ""
            if _HOST.match(host):
                scope[_FORWARDED_HOST_KEY] = host
        await self.app(scope, receive, send)
