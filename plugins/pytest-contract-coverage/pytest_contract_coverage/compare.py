"""The comparison: the app's endpoints, their contracts, the statuses the tests read and the
statuses the OpenAPI operations declare, made into one report with its flags."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_contract_coverage.model import (
    FLAG_KINDS,
    HTTP_METHODS,
    ContractSection,
    CoverageReport,
    EndpointReport,
    Flag,
)


def _is_success(status: int) -> bool:
    return 200 <= status < 400


def _is_failure(status: int) -> bool:
    return 400 <= status < 600


def _codes(statuses: Iterable[int]) -> str:
    return ", ".join(str(s) for s in sorted(statuses)) or "none"


def who(nodeids: list[str]) -> str:
    """The first test of ``nodeids`` and how many more (``a.py::t (+2 more)``)."""
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
                    f"{who(incidental[status])} (no test read the status)"
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
                    f"{status} produced by {who(received[status])}, not in the contract",
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
