"""Helpers of the offline tests (idempotency, sync, ETags, bundle, the lossy proxy)."""

from typing import Any

from tma.core.idempotency import IdempotencyMiddleware


def idempotency_layer(app: Any) -> IdempotencyMiddleware:
    """The app's Idempotency-Key middleware (to hold off or force its sweep)."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, IdempotencyMiddleware):
        layer = layer.app
    return layer
