"""`make mutation`: mutation testing of the services, dependencies and core security with
mutmut, then the score and the surviving mutants.

mutmut (configured in `[tool.mutmut]` of pyproject.toml) copies `src/tma` to `mutants/`,
changes the code one small edit at a time (a `<` into `<=`, a string into another, a call
dropped...) and checks whether anything notices. A mutant is *caught* when a test covering
the changed function fails (*killed*), when the tests hang past mutmut's time limit
(*timeout*), or when mypy rejects it (*type check*: `make lint` would fail). One nothing
notices *survived*: a behaviour no test pins down, or an equivalent mutant no test could
notice. The score is caught / judged, where judged adds the survivors, the mutants no test
reaches and the suspicious ones (tests/README.md "Mutation testing" says how to read it).
Which tests run for each mutant: tests/mutation_focus.py.

    .venv/bin/python bench/mutation.py              # run, then report
    .venv/bin/python bench/mutation.py --report     # report the last run only

`MUTATION_JOBS` (default 2) sets mutmut's parallel children; the run is niced. Results are
cached in `mutants/`: a second run re-tests only what changed. `rm -rf mutants` starts over.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
# A mutant mypy rejects is not a program `make lint` would let through: not viable, so it
# counts neither way (as compilers' rejects are left out of a mutation score), only reported.
CAUGHT = ("killed", "timeout")
NOT_CAUGHT = ("survived", "no tests", "suspicious", "segfault")
NOT_VIABLE = "caught by type check"


@dataclass(frozen=True)
class Score:
    counts: Counter[str]

    @property
    def caught(self) -> int:
        return sum(self.counts[s] for s in CAUGHT)

    @property
    def judged(self) -> int:
        """The viable mutants the tests ran against: caught or not."""
        return self.caught + sum(self.counts[s] for s in NOT_CAUGHT)

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.judged if self.judged else 0.0

    def line(self) -> str:
        c = self.counts
        return (
            f"mutation score: {self.percent:.1f} % ({self.caught} of {self.judged} mutants that "
            f"type-check killed by the tests: {c['killed']} failed a test, {c['timeout']} "
            f"timeouts; {c['survived']} survived, {c['no tests']} not reached by a test, "
            f"{c['suspicious']} suspicious, {c['segfault']} crashed. Not counted: "
            f"{c[NOT_VIABLE]} rejected by mypy, {c['not checked']} not run yet, "
            f"{c['skipped']} skipped)"
        )


def parse_results(text: str) -> dict[str, str]:
    """`mutmut results --all true` lines (`    tma.x.y.x_f__mutmut_3: killed`) as
    mutant name -> status."""
    statuses: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            statuses[name] = status
    return statuses


def score(statuses: dict[str, str]) -> Score:
    return Score(Counter(statuses.values()))


def scope(mutant: str) -> str:
    """`tma.groups.service.x_add_member__mutmut_3` -> `groups/service.py`."""
    parts = mutant.split(".")
    return f"{parts[1]}/{parts[2]}.py"


def _mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MUTMUT, *args], cwd=ROOT, text=True, capture_output=True, check=False)


def run(jobs: int) -> int:
    niced = ["nice", "-n", "19"] if os.name == "posix" else []
    command = [*niced, *MUTMUT, "run", "--max-children", str(jobs)]
    print("$", " ".join(command), flush=True)
    # mutmut runs `type_check_command` (mypy) by name: this interpreter's scripts come first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.call(command, cwd=ROOT, env={**os.environ, "PATH": path})


def report() -> int:
    statuses = parse_results(_mutmut("results", "--all", "true").stdout)
    if not statuses:
        print("no mutmut results: run `make mutation` first", file=sys.stderr)
        return 1
    for status in NOT_CAUGHT:
        names = sorted(name for name, s in statuses.items() if s == status)
        if names:
            print(f"\n{status} ({len(names)}):  `mutmut show NAME` prints the change")
            for name in names:
                print(f"  {name}")
    print(
        f"\n{'scope':<26}{'mutants':>8}{'mypy':>6}{'tested':>8}{'killed':>8}{'left':>6}{'score':>8}"
    )
    for where in sorted({scope(name) for name in statuses}):
        part = score({n: s for n, s in statuses.items() if scope(n) == where})
        left = part.judged - part.caught
        print(
            f"{where:<26}{sum(part.counts.values()):>8}{part.counts[NOT_VIABLE]:>6}"
            f"{part.judged:>8}{part.caught:>8}{left:>6}{part.percent:>7.1f}%"
        )
    print()
    print(score(statuses).line())
    return 0


def main(argv: list[str]) -> int:
    if "--report" not in argv:
        code = run(int(os.environ.get("MUTATION_JOBS", "2")))
        if code != 0:
            print(f"mutmut run exited {code}", file=sys.stderr)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
