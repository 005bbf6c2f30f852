"""`make mutation`: mutation testing of the services, dependencies and core security with
mutmut, then the score and the surviving mutants.

mutmut (configured in `[tool.mutmut]` of pyproject.toml) copies `src/tma` to `mutants/`,
changes the code one small edit at a time (a `<` into `<=`, a string into another, a call
dropped...) and runs the tests that cover the changed function. A mutant the tests notice
is *killed*; one they do not notice *survived*: a behaviour no test pins down (or an
equivalent mutant, which no test could notice). The score is killed / (killed + survived),
timeouts counting as killed (the tests noticed something went wrong); mutants no test
reaches count as survivors.

    .venv/bin/python bench/mutation.py              # run, then report
    .venv/bin/python bench/mutation.py --report     # report the last run only

`MUTATION_JOBS` (default 2) sets mutmut's parallel children; the run is niced. Results are
cached in `mutants/`: a second run re-tests only what changed. `rm -rf mutants` starts over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATS = ROOT / "mutants" / "mutmut-cicd-stats.json"
MUTMUT = [sys.executable, "-m", "mutmut"]


@dataclass(frozen=True)
class Score:
    killed: int
    survived: int
    no_tests: int
    timeout: int
    suspicious: int
    skipped: int
    total: int

    @property
    def caught(self) -> int:
        return self.killed + self.timeout

    @property
    def judged(self) -> int:
        return self.caught + self.survived + self.no_tests + self.suspicious

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.judged if self.judged else 0.0

    def line(self) -> str:
        return (
            f"mutation score: {self.percent:.1f} % ({self.caught} of {self.judged} mutants "
            f"killed; {self.survived} survived, {self.no_tests} not reached by a test, "
            f"{self.timeout} timeouts counted as killed, {self.suspicious} suspicious, "
            f"{self.skipped} skipped)"
        )


def parse_stats(data: dict[str, int]) -> Score:
    """The score of mutmut's `export-cicd-stats` JSON."""
    return Score(
        killed=int(data.get("killed", 0)),
        survived=int(data.get("survived", 0)),
        no_tests=int(data.get("no_tests", 0)),
        timeout=int(data.get("timeout", 0)),
        suspicious=int(data.get("suspicious", 0)),
        skipped=int(data.get("skipped", 0)),
        total=int(data.get("total", 0)),
    )


def parse_results(text: str) -> dict[str, list[str]]:
    """`mutmut results` lines (`    tma.x.x_f__mutmut_3: survived`) grouped by status,
    killed ones left out."""
    by_status: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name and status != "killed":
            by_status.setdefault(status, []).append(name)
    return by_status


def _mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MUTMUT, *args], cwd=ROOT, text=True, capture_output=True, check=False)


def run(jobs: int) -> int:
    niced = ["nice", "-n", "19"] if os.name == "posix" else []
    command = [*niced, *MUTMUT, "run", "--max-children", str(jobs)]
    print("$", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


def report() -> int:
    exported = _mutmut("export-cicd-stats")
    if exported.returncode != 0 or not STATS.exists():
        print(exported.stdout + exported.stderr, file=sys.stderr)
        print("no mutmut results: run `make mutation` first", file=sys.stderr)
        return 1
    score = parse_stats(json.loads(STATS.read_text(encoding="utf-8")))
    results = parse_results(_mutmut("results").stdout)
    for status in ("survived", "no tests", "suspicious"):
        names = results.get(status, [])
        if names:
            print(f"\n{status} ({len(names)}):  `mutmut show NAME` prints the change")
            for name in sorted(names):
                print(f"  {name}")
    print()
    print(score.line())
    return 0


def main(argv: list[str]) -> int:
    if "--report" not in argv:
        code = run(int(os.environ.get("MUTATION_JOBS", "2")))
        if code != 0:
            print(f"mutmut run exited {code}", file=sys.stderr)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
