"""Property tests with schemathesis: the apps answer as their generated OpenAPI documents say.

Requests are generated from each document (valid and invalid ones) and sent
in-process; every response is checked against the documented status codes,
content types and schemas, and invalid data must be refused. Bounded and
deterministic, with no example database written into the repository.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest
import schemathesis
from examples.showcase.app import app as showcase_app
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode

from zephyr import Body, Depends, Form, Header, Query, Zephyr, abort
from zephyr.testing import TestClient

# Hypothesis keeps caches under .hypothesis/ in the working directory (even with
# database=None), from collection on: send them to a temporary directory instead.
HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="zephyr-hypothesis-"))
set_hypothesis_home_dir(HYPOTHESIS_HOME)


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_home_removed_afterwards() -> Iterator[None]:
    yield
    set_hypothesis_home_dir(None)
    shutil.rmtree(HYPOTHESIS_HOME, ignore_errors=True)


BOUNDED = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
                   database=None)

# schemathesis' ASGI client sends Host: testserver, and no browser verdict for CSRF.
HOST = "testserver"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
showcase_app.config["ALLOWED_HOSTS"] = [*showcase_app.config["ALLOWED_HOSTS"], HOST]
showcase = schemathesis.openapi.from_asgi("/openapi.json", showcase_app)
showcase.config.generation.update(modes=list(GenerationMode), max_examples=40,
                                  deterministic=True)


@showcase.parametrize()
@BOUNDED
def test_the_showcase_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=SAME_ORIGIN)


# -- a richer app, only for this test ----------------------------------------------------


Code = Annotated[str, msgspec.Meta(min_length=1, max_length=8, pattern="^[A-Z0-9]+$")]


class Line(msgspec.Struct, forbid_unknown_fields=True):
    sku: Code
    # NOTE: no int in a JSON body here until one accepts 1.0 (see the test at the end).
    size: Literal["S", "M", "L"] = "M"


class Quote(msgspec.Struct):
    customer: str
    currency: str
    units: int


class Page(msgspec.Struct):
    q: str
    page: int
    order: str
    tags: list[str]


class Contact(msgspec.Struct):
    name: str
    age: int
    topic: str


def customer(
    x_customer: Annotated[str, Header(min_length=3, max_length=12, pattern="^[a-z]+$")],
) -> str:
    return x_customer


def build_shop() -> Zephyr:
    app = Zephyr(openapi=True, allowed_hosts=[HOST])
    shop = app.group("/shop", name="shop")

    @shop.get("/search")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=10)],
        page: Annotated[int, Query(ge=1, le=5)] = 1,
        order: Literal["asc", "desc"] = "asc",
        tags: Annotated[list[Code], Query(alias="tag")] = [],  # noqa: B006 - never mutated
    ) -> Page:
        """Search the catalogue."""
        return Page(q, page, order, tags)

    @shop.post("/quotes", status_code=201)
    def quote(
        lines: Annotated[list[Line], Body(max_length=5)],
        currency: Annotated[Literal["EUR", "USD"], Body()],
        who: Annotated[str, Depends(customer)],
    ) -> Quote:
        """Price some lines for a customer (two body members: an embedded JSON object)."""
        return Quote(who, currency, len(lines))

    @shop.post("/contact")
    def contact(
        name: Annotated[str, Form(min_length=1, max_length=20)],
        age: Annotated[int, Form(ge=0, le=150)],
        topic: Annotated[Literal["sales", "support"], Form()] = "sales",
    ) -> Contact:
        # NOTE: no bool here: a negative test sends the integer 0 as "0", which a form
        # field rightly reads as false, while the schema can only say "boolean".
        return Contact(name, age, topic)

    @shop.get("/lines/{sku}")
    def line(sku: Code, size: Literal["S", "M", "L"] = "M") -> Line:
        if sku.startswith("X"):
            abort(404, f"there is no product {sku!r}")
        return Line(sku, size)

    return app


shop = schemathesis.openapi.from_asgi("/openapi.json", build_shop())
shop.config.generation.update(modes=list(GenerationMode), max_examples=30, deterministic=True)


def test_the_shop_document_has_what_the_schemathesis_run_covers() -> None:
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in shop.get_all_operations()
    }
    assert operations == {
        "GET /shop/search", "POST /shop/quotes", "POST /shop/contact", "GET /shop/lines/{sku}",
    }


@shop.parametrize()
@settings(BOUNDED, max_examples=30)
def test_a_richer_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=SAME_ORIGIN)


class Box(msgspec.Struct):
    count: int


def test_an_integral_float_fits_an_int_field_as_the_schema_says() -> None:
    """JSON Schema's ``integer`` includes 1.0; schemathesis sends it, as may any client."""
    app = Zephyr(openapi=True)

    @app.post("/boxes")
    def store(box: Box) -> Box:
        return box

    @app.get("/boxes")
    def count(count: int) -> Box:
        return Box(count)

    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Box"]
        in_query = client.get("/boxes", params={"count": "1.0"})
        in_body = client.post("/boxes", json={"count": 1.0})
    assert schema["properties"]["count"] == {"type": "integer"}
    assert in_query.json() == {"count": 1}
    assert in_body.json() == {"count": 1}
    assert in_body.status_code == 200
