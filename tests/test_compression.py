"""Response compression: negotiation, what is left alone, streams, Vary, ETags and 304s."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import zlib
from collections.abc import Sequence
from typing import Any

import brotli
import pytest
import zstandard

from zephyr import Response, StreamingResponse, Zephyr
from zephyr.compression import CompressionConfig, CompressionMiddleware, choose_coding
from zephyr.config import Config
from zephyr.errors import ConfigError
from zephyr.testing import TestClient

Message = dict[str, Any]
TEXT = b"Zephyr compresses text. " * 100  # 2,400 bytes, well over the threshold
GZIP = CompressionConfig(algorithms=("gzip",))


def run(app: Any, *, method: str = "GET", headers: Sequence[tuple[str, str]] = (),
        config: CompressionConfig = GZIP) -> list[Message]:
    """The messages ``app`` sends through the compression middleware for one request."""
    sent: list[Message] = []
    scope = {"type": "http", "method": method, "path": "/",
             "headers": [(k.encode(), v.encode()) for k, v in headers]}

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(CompressionMiddleware(app, config)(scope, receive, send))
    return sent


def headers_of(messages: list[Message]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in messages[0]["headers"]}


def body_of(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages[1:])


def text(body: bytes = TEXT, media_type: str = "text/plain", status: int = 200,
         **headers: str) -> Response:
    return Response(body, status, {k.replace("_", "-"): v for k, v in headers.items()},
                    media_type=media_type)


# -- negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "offered", "coding", "refused"), [
    ("gzip", ("gzip",), "gzip", False),
    ("gzip, deflate, br, zstd", ("br", "zstd", "gzip"), "br", False),  # a tie: server's order
    ("gzip, deflate, br, zstd", ("zstd", "gzip"), "zstd", False),
    ("br;q=0.5, gzip;q=0.8", ("br", "gzip"), "gzip", False),  # the client's weights win
    ("GZIP", ("gzip",), "gzip", False),
    ("x-gzip", ("gzip",), "gzip", False),
    ("deflate", ("gzip",), None, False),
    ("gzip;q=0", ("gzip",), None, False),
    ("*", ("br", "gzip"), "br", False),
    ("*;q=0.5, gzip;q=0", ("gzip",), None, False),
    ("gzip;q=0.5, identity", ("gzip",), None, False),  # identity preferred
    ("gzip;q=0.5, identity;q=0.5", ("gzip",), "gzip", False),
    ("identity;q=0, gzip", ("gzip",), "gzip", True),
    ("*;q=0", ("gzip",), None, True),  # nothing acceptable, identity refused too
    ("*;q=0, identity", ("gzip",), None, False),
    ("gzip;q=2", ("gzip",), None, False),  # an out-of-range weight counts as 0
    ("gzip;q=abc", ("gzip",), None, False),
    ("", ("gzip",), None, False),
    (" , gzip ; q=0.9 ,", ("gzip",), "gzip", False),
])
def test_accept_encoding_q_values(accept: str, offered: tuple[str, ...], coding: str | None,
                                  refused: bool) -> None:
    assert choose_coding(accept, offered) == (coding, refused)


# -- what is compressed ---------------------------------------------------------------


def test_text_above_the_threshold_is_gzipped_with_its_length_and_vary() -> None:
    messages = run(text(etag='"t1"'), headers=[("accept-encoding", "gzip")])
    headers = headers_of(messages)
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["etag"] == 'W/"t1"'  # another encoding of the same content: weakened
    assert gzip.decompress(body_of(messages)) == TEXT
    assert headers["content-length"] == str(len(body_of(messages)))


def test_the_same_input_gives_the_same_gzip_bytes() -> None:
    first = body_of(run(text(), headers=[("accept-encoding", "gzip")]))
    assert first == body_of(run(text(), headers=[("accept-encoding", "gzip")]))


@pytest.mark.parametrize(("coding", "decode"), [
    ("br", brotli.decompress),
    ("zstd", lambda data: zstandard.ZstdDecompressor().decompress(data)),
    ("gzip", gzip.decompress),
])
def test_each_algorithm(coding: str, decode: Any) -> None:
    config = CompressionConfig(algorithms=(coding,))
    messages = run(text(), headers=[("accept-encoding", coding)], config=config)
    assert headers_of(messages)["content-encoding"] == coding
    assert decode(body_of(messages)) == TEXT


def test_a_client_without_accept_encoding_gets_identity_that_still_varies() -> None:
    messages = run(text())
    assert body_of(messages) == TEXT
    assert "content-encoding" not in headers_of(messages)
    # The same URL is compressed for other clients: caches must key on Accept-Encoding.
    assert headers_of(messages)["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(("response", "reason"), [
    (text(b"tiny"), "under the minimum size"),
    (text(media_type="image/png"), "already compressed"),
    (text(media_type="application/zip"), "already compressed"),
    (text(status=206, content_range="bytes 0-2399/5000"), "a range of the identity bytes"),
    (text(media_type="text/event-stream"), "server-sent events"),
    (text(content_encoding="br"), "already encoded"),
    (text(cache_control="public, no-transform"), "no-transform"),
    (Response(None, 204), "no content"),
])
def test_left_alone(response: Response, reason: str) -> None:
    messages = run(response, headers=[("accept-encoding", "gzip")])
    headers = headers_of(messages)
    assert headers.get("content-encoding") in (None, "br"), reason
    assert "vary" not in headers, reason
    assert body_of(messages) == response.body, reason


@pytest.mark.parametrize("media_type", [
    "text/html", "text/css", "text/javascript", "application/json", "application/xml",
    "application/problem+json", "image/svg+xml", "application/wasm", "text/csv; charset=utf-8",
])
def test_text_like_types_are_compressed(media_type: str) -> None:
    messages = run(text(media_type=media_type), headers=[("accept-encoding", "gzip")])
    assert headers_of(messages)["content-encoding"] == "gzip"


def test_a_client_that_refuses_identity_gets_even_a_small_body_compressed() -> None:
    messages = run(text(b"tiny"), headers=[("accept-encoding", "gzip, identity;q=0")])
    assert headers_of(messages)["content-encoding"] == "gzip"
    assert gzip.decompress(body_of(messages)) == b"tiny"


@pytest.mark.parametrize(("vary", "expected"), [
    ("Cookie", "Cookie, Accept-Encoding"),
    ("accept-encoding", "accept-encoding"),
    ("*", "*"),
])
def test_vary_is_extended_not_repeated(vary: str, expected: str) -> None:
    messages = run(text(vary=vary), headers=[("accept-encoding", "gzip")])
    assert [v for k, v in messages[0]["headers"] if k == b"vary"] == [expected.encode()]


def test_head_gets_the_compressed_headers_without_a_length() -> None:
    messages = run(text(etag='"t1"'), method="HEAD", headers=[("accept-encoding", "gzip")])
    headers = headers_of(messages)
    assert headers["content-encoding"] == "gzip"
    assert headers["etag"] == 'W/"t1"'
    assert "content-length" not in headers  # RFC 9110 §9.3.2: known only by compressing
    assert body_of(messages) == b""


# -- streams --------------------------------------------------------------------------


def test_a_stream_is_compressed_chunk_by_chunk_and_each_chunk_is_flushed() -> None:
    parts = [b"first line\n" * 60, b"second line\n" * 60, b"third line\n" * 60]
    messages = run(StreamingResponse(iter(parts), media_type="text/plain"),
                   headers=[("accept-encoding", "gzip")])
    headers = headers_of(messages)
    assert headers["content-encoding"] == "gzip"
    assert "content-length" not in headers
    decoder = zlib.decompressobj(31)
    bodies = [m for m in messages[1:] if m.get("more_body")]
    # Each flushed chunk decodes to exactly its part: a live stream is never held back.
    assert [decoder.decompress(m["body"]) for m in bodies] == parts
    assert not messages[-1].get("more_body", False)
    assert decoder.decompress(messages[-1]["body"]) + decoder.flush() == b""
    assert decoder.eof


def test_a_stream_of_one_body_gets_its_length() -> None:
    messages = run(StreamingResponse(iter([TEXT]), media_type="text/plain"),
                   headers=[("accept-encoding", "gzip")])
    assert gzip.decompress(body_of(messages)) == TEXT


# -- ETags and 304 -----------------------------------------------------------------------


async def revalidating_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app with ETag "t1" that answers If-None-Match with a weak comparison."""
    wanted = dict(scope["headers"]).get(b"if-none-match", b"").decode()
    if wanted.removeprefix("W/") == '"t1"':
        response = Response(None, 304, {"ETag": '"t1"'})
    else:
        response = text(etag='"t1"')
    await response(scope, receive, send)


def test_a_304_for_the_compressed_copy_keeps_its_weak_etag() -> None:
    first = run(revalidating_app, headers=[("accept-encoding", "gzip")])
    etag = headers_of(first)["etag"]
    assert etag == 'W/"t1"'
    again = run(revalidating_app, headers=[("accept-encoding", "gzip"), ("if-none-match", etag)])
    assert again[0]["status"] == 304
    assert headers_of(again)["etag"] == 'W/"t1"'  # what the client's cache holds
    assert headers_of(again)["vary"] == "Accept-Encoding"
    assert body_of(again) == b""


def test_a_304_for_the_identity_copy_keeps_its_strong_etag() -> None:
    again = run(revalidating_app,
                headers=[("accept-encoding", "gzip"), ("if-none-match", '"t1"')])
    assert again[0]["status"] == 304
    assert headers_of(again)["etag"] == '"t1"'


# -- the setting, and the app -----------------------------------------------------------------


def test_compression_is_off_by_default_and_costs_nothing() -> None:
    app = Zephyr(__name__)

    @app.get("/text")
    async def page() -> Response:
        return text()

    with TestClient(app) as client:
        response = client.get("/text", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert app._direct_http  # the request path is the one without any ASGI layer


def test_the_setting_compresses_routes_and_mounted_apps_alike() -> None:
    app = Zephyr(__name__, compression=True)

    @app.get("/data")
    async def data() -> dict[str, str]:
        return {"text": TEXT.decode()}

    app.mount("/legacy", text())
    with TestClient(app) as client:
        for path in ("/data", "/legacy"):
            response = client.get(path, headers={"accept-encoding": "gzip"})
            assert response.headers["content-encoding"] == "gzip", path
            assert TEXT.decode() in response.text


def test_asgi_middleware_sees_the_uncompressed_body() -> None:
    seen: list[bytes] = []

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def record(message: Message) -> None:
                seen.append(message.get("body", b""))
                await send(message)

            await self.app(scope, receive, record)

    app = Zephyr(__name__, compression=True)
    app.add_asgi_middleware(Recorder)
    app.get("/text")(lambda: text())
    with TestClient(app) as client:
        response = client.get("/text", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert TEXT in seen  # compression is the outermost layer


def test_settings_shape_the_config() -> None:
    config = CompressionConfig.from_setting(
        {"minimum_size": 100, "level": {"gzip": 9}, "algorithms": ["gzip"]})
    assert config == CompressionConfig(minimum_size=100, algorithms=("gzip",),
                                       levels={"br": 4, "zstd": 3, "gzip": 9})
    assert CompressionConfig.from_setting(False) is None
    assert CompressionConfig.from_setting(True) == CompressionConfig()
    assert CompressionConfig().algorithms == ("br", "zstd", "gzip")  # all installed here


def test_the_setting_from_the_environment() -> None:
    config = Config(environ={"ZEPHYR_COMPRESSION": "minimum_size=100,level=5,algorithms=gzip br"})
    assert CompressionConfig.from_setting(config["COMPRESSION"]) == CompressionConfig(
        minimum_size=100, algorithms=("gzip", "br"), levels={"br": 5, "zstd": 3, "gzip": 5})
    assert Config(environ={"ZEPHYR_COMPRESSION": "1"})["COMPRESSION"] is True
    with pytest.raises(ConfigError, match="COMPRESSION must be a boolean or a mapping"):
        Config(environ={"ZEPHYR_COMPRESSION": "maybe"})


@pytest.mark.parametrize(("value", "message"), [
    ({"minimum": 1}, "unknown key 'minimum'; its keys are minimum_size, level and algorithms"),
    ({"minimum_size": -1}, "minimum_size must be a number of bytes, not -1"),
    ({"algorithms": ["deflate"]}, "algorithm 'deflate' is unknown; use some of br, zstd, gzip"),
    ({"algorithms": []}, "algorithms must be a list like ['br', 'gzip'], not []"),
    ({"level": 10}, "level 10 for 'gzip' is out of range (1-9)"),
    ({"level": {"gzip": 0}}, "level 0 for 'gzip' is out of range (1-9)"),
    ({"level": {"br": 12}}, "level 12 for 'br' is out of range (0-11)"),
    ({"level": {"lzma": 1}}, "level 1 for 'lzma' is out of range (none)"),
])
def test_bad_settings_are_refused_with_the_fix(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CompressionConfig.from_setting(value)
    assert message in str(caught.value)


def test_an_algorithm_whose_package_is_missing_names_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "brotli" else real(name, *a))
    assert CompressionConfig().algorithms == ("zstd", "gzip")
    refusal = r"needs the 'brotli' package: pip install 'zephyr\[brotli\]'"
    with pytest.raises(ConfigError, match=refusal):
        CompressionConfig.from_setting({"algorithms": ["br"]})


def test_a_bad_setting_fails_the_startup() -> None:
    app = Zephyr(__name__, compression={"level": 99})
    with pytest.raises(Exception, match="level 99 for 'br' is out of range"), TestClient(app):
        pass
