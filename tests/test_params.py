"""Handler parameters: where each value comes from, how it is converted, and setup mistakes."""

import dataclasses
import enum
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, TypedDict

import msgspec
import pydantic
import pytest

from zephyr import (
    Body,
    Cookie,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    SetupError,
    UploadFile,
    Zephyr,
)
from zephyr.testing import TestClient


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class ItemStruct(msgspec.Struct):
    name: str
    price: float


@dataclasses.dataclass
class ItemDataclass:
    name: str
    price: float


class ItemDict(TypedDict):
    name: str
    price: float


class ItemModel(pydantic.BaseModel):
    name: str
    price: float


@dataclasses.dataclass
class Signup:
    name: str
    age: int
    tags: list[str]


class SignupStruct(msgspec.Struct):
    name: str
    age: int
    tags: list[int] = []


def errors_of(response: Any) -> list[dict[str, Any]]:
    """The ``errors`` of a 422 problem document (checking that it is one)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


# -- path parameters and the request -------------------------------------------------------


def test_path_parameters_come_converted_by_the_router() -> None:
    app = Zephyr()

    @app.get("/typed/<int:id>")
    def typed(id: int) -> dict[str, Any]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/plain/{id}")
    def plain(id: int) -> dict[str, Any]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/text/{slug}")
    def text(slug) -> dict[str, Any]:
        return {"slug": slug}

    with TestClient(app) as client:
        assert client.get("/typed/7").json() == {"id": 7, "type": "int"}
        assert client.get("/plain/7").json() == {"id": 7, "type": "int"}
        assert client.get("/text/a-b").json() == {"slug": "a-b"}
        assert client.get("/typed/x").status_code == 404  # the int converter does not match
        assert errors_of(client.get("/plain/x")) == [
            {"location": "path", "field": "id", "message": "Expected `int`, got `str`",
             "value": "x"},
        ]


def test_path_constraints_apply_to_converted_values() -> None:
    app = Zephyr()

    @app.get("/pages/<int:number>")
    def page(number: Annotated[int, Path(ge=1)]) -> dict[str, int]:
        return {"number": number}

    with TestClient(app) as client:
        assert client.get("/pages/3").json() == {"number": 3}
        assert errors_of(client.get("/pages/0")) == [
            {"location": "path", "field": "number", "message": "Expected `int` >= 1", "value": 0},
        ]


def test_request_parameter_by_annotation_or_by_name() -> None:
    app = Zephyr()

    @app.get("/annotated")
    def annotated(req: Request) -> dict[str, str]:
        return {"path": req.path}

    @app.get("/named")
    def named(request) -> dict[str, str]:
        return {"path": request.path}

    with TestClient(app) as client:
        assert client.get("/annotated").json() == {"path": "/annotated"}
        assert client.get("/named").json() == {"path": "/named"}


# -- query parameters ------------------------------------------------------------------------

SOME_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("annotation", "raw", "expected"),
    [
        (str, "text", "text"),
        (int, "42", 42),
        (int, "-3", -3),
        (float, "1.5", 1.5),
        (bool, "1", True),
        (bool, "0", False),
        (bool, "true", True),
        (bool, "false", False),
        (uuid.UUID, str(SOME_UUID), SOME_UUID),
        (Decimal, "1.10", Decimal("1.10")),
        (date, "2024-01-02", date(2024, 1, 2)),
        (datetime, "2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (Color, "green", Color.GREEN),
        (Literal["asc", "desc"], "desc", "desc"),
        (Optional[int], "5", 5),  # noqa: UP045 - the spelling users write must work too
        (int | None, "5", 5),
    ],
)
def test_query_values_are_converted_to_the_annotation(
    annotation: Any, raw: str, expected: Any
) -> None:
    app = Zephyr()
    seen: list[Any] = []

    @app.get("/")
    def read(value: annotation) -> None:
        seen.append(value)

    with TestClient(app) as client:
        assert client.get("/", params={"value": raw}).status_code == 204
    assert seen == [expected]
    assert type(seen[0]) is type(expected)


def test_query_defaults_and_repeated_keys() -> None:
    app = Zephyr()

    @app.get("/")
    def search(
        page: int = 1,
        q: str | None = None,
        tags: list[str] | None = None,
        ids: list[int] | None = None,
    ) -> dict[str, Any]:
        return {"page": page, "q": q, "tags": tags, "ids": ids}

    with TestClient(app) as client:
        assert client.get("/").json() == {"page": 1, "q": None, "tags": None, "ids": None}
        assert client.get("/?page=2&q=x&tags=a&tags=b&ids=1&ids=2").json() == {
            "page": 2, "q": "x", "tags": ["a", "b"], "ids": [1, 2],
        }
        assert errors_of(client.get("/?ids=1&ids=x")) == [
            {"location": "query", "field": "ids[1]", "message": "Expected `int`, got `str`",
             "value": "x"},
        ]


def test_required_list_needs_at_least_one_value() -> None:
    app = Zephyr()

    @app.get("/")
    def pick(ids: list[int]) -> dict[str, list[int]]:
        return {"ids": ids}

    with TestClient(app) as client:
        assert client.get("/?ids=3").json() == {"ids": [3]}
        assert errors_of(client.get("/")) == [
            {"location": "query", "field": "ids", "message": "a value is required"},
        ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("p=0", {"field": "p", "message": "Expected `int` >= 1", "value": "0"}),
        ("p=11", {"field": "p", "message": "Expected `int` <= 10", "value": "11"}),
        ("name=abcd", {"field": "name", "message": "Expected `str` of length <= 3",
                       "value": "abcd"}),
        ("name=AB", {"field": "name", "message": "Expected `str` matching regex '^[a-z]+$'",
                     "value": "AB"}),
    ],
)
def test_query_marker_alias_and_constraints(query: str, expected: dict[str, Any]) -> None:
    app = Zephyr()

    @app.get("/")
    def listing(
        page: Annotated[int, Query(alias="p", ge=1, le=10)] = 1,
        name: Annotated[str, Query(max_length=3, pattern="^[a-z]+$")] = "abc",
    ) -> dict[str, Any]:
        return {"page": page, "name": name}

    with TestClient(app) as client:
        assert client.get("/?p=10&name=xyz").json() == {"page": 10, "name": "xyz"}
        assert client.get("/?page=5").json() == {"page": 1, "name": "abc"}  # the alias counts
        assert errors_of(client.get(f"/?{query}")) == [{"location": "query", **expected}]


Code = Annotated[str, msgspec.Meta(max_length=3, pattern="^[A-Z]+$")]


def test_constraints_of_an_annotated_type_alias_apply_everywhere() -> None:
    app = Zephyr()

    @app.post("/{code}")
    def check(code: Code, q: Code = "A", x_code: Annotated[Code, Header()] = "A",
              f: Annotated[Code, Form()] = "A") -> dict[str, str]:
        return {"code": code, "q": q, "x_code": x_code, "f": f}

    with TestClient(app) as client:
        r = client.post("/AB?q=CD", headers={"x-code": "EF"}, data={"f": "GH"})
        assert r.json() == {"code": "AB", "q": "CD", "x_code": "EF", "f": "GH"}
        r = client.post("/ab?q=TOOLONG", headers={"x-code": "x1"}, data={"f": "gh"})
        regex = "Expected `str` matching regex '^[A-Z]+$'"
        assert errors_of(r) == [
            {"location": "path", "field": "code", "message": regex, "value": "ab"},
            {"location": "query", "field": "q", "message": "Expected `str` of length <= 3",
             "value": "TOOLONG"},
            {"location": "header", "field": "x-code", "message": regex, "value": "x1"},
            {"location": "form", "field": "f", "message": regex, "value": "gh"},
        ]


# -- headers and cookies ---------------------------------------------------------------------


def test_headers_by_dashed_name_alias_and_repeated() -> None:
    app = Zephyr()

    @app.get("/")
    def read(
        user_agent: Annotated[str, Header()],
        retries: Annotated[int, Header(alias="X-Retry-Count")] = 0,
        x_forwarded_for: Annotated[list[str] | None, Header()] = None,
    ) -> dict[str, Any]:
        return {"agent": user_agent, "retries": retries, "forwarded": x_forwarded_for}

    with TestClient(app) as client:
        headers = [("user-agent", "probe/1"), ("x-retry-count", "2"),
                   ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-for", "10.0.0.2")]
        assert client.get("/", headers=headers).json() == {
            "agent": "probe/1", "retries": 2, "forwarded": ["10.0.0.1", "10.0.0.2"],
        }
        assert client.get("/", headers={"user-agent": "probe/1"}).json() == {
            "agent": "probe/1", "retries": 0, "forwarded": None,
        }
        assert errors_of(client.get("/", headers={"user-agent": "p", "x-retry-count": "x"})) == [
            {"location": "header", "field": "X-Retry-Count",
             "message": "Expected `int`, got `str`", "value": "x"},
        ]


def test_cookies_by_name_and_alias() -> None:
    app = Zephyr()

    @app.get("/")
    def read(
        theme: Annotated[str, Cookie()] = "light",
        visits: Annotated[int, Cookie(alias="n")] = 0,
    ) -> dict[str, Any]:
        return {"theme": theme, "visits": visits}

    with TestClient(app) as client:
        assert client.get("/").json() == {"theme": "light", "visits": 0}
        client.cookies.update({"theme": "dark", "n": "4"})
        assert client.get("/").json() == {"theme": "dark", "visits": 4}


# -- JSON bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        (ItemStruct, "ItemStruct(name='pen', price=1.5)"),
        (ItemDataclass, "ItemDataclass(name='pen', price=1.5)"),
        (ItemDict, "{'name': 'pen', 'price': 1.5}"),
        (ItemModel, "ItemModel(name='pen', price=1.5)"),
    ],
)
def test_a_model_parameter_is_the_json_body(model: Any, shown: str) -> None:
    app = Zephyr()

    @app.post("/")
    def create(item: model) -> dict[str, str]:
        return {"item": repr(item)}

    with TestClient(app) as client:
        assert client.post("/", json={"name": "pen", "price": 1.5}).json() == {"item": shown}


@pytest.mark.parametrize("model", [ItemStruct, ItemModel])
def test_a_list_of_models_and_an_optional_model_are_bodies(model: Any) -> None:
    app = Zephyr()

    @app.post("/many")
    def many(items: list[model]) -> dict[str, Any]:
        return {"names": [item.name for item in items]}

    @app.post("/maybe")
    def maybe(item: model | None = None) -> dict[str, Any]:
        return {"name": item.name if item is not None else None}

    with TestClient(app) as client:
        pens = [{"name": "a", "price": 1}, {"name": "b", "price": 2}]
        assert client.post("/many", json=pens).json() == {"names": ["a", "b"]}
        assert client.post("/maybe").json() == {"name": None}
        assert client.post("/maybe", json=pens[0]).json() == {"name": "a"}


@pytest.mark.parametrize("model", [ItemStruct, ItemModel])
def test_embedded_body_reads_one_member(model: Any) -> None:
    app = Zephyr()

    @app.post("/")
    def create(item: Annotated[model, Body(embed=True)]) -> dict[str, str]:
        return {"item": repr(item)}

    with TestClient(app) as client:
        r = client.post("/", json={"item": {"name": "pen", "price": 2}})
        assert r.json() == {"item": f"{model.__name__}(name='pen', price=2.0)"}
        assert errors_of(client.post("/", json={"name": "pen", "price": 2})) == [
            {"location": "body", "field": "body.item", "message": "a value is required"},
        ]


def test_two_body_parameters_share_one_json_object() -> None:
    app = Zephyr()

    @app.post("/")
    def create(
        item: ItemStruct, model: ItemModel, count: Annotated[int, Body()] = 1
    ) -> dict[str, Any]:
        return {"item": item.name, "model": model.name, "count": count}

    with TestClient(app) as client:
        body = {"item": {"name": "a", "price": 1}, "model": {"name": "b", "price": 2}}
        assert client.post("/", json=body).json() == {"item": "a", "model": "b", "count": 1}
        assert client.post("/", json={**body, "count": 3}).json()["count"] == 3
        assert errors_of(client.post("/", json={"item": body["item"]})) == [
            {"location": "body", "field": "body.model", "message": "a value is required"},
        ]


# -- forms and files -------------------------------------------------------------------------


def test_form_fields() -> None:
    app = Zephyr()

    @app.post("/")
    def signup(
        name: Annotated[str, Form()],
        age: Annotated[int, Form()],
        tags: Annotated[list[str] | None, Form()] = None,
    ) -> dict[str, Any]:
        return {"name": name, "age": age, "tags": tags}

    with TestClient(app) as client:
        r = client.post("/", data={"name": "ann", "age": "30", "tags": ["a", "b"]})
        assert r.json() == {"name": "ann", "age": 30, "tags": ["a", "b"]}
        r = client.post("/", files={"upload": ("x.txt", b"x")}, data={"name": "ann", "age": "3"})
        assert r.json() == {"name": "ann", "age": 3, "tags": None}  # multipart works too
        assert errors_of(client.post("/", data={"age": "old"})) == [
            {"location": "form", "field": "name", "message": "a value is required"},
            {"location": "form", "field": "age", "message": "Expected `int`, got `str`",
             "value": "old"},
        ]


@pytest.mark.parametrize("model", [Signup, SignupStruct])
def test_whole_form_into_a_model(model: Any) -> None:
    app = Zephyr()

    @app.post("/")
    def signup(form: Annotated[model, Form()]) -> dict[str, Any]:
        return {"repr": repr(form)}

    with TestClient(app) as client:
        r = client.post("/", data={"name": "ann", "age": "30", "tags": ["1", "2"],
                                   "csrf_token": "ignored"})
        tags = "['1', '2']" if model is Signup else "[1, 2]"
        assert r.json() == {"repr": f"{model.__name__}(name='ann', age=30, tags={tags})"}
        assert errors_of(client.post("/", data={"name": "ann", "age": "x", "tags": "1"})) == [
            {"location": "form", "field": "form.age", "message": "Expected `int`, got `str`",
             "value": "x"},
        ]


def test_uploaded_files() -> None:
    app = Zephyr()

    @app.post("/")
    async def upload(
        document: UploadFile,
        extras: Annotated[list[UploadFile] | None, File(alias="extra")] = None,
    ) -> dict[str, Any]:
        return {
            "document": [document.filename, (await document.read()).decode()],
            "extras": [f.filename for f in extras or ()],
        }

    with TestClient(app) as client:
        files = [("document", ("a.txt", b"hello")), ("extra", ("b.txt", b"1")),
                 ("extra", ("c.txt", b"2"))]
        assert client.post("/", files=files).json() == {
            "document": ["a.txt", "hello"], "extras": ["b.txt", "c.txt"],
        }
        assert errors_of(client.post("/", files={"other": ("a.txt", b"x")})) == [
            {"location": "form", "field": "document", "message": "a value is required"},
        ]


def test_text_sent_as_file_and_file_sent_as_text_are_refused() -> None:
    app = Zephyr()

    @app.post("/")
    def upload(title: Annotated[str, Form()], document: UploadFile) -> None: ...

    with TestClient(app) as client:
        r = client.post("/", files={"title": ("t.txt", b"x")}, data={"document": "text"})
        assert errors_of(r) == [
            {"location": "form", "field": "title", "message": "expected a text field, got a file"},
            {"location": "form", "field": "document",
             "message": "expected a file upload, got a text field"},
        ]


# -- setup mistakes, found when the app starts -----------------------------------------------


def test_unknown_marker_options_are_refused_listing_the_constraints() -> None:
    with pytest.raises(SetupError) as info:
        Query(maximum=3, minimum=1)
    assert str(info.value) == (
        "Query() got unknown options ['maximum', 'minimum']; constraints are: "
        "gt, ge, lt, le, multiple_of, pattern, min_length, max_length"
    )


def _unsupported(name: str, annotation: Any) -> str:
    return (
        f"'{name}': parameter 'value' is annotated {annotation!r}, which cannot come from the "
        "path, query string, headers or a form field"
    )


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        (Annotated[dict, Header()], dict),
        (Annotated[ItemStruct, Query()], ItemStruct),
        (Annotated[ItemModel, Cookie()], ItemModel),
        (Annotated[dict, Form()], dict),
        (list[dict], dict),
        (Annotated[list[ItemStruct], Query()], ItemStruct),
    ],
)
def test_unsupported_annotations_fail_at_startup(annotation: Any, shown: Any) -> None:
    app = Zephyr()

    def handler(value: annotation) -> None: ...

    app.add_route("/", handler)  # registering is fine; the plan is made at startup
    with pytest.raises(SetupError, match=re.escape(_unsupported(handler.__qualname__, shown))):
        app._go_live()


def _signature_error(handler: Any, shown: str) -> str:
    return (
        f"handler {handler.__qualname__!r} takes {shown}; name every parameter (no *args, "
        "**kwargs or positional-only ones) so Zephyr knows where its value comes from"
    )


def _star_args(*args: Any) -> None: ...
def _star_kwargs(**kwargs: Any) -> None: ...
def _positional(value: int, /) -> None: ...


@pytest.mark.parametrize(
    ("handler", "shown"),
    [(_star_args, "*args: Any"), (_star_kwargs, "**kwargs: Any"),
     (_positional, "value: int (positional-only)")],
)
def test_parameters_without_a_name_to_fill_are_refused(handler: Any, shown: str) -> None:
    app = Zephyr()
    app.add_route("/", handler)
    with pytest.raises(SetupError) as info:
        app._go_live()
    assert str(info.value) == _signature_error(handler, shown)


def test_other_marker_mistakes_are_refused_at_startup() -> None:
    def two_markers(value: Annotated[int, Query()] = Header()) -> None: ...
    def path_not_in_route(value: Annotated[int, Path()]) -> None: ...
    def file_not_upload(value: Annotated[int, File()]) -> None: ...
    def missing_path_param() -> None: ...

    cases = [
        ("/", two_markers,
         f"'{two_markers.__qualname__}': parameter 'value' has several markers "
         "[Query(), Header()]"),
        ("/", path_not_in_route,
         f"'{path_not_in_route.__qualname__}': parameter 'value' is a Path() parameter but "
         "the route has no {value}; path parameters: none"),
        ("/", file_not_upload,
         f"'{file_not_upload.__qualname__}': file parameter 'value' must be annotated "
         "UploadFile or list[UploadFile], not <class 'int'>"),
        ("/{id}", missing_path_param,
         f"handler '{missing_path_param.__qualname__}' does not take the path parameter "
         "'id'; add a parameter named 'id'"),
    ]
    for path, handler, message in cases:
        app = Zephyr()
        app.add_route(path, handler)
        with pytest.raises(SetupError) as info:
            app._go_live()
        assert str(info.value) == message


def test_startup_failure_reaches_the_test_client() -> None:
    app = Zephyr()

    @app.get("/")
    def handler(value: Annotated[dict, Header()]) -> None: ...

    with pytest.raises(RuntimeError, match="application startup failed: SetupError: "), \
            TestClient(app):
        pass
