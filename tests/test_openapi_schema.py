"""The OpenAPI 3.1 document (zephyr.openapi.schema): built from argument plans and models."""

import dataclasses
import enum
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
import pydantic
import pytest
from examples.showcase.app import app as showcase_app
from openapi_spec_validator import validate

from zephyr import (
    Body,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    UploadFile,
    Zephyr,
)
from zephyr.openapi import OpenAPIConfig
from zephyr.testing import TestClient

REF = "#/components/schemas/"
TEXT = {"type": "string", "pattern": "^[^/]+$"}
OK = {"description": "Successful response"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}
INVALID = {
    "description": "Invalid request values",
    "content": {"application/problem+json": {"schema": {"$ref": REF + "ValidationProblem"}}},
}


class Item(msgspec.Struct):
    """Something for sale.

    Prices are in euros.
    """

    name: str
    price: Annotated[float, msgspec.Meta(gt=0)]


class Order(msgspec.Struct):
    items: list[Item]


class Owner(pydantic.BaseModel):
    name: str


class Pet(pydantic.BaseModel):
    name: str
    owner: Owner | None = None


@dataclasses.dataclass
class Signup:
    user: str
    tags: list[str]


def document_of(app: Zephyr) -> dict[str, Any]:
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


# -- validity -----------------------------------------------------------------------------


def page_number(page: Annotated[int, Query(ge=1)] = 1) -> int:
    return page


def current_user(
    x_user: Annotated[str, Header()], page: Annotated[int, Depends(page_number)]
) -> str:
    return x_user


def rich_app() -> Zephyr:
    """An app using every source of values, models of both libraries and every option."""
    app = Zephyr(openapi=True)
    app.openapi_config = OpenAPIConfig(title="Shop", version="2.0", description="All of it.",
                                       servers=[{"url": "https://shop.example"}])
    api = app.group("/api", name="api")

    @api.get("/items/<int:id>")
    def get_item(id: int, verbose: bool = False) -> Item:
        """One item."""
        return Item("pen", 1.5)

    @api.post("/orders", status_code=201, tags=["orders"])
    def create_order(order: Order, user: Annotated[str, Depends(current_user)]) -> Order:
        return order

    @api.put("/pets/{name}", deprecated=True)
    def replace_pet(name: str, pet: Pet, note: Annotated[str, Body()] = "") -> Pet:
        return pet

    @api.get("/pets")
    def list_pets(
        tags: list[str] = [],  # noqa: B006 - never mutated
        session: Annotated[str, Cookie()] = "",
    ) -> list[Pet]:
        return []

    @app.post("/files/{name}.{ext}", responses={409: {"description": "Exists already"}})
    def upload(name: str, ext: str, doc: UploadFile, title: Annotated[str, Form()]) -> None:
        return None

    @app.post("/signup", include_in_schema=False)
    def signup(form: Annotated[Signup, Form()]) -> None:
        return None

    return app


def test_the_document_of_a_rich_app_is_valid_openapi_3_1() -> None:
    document = document_of(rich_app())
    validate(document)
    assert sorted(document["paths"]) == [
        "/api/items/{id}", "/api/orders", "/api/pets", "/api/pets/{name}", "/files/{name}.{ext}",
    ]
    schemas = document["components"]["schemas"]
    assert sorted(schemas) == ["Item", "Order", "Owner", "Pet", "Problem", "ValidationProblem"]
    for ref in refs(document):
        assert ref.removeprefix(REF) in schemas, ref


def test_the_showcase_document_is_valid_openapi_3_1() -> None:
    document = document_of(showcase_app)
    validate(document)
    assert document["info"] == {
        "title": "Zephyr showcase", "version": "1.0.0",
        "description": "The guestbook and notes APIs of the showcase app.",
    }
    assert sorted(document["paths"]) == [
        "/api/entries", "/api/entries/{entry_id}", "/api/me", "/api/notes", "/api/notes/{note_id}",
    ]


def test_a_minimal_app_has_a_minimal_document() -> None:
    app = Zephyr(openapi=True)

    @app.get("/")
    def home() -> str:
        return "hi"

    assert document_of(app) == {
        "openapi": "3.1.0",
        "info": {"title": "Zephyr API", "version": "0.1.0"},
        "paths": {"/": {"get": {"operationId": "home_GET", "responses": {"200": OK}}}},
    }


def test_info_and_servers_come_from_the_config() -> None:
    document = document_of(rich_app())
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Shop", "version": "2.0", "description": "All of it."}
    assert document["servers"] == [{"url": "https://shop.example"}]


# -- paths and path parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template", "schemas"),
    [
        ("/users/<int:id>", "/users/{id}", {"id": {"type": "integer", "minimum": 0}}),
        ("/users/{id:int}", "/users/{id}", {"id": {"type": "integer", "minimum": 0}}),
        ("/users/<float:id>", "/users/{id}", {"id": {"type": "number", "minimum": 0}}),
        ("/keys/<uuid:id>", "/keys/{id}", {"id": {"type": "string", "format": "uuid"}}),
        ("/names/<id>", "/names/{id}", {"id": TEXT}),
        ("/names/{id:str}/x", "/names/{id}/x", {"id": TEXT}),
        ("/raw/<path:id>", "/raw/{id}", {"id": {"type": "string", "minLength": 1}}),
        ("/files/{id}.{ext}", "/files/{id}.{ext}", {"id": TEXT, "ext": TEXT}),
        ("/v/{id:int}-{ext:uuid}", "/v/{id}-{ext}",
         {"id": {"type": "integer", "minimum": 0}, "ext": {"type": "string", "format": "uuid"}}),
    ],
)
def test_path_templates_and_parameter_schemas_follow_the_converters(
    path: str, template: str, schemas: dict[str, Any]
) -> None:
    app = Zephyr(openapi=True)
    if len(schemas) == 1:
        app.add_route(path, lambda id: None, name="one")
    else:
        app.add_route(path, lambda id, ext: None, name="two")
    document = document_of(app)
    assert list(document["paths"]) == [template]
    parameters = document["paths"][template]["get"]["parameters"]
    assert parameters == [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in schemas.items()
    ]


def test_annotated_path_parameters_document_their_own_type_and_constraints() -> None:
    app = Zephyr(openapi=True)

    @app.get("/items/{id}/{code}")
    def item(id: int, code: Annotated[str, Path(max_length=3, description="Shop code")]) -> None:
        return None

    operation = document_of(app)["paths"]["/items/{id}/{code}"]["get"]
    assert operation["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "code", "in": "path", "required": True,
         "schema": {"type": "string", "maxLength": 3}, "description": "Shop code"},
    ]
    assert operation["responses"]["422"] == INVALID  # "abc" is a str segment, not an int


# -- query, header and cookie parameters --------------------------------------------------


def test_query_header_and_cookie_parameters() -> None:
    app = Zephyr(openapi=True)

    @app.get("/search")
    def search(
        q: Annotated[str, Query(min_length=2, max_length=5, pattern="^[a-z]+$",
                                description="Words", examples=["ab", "abc"], deprecated=True)],
        limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10,
        tags: list[str] = [],  # noqa: B006 - never mutated
        ids: Annotated[list[int], Query(alias="id")] = [],  # noqa: B006 - never mutated
        debug: Annotated[bool, Query(include_in_schema=False)] = False,
        x_request_id: Annotated[str | None, Header()] = None,
        token: Annotated[str, Header(alias="X-API-Key")] = "",
        session: Annotated[uuid.UUID | None, Cookie()] = None,
    ) -> None:
        return None

    parameters = document_of(app)["paths"]["/search"]["get"]["parameters"]
    assert parameters == [
        {"name": "q", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
         "description": "Words", "deprecated": True,
         "examples": {"example1": {"value": "ab"}, "example2": {"value": "abc"}}},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
        {"name": "tags", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "string"}, "default": []}},
        {"name": "id", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "integer"}, "default": []}},
        {"name": "x-request-id", "in": "header", "required": False,
         "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
        {"name": "X-API-Key", "in": "header", "required": False,
         "schema": {"type": "string", "default": ""}},
        {"name": "session", "in": "cookie", "required": False,
         "schema": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}],
                    "default": None}},
    ]


# -- defaults -----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class StructPaging(msgspec.Struct):
    page: int = 1
    size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


@dataclasses.dataclass
class DataclassSorting:
    order: Literal["name", "date"] = "name"
    desc: bool = False


class PydanticFilter(pydantic.BaseModel):
    q: str | None = None
    color: Color = Color.BLUE


def defaults_app() -> Zephyr:
    app = Zephyr(openapi=True)

    @app.get("/plain")
    def plain(page: int = 1, q: str | None = None, ratio: float = 0.5,
              color: Color = Color.RED, tags: list[str] = ["a"]  # noqa: B006 - never mutated
              ) -> dict[str, Any]:
        return {"page": page, "q": q, "ratio": ratio, "color": color, "tags": tags}

    @app.get("/marked")
    def marked(page: Annotated[int, Query(ge=1, description="Page")] = 1,
               size: Annotated[int, Query(alias="per-page")] = 20,
               x_mode: Annotated[str, Header()] = "fast",
               theme: Annotated[str, Cookie()] = "light") -> dict[str, Any]:
        return {"page": page, "per-page": size, "x-mode": x_mode, "theme": theme}

    @app.get("/struct")
    def struct(paging: Annotated[StructPaging, Depends()]) -> dict[str, Any]:
        return msgspec.to_builtins(paging)  # type: ignore[no-any-return]

    @app.get("/dataclass")
    def dataclass(sorting: Annotated[DataclassSorting, Depends()]) -> dict[str, Any]:
        return dataclasses.asdict(sorting)

    @app.get("/pydantic")
    def with_pydantic(filtering: Annotated[PydanticFilter, Depends()]) -> dict[str, Any]:
        return filtering.model_dump(mode="json")

    return app


DEFAULTS = {
    "/plain": {"page": 1, "q": None, "ratio": 0.5, "color": "red", "tags": ["a"]},
    "/marked": {"page": 1, "per-page": 20, "x-mode": "fast", "theme": "light"},
    "/struct": {"page": 1, "size": 20},
    "/dataclass": {"order": "name", "desc": False},
    "/pydantic": {"q": None, "color": "blue"},
}


@pytest.fixture(scope="module")
def defaults_answers() -> tuple[dict[str, Any], dict[str, Any]]:
    """The document of defaults_app, and what each handler got from a bare request."""
    with TestClient(defaults_app()) as client:
        document = client.get("/openapi.json").json()
        answers = {path: client.get(path).json() for path in DEFAULTS}
    validate(document)
    return document, answers


@pytest.mark.parametrize("path", list(DEFAULTS))
def test_parameter_defaults_are_documented_as_the_handler_receives_them(
    defaults_answers: tuple[dict[str, Any], dict[str, Any]], path: str
) -> None:
    document, answers = defaults_answers
    parameters = document["paths"][path]["get"]["parameters"]
    assert all(not p["required"] for p in parameters)
    documented = {p["name"]: p["schema"]["default"] for p in parameters}
    assert documented == answers[path] == DEFAULTS[path]


def test_model_fields_of_a_class_dependency_keep_their_types_and_constraints(
    defaults_answers: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    paths = defaults_answers[0]["paths"]
    schemas = {(path, p["name"]): p["schema"]
               for path in ("/struct", "/dataclass", "/pydantic")
               for p in paths[path]["get"]["parameters"]}
    assert schemas == {
        ("/struct", "page"): {"type": "integer", "default": 1},
        ("/struct", "size"): {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        ("/dataclass", "order"): {"enum": ["date", "name"], "default": "name"},
        ("/dataclass", "desc"): {"type": "boolean", "default": False},
        ("/pydantic", "q"): {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        ("/pydantic", "color"): {"$ref": REF + "Color", "default": "blue"},
    }


Short = Annotated[str, msgspec.Meta(min_length=2)]


def constrained_app() -> Zephyr:
    app = Zephyr(openapi=True)

    @app.get("/path/{code}")
    def in_path(code: Short) -> None: ...

    @app.get("/query")
    def in_query(code: Short) -> None: ...

    @app.get("/header")
    def in_header(x_code: Annotated[Short, Header()]) -> None: ...

    @app.post("/form")
    def in_form(code: Annotated[Short, Form()]) -> None: ...

    return app


@pytest.mark.parametrize(
    ("location", "field", "request_options"),
    [
        ("path", "code", {"method": "GET", "url": "/path/A"}),
        ("query", "code", {"method": "GET", "url": "/query", "params": {"code": "A"}}),
        ("header", "x-code", {"method": "GET", "url": "/header", "headers": {"X-Code": "A"}}),
        ("form", "code", {"method": "POST", "url": "/form", "data": {"code": "A"}}),
    ],
)
def test_msgspec_meta_constraints_on_text_are_documented_and_enforced(
    location: str, field: str, request_options: dict[str, Any]
) -> None:
    app = constrained_app()
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        response = client.request(**request_options)
    operation = document["paths"]["/path/{code}" if location == "path" else f"/{location}"]
    schema = (operation["get"]["parameters"][0]["schema"] if location != "form" else
              operation["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
              ["schema"]["properties"]["code"])
    assert schema == {"type": "string", "minLength": 2}
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"location": location, "field": field, "message": "Expected `str` of length >= 2",
         "value": "A"},
    ]


def test_parameters_of_dependencies_appear_once_on_the_operation() -> None:
    def tenant(x_tenant: Annotated[str, Header()]) -> str:
        return x_tenant

    app = Zephyr(openapi=True, dependencies=[Depends(page_number)])
    admin = app.group("/admin", dependencies=[Depends(tenant)])

    @admin.get("/users", dependencies=[Depends(current_user)])
    def users(user: Annotated[str, Depends(current_user)], sort: str = "name") -> None:
        return None

    parameters = document_of(app)["paths"]["/admin/users"]["get"]["parameters"]
    assert [(p["in"], p["name"], p["required"]) for p in parameters] == [
        ("query", "page", False),  # app dependency, and nested in current_user
        ("header", "x-tenant", True),  # group dependency
        ("header", "x-user", True),  # route dependency, and the handler's own Depends
        ("query", "sort", False),
    ]
    assert parameters[0]["schema"] == {"type": "integer", "minimum": 1, "default": 1}


# -- request bodies -----------------------------------------------------------------------


def body_app() -> Zephyr:
    app = Zephyr(openapi=True)

    @app.post("/model")
    def model(item: Item) -> None: ...

    @app.post("/optional")
    def optional(item: Item | None = None) -> None: ...

    @app.post("/two")
    def two(item: Item, note: Annotated[str, Body(max_length=9)]) -> None: ...

    @app.post("/embedded")
    def embedded(item: Annotated[Item, Body(embed=True)]) -> None: ...

    @app.post("/form")
    def form(name: Annotated[str, Form()], age: Annotated[int, Form(ge=0)] = 0) -> None: ...

    @app.post("/upload")
    def upload(doc: UploadFile, more: Annotated[list[UploadFile], File()],
               note: Annotated[str, Form()] = "") -> None: ...

    @app.post("/whole")
    def whole(signup: Annotated[Signup, Form()]) -> None: ...

    @app.post("/pydantic")
    def with_pydantic(pet: Pet) -> None: ...

    return app


@pytest.fixture(scope="module")
def body_document() -> dict[str, Any]:
    document = document_of(body_app())
    validate(document)
    return document


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


BINARY = {"type": "string", "format": "binary"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/model", {"required": True,
                    "content": {"application/json": {"schema": {"$ref": REF + "Item"}}}}),
        ("/optional", {"required": False, "content": {"application/json": {
            "schema": {"anyOf": [{"$ref": REF + "Item"}, {"type": "null"}]}}}}),
        ("/two", {"required": True, "content": {"application/json": {"schema": _object(
            {"item": {"$ref": REF + "Item"}, "note": {"type": "string", "maxLength": 9}},
            ["item", "note"])}}}),
        ("/embedded", {"required": True, "content": {"application/json": {
            "schema": _object({"item": {"$ref": REF + "Item"}}, ["item"])}}}),
        ("/form", {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": _object({"name": {"type": "string"},
                               "age": {"type": "integer", "minimum": 0, "default": 0}},
                              ["name"])}}}),
        ("/upload", {"required": True, "content": {"multipart/form-data": {"schema": _object(
            {"doc": BINARY, "more": {"type": "array", "items": BINARY},
             "note": {"type": "string", "default": ""}}, ["doc", "more"])}}}),
        ("/whole", {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": {"$ref": REF + "Signup"}}}}),
        ("/pydantic", {"required": True,
                       "content": {"application/json": {"schema": {"$ref": REF + "Pet"}}}}),
    ],
)
def test_request_bodies(body_document: dict[str, Any], path: str, body: dict[str, Any]) -> None:
    operation = body_document["paths"][path]["post"]
    assert operation["requestBody"] == body
    assert "parameters" not in operation


def test_models_become_components(body_document: dict[str, Any]) -> None:
    schemas = body_document["components"]["schemas"]
    assert schemas["Item"] == {
        "title": "Item", "description": "Something for sale.\n\nPrices are in euros.",
        "type": "object",
        "properties": {"name": {"type": "string"},
                       "price": {"type": "number", "exclusiveMinimum": 0}},
        "required": ["name", "price"],
    }
    assert schemas["Signup"]["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    # pydantic's own $defs become components, referenced where pydantic put them.
    assert schemas["Owner"] == {
        "title": "Owner", "type": "object",
        "properties": {"name": {"title": "Name", "type": "string"}},
        "required": ["name"],
    }
    assert schemas["Pet"]["properties"]["owner"] == {
        "anyOf": [{"$ref": REF + "Owner"}, {"type": "null"}], "default": None,
    }
