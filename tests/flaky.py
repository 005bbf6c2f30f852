"""The lossy-network harness: a proxy that loses requests and responses between a phone and
the server, and a scripted parent who uses the app through it with retries and
`Idempotency-Key`s (tests/test_flaky_network.py; `make flaky`; docs/offline.md).

`LossyProxy` is an httpx transport in front of the app's: a request it drops "before" never
reaches the server (a connection that failed); one it drops "after" ran on the server in
full and its response is lost on the way back (the phone sees a read error), the case a
retry without a key would do twice. Which requests it drops comes from a seeded random
source, so a run can be replayed.

`Parent` is a client as a phone app should be written: every write carries an
`Idempotency-Key` made once per logical action and sent again, with the very same bytes,
on every retry; a dropped request is retried (also a 409 "still running"); reads revalidate
with `If-None-Match`.
"""

import json
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

# Every write is retried until it gets an answer; a lossy run needs a few tries at most.
MAX_TRIES = 30


class LossyProxy(httpx.AsyncBaseTransport):
    """Drops `before` of the requests before the server, `after` of the responses after it."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, seed: int, before: float, after: float
    ) -> None:
        self.inner = inner
        self.random = random.Random(seed)
        self.before = before
        self.after = after
        self.sent = 0
        self.dropped_before = 0
        self.dropped_after = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        if self.random.random() < self.before:
            self.dropped_before += 1
            raise httpx.ConnectError("lost before the server", request=request)
        response = await self.inner.handle_async_request(request)
        content = b"".join([chunk async for chunk in response.aiter_raw()])  # as sent
        if self.random.random() < self.after:
            self.dropped_after += 1  # the server did it all; the phone never hears
            raise httpx.ReadError("response lost", request=request)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


@dataclass
class Parent:
    """A parent's phone: one account, retries everything, keys every write."""

    client: httpx.AsyncClient
    username: str
    password: str
    run: str
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple[str, Any]] = field(default_factory=dict)
    actions: int = 0
    retries: int = 0

    async def _send(self, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
        content = None if body is None else json.dumps(body).encode()
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        for _ in range(MAX_TRIES):
            try:
                response = await self.client.request(method, url, content=content, headers=headers)
            except httpx.TransportError:
                self.retries += 1
                continue
            if response.status_code == 409:  # the first try is still running
                self.retries += 1
                continue
            return response
        raise AssertionError(f"{method} {url}: no answer after {MAX_TRIES} tries")

    async def write(self, method: str, url: str, body: Any = None) -> Any:
        """A write with its own key, sent until an answer arrives."""
        self.actions += 1
        key = f"{self.run}-{self.actions}"
        return await self._send(method, url, body, {**self.headers, "Idempotency-Key": key})

    async def read(self, url: str) -> Any:
        """A read, revalidated against the copy kept from the last 200 (304: the copy)."""
        headers = dict(self.headers)
        kept = self.tags.get(url)
        if kept is not None:
            headers["If-None-Match"] = kept[0]
        response = await self._send("GET", url, None, headers)
        if response.status_code == 304 and kept is not None:
            return kept[1]
        assert response.status_code == 200, (url, response.status_code, response.text)
        body = response.json()
        if "etag" in response.headers:
            self.tags[url] = (response.headers["etag"], body)
        return body

    async def log_in(self) -> None:
        # Login is public: not keyed (a second token is harmless).
        body = {"username": self.username, "password": self.password}
        response = await self._send("POST", "/api/auth/login", body, {})
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}


def _event(event_id: str, post_id: int, status: str, at: str) -> dict[str, Any]:
    return {"event_id": event_id, "post_id": post_id, "status": status, "occurred_at": at}


async def scripted_use(parent: Parent, *, posts: list[int], quiz: Any) -> None:
    """A parent's session with the app: reads the course, works through posts, fails then
    passes the quiz, and syncs what was done offline (twice: the phone sends the batch
    again after reconnecting, with new events added)."""
    await parent.log_in()
    me = await parent.read("/api/auth/me")
    assert me["username"] == parent.username
    (course,) = await parent.read("/api/courses")
    bundle_url = f"/api/courses/{course['id']}/bundle"
    await parent.read(bundle_url)
    for post in posts[:3]:
        await parent.read(f"/api/posts/{post}")
        answer = await parent.write("PUT", f"/api/progress/{post}", {"status": "in_progress"})
        assert answer.status_code == 200, answer.text
    for post in posts[:2]:
        answer = await parent.write("PUT", f"/api/progress/{post}", {"status": "completed"})
        assert answer.status_code == 200, answer.text
    wrong = [
        {"question_id": q, "option_ids": [o for o in opts if o not in ok][:1]}
        for q, opts, ok in zip(quiz.questions, quiz.options, quiz.correct, strict=True)
    ]
    right = [
        {"question_id": q, "option_ids": ok}
        for q, ok in zip(quiz.questions, quiz.correct, strict=True)
    ]
    for answers in (wrong, right):
        started = await parent.write("POST", f"/api/quizzes/{quiz.post_id}/attempts")
        assert started.status_code == 201, started.text
        attempt = started.json()["id"]
        graded = await parent.write(
            "POST", f"/api/quiz-attempts/{attempt}/submit", {"answers": answers}
        )
        assert graded.status_code == 200, graded.text
    offline = [
        _event("o1", posts[3], "in_progress", "2026-09-01T08:00:00+02:00"),
        _event("o2", posts[3], "completed", "2026-09-01T08:05:00+02:00"),
        _event("o3", posts[4], "completed", "2026-09-01T08:10:00+02:00"),
        _event("o4", quiz.post_id, "completed", "2026-09-01T08:11:00+02:00"),
        _event("o5", posts[2], "completed", "2026-09-01T08:12:00+02:00"),
    ]
    synced = await parent.write("POST", "/api/progress/sync", {"events": offline})
    assert synced.status_code == 200, synced.text
    resent = [
        *offline,
        _event("o6", posts[5], "in_progress", "2026-09-01T09:00:00Z"),
        _event("o7", posts[5], "completed", "2026-09-01T09:01:00Z"),
    ]
    synced = await parent.write("POST", "/api/progress/sync", {"events": resent})
    assert synced.status_code == 200, synced.text
    await parent.read(bundle_url)
    await parent.read("/api/progress")


async def final_state(parent: Parent, *, posts: list[int], quiz: Any) -> dict[str, Any]:
    """What the parent's data looks like through the API, without ids and times (which
    differ between two runs): each post's status, the attempts' scores, the course
    counters."""
    statuses = []
    for post in [*posts, quiz.post_id]:
        detail = await parent.read(f"/api/posts/{post}")
        statuses.append(detail["progress"]["status"])
    attempts = await parent.read(f"/api/quizzes/{quiz.post_id}/attempts")
    courses = await parent.read("/api/progress")
    return {
        "statuses": statuses,
        "attempts": [(a["score"], a["passed"], a["submitted_at"] is not None) for a in attempts],
        "courses": [
            (c["completed_posts"], c["total_posts"], c["percent"], len(c["modules"]))
            for c in courses
        ],
    }
