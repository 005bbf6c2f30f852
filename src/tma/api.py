"""The API surface: a public router and an authenticated-by-default router, both under /api."""

from fastapi import APIRouter, Depends

from tma import health
from tma.auth import router as auth
from tma.auth.dependencies import current_user
from tma.courses import router as courses
from tma.groups import router as groups
from tma.users import router as users

# Login, register and health need no token.
public_router = APIRouter(prefix="/api")
public_router.include_router(auth.public_router)
public_router.include_router(health.router)

# Everything else requires a valid token of an active user, whatever the route adds.
private_router = APIRouter(prefix="/api", dependencies=[Depends(current_user)])
private_router.include_router(auth.router)
private_router.include_router(users.router)
private_router.include_router(groups.router)
private_router.include_router(courses.router)
