"""Where session data lives: in the signed cookie itself, or in memory or Redis behind a signed id.

The cookie never carries anything a client could forge: either the data signed and
timestamped, or a random session id signed with the app's secret keys.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import msgspec
from itsdangerous import BadData, Signer, URLSafeTimedSerializer

from zephyr.errors import ConfigError, SetupError, ZephyrError

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
# token_urlsafe(32) is 43 characters and its SHA-256 signature 44 more.
_MAX_SIGNED_ID_LENGTH = 128
_ID_SALT = "zephyr.session.id"


class SessionTooLargeError(ZephyrError):
    """The session data would not fit in a cookie."""


class SessionBackendError(ZephyrError):
    """A session backend cannot store the data it was given or cannot reach its store."""


class SessionBackend(abc.ABC):
    """Where session data lives; the cookie carries either the data itself or a signed id."""

    @abc.abstractmethod
    async def load(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        """The session data for ``cookie``.

        None when the cookie is tampered with, expired, unknown, signed with an
        unknown key or unparseable: client input never makes this raise.
        """

    @abc.abstractmethod
    async def save(self, cookie: str | None, data: dict[str, Any], *,
                   max_age: int) -> str | None:
        """Store ``data`` for ``max_age`` seconds and return the cookie value to send.

        ``cookie=None`` starts a new session (server-side backends make a new id).
        A server-side session is only ever updated while its record exists: when it is
        gone (deleted by a logout or an admin, expired, evicted) nothing is stored and
        the answer is ``None``, so a request that loaded it earlier cannot bring it back.
        """

    @abc.abstractmethod
    async def delete(self, cookie: str) -> bool:
        """Forget the server-side data of ``cookie``: whether there was any.

        Bad cookies are ignored (``False``); a backend that keeps nothing on the
        server cannot tell a forgotten session and answers ``True``.
        """

    async def close(self) -> None:  # noqa: B027 - a no-op default, not an abstract method
        """Release connections; called once at shutdown."""

    def load_now(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        """:meth:`load` without awaiting, for backends that read without I/O (``loads_now``)."""
        raise SessionBackendError(
            f"{type(self).__name__} reads sessions over the network; await load() instead"
        )

    #: Whether :meth:`load_now` works (no I/O needed): ``request.session`` then loads lazily.
    loads_now: ClassVar[bool] = False

    @abc.abstractmethod
    def is_signed(self, cookie: str) -> bool:
        """Whether ``cookie`` carries a valid signature of ours, expired or not.

        A cookie that :meth:`load` refused but that is signed simply expired;
        one that is not signed was forged or tampered with.
        """


def _signing_keys(secret_keys: Sequence[str | bytes]) -> list[bytes]:
    """The keys oldest first, the order itsdangerous wants (it signs with the last)."""
    # SECURITY: a bare string is a Sequence too; it would become one key per character.
    if isinstance(secret_keys, str | bytes):
        raise SetupError(
            f"secret_keys must be a list of keys, got the single key {type(secret_keys).__name__}; "
            "pass [key] (newest first, older keys after it)"
        )
    keys = [key.encode() if isinstance(key, str) else bytes(key) for key in secret_keys]
    if not keys:
        raise SetupError("session backends need at least one secret key, got none; set SECRET_KEY")
    # SECURITY: an empty key would sign with nothing but the salt. The message names its
    # position, never the keys: they must not reach logs.
    if b"" in keys:
        raise SetupError(
            f"secret key at index {keys.index(b'')} is empty; remove it or give it a value"
        )
    return keys[::-1]


def _encode(data: dict[str, Any]) -> bytes:
    try:
        return msgspec.json.encode(data)
    except (TypeError, msgspec.EncodeError) as exc:
        raise SessionBackendError(
            f"session data must be JSON-serialisable ({exc}); store strings, numbers, booleans, "
            "None, lists and dicts, e.g. an id instead of the object"
        ) from exc


def _decode(payload: str | bytes) -> dict[str, Any] | None:
    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    return data if isinstance(data, dict) else None


def _check_max_age(max_age: int) -> None:
    if max_age < 1:
        raise ConfigError(f"session max_age must be at least 1 second, got {max_age!r}")


class _JSONSerializer:
    """msgspec JSON in the shape itsdangerous expects of a serializer."""

    @staticmethod
    def dumps(obj: dict[str, Any]) -> str:
        return _encode(obj).decode()

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
            _signing_keys(secret_keys),
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
        _check_max_age(max_age)
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


class _SignedIdBackend(SessionBackend):
    """A server-side store behind a random id that the cookie carries signed.

    Forged ids fail the signature check and never reach the store; subclasses
    only read, write and forget payloads by id.
    """

    def __init__(self, secret_keys: Sequence[str | bytes]) -> None:
        self._signer = Signer(
            _signing_keys(secret_keys), salt=_ID_SALT, digest_method=hashlib.sha256
        )

    @abc.abstractmethod
    async def _read(self, session_id: str) -> bytes | str | None: ...

    @abc.abstractmethod
    async def _write(self, session_id: str, payload: bytes, max_age: int, *,
                     existing: bool) -> bool:
        """Store ``payload``; with ``existing``, only if the record is still there (whether
        it was stored)."""

    @abc.abstractmethod
    async def _forget(self, session_id: str) -> bool:
        """Remove the record: whether there was one (not expired)."""

    def is_signed(self, cookie: str) -> bool:
        return self._session_id(cookie) is not None

    def _session_id(self, cookie: str) -> str | None:
        # SECURITY: no id we sign is this long; do not spend an HMAC on it.
        if len(cookie) > _MAX_SIGNED_ID_LENGTH:
            return None
        try:
            return self._signer.unsign(cookie).decode("ascii")
        except (BadData, UnicodeDecodeError):
            return None

    async def load(self, cookie: str, *, max_age: int) -> dict[str, Any] | None:
        """The data stored for ``cookie``; expiry was fixed by the ``max_age`` given to save."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return None
        payload = await self._read(session_id)
        return None if payload is None else _decode(payload)

    async def save(self, cookie: str | None, data: dict[str, Any], *,
                   max_age: int) -> str | None:
        """Overwrite the session of a validly signed ``cookie`` while it exists (``None`` once
        it is gone), else start a new one."""
        _check_max_age(max_age)
        payload = _encode(data)
        session_id = None if cookie is None else self._session_id(cookie)
        if session_id is None:
            session_id = secrets.token_urlsafe(32)
            await self._write(session_id, payload, max_age, existing=False)
        # SECURITY: a revoked session stays revoked: a request that loaded it before the
        # logout must not re-create it, user id and all, when it saves afterwards.
        elif not await self._write(session_id, payload, max_age, existing=True):
            return None
        # NOTE: signing again on every save moves old cookies onto the newest key.
        return self._signer.sign(session_id).decode("ascii")

    async def delete(self, cookie: str) -> bool:
        session_id = self._session_id(cookie)
        return session_id is not None and await self._forget(session_id)


class MemorySessionBackend(_SignedIdBackend):
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
        return None if payload is None else _decode(payload)

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


class RedisSessionBackend(_SignedIdBackend):
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
                f"cannot reach the Redis session store at {_without_password(self._url)!r}; "
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


def _without_password(url: str) -> str:
    """``url`` fit for an error message: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and "password" not in parts.query:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=""))
