"""`make bench`: serve the backend on PostgreSQL, load it, print the table, save JSON and PNG.

Environment:
- `TMA_BENCH_DATABASE_URL`: default `postgresql+asyncpg://postgres@127.0.0.1:5432/tma_bench`
  (created if missing; its `public` schema is dropped and re-migrated on every run).
- `BENCH_SECONDS`: measured seconds per endpoint (default 6; each has a 1 s warm-up too).
- `BENCH_NS`: the sizes, default `10,100,1000`.

Run from the repository root: `python -m bench.run`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import loadgen, offline, report
from bench.plot import plot
from bench.seed import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    DEFAULT_URL,
    EVENTS_AFTER,
    EVENTS_LIMIT,
    Seeded,
    reset_database,
    seed,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
STATEMENT_SAMPLES = 5
CEILING_ROUNDS = 3  # alternations of the SELECT 1 ceiling with each ratio-target endpoint
FLOOD_PROBE_CONNECTIONS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One uvicorn process, one worker, on loopback, with the settings `tma serve` uses."""

    def __init__(self, factory: str, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TMA_DATABASE_URL": database_url,
            # The login line measures hashing throughput with 16 concurrent logins of one
            # account from one address: the brute-force limit (5 attempts in flight per
            # client and username) would answer most of them 429. Its own tests cover it.
            "TMA_LOGIN_MAX_FAILURES": "1000000",
            "TMA_LOGIN_CLIENT_MAX_FAILURES": "1000000",
        }
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                factory,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--no-server-header",
                "--app-dir",
                str(ROOT),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self._log.name}"
                )
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def drain(self, path: str, timeout: float = 120.0) -> None:
        """Wait until the server answers `path` quickly: requests a load generator gave up on
        are still being served after it stops, and must not slow the next measurement."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.base + path, timeout=timeout) as resp:  # noqa: S310
                    resp.read()
            except OSError:
                pass
            if time.perf_counter() - started < 0.05:
                return
            time.sleep(0.2)

    def memory_mb(self) -> dict[str, float]:
        """Peak (VmHWM) and current (VmRSS) resident memory of the server process."""
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


def endpoint_specs(seeded: Seeded, token: str) -> dict[str, dict[str, Any]]:
    """Method, path and body of every measured endpoint, all as the admin."""
    auth = {"Authorization": f"Bearer {token}"}
    login = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    return {
        "GET /api/groups": {"method": "GET", "path": "/api/groups", "headers": auth},
        "GET /api/courses": {"method": "GET", "path": "/api/courses", "headers": auth},
        "GET /api/users": {"method": "GET", "path": "/api/users", "headers": auth},
        "GET /api/groups/{id}": {
            "method": "GET",
            "path": f"/api/groups/{seeded.group_id}",
            "headers": auth,
        },
        "GET /api/courses/{id}": {
            "method": "GET",
            "path": f"/api/courses/{seeded.course_id}",
            "headers": auth,
        },
        # The same course detail in Spanish (bench.seed translates it and its modules):
        # issue 25's line, within 10 % of the one above (report.LANGUAGE_LINES).
        "GET /api/courses/{id} es": {
            "method": "GET",
            "path": f"/api/courses/{seeded.course_id}",
            "headers": {**auth, "Accept-Language": "es"},
        },
        "GET /api/modules/{id}": {
            "method": "GET",
            "path": f"/api/modules/{seeded.module_id}",
            "headers": auth,
        },
        "GET /api/posts?module_id": {
            "method": "GET",
            "path": f"/api/posts?module_id={seeded.module_id}",
            "headers": auth,
        },
        "GET /api/auth/me": {"method": "GET", "path": "/api/auth/me", "headers": auth},
        "GET /api/notifications": {
            "method": "GET",
            "path": "/api/notifications?limit=20",
            "headers": auth,
        },
        # Issue 26: a cursor page of the learning events (the admin reads every one).
        "GET /api/events": {
            "method": "GET",
            "path": f"/api/events?after={EVENTS_AFTER}&limit={EVENTS_LIMIT}",
            "headers": auth,
        },
        "POST /api/auth/login": {"method": "POST", "path": "/api/auth/login", "body": login},
        "POST /api/groups": {
            "method": "POST",
            "path": "/api/groups",
            "headers": auth,
            "body": {"name": "Bench group", "description": "made by the load"},
        },
    }


def statements_per_request(server: Server, spec: dict[str, Any]) -> float:
    """SQL statements the server sent per request, over a few sequential requests."""
    http("POST", server.base + "/__bench/reset")
    for _ in range(STATEMENT_SAMPLES):
        status, _ = http(
            spec["method"], server.base + spec["path"], spec.get("body"), spec.get("headers")
        )
        if not 200 <= status < 300:
            raise RuntimeError(f"{spec['method']} {spec['path']} answered {status}")
    _, stats = http("GET", server.base + "/__bench/stats")
    return round(float(stats["statements"]) / STATEMENT_SAMPLES, 2)


def load(
    server: Server, spec: dict[str, Any], seconds: float, idle_path: str, **kw: Any
) -> loadgen.LoadResult:
    """A warm-up second (discarded), then the measured run; the server drained around both."""
    body = json.dumps(spec["body"]) if "body" in spec else None
    args = {"method": spec["method"], "headers": spec.get("headers"), "body": body, **kw}
    server.drain(idle_path)
    loadgen.run_load(server.base + spec["path"], seconds=1, **args)
    server.drain(idle_path)
    result = loadgen.run_load(server.base + spec["path"], seconds=seconds, **args)
    server.drain(idle_path)
    return result


def hash_cost() -> dict[str, Any]:
    """The argon2id parameters the server uses (its default settings) and one hash's time."""
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    settings = Settings()
    hasher = PasswordHasher(settings)
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        hasher.hash_sync("a-benchmark-password")
    ms = (time.perf_counter() - started) * 1000 / runs
    return {
        "algorithm": "argon2id",
        "memory_kib": settings.password_hash_memory_kib,
        "time_cost": settings.password_hash_time_cost,
        "parallelism": settings.password_hash_parallelism,
        "ms_per_hash": round(ms, 2),
        "single_core_per_s": round(1000 / ms, 1),
        "workers": getattr(hasher, "workers", "anyio default (40)"),
    }


def measure_ceilings(url: str, seconds: float, log: Path) -> dict[str, Any]:
    """Both ceilings, through the product's stack and on a bare FastAPI app."""
    out: dict[str, Any] = {}
    for factory, prefix in (("create_ceiling_app", ""), ("create_bare_ceiling_app", "bare_")):
        server = Server(f"bench.ceilings:{factory}", url, log)
        try:
            server.wait_ready("/const")
            for key in ("const", "select1"):
                res = load(server, {"method": "GET", "path": f"/{key}"}, seconds, "/const")
                out[prefix + key] = res.as_dict()
                print(
                    f"  ceiling {prefix + key:<14}{res.rps:8.1f} req/s  p99 {res.p99_ms:6.1f} ms",
                    flush=True,
                )
        finally:
            server.stop()
    return out


def measure_n(
    url: str, n: int, seconds: float, log: Path, hashed: str, flood: bool
) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    async def _seed() -> Seeded:
        engine = create_async_engine(url)
        try:
            return await seed(engine, n, hashed)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    seeded = asyncio.run(_seed())
    print(
        f"N = {n}: seeded {seeded.users} users, {seeded.groups} groups, {seeded.courses} courses "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    server = Server("bench.server:create_bench_app", url, log)
    ceiling = Server("bench.ceilings:create_ceiling_app", url, log)
    try:
        server.wait_ready("/api/health")
        ceiling.wait_ready("/const")
        _, token = http(
            "POST",
            server.base + "/api/auth/login",
            {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        )
        specs = endpoint_specs(seeded, token["access_token"])
        statements = {name: statements_per_request(server, spec) for name, spec in specs.items()}
        endpoints: dict[str, Any] = {}
        after_users = 0.0
        for name in report.ENDPOINTS:
            res = load(server, specs[name], seconds, "/api/health")
            endpoints[name] = {**res.as_dict(), "statements": statements[name]}
            print(
                f"  {name:<24}{res.rps:9.1f} req/s  p50 {res.p50_ms:7.1f}  p99 {res.p99_ms:7.1f} ms"
                f"  stmts {statements[name]:g}  errors {res.errors}",
                flush=True,
            )
            if name == "GET /api/users":
                after_users = server.memory_mb()["VmHWM"]
        out: dict[str, Any] = {
            "n": n,
            "seeded": seeded.__dict__,
            "endpoints": endpoints,
            "paired": alternate_with_ceiling(ceiling, server, specs, seconds),
        }
        if flood:
            out["flood"] = login_flood(server, specs, seconds)
        mem = server.memory_mb()
        out["rss_mb"] = {"peak": mem["VmHWM"], "current": mem["VmRSS"], "after_users": after_users}
        return out
    finally:
        server.stop()
        ceiling.stop()


def alternate_with_ceiling(
    ceiling: Server, server: Server, specs: dict[str, Any], seconds: float
) -> dict[str, list[float]]:
    """The SELECT 1 ceiling and the endpoints held to a share of it, measured in turn,
    `CEILING_ROUNDS` times: a ratio of two runs minutes apart mostly measures how busy the
    machine was in each (consecutive ceiling runs differed by 1.5x here); alternating them
    and taking medians measures the endpoints."""
    out: dict[str, list[float]] = {"select1": []}
    for _ in range(CEILING_ROUNDS):
        res = load(ceiling, {"method": "GET", "path": "/select1"}, seconds, "/const")
        out["select1"].append(res.rps)
        for name in (*report.CEILING_ENDPOINTS, *report.LANGUAGE_LINES):
            res = load(server, specs[name], seconds, "/api/health")
            out.setdefault(name, []).append(res.rps)
    for name, values in out.items():
        print(f"  alternated {name:<21}" + " ".join(f"{v:8.1f}" for v in values), flush=True)
    return out


def login_flood(server: Server, specs: dict[str, Any], seconds: float) -> dict[str, Any]:
    """GET /api/auth/me latency while POST /api/auth/login floods the server."""
    login, me = specs["POST /api/auth/login"], specs["GET /api/auth/me"]
    flood = loadgen.start_load(
        server.base + login["path"],
        seconds=seconds + 2,
        method="POST",
        body=json.dumps(login["body"]),
    )
    time.sleep(1)  # let the flood fill the hashing threads first
    probe = loadgen.run_load(
        server.base + me["path"],
        seconds=seconds,
        headers=me["headers"],
        threads=1,
        connections=FLOOD_PROBE_CONNECTIONS,
    )
    flooded = loadgen.finish_load(flood, timeout=seconds + 60)
    print(
        f"  login flood: login {flooded.rps:.1f} req/s; me p50 {probe.p50_ms:.1f} ms "
        f"p99 {probe.p99_ms:.1f} ms",
        flush=True,
    )
    return {
        "login": {**flooded.as_dict(), "connections": loadgen.CONNECTIONS},
        "me": {**probe.as_dict(), "connections": FLOOD_PROBE_CONNECTIONS},
    }


def measure_progress(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """The quiz-and-progress lines (bench/progress.py), on their own data set."""
    from bench import progress

    return progress.measure(url, seconds, log, hashed)


def measure_dashboard(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """The provider's view (bench/dashboard.py): the dashboard's share of the SELECT 1
    ceiling and the CSV export's memory, on their own data set."""
    from bench import dashboard

    return dashboard.measure(url, seconds, log, hashed)


def measure_feed(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """The feed line (bench/feed.py, issue 25), on its own data set."""
    from bench import feed

    return feed.measure(url, seconds, log, hashed)


def measure_quizzes(url: str, seconds: float, log: Path, hashed: str) -> dict[str, Any]:
    """The quiz-engine lines (bench/quizzes.py), on their own data set."""
    from bench import quizzes

    return quizzes.measure(url, seconds, log, hashed)


def postgres_version(url: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def _v() -> str:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return str(await conn.scalar(text("SHOW server_version")))
        finally:
            await engine.dispose()

    return asyncio.run(_v())


def main() -> int:
    started = time.perf_counter()
    url = os.environ.get("TMA_BENCH_DATABASE_URL", DEFAULT_URL)
    seconds = float(os.environ.get("BENCH_SECONDS", "6"))
    if seconds < 2:
        raise SystemExit("BENCH_SECONDS must be at least 2")
    ns = [int(x) for x in os.environ.get("BENCH_NS", "10,100,1000").split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.gettempdir()) / "tma-bench-server.log"
    log.unlink(missing_ok=True)
    print(f"database: {url}")
    print(f"load generator: {loadgen.generator_name()}", flush=True)

    asyncio.run(reset_database(url))
    hashed_info = hash_cost()
    from tma.core.config import Settings
    from tma.core.security import PasswordHasher

    hashed = PasswordHasher(Settings()).hash_sync(ADMIN_PASSWORD)
    print("ceilings", flush=True)
    ceilings = measure_ceilings(url, seconds, log)
    runs = [measure_n(url, n, seconds, log, hashed, flood=(n == ns[-1])) for n in ns]
    flood = runs[-1].pop("flood")
    progress_block = measure_progress(url, seconds, log, hashed)
    print("offline (docs/offline.md)", flush=True)
    offline_block = offline.measure(url, seconds, log, hashed)
    quiz_block = measure_quizzes(url, seconds, log, hashed)
    dashboard_block = measure_dashboard(url, seconds, log, hashed)
    feed_block = measure_feed(url, seconds, log, hashed)
    flood["n"] = ns[-1]
    now = datetime.now(UTC)
    results: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%d"),
        "timestamp": now.isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": postgres_version(url),
        },
        "generator": loadgen.generator_name().split(" ")[0],
        "load": f"{loadgen.THREADS} threads, {loadgen.CONNECTIONS} connections, {seconds:g} s each",
        "hash": hashed_info,
        "ceilings": ceilings,
        "runs": runs,
        "flood": flood,
        "progress": progress_block,
        "offline": offline_block,
        "quizzes": quiz_block,
        "dashboard": dashboard_block,
        "feed": feed_block,
    }
    results["targets"] = [t.as_dict() for t in report.evaluate(results)]
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    stem = RESULTS / results["date"]
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, stem.with_suffix(".png"))
    print()
    print(report.table(results))
    print()
    offline_lines = offline.lines(offline_block)
    print("\n".join(offline_lines))
    print()
    json_path, png_path = stem.with_suffix(".json"), stem.with_suffix(".png")
    print(f"wrote {json_path.relative_to(ROOT)} and {png_path.relative_to(ROOT)}")
    print(f"total time {results['elapsed_s']:.0f} s")
    offline_ok = not any("MISSED" in line for line in offline_lines)
    return 0 if all(t["pass"] for t in results["targets"]) and offline_ok else 1


if __name__ == "__main__":
    sys.exit(main())
