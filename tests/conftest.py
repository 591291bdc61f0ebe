"""Shared fixtures: a strong test secret key for every app, the real Redis service, and a
helper writing folders of files (templates).

Tests that need Redis take the ``redis_url`` fixture: it skips when Redis is
not listening on 127.0.0.1:6379, except under ``ZEPHYR_REQUIRE_SERVICES=1``
(CI), where a missing service fails the test.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

# Apps built without a secret key refuse to start outside debug mode; the tests
# run as a configured deployment would. Tests of the refusal pass secret_key=None.
TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
os.environ["ZEPHYR_SECRET_KEY"] = TEST_SECRET_KEY
# gc.freeze() at every app startup would keep each earlier test's garbage forever (and hide
# ResourceWarnings the collector raises); test_app.py checks the default on its own.
os.environ["ZEPHYR_GC_FREEZE"] = "0"

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Emptied before and after each test that uses it; TEST_REDIS_DB lets two checkouts
# run their suites side by side without emptying each other's database.
REDIS_TEST_DB = int(os.environ.get("TEST_REDIS_DB", "15"))


def _redis_listening() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of an emptied Redis database (db 15 by default) on the standard loopback port."""
    if not _redis_listening():
        if os.environ.get("ZEPHYR_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is required (ZEPHYR_REQUIRE_SERVICES=1) but "
                        f"{REDIS_HOST}:{REDIS_PORT} does not answer")
        pytest.skip(f"Redis is not listening on {REDIS_HOST}:{REDIS_PORT}")
    import redis

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def session_settings_for(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings selecting the session backend ``request.param`` (Redis via ``redis_url``)."""
    if request.param == "redis":
        return {"session_backend": "redis", "redis_url": request.getfixturevalue("redis_url")}
    return {"session_backend": request.param}


@pytest.fixture(params=["cookie", "memory", "redis"])
def session_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings selecting each session backend in turn."""
    return session_settings_for(request)


def stored_sessions(app: Any) -> int:
    """How many sessions the server-side backend of the live ``app`` holds (cookie: 0)."""
    from zephyr.security import MemorySessionBackend, RedisSessionBackend

    backend = app.security.sessions.backend
    if isinstance(backend, MemorySessionBackend):
        return len(backend._sessions)
    if isinstance(backend, RedisSessionBackend):
        import redis

        client = redis.Redis.from_url(backend._url)
        try:
            return len(client.keys("zephyr:session:*"))
        finally:
            client.close()
    return 0


@pytest.fixture(params=["memory", "redis"])
def server_session_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The session backends that keep the data on the server behind a signed id."""
    return session_settings_for(request)


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes argon2 verifies passwords against during the test, in order."""
    import argon2

    hashes: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
        hashes.append(str(stored))
        return real_verify(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    return hashes


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (paths relative to ``root`` -> text) under ``root``; return ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# -- a static site, for the static-file tests -----------------------------------------------

STATIC_CSS = b"body { color: #222; }\n" * 100  # 2,200 bytes: over the compression threshold
SECRET = b"outside the static folder: never served\n"
STATIC_MTIME = 1_600_000_000  # 2020-09-13


def make_static_site(root: Path) -> Path:
    """An app root with a ``static`` folder of every kind of file the static tests serve.

    Beside the folder: ``secret.txt``, which no request may reach, through ``..``, an
    encoded slash or the symlinks ``static/escape.txt`` and ``static/linkdir``.
    """
    static = root / "static"
    (static / "sub").mkdir(parents=True)
    (static / ".git").mkdir()
    (static / "app.css").write_bytes(STATIC_CSS)
    (static / "app.js").write_text("export const answer = 42;\n" * 40)
    (static / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (static / "index.html").write_text("<!doctype html><title>Hi</title>\n")
    (static / "data.json").write_text('{"ok": true}')
    (static / "font.woff2").write_bytes(b"wOF2" + b"\0" * 60)
    (static / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (static / "LICENSE").write_text("MIT\n")
    (static / "sub" / "deep.txt").write_text("deep\n")
    (static / "big.bin").write_bytes(bytes(range(256)) * 800)  # 204,800 bytes: streamed
    (static / ".env").write_text("SECRET_KEY=hidden\n")
    (static / ".git" / "config").write_text("[core]\n")
    (root / "secret.txt").write_bytes(SECRET)
    (static / "escape.txt").symlink_to(root / "secret.txt")
    (static / "linkdir").symlink_to(root)
    (static / "alias.css").symlink_to(static / "app.css")  # stays inside: served
    for path in static.rglob("*"):  # modified long ago, as deployed files are
        os.utime(path, (STATIC_MTIME, STATIC_MTIME), follow_symlinks=False)
    return static


@pytest.fixture
def static_site(tmp_path: Path) -> Path:
    """The app root of :func:`make_static_site` (its ``static`` folder is ``/static``)."""
    make_static_site(tmp_path)
    return tmp_path


def asgi_get(app: Any, raw_path: bytes) -> list[dict[str, Any]]:
    """The messages ``app`` sends for ``GET raw_path``, as a server hands the path over:
    ``path`` decoded (``..``, ``%2f`` and all, which httpx would normalise first), ``raw_path``
    as sent."""
    scope = {"type": "http", "method": "GET", "scheme": "http", "root_path": "",
             "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
             "raw_path": raw_path, "query_string": b"", "headers": [(b"host", b"localhost")]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)  # the client stays: only the response matters
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent
