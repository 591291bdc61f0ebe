"""Path templates and converters: both syntaxes, built-in and custom converters, parse errors."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from zephyr import Converter, SetupError, URLBuildError, Zephyr
from zephyr.testing import TestClient

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def add_echo(app: Zephyr, template: str, name: str | None = None) -> None:
    """Register a handler at ``template`` answering its parameters with their type names."""

    async def echo(**params: Any) -> dict[str, Any]:
        return {k: [v if isinstance(v, str | int | float) else str(v), type(v).__name__]
                for k, v in params.items()}

    takes_params_of(template, echo)
    app.add_route(template, echo, name=name)


PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)(?::\w+)?\}")


def takes_params_of(template: str, handler: Callable[..., Any]) -> None:
    """Give a ``**params`` handler the exact signature Zephyr wants for ``template``."""
    names = dict.fromkeys(a or b for a, b in PARAM.findall(template))
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names]
    )


def serve(template: str, path: str) -> tuple[int, Any]:
    """Serve an echo route at ``template``, request ``path``: (status, json or 404 detail)."""
    app = Zephyr()
    add_echo(app, template)
    with TestClient(app, follow_redirects=False) as client:
        response = client.get(path)
    body = response.json()
    return response.status_code, (body["detail"] if response.status_code == 404 else body)


# -- both syntaxes, every built-in converter -----------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/users/<id>", "/users/ada", {"id": ["ada", "str"]}),
        ("/users/{id}", "/users/ada", {"id": ["ada", "str"]}),
        ("/users/<str:id>", "/users/ada lovelace", {"id": ["ada lovelace", "str"]}),
        ("/users/{id:str}", "/users/é", {"id": ["é", "str"]}),
        ("/users/<int:id>", "/users/42", {"id": [42, "int"]}),
        ("/users/{id:int}", "/users/007", {"id": [7, "int"]}),
        ("/p/<float:x>", "/p/3.25", {"x": [3.25, "float"]}),
        ("/p/{x:float}", "/p/3", {"x": [3.0, "float"]}),
        ("/t/<uuid:u>", f"/t/{UID}", {"u": [str(UID), "UUID"]}),
        ("/t/{u:uuid}", f"/t/{str(UID).upper()}", {"u": [str(UID), "UUID"]}),
        ("/f/<path:p>", "/f/a/b/c.txt", {"p": ["a/b/c.txt", "str"]}),
        ("/f/{p:path}", "/f/one", {"p": ["one", "str"]}),
        ("/f/<path:p>/edit", "/f/a/b/edit", {"p": ["a/b", "str"]}),
        ("/f/<path:p>/edit", "/f/edit/edit", {"p": ["edit", "str"]}),
        ("/f/<path:p>/edit/<int:n>", "/f/x/y/edit/3", {"p": ["x/y", "str"], "n": [3, "int"]}),
        ("/<a>/<int:b>/{c:float}", "/x/1/2.5", {"a": ["x", "str"], "b": [1, "int"],
                                                "c": [2.5, "float"]}),
    ],
)
def test_converters_match_and_convert(template: str, path: str, expected: object) -> None:
    assert serve(template, path) == (200, expected)


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/users/<id>", "/users/a/b"),  # str never spans a slash
        ("/users/<id>", "/users/"),  # ... and is never empty
        ("/users/<int:id>", "/users/-1"),
        ("/users/<int:id>", "/users/1.5"),
        ("/users/<int:id>", "/users/x"),
        ("/users/<int:id>", "/users/١٢"),  # Arabic-Indic digits are not ASCII
        ("/users/<int:id>", "/users/+1"),
        ("/p/<float:x>", "/p/-1.5"),
        ("/p/<float:x>", "/p/1e3"),
        ("/p/<float:x>", "/p/nan"),
        ("/p/<float:x>", "/p/1."),
        ("/t/<uuid:u>", "/t/12345678123456781234567812345678"),
        ("/t/<uuid:u>", f"/t/{UID}0"),
        ("/f/<path:p>", "/f/"),
        ("/f/<path:p>/edit", "/f/edit"),
        ("/f/<path:p>/edit", "/f/a/b"),
    ],
)
def test_values_that_do_not_fit_are_404(template: str, path: str) -> None:
    assert serve(template, path) == (404, "no route matches this path")


def test_converted_values_reach_the_handler_with_their_python_types() -> None:
    app = Zephyr()
    seen: dict[str, Any] = {}

    @app.get("/<int:i>/<float:f>/<uuid:u>/<s>/<path:p>")
    async def typed(i: int, f: float, u: uuid.UUID, s: str, p: str) -> str:
        seen.update(i=i, f=f, u=u, s=s, p=p)
        return "ok"

    with TestClient(app) as client:
        assert client.get(f"/3/1.5/{UID}/word/x/y").text == "ok"
    assert seen == {"i": 3, "f": 1.5, "u": UID, "s": "word", "p": "x/y"}
    assert [type(seen[k]) for k in "ifusp"] == [int, float, uuid.UUID, str, str]


def test_handler_annotation_converts_a_str_parameter() -> None:
    app = Zephyr()

    @app.get("/d/<value>")
    async def handler(value: int) -> dict[str, Any]:
        return {"value": value, "type": type(value).__name__}

    with TestClient(app) as client:
        assert client.get("/d/12").json() == {"value": 12, "type": "int"}
        bad = client.get("/d/twelve")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "value"


# -- compound segments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/files/{name}.{ext}", "/files/report.pdf", {"name": ["report", "str"],
                                                      "ext": ["pdf", "str"]}),
        ("/files/{name}.{ext}", "/files/a.tar.gz", {"name": ["a.tar", "str"],
                                                    "ext": ["gz", "str"]}),
        ("/v/v{major:int}.{minor:int}", "/v/v2.10", {"major": [2, "int"],
                                                     "minor": [10, "int"]}),
        ("/page-<int:n>", "/page-7", {"n": [7, "int"]}),
        ("/a/<x>-<y>.json", "/a/foo-bar.json", {"x": ["foo", "str"], "y": ["bar", "str"]}),
    ],
)
def test_compound_segments(template: str, path: str, expected: object) -> None:
    assert serve(template, path) == (200, expected)


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/files/{name}.{ext}", "/files/report"),
        ("/files/{name}.{ext}", "/files/.pdf"),
        ("/v/v{major:int}.{minor:int}", "/v/v2.x"),
        ("/page-<int:n>", "/page-"),
        ("/page-<int:n>", "/page-x"),
    ],
)
def test_compound_segments_that_do_not_fit_are_404(template: str, path: str) -> None:
    assert serve(template, path) == (404, "no route matches this path")


def test_compound_and_plain_parameters_share_a_level() -> None:
    app = Zephyr()

    @app.get("/f/{name}.{ext}")
    async def with_ext(name: str, ext: str) -> str:
        return f"compound {name} {ext}"

    @app.get("/f/{id:int}")
    async def by_id(id: int) -> str:
        return f"int {id}"

    @app.get("/f/{name}")
    async def plain(name: str) -> str:
        return f"plain {name}"

    with TestClient(app) as client:
        assert client.get("/f/a.txt").text == "compound a txt"
        assert client.get("/f/12").text == "int 12"
        assert client.get("/f/readme").text == "plain readme"


# -- custom converters ----------------------------------------------------------------


class HexConverter(Converter):
    regex = "[0-9a-f]+"

    def to_python(self, value: str) -> int:
        if self._pattern.fullmatch(value) is None:
            raise ValueError(value)
        return int(value, 16)

    def to_url(self, value: Any) -> str:
        return format(value, "x")


class ListConverter(Converter):
    rank = 0  # tried before the built-in converters

    def to_python(self, value: str) -> list[str]:
        if "," not in value:
            raise ValueError(value)
        return value.split(",")

    def to_url(self, value: Any) -> str:
        return ",".join(value)


def test_custom_converter_converts_both_ways() -> None:
    app = Zephyr()
    app.add_converter("hex", HexConverter)
    app.add_converter("list", ListConverter)

    @app.get("/color/<hex:value>")
    async def color(value: int) -> dict[str, int]:
        return {"value": value}

    @app.get("/tags/{tags:list}")
    async def tags(tags) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
        return {"tags": tags}

    @app.get("/tags/{one}")
    async def one_tag(one: str) -> dict[str, str]:
        return {"one": one}

    with TestClient(app) as client:
        assert client.get("/color/ff").json() == {"value": 255}
        assert client.get("/color/zz").status_code == 404
        assert client.get("/tags/a,b").json() == {"tags": ["a", "b"]}
        assert client.get("/tags/a").json() == {"one": "a"}
    assert app.url_for("color", value=255) == "/color/ff"
    assert app.url_for("tags", tags=["x", "y z"]) == "/tags/x%2Cy%20z"


def test_custom_converter_value_reaches_an_annotated_handler_unchanged() -> None:
    app = Zephyr()
    app.add_converter("list", ListConverter)

    @app.get("/tags/{tags:list}")
    async def tags(tags: list[str]) -> dict[str, list[str]]:
        return {"tags": tags}

    with TestClient(app) as client:
        assert client.get("/tags/a,b").json() == {"tags": ["a", "b"]}


def test_custom_converter_in_a_compound_segment_uses_its_regex() -> None:
    app = Zephyr()
    app.add_converter("hex", HexConverter)

    @app.get("/c/x{value:hex}.css")
    async def css(value: int) -> dict[str, int]:
        return {"value": value}

    @app.get("/c/<name>.css")
    async def named(name: str) -> dict[str, str]:
        return {"name": name}

    with TestClient(app) as client:
        assert client.get("/c/x0a.css").json() == {"value": 10}
        assert client.get("/c/xyz.css").json() == {"name": "xyz"}
    assert app.url_for("css", value=255) == "/c/xff.css"


def test_compound_segments_with_same_regex_but_other_converters_stay_apart() -> None:
    class Upper(Converter):
        def to_python(self, value: str) -> str:
            return value.upper()

    app = Zephyr()
    app.add_converter("upper", Upper)

    @app.get("/x/{a}.txt")
    async def plain(a: str) -> str:
        return f"plain {a}"

    @app.post("/x/{a:upper}.txt")
    async def shouted(a: str) -> str:
        return f"upper {a}"

    with TestClient(app) as client:
        assert client.get("/x/hi.txt").text == "plain hi"
        assert client.post("/x/hi.txt").text == "upper HI"


@pytest.mark.parametrize("bad", [int, "hex", HexConverter()])
def test_add_converter_refuses_what_is_not_a_converter_class(bad: object) -> None:
    app = Zephyr()
    with pytest.raises(SetupError, match=r"converter 'bad' must be a subclass of zephyr\.Conv"):
        app.add_converter("bad", bad)  # type: ignore[arg-type]


# -- template errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("users", "route path 'users' must start with '/'; write '/users'"),
        ("/u/<money:x>", "route '/u/<money:x>' uses unknown converter 'money'; known converters: "
                         "float, int, path, str, uuid (register others with app.add_converter"),
        ("/u/<x>/{x:int}", "route '/u/<x>/{x:int}' uses the parameter name 'x' twice"),
        ("/u/<x", "route '/u/<x' has an unmatched bracket in '<x'; parameters are written"),
        ("/u/x}", "has an unmatched bracket in 'x}'"),
        ("/u/{a}}", "has an unmatched bracket in '}'"),
        ("/u/a<path:p>", "a 'path' parameter must fill a whole segment: write '/<path:p>'"),
        ("/u/<path:p>/<rest>", "the 'path' parameter 'p' is followed by another parameter"),
    ],
)
def test_bad_templates_are_refused_at_registration(template: str, message: str) -> None:
    app = Zephyr()
    with pytest.raises(SetupError) as info:
        add_echo(app, template)
    assert message in str(info.value)
    assert app.routes == ()


def test_a_converter_must_be_registered_before_the_route_using_it() -> None:
    app = Zephyr()
    with pytest.raises(SetupError, match="unknown converter 'hex'"):
        add_echo(app, "/c/<hex:v>")
    app.add_converter("hex", HexConverter)
    add_echo(app, "/c/<hex:v>")
    assert [r.path for r in app.routes] == ["/c/<hex:v>"]


# -- to_url ----------------------------------------------------------------------------


def _app_with(template: str) -> Zephyr:
    app = Zephyr()
    add_echo(app, template, name="r")
    return app


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        ("/u/<int:id>", {"id": 0}, "/u/0"),
        ("/u/<int:id>", {"id": 12}, "/u/12"),
        ("/u/<float:x>", {"x": 2}, "/u/2.0"),
        ("/u/<float:x>", {"x": 0.5}, "/u/0.5"),
        ("/u/<uuid:u>", {"u": UID}, f"/u/{UID}"),
        ("/u/<s>", {"s": "a b/c?d#e%"}, "/u/a%20b%2Fc%3Fd%23e%25"),
        ("/u/<s>", {"s": "é"}, "/u/%C3%A9"),
        ("/u/<path:p>", {"p": "a b/c/d.txt"}, "/u/a%20b/c/d.txt"),
        ("/u/{n}.{e}", {"n": "a b", "e": "t/x"}, "/u/a%20b.t%2Fx"),
        ("/u/v{n:int}", {"n": 3}, "/u/v3"),
    ],
)
def test_to_url_renders_and_escapes(template: str, params: dict[str, Any], expected: str) -> None:
    assert _app_with(template).url_for("r", **params) == expected


@pytest.mark.parametrize(
    ("template", "params", "message"),
    [
        ("/u/<int:id>", {"id": -1}, "id=-1 does not fit its IntConverter (-1 is not a non-neg"),
        ("/u/<int:id>", {"id": True}, "id=True does not fit its IntConverter"),
        ("/u/<int:id>", {"id": "5"}, "id='5' does not fit its IntConverter"),
        ("/u/<float:x>", {"x": -0.5}, "x=-0.5 does not fit its FloatConverter"),
        ("/u/<float:x>", {"x": float("inf")}, "x=inf does not fit its FloatConverter"),
        ("/u/<float:x>", {"x": "abc"}, "x='abc' does not fit its FloatConverter"),
        ("/u/<s>", {"s": ""}, "cannot build route 'r': s is empty"),
        ("/u/<path:p>", {"p": ""}, "cannot build route 'r': p is empty"),
        ("/u/v{n:int}", {"n": -3}, "n=-3 does not fit its IntConverter"),
    ],
)
def test_to_url_refuses_values_the_route_would_not_match(
    template: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(URLBuildError) as info:
        _app_with(template).url_for("r", **params)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        ("/u/<int:id>", {"id": 31}, {"id": 31}),
        ("/u/<float:x>", {"x": 1.25}, {"x": 1.25}),
        ("/u/<uuid:u>", {"u": UID}, {"u": str(UID)}),
        ("/u/<s>", {"s": "x y%"}, {"s": "x y%"}),
        ("/u/<path:p>", {"p": "a/b c"}, {"p": "a/b c"}),
        ("/u/{n}.{e}", {"n": "file", "e": "tar"}, {"n": "file", "e": "tar"}),
    ],
)
def test_url_for_round_trips_through_the_router(
    template: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    app = _app_with(template)
    with TestClient(app) as client:
        response = client.get(app.url_for("r", **params))
    assert response.status_code == 200
    assert {k: v[0] for k, v in response.json().items()} == expected
