"""A pytest plugin for `make mutation`'s PostgreSQL pass: which mutated functions each test
file of a run calls. Loaded with `-p mutation_calls` (bench/ on the path) and
`MUTATION_CALLS=<file>`; at the end of the run it writes a JSON object: each function as
mutmut names it (`tma.groups.service.x_add_member`,
`tma.core.security.xǁPasswordHasherǁ__init__`) -> the sorted test files that called it.
Without `MUTATION_CALLS` it does nothing."""

import json
import os
import sys
import threading
from collections import defaultdict
from fnmatch import fnmatch
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

# The modules `[tool.mutmut] only_mutate` names, as module patterns.
MUTATED = ("tma.*.service", "tma.*.dependencies", "tma.core.security")

_called: dict[tuple[str, str], set[str]] = defaultdict(set)
_current = {"file": ""}


def mutmut_name(module: str, qualname: str) -> str | None:
    """The name mutmut gives the function `qualname` of `module`; None for nested ones."""
    if "<" in qualname:
        return None
    if "." in qualname:
        owner, _, method = qualname.rpartition(".")
        return f"{module}.xǁ{owner}ǁ{method}"
    return f"{module}.x_{qualname}"


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if event == "call":
        module = frame.f_globals.get("__name__", "")
        if module.startswith("tma.") and any(fnmatch(module, p) for p in MUTATED):
            _called[(module, frame.f_code.co_qualname)].add(_current["file"])


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("MUTATION_CALLS"):
        sys.setprofile(_profile)
        threading.setprofile(_profile)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current["file"] = item.nodeid.partition("::")[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get("MUTATION_CALLS")
    if not target:
        return
    sys.setprofile(None)
    threading.setprofile(None)
    by_function: dict[str, set[str]] = defaultdict(set)
    for (module, qualname), files in _called.items():
        name = mutmut_name(module, qualname)
        if name:
            by_function[name] |= files - {""}
    found = {name: sorted(files) for name, files in sorted(by_function.items()) if files}
    Path(target).write_text(json.dumps(found, indent=1), encoding="utf-8")
