"""The static-file apps compared by ``static_redbot.py`` and ``static_bench.py``.

Each serves the folder named by ``STATIC_BENCH_DIR`` under ``/static/``:
Zephyr (``app.static`` with ``COMPRESSION`` on, and ``zephyr_plain`` with it off, the
default), Starlette (``StaticFiles`` behind ``GZipMiddleware``, and ``starlette_plain``
without it) and WhiteNoise (its WSGI app, through a2wsgi). ``make_files`` writes the
four ~10 KB files they are measured on.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any

FILES = ("app.css", "app.js", "logo.png", "index.html")
BENCH_SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105


def make_files(folder: Path) -> Path:
    """Write a CSS, a JS, a PNG and an HTML file of about 10 KB each into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rules = "".join(f".box-{i} {{ margin: {i % 7}px; color: #{i * 2654435761 % 0xFFFFFF:06x}; }}\n"
                    for i in range(220))
    (folder / "app.css").write_text(rules, encoding="utf-8")
    script = "".join(f"export function f{i}(x) {{ return x * {i} + {i % 13}; }}\n"
                     for i in range(200))
    (folder / "app.js").write_text(script, encoding="utf-8")
    rows = "".join(f"<li><a href=\"/item/{i}\">Item {i}</a></li>\n" for i in range(260))
    (folder / "index.html").write_text(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bench</title>"
        f"</head><body><ul>\n{rows}</ul></body></html>\n", encoding="utf-8")
    (folder / "logo.png").write_bytes(_png(56, 56))
    return folder


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of noise (incompressible, like a real image)."""
    noise = random.Random(42)  # noqa: S311 - noise for a test image, not a secret
    raw = b"".join(b"\0" + bytes(noise.getrandbits(8) for _ in range(width * 3))
                   for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


def _folder() -> str:
    return os.environ.get("STATIC_BENCH_DIR", "bench/static-files")


def zephyr_app(*, compression: bool = True) -> Any:
    from zephyr import Zephyr

    app = Zephyr(__name__, static_folder=None, compression=compression, secret_key=BENCH_SECRET)
    app.static("/static", _folder())

    @app.get("/json")
    async def json() -> dict[str, str]:
        return {"message": "Hello, World!"}

    return app


def starlette_app(*, compression: bool = True) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/static", StaticFiles(directory=_folder()))],
                     middleware=[Middleware(GZipMiddleware)] if compression else [])


def whitenoise_app() -> Any:
    from a2wsgi import WSGIMiddleware
    from whitenoise import WhiteNoise

    def not_found(environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return WSGIMiddleware(WhiteNoise(not_found, root=_folder(), prefix="static/"))


def __getattr__(name: str) -> Any:
    # NOTE: PEP 562: `uvicorn bench.static_apps:zephyr` builds only the app it serves.
    factories = {
        "zephyr": zephyr_app, "starlette": starlette_app, "whitenoise": whitenoise_app,
        "zephyr_plain": lambda: zephyr_app(compression=False),
        "starlette_plain": lambda: starlette_app(compression=False),
    }
    if name in factories:
        return factories[name]()
    raise AttributeError(name)
