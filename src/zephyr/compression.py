"""Response compression: gzip always, brotli and zstd when their packages are installed.

The ``COMPRESSION`` setting turns it on; the app then composes one
:class:`CompressionMiddleware` around itself at startup (a pure ASGI layer, so
an app without it pays nothing). It honours ``Accept-Encoding`` with its
q-values, compresses text types above a size threshold, chunk by chunk for
streams, and leaves alone what must not or need not be compressed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from zephyr._conditional import entity_tags
from zephyr._types import ASGIApp, Message, Receive, Scope, Send
from zephyr.errors import ConfigError

__all__ = ["CompressionConfig", "CompressionMiddleware", "choose_coding", "compresses", "negotiate"]

#: Every algorithm Zephyr knows, by its content-coding name, with its level range and default.
ALGORITHMS: Mapping[str, tuple[range, int]] = {
    "br": (range(12), 4), "zstd": (range(1, 23), 3), "gzip": (range(1, 10), 6),
}
_PACKAGES = {"br": "brotli", "zstd": "zstandard"}
_EXTRAS = {"br": "brotli", "zstd": "zstd"}
# Compressing these again gains nothing: they are compressed formats already.
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


@dataclass(frozen=True, slots=True)
class CompressionConfig:
    """What is compressed and how: built from the ``COMPRESSION`` setting at startup.

    ``algorithms`` are content-coding names in the server's order of preference
    (used when the client likes several equally); ``levels`` maps each to its level.
    """

    minimum_size: int = 500
    algorithms: tuple[str, ...] = field(default_factory=lambda: _available())
    levels: Mapping[str, int] = field(default_factory=lambda: {
        name: default for name, (_, default) in ALGORITHMS.items()})

    @classmethod
    def from_setting(cls, value: bool | Mapping[str, Any] | None) -> CompressionConfig | None:
        """The configuration ``COMPRESSION`` asks for (``None`` when it is off).

        ``True`` compresses with every available algorithm; a mapping may set
        ``minimum_size`` (bytes), ``level`` (one level for all, or one per
        algorithm) and ``algorithms`` (a list, most preferred first).
        """
        if not value:
            return None
        options: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
        unknown = sorted(set(options) - {"minimum_size", "level", "algorithms"})
        if unknown:
            raise ConfigError(f"COMPRESSION has an unknown key {unknown[0]!r}; its keys are "
                              "minimum_size, level and algorithms")
        size = _number(options.get("minimum_size", 500))
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ConfigError(f"COMPRESSION minimum_size must be a number of bytes, not {size!r}")
        wanted = options.get("algorithms")
        if isinstance(wanted, str):  # from the environment: 'algorithms=br gzip'
            wanted = wanted.split()
        algorithms = _check_algorithms(wanted) if wanted is not None else _available()
        return cls(minimum_size=size, algorithms=algorithms,
                   levels=_check_levels(_number(options.get("level")), algorithms))

    def varies(self, content_type: bytes, size: int) -> bool:
        """Whether a response of this type and size is compressed for clients that accept it."""
        return size >= self.minimum_size and compresses(content_type)

    def encoder(self, coding: str) -> Encoder:
        """A fresh compressor for one response."""
        return _ENCODERS[coding](self.levels[coding])


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


class CompressionMiddleware:
    """Compress the responses of an ASGI ``app`` as ``config`` says.

    Left alone: responses under ``minimum_size`` and of types not worth it
    (images, archives...), ``206`` partial content, ``text/event-stream``,
    responses that carry ``Content-Encoding`` or ``Cache-Control: no-transform``.
    A compressed response gets ``Vary: Accept-Encoding`` and its ETag weakened
    (``W/"..."``, RFC 9110 §8.8.3: the same content, another encoding), so a
    client revalidating it with ``If-None-Match`` still gets its 304.
    """

    __slots__ = ("app", "config")

    def __init__(self, app: ASGIApp, config: CompressionConfig | None = None) -> None:
        self.app = app
        self.config = config or CompressionConfig()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
        coding, refused = negotiate(accept, self.config.algorithms)
        responder = _Responder(self.config, coding, refused, if_none_match,
                               scope["method"] == "HEAD", send)
        await self.app(scope, receive, responder.send)


class _Responder:
    """One response on its way out: decided at its start, then compressed body by body."""

    __slots__ = ("_send", "coding", "config", "encoder", "head", "if_none_match", "pending",
                 "refused", "through")

    def __init__(self, config: CompressionConfig, coding: str | None, refused: bool,
                 if_none_match: bytes | None, head: bool, send: Send) -> None:
        self.config = config
        self.coding = coding
        self.refused = refused
        self.if_none_match = if_none_match
        self.head = head
        self._send = send
        # The start message, held until the first body says whether the length is known.
        self.pending: Message | None = None
        self.encoder: Encoder | None = None
        self.through = False

    async def send(self, message: Message) -> None:
        if self.through:
            await self._send(message)
        elif message["type"] == "http.response.start":
            await self._start(message)
        elif self.encoder is not None and message["type"] == "http.response.body":
            await self._body(message, self.encoder)
        else:
            await self._send(message)

    async def _start(self, message: Message) -> None:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        found = {name: value for name, value in headers if name in _READ}
        status: int = message["status"]
        if status == 304:
            self._revalidated(headers, found)
            self.through = True
            await self._send({**message, "headers": headers})
            return
        length = found.get(b"content-length")
        # A response this small is never compressed, unless the client refused identity.
        small = length is not None and length.isdigit() and int(length) < self.config.minimum_size
        if (status < 200 or status in (204, 206) or b"content-encoding" in found
                or b"no-transform" in found.get(b"cache-control", b"").lower()
                or not compresses(found.get(b"content-type", b"")) or (
                    small and not self.refused)):
            self.through = True
            await self._send(message)
            return
        _add_vary(headers, found)
        if self.coding is None:
            self.through = True
            await self._send({**message, "headers": headers})
        elif self.head:  # no body to measure: the headers GET would get, without its length
            self.through = True
            await self._send({**message, "headers": self._encoded(headers, None)})
        else:
            self.pending = {**message, "headers": headers}
            self.encoder = self.config.encoder(self.coding)

    async def _body(self, message: Message, encoder: Encoder) -> None:
        data: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        start, self.pending = self.pending, None
        if start is not None:
            if not more:  # the whole body at once: sent with its compressed length
                body = encoder.last(data)
                self.through = True
                await self._send({**start, "headers": self._encoded(start["headers"], body)})
                await self._send({"type": "http.response.body", "body": body})
                return
            await self._send({**start, "headers": self._encoded(start["headers"], None)})
        if more:
            chunk = encoder.chunk(data)
            if chunk:
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            self.through = True
            await self._send({"type": "http.response.body", "body": encoder.last(data)})

    def _encoded(self, headers: list[tuple[bytes, bytes]],
                 body: bytes | None) -> list[tuple[bytes, bytes]]:
        """The headers of the compressed representation (its length when known).

        Ranges are served of the identity representation only, so the compressed one
        does not advertise them.
        """
        out = [(name, _weak(value) if name == b"etag" else value)
               for name, value in headers if name not in _DROPPED]
        out.append((b"content-encoding", (self.coding or "").encode("latin-1")))
        if body is not None:
            out.append((b"content-length", b"%d" % len(body)))
        return out

    def _revalidated(self, headers: list[tuple[bytes, bytes]], found: dict[bytes, bytes]) -> None:
        """A 304 for the compressed representation keeps the weakened ETag the client holds."""
        etag = found.get(b"etag")
        wanted = self.if_none_match
        if self.coding is None or etag is None or wanted is None or etag.startswith(b"W/"):
            return
        weak = b"W/" + etag
        held = entity_tags(wanted.decode("latin-1"))
        if weak.decode("latin-1") in held and etag.decode("latin-1") not in held:
            headers[:] = [(n, weak if n == b"etag" else v) for n, v in headers]
            _add_vary(headers, found)


_READ = frozenset({b"content-type", b"content-length", b"content-encoding", b"cache-control",
                   b"etag", b"vary"})
_DROPPED = frozenset({b"content-length", b"accept-ranges"})


def _add_vary(headers: list[tuple[bytes, bytes]], found: dict[bytes, bytes]) -> None:
    vary = found.get(b"vary")
    if vary is None:
        headers.append((b"vary", b"Accept-Encoding"))
    elif b"accept-encoding" not in vary.lower() and vary.strip() != b"*":
        headers[:] = [(n, v + b", Accept-Encoding" if n == b"vary" else v) for n, v in headers]


def _weak(etag: bytes) -> bytes:
    return etag if etag.startswith(b"W/") else b"W/" + etag


# -- the algorithms ------------------------------------------------------------------


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


def _installed(coding: str) -> bool:
    package = _PACKAGES.get(coding)
    if package is None:
        return True
    # NOTE: importlib.util loads only when compression is configured (at startup).
    import importlib.util

    return importlib.util.find_spec(package) is not None


def _available() -> tuple[str, ...]:
    return tuple(name for name in ALGORITHMS if _installed(name))


def _number(value: Any) -> Any:
    """Digits from the environment as the number they spell; anything else as it is."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _check_algorithms(wanted: Any) -> tuple[str, ...]:
    if not isinstance(wanted, Iterable) or not wanted:
        raise ConfigError(f"COMPRESSION algorithms must be a list like ['br', 'gzip'], "
                          f"not {wanted!r}")
    names = tuple(wanted)
    for name in names:
        if name not in ALGORITHMS:
            raise ConfigError(f"COMPRESSION algorithm {name!r} is unknown; use some of "
                              f"{', '.join(ALGORITHMS)}")
        if not _installed(name):
            raise ConfigError(f"COMPRESSION algorithm {name!r} needs the {_PACKAGES[name]!r} "
                              f"package: pip install 'zephyr[{_EXTRAS[name]}]'")
    return names


def _check_levels(level: Any, algorithms: tuple[str, ...]) -> dict[str, int]:
    levels = {name: default for name, (_, default) in ALGORITHMS.items()}
    given = level if isinstance(level, Mapping) else dict.fromkeys(algorithms, level)
    for name, value in given.items():
        if value is None:
            continue
        allowed = ALGORITHMS[name][0] if name in ALGORITHMS else None
        if allowed is None or isinstance(value, bool) or not isinstance(value, int) or (
                value not in allowed):
            span = f"{allowed.start}-{allowed.stop - 1}" if allowed else "none"
            raise ConfigError(f"COMPRESSION level {value!r} for {name!r} is out of range "
                              f"({span})")
        levels[name] = value
    return levels
