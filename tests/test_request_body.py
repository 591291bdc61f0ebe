"""Reading the request body: body(), json(), stream(), size limits and client disconnects."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from zephyr import Request, Zephyr
from zephyr.errors import PayloadTooLarge
from zephyr.requests import BodyLimits, RequestServices
from zephyr.testing import TestClient

Message = dict[str, Any]

_TOO_LARGE = "the request body is larger than the limit of {limit} bytes"
_RAISE_IT = "; send less, or raise the limit with max_body_size= on the route"


def echo_app(**settings: Any) -> Zephyr:
    """An app whose ``POST /`` answers with the length of the body it read."""
    app = Zephyr(**settings)

    @app.post("/")
    async def echo(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    return app


class Connection:
    """A hand-driven ASGI connection: hands out ``messages`` in order, records what is sent."""

    def __init__(self, *messages: Message) -> None:
        self.messages = list(messages)
        self.received = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.received == len(self.messages):
            await asyncio.Event().wait()  # like a server: nothing more until the client acts
        self.received += 1
        return self.messages[self.received - 1]

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def run(self, app: Zephyr, headers: list[tuple[bytes, bytes]], path: str = "/") -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "headers": [(b"host", b"localhost"), (b"sec-fetch-site", b"same-origin"), *headers],
            "server": ("localhost", 80),
        }
        asyncio.run(asyncio.wait_for(app(scope, self.receive, self.send), 5))

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status

    def json_body(self) -> Any:
        import json

        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def chunk(body: bytes, *, more: bool = True) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


# -- body() ------------------------------------------------------------------------------


def test_body_is_read_once_and_cached() -> None:
    app = Zephyr()

    @app.post("/")
    async def twice(request: Request) -> dict[str, Any]:
        first = await request.body()
        return {"same": first is await request.body(), "text": first.decode()}

    with TestClient(app) as client:
        assert client.post("/", content=b"hello").json() == {"same": True, "text": "hello"}


def test_a_body_in_several_messages_is_joined() -> None:
    connection = Connection(chunk(b"ab"), chunk(b""), chunk(b"cd"), chunk(b"e", more=False))
    connection.run(echo_app(), [(b"content-type", b"text/plain")])
    assert connection.json_body() == {"read": 5}


# -- json() ------------------------------------------------------------------------------


def json_app() -> Zephyr:
    app = Zephyr()

    @app.post("/")
    async def echo(request: Request) -> Any:
        return {"got": await request.json()}

    return app


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/vnd.api+json", "application/merge-patch+json"],
)
def test_json_accepts_json_media_types(content_type: str) -> None:
    with TestClient(json_app()) as client:
        got = client.post("/", content=b'{"a": [1, 2.5, null]}',
                          headers={"content-type": content_type})
    assert got.status_code == 200
    assert got.json() == {"got": {"a": [1, 2.5, None]}}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"a": 1,}', "malformed JSON: trailing comma in object (byte 8)"),
        (b'{"a": }', "malformed JSON: invalid character (byte 6)"),
        (b"[1, 2", "malformed JSON: Input data was truncated"),
        (b'{"a": 1} x', "malformed JSON: trailing characters (byte 10)"),
        (b'["ok", "caf\xe9"]', "malformed JSON: a string is not valid UTF-8 at byte 11"),
        (b'{"\xff": 1}', "malformed JSON: a string is not valid UTF-8 at byte 2"),
        (b"\xff", "malformed JSON: invalid character (byte 0)"),
        (b"", "the request body is empty; send a JSON document"),
        (b"[" * 100_000, "malformed JSON: the document is nested too deeply"),
    ],
)
def test_malformed_json_is_a_400_with_the_parser_position(body: bytes, detail: str) -> None:
    with TestClient(json_app()) as client:
        got = client.post("/", content=body, headers={"content-type": "application/json"})
    assert got.status_code == 400
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["detail"] == detail


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"content-type": "text/plain"}, "another media type"),
        ({"content-type": "application/x-www-form-urlencoded"}, "another media type"),
        ({"content-type": "application/jsonx"}, "another media type"),
        ({}, "no content type"),
    ],
)
def test_json_with_another_content_type_is_a_415(
    headers: dict[str, str], named: str
) -> None:
    with TestClient(json_app()) as client:
        got = client.post("/", content=b'{"a": 1}', headers=headers)
    assert got.status_code == 415
    assert got.json()["detail"] == (
        f"expected a JSON body with Content-Type: application/json, got {named}"
    )


# -- size limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "content_type"),
    [
        ("max_json_size", "application/json"),
        ("max_json_size", "application/problem+json; charset=utf-8"),
        ("max_form_size", "application/x-www-form-urlencoded"),
        ("max_multipart_size", "multipart/form-data; boundary=xyz"),
        ("max_body_size", "text/plain"),
        ("max_body_size", None),
    ],
)
def test_each_content_type_has_its_own_limit(setting: str, content_type: str | None) -> None:
    others = {"max_json_size", "max_form_size", "max_multipart_size", "max_body_size"} - {setting}
    app = echo_app(**{setting: 10}, **dict.fromkeys(others, 5))
    headers = {"content-type": content_type} if content_type else {}
    with TestClient(app) as client:
        assert client.post("/", content=b"x" * 10, headers=headers).json() == {"read": 10}
        got = client.post("/", content=b"x" * 11, headers=headers)
    assert got.status_code == 413
    assert got.json()["detail"] == (
        _TOO_LARGE.format(limit=10) + _RAISE_IT
    )


def test_default_limit_is_one_mebibyte_for_json() -> None:
    with TestClient(echo_app()) as client:
        got = client.post("/", content=b" " * (1024 * 1024 + 1),
                          headers={"content-type": "application/json"})
    assert got.status_code == 413


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    connection = Connection(chunk(b"x" * 11, more=False))
    connection.run(echo_app(max_body_size=10),
                   [(b"content-type", b"text/plain"), (b"content-length", b"11")])
    assert connection.status == 413
    assert connection.received == 0
    assert connection.json_body()["detail"] == _TOO_LARGE.format(limit=10) + _RAISE_IT


def test_a_body_without_length_is_cut_off_once_past_the_limit() -> None:
    connection = Connection(chunk(b"x" * 6), chunk(b"x" * 6), chunk(b"x" * 6, more=False))
    connection.run(echo_app(max_body_size=10), [(b"transfer-encoding", b"chunked")])
    assert connection.status == 413
    assert connection.received == 2  # the third chunk was never read
    assert connection.json_body()["detail"] == _TOO_LARGE.format(limit=10) + _RAISE_IT


def test_a_body_longer_than_its_declared_length_still_hits_the_limit() -> None:
    connection = Connection(chunk(b"x" * 8), chunk(b"x" * 8, more=False))
    connection.run(echo_app(max_body_size=10), [(b"content-length", b"4")])
    assert connection.status == 413


@pytest.mark.parametrize(("route_limit", "size"), [(100, 100), (None, 5000)])
def test_a_route_can_raise_or_lift_the_limit(route_limit: int | None, size: int) -> None:
    app = Zephyr(max_body_size=10, max_json_size=10)

    @app.post("/upload", max_body_size=route_limit)
    async def upload(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    @app.post("/small")
    async def small(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    with TestClient(app) as client:
        for content_type in ("text/plain", "application/json"):
            headers = {"content-type": content_type}
            assert client.post("/upload", content=b"x" * size, headers=headers).json() == {
                "read": size,
            }
            assert client.post("/small", content=b"x" * size, headers=headers).status_code == 413
        if route_limit is not None:
            too_big = client.post("/upload", content=b"x" * (size + 1))
            assert too_big.status_code == 413
            assert _TOO_LARGE.format(limit=route_limit) in too_big.json()["detail"]


def test_a_route_can_lower_the_limit() -> None:
    app = Zephyr()

    @app.post("/", max_body_size=3)
    async def tiny(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    with TestClient(app) as client:
        assert client.post("/", content=b"abc").json() == {"read": 3}
        assert client.post("/", content=b"abcd").status_code == 413


@pytest.mark.parametrize("declared", [b"abc", b"-1", b"1e3", b" "])
def test_a_content_length_that_is_not_a_number_is_a_400(declared: bytes) -> None:
    connection = Connection(chunk(b"abc", more=False))
    connection.run(echo_app(), [(b"content-length", declared)])
    assert connection.status == 400
    assert connection.json_body()["detail"] == "the Content-Length header is not a number"
    # Where such a body ends is anybody's guess: the connection closes after the 400.
    assert (b"connection", b"close") in connection.sent[0]["headers"]


JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data; boundary=x"


@pytest.mark.parametrize(
    ("types", "kind", "fits"),
    [
        ([JSON, MULTIPART], "application/json", False),
        ([MULTIPART, JSON], "multipart/form-data", True),
        ([FORM, MULTIPART], "application/x-www-form-urlencoded", False),
    ],
)
def test_two_content_types_without_a_guard_decide_everything_by_the_first(
    types: list[bytes], kind: str, fits: bool
) -> None:
    # A request no guard looked at (built by hand, or in a mounted app): the limit, the
    # content type and the parser still agree on one media type.
    limits = BodyLimits(json=10, form=10, multipart=1000, other=10)
    body = b"a=1&b=2&c=3&d=4&e=5"
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": [(b"content-type", kind) for kind in types]}

    async def read() -> Any:
        request = Request(scope, Connection(chunk(body, more=False)).receive,
                          RequestServices(limits=limits))
        assert request.content_type == kind
        if kind == "application/x-www-form-urlencoded":
            return await request.form()
        return await request.body()

    if fits:
        assert asyncio.run(read()) == body
    else:
        with pytest.raises(PayloadTooLarge, match="limit of 10 bytes"):
            asyncio.run(read())


def test_limits_are_not_checked_when_the_body_is_not_read() -> None:
    app = Zephyr(max_body_size=1)

    @app.post("/")
    async def ignores() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.post("/", content=b"x" * 100).text == "ok"


# -- stream() ----------------------------------------------------------------------------


def stream_app() -> tuple[Zephyr, list[Any]]:
    app = Zephyr(max_body_size=10)
    seen: list[Any] = []

    @app.post("/")
    async def collect(request: Request) -> dict[str, int]:
        async for piece in request.stream():
            seen.append(piece)  # noqa: PERF401 - the pieces seen before a 413 count too
        return {"chunks": len(seen)}

    return app, seen


def test_stream_yields_chunks_as_they_arrive() -> None:
    app, seen = stream_app()
    connection = Connection(chunk(b"ab"), chunk(b""), chunk(b"cd"), chunk(b"", more=False))
    connection.run(app, [])
    assert seen == [b"ab", b"cd"]
    assert connection.json_body() == {"chunks": 2}


def test_stream_enforces_the_limit_midway() -> None:
    app, seen = stream_app()
    connection = Connection(chunk(b"x" * 6), chunk(b"x" * 6), chunk(b"", more=False))
    connection.run(app, [])
    assert seen == [b"x" * 6]
    assert connection.status == 413


def test_stream_twice_says_to_call_body_first() -> None:
    app = Zephyr()

    @app.post("/")
    async def twice(request: Request) -> dict[str, Any]:
        first = [piece async for piece in request.stream()]
        with pytest.raises(RuntimeError, match=r"already consumed by stream\(\); call request\."
                                               r"body\(\) first"):
            async for _ in request.stream():
                pass
        with pytest.raises(RuntimeError, match=r"already consumed by stream\(\)"):
            await request.body()
        return {"first": b"".join(first).decode()}

    with TestClient(app) as client:
        assert client.post("/", content=b"data").json() == {"first": "data"}


def test_body_then_stream_replays_the_body() -> None:
    app = Zephyr()

    @app.post("/")
    async def both(request: Request) -> list[str]:
        body = await request.body()
        again = [piece async for piece in request.stream()]
        return [body.decode(), *(piece.decode() for piece in again)]

    with TestClient(app) as client:
        assert client.post("/", content=b"data").json() == ["data", "data"]
        assert client.post("/", content=b"").json() == [""]


# -- client disconnects ------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["body", "stream", "json"])
def test_a_disconnect_while_reading_sends_nothing_and_logs_no_error(
    reader: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Zephyr()
    outcome: list[str] = []

    @app.post("/")
    async def read(request: Request) -> str:
        try:
            if reader == "stream":
                async for _ in request.stream():
                    pass
            else:
                await getattr(request, reader)()
        except BaseException as exc:
            outcome.append(type(exc).__name__)
            raise
        return "never"

    connection = Connection(chunk(b'{"a": '), {"type": "http.disconnect"})
    with caplog.at_level(logging.DEBUG, logger="zephyr"):
        connection.run(app, [(b"content-type", b"application/json")])
    assert outcome == ["ClientDisconnect"]
    assert connection.sent == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


class FutureReceiver:
    """``receive`` as a plain function returning a future (ASGI asks only for an awaitable)."""

    def __init__(self, body: bytes | None) -> None:
        self.body = body  # None: the body never comes
        self.sent: list[Message] = []

    def receive(self) -> asyncio.Future[Message]:
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        if self.body is not None:
            future.set_result({"type": "http.request", "body": self.body, "more_body": False})
        return future

    async def send(self, message: Message) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(("body", "status"), [(b"12345", 200), (None, 408)])
def test_a_receive_that_returns_a_future_is_read_and_timed(body: bytes | None,
                                                           status: int) -> None:
    app = echo_app(body_timeout=0.2)
    peer = FutureReceiver(body)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 1), "server": ("localhost", 80),
        "headers": [(b"host", b"localhost"), (b"sec-fetch-site", b"same-origin"),
                    (b"content-length", b"5")],
    }
    asyncio.run(asyncio.wait_for(app(scope, peer.receive, peer.send), 5))
    assert peer.sent[0]["status"] == status
    if status == 200:
        assert peer.sent[1]["body"] == b'{"read":5}'
