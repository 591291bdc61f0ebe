"""Static files over HTTP: types, validators, 304, 412, ranges, siblings, hashed URLs."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import brotli
import pytest

from tests.conftest import STATIC_CSS, asgi_get
from zephyr import Request, Zephyr
from zephyr.datastructures import http_date
from zephyr.security.login import SessionAuth, login_user
from zephyr.staticfiles import serving
from zephyr.testing import TestClient

IDENTITY = {"accept-encoding": "identity"}
SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy",
                    "cross-origin-opener-policy", "content-security-policy")


def client_for(root: Path, **settings: Any) -> TestClient:
    return TestClient(Zephyr(__name__, root_path=root, **settings))


def file_etag(path: Path) -> str:
    info = path.stat()
    return f'"{info.st_size:x}-{info.st_mtime_ns:x}-{info.st_ino:x}"'


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("index.html", "text/html; charset=utf-8"),
    ("sub/deep.txt", "text/plain; charset=utf-8"),
    ("data.json", "application/json"),
    ("logo.png", "image/png"),
    ("icon.svg", "image/svg+xml"),
    ("font.woff2", "font/woff2"),
    ("LICENSE", "application/octet-stream"),
])
def test_content_type_by_extension(static_site: Path, name: str, content_type: str) -> None:
    with client_for(static_site) as client:
        response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (static_site / "static" / name).read_bytes()


def test_the_headers_of_a_file(static_site: Path) -> None:
    path = static_site / "static" / "app.css"
    with client_for(static_site) as client:
        response = client.get("/static/app.css", headers=IDENTITY)
    own = {k: v for k, v in response.headers.items() if k not in SECURITY_HEADERS}
    assert own == {
        "content-type": "text/css; charset=utf-8",
        "content-length": str(len(STATIC_CSS)),
        "etag": file_etag(path),
        "last-modified": http_date(path.stat().st_mtime),
        "cache-control": "max-age=60",
        "accept-ranges": "bytes",
    }
    # nosniff (and the rest) as on every response; nothing of a session.
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", ["app.css", "big.bin"])
def test_head_gets_the_headers_of_get_without_the_body(static_site: Path, name: str) -> None:
    with client_for(static_site) as client:
        get = client.get(f"/static/{name}")
        head = client.head(f"/static/{name}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers == get.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_with_allow(static_site: Path, method: str) -> None:
    with client_for(static_site) as client:
        response = client.request(method, "/static/app.css")
        options = client.options("/static/app.css")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS")


def test_a_missing_file_is_404_without_echoing_the_path(static_site: Path) -> None:
    with client_for(static_site) as client:
        response = client.get("/static/nope-<script>.css", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "<script>" not in response.text


# -- conditional requests --------------------------------------------------------------------


@pytest.mark.parametrize("condition", [
    {"if-none-match": "{etag}"},
    {"if-none-match": '"other", {etag}'},
    {"if-none-match": "W/{etag}"},
    {"if-none-match": "*"},
    {"if-modified-since": "{last_modified}"},
    {"if-modified-since": "{later}"},
])
def test_304_without_a_body(static_site: Path, condition: dict[str, str]) -> None:
    with client_for(static_site) as client:
        first = client.get("/static/app.css", headers=IDENTITY)
        values = {"etag": first.headers["etag"], "last_modified": first.headers["last-modified"],
                  "later": http_date(time.time() - 1)}
        headers = {k: v.format(**values) for k, v in condition.items()}
        response = client.get("/static/app.css", headers={**IDENTITY, **headers})
    assert response.status_code == 304
    assert response.content == b""
    own = {k: v for k, v in response.headers.items() if k not in SECURITY_HEADERS}
    # RFC 9110 §15.4.5: the ETag and Cache-Control the 200 has (and no content metadata).
    assert own == {"etag": first.headers["etag"], "cache-control": "max-age=60"}


def test_if_modified_since_is_ignored_when_if_none_match_is_present(static_site: Path) -> None:
    with client_for(static_site) as client:
        first = client.get("/static/app.css")
        response = client.get("/static/app.css", headers={
            "if-none-match": '"stale"', "if-modified-since": first.headers["last-modified"]})
    assert response.status_code == 200


@pytest.mark.parametrize("condition", [
    {"if-match": '"stale"'},
    {"if-unmodified-since": "Sat, 05 Nov 1994 08:49:37 GMT"},
])
def test_a_failed_precondition_is_412(static_site: Path, condition: dict[str, str]) -> None:
    with client_for(static_site) as client:
        response = client.get("/static/app.css", headers=condition)
    assert response.status_code == 412
    assert "has changed since the version the request names" in response.text


class Clock:
    """A stand-in for the ``time`` module of the static files: ``now`` moves when told."""

    now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("zephyr.staticfiles.serving.time", fake)
    return fake


def test_a_changed_small_file_shows_within_a_second(static_site: Path, clock: Clock) -> None:
    path = static_site / "static" / "app.css"
    with client_for(static_site) as client:
        before = client.get("/static/app.css")
        path.write_bytes(b"body { color: red; }\n")
        clock.now += 0.5  # its last stat still holds: the version sent before, whole
        same = client.get("/static/app.css")
        clock.now += 0.6
        after = client.get("/static/app.css", headers={"if-none-match": before.headers["etag"]})
    assert (same.content, same.headers["etag"]) == (STATIC_CSS, before.headers["etag"])
    assert after.status_code == 200
    assert after.content == b"body { color: red; }\n"
    assert after.headers["etag"] == file_etag(path) != before.headers["etag"]


def test_a_changed_large_file_shows_at_once(static_site: Path, clock: Clock) -> None:
    path = static_site / "static" / "big.bin"
    with client_for(static_site) as client:
        before = client.get("/static/big.bin")
        path.write_bytes(b"x" * 100_000)  # still read from disk: never a length that lies
        after = client.get("/static/big.bin")
    assert after.content == b"x" * 100_000
    assert after.headers["etag"] == file_etag(path) != before.headers["etag"]


def test_a_small_file_is_read_once_per_version(static_site: Path, clock: Clock,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    real = serving._read
    monkeypatch.setattr(serving, "_read", lambda path, size: reads.append(path) or real(path,
                                                                                          size))
    with client_for(static_site) as client:
        for _ in range(3):
            assert client.get("/static/app.css").content == STATIC_CSS
        assert client.get("/static/app.css", headers={"range": "bytes=0-3"}).content == b"body"
        (static_site / "static" / "app.css").write_bytes(b"new")
        clock.now += 2
        assert client.get("/static/app.css").content == b"new"
        assert client.get("/static/app.css").content == b"new"
    assert len(reads) == 2


def test_small_files_beyond_the_memory_budget_are_read_per_request(
        static_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    real = serving._read
    monkeypatch.setattr(serving, "MEMORY_BUDGET", len(STATIC_CSS) + 10)
    monkeypatch.setattr(serving, "_read", lambda path, size: reads.append(path) or real(path,
                                                                                          size))
    with client_for(static_site) as client:
        for name in ("app.css", "app.js", "app.css", "app.js"):
            client.get(f"/static/{name}")
    assert [Path(path).name for path in reads] == ["app.css", "app.js", "app.js"]


# -- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["app.css", "big.bin"])  # read at once, and streamed
@pytest.mark.parametrize(("header", "start", "stop"), [
    ("bytes=0-9", 0, 10), ("bytes=100-199", 100, 200), ("bytes=-50", -50, None),
    ("bytes=2000-", 2000, None),
])
def test_a_single_range_is_206(static_site: Path, name: str, header: str, start: int,
                               stop: int | None) -> None:
    data = (static_site / "static" / name).read_bytes()
    with client_for(static_site) as client:
        full = client.get(f"/static/{name}", headers=IDENTITY)
        response = client.get(f"/static/{name}", headers={**IDENTITY, "range": header})
    part = data[start:stop]
    first = start if start >= 0 else len(data) + start
    assert response.status_code == 206
    assert response.content == part
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(part) - 1}/{len(data)}")
    assert response.headers["content-length"] == str(len(part))
    for name_ in ("etag", "cache-control", "last-modified", "content-type"):
        assert response.headers[name_] == full.headers[name_]


def test_an_unsatisfiable_range_is_416_with_the_length(static_site: Path) -> None:
    with client_for(static_site) as client:
        response = client.get("/static/app.css", headers={"range": "bytes=99999-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(STATIC_CSS)}"


@pytest.mark.parametrize("headers", [
    {"range": "bytes=0-1,5-6"},  # several ranges: the whole file
    {"range": "bytes=5-1"},  # invalid
    {"range": "bytes=0-9", "if-range": '"stale"'},  # the file changed since
    {"range": "bytes=0-9", "if-range": "Sat, 05 Nov 1994 08:49:37 GMT"},
])
def test_ranges_that_get_the_whole_file(static_site: Path, headers: dict[str, str]) -> None:
    with client_for(static_site) as client:
        response = client.get("/static/app.css", headers=headers)
    assert response.status_code == 200
    assert response.content == STATIC_CSS


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_if_range_that_still_holds_gets_the_range(static_site: Path, validator: str) -> None:
    with client_for(static_site) as client:
        first = client.get("/static/app.css")
        response = client.get("/static/app.css", headers={
            "range": "bytes=0-9", "if-range": first.headers[validator]})
    assert (response.status_code, response.content) == (206, STATIC_CSS[:10])


def test_head_ignores_range(static_site: Path) -> None:
    with client_for(static_site) as client:
        response = client.head("/static/app.css", headers={"range": "bytes=0-9"})
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(STATIC_CSS))


def test_a_large_file_is_streamed_in_chunks(static_site: Path) -> None:
    sent = asgi_get(Zephyr(__name__, root_path=static_site), b"/static/big.bin")
    bodies = [m["body"] for m in sent[1:]]
    assert [len(b) for b in bodies] == [65536, 65536, 65536, 8192, 0]  # never the whole file
    assert all(m.get("more_body") for m in sent[1:-1])
    assert not sent[-1].get("more_body")
    assert b"".join(bodies) == (static_site / "static" / "big.bin").read_bytes()


# -- precompressed siblings ---------------------------------------------------------------


@pytest.fixture
def precompressed(static_site: Path) -> Path:
    static = static_site / "static"
    (static / "app.css.gz").write_bytes(gzip.compress(STATIC_CSS, mtime=0))
    (static / "app.css.br").write_bytes(brotli.compress(STATIC_CSS))
    return static_site


@pytest.mark.parametrize(("accept", "coding", "suffix"), [
    ("br, gzip", "br", ".br"),
    ("gzip, br;q=0.5", "gzip", ".gz"),
    ("gzip", "gzip", ".gz"),
    ("*", "br", ".br"),
    ("identity", None, ""),
    ("deflate", None, ""),
    ("br;q=0, gzip;q=0", None, ""),
])
def test_a_precompressed_sibling_when_the_client_accepts_it(
        precompressed: Path, accept: str, coding: str | None, suffix: str) -> None:
    path = precompressed / "static" / f"app.css{suffix}"
    with client_for(precompressed) as client, client.stream(
            "GET", "/static/app.css", headers={"accept-encoding": accept}) as r:
        raw = b"".join(r.iter_raw())
    assert raw == path.read_bytes()
    assert r.headers.get("content-encoding") == coding
    assert r.headers["content-type"] == "text/css; charset=utf-8"  # the original's
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["etag"] == file_etag(path)  # each representation its own


def test_each_sibling_answers_its_own_304(precompressed: Path) -> None:
    with client_for(precompressed) as client:
        br = client.get("/static/app.css", headers={"accept-encoding": "br"})
        same = client.get("/static/app.css", headers={"accept-encoding": "br",
                                                      "if-none-match": br.headers["etag"]})
        other = client.get("/static/app.css", headers={"accept-encoding": "gzip",
                                                       "if-none-match": br.headers["etag"]})
    assert (same.status_code, same.headers["vary"]) == (304, "Accept-Encoding")
    assert other.status_code == 200


def test_a_sibling_older_than_its_original_is_never_served(precompressed: Path) -> None:
    sibling = precompressed / "static" / "app.css.br"
    os.utime(sibling, ns=(0, 0))
    with client_for(precompressed) as client:
        response = client.get("/static/app.css", headers={"accept-encoding": "br"})
    assert "content-encoding" not in response.headers
    assert response.content == STATIC_CSS


# -- hashed URLs -------------------------------------------------------------------------------


def test_a_hashed_url_is_immutable(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)
    digest = hashlib.sha256(STATIC_CSS).hexdigest()
    with TestClient(app) as client:
        url = app.static_url("app.css")
        hashed = client.get(url)
        plain = client.get("/static/app.css")
        stale = client.get("/static/app.0000beef.css")
    assert url == f"/static/app.{digest[:8]}.css"
    assert hashed.content == STATIC_CSS
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["etag"] == f'"{digest[:20]}"'
    assert plain.headers["cache-control"] == "max-age=60"
    assert stale.status_code == 404


def test_in_debug_a_changed_file_gets_a_new_hash_without_restart(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site, debug=True)
    with TestClient(app) as client:
        old = app.static_url("app.css")
        (static_site / "static" / "app.css").write_bytes(b"p { margin: 0 }\n")
        new = app.static_url("app.css")
        assert client.get(new).content == b"p { margin: 0 }\n"
        assert client.get(old).status_code == 404
        assert client.get("/static/app.css").headers["cache-control"] == "no-cache"


def test_in_production_a_changed_file_is_never_served_under_its_old_hash(
        static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with TestClient(app) as client:
        old = app.static_url("app.css")
        (static_site / "static" / "app.css").write_bytes(b"p { margin: 0 }\n")
        assert client.get(old).status_code == 404
        # The request noticed the change: URLs made from now on name the new content.
        assert client.get(app.static_url("app.css")).content == b"p { margin: 0 }\n"


def test_a_changed_file_is_hashed_once_and_its_stale_siblings_never_sent(
        precompressed: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    hashed: list[str] = []
    real = serving.hash_file
    monkeypatch.setattr(serving, "hash_file", lambda path: hashed.append(path) or real(path))
    app = Zephyr(__name__, root_path=precompressed)
    with TestClient(app) as client:
        (precompressed / "static" / "app.css").write_bytes(b"p { margin: 0 }\n" * 200)
        clock.now += 2
        client.get(app.static_url("app.css"))  # notices the change: hashed once
        new = app.static_url("app.css")
        for encoding in ("identity", "br", "identity", "gzip", "identity"):
            response = client.get(new, headers={"accept-encoding": encoding})
            # The siblings were made from the old version: never sent for the new one.
            assert response.content == b"p { margin: 0 }\n" * 200, encoding
            assert "content-encoding" not in response.headers
        assert app.static_url("app.css") == new
    assert len(hashed) == 1


@pytest.mark.parametrize(("max_age", "cache_control"), [(3600, "max-age=3600"),
                                                        (0, "no-cache")])
def test_static_max_age(static_site: Path, max_age: int, cache_control: str) -> None:
    with client_for(static_site, static_max_age=max_age) as client:
        assert client.get("/static/app.css").headers["cache-control"] == cache_control


# -- never a session --------------------------------------------------------------------------


def test_static_files_never_touch_the_session_or_auth(static_site: Path) -> None:
    loaded: list[str] = []

    class User:
        id = "u1"

    def load_user(user_id: str) -> User:
        loaded.append(user_id)
        return User()

    app = Zephyr(__name__, root_path=static_site)
    app.auth_backends = [SessionAuth(load_user)]

    @app.post("/login", csrf=False)
    async def login(request: Request) -> None:
        await login_user(request, User())

    with TestClient(app) as client:
        client.post("/login")
        assert client.cookies.get("session")
        response = client.get("/static/app.css")
    assert response.status_code == 200
    assert loaded == []
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "max-age=60"  # not no-store
    assert "vary" not in response.headers  # not Vary: Cookie
    assert response.headers["x-frame-options"] == "DENY"


# -- with compression on --------------------------------------------------------------------


def test_compressed_on_the_fly_with_a_weak_etag_that_revalidates(static_site: Path) -> None:
    with client_for(static_site, compression=True) as client:
        identity = client.get("/static/app.css", headers=IDENTITY)
        zipped = client.get("/static/app.css", headers={"accept-encoding": "gzip"})
        again = client.get("/static/app.css", headers={
            "accept-encoding": "gzip", "if-none-match": zipped.headers["etag"]})
    assert identity.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] == "W/" + identity.headers["etag"]
    assert zipped.content == STATIC_CSS
    assert "accept-ranges" not in zipped.headers  # ranges are of the identity bytes
    assert (again.status_code, again.headers["etag"]) == (304, zipped.headers["etag"])


def test_precompressed_siblings_come_before_compressing(precompressed: Path) -> None:
    with client_for(precompressed, compression=True) as client:
        response = client.get("/static/app.css", headers={"accept-encoding": "gzip"})
    assert response.headers["etag"] == file_etag(precompressed / "static" / "app.css.gz")


def test_a_range_with_compression_on_is_identity_and_still_varies(static_site: Path) -> None:
    with client_for(static_site, compression=True) as client:
        response = client.get("/static/app.css", headers={"accept-encoding": "gzip",
                                                          "range": "bytes=0-9"})
    assert (response.status_code, response.content) == (206, STATIC_CSS[:10])
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


def test_a_small_file_never_varies(static_site: Path) -> None:
    with client_for(static_site, compression=True) as client:
        response = client.get("/static/index.html", headers={"accept-encoding": "gzip"})
    assert "vary" not in response.headers
    assert "content-encoding" not in response.headers
