"""The small Zephyr apps the integration tests serve with real uvicorn processes.

Each app is a module-level variable so ``uvicorn tests.integration.apps:<name>``
can import it. Handlers that must report what happened inside the server
process (a cancellation, a shutdown) write marker files into the directory
named by the ``ZEPHYR_IT_MARKERS`` environment variable.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from zephyr import BadRequest, Request, StreamingResponse, Zephyr
from zephyr.converters import PathConverter

MARKERS_ENV = "ZEPHYR_IT_MARKERS"


def marker(name: str) -> Path:
    """The marker file ``name`` in the directory the test passed through the environment."""
    if not name.isalnum():
        raise BadRequest(f"marker token {name!r} must be letters and digits only")
    return Path(os.environ[MARKERS_ENV]) / name


def write_marker(name: str, text: str) -> None:
    """Append a line to marker ``name`` (appending keeps the order of several events)."""
    with marker(name).open("a", encoding="utf-8") as file:
        file.write(text + "\n")


# -- the main app: round trips, body limits, disconnects, threads, URLs -------------------

app = Zephyr(__name__)
# Both sync handlers must be inside the pool at once to pass this barrier.
sync_barrier = threading.Barrier(2, timeout=5)


@app.get("/")
async def home() -> str:
    return "<h1>Hello from Zephyr</h1>"


@app.get("/json")
async def json_data() -> dict[str, Any]:
    return {"framework": "zephyr", "numbers": [1, 2, 3]}


@app.get("/users/<int:user_id>", name="user")
async def user(user_id: int, verbose: bool = False) -> dict[str, Any]:
    return {"user_id": user_id, "verbose": verbose}


@app.get("/items/<name>")
async def item(name: str) -> dict[str, str]:
    return {"name": name}


@app.get("/query")
async def query(request: Request) -> dict[str, list[str]]:
    return {key: request.query.getlist(key) for key in request.query}


# The body endpoints are called like scripts call an API (no browser verdict, no token):
# these tests are about bodies; test_security_server.py attacks CSRF on its own app.
@app.post("/echo", csrf=False)
async def echo(request: Request) -> dict[str, Any]:
    return {"received": await request.json()}


@app.post("/length", csrf=False)
async def length(request: Request, token: str = "") -> dict[str, int]:
    size = len(await request.body())
    if token:
        write_marker(token, str(size))
    return {"length": size}


@app.post("/upload", max_body_size=1024, csrf=False)
async def upload(request: Request) -> dict[str, int]:
    return {"length": len(await request.body())}


@app.get("/connection")
async def connection(request: Request) -> dict[str, Any]:
    client = request.client
    return {"client_port": client.port if client else None}


@app.get("/thread")
def thread_name() -> dict[str, str]:
    return {"thread": threading.current_thread().name}


@app.get("/barrier")
def barrier() -> dict[str, Any]:
    index = sync_barrier.wait()
    return {"thread": threading.current_thread().name, "index": index}


@app.get("/slow")
async def slow(token: str) -> str:
    write_marker(token, "started")
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        write_marker(token, "cancelled")
        raise
    write_marker(token, "finished")
    return "too late"


@app.get("/stream")
async def endless_stream(token: str) -> StreamingResponse:
    async def ticks() -> AsyncIterator[str]:
        count = 0
        try:
            while True:
                yield f"tick {count}\n"
                count += 1
                await asyncio.sleep(0.01)
        finally:
            write_marker(token, f"stopped after {count}")

    return StreamingResponse(ticks(), media_type="text/plain")


@app.get("/where/<int:item_id>")
async def where(request: Request, item_id: int) -> dict[str, Any]:
    return {
        "url": str(request.url),
        "path": request.path,
        "root_path": request.scope.get("root_path", ""),
        "url_for": request.url_for("user", user_id=item_id),
        "external": request.url_for("user", user_id=item_id, _external=True),
    }


async def legacy(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app that reports the scope it was given."""
    import json

    body = json.dumps({
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "root_path": scope["root_path"],
        "query_string": scope["query_string"].decode("latin-1"),
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


app.mount("/legacy", legacy)


# -- trailing-slash redirects -----------------------------------------------------------

class PageConverter(PathConverter):
    """Any path that does not end in a slash: ``/a/b`` matches, ``/a/b/`` redirects to it."""

    def to_python(self, value: str) -> str:
        if value.endswith("/"):
            raise ValueError(value)
        return super().to_python(value)


redirect_app = Zephyr(__name__)
redirect_app.add_converter("page", PageConverter)


@redirect_app.get("/docs")
async def docs() -> str:
    return "docs"


@redirect_app.get("/<page:page>")
async def page(page: str) -> dict[str, str]:
    return {"page": page}


# -- lifespan ---------------------------------------------------------------------------

failing_app = Zephyr(__name__)


@failing_app.on_startup
async def connect_database() -> None:
    raise RuntimeError("database unreachable")


# A registration mistake found when routes are composed must stop the server too,
# never leave it answering 404 to everything.
misregistered_app = Zephyr(__name__)


@misregistered_app.get("/")
async def fine() -> str:
    return "ok"


@misregistered_app.get("/items/<int:item_id>")
async def forgets_its_parameter() -> str:
    return "never served"


lifespan_app = Zephyr(__name__)


@lifespan_app.lifespan
@asynccontextmanager
async def pool() -> AsyncIterator[dict[str, str]]:
    write_marker("lifespan", "lifespan entered")
    yield {"pool": "connected pool"}
    write_marker("lifespan", "lifespan exited")


@lifespan_app.on_startup
def started() -> None:
    write_marker("lifespan", "startup")


@lifespan_app.on_shutdown
async def stopping() -> None:
    write_marker("lifespan", "shutdown")


@lifespan_app.get("/state")
async def state(request: Request) -> dict[str, str]:
    return {"pool": request.state.pool}


@lifespan_app.get("/wait")
async def wait_a_little() -> dict[str, str]:
    write_marker("lifespan", "request started")
    await asyncio.sleep(0.5)
    write_marker("lifespan", "request finished")
    return {"waited": "yes"}



# -- debug mode ---------------------------------------------------------------------------

debug_app = Zephyr(__name__, debug=True)


@debug_app.get("/boom")
async def boom() -> None:
    raise RuntimeError("the debug page shows this")
