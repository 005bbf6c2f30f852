"""A webhook receiver on loopback for the tests: a real HTTP server (a thread of this
process) that records every request as it arrived (headers, raw body bytes) and answers
from a script: the statuses to give in turn, then 200. It checks signatures the way a
receiver of TMA's webhooks would (`verify`)."""

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notification_servers import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, received: Received, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: recompute `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
    with its copy of the secret over the bytes it received, compare in constant time, and
    refuse a timestamp too far from its clock."""
    timestamp = received.headers["x-tma-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), received.headers["x-tma-signature"])


@dataclass
class Script:
    """What the receiver answers: `statuses` in turn, then 200; `on_request` runs first
    (with the request), before anything is answered."""

    statuses: list[int] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


class WebhookReceiver:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.port = free_port()
        script_ref = self.script

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # torn: the sender died while sending (no delivery arrived)
                got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with script_ref.lock:
                    script_ref.requests.append(got)
                    status = script_ref.statuses.pop(0) if script_ref.statuses else 200
                if script_ref.on_request is not None:
                    script_ref.on_request(got)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender died meanwhile (the crash test kills it)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
