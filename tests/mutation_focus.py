"""The tests each mutant of `make mutation` runs (tests/README.md "Mutation testing").

Active only inside a mutmut worker (`MUTANT_UNDER_TEST` names a mutant); a normal run never
changes. mutmut runs, for each mutant, the tests that executed the mutated function, fastest
first, stopping at the first failure. Here:

- the tests of the mutated code's own area (`HOME`) run first, so a mutant they kill dies
  after one or two tests instead of after hundreds of unrelated fast ones; within each
  part, the fastest first (mutmut's measured times);
- a function that more than `MAX_TESTS` tests execute (token verification, the caller
  lookup, `create_group`...: every test that logs in or builds a group) is tested by its
  area's tests plus others (the first by node id) up to `MAX_TESTS`, not by all ~1,150: a
  surviving mutant there would otherwise cost a whole suite run;
- in the PostgreSQL pass (`MUTATION_STAGE=postgresql`), only the tests marked `postgresql`
  run: the SQLite pass ran the others against the same mutant;
- what the worker has imported is frozen out of the garbage collector (`gc.freeze()`): pytest
  collects garbage at the end of every session, and scanning the whole import graph again
  was half of the cost of a one-test session;
- a worker on SQLite copies the database the first worker of the run migrated instead of
  running the migrations again (they are not mutated): 0.1 s of a 0.45 s session;
- in the PostgreSQL pass each worker takes a database of its own (`_1`, `_2`... after the
  pass's database name), so two mutants run at once.

Ties are broken by node id (mutmut hands the tests over as a set), so a run is reproducible.
"""

import fcntl
import gc
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy.engine import make_url

from tma.core import migrate

MAX_TESTS = 200
# In `mutants/`, the workers' directory; bench/mutation.py deletes it when a run starts.
SCHEMA_COPY = "mutation-schema.db"
_held: list[IO[str]] = []  # the database slot this worker holds, until it exits

_AUTH = (
    "tests/test_auth",
    "tests/test_accounts",
    "tests/test_rate_limits",
    "tests/test_identity_property",
    "tests/security/test_token_and_login_threats",
    "tests/security/test_password_hashing",
    "tests/security/test_token_cache_and_clock",
)
# `tma.<package>.…` -> the test files (path prefixes) of that area.
HOME: dict[str, tuple[str, ...]] = {
    "auth": _AUTH,
    "core": _AUTH,  # only core/security.py is mutated
    "users": (
        *_AUTH,  # users/dependencies.py: the bearer token -> the caller
        "tests/test_users",
        "tests/security/test_privacy_matrix",  # StaffUser, AdminUser on every route
        "tests/security/test_input_and_identity_threats",
        "tests/security/test_unique_index_fallbacks",
        "tests/security/test_lost_races",
    ),
    "groups": (
        "tests/test_group",
        "tests/test_users",  # keep_an_owner: deleting a group's last owner
        "tests/test_accounts",
        "tests/security/test_concurrency",
        "tests/security/test_unique_index_fallbacks",
        "tests/security/test_lost_races",
    ),
    "courses": (
        "tests/test_course",
        "tests/test_availability",
        "tests/test_group_courses",
        "tests/security/test_content_access",
        "tests/security/test_outline_concurrency",
        "tests/security/test_lost_races",
    ),
    "modules": (
        "tests/test_modules",
        "tests/test_course_modules",
        "tests/security/test_content_access",
        "tests/test_query_counts",
    ),
    "posts": (
        "tests/test_posts",
        "tests/test_quizzes",  # posts/quiz.py: the quiz loader and writer
        "tests/security/test_quiz",
        "tests/security/test_content_access",
        "tests/security/test_posts_concurrency",
        "tests/security/test_lost_races",
        "tests/test_query_counts",
    ),
    "quizzes": (
        "tests/test_quizzes",
        "tests/test_quiz_engine",
        "tests/security/test_quiz",  # with test_quiz_races, test_quiz_concurrency...
        "tests/security/test_lost_races",
        "tests/test_query_counts",
    ),
    "bundle": ("tests/test_bundle", "tests/test_etags"),
    "notifications": ("tests/test_notification", "tests/security/test_schedule_races"),
    "progress": (
        "tests/test_progress",  # with test_progress_sync
        "tests/test_quizzes",  # progress/dependencies.py: the post with the caller's progress
        "tests/security/test_quiz_progress_threats",
        "tests/security/test_lost_races",
    ),
    "files": ("tests/test_files", "tests/security/test_files"),
}


def mutant_under_test() -> str | None:
    """The mutant this worker tests (`tma.groups.service.x_add_member__mutmut_3`), if any."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return name if "__mutmut_" in name else None


def home(mutant: str) -> tuple[str, ...]:
    """The test path prefixes of the area of `mutant` (or of a function: `tma.<area>.…`)."""
    return HOME.get(mutant.split(".")[1], ())


def _measured() -> dict[str, float]:
    """mutmut's measured time of each test, when imported in its directory (`mutants/`:
    the fork server, before it forks the workers); empty elsewhere."""
    stats = Path("mutmut-stats.json")
    if os.environ.get("MUTANT_UNDER_TEST") is None or not stats.is_file():
        return {}
    return dict(json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {}))


DURATIONS = _measured()


def focus(mutant: str, nodeids: list[str], durations: dict[str, float] | None = None) -> list[str]:
    """The node ids to run for `mutant`, in order: its area's tests first, then the others,
    each part fastest first (`durations`, default mutmut's; ties by node id); at most
    `MAX_TESTS` unless its area alone has more: then the others kept are the first by node
    id, so which tests run does not depend on timings."""
    took = DURATIONS if durations is None else durations
    home_ = home(mutant)
    ordered = sorted(nodeids)
    own = [n for n in ordered if n.startswith(home_)]
    others = [n for n in ordered if not n.startswith(home_)]
    if len(ordered) > MAX_TESTS:
        others = others[: max(0, MAX_TESTS - len(own))]

    def fastest_first(ids: list[str]) -> list[str]:
        return sorted(ids, key=lambda n: (took.get(n, 0.0), n))

    return fastest_first(own) + fastest_first(others)


def postgres_pass() -> bool:
    """Whether this is `make mutation`'s PostgreSQL pass, running a mutant or the clean run
    before the mutants (not mutmut's test listing or mapping, which must see every test)."""
    under_test = os.environ.get("MUTANT_UNDER_TEST")
    return os.environ.get("MUTATION_STAGE") == "postgresql" and (
        under_test == "" or mutant_under_test() is not None
    )


def copying_upgrade(upgrade: Callable[..., None], copy: Path) -> Callable[..., None]:
    """`upgrade` (tma.core.migrate's) that, for a SQLite database to migrate to head, copies
    `copy` when it exists, and otherwise migrates and leaves a copy there."""

    def copy_or_upgrade(database_url: str | None = None, revision: str = "head") -> None:
        url = make_url(database_url) if database_url else None
        if url is None or not url.drivername.startswith("sqlite") or revision != "head":
            upgrade(database_url, revision)
            return
        target = Path(str(url.database))
        if copy.exists():
            shutil.copyfile(copy, target)
            return
        upgrade(database_url, revision)
        partial = copy.with_name(f"{copy.name}.{os.getpid()}")
        source, written = sqlite3.connect(target), sqlite3.connect(partial)
        try:
            source.backup(written)
        finally:
            source.close()
            written.close()
        os.replace(partial, copy)  # whole or absent, with workers starting at once

    return copy_or_upgrade


def take_database_slot(url: str, slots: int, directory: Path) -> str:
    """The URL of a PostgreSQL database no other live worker uses: `<name>_1` ...
    `<name>_<slots>`, each held with a lock on a file in `directory` until this process
    exits."""
    for slot in range(1, slots + 1):
        handle = (directory / f"mutation-database-{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        parsed = make_url(url)
        return parsed.set(database=f"{parsed.database}_{slot}").render_as_string(
            hide_password=False
        )
    raise RuntimeError(f"all {slots} databases of the PostgreSQL pass are in use")


def pytest_configure(config: pytest.Config) -> None:
    """In a mutant's worker: on PostgreSQL, take a database of its own; on SQLite, copy the
    migrated schema, and collect only the tests `focus` keeps (collecting the files of
    ~1,250 tests to run 200 of them cost 0.8 s per mutant of a hot function)."""
    mutant = mutant_under_test()
    if mutant is None:
        return
    if os.environ.get("MUTATION_STAGE") == "postgresql":
        slots = int(os.environ.get("MUTATION_POSTGRES_JOBS", "1"))
        url = os.environ["TMA_TEST_DATABASE_URL"]
        os.environ["TMA_TEST_DATABASE_URL"] = take_database_slot(url, slots, Path.cwd())
        return
    migrate.upgrade = copying_upgrade(migrate.upgrade, Path.cwd() / SCHEMA_COPY)
    ids = list(config.args)
    if len(ids) > MAX_TESTS and all("::" in arg for arg in ids):
        config.args[:] = focus(mutant, ids)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mutant = mutant_under_test()
    if postgres_pass():
        # The SQLite pass ran the other tests against this mutant: here only the tests that
        # SQLite skips (`postgresql`), which are the reason for the pass; for a mutant, those
        # of its own area (the staged races first: they fail fastest).
        keep_items = [
            item
            for item in items
            if item.get_closest_marker("postgresql")
            and (mutant is None or item.nodeid.startswith(home(mutant)))
        ]
        keep_items.sort(key=lambda item: "test_lost_races" not in item.nodeid)
        if keep_items:
            kept_ids = {item.nodeid for item in keep_items}
            config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in kept_ids])
            items[:] = keep_items
        if mutant is not None:
            gc.freeze()
        return
    if mutant is None:
        return
    gc.freeze()
    by_id = {item.nodeid: item for item in items}
    keep = focus(mutant, list(by_id))
    kept = set(keep)
    dropped = [item for item in items if item.nodeid not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = [by_id[n] for n in keep]
