"""The tests each mutant of `make mutation` runs (tests/README.md "Mutation testing").

Active only inside a mutmut worker (`MUTANT_UNDER_TEST` names a mutant); a normal run never
changes. mutmut runs, for each mutant, the tests that executed the mutated function, fastest
first, stopping at the first failure. Here:

- the tests of the mutated code's own area (`HOME`) run first, so a mutant they kill dies
  after one or two tests instead of after hundreds of unrelated fast ones;
- a function that more than `MAX_TESTS` tests execute (token verification, the caller
  lookup, `create_group`...: every test that logs in or builds a group) is tested by its
  area's tests plus the fastest others up to `MAX_TESTS`, not by all ~1,150: a surviving
  mutant there would otherwise cost a whole suite run;
- in the PostgreSQL pass (`MUTATION_STAGE=postgresql`), only the tests marked `postgresql`
  run: the SQLite pass ran the others against the same mutant;
- what the worker has imported is frozen out of the garbage collector (`gc.freeze()`): pytest
  collects garbage at the end of every session, and scanning the whole import graph again
  was half of the cost of a one-test session.

Within each part the order is the node ids' (mutmut hands them over as a set), so a run is
reproducible.
"""

import gc
import os

import pytest

MAX_TESTS = 200

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
        "tests/test_users",
        "tests/test_auth.py",  # GET /api/auth/me answers with the caller `find_caller` reads
        "tests/test_accounts",
        "tests/security/test_input_and_identity_threats",
        "tests/security/test_unique_index_fallbacks",
        "tests/security/test_lost_races",
    ),
    "groups": (
        "tests/test_group",
        "tests/security/test_concurrency",
        "tests/security/test_unique_index_fallbacks",
        "tests/security/test_lost_races",
    ),
    "courses": (
        "tests/test_course",
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
        "tests/security/test_content_access",
        "tests/security/test_posts_concurrency",
        "tests/security/test_lost_races",
        "tests/test_query_counts",
    ),
    "quizzes": (
        "tests/test_quizzes",
        "tests/security/test_quiz",
        "tests/security/test_lost_races",
        "tests/test_query_counts",
    ),
    "progress": (
        "tests/test_progress",
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


def focus(mutant: str, nodeids: list[str]) -> list[str]:
    """The node ids to run for `mutant`, in order: its area's tests first, then the others;
    at most `MAX_TESTS` unless its area alone has more."""
    home_ = home(mutant)
    ordered = sorted(nodeids)
    own = [n for n in ordered if n.startswith(home_)]
    others = [n for n in ordered if not n.startswith(home_)]
    if len(ordered) > MAX_TESTS:
        others = others[: max(0, MAX_TESTS - len(own))]
    return own + others


def postgres_pass() -> bool:
    """Whether this is `make mutation`'s PostgreSQL pass, running a mutant or the clean run
    before the mutants (not mutmut's test listing or mapping, which must see every test)."""
    under_test = os.environ.get("MUTANT_UNDER_TEST")
    return os.environ.get("MUTATION_STAGE") == "postgresql" and (
        under_test == "" or mutant_under_test() is not None
    )


def pytest_configure(config: pytest.Config) -> None:
    """In a mutant's worker (SQLite pass), collect only the tests `focus` keeps: collecting
    the files of ~1,250 tests to run 200 of them cost 0.8 s per mutant of a hot function."""
    mutant = mutant_under_test()
    if mutant is None or os.environ.get("MUTATION_STAGE") == "postgresql":
        return
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
