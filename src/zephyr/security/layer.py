"""The security features of one app, built from its settings when it starts serving.

``SecurityLayer`` holds what every request may use (the request guard, the
security headers, sessions, CSRF, the rate-limit backend and the failure
throttle). It is built from the settings and the app's authentication
backends, never from the app itself. Per request the app calls it twice:
``guard.check(scope)`` before routing and :meth:`SecurityLayer.finish` before
sending; :meth:`SecurityLayer.protect` composes each route's checks once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zephyr._route import HTTP_METHODS, Route
from zephyr.errors import ConfigError, URLBuildError
from zephyr.security.csrf import CSRFProtection
from zephyr.security.deploy import route_problems
from zephyr.security.guard import RequestGuard
from zephyr.security.headers import SecurityHeaders
from zephyr.security.hosts import HostValidator
from zephyr.security.protect import OnError, OptionLayer, protect_route, resolve
from zephyr.security.proxies import ProxyResolver
from zephyr.security.ratelimit import FailureThrottle, Limit, limit, per_client
from zephyr.security.ratelimit_backends import (
    MemoryRateLimitBackend,
    Rate,
    RateLimitBackend,
    RedisRateLimitBackend,
)
from zephyr.security.redirects import is_safe_redirect
from zephyr.security.secret_keys import (
    InsecureConfigError,
    require_secret_key,
    secret_key_problem,
)
from zephyr.security.session_backends import (
    CookieSessionBackend,
    MemorySessionBackend,
    RedisSessionBackend,
    SessionBackend,
)
from zephyr.security.sessions import SessionLoadingEndpoint, SessionManager
from zephyr.security.site_cookies import SiteCookie

if TYPE_CHECKING:
    from zephyr.datastructures import Session
    from zephyr.middleware import Endpoint
    from zephyr.requests import Request
    from zephyr.responses import Response
    from zephyr.routing import Mount
    from zephyr.security.auth import AuthBackend

__all__ = ["SecurityLayer"]

logger = logging.getLogger("zephyr.security")


class SecurityLayer:
    """Everything security-related an app decided at startup."""

    def __init__(self, config: Mapping[str, Any], *,
                 auth_backends: Sequence[AuthBackend] = (),
                 url_for: Callable[[str], str] | None = None) -> None:
        """Build from ``config`` (refusing an unsafe one); ``auth_backends`` apply app-wide;
        ``url_for(name)`` finds the path of a route named by a setting (``LOGIN_URL``)."""
        self._config = config
        #: Where browsers refused for not being logged in are sent (``LOGIN_URL``), or None.
        self.login_path = _login_path(config["LOGIN_URL"], url_for)
        #: Tried on every route that does not set its own ``auth=`` (the app's list, live).
        self.auth_backends = auth_backends
        keys = _secret_keys(config)
        # The routes whose security_headers= override the app's, with their headers.
        self._route_headers: dict[object, SecurityHeaders] = {}
        self.guard = RequestGuard(
            hosts=HostValidator(config["ALLOWED_HOSTS"]),
            proxies=ProxyResolver(config["TRUSTED_PROXIES"], headers=config["PROXY_HEADERS"])
            if config["TRUSTED_PROXIES"] else None,
            max_count=config["MAX_HEADER_COUNT"], max_size=config["MAX_HEADER_SIZE"],
        )
        self.headers = SecurityHeaders(config) if config["SECURITY_HEADERS"] else None
        self.sessions = SessionManager(
            _session_backend(config["SESSION_BACKEND"], keys, config["REDIS_URL"]),
            cookie=_site_cookie(config, "SESSION_COOKIE_NAME"),
            on_forged=self._count_forged_session,
        )
        # Built even with CSRF=False: a route may still ask for it with csrf=True.
        self.csrf = CSRFProtection(
            keys, cookie=_site_cookie(config, "CSRF_COOKIE_NAME"),
            trusted_origins=config["CSRF_TRUSTED_ORIGINS"],
            form_limit=config["MAX_FORM_SIZE"],
        )
        self.limits: RateLimitBackend = (
            RedisRateLimitBackend(config["REDIS_URL"])
            if config["RATE_LIMIT_BACKEND"] == "redis" else MemoryRateLimitBackend()
        )
        #: The key of a request's client in every per-client counter (IPv6 by network).
        self.client = per_client(config["RATE_LIMIT_IPV6_PREFIX"])
        failures = config["FAILURE_LIMIT"]
        self.throttle = (FailureThrottle(self.limits, Rate.parse(failures), client=self.client)
                         if failures else None)
        self.prefix_limits: tuple[tuple[str, Limit], ...] = tuple(
            (prefix.rstrip("/"), limit(rate).bound(f"prefix:{prefix}", self.client))
            for prefix, rate in config["RATE_LIMITS"].items()
        )

    def protect(self, route: Route, layers: Sequence[OptionLayer], endpoint: Endpoint,
                on_error: OnError) -> Endpoint:
        """``endpoint`` behind the route's checks; the route's own headers are kept for it.

        ``layers`` are the security options of the app, the route's groups and the
        route itself (outermost first), each with the name its rate-limit counters use.
        With a backend that cannot load sessions without waiting, the session of a
        request carrying its cookie is loaded before the handler.
        """
        security = resolve(route, layers, csrf=bool(self._config["CSRF"]),
                           auth=self.auth_backends, prefix_limits=self.prefix_limits,
                           client=self.client)
        for found in route_problems(route, security):
            logger.warning("%s", found)
        if security.headers and self.headers is not None:
            self._route_headers[route] = SecurityHeaders(self._config, security.headers)
        if not self.sessions.backend.loads_now:
            # After the checks, so a refused request costs no round trip to the store.
            endpoint = SessionLoadingEndpoint(self.sessions, endpoint, on_error)
        return protect_route(route, security, endpoint, on_error, csrf=self.csrf,
                             throttle=self.throttle, counter=self.limits,
                             login_path=self.login_path)

    def protect_mount(self, mount: Mount, endpoint: Endpoint,
                      on_error: OnError) -> tuple[tuple[str, Endpoint], ...]:
        """``endpoint`` behind the checks of a route at ``mount``'s prefix taking every method:
        CSRF (the mount's ``csrf=``, else the setting), the ``RATE_LIMITS`` prefixes covering
        it and the failure throttle; no authentication (the mounted app sees the credentials).

        Returns ``(prefix, checked endpoint)`` pairs: one for each ``RATE_LIMITS`` prefix
        below the mount's (longest first, with the limits covering it), the mount's last.
        """
        options: dict[str, Any] = {"auth": ()}
        if mount.csrf is not None:
            options["csrf"] = mount.csrf
        below = (prefix for prefix, _ in self.prefix_limits
                 if prefix.startswith(mount.prefix + "/"))
        name = mount.name or mount.prefix
        return tuple(
            (prefix, self.protect(Route(prefix, endpoint, methods=HTTP_METHODS, name=name),
                                  [(options, name)], endpoint, on_error))
            for prefix in (*sorted(set(below), key=len, reverse=True), mount.prefix)
        )

    def finish(self, request: Request, response: Response, *,
               saved: bool = False) -> Awaitable[None] | None:
        """Save an opened session (unless ``saved``) and add the security headers (the
        route's own, else the app's) to ``response``.

        PERF: returns an awaitable only when there is a session to save, so a request
        without one makes no coroutine and no further call here.
        """
        if not saved and request.opened_session is not None:
            return self._save_then_finish(request, request.opened_session, response)
        headers = self.headers
        if self._route_headers:
            headers = self._route_headers.get(request.route, headers)
        if headers is not None:
            headers.apply(response, request.scope, request.issued_csp_nonce)
        return None

    async def _save_then_finish(self, request: Request, session: Session,
                                response: Response) -> None:
        if await self.sessions.commit(request, session, response):
            self.csrf.save(request, session, response)
        self.finish(request, response, saved=True)

    async def _count_forged_session(self, request: Request) -> None:
        if self.throttle is not None:
            await self.throttle.record(request, "bad-session-signature")

    async def close(self) -> None:
        """Release the backends' connections (at shutdown)."""
        await self.limits.close()
        await self.sessions.backend.close()


def _secret_keys(config: Mapping[str, Any]) -> list[str]:
    """The signing key first, then the old keys still accepted (rotation)."""
    debug = bool(config["DEBUG"])
    key = config["SECRET_KEY"]
    problem = secret_key_problem(key)
    if problem is not None:
        if not debug:
            require_secret_key(config, needed_for="signing sessions and CSRF tokens")
        elif not key:
            logger.warning("debug mode: no SECRET_KEY is set, so an ephemeral one signs "
                           "sessions and CSRF tokens until the process stops")
            key = secrets.token_urlsafe(50)
        else:
            logger.warning("debug mode: SECRET_KEY is weak (%s); the app would refuse to "
                           "start with it outside debug mode", problem)
    fallbacks = list(config["SECRET_KEY_FALLBACKS"])
    for index, old in enumerate(fallbacks):
        weakness = secret_key_problem(old)
        if weakness is not None and not debug:
            raise InsecureConfigError(
                f"SECRET_KEY_FALLBACKS[{index}] is weak ({weakness}); an old key still signs "
                "what the app accepts, so remove it or replace it"
            )
    return [key, *fallbacks]


def _login_path(login_url: str | None, url_for: Callable[[str], str] | None) -> str | None:
    """``LOGIN_URL`` as a path of this app: a path as it is, a route name as its route's path."""
    if login_url is None:
        return None
    if login_url.startswith("/") or "://" in login_url:
        # SECURITY: the login page is on this site: '//host' or a URL would send visitors
        # (and, with ?next=, where they were going) elsewhere.
        if not (login_url.startswith("/") and is_safe_redirect(login_url)):
            raise ConfigError(f"LOGIN_URL={login_url!r} is not a path of this app; write it "
                              f"as {urlsplit(login_url).path or '/'!r} (or name its route)")
        return login_url
    try:
        if url_for is None:
            raise URLBuildError("this security layer was given no routes to look it up in")
        return url_for(login_url)
    except URLBuildError as exc:
        raise ConfigError(f"LOGIN_URL={login_url!r} is neither a path of this app (starting "
                          f"with '/') nor the name of a route: {exc}") from None


def _site_cookie(config: Mapping[str, Any], setting: str) -> SiteCookie:
    name = config[setting]
    if setting != "SESSION_COOKIE_NAME" and name == config["SESSION_COOKIE_NAME"]:
        raise ConfigError(f"{setting} {name!r} is SESSION_COOKIE_NAME too, so each cookie would "
                          f"overwrite the other; give {setting} another name")
    return SiteCookie(name, setting=setting, secure=config["SESSION_COOKIE_SECURE"],
                      host_prefix=config["COOKIE_HOST_PREFIX"], max_age=config["SESSION_MAX_AGE"])


def _session_backend(kind: str, keys: list[str], redis_url: str) -> SessionBackend:
    if kind == "memory":
        return MemorySessionBackend(keys)
    if kind == "redis":
        return RedisSessionBackend(keys, url=redis_url)
    return CookieSessionBackend(keys)

