"""Context globals: ``request``, ``g`` and ``current_app``, and run_sync carrying them along."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from zephyr import ContextError, Request, Response, Zephyr, current_app, current_user, g, request
from zephyr.concurrency import run_sync
from zephyr.middleware import CallNext
from zephyr.testing import AsyncTestClient, TestClient


def test_globals_inside_middleware_hooks_handlers_and_error_handlers() -> None:
    app = Zephyr("ctx")
    seen: list[tuple[str, str, Any, str]] = []

    def note(where: str) -> None:
        seen.append((where, request.path, g.get("step"), current_app.import_name))

    @app.middleware
    async def middleware(req: Request, call_next: CallNext) -> Response:
        g.step = 1
        note("middleware")
        return await call_next(req)

    @app.before_request
    def before() -> None:
        g.step += 1
        note("before")

    @app.after_request
    def after(response: Response) -> None:
        note("after")

    @app.errorhandler(LookupError)
    async def lookup_failed(exc: LookupError) -> tuple[str, int]:
        note("errorhandler")
        return "gone", 410

    @app.get("/fail")
    async def fail() -> str:
        g.step += 1
        note("handler")
        raise LookupError

    with TestClient(app) as client:
        assert client.get("/fail").status_code == 410
    assert seen == [
        ("middleware", "/fail", 1, "ctx"),
        ("before", "/fail", 2, "ctx"),
        ("handler", "/fail", 3, "ctx"),
        ("errorhandler", "/fail", 3, "ctx"),
        ("after", "/fail", 3, "ctx"),
    ]


def test_g_is_request_state() -> None:
    app = Zephyr()

    @app.middleware
    async def login(req: Request, call_next: CallNext) -> Response:
        g.user = "ada"
        return await call_next(req)

    @app.get("/")
    async def home(req: Request) -> dict[str, Any]:
        req.state.role = "admin"
        return {"user": req.state.user, "role": g.role, "has_user": "user" in g,
                "has_other": "other" in g}

    with TestClient(app) as client:
        assert client.get("/").json() == {"user": "ada", "role": "admin", "has_user": True,
                                          "has_other": False}


def test_g_is_fresh_for_every_request() -> None:
    app = Zephyr()

    @app.get("/")
    async def home() -> dict[str, Any]:
        before = g.get("count")
        g.count = 1
        return {"before": before}

    with TestClient(app) as client:
        assert client.get("/").json() == {"before": None}
        assert client.get("/").json() == {"before": None}


def test_concurrent_requests_each_see_their_own_request() -> None:
    app = Zephyr()

    @app.get("/<name>")
    async def echo(name: str) -> dict[str, str]:
        g.name = name
        await asyncio.sleep(0.01)  # the other requests run meanwhile
        return {"path": request.path, "g": g.name}

    async def main() -> list[dict[str, str]]:
        async with AsyncTestClient(app) as client:
            responses = await asyncio.gather(*(client.get(f"/{n}") for n in "abc"))
        return [r.json() for r in responses]

    assert asyncio.run(main()) == [{"path": f"/{n}", "g": n} for n in "abc"]


def test_sync_handlers_and_run_sync_see_the_globals_in_the_app_thread_pool() -> None:
    app = Zephyr("pooled")

    def blocking_lookup() -> tuple[str, str, str]:
        return request.path, g.user, threading.current_thread().name

    @app.middleware
    async def login(req: Request, call_next: CallNext) -> Response:
        g.user = "ada"
        return await call_next(req)

    @app.get("/async")
    async def from_async() -> list[str]:
        return list(await run_sync(blocking_lookup))

    @app.get("/sync")
    def from_sync() -> list[str]:
        return [*blocking_lookup(), current_app.import_name]

    with TestClient(app) as client:
        async_path, async_user, async_thread = client.get("/async").json()
        sync_path, sync_user, sync_thread, app_name = client.get("/sync").json()
    assert (async_path, async_user) == ("/async", "ada")
    assert (sync_path, sync_user, app_name) == ("/sync", "ada", "pooled")
    assert async_thread.startswith("zephyr-sync")
    assert sync_thread.startswith("zephyr-sync")


def test_run_sync_outside_a_request_uses_the_default_pool() -> None:
    async def main() -> str:
        return await run_sync(lambda: threading.current_thread().name)

    name = asyncio.run(main())
    assert not name.startswith("zephyr-sync")
    assert name != threading.current_thread().name


def test_teardown_hooks_can_still_use_the_globals() -> None:
    app = Zephyr()
    closed: list[tuple[str, str]] = []

    @app.before_request
    def open_db() -> None:
        g.db = "connection"

    @app.teardown_request
    def close_db(exc: BaseException | None) -> None:
        closed.append((request.path, g.db))

    @app.get("/")
    async def home() -> str:
        return "ok"

    with TestClient(app) as client:
        client.get("/")
    assert closed == [("/", "connection")]


@pytest.mark.parametrize(
    ("use", "message"),
    [
        (lambda: request.path, "'request' is only available while a request is being "
         "handled (in a handler, middleware or hook); outside one, pass the request object "
         "explicitly"),
        (lambda: g.user, "'g' is only available while a request is being handled; it is the "
         "per-request namespace (request.state)"),
        (lambda: setattr(g, "user", 1), "'g' is only available while a request"),
        (lambda: "user" in g, "'g' is only available while a request"),
        (lambda: current_app.config, "'current_app' is only available while a request or the "
         "app's lifespan runs; import your app object instead"),
    ],
)
def test_outside_a_request_the_globals_raise_a_helpful_context_error(
    use: Any, message: str
) -> None:
    with pytest.raises(ContextError) as info:
        use()
    assert str(info.value).startswith(message)
    assert isinstance(info.value, RuntimeError)


def test_unbound_proxies_have_a_readable_repr() -> None:
    assert repr(request) == "<request proxy, unbound>"
    assert repr(g) == "<g proxy, unbound>"
    assert repr(current_app) == "<current_app proxy, unbound>"


def test_a_bound_proxy_repr_shows_its_target() -> None:
    app = Zephyr()

    @app.get("/here")
    async def here() -> str:
        return repr(request)

    with TestClient(app) as client:
        assert client.get("/here").text == "<request proxy for <Request GET '/here'>>"


def test_current_user_is_falsy_when_anonymous_and_refused_outside_a_request() -> None:
    app = Zephyr()

    @app.get("/")
    async def home() -> dict[str, Any]:
        return {"anonymous": not current_user, "id": current_user.id}

    with TestClient(app) as client:
        assert client.get("/").json() == {"anonymous": True, "id": None}
    with pytest.raises(ContextError) as info:
        bool(current_user)
    assert str(info.value) == (
        "'current_user' is only available while a request is being handled; "
        "outside one there is no user"
    )
