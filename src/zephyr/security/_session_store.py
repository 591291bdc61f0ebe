"""What every session backend shares: the contract, its errors, JSON payloads, and the
server-side stores' random ids signed with the app's keys."""

from __future__ import annotations

import abc
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
from itsdangerous import BadData, Signer

from zephyr.errors import ConfigError, SetupError, ZephyrError

__all__ = [
    "SessionBackend",
    "SessionBackendError",
    "SessionTooLargeError",
    "SignedIdBackend",
    "check_max_age",
    "decode",
    "encode",
    "signing_keys",
]

# token_urlsafe(32) is 43 characters and its SHA-256 signature 44 more.
MAX_SIGNED_ID_LENGTH = 128
ID_SALT = "zephyr.session.id"


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


def signing_keys(secret_keys: Sequence[str | bytes]) -> list[bytes]:
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


def encode(data: dict[str, Any]) -> bytes:
    """``data`` as msgspec JSON, or a :class:`SessionBackendError` saying what to store."""
    try:
        return msgspec.json.encode(data)
    except (TypeError, msgspec.EncodeError) as exc:
        raise SessionBackendError(
            f"session data must be JSON-serialisable ({exc}); store strings, numbers, booleans, "
            "None, lists and dicts, e.g. an id instead of the object"
        ) from exc


def decode(payload: str | bytes) -> dict[str, Any] | None:
    """The session data in ``payload``; ``None`` unless it is a JSON object."""
    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    return data if isinstance(data, dict) else None


def check_max_age(max_age: int) -> None:
    """Refuse a session life under one second."""
    if max_age < 1:
        raise ConfigError(f"session max_age must be at least 1 second, got {max_age!r}")


class SignedIdBackend(SessionBackend):
    """A server-side store behind a random id that the cookie carries signed.

    Forged ids fail the signature check and never reach the store; subclasses
    only read, write and forget payloads by id.
    """

    def __init__(self, secret_keys: Sequence[str | bytes]) -> None:
        self._signer = Signer(
            signing_keys(secret_keys), salt=ID_SALT, digest_method=hashlib.sha256
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
        if len(cookie) > MAX_SIGNED_ID_LENGTH:
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
        return None if payload is None else decode(payload)

    async def save(self, cookie: str | None, data: dict[str, Any], *,
                   max_age: int) -> str | None:
        """Overwrite the session of a validly signed ``cookie`` while it exists (``None`` once
        it is gone), else start a new one."""
        check_max_age(max_age)
        payload = encode(data)
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
