"""Logging in and out through the session, in-process: rotation on login (fixation),
``SessionAuth`` on later requests, logout, permissions, and throttled password guessing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

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
from zephyr.security.login import USER_KEY
from zephyr.testing import TestClient

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
