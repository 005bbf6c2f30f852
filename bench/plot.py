"""The picture: req/s against N per endpoint, with the two ceilings and the older backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import ENDPOINTS, OLDER


def plot(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [run["n"] for run in results["runs"]]
    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=110)
    markers = "os^Dv<>p"
    for i, name in enumerate(ENDPOINTS):
        values = [run["endpoints"][name]["rps"] for run in results["runs"]]
        ax.plot(ns, values, marker=markers[i % len(markers)], label=name)
    older = OLDER["GET /api/groups"]
    ax.plot(
        sorted(older),
        [older[n] for n in sorted(older)],
        linestyle=":",
        color="grey",
        marker="x",
        label="GET /api/groups, older backend",
    )
    for key, label, style in (
        ("const", "ceiling: constant JSON", "--"),
        ("select1", "ceiling: SELECT 1", "-."),
    ):
        ax.axhline(results["ceilings"][key]["rps"], color="black", linestyle=style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N (groups of 10 members; courses)")
    ax.set_ylabel("requests per second (log)")
    ax.set_title(f"TMA backend, one uvicorn worker, {results['load']} ({results['date']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
