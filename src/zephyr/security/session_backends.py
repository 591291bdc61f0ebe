"""Where session data lives: in the signed cookie itself, or in memory or Redis behind a signed id.

The cookie never carries anything a client could forge: either the data signed and
timestamped, or a random session id signed with the app's secret keys. What the
backends share (the contract, the errors, signed ids) is in ``_session_store``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from itsdangerous import BadData, URLSafeTimedSerializer

from zephyr.errors import SetupError
from zephyr.security._redis_url import without_password
from zephyr.security._session_store import (
    SessionBackend,
    SessionBackendError,
    SessionTooLargeError,
    SignedIdBackend,
    check_max_age,
    decode,
    encode,
    signing_keys,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CookieSessionBackend",
    "MemorySessionBackend",
    "RedisSessionBackend",
    "SessionBackend",
    "SessionBackendError",
    "SessionTooLargeError",
]

# NOTE: RFC 6265 §6.1 asks browsers for at least 4096 bytes per cookie, name and attributes
# included; 4000 for the value leaves room for those.
_MAX_COOKIE_BYTES = 4000


class _JSONSerializer:
    """msgspec JSON in the shape itsdangerous expects of a serializer."""

    @staticmethod
    def dumps(obj: dict[str, Any]) -> str:
        return encode(obj).decode()

    @staticmethod
    def loads(payload: str | bytes) -> Any:
        return msgspec.json.decode(payload)


class CookieSessionBackend(SessionBackend):
    """The whole session in the cookie: msgspec JSON, signed and timestamped with itsdangerous.

    Nothing is stored on the server, so ``delete`` has nothing to forget and
    ``max_age`` is checked against the signature's timestamp when loading.
    """

    loads_now = True

    def __init__(self, secret_keys: Sequence[str | bytes], *, salt: str = "zephyr.session") -> None:
        self._serializer = URLSafeTimedSerializer(
            signing_keys(secret_keys),
            salt=salt,
            serializer=_JSONSerializer,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def load_now(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        """:meth:`load` without awaiting: the cookie is all there is to read."""
        # SECURITY: no cookie we write is this long; do not spend an HMAC on it.
        if len(cookie) > _MAX_COOKIE_BYTES:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=max_age)
        except BadData:
            return None
        return data if isinstance(data, dict) else None

    async def load(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        return self.load_now(cookie, max_age=max_age)

    def is_signed(self, cookie: str) -> bool:
        if len(cookie) > _MAX_COOKIE_BYTES:
            return False
        try:
            self._serializer.loads(cookie)  # no max_age: only the signature is checked
        except BadData:
            return False
        return True

    async def save(self, cookie: str | None, data: dict[str, Any], *, max_age: int) -> str:
        check_max_age(max_age)
        value = self._serializer.dumps(data)
        if len(value) > _MAX_COOKIE_BYTES:
            raise SessionTooLargeError(
                f"the session data makes a {len(value)}-byte cookie, over the "
                f"{_MAX_COOKIE_BYTES}-byte limit browsers keep; store less in the session or "
                'use a server-side backend (SESSION_BACKEND="redis")'
            )
        return value

    async def delete(self, cookie: str) -> bool:
        """Nothing to forget: the data lives only in the cookie, which the caller clears."""
        return True


class MemorySessionBackend(SignedIdBackend):
    """Sessions in this process's memory: for one worker and for tests.

    Data is stored as JSON, so callers never share references with the store;
    past ``max_sessions`` the least recently saved session is dropped.
    """

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        *,
        max_sessions: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(secret_keys)
        if max_sessions < 1:
            raise SetupError(f"max_sessions must be at least 1, got {max_sessions!r}")
        self._max_sessions = max_sessions
        self._clock = clock
        # id -> (expires at on `clock`, JSON payload), least recently saved first.
        self._sessions: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    loads_now = True

    def load_now(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        session_id = self._session_id(cookie)
        payload = None if session_id is None else self._read_now(session_id)
        return None if payload is None else decode(payload)

    async def _read(self, session_id: str) -> bytes | None:
        return self._read_now(session_id)

    def _read_now(self, session_id: str) -> bytes | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        expires_at, payload = entry
        if self._clock() >= expires_at:
            del self._sessions[session_id]
            return None
        return payload

    async def _write(self, session_id: str, payload: bytes, max_age: int, *,
                     existing: bool) -> bool:
        if existing and self._read_now(session_id) is None:
            return False
        self._sessions[session_id] = (self._clock() + max_age, payload)
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        return True

    async def _forget(self, session_id: str) -> bool:
        entry = self._sessions.pop(session_id, None)
        return entry is not None and self._clock() < entry[0]


class RedisSessionBackend(SignedIdBackend):
    """Sessions in Redis, shared by every worker; Redis expires them (``SET … PX``)."""

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "zephyr:session:",
        client: Redis | None = None,
    ) -> None:
        super().__init__(secret_keys)
        try:
            import redis.asyncio
            import redis.exceptions
        except ImportError as exc:
            raise SetupError(
                "RedisSessionBackend needs the redis package; install it with "
                "pip install 'zephyr[redis]'"
            ) from exc
        self._url = url
        self._prefix = prefix
        self._owns_client = client is None
        self._client: Redis = redis.asyncio.Redis.from_url(url) if client is None else client
        self._unreachable: tuple[type[Exception], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            OSError,
        )

    @contextlib.contextmanager
    def _reaching_redis(self) -> Iterator[None]:
        try:
            yield
        except self._unreachable as exc:
            raise SessionBackendError(
                f"cannot reach the Redis session store at {without_password(self._url)!r}; "
                "start Redis there or pass the url= of a running server"
            ) from exc

    async def _read(self, session_id: str) -> bytes | str | None:
        # NOTE: a client passed in with decode_responses=True answers str.
        with self._reaching_redis():
            payload: bytes | str | None = await self._client.get(self._prefix + session_id)
        return payload

    async def _write(self, session_id: str, payload: bytes, max_age: int, *,
                     existing: bool) -> bool:
        # NOTE: SET ... XX writes only over a key that exists, atomically: a DEL from a
        # logout in another worker either comes first (nothing is written) or after.
        with self._reaching_redis():
            stored = await self._client.set(self._prefix + session_id, payload,
                                            px=max_age * 1000, xx=existing)
        return bool(stored)

    async def _forget(self, session_id: str) -> bool:
        with self._reaching_redis():
            removed: int = await self._client.delete(self._prefix + session_id)
        return removed > 0

    async def close(self) -> None:
        """Close the client this backend created; a client passed in is the caller's."""
        if self._owns_client:
            await self._client.aclose()
