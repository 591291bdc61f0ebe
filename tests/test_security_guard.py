"""Attacks on the request guard: the Host allow-list, header limits, framing, trusted proxies
and the body timeout, sent in-process as hand-built ASGI scopes (any header, any peer).

Every refusal is checked three ways: the exact status and detail, a handler that
never ran, and the ``zephyr.security`` record that says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from zephyr import Request, Zephyr
from zephyr.errors import ConfigError
from zephyr.security.hosts import HostValidator

Header = tuple[str, str | bytes]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
#: Builds ``receive`` for one request; the event is set once the response is complete.
ReceiveFactory = Callable[[asyncio.Event], Receive]

PEER = ("127.0.0.1", 50000)
PROXY = ("10.0.0.2", 4000)
LOCALHOST: tuple[Header, ...] = (("host", "localhost"),)
HSTS = "max-age=31536000"
NOT_SERVED = "the host is not served here; if it should be, add it to ALLOWED_HOSTS"
ALLOWED_HOSTS_HINT = (
    " is not a host name; use names like 'example.com', '.example.com' (with subdomains), "
    "'[::1]' or '*'"
)


# -- an in-process ASGI exchange ---------------------------------------------------------

@dataclass
class Answer:
    """A response as the app sent it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def detail(self) -> str:
        detail: str = self.json()["detail"]
        return detail


def make_app(**settings: Any) -> tuple[Zephyr, list[str]]:
    """An app whose handlers append what they did to the returned list."""
    calls: list[str] = []
    app = Zephyr(__name__, **settings)

    @app.get("/where", name="where")
    async def where(request: Request) -> dict[str, Any]:
        calls.append("where")
        client = request.client
        return {
            "client": client.host if client else None,
            "scheme": request.url.scheme,
            "url": str(request.url),
            "external": request.url_for("where", _external=True),
        }

    def body_reader(name: str) -> Callable[[Request], Awaitable[dict[str, int]]]:
        async def read(request: Request) -> dict[str, int]:
            calls.append(f"{name} started")
            size = len(await request.body())
            calls.append(f"{name} read")
            return {"length": size}

        return read

    app.post("/body", csrf=False, name="body")(body_reader("body"))
    # No body timeouts on this route; longer pauses in this group.
    app.post("/patient", csrf=False, name="patient", body_timeout=None,
             body_idle_timeout=None)(body_reader("patient"))
    lenient = app.group("/lenient", body_timeout=None, body_idle_timeout=1.0)
    lenient.post("/body", csrf=False, name="lenient")(body_reader("lenient"))

    @app.post("/stream", csrf=False)
    async def stream(request: Request) -> dict[str, int]:
        calls.append("stream started")
        size = sum([len(chunk) async for chunk in request.stream()])
        calls.append("stream read")
        return {"length": size}

    @app.post("/json", csrf=False)
    async def json_body(request: Request) -> dict[str, Any]:
        calls.append("json started")
        data = await request.json()
        calls.append("json read")
        return {"data": data}

    return app, calls


def _sent_then_waiting(body: bytes, *, more: bool) -> ReceiveFactory:
    """One body message, then nothing until answered, then a disconnect, as servers do."""

    def factory(done: asyncio.Event) -> Receive:
        messages = [{"type": "http.request", "body": body, "more_body": more}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        return receive

    return factory


def whole_body(body: bytes = b"") -> ReceiveFactory:
    """The body in one message."""
    return _sent_then_waiting(body, more=False)


def stalled_body(first: bytes) -> ReceiveFactory:
    """``first`` with more to come, then nothing: a client that stops sending."""
    return _sent_then_waiting(first, more=True)


def trickled_body(every: float) -> ReceiveFactory:
    """One byte every ``every`` seconds, never the end: slowloris on the body."""

    def factory(done: asyncio.Event) -> Receive:
        async def receive() -> Message:
            if done.is_set():
                return {"type": "http.disconnect"}
            await asyncio.sleep(every)
            return {"type": "http.request", "body": b"x", "more_body": True}

        return receive

    return factory


def late_body(first: bytes, rest: bytes, delay: float) -> ReceiveFactory:
    """``first`` now and ``rest`` after ``delay`` seconds: slow, but it does arrive."""

    def factory(done: asyncio.Event) -> Receive:
        messages = [{"type": "http.request", "body": first, "more_body": True}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            if done.is_set():
                return {"type": "http.disconnect"}
            await asyncio.sleep(delay)
            messages.append({"type": "http.disconnect"})
            return {"type": "http.request", "body": rest, "more_body": False}

        return receive

    return factory


def call(
    app: Zephyr,
    headers: Sequence[Header] = LOCALHOST,
    *,
    method: str = "GET",
    path: str = "/where",
    client: tuple[str, int] = PEER,
    body: ReceiveFactory | None = None,
    raw_path: bytes | None = None,
    http_version: str = "1.1",
) -> Answer:
    """Start ``app``, send it one request built exactly as given, stop it.

    ``raw_path`` is the path's bytes unless given.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": http_version,
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.encode("latin-1"), value if isinstance(value, bytes) else value.encode("latin-1"))
            for name, value in headers
        ],
        "client": client,
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def run() -> Answer:
        done = asyncio.Event()
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app.startup()
        try:
            await app(scope, (body or whole_body())(done), send)
        finally:
            await app.shutdown()
        start = sent[0]
        return Answer(
            start["status"],
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]],
            b"".join(m.get("body", b"") for m in sent[1:]),
        )

    return asyncio.run(run())


def start_app(app: Zephyr) -> None:
    """Run the app's startup (where settings are checked), then stop it again."""

    async def run() -> None:
        try:
            await app.startup()
        finally:
            await app.shutdown()

    asyncio.run(run())


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record for record in caplog.records
        if getattr(record, "security_event", None) == "request-refused"
    ]


def assert_refused(
    caplog: pytest.LogCaptureFixture, answer: Answer, calls: list[str], *, status: int,
    detail: str, reason: str,
) -> logging.LogRecord:
    """The request got ``status`` with ``detail``, reached no handler and was logged."""
    assert answer.status == status
    assert answer.header("content-type") == "application/problem+json"
    assert answer.detail == detail
    assert calls == []
    [record] = refusals(caplog)
    assert record.name == "zephyr.security"
    assert record.levelno == logging.WARNING
    assert record.reason == reason  # type: ignore[attr-defined]
    return record


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="zephyr.security")
    return caplog


# -- the Host allow-list -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("host", "external"),
    [
        ("localhost", "http://localhost/where"),
        ("localhost:8000", "http://localhost:8000/where"),
        ("127.0.0.1", "http://127.0.0.1/where"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000/where"),
        ("[::1]", "http://[::1]/where"),
        ("[::1]:80", "http://[::1]:80/where"),
        ("LocalHost:8000", "http://LocalHost:8000/where"),
        ("localhost.", "http://localhost./where"),
    ],
)
def test_default_allowed_hosts_are_served(host: str, external: str) -> None:
    app, calls = make_app()
    answer = call(app, [("host", host)])
    assert answer.status == 200
    assert answer.json()["external"] == external
    assert calls == ["where"]


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("evil.com", "evil.com"),
        ("localhost.evil.com", "localhost.evil.com"),
        ("evil.localhost", "evil.localhost"),
        ("127.0.0.1.nip.io", "127.0.0.1.nip.io"),
        ("127.0.0.2", "127.0.0.2"),
        ("[::2]", "[::2]"),
        ("", ""),
        ("a b", "a b"),
        ("exa mple", "exa mple"),
        ("localhost ", "localhost "),
        (b"\xe9vil.com", "\xe9vil.com"),
        (b"localh\xc3\xb8st", "localh\xc3\xb8st"),
        ("localhost:abc", "localhost:abc"),
        ("localhost:", "localhost:"),
        ("localhost:8000:80", "localhost:8000:80"),
        ("localhost:123456", "localhost:123456"),
        ("[::1", "[::1"),
        ("::1", "::1"),
        ("[::1]evil.com", "[::1]evil.com"),
        ("localhost..", "localhost.."),
        ("localhost@evil.com", "localhost@evil.com"),
        ("evil.com#localhost", "evil.com#localhost"),
        ("evil.com/localhost", "evil.com/localhost"),
        ("evil.com\\localhost", "evil.com\\localhost"),
        ("localhost,evil.com", "localhost,evil.com"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        pytest.param("x" * 300, "x" * 100, id="300-chars-shown-as-100"),
    ],
)
def test_hosts_outside_the_default_list_are_refused(
    security_log: pytest.LogCaptureFixture, host: str | bytes, shown: str
) -> None:
    app, calls = make_app()
    answer = call(app, [("host", host)])
    record = assert_refused(security_log, answer, calls, status=400,
                            detail=NOT_SERVED, reason="disallowed-host")
    assert record.received == {"host": shown}  # type: ignore[attr-defined]
    assert record.client == "127.0.0.1"  # type: ignore[attr-defined]
    assert record.path == "/where"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "detail", "reason"),
    [
        ([], "the request has no Host header; send one naming this site", "missing-host"),
        ([("host", "localhost"), ("host", "localhost")],
         "the request has more than one Host header", "duplicate-host"),
        ([("host", "localhost"), ("host", "evil.com")],
         "the request has more than one Host header", "duplicate-host"),
        ([("host", "evil.com"), ("host", "localhost")],
         "the request has more than one Host header", "duplicate-host"),
    ],
)
def test_missing_or_repeated_host_is_refused(
    security_log: pytest.LogCaptureFixture, headers: list[Header], detail: str, reason: str
) -> None:
    app, calls = make_app()
    answer = call(app, headers)
    assert_refused(security_log, answer, calls, status=400, detail=detail, reason=reason)


@pytest.mark.parametrize(
    ("allowed", "host", "served"),
    [
        ([".example.com"], "example.com", True),
        ([".example.com"], "www.example.com", True),
        ([".example.com"], "a.b.example.com", True),
        ([".example.com"], "A.Example.COM:8443", True),
        ([".example.com"], "badexample.com", False),
        ([".example.com"], "example.com.evil.org", False),
        ([".example.com"], "example.co", False),
        ([".example.com"], "localhost", False),
        (["example.com"], "www.example.com", False),
        (["example.com"], "example.com:8080", True),
        (["EXAMPLE.com "], "example.com", True),
        (["*"], "evil.com", True),
        (["*"], "anything.at.all:1", True),
        (["*"], "a b", False),
        (["*"], "", False),
        (["*"], "[::1", False),
        ([], "localhost", False),
    ],
)
def test_allowed_hosts_entries(allowed: list[str], host: str, served: bool) -> None:
    app, calls = make_app(allowed_hosts=allowed)
    answer = call(app, [("host", host)])
    if served:
        assert (answer.status, calls) == (200, ["where"])
    else:
        assert (answer.status, calls) == (400, [])
        assert answer.detail == NOT_SERVED


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ("*.example.com", "*.example.com"),
        ("example.com:8000", "example.com:8000"),
        ("http://example.com", "http://example.com"),
        ("exa mple.com", "exa mple.com"),
        ("", ""),
        (".", "."),
        ("[::1", "[::1"),
        (" Example.COM/ ", "example.com/"),
    ],
)
def test_a_bad_allowed_hosts_entry_stops_the_startup(entry: str, shown: str) -> None:
    app, calls = make_app(allowed_hosts=["localhost", entry])
    with pytest.raises(ConfigError) as caught:
        start_app(app)
    assert str(caught.value) == f"ALLOWED_HOSTS entry {shown!r}{ALLOWED_HOSTS_HINT}"
    assert calls == []


def test_a_refused_host_never_reaches_an_absolute_url() -> None:
    app, calls = make_app()
    answer = call(app, [("host", "evil.com")])
    assert answer.status == 400
    assert b"http://evil.com" not in answer.body
    assert calls == []


@pytest.mark.parametrize("debug", [False, True])
def test_the_html_error_page_never_shows_a_hostile_host_as_markup(debug: bool) -> None:
    app, calls = make_app(debug=debug)
    answer = call(app, [("host", "<script>alert(1)</script>"), ("accept", "text/html")])
    assert answer.status == 400
    assert answer.header("content-type") == "text/html; charset=utf-8"
    assert b"<script>alert" not in answer.body
    # Only debug mode shows what the request sent, escaped.
    shown = b"&#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;" in answer.body
    assert (shown, calls) == (debug, [])


def test_a_mounted_app_is_behind_the_guard_too(security_log: pytest.LogCaptureFixture) -> None:
    app, calls = make_app()

    async def legacy(scope: dict[str, Any], receive: Receive, send: Any) -> None:
        calls.append("legacy")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["headers"][0][1]})

    app.mount("/legacy", legacy)
    answer = call(app, [("host", "evil.com")], path="/legacy/page")
    assert_refused(security_log, answer, calls, status=400,
                   detail=NOT_SERVED, reason="disallowed-host")


def add_app_middleware(app: Zephyr, calls: list[str]) -> None:
    @app.middleware
    async def outer(request: Request, call_next: Any) -> Any:
        calls.append("middleware")
        return await call_next(request)


def add_asgi_middleware(app: Zephyr, calls: list[str]) -> None:
    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: dict[str, Any], receive: Receive, send: Any) -> None:
            if scope["type"] == "http":
                calls.append("asgi middleware")
            await self.inner(scope, receive, send)

    app.add_asgi_middleware(Recorder)


def add_before_request(app: Zephyr, calls: list[str]) -> None:
    @app.before_request
    def before() -> None:
        calls.append("before_request")


@pytest.mark.parametrize(
    ("extend", "seen"),
    [
        pytest.param(add_app_middleware, [], id="app-middleware"),
        # ASGI middleware wraps the whole app (like a server would); the guard runs inside.
        pytest.param(add_asgi_middleware, ["asgi middleware"], id="asgi-middleware"),
        pytest.param(add_before_request, [], id="before-request"),
    ],
)
def test_the_guard_runs_before_app_code(
    extend: Callable[[Zephyr, list[str]], None], seen: list[str]
) -> None:
    app, calls = make_app()
    extend(app, calls)
    answer = call(app, [("host", "evil.com")])
    assert answer.status == 400
    assert answer.detail == NOT_SERVED
    assert calls == seen


def test_host_verdicts_stay_right_past_the_verdict_cache() -> None:
    validator = HostValidator(["localhost"])
    for index in range(1000):
        assert validator.is_allowed(f"evil{index}.com".encode()) is False
    assert validator.is_allowed(b"localhost:8000") is True
    assert validator.is_allowed(b"evil0.com") is False
    assert validator.is_allowed(b"evil-new.com") is False


# -- header count and size ---------------------------------------------------------------

def headers_counting(count: int) -> list[Header]:
    """``count`` headers, the first of them ``Host: localhost``."""
    return [*LOCALHOST, *((f"x-h{index}", "v") for index in range(count - 1))]


def headers_weighing(size: int) -> list[Header]:
    """``Host: localhost`` (13 bytes) and one filler header: ``size`` bytes of names and values."""
    return [*LOCALHOST, ("x-fill", "a" * (size - len("host") - len("localhost") - len("x-fill")))]


@pytest.mark.parametrize(
    ("settings", "most"),
    [({}, 100), ({"max_header_count": 10}, 10), ({"max_header_count": 1}, 1)],
)
def test_header_count_limit(
    security_log: pytest.LogCaptureFixture, settings: dict[str, int], most: int
) -> None:
    app, calls = make_app(**settings)
    assert call(app, headers_counting(most)).status == 200
    assert calls == ["where"]
    calls.clear()
    answer = call(app, headers_counting(most + 1))
    assert_refused(security_log, answer, calls, status=431,
                   detail=f"the request has {most + 1} headers; at most {most} are allowed",
                   reason="too-many-headers")


@pytest.mark.parametrize(
    ("settings", "most"),
    [({}, 16 * 1024), ({"max_header_size": 200}, 200), ({"max_header_size": 4096}, 4096)],
)
def test_header_size_limit(
    security_log: pytest.LogCaptureFixture, settings: dict[str, int], most: int
) -> None:
    app, calls = make_app(**settings)
    assert call(app, headers_weighing(most)).status == 200
    assert calls == ["where"]
    calls.clear()
    answer = call(app, headers_weighing(most + 1))
    assert_refused(security_log, answer, calls, status=431,
                   detail=f"the request headers take {most + 1} bytes; at most {most} are "
                          "allowed",
                   reason="headers-too-large")


def test_many_small_headers_add_up_to_the_size_limit(
    security_log: pytest.LogCaptureFixture,
) -> None:
    app, calls = make_app(max_header_size=100)
    # 13 bytes of Host, then 10 headers of 9 bytes each ("x-hN" + "vvvvv"): 103 bytes.
    headers = [*LOCALHOST, *((f"x-h{index}", "vvvvv") for index in range(10))]
    answer = call(app, headers)
    assert_refused(security_log, answer, calls, status=431,
                   detail="the request headers take 103 bytes; at most 100 are allowed",
                   reason="headers-too-large")


# -- message framing ---------------------------------------------------------------------

BOTH = "the request has both Content-Length and Transfer-Encoding; send one of them"
TWO_LENGTHS = "the request has more than one Content-Length header"


@pytest.mark.parametrize(
    ("framing", "detail", "reason"),
    [
        pytest.param([("content-length", "5"), ("transfer-encoding", "chunked")], BOTH,
                     "ambiguous-framing", id="cl-then-te"),
        pytest.param([("transfer-encoding", "chunked"), ("content-length", "5")], BOTH,
                     "ambiguous-framing", id="te-then-cl"),
        pytest.param([("content-length", "5"), ("transfer-encoding", "identity")], BOTH,
                     "ambiguous-framing", id="cl-and-te-identity"),
        pytest.param([("content-length", "5"), ("content-length", "5")], TWO_LENGTHS,
                     "duplicate-content-length", id="same-length-twice"),
        pytest.param([("content-length", "5"), ("content-length", "50")], TWO_LENGTHS,
                     "duplicate-content-length", id="two-lengths"),
    ],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    security_log: pytest.LogCaptureFixture, framing: list[Header], detail: str, reason: str
) -> None:
    app, calls = make_app()
    answer = call(app, [*LOCALHOST, *framing], method="POST", path="/body",
                  body=whole_body(b"hello"))
    assert_refused(security_log, answer, calls, status=400, detail=detail, reason=reason)
    # NOTE: RFC 9112 §6.1 and §6.3: whatever follows on the connection may be a smuggled
    # request, so the server must close it after the 400.
    assert answer.header("connection") == "close"


TWO_TYPES = "the request has more than one Content-Type header; send one"


@pytest.mark.parametrize(
    "types",
    [
        pytest.param(["application/json", "application/json"], id="same-type-twice"),
        # The JSON limit (1 MiB) would have been read from one, the multipart one (16 MiB)
        # from the other.
        pytest.param(["application/json", "multipart/form-data; boundary=x"], id="json-then-mp"),
        pytest.param(["multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
                     id="mp-then-form"),
    ],
)
def test_a_repeated_content_type_is_refused_and_the_connection_closed(
    security_log: pytest.LogCaptureFixture, types: list[str]
) -> None:
    app, calls = make_app()
    headers = [*LOCALHOST, ("content-length", "5"), *(("content-type", kind) for kind in types)]
    answer = call(app, headers, method="POST", path="/body", body=whole_body(b"hello"))
    assert_refused(security_log, answer, calls, status=400, detail=TWO_TYPES,
                   reason="duplicate-content-type")
    assert answer.header("connection") == "close"


CLOSING_REFUSALS = [
    pytest.param(headers_counting(101), 431, id="too-many-headers"),
    pytest.param(headers_weighing(16 * 1024 + 1), 431, id="headers-too-large"),
    pytest.param([*LOCALHOST, *LOCALHOST], 400, id="same-host-twice"),
    pytest.param([("host", "evil.com"), *LOCALHOST], 400, id="two-hosts"),
    pytest.param([*LOCALHOST, ("content-length", "5"), ("content-length", "5")], 400,
                 id="two-lengths"),
    pytest.param([*LOCALHOST, ("content-length", "5"), ("transfer-encoding", "chunked")], 400,
                 id="two-framings"),
    pytest.param([*LOCALHOST, ("content-type", "text/plain"), ("content-type", "text/plain")],
                 400, id="two-content-types"),
]


@pytest.mark.parametrize(("headers", "status"), CLOSING_REFUSALS)
def test_refusals_of_doubtful_framing_or_oversized_headers_close_the_connection(
    headers: list[Header], status: int
) -> None:
    # Whatever the client sent after such a request (pipelined, or smuggled in the body) is
    # not to be served: the server closes the connection after the refusal.
    app, calls = make_app()
    answer = call(app, headers, method="POST", path="/body", body=whole_body(b"hello"))
    assert (answer.status, answer.header("connection"), calls) == (status, "close", [])


@pytest.mark.parametrize(("headers", "status"), CLOSING_REFUSALS)
def test_a_closing_refusal_still_closes_when_an_error_handler_answers_it(
    headers: list[Header], status: int
) -> None:
    app, calls = make_app()

    @app.errorhandler(status)
    def custom(exc: Exception) -> tuple[str, int]:
        return "refused, politely", status

    answer = call(app, headers, method="POST", path="/body", body=whole_body(b"hello"))
    assert (answer.status, answer.body) == (status, b"refused, politely")
    assert (answer.header("connection"), calls) == ("close", [])


@pytest.mark.parametrize(
    "framing",
    [[("content-length", "5")], [("transfer-encoding", "chunked")]],
)
def test_one_framing_header_is_fine(framing: list[Header]) -> None:
    app, calls = make_app()
    answer = call(app, [*LOCALHOST, *framing], method="POST", path="/body",
                  body=whole_body(b"hello"))
    assert answer.json() == {"length": 5}
    assert calls == ["body started", "body read"]


# -- request targets and HTTP versions ---------------------------------------------------

NOT_A_PATH = ("the request target is not a path; send one that starts with '/' (or '*' "
              "with OPTIONS)")
BAD_VERSION = "the request's HTTP version is not one this app serves (1.0, 1.1, 2 or 3)"


@pytest.mark.parametrize(
    ("method", "path", "raw_path"),
    [
        # What uvicorn's h11 puts in the scope for 'GET http://evil/x HTTP/1.1' (absolute
        # form), 'GET evil', 'GET ?x=1', and what both parsers give for 'GET *' and 'GET *x'.
        ("GET", "http://evil/x", b"http://evil/x"),
        ("GET", "https://evil", b"https://evil"),
        ("GET", "evil", b"evil"),
        ("GET", "", b""),
        ("GET", "*", b"*"),
        ("POST", "*", b"*"),
        ("GET", "*x", b"*x"),
        ("OPTIONS", "*x", b"*x"),
        ("OPTIONS", "http://evil", b"http://evil"),
        # A decoded path that looks fine, from a target that is no path.
        ("GET", "/where", b"%2Fwhere"),
    ],
)
def test_a_request_target_that_is_not_a_path_is_refused(
    security_log: pytest.LogCaptureFixture, method: str, path: str, raw_path: bytes
) -> None:
    app, calls = make_app()
    answer = call(app, method=method, path=path, raw_path=raw_path)
    assert_refused(security_log, answer, calls, status=400, detail=NOT_A_PATH,
                   reason="request-target")
    assert answer.header("connection") == "close"


@pytest.mark.parametrize("version", ["0.9", "1.2", "2.0", "3.0", "9.9", "", "HTTP/1.1"])
def test_an_http_version_asgi_does_not_define_is_a_505(
    security_log: pytest.LogCaptureFixture, version: str
) -> None:
    app, calls = make_app()
    answer = call(app, http_version=version)
    assert_refused(security_log, answer, calls, status=505, detail=BAD_VERSION,
                   reason="http-version")
    assert answer.json()["title"] == "HTTP Version Not Supported"
    assert answer.header("connection") == "close"


@pytest.mark.parametrize("version", ["1.0", "1.1", "2", "3"])
def test_http_versions_asgi_servers_send_are_served(version: str) -> None:
    app, calls = make_app()
    assert (call(app, http_version=version).status, calls) == (200, ["where"])


def test_options_star_asks_about_the_whole_app() -> None:
    # NOTE: RFC 9110 §9.3.7: 'OPTIONS *' is about the server, not a resource: the answer
    # lists every method some route of the app answers.
    app, calls = make_app()
    answer = call(app, method="OPTIONS", path="*")
    assert (answer.status, answer.body, calls) == (204, b"", [])
    assert answer.header("allow") == "GET, HEAD, OPTIONS, POST"


def test_a_path_starting_with_two_slashes_is_a_path() -> None:
    app, calls = make_app()
    assert (call(app, path="//evil/x").status, calls) == (404, [])


# -- trusted proxies ---------------------------------------------------------------------

TRUSTED = {"trusted_proxies": ["10.0.0.0/8"]}


def trusting(forwarding: list[Header], **settings: Any) -> dict[str, Any]:
    """TRUSTED, reading the header family ``forwarding`` uses (PROXY_HEADERS)."""
    standard = any(name == "forwarded" for name, _ in forwarding)
    return {**TRUSTED, "proxy_headers": "forwarded" if standard else "x-forwarded", **settings}


@pytest.mark.parametrize(
    ("forwarding", "client", "scheme"),
    [
        ([("x-forwarded-for", "203.0.113.9, 10.0.0.3")], "203.0.113.9", "http"),
        ([("x-forwarded-for", "203.0.113.9")], "203.0.113.9", "http"),
        # The left of the chain is whatever the client wrote: only the right is believed.
        ([("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.3")], "203.0.113.9", "http"),
        ([("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")],
         "203.0.113.9", "http"),
        ([("x-forwarded-for", " , ,203.0.113.9 ")], "203.0.113.9", "http"),
        ([("x-forwarded-for", "2001:db8::7")], "2001:db8::7", "http"),
        ([("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")],
         "203.0.113.9", "https"),
        ([("x-forwarded-proto", "HTTPS")], "10.0.0.2", "https"),
        ([("x-forwarded-proto", "https, http")], "10.0.0.2", "http"),
        ([("x-forwarded-proto", "javascript")], "10.0.0.2", "http"),
        ([("x-forwarded-proto", "wss")], "10.0.0.2", "http"),
        ([("forwarded", 'for="[2001:db8::1]:4711";proto=https;host=localhost')],
         "2001:db8::1", "https"),
        ([("forwarded", "for=203.0.113.9:8080, for=10.0.0.3")], "203.0.113.9", "http"),
        ([("forwarded", "For=203.0.113.9;Proto=HTTPS")], "203.0.113.9", "https"),
        # A chain of trusted proxies only: nobody untrusted to name, the peer stays.
        ([("x-forwarded-for", "10.0.0.7, 10.0.0.3")], "10.0.0.2", "http"),
        # Garbage where an address belongs never becomes the client.
        ([("x-forwarded-for", "not-an-ip, 10.0.0.3")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "203.0.113.9, garbage")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "203.0.113.9:8080")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "unknown")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "203.0.113.9\x00")], "10.0.0.2", "http"),
        ([("x-forwarded-for", "<script>")], "10.0.0.2", "http"),
        ([("forwarded", "for=_hidden;proto=http")], "10.0.0.2", "http"),
        ([("forwarded", "for=2001:db8::1")], "10.0.0.2", "http"),
        ([("forwarded", ";;;===,,")], "10.0.0.2", "http"),
    ],
)
def test_a_trusted_proxy_names_the_client_and_scheme(
    forwarding: list[Header], client: str, scheme: str
) -> None:
    app, calls = make_app(**trusting(forwarding))
    answer = call(app, [*LOCALHOST, *forwarding], client=PROXY)
    assert answer.status == 200
    assert answer.json() == {
        "client": client, "scheme": scheme, "url": f"{scheme}://localhost/where",
        "external": f"{scheme}://localhost/where",
    }
    assert answer.header("strict-transport-security") == (HSTS if scheme == "https" else None)
    assert calls == ["where"]


@pytest.mark.parametrize(
    "forwarding",
    [
        [("x-forwarded-host", "example.com")],
        [("x-forwarded-host", "example.com:8443")],
        [("x-forwarded-host", "evil.com, example.com")],
        [("forwarded", "host=example.com")],
        [("forwarded", 'host="example.com";proto=https')],
    ],
)
def test_a_forwarded_host_on_the_list_is_served(forwarding: list[Header]) -> None:
    app, calls = make_app(**trusting(forwarding, allowed_hosts=["example.com"]))
    # The proxy's own Host (an internal name) need not be on the list.
    answer = call(app, [("host", "backend:8000"), *forwarding], client=PROXY)
    assert answer.status == 200
    assert calls == ["where"]


@pytest.mark.parametrize(
    ("forwarding", "shown"),
    [
        ([("x-forwarded-host", "evil.com")], "evil.com"),
        ([("x-forwarded-host", "localhost, evil.com")], "evil.com"),
        ([("x-forwarded-host", "a b")], "a b"),
        ([("forwarded", "host=evil.com")], "evil.com"),
        ([("forwarded", 'for=203.0.113.9;host="evil.com:443"')], "evil.com:443"),
    ],
)
def test_a_forwarded_host_off_the_list_is_refused(
    security_log: pytest.LogCaptureFixture, forwarding: list[Header], shown: str
) -> None:
    app, calls = make_app(**trusting(forwarding))
    answer = call(app, [*LOCALHOST, *forwarding], client=PROXY)
    assert_refused(security_log, answer, calls, status=400,
                   detail=NOT_SERVED, reason="disallowed-host")


def test_urls_use_the_forwarded_host_that_was_checked() -> None:
    # nginx's default: Host is the upstream's name, X-Forwarded-Host what the client asked.
    app, calls = make_app(allowed_hosts=["example.com"], **TRUSTED)
    answer = call(app, [("host", "evil.com"), ("x-forwarded-host", "example.com"),
                        ("x-forwarded-proto", "https")], client=PROXY)
    assert answer.status == 200
    assert answer.json()["url"] == "https://example.com/where"
    assert answer.json()["external"] == "https://example.com/where"
    assert calls == ["where"]


@pytest.mark.parametrize("family", ["x-forwarded", "forwarded"])
def test_only_the_configured_header_family_is_read(family: str) -> None:
    app, calls = make_app(**TRUSTED, proxy_headers=family)
    answer = call(app, [*LOCALHOST, ("x-forwarded-for", "203.0.113.9"),
                        ("forwarded", "for=198.51.100.4")], client=PROXY)
    expected = "203.0.113.9" if family == "x-forwarded" else "198.51.100.4"
    assert answer.json()["client"] == expected
    assert calls == ["where"]


def test_a_forwarded_header_the_client_wrote_does_not_outrank_the_proxy() -> None:
    # nginx sets X-Forwarded-* itself and passes the client's other headers on after its own,
    # Forwarded among them: the client must not pick its address or scheme through it.
    app, calls = make_app(**TRUSTED)
    answer = call(app, [*LOCALHOST, ("x-forwarded-for", "203.0.113.9"),
                        ("x-forwarded-proto", "http"),
                        ("forwarded", "for=6.6.6.6;proto=https")], client=PROXY)
    assert answer.status == 200
    assert (answer.json()["client"], answer.json()["scheme"]) == ("203.0.113.9", "http")
    assert calls == ["where"]


SPOOFED: list[Header] = [
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil.com"),
    ("forwarded", "for=203.0.113.9;proto=https;host=evil.com"),
]


@pytest.mark.parametrize(
    ("settings", "peer"),
    [
        ({}, PEER),
        ({"trusted_proxies": ["10.0.0.0/8"]}, PEER),
        ({"trusted_proxies": ["10.0.0.0/8"]}, ("11.0.0.2", 4000)),
        ({"trusted_proxies": ["127.0.0.2"]}, PEER),
        ({"trusted_proxies": ["::1"]}, PEER),
    ],
)
def test_forwarding_headers_from_an_untrusted_peer_are_ignored(
    settings: dict[str, Any], peer: tuple[str, int]
) -> None:
    app, calls = make_app(**settings)
    answer = call(app, [*LOCALHOST, *SPOOFED], client=peer)
    assert answer.status == 200
    assert answer.json() == {
        "client": peer[0], "scheme": "http", "url": "http://localhost/where",
        "external": "http://localhost/where",
    }
    assert answer.header("strict-transport-security") is None
    assert calls == ["where"]


def test_an_untrusted_peer_cannot_launder_a_bad_host_through_forwarded_headers() -> None:
    app, calls = make_app()
    answer = call(app, [("host", "evil.com"), ("x-forwarded-host", "localhost"),
                        ("forwarded", "host=localhost")])
    assert answer.status == 400
    assert answer.detail == NOT_SERVED
    assert calls == []


@pytest.mark.parametrize(
    ("entries", "client"),
    [
        (["10.0.0.2"], "203.0.113.9"),
        (["10.0.0.0/8"], "203.0.113.9"),
        (["10.0.0.5/8"], "203.0.113.9"),
        ([" 10.0.0.2 "], "203.0.113.9"),
        (["::ffff:10.0.0.2"], "10.0.0.2"),
        (["10.0.0.3"], "10.0.0.2"),
    ],
)
def test_trusted_proxies_entries(entries: list[str], client: str) -> None:
    app, _ = make_app(trusted_proxies=entries)
    answer = call(app, [*LOCALHOST, ("x-forwarded-for", "203.0.113.9")], client=PROXY)
    assert answer.json()["client"] == client


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "10.0.0", "proxy.internal", "", "*", "10.0.0.1-10.0.0.9"],
)
def test_a_bad_trusted_proxies_entry_stops_the_startup(entry: str) -> None:
    app, calls = make_app(trusted_proxies=["10.0.0.1", entry])
    with pytest.raises(ConfigError) as caught:
        start_app(app)
    assert str(caught.value) == (
        f"TRUSTED_PROXIES entry {entry!r} is not an address or network; use addresses like "
        "'10.0.0.5' or networks like '10.0.0.0/8'"
    )
    assert calls == []


# -- the body timeout --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/body", stalled_body(b"0123456789")),
        ("/body", stalled_body(b"")),
        ("/body", trickled_body(0.02)),
        ("/stream", stalled_body(b"0123456789")),
        ("/stream", trickled_body(0.02)),
        ("/json", stalled_body(b'{"a": ')),
    ],
)
def test_a_body_slower_than_body_timeout_gets_408_and_a_closed_connection(
    security_log: pytest.LogCaptureFixture, path: str, body: ReceiveFactory
) -> None:
    app, calls = make_app(body_timeout=0.2)
    began = time.monotonic()
    answer = call(app, [*LOCALHOST, ("content-type", "application/json"),
                        ("content-length", "100")], method="POST", path=path, body=body)
    took = time.monotonic() - began
    assert answer.status == 408
    assert answer.detail == "the request body did not arrive within 0.2 seconds"
    assert answer.header("connection") == "close"
    name = path.strip("/")
    assert calls == [f"{name} started"]
    assert 0.2 <= took < 2.0
    [record] = refusals(security_log)
    assert (record.security_event, record.reason) == (  # type: ignore[attr-defined]
        "request-refused", "body-timeout")


@pytest.mark.parametrize("path", ["/patient", "/lenient/body"])
def test_body_timeout_none_on_a_route_or_group_waits_for_a_slow_body(path: str) -> None:
    app, calls = make_app(body_timeout=0.2)
    answer = call(app, [*LOCALHOST, ("content-length", "10")], method="POST", path=path,
                  body=late_body(b"01234", b"56789", delay=0.4))
    assert answer.json() == {"length": 10}
    name = path.split("/")[1]
    assert calls == [f"{name} started", f"{name} read"]
    # The same slow body on a route without the option is cut off.
    calls.clear()
    answer = call(app, [*LOCALHOST, ("content-length", "10")], method="POST", path="/body",
                  body=late_body(b"01234", b"56789", delay=0.4))
    assert answer.status == 408
    assert calls == ["body started"]


def paused_body(pause: float, *, every: float = 0.02, chunks: int = 5) -> ReceiveFactory:
    """``chunks`` bytes, one every ``every`` seconds, a ``pause``, then the last byte."""

    def factory(done: asyncio.Event) -> Receive:
        delays = [0.0, *[every] * (chunks - 1), pause]

        async def receive() -> Message:
            if not delays:
                await done.wait()
                return {"type": "http.disconnect"}
            await asyncio.sleep(delays.pop(0))
            return {"type": "http.request", "body": b"x", "more_body": bool(delays)}

        return receive

    return factory


IDLE = "the request body stopped arriving: nothing came for 0.2 seconds"


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        # Bytes come faster than the idle timeout: only the total one can cut them off.
        ("/body", trickled_body(0.05), "the request body did not arrive within 0.6 seconds"),
        ("/body", stalled_body(b"0123456789"), IDLE),
        ("/body", stalled_body(b""), IDLE),
        ("/body", paused_body(0.4), IDLE),
        ("/stream", stalled_body(b"0123456789"), IDLE),
        ("/json", stalled_body(b'{"a": '), IDLE),
    ],
)
def test_a_body_that_stops_arriving_gets_408_after_body_idle_timeout(
    security_log: pytest.LogCaptureFixture, path: str, body: ReceiveFactory, detail: str
) -> None:
    app, calls = make_app(body_timeout=0.6, body_idle_timeout=0.2)
    began = time.monotonic()
    answer = call(app, [*LOCALHOST, ("content-type", "application/json"),
                        ("content-length", "100")], method="POST", path=path, body=body)
    took = time.monotonic() - began
    assert (answer.status, answer.detail) == (408, detail)
    assert answer.header("connection") == "close"
    assert calls == [f"{path.strip('/')} started"]
    assert (0.6 if "within" in detail else 0.2) <= took < 2.0
    [record] = refusals(security_log)
    assert record.reason == ("body-timeout" if "within" in detail  # type: ignore[attr-defined]
                             else "body-idle-timeout")


@pytest.mark.parametrize(("path", "pause"), [("/body", 0.1), ("/patient", 0.4),
                                             ("/lenient/body", 0.4)])
def test_pauses_shorter_than_body_idle_timeout_are_waited_for(path: str, pause: float) -> None:
    # The route (None) and its group (1.0) allow longer pauses than the app (0.2).
    app, _ = make_app(body_idle_timeout=0.2)
    answer = call(app, [*LOCALHOST, ("content-length", "6")], method="POST", path=path,
                  body=paused_body(pause))
    assert (answer.status, answer.json()) == (200, {"length": 6})


def test_body_idle_timeout_is_15_seconds_unless_set() -> None:
    app, _ = make_app()
    start_app(app)
    assert (app.body_limits.idle_timeout, app.config["BODY_IDLE_TIMEOUT"]) == (15.0, 15.0)


def test_a_body_within_the_timeout_is_read_whole() -> None:
    app, calls = make_app(body_timeout=0.5)
    answer = call(app, [*LOCALHOST, ("content-length", "10")], method="POST", path="/body",
                  body=late_body(b"01234", b"56789", delay=0.05))
    assert answer.json() == {"length": 10}
    assert calls == ["body started", "body read"]
