"""Test clients that call the app in-process, with httpx's API (``zephyr[test]``).

``TestClient`` is synchronous: it runs the app on an event loop in a helper
thread. ``AsyncTestClient`` runs it on the caller's loop. Both run the
lifespan when used as context managers, keep cookies between calls, and
stream responses as the app produces them.
"""

from __future__ import annotations

import asyncio
import threading
import typing
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

from zephyr._types import ASGIApp
from zephyr.errors import ApplicationError

__all__ = ["AsyncTestClient", "TestClient"]

T = TypeVar("T")
DEFAULT_BASE_URL = "http://localhost"
#: The address requests come from (``client=``): a client on the same machine.
DEFAULT_CLIENT = ("127.0.0.1", 50000)


_BROWSER_VERDICTS = frozenset({b"sec-fetch-site", b"origin"})


class _Exchange:
    """One request's trip through the app: feeds the body, collects the response."""

    def __init__(self, app: ASGIApp, request: httpx.Request, scope: dict[str, Any]) -> None:
        self.app = app
        self.request = request
        self.scope = scope
        self.started = asyncio.Event()
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.finished = asyncio.Event()
        self.body_sent = False
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            body = self.request.content if _is_read(self.request) else await self.request.aread()
            return {"type": "http.request", "body": body, "more_body": False}
        # Like a server: nothing more until the response is done or the client leaves.
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.finished.is_set():
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self.started.set()
        elif message["type"] == "http.response.body":
            if message.get("body"):
                await self.chunks.put(message["body"])
            if not message.get("more_body", False):
                await self.chunks.put(None)

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        finally:
            if not self.started.is_set():
                self.started.set()
            await self.chunks.put(None)

    async def body(self) -> AsyncGenerator[bytes, None]:
        try:
            while (chunk := await self.chunks.get()) is not None:
                yield chunk
        finally:
            self.finished.set()
            await self.wait()

    async def wait(self) -> None:
        if self.task is not None:
            await self.task


def _is_read(request: httpx.Request) -> bool:
    try:
        request.content  # noqa: B018 - raises when the body is a stream not read yet
    except httpx.RequestNotRead:
        return False
    return True


class ASGITransport(httpx.AsyncBaseTransport):
    """An httpx transport that hands requests to an ASGI app in the same process."""

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = DEFAULT_CLIENT,
                 root_path: str = "", state: dict[str, Any] | None = None,
                 same_origin: bool = True) -> None:
        self.app = app
        self.client = client
        self.root_path = root_path
        self.state = state if state is not None else {}
        self.same_origin = same_origin

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        raw_path = url.raw_path.split(b"?", 1)[0]
        headers = [(k.lower(), v) for k, v in request.headers.raw]
        if self.same_origin and not any(k in _BROWSER_VERDICTS for k, _ in headers):
            # Like a browser on the app's own page (CSRF checks pass); see TestClient.
            headers.append((b"sec-fetch-site", b"same-origin"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": self.root_path + unquote(raw_path.decode("ascii")),
            "raw_path": self.root_path.encode() + raw_path,
            "query_string": url.query,
            "root_path": self.root_path,
            "headers": headers,
            "client": self.client,
            "server": (url.host, url.port or {"http": 80, "https": 443}.get(url.scheme, 80)),
            "state": dict(self.state),
        }
        exchange = _Exchange(self.app, request, scope)
        exchange.task = asyncio.get_running_loop().create_task(exchange.run())
        await exchange.started.wait()
        if exchange.task.done() and exchange.task.exception() is not None:
            await exchange.task  # re-raise the app's own exception
        if not exchange.headers and exchange.status == 500 and exchange.task.done():
            raise ApplicationError("the app finished without sending a response")
        return httpx.Response(
            exchange.status, headers=exchange.headers, stream=_AsyncBody(exchange),
            request=request,
        )


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange
        self.iterator: AsyncGenerator[bytes, None] = exchange.body()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.iterator:
            yield chunk

    async def aclose(self) -> None:
        await self.iterator.aclose()


class _Lifespan:
    """Drives the ASGI lifespan protocol of an app."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        await self.app(scope, self.inbox.get, self.outbox.put)

    async def startup(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        answer = await self._answer()
        if answer["type"] == "lifespan.startup.failed":
            raise ApplicationError(f"application startup failed: {answer.get('message', '')}")

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return  # the app does not speak the lifespan protocol
        await self.inbox.put({"type": "lifespan.shutdown"})
        answer = await self._answer()
        if self.task is not None:
            await self.task
        if answer["type"] == "lifespan.shutdown.failed":
            raise ApplicationError(f"application shutdown failed: {answer.get('message', '')}")

    async def _answer(self) -> dict[str, Any]:
        task = self.task
        if task is None:
            raise ApplicationError("the lifespan was not started")
        getter = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        await task  # the app raised: show its exception
        # Like uvicorn's "auto" mode: an app that returns without answering has no lifespan.
        return {"type": "lifespan.unsupported"}


class AsyncTestClient(httpx.AsyncClient):
    """``async with AsyncTestClient(app) as client: await client.get("/")``.

    Options as for :class:`TestClient`.
    """

    def __init__(self, app: ASGIApp, *, base_url: str = DEFAULT_BASE_URL,
                 root_path: str = "", same_origin: bool = True,
                 client: tuple[str, int] = DEFAULT_CLIENT, **options: Any) -> None:
        self._lifespan_state: dict[str, Any] = {}
        self._lifespan = _Lifespan(app, self._lifespan_state)
        transport = ASGITransport(app, client=client, root_path=root_path,
                                  state=self._lifespan_state, same_origin=same_origin)
        super().__init__(transport=transport, base_url=base_url, **options)

    async def __aenter__(self) -> AsyncTestClient:
        await super().__aenter__()
        await self._lifespan.startup()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc: BaseException | None = None,
                        tb: TracebackType | None = None) -> None:
        try:
            await self._lifespan.shutdown()
        finally:
            await super().__aexit__(exc_type, exc, tb)


class _Portal:
    """An event loop in a daemon thread that runs coroutines for synchronous callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="zephyr-testclient")
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.loop.close()


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, portal: _Portal, transport: ASGITransport) -> None:
        self.portal = portal
        self.transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        headers = request.headers.copy()
        # The body is read whole here; forwarding both framings would be a smuggling attempt.
        headers.pop("transfer-encoding", None)
        forwarded = httpx.Request(request.method, request.url, headers=headers, content=body)
        response = self.portal.call(self.transport.handle_async_request(forwarded))
        stream = typing.cast(_AsyncBody, response.stream)
        return httpx.Response(response.status_code, headers=response.headers.raw,
                              stream=_SyncBody(self.portal, stream), request=request)


class _SyncBody(httpx.SyncByteStream):
    def __init__(self, portal: _Portal, body: _AsyncBody) -> None:
        self.portal = portal
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        iterator = self.body.iterator
        while True:
            try:
                yield self.portal.call(_next(iterator))
            except StopAsyncIteration:
                return

    def close(self) -> None:
        self.portal.call(self.body.aclose())


async def _next(iterator: AsyncIterator[bytes]) -> bytes:
    return await iterator.__anext__()


class TestClient(httpx.Client):
    """``with TestClient(app) as client: client.get("/")`` (the ``with`` runs the lifespan).

    Requests go to ``http://localhost`` (an allowed host by default) and,
    like a browser on the app's own pages, say ``Sec-Fetch-Site:
    same-origin`` unless they carry ``Sec-Fetch-Site`` or ``Origin``
    themselves. ``same_origin=False`` sends neither, as a script or an old
    browser would: unsafe requests then need a CSRF token once the client
    holds a cookie (without cookies it is no browser, and passes).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: ASGIApp, *, base_url: str = DEFAULT_BASE_URL,
                 root_path: str = "", same_origin: bool = True,
                 client: tuple[str, int] = DEFAULT_CLIENT, **options: Any) -> None:
        self.app = app
        self._portal = _Portal()
        self._lifespan_state: dict[str, Any] = {}
        self._lifespan: _Lifespan | None = None
        transport = ASGITransport(app, client=client, root_path=root_path,
                                  state=self._lifespan_state, same_origin=same_origin)
        super().__init__(transport=_SyncTransport(self._portal, transport), base_url=base_url,
                         **options)

    def __enter__(self) -> TestClient:
        super().__enter__()
        self._lifespan = _Lifespan(self.app, self._lifespan_state)
        try:
            self._portal.call(self._lifespan.startup())
        except BaseException:
            self._lifespan = None
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None = None,
                 exc: BaseException | None = None, tb: TracebackType | None = None) -> None:
        try:
            if self._lifespan is not None:
                self._portal.call(self._lifespan.shutdown())
        finally:
            super().__exit__(exc_type, exc, tb)
            self._portal.close()

    def close(self) -> None:
        """Close the client and stop its event loop thread."""
        super().close()
        self._portal.close()
