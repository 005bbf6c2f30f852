"""The outside world of notifications, on loopback, for the tests: a real SMTP server
(aiosmtpd, in a thread of this process) and an HTTP receiver in place of Expo's push
service (which cannot be reached from here). Each records what arrives."""

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """Every message the SMTP server accepted: (envelope recipients, parsed message)."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 try again later"
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content))
        )
        return "250 OK"

    def summary(self) -> list[tuple[list[str], str, str]]:
        return [
            (to, str(msg["Subject"]), str(msg.get_payload(decode=True).decode().strip()))
            for to, msg in self.messages
        ]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class PushLog:
    """What the push receiver got: each request's list of messages; the tokens it answers
    `DeviceNotRegistered` for; `fail` makes it answer 500."""

    requests: list[list[dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for batch in self.requests for m in batch]


class PushReceiver:
    """An HTTP server answering like Expo's `POST /--/api/v2/push/send`."""

    def __init__(self) -> None:
        self.log = PushLog()
        log = self.log

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                messages = json.loads(self.rfile.read(length))
                with log.lock:
                    log.requests.append(messages)
                if log.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                tickets = [
                    {
                        "status": "error",
                        "message": f'"{m["to"]}" is not a registered push notification recipient',
                        "details": {"error": "DeviceNotRegistered"},
                    }
                    if m["to"] in log.gone
                    else {"status": "ok", "id": f"ticket-{i}"}
                    for i, m in enumerate(messages)
                ]
                body = json.dumps({"data": tickets}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/--/api/v2/push/send"

    def __enter__(self) -> "PushReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
