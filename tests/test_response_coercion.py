"""How a handler's return value becomes a response."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgspec
import pytest

from zephyr import JSONResponse, PlainTextResponse, Response, StreamingResponse, Zephyr
from zephyr.errors import ResponseError
from zephyr.responses import to_response
from zephyr.testing import TestClient


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Item(msgspec.Struct):
    name: str


def answer(handler: Callable[..., Any], *, method: str = "GET", **route: Any) -> Any:
    """Serve ``handler`` at ``/`` and return the response to one request."""
    app = Zephyr()
    app.route("/", methods=[method], **route)(handler)
    with TestClient(app) as client:
        return client.request(method, "/")


async def _html() -> str:
    return "<h1>hi</h1>"


async def _bytes() -> bytes:
    return b"\x00\x01"


async def _bytearray() -> bytearray:
    return bytearray(b"ab")


async def _dict() -> dict[str, int]:
    return {"a": 1}


async def _list() -> list[int]:
    return [1, 2]


async def _dataclass() -> Point:
    return Point(1, 2)


async def _struct() -> Item:
    return Item("pen")


def _sync_dict() -> dict[str, str]:
    return {"sync": "yes"}


@pytest.mark.parametrize(
    ("handler", "content_type", "body"),
    [
        (_html, "text/html; charset=utf-8", b"<h1>hi</h1>"),
        (_bytes, "application/octet-stream", b"\x00\x01"),
        (_bytearray, "application/octet-stream", b"ab"),
        (_dict, "application/json", b'{"a":1}'),
        (_list, "application/json", b"[1,2]"),
        (_dataclass, "application/json", b'{"x":1,"y":2}'),
        (_struct, "application/json", b'{"name":"pen"}'),
        (_sync_dict, "application/json", b'{"sync":"yes"}'),
    ],
)
def test_return_values_become_responses(
    handler: Callable[..., Any], content_type: str, body: bytes
) -> None:
    got = answer(handler)
    assert got.status_code == 200
    assert got.headers["content-type"] == content_type
    assert got.headers["content-length"] == str(len(body))
    assert got.content == body


def test_none_is_204_without_a_body() -> None:
    async def nothing() -> None:
        return None

    got = answer(nothing, method="DELETE")
    assert got.status_code == 204
    assert "content-length" not in got.headers
    assert got.content == b""


def test_a_response_is_sent_as_it_is() -> None:
    async def teapot() -> Response:
        return PlainTextResponse("short and stout", 418, headers={"x-pot": "tea"})

    got = answer(teapot, status_code=201)
    assert (got.status_code, got.text, got.headers["x-pot"]) == (418, "short and stout", "tea")


@pytest.mark.parametrize(
    ("value", "status", "headers", "body"),
    [
        (("created", 201), 201, {"content-type": "text/html; charset=utf-8"}, b"created"),
        (({"id": 1}, 201), 201, {"content-type": "application/json"}, b'{"id":1}'),
        (("gone", 410, {"x-why": "old"}), 410, {"x-why": "old"}, b"gone"),
        (({"a": 1}, 202, [("x-a", "1")]), 202, {"x-a": "1"}, b'{"a":1}'),
        (("hello", {"x-hi": "there"}), 200, {"x-hi": "there"}, b"hello"),
        ((None, 200), 200, {}, b""),
        ((b"raw", 203), 203, {"content-type": "application/octet-stream"}, b"raw"),
        ((PlainTextResponse("p"), 409), 409, {"content-type": "text/plain; charset=utf-8"}, b"p"),
    ],
)
def test_tuples_give_status_and_headers(
    value: tuple[Any, ...], status: int, headers: dict[str, str], body: bytes
) -> None:
    async def handler() -> Any:
        return value

    got = answer(handler)
    assert got.status_code == status
    for name, expected in headers.items():
        assert got.headers[name] == expected
    assert got.content == body


@pytest.mark.parametrize(
    ("value", "status"),
    [({"a": 1}, 201), ("made", 201), (b"raw", 201), ([1], 201), (None, 201),
     (("body", 202), 202), (("body", {"x-a": "1"}), 201), (Response("own", 200), 200)],
)
def test_the_route_status_code_applies_to_plain_values(value: Any, status: int) -> None:
    async def handler() -> Any:
        return value

    assert answer(handler, method="POST", status_code=201).status_code == status


def test_generators_become_streams() -> None:
    app = Zephyr()

    @app.get("/sync")
    def sync_lines() -> Iterator[str]:
        yield "one\n"
        yield "two\n"

    @app.get("/async")
    async def async_lines() -> AsyncIterator[bytes]:
        yield b"three\n"
        yield b"four\n"

    @app.get("/created", status_code=201)
    async def created() -> AsyncIterator[bytes]:
        yield b"x"

    with TestClient(app) as client:
        for path, body in [("/sync", b"one\ntwo\n"), ("/async", b"three\nfour\n")]:
            got = client.get(path)
            assert got.status_code == 200
            assert got.headers["content-type"] == "text/plain; charset=utf-8"
            assert "content-length" not in got.headers
            assert got.content == body
        assert client.get("/created").status_code == 201


def test_an_unsupported_value_is_a_500_logged_with_the_handler_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Zephyr()

    @app.get("/")
    async def strange() -> object:
        return object()

    with caplog.at_level(logging.ERROR, logger="zephyr"), TestClient(app) as client:
        got = client.get("/")
    assert got.status_code == 500
    assert "cannot make a response" not in got.text  # nothing leaks outside debug
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    message = str(record.exc_info[1])
    assert message.startswith(
        "cannot make a response from 'object' returned by "
        "test_an_unsupported_value_is_a_500_logged_with_the_handler_name.<locals>.strange; "
        "return str, bytes, dict, list, a dataclass or Struct, None"
    )
    assert "ResponseError" in record.getMessage()


def test_in_debug_the_500_shows_the_response_error() -> None:
    app = Zephyr(debug=True)

    @app.get("/")
    async def strange() -> Any:
        return 42

    with TestClient(app) as client:
        got = client.get("/")
    assert got.status_code == 500
    assert got.json()["detail"].startswith(
        "ResponseError: cannot make a response from 'int' returned by "
        "test_in_debug_the_500_shows_the_response_error.<locals>.strange"
    )


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (("a", 200, {}, "extra"), "a tuple of 4 (str, int, dict, str)"),
        (("a", "201"), "a tuple of 2 (str, str)"),
        (("a",), "a tuple of 1 (str)"),
        ((), "a tuple of 0 ()"),
        (("a", {"x": "1"}, 200), "a tuple of 3 (str, dict, int)"),
    ],
)
def test_a_malformed_tuple_says_which_shapes_are_allowed(
    value: tuple[Any, ...], described: str
) -> None:
    with pytest.raises(ResponseError) as caught:
        to_response(value)
    assert str(caught.value) == (
        "a returned tuple must be (body, status), (body, headers) or (body, status, headers); "
        f"got {described}"
    )

    app = Zephyr(debug=True)

    @app.get("/")
    async def handler() -> Any:
        return value

    with TestClient(app) as client:
        got = client.get("/")
    assert got.status_code == 500
    assert got.json()["detail"] == f"ResponseError: {caught.value}"


def test_to_response_directly() -> None:
    assert isinstance(to_response({"a": 1}), JSONResponse)
    assert isinstance(to_response(iter([b"a"])), StreamingResponse)
    response = Response("x")
    assert to_response(response) is response
    assert to_response("x", 201).status_code == 201
    assert to_response(None).status_code == 204
    assert to_response(None, 202).status_code == 202
    assert to_response({1, 2}).body == b"[1,2]"
    with pytest.raises(ResponseError, match=r"from 'object' returned;"):
        to_response(object())
