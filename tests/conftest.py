"""Shared fixtures: a strong test secret key for every app, the real Redis service, and a
helper writing folders of files (templates).

Tests that need Redis take the ``redis_url`` fixture: it skips when Redis is
not listening on 127.0.0.1:6379, except under ``ZEPHYR_REQUIRE_SERVICES=1``
(CI), where a missing service fails the test.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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
