"""Registration: decorators, groups (prefixes, names, middleware, hooks, errors), controllers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from zephyr import (
    Group,
    Request,
    Response,
    Route,
    RouteConflictError,
    SetupError,
    Zephyr,
    abort,
)
from zephyr.testing import TestClient

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


# -- decorators -------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete"])
def test_verb_decorators_register_one_method_and_return_the_function(verb: str) -> None:
    app = Zephyr()

    async def handler() -> str:
        return verb

    assert getattr(app, verb)("/x")(handler) is handler
    (route,) = app.routes
    assert (route.methods, route.name, route.handler) == ({verb.upper()}, "handler", handler)
    with TestClient(app) as client:
        assert client.request(verb.upper(), "/x").text == verb
        other = "POST" if verb == "get" else "GET"
        assert client.request(other, "/x").status_code == 405


def test_route_decorator_takes_methods_name_and_status_code() -> None:
    app = Zephyr()

    @app.route("/notes", methods=["POST", "PUT"], name="save-note", status_code=201)
    async def save(request: Request) -> dict[str, str]:
        return {"method": request.method}

    with TestClient(app) as client:
        created = client.post("/notes")
        assert (created.status_code, created.json()) == (201, {"method": "POST"})
        assert client.put("/notes").status_code == 201
    assert app.url_for("save-note") == "/notes"


def test_route_middleware_wraps_only_its_route() -> None:
    app = Zephyr()

    async def stamp(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-stamp"] = "yes"
        return response

    @app.get("/with", middleware=[stamp])
    async def with_mw() -> str:
        return "with"

    @app.get("/without")
    async def without() -> str:
        return "without"

    with TestClient(app) as client:
        assert client.get("/with").headers["x-stamp"] == "yes"
        assert "x-stamp" not in client.get("/without").headers


def test_route_middleware_is_checked_at_registration() -> None:
    def sync_mw(request: Request, call_next: Any) -> Any:
        return call_next(request)

    async def home() -> str:
        return "home"

    app = Zephyr()
    with pytest.raises(SetupError, match=r"middleware .*sync_mw' must be an async function"):
        app.get("/", middleware=[sync_mw])(home)
    with pytest.raises(SetupError, match="must be an async function taking"):
        app.add_route(Route("/", home, middleware=[sync_mw]))
    assert app.routes == ()


# -- groups: prefixes and names -------------------------------------------------------------


def test_nested_groups_join_prefixes_and_names() -> None:
    app = Zephyr()
    api = app.group("/api", name="api")
    v1 = api.group("/v1", name="v1")
    plain = api.group("/plain")  # no name: adds nothing to route names

    @v1.get("/items/<int:id>", name="item")
    async def item(id: int) -> dict[str, int]:
        return {"id": id}

    @plain.get("/ping")
    async def ping() -> str:
        return "pong"

    @api.get("/")
    async def api_root() -> str:
        return "api"

    assert [(r.path, r.name) for r in app.routes] == [
        ("/api/v1/items/<int:id>", "api.v1.item"),
        ("/api/plain/ping", "api.ping"),
        ("/api/", "api.api_root"),
    ]
    assert isinstance(v1, Group)
    assert v1.app is app
    assert repr(v1) == "<Group '/api/v1' name='v1'>"
    assert app.url_for("api.v1.item", id=4) == "/api/v1/items/4"
    with TestClient(app) as client:
        assert client.get("/api/v1/items/4").json() == {"id": 4}
        assert client.get("/api/plain/ping").text == "pong"
        assert client.get("/api/").text == "api"


def test_a_group_with_an_empty_prefix_only_names_its_routes() -> None:
    app = Zephyr()
    admin = app.group("", name="admin")

    @admin.get("/dashboard")
    async def dashboard() -> str:
        return "dash"

    assert app.url_for("admin.dashboard") == "/dashboard"


@pytest.mark.parametrize("prefix", ["api", "/api/", "/"])
def test_group_prefix_is_validated(prefix: str) -> None:
    with pytest.raises(SetupError) as info:
        Zephyr().group(prefix)
    assert str(info.value) == (
        f"group prefix {prefix!r} must start with '/' and not end with one, like '/api'"
    )


def test_group_routes_conflict_with_app_routes_of_the_same_path() -> None:
    app = Zephyr()

    @app.get("/api/items")
    async def items() -> str:
        return "app"

    api = app.group("/api")
    with pytest.raises(RouteConflictError, match="'/api/items' \\(GET\\)"):
        api.get("/items", name="group_items")(items)


# -- groups: middleware, hooks, error handlers ------------------------------------------------


def layered_app(log: list[str]) -> Zephyr:
    """App, group and nested group, each with middleware and before/after hooks."""

    def middleware(tag: str) -> Any:
        async def mw(request: Request, call_next: Any) -> Response:
            log.append(f"{tag}>")
            response = await call_next(request)
            log.append(f"<{tag}")
            return response

        return mw

    def hooks(scaffold: Zephyr | Group, tag: str) -> None:
        scaffold.before_request(lambda: log.append(f"{tag}.before"))
        scaffold.after_request(lambda response: log.append(f"{tag}.after"))

    app = Zephyr()
    app.middleware(middleware("app"))
    hooks(app, "app")
    api = app.group("/api", middleware=[middleware("api")])
    hooks(api, "api")
    v1 = api.group("/v1", middleware=[middleware("v1")])
    hooks(v1, "v1")

    @v1.get("/x", middleware=[middleware("route")])
    async def x() -> str:
        log.append("handler")
        return "x"

    @app.get("/top")
    async def top() -> str:
        log.append("handler")
        return "top"

    return app


def test_middleware_and_hooks_run_outer_group_first() -> None:
    log: list[str] = []
    with TestClient(layered_app(log)) as client:
        assert client.get("/api/v1/x").text == "x"
        assert log == [
            "app>", "app.before", "api.before", "v1.before",
            "api>", "v1>", "route>", "handler", "<route", "<v1", "<api",
            "v1.after", "api.after", "app.after", "<app",
        ]
        log.clear()
        assert client.get("/top").text == "top"
        assert log == ["app>", "app.before", "handler", "app.after", "<app"]


def test_a_group_before_hook_can_answer_for_its_routes_only() -> None:
    app = Zephyr()
    private = app.group("/private")

    @private.before_request
    def refuse(request: Request) -> Any:
        if request.headers.get("x-token") != "secret":
            return {"error": "no token"}, 401
        return None

    @private.get("/data")
    async def data() -> str:
        return "data"

    @app.get("/public")
    async def public() -> str:
        return "public"

    with TestClient(app) as client:
        refused = client.get("/private/data")
        assert (refused.status_code, refused.json()) == (401, {"error": "no token"})
        assert client.get("/private/data", headers={"x-token": "secret"}).text == "data"
        assert client.get("/public").text == "public"


def error_app() -> Zephyr:
    app = Zephyr()
    api = app.group("/api")
    v1 = api.group("/v1")

    @app.errorhandler(404)
    def app_404(exc: Exception) -> Any:
        return {"by": "app", "detail": getattr(exc, "detail", None)}, 404

    @v1.errorhandler(404)
    def v1_404(request: Request, exc: Exception) -> Any:
        return {"by": "v1", "path": request.url.path}, 404

    @api.errorhandler(ValueError)
    def api_value(exc: ValueError) -> Any:
        return {"by": "api", "error": str(exc)}, 400

    @app.errorhandler(ValueError)
    def app_value(exc: ValueError) -> Any:
        return {"by": "app", "error": str(exc)}, 500

    @v1.get("/missing")
    async def v1_missing() -> None:
        abort(404, "v1 thing")

    @v1.get("/bad")
    async def v1_bad() -> None:
        raise ValueError("v1 bad")

    @api.get("/missing")
    async def api_missing() -> None:
        abort(404, "api thing")

    @app.get("/bad")
    async def app_bad() -> None:
        raise ValueError("app bad")

    return app


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/v1/missing", 404, {"by": "v1", "path": "/api/v1/missing"}),
        ("/api/missing", 404, {"by": "app", "detail": "api thing"}),  # api has no 404 handler
        ("/api/v1/bad", 400, {"by": "api", "error": "v1 bad"}),  # inherited from the parent
        ("/bad", 500, {"by": "app", "error": "app bad"}),
        ("/api/v1/nowhere", 404, {"by": "app", "detail": "no route matches this path"}),
    ],
)
def test_group_error_handlers_override_the_apps(path: str, status: int, body: object) -> None:
    with TestClient(error_app()) as client:
        response = client.get(path)
    assert (response.status_code, response.json()) == (status, body)


@pytest.mark.parametrize(
    ("register", "what"),
    [
        (lambda g: g.before_request(lambda: None), "add a before_request hook"),
        (lambda g: g.after_request(lambda response: None), "add an after_request hook"),
        (lambda g: g.errorhandler(404)(lambda exc: None), "add an error handler"),
        (lambda g: g.middleware(_noop_middleware), "add middleware"),
    ],
)
def test_group_hooks_cannot_be_added_while_serving(register: Any, what: str) -> None:
    app = Zephyr()
    api = app.group("/api")
    with TestClient(app), pytest.raises(SetupError) as info:
        register(api)
    assert str(info.value).startswith(f"cannot {what} after the app has started serving")


async def _noop_middleware(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    return response


def test_group_middleware_must_be_async() -> None:
    def sync_mw(request: Request, call_next: Any) -> Any:
        return call_next(request)

    with pytest.raises(SetupError, match="must be an async function taking \\(request, call_next"):
        Zephyr().group("/api", middleware=[sync_mw])


# -- controllers ---------------------------------------------------------------------------


class Shop:
    """A method-name controller: public ``<verb>_<name>`` methods become routes."""

    def __init__(self) -> None:
        self.orders = ["first"]

    async def get_index(self) -> dict[str, str]:
        return {"page": "index"}

    async def post_checkout(self, request: Request) -> dict[str, str]:
        return {"method": request.method, "orders": ",".join(self.orders)}

    def get_order_history(self, page: int = 1, sort: str = "date") -> dict[str, Any]:
        return {"page": page, "sort": sort}

    async def get_item(self, item_id: int) -> dict[str, Any]:
        return {"id": item_id, "type": type(item_id).__name__}

    async def delete_item(self, item_id: int) -> None:
        return None

    async def get_ticket(self, ticket: uuid.UUID, verbose: bool = False) -> dict[str, Any]:
        return {"ticket": str(ticket), "type": type(ticket).__name__, "verbose": verbose}

    async def get_tag(self, name: str, weight: float, limit: int = 3) -> dict[str, Any]:
        return {"name": name, "weight": weight, "limit": limit}

    def helper(self) -> str:  # not a verb: not a route
        return "helper"

    def _get_secret(self) -> str:  # private: not a route
        return "secret"

    def fetch_data(self) -> str:  # 'fetch' is no HTTP method
        return "data"


def test_mount_controller_turns_methods_into_routes() -> None:
    app = Zephyr()
    routes = app.mount_controller("/shop", Shop)
    assert sorted((r.path, ",".join(r.methods), r.name) for r in routes) == [
        ("/shop", "GET", "Shop.get_index"),
        ("/shop/checkout", "POST", "Shop.post_checkout"),
        ("/shop/item/{item_id:int}", "DELETE", "Shop.delete_item"),
        ("/shop/item/{item_id:int}", "GET", "Shop.get_item"),
        ("/shop/order-history", "GET", "Shop.get_order_history"),
        ("/shop/tag/{name:str}/{weight:float}", "GET", "Shop.get_tag"),
        ("/shop/ticket/{ticket:uuid}", "GET", "Shop.get_ticket"),
    ]
    assert app.url_for("Shop.get_item", item_id=3) == "/shop/item/3"


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/shop", 200, {"page": "index"}),
        ("POST", "/shop/checkout", 200, {"method": "POST", "orders": "first"}),
        ("GET", "/shop/order-history", 200, {"page": 1, "sort": "date"}),
        ("GET", "/shop/order-history?page=3&sort=total", 200, {"page": 3, "sort": "total"}),
        ("GET", "/shop/item/7", 200, {"id": 7, "type": "int"}),
        ("DELETE", "/shop/item/7", 204, None),
        ("GET", f"/shop/ticket/{UID}?verbose=true", 200,
         {"ticket": str(UID), "type": "UUID", "verbose": True}),
        ("GET", "/shop/tag/red/2.5?limit=9", 200, {"name": "red", "weight": 2.5, "limit": 9}),
        ("GET", "/shop/item/seven", 404, None),
        ("GET", "/shop/helper", 404, None),
        ("GET", "/shop/secret", 404, None),
        ("GET", "/shop/data", 404, None),
        ("GET", "/shop/get-index", 404, None),
    ],
)
def test_controller_routes_answer(method: str, path: str, status: int, body: object) -> None:
    app = Zephyr()
    app.mount_controller("/shop", Shop())
    with TestClient(app) as client:
        response = client.request(method, path)
    assert response.status_code == status
    if status == 404:
        assert response.json()["detail"] == "no route matches this path"
    elif body is not None:
        assert response.json() == body


def test_controller_query_parameters_are_validated() -> None:
    app = Zephyr()
    app.mount_controller("/shop", Shop)
    with TestClient(app) as client:
        response = client.get("/shop/order-history?page=last")
    assert response.status_code == 422
    assert response.json()["errors"] == [{
        "location": "query", "field": "page", "message": "Expected `int`, got `str`",
        "value": "last",
    }]


def test_a_controller_parameter_annotated_request_gets_the_request() -> None:
    class Notes:
        async def put_note(self, req: Request, note_id: int) -> dict[str, Any]:
            return {"note": note_id, "method": req.method}

    app = Zephyr()
    (route,) = app.mount_controller("/notes", Notes)
    assert route.path == "/notes/note/{note_id:int}"
    with TestClient(app) as client:
        assert client.put("/notes/note/2").json() == {"note": 2, "method": "PUT"}


def test_controller_in_a_group_and_at_the_root() -> None:
    class Home:
        def get_index(self) -> str:
            return "home"

        def get_about(self) -> str:
            return "about"

    app = Zephyr()
    app.mount_controller("", Home)
    api = app.group("/api", name="api")
    api.mount_controller("/shop", Shop)
    assert app.url_for("Home.get_index") == "/"
    assert app.url_for("api.Shop.get_item", item_id=1) == "/api/shop/item/1"
    with TestClient(app) as client:
        assert client.get("/").text == "home"
        assert client.get("/about").text == "about"
        assert client.get("/api/shop/item/1").json()["id"] == 1


def test_a_controller_without_route_methods_is_refused() -> None:
    class Helpers:
        def helper(self) -> None: ...

        def fetch_data(self) -> None: ...

        def get_(self) -> None: ...

    with pytest.raises(SetupError) as info:
        Zephyr().mount_controller("/h", Helpers)
    assert str(info.value) == (
        "controller Helpers has no methods named like get_index or post_checkout"
    )


def test_a_controller_path_parameter_needs_a_segment_type() -> None:
    class Bad:
        def get_item(self, filters: dict[str, str]) -> None: ...

    with pytest.raises(SetupError) as info:
        Zephyr().mount_controller("/bad", Bad)
    assert str(info.value) == (
        "controller method test_a_controller_path_parameter_needs_a_segment_type.<locals>.Bad."
        "get_item: path parameter 'filters' must be annotated int, float, UUID or str"
    )


@pytest.mark.parametrize("prefix", ["shop", "/shop/", "/"])
def test_controller_prefix_is_validated(prefix: str) -> None:
    with pytest.raises(SetupError) as info:
        Zephyr().mount_controller(prefix, Shop)
    assert str(info.value) == (
        f"controller prefix {prefix!r} must start with '/' and not end with one, like '/api'"
    )
