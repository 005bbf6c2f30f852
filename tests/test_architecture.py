"""The structure the code and its docs promise: the arrows of docs/architecture.md, the
caller's fields in step with `UserRead`, every setting in docs/configuration.md."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from tma.core.config import Settings
from tma.users.caller import Caller, CallerRole
from tma.users.schemas import RoleRead, UserRead


def test_caller_fields_are_user_read_fields_plus_token_cut_off() -> None:
    """`Caller` has `UserRead`'s fields in its order, then `tokens_valid_after` and the two
    revalidation versions; its role `RoleRead`'s: a field added to one and not the other fails
    here."""
    assert [f.name for f in fields(Caller)] == [
        *UserRead.model_fields,
        "tokens_valid_after",
        "version",
        "content_version",
    ]
    assert [f.name for f in fields(CallerRole)] == list(RoleRead.model_fields)


ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    # `src` first on the path: grimp reads the `tma` found there (a copy, in the test below).
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    """The arrows of docs/architecture.md hold: every import-linter contract of
    pyproject.toml is kept (`make lint` runs the same check)."""
    result = _lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_import_contracts_catch_an_arrow_pointing_up(tmp_path: Path) -> None:
    """An import from a lower layer into a higher one (users importing groups, the arrow
    issue 27 found) breaks the layers contract: the check can fail."""
    shutil.copytree(ROOT / "src" / "tma", tmp_path / "tma", ignore=shutil.ignore_patterns("*.pyc"))
    service = tmp_path / "tma" / "users" / "service.py"
    service.write_text(service.read_text() + "\nfrom tma.groups import service as _groups\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "tma.users is not allowed to import tma.groups:" in result.stdout
    assert "- tma.users.service -> tma.groups.service" in result.stdout


def test_every_setting_is_documented_in_configuration_md() -> None:
    """Each field of `Settings` (core/config.py, the only place settings are read) has its
    `TMA_*` variable in docs/configuration.md."""
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    names = [f"TMA_{name.upper()}" for name in Settings.model_fields]
    # 38, the eight of notifications (issue 24), idempotency_ttl_hours (issue 22), the five
    # of webhooks and xAPI (issue 26), default_language (issue 25)
    assert len(names) == 53
    assert [name for name in names if f"`{name}`" not in documented] == []


# The one read path (docs/architecture.md "Reading and listing"), as text rules on the
# domain code: a service takes the request's session, never the app's `Database` or a bare
# connection; rows are read by name, never by position; bodies are not dumped by hand.
DOMAIN_CODE = sorted(
    path
    for path in (ROOT / "src" / "tma").glob("*/*.py")
    if path.parent.name not in {"core", "migrations", "seed"}
    # Processes of their own, not request code: a command's snapshot transaction (doctor),
    # the job worker that opens a session per job from its own database (queue).
    and path.name not in {"doctor.py", "queue.py"}
)
FORBIDDEN = {
    "a bare connection": re.compile(r"\bAsyncConnection\b|read_connection\("),
    "the app's database": re.compile(r"app\.state\.db\b|\bDatabase\b"),
    "a row read by position": re.compile(r"\brows?\[-?\d+\]|\bfound\[-?\d+\]\[-?\d+\]"),
    "an unvalidated body": re.compile(r"validate=False|\.dump_json\("),
}


def _violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            for what, pattern in FORBIDDEN.items():
                if pattern.search(line.split("#", 1)[0]):
                    found.append(f"{path.parent.name}/{path.name}:{number}: {what}")
    return found


def test_domain_code_reads_one_way() -> None:
    """No domain module (services, routers, dependencies, ...) reads outside the session,
    by position, or dumps a body without its model; doctor.py (a command's own snapshot
    transaction) and notifications/queue.py (the job worker's own database) are processes
    of their own, not request code."""
    assert DOMAIN_CODE, "no domain code found"
    assert _violations(DOMAIN_CODE) == []


def test_the_read_rules_catch_each_old_style(tmp_path: Path) -> None:
    """Each rule fires on the style it forbids (so the test above cannot pass vacuously)."""
    sample = tmp_path / "service.py"
    sample.write_text(
        "async def f(conn: AsyncConnection): ...\n"
        "db = request.app.state.db\n"
        "return row[0], bool(row[1])\n"
        "return list_response(adapter, rows, total, validate=False)\n",
        encoding="utf-8",
    )
    kinds = [line.rsplit(": ", 1)[1] for line in _violations([sample])]
    assert kinds == [
        "a bare connection",
        "the app's database",
        "a row read by position",
        "an unvalidated body",
    ]
