"""OpenAPI operations (zephyr.openapi.schema): responses, ids, texts, tags, and rebuilding."""

from typing import Any

import msgspec
import pydantic
import pytest
from openapi_spec_validator import validate

from zephyr import HTMLResponse, Request, Zephyr, limit
from zephyr.errors import SetupError
from zephyr.openapi import OpenAPIConfig, pages
from zephyr.security import BearerAuth, IsAuthenticated, static_tokens
from zephyr.testing import TestClient

REF = "#/components/schemas/"
OK = {"description": "Successful response"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}
INVALID = {
    "description": "Invalid request values",
    "content": {"application/problem+json": {"schema": {"$ref": REF + "ValidationProblem"}}},
}


class Item(msgspec.Struct):
    name: str
    price: float


class Pet(pydantic.BaseModel):
    name: str


def document_of(app: Zephyr) -> dict[str, Any]:
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


# -- responses ----------------------------------------------------------------------------


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {**OK, "content": {"application/json": {"schema": schema}}}


BODY_ERRORS = {
    "400": {"description": "Malformed body", "content": PROBLEM},
    "413": {"description": "Body too large", "content": PROBLEM},
    "415": {"description": "Unsupported content type", "content": PROBLEM},
    "422": INVALID,
}
# Unsafe methods are CSRF-checked, and repeated CSRF failures are throttled.
CSRF_REFUSALS = {
    "403": {"description": "Refused as a cross-site request (CSRF)", "content": PROBLEM},
    "429": {"description": "Too many requests", "content": PROBLEM},
}


def response_app() -> Zephyr:
    app = Zephyr(openapi=True)

    @app.get("/nothing")
    def nothing() -> None: ...

    @app.get("/request")
    def only_request(request: Request) -> dict[str, str]: ...

    @app.get("/query")
    def query(page: int = 1) -> Item: ...

    @app.get("/path/<int:id>")
    def path(id: int) -> list[Item]: ...

    @app.post("/create", status_code=201)
    def create(item: Item) -> Item: ...

    @app.delete("/delete/<int:id>", status_code=204)
    def delete(id: int) -> Item: ...

    @app.get("/declared", response_model=list[Pet])
    def declared() -> Any: ...

    @app.get("/unchecked", response_model=None)
    def unchecked() -> Item: ...

    @app.put("/extra/<int:id>", responses={404: {"description": "No such item"},
                                           "409": {"description": "Conflict"}})
    def extra(id: int, item: Item) -> None: ...

    return app


@pytest.fixture(scope="module")
def response_document() -> dict[str, Any]:
    document = document_of(response_app())
    validate(document)
    return document


@pytest.mark.parametrize(
    ("path", "method", "responses"),
    [
        ("/nothing", "get", {"204": OK}),
        ("/request", "get", {"200": OK}),
        ("/query", "get", {"200": _json({"$ref": REF + "Item"}), "422": INVALID}),
        ("/path/{id}", "get", {
            "200": _json({"type": "array", "items": {"$ref": REF + "Item"}}),
            "404": {"description": "Not found", "content": PROBLEM},
        }),
        ("/create", "post", {"201": _json({"$ref": REF + "Item"}), **BODY_ERRORS,
                             **CSRF_REFUSALS}),
        ("/delete/{id}", "delete", {
            "204": OK, "404": {"description": "Not found", "content": PROBLEM}, **CSRF_REFUSALS,
        }),
        ("/declared", "get", {"200": _json({"type": "array", "items": {"$ref": REF + "Pet"}})}),
        ("/unchecked", "get", {"200": OK}),
        ("/extra/{id}", "put", {
            "204": OK, "404": {"description": "No such item"}, **BODY_ERRORS,
            **CSRF_REFUSALS, "409": {"description": "Conflict"},
        }),
    ],
)
def test_responses(
    response_document: dict[str, Any], path: str, method: str, responses: dict[str, Any]
) -> None:
    assert response_document["paths"][path][method]["responses"] == responses


class Ticket(msgspec.Struct):
    id: int = 1


async def returns_none() -> None: ...


def returns_none_sync() -> None: ...


async def returns_ticket() -> Ticket:
    return Ticket()


async def returns_dict() -> dict[str, int]:
    return {"queued": 1}


def returns_text() -> str:
    return "<p>hi</p>"


async def returns_anything() -> Any:
    return {"id": 2}


# Each way of choosing the success status: method, handler, route options, what it answers.
STATUS_CASES = [
    ("GET", returns_none, {}, 204),
    ("GET", returns_none_sync, {}, 204),
    ("GET", returns_none, {"status_code": 200}, 204),
    ("POST", returns_none, {"status_code": 201}, 201),
    ("DELETE", returns_none, {"status_code": 204}, 204),
    ("GET", returns_none, {"response_model": None}, 204),
    ("GET", returns_none, {"response_class": HTMLResponse}, 200),
    ("GET", returns_ticket, {}, 200),
    ("POST", returns_ticket, {"status_code": 201}, 201),
    ("PUT", returns_dict, {"status_code": 202}, 202),
    ("GET", returns_text, {}, 200),
    ("GET", returns_anything, {"status_code": 201, "response_model": Ticket}, 201),
]


@pytest.fixture(scope="module")
def status_answers() -> tuple[dict[str, Any], list[int]]:
    """The document of an app with a route per case, and the status each route answers."""
    app = Zephyr(openapi=True)
    for number, (method, handler, options, _) in enumerate(STATUS_CASES):
        app.add_route(f"/{number}", handler, methods=[method], name=f"case{number}", **options)
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        answers = [client.request(method, f"/{number}").status_code
                   for number, (method, *_) in enumerate(STATUS_CASES)]
    validate(document)
    return document, answers


@pytest.mark.parametrize("number", range(len(STATUS_CASES)))
def test_the_documented_success_status_is_the_one_the_app_answers(
    status_answers: tuple[dict[str, Any], list[int]], number: int
) -> None:
    document, answers = status_answers
    method, _, _, status = STATUS_CASES[number]
    responses = document["paths"][f"/{number}"][method.lower()]["responses"]
    documented = [int(code) for code in responses if code.startswith("2")]
    assert documented == [answers[number]] == [status]
    if status == 204:
        assert "content" not in responses["204"]


def test_problem_components_are_present_only_when_referenced(
    response_document: dict[str, Any],
) -> None:
    schemas = response_document["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    assert schemas["ValidationProblem"]["allOf"] == [{"$ref": REF + "Problem"}]
    assert sorted(schemas["ValidationProblem"]["properties"]["errors"]["items"]["properties"]) == [
        "field", "location", "message", "value",
    ]

    app = Zephyr(openapi=True)

    @app.get("/")
    def home(request: Request) -> Item: ...

    assert list(document_of(app)["components"]["schemas"]) == ["Item"]


class APIError(msgspec.Struct):
    """The error body of an app that reshapes its errors."""

    errors: dict[str, list[str]]


class AdminError(pydantic.BaseModel):
    message: str


def _error_contents(operation: dict[str, Any]) -> dict[str, Any]:
    return {code: response.get("content") for code, response in operation["responses"].items()
            if int(code) >= 400}


def error_model_app(**group_options: Any) -> Zephyr:
    """Routes that document every kind of error response, in the app and in a group."""
    app = Zephyr(openapi=True)
    app.openapi_config = OpenAPIConfig(error_model=APIError)
    tokens = static_tokens({"token-0123456789": "ada"})

    @app.put("/items/<int:id>", auth=[BearerAuth(tokens)], permissions=[IsAuthenticated()],
             limits=[limit("5/minute")], timeout=5)
    def put_item(id: int, item: Item, dry_run: bool = False) -> None: ...

    group = app.group("/admin", **group_options)

    @group.get("/items/<int:id>")
    def admin_item(id: int, verbose: bool = False) -> None: ...

    return app


def test_an_app_wide_error_model_documents_every_error_response() -> None:
    document = document_of(error_model_app())
    validate(document)
    model = {"application/json": {"schema": {"$ref": REF + "APIError"}}}
    errors = _error_contents(document["paths"]["/items/{id}"]["put"])
    assert sorted(errors) == ["400", "401", "403", "404", "413", "415", "422", "429", "503"]
    assert all(content == model for content in errors.values())
    schemas = document["components"]["schemas"]
    assert sorted(schemas) == ["APIError", "Item"]   # no Problem nobody refers to
    assert schemas["APIError"]["required"] == ["errors"]


@pytest.mark.parametrize(("group_options", "expected"), [
    ({}, {"application/json": {"schema": {"$ref": REF + "APIError"}}}),
    ({"error_model": AdminError}, {"application/json": {"schema": {"$ref": REF + "AdminError"}}}),
    ({"error_model": None}, PROBLEM),
])
def test_a_group_error_model_wins_over_the_app_one(
    group_options: dict[str, Any], expected: dict[str, Any]
) -> None:
    document = document_of(error_model_app(**group_options))
    validate(document)
    errors = _error_contents(document["paths"]["/admin/items/{id}"]["get"])
    problem = expected is PROBLEM
    assert errors == {"404": expected, "422": INVALID["content"] if problem else expected}


@pytest.mark.parametrize("make", [
    lambda: OpenAPIConfig(error_model=int),
    lambda: Zephyr().group("/api", error_model="APIError"),
])
def test_an_error_model_must_be_a_model(make: Any) -> None:
    with pytest.raises(SetupError) as info:
        make()
    assert "error_model must be a model (a msgspec Struct, dataclass, TypedDict or pydantic " \
           "model), not " in str(info.value)


# -- operations ---------------------------------------------------------------------------


def test_operation_ids_are_unique() -> None:
    app = Zephyr(openapi=True)
    shop = app.group("/shop", name="shop")

    def listing() -> None: ...

    shop.add_route("/a", listing, name="list")
    shop.add_route("/b", listing, name="list")  # the same handler may share its name
    app.add_route("/c", listing, name="c", methods=["GET", "POST"])
    app.add_route("/d", listing, name="d", operation_id="shop_list_GET")
    app.add_route("/e", listing, name="e", operation_id="custom", methods=["PUT", "PATCH"])
    paths = document_of(app)["paths"]
    ids = {(path, method): operation["operationId"]
           for path, operations in paths.items() for method, operation in operations.items()}
    assert ids == {
        ("/shop/a", "get"): "shop_list_GET",
        ("/shop/b", "get"): "shop_list_GET_2",
        ("/c", "get"): "c_GET",
        ("/c", "post"): "c_POST",
        ("/d", "get"): "shop_list_GET_3",
        ("/e", "patch"): "custom",
        ("/e", "put"): "custom_2",
    }


def test_summary_and_description_come_from_the_docstring_or_the_options() -> None:
    app = Zephyr(openapi=True)

    @app.get("/documented")
    def documented() -> None:
        """Show the thing,
        all of it.

        It is shown in full.

        Really.
        """

    @app.get("/overridden", summary="Other", description="Said otherwise.")
    def overridden() -> None:
        """Ignored."""

    @app.get("/short")
    def short() -> None:
        """Only a summary."""

    @app.get("/bare")
    def bare() -> None: ...

    paths = document_of(app)["paths"]
    shown = {path: {k: v for k, v in ops["get"].items() if k in ("summary", "description")}
             for path, ops in paths.items()}
    assert shown == {
        "/documented": {"summary": "Show the thing, all of it.",
                        "description": "It is shown in full.\n\nReally."},
        "/overridden": {"summary": "Other", "description": "Said otherwise."},
        "/short": {"summary": "Only a summary."},
        "/bare": {},
    }


def test_tags_deprecation_and_hidden_routes() -> None:
    app = Zephyr(openapi=True)
    api = app.group("/api", name="api")
    v1 = api.group("/v1", name="v1")
    unnamed = api.group("/plain")

    @app.get("/top")
    def top() -> None: ...

    @v1.get("/nested")
    def nested() -> None: ...

    @unnamed.get("/x")
    def in_unnamed() -> None: ...

    @v1.get("/tagged", tags=["special"], deprecated=True)
    def tagged() -> None: ...

    @api.get("/hidden", include_in_schema=False)
    def hidden() -> None: ...

    paths = document_of(app)["paths"]
    assert {path: ops["get"].get("tags") for path, ops in paths.items()} == {
        "/top": None,
        "/api/v1/nested": ["api", "v1"],
        "/api/plain/x": ["api"],
        "/api/v1/tagged": ["special"],
    }
    assert {path for path, ops in paths.items() if ops["get"].get("deprecated")} == {
        "/api/v1/tagged",
    }


def test_head_and_options_are_never_listed() -> None:
    app = Zephyr(openapi=True)

    @app.route("/both", methods=["GET", "HEAD"])
    def both() -> None: ...

    @app.route("/write", methods=["POST", "OPTIONS"])
    def write() -> None: ...

    @app.get("/read")
    def read() -> None: ...

    paths = document_of(app)["paths"]
    assert {path: sorted(ops) for path, ops in paths.items()} == {
        "/both": ["get"], "/write": ["post"], "/read": ["get"],
    }


# -- rebuilding ---------------------------------------------------------------------------


def test_the_document_is_cached_and_rebuilt_when_routes_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[dict[str, Any]] = []
    real_build = pages.build_document

    def counting_build(*args: Any) -> dict[str, Any]:
        builds.append(real_build(*args))
        return builds[-1]

    monkeypatch.setattr(pages, "build_document", counting_build)
    app = Zephyr(openapi=True)

    @app.get("/first")
    def first() -> None: ...

    def late() -> None: ...

    with TestClient(app) as client:
        before = client.get("/openapi.json").json()
        assert client.get("/openapi.json").json() == before
        assert len(builds) == 1
        app.add_route("/late", late)
        added = client.get("/openapi.json").json()
        app.remove_route("first")
        removed = client.get("/openapi.json").json()
    assert len(builds) == 3
    assert list(before["paths"]) == ["/first"]
    assert list(added["paths"]) == ["/first", "/late"]
    assert list(removed["paths"]) == ["/late"]
