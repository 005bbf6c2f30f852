"""Domain errors, their HTTP mapping, and the one error body shape: `{"detail": ...}`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger("tma.errors")


class DomainError(Exception):
    """A rule of the domain was broken; `status_code` says how HTTP reports it."""

    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """A business-rule conflict: duplicate, last owner, acting on yourself."""

    status_code = 400


class InvalidInput(DomainError):
    """Input in shape but not valid against what is stored (ids that are not the object's):
    a 422 with the usual list of problems, `loc` naming the field."""

    status_code = 422

    def __init__(self, detail: str, *, loc: list[str | int]) -> None:
        super().__init__(detail)
        self.loc = loc


class Busy(DomainError):
    """The same thing is being done by another request right now: retry (409)."""

    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401
    headers: dict[str, str] | None = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012


class PayloadTooLarge(DomainError):
    """An upload over its size limit (the middleware refuses most before they are read)."""

    status_code = 413


class UnsupportedMediaType(DomainError):
    """An upload whose bytes are not one of the accepted file types."""

    status_code = 415


class RetryLater(DomainError):
    """An error the client may retry: `retry_after` seconds go out as `Retry-After`."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class TooManyRequests(RetryLater):
    status_code = 429


class ServiceUnavailable(RetryLater):
    """A service the request needs (the database, the shared rate limiter) is unreachable."""

    status_code = 503


class ErrorBody(BaseModel):
    """The error body of every 4xx/5xx except 422: a human sentence."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "Group 7 not found"}]})

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """A 422 body: FastAPI's usual list of problems."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {
                            "loc": ["body", "name"],
                            "msg": "String should have at least 1 character",
                            "type": "string_too_short",
                        }
                    ]
                }
            ]
        }
    )

    detail: list[ValidationErrorItem]


_DESCRIPTIONS = {
    400: "Business-rule conflict",
    401: "Missing, malformed, expired or badly signed token",
    403: "Not allowed for this account",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported file type",
    422: "Malformed input",
    429: "Too many attempts",
    503: "Database (or shared rate limiter) unavailable",
}


def describe(code: int) -> str:
    """The usual OpenAPI description of an error status."""
    return _DESCRIPTIONS.get(code, "Error")


def responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, with their body models.

    A keyword `s401="Incorrect username or password"` replaces the usual description of
    that status for this operation. Headers (`WWW-Authenticate`, `Retry-After`,
    `X-Request-ID`) and the `413` of body-taking operations are added by `tma.core.openapi`.
    """
    unknown = {name for name in descriptions if not name.startswith("s")}
    if unknown:
        raise TypeError(f"descriptions are given as s<status>=..., got {sorted(unknown)}")
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: type[BaseModel] = ValidationErrorBody if code == 422 else ErrorBody
        description = descriptions.get(f"s{code}", describe(code))
        out[code] = {"model": model, "description": description}
    return out


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    # Echoing the input back could reflect a megabyte of garbage or a password; keep
    # location, message and type only. `ctx` may hold exception objects that are not JSON.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in errors
    ]


# FastAPI's answer when the body cannot be decoded (not UTF-8, nested too deep): malformed
# input, so 422 like any other undecodable JSON, not a 400 business-rule conflict.
_BODY_PARSE_ERROR = "There was an error parsing the body"


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (the router's 405 names only one route's)."""
    expand = getattr(fastapi_routing, "iter_route_contexts", None)
    routes = list(request.app.router.routes)
    scope = {"type": "http", "path": request.scope["path"], "method": request.method}
    methods: set[str] = set()
    for route in expand(routes) if expand else routes:
        match, _ = route.matches({**scope, "root_path": "", "path_params": {}})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, HTTP errors, validation errors and the unexpected to JSON."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, InvalidInput):
            problem = {"loc": exc.loc, "msg": exc.detail, "type": "value_error"}
            return JSONResponse({"detail": [problem]}, 422)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
            problem = {"loc": ["body"], "msg": "Body is not valid JSON", "type": "json_invalid"}
            return JSONResponse({"detail": [problem]}, 422)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_validation_errors(exc.errors())}, 422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak a trace, SQL or a secret to the client; the log has the details.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, 500)
