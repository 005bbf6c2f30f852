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
function one of them of its own area executes is tested again there, with those tests
(`MUTATION_POSTGRES_JOBS` workers, default 2, each on a database of its own).
`TMA_MUTATION_DATABASE_URL` names the database (default
`postgresql+asyncpg://postgres@127.0.0.1:5432/tma_mutation`; it and the workers' `_1`, `_2`
are created when missing); `MUTATION_POSTGRES=0` leaves the pass out, and the report says so.
An unreachable PostgreSQL is an error, never a silent skip.

The run is bounded: at `MUTATION_MINUTES` (default 19) after it started, mutmut is stopped
as Ctrl-C stops it (it keeps every result it has), the report says how many mutants were not
run yet, and the exit status is 2; `make mutation` again goes on from there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
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
TIME_BOUND_ENV = "MUTATION_MINUTES"
DEFAULT_MINUTES = 19.0
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
    env = {**os.environ, "PATH": path, **extra}
    # Each mutant is a pytest session with its temporary directory and SQLite database: in
    # memory (tmpfs) where there is one, unless the caller chose a TMPDIR.
    shm = Path("/dev/shm")  # noqa: S108  (only a TMPDIR: pytest makes its own 0700 dirs)
    if "TMPDIR" not in os.environ and shm.is_dir() and os.access(shm, os.W_OK):
        env["TMPDIR"] = str(shm)
    return env


def _mutmut(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MUTMUT, *args], cwd=ROOT, text=True, capture_output=True, check=False, env=env
    )


# `run` stopped mutmut at the time bound (mutmut keeps what it had finished).
STOPPED = -1
GRACE_SECONDS = 60  # for mutmut to stop after Ctrl-C's signal, before it is killed


def run(
    jobs: int,
    names: list[str] | None = None,
    env: dict[str, str] | None = None,
    deadline: float | None = None,
) -> int:
    """`mutmut run`: its exit code, or STOPPED when `deadline` (time.monotonic()) came
    first. mutmut gets Ctrl-C's signal then: it stops its workers and keeps every result it
    had, so the next run tests only what is left."""
    niced = ["nice", "-n", "19"] if os.name == "posix" else []
    command = [*niced, *MUTMUT, "run", "--max-children", str(jobs), *(names or [])]
    shown = command if names is None else [*command[: -len(names)], f"<{len(names)} mutants>"]
    print("$", " ".join(shown), flush=True)
    # A session of its own: at the bound, mutmut and its fork server and workers stop as one.
    process = subprocess.Popen(command, cwd=ROOT, env=env or _env(), start_new_session=True)
    try:
        return process.wait(timeout=None if deadline is None else deadline - time.monotonic())
    except subprocess.TimeoutExpired:
        print(f"\n{TIME_BOUND_ENV} reached: stopping mutmut", flush=True)
        _stop(process)
        return STOPPED
    except KeyboardInterrupt:
        _stop(process)
        raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to mutmut (it saves and stops its workers), then the whole session if it has
    not ended within GRACE_SECONDS."""
    process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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


class PostgresTests:
    """The `postgresql` tests, run once on the pass's database, unmutated, under
    `bench/mutation_calls.py`: their node ids, and for each mutated function the test files
    that call it. They need no mutant, so they start with the SQLite pass, beside mutmut's
    set-up (mypy, its mapping and clean runs use one core of two)."""

    def __init__(self, url: str) -> None:
        self.url = url
        (ROOT / "mutants").mkdir(exist_ok=True)
        self.calls = ROOT / "mutants" / "postgres-calls.json"
        self.calls.unlink(missing_ok=True)
        self.log = ROOT / "mutants" / "postgres-tests.log"
        command = [
            *(["nice", "-n", "19"] if os.name == "posix" else []),
            *[sys.executable, "-m", "pytest", "tests", "-m", "postgresql", "-q", "-rA"],
            *["-p", "no:randomly", "--no-contracts", "-p", "mutation_calls"],
        ]
        env = _env(TMA_TEST_DATABASE_URL=url, MUTATION_CALLS=str(self.calls))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), env.get("PYTHONPATH", "")])
        with self.log.open("w", encoding="utf-8") as out:  # the child keeps its own handle
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def result(self, deadline: float) -> tuple[set[str], dict[str, list[str]]]:
        """Wait for the run (TimeoutExpired at `deadline`); RuntimeError if a test failed."""
        code = self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        output = self.log.read_text(encoding="utf-8")
        if code != 0:
            raise RuntimeError(f"the `postgresql` tests failed unmutated:\n{output[-3000:]}")
        lines = output.splitlines()
        tests = {line.split(" ", 1)[1] for line in lines if line.startswith("PASSED ")}
        return tests, json.loads(self.calls.read_text(encoding="utf-8"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def postgres_pass(postgres: PostgresTests, jobs: int, deadline: float) -> int:
    """Test again on PostgreSQL, with the tests only PostgreSQL runs, the survivors in the
    functions those tests call: 0 when it ran, STOPPED at the time bound, 1 when it could
    not run. Each of the `jobs` workers has a database of its own (`<name>_1`...)."""
    url = postgres.url
    try:  # the suite creates the database if it does not exist, or stops with one line
        tests, callers = postgres.result(deadline)
    except subprocess.TimeoutExpired:
        postgres.stop()
        return STOPPED
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
    env = _env(
        TMA_TEST_DATABASE_URL=url, MUTATION_STAGE="postgresql", MUTATION_POSTGRES_JOBS=str(jobs)
    )
    return run(jobs, names, env, deadline)


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


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def main(argv: list[str]) -> int:
    if "--report" in argv:
        return report()
    started = time.monotonic()
    minutes = float(os.environ.get(TIME_BOUND_ENV, DEFAULT_MINUTES))
    deadline = started + 60 * minutes
    (ROOT / "mutants" / mutation_focus.SCHEMA_COPY).unlink(missing_ok=True)
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    with_postgres = os.environ.get("MUTATION_POSTGRES", "1") != "0"
    postgres_tests = PostgresTests(url) if with_postgres else None
    try:
        code = run(int(os.environ.get("MUTATION_JOBS", "2")), deadline=deadline)
        if code not in (0, STOPPED):
            print(f"mutmut run exited {code}", file=sys.stderr)
        sqlite_done = time.monotonic()
        if code == STOPPED:
            postgres, failed = "not run: the time bound came first", STOPPED
        elif postgres_tests is None:
            postgres, failed = "left out (MUTATION_POSTGRES=0)", 0
        else:
            jobs = int(os.environ.get("MUTATION_POSTGRES_JOBS", "2"))
            failed = postgres_pass(postgres_tests, jobs, deadline)
            postgres = {0: f"run ({url})", STOPPED: "stopped at the time bound"}.get(
                failed, f"failed or not run ({url})"
            )
    finally:
        if postgres_tests is not None:
            postgres_tests.stop()
    status = report()
    ended = time.monotonic()
    print(f"PostgreSQL pass: {postgres}")
    print(
        f"time: {_minutes(ended - started)} (SQLite pass {_minutes(sqlite_done - started)}, "
        f"PostgreSQL pass and report {_minutes(ended - sqlite_done)}); bound "
        f"{TIME_BOUND_ENV}={minutes:g}"
    )
    if STOPPED in (code, failed):
        statuses = parse_results(_mutmut("results", "--all", "true").stdout)
        not_run = sum(1 for s in statuses.values() if s == "not checked")
        print(
            f"incomplete: {TIME_BOUND_ENV} reached first ({not_run} mutants not run yet, left "
            f"out of the score above; PostgreSQL pass: {postgres}). `make mutation` again goes "
            "on from where this run stopped (mutmut keeps its results in mutants/).",
            file=sys.stderr,
        )
        return 2
    return status or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
