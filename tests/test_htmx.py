"""HTMX: what ``request.htmx`` reads from the request, the HX-* response helpers with their
exact header values, and ``Vary`` on routes that answer HTMX differently.

The CSRF side (``htmx_csrf_headers()``) is in test_security_csrf.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from zephyr import HTMLResponse, JSONResponse, Request, Response, Zephyr, htmx
from zephyr.errors import HeaderValueError
from zephyr.htmx import HtmxDetails
from zephyr.testing import TestClient

ORIGIN = "http://testserver"


def details(headers: dict[str, str]) -> HtmxDetails:
    """The htmx details of a request to ``ORIGIN`` carrying ``headers``."""
    scope = {
        "type": "http", "method": "GET", "scheme": "http", "path": "/", "query_string": b"",
        "headers": [(b"host", b"testserver"),
                    *((k.lower().encode(), v.encode("latin-1")) for k, v in headers.items())],
    }
    return Request(scope, _no_body).htmx


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


# -- request.htmx ------------------------------------------------------------------------

ALL_NONE = {"boosted": False, "history_restore_request": False, "target": None,
            "trigger": None, "trigger_name": None, "current_url": None, "prompt": None,
            "current_url_abs_path": None, "is_partial": False}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, {"is_htmx": False}),
        # Booleans are exactly "true", as htmx sends them.
        ({"HX-Request": "True"}, {"is_htmx": False}),
        ({"HX-Request": "1"}, {"is_htmx": False}),
        ({"HX-Request": "true"}, {"is_htmx": True, "is_partial": True}),
        ({"HX-Request": "true", "HX-Boosted": "true"}, {"is_htmx": True, "boosted": True}),
        ({"HX-Request": "true", "HX-Boosted": "yes"}, {"is_htmx": True, "is_partial": True}),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"},
         {"is_htmx": True, "history_restore_request": True}),
        ({"HX-Request": "true", "HX-Target": "notes", "HX-Trigger": "save-btn",
          "HX-Trigger-Name": "save"},
         {"is_htmx": True, "is_partial": True, "target": "notes", "trigger": "save-btn",
          "trigger_name": "save"}),
        ({"HX-Request": "true", "HX-Prompt": "Yes, delete"},
         {"is_htmx": True, "is_partial": True, "prompt": "Yes, delete"}),
        # A value with characters outside latin-1 is sent URI-encoded, and says so.
        ({"HX-Request": "true", "HX-Prompt": "%E2%82%AC%2050", "HX-Prompt-URI-AutoEncoded": "true"},
         {"is_htmx": True, "is_partial": True, "prompt": "€ 50"}),
        ({"HX-Request": "true", "HX-Prompt": "100%25"},  # not marked encoded: left as it is
         {"is_htmx": True, "is_partial": True, "prompt": "100%25"}),
        ({"HX-Request": "true", "HX-Prompt": "caf\xe9"},  # latin-1 arrives as it is
         {"is_htmx": True, "is_partial": True, "prompt": "caf\xe9"}),
        ({"HX-Request": "true", "HX-Current-URL": f"{ORIGIN}/notes?page=2#top"},
         {"is_htmx": True, "is_partial": True, "current_url": f"{ORIGIN}/notes?page=2#top",
          "current_url_abs_path": "/notes?page=2#top"}),
        ({"HX-Request": "true",
          "HX-Current-URL": "http%3A%2F%2Ftestserver%2Fn%C3%B6tes",
          "HX-Current-URL-URI-AutoEncoded": "true"},
         {"is_htmx": True, "is_partial": True, "current_url": f"{ORIGIN}/nötes",
          "current_url_abs_path": "/nötes"}),
        # Another origin's URL is no path of this app.
        ({"HX-Request": "true", "HX-Current-URL": "https://testserver/notes"},
         {"is_htmx": True, "is_partial": True, "current_url": "https://testserver/notes"}),
        ({"HX-Request": "true", "HX-Current-URL": "http://evil.example/notes"},
         {"is_htmx": True, "is_partial": True, "current_url": "http://evil.example/notes"}),
        ({"HX-Request": "true", "HX-Target": ""},  # an empty header is no value
         {"is_htmx": True, "is_partial": True}),
    ],
)
def test_request_htmx_reads_each_header(headers: dict[str, str], expected: dict[str, Any]) -> None:
    found = details(headers)
    wanted = {**ALL_NONE, **expected}
    assert bool(found) is wanted.pop("is_htmx")
    assert {name: getattr(found, name) for name in wanted} == wanted


def test_request_htmx_is_built_once_and_only_when_asked() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []}, _no_body)
    with pytest.raises(AttributeError):
        request._htmx  # noqa: B018 - nothing is built until a handler asks
    assert request.htmx is request.htmx
    assert repr(request.htmx) == "<HtmxDetails htmx=False>"


def test_a_handler_reads_request_htmx() -> None:
    app = Zephyr()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"htmx": bool(request.htmx), "target": request.htmx.target}

    with TestClient(app) as client:
        assert client.get("/").json() == {"htmx": False, "target": None}
        answer = client.get("/", headers={"HX-Request": "true", "HX-Target": "main"})
        assert answer.json() == {"htmx": True, "target": "main"}


# -- response helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("set_header", "name", "value"),
    [
        (lambda r: htmx.redirect(r, "/login"), "HX-Redirect", "/login"),
        (lambda r: htmx.redirect(r, "/caf\xe9 menu"), "HX-Redirect", "/caf%C3%A9%20menu"),
        (lambda r: htmx.location(r, "/notes"), "HX-Location", "/notes"),
        (lambda r: htmx.location(r, "/notes", target="#main", swap="outerHTML"),
         "HX-Location", '{"path":"/notes","target":"#main","swap":"outerHTML"}'),
        (lambda r: htmx.location(r, "/n", source="#b", event="click", handler="h",
                                 values={"a": 1}, headers={"X-A": "b"}, select="#list"),
         "HX-Location",
         '{"path":"/n","source":"#b","event":"click","handler":"h","values":{"a":1},'
         '"headers":{"X-A":"b"},"select":"#list"}'),
        (lambda r: htmx.push_url(r, "/notes?page=2"), "HX-Push-Url", "/notes?page=2"),
        (lambda r: htmx.push_url(r, False), "HX-Push-Url", "false"),
        (lambda r: htmx.replace_url(r, "/notes/3"), "HX-Replace-Url", "/notes/3"),
        (lambda r: htmx.replace_url(r, False), "HX-Replace-Url", "false"),
        (lambda r: htmx.refresh(r), "HX-Refresh", "true"),
        (lambda r: htmx.retarget(r, "#errors"), "HX-Retarget", "#errors"),
        (lambda r: htmx.reselect(r, "#list > li"), "HX-Reselect", "#list > li"),
        (lambda r: htmx.reswap(r, "outerHTML"), "HX-Reswap", "outerHTML"),
        (lambda r: htmx.reswap(r, "innerHTML swap:1s settle:200ms"), "HX-Reswap",
         "innerHTML swap:1s settle:200ms"),
        (lambda r: htmx.reswap(r, "none"), "HX-Reswap", "none"),
        (lambda r: htmx.trigger(r, "saved"), "HX-Trigger", "saved"),
        (lambda r: htmx.trigger(r, ["saved", "closed"]), "HX-Trigger", "saved, closed"),
        (lambda r: htmx.trigger(r, "saved", {"id": 3}), "HX-Trigger", '{"saved":{"id":3}}'),
        (lambda r: htmx.trigger(r, {"saved": {"id": 3}, "note": "Saved"}), "HX-Trigger",
         '{"saved":{"id":3},"note":"Saved"}'),
        (lambda r: htmx.trigger(r, "saved", after="settle"), "HX-Trigger-After-Settle", "saved"),
        (lambda r: htmx.trigger(r, "saved", [1, 2], after="swap"), "HX-Trigger-After-Swap",
         '{"saved":[1,2]}'),
        # Non-ASCII details are \\u-escaped: header values are read as latin-1.
        (lambda r: htmx.trigger(r, "note", "€ café 🎉"), "HX-Trigger",
         '{"note":"\\u20ac caf\\u00e9 \\ud83c\\udf89"}'),
        (lambda r: htmx.trigger(r, "note", "line\r\nbreak"), "HX-Trigger",
         '{"note":"line\\r\\nbreak"}'),
    ],
)
def test_each_response_helper_sets_its_header(set_header: Any, name: str, value: str) -> None:
    response = Response("x")
    assert set_header(response) is response  # chainable: return htmx.refresh(Response())
    assert response.headers.getlist(name) == [value]


def test_triggers_accumulate_in_one_header() -> None:
    response = Response()
    htmx.trigger(response, "saved")
    htmx.trigger(response, "closed")
    assert response.headers["HX-Trigger"] == "saved, closed"
    htmx.trigger(response, "note", {"text": "hi"})
    htmx.trigger(response, "saved", 2)  # the last detail of an event wins
    assert response.headers.getlist("HX-Trigger") == [
        '{"saved":2,"closed":{},"note":{"text":"hi"}}'
    ]
    htmx.trigger(response, "other", after="swap")  # another header, untouched above
    assert response.headers["HX-Trigger-After-Swap"] == "other"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: htmx.redirect(r, "/a\r\nSet-Cookie: x=1"), "CR, LF or NUL"),
        (lambda r: htmx.push_url(r, "/a\nb"), "CR, LF or NUL"),
        (lambda r: htmx.retarget(r, "#a\r\nX: y"), "CR, LF or NUL"),
        (lambda r: htmx.reswap(r, "inner"), "'inner' is not an htmx swap style"),
        (lambda r: htmx.location(r, "/a", swap="sideways"), "'sideways' is not an htmx swap"),
        (lambda r: htmx.trigger(r, "a,b"), "event name 'a,b'"),
        (lambda r: htmx.trigger(r, ""), "event name ''"),
        (lambda r: htmx.trigger(r, ["ok", " padded"]), "event name ' padded'"),
        (lambda r: htmx.trigger(r, ["a"], {"x": 1}), "a detail goes with one event name"),
        (lambda r: htmx.trigger(r, "a", after="later"), "after='later'"),
        (lambda r: htmx.trigger(r, "a", object()), "cannot encode the detail"),
        (lambda r: htmx.push_url(r, True), "a URL or False"),
    ],
)
def test_bad_values_are_refused_with_the_reason(call: Any, message: str) -> None:
    response = Response()
    with pytest.raises(HeaderValueError, match=message):
        call(response)
    assert not any(name.startswith("hx-") for name in response.headers)


def test_a_handler_answers_with_helpers() -> None:
    app = Zephyr()

    @app.post("/notes", csrf=False)
    async def create() -> Response:
        response = JSONResponse({"id": 3}, status_code=201)
        htmx.trigger(response, "note-saved", {"id": 3})
        return htmx.push_url(response, "/notes/3")

    @app.post("/logout", csrf=False)
    async def logout() -> Response:
        return htmx.redirect(Response(), "/login")

    with TestClient(app) as client:
        created = client.post("/notes")
        assert created.status_code == 201
        assert created.headers["hx-trigger"] == '{"note-saved":{"id":3}}'
        assert created.headers["hx-push-url"] == "/notes/3"
        out = client.post("/logout")
        assert (out.status_code, out.headers["hx-redirect"], out.content) == (200, "/login", b"")


# -- Vary: HX-Request ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], ["HX-Request"]),
        ([("Vary", "Accept")], ["Accept, HX-Request"]),
        ([("Vary", "Accept"), ("Vary", "Cookie")], ["Accept, Cookie, HX-Request"]),
        ([("Vary", "hx-request")], ["hx-request"]),
        ([("Vary", "*")], ["*"]),
    ],
)
def test_vary_adds_hx_request_once(before: list[tuple[str, str]], after: list[str]) -> None:
    response = Response()
    for name, value in before:
        response.headers.append(name, value)
    assert htmx.vary(response) is response
    assert response.headers.getlist("Vary") == after


PAGE_VARY = "HX-Request, HX-Boosted, HX-History-Restore-Request"


def notes_app() -> Zephyr:
    app = Zephyr()

    def render(block: str | None) -> str:
        items = "<ul id='list'><li>one</li></ul>"
        return items if block == "list" else f"<html><body><h1>Notes</h1>{items}</body></html>"

    @app.get("/notes")
    async def notes(request: Request) -> Response:
        return htmx.page_or_fragment(request, "list", render)

    @app.get("/json")
    async def as_json(request: Request) -> Response:
        return htmx.page_or_fragment(request, "list", lambda block: {"block": block})

    return app


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        # A boosted link swaps in a whole page; a history miss restores a whole page.
        ({"HX-Request": "true", "HX-Boosted": "true"}, False),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ],
)
def test_page_or_fragment_answers_each_kind_and_varies(
    headers: dict[str, str], fragment: bool
) -> None:
    with TestClient(notes_app()) as client:
        answer = client.get("/notes", headers=headers)
        assert answer.status_code == 200
        assert answer.text.startswith("<ul") is fragment
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers.get_list("vary") == [PAGE_VARY]
        data = client.get("/json", headers=headers)
        assert data.json() == {"block": "list" if fragment else None}
        assert data.headers.get_list("vary") == [PAGE_VARY]


def test_page_or_fragment_keeps_the_vary_of_the_response() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []}, _no_body)
    response = htmx.page_or_fragment(
        request, "list", lambda block: HTMLResponse("x", headers={"Vary": "Accept-Language"}))
    assert response.headers.getlist("vary") == [f"Accept-Language, {PAGE_VARY}"]
