"""The request object: method, path, URL, query, headers, cookies, client, state, url_for.

Reading the body (size limits, JSON, streaming, disconnects) is in test_request_body.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from zephyr import BadRequest, Request, SetupError, Zephyr
from zephyr.requests import Address, State, parse_cookie_header
from zephyr.testing import TestClient


def make_scope(
    path: str = "/",
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    root_path: str = "",
    scheme: str = "http",
    server: tuple[str, int | None] | None = ("testserver", 80),
    client: tuple[str, int] | None = ("10.0.0.7", 4321),
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http", "method": "GET", "scheme": scheme, "path": path,
        "raw_path": path.encode(), "query_string": query, "root_path": root_path,
        "headers": headers if headers is not None else [],
    }
    if server is not None:
        scope["server"] = server
    if client is not None:
        scope["client"] = client
    return scope


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def make_request(**options: Any) -> Request:
    return Request(make_scope(**options), _no_body)


# -- method, path, URL -------------------------------------------------------------------


def test_method_path_url_and_path_params_through_a_handler() -> None:
    app = Zephyr()

    @app.route("/items/<int:id>", methods=["GET", "PUT"])
    async def item(request: Request, id: int) -> dict[str, Any]:
        return {
            "method": request.method, "path": request.path, "url": str(request.url),
            "base_url": str(request.base_url), "params": dict(request.path_params),
        }

    with TestClient(app) as client:
        got = client.put("/items/42?q=a%20b&q=c")
    assert got.json() == {
        "method": "PUT", "path": "/items/42", "url": "http://localhost/items/42?q=a%20b&q=c",
        "base_url": "http://localhost/", "params": {"id": 42},
    }


def test_root_path_is_stripped_from_path_but_kept_in_urls() -> None:
    app = Zephyr()

    @app.get("/items/<int:id>", name="item")
    async def item(request: Request, id: int) -> dict[str, str]:
        return {
            "path": request.path, "url": str(request.url), "base_url": str(request.base_url),
            "url_for": request.url_for("item", id=id + 1),
            "external": request.url_for("item", id=1, _external=True),
        }

    with TestClient(app, root_path="/shop") as client:
        got = client.get("/items/3?x=1")
    assert got.status_code == 200
    assert got.json() == {
        "path": "/items/3", "url": "http://localhost/shop/items/3?x=1",
        "base_url": "http://localhost/shop/", "url_for": "/shop/items/4",
        "external": "http://localhost/shop/items/1",
    }


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/", "", "/"),
        ("/app/x", "/app", "/x"),
        ("/app", "/app", "/"),
        ("/other", "/app", "/other"),
    ],
)
def test_path_below_the_root_path(path: str, root_path: str, expected: str) -> None:
    assert make_request(path=path, root_path=root_path).path == expected


def test_the_host_header_gives_the_url_its_origin() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.url)

    with TestClient(app) as client:
        assert client.get("/?a=1", headers={"host": "localhost:8080"}).text == (
            "http://localhost:8080/?a=1"
        )


@pytest.mark.parametrize(
    ("scheme", "server", "expected"),
    [
        ("http", ("example.org", 80), "http://example.org/p?q=1"),
        ("https", ("example.org", 443), "https://example.org/p?q=1"),
        ("http", ("example.org", 8000), "http://example.org:8000/p?q=1"),
        ("https", ("example.org", 80), "https://example.org:80/p?q=1"),
        ("http", ("/run/app.sock", None), "http://localhost/p?q=1"),
        ("http", None, "http://localhost/p?q=1"),
    ],
)
def test_without_a_host_header_the_url_falls_back_to_the_server(
    scheme: str, server: tuple[str, int | None] | None, expected: str
) -> None:
    request = make_request(path="/p", query=b"q=1", scheme=scheme, server=server)
    assert request.url == expected
    assert request.url.path == "/p"
    assert request.url.query == "q=1"


def test_url_keeps_the_raw_path_as_sent() -> None:
    scope = make_scope("/a b", headers=[(b"host", b"example.org")])
    scope["raw_path"] = b"/a%20b"
    assert str(Request(scope, _no_body).url) == "http://example.org/a%20b"


def test_base_url_ends_in_a_slash_whatever_the_root_path() -> None:
    headers = [(b"host", b"example.org")]
    assert make_request(headers=headers).base_url == "http://example.org/"
    assert make_request(headers=headers, root_path="/app/").base_url == "http://example.org/app/"


def test_url_for_builds_paths_with_query_and_absolute_urls() -> None:
    app = Zephyr()

    @app.get("/users/<int:id>", name="user")
    async def user(id: int) -> str:
        return ""

    @app.get("/")
    async def home(request: Request) -> list[str]:
        return [
            request.url_for("user", id=5),
            request.url_for("user", id=5, _query={"tab": "a b", "x": [1, 2]}),
            request.url_for("user", id=5, _external=True),
        ]

    with TestClient(app) as client:
        assert client.get("/").json() == [
            "/users/5", "/users/5?tab=a+b&x=1&x=2", "http://localhost/users/5",
        ]


def test_url_for_without_an_app_says_what_is_missing() -> None:
    with pytest.raises(SetupError, match=r"needs a request that belongs to an app"):
        make_request().url_for("home")


# -- query string ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        (b"", []),
        (b"a=1&b=2", [("a", "1"), ("b", "2")]),
        (b"tag=a&tag=b&tag=c", [("tag", "a"), ("tag", "b"), ("tag", "c")]),
        (b"q=hello+world", [("q", "hello world")]),
        (b"q=1%2B1", [("q", "1+1")]),
        (b"&&a=1&&", [("a", "1")]),
        (b"flag&a=", [("flag", ""), ("a", "")]),
        (b"x=a=b", [("x", "a=b")]),
        (b"%C3%A9t%C3%A9=%E2%82%AC", [("\u00e9t\u00e9", "\u20ac")]),
        (b"a%20b=c%26d", [("a b", "c&d")]),
    ],
)
def test_query_parsing(query: bytes, pairs: list[tuple[str, str]]) -> None:
    assert make_request(query=query).query.multi_items() == pairs


def test_query_is_a_multi_dict_where_the_first_value_wins() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        query = request.query
        return {"first": query["tag"], "all": query.getlist("tag"),
                "missing": query.getlist("nope"), "get": query.get("nope", "default")}

    with TestClient(app) as client:
        assert client.get("/?tag=a&tag=b").json() == {
            "first": "a", "all": ["a", "b"], "missing": [], "get": "default",
        }


_INVALID_PERCENT = (
    "the query string has an invalid percent-escape; '%' must be followed by two "
    "hex digits (write a literal '%' as '%25')"
)
_NOT_UTF8 = "the query string is not valid UTF-8; percent-encode text as UTF-8"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("a=%zz", _INVALID_PERCENT),
        ("a=%zz&b=1", _INVALID_PERCENT),
        ("a=%4", _INVALID_PERCENT),
        ("a=100%", _INVALID_PERCENT),
        ("a=%ff", _NOT_UTF8),
        ("%C3=1", _NOT_UTF8),
    ],
)
def test_a_badly_encoded_query_is_a_400_when_the_handler_reads_it(
    query: str, detail: str
) -> None:
    app = Zephyr()

    @app.get("/raw")
    async def raw(request: Request) -> dict[str, str]:
        return dict(request.query)

    @app.get("/typed")
    async def typed(a: str = "") -> str:
        return a

    @app.get("/ignores")
    async def ignores() -> str:
        return "fine"

    with TestClient(app) as client:
        for path in ("/raw", "/typed"):
            got = client.get(f"{path}?{query}")
            assert got.status_code == 400, path
            assert got.headers["content-type"] == "application/problem+json"
            assert got.json()["detail"].startswith(detail), path
        ignored = client.get(f"/ignores?{query}")
        assert (ignored.status_code, ignored.text) == (200, "fine")


def test_the_query_is_parsed_once_and_only_when_asked_for() -> None:
    request = make_request(query=b"a=%zz")
    with pytest.raises(BadRequest):
        request.query  # noqa: B018
    good = make_request(query=b"a=1")
    assert good.query is good.query


# -- headers -----------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        headers = request.headers
        return {"one": headers["X-TAG"], "all": headers.getlist("x-Tag"),
                "has": "X-Tag" in headers, "missing": headers.get("x-none")}

    with TestClient(app) as client:
        got = client.get("/", headers=[("X-Tag", "a"), ("x-tag", "b")])
    assert got.json() == {"one": "a", "all": ["a", "b"], "has": True, "missing": None}


def test_request_headers_cannot_be_changed() -> None:
    request = make_request(headers=[(b"x-a", b"1")])
    with pytest.raises(TypeError):
        request.headers["x-a"] = "2"  # type: ignore[index]
    assert not hasattr(request.headers, "append")
    assert request.headers is request.headers


def test_header_values_are_decoded_as_latin_1() -> None:
    request = make_request(headers=[(b"x-name", "caf\u00e9".encode("latin-1"))])
    assert request.headers["x-name"] == "caf\u00e9"


# -- cookies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ('a="', {"a": '"'}),
        ("a=1; a=2", {"a": "1"}),
        ("junk; a=1; =nameless; b", {"a": "1"}),
        ("  spaced  =  out  ", {"spaced": "out"}),
        ("token=a=b=c", {"token": "a=b=c"}),
        ("a=", {"a": ""}),
    ],
)
def test_cookie_header_is_parsed_leniently(header: str, cookies: dict[str, str]) -> None:
    assert parse_cookie_header(header) == cookies


def test_request_cookies_come_from_the_cookie_header() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        assert client.get("/", headers={"cookie": 'sid=abc; theme="dark"; sid=x'}).json() == {
            "sid": "abc", "theme": "dark",
        }
        assert client.get("/").json() == {}


@pytest.mark.parametrize(("headers", "cookies"), [
    ([("cookie", "a=1; b=2"), ("cookie", "c=3")], {"a": "1", "b": "2", "c": "3"}),
    ([("cookie", "a=1"), ("x-other", "y"), ("cookie", "a=2; b=2")], {"a": "1", "b": "2"}),
    # Without the join, "b=2" would run into the value of "a".
    ([("cookie", "a=1"), ("cookie", "b=2")], {"a": "1", "b": "2"}),
])
def test_cookie_fields_split_over_several_headers_are_joined(
        headers: list[tuple[str, str]], cookies: dict[str, str]) -> None:
    # NOTE: RFC 9113 §8.2.3: HTTP/2 and HTTP/3 may send each cookie in its own field.
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        assert client.get("/", headers=headers).json() == cookies


# -- client, state, content type ------------------------------------------------------------


def test_client_address() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> list[Any]:
        client = request.client
        assert isinstance(client, Address)
        return [client.host, client.port]

    with TestClient(app) as client:
        assert client.get("/").json() == ["127.0.0.1", 50000]
    assert make_request(client=None).client is None


def test_state_is_per_request_and_shared_with_hooks_and_the_lifespan() -> None:
    app = Zephyr()
    seen: list[Any] = []

    @app.lifespan
    @asynccontextmanager
    async def provide_db() -> AsyncIterator[dict[str, str]]:
        yield {"db": "the-db"}

    @app.before_request
    async def load_user(request: Request) -> None:
        seen.append("user" in request.state)
        request.state.user = request.query.get("user")

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"user": request.state.user, "db": request.state.db,
                "other": request.state.get("other", "none")}

    with TestClient(app) as client:
        assert client.get("/?user=ann").json() == {"user": "ann", "db": "the-db", "other": "none"}
        assert client.get("/?user=bob").json()["user"] == "bob"
    assert seen == [False, False]


def test_state_attribute_errors_name_the_attribute() -> None:
    state = State()
    state.x = 1
    assert state.x == 1
    del state.x
    with pytest.raises(AttributeError, match=r"state has no attribute 'x'"):
        state.x  # noqa: B018
    with pytest.raises(AttributeError, match="x"):
        del state.x


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], ""),
        ([(b"content-type", b"application/json")], "application/json"),
        ([(b"content-type", b"Text/HTML; charset=UTF-8")], "text/html"),
        ([(b"content-type", b" multipart/form-data ; boundary=x")], "multipart/form-data"),
    ],
)
def test_content_type_is_the_bare_lower_case_media_type(
    headers: list[tuple[bytes, bytes]], expected: str
) -> None:
    assert make_request(headers=headers).content_type == expected


def test_repr_names_method_and_path() -> None:
    assert repr(make_request(path="/x")) == "<Request GET '/x'>"
