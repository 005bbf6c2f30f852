"""A router FastAPI passes over in one string comparison when the path is not under it.

FastAPI 0.165 matches included routers lazily: for each request it asks every included
router in turn whether one of its routes matches, and each asks all of its routes (about
15,000 instructions per route on this stack; docs/performance.md). A router whose routes
all live under one path prefix (`/api/groups`) cannot match a path outside it, so it can
answer "no" without looking at its routes. Inside the prefix nothing changes: the routes
are matched as before, 405 for a known path with another method included.
"""

from fastapi import APIRouter, FastAPI
from starlette.routing import Match
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    """An `APIRouter` that skips itself for paths outside its prefix once `include_into`
    has included it (the include's prefix, then its own)."""

    _mount_prefix: str | None = None

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
