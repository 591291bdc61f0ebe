"""Instructions per request, counted by callgrind: Zephyr's bench apps beside raw_orjson.

Counts CPU instructions (deterministic, unlike time) for the apps of ``bench/peer_app.py``
on the shared harness's three endpoints (``../shared/peer-bench``: ``GET /json``, the
``GET /users/42/posts/hello-world`` target route, ``POST /echo``). Each app runs in a worker
process with the harness's own scope, receive and send, after the harness's lifespan
startup, yielding to the loop every 64 calls as the harness does. The worker runs under
``valgrind --tool=callgrind`` once with no counted calls and once per endpoint with n of
them; (total_n - total_0) / n is the count per request, so imports, startup, the response
check and the warm-up cancel out. The harness's raw ASGI app ``raw_orjson`` is counted the
same way as the yardstick (``x raw_orjson``).

The same inputs give the same count to the instruction. Anything that changes what is
allocated at startup (the source of a tree, this script, the environment) moves the heap,
and with it hashing by id and the reuse of memory pools: the same tree counted up to 1.5 %
apart after such a change, so read differences below that as noise. Two copies of one tree
count alike to the instruction in one run.

``--src DIR`` (repeatable; default: this checkout) puts ``DIR/src`` first on the worker's
PYTHONPATH, while the bench app is always this checkout's, so two Zephyr trees (before and
after a change) are compared in one run::

    .venv/bin/python bench/instructions.py
    .venv/bin/python bench/instructions.py --src . --src /tmp/zephyr-base --endpoints json
    .venv/bin/python bench/instructions.py --apps app --n 1000

The workers use the interpreter that runs this script. ``.venv`` has Zephyr's dependencies
but not orjson, which ``raw_orjson`` needs: ``.venv/bin/pip install orjson`` once (Zephyr does
not use it). A tree for "before" is a worktree outside the repository:
``git worktree add /tmp/zephyr-base HEAD``. Each callgrind run takes about ten seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(os.environ.get("PEER_BENCH", ROOT.parent / "shared" / "peer-bench"))
sys.path.insert(0, str(HARNESS))  # the harness's endpoint specs, app registry and ASGI helpers

from apps.spec import ENDPOINTS  # noqa: E402
from common import BUILTIN_FRAMEWORKS, check_response, load_app  # noqa: E402
from inproc import (  # noqa: E402
    YIELD_EVERY,
    Receive,
    call_once,
    discard,
    lifespan_startup,
    make_scope,
)

BASELINE = "raw_orjson"
APPS_MODULE = "bench.peer_app"
WARMUP = 500  # uncounted calls per endpoint first: caches and the interpreter's specialisation


@dataclass(frozen=True)
class Subject:
    """One row of the table: an ASGI app, and the Zephyr ``src/`` it imports (None: the yardstick).

    ``src`` is a symlink of the same length for every tree: the path lands in ``sys.path``,
    the environment and every module's ``__file__``, and a path of another length shifts
    every later allocation, which moved the count of two copies of one tree 0.4 % apart.
    """

    tree: str
    app: str
    target: str
    src: Path | None


# -- the worker: one process, counted under callgrind ---------------------------------------


async def call_many(app: Any, endpoint: str, n: int) -> None:
    """``n`` calls to one endpoint, made as the harness's ``time_endpoint`` loop makes them."""
    method, path, body, _ = ENDPOINTS[endpoint]
    base = make_scope(method, path, body)
    request_body = body or b""
    for i in range(n):
        scope = base.copy()
        scope["state"] = {}
        await app(scope, Receive(request_body), discard)
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)


async def serve(target: str, endpoints: list[str], counted: str | None,
                n: int) -> dict[str, list[str]]:
    """Start the app, check and warm up each endpoint, call ``counted`` n times; the problems."""
    app = load_app(target)
    shutdown = await lifespan_startup(app)
    problems: dict[str, list[str]] = {}
    try:
        for endpoint in endpoints:
            status, content_type, body, _ = await call_once(app, endpoint)
            problems[endpoint] = check_response(endpoint, status, content_type, body)
            await call_many(app, endpoint, WARMUP)
            await call_many(app, endpoint, n if endpoint == counted else 0)
    finally:
        await shutdown()
    return problems


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as the harness's workers use."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def worker(target: str, endpoints: list[str], counted: str | None, n: int) -> None:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        problems = runner.run(serve(target, endpoints, counted, n))
    zephyr = sys.modules.get("zephyr")
    print(json.dumps({"problems": problems, "zephyr": getattr(zephyr, "__file__", None)}))


# -- the driver: callgrind runs and the table -----------------------------------------------


def run_worker(subject: Subject, endpoints: list[str], counted: str | None, n: int,
               *prefix: str) -> dict[str, Any]:
    """Run one worker (under ``prefix``, e.g. valgrind) and return what it reported."""
    paths = [str(ROOT), str(HARNESS)]
    if subject.src is not None:
        paths.insert(0, str(subject.src))
    # The same inputs give the same count, so the runs with and without the counted calls
    # differ by those calls only: a fixed hash seed, and no PWD (the caller's directory).
    env = {name: value for name, value in os.environ.items() if name not in ("PWD", "OLDPWD")}
    env |= {"PYTHONPATH": os.pathsep.join(paths), "PYTHONHASHSEED": "0"}
    command = [*prefix, sys.executable, __file__, "--worker", subject.target, "--n", str(n),
               "--endpoints", *endpoints]
    if counted is not None:
        command += ["--counted", counted]
    proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{subject.tree} {subject.app}: worker failed:\n{proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def callgrind_total(subject: Subject, endpoints: list[str], counted: str | None, n: int) -> int:
    """Instructions executed by one worker run, from callgrind's totals line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run_worker(subject, endpoints, counted, n,
                   "valgrind", "-q", "--tool=callgrind", f"--callgrind-out-file={out}")
        report = out.read_text()
    for line in report.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def preflight(subject: Subject, endpoints: list[str]) -> None:
    """A quick run without valgrind: stop when it fails or imports another tree's Zephyr,
    and note responses off the spec (they are counted anyway, as the harness measures them)."""
    report = run_worker(subject, endpoints, None, 0)
    if subject.src is not None:
        imported = Path(report["zephyr"] or "").resolve()
        if not imported.is_relative_to(subject.src.resolve()):
            raise SystemExit(f"{subject.tree}: the worker imported zephyr from {imported}, "
                             f"not from {subject.src.resolve()}; is it installed non-editable?")
    for endpoint, problems in report["problems"].items():
        if problems:
            print(f"  note: {subject.tree} {subject.app} {endpoint} is off the spec: "
                  f"{', '.join(problems)} (counted anyway)", flush=True)


def count(subject: Subject, endpoints: list[str], n: int) -> dict[str, float]:
    """Instructions per request on each endpoint: (run with n calls - run with none) / n."""
    base = callgrind_total(subject, endpoints, None, n)
    per_request = {}
    for endpoint in endpoints:
        per_request[endpoint] = (callgrind_total(subject, endpoints, endpoint, n) - base) / n
        print(f"  {subject.tree:>12} {subject.app:<10} {endpoint:<5} "
              f"{per_request[endpoint] / 1000:8.1f}k instructions/request", flush=True)
    return per_request


def tree_labels(sources: list[Path]) -> dict[Path, str]:
    """A short name per tree: its folder name, or its path when two folders share a name."""
    names = [source.name for source in sources]
    return {source: source.name if names.count(source.name) == 1 else str(source)
            for source in sources}


def describe(source: Path) -> str:
    proc = subprocess.run(["git", "-C", str(source), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "not a git checkout"


def render(results: dict[Subject, dict[str, float]], endpoints: list[str]) -> str:
    """Instructions per request (k) and x raw_orjson; then each later tree / the first."""
    yardstick = next(counts for subject, counts in results.items() if subject.src is None)
    lines = ["| tree | app | " + " | ".join(endpoints) + " |",
             "|---|---|" + "---:|" * len(endpoints)]
    for subject, counts in results.items():
        cells = [f"{counts[e] / 1000:.1f}k ({counts[e] / yardstick[e]:.2f}x)"
                 for e in endpoints]
        lines.append(f"| {subject.tree} | {subject.app} | " + " | ".join(cells) + " |")
    trees = list(dict.fromkeys(s.tree for s in results if s.src is not None))
    if len(trees) > 1:
        by_key = {(s.tree, s.app): counts for s, counts in results.items()}
        apps = list(dict.fromkeys(s.app for s in results if s.src is not None))
        lines += ["", "| ratio | app | " + " | ".join(endpoints) + " |",
                  "|---|---|" + "---:|" * len(endpoints)]
        for tree in trees[1:]:
            for app in apps:
                after, before = by_key[tree, app], by_key[trees[0], app]
                cells = [f"{after[e] / before[e]:.3f}" for e in endpoints]
                lines.append(f"| {tree} / {trees[0]} | {app} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", nargs="+", choices=list(ENDPOINTS), default=list(ENDPOINTS))
    parser.add_argument("--apps", nargs="+", default=["app", "app_typed"], metavar="ATTR",
                        help=f"apps of {APPS_MODULE} to count (default: app app_typed)")
    parser.add_argument("--n", type=int, default=2000, help="counted calls per endpoint")
    parser.add_argument("--src", action="append", type=Path, metavar="DIR",
                        help="a Zephyr checkout whose src/ is imported (repeatable; default: .)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--counted", choices=list(ENDPOINTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.endpoints, args.counted, args.n)
        return
    if args.n < 1:
        parser.error("--n must be at least 1")
    sources = list(dict.fromkeys(source.resolve() for source in args.src or [ROOT]))
    for source in sources:
        if not (source / "src" / "zephyr" / "__init__.py").is_file():
            parser.error(f"--src {source}: no src/zephyr/ there; name a Zephyr checkout")
    labels = tree_labels(sources)
    print(f"callgrind, {args.n} counted calls per endpoint after {WARMUP} uncounted; "
          f"bench app from {ROOT / 'bench'}", flush=True)
    for source in sources:
        print(f"  tree {labels[source]} = {source} ({describe(source)})", flush=True)
    with tempfile.TemporaryDirectory() as links:
        subjects = [Subject("-", BASELINE, BUILTIN_FRAMEWORKS[BASELINE], None)]
        for i, source in enumerate(sources):
            link = Path(links) / f"tree{i:02d}"
            link.symlink_to(source / "src", target_is_directory=True)
            subjects += [Subject(labels[source], app, f"{APPS_MODULE}:{app}", link)
                         for app in args.apps]
        for subject in subjects:
            preflight(subject, args.endpoints)
        results = {subject: count(subject, args.endpoints, args.n) for subject in subjects}
    print(f"\ninstructions per request (k = 1,000; in brackets: x {BASELINE} in this run)\n")
    print(render(results, args.endpoints))


if __name__ == "__main__":
    main()
