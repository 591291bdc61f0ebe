"""Static files: the in-process cost against ``GET /json``, and req/s under uvicorn + wrk.

In-process (the default): one Zephyr app (compression off, the default) serving
``GET /json`` and the 10 KB ``app.css`` of ``static_apps.make_files``, as a 200
and as a 304 (``If-None-Match`` hit). Each (round, request) runs in a fresh
process pinned to one core; the median time per request and the ratio to
``GET /json`` are printed. The target: each static request at most 2x ``/json``.

``--server``: ``GET /static/app.css`` under uvicorn (httptools, one worker, pinned
to core 0) loaded by wrk (pinned to core 1), Zephyr against Starlette's
``StaticFiles``, both without compression, rounds interleaved; median req/s and
the ratio to Starlette. Needs ``starlette`` and ``wrk``::

    .venv/bin/python bench/static_bench.py [--n 20000] [--rounds 5]
    .venv/bin/python bench/static_bench.py --instructions [--n 2000]   # callgrind, deterministic
    PYTHONPATH=src:. /path/to/scratch/venv/bin/python bench/static_bench.py --server [--rounds 3]

``--instructions`` counts CPU instructions per request with callgrind instead of
time (system calls are not counted: a stat costs nothing there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = ("json", "static_200", "static_304")
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http",
            "method": "GET", "root_path": "", "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": headers, "state": {}}


async def _drive(app: Any, scope: dict[str, Any], n: int, status: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    seen: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen.add(message["status"])

    start = time.perf_counter()
    for i in range(n):
        await app(dict(scope), receive, send)
        if i % 64 == 0:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    if n and seen != {status}:
        raise SystemExit(f"expected {status}, got {sorted(seen)}")
    return elapsed / max(n, 1)


def worker(request: str, n: int) -> None:
    from bench.static_apps import zephyr_app

    app = zephyr_app(compression=False)
    app._go_live()
    if request == "json":
        scope, status = _scope("/json", HEADERS), 200
    else:
        scope, status = _scope("/static/app.css", HEADERS), 200
        if request == "static_304":
            etag = _etag(app, scope)
            scope, status = _scope("/static/app.css", [*HEADERS, (b"if-none-match", etag)]), 304
    asyncio.run(_drive(app, scope, 500, status))  # warm up
    print(json.dumps({"request": request, "seconds": asyncio.run(_drive(app, scope, n, status))}))


def _etag(app: Any, scope: dict[str, Any]) -> bytes:
    headers: list[tuple[bytes, bytes]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers.extend(message["headers"])

    asyncio.run(app(dict(scope), receive, send))
    return dict(headers)[b"etag"]


def inproc(n: int, rounds: int, folder: Path) -> None:
    env = {**os.environ, "STATIC_BENCH_DIR": str(folder),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    times: dict[str, list[float]] = {request: [] for request in REQUESTS}
    for round_ in range(rounds):
        order = REQUESTS[round_ % 3:] + REQUESTS[:round_ % 3]  # drift hits every request
        for request in order:
            out = subprocess.run(["taskset", "-c", "0", sys.executable, __file__, "--worker",
                                  request, "--n", str(n)], env=env, capture_output=True,
                                 text=True, check=True).stdout
            times[request].append(json.loads(out)["seconds"])
    base = statistics.median(times["json"])
    print("| request | µs/request | x GET /json |\n|---|---|---|")
    for request in REQUESTS:
        median = statistics.median(times[request])
        print(f"| {request} | {median * 1e6:.2f} | {median / base:.2f} |")


def instructions(n: int, folder: Path) -> None:
    """Instructions per request by callgrind: (a run with n requests - one with 0) / n."""
    env = {**os.environ, "STATIC_BENCH_DIR": str(folder),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    counts: dict[str, float] = {}
    for request in REQUESTS:
        totals = []
        for requests in (0, n):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "callgrind.out"
                subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                sys.executable, __file__, "--worker", request, "--n",
                                str(requests)], env=env, capture_output=True, check=True)
                totals.append(_total(out.read_text()))
        counts[request] = (totals[1] - totals[0]) / n
    print("| request | instructions/request | x GET /json |\n|---|---|---|")
    for request in REQUESTS:
        print(f"| {request} | {counts[request]:,.0f} | {counts[request] / counts['json']:.2f} |")


def _total(report: str) -> int:
    for line in report.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def server(rounds: int, folder: Path, duration: int) -> None:
    apps = ("zephyr_plain", "starlette_plain")
    rates: dict[str, list[float]] = {app: [] for app in apps}
    env = {**os.environ, "STATIC_BENCH_DIR": str(folder)}
    for round_ in range(rounds):
        for app in apps[round_ % 2:] + apps[:round_ % 2]:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            process = subprocess.Popen(
                ["taskset", "-c", "0", sys.executable, "-m", "uvicorn",
                 f"bench.static_apps:{app}", "--port", str(port), "--http", "httptools",
                 "--no-access-log", "--log-level", "warning"], env=env)
            try:
                _wait_for(port)
                url = f"http://127.0.0.1:{port}/static/app.css"
                _wrk(url, 3)  # warm-up, discarded
                rates[app].append(_wrk(url, duration))
            finally:
                process.terminate()
                process.wait(10)
    base = statistics.median(rates["starlette_plain"])
    print("| app | req/s | x Starlette |\n|---|---|---|")
    for app in apps:
        median = statistics.median(rates[app])
        print(f"| {app} | {median:.0f} | {median / base:.2f} |")


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no server on port {port}")


def _wrk(url: str, seconds: int) -> float:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}s", url],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise SystemExit(f"wrk said:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="requests per in-process run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", action="store_true", help="uvicorn + wrk, against Starlette")
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--worker", choices=REQUESTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n)
        return
    from bench.static_apps import make_files

    folder = make_files(Path(tempfile.mkdtemp(prefix="static-bench-")))
    if args.server:
        server(args.rounds, folder, args.duration)
    elif args.instructions:
        instructions(args.n, folder)
    else:
        inproc(args.n, args.rounds, folder)


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    main()
