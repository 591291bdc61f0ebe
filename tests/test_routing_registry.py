"""The route registry: routing as data, ``app.routes``, url_for, runtime changes, mounts."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from zephyr import (
    Group,
    Request,
    Route,
    RouteConflictError,
    SetupError,
    URLBuildError,
    Zephyr,
)
from zephyr.testing import AsyncTestClient, TestClient

HERE = os.path.relpath(__file__)


def add(app: Zephyr | Group, path: str, label: str, **options: Any) -> Route:
    """Register a handler answering ``label`` and its path parameters at ``path``."""

    async def handler(**params: Any) -> str:
        return " ".join([label, *(f"{k}={v}" for k, v in params.items())])

    handler.__name__ = label
    takes_params_of(path, handler)
    return app.add_route(path, handler, **options)


PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)(?::\w+)?\}")


def takes_params_of(template: str, handler: Callable[..., Any]) -> None:
    """Give a ``**params`` handler the exact signature Zephyr wants for ``template``."""
    names = dict.fromkeys(a or b for a, b in PARAM.findall(template))
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names]
    )


async def home() -> str:
    return "home"


async def user(id: int) -> dict[str, int]:
    return {"id": id}


async def create() -> dict[str, bool]:
    return {"created": True}


# -- routing as data ---------------------------------------------------------------------


def test_routes_given_to_the_constructor() -> None:
    app = Zephyr(routes=[
        Route("/", home),
        Route("/users/<int:id>", user, methods=["GET", "PUT"], name="user-page"),
        Route("/things", create, methods=["POST"], status_code=201),
    ])
    with TestClient(app) as client:
        assert client.get("/").text == "home"
        assert client.put("/users/4").json() == {"id": 4}
        created = client.post("/things")
    assert (created.status_code, created.json()) == (201, {"created": True})
    assert app.url_for("user-page", id=4) == "/users/4"


def test_add_route_with_a_path_or_a_route() -> None:
    app = Zephyr()
    by_path = app.add_route("/users/<int:id>", user, methods=["GET", "DELETE"])
    by_route = app.add_route(Route("/", home, name="index"))
    assert isinstance(by_path, Route)
    assert (by_path.name, sorted(by_path.methods)) == ("user", ["DELETE", "GET"])
    assert app.routes == (by_path, by_route)
    with TestClient(app) as client:
        assert client.delete("/users/2").json() == {"id": 2}
        assert client.get("/").text == "home"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda app: app.add_route(Route("/", home), home),
         "add_route(Route(...)) takes no separate handler"),
        (lambda app: app.add_route("/x"), "add_route('/x') needs a handler"),
    ],
)
def test_add_route_misuse_is_explained(call: Callable[[Zephyr], Any], message: str) -> None:
    with pytest.raises(SetupError) as info:
        call(Zephyr())
    assert str(info.value) == message


def test_a_route_added_to_a_group_takes_its_prefix_and_name() -> None:
    app = Zephyr()
    api = app.group("/api", name="api")
    route = api.add_route(Route("/users/<int:id>", user))
    assert (route.path, route.name) == ("/api/users/<int:id>", "api.user")
    with TestClient(app) as client:
        assert client.get("/api/users/1").json() == {"id": 1}


def test_app_routes_lists_every_route_with_its_source() -> None:
    app = Zephyr()

    @app.get("/")
    async def index() -> str:
        return "index"

    @app.route("/items/{id:int}", methods=["PUT", "PATCH"], name="item")
    def update(id: int) -> None:
        return None

    routes = app.routes
    assert [(r.name, sorted(r.methods), r.path, r.handler) for r in routes] == [
        ("index", ["GET"], "/", index),
        ("item", ["PATCH", "PUT"], "/items/{id:int}", update),
    ]
    assert routes[0].source == f"{HERE}:{index.__code__.co_firstlineno}"
    assert routes[1].source == f"{HERE}:{update.__code__.co_firstlineno}"
    assert routes[1].param_names == ("id",)
    assert repr(routes[1]) == f"Route('/items/{{id:int}}', PATCH,PUT, name='item', at {HERE}:" \
        f"{update.__code__.co_firstlineno})"
    assert isinstance(routes, tuple)  # a snapshot: changing it cannot change the app


# -- url_for -------------------------------------------------------------------------------


def url_app() -> Zephyr:
    app = Zephyr()
    add(app, "/", "index")
    add(app, "/users/<int:id>", "user")
    add(app, "/users/<int:id>/posts/{slug}", "post")
    add(app, "/files/<path:path>", "files")
    api = app.group("/api", name="api")
    add(api, "/items", "items")
    v1 = api.group("/v1", name="v1")
    add(v1, "/items/<int:id>", "item")
    return app


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("index", {}, "/"),
        ("user", {"id": 5}, "/users/5"),
        ("post", {"id": 5, "slug": "hello world"}, "/users/5/posts/hello%20world"),
        ("post", {"id": 5, "slug": "a/b"}, "/users/5/posts/a%2Fb"),
        ("files", {"path": "docs/read me.md"}, "/files/docs/read%20me.md"),
        ("api.items", {}, "/api/items"),
        ("api.v1.item", {"id": 3}, "/api/v1/items/3"),
        ("user", {"id": 5, "_query": {"tab": "a b", "tag": ["x", "y"]}},
         "/users/5?tab=a+b&tag=x&tag=y"),
        ("index", {"_query": {}}, "/"),
    ],
)
def test_url_for_builds_paths(name: str, params: dict[str, Any], expected: str) -> None:
    assert url_app().url_for(name, **params) == expected


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("usr", {}, "no route named 'usr'. Did you mean 'user'? Known route names: api.items, "
                    "api.v1.item, files, index, post, user"),
        ("items", {}, "no route named 'items'. Did you mean 'api.items'"),
        ("zzz", {}, "no route named 'zzz'. Known route names: api.items"),
        ("post", {"id": 1}, "cannot build route 'post' (/users/<int:id>/posts/{slug}): missing "
                            "['slug']; its parameters are: id, slug (put query values in _query"),
        ("user", {"id": 1, "page": 2}, "cannot build route 'user' (/users/<int:id>): unexpected "
                                       "['page']; its parameters are: id"),
        ("index", {"q": "x"}, "unexpected ['q']; its parameters are: none"),
        ("user", {"id": -1}, "id=-1 does not fit its IntConverter"),
    ],
)
def test_url_for_errors_list_what_would_work(
    name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(URLBuildError) as info:
        url_app().url_for(name, **params)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("root_path", "expected"),
    [
        ("", {"rel": "/users/3?x=1", "abs": "http://localhost/users/3", "api": "/api/items"}),
        ("/site", {"rel": "/site/users/3?x=1", "abs": "http://localhost/site/users/3",
                   "api": "/site/api/items"}),
    ],
)
def test_request_url_for_adds_root_path_and_origin(root_path: str, expected: object) -> None:
    app = url_app()

    @app.get("/links")
    async def links(request: Request) -> dict[str, str]:
        return {
            "rel": request.url_for("user", id=3, _query={"x": 1}),
            "abs": request.url_for("user", id=3, _external=True),
            "api": request.url_for("api.items"),
        }

    with TestClient(app, root_path=root_path) as client:
        assert client.get("/links").json() == expected


# -- changes while serving ------------------------------------------------------------------


def test_routes_added_and_removed_while_serving() -> None:
    app = Zephyr()
    add(app, "/stable", "stable")
    with TestClient(app) as client:
        add(app, "/new/{n:int}", "new")
        assert client.get("/new/1").text == "new n=1"
        assert app.url_for("new", n=2) == "/new/2"
        removed = app.remove_route("new")
        assert [r.path for r in removed] == ["/new/{n:int}"]
        gone = client.get("/new/1")
        assert gone.status_code == 404
        assert gone.json()["detail"] == "no route matches this path"
        assert client.get("/stable").text == "stable"
        with pytest.raises(URLBuildError, match="no route named 'new'"):
            app.url_for("new", n=2)


def test_removing_an_unknown_route_lists_the_known_ones() -> None:
    app = Zephyr()
    add(app, "/a", "alpha")
    add(app, "/b", "beta")
    with pytest.raises(URLBuildError) as info:
        app.remove_route("gamma")
    assert str(info.value) == "no route named 'gamma' to remove; routes: alpha, beta"
    with TestClient(app), pytest.raises(URLBuildError, match="routes: alpha, beta"):
        app.remove_route("gamma")


def test_remove_by_route_object_and_every_route_of_a_name() -> None:
    app = Zephyr()

    async def page(n: int = 0) -> str:
        return f"page {n}"

    first = app.add_route("/p", page)
    app.add_route("/p/<int:n>", page)
    add(app, "/other", "other")
    assert app.remove_route(first) == [first]
    assert [r.path for r in app.remove_route("page")] == ["/p/<int:n>"]
    with pytest.raises(URLBuildError, match="no route named"):
        app.remove_route(first)
    assert [r.name for r in app.routes] == ["other"]


def test_remove_before_serving_leaves_the_rest_served() -> None:
    app = Zephyr()
    add(app, "/a", "a")
    add(app, "/b/{x}", "b")
    app.remove_route("b")
    add(app, "/b/{y}", "b2")  # the removed route no longer conflicts
    with TestClient(app) as client:
        assert client.get("/a").text == "a"
        assert client.get("/b/1").text == "b2 y=1"


def test_replacing_a_route_while_serving() -> None:
    app = Zephyr()
    add(app, "/v/{n:int}", "v1")
    with TestClient(app) as client:
        assert client.get("/v/1").text == "v1 n=1"
        add(app, "/v/{m:int}", "v2", replace=True)
        assert client.get("/v/1").text == "v2 m=1"


def test_a_route_that_fails_to_compose_while_serving_changes_nothing() -> None:
    app = Zephyr()
    add(app, "/v/{n:int}", "v1")

    async def broken() -> str:  # does not take the path parameter 'n'
        return "broken"

    with TestClient(app) as client:
        with pytest.raises(SetupError, match="does not take the path parameter 'n'"):
            app.add_route("/v/{n:int}", broken, replace=True)
        assert [r.name for r in app.routes] == ["v1"]
        assert client.get("/v/1").text == "v1 n=1"
        add(app, "/w", "w")  # the next swap publishes no half-made route
        assert client.get("/v/1").text == "v1 n=1"
        assert client.get("/w").text == "w"


def test_routes_added_to_a_group_while_serving_get_its_middleware() -> None:
    app = Zephyr()

    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-group"] = "api"
        return response

    api = app.group("/api", middleware=[tag])
    add(api, "/first", "first")
    with TestClient(app) as client:
        add(api, "/late", "late")
        response = client.get("/api/late")
    assert (response.text, response.headers["x-group"]) == ("late", "api")


def test_requests_during_route_changes_see_the_old_or_the_new_table() -> None:
    async def scenario() -> Counter[tuple[int, str]]:
        app = Zephyr()
        add(app, "/item/{i:int}", "item")

        async def extra() -> str:
            return "extra"

        outcomes: Counter[tuple[int, str]] = Counter()
        done = asyncio.Event()

        async def mutate() -> None:
            for _ in range(60):
                app.add_route("/extra", extra)
                await asyncio.sleep(0)
                app.remove_route("extra")
                await asyncio.sleep(0)
            done.set()

        async def hammer(client: AsyncTestClient, k: int) -> None:
            while not done.is_set():
                stable, toggled = await asyncio.gather(
                    client.get(f"/item/{k}"), client.get("/extra")
                )
                assert (stable.status_code, stable.text) == (200, f"item i={k}")
                outcomes[toggled.status_code, toggled.text[:5]] += 1

        async with AsyncTestClient(app) as client:
            await asyncio.gather(mutate(), *(hammer(client, k) for k in range(4)))
        return outcomes

    outcomes = asyncio.run(scenario())
    assert set(outcomes) == {(200, "extra"), (404, '{"typ')}


def test_route_changes_from_another_thread_never_break_requests() -> None:
    app = Zephyr()
    add(app, "/item/{i:int}", "item")
    stop = threading.Event()

    def mutate() -> None:
        while not stop.is_set():
            add(app, "/extra/{n:int}", "extra")
            stop.wait(0.0001)  # let the requests through between the changes
            app.remove_route("extra")
            stop.wait(0.0001)

    outcomes: Counter[int] = Counter()
    with TestClient(app) as client:
        worker = threading.Thread(target=mutate)
        worker.start()
        try:
            for k in range(100):
                assert client.get(f"/item/{k}").text == f"item i={k}"
                response = client.get(f"/extra/{k}")
                outcomes[response.status_code] += 1
                if response.status_code != 404:
                    assert (response.status_code, response.text) == (200, f"extra n={k}")
        finally:
            stop.set()
            worker.join()
    assert set(outcomes) == {200, 404}  # both tables were seen


# -- mounts ----------------------------------------------------------------------------------


def asgi_text(text: str) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = f"{text} {scope['root_path']} {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def test_mounting_the_same_prefix_twice_names_the_first_mount() -> None:
    app = Zephyr()
    first = asgi_text("first")
    app.mount("/legacy", first)
    with pytest.raises(RouteConflictError) as info:
        app.mount("/legacy", asgi_text("second"))
    assert f"{HERE}:{first.__code__.co_firstlineno} is already mounted there" in str(info.value)
    assert "choose another prefix" in str(info.value)


@pytest.mark.parametrize("prefix", ["legacy", "/legacy/", "/"])
def test_mount_prefix_must_be_a_clean_path(prefix: str) -> None:
    with pytest.raises(SetupError, match="must start with '/' and not end with one"):
        Zephyr().mount(prefix, asgi_text("x"))


def test_the_longest_mount_prefix_wins_whatever_the_order() -> None:
    app = Zephyr()
    app.mount("/api", asgi_text("outer"))
    app.mount("/api/v2", asgi_text("inner"))
    app.mount("/apiary", asgi_text("bees"))
    with TestClient(app) as client:
        assert client.get("/api/v2/x").text == "inner /api/v2 /api/v2/x"
        assert client.get("/api/v1").text == "outer /api /api/v1"
        assert client.get("/apiary").text == "bees /apiary /apiary"


@pytest.mark.parametrize("route_first", [True, False])
def test_a_route_hidden_by_a_mount_is_refused(route_first: bool) -> None:
    app = Zephyr()
    mount = lambda: app.mount("/legacy", asgi_text("legacy"))  # noqa: E731
    route = lambda: add(app, "/legacy/users", "users")  # noqa: E731
    first, second = (route, mount) if route_first else (mount, route)
    first()
    with pytest.raises(RouteConflictError) as info:
        second()
    assert "route '/legacy/users'" in str(info.value)
    assert "lies under '/legacy', where" in str(info.value)
    assert "so it could never be reached; move the route or the mount" in str(info.value)


def test_routes_beside_a_mount_are_fine() -> None:
    app = Zephyr()
    app.mount("/legacy", asgi_text("legacy"))
    add(app, "/legacy-info", "info")
    add(app, "/{page}", "page")
    with TestClient(app) as client:
        assert client.get("/legacy-info").text == "info"
        assert client.get("/legacy").text == "legacy /legacy /legacy"
        assert client.get("/about").text == "page page=about"
