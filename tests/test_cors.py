"""CORS, in-process: off by default, the headers of actual requests (errors included),
preflights answered from the policy of the route that serves the requested method,
per-group and per-route ``cors=``, the startup refusals, and CSRF for other origins.

The same rules in a real browser, across two servers: tests/integration/test_browser_cors.py.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest

from zephyr import Request, Response, Zephyr, abort
from zephyr.errors import SetupError
from zephyr.security import BearerAuth, IsAuthenticated, static_tokens
from zephyr.testing import TestClient

APP = "https://app.example.com"
ADMIN = "https://admin.example.com"
EVIL = "https://evil.example"
ALLOWED = {"cors_allow_origins": [APP, ADMIN]}
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials",
                "access-control-expose-headers", "access-control-allow-methods",
                "access-control-allow-headers", "access-control-max-age")


def api(**settings: Any) -> Zephyr:
    """An API with every kind of route the tests call; CORS from ``settings``."""
    app = Zephyr(__name__, **settings)

    @app.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    # An API called with tokens, not cookies: no CSRF check (see the last tests for one).
    @app.post("/items", csrf=False)
    async def create(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.put("/items/<int:item_id>", csrf=False)
    async def replace(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.delete("/items/<int:item_id>", csrf=False)
    async def remove(item_id: int) -> None:
        return None

    @app.post("/notes")
    async def note() -> str:
        return "noted"

    @app.get("/missing")
    async def missing() -> None:
        abort(404, "no such item")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/varies")
    async def varies() -> Response:
        return Response("x", headers={"Vary": "Accept-Language"})

    @app.get("/own")
    async def own() -> Response:
        return Response("x", headers={"Access-Control-Allow-Origin": "https://mine.example"})

    @app.get("/private", auth=[BearerAuth(static_tokens({"t0ken-for-tests": "alice"}))],
             permissions=[IsAuthenticated()])
    async def private() -> str:
        return "secret"

    add_policy_routes(app)
    return app


def add_policy_routes(app: Zephyr) -> None:
    """Routes and groups with CORS policies of their own."""

    @app.get("/special", cors={"allow_origins": [EVIL], "max_age": 5})
    async def special() -> str:
        return "special"

    internal = app.group("/internal", cors=False)

    @internal.get("/stats")
    async def stats() -> dict[str, int]:
        return {"n": 1}

    public = app.group("/public", cors={"allow_origins": ["*"], "allow_credentials": False})

    @public.get("/feed")
    async def feed() -> list[str]:
        return ["news"]


def cors_headers(response: Any) -> dict[str, str]:
    return {name: response.headers[name] for name in CORS_HEADERS if name in response.headers}


# -- off by default --------------------------------------------------------------------------


def test_cors_is_off_by_default_and_nothing_is_composed() -> None:
    app = api()
    with TestClient(app) as client:
        for path in ("/items", "/missing", "/internal/stats"):
            answer = client.get(path, headers={"Origin": APP})
            assert cors_headers(answer) == {}
            assert "vary" not in answer.headers
        preflight = client.options("/items", headers={
            "Origin": APP, "Access-Control-Request-Method": "POST"})
        assert (preflight.status_code, preflight.headers["allow"]) == (
            204, "GET, HEAD, OPTIONS, POST")
        assert cors_headers(preflight) == {}
    items = next(route for route in app.routes if route.name == "items")
    assert app.router.compiled(items).cors is None
    # Only the routes that ask for CORS get it: the app's settings, or a route's cors=.
    assert app.router.compiled(next(r for r in app.routes if r.name == "special")).cors


def test_an_app_without_cors_does_not_load_it() -> None:
    code = ("import sys, zephyr\n"
            "app = zephyr.Zephyr(secret_key='abcdefghijklmnopqrstuvwxyz0123456789')\n"
            "app.get('/')(lambda: 'hi')\n"
            "app._go_live()\n"
            "print('zephyr.cors' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


# -- actual requests -------------------------------------------------------------------------

ORIGIN_VARY = {"vary": "Origin"}


@pytest.mark.parametrize(
    ("settings", "method", "path", "origin", "expected"),
    [
        (ALLOWED, "GET", "/items", APP, {"access-control-allow-origin": APP}),
        (ALLOWED, "GET", "/items", ADMIN.upper(), {}),  # browsers send lower case; exact match
        (ALLOWED, "GET", "/items", EVIL, {}),  # never a reflected origin
        (ALLOWED, "GET", "/items", None, {}),
        (ALLOWED, "GET", "/items", "null", {}),
        (ALLOWED, "HEAD", "/items", APP, {"access-control-allow-origin": APP}),
        (ALLOWED, "DELETE", "/items/3", APP, {"access-control-allow-origin": APP}),
        ({**ALLOWED, "cors_allow_methods": ["GET"]}, "DELETE", "/items/3", APP, {}),
        ({**ALLOWED, "cors_allow_methods": ["GET"]}, "HEAD", "/items", APP,
         {"access-control-allow-origin": APP}),
        ({**ALLOWED, "cors_allow_credentials": True}, "GET", "/items", APP,
         {"access-control-allow-origin": APP, "access-control-allow-credentials": "true"}),
        ({**ALLOWED, "cors_expose_headers": ["X-Total", "ETag"]}, "GET", "/items", APP,
         {"access-control-allow-origin": APP, "access-control-expose-headers": "X-Total, ETag"}),
        # A regular expression matches the whole origin, and only a well-formed one.
        ({"cors_allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"}, "GET", "/items",
         "https://shop.example.com", {"access-control-allow-origin": "https://shop.example.com"}),
        ({"cors_allow_origin_regex": r"https://[a-z0-9-]+\.example\.com"}, "GET", "/items",
         "https://shop.example.com.evil.example", {}),
        ({"cors_allow_origin_regex": r"https://.*\.example\.com"}, "GET", "/items",
         "https://evil.example/.example.com", {}),
        ({"cors_allow_origin_regex": r"https://.*\.example\.com"}, "GET", "/items",
         "https://a.example.com\tx", {}),
        # Errors from the route carry the headers: the page can read why it failed.
        (ALLOWED, "GET", "/missing", APP, {"access-control-allow-origin": APP}),
        (ALLOWED, "GET", "/boom", APP, {"access-control-allow-origin": APP}),
        (ALLOWED, "GET", "/private", APP, {"access-control-allow-origin": APP}),
        (ALLOWED, "POST", "/items", APP, {"access-control-allow-origin": APP}),  # 422
        # Per-route and per-group policies.
        (ALLOWED, "GET", "/special", EVIL, {"access-control-allow-origin": EVIL}),
        (ALLOWED, "GET", "/special", APP, {}),  # the route's list replaces the app's
        ({}, "GET", "/special", EVIL, {"access-control-allow-origin": EVIL}),
        ({}, "GET", "/public/feed", EVIL, {"access-control-allow-origin": "*"}),
        ({}, "GET", "/public/feed", None, {"access-control-allow-origin": "*"}),
        ({"cors_allow_origins": ["*"], "cors_expose_headers": ["X-Total"]}, "GET", "/items",
         EVIL, {"access-control-allow-origin": "*", "access-control-expose-headers": "X-Total"}),
    ],
)
def test_actual_requests_get_the_headers_of_their_route(
    settings: dict[str, Any], method: str, path: str, origin: str | None,
    expected: dict[str, str],
) -> None:
    headers = {"Origin": origin} if origin else {}
    with TestClient(api(**settings)) as client:
        answer = client.request(method, path, headers=headers, json={"a": "not an int"})
    assert cors_headers(answer) == expected
    wildcard = expected.get("access-control-allow-origin") == "*"
    # The answer depends on Origin (except for '*'): caches must keep one per origin.
    assert answer.headers.get_list("vary") == ([] if wildcard else ["Origin"])


def test_errors_keep_their_status_and_body_with_the_headers() -> None:
    with TestClient(api(**ALLOWED)) as client:
        missing = client.get("/missing", headers={"Origin": APP})
        assert (missing.status_code, missing.json()["detail"]) == (404, "no such item")
        boom = client.get("/boom", headers={"Origin": APP})
        assert boom.status_code == 500
        invalid = client.post("/items", headers={"Origin": APP}, json={"a": "x"})
        assert invalid.status_code == 422
        denied = client.get("/private", headers={"Origin": APP})
        assert denied.status_code == 401
        assert all(r.headers["access-control-allow-origin"] == APP
                   for r in (missing, boom, invalid, denied))


def test_routes_without_a_policy_get_nothing() -> None:
    with TestClient(api(**ALLOWED)) as client:
        answer = client.get("/internal/stats", headers={"Origin": APP})
        unknown = client.get("/nowhere", headers={"Origin": APP})  # no route: no policy
    assert cors_headers(answer) == cors_headers(unknown) == {}
    assert "vary" not in answer.headers
    assert "vary" not in unknown.headers


def test_cors_true_brings_the_policy_back_under_a_group_without_one() -> None:
    app = Zephyr(__name__, cors_allow_origins=[APP])
    internal = app.group("/internal", cors=False)
    internal.add_route("/stats", lambda: "stats", name="stats")
    shared = internal.add_route("/shared", lambda: "shared", name="shared", cors=True)
    with TestClient(app) as client:
        assert "access-control-allow-origin" not in client.get(
            "/internal/stats", headers={"Origin": APP}).headers
        answer = client.get("/internal/shared", headers={"Origin": APP})
    assert answer.headers["access-control-allow-origin"] == APP
    # Routes without an override of their own share the app's policy.
    assert app.router.compiled(shared).cors is app.router.compiled(shared).cors


def test_the_handlers_own_headers_are_kept() -> None:
    with TestClient(api(**ALLOWED)) as client:
        varies = client.get("/varies", headers={"Origin": APP})
        own = client.get("/own", headers={"Origin": APP})
    assert varies.headers.get_list("vary") == ["Accept-Language, Origin"]
    assert varies.headers["access-control-allow-origin"] == APP
    assert own.headers.get_list("access-control-allow-origin") == ["https://mine.example"]


# -- preflights ------------------------------------------------------------------------------


def preflight(client: TestClient, path: str, method: str, origin: str | None = APP,
              headers: str | None = None) -> Any:
    sent = {"Access-Control-Request-Method": method}
    if origin is not None:
        sent["Origin"] = origin
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=sent)


ALLOWED_PREFLIGHT = {
    "access-control-allow-origin": APP,
    "access-control-allow-methods": "DELETE, GET, HEAD, PATCH, POST, PUT",
    "access-control-max-age": "600",
}


@pytest.mark.parametrize(
    ("settings", "path", "method", "origin", "headers", "expected"),
    [
        (ALLOWED, "/items", "POST", APP, None, ALLOWED_PREFLIGHT),
        (ALLOWED, "/items/7", "DELETE", APP, None, ALLOWED_PREFLIGHT),
        # Safelisted headers need no setting (Content-Type: application/json asks for one).
        (ALLOWED, "/items", "POST", APP, "content-type, ,Accept", {
            **ALLOWED_PREFLIGHT, "access-control-allow-headers": "content-type, accept"}),
        ({**ALLOWED, "cors_allow_headers": ["X-Requested-With", "Authorization"]}, "/items",
         "POST", APP, "authorization", {
             **ALLOWED_PREFLIGHT, "access-control-allow-headers": "authorization"}),
        ({**ALLOWED, "cors_allow_headers": ["*"]}, "/items", "POST", APP, "x-one,x-two", {
            **ALLOWED_PREFLIGHT, "access-control-allow-headers": "x-one, x-two"}),
        ({**ALLOWED, "cors_allow_methods": ["*"]}, "/items/7", "PUT", APP, None, {
            **ALLOWED_PREFLIGHT, "access-control-allow-methods": "PUT"}),
        ({**ALLOWED, "cors_allow_credentials": True, "cors_max_age": 0}, "/items", "POST",
         APP, None, {**ALLOWED_PREFLIGHT, "access-control-allow-credentials": "true",
                     "access-control-max-age": "0"}),
        # The policy is the one of the route that serves the requested method.
        (ALLOWED, "/special", "GET", EVIL, None, {
            **ALLOWED_PREFLIGHT, "access-control-allow-origin": EVIL,
            "access-control-max-age": "5"}),
        ({}, "/special", "GET", EVIL, None, {
            **ALLOWED_PREFLIGHT, "access-control-allow-origin": EVIL,
            "access-control-max-age": "5"}),
        ({}, "/public/feed", "GET", EVIL, "content-type", {
            **ALLOWED_PREFLIGHT, "access-control-allow-origin": "*",
            "access-control-allow-headers": "content-type"}),
    ],
)
def test_a_preflight_is_answered_from_the_policy(
    settings: dict[str, Any], path: str, method: str, origin: str, headers: str | None,
    expected: dict[str, str],
) -> None:
    with TestClient(api(**settings)) as client:
        answer = preflight(client, path, method, origin, headers)
    assert (answer.status_code, answer.content) == (204, b""), answer.text
    assert cors_headers(answer) == expected
    wildcard = expected["access-control-allow-origin"] == "*"
    vary = PREFLIGHT_VARY.removeprefix("Origin, ") if wildcard else PREFLIGHT_VARY
    assert answer.headers.get_list("vary") == [vary]
    assert "allow" not in answer.headers


def test_a_preflight_reaches_neither_the_handler_nor_its_checks() -> None:
    settings = {**ALLOWED, "cors_allow_headers": ["Authorization"]}
    with TestClient(api(**settings)) as client:
        answer = preflight(client, "/private", "GET", headers="authorization")
    assert answer.status_code == 204
    assert cors_headers(answer)["access-control-allow-headers"] == "authorization"
    assert "www-authenticate" not in answer.headers


@pytest.mark.parametrize(
    ("settings", "path", "method", "origin", "headers", "reason", "detail"),
    [
        (ALLOWED, "/items", "POST", EVIL, None, "cors-origin",
         "the origin of the page is not allowed; add it to CORS_ALLOW_ORIGINS"),
        (ALLOWED, "/items", "POST", "null", None, "cors-origin", "CORS_ALLOW_ORIGINS"),
        ({**ALLOWED, "cors_allow_methods": ["GET", "POST"]}, "/items/3", "PUT", APP, None,
         "cors-method", "the method is not allowed; add it to CORS_ALLOW_METHODS"),
        (ALLOWED, "/items", "POST", APP, "content-type, x-secret", "cors-headers",
         "a request header is not allowed; add it to CORS_ALLOW_HEADERS"),
        (ALLOWED, "/items", "POST", APP, "bad header", "cors-headers", "CORS_ALLOW_HEADERS"),
        (ALLOWED, "/special", "GET", APP, None, "cors-origin",
         "(or to allow_origins in the route's cors=)"),
    ],
)
def test_a_refused_preflight_is_a_403_without_cors_headers(
    caplog: pytest.LogCaptureFixture, settings: dict[str, Any], path: str, method: str,
    origin: str, headers: str | None, reason: str, detail: str,
) -> None:
    with TestClient(api(**settings)) as client, caplog.at_level(logging.INFO, "zephyr.security"):
        answer = preflight(client, path, method, origin, headers)
    assert answer.status_code == 403
    problem = answer.json()
    assert problem["reason"] == reason
    assert detail in problem["detail"]
    assert origin not in answer.text  # nothing of the request is echoed
    assert cors_headers(answer) == {}
    assert answer.headers.get_list("vary") == [PREFLIGHT_VARY]
    refusals = [(r.security_event, r.reason) for r in caplog.records]  # type: ignore[attr-defined]
    assert refusals == [("cors-refused", reason.removeprefix("cors-"))]


@pytest.mark.parametrize(
    ("settings", "path", "method", "origin"),
    [
        (ALLOWED, "/items", "PATCH", APP),  # no route serves PATCH there
        (ALLOWED, "/items", "patch", APP),  # methods are case-sensitive: fetch sends 'patch'
        (ALLOWED, "/internal/stats", "GET", APP),  # the route has no policy
        (ALLOWED, "/items", "POST", None),  # no Origin: not a CORS preflight
        ({}, "/items", "POST", APP),  # CORS is off
    ],
)
def test_an_options_request_that_no_policy_answers_is_plain(
    settings: dict[str, Any], path: str, method: str, origin: str | None
) -> None:
    with TestClient(api(**settings)) as client:
        answer = preflight(client, path, method, origin)
    assert answer.status_code == 204
    assert "allow" in answer.headers
    assert cors_headers(answer) == {}


def test_a_refused_preflight_goes_through_app_middleware_and_error_handlers() -> None:
    app = Zephyr(__name__, cors_allow_origins=[APP])
    seen: list[int] = []

    @app.middleware
    async def record(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        seen.append(response.status_code)
        return response

    @app.errorhandler(403)
    async def forbidden(exc: Any) -> tuple[dict[str, str], int]:
        return {"refused": exc.reason}, 403

    @app.route("/dav", methods=["GET", "OPTIONS"])
    async def dav() -> str:
        return "dav"

    app.add_route("/x", lambda: "x")
    with TestClient(app) as client:
        implicit = preflight(client, "/x", "GET", EVIL)
        explicit = preflight(client, "/dav", "GET", EVIL)
    for answer in (implicit, explicit):
        assert (answer.status_code, answer.json()) == (403, {"refused": "cors-origin"})
        assert answer.headers.get_list("vary") == [PREFLIGHT_VARY]
    assert seen == [403, 403]


def test_an_unknown_path_is_a_404_without_cors_headers() -> None:
    with TestClient(api(**ALLOWED)) as client:
        answer = preflight(client, "/nowhere", "GET")
    assert answer.status_code == 404
    assert cors_headers(answer) == {}


def test_a_route_that_answers_options_itself_still_gets_preflights_answered() -> None:
    app = Zephyr(__name__, cors_allow_origins=[APP])
    calls: list[str] = []

    @app.route("/dav", methods=["GET", "OPTIONS"])
    async def dav(request: Request) -> Response:
        calls.append(request.method)
        return Response(status_code=200, headers={"DAV": "1"})

    with TestClient(app) as client:
        answer = preflight(client, "/dav", "GET")
        assert (answer.status_code, answer.headers["access-control-allow-origin"]) == (204, APP)
        plain = client.options("/dav", headers={"Origin": APP})
        assert (plain.status_code, plain.headers["dav"]) == (200, "1")
        # Not a preflight, and OPTIONS is not in CORS_ALLOW_METHODS: nothing to read.
        assert "access-control-allow-origin" not in plain.headers
    assert calls == ["OPTIONS"]


def test_routes_added_while_serving_get_their_policy() -> None:
    app = Zephyr(__name__)

    @app.get("/")
    async def home() -> str:
        return "home"

    with TestClient(app) as client:
        app.add_route("/late", lambda: "late", cors={"allow_origins": [APP]})
        assert client.get("/late", headers={"Origin": APP}).headers[
            "access-control-allow-origin"] == APP
        assert preflight(client, "/late", "GET").status_code == 204
        assert cors_headers(preflight(client, "/late", "GET"))["access-control-allow-origin"] == APP


# -- startup refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "cors", "message"),
    [
        ({"cors_allow_origins": ["*"], "cors_allow_credentials": True}, None,
         "CORS_ALLOW_ORIGINS=['*'] with CORS_ALLOW_CREDENTIALS=True would let every site read "
         "what its visitors' cookies unlock; list the origins you trust (or give "
         "CORS_ALLOW_ORIGIN_REGEX), or turn credentials off"),
        ({"cors_allow_credentials": True}, {"allow_origins": ["*"]},
         "route '/r': allow_origins=['*'] with allow_credentials=True"),
        ({"cors_allow_origins": [APP], "cors_allow_credentials": True,
          "cors_expose_headers": ["*"]}, None,
         "CORS_EXPOSE_HEADERS=['*'] with CORS_ALLOW_CREDENTIALS=True is read by browsers as a "
         "header named '*'; list the headers"),
        ({"cors_allow_origins": ["https://app.example.com/"]}, None, None),  # a slash is fine
        ({"cors_allow_origins": ["https://app.example.com/api"]}, None,
         "CORS_ALLOW_ORIGINS has 'https://app.example.com/api': an origin is "
         "scheme://host[:port] without a path, like 'https://app.example.com'"),
        ({"cors_allow_origins": ["app.example.com"]}, None, "has 'app.example.com'"),
        ({"cors_allow_origin_regex": "https://(.example.com"}, None,
         "CORS_ALLOW_ORIGIN_REGEX 'https://(.example.com' is not a regular expression"),
        ({"cors_allow_origins": [APP]}, {"allow_origin": [APP]},
         "route '/r': cors= got unknown key 'allow_origin'; did you mean 'allow_origins'?"),
        ({"cors_allow_origins": [APP]}, "yes",
         "route '/r': cors= takes False, True or a dict of CORS options"),
        ({}, True, "route '/r' has cors= but no allowed origin; set CORS_ALLOW_ORIGINS"),
        ({}, {"max_age": 5}, "route '/r' has cors= but no allowed origin"),
        ({"cors_allow_origins": [APP], "cors_max_age": -1}, None,
         "CORS_MAX_AGE must be a number of seconds (0 or more)"),
        ({"cors_allow_origins": [APP]}, {"allow_methods": "GET"},
         "route '/r': allow_methods takes a list of strings, not 'GET'"),
        ({"cors_allow_origins": [APP], "cors_allow_headers": ["X Bad"]}, None,
         "CORS_ALLOW_HEADERS has 'X Bad', which is not a header name"),
    ],
)
def test_unsafe_or_wrong_cors_settings_stop_startup(
    settings: dict[str, Any], cors: Any, message: str | None
) -> None:
    app = Zephyr(__name__, **settings)
    options = {} if cors is None else {"cors": cors}
    app.add_route("/r", lambda: "r", **options)
    if message is None:
        with TestClient(app) as client:
            assert client.get("/r", headers={"Origin": APP}).headers[
                "access-control-allow-origin"] == APP
        return
    with pytest.raises(SetupError) as caught:
        app._go_live()
    assert message in str(caught.value)


def test_a_group_option_is_checked_like_a_route_option() -> None:
    app = Zephyr(__name__)
    group = app.group("/g", cors={"allow_origins": ["*"], "allow_credentials": True})
    group.add_route("/r", lambda: "r")
    with pytest.raises(SetupError, match=r"route '/g/r': allow_origins=\['\*'\]"):
        app._go_live()


# -- CSRF for other origins -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "status"),
    [
        ([], 403),  # allowed to read is not allowed to act: CSRF refuses the other site
        ([APP], 200),
    ],
)
def test_unsafe_requests_from_an_allowed_origin_still_pass_csrf(
    trusted: list[str], status: int
) -> None:
    app = api(cors_allow_origins=[APP], cors_allow_credentials=True,
              csrf_trusted_origins=trusted)
    with TestClient(app) as client:
        answer = client.post("/notes", headers={"Origin": APP, "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == status
    # Either way the page may read the answer (and the reason of a refusal).
    assert cors_headers(answer) == {"access-control-allow-origin": APP,
                                    "access-control-allow-credentials": "true"}
    if status == 403:
        assert answer.json()["reason"] == "csrf-sec-fetch-site"
