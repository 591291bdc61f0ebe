"""Logging in and out through the session, in-process: rotation on login (fixation),
``SessionAuth`` on later requests, logout, permissions, and throttled password guessing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import stored_sessions
from zephyr import Request, Zephyr, current_user
from zephyr.errors import SetupError
from zephyr.responses import JSONResponse, Response
from zephyr.security import (
    AuthUser,
    HasRole,
    IsAuthenticated,
    PasswordHasher,
    SessionAuth,
    login_user,
    logout_user,
    record_failure,
)
from zephyr.security.login import USER_KEY, login_redirect
from zephyr.testing import AsyncTestClient, TestClient

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
USERS = {
    "alice": AuthUser(id="alice", roles=frozenset({"editor"})),
    "root": AuthUser(id="root", roles=frozenset({"admin"})),
}
PASSWORD = "correct horse battery staple"
PASSWORD_HASHES = {"alice": FAST.hash(PASSWORD)}


def load_user(user_id: str) -> AuthUser | None:
    return USERS.get(user_id)


async def load_user_async(user_id: str) -> AuthUser | None:
    return USERS.get(user_id)


def login_app(*, loader: Callable[[str], Any] = load_user, **settings: Any) -> Zephyr:
    app = Zephyr(**settings)
    app.auth_backends.append(SessionAuth(loader))

    @app.get("/visit")
    async def visit(request: Request) -> str:
        (await request.load_session())["cart"] = "book"
        return "browsing"

    @app.post("/login/<name>")
    async def login(request: Request, name: str) -> dict[str, Any]:
        await login_user(request, USERS.get(name) or AuthUser(id=name))
        session = request.session
        return {"user": request.user.id, "session_user": session[USER_KEY],
                "cart": session.get("cart")}

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        session = await request.load_session()
        return {"id": request.user.id, "current": current_user.id,
                "authenticated": bool(request.user), "cart": session.get("cart")}

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, Any]:
        await logout_user(request)
        return {"id": request.user.id, "session": dict(request.session)}

    @app.get("/private", permissions=[IsAuthenticated()])
    async def private() -> str:
        return "private"

    @app.get("/admin", permissions=[HasRole("admin")])
    async def admin() -> str:
        return "admin"

    @app.post("/password-login")
    @app.post("/api/login", csrf=False, name="api_login")  # a JSON client's login, no CSRF
    async def password_login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form["username"]), str(form["password"])
        if not FAST.check(PASSWORD_HASHES.get(name), password).ok:
            await record_failure(request, "bad-password")
            return JSONResponse({"error": "wrong user name or password"}, 401)
        await login_user(request, USERS[name])
        return JSONResponse({"id": name})

    return app


def session_cookie(response: httpx.Response) -> tuple[str, set[str]]:
    """The value and attributes of the one session Set-Cookie of ``response``."""
    [header] = response.headers.get_list("set-cookie")
    pair, *attributes = header.split("; ")
    name, _, value = pair.partition("=")
    assert name == "session"
    return value, set(attributes)


def as_cookie(client: TestClient, path: str, cookie: str) -> httpx.Response:
    """GET ``path`` sending exactly ``cookie`` as the session (the client's jar is emptied)."""
    client.cookies.clear()
    return client.get(path, headers={"cookie": f"session={cookie}"})


ANONYMOUS_ME = {"id": None, "current": None, "authenticated": False}


# -- login -------------------------------------------------------------------------------


def test_login_sets_the_user_and_rotates_the_session(session_settings: dict[str, Any]) -> None:
    kind = session_settings["session_backend"]
    with TestClient(login_app(**session_settings)) as client:
        client.get("/visit")
        before = client.cookies["session"]
        response = client.post("/login/alice")
        after, _ = session_cookie(response)
        me = client.get("/me").json()
        replayed = as_cookie(client, "/me", before).json()
    assert response.json() == {"user": "alice", "session_user": "alice", "cart": "book"}
    assert after != before
    assert me == {"id": "alice", "current": "alice", "authenticated": True, "cart": "book"}
    # The pre-login cookie never carries the login; a server-side one no longer loads at all.
    assert replayed == {**ANONYMOUS_ME, "cart": "book" if kind == "cookie" else None}


@pytest.mark.parametrize("loader", [load_user, load_user_async])
def test_session_auth_finds_the_user_on_later_requests(loader: Callable[[str], Any]) -> None:
    with TestClient(login_app(loader=loader, session_backend="memory")) as client:
        client.post("/login/root")
        first = client.get("/me").json()
        second = client.get("/me").json()
    expected = {"id": "root", "current": "root", "authenticated": True, "cart": None}
    assert first == second == expected


def test_an_unknown_user_id_is_anonymous(session_settings: dict[str, Any]) -> None:
    with TestClient(login_app(**session_settings)) as client:
        login = client.post("/login/deleted-account")
        me = client.get("/me").json()
    assert login.json()["session_user"] == "deleted-account"
    assert me == {**ANONYMOUS_ME, "cart": None}


def test_login_user_needs_an_id() -> None:
    app = Zephyr()

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        try:
            await login_user(request, object())
        except SetupError as exc:
            return {"error": str(exc)}
        return {"error": ""}

    with TestClient(app) as client:
        response = client.post("/login")
    assert response.json() == {
        "error": "login_user() needs the user's id: object has no 'id'; pass user_id=..."}


# -- logout ------------------------------------------------------------------------------


def test_logout_clears_the_session_and_deletes_the_cookie(session_settings: dict[str, Any]) -> None:
    with TestClient(login_app(**session_settings)) as client:
        client.get("/visit")
        client.post("/login/alice")
        response = client.post("/logout")
        value, attributes = session_cookie(response)
        jar_after = dict(client.cookies)
        me = client.get("/me").json()
    assert response.json() == {"id": None, "session": {}}
    assert value == ""
    assert "Max-Age=0" in attributes
    assert jar_after == {}
    assert me == {**ANONYMOUS_ME, "cart": None}


def test_a_logged_out_server_side_session_cannot_be_replayed(
        server_session_settings: dict[str, Any]) -> None:
    with TestClient(login_app(**server_session_settings)) as client:
        client.post("/login/alice")
        logged_in = client.cookies["session"]
        client.post("/logout")
        replayed = as_cookie(client, "/me", logged_in).json()
        private = as_cookie(client, "/private", logged_in)
    assert replayed == {**ANONYMOUS_ME, "cart": None}
    assert private.status_code == 401


def racing_app(loaded: asyncio.Event, go_on: asyncio.Event, **settings: Any) -> Zephyr:
    """``login_app`` plus ``POST /slow/<change>``: it loads the session, tells ``loaded``,
    waits for ``go_on``, then changes the session it loaded."""
    app = login_app(**settings)

    @app.post("/slow/<change>")
    async def slow(request: Request, change: str) -> dict[str, Any]:
        session = await request.load_session()
        loaded.set()
        await go_on.wait()
        if change == "regenerate":
            session.regenerate()
            session["note"] = "set after regenerate()"
        else:
            session["cart"] = "pen"
        return dict(session)

    @app.get("/session")
    async def whole(request: Request) -> dict[str, Any]:
        return dict(await request.load_session())

    return app


@pytest.mark.parametrize(("change", "kept"), [
    ("write", None),
    # A new identity asked for after the logout holds only what was set after asking.
    ("regenerate", {"note": "set after regenerate()"}),
])
def test_a_request_that_loaded_the_session_before_logout_cannot_revive_it(
        server_session_settings: dict[str, Any], change: str,
        kept: dict[str, str] | None) -> None:
    async def scenario() -> None:
        loaded, go_on = asyncio.Event(), asyncio.Event()
        app = racing_app(loaded, go_on, **server_session_settings)
        async with AsyncTestClient(app) as client:
            await client.get("/visit")
            await client.post("/login/alice")
            stolen = client.cookies["session"]
            slow = asyncio.ensure_future(client.post(f"/slow/{change}"))
            await loaded.wait()
            assert (await client.post("/logout")).status_code == 200
            go_on.set()
            late = await slow
            client.cookies.clear()
            replayed = await client.get("/me", headers={"cookie": f"session={stolen}"})
            private = await client.get("/private", headers={"cookie": f"session={stolen}"})
            issued = late.cookies.get("session")
            fresh = (None if issued is None else (await client.get(
                "/session", headers={"cookie": f"session={issued}"})).json())
            assert late.status_code == 200
            assert replayed.json() == {**ANONYMOUS_ME, "cart": None}
            assert private.status_code == 401
            assert fresh == kept
            assert stored_sessions(app) == (0 if kept is None else 1)

    asyncio.run(scenario())


# -- permissions -------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "path", "status"), [
    (None, "/private", 401),
    ("alice", "/private", 200),
    (None, "/admin", 401),
    ("alice", "/admin", 403),
    ("root", "/admin", 200),
])
def test_permissions_see_the_session_user(who: str | None, path: str, status: int) -> None:
    with TestClient(login_app()) as client:
        if who is not None:
            client.post(f"/login/{who}")
        response = client.get(path)
    assert response.status_code == status
    if status == 200:
        assert response.text == path.strip("/")
    if status == 401:
        assert response.headers["www-authenticate"] == 'Session realm="login"'
    else:
        assert "www-authenticate" not in response.headers


# -- password guessing ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/password-login", "/api/login"])
def test_password_guessing_is_throttled_after_the_failure_limit(
        caplog: pytest.LogCaptureFixture, path: str) -> None:
    caplog.set_level(logging.WARNING, logger="zephyr.security")
    with TestClient(login_app(failure_limit="3/minute")) as client:
        def attempt(name: str, password: str) -> httpx.Response:
            return client.post(path, data={"username": name, "password": password})

        first = attempt("alice", PASSWORD)
        guesses = [attempt("alice", "hunter2"), attempt("nobody", PASSWORD),
                   attempt("alice", PASSWORD.upper())]
        blocked = attempt("alice", PASSWORD)
    assert (first.status_code, first.json()) == (200, {"id": "alice"})
    assert [guess.status_code for guess in guesses] == [401, 401, 401]
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "set-cookie" not in blocked.headers
    # (/api/login has csrf=False under SessionAuth: its startup warning is no event.)
    events = [(record.security_event, getattr(record, "reason", None))
              for record in caplog.records if hasattr(record, "security_event")]
    assert events == [("security-failure", "bad-password")] * 3 + [
        ("failure-throttled", "too many security failures")]


# -- browsers sent to LOGIN_URL ---------------------------------------------------------------

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
API_CLIENT = {"Accept": "application/json"}


def browser_app(login_url: str | None = "sign_in", **settings: Any) -> Zephyr:
    """:func:`login_app` with a login page, ``LOGIN_URL`` and a form POST that needs a user."""
    app = login_app(login_url=login_url, **settings)

    @app.get("/sign-in", name="sign_in")
    async def login_page(next: str = "/") -> str:
        return f"<form>log in, then go to {next}</form>"

    @app.post("/notes", permissions=[IsAuthenticated()])
    async def add_note() -> str:
        return "added"

    return app


@pytest.mark.parametrize(("method", "path", "location"), [
    ("GET", "/private", "/sign-in?next=%2Fprivate"),
    ("GET", "/private?tab=2&q=a%20b", "/sign-in?next=%2Fprivate%3Ftab%3D2%26q%3Da%2520b"),
    ("GET", "/admin", "/sign-in?next=%2Fadmin"),    # any permission refusing nobody
    ("POST", "/notes", "/sign-in?next=%2Fnotes"),   # 303: the login page is fetched with GET
])
def test_an_anonymous_browser_is_sent_to_the_login_page_with_next(
    method: str, path: str, location: str
) -> None:
    with TestClient(browser_app()) as client:
        r = client.request(method, path, headers=BROWSER, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, location)
        assert "www-authenticate" not in r.headers
        page = client.request(method, path, headers=BROWSER, follow_redirects=True)
    assert page.text == f"<form>log in, then go to {path}</form>"


@pytest.mark.parametrize("headers", [API_CLIENT, {}, {"Accept": "*/*"}],
                         ids=["json", "no-accept", "anything"])
def test_api_clients_keep_the_401_with_its_challenge(headers: dict[str, str]) -> None:
    with TestClient(browser_app()) as client:
        r = client.get("/private", headers=headers, follow_redirects=False)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Session realm="login"'


def test_a_logged_in_user_without_the_permission_gets_403_never_a_login_loop() -> None:
    with TestClient(browser_app()) as client:
        client.post("/login/alice")
        r = client.get("/admin", headers=BROWSER, follow_redirects=False)
        assert r.status_code == 403
        assert client.get("/private", headers=BROWSER).text == "private"


@pytest.mark.parametrize(("login_url", "root_path", "location"), [
    ("/sign-in", "", "/sign-in?next=%2Fprivate"),              # a path
    ("/sign-in?via=wall", "", "/sign-in?via=wall&next=%2Fprivate"),
    ("sign_in", "/app", "/app/sign-in?next=%2Fapp%2Fprivate"),  # under a mount point
    ("/sign-in", "/app", "/app/sign-in?next=%2Fapp%2Fprivate"),
])
def test_login_url_is_a_path_or_a_route_name_of_this_app(
    login_url: str, root_path: str, location: str
) -> None:
    with TestClient(browser_app(login_url), root_path=root_path) as client:
        r = client.get("/private", headers=BROWSER, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, location)


def test_without_login_url_browsers_get_the_401_page() -> None:
    with TestClient(browser_app(None)) as client:
        r = client.get("/private", headers=BROWSER, follow_redirects=False)
    assert (r.status_code, r.headers["content-type"]) == (401, "text/html; charset=utf-8")


@pytest.mark.parametrize(("login_url", "message"), [
    ("signin", "LOGIN_URL='signin' is neither a path of this app (starting with '/') nor "
     "the name of a route: no route named 'signin'. Did you mean 'sign_in'?"),
    ("//evil.example/login", "LOGIN_URL='//evil.example/login' is not a path of this app; "
     "write it as '/login' (or name its route)"),
    ("https://auth.example/login", "LOGIN_URL='https://auth.example/login' is not a path of "
     "this app"),
])
def test_a_login_url_that_is_no_page_of_this_app_stops_startup(
    login_url: str, message: str
) -> None:
    with pytest.raises(RuntimeError) as caught, TestClient(browser_app(login_url)):
        pass
    assert f"ConfigError: {message}" in str(caught.value)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


@pytest.mark.parametrize(("raw_path", "query", "location"), [
    (b"/notes/7", b"", "/sign-in?next=%2Fnotes%2F7"),
    (b"/notes/%2F%2Fevil.example", b"", "/sign-in?next=%2Fnotes%2F%252F%252Fevil.example"),
    (b"/go", b"to=//evil.example", "/sign-in?next=%2Fgo%3Fto%3D%2F%2Fevil.example"),
    # Never a target off this site: no next at all.
    (b"//evil.example/x", b"", "/sign-in"),
    (b"///evil.example", b"", "/sign-in"),
    (b"/\\evil.example", b"", "/sign-in"),
    (b"/\t/evil.example", b"", "/sign-in"),
    (b"https://evil.example/x", b"", "/sign-in"),
    (b"evil.example", b"", "/sign-in"),
])
def test_next_is_only_ever_a_path_on_this_site(raw_path: bytes, query: bytes,
                                               location: str) -> None:
    scope = {"type": "http", "method": "GET", "path": raw_path.decode("latin-1"),
             "raw_path": raw_path, "query_string": query, "root_path": "", "headers": []}
    response = login_redirect(Request(scope, _no_body), "/sign-in")
    assert (response.status_code, response.headers["location"]) == (303, location)
def test_a_client_blocked_for_guessing_passwords_still_reads_pages_as_itself() -> None:
    # A session cookie is no credential to guess (it is signed, or a random id), so the
    # throttle leaves the session's reads alone: a user sharing the guesser's address reads on.
    with TestClient(login_app(failure_limit="2/minute")) as client:
        client.post("/login/alice")
        guesses = [client.post("/api/login", data={"username": "alice", "password": "x"})
                   for _ in range(3)]
        me = client.get("/me")
    assert [guess.status_code for guess in guesses] == [401, 401, 429]
    assert (me.status_code, me.json().get("id")) == (200, "alice")


def test_session_auth_presents_no_credential_the_throttle_guards() -> None:
    request = Request({"type": "http", "headers": [(b"cookie", b"session=abc")]},
                      _no_receive)
    assert SessionAuth(load_user).has_credentials(request) is False


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}
