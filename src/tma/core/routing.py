"""How the API's routes are matched and what every one of them checks first.

`PrefixedRouter`: a router FastAPI passes over in one string comparison when the path is
not under it. FastAPI 0.165 matches included routers lazily: for each request it asks every
included router in turn whether one of its routes matches, and each asks all of its routes
(about 15,000 instructions per route on this stack; docs/performance.md). A router whose
routes all live under one path prefix (`/api/groups`) cannot match a path outside it, so it
can answer "no" without looking at its routes. Inside the prefix nothing changes: the routes
are matched as before, 405 for a known path with another method included.

`StrictQueryRoute` (every `PrefixedRouter`'s route class): a query parameter the route does
not declare is refused with 422, as an unknown body field is, before anything else runs.
"""

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match
from starlette.types import Scope

from tma.core.errors import responses

UNKNOWN_QUERY_MSG = "Extra inputs are not permitted"  # pydantic's words for an unknown field


class SegmentBeside(Convertor[str]):
    """A path parameter that never takes one of its sibling routes' literal words: with
    `POST /api/progress/sync` beside `PUT /api/progress/{post_id}`, a `PUT` to `.../sync` is
    the 405 of a known path with another method, not a 422 for a post id "sync". Any other
    segment matches as before (a malformed id is still the route's 422). Made by
    `segment_beside`, one subclass per set of words (`regex` is a class attribute)."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def segment_beside(name: str, *words: str) -> str:
    """Register a `SegmentBeside` refusing `words` as the path convertor `name`
    (`{post_id:name}`); returns `name`. The OpenAPI path and the route template keep the
    plain `{post_id}`."""
    refused = "|".join(re.escape(word) for word in words)
    regex = f"(?!(?:{refused})(?:/|$))[^/]+"
    convertor = type(f"SegmentBeside_{name}", (SegmentBeside,), {"regex": regex})
    register_url_convertor(name, convertor())
    return name


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameter names a route reads: its own and its dependencies', by the name
    a client sends (the alias), the fields of a query model included."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(info.alias or name for name, info in annotation.model_fields.items())
            else:
                names.add(field.alias)
        pending.extend(current.dependencies)
    return frozenset(names)


class StrictQueryRoute(APIRoute):
    """An `APIRoute` that answers 422 to a query parameter it does not declare
    (`GET /api/posts?course_id=4` would otherwise list every post, and the client would
    believe it had filtered).

    The check runs before the route's dependencies (token, database, body): a subset test
    of the (already parsed) names when the URL has a query string, nothing more when it has
    none; it costs no statement. Measured with `python -m bench.instructions me posts 200`
    against the commit before it: about +3,000 instructions a request (+0.3 %, the extra
    call) on `GET /api/auth/me`, +0.25 % on `GET /api/posts?module_id=`, inside that case's
    run-to-run spread. The 422 body is FastAPI's list of problems, one item per unknown name:
    `{"loc": ["query", "<name>"], "msg": "Extra inputs are not permitted",
    "type": "extra_forbidden"}`, as pydantic reports an unknown body field. The declared
    names are the route's own dependant's (an `include_router(dependencies=...)` adding
    query parameters would need them added here; `PrefixedRouter.include_into` adds none).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = declared_query_names(self.dependant)

        async def refuse_unknown_query(request: Request) -> Response:
            if request.scope["query_string"]:
                names = request.query_params.keys()  # parsed once; FastAPI reads it too
                if not names <= known:
                    raise RequestValidationError(
                        [
                            {
                                "loc": ("query", name),
                                "msg": UNKNOWN_QUERY_MSG,
                                "type": "extra_forbidden",
                            }
                            for name in sorted(names - known)
                        ]
                    )
            return await handler(request)

        return refuse_unknown_query


class PrefixedRouter(APIRouter):
    """An `APIRouter` that skips itself for paths outside its prefix once `include_into`
    has included it (the include's prefix, then its own); its routes refuse unknown query
    parameters (`StrictQueryRoute`)."""

    _mount_prefix: str | None = None

    def __init__(self, **options: Any) -> None:
        options.setdefault("route_class", StrictQueryRoute)
        super().__init__(**options)

    def include_into(self, app: FastAPI, prefix: str = "") -> None:
        """`app.include_router(self, prefix=prefix)`, remembering where it now lives."""
        self._mount_prefix = (prefix + self.prefix).rstrip("/")
        app.include_router(self, prefix=prefix)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefix = self._mount_prefix
        if prefix and scope["type"] in ("http", "websocket"):
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):  # as Starlette matches: below root_path
                path = path[len(root) :]
            if path != prefix and not path.startswith(prefix + "/"):
                return Match.NONE, {}
        return super().matches(scope)


def created(model: Any, *errors: int) -> dict[str, Any]:
    """The route arguments of an endpoint that creates (`@router.post(path,
    **created(Model, 400, 422))`): 201 with `model` as its body, and the error statuses
    it documents (`tma.core.errors.responses`)."""
    return {"response_model": model, "status_code": 201, "responses": responses(*errors)}
