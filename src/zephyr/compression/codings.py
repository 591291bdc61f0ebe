"""Content codings: which one a client prefers, which types are worth compressing, and the
compressors (gzip always; brotli and zstd when their packages are installed).

``Accept-Encoding`` is read with its q-values (RFC 9110 §12.5.3); the decisions
are remembered per header value, since a few distinct values arrive in practice.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

__all__ = [
    "ALGORITHMS",
    "EXTRAS",
    "PACKAGES",
    "Encoder",
    "available",
    "choose_coding",
    "compresses",
    "encoder",
    "installed",
    "negotiate",
]

#: Every algorithm Zephyr knows, by its content-coding name, with its level range and default.
ALGORITHMS: Mapping[str, tuple[range, int]] = {
    "br": (range(12), 4), "zstd": (range(1, 23), 3), "gzip": (range(1, 10), 6),
}
PACKAGES = {"br": "brotli", "zstd": "zstandard"}
EXTRAS = {"br": "brotli", "zstd": "zstd"}
# Worth compressing besides text/* (images, archives and fonts like WOFF2 are compressed).
_TEXT_LIKE = frozenset({
    "application/json", "application/javascript", "application/x-javascript", "application/xml",
    "application/wasm", "application/xhtml+xml", "image/svg+xml", "image/x-icon",
    "image/vnd.microsoft.icon", "image/bmp", "font/ttf", "font/otf",
    "application/vnd.ms-fontobject",
})
_CACHE_SIZE = 256
# PERF: decisions remembered by header value: a few distinct values arrive in practice.
_COMPRESSES: dict[bytes, bool] = {}
_NEGOTIATED: dict[tuple[bytes, tuple[str, ...]], tuple[str | None, bool]] = {}


class Encoder(Protocol):
    """One response's compressor: ``chunk`` flushes (streams stay live), ``last`` finishes."""

    def chunk(self, data: bytes) -> bytes: ...

    def last(self, data: bytes) -> bytes: ...


def compresses(content_type: bytes) -> bool:
    """Whether a response of ``content_type`` (a header value) is worth compressing."""
    known = _COMPRESSES.get(content_type)
    if known is None:
        media = content_type.partition(b";")[0].strip().lower().decode("latin-1")
        known = (media.startswith("text/") and media != "text/event-stream") or (
            media in _TEXT_LIKE or media.endswith(("+json", "+xml")))
        _remember(_COMPRESSES, content_type, known)
    return known


def negotiate(accept_encoding: bytes | None, offered: tuple[str, ...]) -> tuple[str | None, bool]:
    """:func:`choose_coding` for a raw header value (``None``: no header, identity),
    remembered for the few values browsers send."""
    if accept_encoding is None:
        return None, False
    choice = _NEGOTIATED.get((accept_encoding, offered))
    if choice is None:
        choice = choose_coding(accept_encoding.decode("latin-1"), offered)
        _remember(_NEGOTIATED, (accept_encoding, offered), choice)
    return choice


def choose_coding(accept_encoding: str, offered: Iterable[str]) -> tuple[str | None, bool]:
    """The ``offered`` coding the client prefers (ties: the first offered), ``None`` when
    identity is at least as welcome; and whether identity is refused (RFC 9110 §12.5.3)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, parameters = item.partition(";")
        coding = name.strip().lower()
        if coding:
            weights["gzip" if coding == "x-gzip" else coding] = _quality(parameters)
    anything = weights.get("*")
    # NOTE: RFC 9110 §12.5.3: identity is acceptable unless refused (identity;q=0, or *;q=0
    # without an identity entry); left unnamed, it comes after every coding the client named.
    identity = weights.get("identity", _UNNAMED if anything is None else anything)
    best, best_weight = None, 0.0
    for coding in offered:
        weight = weights.get(coding, 0.0 if anything is None else anything)
        if weight > best_weight:
            best, best_weight = coding, weight
    if best is not None and best_weight < identity:
        best = None
    return best, identity == 0


_UNNAMED = 1e-9


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            return weight if 0.0 <= weight <= 1.0 else 0.0
    return 1.0


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    # SECURITY: keys come from requests: a bounded cache cannot be grown without end.
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


class _Gzip:
    __slots__ = ("_z",)

    def __init__(self, level: int) -> None:
        # NOTE: wbits 31 writes the gzip wrapper (RFC 1952) with mtime 0: the same input always
        # gives the same bytes, so ranges and hashes of the compressed body stay stable.
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def chunk(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def last(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush()


class _Brotli:
    __slots__ = ("_c",)

    def __init__(self, level: int) -> None:
        import brotli  # NOTE: an optional extra (zephyr[brotli]), checked at startup

        self._c = brotli.Compressor(quality=level)

    def chunk(self, data: bytes) -> bytes:
        return bytes(self._c.process(data) + self._c.flush())

    def last(self, data: bytes) -> bytes:
        return bytes(self._c.process(data) + self._c.finish())


class _Zstd:
    __slots__ = ("_compressor", "_flush_block", "_stream")

    def __init__(self, level: int) -> None:
        import zstandard  # NOTE: an optional extra (zephyr[zstd]), checked at startup

        self._compressor = zstandard.ZstdCompressor(level=level)
        self._stream: Any = None
        self._flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def chunk(self, data: bytes) -> bytes:
        if self._stream is None:
            self._stream = self._compressor.compressobj()
        return bytes(self._stream.compress(data) + self._stream.flush(self._flush_block))

    def last(self, data: bytes) -> bytes:
        if self._stream is None:  # the whole body at once: a frame that states its size
            return bytes(self._compressor.compress(data))
        return bytes(self._stream.compress(data) + self._stream.flush())


_ENCODERS: dict[str, Callable[[int], Encoder]] = {"gzip": _Gzip, "br": _Brotli, "zstd": _Zstd}


def encoder(coding: str, level: int) -> Encoder:
    """A fresh compressor of ``coding`` at ``level``, for one response."""
    return _ENCODERS[coding](level)


def installed(coding: str) -> bool:
    package = PACKAGES.get(coding)
    if package is None:
        return True
    # NOTE: importlib.util loads only when compression is configured (at startup).
    import importlib.util

    return importlib.util.find_spec(package) is not None


def available() -> tuple[str, ...]:
    return tuple(name for name in ALGORITHMS if installed(name))
