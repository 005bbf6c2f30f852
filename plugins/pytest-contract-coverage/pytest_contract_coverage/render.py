"""The report's renderings: the terminal matrix and its side lines, Markdown and JSON."""

from __future__ import annotations

import json

from pytest_contract_coverage.compare import who
from pytest_contract_coverage.model import CoverageReport, EndpointReport, Flag

UNICODE_MARKS = {"tested": "✓", "gap": "·", "incidental": "~", "drift": "!"}
ASCII_MARKS = {"tested": "+", "gap": ".", "incidental": "~", "drift": "!"}


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
    parts = [f"{key} {status} ({who(nodeids)})" for key, status, nodeids in items[:limit]]
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
