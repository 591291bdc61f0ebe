"""The security layer an app builds at startup: secret-key rules, the security log, check_deploy.

Apps are real Zephyr apps driven through TestClient; log records are read with caplog.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from zephyr import Request, Response, Zephyr, limit
from zephyr._route import Route
from zephyr.security import (
    AuthUser,
    BearerAuth,
    InsecureConfigError,
    check_deploy,
    static_tokens,
)
from zephyr.security.layer import SecurityLayer
from zephyr.testing import TestClient

MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
APP_KEY = "layer-test-key-Xq7LmP2vR9sT4wY6zA8bC1dE3fG5hJ0k"
EPHEMERAL_WARNING = ("debug mode: no SECRET_KEY is set, so an ephemeral one signs sessions "
                     "and CSRF tokens until the process stops")


def refusal_message(weakness: str, wanted: str) -> str:
    return (
        f"SECRET_KEY {weakness}; signing sessions and CSRF tokens needs {wanted} outside debug "
        f"mode. Set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}, or run "
        "with DEBUG=True for an ephemeral key"
    )


def counting_app(**settings: Any) -> tuple[Zephyr, list[int]]:
    """An app whose ``/count`` counts visits in the session; the list records handler calls."""
    app = Zephyr(**settings)
    calls: list[int] = []

    @app.get("/count")
    async def count(request: Request) -> dict[str, int]:
        visits = request.session.get("visits", 0) + 1
        request.session["visits"] = visits
        calls.append(visits)
        return {"visits": visits}

    return app, calls


def security_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "zephyr.security"]


# -- loading sessions before the handler ------------------------------------------------


async def plain_endpoint(request: Request) -> Response:
    return Response("ok")


async def answer_error(request: Request, exc: Exception) -> Response:
    raise exc


@pytest.mark.parametrize(("kind", "unwrapped"), [("cookie", True), ("memory", True),
                                                 ("redis", False)])
def test_only_a_backend_that_must_wait_to_load_wraps_the_endpoints(
        kind: str, unwrapped: bool) -> None:
    # NOTE: the Redis client connects on first use; nothing here reaches the server.
    layer = SecurityLayer(Zephyr(session_backend=kind).config)
    route = Route("/", plain_endpoint)
    protected = layer.protect(route, [], plain_endpoint, answer_error)
    assert (protected is plain_endpoint) is unwrapped


# -- the secret key at startup -------------------------------------------------------

REFUSED_KEYS = [
    (None, refusal_message("is missing", "it")),
    ("changeme", refusal_message("is a known placeholder", "a strong one")),
    ("k3Yq9ZpW2x", refusal_message("is shorter than 32 characters", "a strong one")),
    ("ab" * 20, refusal_message("has fewer than 5 distinct characters", "a strong one")),
]


@pytest.mark.parametrize(("key", "message"), REFUSED_KEYS)
def test_startup_refuses_a_missing_or_weak_key(key: str | None, message: str) -> None:
    app, calls = counting_app(secret_key=key)
    with pytest.raises(RuntimeError) as caught, TestClient(app) as client:
        client.get("/count")
    assert str(caught.value) == f"application startup failed: InsecureConfigError: {message}"
    if key is not None:
        assert key not in str(caught.value)
    assert calls == []


def test_startup_refuses_a_weak_old_key() -> None:
    app, calls = counting_app(secret_key_fallbacks=[APP_KEY, "changeme"])
    with pytest.raises(RuntimeError) as caught, TestClient(app) as client:
        client.get("/count")
    assert str(caught.value).startswith(
        "application startup failed: InsecureConfigError: SECRET_KEY_FALLBACKS[1] is weak "
        "(the key is a known placeholder; ")
    assert "changeme" not in str(caught.value)
    assert calls == []


@pytest.mark.parametrize(("key", "message"), REFUSED_KEYS)
def test_without_lifespan_the_first_request_refuses_too(key: str | None, message: str) -> None:
    app, calls = counting_app(secret_key=key)
    client = TestClient(app)
    try:
        with pytest.raises(InsecureConfigError) as caught:
            client.get("/count")
    finally:
        client.close()
    assert str(caught.value) == message
    assert calls == []


def test_debug_without_a_key_starts_with_an_ephemeral_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="zephyr.security")
    app, _ = counting_app(debug=True, secret_key=None)
    with TestClient(app) as client:
        visits = [client.get("/count").json()["visits"] for _ in range(3)]
    assert visits == [1, 2, 3]
    assert [(r.levelno, r.getMessage()) for r in security_records(caplog)] == [
        (logging.WARNING, EPHEMERAL_WARNING),
    ]


def test_two_debug_apps_get_different_ephemeral_keys() -> None:
    first, _ = counting_app(debug=True, secret_key=None)
    second, _ = counting_app(debug=True, secret_key=None)
    with TestClient(first) as client:
        assert client.get("/count").json() == {"visits": 1}
        cookie = client.cookies["session"]
    with TestClient(first, cookies={"session": cookie}) as client:
        assert client.get("/count").json() == {"visits": 2}
    with TestClient(second, cookies={"session": cookie}) as client:
        assert client.get("/count").json() == {"visits": 1}


@pytest.mark.parametrize(("key", "problem"), [
    ("changeme", "the key is a known placeholder"),
    ("k3Yq9ZpW2x", "the key is shorter than 32 characters"),
])
def test_debug_with_a_weak_key_starts_with_a_warning(
    caplog: pytest.LogCaptureFixture, key: str, problem: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="zephyr.security")
    app, _ = counting_app(debug=True, secret_key=key)
    with TestClient(app) as client:
        visits = [client.get("/count").json()["visits"] for _ in range(2)]
    assert visits == [1, 2]
    assert [(r.levelno, r.getMessage()) for r in security_records(caplog)] == [(
        logging.WARNING,
        f"debug mode: SECRET_KEY is weak ({problem}; make a random one with: {MAKE_KEY}); "
        "the app would refuse to start with it outside debug mode",
    )]


@pytest.mark.parametrize("settings", [{}, {"debug": True}, {"debug": True, "secret_key": APP_KEY}])
def test_a_strong_key_starts_without_a_warning(caplog: pytest.LogCaptureFixture,
                                               settings: dict[str, Any]) -> None:
    caplog.set_level(logging.DEBUG, logger="zephyr.security")
    app, _ = counting_app(**settings)
    with TestClient(app) as client:
        assert client.get("/count").json() == {"visits": 1}
    assert security_records(caplog) == []


# -- the security log ------------------------------------------------------------------

GOOD_TOKEN = "good-token-Vb3nM8qL1zX5cR7tY9"
SENT_TOKEN = "sent-token-Hq4wE6rT8yU0iO2pA3"
SENT_COOKIE = "cookie-value-Jk5lZ7xC9vB1nM3q"
SENT_REMEMBER = "remember-me-Fg6hJ8kL0zX2cV4b"
SENT_CSRF = "csrf-token-Pq1wE3rT5yU7iO9aS2"
SENT_API_KEY = "api-key-Dd4fG6hJ8kL0zX2cV4bN"
SECRETS = [APP_KEY, GOOD_TOKEN, SENT_TOKEN, SENT_COOKIE, SENT_REMEMBER, SENT_CSRF, SENT_API_KEY]
SENT_HEADERS = {
    "Authorization": f"Bearer {SENT_TOKEN}",
    "Cookie": f"session={SENT_COOKIE}; remember={SENT_REMEMBER}",
    "X-CSRF-Token": SENT_CSRF,
    "X-API-Key": SENT_API_KEY,
}


def make_logged_app() -> Zephyr:
    app = Zephyr(secret_key=APP_KEY)
    bearer = BearerAuth(static_tokens({GOOD_TOKEN: AuthUser(id="alice")}))

    async def notes() -> dict[str, str]:
        return {"notes": "none"}

    async def limited() -> dict[str, str]:
        return {"limited": "no"}

    app.add_route("/notes", notes, methods=["GET", "POST"], name="notes")
    app.add_route("/private", notes, name="private", auth=[bearer])
    app.add_route("/limited", limit("1/minute")(limited), name="limited")
    return app


# (method, path, extra headers, requests sent first, status, event, reason)
REFUSALS: list[tuple[str, str, dict[str, str], int, int, str, str]] = [
    ("GET", "/notes", {"Host": "evil.example"}, 0, 400, "request-refused", "disallowed-host"),
    ("POST", "/notes", {"Sec-Fetch-Site": "cross-site"}, 0, 403, "csrf-refused",
     "sec-fetch-site"),
    ("POST", "/notes", {"Origin": "https://evil.example"}, 0, 403, "csrf-refused", "origin"),
    ("POST", "/notes", {}, 0, 403, "csrf-refused", "token-invalid"),
    ("GET", "/private", {}, 0, 401, "auth-failed", "invalid"),
    ("GET", "/limited", {}, 1, 429, "rate-limited", "over 1/60s"),
]


@pytest.mark.parametrize(("method", "path", "extra", "before", "status", "event", "reason"),
                         REFUSALS, ids=[case[6] for case in REFUSALS])
def test_a_refusal_is_logged_once_without_secrets(
    caplog: pytest.LogCaptureFixture, method: str, path: str, extra: dict[str, str],
    before: int, status: int, event: str, reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(make_logged_app(), same_origin=False) as client:
        for _ in range(before):
            assert client.request(method, path).status_code == 200
        response = client.request(method, path, headers={**SENT_HEADERS, **extra})
    assert response.status_code == status
    # Where the session was read, the made-up session cookie is refused (and logged) too.
    assert {vars(r)["security_event"] for r in security_records(caplog)} <= {
        event, "session-refused"}
    records = [r for r in security_records(caplog) if vars(r)["security_event"] == event]
    assert len(records) == 1
    record = records[0]
    fields = vars(record)
    assert {name: fields.get(name) for name in ("security_event", "client", "path", "reason")} == {
        "security_event": event, "client": "127.0.0.1", "path": path, "reason": reason,
    }
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"{event}: {reason} ({method} {path} from 127.0.0.1)"
    for logged in caplog.records:
        text = logged.getMessage() + repr(vars(logged))
        assert [secret for secret in SECRETS if secret in text] == []


# -- check_deploy on real apps ----------------------------------------------------------

@pytest.mark.parametrize(("settings", "ids"), [
    ({}, ["W002"]),
    ({"secret_key": "changeme"}, ["E001", "W002"]),
    ({"secret_key": None}, ["E001", "W002"]),
    ({"debug": True}, ["E003", "W002", "W011"]),
    ({"allowed_hosts": ["*"]}, ["E004"]),
    ({"openapi": True}, ["W002", "W011"]),
    ({"allowed_hosts": ["example.com"]}, []),
    ({"allowed_hosts": ["example.com"], "security_headers": False}, ["W004"]),
    ({"allowed_hosts": ["example.com"], "content_security_policy": None}, ["W005"]),
    ({"allowed_hosts": ["example.com"], "hsts_seconds": 0}, ["W007"]),
])
def test_check_deploy_on_real_apps(settings: dict[str, Any], ids: list[str]) -> None:
    problems = check_deploy(Zephyr(**settings).config)
    assert [problem.id for problem in problems] == [f"zephyr.security.{i}" for i in ids]


def test_check_deploy_on_a_live_app_never_shows_the_key() -> None:
    app, _ = counting_app(secret_key=APP_KEY, allowed_hosts=["*"], debug=True)
    with TestClient(app) as client:
        assert client.get("/count").status_code == 200
        problems = check_deploy(app.config)
    assert [problem.id for problem in problems] == [
        "zephyr.security.E003", "zephyr.security.E004", "zephyr.security.W011",
    ]
    assert [str(problem) for problem in problems if APP_KEY in str(problem)] == []
