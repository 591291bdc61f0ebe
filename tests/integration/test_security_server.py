"""The request guard against real uvicorn processes: hosts, header limits, slow bodies,
request smuggling and spoofed forwarding headers, sent byte by byte over loopback sockets.

Each attack runs under both of uvicorn's HTTP/1.1 parsers. Where a parser refuses
the bytes itself, the test says so and checks that no handler ran. The servers run
with ``--no-proxy-headers``: uvicorn's own proxy handling (on by default for
127.0.0.1) would otherwise answer before ``TRUSTED_PROXIES`` is asked.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid

import httpx
import pytest

from tests.integration.conftest import ServeApp, Server, ServerPool, uvicorn_command
from tests.integration.security_apps import (
    BODY_IDLE_TIMEOUT,
    BODY_TIMEOUT,
    MAX_HEADER_COUNT,
    MAX_HEADER_SIZE,
)
from tests.integration.test_server import UVICORN_400, RawConnection, RawResponse

pytestmark = pytest.mark.integration

NOT_SERVED = "the host is not served here; if it should be, add it to ALLOWED_HOSTS"
HSTS = "max-age=31536000"
SPOOFED = ("X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https")


def request_bytes(method: str, target: str, *headers: str, host: str | None = "127.0.0.1",
                  body: bytes = b"") -> bytes:
    """A request as it goes on the wire; ``host=None`` sends no Host header."""
    lines = [f"{method} {target} HTTP/1.1", *([f"Host: {host}"] if host is not None else []),
             *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def leftover(conn: RawConnection, timeout: float = 2.0) -> tuple[bytes, bool]:
    """What the server sends after the response read so far, and whether it then closed."""
    conn.sock.settimeout(timeout)
    received: list[bytes] = []
    try:
        while chunk := conn.reader.read1(65536):
            received.append(chunk)
    except TimeoutError:
        return b"".join(received), False
    except ConnectionResetError:
        pass
    return b"".join(received), True


def handler_calls(server: Server, token: str) -> list[str]:
    """What the handlers of ``server`` did for requests that carried ``token``."""
    r = httpx.get(f"{server.base_url}/calls/{token}", timeout=5.0)
    assert r.status_code == 200, r.text
    calls: list[str] = r.json()
    return calls


def new_token() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module", params=["h11", "httptools"])
def parser(request: pytest.FixtureRequest) -> str:
    parser_name: str = request.param
    return parser_name


@pytest.fixture(scope="module")
def guarded(session_pool: ServerPool, parser: str) -> Server:
    """``TRUSTED_PROXIES`` empty: forwarding headers are believed from nobody."""
    return session_pool.start(uvicorn_command(
        "tests.integration.security_apps:app", "--http", parser, "--no-proxy-headers"))


@pytest.fixture(scope="module")
def proxied(session_pool: ServerPool, parser: str) -> Server:
    """``TRUSTED_PROXIES = ["127.0.0.1"]``: the test is the proxy."""
    return session_pool.start(uvicorn_command(
        "tests.integration.security_apps:proxied_app", "--http", parser, "--no-proxy-headers"))


def assert_problem(r: RawResponse, status: int, detail: str) -> None:
    assert r.status == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == detail


# -- the Host allow-list -----------------------------------------------------------------

@pytest.mark.parametrize(
    "host",
    ["evil.com", "localhost.evil.com", "127.0.0.1.evil.com", "localhost:abc", "a b", "[::1"],
)
def test_a_bad_host_is_refused_before_any_handler(guarded: Server, host: str) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", f"/whoami?token={token}", host=host))
        assert_problem(conn.read_response(), 400, NOT_SERVED)
        # An ordinary 400: the connection goes on serving good requests.
        conn.send(request_bytes("GET", f"/whoami?token={token}"))
        assert conn.read_response().json()["client"] == "127.0.0.1"
    assert handler_calls(guarded, token) == ["whoami"]


def test_a_request_without_host_is_refused(guarded: Server, parser: str) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", f"/whoami?token={token}", host=None))
        r = conn.read_response()
    if parser == "h11":
        # h11 refuses an HTTP/1.1 request without Host itself.
        assert (r.status, r.body) == (400, UVICORN_400)
    else:
        assert_problem(r, 400, "the request has no Host header; send one naming this site")
    assert handler_calls(guarded, token) == []


def test_two_host_headers_are_refused(guarded: Server, parser: str) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", f"/whoami?token={token}", "Host: evil.com"))
        r = conn.read_response()
    if parser == "h11":
        # h11 refuses a repeated Host itself.
        assert (r.status, r.body) == (400, UVICORN_400)
    else:
        assert_problem(r, 400, "the request has more than one Host header")
    assert handler_calls(guarded, token) == []


# -- header limits -----------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "cookies"), [
    # NOTE: RFC 9113 §8.2.3: an HTTP/2 proxy may pass each cookie on as its own field.
    (["Cookie: a=1", "Cookie: b=2; c=3"], {"a": "1", "b": "2", "c": "3"}),
    (["Cookie: a=1", "Accept: */*", "Cookie: a=2; b=2"], {"a": "1", "b": "2"}),
    # A no-break space in front of a prefixed name is part of the name, not a blank.
    (["Cookie: \xa0__Host-session=planted; b=2"], {"\xa0__Host-session": "planted", "b": "2"}),
    (["Cookie: \t__Host-session=own"], {"__Host-session": "own"}),
])
def test_cookie_fields_reach_the_app_joined_and_prefixed_names_stay_exact(
        guarded: Server, fields: list[str], cookies: dict[str, str]) -> None:
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", "/cookies", *fields))
        r = conn.read_response()
    assert (r.status, r.json()) == (200, cookies)


def test_too_many_headers_get_431(guarded: Server) -> None:
    token = new_token()
    count = MAX_HEADER_COUNT + 5
    fillers = [f"X-H{index}: v" for index in range(count - 1)]  # and Host
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", f"/whoami?token={token}", *fillers))
        assert_problem(conn.read_response(), 431,
                       f"the request has {count} headers; at most {MAX_HEADER_COUNT} are allowed")
    assert handler_calls(guarded, token) == []


def test_headers_over_the_size_limit_get_431(guarded: Server) -> None:
    token = new_token()
    # Far below uvicorn's own 16 KiB (h11) but over the app's MAX_HEADER_SIZE.
    filler = "a" * (2 * MAX_HEADER_SIZE)
    size = len("host") + len("127.0.0.1") + len("x-big") + len(filler)
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", f"/whoami?token={token}", f"X-Big: {filler}"))
        assert_problem(conn.read_response(), 431,
                       f"the request headers take {size} bytes; at most {MAX_HEADER_SIZE} are "
                       "allowed")
    assert handler_calls(guarded, token) == []


def test_headers_at_the_limits_are_served(guarded: Server) -> None:
    token = new_token()
    target = f"/whoami?token={token}"
    fillers = [f"X-H{index}: v" for index in range(MAX_HEADER_COUNT - 1)]
    big = "a" * (MAX_HEADER_SIZE - len("host") - len("127.0.0.1") - len("x-big"))
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("GET", target, *fillers))
        assert conn.read_response().status == 200
        conn.send(request_bytes("GET", target, f"X-Big: {big}"))
        assert conn.read_response().status == 200
    assert handler_calls(guarded, token) == ["whoami", "whoami"]


# -- slow bodies -------------------------------------------------------------------------

def test_a_slow_body_gets_408_and_the_server_closes_the_connection(guarded: Server) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        began = time.monotonic()
        conn.send(request_bytes("POST", f"/upload?token={token}", "Content-Length: 100",
                                body=b"0123456789"))
        r = conn.read_response()
        took = time.monotonic() - began
        assert_problem(r, 408, f"the request body did not arrive within {BODY_TIMEOUT:g} seconds")
        assert r.headers["connection"] == "close"
        assert BODY_TIMEOUT - 0.05 <= took < BODY_TIMEOUT + 2.0
        assert leftover(conn) == (b"", True)
    assert handler_calls(guarded, token) == ["upload started"]


def test_a_body_that_arrives_in_time_is_read(guarded: Server) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("POST", f"/upload?token={token}", "Content-Length: 10",
                                body=b"01234"))
        time.sleep(BODY_TIMEOUT / 5)
        conn.send(b"56789")
        assert conn.read_response().json() == {"length": 10}
    assert handler_calls(guarded, token) == ["upload started", "upload read 10"]


@pytest.fixture(scope="module")
def idle_guarded(session_pool: ServerPool, parser: str) -> Server:
    """``BODY_IDLE_TIMEOUT`` 0.3 s, ``BODY_TIMEOUT`` 10 s."""
    return session_pool.start(uvicorn_command(
        "tests.integration.security_apps:idle_app", "--http", parser, "--no-proxy-headers"))


def test_a_body_trickled_faster_than_the_idle_timeout_keeps_going(idle_guarded: Server) -> None:
    token = new_token()
    with RawConnection(idle_guarded) as conn:
        conn.send(request_bytes("POST", f"/upload?token={token}", "Content-Length: 8"))
        # Eight bytes over about 1 s: longer than the idle timeout in all, never idle that long.
        for byte in b"01234567":
            time.sleep(BODY_IDLE_TIMEOUT / 3)
            conn.send(bytes([byte]))
        assert conn.read_response().json() == {"length": 8}
    assert handler_calls(idle_guarded, token) == ["upload started", "upload read 8"]


def test_a_body_that_pauses_longer_than_the_idle_timeout_gets_408_and_a_closed_connection(
    idle_guarded: Server,
) -> None:
    token = new_token()
    with RawConnection(idle_guarded) as conn:
        conn.send(request_bytes("POST", f"/upload?token={token}", "Content-Length: 8",
                                body=b"0123"))
        began = time.monotonic()
        r = conn.read_response()
        took = time.monotonic() - began
        assert_problem(r, 408, "the request body stopped arriving: nothing came for "
                               f"{BODY_IDLE_TIMEOUT:g} seconds")
        assert r.headers["connection"] == "close"
        assert BODY_IDLE_TIMEOUT - 0.05 <= took < BODY_IDLE_TIMEOUT + 2.0
        assert leftover(conn) == (b"", True)
    assert handler_calls(idle_guarded, token) == ["upload started"]


# -- request smuggling -------------------------------------------------------------------

def test_content_length_with_transfer_encoding_smuggles_nothing(
    guarded: Server, parser: str
) -> None:
    front, hidden = new_token(), new_token()
    # CL.TE: a front proxy that reads Content-Length forwards all of it as one request; a
    # server that reads the chunked framing finds a second request, smuggled, after "0".
    smuggled = request_bytes("GET", f"/whoami?token={hidden}")
    body = b"0\r\n\r\n" + smuggled
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("POST", f"/upload?token={front}", f"Content-Length: {len(body)}",
                                "Transfer-Encoding: chunked", body=body))
        r = conn.read_response()
        if parser == "httptools":
            # llhttp refuses both framings at once before the app is called.
            assert (r.status, r.body) == (400, UVICORN_400)
        else:
            # h11 lets it through (it would use Transfer-Encoding): the guard refuses it.
            assert_problem(r, 400, "the request has both Content-Length and Transfer-Encoding; "
                                   "send one of them")
        # NOTE: RFC 9112 §6.1: after such a request the server must close the connection.
        assert r.headers.get("connection", "").lower() == "close"
        assert leftover(conn) == (b"", True)
    assert handler_calls(guarded, front) == []
    assert handler_calls(guarded, hidden) == []


@pytest.mark.parametrize(
    ("lengths", "h11_answer"),
    [
        # h11 folds identical lengths into one, so the app sees one valid Content-Length.
        (("Content-Length: 5", "Content-Length: 5"), 200),
        (("Content-Length: 5, 5",), 200),
        (("Content-Length: 5", "Content-Length: 6"), 400),
    ],
)
def test_repeated_content_length(
    guarded: Server, parser: str, lengths: tuple[str, ...], h11_answer: int
) -> None:
    token = new_token()
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("POST", f"/upload?token={token}", *lengths, body=b"hello"))
        r = conn.read_response()
    if parser == "h11" and h11_answer == 200:
        assert r.json() == {"length": 5}
        assert handler_calls(guarded, token) == ["upload started", "upload read 5"]
    else:
        # llhttp refuses any repeated length, h11 conflicting ones.
        assert (r.status, r.body) == (400, UVICORN_400)
        assert handler_calls(guarded, token) == []


# -- refusals that close the connection --------------------------------------------------

@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([f"X-H{index}: v" for index in range(MAX_HEADER_COUNT)], id="too-many"),
        pytest.param([f"X-Big: {'a' * 2 * MAX_HEADER_SIZE}"], id="too-large"),
        # h11 refuses a second Host itself; llhttp lets it through to the guard.
        pytest.param(["Host: 127.0.0.1"], id="two-hosts"),
        pytest.param(["Content-Type: application/json",
                      "Content-Type: multipart/form-data; boundary=x"], id="two-content-types"),
    ],
)
def test_a_refused_request_takes_the_requests_pipelined_behind_it_down_with_it(
    guarded: Server, headers: list[str]
) -> None:
    token = new_token()
    refused = request_bytes("POST", f"/upload?token={token}", *headers, "Content-Length: 0")
    behind = request_bytes("GET", f"/whoami?token={token}")
    with RawConnection(guarded) as conn:
        conn.send(refused + behind)
        r = conn.read_response()
        assert r.status in (400, 431)
        assert r.headers["connection"] == "close"
        # NOTE: the request behind it is never answered: the server closes the connection.
        assert leftover(conn) == (b"", True)
    assert handler_calls(guarded, token) == []


# -- request targets and versions --------------------------------------------------------

NOT_A_PATH = ("the request target is not a path; send one that starts with '/' (or '*' "
              "with OPTIONS)")
BAD_VERSION = "the request's HTTP version is not one this app serves (1.0, 1.1, 2 or 3)"
GUARD_400 = (400, NOT_A_PATH)
GUARD_505 = (505, BAD_VERSION)
PARSER_400 = (400, None)
SERVED = (200, None)


@pytest.mark.parametrize(
    ("target", "version", "h11", "httptools"),
    [
        pytest.param("*", "1.1", GUARD_400, GUARD_400, id="star"),
        pytest.param("*x", "1.1", GUARD_400, GUARD_400, id="star-x"),
        # Absolute form: h11 hands the app 'http://evil/whoami' as the path; httptools
        # drops scheme and host and hands it '/whoami', so the app serves the path it
        # names, under the Host header the guard checked.
        pytest.param("http://evil/whoami?token={token}", "1.1", GUARD_400, SERVED,
                     id="absolute-form"),
        pytest.param("evil", "1.1", GUARD_400, PARSER_400, id="bare-word"),
        pytest.param("?token={token}", "1.1", GUARD_400, PARSER_400, id="query-only"),
        pytest.param("/whoami?token={token}", "0.9", GUARD_505, GUARD_505, id="HTTP/0.9"),
        pytest.param("/whoami?token={token}", "1.2", GUARD_505, PARSER_400, id="HTTP/1.2"),
        pytest.param("/whoami?token={token}", "2.0", GUARD_505, GUARD_505, id="HTTP/2.0"),
        pytest.param("/whoami?token={token}", "3.0", GUARD_505, PARSER_400, id="HTTP/3.0"),
        pytest.param("/whoami?token={token}", "1.0", SERVED, SERVED, id="HTTP/1.0"),
    ],
)
def test_request_targets_and_versions_on_the_wire(
    guarded: Server, parser: str, target: str, version: str,
    h11: tuple[int, str | None], httptools: tuple[int, str | None],
) -> None:
    token = new_token()
    status, detail = h11 if parser == "h11" else httptools
    with RawConnection(guarded) as conn:
        conn.send(f"GET {target.format(token=token)} HTTP/{version}\r\nHost: 127.0.0.1\r\n\r\n"
                  .encode())
        r = conn.read_response()
        assert r.status == status
        if status != 200:
            if detail is None:
                assert r.body == UVICORN_400
            else:
                assert_problem(r, status, detail)
            assert leftover(conn) == (b"", True)
    assert handler_calls(guarded, token) == (["whoami"] if status == 200 else [])


def test_options_star_is_answered_for_the_whole_app(guarded: Server) -> None:
    with RawConnection(guarded) as conn:
        conn.send(request_bytes("OPTIONS", "*"))
        r = conn.read_response()
        assert (r.status, r.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")
        # An ordinary answer: the connection goes on serving.
        conn.send(request_bytes("GET", "/whoami"))
        assert conn.read_response().status == 200


# -- forwarding headers ------------------------------------------------------------------

def whoami(server: Server, *headers: str) -> RawResponse:
    with RawConnection(server) as conn:
        conn.send(request_bytes("GET", "/whoami", *headers))
        return conn.read_response()


def test_spoofed_forwarding_headers_are_ignored_without_trusted_proxies(guarded: Server) -> None:
    r = whoami(guarded, *SPOOFED, "X-Forwarded-Host: localhost")
    assert r.json() == {"client": "127.0.0.1", "scheme": "http",
                        "url": "http://127.0.0.1/whoami"}
    assert "strict-transport-security" not in r.headers


def test_forwarding_headers_from_a_trusted_proxy_are_believed(proxied: Server) -> None:
    r = whoami(proxied, "X-Forwarded-For: 6.6.6.6, 203.0.113.9", "X-Forwarded-Proto: https")
    assert r.json() == {"client": "203.0.113.9", "scheme": "https",
                        "url": "https://127.0.0.1/whoami"}
    assert r.headers["strict-transport-security"] == HSTS


@pytest.mark.parametrize(
    ("forwarded_host", "status"),
    [("localhost", 200), ("evil.com", 400), ("localhost.evil.com", 400)],
)
def test_a_forwarded_host_is_checked_against_allowed_hosts(
    proxied: Server, forwarded_host: str, status: int
) -> None:
    r = whoami(proxied, f"X-Forwarded-Host: {forwarded_host}")
    assert r.status == status
    if status == 400:
        assert r.json()["detail"] == NOT_SERVED


def test_uvicorn_believes_forwarding_headers_from_loopback_by_default(serve: ServeApp) -> None:
    # Why the servers above run with --no-proxy-headers: uvicorn's default
    # (--forwarded-allow-ips 127.0.0.1) rewrites the client before the app sees the request.
    server = serve("tests.integration.security_apps:app")
    r = whoami(server, *SPOOFED)
    assert (r.json()["client"], r.json()["scheme"]) == ("203.0.113.9", "https")


def test_app_run_leaves_forwarding_headers_to_trusted_proxies(launch: ServerPool) -> None:
    # app.run() is how Zephyr serves: TRUSTED_PROXIES must be the only authority there.
    script = (
        "import sys\n"
        "from tests.integration.security_apps import app\n"
        "app.run(port=int(sys.argv[1]))\n"
    )
    server = launch.start([sys.executable, "-c", script, "{port}"])
    r = whoami(server, *SPOOFED)
    assert r.json() == {"client": "127.0.0.1", "scheme": "http",
                        "url": "http://127.0.0.1/whoami"}


# -- what app.run() has uvicorn bound ------------------------------------------------------

RUN_SCRIPT = (
    "import json, sys\n"
    "from tests.integration.security_apps import app\n"
    "app.run(port=int(sys.argv[1]), http=sys.argv[2], **json.loads(sys.argv[3]))\n"
)


def test_app_run_closes_a_connection_left_idle_after_a_response(
    launch: ServerPool, parser: str
) -> None:
    # uvicorn's keep-alive timeout (app.run's default: 5 s, here 1 s to keep the test short).
    server = launch.start([sys.executable, "-c", RUN_SCRIPT, "{port}", parser,
                           '{"timeout_keep_alive": 1}'])
    with RawConnection(server) as conn:
        conn.send(request_bytes("GET", "/whoami"))
        assert conn.read_response().status == 200
        began = time.monotonic()
        assert leftover(conn, timeout=4.0) == (b"", True)
        assert 0.9 <= time.monotonic() - began < 3.0


def test_app_run_has_h11_buffer_no_larger_a_head_than_the_guard_accepts(
    launch: ServerPool,
) -> None:
    # The app's limits (1024 bytes of headers, 20 of them) make a head limit of
    # 1024 + 4 * 20 + 8192 bytes; uvicorn's own default is 16 KiB. A head that never ends is
    # refused once past it, instead of being buffered until it does.
    server = launch.start([sys.executable, "-c", RUN_SCRIPT, "{port}", "h11", "{}"])
    with RawConnection(server) as conn:
        conn.send(b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 12_000)
        r = conn.read_response()
        assert (r.status, r.body) == (400, UVICORN_400)
        assert leftover(conn) == (b"", True)


def test_host_verdicts_do_not_leak_between_requests(guarded: Server) -> None:
    # The allow-list caches verdicts: good and bad hosts interleave on one server.
    token = new_token()
    for host in ["evil.com", "127.0.0.1", "evil.com", "localhost"] * 3:
        with socket.create_connection(("127.0.0.1", guarded.port), timeout=5.0) as sock:
            sock.sendall(request_bytes("GET", f"/whoami?token={token}", "Connection: close",
                                       host=host))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        expected = b"HTTP/1.1 400 " if host == "evil.com" else b"HTTP/1.1 200 "
        assert data.startswith(expected)
    assert handler_calls(guarded, token) == ["whoami"] * 6
