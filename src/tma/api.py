"""The API surface under /api: public routers, and routers whose every route requires a
valid token.

Each router is included into the app directly, most-requested first: FastAPI matches the
included routers lazily, one route at a time (about 15,000 instructions per route passed on
FastAPI 0.165), so the routes every client calls all day (`/api/auth/me`, groups, courses)
come before the admin's user management and the once-a-session login. The paths do not
overlap, so the order changes no match. See docs/performance.md.
"""

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tma import health
from tma.auth import router as auth
from tma.bundle import router as bundle
from tma.children import router as children
from tma.core.routing import PrefixedRouter
from tma.courses import router as courses
from tma.events import router as events
from tma.feed import router as feed
from tma.files import router as files
from tma.groups import router as groups
from tma.i18n import router as i18n
from tma.modules import router as modules
from tma.notifications import router as notifications
from tma.posts import router as posts
from tma.progress import router as progress
from tma.quizzes import router as quizzes
from tma.users import router as users
from tma.users.dependencies import current_user

PREFIX = "/api"

# Every route of these requires a valid token of an active user.
# FastAPI tries the routers in this order and, inside the prefix of one, each of its routes
# (about 15,000 instructions a route passed; a router whose prefix does not match costs a
# few hundred): the routers of the reads every client makes all day come first (the
# caller, groups, courses, modules, posts, progress), and where two routers share a prefix
# the one read most goes first, the rarer one paying the failed matches (the group list
# and detail before a group's progress, dashboard and CSV; the user list before a user's
# progress and children).
PRIVATE_ROUTERS: tuple[PrefixedRouter, ...] = (
    auth.router,
    groups.router,
    courses.router,
    courses.groups_router,
    progress.groups_router,
    modules.router,
    posts.router,
    progress.router,
    quizzes.router,
    quizzes.attempts_router,
    feed.router,
    # Shares the courses' prefix: a course's bundle is read once per download.
    bundle.router,
    notifications.router,
    notifications.me_router,
    children.me_router,
    files.router,
    i18n.router,
    users.router,
    progress.users_router,
    children.users_router,
    events.events_router,
    events.router,
    events.xapi_router,
)

# Login, register and health need no token; nor does a file download (an avatar opens
# without one, an attachment by signature; the route checks a token when it needs one).
PUBLIC_ROUTERS: tuple[PrefixedRouter, ...] = (
    files.public_router,
    auth.public_router,
    health.router,
)


def _authenticates(dependant: Dependant) -> bool:
    return dependant.call is current_user or any(
        _authenticates(sub) for sub in dependant.dependencies
    )


def check_private(router: PrefixedRouter) -> None:
    """Refuse (at start-up) a private route that does not depend on `current_user`.

    Each private route names its caller (`CurrentUser`, `AdminUser`, `StaffUser`, or a
    dependency built on them) rather than the router adding `current_user` to them all:
    the route needs the value anyway, and FastAPI would resolve the dependency twice on
    every request. This check keeps the router secure by default all the same."""
    for route in router.routes:
        if isinstance(route, APIRoute) and not _authenticates(route.dependant):
            raise RuntimeError(f"{route.path} is private but does not depend on current_user")


def include_api(app: FastAPI) -> None:
    """Mount every router of the API on `app` under /api."""
    for router in PRIVATE_ROUTERS:
        check_private(router)
    for router in (*PRIVATE_ROUTERS, *PUBLIC_ROUTERS):
        router.include_into(app, PREFIX)  # skipped for paths outside it (core/routing.py)
