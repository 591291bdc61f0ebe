"""The application core: lifespan, isolation, thread pool, disconnects, registration rules."""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from zephyr import (
    ClientDisconnect,
    ConfigError,
    Request,
    SetupError,
    StreamingResponse,
    Zephyr,
    current_app,
    g,
    request,
)
from zephyr.server import import_string_for
from zephyr.testing import AsyncTestClient, TestClient

Message = dict[str, Any]


def http_scope(path: str = "/", method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"localhost"), (b"sec-fetch-site", b"same-origin")],
        "server": ("localhost", 80),
    }


class Channel:
    """A hand-driven ASGI connection: the body first, then ``http.disconnect`` on demand."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.gone = asyncio.Event()
        self.body_given = False

    async def receive(self) -> Message:
        if not self.body_given:
            self.body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


# -- lifespan --------------------------------------------------------------------------


def test_startup_and_shutdown_functions_sync_and_async_run_in_order() -> None:
    app = Zephyr()
    events: list[str] = []

    @app.on_startup
    def sync_start() -> None:
        events.append("sync start")

    @app.on_startup
    async def async_start() -> None:
        events.append("async start")

    @app.on_shutdown
    def sync_stop() -> None:
        events.append("sync stop")

    @app.on_shutdown
    async def async_stop() -> None:
        events.append("async stop")

    @app.get("/")
    async def home() -> str:
        events.append("request")
        return "ok"

    with TestClient(app) as client:
        assert events == ["sync start", "async start"]
        assert client.get("/").text == "ok"
    assert events == ["sync start", "async start", "request", "sync stop", "async stop"]


def test_lifespans_compose_enter_in_order_exit_in_reverse() -> None:
    app = Zephyr()
    events: list[str] = []

    @app.lifespan
    @asynccontextmanager
    async def database(the_app: Zephyr) -> AsyncIterator[None]:
        assert the_app is app
        events.append("enter database")
        yield
        events.append("exit database")

    @app.lifespan
    @asynccontextmanager
    async def cache() -> AsyncIterator[None]:
        events.append("enter cache")
        yield
        events.append("exit cache")

    @app.on_startup
    def started() -> None:
        events.append("startup")

    @app.on_shutdown
    def stopping() -> None:
        events.append("shutdown")

    with TestClient(app):
        assert events == ["enter database", "enter cache", "startup"]
    assert events[3:] == ["shutdown", "exit cache", "exit database"]


@asynccontextmanager
async def _tagged_lifespan(tag: str, *args: Any) -> AsyncIterator[None]:
    _lifespan_calls.append((tag, *(type(arg).__name__ for arg in args)))
    yield


_lifespan_calls: list[tuple[str, ...]] = []


# A lifespan factory is called with the app when it can take it (the richest shape).
@pytest.mark.parametrize(("factory", "expected"), [
    (lambda *args: _tagged_lifespan("star", *args), ("star", "Zephyr")),
    (functools.partial(_tagged_lifespan, "partial"), ("partial", "Zephyr")),
    (lambda tag="default": _tagged_lifespan(tag), ("default",)),
])
def test_lifespan_factories_accept_any_callable_that_can_take_their_arguments(
    factory: Any, expected: tuple[str, ...]
) -> None:
    _lifespan_calls.clear()
    app = Zephyr()
    app.lifespan(factory)
    with TestClient(app):
        pass
    assert _lifespan_calls == [expected]


def test_a_lifespan_factory_that_takes_neither_shape_is_refused() -> None:
    with pytest.raises(SetupError) as info:
        Zephyr().lifespan(lambda app, extra: None)
    assert str(info.value).endswith(
        ".<lambda>' must take () or (app), but its signature is (app, extra)"
    )


def test_a_yielded_mapping_lands_in_request_state_and_app_state_is_shared() -> None:
    app = Zephyr()

    @app.lifespan
    @asynccontextmanager
    async def resources(the_app: Zephyr) -> AsyncIterator[dict[str, str]]:
        the_app.state.pool = "the pool"
        yield {"db": "connected"}

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return {"db": request.state.db, "pool": current_app.state.pool}

    with TestClient(app) as client:
        assert client.get("/").json() == {"db": "connected", "pool": "the pool"}


def test_a_failing_startup_makes_the_test_client_raise_with_its_message() -> None:
    app = Zephyr()
    exited: list[bool] = []

    @app.lifespan
    @asynccontextmanager
    async def resource() -> AsyncIterator[None]:
        yield
        exited.append(True)

    @app.on_startup
    def connect() -> None:
        raise ValueError("database unreachable at db:5432")

    with (
        pytest.raises(RuntimeError, match="startup failed: ValueError: database unreachable"),
        TestClient(app),
    ):
        pass
    assert exited == [True]  # contexts entered before the failure are exited


def fail_with(exc: Exception) -> Callable[[], None]:
    def fail() -> None:
        raise exc

    return fail


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("on_startup", [{"type": "lifespan.startup.failed",
                         "message": "ConnectionError: no route to cache"}]),
        ("on_shutdown", [{"type": "lifespan.startup.complete"},
                         {"type": "lifespan.shutdown.failed",
                          "message": "ConnectionError: no route to cache"}]),
    ],
)
def test_lifespan_failures_are_reported_over_the_protocol_and_logged(
    stage: str, expected: list[Message], caplog: pytest.LogCaptureFixture
) -> None:
    app = Zephyr()
    getattr(app, stage)(fail_with(ConnectionError("no route to cache")))
    inbox: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                    receive, send))
    assert sent == expected
    assert f"application {stage.removeprefix('on_')} failed" in caplog.text


def test_current_app_is_available_during_startup_and_shutdown() -> None:
    app = Zephyr()
    seen: list[str] = []

    @app.on_startup
    def start() -> None:
        seen.append(current_app.import_name)

    @app.lifespan
    @asynccontextmanager
    async def context() -> AsyncIterator[None]:
        seen.append(current_app.import_name)
        yield
        seen.append(current_app.import_name)

    with TestClient(app):
        pass
    assert seen == ["zephyr", "zephyr", "zephyr"]


def test_two_apps_in_one_process_share_nothing() -> None:
    first = Zephyr("first", debug=True)
    second = Zephyr("second")

    @first.middleware
    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-First"] = "1"
        return response

    @first.get("/")
    async def home(request: Request) -> dict[str, Any]:
        current_app.state.hits = 1
        return {"app": current_app.import_name}

    @second.get("/other")
    async def other() -> dict[str, Any]:
        return {"app": current_app.import_name, "hits": "hits" in current_app.state}

    with TestClient(first) as one, TestClient(second) as two:
        r1 = one.get("/")
        r2 = two.get("/other")
        assert (r1.json(), r1.headers["x-first"]) == ({"app": "first"}, "1")
        assert r2.json() == {"app": "second", "hits": False}
        assert "x-first" not in r2.headers
        assert two.get("/").status_code == 404
        assert one.get("/other").status_code == 404
    assert (first.config["DEBUG"], second.config["DEBUG"]) == (True, False)


# -- thread pool -----------------------------------------------------------------------


def test_plain_def_handlers_run_in_the_thread_pool_with_context_globals() -> None:
    app = Zephyr("pooled")
    threads: dict[str, Any] = {}

    @app.middleware
    async def mark(request: Request, call_next: Any) -> Any:
        g.user = "ada"
        threads["loop"] = threading.current_thread()
        return await call_next(request)

    @app.get("/sync")
    def sync_handler() -> dict[str, str]:
        threads["handler"] = threading.current_thread()
        return {"path": request.path, "user": g.user, "app": current_app.import_name}

    with TestClient(app) as client:
        assert client.get("/sync").json() == {"path": "/sync", "user": "ada", "app": "pooled"}
    assert threads["handler"] is not threads["loop"]
    assert threads["handler"].name.startswith("zephyr-sync")


def test_thread_pool_size_bounds_concurrent_sync_handlers() -> None:
    app = Zephyr(thread_pool_size=2)
    lock = threading.Lock()
    active = [0, 0]  # now, most at once

    @app.get("/block")
    def block() -> str:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return "done"

    async def main() -> float:
        async with AsyncTestClient(app) as client:
            started = time.perf_counter()
            responses = await asyncio.gather(*(client.get("/block") for _ in range(4)))
            elapsed = time.perf_counter() - started
        assert [r.text for r in responses] == ["done"] * 4
        return elapsed

    elapsed = asyncio.run(main())
    assert active[1] == 2
    assert 0.1 <= elapsed < 0.5  # two rounds of 50 ms, not one and not four


# -- client disconnects ----------------------------------------------------------------


def test_a_waiting_handler_is_cancelled_when_the_client_disconnects() -> None:
    app = Zephyr()
    events: list[Any] = []

    @app.get("/slow")
    async def slow(request: Request) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append(("finally", await request.is_disconnected()))
        return "never"

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append(exc)

    async def main() -> Channel:
        channel = Channel()
        task = asyncio.create_task(app(http_scope("/slow"), channel.receive, channel.send))
        await asyncio.sleep(0.01)
        channel.gone.set()
        await asyncio.wait_for(task, 1)  # the app returns normally
        return channel

    channel = asyncio.run(main())
    assert channel.sent == []
    assert events[:2] == ["cancelled", ("finally", True)]
    assert isinstance(events[2], ClientDisconnect)
    assert "disconnected" in str(events[2])


@pytest.mark.parametrize("with_middleware", [False, True])
def test_a_disconnect_while_reading_the_body_reaches_no_error_handler(
    with_middleware: bool,
) -> None:
    app = Zephyr()
    events: list[Any] = []

    def handler(exc: Exception) -> str:
        events.append(f"error handler for {exc!r}")
        return "handled"

    app.errorhandler(Exception)(handler)
    app.errorhandler(500)(handler)
    app.teardown_request(events.append)
    if with_middleware:
        app.middleware(_noop_middleware)

    @app.post("/upload")
    async def upload(request: Request) -> str:
        await request.body()
        return "never"

    inbox: list[Message] = [{"type": "http.request", "body": b"part", "more_body": True},
                            {"type": "http.disconnect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(http_scope("/upload", "POST"), receive, send))
    assert sent == []
    assert len(events) == 1
    assert isinstance(events[0], ClientDisconnect)
    assert str(events[0]) == "the client disconnected while sending the body"


def test_a_handler_that_does_not_wait_is_never_affected_by_a_disconnect() -> None:
    app = Zephyr()

    @app.get("/")
    async def quick() -> str:
        return "answered"

    async def main() -> Channel:
        channel = Channel()
        channel.gone.set()  # the client is already gone once the body is read
        await app(http_scope("/"), channel.receive, channel.send)
        return channel

    channel = asyncio.run(main())
    assert [m["type"] for m in channel.sent] == ["http.response.start", "http.response.body"]
    assert channel.sent[0]["status"] == 200
    assert channel.sent[1]["body"] == b"answered"


def test_is_disconnected_is_false_while_the_client_waits() -> None:
    app = Zephyr()

    @app.get("/")
    async def check(request: Request) -> dict[str, bool]:
        await asyncio.sleep(0)
        return {"gone": await request.is_disconnected()}

    with TestClient(app) as client:
        assert client.get("/").json() == {"gone": False}


def test_an_endless_stream_stops_when_the_client_disconnects() -> None:
    app = Zephyr()
    events: list[str] = []

    async def ticks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick\n"
                await asyncio.sleep(0.001)
        finally:
            events.append("generator closed")

    @app.get("/ticks")
    async def stream() -> StreamingResponse:
        return StreamingResponse(ticks(), media_type="text/plain")

    async def main() -> Channel:
        channel = Channel()
        task = asyncio.create_task(app(http_scope("/ticks"), channel.receive, channel.send))
        while len(channel.sent) < 4:
            await asyncio.sleep(0.001)
        channel.gone.set()
        await asyncio.wait_for(task, 1)
        return channel

    channel = asyncio.run(main())
    assert events == ["generator closed"]
    assert channel.sent[0]["status"] == 200
    assert all(m.get("more_body") for m in channel.sent[1:])  # no final message: nobody listens


def _cancel_midway(app: Zephyr) -> list[Message]:
    """Run a request to ``/slow`` and cancel its task as a server shutting down would."""

    async def main() -> list[Message]:
        channel = Channel()
        task = asyncio.create_task(app(http_scope("/slow"), channel.receive, channel.send))
        await asyncio.sleep(0.01)
        task.cancel()  # the client is still there
        with pytest.raises(asyncio.CancelledError):
            await task
        return channel.sent

    return asyncio.run(main())


def test_a_cancellation_that_is_not_a_disconnect_propagates() -> None:
    app = Zephyr()
    events: list[str] = []

    @app.get("/slow")
    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        finally:
            events.append("finally")
        return "never"

    assert _cancel_midway(app) == []
    assert events == ["finally"]


def test_teardown_sees_a_cancellation_that_is_not_a_disconnect() -> None:
    app = Zephyr()
    seen: list[BaseException | None] = []

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(10)
        return "never"

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        seen.append(exc)

    _cancel_midway(app)
    assert len(seen) == 1
    assert isinstance(seen[0], asyncio.CancelledError)


# -- registration rules ------------------------------------------------------------------


async def _noop_middleware(request: Request, call_next: Any) -> Any:
    return await call_next(request)


@asynccontextmanager
async def _noop_lifespan() -> AsyncIterator[None]:
    yield


class _NoopASGI:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


LATE_REGISTRATIONS: list[tuple[str, Callable[[Zephyr], Any]]] = [
    ("add middleware", lambda app: app.middleware(_noop_middleware)),
    ("add a before_request hook", lambda app: app.before_request(lambda: None)),
    ("add an after_request hook", lambda app: app.after_request(lambda response: None)),
    ("add a teardown_request hook", lambda app: app.teardown_request(lambda exc: None)),
    ("add an error handler", lambda app: app.errorhandler(404)(lambda exc: "x")),
    ("add a lifespan", lambda app: app.lifespan(_noop_lifespan)),
    ("add a startup function", lambda app: app.on_startup(lambda: None)),
    ("add a shutdown function", lambda app: app.on_shutdown(lambda: None)),
    ("add ASGI middleware", lambda app: app.add_asgi_middleware(_NoopASGI)),
    ("add middleware", lambda app: app.group("/g").middleware(_noop_middleware)),
]


@pytest.mark.parametrize(("what", "register"), LATE_REGISTRATIONS)
def test_registering_after_startup_is_refused(
    what: str, register: Callable[[Zephyr], Any]
) -> None:
    app = Zephyr()
    with TestClient(app), pytest.raises(SetupError) as info:
        register(app)
    message = str(info.value)
    assert message.startswith(f"cannot {what} after the app has started serving")
    assert "before the server starts" in message


def test_config_changes_after_startup_are_refused() -> None:
    app = Zephyr()
    app.config["DEBUG"] = True  # fine before startup
    with TestClient(app), pytest.raises(ConfigError, match=r"'DEBUG'.*set it before startup"):
        app.config["DEBUG"] = False
    assert app.config["DEBUG"] is True


def test_a_websocket_scope_is_refused_cleanly() -> None:
    app = Zephyr()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1000,
                     "reason": "this app serves no WebSocket routes"}]


# -- app.run and import strings ------------------------------------------------------------


def test_import_string_for_a_module_level_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zephyr_runnable_app.py").write_text(
        "from zephyr import Zephyr\napp = Zephyr(__name__)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zephyr_runnable_app", raising=False)
    module = __import__("zephyr_runnable_app")
    assert import_string_for(module.app) == "zephyr_runnable_app:app"


@pytest.mark.parametrize("import_name", [__name__, "no_such_module_anywhere"])
def test_import_string_for_an_app_that_cannot_be_imported_again(import_name: str) -> None:
    app = Zephyr(import_name)  # a local variable, not a module attribute
    with pytest.raises(SetupError, match="cannot find an import string for <Zephyr") as info:
        import_string_for(app)
    assert "module-level variable with Zephyr(__name__)" in str(info.value)


def test_run_with_reload_needs_an_import_string_before_any_server_starts() -> None:
    app = Zephyr(__name__)
    with pytest.raises(SetupError, match="which reload and several workers need"):
        app.run(reload=True)


def test_run_refuses_an_unknown_server() -> None:
    with pytest.raises(SetupError, match="unknown server 'gunicorn'; use 'uvicorn' or 'granian'"):
        Zephyr().run(server="gunicorn")


@pytest.mark.parametrize(
    ("settings", "options", "bounds"),
    [
        # The head limit: MAX_HEADER_SIZE, 4 bytes of ': ' and CRLF per header, 8 KiB of
        # request line: h11 buffers no more of an unfinished head than the guard accepts.
        ({}, {}, {"timeout_keep_alive": 5, "h11_max_incomplete_event_size": 16384 + 400 + 8192}),
        ({"max_header_size": 1024, "max_header_count": 20}, {},
         {"timeout_keep_alive": 5, "h11_max_incomplete_event_size": 1024 + 80 + 8192}),
        ({}, {"timeout_keep_alive": 30, "h11_max_incomplete_event_size": 1000,
              "proxy_headers": True},
         {"timeout_keep_alive": 30, "h11_max_incomplete_event_size": 1000,
          "proxy_headers": True}),
    ],
)
def test_run_hands_the_app_to_uvicorn_with_its_bounds(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], options: dict[str, Any],
    bounds: dict[str, Any],
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    app = Zephyr(**settings)
    app.run(port=8123, log_level="warning", **options)
    # uvicorn must not believe X-Forwarded-* on its own: TRUSTED_PROXIES decides.
    assert calls == [(app, {"host": "127.0.0.1", "port": 8123, "reload": False, "workers": 1,
                            "log_level": "warning", "proxy_headers": False, **bounds})]


@pytest.mark.parametrize(
    ("environ", "settings", "arguments", "where", "how"),
    [
        ({}, {}, {}, ("127.0.0.1", 8000), "ZEPHYR_PORT={port} (the PORT setting)"),
        ({"ZEPHYR_PORT": "8001", "ZEPHYR_HOST": "localhost"}, {}, {}, ("localhost", 8001),
         "ZEPHYR_PORT={port} (the PORT setting)"),
        ({}, {"host": "0.0.0.0", "port": 8123}, {}, ("0.0.0.0", 8123),
         "PORT={port} where it is set now (keyword argument)"),
        ({"ZEPHYR_PORT": "8001"}, {}, {"host": "::1", "port": 9000}, ("::1", 9000),
         "app.run(port={port})"),
    ],
)
def test_run_listens_where_the_host_and_port_settings_say_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], settings: dict[str, Any],
    arguments: dict[str, Any], where: tuple[str, int], how: str,
) -> None:
    import uvicorn

    from zephyr import server

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    checked: list[tuple[str, int, str]] = []
    monkeypatch.setattr(server, "refuse_busy_port",
                        lambda host, port, *, how: checked.append((host, port, how)))
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(uvicorn, "run",
                        lambda target, **kw: served.append((kw["host"], kw["port"])))
    Zephyr(**settings).run(**arguments)
    assert served == [where]
    assert checked == [(*where, how)]


def test_run_on_a_unix_socket_checks_no_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    from zephyr import server

    monkeypatch.setattr(server, "refuse_busy_port",
                        lambda *args, **kwargs: pytest.fail("a unix socket has no port"))
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: served.append(kw))
    Zephyr().run(uds=str(tmp_path / "app.sock"))
    assert served[0]["uds"] == str(tmp_path / "app.sock")


@pytest.mark.parametrize(("setting", "calls"), [(True, ["freeze", "unfreeze"]), (False, [])])
def test_startup_freezes_what_exists_for_the_collector(
    monkeypatch: pytest.MonkeyPatch, setting: bool, calls: list[str]
) -> None:
    import gc

    seen: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: seen.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: seen.append("unfreeze"))
    app = Zephyr(gc_freeze=setting)
    with TestClient(app):
        assert seen == calls[:1]
    assert seen == calls


def test_gc_freeze_is_on_by_default() -> None:
    # The test suite turns it off in the environment (tests/conftest.py); apps get it on.
    from zephyr.config import Config

    assert Config(environ={})["GC_FREEZE"] is True
