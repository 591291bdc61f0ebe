"""Each route's checks as an app wires them: auth backends, permissions, the failure throttle,
the handler timeout, and the options that configure them on routes and groups.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from zephyr import Request, Zephyr, current_user
from zephyr.errors import SetupError
from zephyr.security import (
    APIKeyAuth,
    AuthUser,
    BasicAuth,
    BearerAuth,
    HasRole,
    HasScope,
    IsAuthenticated,
    JWTAuth,
    JWTCodec,
    PasswordHasher,
    SessionAuth,
    limit,
    login_user,
    record_failure,
    static_passwords,
    static_tokens,
)
from zephyr.testing import TestClient

READER = AuthUser(id="alice", scopes=frozenset({"notes:read"}))
WRITER = AuthUser(id="wanda", scopes=frozenset({"notes:read", "notes:write"}))
ADMIN_WRITER = AuthUser(id="ada", scopes=frozenset({"notes:write"}), roles=frozenset({"admin"}))
ADMIN = AuthUser(id="adam", roles=frozenset({"admin"}))
KEY_USER = AuthUser(id="kim")
TOKENS = {"tok-reader-0123456789": READER, "tok-writer-0123456789": WRITER,
          "tok-adminwriter-01234": ADMIN_WRITER, "tok-admin-0123456789": ADMIN}
API_KEYS = {"key-kim-0123456789": KEY_USER}
BEARER_CHALLENGE = 'Bearer realm="api"'
INVALID_TOKEN = 'Bearer realm="api", error="invalid_token"'
JWT_KEY = "0123456789abcdef0123456789abcdef-jwt"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
NEEDS_AUTH = "this resource needs authentication; send credentials"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


class RequestURN(str):
    """Equal to any problem ``instance``: the URN of a request, whatever its id."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("urn:zephyr:request:")

    __hash__ = str.__hash__


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": RequestURN()}


def who(request: Request) -> dict[str, Any]:
    return {"user": request.user.id, "authenticated": request.user.is_authenticated}


def startup_failure(app: Zephyr) -> str:
    """The message of the SetupError that stops the app's startup."""
    with pytest.raises(RuntimeError) as caught, TestClient(app):
        pass
    message = str(caught.value)
    prefix = "application startup failed: SetupError: "
    assert message.startswith(prefix), message
    return message.removeprefix(prefix)


# -- app-wide backends -------------------------------------------------------------------------

def bearer_app() -> tuple[Zephyr, list[str]]:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    calls: list[str] = []
    notes = app.group("/notes")

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        calls.append("me")
        return who(request)

    @notes.post("/")
    async def create(request: Request) -> dict[str, Any]:
        calls.append("create")
        return who(request)

    return app, calls


@pytest.mark.parametrize(("method", "path"), [("GET", "/me"), ("POST", "/notes/")])
def test_app_backends_set_the_user_on_every_route(method: str, path: str) -> None:
    app, calls = bearer_app()

    with TestClient(app) as client:
        reader = client.request(method, path, headers=bearer("tok-reader-0123456789"))
        anonymous = client.request(method, path)

    assert (reader.status_code, reader.json()) == (200, {"user": "alice", "authenticated": True})
    assert (anonymous.status_code, anonymous.json()) == (
        200, {"user": None, "authenticated": False})
    assert len(calls) == 2


@pytest.mark.parametrize(("headers", "detail"), [
    (bearer("tok-unknown-0123456789"), "the bearer token is not valid"),
    ({"Authorization": "Bearer"}, "the Authorization header names the Bearer scheme but "
                                  "carries no credentials after it"),
    (bearer("not a token"), "the bearer token has characters a token cannot contain "
                            "(RFC 6750 §2.1)"),
])
def test_bad_bearer_credentials_are_401_before_the_handler(
    headers: dict[str, str], detail: str
) -> None:
    app, calls = bearer_app()

    with TestClient(app) as client:
        response = client.get("/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    challenge = INVALID_TOKEN if detail == "the bearer token is not valid" else BEARER_CHALLENGE
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.json() == problem(401, "Unauthorized", detail)
    assert calls == []


def test_route_auth_replaces_the_app_backends() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]

    @app.get("/keyed", auth=[APIKeyAuth(static_tokens(API_KEYS))])
    async def keyed(request: Request) -> dict[str, Any]:
        return who(request)

    with TestClient(app) as client:
        by_key = client.get("/keyed", headers={"X-API-Key": "key-kim-0123456789"})
        # The app's Bearer backend is not consulted here, so neither token counts.
        good_token = client.get("/keyed", headers=bearer("tok-reader-0123456789"))
        bad_token = client.get("/keyed", headers=bearer("tok-unknown-0123456789"))
        bad_key = client.get("/keyed", headers={"X-API-Key": "key-wrong-0123456789"})

    assert by_key.json() == {"user": "kim", "authenticated": True}
    assert good_token.json() == {"user": None, "authenticated": False}
    assert bad_token.json() == {"user": None, "authenticated": False}
    assert bad_key.status_code == 401
    assert bad_key.headers["WWW-Authenticate"] == 'APIKey realm="api", header="X-API-Key"'
    assert bad_key.json()["detail"] == "the API key is not valid"


def test_group_auth_empty_list_turns_authentication_off_unless_a_route_sets_it() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    public = app.group("/public", auth=[])

    @public.get("/page")
    async def page(request: Request) -> dict[str, Any]:
        return who(request)

    @public.get("/own", auth=[APIKeyAuth(static_tokens(API_KEYS))])
    async def own(request: Request) -> dict[str, Any]:
        return who(request)

    with TestClient(app) as client:
        good_token = client.get("/public/page", headers=bearer("tok-reader-0123456789"))
        bad_token = client.get("/public/page", headers=bearer("tok-unknown-0123456789"))
        by_key = client.get("/public/own", headers={"X-API-Key": "key-kim-0123456789"})

    assert (good_token.status_code, good_token.json()) == (
        200, {"user": None, "authenticated": False})
    assert (bad_token.status_code, bad_token.json()) == (
        200, {"user": None, "authenticated": False})
    assert by_key.json() == {"user": "kim", "authenticated": True}


def test_nested_groups_inherit_auth_from_their_parent() -> None:
    app = Zephyr(__name__)
    inner = app.group("/outer", auth=[APIKeyAuth(static_tokens(API_KEYS))]).group("/inner")

    @inner.get("/x")
    async def x(request: Request) -> dict[str, Any]:
        return who(request)

    with TestClient(app) as client:
        response = client.get("/outer/inner/x", headers={"X-API-Key": "key-kim-0123456789"})

    assert response.json() == {"user": "kim", "authenticated": True}


def test_current_user_is_the_authenticated_user_inside_the_handler() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]

    @app.get("/whoami")
    async def whoami() -> dict[str, Any]:
        return {"id": current_user.id, "scopes": sorted(current_user.scopes)}

    @app.get("/sync-whoami")
    def sync_whoami() -> dict[str, Any]:
        return {"id": current_user.id}

    with TestClient(app) as client:
        writer = client.get("/whoami", headers=bearer("tok-writer-0123456789"))
        anonymous = client.get("/whoami")
        in_thread = client.get("/sync-whoami", headers=bearer("tok-reader-0123456789"))

    assert writer.json() == {"id": "wanda", "scopes": ["notes:read", "notes:write"]}
    assert anonymous.json() == {"id": None, "scopes": []}
    assert in_thread.json() == {"id": "alice"}


# -- permissions -------------------------------------------------------------------------------

def test_permissions_answer_401_anonymous_403_without_the_scope_200_with_it() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    calls: list[str] = []

    @app.post("/notes", permissions=[HasScope("notes:write")])
    async def create(request: Request) -> dict[str, Any]:
        calls.append(request.user.id)
        return who(request)

    with TestClient(app) as client:
        anonymous = client.post("/notes")
        reader = client.post("/notes", headers=bearer("tok-reader-0123456789"))
        writer = client.post("/notes", headers=bearer("tok-writer-0123456789"))

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    assert anonymous.json() == problem(401, "Unauthorized", NEEDS_AUTH)
    assert reader.status_code == 403
    assert "WWW-Authenticate" not in reader.headers
    assert reader.headers["content-type"] == "application/problem+json"
    denied = "HasScope('notes:write') was not met"
    assert reader.json() == {**problem(403, "Forbidden", denied), "reason": denied}
    assert (writer.status_code, writer.json()) == (200, {"user": "wanda", "authenticated": True})
    assert calls == ["wanda"]


@pytest.mark.parametrize(("token", "status", "detail"), [
    (None, 401, NEEDS_AUTH),
    ("tok-writer-0123456789", 403, "HasRole('admin') was not met"),
    ("tok-admin-0123456789", 403, "HasScope('notes:write') was not met"),
    ("tok-adminwriter-01234", 200, None),
])
def test_group_permissions_add_to_the_route_permissions(
    token: str | None, status: int, detail: str | None
) -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    admin = app.group("/admin", permissions=[HasRole("admin")])

    @admin.delete("/notes", permissions=[HasScope("notes:write")])
    async def purge(request: Request) -> dict[str, Any]:
        return who(request)

    with TestClient(app) as client:
        response = client.delete("/admin/notes", headers=bearer(token) if token else {})

    assert response.status_code == status
    if detail is None:
        assert response.json() == {"user": "ada", "authenticated": True}
    else:
        assert response.json()["detail"] == detail


def test_permissions_without_any_backend_stop_startup() -> None:
    app = Zephyr(__name__)

    @app.get("/secret", permissions=[IsAuthenticated()])
    async def secret() -> str:
        return "secret"

    assert startup_failure(app) == (
        "route '/secret' has permissions but no authentication backend; add "
        "app.auth_backends.append(...) or auth=[...] on the route or its group")


def test_group_permissions_under_auth_off_stop_startup() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    closed = app.group("/closed", auth=[], permissions=[IsAuthenticated()])
    closed.add_route("/x", lambda: "x")

    assert startup_failure(app) == (
        "route '/closed/x' has permissions but no authentication backend; add "
        "app.auth_backends.append(...) or auth=[...] on the route or its group")


# -- JWT and Basic end to end ------------------------------------------------------------------

def test_jwt_bearer_tokens_end_to_end() -> None:
    codec = JWTCodec(key=JWT_KEY)
    app = Zephyr(__name__)
    app.auth_backends = [JWTAuth(codec)]

    @app.put("/notes/1", permissions=[HasScope("notes:write")])
    async def update() -> dict[str, Any]:
        return {"user": current_user.id, "name": current_user.name}

    good = codec.encode({"sub": "carol", "name": "Carol", "scope": "notes:read notes:write"})
    read_only = codec.encode({"sub": "carol", "scope": "notes:read"})
    now = int(time.time())
    expired = jwt.encode({"sub": "carol", "scope": "notes:write", "iat": now - 60,
                          "exp": now - 30}, JWT_KEY, algorithm="HS256")
    other_key = JWTCodec(key="another-key-0123456789abcdef0123456789").encode(
        {"sub": "mallory", "scope": "notes:write"})
    no_subject = codec.encode({"scope": "notes:write"})

    with TestClient(app) as client:
        answers = {name: client.put("/notes/1", headers=bearer(token)) for name, token in [
            ("good", good), ("read_only", read_only), ("expired", expired),
            ("other_key", other_key), ("no_subject", no_subject)]}

    assert (answers["good"].status_code, answers["good"].json()) == (
        200, {"user": "carol", "name": "Carol"})
    assert answers["read_only"].status_code == 403
    assert answers["read_only"].json()["detail"] == "HasScope('notes:write') was not met"
    for name, detail in [
        ("expired", "the bearer token is not valid (expired)"),
        ("other_key", "the bearer token is not valid (signature)"),
        ("no_subject", "the bearer token does not name a user this service knows"),
    ]:
        assert answers[name].status_code == 401, name
        assert answers[name].headers["WWW-Authenticate"] == INVALID_TOKEN
        assert answers[name].json()["detail"] == detail


def test_basic_auth_with_static_passwords_end_to_end() -> None:
    dave = AuthUser(id="dave", roles=frozenset({"editor"}))
    verify = static_passwords({"dave": (FAST.hash("correct horse"), dave)}, hasher=FAST)
    app = Zephyr(__name__)
    app.auth_backends = [BasicAuth(verify, realm="notes")]

    @app.get("/edit", permissions=[HasRole("editor")])
    async def edit() -> dict[str, Any]:
        return {"user": current_user.id}

    with TestClient(app) as client:
        good = client.get("/edit", headers=basic("dave", "correct horse"))
        wrong = client.get("/edit", headers=basic("dave", "battery staple"))
        unknown = client.get("/edit", headers=basic("eve", "correct horse"))
        anonymous = client.get("/edit")

    challenge = 'Basic realm="notes", charset="UTF-8"'
    assert (good.status_code, good.json()) == (200, {"user": "dave"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == challenge
        assert response.json()["detail"] == "the user name or password is wrong"
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == challenge
    assert anonymous.json()["detail"] == NEEDS_AUTH


def test_the_challenge_offers_every_backend() -> None:
    app = Zephyr(__name__)
    app.auth_backends = [BearerAuth(static_tokens(TOKENS)), APIKeyAuth(static_tokens(API_KEYS))]

    @app.get("/both", permissions=[IsAuthenticated()])
    async def both() -> dict[str, Any]:
        return {"user": current_user.id}

    with TestClient(app) as client:
        anonymous = client.get("/both")
        by_key = client.get("/both", headers={"X-API-Key": "key-kim-0123456789"})

    assert anonymous.headers["WWW-Authenticate"] == (
        'Bearer realm="api", APIKey realm="api", header="X-API-Key"')
    assert by_key.json() == {"user": "kim"}


# -- the failure throttle ----------------------------------------------------------------------

def test_auth_failures_count_towards_the_failure_limit() -> None:
    app = Zephyr(__name__, failure_limit="2/minute")
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
    calls: list[str] = []

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        calls.append(request.user.id)
        return who(request)

    @app.get("/open", auth=[])
    async def open_page() -> str:
        return "open"

    with TestClient(app) as client:
        bad = [client.get("/me", headers=bearer("tok-guess-0123456789")) for _ in range(3)]
        good = client.get("/me", headers=bearer("tok-reader-0123456789"))
        open_page_answer = client.get("/open")

    assert [r.status_code for r in bad] == [401, 401, 429]
    throttled = bad[2]
    assert throttled.headers["content-type"] == "application/problem+json"
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert throttled.json()["detail"] == (
        f"too many failed attempts from your address; try again in {retry_after} seconds")
    # The client is locked out even with good credentials, until the window ends.
    assert good.status_code == 429
    assert calls == []
    # Routes without auth or CSRF do not consult the throttle.
    assert open_page_answer.status_code == 200


def test_missing_credentials_and_permission_refusals_do_not_count_as_failures() -> None:
    app = Zephyr(__name__, failure_limit="1/minute")
    app.auth_backends = [BearerAuth(static_tokens(TOKENS))]

    @app.get("/write", permissions=[HasScope("notes:write")])
    async def write() -> str:
        return "written"

    with TestClient(app) as client:
        answers = [client.get("/write").status_code for _ in range(3)]
        answers += [client.get("/write", headers=bearer("tok-reader-0123456789")).status_code
                    for _ in range(2)]
        answers.append(client.get("/write", headers=bearer("tok-writer-0123456789")).status_code)

    assert answers == [401, 401, 401, 403, 403, 200]


def victim_app(**settings: Any) -> Zephyr:
    """App-wide session and Bearer auth, a password login form, a transfer form and a page."""
    password = "correct horse battery staple"
    users = {"alice": AuthUser(id="alice")}
    app = Zephyr(__name__, **settings)
    app.auth_backends = [SessionAuth(users.get), BearerAuth(static_tokens(TOKENS))]

    @app.post("/login")
    async def login(request: Request) -> tuple[str, int]:
        form = await request.form()
        if form.get("password") != password:
            await record_failure(request, "bad-password")
            return "wrong password", 401
        await login_user(request, users["alice"])
        return "welcome", 200

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return who(request)

    @app.post("/transfer")
    async def transfer() -> str:
        return "sent"

    return app


@pytest.mark.parametrize("forged", [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Origin": "https://evil.example"},  # a browser that sends no Sec-Fetch-Site
], ids=["sec-fetch-site", "origin"])
def test_cross_site_forms_on_another_page_do_not_lock_the_visitor_out(
    forged: dict[str, str],
) -> None:
    # 25 hidden forms on a page the visitor opens post from the visitor's own address.
    with TestClient(victim_app()) as client:
        attack = [client.post("/transfer", headers=forged) for _ in range(25)]
        logged_in = client.post("/login", data={"password": "correct horse battery staple"})
        page = client.get("/me")
        transfer = client.post("/transfer")

    assert {r.status_code for r in attack} == {403}
    assert (logged_in.status_code, logged_in.text) == (200, "welcome")
    assert (page.status_code, page.json()) == (200, {"user": "alice", "authenticated": True})
    assert (transfer.status_code, transfer.text) == (200, "sent")


def test_a_blocked_client_is_refused_where_credentials_are_checked_but_reads_public_pages(
) -> None:
    with TestClient(victim_app(failure_limit="3/minute")) as client:
        guesses = [client.get("/me", headers=bearer(f"tok-guess-{n:012}")).status_code
                   for n in range(4)]
        good_token = client.get("/me", headers=bearer("tok-reader-0123456789"))
        login = client.post("/login", data={"password": "correct horse battery staple"})
        public = client.get("/me")

    # The brute-forcer presenting Bearer tokens on a GET route is throttled...
    assert guesses == [401, 401, 401, 429]
    # ...on every request that presents credentials, and on unsafe routes (logins, forms)...
    assert good_token.status_code == 429
    assert login.status_code == 429
    # ...but a public read that presents none is served, anonymously.
    assert (public.status_code, public.json()) == (200, {"user": None, "authenticated": False})


# -- the handler timeout -----------------------------------------------------------------------

def test_a_slow_handler_is_cancelled_with_503() -> None:
    app = Zephyr(__name__)
    events: list[str] = []

    @app.get("/slow", timeout=0.2)
    async def slow() -> str:
        try:
            await asyncio.sleep(5)
        finally:
            events.append("cleaned up")
        return "late"

    @app.get("/fast", timeout=0.2)
    async def fast() -> str:
        await asyncio.sleep(0)
        return "fast"

    with TestClient(app) as client:
        started = time.monotonic()
        response = client.get("/slow")
        elapsed = time.monotonic() - started
        quick = client.get("/fast")

    assert elapsed < 2
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem(503, "Service Unavailable",
                                      "the handler did not finish within 0.2 seconds")
    assert events == ["cleaned up"]
    assert (quick.status_code, quick.text) == (200, "fast")


def test_a_slow_sync_handler_is_answered_503_without_waiting_for_its_thread() -> None:
    app = Zephyr(__name__)

    @app.get("/slow", timeout=0.1)
    def slow() -> str:
        time.sleep(2)
        return "late"

    with TestClient(app) as client:
        started = time.monotonic()
        response = client.get("/slow")
        elapsed = time.monotonic() - started

    assert elapsed < 1.5  # the thread still sleeps: nobody waited for it
    assert response.status_code == 503
    assert response.json()["detail"] == "the handler did not finish within 0.1 seconds"


def test_group_timeout_applies_and_a_route_may_lengthen_it() -> None:
    app = Zephyr(__name__)
    slow_group = app.group("/reports", timeout=0.2)

    @slow_group.get("/daily")
    async def daily() -> str:
        await asyncio.sleep(5)
        return "late"

    @slow_group.get("/yearly", timeout=3)
    async def yearly() -> str:
        await asyncio.sleep(0.4)
        return "yearly"

    with TestClient(app) as client:
        started = time.monotonic()
        daily_answer = client.get("/reports/daily")
        elapsed = time.monotonic() - started
        yearly_answer = client.get("/reports/yearly")

    assert elapsed < 2
    assert daily_answer.status_code == 503
    assert daily_answer.json()["detail"] == "the handler did not finish within 0.2 seconds"
    assert (yearly_answer.status_code, yearly_answer.text) == (200, "yearly")


def test_rate_limit_headers_stay_on_a_timed_out_response() -> None:
    app = Zephyr(__name__)

    @app.get("/slow", timeout=0.1)
    @limit("5/minute")
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    with TestClient(app) as client:
        response = client.get("/slow")

    assert response.status_code == 503
    assert (response.headers["RateLimit-Limit"], response.headers["RateLimit-Remaining"]) == (
        "5", "4")


@pytest.mark.parametrize("timeout", [0, -1, "x", True, float("nan")],
                         ids=["zero", "negative", "string", "bool", "nan"])
@pytest.mark.parametrize("where", ["route", "group"])
def test_invalid_timeouts_stop_startup(timeout: Any, where: str) -> None:
    app = Zephyr(__name__)
    if where == "route":
        app.add_route("/x", lambda: "x", timeout=timeout)
    else:
        app.group("/g", timeout=timeout).add_route("/x", lambda: "x")
    path = "/x" if where == "route" else "/g/x"

    assert startup_failure(app) == (
        f"route {path!r}: timeout must be a number of seconds, not {timeout!r}")


# -- options refused at setup ------------------------------------------------------------------

OPTIONS = ("auth, body_idle_timeout, body_timeout, cors, csrf, error_model, limits, permissions, "
           "security_headers, timeout")


def test_unknown_group_option_is_refused_by_name() -> None:
    app = Zephyr(__name__)

    with pytest.raises(SetupError) as caught:
        app.group("/api", limit=[limit("5/minute")])

    assert str(caught.value) == f"group '/api' got unknown option 'limit' (options: {OPTIONS})"


def test_unknown_route_option_is_refused_with_a_suggestion() -> None:
    app = Zephyr(__name__)

    with pytest.raises(SetupError) as caught:
        app.add_route("/x", lambda: "x", timout=1)

    message = str(caught.value)
    assert message.startswith("route '/x' got unknown option 'timout'; did you mean 'timeout'?")


def _make(option: str, value: Callable[[], Any]) -> Callable[[], Zephyr]:
    def build() -> Zephyr:
        app = Zephyr(__name__)
        app.auth_backends = [BearerAuth(static_tokens(TOKENS))]
        app.group("/g", **{option: value()}).add_route("/x", lambda: "x")
        return app

    return build


@pytest.mark.parametrize(("option", "value"), [
    ("limits", lambda: ["5/minute"]),
    ("limits", lambda: limit("5/minute")),
    ("limits", lambda: [None]),
    ("auth", lambda: BearerAuth(static_tokens(TOKENS))),
    ("auth", lambda: [static_tokens(TOKENS)]),
    ("permissions", lambda: HasScope("notes:write")),
    ("permissions", lambda: ["notes:write"]),
], ids=["limits-string", "limits-not-a-list", "limits-none", "auth-not-a-list",
        "auth-not-a-backend", "permissions-not-a-list", "permissions-string"])
def test_security_options_of_the_wrong_shape_are_setup_errors(
    option: str, value: Callable[[], Any]
) -> None:
    build = _make(option, value)
    try:
        app = build()
    except SetupError as exc:
        message = str(exc)
    else:
        message = startup_failure(app)

    assert option in message
