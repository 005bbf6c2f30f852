"""The app side: its endpoints, the statuses its OpenAPI operations declare, and the route
template a request resolves to (as Starlette's router would resolve it)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import routing as fastapi_routing
from starlette.routing import Match, Mount

from pytest_contract_coverage.model import HTTP_METHODS, IGNORED_METHODS, normalize_path


def _route_contexts(routes: Iterable[Any]) -> Iterator[Any]:
    """Yield routes, expanding FastAPI's included routers when the FastAPI version nests them."""
    expand = getattr(fastapi_routing, "iter_route_contexts", None)
    if expand is None:  # older FastAPI: include_router already flattens the routes
        yield from routes
        return
    yield from expand(list(routes))


def _original(route: Any) -> Any:
    return getattr(route, "original_route", route)


def _is_mount(route: Any) -> bool:
    return isinstance(_original(route), Mount)


def routes_of(app: Any) -> list[Any] | None:
    """The route list of a Starlette/FastAPI app, looking through middleware wrappers."""
    obj = app
    for _ in range(20):
        if obj is None:
            return None
        routes = getattr(obj, "routes", None)
        if isinstance(routes, list):
            return routes
        obj = getattr(obj, "app", None)
    return None


def app_endpoints(app: Any) -> dict[str, str]:
    """``{"GET /api/x": "/api/x"}`` for every schema-visible FastAPI route of ``app``."""
    endpoints: dict[str, str] = {}

    def walk(routes: list[Any], prefix: str) -> None:
        for route in _route_contexts(routes):
            original = _original(route)
            if isinstance(original, Mount):
                sub_routes = getattr(route, "routes", None)
                if isinstance(sub_routes, list):
                    walk(sub_routes, prefix + (getattr(route, "path", "") or ""))
                continue
            if not isinstance(original, fastapi_routing.APIRoute):
                continue
            if not getattr(route, "include_in_schema", True):
                continue
            template = normalize_path(prefix + (getattr(route, "path_format", None) or ""))
            for method in sorted(getattr(route, "methods", None) or ()):
                if method in IGNORED_METHODS:
                    continue
                endpoints[f"{method} {template}"] = template

    routes = routes_of(app)
    if routes is not None:
        walk(routes, "")
    return endpoints


def openapi_statuses(app: Any) -> dict[str, set[int]] | None:
    """``{"GET /api/x": {200, 404}}``: the statuses each OpenAPI operation of ``app`` declares.

    ``None`` when the app has no OpenAPI document (a plain Starlette app): nothing to compare.
    Non-numeric response keys (``default``, ``4XX``) are ignored.
    """
    obj = app
    for _ in range(20):
        if obj is None:
            return None
        build = getattr(obj, "openapi", None)
        if callable(build):
            break
        obj = getattr(obj, "app", None)
    else:
        return None
    if build is None:
        return None
    document = build()
    declared: dict[str, set[int]] = {}
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in (operations or {}).items():
            if method.upper() not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            codes = {int(k) for k in (operation.get("responses") or {}) if str(k).isdigit()}
            declared[f"{method.upper()} {normalize_path(path)}"] = codes
    return declared


def resolve_route(app: Any, method: str, path: str, root_path: str = "") -> tuple[Match, str]:
    """Resolve a request to ``(match, "METHOD /template")`` like Starlette's router does.

    ``Match.FULL``: a route serves it; ``Match.PARTIAL``: the path matches a route that does
    not allow the method (405); ``Match.NONE``: no route, the key holds the concrete path.
    """
    routes = routes_of(app)
    if routes is None:
        return Match.NONE, f"{method} {path}"
    scope: dict[str, Any] = {
        "type": "http",
        "path": path,
        "method": method,
        "root_path": root_path,
        "path_params": {},
    }
    match, template = _resolve_in(routes, scope, "")
    if match is Match.NONE:
        return Match.NONE, f"{method} {path}"
    return match, f"{method} {normalize_path(template)}"


def _resolve_in(routes: list[Any], scope: dict[str, Any], prefix: str) -> tuple[Match, str]:
    partial: str | None = None
    for route in _route_contexts(routes):
        try:
            match, child_scope = route.matches(dict(scope))
        except Exception:  # a convertor may reject the value: no match
            match, child_scope = Match.NONE, {}
        if match is Match.NONE:
            continue
        if _is_mount(route):
            if match is not Match.FULL:
                continue
            sub_routes = getattr(route, "routes", None)
            if not isinstance(sub_routes, list):
                return Match.NONE, ""
            sub_scope = {**scope, **child_scope}
            mount_path = getattr(route, "path", "") or ""
            return _resolve_in(sub_routes, sub_scope, prefix + mount_path)
        template = prefix + (getattr(route, "path_format", None) or "")
        if match is Match.FULL:
            return Match.FULL, template
        if partial is None:
            partial = template
    if partial is not None:
        return Match.PARTIAL, partial
    return Match.NONE, ""


def load_app(spec: str) -> Any:
    """Import ``module:attr``; call ``attr`` when it is a zero-argument factory."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise ValueError(f"expected 'module:attr', got {spec!r}")
    module = importlib.import_module(module_name.strip())
    obj: Any = module
    for part in attr.strip().split("."):
        obj = getattr(obj, part)
    if routes_of(obj) is None and callable(obj) and _takes_no_arguments(obj):
        obj = obj()
    if routes_of(obj) is None:
        raise TypeError(f"{spec} is neither a Starlette/FastAPI app nor a factory returning one")
    return obj


def _takes_no_arguments(func: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in signature.parameters.values()
    )
