"""Invalid input: the 422 problem document in detail, secrets never echoed, and no 500 ever."""

from typing import Annotated, Any

import msgspec
import pydantic
import pytest

from zephyr import Body, Cookie, Form, Header, Query, Request, Zephyr
from zephyr.testing import TestClient
from zephyr.validation import is_secret_name, problem


class Price(msgspec.Struct):
    amount: float
    currency: str = "EUR"


class Line(msgspec.Struct):
    name: str
    price: float


class Order(msgspec.Struct):
    items: list[Line]


class Note(msgspec.Struct):
    title: str
    body: str = ""


class Account(msgspec.Struct):
    user: str
    password: str
    api_key: str = ""


class Anything(msgspec.Struct):
    data: Any


class LineModel(pydantic.BaseModel):
    name: str
    price: float


class OrderModel(pydantic.BaseModel):
    items: list[LineModel]


class AccountModel(pydantic.BaseModel):
    user: str
    password: str


def order_app(**settings: Any) -> Zephyr:
    app = Zephyr(**settings)

    @app.post("/orders")
    def create(order: Order) -> dict[str, int]:
        return {"lines": len(order.items)}

    @app.post("/model-orders")
    def create_model(order: OrderModel) -> dict[str, int]:
        return {"lines": len(order.items)}

    return app


def errors_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


# -- the problem document --------------------------------------------------------------------


def test_the_whole_422_problem_document() -> None:
    app = Zephyr()

    @app.get("/items/{id}")
    def item(id: int, page: int = 1) -> None: ...

    with TestClient(app) as client:
        r = client.get("/items/abc?page=x")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem.pop("instance").startswith("urn:zephyr:request:")
    assert problem == {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "2 invalid values in the request; see 'errors'",
        "errors": [
            {"location": "path", "field": "id", "message": "Expected `int`, got `str`",
             "value": "abc"},
            {"location": "query", "field": "page", "message": "Expected `int`, got `str`",
             "value": "x"},
        ],
    }


def test_browsers_get_a_422_page() -> None:
    app = Zephyr()

    @app.get("/")
    def read(page: int) -> None: ...

    with TestClient(app) as client:
        r = client.get("/?page=x", headers={"accept": "text/html"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "1 invalid value in the request" in r.text


@pytest.mark.parametrize(
    ("request_kwargs", "location", "field", "expected_type"),
    [
        ({"params": {"q": "x"}}, "query", "q", "int"),
        ({"headers": {"x-count": "x"}}, "header", "x-count", "int"),
        ({"json": {"amount": "x"}}, "body", "body.amount", "float"),
        ({"data": {"size": "x"}}, "form", "size", "int"),
    ],
)
def test_each_source_names_its_location(
    request_kwargs: dict[str, Any], location: str, field: str, expected_type: str
) -> None:
    app = Zephyr()

    @app.post("/query")
    def query(q: int) -> None: ...

    @app.post("/header")
    def header(x_count: Annotated[int, Header()]) -> None: ...

    @app.post("/body")
    def body(price: Price) -> None: ...

    @app.post("/form")
    def form(size: Annotated[int, Form()]) -> None: ...

    with TestClient(app) as client:
        r = client.post(f"/{location}", **request_kwargs)
    assert errors_of(r) == [
        {"location": location, "field": field, "message": f"Expected `{expected_type}`, got `str`",
         "value": "x"},
    ]


def test_nested_body_field_paths() -> None:
    with TestClient(order_app()) as client:
        items = [{"name": "a", "price": 1}, {"name": "b", "price": 2}, {"name": "c", "price": "x"}]
        assert errors_of(client.post("/orders", json={"items": items})) == [
            {"location": "body", "field": "body.items[2].price",
             "message": "Expected `float`, got `str`", "value": "x"},
        ]
        assert errors_of(client.post("/orders", json={"items": [{"name": "a"}]})) == [
            {"location": "body", "field": "body.items[0].price",
             "message": "Object missing required field `price`"},
        ]
        assert errors_of(client.post("/orders", json=[1])) == [
            {"location": "body", "field": "body", "message": "Expected `object`, got `array`",
             "value": [1]},
        ]


def test_a_fault_shared_by_several_body_members_is_listed_once() -> None:
    app = Zephyr()

    @app.post("/")
    def create(line: Line, count: Annotated[int, Body()]) -> None: ...

    with TestClient(app) as client:
        assert errors_of(client.post("/", json=[1, 2])) == [
            {"location": "body", "field": "body", "message": "expected a JSON object, got list"},
        ]
        assert errors_of(client.post("/", json={"line": {"name": "a"}, "count": "x"})) == [
            {"location": "body", "field": "body.line.price",
             "message": "Object missing required field `price`"},
            {"location": "body", "field": "body.count", "message": "Expected `int`, got `str`",
             "value": "x"},
        ]


def test_pydantic_models_give_the_same_shape() -> None:
    with TestClient(order_app()) as client:
        items = [{"name": "a", "price": 1}, {"name": "b", "price": "x"}, {"price": 3}]
        assert errors_of(client.post("/model-orders", json={"items": items})) == [
            {"location": "body", "field": "body.items[1].price",
             "message": "Input should be a valid number, unable to parse string as a number",
             "value": "x"},
            {"location": "body", "field": "body.items[2].name", "message": "Field required"},
        ]


# -- missing values --------------------------------------------------------------------------


def test_missing_values_are_required() -> None:
    app = Zephyr()

    @app.post("/params")
    def params(page: int, x_token: Annotated[str, Header()],
               theme: Annotated[str, Cookie()]) -> None: ...

    @app.post("/notes")
    def notes(note: Note) -> None: ...

    with TestClient(app) as client:
        assert errors_of(client.post("/params")) == [
            {"location": "query", "field": "page", "message": "a value is required"},
            {"location": "header", "field": "x-token", "message": "a value is required"},
            {"location": "cookie", "field": "theme", "message": "a value is required"},
        ]
        assert errors_of(client.post("/notes")) == [
            {"location": "body", "field": "body", "message": "a JSON request body is required"},
        ]
        assert errors_of(client.post("/notes", json={"body": "text"})) == [
            {"location": "body", "field": "body.title",
             "message": "Object missing required field `title`"},
        ]


def test_every_invalid_query_and_header_value_is_listed() -> None:
    app = Zephyr()

    @app.get("/")
    def search(
        page: Annotated[int, Query(ge=1)],
        size: float,
        x_retries: Annotated[int, Header()],
        x_ratio: Annotated[float, Header()] = 1.0,
    ) -> None: ...

    with TestClient(app) as client:
        r = client.get("/?page=0&size=big", headers={"x-retries": "many", "x-ratio": "half"})
    assert r.json()["detail"] == "4 invalid values in the request; see 'errors'"
    assert errors_of(r) == [
        {"location": "query", "field": "page", "message": "Expected `int` >= 1", "value": "0"},
        {"location": "query", "field": "size", "message": "Expected `float`, got `str`",
         "value": "big"},
        {"location": "header", "field": "x-retries", "message": "Expected `int`, got `str`",
         "value": "many"},
        {"location": "header", "field": "x-ratio", "message": "Expected `float`, got `str`",
         "value": "half"},
    ]


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["password", "new_password", "token", "access-token", "client_secret", "api_key",
     "X-API-Key", "authorization", "session_id", "body.user.password"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)
    assert problem("query", name, "bad", "hunter2") == {
        "location": "query", "field": name, "message": "bad",
    }


@pytest.mark.parametrize("name", ["page", "title", "user", "body.items[0].price"])
def test_plain_names_echo_their_value(name: str) -> None:
    assert not is_secret_name(name)
    assert problem("query", name, "bad", "x")["value"] == "x"


def test_secret_values_are_never_echoed() -> None:
    app = Zephyr()

    @app.post("/params")
    def params(
        password: Annotated[str, Query(min_length=12)] = "x" * 12,
        api_key: Annotated[str, Query(pattern="^k_")] = "k_",
        authorization: Annotated[int, Header()] = 0,
        theme: Annotated[int, Cookie()] = 0,
    ) -> None: ...

    @app.post("/account")
    def account(account: Account) -> None: ...

    @app.post("/model-account")
    def model_account(account: AccountModel) -> None: ...

    @app.post("/form")
    def form(client_secret: Annotated[int, Form()]) -> None: ...

    with TestClient(app) as client:
        client.cookies.set("theme", "hunter2")  # every cookie counts as secret
        r = client.post("/params?password=hunter2&api_key=hunter2",
                        headers={"authorization": "Bearer hunter2"})
        assert errors_of(r) == [
            {"location": "query", "field": "password",
             "message": "Expected `str` of length >= 12"},
            {"location": "query", "field": "api_key",
             "message": "Expected `str` matching regex '^k_'"},
            {"location": "header", "field": "authorization",
             "message": "Expected `int`, got `str`"},
            {"location": "cookie", "field": "theme", "message": "Expected `int`, got `str`"},
        ]
        client.cookies.clear()
        r = client.post("/account", json={"user": "ann", "password": 1234})
        assert errors_of(r) == [
            {"location": "body", "field": "body.password",
             "message": "Expected `str`, got `int`"},
        ]
        r = client.post("/model-account", json={"user": "ann", "password": 1234})
        assert errors_of(r) == [
            {"location": "body", "field": "body.password",
             "message": "Input should be a valid string"},
        ]
        assert errors_of(client.post("/form", data={"client_secret": "hunter2"})) == [
            {"location": "form", "field": "client_secret",
             "message": "Expected `int`, got `str`"},
        ]


# -- bodies that cannot be read --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/orders", "/model-orders"])
def test_a_json_body_needs_a_json_content_type(path: str) -> None:
    with TestClient(order_app()) as client:
        r = client.post(path, content=b'{"items": []}', headers={"content-type": "text/plain"})
        assert r.status_code == 415
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == (
            "expected a JSON body with Content-Type: application/json, got another media type"
        )
        r = client.post(path, content=b'{"items": []}',
                        headers={"content-type": "application/vnd.api+json"})
        assert r.json() == {"lines": 0}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/orders", "malformed JSON: trailing characters (byte 14)"),
        ("/model-orders",
         "malformed JSON: Invalid JSON: trailing characters at line 1 column 14"),
    ],
)
def test_malformed_json_is_a_400_with_the_position(path: str, detail: str) -> None:
    with TestClient(order_app()) as client:
        r = client.post(path, content=b'{"items": []}}', headers=JSON)
    assert r.status_code == 400
    assert r.json()["detail"] == detail


def test_invalid_utf8_in_a_json_string_is_a_400() -> None:
    app = Zephyr()

    @app.post("/")
    def create(note: Note) -> None: ...

    with TestClient(app) as client:
        r = client.post("/", content=b'{"title": "\xff"}',
                        headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["detail"] == (
            "malformed JSON: a string is not valid UTF-8 at byte 11"
        )
        # Also when the document does not fit the model either (the value is then unknown).
        r = client.post("/", content=b'{"x": "\xff"}', headers={"content-type": "application/json"})
        assert errors_of(r) == [
            {"location": "body", "field": "body.title",
             "message": "Object missing required field `title`"},
        ]


def test_deeply_nested_json_is_a_400() -> None:
    app = Zephyr()

    @app.post("/any")
    def anything(doc: Anything) -> None: ...

    @app.post("/order")
    def order(order: Order) -> None: ...

    depth = 100_000
    with TestClient(app) as client:
        deep = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
        r = client.post("/any", content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["detail"] == "malformed JSON: the document is nested too deeply"
        # Too deep to quote: the entry leaves the value out rather than claim it is null.
        r = client.post("/order", content=b"[" * depth + b"]" * depth,
                        headers={"content-type": "application/json"})
        assert errors_of(r) == [
            {"location": "body", "field": "body", "message": "Expected `object`, got `array`"},
        ]


class Counted(msgspec.Struct):
    count: int
    ratio: float
    data: Any = None


@pytest.mark.parametrize(
    ("path", "prefix", "depth"),
    [
        # 1.0 for an int: the strict decode refuses it, and the retry that reads whole
        # floats as ints decodes the document again (too deep for the parser), or walks it
        # in Python (too deep for the interpreter, though the parser managed).
        ("/counted", b'{"count": 1.0, "ratio": 2, "data": ', 100_000),
        ("/counted", b'{"count": 1.0, "ratio": 2, "data": ', 900),
        ("/counted", b'{"ratio": 2.5, "data": ', 100_000),
        ("/typed-any", b'{"data": ', 100_000),
        ("/untyped", b'{"data": ', 100_000),
    ],
)
def test_json_nested_too_deeply_is_a_400_on_every_decoding_path(
    path: str, prefix: bytes, depth: int
) -> None:
    app = Zephyr()

    @app.post("/counted")
    def counted(counted: Counted) -> None: ...

    @app.post("/typed-any")
    def typed_any(doc: Anything) -> None: ...

    @app.post("/untyped")
    async def untyped(request: Request) -> None:
        await request.json()

    deep = prefix + b"[" * depth + b"]" * depth + b"}"
    with TestClient(app) as client:
        r = client.post(path, content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == "malformed JSON: the document is nested too deeply"


def test_a_body_over_the_limit_is_a_413() -> None:
    app = Zephyr(MAX_JSON_SIZE=64)

    @app.post("/")
    def create(note: Note) -> None: ...

    @app.post("/roomy", max_body_size=1024)
    def roomy(note: Note) -> dict[str, int]:
        return {"length": len(note.body)}

    with TestClient(app) as client:
        note = {"title": "t", "body": "x" * 100}
        r = client.post("/", json=note)
        assert r.status_code == 413
        assert r.json()["title"] == "Content Too Large"
        assert r.json()["detail"].startswith("the request body is larger than the limit of 64")
        assert client.post("/roomy", json=note).json() == {"length": 100}


# -- never a 500 for bad input ---------------------------------------------------------------


def sweep_app() -> Zephyr:
    app = order_app(MAX_JSON_SIZE=4096)

    @app.post("/embedded")
    def embedded(line: Annotated[Line, Body(embed=True)],
                 count: Annotated[int, Body()]) -> None: ...

    @app.post("/form")
    def form(size: Annotated[int, Form()],
             tags: Annotated[list[int] | None, Form()] = None) -> None: ...

    @app.get("/params/{id}")
    def params(id: int, page: Annotated[int, Query(ge=1)] = 1,
               x_n: Annotated[int | None, Header()] = None) -> None: ...

    return app


JSON = {"content-type": "application/json"}
BAD_INPUTS = [
    ("POST", "/orders", {"content": b"", "headers": JSON}),
    ("POST", "/orders", {"content": b"null", "headers": JSON}),
    ("POST", "/orders", {"content": b'"text"', "headers": JSON}),
    ("POST", "/orders", {"content": b"{", "headers": JSON}),
    ("POST", "/orders", {"content": b'{"items": [null]}', "headers": JSON}),
    ("POST", "/orders", {"content": b'{"items": {"0": 1}}', "headers": JSON}),
    ("POST", "/orders", {"content": b'{"items": [{"name": "\xc3", "price": 1}]}',
                         "headers": JSON}),
    ("POST", "/orders", {"content": b"\xef\xbb\xbf{}", "headers": JSON}),
    ("POST", "/orders", {"content": b"[" * 5000, "headers": JSON}),
    ("POST", "/orders", {"content": b"{}", "headers": {"content-type": "application/xml"}}),
    ("POST", "/orders", {"content": b"x" * 5000, "headers": JSON}),
    ("POST", "/orders", {"data": {"items": "x"}}),
    ("POST", "/model-orders", {"content": b"\xff", "headers": JSON}),
    ("POST", "/model-orders", {"content": b'{"items": [' * 2000, "headers": JSON}),
    ("POST", "/model-orders", {"content": b'{"items": [{"name": [], "price": {}}]}',
                               "headers": JSON}),
    ("POST", "/model-orders", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    ("POST", "/embedded", {"content": b"[1, 2]", "headers": JSON}),
    ("POST", "/embedded", {"content": b'{"line": 5, "count": "x"}', "headers": JSON}),
    ("POST", "/embedded", {"content": b'{"line": {"name": "\xff"}}', "headers": JSON}),
    ("POST", "/embedded", {"data": {"line": "x"}}),
    ("POST", "/form", {"json": {"size": 1}}),
    ("POST", "/form", {"data": {"size": "1e999", "tags": ["1", "x"]}}),
    ("POST", "/form", {"files": {"size": ("a", b"1")}}),
    ("POST", "/form", {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}),
    ("GET", "/params/1?page=-1", {"headers": {"x-n": "NaN"}}),
    ("GET", "/params/1?page=1.5", {}),
    ("GET", "/params/x?page=%FF", {"headers": {"x-n": "\t"}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), BAD_INPUTS)
def test_bad_input_is_never_a_500(method: str, path: str, kwargs: dict[str, Any]) -> None:
    with TestClient(sweep_app()) as client:
        r = client.request(method, path, **kwargs)
    assert r.status_code != 500, r.text
    assert r.status_code in {400, 413, 415, 422}, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]
