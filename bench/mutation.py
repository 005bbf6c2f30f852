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

Then the PostgreSQL pass: the row locks, `ON CONFLICT` statements and lost-race paths run
only on PostgreSQL, and so do the tests marked `postgresql` (concurrency, staged races),
which SQLite skips. Those tests are mapped again on PostgreSQL, and each survivor in a
function one of them executes is tested again there, with all its tests (one worker: one
database). `TMA_MUTATION_DATABASE_URL` names the database (default
`postgresql+asyncpg://postgres@127.0.0.1:5432/tma_mutation`, created when missing);
`MUTATION_POSTGRES=0` leaves the pass out, and the report says so. An unreachable PostgreSQL
is an error, never a silent skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import mutation_focus  # noqa: E402  (tests/: which tests are each mutant's own area)

MUTMUT = [sys.executable, "-m", "mutmut"]
# A mutant mypy rejects is not a program `make lint` would let through: not viable, so it
# counts neither way (as compilers' rejects are left out of a mutation score), only reported.
CAUGHT = ("killed", "timeout")
NOT_CAUGHT = ("survived", "no tests", "suspicious", "segfault")
NOT_VIABLE = "caught by type check"

STATS = ROOT / "mutants" / "mutmut-stats.json"
POSTGRES_URL_ENV = "TMA_MUTATION_DATABASE_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tma_mutation"


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


def _env(**extra: str) -> dict[str, str]:
    # mutmut runs `type_check_command` (mypy) by name: this interpreter's scripts come first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **extra}


def _mutmut(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MUTMUT, *args], cwd=ROOT, text=True, capture_output=True, check=False, env=env
    )


def run(jobs: int, names: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    niced = ["nice", "-n", "19"] if os.name == "posix" else []
    command = [*niced, *MUTMUT, "run", "--max-children", str(jobs), *(names or [])]
    shown = command if names is None else [*command[: -len(names)], f"<{len(names)} mutants>"]
    print("$", " ".join(shown), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env or _env())


def function_of(mutant: str) -> str:
    """`tma.groups.service.x_add_member__mutmut_3` -> `tma.groups.service.x_add_member`."""
    return mutant.rpartition("__mutmut_")[0]


def forget(stats: dict[str, Any], tests: set[str]) -> dict[str, Any]:
    """mutmut's test map without `tests`: the next `mutmut run` maps them again, as new."""
    stats["duration_by_test"] = {
        t: d for t, d in stats["duration_by_test"].items() if t not in tests
    }
    stats["tests_by_mangled_function_name"] = {
        f: [t for t in ts if t not in tests]
        for f, ts in stats["tests_by_mangled_function_name"].items()
    }
    return stats


def to_retest(statuses: dict[str, str], callers: dict[str, list[str]]) -> list[str]:
    """The survivors in functions that a `postgresql` test of their own area calls
    (`callers`: function -> test files; areas: `tests/mutation_focus.py` `HOME`)."""
    return sorted(
        name
        for name, status in statuses.items()
        if status == "survived"
        and any(f.startswith(mutation_focus.home(name)) for f in callers.get(function_of(name), ()))
    )


def postgres_tests(url: str) -> tuple[set[str], dict[str, list[str]]]:
    """Run the `postgresql` tests once on `url` (unmutated): their node ids, and for each
    mutated function they call the test files that call it (`bench/mutation_calls.py`)."""
    calls = ROOT / "mutants" / "postgres-calls.json"
    command = [
        *[sys.executable, "-m", "pytest", "tests", "-m", "postgresql", "-q", "-rA"],
        *["-p", "no:randomly", "--no-contracts", "-p", "mutation_calls"],
    ]
    env = _env(TMA_TEST_DATABASE_URL=url, MUTATION_CALLS=str(calls))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"the `postgresql` tests failed unmutated:\n{output}")
    tests = {
        line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("PASSED ")
    }
    return tests, json.loads(calls.read_text(encoding="utf-8"))


def postgres_pass(url: str) -> int:
    """Test again on PostgreSQL, with the tests only PostgreSQL runs, the survivors in the
    functions those tests call. 0 when it ran."""
    try:  # the suite creates the database if it does not exist, or stops with one line
        tests, callers = postgres_tests(url)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc) or ''}"
        print(f"PostgreSQL pass not run: {url}: {reason}", file=sys.stderr)
        return 1
    statuses = parse_results(_mutmut("results", "--all", "true").stdout)
    names = to_retest(statuses, callers)
    print(
        f"PostgreSQL pass: {len(tests)} tests marked `postgresql`; {len(names)} survivors in "
        "functions that those of their own area call",
        flush=True,
    )
    if not names:
        return 0
    # mutmut maps tests once; the SQLite run saw these skip. Forgotten, they are mapped again
    # (on PostgreSQL) by the run below, before it tests the mutants.
    STATS.write_text(json.dumps(forget(json.loads(STATS.read_text()), tests)))
    return run(1, names, _env(TMA_TEST_DATABASE_URL=url, MUTATION_STAGE="postgresql"))


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
    postgres = "not run (--report)"
    if "--report" not in argv:
        code = run(int(os.environ.get("MUTATION_JOBS", "2")))
        if code != 0:
            print(f"mutmut run exited {code}", file=sys.stderr)
        if os.environ.get("MUTATION_POSTGRES", "1") == "0":
            postgres = "left out (MUTATION_POSTGRES=0)"
        else:
            url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
            failed = postgres_pass(url)
            postgres = f"failed or not run ({url})" if failed else f"run ({url})"
    status = report()
    print(f"PostgreSQL pass: {postgres}")
    return status or (1 if postgres.startswith("failed") else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
