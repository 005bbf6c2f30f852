"""How `tma serve` runs uvicorn: timeouts and connection bounds, and the one line saying
where it listens.

uvicorn (0.54) cuts an idle keep-alive connection (`timeout_keep_alive`) and answers 503
past `limit_concurrency` connections or tasks per worker, but it has no deadline for the
request head: its keep-alive timer starts only after a response and stops at the first
byte received, so a connection that sends nothing, or one header byte every few seconds,
stays open forever (uvicorn issue #157, "--timeout-request-start", still open).
`HeaderDeadlineProtocol` is uvicorn's own httptools protocol plus that one deadline. The
body's deadline is enforced in the ASGI middleware (`tma.core.middleware`, 408).
"""

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tma.core.config import Settings, get_settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection whose request head (request
    line and headers) is not complete within `TMA_TIMEOUT_HEADERS` seconds of the
    connection's opening or of the previous response's end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers_timeout = float(get_settings().timeout_headers)
        self._headers_deadline: asyncio.TimerHandle | None = None

    def _arm_headers_deadline(self) -> None:
        self._disarm_headers_deadline()
        self._headers_deadline = self.loop.call_later(self.headers_timeout, self._headers_late)

    def _disarm_headers_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_late(self) -> None:
        self._headers_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_headers_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_headers_deadline()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_headers_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request already has its head; otherwise the next one starts its clock.
        waiting = not self.pipeline
        super().on_response_complete()
        if waiting and not self.transport.is_closing():
            self._arm_headers_deadline()


PROTOCOL = f"{HeaderDeadlineProtocol.__module__}:{HeaderDeadlineProtocol.__qualname__}"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The connection settings `tma serve` gives uvicorn (per worker)."""
    return {
        "http": PROTOCOL,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "limit_concurrency": settings.limit_concurrency,
        # The client's address comes from X-Forwarded-For only behind TMA_TRUSTED_PROXIES,
        # in the app (tma.main); uvicorn's own default would trust 127.0.0.1.
        "proxy_headers": False,
        "server_header": False,
    }


def listening_line(host: str, port: int, *, docs: bool) -> str:
    """`TMA backend listening on http://127.0.0.1:8000 (docs: /docs)`."""
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"TMA backend listening on http://{shown}:{port}" + (" (docs: /docs)" if docs else "")


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server that calls `announce(port)` once it listens (uvicorn's own line
    says so at level info, which `tma serve` leaves out with the rest of its chatter)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[int], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._announce(self.servers[0].sockets[0].getsockname()[1])


def serve(
    app: str,
    *,
    host: str,
    port: int,
    reload: bool,
    workers: int,
    settings: Settings,
    announce: Callable[[str], None],
) -> None:
    """Run `app` (an app factory's import string) as `uvicorn.run` would, calling
    `announce` with `listening_line(...)` once the socket is bound: after start-up in one
    process; with workers or reload, when the supervisor has bound it (as uvicorn logs it).
    A port already in use: uvicorn's one error line, exit code 3."""
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else workers,
        log_level="warning",
        **uvicorn_options(settings),
    )

    def say(bound_port: int) -> None:
        announce(listening_line(host, bound_port, docs=settings.docs_enabled))

    try:
        if config.should_reload or config.workers > 1:
            from uvicorn.supervisors import ChangeReload, Multiprocess  # not in every worker

            sock = config.bind_socket()
            say(sock.getsockname()[1])
            if config.should_reload:
                ChangeReload(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
            else:
                Multiprocess(config, sockets=[sock]).run()
            return
        server = _AnnouncingServer(config, say)
        server.run()
    except KeyboardInterrupt:
        return
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE; it has logged why
