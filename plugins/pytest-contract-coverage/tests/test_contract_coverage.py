"""Tests of the contract coverage pytest plugin (``pytest_contract_coverage``).

Each scenario builds a tiny FastAPI project inside a ``pytester`` directory (app module,
contract Markdown, tests driving the app through ``httpx.ASGITransport``) and runs pytest
in-process with the plugin loaded.
"""

from __future__ import annotations

import json
from typing import Any

import fastapi
import httpx
import pytest
from starlette.routing import Match

from pytest_contract_coverage.contracts import parse_contract_text
from pytest_contract_coverage.recording import (
    Recorder,
    install_recorder,
    uninstall_recorder,
    watch_status_read,
)
from pytest_contract_coverage.routes import app_endpoints, resolve_route

PLUGIN = "pytest_contract_coverage"

APP = """
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel


def require_token(authorization: str | None = Header(default=None)) -> str:
    if authorization != "Bearer good":
        raise HTTPException(status_code=401, detail="missing or bad token")
    return authorization


class NewItem(BaseModel):
    name: str


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get(
        "/items/{item_id}",
        responses={401: {"description": "bad token"}, 404: {"description": "unknown"}},
    )
    def get_item(item_id: int, _: str = Depends(require_token)) -> dict[str, int]:
        if item_id > 100:
            raise HTTPException(status_code=404, detail="unknown item")
        return {"id": item_id}

    @app.post("/items", status_code=201, responses={409: {"description": "duplicate"}})
    def create_item(item: NewItem) -> dict[str, str]:
        if item.name == "dup":
            raise HTTPException(status_code=409, detail="duplicate")
        return {"name": item.name}

    return app
"""

CONTRACT = """# Items

Contracts of the sample app.

## GET /items/{item_id}

Read one item.

**Input**
- path `item_id`: integer
- header `Authorization: Bearer <token>`

**Behavior**
1. Check the token.
2. Load the item.

**Output**
- `200` the item: `{id}`

**Errors**
- `401` missing or bad token
- `404` unknown item
- `422` `item_id` not an integer

## POST /items

Create an item.

**Output**
- `201` the created item

**Errors**
- `409` duplicate name
- `422` invalid body
"""

HEADER = """
import httpx
import pytest

from sample_app import create_app

AUTH = {"Authorization": "Bearer good"}


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://test")
"""

GET_TESTS = """
@pytest.mark.asyncio
async def test_get_ok():
    async with client() as c:
        assert (await c.get("/items/1", headers=AUTH)).status_code == 200


@pytest.mark.asyncio
async def test_get_no_token():
    async with client() as c:
        assert (await c.get("/items/1")).status_code == 401


@pytest.mark.asyncio
async def test_get_bad_id():
    async with client() as c:
        assert (await c.get("/items/abc", headers=AUTH)).status_code == 422


@pytest.mark.asyncio
async def test_get_unknown():
    async with client() as c:
        assert (await c.get("/items/999", headers=AUTH)).status_code == 404
"""

POST_TESTS = """
@pytest.mark.asyncio
async def test_post_ok():
    async with client() as c:
        assert (await c.post("/items", json={"name": "a"})).status_code == 201


@pytest.mark.asyncio
async def test_post_invalid():
    async with client() as c:
        assert (await c.post("/items", json={})).status_code == 422


@pytest.mark.asyncio
async def test_post_duplicate():
    async with client() as c:
        assert (await c.post("/items", json={"name": "dup"})).status_code == 409
"""

INI = """
[pytest]
contracts_app = sample_app:create_app
contracts_dir = docs/contracts
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
{extra}
"""


def make_project(
    pytester: pytest.Pytester,
    *,
    contract: str | None = CONTRACT,
    tests: str = GET_TESTS + POST_TESTS,
    app: str = APP,
    extra_ini: str = "",
) -> None:
    """Write app, ini, contracts and tests into the pytester directory."""
    pytester.makeini(INI.format(extra=extra_ini))
    pytester.makepyfile(sample_app=app)
    pytester.makepyfile(test_items=HEADER + tests)
    contracts = pytester.mkdir("docs") / "contracts"
    contracts.mkdir()
    (contracts / "README.md").write_text("# Contracts\n\n## Not an endpoint\n", encoding="utf-8")
    if contract is not None:
        (contracts / "items.md").write_text(contract, encoding="utf-8")
    pytester.syspathinsert()


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", PLUGIN, "-p", "no:randomly", *args)


def run_json(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    result = run(pytester, "--contracts-report", "coverage.json", *args)
    report: dict[str, Any] = json.loads(
        (pytester.path / "coverage.json").read_text(encoding="utf-8")
    )
    return result, report


def flags_of(report: dict[str, Any], kind: str) -> list[dict[str, str]]:
    return [f for f in report["flags"] if f["kind"] == kind]


def endpoint(report: dict[str, Any], key: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [e for e in report["endpoints"] if e["endpoint"] == key]
    assert len(matches) == 1, report["endpoints"]
    return matches[0]


# -- complete setup / strict ------------------------------------------------------------------


def test_strict_complete_contracts_passes_with_zero_gaps(pytester: pytest.Pytester) -> None:
    """Every route documented, every documented status tested: strict passes, 0 gaps."""
    make_project(pytester)
    result = run(pytester, "--contracts-strict")
    result.assert_outcomes(passed=7)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["contract coverage: 2/2 endpoints complete, 0 gaps"])
    result.stdout.no_fnmatch_line("flags:")


def test_matrix_complete_contracts_prints_rows_and_tested_marks(pytester: pytest.Pytester) -> None:
    """The matrix has one row per endpoint (path, then method) and a column per status."""
    make_project(pytester)
    result = run(pytester)
    result.stdout.fnmatch_lines(
        [
            "*= contract coverage =*",
            "endpoint * 200 201 401 404 409 422",
            "POST   /items                ✓           ✓   ✓",
            "GET    /items/{item_id}  ✓       ✓   ✓       ✓",
        ]
    )


def test_matrix_ascii_option_uses_ascii_marks(pytester: pytest.Pytester) -> None:
    """``--contracts-ascii`` replaces ✓ · with + . in the matrix."""
    make_project(pytester, tests=GET_TESTS)
    result = run(pytester, "--contracts-ascii")
    result.stdout.fnmatch_lines(["POST   /items                .           .   ."])
    result.stdout.no_fnmatch_line("*✓*")


def test_strict_gaps_fail_run_and_name_endpoint(pytester: pytest.Pytester) -> None:
    """A full run with flags fails under ``--contracts-strict`` and names the endpoint."""
    make_project(pytester, tests=GET_TESTS)
    result = run(pytester, "--contracts-strict")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "flags:",
            "*no-success * POST /items: no test checked a 2xx/3xx status (documented: 201)",
            "contract coverage: strict mode, * gaps fail the run",
            "contract coverage: 1/2 endpoints complete, * gaps",
        ]
    )


def test_strict_ini_option_fails_run_with_gaps(pytester: pytest.Pytester) -> None:
    """``contracts_strict = true`` in the ini behaves like ``--contracts-strict``."""
    make_project(pytester, tests=GET_TESTS, extra_ini="contracts_strict = true")
    result = run(pytester, "-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*few-failures * POST /items: failure statuses tested: none*"])


def test_strict_quiet_run_prints_summary_line_only(pytester: pytest.Pytester) -> None:
    """``-q`` without strict failure prints the summary line but neither matrix nor flags."""
    make_project(pytester, tests=GET_TESTS)
    result = run(pytester, "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["contract coverage: 1/2 endpoints complete, * gaps"])
    result.stdout.no_fnmatch_line("*contract coverage =*")
    result.stdout.no_fnmatch_line("flags:")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("-k", "get"), id="keyword"),
        pytest.param(("-m", "not slow"), id="markexpr"),
        pytest.param(("test_items.py::test_get_ok",), id="node-id"),
        pytest.param(("-x",), id="stop-on-failure"),
    ],
)
def test_strict_partial_run_reports_without_failing(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    """Partial runs (-k, -m, node ids, -x stop) report only: strict never fails them."""
    failing = "\n\ndef test_zz_fails():\n    assert False\n" if "-x" in args else ""
    make_project(pytester, tests=GET_TESTS + failing)
    result = run(pytester, "--contracts-strict", *args)
    result.stdout.fnmatch_lines(
        ["contract coverage (partial run: report only): * endpoints complete, * gaps"]
    )
    result.stdout.fnmatch_lines(["partial run (*): report only, strict mode never fails it"])
    result.stdout.no_fnmatch_line("*gaps fail the run*")
    expected = pytest.ExitCode.TESTS_FAILED if failing else pytest.ExitCode.OK
    assert result.ret == expected


def test_strict_full_run_with_failing_test_still_reports(pytester: pytest.Pytester) -> None:
    """A full run with a failing test is not partial: strict reports, the run fails anyway."""
    failing = "\n\ndef test_fails():\n    assert False\n"
    make_project(pytester, tests=GET_TESTS + POST_TESTS + failing)
    result = run(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["contract coverage: 2/2 endpoints complete, 0 gaps"])


# -- flags ------------------------------------------------------------------------------------


def test_flag_no_contract_route_without_section_flagged(pytester: pytest.Pytester) -> None:
    """An app route with no contract section is flagged ``no-contract``."""
    contract = CONTRACT[: CONTRACT.index("## POST /items")]
    make_project(pytester, contract=contract)
    result, report = run_json(pytester)
    assert [f["subject"] for f in flags_of(report, "no-contract")] == ["POST /items"]
    assert endpoint(report, "POST /items")["documented"] == []
    result.stdout.fnmatch_lines(["*no-contract * POST /items: no '## POST /items' section*"])


def test_flag_no_route_section_without_route_flagged(pytester: pytest.Pytester) -> None:
    """A contract section for a route the app does not have is flagged ``no-route``."""
    extra = "\n## DELETE /items/{item_id}\n\n**Output**\n- `204` deleted\n"
    make_project(pytester, contract=CONTRACT + extra)
    result, report = run_json(pytester)
    assert [f["subject"] for f in flags_of(report, "no-route")] == ["DELETE /items/{item_id}"]
    assert endpoint(report, "DELETE /items/{item_id}")["in_app"] is False
    result.stdout.fnmatch_lines(["*no-route * DELETE /items/{item_id}: contract section at*"])


def test_flag_no_success_only_failures_tested_flagged(pytester: pytest.Pytester) -> None:
    """An endpoint whose tests produced only 4xx/5xx is flagged ``no-success``."""
    tests = GET_TESTS.replace("test_get_ok", "not_a_test") + POST_TESTS
    make_project(pytester, tests=tests)
    _, report = run_json(pytester)
    assert [f["subject"] for f in flags_of(report, "no-success")] == ["GET /items/{item_id}"]
    assert [f["subject"] for f in flags_of(report, "few-failures")] == []


def test_flag_few_failures_single_failure_status_flagged(pytester: pytest.Pytester) -> None:
    """An endpoint with fewer than two distinct failure statuses produced is flagged."""
    tests = GET_TESTS + POST_TESTS.replace("test_post_invalid", "not_a_test")
    tests = tests.replace("test_post_duplicate", "not_a_test_either")
    make_project(pytester, tests=tests)
    result, report = run_json(pytester)
    assert [f["subject"] for f in flags_of(report, "few-failures")] == ["POST /items"]
    result.stdout.fnmatch_lines(
        ["*few-failures * POST /items: failure statuses tested: none (need >= 2)"]
    )


def test_flag_few_failures_single_documented_failure_needs_one(
    pytester: pytest.Pytester,
) -> None:
    """When the contract documents only one failure status, testing that one is enough."""
    contract = CONTRACT.replace("- `409` duplicate name\n", "")
    tests = GET_TESTS + POST_TESTS.replace("test_post_duplicate", "not_a_test")
    app = APP.replace(', responses={409: {"description": "duplicate"}}', "")
    make_project(pytester, contract=contract, tests=tests, app=app)
    result = run(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["contract coverage: 2/2 endpoints complete, 0 gaps"])


def test_flag_untested_status_documented_not_produced_flagged(
    pytester: pytest.Pytester,
) -> None:
    """A documented status no test produced is flagged and shown as a gap mark."""
    make_project(pytester, tests=GET_TESTS.replace("test_get_unknown", "nope") + POST_TESTS)
    result, report = run_json(pytester)
    untested = flags_of(report, "untested-status")
    assert [(f["subject"], f["message"][:3]) for f in untested] == [("GET /items/{item_id}", "404")]
    result.stdout.fnmatch_lines(["GET    /items/{item_id}  ✓       ✓   ·       ✓"])


def test_flag_undocumented_status_produced_not_documented_flagged(
    pytester: pytest.Pytester,
) -> None:
    """A produced status missing from the contract is drift, naming the test that made it."""
    contract = CONTRACT.replace("- `404` unknown item\n", "")
    make_project(pytester, contract=contract)
    result, report = run_json(pytester)
    drift = flags_of(report, "undocumented-status")
    assert [f["subject"] for f in drift] == ["GET /items/{item_id}"]
    assert "404 produced by test_items.py::test_get_unknown" in drift[0]["message"]
    result.stdout.fnmatch_lines(["GET    /items/{item_id}  ✓       ✓   !       ✓"])


def test_flag_contract_format_problems_flagged_with_location(pytester: pytest.Pytester) -> None:
    """Malformed heading, section without Output, unbackticked status, duplicate: file:line."""
    broken = """# Broken

## FETCH /items

## GET /things

**Errors**
- `404` nothing

## POST /things

**Output**
- 201 created

## GET /items/{item_id}

**Output**
- `200` again
"""
    make_project(pytester)
    (pytester.path / "docs" / "contracts" / "zz_broken.md").write_text(broken, encoding="utf-8")
    result, report = run_json(pytester)
    found = {
        (f["subject"], f["message"].split(" ")[0]) for f in flags_of(report, "contract-format")
    }
    assert found == {
        ("docs/contracts/zz_broken.md:3", "malformed"),
        ("docs/contracts/zz_broken.md:5", "section"),
        ("docs/contracts/zz_broken.md:13", "status"),
        ("docs/contracts/zz_broken.md:10", "**Output**"),
        ("docs/contracts/zz_broken.md:15", "duplicate"),
    }
    result.stdout.fnmatch_lines(["*contract-format * docs/contracts/zz_broken.md:3: malformed*"])


def test_flag_config_error_unloadable_app_flagged(pytester: pytest.Pytester) -> None:
    """An app that cannot be imported is reported as ``config-error`` (and fails strict)."""
    make_project(pytester)
    pytester.makeini(INI.format(extra="").replace("sample_app:create_app", "sample_app:nope"))
    result = run(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*config-error * contracts_app = sample_app:nope: cannot load*"])


# -- recording --------------------------------------------------------------------------------


def test_recording_validation_and_auth_failures_use_route_template(
    pytester: pytest.Pytester,
) -> None:
    """422 (validation) and 401 (dependency) are recorded against ``/items/{item_id}``."""
    make_project(pytester, tests=GET_TESTS)
    _, report = run_json(pytester)
    produced = endpoint(report, "GET /items/{item_id}")["produced"]
    assert produced["422"] == ["test_items.py::test_get_bad_id"]
    assert produced["401"] == ["test_items.py::test_get_no_token"]
    assert not any("/items/abc" in key or "/items/1" in key for key in report["untracked"])


def test_recording_unknown_path_listed_as_untracked_not_flagged(
    pytester: pytest.Pytester,
) -> None:
    """Requests matching no route are listed as untracked, not flagged."""
    extra = """

@pytest.mark.asyncio
async def test_unknown_path():
    async with client() as c:
        assert (await c.get("/nowhere")).status_code == 404
        assert (await c.delete("/items/1")).status_code == 405
"""
    make_project(pytester, tests=GET_TESTS + POST_TESTS + extra)
    result, report = run_json(pytester, "--contracts-strict")
    assert report["untracked"] == {
        "DELETE /items/{item_id} (method not allowed)": {"405": 1},
        "GET /nowhere": {"404": 1},
    }
    assert report["flags"] == []
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["requests outside the contracted endpoints (not flagged): *"])


HEAD_APP = APP.replace(
    "    return app\n",
    """    @app.head("/items/{item_id}", include_in_schema=False)
    def head_item(item_id: int, _: str = Depends(require_token)) -> None:
        if item_id > 100:
            raise HTTPException(status_code=404, detail="unknown item")
        if item_id == 50:
            raise HTTPException(status_code=409, detail="not in GET's contract")

    return app
""",
)


def test_recording_head_counted_under_the_paths_get_section(pytester: pytest.Pytester) -> None:
    """A HEAD a route serves is counted under its path's GET section: its statuses credit
    GET's, one GET's contract lacks is drift there; a HEAD no route serves is untracked."""
    extra = """

@pytest.mark.asyncio
async def test_head_unknown():
    async with client() as c:
        assert (await c.head("/items/999", headers=AUTH)).status_code == 404


@pytest.mark.asyncio
async def test_head_conflict():
    async with client() as c:
        assert (await c.head("/items/50", headers=AUTH)).status_code == 409
        assert (await c.head("/items")).status_code == 405
"""
    tests = GET_TESTS.replace('(await c.get("/items/999", headers=AUTH)).status_code', "404")
    make_project(pytester, app=HEAD_APP, tests=tests + POST_TESTS + extra)
    _, report = run_json(pytester)
    produced = endpoint(report, "GET /items/{item_id}")["produced"]
    assert produced["404"] == ["test_items.py::test_head_unknown"]
    assert produced["409"] == ["test_items.py::test_head_conflict"]
    assert not any(e["endpoint"].startswith("HEAD") for e in report["endpoints"])
    assert report["untracked"] == {"HEAD /items (method not allowed)": {"405": 1}}
    drift = flags_of(report, "undocumented-status")
    assert [f["subject"] for f in drift] == ["GET /items/{item_id}"]


def test_recording_patch_restored_after_run(pytester: pytest.Pytester) -> None:
    """The transport wrapper of an inner run is removed at unconfigure."""
    before = httpx.ASGITransport.handle_async_request
    make_project(pytester, tests=GET_TESTS)
    run(pytester)
    assert httpx.ASGITransport.handle_async_request is before


@pytest.mark.parametrize(
    "args",
    [pytest.param((), id="active"), pytest.param(("--no-contracts",), id="disabled")],
)
def test_recording_nested_session_requests_kept_from_outer_session(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    """Requests of a nested in-process run never reach the recorder of the outer run."""
    outer = Recorder()
    install_recorder(outer)
    try:
        make_project(pytester, tests=GET_TESTS)
        run(pytester, *args).assert_outcomes(passed=4)
    finally:
        uninstall_recorder(outer)
    assert outer.count == 0


# -- counting only what a test checked ---------------------------------------------------------

GET_TESTS_WITHOUT_SUCCESS = GET_TESTS.replace("async def test_get_ok", "async def not_a_test")

POST_WITH_READ_BACK = POST_TESTS.replace(
    """        assert (await c.post("/items", json={"name": "a"})).status_code == 201
""",
    """        assert (await c.post("/items", json={"name": "a"})).status_code == 201
        read_back = await c.get("/items/1", headers=AUTH)
        assert read_back.json() == {"id": 1}
""",
)


def test_checked_read_back_in_other_endpoints_test_success_flagged(
    pytester: pytest.Pytester,
) -> None:
    """A 200 produced only by a read-back (body compared, status never read) in the test of
    another endpoint credits nothing: the 200 is untested, named as incidental, strict fails."""
    make_project(pytester, tests=GET_TESTS_WITHOUT_SUCCESS + POST_WITH_READ_BACK)
    result, report = run_json(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    get = endpoint(report, "GET /items/{item_id}")
    assert "200" not in get["produced"]
    assert get["incidental"] == {"200": ["test_items.py::test_post_ok"]}
    assert [(f["kind"], f["message"]) for f in get["flags"]] == [
        (
            "no-success",
            "no test checked a 2xx/3xx status (documented: 200); 200 received but its status "
            "never read",
        ),
        (
            "untested-status",
            "200 documented, only received incidentally by test_items.py::test_post_ok "
            "(no test read the status)",
        ),
    ]
    result.stdout.fnmatch_lines(
        [
            "GET    /items/{item_id}  ~       ✓   ✓       ✓",
            "statuses received only incidentally (status never read, not credited): 1: "
            "GET /items/{item_id} 200 (test_items.py::test_post_ok)",
        ]
    )


def test_checked_unread_get_inside_404_test_success_flagged(pytester: pytest.Pytester) -> None:
    """With every success test of an endpoint gone, one unchecked GET inside its 404 test no
    longer keeps strict coverage complete."""
    tests = GET_TESTS_WITHOUT_SUCCESS.replace(
        """        assert (await c.get("/items/999", headers=AUTH)).status_code == 404
""",
        """        await c.get("/items/1", headers=AUTH)
        assert (await c.get("/items/999", headers=AUTH)).status_code == 404
""",
    )
    make_project(pytester, tests=tests + POST_TESTS)
    result, report = run_json(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    get = endpoint(report, "GET /items/{item_id}")
    assert get["incidental"] == {"200": ["test_items.py::test_get_unknown"]}
    assert get["produced"]["404"] == ["test_items.py::test_get_unknown"]
    assert {f["kind"] for f in get["flags"]} == {"no-success", "untested-status"}
    result.stdout.fnmatch_lines(["contract coverage: 1/2 endpoints complete, 2 gaps"])


def test_checked_status_read_in_helper_function_credited(pytester: pytest.Pytester) -> None:
    """Reading ``status_code`` in a helper of the test module (``expect(response, 200)``)
    counts: the status is credited and strict passes."""
    helper = """

def expect(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
"""
    tests = GET_TESTS.replace(
        """        assert (await c.get("/items/1", headers=AUTH)).status_code == 200
""",
        """        expect(await c.get("/items/1", headers=AUTH), 200)
""",
    )
    make_project(pytester, tests=helper + tests + POST_TESTS)
    result, report = run_json(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.OK
    assert endpoint(report, "GET /items/{item_id}")["produced"]["200"] == [
        "test_items.py::test_get_ok"
    ]
    assert report["flags"] == []


def test_checked_reads_made_by_httpx_itself_not_credited(pytester: pytest.Pytester) -> None:
    """``repr(response)``, ``is_success`` and ``raise_for_status()`` read the status inside
    httpx, not in the test: they credit nothing."""
    tests = GET_TESTS.replace(
        """        assert (await c.get("/items/1", headers=AUTH)).status_code == 200
""",
        """        response = await c.get("/items/1", headers=AUTH)
        assert "200" in repr(response)
        assert response.is_success
        response.raise_for_status()
""",
    )
    make_project(pytester, tests=tests + POST_TESTS)
    result, report = run_json(pytester, "--contracts-strict")
    result.assert_outcomes(passed=7)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert endpoint(report, "GET /items/{item_id}")["incidental"] == {
        "200": ["test_items.py::test_get_ok"]
    }


def test_checked_unread_undocumented_status_still_drift(pytester: pytest.Pytester) -> None:
    """A status the contract lacks is drift even when no test read it: the app produced it."""
    contract = CONTRACT.replace("- `404` unknown item\n", "")
    tests = GET_TESTS.replace(
        """        assert (await c.get("/items/999", headers=AUTH)).status_code == 404
""",
        """        unread = await c.get("/items/999", headers=AUTH)
        assert unread.json() == {"detail": "unknown item"}
""",
    )
    make_project(pytester, contract=contract, tests=tests + POST_TESTS)
    _, report = run_json(pytester)
    drift = flags_of(report, "undocumented-status")
    assert [(f["subject"], f["message"]) for f in drift] == [
        (
            "GET /items/{item_id}",
            "404 produced by test_items.py::test_get_unknown, not in the contract",
        )
    ]


def test_checked_watched_response_still_an_httpx_response() -> None:
    """The watched response keeps its type, value and assignability; only test-code reads
    mark it."""
    response = httpx.Response(204)
    mark = watch_status_read(response)
    assert isinstance(response, httpx.Response)
    assert mark.read is False
    assert response.is_success is True
    assert mark.read is False
    assert response.status_code == 204
    assert mark.read is True
    response.status_code = 200
    assert response.status_code == 200


# -- contract and OpenAPI say the same thing -------------------------------------------------


def test_openapi_declaring_status_contract_lacks_flagged(pytester: pytest.Pytester) -> None:
    """An OpenAPI operation declaring a status its contract does not list is flagged
    ``openapi-mismatch`` and fails a strict run, although every test passes."""
    app = APP.replace(
        '404: {"description": "unknown"}}',
        '404: {"description": "unknown"}, 410: {"description": "gone"}}',
    )
    make_project(pytester, app=app)
    result, report = run_json(pytester, "--contracts-strict")
    result.assert_outcomes(passed=7)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(f["subject"], f["message"]) for f in flags_of(report, "openapi-mismatch")] == [
        ("GET /items/{item_id}", "OpenAPI declares 410, the contract does not list it")
    ]
    assert endpoint(report, "GET /items/{item_id}")["declared"] == [200, 401, 404, 410, 422]
    result.stdout.fnmatch_lines(
        ["*openapi-mismatch * GET /items/{item_id}: OpenAPI declares 410, the contract does not*"]
    )


def test_openapi_contract_status_not_declared_flagged(pytester: pytest.Pytester) -> None:
    """A contract status its OpenAPI operation does not declare is flagged too."""
    app = APP.replace(', responses={409: {"description": "duplicate"}}', "")
    make_project(pytester, app=app)
    result, report = run_json(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(f["subject"], f["message"]) for f in report["flags"]] == [
        ("POST /items", "the contract lists 409, the OpenAPI operation does not declare it")
    ]


def test_openapi_plain_starlette_app_not_compared(pytester: pytest.Pytester) -> None:
    """An app without an OpenAPI document has nothing to compare: no mismatch flag."""
    app = (
        APP
        + """

from starlette.applications import Starlette


def plain_app() -> Starlette:
    return Starlette(routes=create_app().routes)
"""
    )
    make_project(pytester, app=app)
    pytester.makeini(INI.format(extra="").replace("sample_app:create_app", "sample_app:plain_app"))
    _, report = run_json(pytester)
    assert flags_of(report, "openapi-mismatch") == []
    assert endpoint(report, "GET /items/{item_id}")["declared"] is None


# -- reports and switches -----------------------------------------------------------------


def test_report_json_written_with_endpoints_flags_and_summary(pytester: pytest.Pytester) -> None:
    """``--contracts-report x.json`` writes endpoints, produced statuses, flags and summary."""
    make_project(pytester, tests=GET_TESTS)
    _, report = run_json(pytester)
    get = endpoint(report, "GET /items/{item_id}")
    assert get["documented"] == [200, 401, 404, 422]
    assert get["produced"] == {
        "200": ["test_items.py::test_get_ok"],
        "401": ["test_items.py::test_get_no_token"],
        "404": ["test_items.py::test_get_unknown"],
        "422": ["test_items.py::test_get_bad_id"],
    }
    assert get["flags"] == []
    post = endpoint(report, "POST /items")
    assert {f["kind"] for f in post["flags"]} == {"no-success", "few-failures", "untested-status"}
    assert len(report["flags"]) == 5
    assert report["summary"] == "contract coverage: 1/2 endpoints complete, 5 gaps"
    assert report["partial"] is False


def test_report_markdown_written_with_table_flags_and_summary(pytester: pytest.Pytester) -> None:
    """``--contracts-report x.md`` writes a Markdown table, the flags and the summary line."""
    make_project(pytester, tests=GET_TESTS)
    run(pytester, "--contracts-report", "out/coverage.md", "-k", "get")
    text = (pytester.path / "out" / "coverage.md").read_text(encoding="utf-8")
    assert "| Endpoint | 200 | 201 | 401 | 404 | 409 | 422 |" in text
    assert "| `GET /items/{item_id}` | ✓ |  | ✓ | ✓ |  | ✓ |" in text
    assert "| `POST /items` |  | · |  |  | · | · |" in text
    assert "- `no-success` `POST /items`: no test checked a 2xx/3xx status" in text
    assert "contract coverage (partial run: report only): 1/2 endpoints complete, 5 gaps" in text


def test_switch_no_contracts_option_silences_plugin(pytester: pytest.Pytester) -> None:
    """``--no-contracts`` disables recording, output and strict failure."""
    make_project(pytester, tests=GET_TESTS)
    result = run(pytester, "--no-contracts", "--contracts-strict")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*contract coverage*")


def test_switch_without_contracts_app_plugin_inactive(pytester: pytest.Pytester) -> None:
    """Without ``contracts_app`` in the ini the plugin stays silent."""
    make_project(pytester, tests=GET_TESTS)
    pytester.makeini(INI.format(extra="").replace("contracts_app = sample_app:create_app", ""))
    result = run(pytester, "--contracts-strict")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*contract coverage*")


# -- building blocks (no pytester) -------------------------------------------------------------


def test_parser_statuses_from_output_and_errors_only_collected() -> None:
    """Statuses come from top-level items of Output/Errors; other blocks and fences ignored."""
    text = """# T

## GET /health/{part:path}

**Input**
- `400` not a status here

**Output**
- `200` healthy
  - `299` nested item ignored
- plain item ignored

```
## not a heading
```

**Errors**
- `503` database down
"""
    sections, flags = parse_contract_text(text, "t.md")
    assert flags == []
    assert [(s.key, sorted(s.statuses)) for s in sections] == [("GET /health/{part}", [200, 503])]


def test_resolver_mounted_sub_app_template_prefixed() -> None:
    """Routes of a mounted sub-app resolve to the mount path plus the route template."""
    sub = fastapi.FastAPI()
    sub.add_api_route("/things/{thing_id}", lambda thing_id: thing_id, methods=["GET"])
    app = fastapi.FastAPI()
    app.mount("/v2", sub)
    assert resolve_route(app, "GET", "/v2/things/7") == (Match.FULL, "GET /v2/things/{thing_id}")
    assert resolve_route(app, "GET", "/v3/x") == (Match.NONE, "GET /v3/x")


def test_resolver_included_router_template_with_prefix() -> None:
    """Routes of an included router resolve with the router prefix; 405 is a PARTIAL match."""
    router = fastapi.APIRouter(prefix="/api")
    router.add_api_route("/groups/{group_id}", lambda group_id: group_id, methods=["PATCH"])
    app = fastapi.FastAPI()
    app.include_router(router)
    assert resolve_route(app, "PATCH", "/api/groups/3") == (
        Match.FULL,
        "PATCH /api/groups/{group_id}",
    )
    assert resolve_route(app, "GET", "/api/groups/3")[0] is Match.PARTIAL


def test_app_endpoints_schema_routes_only_one_per_method() -> None:
    """Only schema-visible FastAPI routes count; a multi-method route gives one row each."""
    hidden = fastapi.APIRouter()
    hidden.add_api_route("/internal", lambda: None, methods=["GET"])
    app = fastapi.FastAPI()
    app.add_api_route("/things/{thing_id:int}", lambda thing_id: None, methods=["PUT", "PATCH"])
    app.add_api_route("/secret", lambda: None, methods=["GET"], include_in_schema=False)
    app.include_router(hidden, include_in_schema=False)
    assert app_endpoints(app) == {
        "PATCH /things/{thing_id}": "/things/{thing_id}",
        "PUT /things/{thing_id}": "/things/{thing_id}",
    }
