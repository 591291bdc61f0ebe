"""What the default security costs: the bench app as is, against itself bare.

"bare" is the same app with the request guard, the security headers, the
body timeout and the per-route checks removed after startup, so the ratio is
the price of the defaults: Host allow-list, header limits, framing checks,
security headers, the session hook and, on ``POST /echo`` (``csrf=False``),
the failure throttle and the body timeout. Each round runs every variant in
a fresh process, interleaved, and the median per-request time is reported.

    .venv/bin/python bench/security_overhead.py [--endpoint json|echo] [--n 20000] [--rounds 7]
    .venv/bin/python bench/security_overhead.py --instructions   # callgrind, deterministic
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(os.environ.get("PEER_BENCH", ROOT.parent / "shared" / "peer-bench"))
VARIANTS = ("secure", "bare")
SCOPE_HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
ECHO_BODY = json.dumps({"id": 1, "items": [{"sku": f"S{i}", "qty": i} for i in range(20)]})
# endpoint -> (method, path, body)
ENDPOINTS = {"json": ("GET", "/json", b""), "echo": ("POST", "/echo", ECHO_BODY.encode())}


def build(variant: str) -> Any:
    from bench.peer_app import build as build_app

    app = build_app()
    app._go_live()
    if variant == "bare":
        from zephyr.routing import RouteTable

        app.security = None  # no guard, no security headers
        table = app.router.table
        records = [  # each endpoint without its per-route checks and body timeout
            dataclasses.replace(record, endpoint=getattr(record.endpoint, "_endpoint",
                                                         record.endpoint),
                                limits=dataclasses.replace(record.limits, timeout=None))
            for record in table.records
        ]
        app.router.table = RouteTable(records, table.mounts)
    return app


def scope(endpoint: str) -> dict[str, Any]:
    method, path, body = ENDPOINTS[endpoint]
    return request_scope(method, path, body)


def request_scope(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    """The ASGI scope of a request to the bench app (a JSON body if ``body``)."""
    headers = SCOPE_HEADERS
    if body:
        headers = [*headers, (b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http",
            "method": method, "root_path": "", "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": headers, "state": {}}


async def drive(app: Any, n: int, endpoint: str = "json") -> float:
    """Seconds per request over ``n`` requests."""
    return await drive_requests(app, n, *ENDPOINTS[endpoint])


async def drive_requests(app: Any, n: int, method: str, path: str, body: bytes = b"") -> float:
    """Seconds per request over ``n`` requests ``method path`` (each must answer 200)."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    start = time.perf_counter()
    for i in range(n):
        await app(request_scope(method, path, body), receive, send)
        if i % 64 == 0:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    if n and set(sent) != {200}:
        raise SystemExit(f"unexpected statuses {sorted(set(sent))}")
    return elapsed / max(n, 1)


def worker(variant: str, n: int, endpoint: str) -> None:
    app = build(variant)
    asyncio.run(drive(app, 200, endpoint))  # warm up
    seconds = asyncio.run(drive(app, n, endpoint))
    print(json.dumps({"variant": variant, "seconds": seconds}))


def run_worker(variant: str, n: int, endpoint: str,
               *prefix: str) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT), str(ROOT / "src"), str(HARNESS)]  # the harness holds the route spec
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = [*prefix, sys.executable, __file__, "--worker", variant, "--n", str(n),
               "--endpoint", endpoint]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True)


def timed(n: int, rounds: int, endpoint: str) -> dict[str, float]:
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            times[variant].append(json.loads(run_worker(variant, n, endpoint).stdout)["seconds"])
    return {v: statistics.median(t) for v, t in times.items()}


def instructions(n: int, endpoint: str) -> dict[str, float]:
    """Instructions per request by callgrind: (runs with n requests - with 0) / n."""
    counts: dict[str, float] = {}
    for variant in VARIANTS:
        totals = []
        for requests in (0, n):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "callgrind.out"
                run_worker(variant, requests, endpoint, "valgrind", "--tool=callgrind",
                           f"--callgrind-out-file={out}")
                totals.append(_total(out.read_text()))
        counts[variant] = (totals[1] - totals[0]) / n
    return counts


def _total(report: str) -> int:
    for line in report.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="json")
    parser.add_argument("--worker", choices=VARIANTS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.endpoint)
        return
    if args.instructions:
        result, unit = instructions(min(args.n, 2000), args.endpoint), "instructions"
    else:
        result, unit = timed(args.n, args.rounds, args.endpoint), "µs"
        result = {v: s * 1e6 for v, s in result.items()}
    for variant, value in result.items():
        print(f"{variant:>6}: {value:10.1f} {unit} per request")
    method, path, _ = ENDPOINTS[args.endpoint]
    print(f" ratio: {result['secure'] / result['bare']:.3f} (secure / bare, {method} {path})")


if __name__ == "__main__":
    main()
