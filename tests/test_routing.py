"""Matching: precedence, backtracking, conflicts, 404/405/HEAD/OPTIONS, slashes, bad paths."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from zephyr import Converter, Response, RouteConflictError, SetupError, Zephyr
from zephyr.testing import AsyncTestClient, TestClient

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
HERE = os.path.relpath(__file__)


PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)(?::\w+)?\}")


def takes_params_of(template: str, handler: Callable[..., Any]) -> None:
    """Give a ``**params`` handler the exact signature Zephyr wants for ``template``."""
    names = dict.fromkeys(a or b for a, b in PARAM.findall(template))
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names]
    )


def answer(label: str, template: str = "") -> Callable[..., Any]:
    """A handler answering ``label`` and the path parameters of ``template``."""

    async def handler(**params: Any) -> str:
        return " ".join([label, *(f"{k}={v}" for k, v in params.items())])

    handler.__name__ = label.replace("-", "_")
    takes_params_of(template, handler)
    return handler


def add(app: Zephyr, path: str, label: str, **options: Any) -> None:
    """Register ``answer(label)`` at ``path``."""
    app.add_route(path, answer(label, path), **options)


async def call_raw(
    app: Zephyr, raw_path: bytes, *, method: str = "GET", query: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send a hand-made request, as a server would (``path`` decoded leniently like uvicorn)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(raw_path.decode("ascii")), "raw_path": raw_path,
        "query_string": query, "root_path": "", "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 1), "server": ("localhost", 80), "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with AsyncTestClient(app):
        await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


# -- precedence -------------------------------------------------------------------------

PRECEDENCE_ROUTES = [
    ("/items/new", "static"),
    ("/items/{id:int}", "int"),
    ("/items/{u:uuid}", "uuid"),
    ("/items/{name}", "str"),
    ("/items/<path:rest>", "path"),
]


@pytest.mark.parametrize("order", [1, -1], ids=["specific-first", "general-first"])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/items/new", "static"),
        ("/items/5", "int id=5"),
        (f"/items/{UID}", f"uuid u={UID}"),
        ("/items/newer", "str name=newer"),
        ("/items/a/b", "path rest=a/b"),
        ("/items/new/x", "path rest=new/x"),
    ],
)
def test_static_beats_int_and_uuid_beat_str_beats_path(
    order: int, path: str, expected: str
) -> None:
    app = Zephyr()
    for template, label in PRECEDENCE_ROUTES[::order]:
        add(app, template, label)
    with TestClient(app) as client:
        assert client.get(path).text == expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [("int", "float", "int v=5"), ("float", "int", "float v=5.0")],
)
def test_equal_rank_converters_are_tried_in_registration_order(
    first: str, second: str, expected: str
) -> None:
    app = Zephyr()
    add(app, f"/n/{{v:{first}}}", first)
    add(app, f"/n/{{v:{second}}}", second)
    with TestClient(app) as client:
        assert client.get("/n/5").text == expected
        assert client.get("/n/5.5").text == "float v=5.5"


def test_custom_converter_rank_decides_its_place() -> None:
    class Slug(Converter):
        regex = "[a-z]+(?:-[a-z]+)+"
        rank = 1

    app = Zephyr()
    app.add_converter("slug", Slug)
    add(app, "/p/{any}", "str")
    add(app, "/p/{s:slug}", "slug")
    with TestClient(app) as client:
        assert client.get("/p/hello-world").text == "slug s=hello-world"
        assert client.get("/p/hello").text == "str any=hello"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/5/b", "int-b x=5"),
        ("/a/5/c", "str-c y=5"),  # the int branch fails deeper: back up and try {y}
        ("/a/z/c", "str-c y=z"),
        ("/s/me/3", "me n=3"),
        ("/s/me/posts", "posts name=me"),  # the literal 'me' branch fails: back up
        ("/f/a/b/edit", "edit p=a/b"),
        ("/f/a/b/view", "rest q=a/b/view"),
        ("/f/edit", "rest q=edit"),
        ("/g/1/2/3/tail", "greedy p=1/2/3"),
    ],
)
def test_matching_backtracks_until_a_route_fits(path: str, expected: str) -> None:
    app = Zephyr()
    add(app, "/a/{x:int}/b", "int-b")
    add(app, "/a/{y}/c", "str-c")
    add(app, "/s/me/{n:int}", "me")
    add(app, "/s/{name}/posts", "posts")
    add(app, "/f/<path:p>/edit", "edit")
    add(app, "/f/<path:q>", "rest")
    add(app, "/g/<path:p>/tail", "greedy")
    with TestClient(app) as client:
        assert client.get(path).text == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("/files/a.txt", "rest name=a.txt"),
    ("/files/css/site/app.css", "rest name=css/site/app.css"),
    ("/files/new", "new"),
    ("/files/7", "int n=7"),
    ("/files/7/x", "rest name=7/x"),  # the int branch ends early: the rest is the path's
])
def test_a_trailing_path_parameter_is_matched_in_one_pass(
        monkeypatch: pytest.MonkeyPatch, path: str, expected: str) -> None:
    app = Zephyr()
    add(app, "/files/<path:name>", "rest")
    add(app, "/files/new", "new")
    add(app, "/files/{n:int}", "int")
    with TestClient(app) as client:
        if path != "/files/7/x":  # static files are served without the full search
            monkeypatch.setattr("zephyr.routing.Search", None)
        assert client.get(path).text == expected


def test_a_failed_branch_does_not_leak_its_values() -> None:
    app = Zephyr()
    add(app, "/x/{a:int}/{b:int}/end", "ints")
    add(app, "/x/{c}/{d}/other", "strs")
    with TestClient(app) as client:
        assert client.get("/x/1/2/other").text == "strs c=1 d=2"


# -- conflicts --------------------------------------------------------------------------


def test_conflict_names_both_sources_and_suggests_replace() -> None:
    app = Zephyr()

    @app.get("/users/<int:id>")
    async def first(id: int) -> str:
        return "first"

    async def second(user_id: int) -> str:
        return "second"

    with pytest.raises(RouteConflictError) as info:
        app.route("/users/{user_id:int}", methods=["GET", "POST"])(second)
    message = str(info.value)
    assert f"{HERE}:{first.__code__.co_firstlineno}" in message
    assert f"{HERE}:{second.__code__.co_firstlineno}" in message
    assert "'/users/{user_id:int}' (GET)" in message
    assert "pass replace=True to replace it" in message
    assert [r.name for r in app.routes] == ["first"]


@pytest.mark.parametrize(
    ("existing", "new", "conflicts"),
    [
        ("/u/<a>", "/u/{b}", True),
        ("/u/<str:a>", "/u/<b>", True),
        ("/u/<int:a>/x", "/u/{b:int}/x", True),
        ("/u/{a}.{b}", "/u/{c}.{d}", True),
        ("/u/<int:a>", "/u/<b>", False),
        ("/u/<a>", "/u/<path:b>", False),
        ("/u/<a>", "/u/a", False),
        ("/u/{a}.{b}", "/u/{a}-{b}", False),
        ("/u/x", "/u/x", True),
    ],
)
def test_which_templates_conflict(existing: str, new: str, conflicts: bool) -> None:
    app = Zephyr()
    add(app, existing, "one")
    if conflicts:
        with pytest.raises(RouteConflictError, match="both match the same requests"):
            add(app, new, "two")
    else:
        add(app, new, "two")
        assert len(app.routes) == 2


def test_same_path_with_other_methods_is_fine() -> None:
    app = Zephyr()
    add(app, "/u/<a>", "read")
    add(app, "/u/<b>", "write", methods=["POST", "PUT"])
    with TestClient(app) as client:
        assert client.get("/u/1").text == "read a=1"
        assert client.post("/u/1").text == "write b=1"
        assert client.put("/u/1").text == "write b=1"


def test_replace_true_replaces_the_conflicting_route() -> None:
    app = Zephyr()

    @app.get("/x")
    async def x() -> str:
        return "old"

    @app.get("/x", replace=True)
    async def x2() -> str:
        return "new"

    with TestClient(app) as client:
        assert client.get("/x").text == "new"
    assert [r.name for r in app.routes] == ["x2"]


def test_replace_true_may_reuse_the_replaced_routes_name() -> None:
    app = Zephyr()

    @app.get("/x")
    async def x() -> str:
        return "old"

    old = x

    @app.get("/x", replace=True)  # type: ignore[no-redef]
    async def x() -> str:
        return "new"

    assert old is not x
    with TestClient(app) as client:
        assert client.get("/x").text == "new"


def test_duplicate_route_names_with_different_handlers_are_refused() -> None:
    app = Zephyr()
    add(app, "/a", "page")
    with pytest.raises(SetupError) as info:
        add(app, "/b", "page")
    assert "route name 'page' for '/b'" in str(info.value)
    assert "is already used by '/a'" in str(info.value)
    assert "pass name=... to tell them apart" in str(info.value)


def test_one_handler_may_serve_several_paths_under_one_name() -> None:
    app = Zephyr()

    async def items(page: int = 1) -> dict[str, int]:
        return {"page": page}

    app.add_route("/items", items)
    app.add_route("/items/<int:page>", items)
    assert app.url_for("items") == "/items"
    assert app.url_for("items", page=2) == "/items/2"
    with TestClient(app) as client:
        assert client.get("/items/3").json() == {"page": 3}


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        (["FETCH"], "route '/m' has unknown methods ['FETCH']; use some of DELETE, GET, HEAD, "
                    "OPTIONS, PATCH, POST, PUT, TRACE"),
        ([], "route '/m' has unknown methods (none); use some of DELETE, GET"),
        (["get", "Brew"], "unknown methods ['BREW']"),
    ],
)
def test_unknown_methods_are_refused(methods: list[str], message: str) -> None:
    app = Zephyr()
    with pytest.raises(SetupError) as info:
        app.add_route("/m", answer("m"), methods=methods)
    assert message in str(info.value)


def test_methods_are_case_insensitive_and_a_single_string_works() -> None:
    app = Zephyr()
    add(app, "/m", "m", methods="post")
    add(app, "/n", "n", methods=["put", "Patch"])
    assert [sorted(r.methods) for r in app.routes] == [["POST"], ["PATCH", "PUT"]]


# -- 404, 405, HEAD, OPTIONS -------------------------------------------------------------


def test_404_is_problem_json_without_the_path() -> None:
    app = Zephyr()
    add(app, "/users/<int:id>", "user")
    with TestClient(app) as client:
        response = client.get("/users/abc")
        page = client.get("/nowhere", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.pop("instance").startswith("urn:zephyr:request:")
    assert problem == {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": "no route matches this path",
    }
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no route matches this path" in page.text


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/s/me", "GET, HEAD, OPTIONS, POST"),  # static GET + dynamic POST
        ("PUT", "/s/other", "HEAD, OPTIONS, POST, GET"),
        ("POST", "/d/5", "GET, HEAD, OPTIONS, PATCH"),  # two dynamic routes match /d/5
        ("POST", "/only", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_lists_every_method_the_path_answers(method: str, path: str, allow: str) -> None:
    app = Zephyr()
    add(app, "/s/me", "me")
    add(app, "/s/{x}", "x", methods=["POST"])
    add(app, "/d/{n:int}", "n")
    add(app, "/d/{s}", "s", methods=["PATCH"])
    add(app, "/only", "only")
    if path == "/s/other":
        add(app, "/s/{y:path}", "y")
    with TestClient(app) as client:
        response = client.request(method, path)
    assert response.status_code == 405
    assert sorted(response.headers["allow"].split(", ")) == sorted(allow.split(", "))
    assert response.json()["detail"] == f"this path answers {response.headers['allow']} only"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("PATCH", "/d/5", "s s=5"),  # the int branch lacks PATCH: the str branch has it
        ("GET", "/d/5", "n n=5"),
        ("HEAD", "/s/me", ""),  # static has GET: HEAD answers from it
        ("HEAD", "/p/me", ""),  # static has only POST: HEAD comes from the dynamic GET
        ("GET", "/p/me", "pget x=me"),
        ("POST", "/p/me", "ppost"),
    ],
)
def test_methods_resolve_across_static_and_dynamic_routes(
    method: str, path: str, expected: str
) -> None:
    app = Zephyr()
    add(app, "/d/{n:int}", "n")
    add(app, "/d/{s}", "s", methods=["PATCH"])
    add(app, "/s/me", "me")
    add(app, "/p/me", "ppost", methods=["POST"])
    add(app, "/p/{x}", "pget")
    with TestClient(app) as client:
        response = client.request(method, path)
    assert (response.status_code, response.text) == (200, expected)


def test_head_answers_like_get_without_a_body() -> None:
    app = Zephyr()

    @app.get("/doc/<int:n>")
    async def doc(n: int) -> Response:
        return Response(b"x" * n, headers={"x-kind": "doc"}, media_type="text/plain")

    @app.get("/static")
    async def static() -> dict[str, str]:
        return {"hello": "world"}

    with TestClient(app) as client:
        for path in ("/doc/7", "/static"):
            get, head = client.get(path), client.head(path)
            assert head.status_code == get.status_code == 200
            assert head.content == b""
            assert head.headers == get.headers
            assert head.headers["content-length"] == str(len(get.content))


def test_an_explicit_head_route_overrides_the_automatic_one() -> None:
    app = Zephyr()
    add(app, "/h", "get")
    add(app, "/h", "head", methods=["HEAD"])
    with TestClient(app) as client:
        assert client.get("/h").text == "get"
        head = client.head("/h")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("head"))


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/static", "GET, HEAD, OPTIONS"),
        ("/users/5", "DELETE, GET, HEAD, OPTIONS"),
        ("/users/bob", "DELETE, OPTIONS"),
        ("/s/me", "GET, HEAD, OPTIONS, POST"),  # static GET and dynamic POST together
        ("/posts", "OPTIONS, POST"),
    ],
)
def test_automatic_options_is_204_with_allow(path: str, allow: str) -> None:
    app = Zephyr()
    add(app, "/static", "static")
    add(app, "/users/{id:int}", "user")
    add(app, "/users/{name}", "remove", methods=["DELETE"])
    add(app, "/s/me", "me")
    add(app, "/s/{x}", "x", methods=["POST"])
    add(app, "/posts", "posts", methods=["POST"])
    with TestClient(app) as client:
        response = client.options(path)
        missing = client.options("/missing")
    assert response.status_code == 204
    assert response.headers["allow"] == allow
    assert response.content == b""
    assert missing.status_code == 404


@pytest.mark.parametrize("path", ["/static", "/users/5"])
def test_an_explicit_options_route_overrides_the_automatic_one(path: str) -> None:
    app = Zephyr()

    @app.route("/static", methods=["OPTIONS"])
    async def static_options() -> Response:
        return Response(status_code=200, headers={"allow": "GET", "x-custom": "static"})

    @app.route("/users/<int:id>", methods=["OPTIONS"])
    async def user_options(id: int) -> Response:
        return Response(status_code=200, headers={"allow": "GET", "x-custom": f"user {id}"})

    add(app, "/static", "static")
    add(app, "/users/<int:id>", "user")
    with TestClient(app) as client:
        response = client.options(path)
    assert response.status_code == 200
    assert response.headers["allow"] == "GET"
    assert response.headers["x-custom"] == ("static" if path == "/static" else "user 5")


# -- trailing slashes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "location"),
    [
        ("GET", "/dir", "/dir/"),
        ("GET", "/file/", "/file"),
        ("GET", "/dir?q=1&r=a%20b", "/dir/?q=1&r=a%20b"),
        ("GET", "/file/?x", "/file?x"),
        ("GET", "/users/bob/", "/users/bob"),
        ("GET", "/caf%C3%A9", "/caf%C3%A9/"),
        ("POST", "/form", "/form/"),
    ],
)
def test_trailing_slash_redirects_keep_the_query(method: str, path: str, location: str) -> None:
    app = Zephyr()
    add(app, "/dir/", "dir")
    add(app, "/file", "file")
    add(app, "/users/{name}", "user")
    add(app, "/café/", "cafe")
    add(app, "/form/", "form", methods=["POST"])
    with TestClient(app, follow_redirects=False) as client:
        response = client.request(method, path)
    assert response.status_code == 308
    assert response.headers["location"] == location


@pytest.mark.parametrize(
    ("options", "status"),
    [({}, 308), ({"redirect_status": 301}, 301), ({"redirect_status": 307}, 307)],
)
def test_redirect_status_is_configurable(options: dict[str, Any], status: int) -> None:
    app = Zephyr(**options)
    add(app, "/dir/", "dir")
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/dir").status_code == status


def test_redirect_slashes_false_disables_redirects() -> None:
    app = Zephyr(redirect_slashes=False)
    add(app, "/dir/", "dir")
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/dir")
    assert response.status_code == 404
    assert response.json()["detail"] == "no route matches this path"


def test_no_redirect_when_the_other_path_lacks_the_method() -> None:
    app = Zephyr()
    add(app, "/dir/", "dir")
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/dir").status_code == 404


def test_redirect_keeps_the_root_path() -> None:
    app = Zephyr()
    add(app, "/dir/", "dir")
    with TestClient(app, root_path="/mounted", follow_redirects=False) as client:
        assert client.get("/dir").headers["location"] == "/mounted/dir/"


@pytest.mark.parametrize(
    "routes", [["/a/"], ["/<path:p>"], ["/<path:p>/"], ["/<path:p>/", "/<x>"], ["/{x}/"]]
)
@pytest.mark.parametrize(
    "raw_path",
    [b"//evil.example", b"//evil.example/", b"///evil.example/", b"/\\evil.example",
     b"/\\evil.example/", b"/%5Cevil.example", b"/%2F%2Fevil.example", b"/%2F/evil.example/",
     b"/%5C%5Cevil.example/", b"/\\/evil.example"],
)
def test_slash_redirects_never_point_to_another_host(routes: list[str], raw_path: bytes) -> None:
    app = Zephyr()
    for n, template in enumerate(routes):
        add(app, template, f"r{n}")
    status, headers, _ = asyncio.run(call_raw(app, raw_path))
    location = headers.get("location", "/")
    assert status in (200, 308, 404)
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))


@pytest.mark.parametrize(
    ("raw_path", "location"),
    [(b"//evil.example", "/evil.example/"), (b"/\\evil.example", "/%5Cevil.example/")],
)
def test_a_dangerous_slash_redirect_is_made_harmless(raw_path: bytes, location: str) -> None:
    app = Zephyr()
    add(app, "/<path:p>/", "catch-all")
    status, headers, _ = asyncio.run(call_raw(app, raw_path))
    assert (status, headers["location"]) == (308, location)


# -- undecodable paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "detail"),
    [
        (b"/users/%zz", "the path has an invalid percent-escape; '%' must be followed by "
                        "two hex digits (write a literal '%' as '%25')"),
        (b"/users/%4", "invalid percent-escape"),
        (b"/users/%ff", "the path is not valid UTF-8 once percent-decoded"),
        (b"/x/%c3%28", "is not valid UTF-8 once percent-decoded"),
    ],
)
def test_undecodable_paths_are_400(raw_path: bytes, detail: str) -> None:
    app = Zephyr()
    add(app, "/users/{name}", "user")
    add(app, "/x/<path:p>", "x")
    status, headers, body = asyncio.run(call_raw(app, raw_path))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert detail in body.decode()


def test_well_encoded_paths_reach_dynamic_routes_decoded() -> None:
    app = Zephyr()
    add(app, "/users/{name}", "user")
    status, _, body = asyncio.run(call_raw(app, b"/users/%C3%A9t%C3%A9%2520"))
    assert (status, body.decode()) == (200, "user name=été%20")
