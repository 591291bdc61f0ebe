"""The test clients themselves: lifespan, cookies, redirects, bodies, streaming, exceptions."""

from __future__ import annotations

import asyncio
import re
import threading
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from zephyr import RedirectResponse, Request, Response, StreamingResponse, UploadFile, Zephyr
from zephyr.testing import AsyncTestClient, TestClient


class FatalError(BaseException):
    """Not an Exception: Zephyr does not turn it into a 500."""


def echo_app() -> Zephyr:
    """An app that reports what it received, sets cookies and redirects."""
    app = Zephyr()
    app.state.started = False

    @app.on_startup
    def start() -> None:
        app.state.started = True

    @app.get("/started")
    async def started() -> dict[str, bool]:
        return {"started": app.state.started}

    @app.post("/json")
    async def echo_json(request: Request) -> Any:
        return await request.json()

    @app.post("/form")
    async def echo_form(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {key: await describe(value) for key, value in form.multi_items()}

    @app.get("/headers")
    async def echo_headers(request: Request) -> dict[str, Any]:
        return {"x-token": request.headers.get("x-token"), "cookies": request.cookies,
                "client": list(request.client or ()), "url": str(request.url)}

    @app.get("/login")
    async def login() -> Response:
        response = Response("logged in")
        response.set_cookie("session", "abc123")
        return response

    @app.get("/old")
    async def old() -> RedirectResponse:
        return RedirectResponse("/new?from=old")

    @app.get("/new")
    async def new(request: Request) -> dict[str, str]:
        return {"from": request.query.get("from", "")}

    @app.get("/fatal")
    async def fatal() -> str:
        raise FatalError("stop the test")

    @app.get("/error")
    async def error() -> str:
        raise RuntimeError("an ordinary bug")

    return app


async def describe(value: Any) -> Any:
    """A form value as JSON: text as is, an upload as [filename, content type, text]."""
    if isinstance(value, UploadFile):
        return [value.filename, value.content_type, (await value.read()).decode()]
    return value


def count_testclient_threads() -> int:
    return sum(t.name == "zephyr-testclient" for t in threading.enumerate())


# -- TestClient -------------------------------------------------------------------------------


def test_the_context_manager_runs_the_lifespan() -> None:
    app = Zephyr()
    events: list[str] = []
    app.on_startup(lambda: events.append("startup"))
    app.on_shutdown(lambda: events.append("shutdown"))
    with TestClient(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_without_with_the_app_works_but_the_lifespan_does_not_run() -> None:
    client = TestClient(echo_app())
    try:
        assert client.get("/started").json() == {"started": False}
    finally:
        client.close()
    with TestClient(echo_app()) as client:
        assert client.get("/started").json() == {"started": True}


def test_one_app_serves_several_clients_in_a_row() -> None:
    app = Zephyr()
    starts: list[str] = []
    app.on_startup(lambda: starts.append("start"))

    @app.get("/")
    def home() -> str:  # a sync handler: the thread pool is made again after a shutdown
        return "ok"

    for _ in range(2):
        with TestClient(app) as client:
            assert client.get("/").text == "ok"
    assert starts == ["start", "start"]


def test_a_failed_startup_leaves_no_event_loop_thread_behind() -> None:
    app = Zephyr()
    app.on_startup(lambda: 1 / 0)
    before = count_testclient_threads()
    with pytest.raises(RuntimeError, match="startup failed: ZeroDivisionError: division by"):
        TestClient(app).__enter__()
    assert count_testclient_threads() == before


def test_a_failed_shutdown_raises_on_exit() -> None:
    app = Zephyr()

    @app.on_shutdown
    def close() -> None:
        raise OSError("disk gone")

    client = TestClient(app)
    client.__enter__()
    with pytest.raises(RuntimeError, match=r"^application shutdown failed: OSError: disk gone$"):
        client.__exit__()


def test_cookies_are_kept_between_requests() -> None:
    with TestClient(echo_app()) as client:
        client.get("/login")
        assert client.get("/headers").json()["cookies"] == {"session": "abc123"}


def test_redirects_are_followed_only_when_asked() -> None:
    with TestClient(echo_app()) as client:
        response = client.get("/old")
        assert (response.status_code, response.headers["location"]) == (307, "/new?from=old")
        followed = client.get("/old", follow_redirects=True)
        assert followed.json() == {"from": "old"}
        assert [r.status_code for r in followed.history] == [307]
    with TestClient(echo_app(), follow_redirects=True) as client:
        assert client.get("/old").json() == {"from": "old"}


def test_json_data_and_files_bodies() -> None:
    with TestClient(echo_app()) as client:
        assert client.post("/json", json={"a": [1, 2]}).json() == {"a": [1, 2]}
        assert client.post("/form", data={"name": "Ada"}).json() == {"name": "Ada"}
        response = client.post(
            "/form", data={"title": "notes"},
            files={"upload": ("notes.txt", b"hello file", "text/plain")},
        )
    assert response.json() == {"title": "notes",
                               "upload": ["notes.txt", "text/plain", "hello file"]}


def test_headers_cookies_client_address_and_base_url() -> None:
    with TestClient(echo_app(), cookies={"theme": "dark"}) as client:
        body = client.get("/headers", headers={"X-Token": "t0k"}).json()
    assert body == {"x-token": "t0k", "cookies": {"theme": "dark"},
                    "client": ["127.0.0.1", 50000], "url": "http://localhost/headers"}


def test_requests_can_come_from_another_client_address() -> None:
    with TestClient(echo_app(), client=("203.0.113.9", 4000)) as client:
        assert client.get("/headers").json()["client"] == ["203.0.113.9", 4000]

    async def ask() -> Any:
        async with AsyncTestClient(echo_app(), client=("198.51.100.2", 80)) as client:
            return (await client.get("/headers")).json()["client"]

    assert asyncio.run(ask()) == ["198.51.100.2", 80]


def test_root_path_is_passed_to_the_app() -> None:
    app = Zephyr()

    @app.get("/users")
    async def users(request: Request) -> dict[str, str]:
        return {"root_path": request.scope["root_path"], "path": request.path,
                "url": request.url_for("users")}

    with TestClient(app, root_path="/api") as client:
        assert client.get("/users").json() == {"root_path": "/api", "path": "/users",
                                               "url": "/api/users"}


def test_streaming_responses_are_read_as_they_are_produced() -> None:
    app = Zephyr()
    release = threading.Event()

    async def produce() -> AsyncIterator[bytes]:
        yield b"first"
        for _ in range(400):  # at most two seconds, so a buffering client fails, not hangs
            if release.is_set():
                break
            await asyncio.sleep(0.005)
        else:
            yield b"(the client waited for the whole body)"
        yield b"second"

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(produce(), media_type="text/plain")

    with TestClient(app) as client, client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        assert next(chunks) == b"first"
        release.set()
        assert list(chunks) == [b"second"]


def test_leaving_a_stream_early_stops_the_app() -> None:
    app = Zephyr()
    stopped = threading.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(0.001)
        finally:
            stopped.set()

    @app.get("/ticks")
    async def ticks() -> StreamingResponse:
        return StreamingResponse(endless())

    with TestClient(app) as client:
        with client.stream("GET", "/ticks") as response:
            assert next(response.iter_bytes()) == b"tick"
        assert stopped.wait(1)


def test_the_apps_base_exception_propagates_but_an_exception_is_a_500() -> None:
    with TestClient(echo_app()) as client:
        with pytest.raises(FatalError, match="stop the test"):
            client.get("/fatal")
        assert client.get("/error").status_code == 500
        assert client.get("/started").status_code == 200  # the client still works


def test_an_app_that_sends_no_response_is_reported() -> None:
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    client = TestClient(silent)
    try:
        with pytest.raises(RuntimeError, match="the app finished without sending a response"):
            client.get("/")
    finally:
        client.close()


# -- AsyncTestClient -------------------------------------------------------------------------------


def test_async_client_lifespan_cookies_bodies_and_redirects() -> None:
    app = echo_app()

    async def main() -> None:
        async with AsyncTestClient(app) as client:
            assert (await client.get("/started")).json() == {"started": True}
            await client.get("/login")
            assert (await client.get("/headers")).json()["cookies"] == {"session": "abc123"}
            assert (await client.post("/json", json=[1, "two"])).json() == [1, "two"]
            assert (await client.post("/form", data={"k": "v"})).json() == {"k": "v"}
            followed = await client.get("/old", follow_redirects=True)
            assert followed.json() == {"from": "old"}
            with pytest.raises(FatalError, match="stop the test"):
                await client.get("/fatal")

    asyncio.run(main())
    assert app.state.started is True


def test_async_client_streams_as_produced() -> None:
    app = Zephyr()
    release = asyncio.Event()

    async def produce() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.wait_for(release.wait(), 2)
        yield b"second"

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(produce())

    async def main() -> list[bytes]:
        chunks: list[bytes] = []
        async with AsyncTestClient(app) as client, client.stream("GET", "/stream") as response:
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                release.set()
        return chunks

    assert asyncio.run(main()) == [b"first", b"second"]


def test_async_client_startup_failure() -> None:
    app = Zephyr()

    @app.lifespan
    def broken() -> Any:
        raise LookupError("no config")

    async def main() -> None:
        async with AsyncTestClient(app):
            pass

    with pytest.raises(RuntimeError, match="startup failed: LookupError: no config"):
        asyncio.run(main())


def test_the_test_extra_brings_the_test_client_and_pytest() -> None:
    # `pip install 'zephyr[test]'` is what the quick start tells a project to run its tests.
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    test_extra = extras["optional-dependencies"]["test"]
    assert {re.split(r"[\[<>=!~; ]", requirement)[0] for requirement in test_extra} >= {
        "httpx", "pytest",
    }
