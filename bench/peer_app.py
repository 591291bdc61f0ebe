"""Zephyr apps for the peer-bench harness (../shared/peer-bench): the three endpoints.

Written the way a user would: the ordinary decorators, dict return values and
``await request.json()``; no caching or special-casing of the benchmark paths.
"""

from __future__ import annotations

from typing import Any

from apps.spec import TARGET_ROUTE, dummy_routes, render

from zephyr import Request, Zephyr


def _path(segments: Any) -> str:
    return render(segments, "{{{name}:int}}", "{{{name}}}")


def _dummy(i: int) -> Any:
    async def dummy(id: int, slug: str) -> dict[str, Any]:
        return {"dummy": i, "id": id, "slug": slug}

    dummy.__name__ = f"dummy{i}"
    return dummy


def build() -> Zephyr:
    """The benchmark app: /json, /echo, 50 decoys, then the target route."""
    app = Zephyr(__name__)

    @app.get("/json")
    async def json_endpoint() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        return await request.json()

    for i, segments in dummy_routes():
        app.get(_path(segments))(_dummy(i))

    @app.get(_path(TARGET_ROUTE))
    async def user_post(id: int, slug: str) -> dict[str, Any]:
        return {"id": id, "slug": slug}

    return app


app = build()
