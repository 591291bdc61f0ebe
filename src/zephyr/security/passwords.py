"""Password hashing with argon2id (argon2-cffi): hash, verify, rehash-on-login.

Argon2 is deliberately CPU- and memory-bound (tens of milliseconds per call with
the default parameters). Call it from a plain ``def`` handler, which Zephyr runs
in its thread pool, or from ``async`` code as
``await zephyr.concurrency.run_sync(check_password, stored_hash, password)`` so
the event loop is never blocked.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from zephyr.errors import SetupError, ZephyrError, require_extra

if TYPE_CHECKING:
    import argon2

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "PasswordCheck",
    "PasswordError",
    "PasswordHasher",
    "check_password",
    "hash_password",
    "verify_password",
]

logger = logging.getLogger("zephyr.security")

#: Longest password accepted, in characters (4 bytes each at most in UTF-8).
MAX_PASSWORD_LENGTH = 4096

# NOTE: the sizes of argon2-cffi's RFC 9106 low-memory profile (RFC 9106 §4, second choice).
_SALT_LEN = 16
_HASH_LEN = 32
# NOTE: the PHC string of an argon2 hash: $argon2id$v=19$m=65536,t=3,p=4$salt$digest
# ('v=' is absent from hashes of version 1.0).
_PARAMETERS = re.compile(r"\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$")


class PasswordError(ZephyrError, ValueError):
    """A password that cannot be hashed: empty, or longer than ``MAX_PASSWORD_LENGTH``."""


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """The outcome of :meth:`PasswordHasher.check`.

    ``new_hash`` is set only when ``ok`` and the stored hash was made with other
    parameters: store it in place of the old one (rehash-on-login).
    """

    ok: bool
    new_hash: str | None = None


@dataclass(frozen=True, kw_only=True)
class PasswordHasher:
    """Argon2id hashing with fixed parameters.

    The defaults are argon2-cffi's RFC 9106 low-memory profile: 3 passes over
    64 MiB with 4 lanes. ``memory_cost`` is in KiB.
    """

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4
    # SECURITY: a well-formed hash with this hasher's parameters that no password matches;
    # verifying against it costs what a real verification costs (see check()).
    _dummy_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1:
            raise SetupError(
                f"time_cost={self.time_cost!r} and parallelism={self.parallelism!r} must both "
                "be at least 1"
            )
        # NOTE: RFC 9106 §3.1: the memory size must be at least 8 KiB per lane.
        if self.memory_cost < 8 * self.parallelism:
            raise SetupError(
                f"memory_cost={self.memory_cost!r} KiB is below the minimum of 8 KiB per lane "
                f"({8 * self.parallelism} for parallelism={self.parallelism!r}); raise memory_cost"
            )
        salt, digest = secrets.token_bytes(_SALT_LEN), secrets.token_bytes(_HASH_LEN)
        dummy = (
            f"$argon2id$v=19$m={self.memory_cost},t={self.time_cost},p={self.parallelism}"
            f"${_b64(salt)}${_b64(digest)}"
        )
        object.__setattr__(self, "_dummy_hash", dummy)

    @cached_property
    def _argon2(self) -> argon2.PasswordHasher:
        require_extra("argon2", extra="auth", feature="PasswordHasher")
        import argon2

        return argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=_HASH_LEN,
            salt_len=_SALT_LEN,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh random salt; store the returned string.

        Raises :class:`PasswordError` for an empty password or one longer than
        ``MAX_PASSWORD_LENGTH`` characters.
        """
        if not password:
            raise PasswordError("the password is empty; ask the user for a non-empty password")
        # SECURITY: an unbounded password lets one request make the server hash megabytes.
        if len(password) > MAX_PASSWORD_LENGTH:
            raise PasswordError(
                f"the password is {len(password)} characters long, over the limit of "
                f"{MAX_PASSWORD_LENGTH} (a guard against denial of service); refuse it "
                "before hashing"
            )
        return self._argon2.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``.

        Never raises for user input: a wrong password, an over-long one and a
        malformed or unknown stored hash all give ``False`` (the last one is
        also logged at ERROR on ``zephyr.security``, without the password).
        """
        hasher = self._argon2  # first: without argon2 this says which extra to install
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        # SECURITY: refuse over-long input before doing any work on it (denial of service).
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            logger.error(
                "stored password hash is malformed or of an unknown scheme (%s: %s); "
                "the login was refused, reset this user's password",
                type(exc).__name__,
                exc,
                extra={"security_event": "password-hash-invalid", "reason": type(exc).__name__,
                       "scheme": _scheme_of(stored_hash)},
            )
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters (or is unreadable)."""
        hasher = self._argon2  # first: without argon2 this says which extra to install
        from argon2.exceptions import InvalidHashError

        try:
            return hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def slowest_of(self, hashes: Iterable[str]) -> PasswordHasher:
        """A hasher with the parameters of the slowest of ``hashes`` (this one if none is an
        argon2 hash): its ``check(None, ...)`` costs what checking that hash costs.

        Slowest means the most work (passes times memory), then the fewest lanes. Use it
        for unknown users when the stored hashes are known in advance (as
        :func:`~zephyr.security.auth.static_passwords` does).
        """
        found: set[tuple[int, int, int]] = set()
        for stored in hashes:
            match = _PARAMETERS.match(stored) if isinstance(stored, str) else None
            if match is not None:
                memory, passes, lanes = map(int, match.groups())
                if passes >= 1 and lanes >= 1 and memory >= 8 * lanes:
                    found.add((memory, passes, lanes))
        if not found:
            return self
        memory, passes, lanes = max(found, key=lambda p: (p[0] * p[1], -p[2]))
        return PasswordHasher(time_cost=passes, memory_cost=memory, parallelism=lanes)

    def check(self, stored_hash: str | None, password: str) -> PasswordCheck:
        """Verify a login; pass ``stored_hash=None`` when the user does not exist.

        Returns ``PasswordCheck(ok, new_hash)``; ``new_hash`` is a hash with
        the current parameters when the password is right but ``stored_hash``
        used others.
        """
        if stored_hash is None:
            # SECURITY: do the same work for an unknown user as for a known one, so the
            # response time does not tell an attacker which user names exist (exactly so
            # for users whose hash has this hasher's parameters; see slowest_of()).
            self.verify(self._dummy_hash, password)
            return PasswordCheck(ok=False)
        if not self.verify(stored_hash, password):
            return PasswordCheck(ok=False)
        if self.needs_rehash(stored_hash):
            return PasswordCheck(ok=True, new_hash=self.hash(password))
        return PasswordCheck(ok=True)


def _b64(raw: bytes) -> str:
    """Unpadded standard base64, as the PHC string format writes salts and digests."""
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _scheme_of(stored_hash: object) -> str:
    """The ``$scheme$`` prefix of a hash, for logs: never the salt or the digest."""
    if isinstance(stored_hash, str) and stored_hash.startswith("$"):
        return stored_hash.split("$", 2)[1][:20]
    return "<none>"


_default_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """:meth:`PasswordHasher.hash` with the default parameters."""
    return _default_hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """:meth:`PasswordHasher.verify` with the default parameters."""
    return _default_hasher.verify(stored_hash, password)


def check_password(stored_hash: str | None, password: str) -> PasswordCheck:
    """:meth:`PasswordHasher.check` with the default parameters."""
    return _default_hasher.check(stored_hash, password)
