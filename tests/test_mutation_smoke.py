"""`make mutation` does not rot: the mutmut configuration names files that exist and the
code the score is about, and the report reads mutmut's output. (The mutation run itself
takes minutes and is not part of the suite.)"""

import subprocess
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import mutation

ROOT = Path(__file__).resolve().parent.parent


def test_mutation_config_targets_services_dependencies_and_security():
    """`only_mutate` matches every service and dependencies module and core/security.py,
    and nothing else; the test selection paths exist."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    matched = sorted(
        str(p.relative_to(ROOT)) for pattern in config["only_mutate"] for p in ROOT.glob(pattern)
    )
    services = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("src/tma/*/service.py"))
    dependencies = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("src/tma/*/dependencies.py"))

    assert matched == sorted([*services, *dependencies, "src/tma/core/security.py"])
    assert len(services) >= 4
    assert len(dependencies) >= 4
    for argument in config["pytest_add_cli_args_test_selection"]:
        path = argument.removeprefix("--ignore=")
        assert (ROOT / path).exists(), path


def test_mutation_mutmut_installed_and_runs():
    """The pinned mutmut is installed and answers."""
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", "--version"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert result.stdout.strip().endswith("mutmut, version 3.8.1")


def test_mutation_report_parses_stats_and_results():
    """The score counts timeouts as killed and unreached mutants as survivors; the survivor
    list groups mutmut's result lines by status."""
    score = mutation.parse_stats(
        {"killed": 88, "survived": 8, "total": 100, "no_tests": 2, "skipped": 0, "timeout": 2}
    )
    results = mutation.parse_results(
        "    tma.core.security.x_f__mutmut_1: killed\n"
        "    tma.core.security.x_f__mutmut_2: survived\n"
        "    tma.groups.service.x_g__mutmut_7: no tests\n"
    )

    assert score.percent == 90.0
    assert score.line().startswith("mutation score: 90.0 % (90 of 100 mutants killed; 8 survived")
    assert results == {
        "survived": ["tma.core.security.x_f__mutmut_2"],
        "no tests": ["tma.groups.service.x_g__mutmut_7"],
    }
