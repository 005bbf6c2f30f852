"""`make mutation` does not rot: the mutmut configuration names files that exist and the
code the score is about, and the report reads mutmut's output. (The mutation run itself
takes minutes and is not part of the suite.)"""

import ast
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import mutation

import mutation_focus

ROOT = Path(__file__).resolve().parent.parent


def test_mutation_config_targets_services_dependencies_and_security():
    """`only_mutate` matches every service and dependencies module, posts/quiz.py (the quiz
    loader and writer, once in the posts and quizzes services) and core/security.py, and
    nothing else; the test selection paths exist."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    matched = sorted(
        str(p.relative_to(ROOT)) for pattern in config["only_mutate"] for p in ROOT.glob(pattern)
    )
    services = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("src/tma/*/service.py"))
    dependencies = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("src/tma/*/dependencies.py"))

    extra = ["src/tma/posts/quiz.py", "src/tma/core/security.py"]
    assert matched == sorted([*services, *dependencies, *extra])
    assert len(services) >= 4
    assert len(dependencies) >= 4
    for argument in config["pytest_add_cli_args_test_selection"]:
        path = argument.removeprefix("--ignore=")
        assert (ROOT / path).exists(), path


def _run_at_import_only(source: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module-level functions of `source` that only its import runs: called from a
    module-level statement (not from inside a function or method), or only from such a
    function."""
    tree = ast.parse(source)
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }

    def called(node: ast.AST, skip_bodies: bool) -> set[str]:
        names: set[str] = set()
        for child in ast.iter_child_nodes(node):
            if skip_bodies and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                names |= {
                    n.id
                    for d in child.decorator_list
                    for n in ast.walk(d)
                    if isinstance(n, ast.Name)
                } & set(functions)
                continue
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Name)
                and child.func.id in functions
            ):
                names.add(child.func.id)
            names |= called(child, skip_bodies)
        return names

    at_import = called(tree, skip_bodies=True)
    pending = list(at_import)
    while pending:
        for name in called(functions[pending.pop()], skip_bodies=False) - at_import:
            at_import.add(name)
            pending.append(name)
    # What every other function or method calls (one nested in an import-time function is
    # that function's: switched on never either).
    skipped = {functions[name] for name in at_import}
    at_run_time: set[str] = set()
    pending_nodes: list[ast.AST] = [tree]
    while pending_nodes:
        node = pending_nodes.pop()
        for child in ast.iter_child_nodes(node):
            if child in skipped:
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                at_run_time |= called(child, skip_bodies=False)
            pending_nodes.append(child)
    return {name: functions[name] for name in at_import - at_run_time}


def test_mutation_leaves_out_code_that_runs_at_import_only():
    """A mutated module's function that only its import runs (a statement built once) carries
    `# pragma: no mutate block`: mutmut switches a mutant on after the import, so its mutants
    would "survive" whatever the tests do and count against the score (tests/README.md "Not
    mutated: code that runs at import only")."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    unmarked = []
    for pattern in config["only_mutate"]:
        for path in sorted(ROOT.glob(pattern)):
            lines = path.read_text(encoding="utf-8").splitlines()
            source = "\n".join(lines)
            for name, node in _run_at_import_only(source).items():
                head = lines[node.lineno - 1 : node.body[0].lineno - 1]
                if not any("# pragma: no mutate block" in line for line in head):
                    unmarked.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert unmarked == []


def test_the_import_only_check_sees_builders_and_what_they_call():
    """The check above finds a function called by a module-level statement and the helpers
    it calls, and not one a request-time function also calls."""
    source = """
def _helper(x): return x
def _shared(x): return x
def _builder(flag): return _helper(flag) + _shared(flag)
STATEMENT = {flag: _builder(flag) for flag in (False, True)}
async def read(session): return _shared(session)
class Thing:
    def method(self): return _helper(1)
"""
    assert sorted(_run_at_import_only(source)) == ["_builder"]


def test_mutation_mutmut_installed_and_runs():
    """The pinned mutmut is installed and answers."""
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", "--version"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert result.stdout.strip().endswith("mutmut, version 3.8.1")


def test_mutation_report_counts_timeouts_as_caught_and_leaves_mypy_rejects_out():
    """The score counts killed and timed-out mutants as caught, survivors and unreached
    mutants against it; mutants mypy rejects (not viable) and those not run yet are left
    out of it, and reported."""
    statuses = mutation.parse_results(
        "    tma.core.security.x_f__mutmut_1: killed\n"
        "    tma.core.security.x_f__mutmut_2: survived\n"
        "    tma.groups.service.x_g__mutmut_7: no tests\n"
        "    tma.groups.service.x_g__mutmut_8: caught by type check\n"
        "    tma.groups.service.x_g__mutmut_9: timeout\n"
        "    tma.groups.service.x_g__mutmut_10: not checked\n"
    )

    score = mutation.score(statuses)

    assert statuses["tma.groups.service.x_g__mutmut_8"] == "caught by type check"
    assert (score.caught, score.judged, score.percent) == (2, 4, 50.0)
    assert score.line() == (
        "mutation score: 50.0 % (2 of 4 mutants that type-check killed by the tests: 1 failed "
        "a test, 1 timeouts; 1 survived, 1 not reached by a test, 0 suspicious, 0 crashed. "
        "Not counted: 1 rejected by mypy, 1 not run yet, 0 skipped)"
    )
    assert mutation.scope("tma.groups.service.x_g__mutmut_7") == "groups/service.py"


def test_mutation_focus_puts_the_area_first_and_bounds_the_hot_path():
    """A mutant's own area's tests run first; a function hundreds of tests execute gets its
    area's tests and the others up to MAX_TESTS (the first by node id); within each part
    the fastest run first; outside a mutmut worker nothing changes."""
    others = [f"tests/test_posts.py::test_{i:04}" for i in range(300)]
    own = ["tests/test_auth.py::test_login", "tests/security/test_password_hashing.py::test_x"]
    took = {own[0]: 0.5, own[1]: 0.2, others[0]: 0.9, others[1]: 0.1}

    few = mutation_focus.focus("tma.core.security.x_f__mutmut_1", [*others[:3], *own], took)
    many = mutation_focus.focus("tma.core.security.x_f__mutmut_1", [*others, *own], took)
    kept = others[: mutation_focus.MAX_TESTS - 2]

    assert few == [own[1], own[0], others[2], others[1], others[0]]
    assert many == [own[1], own[0], *kept[2:], kept[1], kept[0]]
    assert mutation_focus.mutant_under_test() is None
    assert mutation_focus.DURATIONS == {}


def test_mutation_postgres_pass_retests_survivors_their_areas_postgresql_tests_call():
    """The PostgreSQL pass tests again only survivors, and only those in a function that a
    `postgresql` test of the mutant's own area calls (`callers` lists the files of the
    `postgresql` tests that call each function)."""
    statuses = {
        "tma.groups.service.x_add_member__mutmut_1": "survived",
        "tma.groups.service.x_add_member__mutmut_2": "killed",
        "tma.groups.service.x_get_group__mutmut_1": "survived",
        "tma.core.security.x_create_access_token__mutmut_4": "survived",
    }
    callers = {
        "tma.groups.service.x_add_member": ["tests/security/test_lost_races.py"],
        "tma.groups.service.x_get_group": ["tests/security/test_posts_concurrency.py"],
        "tma.core.security.x_create_access_token": ["tests/security/test_lost_races.py"],
    }

    assert mutation.to_retest(statuses, callers) == ["tma.groups.service.x_add_member__mutmut_1"]
    assert mutation.function_of("tma.a.b.x_f__mutmut_12") == "tma.a.b.x_f"


def test_mutation_postgres_pass_forgets_the_postgresql_tests_for_mutmut_to_map_again():
    """mutmut maps a test once (and the SQLite run saw the `postgresql` ones skip): the pass
    drops them from its map, so its own run maps them again on PostgreSQL."""
    stats = {
        "duration_by_test": {"tests/a.py::t1": 0.1, "tests/b.py::t2": 0},
        "tests_by_mangled_function_name": {"tma.x.y.x_f": ["tests/a.py::t1", "tests/b.py::t2"]},
    }

    forgotten = mutation.forget(stats, {"tests/b.py::t2"})

    assert forgotten["duration_by_test"] == {"tests/a.py::t1": 0.1}
    assert forgotten["tests_by_mangled_function_name"] == {"tma.x.y.x_f": ["tests/a.py::t1"]}


def test_mutation_calls_names_functions_as_mutmut_does():
    """The call recorder names functions and methods as mutmut's mutants do."""
    import mutation_calls

    assert mutation_calls.mutmut_name("tma.groups.service", "add_member") == (
        "tma.groups.service.x_add_member"
    )
    assert mutation_calls.mutmut_name("tma.core.security", "PasswordHasher.__init__") == (
        "tma.core.security.xǁPasswordHasherǁ__init__"
    )
    assert mutation_calls.mutmut_name("tma.x.service", "f.<locals>.g") is None


def test_mutation_focus_postgres_stage_only_for_mutants_and_the_clean_run(monkeypatch):
    """`MUTATION_STAGE=postgresql` narrows the tests of a mutant and of mutmut's clean run,
    never mutmut's listing or mapping of the tests (which must see them all)."""
    monkeypatch.setenv("MUTATION_STAGE", "postgresql")
    seen = {}
    for under_test in ("tma.x.service.x_f__mutmut_1", "", "stats", "list_all_tests"):
        monkeypatch.setenv("MUTANT_UNDER_TEST", under_test)
        seen[under_test] = mutation_focus.postgres_pass()
    monkeypatch.delenv("MUTATION_STAGE")

    assert seen == {
        "tma.x.service.x_f__mutmut_1": True,
        "": True,
        "stats": False,
        "list_all_tests": False,
    }
    assert mutation_focus.postgres_pass() is False


def test_mutation_run_stops_mutmut_at_the_time_bound(monkeypatch):
    """At the deadline `run` sends mutmut Ctrl-C's signal and reports STOPPED; a process
    that ignores the signal is killed with its whole session after the grace period."""
    monkeypatch.setattr(mutation, "GRACE_SECONDS", 1)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    deaf = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)",
    ]
    outcomes = []
    for command in (sleeper, deaf):
        monkeypatch.setattr(mutation, "MUTMUT", command)
        started = time.monotonic()
        code = mutation.run(1, deadline=time.monotonic() + 0.5)
        outcomes.append((code, time.monotonic() - started < 30))

    assert outcomes == [(mutation.STOPPED, True), (mutation.STOPPED, True)]


def test_mutation_run_returns_mutmuts_exit_code_before_the_bound(monkeypatch):
    monkeypatch.setattr(mutation, "MUTMUT", [sys.executable, "-c", "raise SystemExit(3)"])

    assert mutation.run(1, deadline=time.monotonic() + 60) == 3


def test_mutation_workers_copy_the_schema_the_first_one_migrated(tmp_path):
    """On SQLite, the first worker migrates and leaves a copy; the next copies it: the same
    tables, indexes and Alembic revision. Other databases and revisions migrate as before."""
    from tma.core import migrate

    calls = []

    def upgrade(database_url=None, revision="head"):
        calls.append((database_url, revision))
        migrate.upgrade(database_url, revision)

    copy = tmp_path / "schema.db"
    copy_or_upgrade = mutation_focus.copying_upgrade(upgrade, copy)
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    copy_or_upgrade(f"sqlite+aiosqlite:///{first}")
    copy_or_upgrade(f"sqlite+aiosqlite:///{second}")
    passed_on = []
    mutation_focus.copying_upgrade(lambda url, revision: passed_on.append((url, revision)), copy)(
        "postgresql+asyncpg://h/db", "head"
    )

    def schema(path):
        with sqlite3.connect(path) as connection:
            tables = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            return tables.fetchall(), connection.execute(
                "SELECT version_num FROM alembic_version"
            ).fetchall()

    assert calls == [(f"sqlite+aiosqlite:///{first}", "head")]
    assert copy.exists()
    assert schema(second) == schema(first)
    assert len(schema(first)[0]) > 10
    assert passed_on == [("postgresql+asyncpg://h/db", "head")]


def test_mutation_postgres_workers_each_hold_a_database_of_their_own(tmp_path):
    """Each worker of the PostgreSQL pass takes a free slot (`<name>_1`, `<name>_2`) and
    holds it while it lives; with every slot held, it says so."""
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/tma_mutation"
    try:
        taken = [mutation_focus.take_database_slot(url, 2, tmp_path) for _ in range(2)]
        with pytest.raises(RuntimeError, match="all 2 databases"):
            mutation_focus.take_database_slot(url, 2, tmp_path)
    finally:
        while mutation_focus._held:
            mutation_focus._held.pop().close()
    freed = mutation_focus.take_database_slot(url, 2, tmp_path)
    mutation_focus._held.pop().close()

    assert taken == [f"{url}_1", f"{url}_2"]
    assert freed == f"{url}_1"
