"""One pure-ASGI middleware for every request: request id, body limit and deadline, security
headers, the answer to an unreachable database or an unexpected error, and the log line.

Pure ASGI rather than BaseHTTPMiddleware: it adds no task or stream copy per request.
"""

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tma.core.db import SESSIONS_KEY, close_sessions, unavailable_database_error

logger = logging.getLogger("tma.access")

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


# What a multipart upload may carry besides the file: boundaries, part headers, small fields.
MULTIPART_FRAMING_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    """An HTTP error, so FastAPI's body reader re-raises it (as 413) instead of turning it
    into its generic 400 "error parsing the body"."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodyTimeout(HTTPException):
    """The body did not arrive within the deadline (a slow or stalled client): 408."""

    def __init__(self, seconds: int) -> None:
        detail = f"Request body not received within {seconds} seconds"
        # The rest of the body may still come: the connection closes after the answer.
        super().__init__(408, detail, headers={"Connection": "close"})


# Seconds a client is asked to wait when the database cannot be reached.
DATABASE_RETRY_AFTER = 5


def _route_template(scope: Scope) -> str:
    """The matched route's full template (`/api/groups/{group_id}`), else the raw path."""
    # FastAPI composes router prefixes lazily; the full template lives on its route context.
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(template or scope["path"])


class RequestMiddleware:
    """Echo or mint `X-Request-ID`, refuse bodies over `max_body_bytes` (413) or not received
    within `body_timeout` seconds of the request's start (408), add security headers, answer
    503 when the database cannot be reached and 500 on any other unexpected error, and log
    one structured line per request (with the error's class, or its trace for a 500).

    Errors are answered and logged here and not raised further: the server (uvicorn) would
    log them a second time, as a plain multi-line trace."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_timeout: int = 30,
        upload_paths: frozenset[str] = frozenset(),
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        # File uploads (POST to `upload_paths`) get their own, larger limit: the file's
        # `max_upload_bytes` plus room for the multipart framing around it.
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes
        self.max_upload_body = max_upload_bytes + MULTIPART_FRAMING_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(REQUEST_ID_HEADER, b"")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex.encode()
        limit = self.max_body_bytes
        detail = f"Request body larger than {limit} bytes"
        if scope["method"] == "POST" and scope["path"] in self.upload_paths:
            limit = self.max_upload_body
            detail = f"File larger than {self.max_upload_bytes} bytes"
        status = 500
        responded = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                out = [(k, v) for k, v in message.get("headers", []) if k != b"server"]
                if any(k == b"cache-control" for k, _ in out):  # a revalidated read's own
                    out.extend(h for h in SECURITY_HEADERS if h[0] != b"cache-control")
                else:
                    out.extend(SECURITY_HEADERS)
                out.append((REQUEST_ID_HEADER, request_id))
                message = {**message, "headers": out}
            await send(message)

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(send_wrapper, detail)
            status = 413
            self._log(scope, status, started, request_id)
            return

        received = 0
        body_done = False
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def receive_wrapper() -> Message:
            nonlocal received, body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(detail)
                body_done = not message.get("more_body", False)
            return message

        error: BaseException | None = None
        sessions: list[Any] = []
        scope[SESSIONS_KEY] = sessions  # the request's database session, once opened
        try:
            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            finally:
                await close_sessions(sessions)
        except BodyTooLarge:
            if not responded:
                await self._reject(send_wrapper, detail)
            status = 413
        except BodyTimeout as exc:
            if not responded:
                await self._send_json(send_wrapper, 408, {"detail": exc.detail}, close=True)
            status = 408
        except Exception as exc:
            # Answered here rather than by Starlette's outermost 500 handler, so these too
            # carry the security headers and the request id; not raised further (see above).
            cause = unavailable_database_error(exc)
            error = exc if cause is None else cause
            if cause is not None:
                status = 503
                body = {"detail": "database unavailable"}
                extra = [(b"retry-after", str(DATABASE_RETRY_AFTER).encode())]
            else:
                status = 500
                body, extra = {"detail": "Internal server error"}, []
            if not responded:
                await self._send_json(send_wrapper, status, body, extra)
        finally:
            self._log(scope, status, started, request_id, error)

    @staticmethod
    async def _reject(send: Any, detail: str) -> None:
        await RequestMiddleware._send_json(send, 413, {"detail": detail})

    @staticmethod
    async def _send_json(
        send: Any,
        code: int,
        content: dict[str, Any],
        extra: list[tuple[bytes, bytes]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        body = json.dumps(content).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(
        scope: Scope,
        status: int,
        started: float,
        request_id: bytes,
        error: BaseException | None = None,
    ) -> None:
        """The request's one log line: INFO; WARNING with the class of the error that says
        the database was unreachable (no trace: the cause is known); ERROR with the trace
        inside the same JSON line for any other unexpected error."""
        level = (
            logging.INFO if error is None else logging.WARNING if status == 503 else logging.ERROR
        )
        if not logger.isEnabledFor(level):
            return
        extra: dict[str, Any] = {
            "method": scope["method"],
            "route": _route_template(scope),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id.decode(),
        }
        if error is None:
            logger.info("request", extra=extra)
            return
        extra["error"] = f"{type(error).__module__}.{type(error).__qualname__}"
        if status == 503:
            logger.warning("request: database unavailable", extra=extra)
        else:
            logger.error("request: unhandled error", extra=extra, exc_info=error)
