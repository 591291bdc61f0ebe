"""Static files against real uvicorn processes: paths as the server decodes them, HEAD,
304 and ranges on a kept-alive connection, a large file, compression on the wire.

Both of uvicorn's HTTP/1.1 parsers: each decodes the request target itself before
the app sees it, so the encoded ways out of the folder are tried byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET, STATIC_CSS, make_static_site
from tests.integration.conftest import Server, ServerPool, uvicorn_command
from tests.integration.static_apps import ROOT_ENV
from tests.integration.test_security_server import request_bytes
from tests.integration.test_server import RawConnection

pytestmark = pytest.mark.integration

LARGE = 5 * 1024 * 1024 + 123


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static-site")
    make_static_site(root)
    (root / "static" / "large.bin").write_bytes(bytes(range(256)) * (LARGE // 256)
                                                + bytes(LARGE % 256))
    return root


@pytest.fixture(scope="module", params=["h11", "httptools"])
def parser(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def static_server(session_pool: ServerPool, site: Path, parser: str) -> Server:
    return session_pool.start(uvicorn_command("tests.integration.static_apps:app",
                                              "--http", parser), env={ROOT_ENV: str(site)})


ENCODED_ESCAPES = [
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%2Fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/%2fetc%2fpasswd",
    "/static/c:%5cwindows%5cwin.ini",
    "/static/app.css%00",
    "/static/%2eenv",
    "/static/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/static/escape.txt",
    "/static/linkdir/secret.txt",
    "/static/.git/config",
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
]


@pytest.mark.parametrize("target", ENCODED_ESCAPES)
def test_no_way_out_of_the_folder(static_server: Server, target: str) -> None:
    with RawConnection(static_server) as conn:
        conn.send(request_bytes("GET", target))
        response = conn.read_response()
    assert response.status == 404, (target, response)
    assert SECRET not in response.body
    assert b"[core]" not in response.body


def test_head_has_the_length_and_no_body(static_server: Server) -> None:
    with RawConnection(static_server) as conn:
        conn.send(request_bytes("HEAD", "/static/app.css"))
        head = conn.read_response(method="HEAD")
        conn.send(request_bytes("GET", "/static/app.css"))  # the same connection goes on
        get = conn.read_response()
    assert head.status == get.status == 200
    assert head.headers["content-length"] == str(len(STATIC_CSS))
    assert get.body == STATIC_CSS


def test_304_sends_no_body_and_the_connection_goes_on(static_server: Server) -> None:
    with RawConnection(static_server) as conn:
        conn.send(request_bytes("GET", "/static/app.css"))
        first = conn.read_response()
        etag = first.headers["etag"]
        conn.send(request_bytes("GET", "/static/app.css", f"If-None-Match: {etag}"))
        again = conn.read_response()
        conn.send(request_bytes("GET", "/static/app.js", "Range: bytes=0-5"))
        part = conn.read_response()
    assert again.status == 304
    assert "content-length" not in again.headers
    assert "transfer-encoding" not in again.headers
    assert again.headers["etag"] == first.headers["etag"]
    assert (part.status, part.body) == (206, b"export")


def test_a_large_file_arrives_whole(static_server: Server, site: Path) -> None:
    with RawConnection(static_server, timeout=30) as conn:
        conn.send(request_bytes("GET", "/static/large.bin"))
        response = conn.read_response()
    assert response.headers["content-length"] == str(LARGE)
    expected = hashlib.sha256((site / "static" / "large.bin").read_bytes()).hexdigest()
    assert hashlib.sha256(response.body).hexdigest() == expected


def test_a_range_deep_in_a_large_file(static_server: Server, site: Path) -> None:
    start = 3 * 1024 * 1024 + 7
    with RawConnection(static_server) as conn:
        conn.send(request_bytes("GET", "/static/large.bin", f"Range: bytes={start}-"))
        response = conn.read_response()
    assert response.status == 206
    assert response.headers["content-range"] == f"bytes {start}-{LARGE - 1}/{LARGE}"
    assert response.body == (site / "static" / "large.bin").read_bytes()[start:]


def test_compression_on_the_wire(session_pool: ServerPool, site: Path) -> None:
    server = session_pool.start(uvicorn_command("tests.integration.static_apps:compressed"),
                                env={ROOT_ENV: str(site)})
    with RawConnection(server) as conn:
        conn.send(request_bytes("GET", "/static/app.css", "Accept-Encoding: gzip"))
        zipped = conn.read_response()
        conn.send(request_bytes("GET", "/static/app.css", "Accept-Encoding: gzip",
                                f"If-None-Match: {zipped.headers['etag']}"))
        again = conn.read_response()
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == STATIC_CSS
    assert (again.status, again.headers["etag"]) == (304, zipped.headers["etag"])
    assert httpx.get(f"{server.base_url}/static/app.css").content == STATIC_CSS
