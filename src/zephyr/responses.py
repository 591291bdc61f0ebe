"""The response family, and how a handler's return value becomes a response.

A response is plain data (status, headers, body) until it is sent; sending is
``await response(scope, receive, send)``, so any response is also an ASGI app.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import stat
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal, cast
from urllib.parse import quote

import msgspec

from zephyr._types import Message, Receive, Scope, Send
from zephyr.background import Task, run_tasks
from zephyr.concurrency import run_sync
from zephyr.cookies import format_set_cookie
from zephyr.datastructures import MutableHeaders, http_date
from zephyr.errors import HeaderValueError, NotFound, ResponseError

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "to_response",
]

# NOTE: RFC 9110 §8.6: no Content-Length (and no body) on 1xx, 204 and 304.
_NO_BODY_STATUSES = frozenset({100, 101, 102, 103, 204, 304})

_JSON_CONTENT_TYPE = (b"content-type", b"application/json")

HeadersInit = Mapping[str, str] | Iterable[tuple[str, str]] | None


def _encode_fallback(value: Any) -> Any:
    """Teach msgspec the types it does not know natively (pydantic models)."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    # NOTE: msgspec's enc_hook protocol: NotImplementedError means "no encoding for this type".
    raise NotImplementedError(f"cannot encode {type(value).__name__} as JSON")


_json_encode = msgspec.json.Encoder(enc_hook=_encode_fallback).encode


class Response:
    """A complete response: status, headers and a body of bytes or text.

    >>> Response("hi", status_code=200, media_type="text/plain")
    """

    media_type: ClassVar[str | None] = None
    charset: ClassVar[str] = "utf-8"
    # Whether the body is produced while sending (then ``__call__`` must be awaited).
    streams: ClassVar[bool] = False

    __slots__ = ("body", "raw_headers", "status_code", "tasks")

    def __init__(
        self,
        content: bytes | bytearray | memoryview | str | None = None,
        status_code: int = 200,
        headers: HeadersInit = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = self.render(content)
        self.tasks: list[Task] | None = None
        kind = media_type or self.media_type
        raw: list[tuple[bytes, bytes]] = []
        if kind is not None:
            if kind.startswith("text/") and "charset=" not in kind:
                kind += f"; charset={self.charset}"
            raw.append((b"content-type", kind.encode("latin-1")))
        #: The headers as ASGI byte pairs, the list ``headers`` is a view of.
        self.raw_headers = raw
        if headers:
            self.headers.update(headers)

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into body bytes."""
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise ResponseError(
            f"{type(self).__name__} takes bytes or str content, got {type(content).__name__}; "
            "use JSONResponse for data"
        )

    @property
    def headers(self) -> MutableHeaders:
        """The response headers (writable; CR/LF in values is refused)."""
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: int | float | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header; ``HttpOnly``, ``SameSite=Lax`` and ``Path=/`` by default.

        ``expires`` is a Unix timestamp. Invalid names or values (``;``,
        spaces, newlines...) raise :class:`~zephyr.errors.HeaderValueError`.
        """
        cookie = format_set_cookie(
            key, value, max_age=max_age, expires=expires, path=path, domain=domain,
            secure=secure, httponly=httponly, samesite=samesite, partitioned=partitioned,
        )
        self.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))

    def delete_cookie(
        self, key: str, *, path: str = "/", domain: str | None = None,
        secure: bool = False, samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        """Tell the browser to drop a cookie (same ``path``/``domain`` as when it was set)."""
        self.set_cookie(
            key, "", max_age=0, expires=0, path=path, domain=domain, secure=secure,
            samesite=samesite,
        )

    def add_task(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` after the app has sent this response.

        Tasks run in order once the body is out; a failure is logged on the
        ``zephyr.tasks`` logger and never reaches the client.
        """
        if self.tasks is None:
            self.tasks = []
        self.tasks.append((fn, args, kwargs))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, body = self.messages(scope)
        await send(start)
        await send(body)

    def messages(self, scope: Scope) -> tuple[Message, Message]:
        """The two ASGI messages that send this (complete) response."""
        body = self.body
        status = self.status_code
        if status in _NO_BODY_STATUSES:
            body, raw = b"", self.raw_headers
        else:
            # Computed at send time so middleware may replace the body; a new list
            # so a response object sent twice does not collect duplicates.
            raw = [*self.raw_headers, (b"content-length", b"%d" % len(body))]
        # NOTE: HEAD gets the headers GET would get and no body (RFC 9110 §9.3.2).
        if scope["method"] == "HEAD":
            body = b""
        return (
            {"type": "http.response.start", "status": status, "headers": raw},
            {"type": "http.response.body", "body": body},
        )

    async def run_tasks(self) -> None:
        """Run the background tasks in order, logging (not raising) their failures."""
        await run_tasks(self.tasks or ())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


class HTMLResponse(Response):
    """``text/html; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/html"


class PlainTextResponse(Response):
    """``text/plain; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/plain"


class JSONResponse(Response):
    """Data encoded as JSON with msgspec (dicts, lists, Structs, dataclasses, datetimes...)."""

    __slots__ = ()
    media_type = "application/json"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: HeadersInit = None,
        media_type: str | None = None,
    ) -> None:
        if headers is not None or media_type is not None:
            super().__init__(content, status_code, headers, media_type)
            return
        # PERF: the common case skips the generic constructor (measured ~0.3 us/request)
        # and encodes here rather than through render() (a call less: ~150 instructions).
        self.status_code = status_code
        try:
            self.body = _json_encode(content)
        except (TypeError, NotImplementedError) as exc:
            raise _unencodable(exc) from None
        self.tasks = None
        self.raw_headers = [_JSON_CONTENT_TYPE]

    def render(self, content: Any) -> bytes:
        try:
            return _json_encode(content)
        except (TypeError, NotImplementedError) as exc:
            raise _unencodable(exc) from None


def _unencodable(exc: Exception) -> ResponseError:
    return ResponseError(f"cannot encode the response as JSON: {exc}")


class RedirectResponse(Response):
    """A redirect to ``url`` (307 by default: the method and body are kept)."""

    __slots__ = ()

    def __init__(self, url: str, status_code: int = 307, headers: HeadersInit = None) -> None:
        super().__init__(None, status_code, headers)
        self.headers["location"] = header_url(url)


def header_url(url: str) -> str:
    """``url`` as a header value that sends the browser there (``Location``, ``HX-Redirect``).

    Already-encoded URLs stay as they are; spaces and non-ASCII get percent-encoded.
    A CR, LF or NUL is refused with :class:`~zephyr.errors.HeaderValueError`.
    """
    url = str(url)
    if "\r" in url or "\n" in url or "\0" in url:
        # SECURITY: such a URL is almost always an injection attempt; encoding it
        # would hide the problem, refusing it shows where the URL came from.
        raise HeaderValueError(
            f"the redirect URL {url!r} has a CR, LF or NUL character; "
            "check where it came from (never redirect to unchecked user input)"
        )
    return quote(url, safe=":/%#?=@[]!$&'()*+,;~")


class StreamingResponse(Response):
    """A body produced piece by piece by a sync or async iterable of bytes or str.

    Sync iterables are advanced in the thread pool so they may block.
    """

    __slots__ = ("content",)
    streams = True

    def __init__(
        self,
        content: Iterable[bytes | str] | AsyncIterable[bytes | str],
        status_code: int = 200,
        headers: HeadersInit = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(None, status_code, headers, media_type)
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code,
             "headers": self.raw_headers}
        )
        if scope["method"] != "HEAD":
            async for chunk in self._chunks():
                body = chunk.encode(self.charset) if isinstance(chunk, str) else chunk
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _chunks(self) -> Any:
        content = self.content
        if isinstance(content, AsyncIterable):
            async for chunk in content:
                yield chunk
            return
        iterator = iter(content)
        while (item := await run_sync(_next_or_none, iterator)) is not None:
            yield item


class FileResponse(Response):
    """A file from disk, streamed in chunks, with length, type and cache validators.

    Give ``filename`` to offer it as a download; it is sent in a form that
    cannot inject headers (RFC 6266, ASCII fallback + UTF-8 ``filename*``).
    """

    __slots__ = ("chunk_size", "length", "path", "start", "stat_result")
    streams = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: HeadersInit = None,
        media_type: str | None = None,
        *,
        filename: str | None = None,
        inline: bool | None = None,
        chunk_size: int = 64 * 1024,
    ) -> None:
        self.path = os.fspath(path)
        try:
            self.stat_result = os.stat(self.path)
        except FileNotFoundError:
            raise NotFound("the requested file does not exist") from None
        if not stat.S_ISREG(self.stat_result.st_mode):
            raise NotFound("the requested path is not a file")
        # NOTE: hashlib and mimetypes load with the first file response, not with Zephyr.
        import hashlib
        import mimetypes

        guessed = media_type or mimetypes.guess_type(filename or self.path)[0]
        super().__init__(None, status_code, headers, guessed or "application/octet-stream")
        self.chunk_size = chunk_size
        size, mtime = self.stat_result.st_size, self.stat_result.st_mtime
        self.start, self.length = 0, size
        tag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
        self.headers.update(
            {
                "content-length": str(size),
                "last-modified": http_date(mtime),
                "etag": f'"{tag}"',
                "accept-ranges": "none",
            }
        )
        if filename is not None or inline is False:
            kind = "inline" if inline else "attachment"
            name = filename or os.path.basename(self.path)
            self.headers["content-disposition"] = content_disposition(kind, name)

    @classmethod
    def prepared(cls, path: str, stat_result: os.stat_result, headers: list[tuple[bytes, bytes]],
                 *, status_code: int = 200, start: int = 0, length: int | None = None,
                 chunk_size: int = 64 * 1024) -> FileResponse:
        """``length`` bytes (default: to the end) of the file at ``path`` from ``start``, for
        a file already looked at (``stat_result``), with ``headers`` sent as given: encoded,
        ``Content-Length`` included (static files build their own).
        """
        response = cls.__new__(cls)
        response.status_code = status_code
        response.body = b""
        response.tasks = None
        response.raw_headers = headers
        response.path = path
        response.stat_result = stat_result
        response.chunk_size = chunk_size
        response.start = start
        response.length = stat_result.st_size - start if length is None else length
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code,
             "headers": self.raw_headers}
        )
        if scope["method"] != "HEAD" and self.length:
            handle = await run_sync(open, self.path, "rb")
            try:
                if self.start:
                    await run_sync(handle.seek, self.start)
                remaining = self.length
                # Never more than the length announced, even if the file grew meanwhile.
                while remaining and (chunk := await run_sync(
                        handle.read, min(self.chunk_size, remaining))):
                    remaining -= len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                await run_sync(handle.close)
        await send({"type": "http.response.body", "body": b""})


def _next_or_none(iterator: Iterator[bytes | str]) -> bytes | str | None:
    return next(iterator, None)


def content_disposition(kind: str, filename: str) -> str:
    """A ``Content-Disposition`` value that is safe whatever ``filename`` contains."""
    name = os.path.basename(filename.replace("\\", "/"))
    import unicodedata  # NOTE: loaded with the first download, not with Zephyr

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # SECURITY: quotes, backslashes and control characters cannot reach the header.
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable() and ch not in '"\\')
    value = f'{kind}; filename="{ascii_name or "download"}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _is_json_data(value: Any) -> bool:
    return (
        isinstance(value, msgspec.Struct)
        or (isinstance(value, tuple) and hasattr(value, "_fields"))  # a NamedTuple
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
        or hasattr(value, "model_dump")
    )


def to_response(value: Any, status_code: int = 200, handler: Any = None, /) -> Response:
    """Turn a handler's return value into a response (see the table in the docs).

    ``str`` -> HTML, ``bytes`` -> octet-stream, ``dict``/``list``/Struct/
    dataclass/pydantic model -> JSON, ``None`` -> 204, ``(body, status)``,
    ``(body, status, headers)``, a ``Response`` as is, generators -> streaming.
    """
    cls = value.__class__
    # PERF: the common cases are exact-type checks before any isinstance walk.
    if cls is dict or cls is list:
        return JSONResponse(value, status_code)
    if isinstance(value, Response):
        return value
    if cls is str:
        return HTMLResponse(value, status_code)
    if value is None:
        return Response(None, 204 if status_code == 200 else status_code)
    if cls is tuple:
        return _from_tuple(value, status_code, handler)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value), status_code, media_type="application/octet-stream")
    if isinstance(value, dict | list | set | frozenset) or _is_json_data(value):
        return JSONResponse(value, status_code)
    if inspect.isasyncgen(value) or inspect.isgenerator(value) or isinstance(value, Iterator):
        return StreamingResponse(cast(Iterator[bytes | str], value), status_code,
                                 media_type="text/plain")
    where = f" by {handler.__qualname__}" if hasattr(handler, "__qualname__") else ""
    raise ResponseError(
        f"cannot make a response from {cls.__name__!r} returned{where}; return str, bytes, "
        "dict, list, a dataclass or Struct, None, a (body, status[, headers]) tuple, "
        "a generator, or a Response"
    )


def _from_tuple(value: tuple[Any, ...], status_code: int, handler: Any) -> Response:
    if len(value) == 2 and isinstance(value[1], int):
        body, status, headers = value[0], value[1], None
    elif len(value) == 3 and isinstance(value[1], int):
        body, status, headers = value
    elif len(value) == 2 and isinstance(value[1], Mapping):
        body, status, headers = value[0], status_code, value[1]
    else:
        raise ResponseError(
            f"a returned tuple must be (body, status), (body, headers) or "
            f"(body, status, headers); got a tuple of {len(value)} "
            f"({', '.join(type(v).__name__ for v in value)})"
        )
    response = to_response(body, status, handler)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response
