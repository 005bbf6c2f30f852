"""The shared vocabulary: HTTP methods, flag kinds, path templates and the report's data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


_PARAM_CONVERTOR_RE = re.compile(r"\{([^{}:]+):[^{}]*\}")


def normalize_path(path: str) -> str:
    """``/items/{item_id:int}`` -> ``/items/{item_id}``."""
    return _PARAM_CONVERTOR_RE.sub(r"{\1}", path)
