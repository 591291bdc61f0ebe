"""The incoming request: a lazy view over the ASGI scope and body (uploads: zephyr.uploads).

Nothing is parsed until asked for: a handler that never reads the query string
never pays for parsing it. The body is read once, within the size limit that
applies to its content type.
"""

from __future__ import annotations

import asyncio
import inspect
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from zephyr.datastructures import URL, Headers, MultiDict, QueryParams
from zephyr.errors import (
    BadRequest,
    ClientDisconnect,
    ContextError,
    PayloadTooLarge,
    RequestTimeout,
    SetupError,
    UnsupportedMediaType,
)
from zephyr.models import json_decoder
from zephyr.uploads import UploadFile

if TYPE_CHECKING:
    from zephyr.app import Zephyr
    from zephyr.routing import Route
    from zephyr.security.sessions import Session, SessionManager

__all__ = ["Address", "BodyLimits", "Request", "State", "UploadFile"]

FormValue = typing.Union[str, "UploadFile"]

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
_NO_QUERY = QueryParams()
# Untyped JSON, with the same 400s for malformed, non-UTF-8 or too deeply nested documents.
_json_decode = json_decoder(Any)
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest bodies accepted, by content type, and multipart bounds (``None``: no limit)."""

    json: int | None = MiB
    form: int | None = MiB
    multipart: int | None = 16 * MiB
    other: int | None = MiB
    max_fields: int = 1000
    max_files: int = 100
    spool_size: int = MiB
    #: Seconds the whole body may take to arrive (``BODY_TIMEOUT``); ``None``: no limit.
    timeout: float | None = 60.0


class Address(NamedTuple):
    """The client's host and port, as the server saw them."""

    host: str
    port: int


class State:
    """An attribute namespace: ``request.state.user = ...``, ``app.state.db = ...``."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", {} if data is None else data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"state has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self._data.get(name, default)


class Request:
    """An HTTP request. Build-free until used: every property parses on first access."""

    __slots__ = (
        "_body",
        "_body_done",
        "_cleanups",
        "_cookies",
        "_csp_nonce",
        "_form",
        "_headers",
        "_query",
        "_receive",
        "_received",
        "_session",
        "_state",
        "_user",
        "_watcher",
        "app",
        "path_params",
        "route",
        "scope",
    )

    def __init__(self, scope: dict[str, Any], receive: Any, app: Zephyr | None = None) -> None:
        self.scope = scope
        self._receive = receive
        self.app = app
        self.route: Route | None = None
        self.path_params: Mapping[str, Any] = _NO_PARAMS
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._body_done = False
        self._received: int | None = None
        self._form: MultiDict[FormValue] | None = None
        self._state: State | None = None
        self._watcher: Any = None
        self._cleanups: list[Callable[[BaseException | None], Awaitable[None]]] | None = None
        self._session: Session | None = None
        self._csp_nonce: str | None = None
        self._user: Any = None

    @property
    def method(self) -> str:
        """The HTTP method, upper-case."""
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        """The decoded path, below the mount point (``root_path``)."""
        path: str = self.scope["path"]
        root = self.scope.get("root_path")
        if root and path.startswith(root):
            return path[len(root) :] or "/"
        return path

    @property
    def headers(self) -> Headers:
        """Request headers: case-insensitive, multi-valued, immutable."""
        if self._headers is None:
            self._headers = Headers(raw=self.scope["headers"])
        return self._headers

    @property
    def query(self) -> QueryParams:
        """The query string as a multi-dict; bad encoding is a 400."""
        if self._query is None:
            raw = self.scope.get("query_string")
            # PERF: no query string is common; the empty multi-dict is immutable, so shared.
            self._query = QueryParams.from_string(raw) if raw else _NO_QUERY
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (lenient parsing, as browsers send them)."""
        if self._cookies is None:
            self._cookies = parse_cookie_header(self.headers.get("cookie", ""))
        return self._cookies

    @property
    def client(self) -> Address | None:
        """The peer's address, if the server reports one."""
        client = self.scope.get("client")
        return Address(client[0], client[1]) if client else None

    @property
    def state(self) -> State:
        """Per-request namespace, seeded with the lifespan state (``g`` is the same object)."""
        if self._state is None:
            self._state = State(self.scope.setdefault("state", {}))
        return self._state

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters."""
        for name, value in self.scope["headers"]:
            if name == b"content-type":
                return str(value.decode("latin-1").partition(";")[0].strip().lower())
        return ""

    @property
    def session(self) -> Session:
        """The session (see :mod:`zephyr.security.sessions`); the cookie is read on first use."""
        if self._session is None:
            self._session = self._session_manager().open_now(self)
        return self._session

    async def load_session(self) -> Session:
        """The session, loaded from a server-side backend if needed (``request.session`` then
        works synchronously)."""
        if self._session is None:
            self._session = await self._session_manager().open(self)
        return self._session

    def _session_manager(self) -> SessionManager:
        manager = self.app.sessions if self.app is not None else None
        if manager is None:
            raise ContextError("request.session needs a request handled by a Zephyr app")
        return manager

    @property
    def user(self) -> Any:
        """Who made the request: the user an auth backend found, else an anonymous user."""
        if self._user is None:
            from zephyr.security.auth import ANONYMOUS

            return ANONYMOUS
        return self._user

    @user.setter
    def user(self, value: Any) -> None:
        self._user = value

    @property
    def url(self) -> URL:
        """The full URL the client asked for."""
        query = self.scope.get("query_string", b"")
        path = self.scope.get("raw_path") or self.scope["path"].encode()
        text = self.base_origin + path.decode("latin-1")
        return URL(text + ("?" + query.decode("latin-1") if query else ""))

    @property
    def base_origin(self) -> str:
        """``scheme://host[:port]`` of this request."""
        scheme = self.scope.get("scheme", "http")
        host = self.headers.get("host")
        if not host:
            server = self.scope.get("server")
            # NOTE: ASGI reports a Unix socket as (path, None); a path is no host.
            if not server or server[1] is None:
                return f"{scheme}://localhost"
            name, port = server[0], server[1]
            default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
            host = name if port in (None, default) else f"{name}:{port}"
        return f"{scheme}://{host}"

    @property
    def base_url(self) -> URL:
        """The URL of the application root (origin + ``root_path``), ending in ``/``."""
        return URL(self.base_origin + self.scope.get("root_path", "").rstrip("/") + "/")

    def url_for(self, name: str, /, *, _query: Mapping[str, Any] | None = None,
                _external: bool = False, **params: Any) -> str:
        """Build the URL of route ``name``; ``_external=True`` makes it absolute."""
        if self.app is None:
            raise SetupError("request.url_for() needs a request that belongs to an app")
        root: str = self.scope.get("root_path", "")
        path = root.rstrip("/") + self.app.url_for(name, _query=_query, **params)
        return self.base_origin + path if _external else path

    @property
    def receive(self) -> Any:
        """The ASGI ``receive`` callable (to hand the request to another ASGI app)."""
        return self._receive

    def _body_limit(self, content_type: bytes) -> int | None:
        route = self.route
        if route is not None and "max_body_size" in route.options:
            limit: int | None = route.options["max_body_size"]
            return limit
        limits = self.app.body_limits if self.app is not None else BodyLimits()
        kind = content_type.partition(b";")[0].strip().lower()
        if kind == b"application/json" or kind.endswith(b"+json"):
            return limits.json
        if kind == b"application/x-www-form-urlencoded":
            return limits.form
        if kind.startswith(b"multipart/"):
            return limits.multipart
        return limits.other

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive, enforcing the size limit.

        Raises ``PayloadTooLarge`` (413) beyond the limit, whether the client
        announced the size in ``Content-Length`` or not, and
        ``ClientDisconnect`` if the client goes away.
        """
        if self._body is not None:
            if self._body:
                yield self._body
            return
        limit = self._begin_reading()
        receive = self._body_receiver()
        while True:
            chunk, more = self._take(await receive(), limit)
            if chunk:
                yield chunk
            if not more:
                return

    async def body(self) -> bytes:
        """The whole body as bytes (read once, then cached)."""
        if self._body is None:
            limit = self._begin_reading()
            receive = self._body_receiver()
            chunk, more = self._take(await receive(), limit)
            if more:
                # PERF: a body that arrives in one message (the usual case) needs no join.
                chunks = [chunk]
                while more:
                    chunk, more = self._take(await receive(), limit)
                    chunks.append(chunk)
                chunk = b"".join(chunks)
            self._body = chunk
        return self._body

    def _body_receiver(self) -> Callable[[], Awaitable[dict[str, Any]]]:
        """``receive``, bounded by the body timeout (route ``body_timeout=`` or the setting)."""
        route = self.route
        if route is not None and "body_timeout" in route.options:
            timeout: float | None = route.options["body_timeout"]
        else:
            timeout = self.app.body_limits.timeout if self.app is not None else None
        if timeout is None:
            return self._receive  # type: ignore[no-any-return]
        receive = self._receive
        deadline = asyncio.get_running_loop().time() + timeout

        async def receive_in_time() -> dict[str, Any]:
            pending = receive()
            if inspect.iscoroutine(pending):
                try:
                    # PERF: a body the server already holds comes back at the first step,
                    # without arming a timer (which costs more than reading a small body).
                    waiting_on = pending.send(None)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                pending = _resume(pending, waiting_on)
            try:
                async with asyncio.timeout_at(deadline):
                    return await pending  # type: ignore[no-any-return]
            except TimeoutError:
                self._body_done = True
                from zephyr.security.audit import log_refusal  # the package imports this module

                log_refusal("request-refused", self.scope, "body-timeout")
                # SECURITY: a slow body (slowloris) must not hold a worker forever.
                raise RequestTimeout(
                    f"the request body did not arrive within {timeout:g} seconds"
                ) from None

        return receive_in_time

    def _begin_reading(self) -> int | None:
        if self._body_done:
            raise RuntimeError(
                "the request body was already consumed by stream(); "
                "call request.body() first if you need it more than once"
            )
        content_type = b""
        declared = None
        # PERF: one pass over the raw headers finds both (names are lower-case in ASGI).
        for name, value in self.scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        limit = self._body_limit(content_type)
        if declared is not None:
            _check_declared_length(declared, limit)
        self._received = 0
        return limit

    def _take(self, message: dict[str, Any], limit: int | None) -> tuple[bytes, bool]:
        """Account for one ASGI receive message: ``(chunk, more_to_come)``."""
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            received = (self._received or 0) + len(chunk)
            self._received = received
            if limit is not None and received > limit:
                self._body_done = True
                raise PayloadTooLarge(_too_large(limit))
            if message.get("more_body", False):
                return chunk, True
            self._body_done = True
            self._start_watching_if_waiting()
            return chunk, False
        if kind == "http.disconnect":
            self._body_done = True
            raise ClientDisconnect("the client disconnected while sending the body")
        return b"", True

    async def json(self) -> Any:
        """The body decoded as JSON.

        415 unless the content type is JSON, 400 for an empty or malformed
        document (with the parser's position).
        """
        require_json(self)
        body = await self.body()
        if not body:
            raise BadRequest("the request body is empty; send a JSON document")
        return _json_decode(body)

    async def form(self) -> MultiDict[FormValue]:
        """Form fields (url-encoded or multipart); uploads become :class:`UploadFile`.

        415 for other content types, 400 for a malformed body, 413 beyond
        the size, field-count or file-count limits.
        """
        if self._form is None:
            from zephyr._forms import parse_form

            limits = self.app.body_limits if self.app is not None else BodyLimits()
            self._form = await parse_form(self, limits)
            self.add_cleanup(self._close_uploads)
        return self._form

    def add_cleanup(self, fn: Callable[[BaseException | None], Awaitable[None]]) -> None:
        """Run ``await fn(exc)`` after the response is sent (last added runs first).

        ``exc`` is the exception the handler raised, or ``None``.
        """
        if self._cleanups is None:
            self._cleanups = []
        self._cleanups.append(fn)

    async def _close_uploads(self, exc: BaseException | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Release uploaded files (done for you after the response is sent)."""
        if self._form is not None:
            # multi_items(): values() would skip all but the first file of a repeated name.
            for _, value in self._form.multi_items():
                if isinstance(value, UploadFile):
                    await value.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away (does not wait)."""
        if self._watcher is not None:
            return bool(self._watcher.disconnected)
        if not self._body_done:
            return False
        receive = asyncio.ensure_future(self._receive())
        await asyncio.sleep(0)
        if not receive.done():
            receive.cancel()
            return False
        return bool(receive.result().get("type") == "http.disconnect")

    def _start_watching_if_waiting(self) -> None:
        watcher = self._watcher
        if watcher is not None and watcher.waiting_for_body:
            watcher.start()

    def __repr__(self) -> str:
        return f"<Request {self.scope.get('method')} {self.scope.get('path')!r}>"


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting ``coroutine``, already stepped once and now waiting on ``waiting_on``.

    What the task sends or throws in (cancellation included) goes on to the coroutine.
    """
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration as done:
                return done.value


def _check_declared_length(declared: bytes, limit: int | None) -> None:
    if not declared.isdigit():
        raise BadRequest(f"Content-Length {declared.decode('latin-1')!r} is not a number")
    if limit is not None and int(declared) > limit:
        raise PayloadTooLarge(_too_large(limit, declared=int(declared)))


def _too_large(limit: int, *, declared: int | None = None) -> str:
    said = f" (Content-Length says {declared})" if declared is not None else ""
    return (
        f"the request body is larger than the limit of {limit} bytes{said}; "
        "send less, or raise the limit with max_body_size= on the route"
    )


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON (``application/json`` or ``*+json``)."""
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(
            "expected a JSON body with Content-Type: application/json, "
            f"got {kind or 'no content type'!r}"
        )


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header leniently, the way browsers send it.

    Pairs without ``=`` are skipped; the first value of a repeated name wins;
    double quotes around a value are removed.
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies
