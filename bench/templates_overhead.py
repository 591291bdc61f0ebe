"""What a template page costs in Zephyr: ``GET /table`` against its parts done by hand.

``GET /table`` renders ``bench/templates/table.html`` (a 20-row table) with
``render_template`` through the whole app, default security on. It is measured
against the sum of what it cannot avoid: Jinja2 rendering the same template with
the same data directly (``Environment.get_template(...).render(...)``), plus the
framework's cost of a request (``GET /json`` through the same app). The target is
a ratio of at most 1.2. Each round runs every variant in a fresh process,
interleaved, and the median per-request time is reported.

    .venv/bin/python bench/templates_overhead.py [--n 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zephyr import HTMLResponse, Zephyr, render_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates"
VARIANTS = ("table", "jinja", "json")
ROWS = [
    {"id": i, "name": f"User <{i}>", "email": f"user{i}@example.com", "score": i * 3.7,
     "active": i % 3 != 0}
    for i in range(1, 21)
]
# Every default security feature stays on; outside debug mode that needs a strong key.
BENCH_SECRET_KEY = "bench-only-secret-key-3f9a1c7e5b2d4086a9c1e7f3b5d2a4c6"  # noqa: S105


def build() -> Any:
    """The bench app (default security on) with ``GET /table`` added."""
    app = Zephyr(__name__, secret_key=BENCH_SECRET_KEY, root_path=TEMPLATES.parent)

    @app.get("/json")
    async def json_endpoint() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.get("/table")
    async def table() -> HTMLResponse:
        return render_template("table.html", title="Users", rows=ROWS)

    app._go_live()
    return app


def direct(env: Any, n: int) -> float:
    """Seconds per render of the same template by Jinja2 alone (autoescaped, cached)."""
    start = time.perf_counter()
    for _ in range(n):
        env.get_template("table.html").render(title="Users", rows=ROWS).encode()
    return (time.perf_counter() - start) / max(n, 1)


def worker(variant: str, n: int) -> None:
    if variant == "jinja":
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                 autoescape=jinja2.select_autoescape())
        direct(env, 200)  # warm up (and compile the template once)
        seconds = direct(env, n)
    else:
        from bench.security_overhead import drive_requests  # the same loop as that bench's

        app = build()
        asyncio.run(drive_requests(app, 200, "GET", f"/{variant}"))  # warm up
        seconds = asyncio.run(drive_requests(app, n, "GET", f"/{variant}"))
    print(json.dumps({"variant": variant, "seconds": seconds}))


def run_worker(variant: str, n: int) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    command = [sys.executable, __file__, "--worker", variant, "--n", str(n)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    seconds: float = json.loads(result.stdout)["seconds"]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--worker", choices=VARIANTS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n)
        return
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            times[variant].append(run_worker(variant, args.n))
    median = {v: statistics.median(t) * 1e6 for v, t in times.items()}
    labels = {"table": "GET /table (Zephyr)", "jinja": "Jinja2 render alone",
              "json": "GET /json (Zephyr)"}
    for variant, micros in median.items():
        print(f"{labels[variant]:>22}: {micros:9.1f} µs per request")
    ratio = median["table"] / (median["jinja"] + median["json"])
    print(f"{'ratio':>22}: {ratio:9.3f} (table / (jinja + json); target <= 1.2)")


if __name__ == "__main__":
    main()
