"""REDbot (the HTTP linter) on four static files served by Zephyr, Starlette and WhiteNoise.

Run it from the repository root with a Python that has ``redbot``, ``starlette``,
``whitenoise``, ``a2wsgi`` and ``uvicorn`` installed (a scratch venv, never the
project's), with Zephyr's ``src`` on the path::

    PYTHONPATH=src:. /path/to/scratch/venv/bin/python bench/static_redbot.py [--verbose]

Each app is served by uvicorn on a free loopback port; REDbot checks each file
(its active checks: conditional requests, ranges, content negotiation) and the
errors and warnings it reports are counted per app. Zephyr is checked twice:
at the plain URLs, and at the hashed URLs ``static_url`` gives.
``--precompressed`` adds ``.gz`` and ``.br`` siblings of the text files first
(what WhiteNoise's and Zephyr's precompressed serving is for).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.static_apps import FILES, make_files

APPS = ("zephyr", "starlette", "whitenoise")


def check(url: str) -> list[dict[str, str]]:
    """Run REDbot on ``url`` in this process; its notes as level/summary pairs."""
    from configparser import ConfigParser

    import thor
    from redbot.resource import HttpResource

    parser = ConfigParser()
    parser.read_dict({"redbot": {"enable_local_access": "True"}})
    resource = HttpResource(parser["redbot"])
    resource.set_request(url)

    @thor.events.on(resource)
    def check_done() -> None:
        thor.stop()

    resource.check()
    thor.run()
    return [{"level": note.level.value, "summary": note.summary}
            for note in resource.response.notes]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(app: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "STATIC_BENCH_DIR": str(folder)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench.static_apps:{app}", "--port", str(port),
         "--log-level", "warning"], env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{app} did not start on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every error and warning")
    parser.add_argument("--check", help=argparse.SUPPRESS)
    parser.add_argument("--apps", nargs="*", default=list(APPS))
    parser.add_argument("--precompressed", action="store_true",
                        help="add .gz and .br siblings of the text files")
    args = parser.parse_args()
    if args.check:
        print(json.dumps(check(args.check)))
        return
    folder = make_files(Path(tempfile.mkdtemp(prefix="static-redbot-")))
    if args.precompressed:
        _precompress(folder)
    from zephyr.staticfiles import build_manifest

    hashed = build_manifest(folder)
    totals = {}
    for app in args.apps:
        process, port = _serve(app, folder)
        try:
            totals[app] = _lint(app, port, FILES, verbose=args.verbose)
            if app == "zephyr":
                names = [hashed[name] for name in FILES]
                totals["zephyr, hashed URLs"] = _lint(app, port, names, verbose=args.verbose)
        finally:
            process.terminate()
            process.wait(10)
    print("\n| app | errors | warnings |\n|---|---|---|")
    for app, (errors, warnings) in totals.items():
        print(f"| {app} | {errors} | {warnings} |")


def _lint(app: str, port: int, names: list[str] | tuple[str, ...], *,
          verbose: bool) -> tuple[int, int]:
    """REDbot's errors and warnings over ``names`` served by ``app`` on ``port``."""
    errors = warnings = 0
    for name in names:
        url = f"http://127.0.0.1:{port}/static/{name}"
        out = subprocess.run([sys.executable, __file__, "--check", url],
                             capture_output=True, text=True, check=True).stdout
        for note in json.loads(out):
            if note["level"] in ("bad", "warning"):
                errors += note["level"] == "bad"
                warnings += note["level"] == "warning"
                if verbose:
                    print(f"{app:10} {name:20} {note['level']:8} {note['summary']}")
    return errors, warnings


def _precompress(folder: Path) -> None:
    import gzip

    import brotli

    for name in FILES:
        if not name.endswith(".png"):
            data = (folder / name).read_bytes()
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            (folder / f"{name}.br").write_bytes(brotli.compress(data))


if __name__ == "__main__":
    main()
