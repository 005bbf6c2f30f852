"""The pytest side: the options, the recorder's life over the session, the report at its end
(written, printed, and failing a full strict run that has flags)."""

from __future__ import annotations

import glob
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_contract_coverage.compare import build_report
from pytest_contract_coverage.contracts import display_path, load_contracts
from pytest_contract_coverage.model import CoverageReport, Flag
from pytest_contract_coverage.recording import (
    NO_TEST,
    PATCH_MARKER,
    Recorder,
    install_recorder,
    uninstall_recorder,
)
from pytest_contract_coverage.render import (
    ASCII_MARKS,
    UNICODE_MARKS,
    render_flags,
    render_incidental,
    render_json,
    render_markdown,
    render_matrix,
    render_untracked,
)
from pytest_contract_coverage.routes import app_endpoints, load_app, openapi_statuses

# The name the session plugin (or the silencer of a nested session) is registered under.
PLUGIN_NAME = "contract-coverage"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract-coverage", "contract coverage")
    group.addoption(
        "--no-contracts",
        action="store_true",
        default=False,
        help="disable the contract coverage plugin entirely",
    )
    group.addoption(
        "--contracts-strict",
        action="store_true",
        default=False,
        help="fail a full run when contract coverage has any flag (partial runs only report)",
    )
    group.addoption(
        "--contracts-ascii",
        action="store_true",
        default=False,
        help="use ASCII marks (+ . !) in the contract coverage matrix",
    )
    group.addoption(
        "--contracts-report",
        metavar="PATH",
        default=None,
        help="write the contract coverage matrix to PATH (Markdown, or JSON if PATH ends .json)",
    )
    parser.addini(
        "contracts_app",
        "import path 'module:attr' of the app (or zero-argument app factory) whose routes "
        "are checked against the contracts; the plugin is inactive when unset",
        default="",
    )
    parser.addini(
        "contracts_dir",
        "directory (relative to rootdir) holding the contract Markdown files",
        default="docs/contracts",
    )
    parser.addini(
        "contracts_strict",
        "fail full runs on any contract coverage flag (like --contracts-strict)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    app_spec = str(config.getini("contracts_app") or "").strip()
    inactive = (
        config.getoption("no_contracts", False)
        or hasattr(config, "workerinput")  # pytest-xdist worker: the controller reports
        or not app_spec
    )
    if inactive:
        if getattr(httpx.ASGITransport.handle_async_request, PATCH_MARKER, None) is not None:
            # A nested (pytester) session while an outer session records: keep this
            # session's requests out of the outer report.
            config.pluginmanager.register(_Silencer(), PLUGIN_NAME)
        return
    plugin = ContractCoveragePlugin(config, app_spec)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    install_recorder(plugin.recorder)


class _Silencer:
    """Discards the requests of an inactive nested session."""

    def __init__(self) -> None:
        self.recorder = Recorder(discard=True)
        install_recorder(self.recorder)

    def pytest_unconfigure(self) -> None:
        uninstall_recorder(self.recorder)


class ContractCoveragePlugin:
    def __init__(self, config: pytest.Config, app_spec: str) -> None:
        self.config = config
        self.app_spec = app_spec
        self.recorder = Recorder()
        self.deselected = 0
        self.started = 0
        self.report: CoverageReport | None = None
        self.report_error: str | None = None
        self.strict_failed = False

    # -- recording ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.started += 1
        self.recorder.flush()
        self.recorder.current = item.nodeid
        try:
            return (yield)
        finally:
            self.recorder.flush()
            self.recorder.current = NO_TEST

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_unconfigure(self) -> None:
        uninstall_recorder(self.recorder)

    # -- end of session ----------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.config.getoption("collectonly", False):
            return
        self.recorder.flush()
        self.report = self._build(session, exitstatus)
        path = self.config.getoption("contracts_report", None)
        if path:
            self._write_report(Path(path))
        strict = bool(self.config.getoption("contracts_strict", False)) or bool(
            self.config.getini("contracts_strict")
        )
        if strict and not self.report.partial and self.report.flags:
            self.strict_failed = True
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _build(self, session: pytest.Session, exitstatus: int) -> CoverageReport:
        rootpath = self.config.rootpath
        contracts_dir_ini = str(self.config.getini("contracts_dir") or "docs/contracts")
        contracts_dir = (rootpath / contracts_dir_ini).resolve()
        global_flags: list[Flag] = []
        app_routes: dict[str, str] = {}
        declared: dict[str, set[int]] | None = None
        try:
            app = self._load_app(rootpath)
            app_routes = app_endpoints(app)
        except Exception as exc:
            global_flags.append(
                Flag(
                    "config-error",
                    f"contracts_app = {self.app_spec}",
                    f"cannot load the app: {type(exc).__name__}: {exc}",
                )
            )
        else:
            try:
                declared = openapi_statuses(app)
            except Exception as exc:
                global_flags.append(
                    Flag(
                        "config-error",
                        f"contracts_app = {self.app_spec}",
                        f"cannot build its OpenAPI document: {type(exc).__name__}: {exc}",
                    )
                )
        contracts, contract_flags = load_contracts(contracts_dir, rootpath)
        global_flags.extend(contract_flags)
        produced = {
            key: {status: list(nodeids) for status, nodeids in statuses.items()}
            for key, statuses in self.recorder.produced.items()
        }
        received = {
            key: {status: list(nodeids) for status, nodeids in statuses.items()}
            for key, statuses in self.recorder.received.items()
        }
        return build_report(
            app_routes=app_routes,
            contracts=contracts,
            produced=produced,
            untracked=self.recorder.untracked,
            global_flags=global_flags,
            partial_reasons=self._partial_reasons(session, exitstatus),
            contracts_dir=display_path(contracts_dir, rootpath),
            request_counts=self.recorder.requests,
            received=received,
            declared=declared,
        )

    def _load_app(self, rootpath: Path) -> Any:
        try:
            return load_app(self.app_spec)
        except ModuleNotFoundError:
            root = str(rootpath)
            if root in sys.path:
                raise
            sys.path.insert(0, root)
            try:
                return load_app(self.app_spec)
            finally:
                if root in sys.path:
                    sys.path.remove(root)

    def _partial_reasons(self, session: pytest.Session, exitstatus: int) -> list[str]:
        config = self.config
        reasons: list[str] = []
        if config.getoption("keyword", ""):
            reasons.append("-k given")
        if config.getoption("markexpr", ""):
            reasons.append("-m given")
        if self.deselected:
            reasons.append(f"{self.deselected} tests deselected")
        if config.getoption("lf", False):
            reasons.append("--lf rerun")
        if config.getoption("stepwise", False):
            reasons.append("--stepwise run")
        selection = self._selection_reason()
        if selection:
            reasons.append(selection)
        if session.shouldfail or session.shouldstop or exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("session stopped early")
        elif self.started < len(getattr(session, "items", [])):
            reasons.append("not every collected test ran")
        if self.recorder.count == 0:
            reasons.append("no request recorded")
        return reasons

    def _selection_reason(self) -> str | None:
        """Explicit paths/node ids that do not cover the configured testpaths."""
        config = self.config
        rootpath = config.rootpath.resolve()
        invocation = Path(config.invocation_params.dir)
        if config.getoption("pyargs", False):
            return "--pyargs selection"
        run_paths: list[Path] = []
        for arg in config.args:
            if "::" in arg:
                return "node ids given"
            path = (invocation / arg).resolve()
            if not path.exists():
                return f"path argument {arg!r}"
            run_paths.append(path)
        full: list[Path] = []
        for pattern in config.getini("testpaths") or []:
            full.extend(
                Path(p).resolve() for p in glob.glob(str(rootpath / pattern), recursive=True)
            )
        if not full:
            full = [rootpath]
        for target in full:
            if not any(target == p or p in target.parents for p in run_paths):
                return "explicit paths narrower than testpaths"
        return None

    def _write_report(self, path: Path) -> None:
        if self.report is None:
            return
        target = path if path.is_absolute() else Path(self.config.invocation_params.dir) / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.suffix.lower() == ".json":
                target.write_text(render_json(self.report), encoding="utf-8")
            else:
                target.write_text(render_markdown(self.report, self._marks()), encoding="utf-8")
        except OSError as exc:
            self.report_error = f"cannot write {target}: {exc}"

    def _marks(self, stream: Any = None) -> dict[str, str]:
        if self.config.getoption("contracts_ascii", False):
            return ASCII_MARKS
        if stream is not None:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            try:
                "".join(UNICODE_MARKS.values()).encode(encoding)
            except (UnicodeEncodeError, LookupError):
                return ASCII_MARKS
        return UNICODE_MARKS

    # -- terminal ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report = self.report
        if report is None:
            return
        tr = terminalreporter
        quiet = self.config.get_verbosity() < 0
        if not quiet:
            stream = getattr(getattr(tr, "_tw", None), "_file", None)
            marks = self._marks(stream)
            tr.write_sep("=", "contract coverage")
            for line in render_matrix(report, marks):
                tr.write_line(line)
            if report.incidental_only:
                tr.write_line(render_incidental(report))
            if report.untracked:
                tr.write_line(render_untracked(report.untracked))
        if report.flags and (not quiet or self.strict_failed):
            tr.write_line("flags:")
            for line in render_flags(report.flags):
                tr.write_line("  " + line)
        if report.partial and not quiet:
            reasons = "; ".join(report.partial_reasons)
            tr.write_line(f"partial run ({reasons}): report only, strict mode never fails it")
        if self.report_error:
            tr.write_line(f"contract coverage: {self.report_error}", red=True)
        if self.strict_failed:
            tr.write_line(
                f"contract coverage: strict mode, {len(report.flags)} gaps fail the run", red=True
            )
            markup = {"red": True}
        elif report.flags:
            markup = {"yellow": True}
        else:
            markup = {"green": True}
        tr.write_line(report.summary_line(), **markup)
