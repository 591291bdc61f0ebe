"""CSRF under attack, in-process: browser verdicts, origins, tokens (forged, stale, foreign,
misplaced), clients that are no browser, the opt-outs, the HTML refusal page and the failure
throttle.

Token paths use ``TestClient(app, same_origin=False)`` (a client that gives no
browser verdict) holding the cookies of a page it loaded first, as an old browser
would; browser paths set ``Sec-Fetch-Site`` / ``Origin`` themselves.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

import zephyr.datastructures
from tests.conftest import TEST_SECRET_KEY, stored_sessions
from zephyr import Request, Zephyr, csrf_token
from zephyr.errors import ContextError
from zephyr.security import (
    AuthUser,
    BasicAuth,
    BearerAuth,
    PasswordHasher,
    htmx_csrf_headers,
    login_user,
    logout_user,
    static_passwords,
    static_tokens,
)
from zephyr.security.csrf import CSRFProtection
from zephyr.testing import TestClient

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
TRUSTED = "https://admin.example.com"
OTHER_KEY = "other-Pw3Tz8Rk1Xm6Vc0Qb5Ny2Lh7Gs4Jd9Fa3Wu"
SITE = "sec-fetch-site"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def csrf_app(ran: list[str], **settings: Any) -> Zephyr:
    """An app whose POST /submit records each run in ``ran``."""
    app = Zephyr(**{"csrf_trusted_origins": [TRUSTED], **settings})

    @app.get("/token")
    def token() -> dict[str, str]:
        return {"token": csrf_token()}

    @app.get("/tokens")
    async def tokens(request: Request) -> list[str]:
        return [csrf_token(), csrf_token(request), csrf_token()]

    @app.post("/submit")
    async def submit() -> str:
        ran.append("submit")
        return "done"

    @app.post("/login")
    async def login(request: Request) -> str:
        await login_user(request, AuthUser(id="alice"))
        return "logged in"

    @app.post("/login-and-token")
    async def login_and_token(request: Request) -> dict[str, str]:
        before = csrf_token()
        await login_user(request, AuthUser(id="alice"))
        return {"before": before, "after": csrf_token()}

    @app.post("/logout")
    async def logout(request: Request) -> str:
        await logout_user(request)
        return "logged out"

    return app


def get_token(client: TestClient) -> str:
    token: str = client.get("/token").json()["token"]
    return token


def cookie_secret(client: TestClient) -> str:
    """The CSRF secret in the client's CSRF cookie (the part its signature follows)."""
    return client.cookies["csrf"].rpartition(".")[0]


def signed_token(client: TestClient, key: str) -> str:
    """A token for the client's own CSRF secret, signed with ``key``."""
    return URLSafeTimedSerializer(key, salt="zephyr.csrf").dumps([cookie_secret(client), "salt"])


def make_token(kind: str | None, client: TestClient) -> str | None:
    """The token an attacker (or the client itself) would send, after the client loaded a
    page (so it holds the cookies a browser would)."""
    if kind == "other-session":
        foreign = get_token(client)
        client.cookies.clear()
        get_token(client)
        return foreign
    valid = get_token(client)
    if kind is None:
        return None
    middle = len(valid) // 2
    return {
        "valid": lambda: valid,
        "empty": lambda: "",
        "garbage": lambda: "garbage",
        "tampered": lambda: valid[:middle] + ("A" if valid[middle] != "A" else "B")
        + valid[middle + 1:],
        "bare-secret": lambda: cookie_secret(client),
        "app-key": lambda: signed_token(client, TEST_SECRET_KEY),
        "other-key": lambda: signed_token(client, OTHER_KEY),
    }[kind]()


def post_submit(client: TestClient, headers: dict[str, str], token: str | None,
                transport: str = "header", path: str = "/submit") -> httpx.Response:
    if token is None:
        return client.post(path, headers=headers)
    if transport == "header":
        return client.post(path, headers={**headers, "x-csrf-token": token})
    if transport == "form":
        return client.post(path, headers=headers, data={"csrf_token": token})
    if transport == "multipart":
        return client.post(path, headers=headers, data={"csrf_token": token},
                           files={"attachment": ("a.txt", b"hello", "text/plain")})
    if transport == "query":
        return client.post(path, headers=headers, params={"csrf_token": token})
    return client.post(path, headers=headers, json={"csrf_token": token})


def csrf_refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [(record.reason, record.path, record.client) for record in caplog.records  # type: ignore[attr-defined]
            if getattr(record, "security_event", None) == "csrf-refused"]


# -- the table ------------------------------------------------------------------------------

EVIL = "https://evil.example"
ROWS = [
    # The browser's verdict.
    ("same-origin", {SITE: "same-origin"}, None, "header", None),
    ("typed-url", {SITE: "none"}, None, "header", None),
    ("cross-site", {SITE: "cross-site"}, None, "header", "csrf-sec-fetch-site"),
    ("same-site", {SITE: "same-site"}, None, "header", "csrf-sec-fetch-site"),
    ("same-site-trusted", {SITE: "same-site", "origin": TRUSTED}, None, "header", None),
    ("cross-site-trusted", {SITE: "cross-site", "origin": TRUSTED}, None, "header", None),
    ("same-site-untrusted", {SITE: "same-site", "origin": EVIL}, None, "header",
     "csrf-sec-fetch-site"),
    ("cross-site-claims-own-origin", {SITE: "cross-site", "origin": "http://localhost"}, None,
     "header", "csrf-sec-fetch-site"),
    ("cross-site-with-valid-token", {SITE: "cross-site"}, "valid", "header",
     "csrf-sec-fetch-site"),
    ("unknown-verdict", {SITE: "bogus"}, None, "header", "csrf-sec-fetch-site"),
    # Origin without Sec-Fetch-Site.
    ("own-origin", {"origin": "http://localhost"}, None, "header", None),
    ("trusted-origin", {"origin": TRUSTED}, None, "header", None),
    ("evil-origin", {"origin": EVIL}, None, "header", "csrf-origin"),
    ("null-origin", {"origin": "null"}, None, "header", "csrf-origin"),
    ("other-scheme", {"origin": "https://localhost"}, None, "header", "csrf-origin"),
    ("other-port", {"origin": "http://localhost:8080"}, None, "header", "csrf-origin"),
    ("lookalike-host", {"origin": "http://localhost.evil.example"}, None, "header",
     "csrf-origin"),
    ("evil-origin-with-valid-token", {"origin": EVIL}, "valid", "header", "csrf-origin"),
    # No browser verdict: the token decides.
    ("no-token", {}, None, "header", "csrf-token-missing"),
    ("empty-token", {}, "empty", "header", "csrf-token-missing"),
    ("garbage-token", {}, "garbage", "header", "csrf-token-invalid"),
    ("tampered-token", {}, "tampered", "header", "csrf-token-invalid"),
    ("token-of-another-session", {}, "other-session", "header", "csrf-token-invalid"),
    ("bare-session-secret", {}, "bare-secret", "header", "csrf-token-invalid"),
    ("secret-signed-with-another-key", {}, "other-key", "header", "csrf-token-invalid"),
    ("secret-signed-with-the-app-key", {}, "app-key", "header", None),
    ("valid-form-field", {}, "valid", "form", None),
    ("valid-header", {}, "valid", "header", None),
    ("valid-multipart-field", {}, "valid", "multipart", None),
    ("valid-token-in-query-string", {}, "valid", "query", "csrf-token-missing"),
    ("valid-token-in-json-body", {}, "valid", "json", "csrf-token-missing"),
]


@pytest.mark.parametrize(("headers", "token_kind", "transport", "reason"),
                         [pytest.param(*row[1:], id=row[0]) for row in ROWS])
def test_csrf_table(caplog: pytest.LogCaptureFixture, headers: dict[str, str],
                    token_kind: str | None, transport: str, reason: str | None) -> None:
    caplog.set_level(logging.WARNING, logger="zephyr.security")
    ran: list[str] = []
    with TestClient(csrf_app(ran), same_origin=False) as client:
        token = make_token(token_kind, client)
        response = post_submit(client, headers, token, transport)
    if reason is None:
        assert (response.status_code, response.text) == (200, "done")
        assert ran == ["submit"]
        assert csrf_refusals(caplog) == []
        return
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["title"], body["reason"]) == (403, "Forbidden", reason)
    assert body["detail"].startswith("CSRF check failed: ")
    assert ran == []
    assert csrf_refusals(caplog) == [(reason.removeprefix("csrf-"), "/submit", "127.0.0.1")]


# -- what is never checked, and the opt-outs ----------------------------------------------------


@pytest.mark.parametrize(("method", "status"), [
    ("GET", 200), ("HEAD", 200), ("OPTIONS", 200),
    ("POST", 403), ("PUT", 403), ("PATCH", 403), ("DELETE", 403),
])
def test_only_unsafe_methods_are_checked(method: str, status: int) -> None:
    ran: list[str] = []
    app = Zephyr()

    @app.route("/thing", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
    async def thing(request: Request) -> str:
        ran.append(request.method)
        return "ok"

    with TestClient(app) as client:
        response = client.request(method, "/thing", headers={SITE: "cross-site"})
    assert response.status_code == status
    assert ran == ([method] if status == 200 else [])


def optout_app(ran: list[str], **settings: Any) -> Zephyr:
    app = Zephyr(**settings)

    async def handler(request: Request) -> str:
        ran.append(request.path)
        return "ok"

    app.post("/checked")(handler)
    app.post("/route-off", csrf=False)(handler)
    hooks = app.group("/hooks", csrf=False)
    hooks.post("/off")(handler)
    hooks.post("/back-on", csrf=True)(handler)
    return app


@pytest.mark.parametrize(("settings", "path", "status"), [
    ({}, "/checked", 403),
    ({}, "/route-off", 200),
    ({}, "/hooks/off", 200),
    ({}, "/hooks/back-on", 403),
    ({"csrf": False}, "/checked", 200),
    # A route that asks for CSRF protection gets it even when the app turned it off.
    ({"csrf": False}, "/hooks/back-on", 403),
])
def test_csrf_can_be_turned_off_per_route_group_and_app(
        settings: dict[str, Any], path: str, status: int) -> None:
    ran: list[str] = []
    with TestClient(optout_app(ran, **settings), same_origin=False) as client:
        response = client.post(path, headers={SITE: "cross-site", "origin": EVIL})
    assert response.status_code == status
    assert ran == ([path] if status == 200 else [])


def test_with_csrf_off_tokens_still_work_for_routes_that_ask_for_it() -> None:
    app = Zephyr(csrf=False)

    @app.get("/token")
    async def token() -> dict[str, str]:
        return {"token": csrf_token()}

    @app.post("/guarded", csrf=True)
    async def guarded() -> str:
        return "ok"

    with TestClient(app, same_origin=False) as client:
        issued = client.get("/token").json()["token"]
        refused = client.post("/guarded")
        accepted = client.post("/guarded", headers={"X-CSRF-Token": issued})
    assert (refused.status_code, accepted.status_code) == (403, 200)


# -- the HTML refusal page ------------------------------------------------------------------


CROSS_SITE = ("CSRF check failed: the browser says this request came from another site "
              "(Sec-Fetch-Site)")
FOREIGN_ORIGIN = "CSRF check failed: the request's Origin is not this site"


@pytest.mark.parametrize(("headers", "token_kind", "shown"), [
    ({SITE: "cross-site"}, None, CROSS_SITE),
    ({"origin": EVIL}, None, FOREIGN_ORIGIN),
    ({}, None, "CSRF check failed: the CSRF token is missing"),
    ({}, "garbage", "CSRF check failed: the CSRF token is not valid for this visitor"),
    # Attacker-chosen header values never reach the page (outside debug mode).
    ({"origin": "<script>alert(1)</script>"}, None, FOREIGN_ORIGIN),
    ({SITE: "<svg onload=1>"}, None, CROSS_SITE),
])
def test_a_browser_gets_an_html_page_naming_the_failed_check(
        headers: dict[str, str], token_kind: str | None, shown: str) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran), same_origin=False) as client:
        token = make_token(token_kind, client)
        response = post_submit(client, {**headers, "accept": HTML}, token)
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1><span>403</span> Forbidden</h1>" in response.text
    assert html.escape(shown) in response.text
    assert "alert" not in response.text
    assert "svg" not in response.text
    assert ran == []


# -- tokens over a session's life -----------------------------------------------------------


def test_every_token_differs_and_every_one_validates(session_settings: dict[str, Any]) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, **session_settings), same_origin=False) as client:
        tokens = client.get("/tokens").json()
        assert len(set(tokens)) == 3
        statuses = [post_submit(client, {}, token).status_code for token in tokens]
    assert statuses == [200, 200, 200]
    assert ran == ["submit"] * 3


def test_a_token_survives_across_requests_of_the_same_session(
        session_settings: dict[str, Any]) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, **session_settings), same_origin=False) as client:
        first = get_token(client)
        second = get_token(client)
        assert first != second
        statuses = [post_submit(client, {}, token, transport).status_code
                    for token, transport in [(first, "header"), (second, "form"),
                                             (first, "form"), (second, "header")]]
    assert statuses == [200, 200, 200, 200]


def test_login_regenerates_the_csrf_secret(session_settings: dict[str, Any]) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, **session_settings), same_origin=False) as client:
        before = get_token(client)
        assert post_submit(client, {}, before, path="/login").status_code == 200
        stale = post_submit(client, {}, before)
        after = get_token(client)
        fresh = post_submit(client, {}, after)
    assert (stale.status_code, stale.json()["reason"]) == (403, "csrf-token-invalid")
    assert fresh.status_code == 200
    assert ran == ["submit"]


def test_logout_regenerates_the_csrf_secret(session_settings: dict[str, Any]) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, **session_settings), same_origin=False) as client:
        post_submit(client, {}, get_token(client), path="/login")
        before = get_token(client)
        assert post_submit(client, {}, before, path="/logout").status_code == 200
        fresh = get_token(client)  # the next page the visitor loads
        stale = post_submit(client, {}, before)
        assert post_submit(client, {}, fresh).status_code == 200
    assert (stale.status_code, stale.json()["reason"]) == (403, "csrf-token-invalid")


def test_a_token_made_before_login_in_the_same_request_fails_after_it(
        session_settings: dict[str, Any]) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, **session_settings), same_origin=False) as client:
        tokens = post_submit(client, {}, get_token(client), path="/login-and-token").json()
        statuses = [post_submit(client, {}, tokens[when]).status_code
                    for when in ("before", "after")]
    assert statuses == [403, 200]


# -- the CSRF cookie ------------------------------------------------------------------------


def csrf_cookies(response: httpx.Response) -> list[tuple[str, str, set[str]]]:
    """The Set-Cookie headers of ``response`` (name, value, attributes), but the session's."""
    found = []
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = header.split("; ")
        name, _, value = pair.partition("=")
        if "session" not in name:
            found.append((name, value, set(attributes)))
    return found


@pytest.mark.parametrize(("base_url", "settings", "name", "secure"), [
    ("http://localhost", {}, "csrf", False),
    ("https://localhost", {}, "__Host-csrf", True),
    ("https://localhost", {"cookie_host_prefix": False}, "csrf", True),
    ("http://localhost", {"session_cookie_secure": True}, "__Host-csrf", True),
    ("https://localhost", {"csrf_cookie_name": "xsrf"}, "__Host-xsrf", True),
])
def test_the_csrf_secret_lives_in_its_own_signed_cookie(
        session_settings: dict[str, Any], base_url: str, settings: dict[str, Any], name: str,
        secure: bool) -> None:
    ran: list[str] = []
    app = csrf_app(ran, session_max_age=3600, **settings, **session_settings)
    with TestClient(app, base_url=base_url, same_origin=False) as client:
        first = client.get("/token")
        [(sent, value, attributes)] = csrf_cookies(first)
        client.cookies.clear()
        client.cookies[sent] = value
        second = client.get("/token")
        accepted = post_submit(client, {}, second.json()["token"])
    flags = {"Max-Age=3600", "Path=/", "HttpOnly", "SameSite=Lax"}
    assert (sent, attributes) == (name, flags | ({"Secure"} if secure else set()))
    # NOTE: the page holds a token for this visitor: no shared cache may keep it.
    assert (first.headers["cache-control"], first.headers["vary"]) == ("no-store", "Cookie")
    assert "session" not in first.headers["set-cookie"]
    # Sent once, then read back; every token differs (BREACH), every one is accepted.
    assert "set-cookie" not in second.headers
    assert second.headers["cache-control"] == "no-store"
    assert second.json()["token"] != first.json()["token"]
    assert accepted.status_code == 200


@pytest.mark.parametrize("visitors", ["one", "many"])
def test_anonymous_page_views_store_no_session(server_session_settings: dict[str, Any],
                                              visitors: str) -> None:
    ran: list[str] = []
    app = csrf_app(ran, **server_session_settings)
    with TestClient(app, same_origin=False) as client:
        for _ in range(25):
            if visitors == "many":
                client.cookies.clear()
            assert "session" not in client.get("/token").headers.get("set-cookie", "")
        stored = stored_sessions(app)
        token = get_token(client)
        assert post_submit(client, {}, token).status_code == 200
    assert stored == 0
    assert ran == ["submit"]


@pytest.mark.parametrize(("cookie", "reason"), [
    ("forged-secret.forged-signature", "csrf-token-invalid"),
    ("no-signature-at-all", "csrf-token-invalid"),
    ("x" * 200, "csrf-token-invalid"),
])
def test_a_forged_csrf_cookie_is_refused_and_replaced(cookie: str, reason: str) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran), same_origin=False) as client:
        # The attacker's own token, sent with a cookie it made up for the same secret.
        token = URLSafeTimedSerializer(TEST_SECRET_KEY, salt="zephyr.csrf").dumps(
            [cookie.rpartition(".")[0] or cookie, "salt"])
        client.cookies["csrf"] = cookie
        refused = post_submit(client, {}, token)
        replaced = client.get("/token")
    assert (refused.status_code, refused.json()["reason"]) == (403, reason)
    [(name, value, _)] = csrf_cookies(replaced)
    assert (name, value != cookie) == ("csrf", True)
    assert ran == []


def test_the_csrf_cookie_is_signed_with_the_app_keys_and_rotates() -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran, secret_key=OTHER_KEY), same_origin=False) as client:
        token = get_token(client)
        cookie = client.cookies["csrf"]
    rotated = csrf_app(ran, secret_key=TEST_SECRET_KEY, secret_key_fallbacks=[OTHER_KEY])
    with TestClient(rotated, same_origin=False) as client:
        client.cookies["csrf"] = cookie
        assert post_submit(client, {}, token).status_code == 200
    with TestClient(csrf_app(ran), same_origin=False) as client:
        client.cookies["csrf"] = cookie
        refused = post_submit(client, {}, signed_token(client, TEST_SECRET_KEY))
    assert (refused.status_code, refused.json()["reason"]) == (403, "csrf-token-invalid")


# -- the failure throttle -------------------------------------------------------------------


def test_repeated_csrf_failures_are_throttled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="zephyr.security")
    ran: list[str] = []
    with TestClient(csrf_app(ran, failure_limit="3/minute"), same_origin=False) as client:
        token = get_token(client)
        failures = [post_submit(client, {}, "garbage").status_code for _ in range(3)]
        throttled = post_submit(client, {}, token)
        still = post_submit(client, {}, token, "form")
    assert failures == [403, 403, 403]
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert throttled.json()["status"] == 429
    assert still.status_code == 429
    assert ran == []
    events = [getattr(record, "security_event", None) for record in caplog.records]
    assert events == ["csrf-refused"] * 3 + ["failure-throttled"] * 2


# -- clients that are no browser (as Go's net/http CrossOriginProtection) ------------------------

MISSING = ("CSRF check failed: the CSRF token is missing; send the csrf_token form field or the "
           "X-CSRF-Token header (from csrf_token()). A route that no cookie or HTTP Basic "
           "authenticates can turn the check off with csrf=False, and another site of yours "
           "goes in CSRF_TRUSTED_ORIGINS")
BASIC = {"authorization": "Basic " + base64.b64encode(b"ci:s3cret-pass").decode()}


def api_app(ran: list[str]) -> Zephyr:
    """``csrf_app`` plus the same POST under HTTP Basic and under a bearer token."""
    app = csrf_app(ran)
    basic = BasicAuth(static_passwords({"ci": (FAST.hash("s3cret-pass"), AuthUser(id="ci"))},
                                       hasher=FAST))
    bearer = BearerAuth(static_tokens({"t0k3n-for-the-ci-bot": AuthUser(id="ci")}))

    @app.post("/basic", auth=[basic])
    @app.post("/bearer", auth=[bearer], name="bearer")
    async def authenticated() -> str:
        ran.append("authenticated")
        return "done"

    return app


@pytest.mark.parametrize(("path", "headers", "cookies", "reason"), [
    # curl, httpx, a script: no Sec-Fetch-Site, no Origin, no cookies. Not a browser
    # carrying ambient credentials: nothing for a CSRF attack to ride on.
    ("/submit", {}, {}, None),
    ("/bearer", {"authorization": "Bearer t0k3n-for-the-ci-bot"}, {}, None),
    # Any cookie: maybe a browser that sends no verdict, with the visitor's session.
    ("/submit", {}, {"theme": "dark"}, "csrf-token-missing"),
    ("/submit", {}, {"session": "x"}, "csrf-token-missing"),
    ("/bearer", {"authorization": "Bearer t0k3n-for-the-ci-bot"}, {"csrf": "x"},
     "csrf-token-missing"),
    # Browsers attach HTTP Basic credentials by themselves, cookies or not.
    ("/basic", BASIC, {}, "csrf-token-missing"),
    # A browser's own verdict is never overruled by the missing cookies.
    ("/submit", {SITE: "cross-site"}, {}, "csrf-sec-fetch-site"),
    ("/submit", {"origin": EVIL}, {}, "csrf-origin"),
])
def test_a_request_without_browser_verdict_or_cookies_is_no_browser_and_passes(
        path: str, headers: dict[str, str], cookies: dict[str, str], reason: str | None) -> None:
    ran: list[str] = []
    with TestClient(api_app(ran), same_origin=False) as client:
        client.cookies.update(cookies)
        response = client.post(path, headers=headers, json={"note": "from a script"})
    if reason is None:
        assert (response.status_code, response.text) == (200, "done")
        assert len(ran) == 1
        return
    assert (response.status_code, response.json()["reason"]) == (403, reason)
    assert ran == []
    if reason == "csrf-token-missing":
        assert response.json()["detail"] == MISSING


def test_the_basic_auth_route_passes_with_a_token() -> None:
    ran: list[str] = []
    with TestClient(api_app(ran), same_origin=False) as client:
        token = get_token(client)
        response = client.post("/basic", headers={**BASIC, "x-csrf-token": token})
    assert (response.status_code, ran) == (200, ["authenticated"])


@pytest.mark.parametrize(("content_type", "body", "detail"), [
    ("multipart/form-data", b"--x\r\n",
     "the multipart body has no boundary in its Content-Type header"),
    ("application/x-www-form-urlencoded", b"csrf_token=%ff",
     "the form body is not valid UTF-8; percent-encode text as UTF-8"),
])
def test_a_malformed_form_looked_at_for_the_token_is_a_400(
        content_type: str, body: bytes, detail: str) -> None:
    ran: list[str] = []
    with TestClient(csrf_app(ran), same_origin=False) as client:
        get_token(client)
        response = client.post("/submit", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail
    assert ran == []


def test_the_token_lookup_decodes_no_form_larger_than_max_form_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A route that takes larger bodies (max_body_size=) must not make the CSRF check
    # percent-decode more than MAX_FORM_SIZE, even if the handler never reads its body.
    ran: list[str] = []
    app = csrf_app(ran, max_form_size=1000)

    @app.post("/big", max_body_size=100_000)
    async def big() -> str:
        ran.append("big")
        return "done"

    decoded: list[bytes] = []
    decode = zephyr.datastructures._decode_component
    monkeypatch.setattr(zephyr.datastructures, "_decode_component",
                        lambda raw, what: decoded.append(raw) or decode(raw, what))
    with TestClient(app, same_origin=False) as client:
        token = get_token(client)
        small = client.post("/big", data={"csrf_token": token, "text": "x"})
        assert (small.status_code, ran) == (200, ["big"])
        decoded.clear()
        large = client.post("/big", data={"csrf_token": token, "text": "x" * 2000})
    assert large.status_code == 413
    assert large.json()["detail"] == (
        "the form is larger than 1000 bytes, the most the CSRF check reads to find its "
        "token; send the token in the X-CSRF-Token header, or raise MAX_FORM_SIZE"
    )
    assert (ran, decoded) == (["big"], [])


# -- HTMX: the hx-headers attribute ---------------------------------------------------------


class _AttributeReader(HTMLParser):
    """The attributes of the first ``<body>`` tag, decoded as a browser decodes them."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and not self.attributes:
            self.attributes = dict(attrs)


def hx_headers_of(page: str) -> dict[str, str]:
    reader = _AttributeReader()
    reader.feed(page)
    value = reader.attributes["hx-headers"]
    assert value is not None
    headers: dict[str, str] = json.loads(value)
    return headers


def htmx_app(ran: list[str], **settings: Any) -> Zephyr:
    app = csrf_app(ran, **settings)

    @app.get("/page")
    async def page(request: Request) -> str:
        await request.load_session()
        return f"<html><body {htmx_csrf_headers()}><p>notes</p></body></html>"

    return app


def test_htmx_csrf_headers_is_the_attribute_with_the_token() -> None:
    ran: list[str] = []
    with TestClient(htmx_app(ran), same_origin=False) as client:
        page = client.get("/page").text
        attribute = page.split("<body ", 1)[1].split("><p>", 1)[0]
        assert re.fullmatch(r"""hx-headers='\{"X-CSRF-Token":"[A-Za-z0-9_.-]+"\}'""",
                            attribute), attribute
        assert list(hx_headers_of(page)) == ["X-CSRF-Token"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        # What htmx sends from the page, in a browser that gives no verdict (or behind a
        # proxy that drops it): the header alone, with the session cookie.
        ({"HX-Request": "true"}, 200),
        ({"HX-Request": "true", SITE: "same-origin"}, 200),
        # The same token from another site: the browser's verdict refuses it first.
        ({"HX-Request": "true", SITE: "cross-site", "Origin": "https://evil.example"}, 403),
        ({"HX-Request": "true", "Origin": "https://evil.example"}, 403),
    ],
)
def test_an_htmx_post_with_the_header_passes_csrf_from_this_site_only(
    session_settings: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    ran: list[str] = []
    with TestClient(htmx_app(ran, **session_settings), same_origin=False) as client:
        token = hx_headers_of(client.get("/page").text)["X-CSRF-Token"]
        assert client.cookies  # the page opened the session the token is bound to
        answer = client.post("/submit", headers={**headers, "X-CSRF-Token": token})
        assert answer.status_code == status, answer.text
        assert ran == (["submit"] if status == 200 else [])
        without = client.post("/submit", headers={"HX-Request": "true"})
        assert without.status_code == 403
        assert "the CSRF token is missing" in without.json()["detail"]


def test_htmx_csrf_headers_escapes_the_token_for_the_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(CSRFProtection, "token", lambda self, request: "a'b&<c>\"d")
    ran: list[str] = []
    with TestClient(htmx_app(ran)) as client:
        page = client.get("/page").text
    assert """hx-headers='{"X-CSRF-Token":"a&#39;b&amp;&lt;c&gt;\\"d"}'""" in page
    assert hx_headers_of(page) == {"X-CSRF-Token": "a'b&<c>\"d"}


def test_htmx_csrf_headers_is_markup_and_needs_a_request() -> None:
    ran: list[str] = []
    app = htmx_app(ran)

    @app.get("/kind")
    async def kind(request: Request) -> str:
        return type(htmx_csrf_headers(request)).__name__

    with TestClient(app) as client:
        assert client.get("/kind").text == "Markup"  # Jinja2 inserts it unescaped
    with pytest.raises(ContextError, match="needs a request"):
        htmx_csrf_headers()
