"""The OpenAPI document tells the truth (docs/adding-an-endpoint.md lists what a new endpoint
needs to pass these): readable operation ids and titles, an example for every body, `null`
only where the API accepts it, integer bounds as integers, and the shared statuses and headers.

The contract-coverage plugin separately compares each operation's statuses with its contract.
"""

import json
import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from tma.core.schemas import WriteModel
from tma.main import create_app


@pytest.fixture(scope="module")
def spec(app) -> dict[str, Any]:
    """The app's OpenAPI document, as served at /openapi.json."""
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def component(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The component a body schema refers to (directly, or as the items of a list)."""
    options = [schema, *schema.get("anyOf", [])]  # an optional body: the model or nothing
    refs = [o.get("$ref") or o.get("items", {}).get("$ref") for o in options]
    ref = next((r for r in refs if r), None)
    if ref is None:
        return None
    name = ref.rsplit("/", 1)[1]
    return name, spec["components"]["schemas"][name]


@pytest.mark.asyncio
async def test_openapi_served_document_integer_bounds_are_integers(client) -> None:
    """Every `minimum`/`maximum` in /openapi.json is written as an integer, never a float
    such as 9.223372036854776e+18."""
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    bounds = re.findall(
        r'"(?:minimum|maximum|exclusiveMinimum|exclusiveMaximum)":\s*([^,}]+)', response.text
    )
    assert bounds
    assert [b for b in bounds if not re.fullmatch(r"-?\d+", b)] == []
    assert '"maximum":9223372036854775807' in response.text.replace(" ", "")


def _keys_at(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (JSON path, key) of a document, keys of `properties` maps excepted (those are
    field names, not schema keywords)."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((path, key))
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    found.extend(_keys_at(sub, f"{path}/properties/{name}"))
            else:
                found.extend(_keys_at(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_keys_at(value, f"{path}/{index}"))
    return found


@pytest.mark.asyncio
async def test_openapi_served_document_bounds_are_json_schema_keywords(client) -> None:
    """Bounds are JSON Schema's `minimum`/`maximum` (clients and fuzzers generated from the
    document know no other): no schema anywhere carries pydantic's `ge`/`le`/`gt`/`lt`, and
    an id in a body is declared 1..2^63-1."""
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert [
        f"{path}/{key}" for path, key in _keys_at(document) if key in ("ge", "le", "gt", "lt")
    ] == []
    schemas = document["components"]["schemas"]

    def bounds(schema: dict[str, Any]) -> tuple[Any, ...]:
        return schema["type"], schema["minimum"], schema["maximum"]

    id_bounds = ("integer", 1, 2**63 - 1)
    assert bounds(schemas["Answer"]["properties"]["question_id"]) == id_bounds
    assert bounds(schemas["Answer"]["properties"]["option_ids"]["items"]) == id_bounds
    assert bounds(schemas["DisableRequest"]["properties"]["user_id"]) == id_bounds
    assert bounds(schemas["PostCreate"]["properties"]["module_id"]) == id_bounds
    assert bounds(schemas["StatusUpdate"]["properties"]["user_id"]["anyOf"][0]) == id_bounds
    assert bounds(schemas["CourseAssign"]["properties"]["ordering"]) == ("integer", 0, 2**31 - 1)


def test_openapi_option_ids_declared_unique(spec) -> None:
    """An answer's `option_ids` are declared unique (`uniqueItems`), as the server refuses
    a repeated option (422, tests/test_quizzes.py)."""
    option_ids = spec["components"]["schemas"]["Answer"]["properties"]["option_ids"]

    assert option_ids["type"] == "array"
    assert option_ids["uniqueItems"] is True
    assert option_ids["maxItems"] == 10


def test_openapi_operation_ids_are_unique_function_names(spec) -> None:
    """Operation ids are the route functions' names: unique, snake_case, no path in them."""
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]*", i) or "_api_" in i] == []


def test_openapi_schema_titles_are_readable(spec) -> None:
    """No generated title spells out a path (`... Api Groups  Group Id  Members Get`)."""
    titles: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("title"), str):
                titles.append(node["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert [t for t in titles if " Api " in f" {t} " or "  " in t or len(t) > 40] == []


def test_openapi_every_body_schema_has_a_valid_example(spec) -> None:
    """Every request and response body refers to a schema with an example, and that example
    is valid for the model (so Swagger UI's pre-filled request would be accepted)."""
    missing: list[str] = []
    for method, path, op in operations(spec):
        bodies = [op.get("requestBody", {}).get("content", {}).get("application/json")]
        bodies += [r.get("content", {}).get("application/json") for r in op["responses"].values()]
        for body in bodies:
            if body is None:
                continue
            found = component(spec, body["schema"])
            if found is None or not found[1].get("examples"):
                missing.append(f"{method} {path}: {found[0] if found else body['schema']}")
    assert missing == []
    models = _body_models()
    assert len(models) >= 20  # every body model of the API, not an accidentally empty list
    for model in models:
        examples = model.model_json_schema().get("examples")
        assert examples, model.__name__
        model.model_validate(examples[0])


def _body_models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for context in iter_route_contexts(list(create_app().routes)):
        route = getattr(context, "original_route", context)
        for model in (getattr(route, "response_model", None), getattr(route, "body_field", None)):
            if model is None:
                continue
            annotation = getattr(getattr(model, "field_info", None), "annotation", model)
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    seen[candidate.__name__] = candidate
    return list(seen.values())


def test_openapi_not_null_fields_are_not_nullable(spec) -> None:
    """A field that may be left out but refuses `null` (`WriteModel.not_null`) is not
    declared nullable and has no `null` default."""
    checked = 0
    for model in _all_write_models():
        schema = model.model_json_schema()
        for name in model.not_null:
            prop = json.dumps(schema["properties"][name])
            assert '"null"' not in prop, (model.__name__, name, prop)
            assert '"default": null' not in prop, (model.__name__, name)
            checked += 1
    assert checked >= 5
    group_update = spec["components"]["schemas"]["GroupUpdate"]["properties"]
    assert group_update["name"] == {
        "maxLength": 100,
        "minLength": 1,
        "title": "Name",
        "type": "string",
    }
    assert {"type": "null"} in group_update["description"]["anyOf"]


def _all_write_models() -> list[type[WriteModel]]:
    found: list[type[WriteModel]] = []
    pending = list(WriteModel.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def test_openapi_body_taking_operations_declare_413(spec) -> None:
    """Every operation with a request body declares 413 (the middleware's size limit)."""
    with_body = [(m, p, op) for m, p, op in operations(spec) if "requestBody" in op]
    assert len(with_body) >= 17
    assert [f"{m} {p}" for m, p, op in with_body if "413" not in op["responses"]] == []


def test_openapi_headers_declared_where_they_are_sent(spec) -> None:
    """`X-Request-ID` on every response, `WWW-Authenticate` on every 401, `Retry-After` on
    login's 429, `X-Total-Count` on the 200 of every list."""
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            headers = response.get("headers", {})
            assert "X-Request-ID" in headers, (method, path, status)
            if status == "401":
                assert "WWW-Authenticate" in headers, (method, path)
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert login["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    lists = [
        ("/api/groups", "get"),
        ("/api/courses", "get"),
        ("/api/users", "get"),
        ("/api/auth/users", "get"),
        ("/api/groups/{group_id}/courses", "get"),
    ]
    for path, method in lists:
        assert "X-Total-Count" in spec["paths"][path][method]["responses"]["200"]["headers"]
    assert "X-Total-Count" not in spec["paths"]["/api/groups/{group_id}"]["get"]["responses"][
        "200"
    ].get("headers", {})


def test_openapi_login_401_says_incorrect_username_or_password(spec) -> None:
    """Login's 401 is described as the wrong-credentials answer, not a token problem."""
    responses = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert responses["401"]["description"] == "Incorrect username or password"
    me = spec["paths"]["/api/auth/me"]["get"]["responses"]
    assert me["401"]["description"] == "Missing, malformed, expired or badly signed token"


@pytest.mark.asyncio
async def test_openapi_old_auth_user_doors_deprecated_naming_replacement(client) -> None:
    """The older user-admin doors under /api/auth/users (kept for the starter's web UI) are
    `deprecated: true` in /openapi.json, each naming its /api/users replacement; no other
    operation is."""
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    deprecated = {
        f"{method.upper()} {path}": op["description"].rsplit("Deprecated: use ", 1)[-1]
        for path, ops in response.json()["paths"].items()
        for method, op in ops.items()
        if op.get("deprecated")
    }
    assert deprecated == {
        "GET /api/auth/users": "`GET /api/users`.",
        "PATCH /api/auth/users/disable": "`PATCH /api/users/{user_id}/status`.",
        "PATCH /api/auth/users/role": "`PATCH /api/users/{user_id}/role`.",
        "PATCH /api/auth/users/{user_id}/profile": "`PATCH /api/users/{user_id}`.",
    }
