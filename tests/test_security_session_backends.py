"""Session backends: the signed cookie, memory and Redis behind signed ids."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import pytest

from zephyr.errors import ConfigError, SetupError
from zephyr.security.session_backends import (
    CookieSessionBackend,
    MemorySessionBackend,
    RedisSessionBackend,
    SessionBackend,
    SessionBackendError,
    SessionTooLargeError,
)

KEYS = ["test-session-key"]
MAX_AGE = 60
DATA = {"user": 42, "roles": ["admin", "staff"], "flash": None, "prefs": {"ratio": 1.5}}


def _memory(keys: Sequence[str], redis_url: str, store: OrderedDict[str, Any]) -> SessionBackend:
    backend = MemorySessionBackend(keys)
    # One process's memory backends share nothing; sharing the store here lets two
    # instances with different keys model a key rotation, as Redis does for real.
    backend._sessions = store
    return backend


def _cookie(keys: Sequence[str], redis_url: str, store: OrderedDict[str, Any]) -> SessionBackend:
    return CookieSessionBackend(keys)


def _redis(keys: Sequence[str], redis_url: str, store: OrderedDict[str, Any]) -> SessionBackend:
    return RedisSessionBackend(keys, url=redis_url)


FACTORIES = {"memory": _memory, "cookie": _cookie, "redis": _redis}
SERVER_SIDE = ["memory", "redis"]


class Backends:
    """Makes backends of one kind for one test; they share a store and close together."""

    def __init__(self, kind: str, redis_url: str) -> None:
        self.kind = kind
        self._redis_url = redis_url
        self._store: OrderedDict[str, Any] = OrderedDict()
        self._made: list[SessionBackend] = []

    def __call__(self, keys: Sequence[str] = KEYS) -> SessionBackend:
        backend = FACTORIES[self.kind](keys, self._redis_url, self._store)
        self._made.append(backend)
        return backend

    def run(self, scenario: Callable[[], Awaitable[None]]) -> None:
        async def main() -> None:
            try:
                await scenario()
            finally:
                for backend in self._made:
                    await backend.close()

        asyncio.run(main())


def _backends(request: pytest.FixtureRequest) -> Backends:
    kind: str = request.param
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    return Backends(kind, redis_url)


@pytest.fixture(params=list(FACTORIES))
def backends(request: pytest.FixtureRequest) -> Backends:
    return _backends(request)


@pytest.fixture(params=SERVER_SIDE)
def server_backends(request: pytest.FixtureRequest) -> Backends:
    return _backends(request)


def _flip_first_char(cookie: str, part: int) -> str:
    parts = cookie.split(".")
    # NOTE: the first character of a base64 part always carries data bits; the last may not.
    parts[part] = ("B" if parts[part][0] == "A" else "A") + parts[part][1:]
    return ".".join(parts)


def test_round_trip(backends: Backends) -> None:
    async def scenario() -> None:
        backend = backends()
        cookie = await backend.save(None, DATA, max_age=MAX_AGE)
        assert await backend.load(cookie, max_age=MAX_AGE) == DATA

    backends.run(scenario)


def test_each_new_session_gets_its_own_cookie(backends: Backends) -> None:
    async def scenario() -> None:
        backend = backends()
        first = await backend.save(None, {"n": 1}, max_age=MAX_AGE)
        second = await backend.save(None, {"n": 2}, max_age=MAX_AGE)
        assert first != second
        assert await backend.load(first, max_age=MAX_AGE) == {"n": 1}
        assert await backend.load(second, max_age=MAX_AGE) == {"n": 2}

    backends.run(scenario)


def test_save_none_makes_a_new_id_even_for_equal_data(server_backends: Backends) -> None:
    async def scenario() -> None:
        backend = server_backends()
        first = await backend.save(None, DATA, max_age=MAX_AGE)
        second = await backend.save(None, DATA, max_age=MAX_AGE)
        assert first.split(".")[0] != second.split(".")[0]

    server_backends.run(scenario)


def test_save_with_cookie_replaces_the_data(backends: Backends) -> None:
    async def scenario() -> None:
        backend = backends()
        first = await backend.save(None, {"n": 1}, max_age=MAX_AGE)
        second = await backend.save(first, {"n": 2}, max_age=MAX_AGE)
        assert await backend.load(second, max_age=MAX_AGE) == {"n": 2}

    backends.run(scenario)


def test_save_with_cookie_keeps_the_server_side_id(server_backends: Backends) -> None:
    async def scenario() -> None:
        backend = server_backends()
        first = await backend.save(None, {"n": 1}, max_age=MAX_AGE)
        second = await backend.save(first, {"n": 2}, max_age=MAX_AGE)
        assert second == first
        assert await backend.load(first, max_age=MAX_AGE) == {"n": 2}

    server_backends.run(scenario)


@pytest.mark.parametrize("cookie", ["", "forged-id.forged-signature", "x" * 5000])
def test_save_with_an_invalid_cookie_starts_a_new_session(
    server_backends: Backends, cookie: str
) -> None:
    async def scenario() -> None:
        backend = server_backends()
        new = await backend.save(cookie, {"n": 1}, max_age=MAX_AGE)
        assert new != cookie
        assert len(new.split(".")[0]) == 43
        assert await backend.load(new, max_age=MAX_AGE) == {"n": 1}

    server_backends.run(scenario)


@pytest.mark.parametrize("part", [0, -1], ids=["payload", "signature"])
def test_tampered_cookie_loads_nothing(backends: Backends, part: int) -> None:
    async def scenario() -> None:
        backend = backends()
        cookie = await backend.save(None, DATA, max_age=MAX_AGE)
        tampered = _flip_first_char(cookie, part)
        assert tampered != cookie
        assert await backend.load(tampered, max_age=MAX_AGE) is None

    backends.run(scenario)


def test_cookie_signed_with_an_unknown_key_loads_nothing(backends: Backends) -> None:
    async def scenario() -> None:
        cookie = await backends(["someone-elses-key"]).save(None, DATA, max_age=MAX_AGE)
        assert await backends(["our-key"]).load(cookie, max_age=MAX_AGE) is None

    backends.run(scenario)


def test_key_rotation_reads_old_cookies_and_resigns_with_the_new_key(backends: Backends) -> None:
    async def scenario() -> None:
        old_cookie = await backends(["old"]).save(None, DATA, max_age=MAX_AGE)
        rotated = backends(["new", "old"])
        assert await rotated.load(old_cookie, max_age=MAX_AGE) == DATA

        new_cookie = await rotated.save(old_cookie, {**DATA, "seen": True}, max_age=MAX_AGE)
        new_only = backends(["new"])
        assert await new_only.load(new_cookie, max_age=MAX_AGE) == {**DATA, "seen": True}
        assert await new_only.load(old_cookie, max_age=MAX_AGE) is None

    backends.run(scenario)


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "a.b.c", "x" * 5000, "ünïcødé.sïgnåture", "..", "a.\x00", "😀" * 10],
    ids=["empty", "one-char", "three-parts", "5000-chars", "non-ascii", "dots", "nul", "emoji"],
)
def test_garbage_cookie_loads_nothing_and_deletes_nothing(backends: Backends, cookie: str) -> None:
    async def scenario() -> None:
        backend = backends()
        kept = await backend.save(None, DATA, max_age=MAX_AGE)
        assert await backend.load(cookie, max_age=MAX_AGE) is None
        await backend.delete(cookie)
        assert await backend.load(kept, max_age=MAX_AGE) == DATA

    backends.run(scenario)


def test_delete_forgets_server_side_data(backends: Backends) -> None:
    async def scenario() -> None:
        backend = backends()
        cookie = await backend.save(None, DATA, max_age=MAX_AGE)
        await backend.delete(cookie)
        # The cookie backend stores nothing: the data lives until the cookie is cleared.
        expected = DATA if backends.kind == "cookie" else None
        assert await backend.load(cookie, max_age=MAX_AGE) == expected

    backends.run(scenario)


async def _stored(backend: SessionBackend) -> int:
    """How many sessions a server-side backend holds."""
    if isinstance(backend, MemorySessionBackend):
        return len(backend._sessions)
    return len(await cast(RedisSessionBackend, backend)._client.keys("zephyr:session:*"))


@pytest.mark.parametrize("gone_by", ["delete", "another-backend-deletes"])
def test_a_write_to_a_deleted_session_does_not_bring_it_back(
        server_backends: Backends, gone_by: str) -> None:
    async def scenario() -> None:
        backend = server_backends()
        cookie = await backend.save(None, {"_user_id": "alice"}, max_age=MAX_AGE)
        # A logout (or an admin, in another worker) deletes the session while a request
        # that loaded it before is still running; that request then writes.
        remover = backend if gone_by == "delete" else server_backends()
        assert await remover.delete(cookie) is True
        written = await backend.save(cookie, {"_user_id": "alice", "cart": [1]},
                                     max_age=MAX_AGE)
        assert written is None
        assert await backend.load(cookie, max_age=MAX_AGE) is None
        assert await _stored(backend) == 0
        assert await backend.delete(cookie) is False

    server_backends.run(scenario)


def test_a_write_to_an_expired_memory_session_does_not_bring_it_back() -> None:
    now = [0.0]
    backend = MemorySessionBackend(KEYS, clock=lambda: now[0])

    async def scenario() -> None:
        cookie = await backend.save(None, {"_user_id": "alice"}, max_age=MAX_AGE)
        now[0] = MAX_AGE
        assert await backend.save(cookie, {"_user_id": "alice"}, max_age=MAX_AGE) is None
        assert await backend.delete(cookie) is False
        assert len(backend._sessions) == 0

    asyncio.run(scenario())


def test_a_write_to_an_evicted_memory_session_does_not_bring_it_back() -> None:
    backend = MemorySessionBackend(KEYS, max_sessions=1)

    async def scenario() -> None:
        first = await backend.save(None, {"_user_id": "alice"}, max_age=MAX_AGE)
        second = await backend.save(None, {"n": 2}, max_age=MAX_AGE)
        assert await backend.save(first, {"_user_id": "alice"}, max_age=MAX_AGE) is None
        assert await backend.load(second, max_age=MAX_AGE) == {"n": 2}

    asyncio.run(scenario())


def test_the_cookie_backend_always_writes_and_cannot_tell_a_deleted_session() -> None:
    backend = CookieSessionBackend(KEYS)

    async def scenario() -> None:
        cookie = await backend.save(None, {"n": 1}, max_age=MAX_AGE)
        assert await backend.delete(cookie) is True
        again = await backend.save(cookie, {"n": 2}, max_age=MAX_AGE)
        assert again is not None
        assert await backend.load(again, max_age=MAX_AGE) == {"n": 2}

    asyncio.run(scenario())


def test_data_that_is_not_json_is_refused(backends: Backends) -> None:
    async def scenario() -> None:
        with pytest.raises(SessionBackendError, match=r"^session data must be JSON-serialisable"):
            await backends().save(None, {"user": object()}, max_age=MAX_AGE)

    backends.run(scenario)


@pytest.mark.parametrize("max_age", [0, -1])
def test_save_refuses_a_max_age_below_one_second(backends: Backends, max_age: int) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError) as error:
            await backends().save(None, DATA, max_age=max_age)
        assert str(error.value) == f"session max_age must be at least 1 second, got {max_age}"

    backends.run(scenario)


def test_server_side_data_never_appears_in_the_cookie(server_backends: Backends) -> None:
    async def scenario() -> None:
        backend = server_backends()
        small = await backend.save(None, {"password_hint": "hunter2"}, max_age=MAX_AGE)
        large = await backend.save(None, {"blob": "hunter2" * 2000}, max_age=MAX_AGE)
        assert "hunter2" not in small
        assert len(small) == len(large) == 87  # 43-char id, ".", 43-char SHA-256 signature
        assert await backend.load(large, max_age=MAX_AGE) == {"blob": "hunter2" * 2000}

    server_backends.run(scenario)


def _incompressible(size: int) -> str:
    return "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(size // 64 + 1))


def test_cookie_backend_refuses_data_too_large_for_a_cookie() -> None:
    backend = CookieSessionBackend(KEYS)
    fits = asyncio.run(backend.save(None, {"blob": _incompressible(2000)}, max_age=MAX_AGE))
    assert len(fits) <= 4000
    assert backend.load_now(fits, max_age=MAX_AGE) == {"blob": _incompressible(2000)}
    with pytest.raises(
        SessionTooLargeError,
        match=(
            r"^the session data makes a \d{4}-byte cookie, over the 4000-byte limit browsers "
            r"keep; store less in the session or use a server-side backend "
            r'\(SESSION_BACKEND="redis"\)$'
        ),
    ):
        asyncio.run(backend.save(None, {"blob": _incompressible(8000)}, max_age=MAX_AGE))


def test_cookie_backend_load_now_reads_without_awaiting() -> None:
    backend = CookieSessionBackend(KEYS, salt="zephyr.test")
    cookie = asyncio.run(backend.save(None, DATA, max_age=MAX_AGE))
    assert backend.load_now(cookie, max_age=MAX_AGE) == DATA
    # A different salt is a different purpose: the same keys do not read it.
    assert CookieSessionBackend(KEYS).load_now(cookie, max_age=MAX_AGE) is None


def test_cookie_backend_expires_with_the_signature_timestamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    backend = CookieSessionBackend(KEYS)
    cookie = asyncio.run(backend.save(None, DATA, max_age=MAX_AGE))
    results = []
    for offset in (-1, 0, MAX_AGE, MAX_AGE + 1):
        now[0] = 1_700_000_000.0 + offset
        results.append(backend.load_now(cookie, max_age=MAX_AGE))
    # A timestamp from the future is as untrustworthy as an old one.
    assert results == [None, DATA, DATA, None]


def test_memory_backend_expires_server_side_and_drops_expired_sessions() -> None:
    now = [100.0]
    backend = MemorySessionBackend(KEYS, clock=lambda: now[0])

    async def scenario() -> list[dict[str, Any] | None]:
        cookie = await backend.save(None, DATA, max_age=MAX_AGE)
        results = []
        for at in (100.0 + MAX_AGE - 0.5, 100.0 + MAX_AGE, 100.0):
            now[0] = at
            results.append(await backend.load(cookie, max_age=MAX_AGE))
        return results

    # Once seen expired the session is gone, even if the clock were to go back.
    assert asyncio.run(scenario()) == [DATA, None, None]
    assert len(backend._sessions) == 0


def test_memory_backend_overwrite_refreshes_expiry() -> None:
    now = [0.0]
    backend = MemorySessionBackend(KEYS, clock=lambda: now[0])

    async def scenario() -> dict[str, Any] | None:
        cookie = await backend.save(None, {"n": 1}, max_age=MAX_AGE)
        now[0] = MAX_AGE - 1
        await backend.save(cookie, {"n": 2}, max_age=MAX_AGE)
        now[0] = MAX_AGE + 1
        return await backend.load(cookie, max_age=MAX_AGE)

    assert asyncio.run(scenario()) == {"n": 2}


def test_memory_backend_evicts_the_least_recently_saved_session() -> None:
    backend = MemorySessionBackend(KEYS, max_sessions=2)

    async def scenario() -> list[dict[str, Any] | None]:
        a = await backend.save(None, {"s": "a"}, max_age=MAX_AGE)
        b = await backend.save(None, {"s": "b"}, max_age=MAX_AGE)
        await backend.save(a, {"s": "a2"}, max_age=MAX_AGE)
        c = await backend.save(None, {"s": "c"}, max_age=MAX_AGE)
        return [await backend.load(cookie, max_age=MAX_AGE) for cookie in (a, b, c)]

    assert asyncio.run(scenario()) == [{"s": "a2"}, None, {"s": "c"}]


def test_memory_backend_stores_copies() -> None:
    backend = MemorySessionBackend(KEYS)
    data: dict[str, Any] = {"cart": [1]}

    async def scenario() -> dict[str, Any] | None:
        cookie = await backend.save(None, data, max_age=MAX_AGE)
        data["cart"].append(2)
        loaded = await backend.load(cookie, max_age=MAX_AGE)
        assert loaded is not None
        loaded["cart"].append(3)
        return await backend.load(cookie, max_age=MAX_AGE)

    assert asyncio.run(scenario()) == {"cart": [1]}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: CookieSessionBackend([]),
            "session backends need at least one secret key, got none; set SECRET_KEY",
        ),
        (
            lambda: MemorySessionBackend(["a-real-key", ""]),
            "secret key at index 1 is empty; remove it or give it a value",
        ),
        (
            lambda: MemorySessionBackend("one-key"),
            "secret_keys must be a list of keys, got the single key str; "
            "pass [key] (newest first, older keys after it)",
        ),
        (
            lambda: RedisSessionBackend(cast(Any, b"one-key")),
            "secret_keys must be a list of keys, got the single key bytes; "
            "pass [key] (newest first, older keys after it)",
        ),
        (
            lambda: MemorySessionBackend(KEYS, max_sessions=0),
            "max_sessions must be at least 1, got 0",
        ),
    ],
    ids=["no-keys", "empty-key", "bare-str", "bare-bytes", "no-room"],
)
def test_bad_setup_is_refused(make: Callable[[], SessionBackend], message: str) -> None:
    with pytest.raises(SetupError) as error:
        make()
    assert str(error.value) == message


def test_redis_backend_expires_sessions_in_redis(redis_url: str) -> None:
    async def scenario() -> None:
        backend = RedisSessionBackend(KEYS, url=redis_url)
        try:
            cookie = await backend.save(None, DATA, max_age=1)
            assert await backend.load(cookie, max_age=1) == DATA
            await asyncio.sleep(1.2)
            assert await backend.load(cookie, max_age=1) is None
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_redis_backend_stores_json_under_its_prefix_with_a_ttl(redis_url: str) -> None:
    import redis.asyncio

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        backend = RedisSessionBackend(KEYS, prefix="app:s:", client=client)
        try:
            cookie = await backend.save(None, {"user": 42}, max_age=MAX_AGE)
            key = "app:s:" + cookie.split(".")[0]
            assert await client.get(key) == b'{"user":42}'
            assert 0 < await client.pttl(key) <= MAX_AGE * 1000
            # A value someone else wrote under the prefix is not a session.
            await client.set(key, b"not json")
            assert await backend.load(cookie, max_age=MAX_AGE) is None
            await backend.close()
            # The client was passed in: closing the backend leaves it to its owner.
            assert await client.ping() is True
        finally:
            await client.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("operation", ["load", "save", "delete"])
def test_unreachable_redis_raises_a_backend_error_without_the_password(operation: str) -> None:
    async def scenario() -> None:
        cookie = await MemorySessionBackend(KEYS).save(None, DATA, max_age=MAX_AGE)
        backend = RedisSessionBackend(KEYS, url="redis://app:hunter2@127.0.0.1:1/0")
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "load": lambda: backend.load(cookie, max_age=MAX_AGE),
            "save": lambda: backend.save(cookie, DATA, max_age=MAX_AGE),
            "delete": lambda: backend.delete(cookie),
        }
        try:
            with pytest.raises(SessionBackendError) as error:
                await calls[operation]()
        finally:
            await backend.close()
        assert str(error.value) == (
            "cannot reach the Redis session store at 'redis://app:***@127.0.0.1:1/0'; "
            "start Redis there or pass the url= of a running server"
        )

    asyncio.run(scenario())
