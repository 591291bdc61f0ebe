"""Sessions under attack, in-process: cookie flags and caching headers, forged, stale and
replayed cookies, secret-key rotation, fixation (``regenerate``) and the loading rule
of the server-side backends.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from itsdangerous import Signer
from itsdangerous.timed import TimestampSigner

from tests.conftest import TEST_SECRET_KEY, session_settings_for, stored_sessions
from zephyr import Depends, Request, Zephyr, csrf_token
from zephyr.responses import JSONResponse, Response
from zephyr.security import CookieSessionBackend, MemorySessionBackend, Session, load_session
from zephyr.testing import TestClient

OLD_KEY = "old-Kq2Zr7Lm0Vb6Nc1Xw9Ty4Ua5Se2Rd3Fg7Hj8Pm"
NEW_KEY = "new-Ys4Bt9Wn2Qx7Gc5Lv0Hp3Mk8Ja6Dr1Fz4Ue9Ni"
OTHER_KEY = "other-Pw3Tz8Rk1Xm6Vc0Qb5Ny2Lh7Gs4Jd9Fa3Wu"
ID_SALT = "zephyr.session.id"
BACKEND_NAMES = {"memory": "MemorySessionBackend", "redis": "RedisSessionBackend"}


@pytest.fixture(params=["cookie", "redis"])
def shared_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The backends whose sessions outlive one app object (rotation tests need two apps)."""
    return session_settings_for(request)


def session_app(**settings: Any) -> Zephyr:
    app = Zephyr(**settings)

    @app.get("/untouched")
    async def untouched() -> str:
        return "untouched"

    @app.get("/read")
    async def read(request: Request) -> dict[str, Any]:
        return dict(await request.load_session())

    @app.get("/read-vary")
    async def read_vary(request: Request, vary: list[str]) -> Response:
        response = JSONResponse(dict(await request.load_session()))
        for value in vary:
            response.headers.append("Vary", value)
        return response

    @app.get("/write")
    async def write(request: Request, value: str = "1") -> dict[str, Any]:
        session = await request.load_session()
        session["value"] = value
        return dict(session)

    @app.get("/clear")
    async def clear(request: Request) -> dict[str, Any]:
        session = await request.load_session()
        session.clear()
        return dict(session)

    @app.get("/regenerate")
    async def regenerate(request: Request) -> dict[str, Any]:
        session = await request.load_session()
        session.regenerate()
        return dict(session)

    return app


def with_depends_route(app: Zephyr) -> Zephyr:
    """``app`` plus a route that takes the loaded session as a ``Depends`` parameter."""

    @app.get("/depends")
    async def depends(
        session: Session = Depends(load_session),  # noqa: B008 - the form users write
    ) -> dict[str, Any]:
        return dict(session)

    return app


def set_cookies(response: Any) -> list[tuple[str, str, set[str]]]:
    """Each Set-Cookie header as (name, value, {attributes}), attribute names as sent."""
    cookies = []
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = header.split("; ")
        name, _, value = pair.partition("=")
        cookies.append((name, value, set(attributes)))
    return cookies


def written_cookie(client: TestClient, value: str = "1") -> str:
    """Write ``value`` into a new session of ``client`` and return the cookie value."""
    response = client.get("/write", params={"value": value})
    assert response.status_code == 200
    [(name, cookie, _)] = set_cookies(response)
    assert name == "session"
    return cookie


def read_with(client: TestClient, cookie: str, path: str = "/read") -> Any:
    """GET ``path`` sending exactly ``cookie`` as the session (the client's jar is emptied)."""
    client.cookies.clear()
    return client.get(path, headers={"cookie": f"session={cookie}"})


# -- which responses a session marks -----------------------------------------------------


@pytest.mark.parametrize("has_cookie", [False, True])
def test_a_route_that_never_touches_the_session_sets_and_marks_nothing(
        session_settings: dict[str, Any], has_cookie: bool) -> None:
    with TestClient(session_app(**session_settings)) as client:
        if has_cookie:
            written_cookie(client)
        response = client.get("/untouched")
    assert response.status_code == 200
    assert response.text == "untouched"
    assert "set-cookie" not in response.headers
    assert "cache-control" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize(("path", "params", "vary"), [
    ("/read", {}, "Cookie"),
    ("/read-vary", {"vary": "Accept-Encoding"}, "Accept-Encoding, Cookie"),
    ("/read-vary", {"vary": "Accept, cookie"}, "Accept, cookie"),
    # Every Vary line of the handler's is kept, in one line with Cookie.
    ("/read-vary", {"vary": ["Accept", "Origin"]}, "Accept, Origin, Cookie"),
])
def test_reading_the_session_makes_the_response_private(
        session_settings: dict[str, Any], path: str, params: dict[str, Any], vary: str) -> None:
    with TestClient(session_app(**session_settings)) as client:
        written_cookie(client, "mine")
        response = client.get(path, params=params)
    assert response.status_code == 200
    assert response.json() == {"value": "mine"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get_list("vary") == [vary]
    assert "set-cookie" not in response.headers  # read, not changed: nothing re-sent


@pytest.mark.parametrize(("base_url", "settings", "name", "secure"), [
    ("http://localhost", {}, "session", False),
    # Secure, Path=/ and no Domain: the browser keeps a __Host- cookie only from this host
    # over https, so neither a sibling subdomain nor an http page can plant one.
    ("https://localhost", {}, "__Host-session", True),
    ("http://localhost", {"session_cookie_secure": True}, "__Host-session", True),
    ("https://localhost", {"session_cookie_secure": False}, "session", False),
    ("https://localhost", {"cookie_host_prefix": False}, "session", True),
    ("https://localhost", {"session_cookie_name": "sid"}, "__Host-sid", True),
    ("https://localhost", {"session_cookie_name": "__Secure-sid", "session_cookie_secure": True},
     "__Secure-sid", True),
])
def test_a_written_session_cookie_has_the_safe_flags(
        session_settings: dict[str, Any], base_url: str, settings: dict[str, Any], name: str,
        secure: bool) -> None:
    app = session_app(session_max_age=3600, **settings, **session_settings)
    with TestClient(app, base_url=base_url) as client:
        response = client.get("/write")
        [(sent, value, attributes)] = set_cookies(response)
        client.cookies.clear()
        assert client.get("/read", headers={"cookie": f"{sent}={value}"}).json() == {"value": "1"}
    expected = {"Max-Age=3600", "Path=/", "HttpOnly", "SameSite=Lax"}
    assert (sent, attributes) == (name, expected | ({"Secure"} if secure else set()))
    assert value
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Cookie"


def test_over_https_only_the_host_prefixed_cookie_is_read(session_settings: dict[str, Any]) -> None:
    with TestClient(session_app(**session_settings), base_url="https://localhost") as client:
        client.get("/write", params={"value": "mine"})
        cookie = client.cookies["__Host-session"]
        client.cookies.clear()
        # A cookie without the prefix may come from a sibling subdomain or an http page.
        planted = client.get("/read", headers={"cookie": f"session={cookie}"})
        lookalike = client.get("/read", headers={"cookie": f"__host-session={cookie}"})
        own = client.get("/read", headers={"cookie": f"__Host-session={cookie}"})
    assert (planted.json(), lookalike.json(), own.json()) == ({}, {}, {"value": "mine"})


@pytest.mark.parametrize("name", ["__Host-sid", "__secure-sid"])
@pytest.mark.parametrize("setting", ["session_cookie_name", "csrf_cookie_name"])
def test_a_prefixed_cookie_name_needs_secure_cookies(name: str, setting: str) -> None:
    with pytest.raises(RuntimeError) as caught, TestClient(Zephyr(**{setting: name})):
        pass
    assert (f"ConfigError: {setting.upper()} {name!r} has a cookie prefix, which browsers "
            "accept only on Secure cookies; set SESSION_COOKIE_SECURE = True, or drop the "
            "prefix (over https, COOKIE_HOST_PREFIX adds __Host- by itself)") in str(caught.value)


def test_the_session_and_csrf_cookies_need_names_of_their_own() -> None:
    app = Zephyr(session_cookie_name="sid", csrf_cookie_name="sid")
    with pytest.raises(RuntimeError) as caught, TestClient(app):
        pass
    assert ("ConfigError: CSRF_COOKIE_NAME 'sid' is SESSION_COOKIE_NAME too, so each cookie "
            "would overwrite the other; give CSRF_COOKIE_NAME another name") in str(caught.value)


# -- round trips -----------------------------------------------------------------------


def test_the_session_round_trips_across_requests(session_settings: dict[str, Any]) -> None:
    with TestClient(session_app(**session_settings)) as client:
        written_cookie(client, "first")
        assert client.get("/read").json() == {"value": "first"}
        written_cookie(client, "second")
        assert client.get("/read").json() == {"value": "second"}


def test_clear_deletes_the_cookie(session_settings: dict[str, Any]) -> None:
    with TestClient(session_app(**session_settings)) as client:
        written_cookie(client, "gone soon")
        response = client.get("/clear")
        assert response.json() == {}
        [(name, value, attributes)] = set_cookies(response)
        assert (name, value) == ("session", "")
        assert attributes == {"Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Max-Age=0", "Path=/",
                              "HttpOnly", "SameSite=Lax"}
        assert "session" not in client.cookies
        assert client.get("/read").json() == {}


def test_a_cleared_server_side_session_cannot_be_replayed(
        server_session_settings: dict[str, Any]) -> None:
    with TestClient(session_app(**server_session_settings)) as client:
        cookie = written_cookie(client, "gone soon")
        client.get("/clear")
        response = read_with(client, cookie)
    assert (response.status_code, response.json()) == (200, {})


# -- failed requests -------------------------------------------------------------------------


def failing_routes(app: Zephyr) -> Zephyr:
    """``app`` plus routes that change the session, then fail (or answer 400) at ``/<how>``."""

    @app.get("/change-then/<how>")
    async def change_then(request: Request, how: str, change: str = "write") -> Response:
        session = await request.load_session()
        if change == "write":
            session["value"] = "changed"
        elif change == "regenerate":
            session.regenerate()
        else:
            session.clear()
        if how == "raise":
            raise RuntimeError("the handler broke")
        return Response("refused", status_code=int(how))

    return app


@pytest.mark.parametrize(("how", "status"), [("raise", 500), ("503", 503), ("502", 502)])
@pytest.mark.parametrize("change", ["write", "regenerate", "clear"])
@pytest.mark.parametrize("existing", [False, True])
def test_no_5xx_response_saves_the_session(
        session_settings: dict[str, Any], how: str, status: int, change: str,
        existing: bool) -> None:
    app = failing_routes(session_app(**session_settings))
    with TestClient(app) as client:
        if existing:
            cookie = written_cookie(client, "before")
        before = stored_sessions(app)
        response = client.get(f"/change-then/{how}", params={"change": change})
        after = stored_sessions(app)
        read = read_with(client, cookie).json() if existing else None
    assert response.status_code == status
    assert "set-cookie" not in response.headers
    assert after == before
    assert read == ({"value": "before"} if existing else None)
    # The failure still goes out with the security headers and is not cached.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("status", [200, 400, 404, 499])
def test_any_other_response_saves_the_session(session_settings: dict[str, Any],
                                               status: int) -> None:
    app = failing_routes(session_app(**session_settings))
    with TestClient(app) as client:
        response = client.get(f"/change-then/{status}")
        [(name, _, _)] = set_cookies(response)
        assert (response.status_code, name) == (status, "session")
        assert client.get("/read").json() == {"value": "changed"}


# -- forged and garbage cookies ----------------------------------------------------------


def _flip(position: int) -> Callable[[str], str]:
    def forge(cookie: str) -> str:
        index = position % len(cookie)
        replacement = "A" if cookie[index] != "A" else "B"
        return cookie[:index] + replacement + cookie[index + 1:]
    return forge


GARBAGE = [
    "",
    "garbage",
    ".",
    "..",
    "a.b.c",
    "eyJ2YWx1ZSI6ImFkbWluIn0.AAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "%00%ff%fe",
    '"quoted"',
    "x" * 129,
    "x" * 4100,
]


@pytest.mark.parametrize("forge", [
    pytest.param(_flip(0), id="flip-first-char"),
    pytest.param(_flip(10), id="flip-in-payload"),
    pytest.param(_flip(-5), id="flip-in-signature"),
    *(pytest.param(lambda _cookie, value=value: value, id=f"garbage-{index}")
      for index, value in enumerate(GARBAGE)),
])
def test_a_tampered_or_garbage_cookie_gives_an_empty_session(
        session_settings: dict[str, Any], forge: Callable[[str], str]) -> None:
    with TestClient(session_app(**session_settings)) as client:
        cookie = written_cookie(client, "secret")
        forged = forge(cookie)
        assert forged != cookie
        response = read_with(client, forged)
    assert response.status_code == 200
    assert response.json() == {}
    # The refused cookie is deleted, so the browser stops sending it.
    assert set_cookies(response) == [("session", "", DELETED)]


DELETED = {"Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Path=/", "HttpOnly",
           "SameSite=Lax"}


def test_forged_cookies_are_logged_and_count_towards_the_failure_limit(
        caplog: pytest.LogCaptureFixture, session_settings: dict[str, Any]) -> None:
    app = session_app(failure_limit="2/minute", **session_settings)

    @app.post("/guarded")
    async def guarded() -> str:
        return "ok"

    caplog.set_level("WARNING", logger="zephyr.security")
    with TestClient(app) as client:
        forged = _flip(-5)(written_cookie(client))
        statuses = [read_with(client, forged).status_code for _ in range(2)]
        client.cookies.clear()
        after = client.post("/guarded")
    reasons = [(r.security_event, r.reason) for r in caplog.records  # type: ignore[attr-defined]
               if getattr(r, "security_event", None) == "session-refused"]
    assert statuses == [200, 200]
    assert reasons == [("session-refused", "bad-signature")] * 2
    assert after.status_code == 429


def signed_with(key: str, kind: str, cookie: str) -> str:
    """``cookie`` as someone holding ``key`` would make it: the same id, or the same data."""
    if kind == "cookie":
        return asyncio.run(
            CookieSessionBackend([key]).save(None, {"value": "secret"}, max_age=3600))
    session_id = cookie.rpartition(".")[0]
    return Signer(key, salt=ID_SALT, digest_method=hashlib.sha256).sign(session_id).decode()


@pytest.mark.parametrize(("key", "seen"), [
    (TEST_SECRET_KEY, {"value": "secret"}),  # the recipe is right: the app's key passes
    (OTHER_KEY, {}),
])
def test_a_cookie_signed_with_another_key_is_refused(
        session_settings: dict[str, Any], key: str, seen: dict[str, str]) -> None:
    with TestClient(session_app(**session_settings)) as client:
        cookie = written_cookie(client, "secret")
        response = read_with(client, signed_with(key, session_settings["session_backend"], cookie))
    assert (response.status_code, response.json()) == (200, seen)


def test_a_server_side_backend_never_adopts_an_id_it_did_not_issue(
        server_session_settings: dict[str, Any]) -> None:
    planted = Signer(TEST_SECRET_KEY, salt=ID_SALT,
                     digest_method=hashlib.sha256).sign("attacker-chosen-id").decode()
    with TestClient(session_app(**server_session_settings)) as client:
        client.cookies.clear()
        response = client.get("/write", params={"value": "victim"},
                              headers={"cookie": f"session={planted}"})
        [(_, issued, _)] = set_cookies(response)
        assert issued != planted
        assert read_with(client, issued).json() == {"value": "victim"}
        assert read_with(client, planted).json() == {}


class Clock:
    """A settable clock for the session backends' expiry."""

    def __init__(self) -> None:
        self.now = time.time()


@pytest.mark.parametrize("kind", ["cookie", "memory"])
@pytest.mark.parametrize(("age", "seen"), [(59, {"value": "1"}), (61, {})])
def test_an_expired_session_is_empty(monkeypatch: pytest.MonkeyPatch, kind: str, age: int,
                                     seen: dict[str, str]) -> None:
    clock = Clock()
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _self: int(clock.now))
    app = session_app(session_backend=kind, session_max_age=60)
    with TestClient(app) as client:
        if kind == "memory":
            app.security.sessions.backend = MemorySessionBackend(  # type: ignore[union-attr]
                [TEST_SECRET_KEY], clock=lambda: clock.now)
        cookie = written_cookie(client)
        clock.now += age
        response = read_with(client, cookie)
    assert (response.status_code, response.json()) == (200, seen)
    # An expired cookie is deleted too, but it is no failure: nothing is logged.
    assert set_cookies(response) == ([] if seen else [("session", "", DELETED)])


def test_redis_expires_the_session_after_max_age(redis_url: str) -> None:
    app = session_app(session_backend="redis", redis_url=redis_url, session_max_age=60)
    with TestClient(app) as client:
        written_cookie(client)
    store = redis.Redis.from_url(redis_url)
    try:
        [key] = store.keys("zephyr:session:*")
        assert 59_000 < store.pttl(key) <= 60_000
    finally:
        store.close()


# -- secret key rotation -----------------------------------------------------------------


def test_key_rotation_accepts_old_sessions_and_reissues_them_with_the_new_key(
        shared_backend: dict[str, Any]) -> None:
    with TestClient(session_app(secret_key=OLD_KEY, **shared_backend)) as client:
        old_cookie = written_cookie(client, "from-old")
    rotating = session_app(secret_key=NEW_KEY, secret_key_fallbacks=[OLD_KEY], **shared_backend)
    with TestClient(rotating) as client:
        # A session signed with the old key (say, replayed by its owner) is still accepted.
        assert read_with(client, old_cookie).json() == {"value": "from-old"}
        response = client.get("/write", params={"value": "rotated"},
                              headers={"cookie": f"session={old_cookie}"})
        [(_, new_cookie, _)] = set_cookies(response)
    assert new_cookie != old_cookie
    with TestClient(session_app(secret_key=NEW_KEY, **shared_backend)) as client:
        assert read_with(client, new_cookie).json() == {"value": "rotated"}
        response = read_with(client, old_cookie)
    assert (response.status_code, response.json()) == (200, {})


# -- fixation: regenerate() ---------------------------------------------------------------


def test_regenerate_gives_a_new_id_and_kills_the_old_one(
        server_session_settings: dict[str, Any]) -> None:
    with TestClient(session_app(**server_session_settings)) as client:
        before = written_cookie(client, "kept")
        response = client.get("/regenerate")
        [(_, after, _)] = set_cookies(response)
        assert after != before
        assert read_with(client, after).json() == {"value": "kept"}
        assert read_with(client, before).json() == {}


# -- loading server-side sessions ----------------------------------------------------------


def loading_routes(app: Zephyr) -> Zephyr:
    """``app`` plus handlers that use ``request.session`` and ``csrf_token()`` without loading
    anything first, and ``POST /submit`` to send the token back to."""

    @app.get("/plain-def")
    def plain(request: Request) -> dict[str, Any]:
        return {"session": dict(request.session), "token": csrf_token()}

    @app.get("/async-def")
    async def coroutine(request: Request) -> dict[str, Any]:
        return {"session": dict(request.session), "token": csrf_token(request)}

    @app.post("/submit")
    async def submit() -> str:
        return "accepted"

    return app


@pytest.mark.parametrize("path", ["/plain-def", "/async-def"])
def test_request_session_and_csrf_token_need_no_loading_on_any_backend(
        session_settings: dict[str, Any], path: str) -> None:
    app = loading_routes(session_app(**session_settings))
    with TestClient(app, same_origin=False) as client:
        written_cookie(client, "stored")
        response = client.get(path)
        body = response.json()
        submitted = client.post("/submit", headers={"x-csrf-token": body["token"]})
    assert (response.status_code, body["session"]) == (200, {"value": "stored"})
    assert (submitted.status_code, submitted.text) == (200, "accepted")


def test_before_request_hooks_see_the_loaded_redis_session(redis_url: str) -> None:
    app = session_app(session_backend="redis", redis_url=redis_url)
    seen: list[dict[str, Any]] = []

    @app.before_request
    def hook(request: Request) -> None:
        seen.append(dict(request.session))

    with TestClient(app) as client:
        written_cookie(client, "stored")
        assert client.get("/untouched").status_code == 200
    assert seen == [{}, {"value": "stored"}]


def test_redis_sessions_load_once_and_only_for_requests_with_the_cookie(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = loading_routes(session_app(session_backend="redis", redis_url=redis_url))
    with TestClient(app) as client:
        backend = app.security.sessions.backend  # type: ignore[union-attr]
        loads: list[str] = []
        load = backend.load

        async def counted(cookie: str, *, max_age: int) -> dict[str, Any] | None:
            loads.append(cookie)
            return await load(cookie, max_age=max_age)

        monkeypatch.setattr(backend, "load", counted)
        for path in ("/untouched", "/plain-def", "/async-def", "/read"):
            assert client.get(path).status_code == 200
        without_cookie = len(loads)
        cookie = written_cookie(client, "stored")
        loads.clear()
        for path in ("/untouched", "/read", "/async-def"):
            assert client.get(path).status_code == 200
    assert without_cookie == 0
    # One round trip per request that carries the cookie, however often the handler asks.
    assert loads == [cookie] * 3


def test_a_depends_load_session_parameter_gets_the_loaded_session(
        session_settings: dict[str, Any]) -> None:
    with TestClient(with_depends_route(session_app(**session_settings))) as client:
        written_cookie(client, "stored")
        response = client.get("/depends")
    assert (response.status_code, response.json()) == (200, {"value": "stored"})
