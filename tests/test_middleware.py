"""Middleware, hooks and ASGI middleware: order, short-circuits, errors, registration checks."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from zephyr import HTTPException, Request, Response, SetupError, Zephyr, abort
from zephyr.middleware import CallNext
from zephyr.testing import TestClient

Message = dict[str, Any]


def recording_middleware(events: list[str], name: str) -> Any:
    async def middleware(request: Request, call_next: CallNext) -> Response:
        events.append(f"{name} in")
        response = await call_next(request)
        events.append(f"{name} out")
        response.headers[f"X-{name}"] = "seen"
        return response

    middleware.__qualname__ = name
    return middleware


# -- @app.middleware ------------------------------------------------------------------


def test_first_registered_middleware_is_outermost() -> None:
    app = Zephyr()
    events: list[str] = []
    app.middleware(recording_middleware(events, "first"))
    app.middleware(recording_middleware(events, "second"))

    @app.get("/")
    async def home() -> str:
        events.append("handler")
        return "ok"

    with TestClient(app) as client:
        response = client.get("/")
    assert events == ["first in", "second in", "handler", "second out", "first out"]
    assert (response.headers["x-first"], response.headers["x-second"]) == ("seen", "seen")


def test_app_middleware_runs_around_routing_so_it_sees_404s() -> None:
    app = Zephyr()
    events: list[str] = []
    app.middleware(recording_middleware(events, "outer"))
    with TestClient(app) as client:
        response = client.get("/missing")
    assert response.status_code == 404
    assert response.headers["x-outer"] == "seen"
    assert events == ["outer in", "outer out"]


@pytest.mark.parametrize(
    ("answer", "status", "content_type", "body"),
    [
        ({"blocked": True}, 200, "application/json", b'{"blocked":true}'),
        (("maintenance", 503), 503, "text/html; charset=utf-8", b"maintenance"),
        (Response("teapot", 418, media_type="text/plain"), 418, "text/plain; charset=utf-8",
         b"teapot"),
    ],
)
def test_a_middleware_may_answer_without_calling_the_handler(
    answer: Any, status: int, content_type: str, body: bytes
) -> None:
    app = Zephyr()
    called: list[bool] = []

    @app.middleware
    async def gate(request: Request, call_next: CallNext) -> Any:
        return answer

    @app.get("/")
    async def home() -> str:
        called.append(True)
        return "handler"

    with TestClient(app) as client:
        response = client.get("/")
    assert (response.status_code, response.headers["content-type"]) == (status, content_type)
    assert response.content == body
    assert called == []


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (RuntimeError("middleware broke"), 500, "The server failed to handle this request."),
        (HTTPException(401, "token expired"), 401, "token expired"),
    ],
)
def test_a_middleware_that_raises_goes_through_the_error_path(
    error: Exception, status: int, detail: str
) -> None:
    app = Zephyr()

    @app.middleware
    async def broken(request: Request, call_next: CallNext) -> Any:
        raise error

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(detail)
    assert "middleware broke" not in response.text


def test_app_error_handlers_catch_what_app_middleware_raises() -> None:
    app = Zephyr()

    @app.middleware
    async def broken(request: Request, call_next: CallNext) -> Any:
        raise LookupError("no tenant")

    @app.errorhandler(LookupError)
    def tenant_missing(exc: LookupError) -> tuple[dict[str, str], int]:
        return {"error": str(exc)}, 400

    with TestClient(app) as client:
        response = client.get("/")
    assert (response.status_code, response.json()) == (400, {"error": "no tenant"})


def test_middleware_can_be_an_object_with_an_async_call() -> None:
    class Stamp:
        def __init__(self, value: str) -> None:
            self.value = value

        async def __call__(self, request: Request, call_next: CallNext) -> Response:
            response = await call_next(request)
            response.headers["X-Stamp"] = self.value
            return response

    app = Zephyr()
    app.middleware(Stamp("v1"))

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").headers["x-stamp"] == "v1"


# -- hooks ------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
def test_before_request_returning_a_value_short_circuits(is_async: bool) -> None:
    app = Zephyr()
    events: list[str] = []

    def closed(request: Request) -> Any:
        events.append(f"before {request.path}")
        return ("closed for maintenance", 503) if request.path == "/closed" else None

    async def closed_async(request: Request) -> Any:
        return closed(request)

    app.before_request(closed_async if is_async else closed)

    @app.after_request
    def after(response: Response) -> None:
        events.append(f"after {response.status_code}")

    @app.get("/closed")
    async def shut() -> str:
        events.append("handler")
        return "open"

    @app.get("/open")
    async def open_() -> str:
        events.append("handler")
        return "open"

    with TestClient(app) as client:
        shut_response = client.get("/closed")
        open_response = client.get("/open")
    assert (shut_response.status_code, shut_response.text) == (503, "closed for maintenance")
    assert (open_response.status_code, open_response.text) == (200, "open")
    assert events == ["before /closed", "after 503", "before /open", "handler", "after 200"]


def test_before_request_without_arguments() -> None:
    app = Zephyr()
    calls: list[str] = []
    app.before_request(lambda: calls.append("called"))

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert calls == ["called"]


def test_after_request_forms_run_in_registration_order_and_may_replace_the_response() -> None:
    app = Zephyr()
    events: list[str] = []

    @app.after_request
    def replace(response: Response) -> Any:
        events.append("replace")
        return {"replaced": response.status_code}

    @app.after_request
    async def with_request(request: Request, response: Response) -> Response:
        events.append(f"with request {request.path}")
        response.headers["X-Path"] = request.path
        return response

    @app.get("/")
    async def home() -> str:
        return "original"

    with TestClient(app) as client:
        response = client.get("/")
    assert response.json() == {"replaced": 200}
    assert response.headers["x-path"] == "/"
    assert events == ["replace", "with request /"]


@pytest.mark.parametrize(
    ("path", "status"), [("/missing-thing", 404), ("/boom", 500), ("/deny", 403)]
)
def test_after_request_sees_error_responses(path: str, status: int) -> None:
    app = Zephyr()
    seen: list[int] = []

    @app.after_request
    def after(response: Response) -> None:
        seen.append(response.status_code)

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("handler failed")

    @app.get("/deny")
    async def deny() -> str:
        abort(403, "nope")

    @app.get("/missing-thing")
    async def missing() -> str:
        abort(404)

    with TestClient(app) as client:
        assert client.get(path).status_code == status
    assert seen == [status]


def test_teardown_request_forms_run_after_the_response_is_sent() -> None:
    app = Zephyr()
    sent: list[Message] = []
    seen: list[tuple[str, BaseException | None, int]] = []

    @app.teardown_request
    def plain(exc: BaseException | None) -> None:
        seen.append(("plain", exc, len(sent)))

    @app.teardown_request
    async def with_request(request: Request, exc: BaseException | None) -> None:
        seen.append((request.path, exc, len(sent)))

    @app.get("/")
    async def home() -> str:
        return "ok"

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "headers": [], "client": ("127.0.0.1", 1), "server": ("localhost", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert seen == [("plain", None, 2), ("/", None, 2)]


def test_teardown_request_gets_the_unhandled_exception() -> None:
    app = Zephyr()
    seen: list[BaseException | None] = []
    app.teardown_request(seen.append)

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("handler failed")

    @app.get("/gone")
    async def gone() -> str:
        abort(404)

    with TestClient(app) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/gone").status_code == 404
    assert [type(exc) for exc in seen] == [RuntimeError, type(None)]
    assert str(seen[0]) == "handler failed"


def test_a_failing_teardown_hook_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Zephyr()
    ran: list[str] = []

    @app.teardown_request
    def broken(exc: BaseException | None) -> None:
        raise ValueError("teardown broke")

    @app.teardown_request
    def fine(exc: BaseException | None) -> None:
        ran.append("fine")

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert ran == ["fine"]
    assert "teardown_request hook failed" in caplog.text
    assert "teardown broke" in caplog.text


# -- groups and route middleware ------------------------------------------------------------


def test_order_of_app_group_and_route_middleware_and_hooks() -> None:
    app = Zephyr()
    events: list[str] = []
    app.middleware(recording_middleware(events, "app-mw"))
    api = app.group("/api", middleware=[recording_middleware(events, "api-mw")])
    v1 = api.group("/v1", middleware=[recording_middleware(events, "v1-mw")])
    for scaffold, name in ((app, "app"), (api, "api"), (v1, "v1")):
        scaffold.before_request(lambda name=name: events.append(f"{name} before"))
        scaffold.after_request(lambda response, name=name: events.append(f"{name} after"))

    @v1.get("/items", middleware=[recording_middleware(events, "route-mw")])
    async def items() -> str:
        events.append("handler")
        return "items"

    with TestClient(app) as client:
        response = client.get("/api/v1/items")
    assert response.text == "items"
    assert events == [
        "app-mw in",
        "app before", "api before", "v1 before",
        "api-mw in", "v1-mw in", "route-mw in",
        "handler",
        "route-mw out", "v1-mw out", "api-mw out",
        "v1 after", "api after", "app after",
        "app-mw out",
    ]


def test_group_middleware_only_wraps_the_groups_routes() -> None:
    app = Zephyr()
    events: list[str] = []
    api = app.group("/api")
    api.middleware(recording_middleware(events, "api"))

    @api.get("/inside")
    async def inside() -> str:
        return "in"

    @app.get("/outside")
    async def outside() -> str:
        return "out"

    with TestClient(app) as client:
        assert "x-api" not in client.get("/outside").headers
        assert client.get("/api/inside").headers["x-api"] == "seen"
    assert events == ["api in", "api out"]


# -- ASGI middleware and mounts ---------------------------------------------------------------


class RecordingASGI:
    """A pure ASGI middleware that records each scope type it sees and tags responses."""

    def __init__(self, app: Any, *, name: str, log: list[str]) -> None:
        self.app = app
        self.name = name
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.log.append(f"{self.name} {scope['type']}")

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-layers", self.name.encode())]
            await send(message)

        await self.app(scope, receive, tagged)


def test_asgi_middleware_wraps_everything_first_registered_outermost() -> None:
    app = Zephyr()
    log: list[str] = []
    app.add_asgi_middleware(RecordingASGI, name="outer", log=log)
    app.add_asgi_middleware(RecordingASGI, name="inner", log=log)

    @app.get("/")
    async def home() -> str:
        log.append("handler")
        return "ok"

    with TestClient(app) as client:
        response = client.get("/")
    assert response.text == "ok"
    assert log == ["outer lifespan", "inner lifespan", "outer http", "inner http", "handler"]
    # The innermost layer adds its header first; the outer one appends after it.
    assert response.headers.get_list("x-layers") == ["inner", "outer"]


def test_asgi_middleware_class_must_be_callable() -> None:
    app = Zephyr()
    with pytest.raises(SetupError, match="'gzip' is not an ASGI middleware class or factory"):
        app.add_asgi_middleware("gzip")  # type: ignore[arg-type]


async def legacy_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"{scope['root_path']}|{scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def test_a_mounted_app_sees_its_prefix_as_root_path_and_the_full_path() -> None:
    app = Zephyr()
    app.mount("/legacy", legacy_app)
    with TestClient(app) as client:
        assert client.get("/legacy/users/1").text == "/legacy|/legacy/users/1"
        assert client.get("/legacy").text == "/legacy|/legacy"
        assert client.get("/legacyx").status_code == 404


def test_mounted_apps_see_asgi_middleware_but_not_app_middleware() -> None:
    app = Zephyr()
    log: list[str] = []
    events: list[str] = []
    app.add_asgi_middleware(RecordingASGI, name="asgi", log=log)
    app.middleware(recording_middleware(events, "app"))
    app.mount("/legacy", legacy_app)
    with TestClient(app) as client:
        response = client.get("/legacy/x")
    assert response.text == "/legacy|/legacy/x"
    assert response.headers["x-layers"] == "asgi"
    assert "x-app" not in response.headers
    assert events == []


# -- refused at registration ------------------------------------------------------------


def sync_middleware(request: Request, call_next: CallNext) -> Any:
    return call_next(request)


class SyncCallable:
    def __call__(self, request: Request, call_next: CallNext) -> Any:
        return call_next(request)


@pytest.mark.parametrize(
    ("register", "name"),
    [
        (lambda app: app.middleware(sync_middleware), "'sync_middleware'"),
        (lambda app: app.group("/api", middleware=[sync_middleware]), "'sync_middleware'"),
        (lambda app: app.middleware(SyncCallable()), "<tests.test_middleware.SyncCallable"),
    ],
)
def test_sync_middleware_is_refused_with_a_helpful_error(register: Any, name: str) -> None:
    with pytest.raises(SetupError) as info:
        register(Zephyr())
    message = str(info.value)
    assert message.startswith(f"middleware {name}")
    assert "must be an async function taking (request, call_next)" in message
    assert "app.add_asgi_middleware(cls, **options)" in message


def test_route_middleware_must_be_async_too() -> None:
    app = Zephyr()

    async def home() -> str:
        return "ok"

    with pytest.raises(SetupError, match="middleware 'sync_middleware' must be an async"):
        app.add_route("/", home, middleware=[sync_middleware])


@pytest.mark.parametrize(
    ("kind", "fn", "expected"),
    [
        ("before_request", lambda a, b: None, "must take () or (request), but its signature "
         "is (a, b)"),
        ("after_request", lambda: None, "must take (response) or (request, response), but its "
         "signature is ()"),
        ("after_request", lambda a, b, c: None, "or (request, response), but its signature is "
         "(a, b, c)"),
        ("teardown_request", lambda: None, "must take (exc) or (request, exc), but its "
         "signature is ()"),
        ("teardown_request", lambda a, b, c: None, "must take (exc) or (request, exc), but its "
         "signature is (a, b, c)"),
        ("after_request", lambda response, *, flag: None, "must take (response) or (request, "
         "response), but its signature is (response, *, flag)"),
    ],
)
def test_hooks_with_the_wrong_arity_are_refused(kind: str, fn: Any, expected: str) -> None:
    app = Zephyr()
    with pytest.raises(SetupError) as info:
        getattr(app, kind)(fn)
    assert str(info.value).startswith(f"{kind} hook ")
    assert expected in str(info.value)


def _decorated(fn: Any) -> Any:
    """A decorator that forgets functools.wraps: the hook is seen as (*args, **kwargs)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


class _Hooks:
    """Hooks as methods and as callable objects."""

    def __init__(self, seen: list[tuple[str, ...]]) -> None:
        self.seen = seen

    def method(self, request: Request, response: Response) -> None:
        self.seen.append(_types(request, response))

    def __call__(self, response: Response) -> None:
        self.seen.append(_types(response))


def _types(*args: Any) -> tuple[str, ...]:
    return tuple(type(arg).__name__ for arg in args)


def _after(seen: list[tuple[str, ...]], tag: str, response: Response) -> None:
    seen.append((tag, *_types(response)))


# Each hook style is handed the richest shape it can take; defaults keep their values.
@pytest.mark.parametrize(
    ("kind", "make", "expected"),
    [
        ("before_request", lambda seen: lambda *args: seen.append(_types(*args)), ("Request",)),
        ("before_request", lambda seen: lambda tag="kept": seen.append((tag,)), ("kept",)),
        ("before_request", lambda seen: _decorated(lambda request: seen.append(_types(request))),
         ("Request",)),
        ("after_request", lambda seen: lambda *args: seen.append(_types(*args)),
         ("Request", "JSONResponse")),
        ("after_request", lambda seen: functools.partial(_after, seen, "partial"),
         ("partial", "JSONResponse")),
        ("after_request", lambda seen: _Hooks(seen).method, ("Request", "JSONResponse")),
        ("after_request", lambda seen: _Hooks(seen), ("JSONResponse",)),
        ("after_request", lambda seen: _decorated(lambda *args: seen.append(_types(*args))),
         ("Request", "JSONResponse")),
        ("teardown_request", lambda seen: lambda *args: seen.append(_types(*args)),
         ("Request", "NoneType")),
        ("teardown_request", lambda seen: lambda exc, *rest: seen.append(_types(exc, *rest)),
         ("Request", "NoneType")),
    ],
)
def test_hooks_accept_any_callable_that_can_take_their_arguments(
    kind: str, make: Any, expected: tuple[str, ...]
) -> None:
    app = Zephyr()
    seen: list[tuple[str, ...]] = []
    getattr(app, kind)(make(seen))

    @app.get("/")
    async def home() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/").json() == {"ok": True}
    assert seen == [expected]


def test_hook_parameters_with_defaults_do_not_count() -> None:
    app = Zephyr()
    seen: list[Any] = []

    @app.after_request
    def after(response: Response, extra: str = "default") -> None:
        seen.append((response.status_code, extra))

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        client.get("/")
    assert seen == [(200, "default")]
