"""The response family: plain, HTML, text, JSON, redirects, streams, files, background tasks.

How a handler's return value becomes one of these is in test_response_coercion.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest

from zephyr import (
    BackgroundTasks,
    Depends,
    FileResponse,
    HTMLResponse,
    JSONResponse,
    NotFound,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    UploadFile,
    Zephyr,
    abort,
)
from zephyr.errors import HeaderValueError, ResponseError
from zephyr.testing import TestClient

Message = dict[str, Any]


def send_directly(response: Response, method: str = "GET") -> list[Message]:
    """Send ``response`` as an ASGI app and return the messages."""
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.Event().wait()
        return {}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(response({"type": "http", "method": method}, receive, send))
    return sent


def headers_of(messages: list[Message]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in messages[0]["headers"]}


def body_of(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages[1:])


# -- Response, HTMLResponse, PlainTextResponse ---------------------------------------------


@pytest.mark.parametrize(
    ("response", "content_type", "body"),
    [
        (Response(b"raw"), None, b"raw"),
        (Response("caf\u00e9", media_type="text/plain"), "text/plain; charset=utf-8",
         "caf\u00e9".encode()),
        (Response("x", media_type="text/csv; charset=latin-1"), "text/csv; charset=latin-1",
         b"x"),
        (Response(b"{}", media_type="application/json"), "application/json", b"{}"),
        (Response(bytearray(b"ab")), None, b"ab"),
        (Response(memoryview(b"ab")), None, b"ab"),
        (Response(), None, b""),
        (HTMLResponse("<p>hi</p>"), "text/html; charset=utf-8", b"<p>hi</p>"),
        (PlainTextResponse("hi"), "text/plain; charset=utf-8", b"hi"),
    ],
)
def test_complete_responses(response: Response, content_type: str | None, body: bytes) -> None:
    sent = send_directly(response)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    headers = headers_of(sent)
    assert headers.get("content-type") == content_type
    assert headers["content-length"] == str(len(body))
    assert body_of(sent) == body


def test_response_takes_status_and_headers() -> None:
    response = Response("made", 201, headers={"X-Id": "7", "Cache-Control": "no-store"})
    sent = send_directly(response)
    assert sent[0]["status"] == 201
    assert headers_of(sent) == {"x-id": "7", "cache-control": "no-store", "content-length": "4"}
    assert repr(response) == "<Response 201>"


def test_response_refuses_content_it_cannot_send() -> None:
    with pytest.raises(ResponseError) as caught:
        Response({"a": 1})  # type: ignore[arg-type]
    assert str(caught.value) == (
        "Response takes bytes or str content, got dict; use JSONResponse for data"
    )


def test_content_length_is_computed_when_sent() -> None:
    response = Response("short")
    response.body = b"a longer body"
    sent = send_directly(response)
    assert headers_of(sent)["content-length"] == "13"
    assert send_directly(response)[0]["headers"].count((b"content-length", b"13")) == 1


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses_have_no_length_and_no_body(status: int) -> None:
    sent = send_directly(Response("ignored", status, media_type="text/plain"))
    assert sent[0]["status"] == status
    assert "content-length" not in headers_of(sent)
    assert body_of(sent) == b""


def test_head_gets_the_get_headers_without_the_body() -> None:
    sent = send_directly(HTMLResponse("<p>page</p>"), method="HEAD")
    assert headers_of(sent)["content-length"] == "11"
    assert body_of(sent) == b""


@pytest.mark.parametrize(
    "headers", [{"x-a": "1\r\nSet-Cookie: evil=1"}, {"x-a": "1\n"}, {"x-a\r\n": "1"}]
)
def test_header_values_with_newlines_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(HeaderValueError, match="CR, LF or NUL"):
        Response("x", headers=headers)
    response = Response("x")
    with pytest.raises(HeaderValueError, match="must be a single line"):
        response.headers.update(headers)
    assert response.raw_headers == []


def test_headers_are_a_live_view_of_the_raw_headers() -> None:
    response = PlainTextResponse("x")
    response.headers["x-a"] = "1"
    response.headers.append("vary", "Accept")
    assert response.raw_headers == [
        (b"content-type", b"text/plain; charset=utf-8"), (b"x-a", b"1"), (b"vary", b"Accept"),
    ]


# -- JSONResponse ----------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Item(msgspec.Struct):
    name: str
    tags: list[str] = []


class User(pydantic.BaseModel):
    name: str
    joined: datetime.date


@pytest.mark.parametrize(
    ("content", "body"),
    [
        ({"a": [1, 2.5, None, True]}, b'{"a":[1,2.5,null,true]}'),
        ([], b"[]"),
        ("text", b'"text"'),
        (None, b"null"),
        (Point(1, 2), b'{"x":1,"y":2}'),
        (Item("pen", ["blue"]), b'{"name":"pen","tags":["blue"]}'),
        (datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
         b'"2024-05-01T12:30:00Z"'),
        (datetime.date(2024, 5, 1), b'"2024-05-01"'),
        (uuid.UUID(int=1), b'"00000000-0000-0000-0000-000000000001"'),
        (Decimal("1.10"), b'"1.10"'),
        (Colour.RED, b'"red"'),
        ({1, 2}, b"[1,2]"),
        (User(name="ann", joined=datetime.date(2024, 1, 2)),
         b'{"name":"ann","joined":"2024-01-02"}'),
        ({"user": User(name="bo", joined=datetime.date(2024, 1, 2))},
         b'{"user":{"name":"bo","joined":"2024-01-02"}}'),
        ({"caf\u00e9": "\u20ac"}, '{"caf\u00e9":"\u20ac"}'.encode()),
    ],
)
def test_json_response_encodes_common_types(content: Any, body: bytes) -> None:
    response = JSONResponse(content)
    assert response.body == body
    sent = send_directly(response)
    assert headers_of(sent) == {"content-type": "application/json",
                                "content-length": str(len(body))}


@pytest.mark.parametrize("content", [object(), {"a": object()}, {1j}, lambda: None])
def test_json_response_refuses_what_it_cannot_encode(content: Any) -> None:
    with pytest.raises(ResponseError, match="cannot encode the response as JSON: "):
        JSONResponse(content)


def test_json_response_names_the_type_it_cannot_encode() -> None:
    class Thing:
        pass

    with pytest.raises(ResponseError) as caught:
        JSONResponse({"thing": Thing()})
    assert "Thing" in str(caught.value)


def test_json_response_with_headers_or_another_media_type() -> None:
    response = JSONResponse({"a": 1}, 201, headers={"x-a": "1"})
    assert response.status_code == 201
    assert response.headers.multi_items() == [("content-type", "application/json"), ("x-a", "1")]
    problem = JSONResponse({"a": 1}, media_type="application/problem+json")
    assert problem.headers["content-type"] == "application/problem+json"


# -- RedirectResponse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/next", "/next"),
        ("https://example.org/a?b=1&c=2#top", "https://example.org/a?b=1&c=2#top"),
        ("/a b", "/a%20b"),
        ("/caf\u00e9?q=\u20ac", "/caf%C3%A9?q=%E2%82%AC"),
        ("/already%20encoded", "/already%20encoded"),
        ("/tab\there", "/tab%09here"),
    ],
)
def test_redirect_location_is_quoted_once(url: str, location: str) -> None:
    response = RedirectResponse(url)
    assert response.status_code == 307
    sent = send_directly(response)
    assert headers_of(sent) == {"location": location, "content-length": "0"}


@pytest.mark.parametrize("status", [301, 302, 303, 308])
def test_redirect_status_can_be_chosen(status: int) -> None:
    assert RedirectResponse("/x", status).status_code == status


@pytest.mark.parametrize("url", ["/next\r\nSet-Cookie: evil=1", "/a\nb", "/a\rb", "/a\x00"])
def test_redirect_to_a_url_with_a_newline_is_refused(url: str) -> None:
    with pytest.raises(HeaderValueError) as caught:
        RedirectResponse(url)
    assert str(caught.value) == (
        f"the redirect URL {url!r} has a CR, LF or NUL character; check where it came from "
        "(never redirect to unchecked user input)"
    )


def test_redirect_through_the_client() -> None:
    app = Zephyr()

    @app.get("/old")
    async def old() -> RedirectResponse:
        return RedirectResponse("/new", 301, headers={"x-why": "moved"})

    @app.get("/new")
    async def new() -> str:
        return "here"

    with TestClient(app) as client:
        got = client.get("/old")
        assert (got.status_code, got.headers["location"], got.headers["x-why"]) == (
            301, "/new", "moved",
        )
        assert client.get("/old", follow_redirects=True).text == "here"


# -- StreamingResponse -----------------------------------------------------------------------


def test_streaming_a_sync_generator_runs_it_in_worker_threads() -> None:
    threads: list[str] = []

    def numbers() -> Iterator[str | bytes]:
        for n in range(3):
            threads.append(threading.current_thread().name)
            yield str(n) if n % 2 else str(n).encode()

    sent = send_directly(StreamingResponse(numbers(), media_type="text/plain"))
    assert headers_of(sent) == {"content-type": "text/plain; charset=utf-8"}
    assert [m.get("body") for m in sent[1:]] == [b"0", b"1", b"2", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert threading.main_thread().name not in threads


def test_streaming_an_async_generator_encodes_text_and_skips_empty_chunks() -> None:
    async def parts() -> AsyncIterator[str | bytes]:
        yield "caf\u00e9 "
        yield b""
        yield b"bytes"

    sent = send_directly(StreamingResponse(parts(), 202, headers={"x-a": "1"}))
    assert sent[0]["status"] == 202
    assert headers_of(sent) == {"x-a": "1"}
    assert [m["body"] for m in sent[1:]] == ["caf\u00e9 ".encode(), b"bytes", b""]


def test_streaming_any_iterable() -> None:
    sent = send_directly(StreamingResponse([b"a", "b"]))
    assert body_of(sent) == b"ab"


def test_streaming_head_sends_no_body_and_does_not_run_the_generator() -> None:
    started: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"never"

    sent = send_directly(StreamingResponse(body()), method="HEAD")
    assert [m.get("body") for m in sent[1:]] == [b""]
    assert started == []


def test_streaming_through_the_client_arrives_in_pieces() -> None:
    app = Zephyr()

    @app.get("/")
    async def stream() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for n in range(3):
                yield f"line {n}\n"

        return StreamingResponse(lines(), media_type="text/plain")

    with TestClient(app) as client, client.stream("GET", "/") as got:
        assert "content-length" not in got.headers
        assert list(got.iter_raw()) == [b"line 0\n", b"line 1\n", b"line 2\n"]


# -- FileResponse ----------------------------------------------------------------------------


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.txt"
    path.write_bytes(b"0123456789" * 10)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path


def test_file_response_sends_the_file_with_validators(report: Path) -> None:
    response = FileResponse(report, chunk_size=30)
    sent = send_directly(response)
    headers = headers_of(sent)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-length"] == "100"
    assert headers["last-modified"] == formatdate(1_700_000_000, usegmt=True)
    assert headers["etag"].startswith('"')
    assert len(headers["etag"]) == 34
    assert "content-disposition" not in headers
    assert [len(m["body"]) for m in sent[1:]] == [30, 30, 30, 10, 0]
    assert body_of(sent) == report.read_bytes()


def test_the_etag_changes_with_the_file(report: Path) -> None:
    before = FileResponse(report).headers["etag"]
    assert FileResponse(report).headers["etag"] == before
    report.write_bytes(b"changed")
    assert FileResponse(report).headers["etag"] != before


@pytest.mark.parametrize(
    ("name", "media_type", "expected"),
    [
        ("image.png", None, "image/png"),
        ("page.html", None, "text/html; charset=utf-8"),
        ("data.unknown-ext", None, "application/octet-stream"),
        ("noext", None, "application/octet-stream"),
        ("data.bin", "application/x-custom", "application/x-custom"),
    ],
)
def test_file_content_type_is_guessed_from_the_name(
    tmp_path: Path, name: str, media_type: str | None, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    assert FileResponse(path, media_type=media_type).headers["content-type"] == expected


@pytest.mark.parametrize(
    ("filename", "disposition"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ('my "best" report.pdf',
         'attachment; filename="my best report.pdf"; '
         "filename*=UTF-8''my%20%22best%22%20report.pdf"),
        ("evil\r\nSet-Cookie: a=1.txt",
         'attachment; filename="evilSet-Cookie: a=1.txt"; '
         "filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20a%3D1.txt"),
        ("r\u00e9sum\u00e9.pdf",
         "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
        ("\u62a5\u544a.pdf",
         "attachment; filename=\".pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"),
        ("\u62a5\u544a",
         "attachment; filename=\"download\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A"),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ("C:\\temp\\a.txt", 'attachment; filename="a.txt"'),
        ("back\\slash", 'attachment; filename="slash"'),
    ],
)
def test_download_filenames_cannot_break_the_header(
    report: Path, filename: str, disposition: str
) -> None:
    response = FileResponse(report, filename=filename)
    assert response.headers["content-disposition"] == disposition


def test_download_content_type_follows_the_download_name(report: Path) -> None:
    response = FileResponse(report, filename="export.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(
    ("options", "disposition"),
    [
        ({"inline": False}, 'attachment; filename="report.txt"'),
        ({"filename": "a.txt", "inline": True}, 'inline; filename="a.txt"'),
        ({"inline": True}, None),
        ({}, None),
    ],
)
def test_inline_or_attachment(
    report: Path, options: dict[str, Any], disposition: str | None
) -> None:
    assert FileResponse(report, **options).headers.get("content-disposition") == disposition


def test_a_missing_file_or_a_directory_is_a_404(tmp_path: Path) -> None:
    app = Zephyr()

    @app.get("/missing")
    async def missing() -> FileResponse:
        return FileResponse(tmp_path / "nope.txt")

    @app.get("/directory")
    async def directory() -> FileResponse:
        return FileResponse(tmp_path)

    with TestClient(app) as client:
        for path, detail in [("/missing", "the requested file does not exist"),
                             ("/directory", "the requested path is not a file")]:
            got = client.get(path)
            assert got.status_code == 404
            assert got.json()["detail"] == detail
    with pytest.raises(NotFound):
        FileResponse(tmp_path / "nope.txt")


def test_file_response_through_the_client_get_and_head(report: Path) -> None:
    app = Zephyr()

    @app.get("/report")
    async def download() -> FileResponse:
        return FileResponse(report, filename="report.txt")

    with TestClient(app) as client:
        got = client.get("/report")
        head = client.head("/report")
    assert got.content == report.read_bytes()
    assert got.headers["content-disposition"] == 'attachment; filename="report.txt"'
    assert head.status_code == 200
    assert head.headers["content-length"] == "100"
    assert head.content == b""


# -- background tasks ----------------------------------------------------------------------


def serve_once(app: Zephyr, path: str = "/", sent: list[Message] | None = None) -> list[Message]:
    """One GET through the app's ASGI entry, without a test client: the messages it sent."""
    sent = [] if sent is None else sent

    async def main() -> None:
        async def receive() -> Message:
            await asyncio.Event().wait()
            return {}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")]}
        await app(scope, receive, send)

    asyncio.run(main())
    return sent


class AsyncNotifier:
    """A task that is an object with an async ``__call__``."""

    def __init__(self, events: list[Any], sent: list[Message]) -> None:
        self.events = events
        self.sent = sent

    async def __call__(self, label: str) -> None:
        self.events.append((label, len(self.sent)))


def test_tasks_run_in_order_after_the_body_is_sent() -> None:
    app = Zephyr()
    events: list[Any] = []
    sent: list[Message] = []

    def sync_task(label: str, *, suffix: str) -> None:
        events.append((label + suffix, len(sent), threading.current_thread().name))

    async def async_task(label: str) -> None:
        events.append((label, len(sent)))

    @app.get("/")
    async def home() -> Response:
        response = PlainTextResponse("done")
        response.add_task(sync_task, "sync", suffix="!")
        response.add_task(async_task, "async")
        response.add_task(AsyncNotifier(events, sent), "callable object")
        return response

    serve_once(app, sent=sent)
    assert body_of(sent) == b"done"
    assert events[0][:2] == ("sync!", 2)
    assert events[0][2].startswith("zephyr-sync")
    assert events[1:] == [("async", 2), ("callable object", 2)]


def test_a_failing_task_is_logged_and_the_client_still_gets_its_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Zephyr()
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("the task broke")

    async def after() -> None:
        ran.append("after")

    @app.get("/")
    async def home() -> Response:
        response = Response("ok")
        response.add_task(boom)
        response.add_task(after)
        return response

    with caplog.at_level(logging.ERROR, logger="zephyr.tasks"), TestClient(app) as client:
        got = client.get("/")
    assert (got.status_code, got.text) == (200, "ok")
    assert ran == ["after"]
    [record] = [r for r in caplog.records if r.name == "zephyr.tasks"]
    assert record.getMessage() == "background task 'boom' failed"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the task broke"


def test_tasks_run_after_a_streamed_response_too() -> None:
    app = Zephyr()
    ran: list[str] = []

    @app.get("/")
    async def home() -> StreamingResponse:
        response = StreamingResponse(iter([b"a", b"b"]))
        response.add_task(ran.append, "task")
        return response

    with TestClient(app) as client:
        assert client.get("/").content == b"ab"
    assert ran == ["task"]


# -- the BackgroundTasks parameter ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_background_tasks_parameter_runs_its_tasks_after_the_body_is_sent(kind: str) -> None:
    app = Zephyr()
    events: list[Any] = []
    sent: list[Message] = []

    def sync_task(label: str, *, suffix: str) -> None:
        events.append((label + suffix, len(sent)))

    async def async_task(label: str) -> None:
        events.append((label, len(sent)))

    def add(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(sync_task, "sync", suffix="!")
        tasks.add_task(async_task, "async")
        tasks.add_task(AsyncNotifier(events, sent), "callable object")
        return {"queued": True}  # a plain dict: coerced after the handler returned

    async def add_async(tasks: BackgroundTasks) -> dict[str, bool]:
        return add(tasks)

    app.add_route("/", add_async if kind == "async" else add)
    serve_once(app, sent=sent)
    assert body_of(sent) == b'{"queued":true}'
    # Each task saw both messages of the response already sent.
    assert events == [("sync!", 2), ("async", 2), ("callable object", 2)]


def test_dependencies_and_the_handler_share_one_background_tasks() -> None:
    app = Zephyr()
    ran: list[str] = []

    def audit(tasks: BackgroundTasks) -> None:
        tasks.add_task(ran.append, "audit (route dependency)")

    def current_user(tasks: BackgroundTasks) -> str:
        tasks.add_task(ran.append, "seen (dependency)")
        return "ada"

    @app.get("/", dependencies=[Depends(audit)])
    async def home(tasks: BackgroundTasks, user: str = Depends(current_user)) -> str:
        tasks.add_task(ran.append, f"greeted {user} (handler)")
        return "hi"

    with TestClient(app) as client:
        assert client.get("/").text == "hi"
    assert ran == ["audit (route dependency)", "seen (dependency)", "greeted ada (handler)"]


@pytest.mark.parametrize("handled", [True, False])
def test_tasks_do_not_run_when_the_handler_raises(
    handled: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = Zephyr()
    ran: list[str] = []
    if handled:
        app.errorhandler(409)(lambda exc: ({"conflict": True}, 409))

    def note(tasks: BackgroundTasks) -> None:
        tasks.add_task(ran.append, "from the dependency")

    @app.get("/", dependencies=[Depends(note)])
    async def home(tasks: BackgroundTasks) -> None:
        tasks.add_task(ran.append, "from the handler")
        if handled:
            abort(409)
        raise RuntimeError("the handler broke")

    with caplog.at_level(logging.CRITICAL, logger="zephyr.error"), TestClient(app) as client:
        assert client.get("/").status_code == (409 if handled else 500)
    assert ran == []


def test_tasks_run_before_dependencies_exit_and_uploads_close() -> None:
    app = Zephyr()
    events: list[str] = []

    async def session() -> AsyncIterator[str]:
        yield "session"
        events.append("session closed")

    async def thumbnail(upload: UploadFile, db: str) -> None:
        events.append(f"thumbnail of {await upload.read()!r} with the {db}")

    @app.post("/avatar")
    async def avatar(picture: UploadFile, tasks: BackgroundTasks,
                     db: str = Depends(session)) -> dict[str, str]:
        tasks.add_task(thumbnail, picture, db)
        return {"name": picture.filename or ""}

    with TestClient(app) as client:
        r = client.post("/avatar", files={"picture": ("me.png", b"PNG")})
    assert r.json() == {"name": "me.png"}
    assert events == ["thumbnail of b'PNG' with the session", "session closed"]


def test_an_override_that_takes_background_tasks_after_startup_still_runs_them() -> None:
    app = Zephyr()
    ran: list[str] = []

    def sender() -> str:
        return "real"

    def fake_sender(tasks: BackgroundTasks) -> str:
        tasks.add_task(ran.append, "fake mail")
        return "fake"

    @app.get("/")
    async def home(mailer: str = Depends(sender)) -> str:
        return mailer

    with TestClient(app) as client:
        app.dependency_overrides[sender] = fake_sender  # the route was planned without it
        assert client.get("/").text == "fake"
    assert ran == ["fake mail"]


def test_background_tasks_is_no_request_value() -> None:
    app = Zephyr(openapi=True)

    @app.get("/", name="home")
    async def home(tasks: BackgroundTasks) -> None: ...

    with TestClient(app) as client:
        operation = client.get("/openapi.json").json()["paths"]["/"]["get"]
    assert "parameters" not in operation
    assert sorted(operation["responses"]) == ["204"]  # nothing to refuse with a 422

