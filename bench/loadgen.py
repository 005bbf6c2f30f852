"""HTTP load: wrk when installed, otherwise a small asyncio HTTP/1.1 keep-alive client.

Both return the same `LoadResult`. Every run is bounded in time and targets loopback only.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

THREADS = 2
CONNECTIONS = 16


@dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def generator_name() -> str:
    path = shutil.which("wrk")
    return f"wrk ({path})" if path else "python-asyncio (wrk not installed)"


def _lua(method: str, headers: dict[str, str], body: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    for key, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    lines.append(
        """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHJSON {\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"p50_us\\":%.0f,"
    .. "\\"p99_us\\":%.0f,\\"errors\\":%.0f}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""
    )
    return "\n".join(lines)


def run_load(
    url: str,
    *,
    seconds: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
) -> LoadResult:
    """Drive `url` for `seconds` with `connections` keep-alive connections."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if shutil.which("wrk"):
        return _run_wrk(url, seconds, method, headers, body, threads, connections)
    return asyncio.run(_run_python(url, seconds, method, headers, body, connections))


def start_load(
    url: str,
    *,
    seconds: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
) -> subprocess.Popen[str]:
    """Start a background load (used for the login flood); `finish_load` collects it."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    script = {
        "url": url,
        "seconds": seconds,
        "method": method,
        "headers": headers,
        "body": body,
        "threads": threads,
        "connections": connections,
    }
    code = (
        "import json,sys; from bench.loadgen import run_load; a=json.loads(sys.argv[1]); "
        "u=a.pop('url'); print(json.dumps(run_load(u, **a).as_dict()))"
    )
    import sys

    root = str(Path(__file__).resolve().parent.parent)
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(script)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )


def finish_load(proc: subprocess.Popen[str], timeout: float) -> LoadResult:
    out, _ = proc.communicate(timeout=timeout)
    return LoadResult(**json.loads(out.strip().splitlines()[-1]))


def _run_wrk(
    url: str,
    seconds: float,
    method: str,
    headers: dict[str, str],
    body: str | None,
    threads: int,
    connections: int,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_lua(method, headers, body))
        script = fh.name
    try:
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        Path(script).unlink(missing_ok=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCHJSON "))
    data = json.loads(line.removeprefix("BENCHJSON "))
    secs = data["duration_us"] / 1e6
    return LoadResult(
        requests=int(data["requests"]),
        seconds=round(secs, 3),
        rps=round(data["requests"] / secs, 1),
        p50_ms=round(data["p50_us"] / 1000, 2),
        p99_ms=round(data["p99_us"] / 1000, 2),
        errors=int(data["errors"]),
    )


# Builds the n-th request's extra headers and body (a load whose requests differ).
Vary = Callable[[int], tuple[dict[str, str], str | None]]


def run_varied_load(
    url: str,
    *,
    seconds: float,
    method: str,
    headers: dict[str, str],
    vary: Vary,
    connections: int = CONNECTIONS,
) -> LoadResult:
    """Like `run_load`, but each request's body and extra headers come from `vary(n)` (a
    fresh `Idempotency-Key`, fresh event ids): the asyncio client, whatever is installed."""
    headers = {**headers, "Content-Type": "application/json"}
    return asyncio.run(_run_python(url, seconds, method, headers, None, connections, vary))


def _request(
    method: str, path: str, host: str, port: int, headers: dict[str, str], body: str | None
) -> bytes:
    payload = (body or "").encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        head.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _run_python(
    url: str,
    seconds: float,
    method: str,
    headers: dict[str, str],
    body: str | None,
    connections: int,
    vary: Vary | None = None,
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = _request(method, path, host, port, headers, body)
    sent = 0
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors, sent
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                sent += 1
                if vary is None:
                    writer.write(request)
                else:
                    extra, varied = vary(sent)
                    writer.write(_request(method, path, host, port, {**headers, **extra}, varied))
                started = time.perf_counter()
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                code = int(status_line.split()[1]) if status_line else 0
                if not 200 <= code < 400:
                    errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2)

    return LoadResult(
        requests=len(latencies),
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=pct(50),
        p99_ms=pct(99),
        errors=errors,
    )
