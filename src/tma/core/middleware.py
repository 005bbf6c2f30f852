"""One pure-ASGI middleware for every request: request id, body limit, security headers, log.

Pure ASGI rather than BaseHTTPMiddleware: it adds no task or stream copy per request.
"""

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def _route_template(scope: Scope) -> str:
    """The matched route's full template (`/api/groups/{group_id}`), else the raw path."""
    # FastAPI composes router prefixes lazily; the full template lives on its route context.
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(template or scope["path"])


class RequestMiddleware:
    """Echo or mint `X-Request-ID`, refuse bodies over `max_body_bytes` (413), add security
    headers, and log one structured line per request."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        upload_paths: frozenset[str] = frozenset(),
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
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

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(detail)
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge:
            if not responded:
                await self._reject(send_wrapper, detail)
            status = 413
        except Exception:
            # The app's 500 handler runs in Starlette's outermost middleware, outside this one:
            # answer here so a 500 too carries the security headers and the request id. The
            # exception goes on up to be logged; the response is already sent.
            if not responded:
                await self._send_json(send_wrapper, 500, {"detail": "Internal server error"})
            status = 500
            raise
        finally:
            self._log(scope, status, started, request_id)

    @staticmethod
    async def _reject(send: Any, detail: str) -> None:
        await RequestMiddleware._send_json(send, 413, {"detail": detail})

    @staticmethod
    async def _send_json(send: Any, code: int, content: dict[str, Any]) -> None:
        body = json.dumps(content).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(scope: Scope, status: int, started: float, request_id: bytes) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "request",
            extra={
                "method": scope["method"],
                "route": _route_template(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id.decode(),
            },
        )
