"""How exceptions become responses: registered handlers, problem+json, HTML and debug pages."""

from __future__ import annotations

import functools
import json
import logging
import re
from typing import Any, Literal

import msgspec
import pytest

from zephyr import (
    HTTPException,
    JSONResponse,
    NotFound,
    Request,
    RequestValidationError,
    Response,
    SetupError,
    Zephyr,
    abort,
    limit,
)
from zephyr.security import BearerAuth, IsAuthenticated, static_tokens
from zephyr.testing import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
SECRET = "s3cr3t-do-not-leak-7f1c-9d2e4b8a6c0f1e3d5b7a9c"


class PaymentError(Exception):
    pass


class StrictNote(msgspec.Struct, forbid_unknown_fields=True):
    title: str = ""


class CardDeclinedError(PaymentError):
    pass


def app_raising(exc: BaseException, **settings: Any) -> Zephyr:
    """An app whose ``/fail`` raises ``exc``."""
    app = Zephyr(**settings)

    @app.get("/fail")
    async def fail() -> str:
        raise exc

    return app


# -- registered handlers -------------------------------------------------------------------


def test_status_code_handler() -> None:
    app = Zephyr()

    @app.errorhandler(404)
    def not_found(exc: HTTPException) -> tuple[dict[str, Any], int]:
        return {"missing": exc.status_code}, 404

    with TestClient(app) as client:
        response = client.get("/nowhere")
    assert (response.status_code, response.json()) == (404, {"missing": 404})


def test_a_handler_return_value_keeps_the_error_status_by_default() -> None:
    app = app_raising(NotFound("no such user"))
    app.errorhandler(404)(lambda exc: f"<p>{exc.detail}</p>")
    with TestClient(app) as client:
        response = client.get("/fail")
    assert (response.status_code, response.text) == (404, "<p>no such user</p>")


@pytest.mark.parametrize(
    ("raised", "handled_by"),
    [
        (CardDeclinedError("card 4242 declined"), "CardDeclinedError"),
        (PaymentError("gateway down"), "PaymentError"),
        (KeyError("k"), "Exception"),
    ],
)
def test_the_most_specific_exception_class_wins(raised: Exception, handled_by: str) -> None:
    app = app_raising(raised)
    for cls in (Exception, CardDeclinedError, PaymentError):  # registration order does not matter
        app.errorhandler(cls)(lambda exc, name=cls.__name__: ({"handled_by": name}, 402))
    with TestClient(app) as client:
        response = client.get("/fail")
    assert (response.status_code, response.json()) == (402, {"handled_by": handled_by})


def test_a_status_code_handler_comes_before_a_class_handler() -> None:
    app = app_raising(NotFound())
    app.errorhandler(NotFound)(lambda exc: "by class")
    app.errorhandler(HTTPException)(lambda exc: "by base class")
    app.errorhandler(404)(lambda exc: "by status")
    with TestClient(app) as client:
        assert client.get("/fail").text == "by status"


def test_a_500_handler_catches_unhandled_exceptions_but_specific_classes_win() -> None:
    app = Zephyr()
    app.errorhandler(500)(lambda exc: (f"500 handler: {type(exc).__name__}", 500))
    app.errorhandler(PaymentError)(lambda exc: ("payment handler", 402))

    @app.get("/bug")
    async def bug() -> str:
        raise ZeroDivisionError

    @app.get("/pay")
    async def pay() -> str:
        raise CardDeclinedError

    with TestClient(app) as client:
        bug_response = client.get("/bug")
        pay_response = client.get("/pay")
    assert (bug_response.status_code, bug_response.text) == (500, "500 handler: ZeroDivisionError")
    assert (pay_response.status_code, pay_response.text) == (402, "payment handler")


@pytest.mark.parametrize("is_async", [False, True])
def test_handler_forms_exc_and_request_exc_sync_and_async(is_async: bool) -> None:
    app = app_raising(PaymentError("declined"))

    def with_request(request: Request, exc: PaymentError) -> dict[str, str]:
        return {"path": request.path, "error": str(exc)}

    async def with_request_async(request: Request, exc: PaymentError) -> dict[str, str]:
        return with_request(request, exc)

    app.errorhandler(PaymentError)(with_request_async if is_async else with_request)
    with TestClient(app) as client:
        response = client.get("/fail")
    assert (response.status_code, response.json()) == (500, {"path": "/fail",
                                                             "error": "declined"})


def test_a_handler_that_raises_an_http_exception_answers_with_it() -> None:
    app = app_raising(PaymentError("declined"))

    @app.errorhandler(PaymentError)
    def to_http(exc: PaymentError) -> str:
        raise HTTPException(402, f"payment failed: {exc}", headers={"Retry-After": "30"})

    with TestClient(app) as client:
        response = client.get("/fail")
    assert response.status_code == 402
    assert response.json()["detail"] == "payment failed: declined"
    assert response.headers["retry-after"] == "30"


def test_a_failing_handler_is_logged_and_gives_the_default_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_raising(PaymentError("declined"))

    @app.errorhandler(PaymentError)
    def broken(exc: PaymentError) -> str:
        raise ValueError(f"handler bug {SECRET}")

    with TestClient(app) as client:
        response = client.get("/fail")
    assert response.status_code == 500
    assert response.json()["title"] == "Internal Server Error"
    assert SECRET not in response.text
    assert "error handler" in caplog.text
    assert "failed while handling PaymentError('declined')" in caplog.text


def test_group_handlers_come_before_app_handlers() -> None:
    app = Zephyr()
    api = app.group("/api")
    app.errorhandler(PaymentError)(lambda exc: "app handler")
    api.errorhandler(PaymentError)(lambda exc: {"api": "handler"})

    @api.get("/pay")
    async def api_pay() -> str:
        raise PaymentError

    @app.get("/pay")
    async def site_pay() -> str:
        raise PaymentError

    with TestClient(app) as client:
        assert client.get("/api/pay").json() == {"api": "handler"}
        assert client.get("/pay").text == "app handler"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (200, "errorhandler(200): only 4xx and 5xx codes can be handled"),
        (True, "takes an HTTP status code or an exception class, not True"),
        ("404", "takes an HTTP status code or an exception class, not '404'"),
        (int, "takes an HTTP status code or an exception class, not <class 'int'>"),
    ],
)
def test_bad_error_handler_keys_are_refused(key: Any, message: str) -> None:
    with pytest.raises(SetupError, match=re.escape(message)):
        Zephyr().errorhandler(key)(lambda exc: "x")


@pytest.mark.parametrize(("fn", "signature"), [
    (lambda: "x", "()"),
    (lambda request, exc, extra: "x", "(request, exc, extra)"),
    (lambda exc, *, required: "x", "(exc, *, required)"),
])
def test_error_handlers_with_the_wrong_arity_are_refused(fn: Any, signature: str) -> None:
    with pytest.raises(SetupError) as info:
        Zephyr().errorhandler(404)(fn)
    assert str(info.value) == (
        f"error handler '<lambda>' must take (exc) or (request, exc), but its signature is "
        f"{signature}"
    )


class _Handlers:
    """Error handlers as a bound method and as a callable object."""

    def method(self, request: Request, exc: HTTPException) -> str:
        return _shape(request, exc)

    def __call__(self, exc: HTTPException) -> str:
        return _shape(exc)


def _shape(*args: Any) -> str:
    return ",".join(type(arg).__name__ for arg in args)


def _tagged(tag: str, request: Request, exc: HTTPException) -> str:
    return f"{tag}:{_shape(request, exc)}"


def _forgetful_decorator(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:  # no functools.wraps
        return fn(*args, **kwargs)

    return wrapper


# The richest shape a handler can take wins; parameters with defaults keep them.
@pytest.mark.parametrize(("handler", "expected"), [
    (lambda *args: _shape(*args), "Request,NotFound"),
    (lambda exc, *rest: _shape(exc, *rest), "Request,NotFound"),
    (lambda exc, tag="kept": f"{tag}:{_shape(exc)}", "kept:NotFound"),
    (functools.partial(_tagged, "partial"), "partial:Request,NotFound"),
    (_forgetful_decorator(lambda request, exc: _shape(request, exc)), "Request,NotFound"),
    (_Handlers().method, "Request,NotFound"),
    (_Handlers(), "NotFound"),
])
def test_error_handlers_accept_any_callable_that_can_take_their_arguments(
    handler: Any, expected: str
) -> None:
    app = Zephyr()
    app.errorhandler(404)(handler)
    with TestClient(app) as client:
        r = client.get("/nowhere")
    assert (r.status_code, r.text) == (404, expected)


def _reshaping_app(handler: Any) -> Zephyr:
    """An app whose HTTPException handler answers with its own body: one route per header.

    ``/private`` refuses anonymous users (401, WWW-Authenticate), ``/only-get`` answers
    POST with 405 (Allow), ``/limited`` allows one request a minute (429, Retry-After).
    """
    app = Zephyr()
    app.errorhandler(HTTPException)(handler)

    @app.get("/private", auth=[BearerAuth(static_tokens({"token-0123456789": "ada"}))],
             permissions=[IsAuthenticated()])
    async def private() -> str:
        return "secret"

    @app.get("/only-get")
    async def only_get() -> str:
        return "got"

    @app.get("/limited", limits=[limit("1/minute")])
    async def limited() -> str:
        return "once"

    return app


def _error_body(exc: HTTPException) -> dict[str, Any]:
    return {"error": exc.title}


@pytest.mark.parametrize(("method", "path", "status", "header", "value"), [
    ("GET", "/private", 401, "www-authenticate", 'Bearer realm="api"'),
    ("POST", "/only-get", 405, "allow", "GET, HEAD, OPTIONS"),
    ("GET", "/limited", 429, "retry-after", "60"),
])
def test_a_handler_that_reshapes_the_body_keeps_the_exception_headers(
    method: str, path: str, status: int, header: str, value: str
) -> None:
    with TestClient(_reshaping_app(_error_body)) as client:
        client.get("/limited")  # the minute's one request
        r = client.request(method, path)
    assert r.status_code == status
    assert r.json() == {"error": HTTPException(status).title}
    assert r.headers[header] == value


def test_a_header_the_handler_sets_itself_wins_over_the_exception_header() -> None:
    def own_challenge(exc: HTTPException) -> Response:
        response = JSONResponse({"error": exc.title}, exc.status_code)
        response.headers["WWW-Authenticate"] = 'Token realm="conduit"'
        return response

    with TestClient(_reshaping_app(own_challenge)) as client:
        r = client.get("/private")
    assert r.status_code == 401
    assert r.headers.get_list("www-authenticate") == ['Token realm="conduit"']


# -- default bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_default_error_body_is_problem_json(accept: str | None) -> None:
    app = app_raising(HTTPException(409, "the slug is taken"))
    headers = {"Accept": accept} if accept else {}
    with TestClient(app) as client:
        response = client.get("/fail", headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.pop("instance").startswith("urn:zephyr:request:")
    assert problem == {"type": "about:blank", "title": "Conflict", "status": 409,
                       "detail": "the slug is taken"}


def test_default_error_body_is_an_escaped_html_page_for_browsers() -> None:
    app = app_raising(HTTPException(400, "bad name <script>alert(1)</script>"))
    with TestClient(app) as client:
        response = client.get("/fail", headers=HTML)
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>400 Bad Request</title>" in response.text
    assert "bad name &lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text


def test_http_exception_headers_are_copied() -> None:
    app = app_raising(HTTPException(401, "log in", headers={"WWW-Authenticate": "Bearer"}))
    with TestClient(app) as client:
        response = client.get("/fail")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_abort() -> None:
    app = Zephyr()

    @app.get("/admin")
    async def admin() -> str:
        abort(403, "nope")

    with TestClient(app) as client:
        response = client.get("/admin")
    assert response.status_code == 403
    assert (response.json()["title"], response.json()["detail"]) == ("Forbidden", "nope")


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("text/html;q=0, application/json", "application/problem+json"),
        ("application/json, text/html;q=0.5", "application/problem+json"),
        ("text/html, application/json;q=0.9", "text/html; charset=utf-8"),
        ("text/html;q=bogus", "application/problem+json"),
    ],
)
def test_the_accept_header_quality_values_decide_html_or_json(accept: str, kind: str) -> None:
    app = app_raising(HTTPException(409, "the slug is taken"))
    with TestClient(app) as client:
        response = client.get("/fail", headers={"Accept": accept})
    assert response.status_code == 409
    assert response.headers["content-type"] == kind


def test_the_html_page_of_a_422_lists_each_problem() -> None:
    app = Zephyr()

    @app.get("/items")
    async def items(limit: int) -> dict[str, int]:
        return {"limit": limit}

    with TestClient(app) as client:
        response = client.get("/items", params={"limit": "<b>ten</b>"}, headers=HTML)
    assert response.status_code == 422
    assert "<li><code>limit</code> (query): Expected `int`, got `str`</li>" in response.text
    assert "<b>" not in response.text


def test_request_validation_errors_list_each_problem() -> None:
    app = Zephyr()

    @app.get("/items")
    async def items(limit: int) -> dict[str, int]:
        return {"limit": limit}

    with TestClient(app) as client:
        response = client.get("/items", params={"limit": "ten"})
    body = response.json()
    assert response.status_code == 422
    assert body["detail"] == "1 invalid value in the request; see 'errors'"
    assert [(e["location"], e["field"]) for e in body["errors"]] == [("query", "limit")]


def test_a_raised_request_validation_error_keeps_its_errors() -> None:
    errors = [{"location": "body", "field": "email", "message": "not an email"},
              {"location": "body", "field": "age", "message": "must be positive"}]
    app = app_raising(RequestValidationError(errors))
    with TestClient(app) as client:
        response = client.get("/fail")
    assert response.status_code == 422
    assert response.json()["detail"] == "2 invalid values in the request; see 'errors'"
    assert response.json()["errors"] == errors


def test_method_not_allowed_lists_the_allowed_methods() -> None:
    app = Zephyr()

    @app.get("/thing")
    async def thing() -> str:
        return "ok"

    with TestClient(app) as client:
        response = client.delete("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["detail"] == "this path answers GET, HEAD, OPTIONS only"


# -- 500s outside debug ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTML])
def test_a_500_never_shows_the_exception_traceback_or_settings(headers: dict[str, str]) -> None:
    app = app_raising(RuntimeError(f"database password is {SECRET}"), secret_key=SECRET)
    with TestClient(app) as client:
        response = client.get("/fail", headers=headers)
    assert response.status_code == 500
    for leak in (SECRET, "RuntimeError", "Traceback", "database password", "SECRET_KEY"):
        assert leak not in response.text
    assert "The server failed to handle this request." in response.text


def test_a_500_carries_a_request_id_that_is_also_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_raising(RuntimeError("boom"))
    with caplog.at_level(logging.ERROR, logger="zephyr.error"), TestClient(app) as client:
        response = client.get("/fail")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    body = response.json()
    assert body["request_id"] == request_id
    assert body["detail"] == (
        f"The server failed to handle this request. Request id: {request_id}."
    )
    records = [r for r in caplog.records if r.name == "zephyr.error"]
    assert len(records) == 1
    assert records[0].getMessage() == (
        f"unhandled RuntimeError in GET /fail (request id {request_id})"
    )
    assert records[0].exc_info is not None  # the traceback goes to the log, not the client


def test_the_request_id_is_on_the_html_page_too() -> None:
    app = app_raising(RuntimeError("boom"))
    with TestClient(app) as client:
        response = client.get("/fail", headers=HTML)
    assert f"Request id: {response.headers['x-request-id']}." in response.text


@pytest.mark.parametrize(
    ("given", "reused"),
    [
        ("req-42.abc_DEF", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("id with spaces", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_a_sane_client_request_id_is_reused_and_an_unsafe_one_replaced(
    given: str, reused: bool
) -> None:
    app = app_raising(RuntimeError("boom"))
    with TestClient(app) as client:
        response = client.get("/fail", headers={"X-Request-ID": given})
    request_id = response.headers["x-request-id"]
    if reused:
        assert request_id == given
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json()["request_id"] == request_id


# -- debug mode (the page itself: test_dev_debug_page.py) ----------------------------------


def test_debug_json_clients_get_a_traceback_list() -> None:
    app = app_raising(KeyError("missing-key"), debug=True)
    with TestClient(app) as client:
        response = client.get("/fail")
    body = response.json()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert body["detail"] == "KeyError: 'missing-key'"
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["traceback"][0] == "Traceback (most recent call last):\n"
    assert body["traceback"][-1] == "KeyError: 'missing-key'\n"
    assert any("raise exc" in line for line in body["traceback"])


# -- request input never echoed outside debug mode -------------------------------------------

MARK = "zmarkz"
JSON_ACCEPT = {"accept": "application/json"}
HTML_ACCEPT = {"accept": HTML["Accept"]}


def hostile_app(**settings: Any) -> Zephyr:
    """Routes that read the query, a JSON body and a form, and one CSRF-protected POST."""
    app = Zephyr(**settings)

    @app.get("/query")
    async def query(request: Request) -> dict[str, str]:
        return dict(request.query)

    @app.get("/page")
    async def page(page: int) -> int:
        return page

    @app.get("/sorted")
    async def sorted_by(by: Literal["name", "date"]) -> str:
        return by

    @app.post("/strict", csrf=False)
    async def strict(note: StrictNote) -> str:
        return note.title

    @app.post("/json", csrf=False)
    async def json_body(request: Request) -> Any:
        return await request.json()

    @app.post("/form", csrf=False)
    async def form(request: Request) -> dict[str, Any]:
        return dict(await request.form())

    @app.post("/submit")
    async def submit() -> str:
        return "done"

    return app


def exchange(app: Zephyr, *, method: str = "GET", path: str = "/query",
             raw_path: bytes | None = None, query: bytes = b"", http_version: str = "1.1",
             headers: dict[str, str] | None = None, body: bytes = b"") -> tuple[int, str, str]:
    """One request built exactly as given, in-process: (status, content type, body)."""
    import asyncio

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": http_version,
        "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path, "query_string": query,
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("localhost", 80),
        "headers": [(name.encode(), value.encode("latin-1"))
                    for name, value in {"host": "localhost", **(headers or {})}.items()],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await app.startup()
        try:
            await app(scope, receive, send)
        finally:
            await app.shutdown()

    asyncio.run(run())
    content_type = dict(sent[0]["headers"]).get(b"content-type", b"").decode()
    return sent[0]["status"], content_type, b"".join(m.get("body", b"") for m in sent[1:]).decode()


HOSTILE = [
    pytest.param(400, {"headers": {"host": f"{MARK}.example"}}, id="host"),
    pytest.param(404, {"path": f"/{MARK}"}, id="path"),
    pytest.param(400, {"path": f"/{MARK}\ufffd", "raw_path": f"/{MARK}%ff".encode()},
                 id="path-not-utf8"),
    pytest.param(400, {"path": MARK}, id="request-target"),
    pytest.param(505, {"http_version": MARK}, id="http-version"),
    pytest.param(403, {"method": "POST", "path": "/submit",
                       "headers": {"origin": f"http://{MARK}"}}, id="origin"),
    pytest.param(403, {"method": "POST", "path": "/submit",
                       "headers": {"sec-fetch-site": MARK}}, id="sec-fetch-site"),
    pytest.param(415, {"method": "POST", "path": "/json",
                       "headers": {"content-type": f"text/{MARK}"}}, id="content-type-json"),
    pytest.param(415, {"method": "POST", "path": "/form",
                       "headers": {"content-type": f"text/{MARK}"}}, id="content-type-form"),
    pytest.param(400, {"method": "POST", "path": "/json",
                       "headers": {"content-type": "application/json", "content-length": MARK}},
                 id="content-length"),
    pytest.param(400, {"query": f"q={MARK}%ff".encode()}, id="query-not-utf8"),
    pytest.param(400, {"method": "POST", "path": "/form",
                       "headers": {"content-type": "application/x-www-form-urlencoded"},
                       "body": f"q={MARK}%ff".encode()}, id="form-not-utf8"),
    pytest.param(400, {"method": "POST", "path": "/json",
                       "headers": {"content-type": "application/json"},
                       "body": f'{{"q": "{MARK}'.encode() + b'\xff"}'}, id="json-not-utf8"),
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("accept", [JSON_ACCEPT, HTML_ACCEPT], ids=["json", "html"])
@pytest.mark.parametrize(("status", "request_parts"), HOSTILE)
def test_only_debug_mode_shows_request_input_in_an_error_body(
    status: int, request_parts: dict[str, Any], accept: dict[str, str], debug: bool
) -> None:
    parts = {**request_parts, "headers": {**request_parts.get("headers", {}), **accept}}
    got, content_type, body = exchange(hostile_app(debug=debug), **parts)
    assert got == status
    assert content_type.startswith("text/html" if accept is HTML_ACCEPT
                                   else "application/problem+json")
    assert (MARK in body) == debug


@pytest.mark.parametrize(("request_parts", "field", "message"), [
    ({"path": "/page", "query": f"page={MARK}".encode()}, "page", "Expected `int`, got `str`"),
    # msgspec quotes the value or the key in these: they are taken out of the message.
    ({"path": "/sorted", "query": f"by={MARK}".encode()}, "by", "Invalid enum value"),
    ({"method": "POST", "path": "/strict", "body": f'{{"{MARK}": 1}}'.encode(),
      "headers": {"content-type": "application/json"}},
     "body", "Object contains an unknown field"),
])
def test_a_422_lists_the_value_in_json_but_never_on_an_html_page(
    request_parts: dict[str, Any], field: str, message: str
) -> None:
    # As FastAPI does, the JSON ``errors`` keep each submitted value for the client to see.
    def send(accept: dict[str, str], *, debug: bool = False) -> tuple[int, str, str]:
        headers = {**request_parts.get("headers", {}), **accept}
        return exchange(hostile_app(debug=debug), **{**request_parts, "headers": headers})

    [error] = json.loads(send(JSON_ACCEPT)[2])["errors"]
    assert (error["field"], error["message"], error["value"]) == (field, message, MARK)
    for debug in (False, True):
        got, _, page = send(HTML_ACCEPT, debug=debug)
        assert (got, MARK in page) == (422, False)


def test_debug_mode_lists_what_was_received_by_name() -> None:
    _, _, body = exchange(hostile_app(debug=True), headers={"host": "evil.example"})
    assert json.loads(body)["received"] == {"host": "evil.example"}
    _, _, page = exchange(hostile_app(debug=True), headers={"host": "<b>evil</b>", **HTML_ACCEPT})
    assert "<code>host</code>: &#x27;&lt;b&gt;evil&lt;/b&gt;&#x27;" in page


@pytest.mark.parametrize(("given", "reused"), [("req-42", True), ("<script>", False)])
def test_the_problem_instance_names_the_request_not_its_path(given: str, reused: bool) -> None:
    _, _, body = exchange(hostile_app(), path=f"/{MARK}", headers={"x-request-id": given})
    instance = json.loads(body)["instance"]
    if reused:
        assert instance == f"urn:zephyr:request:{given}"
    else:
        assert re.fullmatch(r"urn:zephyr:request:[0-9a-f]{32}", instance)


def test_a_500_instance_has_the_request_id_of_its_header() -> None:
    app = app_raising(RuntimeError("boom"))
    with TestClient(app) as client:
        response = client.get("/fail")
    request_id = response.headers["x-request-id"]
    assert response.json()["instance"] == f"urn:zephyr:request:{request_id}"
