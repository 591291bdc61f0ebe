"""The incoming request: a lazy view over the ASGI scope and body (uploads: zephyr.uploads).

Nothing is parsed until asked for: a handler that never reads the query string
never pays for parsing it. The body is read once, within the size limit that
applies to its content type. A request knows nothing of the app, the route or
security: what it needs from them (limits, the session opener, the URL
builder) is handed in as :class:`RequestServices`.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from zephyr._forms import BodyLimits, FormValue, media_type, parse_form
from zephyr._services import (
    NO_SERVICES,
    Address,
    DisconnectWatch,
    RequestServices,
    SessionOpener,
    State,
)
from zephyr._types import Message, Receive, RouteInfo, Scope
from zephyr.audit import log_refusal
from zephyr.concurrency import resume
from zephyr.cookies import parse_cookie_header
from zephyr.datastructures import URL, Headers, MultiDict, QueryParams, Session
from zephyr.errors import (
    BadRequest,
    ClientDisconnect,
    ContextError,
    HTTPException,
    PayloadTooLarge,
    RequestTimeout,
    SetupError,
    UnsupportedMediaType,
)
from zephyr.htmx import HtmxDetails
from zephyr.models import json_decoder
from zephyr.uploads import UploadFile
from zephyr.users import ANONYMOUS

__all__ = ["Address", "BodyLimits", "Request", "RequestServices", "State", "UploadFile"]

logger = logging.getLogger("zephyr")
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
_NO_QUERY = QueryParams()
# Untyped JSON, with the same 400s for malformed, non-UTF-8 or too deeply nested documents.
_json_decode = json_decoder(Any)
Cleanup = Callable[[BaseException | None], Awaitable[None]]
class Request:
    """An HTTP request. Build-free until used: every property parses on first access."""

    _htmx: HtmxDetails

    __slots__ = (
        "_body",
        "_body_done",
        "_cookies",
        "_form",
        "_headers",
        "_htmx",
        "_media_type",
        "_query",
        "_receive",
        "_received",
        "_services",
        "_state",
        "_user",
        "cleanups",
        "issued_csp_nonce",
        "limits",
        "opened_session",
        "path_params",
        "route",
        "scope",
        "watcher",
    )

    def __init__(self, scope: Scope, receive: Receive,
                 services: RequestServices = NO_SERVICES) -> None:
        self.scope = scope
        self._receive = receive
        self._services = services
        #: The body limits that apply: the app's, or the matched route's own.
        self.limits = services.limits
        #: The matched route (``None`` before routing, in app middleware).
        self.route: RouteInfo | None = None
        self.path_params: Mapping[str, Any] = _NO_PARAMS
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._body_done = False
        # The media type of the first Content-Type header, which the size limit, the
        # parsers and ``content_type`` all go by (``None``: not decided yet).
        self._media_type: str | None = None
        self._received: int | None = None
        self._form: MultiDict[FormValue] | None = None
        self._state: State | None = None
        #: Watches for the client going away while the handler waits (``zephyr._disconnect``).
        self.watcher: DisconnectWatch | None = None
        #: What runs after the response is sent (see :meth:`add_cleanup`), if anything.
        self.cleanups: list[Cleanup] | None = None
        #: The session if anything opened it, else ``None`` (its cookie was never read).
        self.opened_session: Session | None = None
        #: The CSP nonce if one was made for this request (see :attr:`csp_nonce`).
        self.issued_csp_nonce: str | None = None
        self._user: Any = None

    @property
    def app(self) -> Any:
        """The application that received the request (``None`` for a request built by hand)."""
        return self._services.app

    @property
    def services(self) -> RequestServices:
        """What the application handed the request (limits, session opener, templates...)."""
        return self._services

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
            # NOTE: RFC 9113 §8.2.3: HTTP/2 may split the Cookie field in several; they are
            # one list joined with "; ". PERF: one pass over the raw headers, as headers.get.
            fields = [value for name, value in self.scope["headers"] if name == b"cookie"]
            self._cookies = parse_cookie_header(b"; ".join(fields).decode("latin-1"))
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
        """The media type of the body, lower-cased, without parameters (``""`` if none).

        Decided once, from the first ``Content-Type`` header; the size limit and the
        form parser go by the same one (the guard refuses a request that sends two).
        """
        kind = self._media_type
        if kind is None:
            content_type = b""
            for name, value in self.scope["headers"]:
                if name == b"content-type":
                    content_type = value
                    break
            self._media_type = kind = media_type(content_type)
        return kind

    @property
    def session(self) -> Session:
        """The session (see :mod:`zephyr.security.sessions`); the cookie is read on first use."""
        if self.opened_session is None:
            self.opened_session = self._session_opener().open_now(self)
        return self.opened_session

    async def load_session(self) -> Session:
        """The session, loaded from a server-side backend if needed (``request.session`` then
        works synchronously)."""
        if self.opened_session is None:
            self.opened_session = await self._session_opener().open(self)
        return self.opened_session

    def _session_opener(self) -> SessionOpener:
        opener = self._services.sessions
        if opener is None:
            raise ContextError("request.session needs a request handled by a Zephyr app")
        return opener

    @property
    def htmx(self) -> HtmxDetails:
        """What htmx says about this request; falsy unless it is an htmx request (zephyr.htmx)."""
        try:
            return self._htmx
        except AttributeError:
            # PERF: the slot is left unset by __init__: a request that never asks pays nothing.
            self._htmx = details = HtmxDetails(self.headers, self.base_origin)
            return details

    @property
    def csp_nonce(self) -> str:
        """This request's CSP nonce, made on first use: ``<script nonce="...">``.

        The response's Content-Security-Policy then allows scripts and styles carrying it.
        """
        if self.issued_csp_nonce is None:
            # As secrets.token_urlsafe(16), without loading secrets (hmac, random) with Zephyr.
            self.issued_csp_nonce = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        return self.issued_csp_nonce

    @property
    def user(self) -> Any:
        """Who made the request: the user an auth backend found, else an anonymous user."""
        if self._user is None:
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
        url_for = self._services.url_for
        if url_for is None:
            raise SetupError("request.url_for() needs a request that belongs to an app")
        path = self._under_root(url_for(name, _query=_query, **params))
        return self.base_origin + path if _external else path

    def static_url(self, filename: str, /, *, folder: str | None = None) -> str:
        """The hashed URL of a static file, like ``app.static_url``, under this request's
        ``root_path``."""
        static_url = self._services.static_url
        if static_url is None:
            raise SetupError("request.static_url() needs a request that belongs to an app")
        return self._under_root(static_url(filename, folder=folder))

    def _under_root(self, path: str) -> str:
        root: str = self.scope.get("root_path", "")
        return root.rstrip("/") + path

    @property
    def receive(self) -> Receive:
        """The ASGI ``receive`` callable (to hand the request to another ASGI app)."""
        return self._receive

    @property
    def is_body_started(self) -> bool:
        """Whether reading the body has begun."""
        return self._received is not None

    @property
    def is_body_done(self) -> bool:
        """Whether the body was read to its end (or its reading stopped with an error)."""
        return self._body_done

    def settle_empty_body(self, message: Message) -> None:
        """Take the (empty) body message of a request that announced none and was never read."""
        if not self._body_done:
            self._body = message.get("body", b"")
            self._body_done = True

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

    def _body_receiver(self) -> Receive:
        """``receive``, bounded by the body timeouts: the whole body within ``timeout``, and
        no wait for more longer than ``idle_timeout`` (route or group ``body_timeout=`` and
        ``body_idle_timeout=``, else the settings)."""
        limits = self.limits
        timeout, idle = limits.timeout, limits.idle_timeout
        receive = self._receive
        if timeout is None and idle is None:
            return receive
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout

        async def receive_in_time() -> Message:
            pending = receive()
            if inspect.iscoroutine(pending):
                try:
                    # PERF: a body the server already holds comes back at the first step,
                    # without arming a timer (which costs more than reading a small body).
                    waiting_on = pending.send(None)
                except StopIteration as done:
                    message: Message = done.value
                    return message
                pending = resume(pending, waiting_on)
            # SECURITY: a slow body (slowloris) must not hold a worker forever, nor one that
            # stops arriving for the whole of BODY_TIMEOUT.
            stalls = idle is not None and (deadline is None or loop.time() + idle < deadline)
            try:
                async with asyncio.timeout(idle) if stalls else asyncio.timeout_at(deadline):
                    return await pending
            except TimeoutError:
                self._body_done = True
                log_refusal("request-refused", self.scope,
                            "body-idle-timeout" if stalls else "body-timeout")
                raise RequestTimeout(
                    f"the request body stopped arriving: nothing came for {idle:g} seconds"
                    if stalls else
                    f"the request body did not arrive within {timeout:g} seconds"
                ) from None

        return receive_in_time

    def _begin_reading(self) -> int | None:
        if self._body_done:
            raise ContextError(
                "the request body was already consumed by stream(); "
                "call request.body() first if you need it more than once"
            )
        limit = self.limits.for_media_type(self.content_type)  # the media type, decided once
        declared = None
        for name, value in self.scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            _check_declared_length(declared, limit)
        self._received = 0
        return limit

    def _take(self, message: Message, limit: int | None) -> tuple[bytes, bool]:
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
            watcher = self.watcher
            if watcher is not None and watcher.waiting_for_body:
                watcher.start()
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
            kind = self.content_type
            header = self.headers.get("content-type", "")  # the first, with its boundary
            self._form = await parse_form(kind, header, self.body, self.stream, self.limits)
            self.add_cleanup(self._close_uploads)
        return self._form

    def add_cleanup(self, fn: Cleanup) -> None:
        """Run ``await fn(exc)`` after the response is sent (last added runs first).

        ``exc`` is the exception the handler raised, or ``None``.
        """
        if self.cleanups is None:
            self.cleanups = []
        self.cleanups.append(fn)

    async def run_cleanups(self, error: BaseException | None) -> None:
        """Run the cleanups, last added first; one that fails is logged and the rest still run."""
        for cleanup in reversed(self.cleanups or ()):
            try:
                await cleanup(error)
            except Exception:
                logger.exception("cleanup after %s %s failed", self.method, self.path)

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
        if self.watcher is not None:
            return self.watcher.disconnected
        if not self._body_done:
            return False
        receive = asyncio.ensure_future(self._receive())
        await asyncio.sleep(0)
        if not receive.done():
            receive.cancel()
            return False
        return bool(receive.result().get("type") == "http.disconnect")

    def __repr__(self) -> str:
        return f"<Request {self.scope.get('method')} {self.scope.get('path')!r}>"


def _check_declared_length(declared: bytes, limit: int | None) -> None:
    if not declared.isdigit():
        # SECURITY: RFC 9112 §6.3: where such a body ends is unknown; nothing after it on the
        # connection can be trusted.
        raise HTTPException(400, "the Content-Length header is not a number",
                            headers={"Connection": "close"},
                            received={"content-length": declared[:40].decode("latin-1")})
    if limit is not None and int(declared) > limit:
        raise PayloadTooLarge(_too_large(limit), received={"content-length": str(int(declared))})


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than the limit of {limit} bytes; "
        "send less, or raise the limit with max_body_size= on the route"
    )


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON (``application/json`` or ``*+json``)."""
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(
            "expected a JSON body with Content-Type: application/json, got "
            + ("another media type" if kind else "no content type"),
            received={"content-type": kind} if kind else None,
        )
