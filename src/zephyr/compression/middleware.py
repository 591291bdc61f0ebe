"""Compressing responses: the ``COMPRESSION`` setting as a config, and the ASGI layer.

:class:`CompressionMiddleware` decides at each response's start whether it is
compressed (type, size, status, what it carries already), sets ``Vary`` and the
weakened ``ETag``, then compresses its body, chunk by chunk for a stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zephyr._conditional import entity_tags
from zephyr._types import ASGIApp, Message, Receive, Scope, Send
from zephyr.compression.codings import (
    ALGORITHMS,
    EXTRAS,
    PACKAGES,
    Encoder,
    available,
    compresses,
    encoder,
    installed,
    negotiate,
)
from zephyr.errors import ConfigError

__all__ = ["CompressionConfig", "CompressionMiddleware"]


@dataclass(frozen=True, slots=True)
class CompressionConfig:
    """What is compressed and how: built from the ``COMPRESSION`` setting at startup.

    ``algorithms`` are content-coding names in the server's order of preference
    (used when the client likes several equally); ``levels`` maps each to its level.
    """

    minimum_size: int = 500
    algorithms: tuple[str, ...] = field(default_factory=available)
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
        algorithms = _check_algorithms(wanted) if wanted is not None else available()
        return cls(minimum_size=size, algorithms=algorithms,
                   levels=_check_levels(_number(options.get("level")), algorithms))

    def varies(self, content_type: bytes, size: int) -> bool:
        """Whether a response of this type and size is compressed for clients that accept it."""
        return size >= self.minimum_size and compresses(content_type)

    def encoder(self, coding: str) -> Encoder:
        """A fresh compressor for one response."""
        return encoder(coding, self.levels[coding])


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
        if not installed(name):
            raise ConfigError(f"COMPRESSION algorithm {name!r} needs the {PACKAGES[name]!r} "
                              f"package: pip install 'zephyr[{EXTRAS[name]}]'")
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
