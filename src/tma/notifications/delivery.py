"""Sending: e-mail through SMTP (aiosmtplib) and push through the Expo push HTTP API
(httpx). Both are plain clients of the outside world; what to send, when and to whom is
`tma.notifications.schedule`."""

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx

from tma.core.config import Settings

PUSH_TIMEOUT = 10.0
SMTP_TIMEOUT = 30.0
# Expo accepts up to 100 messages per request.
PUSH_BATCH = 100


class DeliveryError(RuntimeError):
    """A channel refused or failed: the job is retried (with backoff) by the queue."""


class Channels:
    """The two ways out, configured by `TMA_SMTP_URL`, `TMA_MAIL_FROM` and
    `TMA_EXPO_PUSH_URL`."""

    def __init__(self, settings: Settings) -> None:
        self.smtp_url = settings.smtp_url
        self.mail_from = settings.mail_from
        self.push_url = settings.expo_push_url or None
        # One HTTP client (its connections, its TLS context) for every push of the process.
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=PUSH_TIMEOUT)
        return self._http

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    @property
    def has_email(self) -> bool:
        return self.smtp_url is not None

    @property
    def has_push(self) -> bool:
        return self.push_url is not None

    async def email(self, *, to: str, subject: str, body: str) -> None:
        """Send one plain-text message; STARTTLS when the server offers it (`smtp://`),
        TLS from the start with `smtps://`."""
        assert self.smtp_url is not None
        url = urlsplit(self.smtp_url)
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        implicit_tls = url.scheme == "smtps"
        try:
            await aiosmtplib.send(
                message,
                hostname=url.hostname or "localhost",
                port=url.port or (465 if implicit_tls else 25),
                username=unquote(url.username) if url.username else None,
                password=unquote(url.password) if url.password else None,
                use_tls=implicit_tls,
                start_tls=None if not implicit_tls else False,
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc

    async def push(
        self, *, tokens: Sequence[str], title: str, body: str, data: dict[str, Any]
    ) -> list[str]:
        """Send one message to each token through the Expo push API; returns the tokens
        the service reported as `DeviceNotRegistered` (to be forgotten). Any other error
        ticket, a non-2xx answer or no answer raises `DeliveryError`."""
        assert self.push_url is not None
        gone: list[str] = []
        errors: list[str] = []
        client = self._client()
        for start in range(0, len(tokens), PUSH_BATCH):
            batch = list(tokens[start : start + PUSH_BATCH])
            messages = [
                {"to": token, "title": title, "body": body, "data": data, "sound": "default"}
                for token in batch
            ]
            try:
                response = await client.post(
                    self.push_url,
                    json=messages,
                    headers={"Accept": "application/json", "Accept-Encoding": "gzip"},
                )
            except httpx.HTTPError as exc:
                raise DeliveryError(f"push: {type(exc).__name__}: {exc}") from exc
            if response.status_code // 100 != 2:
                raise DeliveryError(f"push: HTTP {response.status_code}")
            tickets = response.json().get("data", [])
            for token, ticket in zip(batch, tickets, strict=False):
                if ticket.get("status") == "ok":
                    continue
                reason = (ticket.get("details") or {}).get("error")
                if reason == "DeviceNotRegistered":
                    gone.append(token)
                else:
                    errors.append(str(reason or ticket.get("message") or "error"))
        if errors and len(errors) + len(gone) == len(tokens):
            raise DeliveryError(f"push: {errors[0]}")
        return gone
