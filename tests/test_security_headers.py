"""Security headers on every kind of response, their settings and overrides, and the CSP nonce.

Each test builds a small app and reads the headers a TestClient receives.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from zephyr import (
    ContextError,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    Zephyr,
    csp_nonce,
)
from zephyr.config import DEFAULT_CSP
from zephyr.testing import TestClient

HTTP, HTTPS = "http://localhost", "https://localhost"
DEFAULT_POLICY = DEFAULT_CSP.replace("{nonce}", "")
HSTS = "Strict-Transport-Security"
DEFAULTS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": DEFAULT_POLICY,
}
HSTS_ONE_YEAR = "max-age=31536000"
SECURITY_NAMES = (*DEFAULTS, HSTS)
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


def security_headers(response: httpx.Response) -> dict[str, list[str]]:
    """Every security header of ``response`` with all its values (to see duplicates)."""
    return {
        name: response.headers.get_list(name)
        for name in SECURITY_NAMES if name in response.headers
    }


def expected(changes: dict[str, str | None] | None = None, *,
             hsts: str | None = None) -> dict[str, list[str]]:
    """The default headers, each once, with ``changes`` (None drops one) and HSTS if given."""
    values: dict[str, str | None] = {**DEFAULTS, HSTS: hsts, **(changes or {})}
    return {name: [value] for name, value in values.items() if value is not None}


def make_app(**settings: Any) -> Zephyr:
    """An app answering every kind of response the headers must be on."""
    app = Zephyr(**settings)

    @app.get("/")
    async def data() -> dict[str, int]:
        return {"answer": 42}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<h1>Hello</h1>")

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("the handler failed")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"one,"
            yield b"two"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/go")
    async def go() -> RedirectResponse:
        return RedirectResponse("/page")

    return app


# (method, path, request headers, status, body)
RESPONSE_KINDS: list[tuple[str, str, dict[str, str], int, bytes | None]] = [
    ("GET", "/", {}, 200, b'{"answer":42}'),
    ("GET", "/page", {}, 200, b"<h1>Hello</h1>"),
    ("GET", "/missing", {}, 404, None),
    ("POST", "/", {}, 405, None),
    ("GET", "/", {"Host": "evil.example"}, 400, None),
    ("GET", "/boom", {}, 500, None),
    ("GET", "/stream", {}, 200, b"one,two"),
    ("GET", "/go", {}, 307, b""),
]
KIND_IDS = ["json", "html", "404", "405", "host-refused", "500", "stream", "redirect"]


@pytest.mark.parametrize(("base_url", "hsts"), [(HTTP, None), (HTTPS, HSTS_ONE_YEAR)],
                         ids=["http", "https"])
@pytest.mark.parametrize(("method", "path", "headers", "status", "body"), RESPONSE_KINDS,
                         ids=KIND_IDS)
def test_every_response_carries_the_default_headers_once(
    base_url: str, hsts: str | None, method: str, path: str, headers: dict[str, str],
    status: int, body: bytes | None,
) -> None:
    with TestClient(make_app(), base_url=base_url) as client:
        response = client.request(method, path, headers=headers)
    assert response.status_code == status
    if body is not None:
        assert response.content == body
    assert security_headers(response) == expected(hsts=hsts)


@pytest.mark.parametrize(("settings", "changes", "hsts"), [
    ({}, {}, HSTS_ONE_YEAR),
    ({"hsts_seconds": 0}, {}, None),
    ({"hsts_seconds": 60}, {}, "max-age=60"),
    ({"frame_options": ""}, {"X-Frame-Options": None}, HSTS_ONE_YEAR),
    ({"frame_options": "SAMEORIGIN"}, {"X-Frame-Options": "SAMEORIGIN"}, HSTS_ONE_YEAR),
    ({"referrer_policy": "no-referrer"}, {"Referrer-Policy": "no-referrer"}, HSTS_ONE_YEAR),
    ({"content_security_policy": None}, {"Content-Security-Policy": None}, HSTS_ONE_YEAR),
    ({"content_security_policy": "default-src 'none'"},
     {"Content-Security-Policy": "default-src 'none'"}, HSTS_ONE_YEAR),
    ({"content_security_policy": "default-src 'self'; script-src 'self'{nonce}"},
     {"Content-Security-Policy": "default-src 'self'; script-src 'self'"}, HSTS_ONE_YEAR),
])
def test_settings_shape_the_headers(settings: dict[str, Any], changes: dict[str, str | None],
                                    hsts: str | None) -> None:
    with TestClient(make_app(**settings), base_url=HTTPS) as client:
        responses = [client.get("/"), client.get("/missing")]
    for response in responses:
        assert security_headers(response) == expected(changes, hsts=hsts)


@pytest.mark.parametrize("base_url", [HTTP, HTTPS])
@pytest.mark.parametrize(("method", "path", "headers", "status", "body"), RESPONSE_KINDS,
                         ids=KIND_IDS)
def test_security_headers_off_sends_none(base_url: str, method: str, path: str,
                                         headers: dict[str, str], status: int,
                                         body: bytes | None) -> None:
    with TestClient(make_app(security_headers=False), base_url=base_url) as client:
        response = client.request(method, path, headers=headers)
    assert response.status_code == status
    assert security_headers(response) == {}


@pytest.mark.parametrize(("name", "value"), [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin-allow-popups"),
    ("Content-Security-Policy", "default-src 'none'"),
    (HSTS, "max-age=60; includeSubDomains"),
    ("x-frame-options", "SAMEORIGIN"),
])
@pytest.mark.parametrize("media_type", ["text/plain", None], ids=["with-type", "bare"])
def test_a_handler_keeps_the_header_it_set(name: str, value: str,
                                           media_type: str | None) -> None:
    app = Zephyr()

    @app.get("/own")
    async def own() -> Response:
        return Response("mine", headers={name: value}, media_type=media_type)

    with TestClient(app, base_url=HTTPS) as client:
        response = client.get("/own")
    canonical = next(known for known in SECURITY_NAMES if known.lower() == name.lower())
    assert security_headers(response) == expected({canonical: value}, hsts=HSTS_ONE_YEAR)


def test_a_handler_csp_wins_over_the_nonce_policy() -> None:
    app = Zephyr()

    @app.get("/own")
    async def own() -> Response:
        return Response(csp_nonce(), headers={"Content-Security-Policy": "default-src 'none'"})

    with TestClient(app) as client:
        response = client.get("/own")
    assert response.headers.get_list("Content-Security-Policy") == ["default-src 'none'"]


def make_override_app(**settings: Any) -> Zephyr:
    """Routes with their own headers, a group with its own, and routes with the defaults."""
    app = Zephyr(**settings)

    async def text() -> str:
        return "ok"

    app.add_route("/plain", text, name="plain")
    app.add_route("/embed", text, name="embed", security_headers={
        "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": None})
    app.add_route("/no-hsts", text, name="no_hsts", security_headers={HSTS: None})
    widgets = app.group("/widgets", security_headers={"X-Frame-Options": "SAMEORIGIN"})
    widgets.add_route("/card", text, name="card")
    widgets.add_route("/raw", text, name="raw",
                      security_headers={"Content-Security-Policy": None})
    widgets.add_route("/strict", text, name="strict",
                      security_headers={"X-Frame-Options": "DENY"})
    return app


@pytest.mark.parametrize(("path", "changes", "hsts"), [
    ("/plain", {}, HSTS_ONE_YEAR),
    ("/embed", {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": None},
     HSTS_ONE_YEAR),
    ("/no-hsts", {}, None),
    ("/widgets/card", {"X-Frame-Options": "SAMEORIGIN"}, HSTS_ONE_YEAR),
    ("/widgets/raw", {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": None},
     HSTS_ONE_YEAR),
    ("/widgets/strict", {}, HSTS_ONE_YEAR),
    ("/widgets/missing", {}, HSTS_ONE_YEAR),
])
def test_route_and_group_overrides(path: str, changes: dict[str, str | None],
                                   hsts: str | None) -> None:
    with TestClient(make_override_app(), base_url=HTTPS) as client:
        response = client.get(path)
    assert security_headers(response) == expected(changes, hsts=hsts)


@pytest.mark.parametrize("path", ["/plain", "/embed", "/widgets/card", "/widgets/raw"])
def test_overrides_send_nothing_when_security_headers_are_off(path: str) -> None:
    with TestClient(make_override_app(security_headers=False), base_url=HTTPS) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert security_headers(response) == {}


def make_nonce_app(**settings: Any) -> Zephyr:
    app = Zephyr(**settings)

    @app.get("/twice")
    async def twice() -> dict[str, str]:
        return {"first": csp_nonce(), "second": csp_nonce()}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse(f'<script nonce="{csp_nonce()}">go()</script>')

    @app.get("/plain")
    async def plain() -> HTMLResponse:
        return HTMLResponse("<p>no scripts</p>")

    nonced = "default-src 'self'; script-src 'self'{nonce}"
    app.add_route("/own-policy", twice, name="own_policy",
                  security_headers={"Content-Security-Policy": nonced})
    return app


def policy_with(nonce: str) -> str:
    return DEFAULT_CSP.replace("{nonce}", f" 'nonce-{nonce}'")


def test_nonce_is_stable_within_a_request_and_in_the_policy() -> None:
    with TestClient(make_nonce_app()) as client:
        response = client.get("/twice")
    nonce = response.json()["first"]
    assert response.json()["second"] == nonce
    policy = response.headers.get_list("Content-Security-Policy")
    assert policy == [policy_with(nonce)]
    assert f"script-src 'self' 'nonce-{nonce}';" in policy[0]
    assert f"style-src 'self' 'nonce-{nonce}';" in policy[0]


def test_nonce_in_an_html_page_matches_the_header() -> None:
    with TestClient(make_nonce_app()) as client:
        response = client.get("/page")
    match = re.fullmatch(r'<script nonce="([^"]+)">go\(\)</script>', response.text)
    assert match is not None
    assert NONCE.findall(response.headers["Content-Security-Policy"]) == [match[1], match[1]]


def test_every_request_gets_a_fresh_unguessable_nonce() -> None:
    with TestClient(make_nonce_app()) as client:
        nonces = [client.get("/twice").json()["first"] for _ in range(20)]
    assert len(set(nonces)) == 20
    for nonce in nonces:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", nonce)
        assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) >= 16


def test_a_route_without_nonce_has_none_in_its_policy() -> None:
    with TestClient(make_nonce_app(), base_url=HTTPS) as client:
        client.get("/twice")
        response = client.get("/plain")
    assert security_headers(response) == expected(hsts=HSTS_ONE_YEAR)
    assert "nonce-" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("settings", "path", "template"), [
    ({"content_security_policy": "default-src 'self'; script-src 'self'{nonce}"}, "/twice",
     "default-src 'self'; script-src 'self' 'nonce-{}'"),
    ({"content_security_policy": "default-src 'none'"}, "/twice", "default-src 'none'"),
    ({}, "/own-policy", "default-src 'self'; script-src 'self' 'nonce-{}'"),
])
def test_nonce_goes_where_the_policy_marks_it(settings: dict[str, Any], path: str,
                                              template: str) -> None:
    with TestClient(make_nonce_app(**settings)) as client:
        response = client.get(path)
    nonce = response.json()["first"]
    assert response.headers.get_list("Content-Security-Policy") == [template.format(nonce)]


def test_nonce_outside_a_request_is_a_context_error() -> None:
    with pytest.raises(ContextError) as caught:
        csp_nonce()
    assert str(caught.value) == "csp_nonce() needs a request; call it while handling one"
