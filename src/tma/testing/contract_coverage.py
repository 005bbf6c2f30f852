"""Pytest plugin "contract coverage": which documented contract did the test suite exercise?

Load it with ``-p tma.testing.contract_coverage`` and configure it in the pytest ini::

    contracts_app = "tma.main:create_app"   # module:attr, an ASGI app or a zero-arg factory
    contracts_dir = "docs/contracts"        # relative to the rootdir

During the run every request sent through ``httpx.ASGITransport`` is recorded (app, method,
path, status, test node id, and whether the test read the response's status). A status is
credited to an endpoint only when the test looked at it: the ``httpx.Response`` handed back
records every read of ``response.status_code`` made outside httpx itself (an ``assert
response.status_code == 200``, a helper such as ``assert_error(response, 404, ...)``). A
response whose status was never read (a read-back whose body alone was compared, a request
made only to set data up) is *incidental*: it credits nothing, and a documented status
received only that way is reported as untested, naming the test that received it.

At the end of the session each request is resolved to the route template of the app that
served it (``PATCH /api/groups/{group_id}``) and compared with

* the routes of ``contracts_app`` (FastAPI ``APIRoute``s that are part of the schema),
* the statuses each operation of the app's OpenAPI document declares (``openapi-mismatch``
  when they differ from the contract's, in either direction), and
* the contract sections ``## METHOD /path`` in ``<contracts_dir>/*.md``.

The result is printed as an endpoint x status matrix with a list of flags and a summary line
``contract coverage: N/M endpoints complete, K gaps``. ``--contracts-strict`` (or the ini
option ``contracts_strict = true``) fails a full run that has any flag; partial runs
(``-k``, ``-m``, deselection, explicit paths, ``-x`` stops, ``--lf``...) only report.
``--contracts-report PATH`` writes the matrix as Markdown, or JSON when PATH ends in ``.json``.
"""

from __future__ import annotations

import glob
import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import routing as fastapi_routing
from starlette.routing import Match, Mount

PLUGIN_NAME = "tma-contract-coverage"

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Routes' implicit methods, never a contract section of their own. A HEAD request is still
# recorded: it is a GET without the body, so a route that serves it is counted under that
# path's GET section (its statuses must be GET's); a HEAD no route serves is listed as
# untracked (405). OPTIONS (CORS preflights, answered by the middleware) is not recorded.
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
UNRECORDED_METHODS = frozenset({"OPTIONS"})

# Flag kinds, in the order they are listed in the report.
FLAG_KINDS = (
    "config-error",
    "contract-format",
    "no-contract",
    "no-route",
    "no-success",
    "few-failures",
    "untested-status",
    "undocumented-status",
    "openapi-mismatch",
)

UNICODE_MARKS = {"tested": "✓", "gap": "·", "incidental": "~", "drift": "!"}
ASCII_MARKS = {"tested": "+", "gap": ".", "incidental": "~", "drift": "!"}

NO_TEST = "<outside a test>"

_PATCH_MARKER = "_tma_contract_recorders"


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """One problem found by the plugin; every flag counts as one gap."""

    kind: str
    subject: str
    message: str

    def render(self, width: int = 0) -> str:
        return f"{self.kind:<{width}}  {self.subject}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass
class ContractSection:
    """One ``## METHOD /path`` section of a contract file."""

    method: str
    path: str
    location: str
    statuses: dict[int, str] = field(default_factory=dict)  # status -> "output" | "errors"
    has_output: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class EndpointReport:
    """Everything known about one endpoint: app route, contract and produced statuses."""

    key: str
    method: str
    path: str
    in_app: bool
    contract: ContractSection | None
    produced: dict[int, list[str]]  # status -> tests that read it (credited)
    declared: set[int] | None = None  # statuses its OpenAPI operation declares, if known
    incidental: dict[int, list[str]] = field(default_factory=dict)  # received, never read
    flags: list[Flag] = field(default_factory=list)

    @property
    def documented(self) -> set[int]:
        return set(self.contract.statuses) if self.contract is not None else set()


@dataclass
class CoverageReport:
    endpoints: list[EndpointReport]
    global_flags: list[Flag]
    untracked: dict[str, dict[int, int]]
    partial_reasons: list[str]

    @property
    def partial(self) -> bool:
        return bool(self.partial_reasons)

    @property
    def flags(self) -> list[Flag]:
        return self.global_flags + [f for e in self.endpoints for f in e.flags]

    @property
    def statuses(self) -> list[int]:
        seen: set[int] = set()
        for endpoint in self.endpoints:
            seen.update(endpoint.documented)
            seen.update(endpoint.produced)
            seen.update(endpoint.incidental)
        return sorted(seen)

    @property
    def incidental_only(self) -> list[tuple[str, int, list[str]]]:
        """``(endpoint, status, tests)`` received by tests none of which read the status."""
        return [
            (e.key, status, nodeids)
            for e in self.endpoints
            for status, nodeids in sorted(e.incidental.items())
        ]

    def summary_line(self) -> str:
        complete = sum(1 for e in self.endpoints if not e.flags)
        gaps = len(self.flags)
        prefix = "contract coverage"
        if self.partial:
            prefix += " (partial run: report only)"
        return f"{prefix}: {complete}/{len(self.endpoints)} endpoints complete, {gaps} gaps"


# --------------------------------------------------------------------------------------------
# Contract parsing
# --------------------------------------------------------------------------------------------

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ENDPOINT_RE = re.compile(r"^`?(GET|POST|PUT|PATCH|DELETE)\s+(/\S*?)`?$")
_BLOCK_RE = re.compile(r"^\*\*\s*([A-Za-z][A-Za-z /-]*?)\s*:?\s*\*\*\s*:?\s*$")
_ITEM_RE = re.compile(r"^( {0,1})[-*+]\s+(.*)$")
_STATUS_RE = re.compile(r"^`(\d{3})`")
_BARE_STATUS_RE = re.compile(r"^(\d{3})\b")
_BACKTICKED_RE = re.compile(r"^`([^`]*)`")
_PARAM_CONVERTOR_RE = re.compile(r"\{([^{}:]+):[^{}]*\}")


def normalize_path(path: str) -> str:
    """``/items/{item_id:int}`` -> ``/items/{item_id}``."""
    return _PARAM_CONVERTOR_RE.sub(r"{\1}", path)


def parse_contract_text(text: str, display_name: str) -> tuple[list[ContractSection], list[Flag]]:
    """Parse one contract file; return its endpoint sections and format problems."""
    sections: list[ContractSection] = []
    flags: list[Flag] = []
    current: ContractSection | None = None
    block: str | None = None
    in_fence = False

    def finish(section: ContractSection | None) -> None:
        if section is None:
            return
        where = section.location
        if not section.has_output:
            flags.append(
                Flag("contract-format", where, f"section '{section.key}' has no **Output** list")
            )
        elif not any(kind == "output" for kind in section.statuses.values()):
            flags.append(
                Flag(
                    "contract-format",
                    where,
                    f"**Output** of '{section.key}' lists no status (items start with `200`)",
                )
            )
        sections.append(section)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        where = f"{display_name}:{lineno}"
        heading = _HEADING_RE.match(line)
        if heading:
            level = len(heading.group(1))
            if level >= 3:
                block = None
                continue
            finish(current)
            current, block = None, None
            if level == 2:
                endpoint = _ENDPOINT_RE.match(heading.group(2))
                if endpoint is None:
                    flags.append(
                        Flag(
                            "contract-format",
                            where,
                            f"malformed endpoint heading '{stripped}' "
                            "(expected '## METHOD /path', METHOD one of "
                            f"{' '.join(HTTP_METHODS)})",
                        )
                    )
                else:
                    current = ContractSection(
                        method=endpoint.group(1),
                        path=normalize_path(endpoint.group(2)),
                        location=where,
                    )
            continue
        if current is None:
            continue
        marker = _BLOCK_RE.match(stripped)
        if marker:
            block = marker.group(1).strip().lower()
            if block == "output":
                current.has_output = True
            continue
        if block not in ("output", "errors"):
            continue
        item = _ITEM_RE.match(line)
        if item is None:
            continue
        content = item.group(2).strip()
        status = _STATUS_RE.match(content)
        if status:
            code = int(status.group(1))
            if not 100 <= code <= 599:
                flags.append(Flag("contract-format", where, f"'{code}' is not an HTTP status code"))
            else:
                current.statuses.setdefault(code, block)
        elif _BARE_STATUS_RE.match(content):
            flags.append(
                Flag(
                    "contract-format",
                    where,
                    f"status must be backticked: '- `{content[:3]}` ...' (got '- {content[:20]}')",
                )
            )
        else:
            other = _BACKTICKED_RE.match(content)
            if other and re.fullmatch(r"\d+", other.group(1)):
                flags.append(
                    Flag(
                        "contract-format",
                        where,
                        f"'{other.group(1)}' is not a 3-digit HTTP status code",
                    )
                )
    finish(current)
    return sections, flags


def load_contracts(
    directory: Path, rootpath: Path
) -> tuple[dict[str, ContractSection], list[Flag]]:
    """Read every ``*.md`` (except ``README.md``) of ``directory``."""
    contracts: dict[str, ContractSection] = {}
    flags: list[Flag] = []
    if not directory.is_dir():
        flags.append(
            Flag("config-error", _display(directory, rootpath), "contracts_dir does not exist")
        )
        return contracts, flags
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            flags.append(Flag("contract-format", _display(path, rootpath), f"unreadable: {exc}"))
            continue
        sections, file_flags = parse_contract_text(text, _display(path, rootpath))
        flags.extend(file_flags)
        for section in sections:
            first = contracts.get(section.key)
            if first is not None:
                flags.append(
                    Flag(
                        "contract-format",
                        section.location,
                        f"duplicate section '{section.key}' (first at {first.location})",
                    )
                )
                continue
            contracts[section.key] = section
    return contracts, flags


def _display(path: Path, rootpath: Path) -> str:
    try:
        return path.resolve().relative_to(rootpath.resolve()).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Routes: enumerate the app's endpoints and resolve a request to its route template
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


def _is_success(status: int) -> bool:
    return 200 <= status < 400


def _is_failure(status: int) -> bool:
    return 400 <= status < 600


def _codes(statuses: Iterable[int]) -> str:
    return ", ".join(str(s) for s in sorted(statuses)) or "none"


def _who(nodeids: list[str]) -> str:
    more = f" (+{len(nodeids) - 1} more)" if len(nodeids) > 1 else ""
    return f"{nodeids[0]}{more}"


def endpoint_flags(endpoint: EndpointReport, contracts_dir: str) -> list[Flag]:
    key = endpoint.key
    if not endpoint.in_app:
        where = endpoint.contract.location if endpoint.contract else contracts_dir
        return [Flag("no-route", key, f"contract section at {where} matches no app route")]
    flags: list[Flag] = []
    contract = endpoint.contract
    if contract is None:
        flags.append(Flag("no-contract", key, f"no '## {key}' section in {contracts_dir}/"))
    produced = set(endpoint.produced)
    incidental = endpoint.incidental
    if not any(_is_success(s) for s in produced):
        documented_ok = [s for s in endpoint.documented if _is_success(s)]
        hint = f" (documented: {_codes(documented_ok)})" if documented_ok else ""
        unread = sorted(s for s in incidental if _is_success(s))
        if unread:
            hint += f"; {_codes(unread)} received but its status never read"
        flags.append(Flag("no-success", key, f"no test checked a 2xx/3xx status{hint}"))
    failures = {s for s in produced if _is_failure(s)}
    needed = 2
    if contract is not None:
        needed = min(2, sum(1 for s in contract.statuses if _is_failure(s)))
    if len(failures) < needed:
        flags.append(
            Flag(
                "few-failures",
                key,
                f"failure statuses tested: {_codes(failures)} (need >= {needed})",
            )
        )
    if contract is not None:
        for status in sorted(endpoint.documented - produced):
            if status in incidental:
                message = (
                    f"{status} documented, only received incidentally by "
                    f"{_who(incidental[status])} (no test read the status)"
                )
            else:
                message = f"{status} documented, no test produced it"
            flags.append(Flag("untested-status", key, message))
        received = {**incidental, **endpoint.produced}
        for status in sorted(set(received) - endpoint.documented):
            flags.append(
                Flag(
                    "undocumented-status",
                    key,
                    f"{status} produced by {_who(received[status])}, not in the contract",
                )
            )
        if endpoint.declared is not None:
            for status in sorted(endpoint.declared - endpoint.documented):
                flags.append(
                    Flag(
                        "openapi-mismatch",
                        key,
                        f"OpenAPI declares {status}, the contract does not list it",
                    )
                )
            for status in sorted(endpoint.documented - endpoint.declared):
                flags.append(
                    Flag(
                        "openapi-mismatch",
                        key,
                        f"the contract lists {status}, the OpenAPI operation does not declare it",
                    )
                )
    return flags


_METHOD_ORDER = {m: i for i, m in enumerate(HTTP_METHODS)}


def _endpoint_sort_key(method: str, path: str) -> tuple[str, int, str]:
    return path, _METHOD_ORDER.get(method, len(_METHOD_ORDER)), method


def build_report(
    *,
    app_routes: dict[str, str],
    contracts: dict[str, ContractSection],
    produced: dict[str, dict[int, list[str]]],
    untracked: dict[str, dict[int, int]],
    global_flags: list[Flag],
    partial_reasons: list[str],
    contracts_dir: str,
    request_counts: dict[str, dict[int, int]] | None = None,
    received: dict[str, dict[int, list[str]]] | None = None,
    declared: dict[str, set[int]] | None = None,
) -> CoverageReport:
    """Combine app routes, contracts and recorded statuses into the coverage report.

    ``produced`` maps endpoint keys to status -> node ids of the tests that read the status;
    ``received`` the same for responses whose status no test read (only the statuses missing
    from ``produced`` become the endpoint's ``incidental`` ones); ``declared`` the statuses of
    each OpenAPI operation (compared with the contract when given); requests that resolved to a
    route outside the app's endpoints (``/openapi.json``, a test-only app) join ``untracked``
    with their counts from ``request_counts``.
    """
    keys = set(app_routes) | set(contracts)
    endpoints: list[EndpointReport] = []
    for key in keys:
        method, _, path = key.partition(" ")
        endpoints.append(
            EndpointReport(
                key=key,
                method=method,
                path=path,
                in_app=key in app_routes,
                contract=contracts.get(key),
                produced={s: list(n) for s, n in sorted(produced.get(key, {}).items())},
                incidental={
                    s: list(n)
                    for s, n in sorted((received or {}).get(key, {}).items())
                    if s not in produced.get(key, {})
                },
                declared=None if declared is None else declared.get(key),
            )
        )
    endpoints.sort(key=lambda e: _endpoint_sort_key(e.method, e.path))
    for endpoint in endpoints:
        endpoint.flags = endpoint_flags(endpoint, contracts_dir)
    leftover: dict[str, dict[int, int]] = {k: dict(v) for k, v in untracked.items()}
    outside: dict[str, dict[int, set[str]]] = {}
    for source in (produced, received or {}):
        for key, statuses in source.items():
            if key not in keys:
                for status, nodeids in statuses.items():
                    outside.setdefault(key, {}).setdefault(status, set()).update(nodeids)
    for key, by_status in outside.items():
        bucket = leftover.setdefault(key, {})
        counts = (request_counts or {}).get(key, {})
        for status, tests in by_status.items():
            bucket[status] = bucket.get(status, 0) + counts.get(status, len(tests))
    order = {kind: i for i, kind in enumerate(FLAG_KINDS)}
    ordered_global = sorted(global_flags, key=lambda f: (order.get(f.kind, 99), f.subject))
    return CoverageReport(
        endpoints=endpoints,
        global_flags=ordered_global,
        untracked=dict(sorted(leftover.items())),
        partial_reasons=partial_reasons,
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _mark(endpoint: EndpointReport, status: int, marks: dict[str, str]) -> str:
    documented = status in endpoint.documented
    tested = status in endpoint.produced
    received = status in endpoint.incidental
    if documented and tested:
        return marks["tested"]
    if documented and received:
        return marks["incidental"]
    if documented:
        return marks["gap"]
    if tested or received:
        return marks["drift"]
    return " "


def _label(endpoint: EndpointReport) -> str:
    return f"{endpoint.method:<6} {endpoint.path}"


def render_matrix(report: CoverageReport, marks: dict[str, str]) -> list[str]:
    statuses = report.statuses
    width = max([len("endpoint")] + [len(_label(e)) for e in report.endpoints])
    lines = ["endpoint".ljust(width) + "".join(f" {s:>3}" for s in statuses)]
    for endpoint in report.endpoints:
        cells = "".join(f"  {_mark(endpoint, s, marks)} " for s in statuses)
        lines.append((_label(endpoint).ljust(width) + cells).rstrip())
    lines.append(
        f"{marks['tested']} documented and tested   {marks['gap']} documented, untested (gap)   "
        f"{marks['incidental']} received, status never read (gap)   "
        f"{marks['drift']} tested, undocumented (drift)"
    )
    return lines


def render_incidental(report: CoverageReport, limit: int = 8) -> str:
    """One line naming the statuses that were received but never read by any test."""
    items = report.incidental_only
    parts = [f"{key} {status} ({_who(nodeids)})" for key, status, nodeids in items[:limit]]
    more = f"; +{len(items) - limit} more" if len(items) > limit else ""
    return (
        f"statuses received only incidentally (status never read, not credited): {len(items)}: "
        + "; ".join(parts)
        + more
    )


def render_flags(flags: list[Flag]) -> list[str]:
    width = max((len(f.kind) for f in flags), default=0)
    return [f.render(width) for f in flags]


def render_untracked(untracked: dict[str, dict[int, int]], limit: int = 8) -> str:
    parts = []
    for key, statuses in list(untracked.items())[:limit]:
        codes = ", ".join(f"{s} x{n}" if n > 1 else str(s) for s, n in sorted(statuses.items()))
        parts.append(f"{key} -> {codes}")
    more = f"; +{len(untracked) - limit} more" if len(untracked) > limit else ""
    return "requests outside the contracted endpoints (not flagged): " + "; ".join(parts) + more


def render_markdown(report: CoverageReport, marks: dict[str, str]) -> str:
    statuses = report.statuses
    lines = ["# Contract coverage", "", report.summary_line(), ""]
    if report.partial:
        lines += [f"Partial run ({'; '.join(report.partial_reasons)}): report only.", ""]
    lines.append("| Endpoint | " + " | ".join(str(s) for s in statuses) + " |")
    lines.append("|---|" + "".join(":-:|" for _ in statuses))
    for endpoint in report.endpoints:
        cells = " | ".join(_mark(endpoint, s, marks).strip() for s in statuses)
        lines.append(f"| `{endpoint.key}` | {cells} |")
    lines += [
        "",
        f"{marks['tested']} documented and tested, {marks['gap']} documented but untested (gap), "
        f"{marks['incidental']} received but its status never read (gap), "
        f"{marks['drift']} tested but undocumented (drift).",
        "",
        "## Flags",
        "",
    ]
    flags = report.flags
    if flags:
        lines += [f"- `{f.kind}` `{f.subject}`: {f.message}" for f in flags]
    else:
        lines.append("None.")
    if report.incidental_only:
        lines += ["", "## Statuses received only incidentally (status never read)", ""]
        for key, status, nodeids in report.incidental_only:
            lines.append(f"- `{key}` {status}: {', '.join(nodeids)}")
    if report.untracked:
        lines += ["", "## Requests outside the contracted endpoints (not flagged)", ""]
        for key, codes in report.untracked.items():
            counts = ", ".join(f"{s} x{n}" for s, n in sorted(codes.items()))
            lines.append(f"- `{key}`: {counts}")
    lines.append("")
    return "\n".join(lines)


def render_json(report: CoverageReport) -> str:
    data = {
        "endpoints": [
            {
                "endpoint": e.key,
                "in_app": e.in_app,
                "contract": e.contract.location if e.contract else None,
                "documented": sorted(e.documented),
                "declared": None if e.declared is None else sorted(e.declared),
                "produced": {str(s): nodeids for s, nodeids in sorted(e.produced.items())},
                "incidental": {str(s): nodeids for s, nodeids in sorted(e.incidental.items())},
                "flags": [f.as_dict() for f in e.flags],
            }
            for e in report.endpoints
        ],
        "flags": [f.as_dict() for f in report.flags],
        "untracked": {
            key: {str(s): n for s, n in sorted(codes.items())}
            for key, codes in report.untracked.items()
        },
        "summary": report.summary_line(),
        "partial": report.partial,
        "partial_reasons": report.partial_reasons,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# Recording: wrap httpx.ASGITransport.handle_async_request
# --------------------------------------------------------------------------------------------

_Handler = Callable[[httpx.ASGITransport, httpx.Request], Coroutine[Any, Any, httpx.Response]]


def _install(recorder: Recorder) -> None:
    """Route transport requests to ``recorder`` (the innermost active pytest session wins).

    The stack of recorders lives on the wrapper itself so that a nested in-process pytest run
    (pytester) records into its own session, not into the outer one.
    """
    current = httpx.ASGITransport.handle_async_request
    stack: list[Recorder] | None = getattr(current, _PATCH_MARKER, None)
    if stack is None:
        original: _Handler = current
        recorders: list[Recorder] = []

        async def handle_async_request(
            self: httpx.ASGITransport, request: httpx.Request
        ) -> httpx.Response:
            response = await original(self, request)
            if recorders:
                recorders[-1].record(self, request, response)
            return response

        setattr(handle_async_request, _PATCH_MARKER, recorders)
        handle_async_request.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(httpx.ASGITransport, "handle_async_request", handle_async_request)  # noqa: B010
        recorder.restore = (handle_async_request, original)
        stack = recorders
    stack.append(recorder)
    recorder.stack = stack


def _uninstall(recorder: Recorder) -> None:
    if recorder.stack is not None and recorder in recorder.stack:
        recorder.stack.remove(recorder)
    if recorder.restore is not None:
        wrapper, original = recorder.restore
        if httpx.ASGITransport.handle_async_request is wrapper and not recorder.stack:
            setattr(httpx.ASGITransport, "handle_async_request", original)  # noqa: B010
        recorder.restore = None
    recorder.stack = None


class StatusRead:
    """Whether the test read the status of one recorded response."""

    __slots__ = ("read",)

    def __init__(self) -> None:
        self.read = False


_STATUS_READ_ATTR = "_tma_status_read"


def _reader_is_test_code(frame: Any) -> bool:
    """A read counts unless httpx itself (logging, redirects, ``repr``) or this plugin made it."""
    module = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
    return not (module == "httpx" or module.startswith("httpx.") or module == __name__)


class WatchedResponse(httpx.Response):
    """An ``httpx.Response`` that notes when test code reads ``status_code``.

    The transport wrapper switches the class of the response it hands back to this subclass
    (same attributes, ``isinstance(response, httpx.Response)`` still holds); the value lives
    in the instance ``__dict__`` as before, the property only observes the read.
    """

    @property
    def status_code(self) -> int:
        value: int = self.__dict__["status_code"]
        mark: StatusRead | None = self.__dict__.get(_STATUS_READ_ATTR)
        if mark is not None and not mark.read and _reader_is_test_code(sys._getframe(1)):
            mark.read = True
        return value

    @status_code.setter
    def status_code(self, value: int) -> None:
        self.__dict__["status_code"] = value


def watch_status_read(response: httpx.Response) -> StatusRead:
    """Make ``response`` record reads of its status; return the mark to look at later."""
    mark = StatusRead()
    if type(response) is httpx.Response:
        response.__class__ = WatchedResponse
        response.__dict__[_STATUS_READ_ATTR] = mark
    elif isinstance(response, WatchedResponse):
        response.__dict__[_STATUS_READ_ATTR] = mark
    else:  # a custom Response subclass we cannot observe: count it as read, as before
        mark.read = True
    return mark


class Recorder:
    """Collects ``(app, method, path, root_path, status, nodeid, read mark)`` tuples cheaply."""

    def __init__(self, *, discard: bool = False) -> None:
        self.discard = discard
        self.current: str = NO_TEST
        self.pending: list[tuple[Any, str, str, str, int, str, StatusRead]] = []
        self.count = 0
        # key -> status -> tests that read the status (credited)
        self.produced: dict[str, dict[int, dict[str, None]]] = {}
        # key -> status -> tests that received the status without reading it
        self.received: dict[str, dict[int, dict[str, None]]] = {}
        self.requests: dict[str, dict[int, int]] = {}  # key -> status -> request count
        self.untracked: dict[str, dict[int, int]] = {}
        self.stack: list[Recorder] | None = None
        self.restore: tuple[_Handler, _Handler] | None = None

    def record(
        self, transport: httpx.ASGITransport, request: httpx.Request, response: httpx.Response
    ) -> None:
        method = request.method
        if self.discard or method in UNRECORDED_METHODS:
            return
        status: int = response.__dict__.get("status_code", 0) or response.status_code
        self.pending.append(
            (
                transport.app,
                method,
                request.url.path,
                getattr(transport, "root_path", "") or "",
                status,
                self.current,
                watch_status_read(response),
            )
        )
        self.count += 1

    def flush(self) -> None:
        """Resolve pending requests (once per distinct app/method/path) and drop app refs."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        cache: dict[tuple[int, str, str, str], tuple[Match, str]] = {}
        for app, method, path, root_path, status, nodeid, mark in pending:
            cache_key = (id(app), method, path, root_path)
            resolved = cache.get(cache_key)
            if resolved is None:
                try:
                    resolved = resolve_route(app, method, path, root_path)
                except Exception:
                    resolved = (Match.NONE, f"{method} {path}")
                cache[cache_key] = resolved
            match, key = resolved
            if match is Match.FULL and method == "HEAD":
                key = "GET" + key[len("HEAD") :]  # a HEAD is counted as its path's GET
            if match is Match.FULL:
                target = self.produced if mark.read else self.received
                target.setdefault(key, {}).setdefault(status, {})[nodeid] = None
                bucket = self.requests.setdefault(key, {})
            else:
                label = key if match is Match.NONE else f"{key} (method not allowed)"
                bucket = self.untracked.setdefault(label, {})
            bucket[status] = bucket.get(status, 0) + 1


# --------------------------------------------------------------------------------------------
# Pytest plugin
# --------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract-coverage", "contract coverage (tma.testing)")
    group.addoption(
        "--no-contracts",
        action="store_true",
        default=False,
        help="disable the contract coverage plugin entirely",
    )
    group.addoption(
        "--contracts-strict",
        action="store_true",
        default=False,
        help="fail a full run when contract coverage has any flag (partial runs only report)",
    )
    group.addoption(
        "--contracts-ascii",
        action="store_true",
        default=False,
        help="use ASCII marks (+ . !) in the contract coverage matrix",
    )
    group.addoption(
        "--contracts-report",
        metavar="PATH",
        default=None,
        help="write the contract coverage matrix to PATH (Markdown, or JSON if PATH ends .json)",
    )
    parser.addini(
        "contracts_app",
        "import path 'module:attr' of the app (or zero-argument app factory) whose routes "
        "are checked against the contracts; the plugin is inactive when unset",
        default="",
    )
    parser.addini(
        "contracts_dir",
        "directory (relative to rootdir) holding the contract Markdown files",
        default="docs/contracts",
    )
    parser.addini(
        "contracts_strict",
        "fail full runs on any contract coverage flag (like --contracts-strict)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    app_spec = str(config.getini("contracts_app") or "").strip()
    inactive = (
        config.getoption("no_contracts", False)
        or hasattr(config, "workerinput")  # pytest-xdist worker: the controller reports
        or not app_spec
    )
    if inactive:
        if getattr(httpx.ASGITransport.handle_async_request, _PATCH_MARKER, None) is not None:
            # A nested (pytester) session while an outer session records: keep this
            # session's requests out of the outer report.
            config.pluginmanager.register(_Silencer(), PLUGIN_NAME)
        return
    plugin = ContractCoveragePlugin(config, app_spec)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    _install(plugin.recorder)


class _Silencer:
    """Discards the requests of an inactive nested session."""

    def __init__(self) -> None:
        self.recorder = Recorder(discard=True)
        _install(self.recorder)

    def pytest_unconfigure(self) -> None:
        _uninstall(self.recorder)


class ContractCoveragePlugin:
    def __init__(self, config: pytest.Config, app_spec: str) -> None:
        self.config = config
        self.app_spec = app_spec
        self.recorder = Recorder()
        self.deselected = 0
        self.started = 0
        self.report: CoverageReport | None = None
        self.report_error: str | None = None
        self.strict_failed = False

    # -- recording ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.started += 1
        self.recorder.flush()
        self.recorder.current = item.nodeid
        try:
            return (yield)
        finally:
            self.recorder.flush()
            self.recorder.current = NO_TEST

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_unconfigure(self) -> None:
        _uninstall(self.recorder)

    # -- end of session ----------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.config.getoption("collectonly", False):
            return
        self.recorder.flush()
        self.report = self._build(session, exitstatus)
        path = self.config.getoption("contracts_report", None)
        if path:
            self._write_report(Path(path))
        strict = bool(self.config.getoption("contracts_strict", False)) or bool(
            self.config.getini("contracts_strict")
        )
        if strict and not self.report.partial and self.report.flags:
            self.strict_failed = True
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _build(self, session: pytest.Session, exitstatus: int) -> CoverageReport:
        rootpath = self.config.rootpath
        contracts_dir_ini = str(self.config.getini("contracts_dir") or "docs/contracts")
        contracts_dir = (rootpath / contracts_dir_ini).resolve()
        global_flags: list[Flag] = []
        app_routes: dict[str, str] = {}
        declared: dict[str, set[int]] | None = None
        try:
            app = self._load_app(rootpath)
            app_routes = app_endpoints(app)
        except Exception as exc:
            global_flags.append(
                Flag(
                    "config-error",
                    f"contracts_app = {self.app_spec}",
                    f"cannot load the app: {type(exc).__name__}: {exc}",
                )
            )
        else:
            try:
                declared = openapi_statuses(app)
            except Exception as exc:
                global_flags.append(
                    Flag(
                        "config-error",
                        f"contracts_app = {self.app_spec}",
                        f"cannot build its OpenAPI document: {type(exc).__name__}: {exc}",
                    )
                )
        contracts, contract_flags = load_contracts(contracts_dir, rootpath)
        global_flags.extend(contract_flags)
        produced = {
            key: {status: list(nodeids) for status, nodeids in statuses.items()}
            for key, statuses in self.recorder.produced.items()
        }
        received = {
            key: {status: list(nodeids) for status, nodeids in statuses.items()}
            for key, statuses in self.recorder.received.items()
        }
        return build_report(
            app_routes=app_routes,
            contracts=contracts,
            produced=produced,
            untracked=self.recorder.untracked,
            global_flags=global_flags,
            partial_reasons=self._partial_reasons(session, exitstatus),
            contracts_dir=_display(contracts_dir, rootpath),
            request_counts=self.recorder.requests,
            received=received,
            declared=declared,
        )

    def _load_app(self, rootpath: Path) -> Any:
        try:
            return load_app(self.app_spec)
        except ModuleNotFoundError:
            root = str(rootpath)
            if root in sys.path:
                raise
            sys.path.insert(0, root)
            try:
                return load_app(self.app_spec)
            finally:
                if root in sys.path:
                    sys.path.remove(root)

    def _partial_reasons(self, session: pytest.Session, exitstatus: int) -> list[str]:
        config = self.config
        reasons: list[str] = []
        if config.getoption("keyword", ""):
            reasons.append("-k given")
        if config.getoption("markexpr", ""):
            reasons.append("-m given")
        if self.deselected:
            reasons.append(f"{self.deselected} tests deselected")
        if config.getoption("lf", False):
            reasons.append("--lf rerun")
        if config.getoption("stepwise", False):
            reasons.append("--stepwise run")
        selection = self._selection_reason()
        if selection:
            reasons.append(selection)
        if session.shouldfail or session.shouldstop or exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("session stopped early")
        elif self.started < len(getattr(session, "items", [])):
            reasons.append("not every collected test ran")
        if self.recorder.count == 0:
            reasons.append("no request recorded")
        return reasons

    def _selection_reason(self) -> str | None:
        """Explicit paths/node ids that do not cover the configured testpaths."""
        config = self.config
        rootpath = config.rootpath.resolve()
        invocation = Path(config.invocation_params.dir)
        if config.getoption("pyargs", False):
            return "--pyargs selection"
        run_paths: list[Path] = []
        for arg in config.args:
            if "::" in arg:
                return "node ids given"
            path = (invocation / arg).resolve()
            if not path.exists():
                return f"path argument {arg!r}"
            run_paths.append(path)
        full: list[Path] = []
        for pattern in config.getini("testpaths") or []:
            full.extend(
                Path(p).resolve() for p in glob.glob(str(rootpath / pattern), recursive=True)
            )
        if not full:
            full = [rootpath]
        for target in full:
            if not any(target == p or p in target.parents for p in run_paths):
                return "explicit paths narrower than testpaths"
        return None

    def _write_report(self, path: Path) -> None:
        if self.report is None:
            return
        target = path if path.is_absolute() else Path(self.config.invocation_params.dir) / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.suffix.lower() == ".json":
                target.write_text(render_json(self.report), encoding="utf-8")
            else:
                target.write_text(render_markdown(self.report, self._marks()), encoding="utf-8")
        except OSError as exc:
            self.report_error = f"cannot write {target}: {exc}"

    def _marks(self, stream: Any = None) -> dict[str, str]:
        if self.config.getoption("contracts_ascii", False):
            return ASCII_MARKS
        if stream is not None:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            try:
                "".join(UNICODE_MARKS.values()).encode(encoding)
            except (UnicodeEncodeError, LookupError):
                return ASCII_MARKS
        return UNICODE_MARKS

    # -- terminal ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report = self.report
        if report is None:
            return
        tr = terminalreporter
        quiet = self.config.get_verbosity() < 0
        if not quiet:
            stream = getattr(getattr(tr, "_tw", None), "_file", None)
            marks = self._marks(stream)
            tr.write_sep("=", "contract coverage")
            for line in render_matrix(report, marks):
                tr.write_line(line)
            if report.incidental_only:
                tr.write_line(render_incidental(report))
            if report.untracked:
                tr.write_line(render_untracked(report.untracked))
        if report.flags and (not quiet or self.strict_failed):
            tr.write_line("flags:")
            for line in render_flags(report.flags):
                tr.write_line("  " + line)
        if report.partial and not quiet:
            reasons = "; ".join(report.partial_reasons)
            tr.write_line(f"partial run ({reasons}): report only, strict mode never fails it")
        if self.report_error:
            tr.write_line(f"contract coverage: {self.report_error}", red=True)
        if self.strict_failed:
            tr.write_line(
                f"contract coverage: strict mode, {len(report.flags)} gaps fail the run", red=True
            )
            markup = {"red": True}
        elif report.flags:
            markup = {"yellow": True}
        else:
            markup = {"green": True}
        tr.write_line(report.summary_line(), **markup)
