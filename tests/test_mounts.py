"""Mounted ASGI apps behind the app's security: headers, CSRF and RATE_LIMITS prefix limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from zephyr import Request, Zephyr, csrf_token
from zephyr.config import DEFAULT_CSP
from zephyr.errors import SetupError
from zephyr.testing import TestClient

ASGIApp = Callable[..., Any]
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "content-security-policy": DEFAULT_CSP.replace("{nonce}", ""),
}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


def echo(calls: list[str], *, headers: Iterable[tuple[bytes, bytes]] = (),
         chunks: int = 1) -> ASGIApp:
    """A raw ASGI app that answers with the method, path and whole body it received,
    in ``chunks`` body messages."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["method"])
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        text = f"{scope['method']} {scope['root_path']} {scope['path']} {body.decode()}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), *headers]})
        for index in range(chunks):
            await send({"type": "http.response.body", "body": text if index == 0 else b"+",
                        "more_body": index < chunks - 1})

    return app


def mounted(calls: list[str], *, csrf: bool | None = None, **settings: Any) -> Zephyr:
    app = Zephyr(**settings)
    app.mount("/legacy", echo(calls), csrf=csrf)
    return app


# -- security headers ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_a_mounted_app_gets_the_security_headers(method: str) -> None:
    calls: list[str] = []
    with TestClient(mounted(calls)) as client:
        response = client.request(method, "/legacy/page")
    assert response.status_code == 200
    for name, value in HEADERS.items():
        assert response.headers[name] == value
    assert "strict-transport-security" not in response.headers  # plain http
    assert calls == [method]


def test_hsts_goes_to_a_mounted_app_over_https() -> None:
    calls: list[str] = []
    with TestClient(mounted(calls), base_url="https://localhost") as client:
        response = client.get("/legacy/page")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_headers_the_mounted_app_sets_itself_are_kept() -> None:
    calls: list[str] = []
    app = Zephyr()
    own = [(b"Content-Security-Policy", b"default-src 'none'"), (b"x-frame-options", b"SAMEORIGIN")]
    app.mount("/legacy", echo(calls, headers=own))
    with TestClient(app) as client:
        response = client.get("/legacy/page")
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_streaming_mounted_app_is_passed_through_with_the_headers() -> None:
    calls: list[str] = []
    app = Zephyr()
    app.mount("/stream", echo(calls, chunks=4))
    with TestClient(app) as client, client.stream("GET", "/stream/x") as response:
        pieces = list(response.iter_bytes())
        assert response.headers["x-content-type-options"] == "nosniff"
    assert b"".join(pieces) == b"GET /stream /stream/x +++"


def test_no_security_headers_when_they_are_off() -> None:
    calls: list[str] = []
    with TestClient(mounted(calls, security_headers=False)) as client:
        response = client.get("/legacy/page")
    assert not set(HEADERS) & set(response.headers)


# -- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "content_type"), [
    ("application/json", "application/problem+json"),
    ("text/html", "text/html; charset=utf-8"),
])
def test_a_cross_site_post_to_a_mounted_app_is_refused_before_it_runs(
    accept: str, content_type: str
) -> None:
    calls: list[str] = []
    with TestClient(mounted(calls)) as client:
        response = client.post("/legacy/transfer", content=b"amount=1000",
                               headers={**CROSS_SITE, "Accept": accept})
    assert response.status_code == 403
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    # The HTML error page styles itself with the request's nonce, as for a route.
    assert response.headers["content-security-policy"].startswith("default-src 'self'; ")
    if accept == "application/json":
        assert response.json()["reason"] == "csrf-sec-fetch-site"
    assert calls == []


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://localhost"},
])
def test_a_same_origin_post_reaches_the_mounted_app_with_its_body(headers: dict[str, str]) -> None:
    calls: list[str] = []
    with TestClient(mounted(calls), same_origin=False) as client:
        response = client.post("/legacy/transfer", content=b"amount=10", headers=headers)
    assert response.text == "POST /legacy /legacy/transfer amount=10"
    assert calls == ["POST"]


@pytest.mark.parametrize(("setting", "option", "status"), [
    (True, False, 200),
    (True, None, 403),
    (False, None, 200),
    (False, True, 403),
])
def test_mount_csrf_option_overrides_the_setting(setting: bool, option: bool | None,
                                                  status: int) -> None:
    calls: list[str] = []
    with TestClient(mounted(calls, csrf=option, CSRF=setting)) as client:
        assert client.post("/legacy/hook", headers=CROSS_SITE).status_code == status
    assert calls == (["POST"] if status == 200 else [])


def test_mount_csrf_option_must_be_a_boolean() -> None:
    with pytest.raises(SetupError, match="csrf= takes True, False or None, not 'no'"):
        Zephyr().mount("/legacy", echo([]), csrf="no")  # type: ignore[arg-type]


def with_token_page(app: Zephyr) -> Zephyr:
    @app.get("/token")
    async def token(request: Request) -> str:
        return csrf_token(request)

    return app


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_a_form_token_read_by_the_check_still_reaches_the_mounted_app(multipart: bool) -> None:
    calls: list[str] = []
    app = with_token_page(mounted(calls))
    # No Sec-Fetch-Site and no Origin, with a session cookie: the token decides.
    with TestClient(app, same_origin=False) as client:
        token = client.get("/token").text
        fields = {"csrf_token": token, "note": "hello"}
        if multipart:
            response = client.post("/legacy/form", data=fields, files={"f": ("a.txt", b"AAA")})
            assert response.status_code == 200
            assert f'name="csrf_token"\r\n\r\n{token}\r\n' in response.text
            assert "AAA" in response.text
        else:
            response = client.post("/legacy/form", data=fields)
            assert response.text == f"POST /legacy /legacy/form csrf_token={token}&note=hello"
        refused = client.post("/legacy/form", data={"note": "no token"})
    assert refused.status_code == 403
    assert refused.json()["reason"] == "csrf-token-missing"
    assert calls == ["POST"]


# -- RATE_LIMITS prefix limits ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/legacy", "/", "/legacy/"])
def test_a_rate_limits_prefix_covering_the_mount_applies(prefix: str) -> None:
    calls: list[str] = []
    with TestClient(mounted(calls, RATE_LIMITS={prefix: "2/minute"})) as client:
        first = client.get("/legacy/a")
        assert (first.status_code, first.headers["ratelimit-remaining"]) == (200, "1")
        assert first.headers["ratelimit-limit"] == "2"
        assert client.get("/legacy/b").status_code == 200
        refused = client.get("/legacy/c")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.json()["detail"].startswith("too many requests: the limit is 2 per 60 seconds")
    assert calls == ["GET", "GET"]


def test_a_rate_limits_prefix_below_the_mount_applies_to_that_part_only() -> None:
    calls: list[str] = []
    app = mounted(calls, RATE_LIMITS={"/legacy/api": "1/minute", "/other": "1/minute"})
    with TestClient(app) as client:
        assert client.get("/legacy/api/x").status_code == 200
        assert client.get("/legacy/api").status_code == 429
        for _ in range(3):
            response = client.get("/legacy/page")
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers
        assert client.get("/legacy/apiary").status_code == 200


def test_a_route_and_a_mount_under_one_prefix_share_its_counter() -> None:
    calls: list[str] = []
    app = Zephyr(RATE_LIMITS={"/": "2/minute"})
    app.mount("/legacy", echo(calls))

    @app.get("/home")
    async def home() -> str:
        return "home"

    with TestClient(app) as client:
        assert client.get("/home").status_code == 200
        assert client.get("/legacy/x").status_code == 200
        assert client.get("/home").status_code == 429
        assert client.get("/legacy/x").status_code == 429


# -- mounting while serving, error handlers ----------------------------------------------------


def test_a_mount_added_while_serving_is_protected_too() -> None:
    calls: list[str] = []
    app = Zephyr(RATE_LIMITS={"/late": "2/minute"})
    with TestClient(app) as client:
        app.mount("/late", echo(calls))
        response = client.get("/late/x")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert client.post("/late/x", headers=CROSS_SITE).status_code == 403
        assert client.get("/late/x").status_code == 429
    assert calls == ["GET"]


def test_the_apps_error_handlers_answer_mount_refusals() -> None:
    calls: list[str] = []
    app = mounted(calls)

    @app.errorhandler(403)
    async def forbidden(request: Request, exc: Exception) -> tuple[str, int]:
        return f"no, {request.path}", 403

    with TestClient(app) as client:
        response = client.post("/legacy/x", headers=CROSS_SITE)
    assert (response.status_code, response.text) == (403, "no, /legacy/x")
    assert response.headers["x-frame-options"] == "DENY"
    assert calls == []
