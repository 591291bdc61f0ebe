"""The Host allow-list: which names the app answers to (``ALLOWED_HOSTS``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from zephyr.errors import ConfigError

__all__ = ["HostValidator", "host_name"]

# NOTE: RFC 3986 §3.2.2 reg-name (letters, digits, '-', '.', '_' seen in the wild) or an IPv6
# literal in brackets, then an optional port of digits.
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$")
_CACHE_SIZE = 256


def host_name(value: str) -> str | None:
    """``value`` of a Host header lower-cased without its port; None when malformed."""
    match = _HOST.match(value.lower())
    if match is None:
        return None
    name = match.group(1)
    return name.removesuffix(".") if name.endswith(".") and not name.startswith("[") else name


class HostValidator:
    """Answers whether a raw ``Host`` value names this app.

    Entries are exact names (``example.com``, ``127.0.0.1``, ``[::1]``),
    ``.example.com`` for the domain and every subdomain, or ``*`` for any.
    """

    __slots__ = ("_any", "_cache", "_exact", "_suffixes", "known")

    def __init__(self, allowed: Iterable[str]) -> None:
        entries = [str(entry).strip().lower() for entry in allowed]
        for entry in entries:
            if entry != "*" and host_name(entry.lstrip(".")) != entry.lstrip("."):
                raise ConfigError(
                    f"ALLOWED_HOSTS entry {entry!r} is not a host name; use names like "
                    "'example.com', '.example.com' (with subdomains), '[::1]' or '*'"
                )
        self._any = "*" in entries
        self._exact = frozenset(e for e in entries if not e.startswith("."))
        self._suffixes = tuple(e for e in entries if e.startswith("."))
        # PERF: the raw header value -> verdict; a handful of values cover real traffic.
        self._cache: dict[bytes, bool] = {}
        #: Raw Host values already found allowed: one set lookup decides most requests.
        self.known: set[bytes] = set()

    def is_allowed(self, raw: bytes) -> bool:
        """Whether the raw Host header value is allowed (malformed ones never are)."""
        verdict = self._cache.get(raw)
        if verdict is None:
            verdict = self._decide(raw)
            if len(self._cache) < _CACHE_SIZE:
                self._cache[raw] = verdict
                if verdict:
                    self.known.add(raw)
        return verdict

    def _decide(self, raw: bytes) -> bool:
        try:
            name = host_name(raw.decode("ascii"))
        except UnicodeDecodeError:
            return False
        if name is None:
            return False
        if self._any or name in self._exact:
            return True
        return any(name == suffix[1:] or name.endswith(suffix) for suffix in self._suffixes)
