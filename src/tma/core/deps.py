"""Dependencies that hand routes the app's shared objects (settings, password hasher)."""

from typing import Annotated

from fastapi import Depends, Request

from tma.core.config import Settings
from tma.core.security import PasswordHasher


# `async def` although nothing is awaited: FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop per request for a dictionary lookup (see docs/performance.md).
async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


SettingsDep = Annotated[Settings, Depends(app_settings)]
HasherDep = Annotated[PasswordHasher, Depends(password_hasher)]
