"""Dependencies: Depends(), caching, yield cleanups after the response, levels, overrides."""

import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import msgspec
import pydantic
import pytest

from zephyr import (
    Depends,
    Header,
    HTTPException,
    JSONResponse,
    Query,
    Request,
    SetupError,
    Zephyr,
)
from zephyr.testing import TestClient


class Credentials(msgspec.Struct):
    user: str


def recording(app: Zephyr, events: list[str]) -> Any:
    """``app`` as an ASGI app that adds "response sent" to ``events`` once the body is out."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def record(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("response sent")

        await app(scope, receive, record if scope["type"] == "http" else send)

    return asgi


# -- declaring dependencies ----------------------------------------------------------------


class Pagination:
    """A class used as its own dependency: its parameters come from the query string."""

    def __init__(self, page: int = 1, size: Annotated[int, Query(le=50)] = 10) -> None:
        self.page = page
        self.size = size


def test_depends_as_default_in_annotated_and_on_a_class() -> None:
    app = Zephyr()

    def get_name(request: Request) -> str:
        return request.path

    async def get_version() -> int:
        return 3

    @app.get("/")
    def info(
        name: str = Depends(get_name),
        version: Annotated[int, Depends(get_version)] = 0,
        paging: Annotated[Pagination, Depends()] = None,
    ) -> dict[str, Any]:
        return {"name": name, "version": version, "page": paging.page, "size": paging.size}

    with TestClient(app) as client:
        assert client.get("/").json() == {"name": "/", "version": 3, "page": 1, "size": 10}
        assert client.get("/?page=2&size=5").json()["page"] == 2
        assert client.get("/?size=51").json()["errors"] == [
            {"location": "query", "field": "size", "message": "Expected `int` <= 50",
             "value": "51"},
        ]


class StructPaging(msgspec.Struct):
    page: int = 1
    size: Annotated[int, msgspec.Meta(le=50)] = 10


@dataclasses.dataclass
class DataclassPaging:
    page: int = 1
    size: Annotated[int, msgspec.Meta(le=50)] = 10


class PydanticPaging(pydantic.BaseModel):
    page: int = 1
    size: Annotated[int, msgspec.Meta(le=50)] = 10


@pytest.mark.parametrize("model", [StructPaging, DataclassPaging, PydanticPaging])
def test_a_model_class_as_its_own_dependency_reads_its_typed_fields(model: type) -> None:
    # msgspec and pydantic declare the fields on the class, not on __init__: each must still
    # come from the query string as its annotated type, with its constraints checked.
    app = Zephyr()

    @app.get("/")
    def read(paging: Annotated[model, Depends()]) -> dict[str, Any]:  # type: ignore[valid-type]
        return {"page": paging.page, "size": paging.size}

    with TestClient(app) as client:
        assert client.get("/").json() == {"page": 1, "size": 10}
        assert client.get("/?page=2&size=5").json() == {"page": 2, "size": 5}
        r = client.get("/?page=two&size=51")
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"location": "query", "field": "page", "message": "Expected `int`, got `str`",
             "value": "two"},
            {"location": "query", "field": "size", "message": "Expected `int` <= 50",
             "value": "51"},
        ]


def test_a_callable_instance_is_a_dependency() -> None:
    class Limit:
        def __init__(self, most: int) -> None:
            self.most = most

        async def __call__(self, limit: int = 10) -> int:
            return min(limit, self.most)

    app = Zephyr()

    @app.get("/")
    def read(limit: Annotated[int, Depends(Limit(20))]) -> dict[str, int]:
        return {"limit": limit}

    with TestClient(app) as client:
        assert client.get("/?limit=99").json() == {"limit": 20}


def test_sync_dependencies_run_in_the_pool_and_async_ones_on_the_loop() -> None:
    app = Zephyr()

    def blocking() -> str:
        return threading.current_thread().name

    async def awaiting() -> str:
        return threading.current_thread().name

    @app.get("/")
    async def where(sync: str = Depends(blocking), loop: str = Depends(awaiting)) -> dict[str, Any]:
        return {"sync": sync, "async_is_the_loop": loop == threading.current_thread().name}

    with TestClient(app) as client:
        r = client.get("/").json()
    assert r["sync"].startswith("zephyr-sync")
    assert r["async_is_the_loop"] is True


def test_nested_dependencies_and_their_parameters() -> None:
    app = Zephyr()

    def token(x_token: Annotated[str, Header()]) -> str:
        return x_token

    async def user(token: str = Depends(token), realm: str = "main") -> str:
        return f"{realm}:{token}"

    def greeting(user: str = Depends(user), credentials: Credentials | None = None) -> str:
        return f"hello {user} ({credentials.user if credentials else 'anonymous'})"

    @app.post("/")
    def hello(text: str = Depends(greeting), loud: bool = False) -> dict[str, str]:
        return {"text": text.upper() if loud else text}

    with TestClient(app) as client:
        r = client.post("/?realm=lab&loud=1", headers={"x-token": "t1"}, json={"user": "ann"})
        assert r.json() == {"text": "HELLO LAB:T1 (ANN)"}
        # Problems in dependencies' parameters and the handler's own are reported together.
        r = client.post("/?loud=maybe", json={"user": 5})
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"location": "query", "field": "loud", "message": "Expected `bool`, got `str`",
             "value": "maybe"},
            {"location": "header", "field": "x-token", "message": "a value is required"},
            {"location": "body", "field": "body.user", "message": "Expected `str`, got `int`",
             "value": 5},
        ]


# -- caching -----------------------------------------------------------------------------------


def test_a_shared_dependency_runs_once_per_request_unless_told_not_to() -> None:
    app = Zephyr()
    calls: list[str] = []

    def connection() -> int:
        calls.append("connection")
        return len(calls)

    def users(db: int = Depends(connection)) -> int:
        return db

    def orders(db: int = Depends(connection)) -> int:
        return db

    @app.get("/", dependencies=[Depends(connection)])
    def read(a: int = Depends(users), b: int = Depends(orders), c: int = Depends(connection)
             ) -> dict[str, int]:
        return {"a": a, "b": b, "c": c}

    @app.get("/fresh")
    def read_fresh(
        a: int = Depends(connection, use_cache=False),
        b: Annotated[int, Depends(connection, use_cache=False)] = 0,
    ) -> dict[str, int]:
        return {"a": a, "b": b}

    with TestClient(app) as client:
        assert client.get("/").json() == {"a": 1, "b": 1, "c": 1}
        assert calls == ["connection"]
        assert client.get("/").json() == {"a": 2, "b": 2, "c": 2}  # once per request
        calls.clear()
        assert client.get("/fresh").json() == {"a": 1, "b": 2}
        assert calls == ["connection", "connection"]


# -- yield dependencies ------------------------------------------------------------------------


def test_yield_dependencies_clean_up_after_the_response_is_sent() -> None:
    app = Zephyr()
    events: list[str] = []

    def session() -> Iterator[str]:
        events.append("session open")
        yield "session"
        events.append("session closed")

    async def transaction(db: str = Depends(session)) -> AsyncIterator[str]:
        events.append("transaction begin")
        yield f"{db}+transaction"
        events.append("transaction end")

    @app.get("/")
    async def handler(tx: str = Depends(transaction)) -> JSONResponse:
        events.append(f"handler got {tx}")
        response = JSONResponse({"ok": True})
        response.add_task(events.append, "background task")
        return response

    with TestClient(recording(app, events)) as client:
        assert client.get("/").json() == {"ok": True}
    assert events == [
        "session open", "transaction begin", "handler got session+transaction",
        "response sent", "background task", "transaction end", "session closed",
    ]


def test_a_streamed_response_is_finished_before_the_cleanup() -> None:
    app = Zephyr()
    events: list[str] = []

    async def resource() -> AsyncIterator[str]:
        yield "resource"
        events.append("cleanup")

    @app.get("/")
    def stream(name: str = Depends(resource)) -> Iterator[str]:
        def chunks() -> Iterator[str]:
            events.append(f"streaming {name}")
            yield "a"
            yield "b"

        return chunks()

    with TestClient(recording(app, events)) as client:
        assert client.get("/").text == "ab"
    assert events == ["streaming resource", "response sent", "cleanup"]


def _failing_handlers(app: Zephyr, events: list[str]) -> None:
    def sync_resource() -> Iterator[str]:
        try:
            yield "sync"
        except Exception as exc:
            events.append(f"sync cleanup saw {exc!r}")
            raise
        finally:
            events.append("sync closed")

    async def async_resource() -> AsyncIterator[str]:
        try:
            yield "async"
        except Exception as exc:
            events.append(f"async cleanup saw {exc!r}")
            raise
        finally:
            events.append("async closed")

    @app.get("/crash")
    def crash(a: str = Depends(sync_resource), b: str = Depends(async_resource)) -> None:
        raise RuntimeError("crash")

    @app.get("/refuse")
    async def refuse(a: str = Depends(sync_resource), b: str = Depends(async_resource)) -> None:
        raise HTTPException(409, "already there")


def test_cleanups_see_an_unhandled_error() -> None:
    app = Zephyr()
    events: list[str] = []
    _failing_handlers(app, events)
    with TestClient(recording(app, events)) as client:
        r = client.get("/crash")
    assert r.status_code == 500
    assert r.json()["title"] == "Internal Server Error"
    assert events == [
        "response sent",
        "async cleanup saw RuntimeError('crash')", "async closed",
        "sync cleanup saw RuntimeError('crash')", "sync closed",
    ]


def test_cleanups_see_an_http_exception() -> None:
    app = Zephyr()
    events: list[str] = []
    _failing_handlers(app, events)
    with TestClient(recording(app, events)) as client:
        r = client.get("/refuse")
    assert r.status_code == 409
    assert r.json()["detail"] == "already there"
    assert events == [
        "response sent",
        "async cleanup saw HTTPException(409, 'already there')", "async closed",
        "sync cleanup saw HTTPException(409, 'already there')", "sync closed",
    ]


# -- refusing the request --------------------------------------------------------------------


def test_a_dependency_can_refuse_before_the_handler_runs() -> None:
    app = Zephyr()
    called: list[str] = []

    def require_user(authorization: Annotated[str | None, Header()] = None) -> str:
        if authorization != "Bearer good":
            raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
        return "ann"

    @app.get("/")
    def secret(user: str = Depends(require_user)) -> dict[str, str]:
        called.append(user)
        return {"user": user}

    with TestClient(app) as client:
        r = client.get("/", headers={"authorization": "Bearer bad"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"] == "log in first"
        assert called == []
        assert client.get("/", headers={"authorization": "Bearer good"}).json() == {"user": "ann"}
        assert called == ["ann"]


# -- app, group and route dependencies ---------------------------------------------------------


def test_app_group_and_route_dependencies_run_in_that_order_before_the_handler() -> None:
    events: list[str] = []

    def step(name: str) -> Any:
        async def record() -> None:
            events.append(name)

        record.__qualname__ = name
        return Depends(record)

    app = Zephyr(dependencies=[step("app")])
    api = app.group("/api", dependencies=[step("group")])
    admin = api.group("/admin", dependencies=[step("subgroup")])

    @admin.get("/", dependencies=[step("route 1"), step("route 2")])
    def handler(value: str = Depends(lambda: events.append("parameter") or "v")) -> None:
        events.append("handler")

    @app.get("/plain")
    def plain() -> None:
        events.append("plain handler")

    with TestClient(app) as client:
        assert client.get("/api/admin/").status_code == 204
        assert events == ["app", "group", "subgroup", "route 1", "route 2", "parameter",
                          "handler"]
        events.clear()
        assert client.get("/plain").status_code == 204
        assert events == ["app", "plain handler"]


def test_route_dependency_problems_join_the_handlers_422() -> None:
    app = Zephyr()

    def check_version(x_version: Annotated[int, Header()]) -> None: ...

    @app.get("/", dependencies=[Depends(check_version)])
    def read(page: int) -> None: ...

    with TestClient(app) as client:
        r = client.get("/?page=x", headers={"x-version": "v2"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"location": "header", "field": "x-version", "message": "Expected `int`, got `str`",
         "value": "v2"},
        {"location": "query", "field": "page", "message": "Expected `int`, got `str`",
         "value": "x"},
    ]


@pytest.mark.parametrize("not_a_marker", [print, "auth", None])
def test_dependencies_lists_take_only_depends_markers(not_a_marker: Any) -> None:
    message = f"dependencies=[...] takes Depends(fn) markers, not {not_a_marker!r}"
    with pytest.raises(SetupError) as info:
        Zephyr(dependencies=[not_a_marker])
    assert str(info.value) == message
    app = Zephyr()
    with pytest.raises(SetupError) as info:
        app.group("/api", dependencies=[not_a_marker])
    assert str(info.value) == message
    with pytest.raises(SetupError) as info:
        app.add_route("/", lambda: None, dependencies=[not_a_marker])
    assert str(info.value) == message


# -- overrides ---------------------------------------------------------------------------------


def real_database() -> str:
    return "real"


def database_user(db: str = Depends(real_database)) -> str:
    return f"user from {db}"


def test_dependency_overrides_before_and_after_startup() -> None:
    app = Zephyr()

    @app.get("/")
    def read(user: str = Depends(database_user)) -> dict[str, str]:
        return {"user": user}

    async def fake_database(flavour: str = "fake") -> str:
        return flavour

    app.dependency_overrides[real_database] = fake_database
    with TestClient(app) as client:
        assert client.get("/").json() == {"user": "user from fake"}
        assert client.get("/?flavour=stub").json() == {"user": "user from stub"}
        app.dependency_overrides[database_user] = lambda: "admin"
        assert client.get("/").json() == {"user": "admin"}
        app.dependency_overrides.clear()
        assert client.get("/").json() == {"user": "user from real"}
        app.dependency_overrides[real_database] = lambda: "late"
        assert client.get("/").json() == {"user": "user from late"}


# -- setup mistakes ----------------------------------------------------------------------------


def cycle_a(b: "Annotated[int, Depends(cycle_b)]") -> int:
    return b


def cycle_b(a: "Annotated[int, Depends(cycle_a)]") -> int:
    return a


def test_cycles_are_refused_at_startup_with_the_chain() -> None:
    app = Zephyr()

    @app.get("/")
    def handler(value: Annotated[int, Depends(cycle_a)]) -> None: ...

    with pytest.raises(SetupError) as info:
        app._go_live()
    assert str(info.value) == (
        f"dependency cycle: {handler.__qualname__!r} -> 'cycle_a' -> 'cycle_b' -> 'cycle_a'; "
        "break it by removing one of these Depends"
    )


def test_depends_needs_something_to_call() -> None:
    cases: list[tuple[dict[str, Any], Any, str]] = [
        ({"dependencies": [Depends()]}, lambda: None,
         "Depends() without a callable stands for the parameter's annotated class"),
        ({}, lambda value=Depends(): None,  # noqa: B008
         "Depends() without a callable stands for the parameter's annotated class"),
        ({}, lambda value=Depends(42): None,  # noqa: B008
         "Depends() needs a callable, got 42"),
    ]

    def builtin(value: Annotated[int, Depends()]) -> None: ...

    cases.append(({}, builtin, "cannot read the signature of dependency 'int': "))
    for options, handler, message in cases:
        app = Zephyr()
        app.add_route("/", handler, **options)
        with pytest.raises(SetupError) as info:
            app._go_live()
        assert str(info.value).startswith(message)
