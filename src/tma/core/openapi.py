"""The OpenAPI document: readable operation ids, and what every operation shares declared once.

Routers declare their own error statuses with `tma.core.errors.responses(...)`; what holds
for every operation of a kind is added here, so a new endpoint gets it without asking:

- every response carries `X-Request-ID` (the request middleware sets it on all of them);
- a `401` carries `WWW-Authenticate: Bearer`, a `429` carries `Retry-After`;
- an operation that takes a request body may answer `413` (the middleware refuses bodies over
  `TMA_MAX_BODY_BYTES` before the route runs), so its contract lists `413` too;
- a list (an operation with the `limit` query parameter) answers with `X-Total-Count`;
- a read of content or progress (`tma.core.etag.REVALIDATED`) may answer `304` and tags
  its `200` with `ETag`;
- every operation may answer `422`: a query parameter it does not declare is refused
  (`tma.core.routing.StrictQueryRoute`), so an operation with nothing else to validate
  declares it too.

The contract-coverage plugin compares each operation's declared statuses with its contract.
"""

from typing import Any, Literal

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tma.core.errors import ErrorBody, ValidationErrorBody, describe
from tma.core.etag import REVALIDATED

_STRING = {"type": "string"}
REQUEST_ID_HEADER = {
    "description": "The request's id: echoed when the client sent a safe one, else new",
    "schema": _STRING,
}
WWW_AUTHENTICATE_HEADER = {"description": "Always `Bearer`", "schema": _STRING}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before the next attempt",
    "schema": {"type": "integer", "minimum": 1},
}
TOTAL_COUNT_HEADER = {
    "description": "How many items the whole list has (whatever `limit` and `offset`)",
    "schema": {"type": "integer", "minimum": 0},
}


ETAG_HEADER = {
    "description": "The body's weak tag: send it back in `If-None-Match` to get a 304",
    "schema": _STRING,
}
NOT_MODIFIED = "Not modified: `If-None-Match` names the current tag (no body)"


def operation_id(route: APIRoute) -> str:
    """The operation id is the route function's name (`list_members`), which also names the
    generated schemas (`Response List Members`). Names must be unique across the API:
    `tests/test_openapi.py` checks it."""
    return route.name


def _body_ref(schema: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A `$ref` to `model`'s component, added (with the models it refers to) when missing."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if model.__name__ not in components:
        full = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in full.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components[model.__name__] = full
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the statuses and headers every operation of a kind shares (see the module doc)."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if method == "get" and path in REVALIDATED:
                responses.setdefault("304", {"description": NOT_MODIFIED})
                ok = responses.get("200", {}).setdefault("headers", {})
                ok.setdefault("ETag", ETAG_HEADER)
            # FastAPI adds a 422 of its own (body `HTTPValidationError`, not ours) to every
            # operation with parameters whose route did not declare one; ours replaces it.
            automatic = responses.get("422", {}).get("content", {}).get("application/json", {})
            if automatic.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            if "422" not in responses:  # an unknown query parameter, on any operation
                responses["422"] = {
                    "description": describe(422),
                    "content": {
                        "application/json": {"schema": _body_ref(schema, ValidationErrorBody)}
                    },
                }
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {
                    "description": describe(413),
                    "content": {"application/json": {"schema": _body_ref(schema, ErrorBody)}},
                }
            is_list = any(
                p.get("in") == "query" and p.get("name") == "limit"
                for p in operation.get("parameters", [])
            )
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", REQUEST_ID_HEADER)
                if status == "401":
                    headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE_HEADER)
                elif status == "429":
                    headers.setdefault("Retry-After", RETRY_AFTER_HEADER)
                elif is_list and status.startswith("2"):
                    headers.setdefault("X-Total-Count", TOTAL_COUNT_HEADER)
    return schema


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def _pydantic_schemas(routes: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """The schemas pydantic itself writes for the routes' body models, by component name."""
    found: dict[str, list[dict[str, Any]]] = {}
    modes: tuple[Literal["validation", "serialization"], ...] = ("validation", "serialization")
    expand = getattr(fastapi_routing, "iter_route_contexts", None)  # included routers, lazily
    for context in expand(list(routes)) if expand else routes:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        body = route.body_field.field_info.annotation if route.body_field else None
        for model in _models(route.response_model) + _models(body):
            for mode in modes:
                schema = model.model_json_schema(mode=mode)
                for name, sub in {model.__name__: schema, **schema.get("$defs", {})}.items():
                    found.setdefault(name, []).append(sub)
    return found


def _restore_bounds(ours: Any, theirs: Any) -> None:
    """Put pydantic's integer bounds back where FastAPI's document model made them floats
    (its `maximum` is a float: 2**63 - 1 became 9.223372036854776e+18, a different number)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key, value in ours.items():
            true = theirs.get(key)
            if key in _BOUNDS and isinstance(value, float) and isinstance(true, int):
                ours[key] = true
            else:
                _restore_bounds(value, true)
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for a, b in zip(ours, theirs, strict=True):
            _restore_bounds(a, b)


def integer_bounds(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Integer bounds of the component schemas written as the integers the models hold."""
    originals = _pydantic_schemas(routes)
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        for original in originals.get(name, []):
            _restore_bounds(component, original)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at `/openapi.json` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(integer_bounds(document, app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
