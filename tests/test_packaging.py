"""The runtime package carries no test tooling: the contract-coverage plugin is its own
distribution (plugins/pytest-contract-coverage), installed by the dev group only, and the
two import nothing of each other."""

import ast
import importlib.util
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "tma"
PLUGIN = ROOT / "plugins" / "pytest-contract-coverage"


def _imported_top_modules(directory: Path) -> dict[str, set[str]]:
    """Top-level module name -> the files under `directory` importing it (relative
    imports left out: they stay inside the package)."""
    found: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _distribution_names(requirements: list[str]) -> set[str]:
    return {
        re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group(0)).lower()
        for r in requirements
    }


def test_runtime_package_has_no_testing_subpackage_or_plugin_module():
    """`tma.testing` is gone and no file of the package (what the wheel ships: every file
    under src/tma) is a contract-coverage module."""
    assert importlib.util.find_spec("tma.testing") is None
    assert not (PACKAGE / "testing").exists()
    assert [p for p in PACKAGE.rglob("*") if "contract_coverage" in p.name] == []
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["poetry"]["packages"] == [{"include": "tma", "from": "src"}]


def test_runtime_package_imports_no_dev_only_distribution():
    """No module under src/tma imports a distribution that only the dev group installs
    (pytest, httpx, the plugin, ...): the runtime wheel works without them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = _distribution_names(pyproject["project"]["dependencies"])
    dev_only = _distribution_names(pyproject["dependency-groups"]["dev"]) - runtime
    providers = packages_distributions()

    offending = {
        module: sorted(files)
        for module, files in _imported_top_modules(PACKAGE).items()
        if dev_only & _distribution_names(providers.get(module, []))
        or module in {"pytest", "_pytest", "pytest_contract_coverage"}
    }

    assert "pytest-contract-coverage" in dev_only
    assert offending == {}


def test_plugin_is_its_own_distribution_importing_nothing_of_tma():
    """The plugin has its own PEP 621 metadata, is installed from its directory (editable),
    is loaded by the project's `addopts`, and imports nothing of `tma`: the app comes from the
    `contracts_app` ini option."""
    plugin_project = tomllib.loads((PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    spec = importlib.util.find_spec("pytest_contract_coverage")

    assert plugin_project["project"]["name"] == "pytest-contract-coverage"
    assert spec is not None
    assert spec.origin == str(PLUGIN / "pytest_contract_coverage" / "__init__.py")
    assert "-p pytest_contract_coverage" in pyproject["tool"]["pytest"]["ini_options"]["addopts"]
    assert "tma" not in _imported_top_modules(PLUGIN)
