"""Recording: every request sent through ``httpx.ASGITransport`` during the run, with whether
the test read the status of the response it got back.

The transport's ``handle_async_request`` is wrapped once per process; the wrapper hands each
request to the innermost active recorder (a nested pytester session records into its own).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from starlette.routing import Match

from pytest_contract_coverage.model import UNRECORDED_METHODS
from pytest_contract_coverage.routes import resolve_route

NO_TEST = "<outside a test>"

# The attribute of the transport wrapper that holds the stack of active recorders.
PATCH_MARKER = "_contract_coverage_recorders"

_Handler = Callable[[httpx.ASGITransport, httpx.Request], Coroutine[Any, Any, httpx.Response]]


def install_recorder(recorder: Recorder) -> None:
    """Route transport requests to ``recorder`` (the innermost active pytest session wins).

    The stack of recorders lives on the wrapper itself so that a nested in-process pytest run
    (pytester) records into its own session, not into the outer one.
    """
    current = httpx.ASGITransport.handle_async_request
    stack: list[Recorder] | None = getattr(current, PATCH_MARKER, None)
    if stack is None:
        original: _Handler = current
        recorders: list[Recorder] = []

        async def handle_async_request(
            self: httpx.ASGITransport, request: httpx.Request
        ) -> httpx.Response:
            response = await original(self, request)
            if recorders:
                recorders[-1].record(self, request, response)
            return response

        setattr(handle_async_request, PATCH_MARKER, recorders)
        handle_async_request.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(httpx.ASGITransport, "handle_async_request", handle_async_request)  # noqa: B010
        recorder.restore = (handle_async_request, original)
        stack = recorders
    stack.append(recorder)
    recorder.stack = stack


def uninstall_recorder(recorder: Recorder) -> None:
    """Stop routing requests to ``recorder``; the last one out restores the transport."""
    if recorder.stack is not None and recorder in recorder.stack:
        recorder.stack.remove(recorder)
    if recorder.restore is not None:
        wrapper, original = recorder.restore
        if httpx.ASGITransport.handle_async_request is wrapper and not recorder.stack:
            setattr(httpx.ASGITransport, "handle_async_request", original)  # noqa: B010
        recorder.restore = None
    recorder.stack = None


class StatusRead:
    """Whether the test read the status of one recorded response."""

    __slots__ = ("read",)

    def __init__(self) -> None:
        self.read = False


_STATUS_READ_ATTR = "_contract_coverage_status_read"


# Modules whose reads of ``status_code`` never count: httpx itself and this plugin.
_NOT_TEST_CODE = ("httpx", __name__.partition(".")[0])


def _reader_is_test_code(frame: Any) -> bool:
    """A read counts unless httpx itself (logging, redirects, ``repr``) or this plugin made it."""
    module = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
    return not any(module == name or module.startswith(name + ".") for name in _NOT_TEST_CODE)


class WatchedResponse(httpx.Response):
    """An ``httpx.Response`` that notes when test code reads ``status_code``.

    The transport wrapper switches the class of the response it hands back to this subclass
    (same attributes, ``isinstance(response, httpx.Response)`` still holds); the value lives
    in the instance ``__dict__`` as before, the property only observes the read.
    """

    @property
    def status_code(self) -> int:
        value: int = self.__dict__["status_code"]
        mark: StatusRead | None = self.__dict__.get(_STATUS_READ_ATTR)
        if mark is not None and not mark.read and _reader_is_test_code(sys._getframe(1)):
            mark.read = True
        return value

    @status_code.setter
    def status_code(self, value: int) -> None:
        self.__dict__["status_code"] = value


def watch_status_read(response: httpx.Response) -> StatusRead:
    """Make ``response`` record reads of its status; return the mark to look at later."""
    mark = StatusRead()
    if type(response) is httpx.Response:
        response.__class__ = WatchedResponse
        response.__dict__[_STATUS_READ_ATTR] = mark
    elif isinstance(response, WatchedResponse):
        response.__dict__[_STATUS_READ_ATTR] = mark
    else:  # a custom Response subclass we cannot observe: count it as read, as before
        mark.read = True
    return mark


class Recorder:
    """Collects ``(app, method, path, root_path, status, nodeid, read mark)`` tuples cheaply."""

    def __init__(self, *, discard: bool = False) -> None:
        self.discard = discard
        self.current: str = NO_TEST
        self.pending: list[tuple[Any, str, str, str, int, str, StatusRead]] = []
        self.count = 0
        # key -> status -> tests that read the status (credited)
        self.produced: dict[str, dict[int, dict[str, None]]] = {}
        # key -> status -> tests that received the status without reading it
        self.received: dict[str, dict[int, dict[str, None]]] = {}
        self.requests: dict[str, dict[int, int]] = {}  # key -> status -> request count
        self.untracked: dict[str, dict[int, int]] = {}
        self.stack: list[Recorder] | None = None
        self.restore: tuple[_Handler, _Handler] | None = None

    def record(
        self, transport: httpx.ASGITransport, request: httpx.Request, response: httpx.Response
    ) -> None:
        method = request.method
        if self.discard or method in UNRECORDED_METHODS:
            return
        status: int = response.__dict__.get("status_code", 0) or response.status_code
        self.pending.append(
            (
                transport.app,
                method,
                request.url.path,
                getattr(transport, "root_path", "") or "",
                status,
                self.current,
                watch_status_read(response),
            )
        )
        self.count += 1

    def flush(self) -> None:
        """Resolve pending requests (once per distinct app/method/path) and drop app refs."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        cache: dict[tuple[int, str, str, str], tuple[Match, str]] = {}
        for app, method, path, root_path, status, nodeid, mark in pending:
            cache_key = (id(app), method, path, root_path)
            resolved = cache.get(cache_key)
            if resolved is None:
                try:
                    resolved = resolve_route(app, method, path, root_path)
                except Exception:
                    resolved = (Match.NONE, f"{method} {path}")
                cache[cache_key] = resolved
            match, key = resolved
            if match is Match.FULL and method == "HEAD":
                key = "GET" + key[len("HEAD") :]  # a HEAD is counted as its path's GET
            if match is Match.FULL:
                target = self.produced if mark.read else self.received
                target.setdefault(key, {}).setdefault(status, {})[nodeid] = None
                bucket = self.requests.setdefault(key, {})
            else:
                label = key if match is Match.NONE else f"{key} (method not allowed)"
                bucket = self.untracked.setdefault(label, {})
            bucket[status] = bucket.get(status, 0) + 1
