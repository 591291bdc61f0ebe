"""Zephyr apps for the peer-bench harness (../shared/peer-bench): the three endpoints.

Written the way a user would: the ordinary decorators, dict return values and
``await request.json()``; no caching or special-casing of the benchmark paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from apps.spec import TARGET_ROUTE, dummy_routes, render

from zephyr import Depends, Query, Request, Zephyr

# Every default security feature stays on; outside debug mode that needs a strong key.
BENCH_SECRET_KEY = "bench-only-secret-key-3f9a1c7e5b2d4086a9c1e7f3b5d2a4c6"  # noqa: S105


def _path(segments: Any) -> str:
    return render(segments, "{{{name}:int}}", "{{{name}}}")


def _dummy(i: int) -> Any:
    async def dummy(id: int, slug: str) -> dict[str, Any]:
        return {"dummy": i, "id": id, "slug": slug}

    dummy.__name__ = f"dummy{i}"
    return dummy


def build() -> Zephyr:
    """The benchmark app: /json, /echo, 50 decoys, then the target route."""
    app = Zephyr(__name__, secret_key=BENCH_SECRET_KEY)

    @app.get("/json")
    async def json_endpoint() -> dict[str, str]:
        return {"message": "Hello, World!"}

    # The harness posts like a script (no Sec-Fetch-Site, Origin or token): a JSON API
    # for such clients opts out of CSRF, as the security docs say.
    @app.post("/echo", csrf=False)
    async def echo(request: Request) -> Any:
        return await request.json()

    _add_users_routes(app)
    return app


def _add_users_routes(app: Zephyr) -> None:
    """The 50 decoys, then the target route (registered after them, as the contract says)."""
    for i, segments in dummy_routes():
        app.get(_path(segments))(_dummy(i))

    @app.get(_path(TARGET_ROUTE))
    async def user_post(id: int, slug: str) -> dict[str, Any]:
        return {"id": id, "slug": slug}


app = build()


# -- the typed variant: validated bodies, typed query parameters and a dependency -----------


class Customer(msgspec.Struct):
    id: int
    name: str
    email: str
    roles: list[str]
    score: float


class LineItem(msgspec.Struct):
    sku: str
    name: str
    qty: Annotated[int, msgspec.Meta(ge=1)]
    price: Annotated[float, msgspec.Meta(ge=0)]
    discount: float | None
    gift: bool


class Order(msgspec.Struct):
    """The harness's ~1 KB echo document, as a model that validates it."""

    id: int
    type: str
    created_at: datetime
    paid: bool
    customer: Customer
    items: list[LineItem]
    tags: list[str]
    note: str


class Greeting(msgspec.Struct):
    message: str


async def greeting() -> Greeting:
    return Greeting("Hello, World!")


def build_typed() -> Zephyr:
    """The same endpoints with typed handlers (issue targets: echo and query+dependency)."""
    app = Zephyr(__name__, secret_key=BENCH_SECRET_KEY)

    @app.get("/json")
    async def json_endpoint(
        hello: Annotated[Greeting, Depends(greeting)],
        page: Annotated[int, Query(ge=1)] = 1,
        verbose: bool = False,
    ) -> dict[str, str]:
        return {"message": hello.message}

    @app.post("/echo", csrf=False)
    async def echo(order: Order) -> Order:
        return order

    _add_users_routes(app)
    return app


app_typed = build_typed()
