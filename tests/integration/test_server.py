"""HTTP through a real uvicorn process: round trips, malformed input, limits, disconnects.

Requests go over real loopback sockets, with httpx or byte by byte with the
``socket`` module where the test needs to send what no client library would.
"""

from __future__ import annotations

import json
import select
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServeApp, Server, ServerPool, uvicorn_command

pytestmark = pytest.mark.integration

UVICORN_400 = b"Invalid HTTP request received."


# -- a minimal HTTP/1.1 client over a raw socket ------------------------------------------

@dataclass
class RawResponse:
    """One response as it came off the wire."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """A TCP connection to a server: send bytes, read responses with a timeout."""

    def __init__(self, server: Server, timeout: float = 5.0) -> None:
        self.sock = server.connect(timeout)
        self.reader = self.sock.makefile("rb")

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def read_response(self, *, method: str = "GET") -> RawResponse:
        """Read one response; ``EOFError`` if the server closed the connection first."""
        try:
            return self._read_response(method)
        except TimeoutError:
            pytest.fail(f"no complete response within {self.sock.gettimeout()} s")

    def _read_response(self, method: str) -> RawResponse:
        status_line = self.reader.readline()
        if not status_line:
            raise EOFError("the server closed the connection without a response")
        version, status, _ = status_line.decode("latin-1").split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers: dict[str, str] = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return RawResponse(int(status), headers, self._read_body(method, int(status), headers))

    def _read_body(self, method: str, status: int, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304):
            return b""
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int(self.reader.readline().strip(), 16):
                chunks.append(self.reader.read(size))
                self.reader.readline()
            self.reader.readline()
            return b"".join(chunks)
        if "content-length" in headers:
            return self.reader.read(int(headers["content-length"]))
        return self.reader.read()  # until the server closes

    def read_until_closed(self) -> list[RawResponse]:
        """Every response the server sends until it closes the connection."""
        responses = []
        while True:
            try:
                responses.append(self.read_response())
            except EOFError:
                return responses

    def is_closed_by_server(self) -> bool:
        return self.reader.read(1) == b""


def request_bytes(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def marker_lines(markers_dir: Path, token: str) -> list[str]:
    path = markers_dir / token
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        yield http


# -- round trips --------------------------------------------------------------------------

def test_html_page(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == "<h1>Hello from Zephyr</h1>"


@pytest.mark.parametrize(
    ("method", "url", "options", "expected"),
    [
        ("GET", "/json", {}, {"framework": "zephyr", "numbers": [1, 2, 3]}),
        ("GET", "/users/7", {}, {"user_id": 7, "verbose": False}),
        ("GET", "/users/7?verbose=true", {}, {"user_id": 7, "verbose": True}),
        ("GET", "/items/caf%C3%A9%20au%20lait", {}, {"name": "café au lait"}),
        ("GET", "/query?a=1&a=2&b=x+y&c=%26", {}, {"a": ["1", "2"], "b": ["x y"], "c": ["&"]}),
        ("POST", "/echo", {"json": {"note": "hi", "n": [1, None]}},
         {"received": {"note": "hi", "n": [1, None]}}),
        ("POST", "/length", {"content": b"x" * 100_000}, {"length": 100_000}),
    ],
)
def test_json_round_trips(
    client: httpx.Client, method: str, url: str, options: dict[str, Any], expected: Any
) -> None:
    r = client.request(method, url, **options)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == expected


@pytest.mark.parametrize(
    ("method", "url", "options", "status", "detail"),
    [
        ("GET", "/users/7?verbose=maybe", {}, 422, "1 invalid value in the request; see 'errors'"),
        ("GET", "/nowhere", {}, 404, "no route matches this path"),
        ("POST", "/json", {}, 405, "this path answers GET, HEAD, OPTIONS only"),
        ("POST", "/echo", {"content": b"{bad"}, 415,
         "expected a JSON body with Content-Type: application/json, got no content type"),
        ("POST", "/echo", {"content": b"{bad", "headers": {"content-type": "application/json"}},
         400, "malformed JSON: "),
    ],
)
def test_errors_are_problem_json(
    client: httpx.Client, method: str, url: str, options: dict[str, Any], status: int,
    detail: str,
) -> None:
    r = client.request(method, url, **options)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith(detail)
    assert r.json()["instance"].startswith("urn:zephyr:request:")


def test_head_sends_the_headers_of_get_and_no_body(server: Server, client: httpx.Client) -> None:
    head = client.head("/")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("<h1>Hello from Zephyr</h1>"))
    assert head.content == b""
    # On the wire: a body after the HEAD response would be read as the next status line.
    with RawConnection(server) as conn:
        conn.send(request_bytes("HEAD", "/") + request_bytes("GET", "/json"))
        assert conn.read_response(method="HEAD").body == b""
        following = conn.read_response()
    assert following.status == 200
    assert following.json() == {"framework": "zephyr", "numbers": [1, 2, 3]}


def test_keep_alive_serves_several_requests_on_one_connection(
    server: Server, client: httpx.Client
) -> None:
    with RawConnection(server) as conn:
        for user_id in range(3):
            conn.send(request_bytes("GET", f"/users/{user_id}"))
            r = conn.read_response()
            assert r.status == 200
            assert r.json()["user_id"] == user_id
            assert r.headers.get("connection") != "close"
    ports = {client.get("/connection").json()["client_port"] for _ in range(3)}
    assert len(ports) == 1


# -- malformed requests -------------------------------------------------------------------

@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x16\x03\x01\x02\x00garbage\r\n\r\n", id="tls-hello-garbage"),
        pytest.param(b"hello world\r\n\r\n", id="not-http"),
        pytest.param(b"GET / \r\nHost: x\r\n\r\n", id="missing-http-version"),
        pytest.param(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", id="space-in-header-name"),
        pytest.param(b"GET / HTTP/1.1\r\nX(y): x\r\n\r\n", id="bracket-in-header-name"),
        pytest.param(b"GET / HTTP/1.1\r\nX-Test: a\x00b\r\n\r\n", id="nul-in-header-value"),
        pytest.param(b"GET / HTTP/1.1\r\nX-\x00Test: ab\r\n\r\n", id="nul-in-header-name"),
    ],
)
def test_malformed_requests_get_400_and_the_server_keeps_serving(
    any_server: Server, data: bytes
) -> None:
    with RawConnection(any_server) as conn:
        conn.send(data)
        r = conn.read_response()
        assert r.status == 400
        assert r.body == UVICORN_400
        assert r.headers["connection"].lower() == "close"
        assert conn.is_closed_by_server()
    with RawConnection(any_server) as conn:
        conn.send(request_bytes("GET", "/json"))
        assert conn.read_response().status == 200


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        ("/items/%zz", "the path has an invalid percent-escape; '%' must be followed by "
                       "two hex digits (write a literal '%' as '%25')"),
        ("/items/%ff", "the path is not valid UTF-8 once percent-decoded"),
        ("/items/ok%c3%28", "the path is not valid UTF-8 once percent-decoded"),
        ("/query?a=%zz", "the query string has an invalid percent-escape; '%' must be "
                         "followed by two hex digits (write a literal '%' as '%25')"),
        ("/query?a=%ff", "the query string is not valid UTF-8; percent-encode text as UTF-8"),
    ],
)
def test_bad_percent_encoding_is_a_400_from_zephyr(
    any_server: Server, target: str, detail: str
) -> None:
    with RawConnection(any_server) as conn:
        conn.send(request_bytes("GET", target))
        r = conn.read_response()
        assert r.status == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == detail
        # Zephyr's 400 is an ordinary response: the connection stays usable.
        conn.send(request_bytes("GET", "/items/fine"))
        assert conn.read_response().json() == {"name": "fine"}


# -- body limits --------------------------------------------------------------------------

def test_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    any_server: Server,
) -> None:
    with RawConnection(any_server) as conn:
        # Only the headers: the 413 must come without the server waiting for 10 MiB.
        conn.send(request_bytes("POST", "/upload", "Content-Length: 10485760"))
        r = conn.read_response()
    assert r.status == 413
    assert r.json()["detail"] == (
        "the request body is larger than the limit of 1024 bytes; send less, or raise the "
        "limit with max_body_size= on the route"
    )


def test_chunked_body_over_the_limit_is_refused_while_it_arrives(any_server: Server) -> None:
    with RawConnection(any_server) as conn:
        conn.send(request_bytes("POST", "/upload", "Transfer-Encoding: chunked"))
        chunk = b"200\r\n" + b"x" * 0x200 + b"\r\n"
        sent = 0
        for _ in range(64):  # 32 KiB at most, far beyond the 1 KiB limit
            try:
                conn.send(chunk)
            except OSError:
                break  # the server answered and closed: read the answer
            sent += 0x200
            if select.select([conn.sock], [], [], 0.05)[0]:
                break
        r = conn.read_response()
    assert r.status == 413
    assert r.json()["detail"] == (
        "the request body is larger than the limit of 1024 bytes; send less, or raise the "
        "limit with max_body_size= on the route"
    )
    assert 1024 < sent < 32 * 1024


def test_body_within_the_limit_is_accepted(any_server: Server) -> None:
    with RawConnection(any_server) as conn:
        conn.send(request_bytes("POST", "/upload", "Content-Length: 1024", body=b"y" * 1024))
        assert conn.read_response().json() == {"length": 1024}
        chunked = b"400\r\n" + b"z" * 1024 + b"\r\n0\r\n\r\n"
        conn.send(request_bytes("POST", "/upload", "Transfer-Encoding: chunked", body=chunked))
        assert conn.read_response().json() == {"length": 1024}


def test_lying_content_length_gives_the_handler_only_the_declared_bytes(
    any_server: Server, markers_dir: Path
) -> None:
    token = uuid.uuid4().hex
    smuggled = b"hello" + b"these bytes are not an HTTP request\r\n\r\n"
    with RawConnection(any_server) as conn:
        conn.send(request_bytes("POST", f"/length?token={token}", "Content-Length: 5",
                                body=smuggled))
        responses = conn.read_until_closed()
    # The rest is read as a new request, which is malformed: uvicorn's 400 ends it all.
    # (httptools writes that 400 before the first response is ready, h11 after it.)
    assert responses[-1].status == 400
    assert responses[-1].body == UVICORN_400
    assert all(r.json() == {"length": 5} for r in responses[:-1])
    assert wait_for(lambda: marker_lines(markers_dir, token) == ["5"], timeout=2.0)


# -- disconnects --------------------------------------------------------------------------

def test_client_disconnect_cancels_a_sleeping_handler(server: Server, markers_dir: Path) -> None:
    token = uuid.uuid4().hex
    with RawConnection(server) as conn:
        conn.send(request_bytes("GET", f"/slow?token={token}"))
        assert wait_for(lambda: marker_lines(markers_dir, token) == ["started"], timeout=5.0)
    assert wait_for(lambda: "cancelled" in marker_lines(markers_dir, token), timeout=2.0), (
        f"the handler was not cancelled within 2 s: {marker_lines(markers_dir, token)}"
    )
    assert marker_lines(markers_dir, token) == ["started", "cancelled"]


def test_endless_stream_stops_when_the_client_goes_away(
    server: Server, markers_dir: Path
) -> None:
    token = uuid.uuid4().hex
    with RawConnection(server) as conn:
        conn.send(request_bytes("GET", f"/stream?token={token}"))
        assert conn.reader.readline() == b"HTTP/1.1 200 OK\r\n"
        while conn.reader.readline() != b"\r\n":
            pass
        assert b"tick" in conn.sock.recv(4096)
    assert wait_for(lambda: bool(marker_lines(markers_dir, token)), timeout=2.0), (
        "the stream was still running 2 s after its client left"
    )
    [line] = marker_lines(markers_dir, token)
    assert line.startswith("stopped after ")


# -- redirects, mounts, root_path ---------------------------------------------------------

@pytest.fixture(scope="module")
def redirect_server(session_pool: ServerPool) -> Server:
    return session_pool.start(uvicorn_command("tests.integration.apps:redirect_app"))


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/docs/", "/docs"),
        ("/guide/intro/", "/guide/intro"),
        ("//evil.example/", "/evil.example"),
        ("//evil.example/?next=%2F", "/evil.example?next=%2F"),
        ("///evil.example/", "/evil.example"),
        ("/%2Fevil.example/", "/evil.example"),
        ("/%2F%2Fevil.example/", "/evil.example"),
        ("/%5Cevil.example/", "/%5Cevil.example"),
        ("/%5C%5Cevil.example/", "/%5C%5Cevil.example"),
        ("/\\evil.example/", "/%5Cevil.example"),
    ],
)
def test_slash_redirects_stay_on_this_host(
    redirect_server: Server, target: str, location: str
) -> None:
    with RawConnection(redirect_server) as conn:
        conn.send(request_bytes("GET", target))
        r = conn.read_response()
    assert r.status == 308
    assert r.headers["location"] == location
    assert not r.headers["location"].startswith(("//", "/\\"))


def test_mounted_asgi_app_sees_root_path_and_full_path(client: httpx.Client) -> None:
    r = client.get("/legacy/hello%20world", params={"x": "1"})
    assert r.status_code == 200
    assert r.json() == {
        "path": "/legacy/hello world",
        "raw_path": "/legacy/hello%20world",
        "root_path": "/legacy",
        "query_string": "x=1",
    }
    assert r.headers["x-content-type-options"] == "nosniff"  # the app's security headers
    assert client.get("/legacy").json()["path"] == "/legacy"
    cross_site = client.post("/legacy/x", headers={"Sec-Fetch-Site": "cross-site"})
    assert (cross_site.status_code, cross_site.json()["reason"]) == (403, "csrf-sec-fetch-site")


def test_uvicorn_root_path_reaches_urls(serve: ServeApp) -> None:
    proxied = serve("tests.integration.apps:app", "--root-path", "/prefix")
    # A proxy strips /prefix and forwards /where/5.
    r = httpx.get(f"{proxied.base_url}/where/5", timeout=5.0)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "url": f"{proxied.base_url}/prefix/where/5",
        "path": "/where/5",
        "root_path": "/prefix",
        "url_for": "/prefix/users/5",
        "external": f"{proxied.base_url}/prefix/users/5",
    }


# -- sync handlers ------------------------------------------------------------------------

def test_sync_handlers_run_in_worker_threads(server: Server, client: httpx.Client) -> None:
    assert client.get("/thread").json()["thread"].startswith("zephyr-sync")

    def call(_: int) -> dict[str, Any]:
        r = httpx.get(f"{server.base_url}/barrier", timeout=10.0)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    # Each handler blocks until the other arrives: only parallel threads pass the barrier.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, range(2)))
    assert sorted(r["index"] for r in results) == [0, 1]
    assert results[0]["thread"] != results[1]["thread"]
    assert all(r["thread"].startswith("zephyr-sync") for r in results)
